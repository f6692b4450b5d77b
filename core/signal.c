/* SPDX-License-Identifier: MIT */
/*
 * Signals: tpoll's own handler, installed while any instance watches the
 * signal, records each delivery in the watch's slot and wakes the chosen
 * thread through its gate (gate.c), which is async-signal-safe; that
 * thread runs the callback at its next wait. The slots are process-wide
 * (a handler is): writers take a spinlock, the handler takes none.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "binding.h"
#include "svc.h"

#ifdef NSIG
#define TP_NSIG NSIG
#else
#define TP_NSIG 65
#endif
#define TP_SIG_SLOTS 64
/* A slot's state: 0 free, else its signal in the low byte and, above, a
 * number that changes with every watch (a reader checks it did not
 * change while it read the other fields). */
#define SIG_OF(st) ((int)((st)&0xffu))
#define SIG_SEQ_ONE 0x100u

struct slot {
    tp_atomic_t state;
    tp_atomic_t tp, tid, cb, arg;
    tp_atomic_t pid;     /* the process the watch belongs to */
    tp_atomic_t pending; /* deliveries not yet reported */
};

static struct slot slots[TP_SIG_SLOTS];
static tp_atomic_t slots_lock;
static tp_atomic_t in_handler; /* handlers running, in every thread */
static tp_atomic_t seq;
/* Under slots_lock: watches per signal, and what was there before. */
static int watchers[TP_NSIG];
static struct sigaction previous[TP_NSIG];

static void lock_slots(void)
{
    tp__svc_spin_lock(&slots_lock);
}

static void unlock_slots(void)
{
    tp__svc_spin_unlock(&slots_lock);
}

/*
 * Counted first (a read-modify-write), then the slots read: an unwatch
 * clears a slot's state (a read-modify-write) and then waits until no
 * handler is counted, so that no handler still uses the instance of the
 * slot once it returns. The pid check keeps a forked child that has not
 * called tpoll_after_fork yet from signalling its parent's wake fds.
 */
static void on_signal(int signo)
{
    int saved = errno, i;
    AO_t me = 0;

    tp_fetch_add(&in_handler, 1);
    for (i = 0; i < TP_SIG_SLOTS; i++) {
        struct slot *s = &slots[i];
        AO_t st = tp_load(&s->state);
        struct tpoll *tp;

        if (st == 0 || SIG_OF(st) != signo)
            continue;
        if (me == 0)
            me = (AO_t)getpid();
        if (tp_load(&s->pid) != me)
            continue;
        tp_fetch_add(&s->pending, 1);
        tp = (struct tpoll *)tp_load(&s->tp);
        tp__gate_notify(&tp->threads[tp_load(&s->tid)], TP_G_SIGNAL);
    }
    tp_fetch_add(&in_handler, -(AO_t)1);
    errno = saved;
}

static struct slot *find(const struct tpoll *tp, int signo)
{
    int i;

    for (i = 0; i < TP_SIG_SLOTS; i++) {
        AO_t st = tp_load(&slots[i].state);

        if (st != 0 && SIG_OF(st) == signo && tp_load(&slots[i].tp) == (AO_t)tp)
            return &slots[i];
    }
    return NULL;
}

static struct slot *free_slot(void)
{
    int i;

    for (i = 0; i < TP_SIG_SLOTS; i++)
        if (tp_load(&slots[i].state) == 0)
            return &slots[i];
    return NULL;
}

static int install(int signo)
{
    struct sigaction sa;

    if (watchers[signo]++ > 0)
        return 0;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    if (sigaction(signo, &sa, &previous[signo]) == 0)
        return 0;
    watchers[signo]--;
    return -errno;
}

static int watch_locked(struct tpoll *tp, int signo, int tid,
                        tpoll_signal_cb cb, void *arg)
{
    struct slot *s;
    int err;

    if (find(tp, signo) != NULL)
        return -EEXIST;
    s = free_slot();
    if (s == NULL)
        return -ENOSPC;
    err = install(signo);
    if (err)
        return err;
    tp_store(&s->tp, (AO_t)tp);
    tp_store(&s->tid, (AO_t)tid);
    tp_store(&s->cb, (AO_t)cb);
    tp_store(&s->arg, (AO_t)arg);
    tp_store(&s->pid, (AO_t)getpid());
    tp_store(&s->pending, 0);
    tp_store(&s->state,
             (tp_fetch_add(&seq, SIG_SEQ_ONE) + SIG_SEQ_ONE) | (AO_t)signo);
    return 0;
}

int tpoll_signal_watch(struct tpoll *tp, int signo, int tid, tpoll_signal_cb cb,
                       void *arg)
{
    int err;

    if (tp == NULL || cb == NULL || tid < 0 || tid >= tp->nthreads ||
        signo <= 0 || signo >= TP_NSIG)
        return -EINVAL;
    lock_slots();
    err = watch_locked(tp, signo, tid, cb, arg);
    unlock_slots();
    return err;
}

static void unwatch_locked(struct slot *s)
{
    int signo = SIG_OF(tp_swap(&s->state, 0));
    unsigned spins = 0;

    while (tp_load(&in_handler) != 0)
        tp__spin_pause(&spins);
    if (--watchers[signo] == 0)
        sigaction(signo, &previous[signo], NULL);
}

int tpoll_signal_unwatch(struct tpoll *tp, int signo)
{
    struct slot *s;

    if (tp == NULL || signo <= 0 || signo >= TP_NSIG)
        return -EINVAL;
    lock_slots();
    s = find(tp, signo);
    if (s != NULL)
        unwatch_locked(s);
    unlock_slots();
    return s != NULL ? 0 : -ENOENT;
}

/* The fields are read between two reads of the state: a watch ended (or
 * replaced) meanwhile is skipped. */
static void deliver(struct tp__thread *th, struct slot *s)
{
    struct tpoll *tp = th->head.tp;
    AO_t st = tp_load(&s->state), cb, arg;

    if (st == 0 || tp_load(&s->tp) != (AO_t)tp ||
        tp_load(&s->tid) != (AO_t)th->tid)
        return;
    cb = tp_load(&s->cb);
    arg = tp_load(&s->arg);
    if (tp_load(&s->state) != st || tp_swap(&s->pending, 0) == 0)
        return;
    ((tpoll_signal_cb)cb)(tp, SIG_OF(st), (void *)arg);
    th->head.dispatched++;
}

int tp__signal_pending(const struct tp__thread *th)
{
    int i;

    for (i = 0; i < TP_SIG_SLOTS; i++)
        if (tp_load(&slots[i].state) != 0 &&
            tp_load(&slots[i].tp) == (AO_t)th->head.tp &&
            tp_load(&slots[i].tid) == (AO_t)th->tid &&
            tp_load(&slots[i].pending) != 0)
            return 1;
    return 0;
}

/* SIGNAL is cleared before the slots are read: a delivery during the
 * scan sets it again. */
void tp__signal_dispatch(struct tp__thread *th)
{
    int i;

    tp_and(&th->gate, ~(AO_t)TP_G_SIGNAL);
    for (i = 0; i < TP_SIG_SLOTS && !th->fork_pending; i++)
        deliver(th, &slots[i]);
}

/* The child has one thread: no handler runs elsewhere, and no other
 * thread holds the lock. */
void tp__signal_after_fork(struct tpoll *tp)
{
    AO_t me = (AO_t)getpid();
    int i;

    tp_store(&slots_lock, 0);
    tp_store(&in_handler, 0);
    for (i = 0; i < TP_SIG_SLOTS; i++)
        if (tp_load(&slots[i].state) != 0 && tp_load(&slots[i].tp) == (AO_t)tp)
            tp_store(&slots[i].pid, me);
}

void tp__signal_forget(struct tpoll *tp)
{
    int i;

    lock_slots();
    for (i = 0; i < TP_SIG_SLOTS; i++)
        if (tp_load(&slots[i].state) != 0 && tp_load(&slots[i].tp) == (AO_t)tp)
            unwatch_locked(&slots[i]);
    unlock_slots();
}
