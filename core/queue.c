/* SPDX-License-Identifier: MIT */
/* Update queues: marking an fd for a thread, and the inbox. */
#include <string.h>

#include "binding.h"
#include "queue.h"
#include "wake.h"

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

AO_t tp__notify_locked(struct tp__thread *th, AO_t bits)
{
    AO_t old = tp__wake_notify(&th->wword, bits);

    if (tp__wake_must_signal(old))
        th->head.tp->be->wake(th);
    return old;
}

void tp__inbox_set_dead(struct tp__thread *th, int dead)
{
    tp__inbox_lock(th);
    th->inbox_dead = dead;
    th->inbox_overflow = 0;
    tp_store(&th->ninbox, 0);
    tp__inbox_unlock(th);
}

/*
 * Nothing here needs the fd's lock: only this thread sets its polled bits,
 * a delete removes registrations itself, and a change racing with the read
 * of the state queues the fd again (its update bit was cleared just
 * before). Its own loop, with the thread's fields in registers (every
 * atomic operation is a compiler barrier, after which fields of th would
 * be loaded again): the update pass and the compaction of a full queue
 * both run it over every fd a re-registration queued.
 */
int tp__drop_settled(struct tp__thread *th, int n, int kinds)
{
    struct tp__fd *fds = th->head.fds;
    int *local = th->local;
    tpoll_mask_t bit = th->bit;
    int i, kept = 0;

    for (i = 0; i < n; i++) {
        int fd = local[i];
        struct tp__fd *e = &fds[fd];

        tp_and(&e->update_mask, ~bit);
        if (tp__wanted(e, tp_load(&e->state), bit) !=
            (kinds ? tp__have_for(th, e, fd) : tp__polled_for(e, bit)))
            local[kept++] = fd;
    }
    return kept;
}

/*
 * A full local queue is mostly made of fds whose changes cancelled out (a
 * stop and a want of the same fd, the common re-registration): drop
 * those now, while their entries are still in cache, rather than let the
 * queue overflow into a scan of the whole table at the next pass (at
 * 10,000 changed fds the table no longer fits the cache, and the pass
 * touched each entry a second time from memory). An entry is dropped as
 * the pass would skip it, by the same test (tp__drop_settled, a close-only
 * registration told apart from one for the data). One that is not stays,
 * with its bit set again, unless another thread re-marked it meanwhile
 * (it is in the inbox then).
 */
static TP_NOINLINE void compact_local(struct tp__thread *th)
{
    tpoll_mask_t bit = th->bit;
    int n = th->nlocal, kept = tp__drop_settled(th, n, th->closeonly != NULL);
    int i, stay = 0;

    for (i = 0; i < kept; i++)
        if (!(tp_fetch_or(&th->head.fds[th->local[i]].update_mask, bit) & bit))
            th->local[stay++] = th->local[i];
    tp_count(&th->ctr.updates, (AO_t)(n - stay));
    th->nlocal = stay;
}

/* Out of line, so that the common path needs no call frame. Not while
 * the pass walks the queue (a refused removal queues its fd again from
 * inside the pass). */
static TP_NOINLINE void queue_full(struct tp__thread *th, int fd)
{
    if (!th->overflow && !th->in_pass)
        compact_local(th);
    if (th->nlocal < th->qcap)
        th->local[th->nlocal++] = fd;
    else
        th->overflow = 1;
}

void tp__mark_self(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->head.fds[fd];

    if (tp_load_relaxed(&e->update_mask) & th->bit)
        return;
    /* An or, one locked instruction, where a fetch-or is a
     * compare-and-swap loop. Only this thread clears its bit, so it is
     * still clear unless another thread set it meanwhile (mark_remote,
     * which then queued the fd on the inbox): the fd is then queued
     * twice, and the second visit finds it settled. */
    tp_or(&e->update_mask, th->bit);
    if (TP_LIKELY(th->nlocal < th->qcap))
        th->local[th->nlocal++] = fd;
    else
        queue_full(th, fd);
}

/* The dead check and the bit flip happen under the inbox lock, so that a
 * stopping thread, which marks its inbox dead and then clears its bits,
 * never leaves a bit set with no queue entry behind it. */
static void mark_remote(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->head.fds[fd];

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
        tp__notify_locked(th, 0);
    }
    tp__inbox_unlock(th);
}

static TP_NOINLINE void mark_each(struct tp__group *g, int fd, tpoll_mask_t who)
{
    struct tp__thread *self = tp__self(g->tp);

    while (who) {
        struct tp__thread *th = &g->threads[tp__ctz(who)];

        who &= who - 1;
        if (self != NULL && th == self)
            tp__mark_self(self, fd);
        else
            mark_remote(th, fd);
    }
}

void tp__mark(struct tp__group *g, int fd, tpoll_mask_t who)
{
    struct tp__thread *self = tp__self_in(g);

    who &= tp_load(&g->started);
    /* The common case, a thread changing its own fd, without the loop's
     * call frame (nor the binding lookup's). */
    if (TP_LIKELY(self != NULL && who == self->bit))
        tp__mark_self(self, fd);
    else
        mark_each(g, fd, who);
}

void tp__drain_inbox(struct tp__thread *th)
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
