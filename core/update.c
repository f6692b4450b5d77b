/* SPDX-License-Identifier: MIT */
/*
 * Update queues and the update pass. A change of an fd sets, for every
 * started thread that must act, its bit in update_mask; whoever flips the
 * bit from 0 to 1 queues the fd on that thread, so an fd sits at most once
 * in a thread's queues. The pass clears the bit before reading the fd's
 * state, so a change racing with the pass is either seen by it or queues
 * the fd again.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

void tp__inbox_lock(struct tp__thread *th)
{
    unsigned spins = 0;

    while (tp_cas(&th->inbox_lock, 0, 1) != 0)
        tp__spin_pause(&spins);
}

void tp__inbox_unlock(struct tp__thread *th)
{
    tp_store(&th->inbox_lock, 0);
}

/* One signal per sleep: notifiers are serialised by the inbox lock, and
 * only the first one after the sleeper last woke signals it. */
void tp__notify_locked(struct tp__thread *th)
{
    if (tp_load_relaxed(&th->notified))
        return;
    tp_store_relaxed(&th->notified, 1);
    tp_fence();
    if (tp_load_relaxed(&th->wstate) & TP_W_SLEEPING)
        th->tp->be->wake(th);
}

int tpoll_wake(struct tpoll *tp, int tid)
{
    struct tp__thread *th;

    if (tp == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    th = &tp->threads[tid];
    tp__inbox_lock(th);
    if (!th->inbox_dead)
        tp__notify_locked(th);
    tp__inbox_unlock(th);
    return 0;
}

void tp__mark_self(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->tp->fds[fd];

    if (tp_load_relaxed(&e->update_mask) & th->bit)
        return;
    if (!(tp_fetch_or(&e->update_mask, th->bit) & th->bit)) {
        if (TP_LIKELY(th->nlocal < th->qcap))
            th->local[th->nlocal++] = fd;
        else
            th->overflow = 1;
    }
}

/* The dead check and the bit flip happen under the inbox lock, so that a
 * stopping thread, which marks its inbox dead and then clears its bits,
 * never leaves a bit set with no queue entry behind it. */
static void mark_remote(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->tp->fds[fd];

    if (tp_load(&e->update_mask) & th->bit)
        return;
    tp__inbox_lock(th);
    if (!th->inbox_dead && !(tp_fetch_or(&e->update_mask, th->bit) & th->bit)) {
        AO_t n = tp_load_relaxed(&th->ninbox);

        /* A full inbox is never empty: the sleeper's check still sees it. */
        if (TP_LIKELY(n < (AO_t)th->qcap)) {
            th->inbox[n] = fd;
            tp_store(&th->ninbox, n + 1);
        } else {
            th->inbox_overflow = 1;
        }
        tp__notify_locked(th);
    }
    tp__inbox_unlock(th);
}

static TP_NOINLINE void mark_each(struct tpoll *tp, struct tp__thread *self,
                                  int fd, tpoll_mask_t who)
{
    while (who) {
        struct tp__thread *th = &tp->threads[tp__ctz(who)];

        who &= who - 1;
        if (self != NULL && th == self)
            tp__mark_self(self, fd);
        else
            mark_remote(th, fd);
    }
}

void tp__mark(struct tpoll *tp, int fd, tpoll_mask_t who)
{
    struct tp__thread *self = tp__self(tp);

    who &= tp_load(&tp->started);
    /* The common case, a thread changing its own fd, without the loop's
     * call frame. */
    if (self != NULL && who == self->bit)
        tp__mark_self(self, fd);
    else
        mark_each(tp, self, fd, who);
}

static void drain_inbox(struct tp__thread *th)
{
    AO_t n;

    if (tp_load(&th->ninbox) == 0)
        return;
    tp__inbox_lock(th);
    n = tp_load_relaxed(&th->ninbox);
    if (th->inbox_overflow || th->nlocal + (int)n > th->qcap) {
        /* Every dropped entry kept its update_mask bit: the scan finds it. */
        th->overflow = 1;
        th->inbox_overflow = 0;
    } else {
        memcpy(th->local + th->nlocal, th->inbox, n * sizeof(int));
        th->nlocal += (int)n;
    }
    tp_store(&th->ninbox, 0);
    tp__inbox_unlock(th);
}

static void set_polled(struct tp__fd *e, tpoll_mask_t bit, unsigned have,
                       unsigned want)
{
    unsigned on = want & ~have, off = have & ~want;

    if (on & TP_EV_RECV)
        tp_or(&e->polled_recv, bit);
    if (on & TP_EV_SEND)
        tp_or(&e->polled_send, bit);
    if (off & TP_EV_RECV)
        tp_and(&e->polled_recv, ~bit);
    if (off & TP_EV_SEND)
        tp_and(&e->polled_send, ~bit);
}

static void record_error(struct tp__thread *th, int fd)
{
    if (th->nerrs < TP_ERR_CAP)
        th->errs[th->nerrs++] = fd;
}

static unsigned excl_flag(const struct tp__thread *th, AO_t st, unsigned want)
{
    return want && (st & TP_ST_EXCL) &&
                   (th->tp->be->caps & TP_CAP_EXCLUSIVE)
               ? TP_EV_EXCL
               : 0;
}

/* Decide from (thread in mask, interest, registered) and act; runs with
 * fd locked. Returns 1 when the backend was asked to change something. */
static int update_fd(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->tp->fds[fd];
    AO_t st = tp_load(&e->state);
    unsigned want = tp__wanted(e, st, th->bit);
    unsigned have = tp__polled_for(e, th->bit);
    int err;

    if (want == have)
        return 0;
    /* Scan backends read the polled bits themselves: flag them changed. */
    if (th->tp->be->caps & TP_CAP_SCAN) {
        set_polled(e, th->bit, have, want);
        tp_store_relaxed(&th->scan_dirty, 1);
        return 1;
    }
    err = th->tp->be->set(th, fd, TP_GEN(st), have,
                          want | excl_flag(th, st, want));
    if (err) {
        /* Nothing registered that we cannot account for: drop what the
         * backend refused and tell the fd's callback. */
        set_polled(e, th->bit, have, want & have);
        if (want & ~have)
            record_error(th, fd);
        return 1;
    }
    set_polled(e, th->bit, have, want);
    return 1;
}

/* want == have, read without the lock: the common stop-then-want case.
 * Nothing here needs the lock: only this thread sets its polled bits, a
 * delete removes registrations itself, and a change racing with this read
 * queues the fd again (its update bit was cleared just before). Immediate
 * backends only, since a batch keeps the fds it queued locked until the
 * flush. */
static int settled(const struct tp__thread *th, const struct tp__fd *e)
{
    return tp__wanted(e, tp_load(&e->state), th->bit) ==
           tp__polled_for(e, th->bit);
}

static void unlock_range(struct tp__thread *th, int from, int to)
{
    int i;

    for (i = from; i < to; i++)
        tp__fd_unlock(&th->tp->fds[th->local[i]]);
}

static void flush(struct tp__thread *th)
{
    if (th->tp->be->flush != NULL)
        th->tp->be->flush(th);
}

/*
 * A batching backend's changes reach the kernel only at the flush, so the
 * fds of a batch stay locked until then: a delete of one of them waits and
 * then finds the registration in place to remove. A lock held elsewhere is
 * only ever waited for with no lock held (flush and release first), so two
 * passes, or a pass and a delete, cannot deadlock.
 */
static void process_queue(struct tp__thread *th)
{
    struct tpoll *tp = th->tp;
    int batch = (tp->be->caps & TP_CAP_BATCH) != 0;
    int i, held_from = 0, changed = 0;
    AO_t st;

    for (i = 0; i < th->nlocal; i++) {
        struct tp__fd *e = &tp->fds[th->local[i]];

        tp_and(&e->update_mask, ~th->bit);
        if (!batch && settled(th, e))
            continue;
        if (!tp__fd_trylock(e, &st)) {
            if (batch) {
                if (changed)
                    flush(th);
                unlock_range(th, held_from, i);
                changed = 0;
            }
            held_from = i;
            tp__fd_lock(e);
        }
        changed |= update_fd(th, th->local[i]);
        if (!batch) {
            tp__fd_unlock(e);
            held_from = i + 1;
        }
    }
    if (batch) {
        if (changed)
            flush(th);
        unlock_range(th, held_from, i);
    }
    tp_count(&th->ctr.updates, (AO_t)th->nlocal);
    th->nlocal = 0;
}

/* After an overflow the queues are incomplete, but every fd that needs a
 * visit has its update_mask bit: collect them from the table, a queue
 * load at a time. Entries still queued are among them. */
static void apply_by_scan(struct tp__thread *th)
{
    struct tpoll *tp = th->tp;
    int fd = 0, hwm = (int)tp_load(&tp->hwm);

    th->overflow = 0;
    th->nlocal = 0;
    while (fd < hwm) {
        for (; fd < hwm && th->nlocal < th->qcap; fd++)
            if (tp_load_relaxed(&tp->fds[fd].update_mask) & th->bit)
                th->local[th->nlocal++] = fd;
        process_queue(th);
    }
}

void tp__apply_updates(struct tp__thread *th)
{
    drain_inbox(th);
    if (TP_UNLIKELY(th->overflow))
        apply_by_scan(th);
    else if (th->nlocal != 0)
        process_queue(th);
}

void tp__change_failed(struct tp__thread *th, int fd, unsigned dirs, int err)
{
    struct tp__fd *e = &th->tp->fds[fd];

    (void)err;
    set_polled(e, th->bit, dirs, 0);
    record_error(th, fd);
}

/* The swap is a full barrier: a delete that clears a polled bit after the
 * rebuild's scan read it sets the flag again after ours is cleared. */
int tp__scan_dirty(struct tp__thread *th)
{
    return tp_load_relaxed(&th->scan_dirty) && tp_swap(&th->scan_dirty, 0);
}

void tp__scan_polled(struct tp__thread *th, tp__scan_fn fn, void *arg)
{
    struct tpoll *tp = th->tp;
    int fd, hwm = (int)tp_load(&tp->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &tp->fds[fd];
        unsigned have = tp__polled_for(e, th->bit);

        if (have)
            fn(arg, fd, TP_GEN(tp_load(&e->state)), have);
    }
}
