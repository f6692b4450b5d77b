/* SPDX-License-Identifier: MIT */
/*
 * The backend interface. A backend is one file in backends/ that defines
 * exactly one `const struct tpoll_backend` and nothing else non-static.
 *
 * The core decides, per (thread, fd), which events the thread's kernel
 * poller must watch (`want`) and what it believes is registered (`have`),
 * and calls `set` only when they differ. A backend translates that into
 * kernel operations, waits, and reports readiness through tp__event().
 */
#ifndef TP_CORE_BACKEND_H
#define TP_CORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct tpoll;
struct tp__thread;

/* Interest / registration bits used between core and backends. */
#define TP_EV_RECV 0x1u
#define TP_EV_SEND 0x2u
#define TP_EV_BOTH (TP_EV_RECV | TP_EV_SEND)
/* In `want` only: wake one of the threads sharing the fd, not all. */
#define TP_EV_EXCL 0x10u

/* Capability flags. */
/* `set` only queues; changes reach the kernel in `flush`, and failures are
 * reported there through tp__change_failed(). The core keeps the fds of a
 * batch locked until the flush so that a delete never races a queued add. */
#define TP_CAP_BATCH 0x1u
/* No kernel registrations: the backend builds its poll set from the
 * table's polled bits (tp__scan_polled) whenever tp__scan_dirty() says they
 * changed. The core never calls `set` or `remove`: they may be NULL. */
#define TP_CAP_SCAN 0x2u
/* Every delivered event consumes the registration (event ports): the
 * backend calls tp__oneshot_fired() before reporting the event. */
#define TP_CAP_ONESHOT 0x4u
/* set() understands TP_EV_EXCL in `want` (epoll: EPOLLEXCLUSIVE). Other
 * backends never see the flag. */
#define TP_CAP_EXCLUSIVE 0x8u

struct tpoll_backend {
    const char *name;
    unsigned caps;

    /* Instance init/term (probe features, per-instance state). Optional. */
    int (*init)(struct tpoll *tp);
    void (*term)(struct tpoll *tp);

    /* Create/close this thread's poller and wake mechanism. thread_init
     * runs on the thread being bound; thread_term on the same thread. */
    int (*thread_init)(struct tp__thread *th);
    void (*thread_term)(struct tp__thread *th);
    /* In a forked child: release the thread's resources without any call
     * that would change kernel state shared with the parent. */
    void (*thread_forget)(struct tp__thread *th);

    /* May this backend watch fd? Called at insert. Optional. 0 or -errno. */
    int (*fd_check)(struct tpoll *tp, int fd);

    /* Make th's registration of fd watch `want` with cookie `gen`, where
     * `have` is what is registered now. Runs on th, with fd locked.
     * Immediate backends return 0 or -errno; batching ones return 0. */
    int (*set)(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
               unsigned want);
    /* Submit queued changes (TP_CAP_BATCH only). Runs on th. */
    void (*flush)(struct tp__thread *th);
    /* Synchronously stop watching fd in th's poller, from any thread, with
     * fd locked (delete). `have` is what th has registered. */
    void (*remove)(struct tp__thread *th, int fd, unsigned have);

    /* Wait for events (at most timeout_ms, -1 forever). Returns the number
     * of raw events fetched, or -errno. Runs on th. */
    int (*poll)(struct tp__thread *th, int timeout_ms);
    /* Report the n fetched events through tp__event(). Runs on th. */
    void (*dispatch)(struct tp__thread *th, int n);
    /* Make th's poll return. Any thread; th's inbox lock is held. */
    void (*wake)(struct tp__thread *th);
};

/* ---- what the core offers to backends ---- */

/* Per-thread backend state pointer. It is read on every event, so it is
 * the first member of the thread (the only layout backends know) and the
 * accessor is inline. */
struct tp__thread_head {
    void *bk;
};

static inline void **tp__backend_data(struct tp__thread *th)
{
    return &((struct tp__thread_head *)(void *)th)->bk;
}
struct tpoll *tp__thread_tpoll(const struct tp__thread *th);
int tp__thread_tid(const struct tp__thread *th);
int tp__max_fds(const struct tpoll *tp);
int tp__batch(const struct tpoll *tp);

/* Report readiness of fd (TP_EV_* plus TP_EV_HUP/TP_EV_ERR) registered
 * with cookie gen. Stale and foreign events are dropped here. */
#define TP_EV_HUP 0x4u
#define TP_EV_ERR 0x8u
/* tp__event(th, fd, gen, ev) is inline: core/event.h, included at the end
 * of this header. */

/* The thread's wake signal was consumed. */
void tp__woken(struct tp__thread *th);

/* A queued change failed in flush: `dirs` are not registered after all. */
void tp__change_failed(struct tp__thread *th, int fd, unsigned dirs,
                       int err);

/* One-shot backends: the registration of fd on th was consumed by an event
 * that is about to be reported; the core re-arms it through the update
 * pass if interest remains. */
void tp__oneshot_fired(struct tp__thread *th, int fd);

/* Counts one kernel registration call (epoll_ctl, a kevent change, ...). */
void tp__count_ctl(struct tp__thread *th, unsigned n);

/* Scan backends: call fn for every fd th must watch, with its events and
 * generation. Returns the number of fds visited. */
typedef void (*tp__scan_fn)(void *arg, int fd, uint32_t gen, unsigned want);
void tp__scan_polled(struct tp__thread *th, tp__scan_fn fn, void *arg);
/* Scan backends: 1 (once) if the poll set must be rebuilt before polling:
 * the thread just started, or fds it polls were changed or deleted. */
int tp__scan_dirty(struct tp__thread *th);

/* Allocation with a test hook for fault injection. */
void *tp__calloc(size_t n, size_t size);
void tp__free(void *p);

/* Backends get the inline per-event path; core files that need it include
 * event.h themselves (internal.h includes this header first). */
#ifndef TP_CORE_INTERNAL_H
#include "event.h"
#endif

#endif
