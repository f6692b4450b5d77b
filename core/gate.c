/* SPDX-License-Identifier: MIT */
/*
 * The gate: reaching a thread's wake fd without a lock, so that a signal
 * handler may wake or stop a thread (svc.h has the word). tpoll_wake,
 * tpoll_stop and tpoll_run are built on it.
 */
#include <errno.h>

#include "binding.h"
#include "svc.h"
#include "wake.h"

/* The count and CLOSED are one word: the waker's fetch-add reads CLOSED
 * in the same read-modify-write that makes it counted, so a thread
 * closing the gate either sees it counted or is seen closing. */
int tp__gate_enter(struct tp__thread *th)
{
    if (!(tp_fetch_add(&th->gate, TP_G_ONE) & TP_G_CLOSED))
        return 1;
    tp__gate_leave(th);
    return 0;
}

void tp__gate_leave(struct tp__thread *th)
{
    tp_fetch_add(&th->gate, -(AO_t)TP_G_ONE);
}

/* The bits are published before the wake word's fetch-or, as queued work
 * is (wake.h): a thread deciding to sleep sees NOTIFIED, or is signalled.
 * Only write() (kevent(), port_send() on those backends) is called, and
 * errno is kept for the interrupted code. */
int tp__gate_notify(struct tp__thread *th, AO_t bits)
{
    int saved = errno;

    if (!tp__gate_enter(th))
        return -ESRCH;
    if (bits)
        tp_or(&th->gate, bits);
    if (tp__wake_must_signal(tp__wake_notify(&th->wword, 0)))
        th->head.tp->be->wake(th);
    tp__gate_leave(th);
    errno = saved;
    return 0;
}

/* A new binding: no stop of an earlier one applies to it. */
void tp__gate_open(struct tp__thread *th)
{
    tp_and(&th->gate, ~(AO_t)(TP_G_CLOSED | TP_G_STOP));
}

void tp__gate_close(struct tp__thread *th)
{
    unsigned spins = 0;

    tp_or(&th->gate, TP_G_CLOSED);
    while (tp_load(&th->gate) & ~(AO_t)(TP_G_ONE - 1))
        tp__spin_pause(&spins);
}

int tpoll_stop(struct tpoll *tp, int tid)
{
    if (tp == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    return tp__gate_notify(&tp->threads[tid], TP_G_STOP);
}

int tpoll_run(struct tpoll *tp)
{
    struct tp__thread *th;
    int n = tp__bound_self(tp, &th);

    if (n)
        return n;
    if (th->in_dispatch)
        return -EBUSY;
    while (!(tp_load(&th->gate) & TP_G_STOP)) {
        n = tpoll_wait(tp, -1);
        if (n < 0 && n != -EINTR)
            return n;
    }
    tp_and(&th->gate, ~(AO_t)TP_G_STOP);
    return 0;
}
