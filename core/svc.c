/* SPDX-License-Identifier: MIT */
/* The loop services' hooks into the core's life cycle and wait (svc.h). */
#include <errno.h>

#include "hooks.h"
#include "svc.h"

static void free_all(struct tpoll *tp, void *raw, int n)
{
    int i;

    for (i = 0; i < n; i++)
        tp__call_free(tp->threads[i].svc);
    tp__free(raw);
}

int tp__svc_create(struct tpoll *tp)
{
    int i, n = tp->nthreads;
    struct tp__svc *svc;
    void *raw;

    svc = tp__calloc_lines((size_t)n, sizeof(*svc), &raw);
    if (svc == NULL)
        return -ENOMEM;
    svc[0].mem = raw;
    for (i = 0; i < n; i++) {
        tp->threads[i].svc = &svc[i];
        tp_store(&tp->threads[i].gate, TP_G_CLOSED);
    }
    return 0;
}

/* The wheel and the call rings are made at a thread id's first start,
 * not with the instance: an instance of 4096 thread ids of which a few
 * hundred run then costs memory for those only (what is never written of
 * the array stays untouched pages: nothing writes a thread id's part of
 * it before). Nothing reads them before either: timers and calls of a
 * thread id that is not live are refused. */
int tp__svc_prepare(struct tp__thread *th)
{
    struct tp__svc *s = th->svc;

    if (!tp__call_ready(s) && tp__call_alloc(s, th->tid) != 0)
        return -ENOMEM;
    if (s->xtail == NULL)
        tp__call_init(s);
    if (s->wheel.epoch == 0)
        tp__wheel_init(&s->wheel);
    return 0;
}

/* No thread is bound: every queue was emptied by its thread's stop. */
void tp__svc_destroy(struct tpoll *tp)
{
    tp__signal_forget(tp);
    free_all(tp, tp->threads[0].svc->mem, tp->nthreads);
}

void tp__svc_live(struct tp__thread *th)
{
    tp__call_open(th);
    tp__gate_open(th);
    if (tp__signal_pending(th))
        tp__gate_notify(th, TP_G_SIGNAL);
}

/* The gate first: nobody uses the wake fd any more once it is closed.
 * Then the calls accepted run, and a timer they arm is cancelled with
 * the others. */
void tp__svc_close(struct tp__thread *th)
{
    tp__gate_close(th);
    TP_HOOK(TP_HOOK_STOP_SERVICES, th->tid);
    tp__call_close(th);
    tp__wheel_init(&th->svc->wheel);
}

void tp__svc_spin_wait(tp_atomic_t *lock)
{
    unsigned spins = 0;

    do
        tp__spin_pause(&spins);
    while (tp_cas(lock, 0, 1) != 0);
}

/* Gates closed first: a signal handler in the child that finds a gate
 * open would use a wake fd shared with the parent. The calling thread's
 * timers are its copy, kept; a vanished thread's wheel may have been
 * changing: forgotten without a walk. */
void tp__svc_fork(struct tpoll *tp, struct tp__thread *self)
{
    int i;

    for (i = 0; i < tp->nthreads; i++)
        tp_store(&tp->threads[i].gate, TP_G_CLOSED);
    for (i = 0; i < tp->nthreads; i++) {
        struct tp__thread *th = &tp->threads[i];

        tp__call_forget(th->svc);
        if (th != self && th->svc->wheel.epoch != 0)
            tp__wheel_init(&th->svc->wheel);
    }
    tp__signal_after_fork(tp);
}

void tp__svc_dispatch(struct tp__thread *th)
{
    struct tp__taken calls = {NULL, 0};

    if (th->fork_pending)
        return;
    if (tp_load(&th->svc->mail) != 0)
        tp__call_take(th, &calls);
    if (th->svc->wheel.placed != 0)
        tp__timer_fire(th);
    if ((tp_load(&th->gate) & TP_G_SIGNAL) && !th->fork_pending)
        tp__signal_dispatch(th);
    tp__call_run(th, &calls);
}
