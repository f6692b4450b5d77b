/* SPDX-License-Identifier: MIT */
/* Thread lifecycle: binding an OS thread to a thread id, the per-thread
 * init hook, the wait loop iteration and its sleep protocol, fork. */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* A few bindings per OS thread, so one thread may serve several instances
 * (a test harness, a library inside a server) at once. */
#define TP_MAX_BINDINGS 8
static TP_TLS struct tp__thread *bindings[TP_MAX_BINDINGS];

/* The binding found moves to the front, so a thread serving one instance
 * finds it at the first slot: inline there, the rest out of line. */
static TP_NOINLINE struct tp__thread *lookup_rest(const struct tpoll *tp)
{
    struct tp__thread *th;
    int i;

    for (i = 1; i < TP_MAX_BINDINGS; i++) {
        th = bindings[i];
        if (th != NULL && th->tp == tp) {
            bindings[i] = bindings[0];
            bindings[0] = th;
            return th;
        }
    }
    return NULL;
}

static inline struct tp__thread *lookup(const struct tpoll *tp)
{
    struct tp__thread *th = bindings[0];

    if (TP_LIKELY(th != NULL && th->tp == tp))
        return th;
    return lookup_rest(tp);
}

struct tp__thread *tp__self(const struct tpoll *tp)
{
    return lookup(tp);
}

/* The calling thread's binding to tp, for the calls that need one. No
 * binding has a NULL instance, so the NULL check waits for a miss. */
static int bound_self(const struct tpoll *tp, struct tp__thread **th)
{
    *th = lookup(tp);
    if (TP_LIKELY(*th != NULL))
        return 0;
    return tp == NULL ? -EINVAL : -EPERM;
}

/* Inside a callback of any instance: some binding of this OS thread is in
 * its dispatch (tpoll_wait runs callbacks only there). */
int tp__in_callback(void)
{
    int i;

    for (i = 0; i < TP_MAX_BINDINGS; i++)
        if (bindings[i] != NULL && bindings[i]->in_dispatch)
            return 1;
    return 0;
}

static int bind_slot(struct tp__thread *th)
{
    int i;

    for (i = 0; i < TP_MAX_BINDINGS; i++) {
        if (bindings[i] == NULL) {
            bindings[i] = th;
            return 0;
        }
    }
    return -EMLINK;
}

static void unbind_slot(struct tp__thread *th)
{
    int i;

    for (i = 0; i < TP_MAX_BINDINGS; i++)
        if (bindings[i] == th)
            bindings[i] = NULL;
}

static int alloc_queues(struct tp__thread *th)
{
    th->qcap = th->tp->max_fds < TP_QUEUE_CAP ? th->tp->max_fds : TP_QUEUE_CAP;
    th->overflow = 0;
    th->local = tp__calloc((size_t)th->qcap, sizeof(int));
    th->inbox = tp__calloc((size_t)th->qcap, sizeof(int));
    th->errs = tp__calloc(TP_ERR_CAP, sizeof(int));
    if (th->local && th->inbox && th->errs)
        return 0;
    tp__free(th->local);
    tp__free(th->inbox);
    tp__free(th->errs);
    th->local = th->inbox = th->errs = NULL;
    return -ENOMEM;
}

static void free_queues(struct tp__thread *th)
{
    tp__free(th->local);
    tp__free(th->inbox);
    tp__free(th->errs);
    th->local = th->inbox = th->errs = NULL;
    th->nlocal = th->nerrs = th->overflow = 0;
}

static void set_inbox_dead(struct tp__thread *th, int dead)
{
    tp__inbox_lock(th);
    th->inbox_dead = dead;
    th->inbox_overflow = 0;
    tp_store(&th->ninbox, 0);
    tp__inbox_unlock(th);
}

/* The per-thread init hook: queue every live fd this thread may poll.
 * Bounded by the highest fd ever inserted, not by the table size. */
static void mark_all_for(struct tp__thread *th)
{
    struct tpoll *tp = th->tp;
    int fd, hwm = (int)tp_load(&tp->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &tp->fds[fd];

        if ((tp_load(&e->state) & TP_ST_INUSE) &&
            (tp_load(&e->thread_mask) & th->bit))
            tp__mark_self(th, fd);
    }
}

/* Forget this thread's registrations in the table. Each polled bit is
 * cleared under the fd lock, so a concurrent delete either saw it (and
 * already removed the fd from our still-open poller) or never will. */
static void clear_thread_bits(struct tp__thread *th)
{
    struct tpoll *tp = th->tp;
    int fd, hwm = (int)tp_load(&tp->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &tp->fds[fd];

        if (!((tp_load_relaxed(&e->polled_recv) |
               tp_load_relaxed(&e->polled_send) |
               tp_load_relaxed(&e->update_mask)) & th->bit))
            continue;
        tp__fd_lock(e);
        tp_and(&e->polled_recv, ~th->bit);
        tp_and(&e->polled_send, ~th->bit);
        tp_and(&e->update_mask, ~th->bit);
        tp__fd_unlock(e);
    }
}

/* th has a fresh poller: open its inbox, count it as started, and run the
 * per-thread init hook. */
static void go_live(struct tp__thread *th)
{
    tp_store(&th->wstate, 0);
    tp_store(&th->notified, 0);
    tp_store(&th->scan_dirty, 1);
    /* After fork the id may come from a thread that vanished inside its
     * dispatch: nothing of that dispatch belongs to the new binding. */
    th->in_dispatch = 0;
    th->dbit = th->bit;
    set_inbox_dead(th, 0);
    tp_or(&th->tp->started, th->bit);
    mark_all_for(th);
}

static int open_thread(struct tp__thread *th)
{
    int err;

    err = alloc_queues(th);
    if (err)
        return err;
    err = th->tp->be->thread_init(th);
    if (err) {
        free_queues(th);
        return err;
    }
    go_live(th);
    return 0;
}

int tpoll_thread_start(struct tpoll *tp, int tid)
{
    struct tp__thread *th;
    int err;

    if (tp == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    if (tp__self(tp) != NULL)
        return -EBUSY;
    th = &tp->threads[tid];
    if (tp_cas(&th->bound, 0, 1) != 0)
        return -EBUSY;
    err = bind_slot(th);
    if (err)
        goto fail_slot;
    err = open_thread(th);
    if (err)
        goto fail_open;
    return 0;

fail_open:
    unbind_slot(th);
fail_slot:
    tp_store(&th->bound, 0);
    return err;
}

int tpoll_thread_stop(struct tpoll *tp)
{
    struct tp__thread *th;
    int err = bound_self(tp, &th);

    if (err)
        return err;
    /* The poller and its event buffer are in use below us. */
    if (th->in_dispatch)
        return -EBUSY;
    tp_and(&tp->started, ~th->bit);
    set_inbox_dead(th, 1);
    clear_thread_bits(th);
    tp->be->thread_term(th);
    free_queues(th);
    unbind_slot(th);
    tp_store(&th->bound, 0);
    return 0;
}

int tpoll_thread_id(const struct tpoll *tp)
{
    struct tp__thread *th;
    int err = bound_self(tp, &th);

    return err ? err : th->tid;
}

/* Publish "sleeping", then (after a full fence) look once more for work:
 * a notifier stores "notified" and then, after its own fence, reads
 * "sleeping", so either it signals or its work is seen here. */
static int sleep_timeout(struct tp__thread *th, int timeout_ms)
{
    tp_store_relaxed(&th->wstate, TP_W_SLEEPING);
    tp_fence();
    /* The local queue is empty here: the update pass ran if it was not. */
    if (tp_load_relaxed(&th->notified) || tp_load_relaxed(&th->ninbox) ||
        th->nerrs)
        return 0;
    return timeout_ms;
}

/* Awake again: a notification from now on is for the next wait. One that
 * came during this one is consumed (its work is in the inbox, checked by
 * the next wait; a plain wake is answered by this wait returning). */
static void woke_up(struct tp__thread *th)
{
    tp_store_relaxed(&th->wstate, 0);
    if (tp_load_relaxed(&th->notified))
        tp_store(&th->notified, 0);
}

/* A fresh poller for th in a forked child, registering every live fd of
 * its mask again; on failure th is unbound. */
static int renew_poller(struct tp__thread *th)
{
    struct tpoll *tp = th->tp;
    int err;

    th->nlocal = th->nerrs = th->overflow = 0;
    err = tp->be->thread_init(th);
    if (err) {
        free_queues(th);
        unbind_slot(th);
        tp_store(&th->bound, 0);
        return err;
    }
    go_live(th);
    return 0;
}

int tpoll_wait(struct tpoll *tp, int timeout_ms)
{
    struct tp__thread *th;
    int n = bound_self(tp, &th);

    if (TP_UNLIKELY(n))
        return n;
    if (th->in_dispatch) /* a nested wait would reuse the event buffer */
        return -EBUSY;
    tp_count(&th->ctr.loops, 1);
    /* Most iterations have nothing queued: skip the pass's call frame. */
    if ((th->nlocal | th->overflow) || tp_load(&th->ninbox))
        tp__apply_updates(th);
    if (timeout_ms != 0)
        timeout_ms = sleep_timeout(th, timeout_ms);
    n = tp->be->poll(th, timeout_ms);
    woke_up(th);
    if (timeout_ms != 0) /* a poll that could block, as the counter says */
        tp_count(&th->ctr.polls, 1);
    th->dispatched = 0;
    th->in_dispatch = 1;
    if (TP_UNLIKELY(th->nerrs))
        tp__dispatch_errors(th);
    if (n > 0) {
        tp->be->dispatch(th, n);
        if (th->dispatched == 0)
            tp_count(&th->ctr.idle_wakeups, 1);
    }
    th->in_dispatch = 0;
    tp_count(&th->ctr.callbacks, (AO_t)th->dispatched);
    if (TP_UNLIKELY(th->fork_pending)) {
        int err;

        th->fork_pending = 0;
        tp->be->thread_forget(th);
        err = renew_poller(th);
        if (err)
            return err;
    }
    if (n < 0 && th->dispatched == 0)
        return n;
    return th->dispatched;
}

/*
 * In the child only the calling thread exists. Other threads' pollers are
 * released without a kernel call (an epoll set is shared with the parent,
 * and a DEL in the child would remove the parent's registrations); locks
 * that a vanished thread held are reset.
 */
int tpoll_after_fork(struct tpoll *tp)
{
    struct tp__thread *self;
    int i, fd, hwm;

    if (tp == NULL)
        return -EINVAL;
    self = tp__self(tp);
    for (i = 0; i < tp->nthreads; i++) {
        struct tp__thread *th = &tp->threads[i];

        tp_store(&th->inbox_lock, 0);
        if (!tp_load(&th->bound))
            continue;
        tp_and(&tp->started, ~th->bit);
        set_inbox_dead(th, 1);
        /* Called from a callback: the dispatch still reads the poller's
         * event buffer; it is released when the dispatch ends. */
        if (th == self && self->in_dispatch)
            continue;
        tp->be->thread_forget(th);
        if (th != self) {
            free_queues(th);
            tp_store(&th->bound, 0);
        }
    }
    hwm = (int)tp_load(&tp->hwm);
    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &tp->fds[fd];

        tp_and(&e->state, ~(AO_t)TP_ST_LOCK);
        tp_store(&e->polled_recv, 0);
        tp_store(&e->polled_send, 0);
        tp_store(&e->update_mask, 0);
        tp_store(&e->running_mask, 0);
    }
    if (self == NULL)
        return 0;
    if (self->in_dispatch) {
        self->nlocal = self->nerrs = self->overflow = 0;
        self->fork_pending = 1;
        self->dbit = 0;
        return 0;
    }
    return renew_poller(self);
}
