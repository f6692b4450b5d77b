/* SPDX-License-Identifier: MIT */
/*
 * The per-event path, from a backend's raw event to the user's callback.
 * It runs once per event, so it is inline in each backend's dispatch loop;
 * what is rare (dropping a stale or foreign event) is out of line in
 * dispatch.c.
 */
#ifndef TP_CORE_EVENT_H
#define TP_CORE_EVENT_H

#include "dispatch.h"
#include "head.h"
#include "hooks.h"

/* The directions a condition makes ready: an error both, a half-close
 * its own (backends report TP_EV_HUP with either). */
static inline unsigned tp__cond_dirs(unsigned ev)
{
    if (ev & TP_EV_ERR)
        return TP_EV_BOTH;
    return (ev & TP_EV_RDHUP ? TP_EV_RECV : 0) |
           (ev & TP_EV_WRHUP ? TP_EV_SEND : 0);
}

/* Conditions come with the wanted directions they concern, so that the
 * read or write the callback attempts reports them, on every backend
 * alike. A poller reports a hang-up whatever was asked (POLLHUP): it is
 * both half-closes, so it concerns every wanted direction, and an fd that
 * wants something is never woken for nothing. A half-close is told only
 * with its own direction (pollers report the read side's with a write
 * request too). interest may hold TP_ST_CLOSE: the read side's conditions
 * are then told even without its direction (tpoll_want_close). */
static inline unsigned tp__user_events(unsigned ev, unsigned interest)
{
    unsigned out = ev & interest & TP_EV_BOTH;

    if (TP_UNLIKELY(ev & (TP_EV_HUP | TP_EV_ERR))) {
        unsigned half, told;

        out |= interest & tp__cond_dirs(ev);
        told = out | (interest & TP_ST_CLOSE ? TP_EV_RECV : 0);
        half = ev & ((told & TP_EV_RECV ? TP_EV_RDHUP : 0) |
                     (told & TP_EV_SEND ? TP_EV_WRHUP : 0));
        if (told)
            out |= (ev & TP_EV_ERR) | half | (half ? TP_EV_HUP : 0);
    }
    return out;
}

/*
 * Running bit first, then the checks: paired with delete, which clears the
 * mask and then reads running_mask, a thread either sees the fd gone or is
 * seen running. cb and owner are read between the running bit and the read
 * of the generation, so they belong to the generation seen (a delete bumps
 * it before a new insert writes them). The running bit is only ever
 * flipped by this thread and nobody needs its old value: a locked or/and,
 * a full barrier as the handshake needs, not a compare-and-swap loop.
 *
 * fd needs no range check: every backend reports fds that the update pass
 * registered, and cookies it built. dbit is th's bit, or 0 once a
 * callback forked and called tpoll_after_fork: then the mask check fails
 * and the rest of the batch, which is the parent's, is dropped without a
 * test of its own.
 *
 * An edge-triggered fd's registrations carry its generation with the
 * in-use bit clear (TP_EDGE_GEN), which no live fd's state matches: its
 * events leave the common path at the generation check, so that
 * level-triggered events pay nothing for edge triggering.
 */
static inline int tp__event_hold(struct tp__thread *th, struct tp__fd *e,
                                 int fd, tpoll_mask_t bit, AO_t mask)
{
    /* Just migrated here while the old thread is still inside the
     * callback: a one-thread fd's callback never overlaps itself. The
     * event waits, and the thread stops watching the fd until the old
     * one has left (dispatch.c): a ready fd would make every poll return
     * at once meanwhile. */
    if (TP_LIKELY(tp_load_relaxed(&e->running_mask) == bit) ||
        (mask & (mask - 1)))
        return 0;
    tp_and(&e->running_mask, ~bit);
    tp__event_held(th, fd);
    return 1;
}

static inline int tp__event_run(struct tp__thread *th, struct tp__fd *e,
                                int fd, tpoll_mask_t bit, AO_t cb, AO_t owner,
                                unsigned events)
{
    struct tp__thread_head *h = tp__head(th);

    if (TP_LIKELY(events != 0)) {
        TP_HOOK(TP_HOOK_DISPATCH_CHECKED, fd);
        ((tpoll_cb)cb)(h->tp, fd, events, (void *)owner);
        h->dispatched++;
    }
    tp_and(&e->running_mask, ~bit);
    if (TP_UNLIKELY(tp_load(&h->owed)))
        tp__event_left(th, fd);
    return 0;
}

static inline int tp__event_as(struct tp__thread *th, int fd, uint32_t gen,
                               unsigned ev, unsigned conditions)
{
    struct tp__thread_head *h = tp__head(th);
    struct tp__fd *e = &h->fds[fd];
    tpoll_mask_t bit = h->dbit;
    AO_t st, cb, owner, mask;
    unsigned events;

    tp_or(&e->running_mask, bit);
    cb = tp_load(&e->cb);
    owner = tp_load(&e->owner);
    st = tp_load(&e->state);
    mask = tp_load(&e->thread_mask);
    if (TP_UNLIKELY(TP_GEN(st) != gen || !(mask & bit)))
        return tp__event_other(th, fd, gen, ev);
    if (tp__event_hold(th, e, fd, bit, mask))
        return 1;
    events = ev & (unsigned)st & TP_EV_BOTH;
    if (TP_UNLIKELY(ev & conditions))
        events =
            tp__user_events(ev, (unsigned)(st & (TP_EV_BOTH | TP_ST_CLOSE)));
    return tp__event_run(th, e, fd, bit, cb, owner, events);
}

/* Any event: directions, hang-up, error. Returns 1 if the event was held
 * back for the next poll (a level-triggered one comes again by itself). */
static inline int tp__event(struct tp__thread *th, int fd, uint32_t gen,
                            unsigned ev)
{
    return tp__event_as(th, fd, gen, ev, TP_EV_HUP | TP_EV_ERR);
}

/* An event that the backend knows to hold directions only (the common
 * case, worth a copy of the path without the hang-up/error test). */
static inline int tp__event_rw(struct tp__thread *th, int fd, uint32_t gen,
                               unsigned ev)
{
    return tp__event_as(th, fd, gen, ev, 0);
}

#endif
