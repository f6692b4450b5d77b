/* SPDX-License-Identifier: MIT */
/*
 * The backend interface, and the only core header a backend includes. A
 * backend is one file in backends/ that defines exactly one
 * `const struct tpoll_backend` and nothing else non-static.
 *
 * The core decides, per (thread, fd), which events the thread's kernel
 * poller must watch (`want`) and what it believes is registered (`have`),
 * and calls `set` only when they differ. A backend translates that into
 * kernel operations, waits, and reports readiness through tp__event().
 *
 * What a backend sees of the core: the backend type (core/vtable.h), the
 * fd entry (core/fd.h), the start of a thread (struct tp__thread_head,
 * core/dispatch.h) and the inline per-event path (core/event.h), which
 * need them, allocation (core/alloc.h) and the services declared below
 * (core/backend.c). Nothing of the instance, the queues or the locks.
 */
#ifndef TP_CORE_BACKEND_H
#define TP_CORE_BACKEND_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "event.h"
#include "vtable.h"

/* ---- what the core offers to backends ---- */

/*
 * poll(2) bits to event bits (poll, event ports, io_uring, and epoll,
 * whose bits have the same values). POLLHUP is a hang-up of both
 * directions (a socket shut both ways, a pipe's read end with its writers
 * gone); POLLRDHUP, where the system has it, of the read side alone (the
 * peer's shutdown(SHUT_WR) or close). A pipe whose readers are gone gives
 * POLLERR on Linux, an error.
 */
static inline unsigned tp__poll_events(unsigned re)
{
    unsigned ev = (re & POLLIN ? TP_EV_RECV : 0) |
                  (re & POLLOUT ? TP_EV_SEND : 0) |
                  (re & (POLLERR | POLLNVAL) ? TP_EV_ERR : 0);

    if (re & POLLHUP)
        ev |= TP_EV_HUP | TP_EV_RDHUP | TP_EV_WRHUP;
#ifdef POLLRDHUP
    if (re & POLLRDHUP)
        ev |= TP_EV_HUP | TP_EV_RDHUP;
#endif
    return ev;
}

/* What to ask poll(2) (or an event port, or io_uring) for `want`: the
 * read side's half-close comes with recv where the system can tell it. */
static inline short tp__poll_want(unsigned want)
{
#ifdef POLLRDHUP
    short rdhup = POLLRDHUP;
#else
    short rdhup = 0;
#endif
    return (short)((want & TP_EV_RECV ? POLLIN | rdhup : 0) |
                   (want & TP_EV_SEND ? POLLOUT : 0));
}

/* Per-thread backend state: read on every event, so inline. */
static inline void **tp__backend_data(struct tp__thread *th)
{
    return &tp__head(th)->bk;
}

/* Events a poll may fetch (the instance's batch option), and the size of
 * the fd table. */
static inline int tp__thread_batch(struct tp__thread *th)
{
    return tp__head(th)->batch;
}

static inline int tp__thread_max_fds(struct tp__thread *th)
{
    return tp__head(th)->max_fds;
}

/* The thread's wake signal fired. Returns 1 if the backend consumes it
 * (drains its wake fd), 0 if it must leave it alone: a callback of this
 * dispatch forked, and the rest of the batch, the wake signal among it,
 * belongs to the parent, whose wake fd the child shares. */
int tp__woken(struct tp__thread *th);

/* A queued change of fd (cookie gen) failed in flush: `dirs` were to be
 * added and are not registered after all. */
void tp__change_failed(struct tp__thread *th, int fd, uint32_t gen,
                       unsigned dirs, int err);
/* A queued removal of `dirs` failed in flush (other than "already gone"):
 * they are still registered. The core keeps them counted as registered and
 * retries the removal at th's next update pass. */
void tp__remove_failed(struct tp__thread *th, int fd, unsigned dirs, int err);

/* One-shot backends: the registration of fd on th was consumed by an event
 * that is about to be reported; the core re-arms it through the update
 * pass if interest remains. */
void tp__oneshot_fired(struct tp__thread *th, int fd);

/* Counts one kernel registration call (epoll_ctl, a kevent change, ...). */
void tp__count_ctl(struct tp__thread *th, unsigned n);

/* Scan backends: call fn for every fd th must watch, with its events and
 * generation. */
typedef void (*tp__scan_fn)(void *arg, int fd, uint32_t gen, unsigned want);
void tp__scan_polled(struct tp__thread *th, tp__scan_fn fn, void *arg);
/* Scan backends: 1 (once) if the poll set must be rebuilt before polling:
 * the thread just started, or fds it polls were changed or deleted. */
int tp__scan_dirty(struct tp__thread *th);

#endif
