/* SPDX-License-Identifier: MIT */
/*
 * tpoll: one readiness-polling API over epoll, kqueue, event ports, poll and
 * select, for multi-threaded event-driven programs.
 *
 * Model in one paragraph: an instance (struct tpoll) owns one shared table of
 * file descriptors (one per thread group, below). Each of up to
 * TPOLL_MAX_THREAD_IDS threads binds itself to a thread id with
 * tpoll_thread_start() and then calls tpoll_wait() in a loop; every bound
 * thread has its own kernel poller. An fd is inserted with a callback, an
 * owner pointer and a thread mask naming the threads allowed to poll it and
 * run its callback. Interest is level-triggered and changed with
 * tpoll_want_recv()/tpoll_stop_recv()/tpoll_want_send()/tpoll_stop_send().
 * Changes are recorded, not pushed to the kernel at once: each concerned
 * thread applies them in one batch before it next polls, so a stop followed
 * by a want costs no system call at all.
 *
 * Errors: every function that can fail returns 0 (or a count) on success and
 * a negative errno value on failure. A failing call changes nothing. A NULL
 * instance is -EINVAL for every function that returns an int (tpoll_destroy
 * accepts it and returns 0). docs/contract.md lists, per function, the
 * errors and who may call it.
 */
#ifndef TPOLL_H
#define TPOLL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <tpoll/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TPOLL_API __attribute__((visibility("default")))
#else
#define TPOLL_API
#endif

/* Opaque instance. */
struct tpoll;

/*
 * Thread masks are machine words: bit N names thread id N. The width is
 * that of unsigned long, so 64 threads on LP64 systems and 32 on 32-bit ones.
 */
typedef unsigned long tpoll_mask_t;
#define TPOLL_MAX_THREADS ((int)(sizeof(tpoll_mask_t) * CHAR_BIT))

/*
 * Thread groups, for more thread ids than a mask has bits: thread ids
 * 0..TPOLL_MAX_THREADS-1 are group 0, the next TPOLL_MAX_THREADS group 1,
 * and so on, up to TPOLL_MAX_THREAD_IDS ids in all. An fd belongs to one
 * group, and its thread mask names threads of that group: bit N of the
 * mask is thread id TPOLL_TID(group, N). tpoll_fd_insert puts fds in
 * group 0, so a program with at most TPOLL_MAX_THREADS threads never sees
 * a group. An fd moves to another group by a delete and an insert
 * (docs/guide.md, "Thread groups").
 */
#define TPOLL_MAX_THREAD_IDS 4096
/* The group of thread id tid, and its bit in a mask of that group. A
 * mask names threads only with its group: TPOLL_THREAD(70) is bit 6,
 * which tpoll_fd_insert (group 0) reads as thread id 6. For any tid:
 * tpoll_fd_insert_group(tp, fd, cb, owner, TPOLL_GROUP(tid),
 * TPOLL_THREAD(tid), 0). */
#define TPOLL_GROUP(tid) ((tid) / TPOLL_MAX_THREADS)
#define TPOLL_THREAD(tid) ((tpoll_mask_t)1 << ((tid) % TPOLL_MAX_THREADS))
/* Thread id of bit n (0..TPOLL_MAX_THREADS-1) of group g. */
#define TPOLL_TID(g, n) ((g)*TPOLL_MAX_THREADS + (n))

/* Event bits passed to callbacks. */
#define TPOLL_RECV 0x1u /* readable, or read would report EOF/error */
#define TPOLL_SEND 0x2u /* writable, or write would report an error */
#define TPOLL_HUP 0x4u  /* hung up: TPOLL_RDHUP and/or TPOLL_WRHUP */
#define TPOLL_ERR 0x8u  /* error condition on the fd or its registration */
/* Half-close, per direction (advisory: select never reports them). */
#define TPOLL_RDHUP 0x10u /* nothing more will arrive: once the data
                           * buffered is read, a read returns 0 */
#define TPOLL_WRHUP 0x20u /* nothing more can be sent: the peer is gone
                           * (hung up both ways, or reset) */

/*
 * Called on a thread named in the fd's thread mask, from tpoll_wait().
 * `events` only names directions the fd has interest in; a condition
 * comes with the wanted direction it concerns, so that the read or write
 * the callback attempts reports it: TPOLL_RDHUP with TPOLL_RECV,
 * TPOLL_WRHUP with TPOLL_SEND, TPOLL_ERR with every wanted direction.
 * TPOLL_HUP comes exactly when a half-close does: one test for "the peer
 * is going away". A hang-up of both directions (poll(2)'s POLLHUP, a
 * peer's close of a socketpair) is both half-closes. docs/contract.md
 * lists what each backend can tell. A callback may call any tpoll
 * function on any fd, including deleting its own fd.
 */
typedef void (*tpoll_cb)(struct tpoll *tp, int fd, unsigned events,
                         void *owner);

/* Options for tpoll_create(); initialise with tpoll_options_init(). */
struct tpoll_options {
    /* Size of the fd table: fds 0..max_fds-1 may be inserted (a larger
     * one is -EMFILE). 0 means the hard RLIMIT_NOFILE, capped at
     * TPOLL_DEFAULT_MAX_FDS_CAP, so that raising the soft limit after
     * tpoll_create is covered; untouched slots cost address space, not
     * memory (a cache line per slot and per thread group: set it on a
     * 32-bit system with many groups). Must not exceed the hard
     * RLIMIT_NOFILE. */
    int max_fds;
    /* Number of thread ids, 1..TPOLL_MAX_THREAD_IDS. 0 means 1. More
     * than TPOLL_MAX_THREADS makes thread groups (above). */
    int threads;
    /* Backend name ("epoll", "kqueue", "port", "poll", "select"). NULL
     * means the TPOLL_BACKEND environment variable if set, else the
     * build's default. A name that is unknown or not compiled in is an
     * error, never a silent fallback. */
    const char *backend;
    /* Events fetched from the kernel per poll call. 0 means 256. */
    int batch;
};

#define TPOLL_DEFAULT_MAX_FDS_CAP (1 << 20)

/* Per-thread counters, maintained by the thread that owns them. */
struct tpoll_counters {
    uint64_t loops;     /* tpoll_wait() iterations */
    uint64_t polls;     /* calls into the kernel poller that could block */
    uint64_t callbacks; /* callbacks run */
    uint64_t ctl_calls; /* kernel registration calls (epoll_ctl, kevent
                         * changes, port_associate, ...) */
    uint64_t updates;   /* fds re-evaluated by the update pass */
    uint64_t wakeups;   /* wake signals received from other threads */
    uint64_t idle_wakeups; /* polls that returned early with nothing to do */
};

TPOLL_API void tpoll_options_init(struct tpoll_options *opts);

/* Creates an instance. opts may be NULL for all defaults.
 * -EINVAL bad option, -ENOENT/-ENOTSUP unknown / not compiled backend
 * (see tpoll_backend_supported), -ENOMEM; io_uring refused by the kernel:
 * io_uring_setup's error (-EPERM, -ENOSYS, ...). */
TPOLL_API int tpoll_create(struct tpoll **out,
                           const struct tpoll_options *opts);

/* Destroys an instance. The calling thread, if bound, is unbound first.
 * -EBUSY (and nothing happens) while another thread is still bound, or
 * when called from one of the instance's callbacks.
 * Inserted fds are forgotten, never closed. NULL is accepted. */
TPOLL_API int tpoll_destroy(struct tpoll *tp);

/* Binds the calling thread to thread id `tid` and creates its kernel
 * poller; every fd inserted in tid's group whose mask names it
 * (TPOLL_THREAD(tid)) is then registered by the first tpoll_wait().
 * -EINVAL bad tid, -EBUSY tid taken or caller already bound to this
 * instance, -EMLINK caller already bound to 8 instances,
 * -EMFILE/-ENOMEM/... poller creation. */
TPOLL_API int tpoll_thread_start(struct tpoll *tp, int tid);

/* Unbinds the calling thread and closes its poller. -EPERM if unbound,
 * -EBUSY from inside one of this thread's callbacks. */
TPOLL_API int tpoll_thread_stop(struct tpoll *tp);

/* Thread id the calling thread is bound to, or -EPERM. */
TPOLL_API int tpoll_thread_id(const struct tpoll *tp);

/* One loop iteration on the calling (bound) thread: apply this thread's
 * pending updates, poll for at most timeout_ms (negative: no limit, 0: do
 * not block), run callbacks. Returns the number of callbacks run, or -EPERM
 * (unbound), -EINTR (interrupted by a signal before any event), or another
 * negative errno from the kernel poller; -EBUSY when called from inside
 * one of this thread's callbacks. */
TPOLL_API int tpoll_wait(struct tpoll *tp, int timeout_ms);

/* Makes thread `tid`'s current or next tpoll_wait() return promptly.
 * Callable from any thread, bound or not, and from a signal handler
 * (async-signal-safe; errno is preserved). A thread id nobody is bound to
 * has no wait to end: nothing happens. -EINVAL bad tid. */
TPOLL_API int tpoll_wake(struct tpoll *tp, int tid);

/* Inserts fd, in thread group 0, with no interest yet. thread_mask must be
 * non-empty and only name thread ids below the instance's thread count.
 * Callable from any thread. Makes no system call, so it does not look at
 * the file: an fd no backend can poll (not open, a regular file, a
 * directory) is refused at its first registration instead, on every
 * backend alike: its callback
 * gets TPOLL_ERR with the wanted directions each time a thread tries to
 * register it (after an interest change, a migration, a thread start, a
 * fork), never readiness. -EBADF fd negative, -EMFILE fd >= max_fds
 * (create the instance with a larger max_fds), -EEXIST already inserted
 * (in any group), -EINVAL bad mask or NULL cb, -ERANGE the backend cannot
 * take this fd number whatever max_fds (select: fd >= FD_SETSIZE; use
 * another backend). */
TPOLL_API int tpoll_fd_insert(struct tpoll *tp, int fd, tpoll_cb cb,
                              void *owner, tpoll_mask_t thread_mask);

/*
 * tpoll_fd_insert_flags() into thread group `group`: thread_mask names
 * threads of that group (bit N: thread id TPOLL_TID(group, N)). Group 0
 * is tpoll_fd_insert_flags(). The number is the fd's in one group at a
 * time: -EEXIST while it is inserted in any group. -EINVAL group out of
 * range (0 .. TPOLL_GROUP(threads - 1)), or a mask naming a thread id
 * at or beyond the instance's thread count; otherwise as
 * tpoll_fd_insert_flags().
 */
TPOLL_API int tpoll_fd_insert_group(struct tpoll *tp, int fd, tpoll_cb cb,
                                    void *owner, int group,
                                    tpoll_mask_t thread_mask, unsigned flags);

/* The group fd was inserted in, or -EBADF/-EMFILE/-ENOENT. */
TPOLL_API int tpoll_fd_group(const struct tpoll *tp, int fd);

/* Flags for tpoll_fd_insert_flags(). */
/* For an fd shared by several threads (a listening socket): wake one
 * waiting thread per readiness change instead of all of them. epoll uses
 * EPOLLEXCLUSIVE, which Linux only accepts when adding, so each interest
 * change of such an fd costs a delete and an add (two calls) instead of a
 * modify; on the other backends the flag is accepted and has no effect
 * (every thread in the mask may be woken). */
#define TPOLL_FD_EXCLUSIVE 0x1u
/*
 * Edge-triggered: the fd is registered with the kernel once, for both
 * directions, when a thread of its mask first polls; interest changes
 * then only change what the callback is told, and make no system call
 * (epoll: EPOLLET, kqueue: EV_CLEAR). A direction's readiness is reported
 * once per change, so the callback must read (write) until the call
 * fails with EAGAIN, or call tpoll_fd_ready() for what it left undone;
 * otherwise that direction is not reported again until new data (room)
 * arrives. Readiness that arrives while a direction is not wanted is
 * remembered, and a later want of it runs the callback without waiting
 * for an edge (a half-close or an error is remembered as readiness of
 * its direction: the read or write reports it). poll, select and event ports have no edge-triggered
 * registrations: there the fd behaves as a level-triggered one (it is
 * reported again while ready, so the callback is never told less).
 */
#define TPOLL_FD_EDGE 0x2u

/* tpoll_fd_insert() with flags (TPOLL_FD_*); -EINVAL for unknown flags,
 * otherwise as tpoll_fd_insert(). */
TPOLL_API int tpoll_fd_insert_flags(struct tpoll *tp, int fd, tpoll_cb cb,
                                    void *owner, tpoll_mask_t thread_mask,
                                    unsigned flags);

/*
 * Deleting an fd is two-phase. The first phase happens before any of the
 * delete calls returns: fd is marked gone, so no callback for it starts
 * any more, on any thread; every poller that registers files (epoll,
 * kqueue, event ports) no longer watches it; and the number may be
 * closed and reused at once (events and errors of the old user are
 * dropped). The second phase ends when nothing of the fd is in use any
 * more: no callback for it still runs on another thread (one that had
 * started before the delete), and no thread is still inside a poll() or
 * select() call that watches it (those hold the file until they return;
 * delete wakes them, and they drop it before they poll again). The three
 * calls differ in how the program learns of the second phase.
 *
 * tpoll_fd_delete never waits. It returns 0 when a callback for fd can
 * no longer be running on another thread (the owner may be freed), and 1
 * when one may still be; from inside fd's own callback, that callback
 * does not count. "May": a thread that is only dropping a stale event of
 * the same number (of an earlier user, or of this one just deleted) is
 * counted too, so 1 can come where no callback runs. -EBADF, -EMFILE,
 * -ENOENT (nothing changed).
 */
TPOLL_API int tpoll_fd_delete(struct tpoll *tp, int fd);

/*
 * Called exactly once per tpoll_fd_delete_async(), with the owner given at
 * insert, when the second phase is over: the moment a program may free
 * its per-fd state (or close the fd, if it kept it open until then). It
 * runs like a callback, on one of the threads that were still using the
 * fd, right after they stopped (right after the callback they ran
 * returned, at the end of their tpoll_wait, or in tpoll_thread_stop), or
 * inside tpoll_fd_delete_async itself, on the calling thread, when
 * nothing was in use. "Using" includes a thread that was only dropping a
 * stale event of the number: the release may run on a thread outside the
 * fd's mask. It may call any tpoll function a callback may, and is one
 * (tpoll_fd_delete_wait refuses there, on any thread).
 */
typedef void (*tpoll_release_cb)(struct tpoll *tp, int fd, void *owner);

/*
 * tpoll_fd_delete, then release(tp, fd, owner) exactly once when the
 * second phase is over (possibly before this returns). Never waits.
 * Deleting fd from its own callback, the release runs right after that
 * callback returns, before the next callback of the thread's batch.
 * -EINVAL (NULL tp), -EBADF, -EMFILE, -ENOENT, -EINVAL (NULL release),
 * -ENOMEM: nothing changed.
 */
TPOLL_API int tpoll_fd_delete_async(struct tpoll *tp, int fd,
                                    tpoll_release_cb release);

/*
 * tpoll_fd_delete, then block until the second phase is over: it blocks
 * only while a callback for fd that started before the delete runs on
 * another thread, or while another thread's poll() or select() still
 * holds fd (it is woken, and drops fd within that thread's current
 * callback batch). It sleeps; it does not spin. It must not be called
 * while holding a lock that such a callback takes. From inside any
 * callback (of any instance) it does not delete and returns -EDEADLK:
 * two callbacks waiting for each other would never return; use
 * tpoll_fd_delete_async there. -EBADF, -EMFILE, -ENOENT (nothing changed).
 */
TPOLL_API int tpoll_fd_delete_wait(struct tpoll *tp, int fd);

/*
 * tpoll_fd_delete_async, and tpoll closes fd itself when nothing uses it
 * any more, before it calls release (which may be NULL here): the second
 * phase is the moment a close is safe, as libuv's uv_close. Since the
 * close removes the kernel's registrations of an edge-triggered fd
 * (TPOLL_FD_EDGE: epoll drops them with the file, kqueue with the
 * descriptor), the delete makes no registration call for one: a
 * connection then costs one registration call in all. If the file is
 * also open elsewhere (dup, fork, fd passing), epoll keeps its
 * registration until the last copy closes, and its rare edge-triggered
 * events are dropped as stale. Errors as tpoll_fd_delete_async, without
 * -EINVAL for a NULL release; on error fd is not closed.
 */
TPOLL_API int tpoll_fd_close(struct tpoll *tp, int fd,
                             tpoll_release_cb release);

/*
 * Moves fd to another set of threads of its group (migration; across
 * groups: delete and insert). Once it returns, no
 * callback for fd starts on a thread that left the mask; threads leaving
 * stop polling it before their next poll, threads joining start. Called
 * outside every callback, it waits (sleeping) for a callback of fd still
 * running on a leaving thread to return, and returns 0; do not call it
 * while holding a lock such a callback takes. Called from inside a
 * callback, it does not wait (two callbacks migrating each other's fds
 * would never return) and returns 1 if such a callback may still be
 * running; from fd's own callback, that callback does not count.
 * -EBADF, -EMFILE, -ENOENT, -EINVAL bad mask (nothing changed).
 */
TPOLL_API int tpoll_fd_set_threads(struct tpoll *tp, int fd,
                                   tpoll_mask_t thread_mask);

/* Level-triggered interest changes; idempotent. -EBADF (fd < 0), -EMFILE
 * (fd >= max_fds), -ENOENT. */
TPOLL_API int tpoll_want_recv(struct tpoll *tp, int fd);
TPOLL_API int tpoll_stop_recv(struct tpoll *tp, int fd);
TPOLL_API int tpoll_want_send(struct tpoll *tp, int fd);
TPOLL_API int tpoll_stop_send(struct tpoll *tp, int fd);

/*
 * Early-close interest (libevent's EV_CLOSED): hear of the peer's close
 * of the read side without wanting its data, to abort a connection while
 * not reading (backpressure). With close wanted and recv not, the read
 * side's half-close is told as TPOLL_RDHUP|TPOLL_HUP without TPOLL_RECV,
 * and an error as TPOLL_ERR, at every wait while it lasts (level-
 * triggered) until tpoll_stop_close(), a tpoll_want_recv() (then as with
 * recv wanted) or the delete; data that arrives meanwhile wakes nothing.
 * With recv wanted too nothing changes. The fd's next insert starts
 * without it. Idempotent; callable from any thread. -EBADF, -EMFILE,
 * -ENOENT as above; -ENOTSUP (nothing changed) where the backend cannot
 * watch the close apart from the data (only epoll can), and for a
 * TPOLL_FD_EDGE or, on epoll, TPOLL_FD_EXCLUSIVE fd.
 */
TPOLL_API int tpoll_want_close(struct tpoll *tp, int fd);
TPOLL_API int tpoll_stop_close(struct tpoll *tp, int fd);

/*
 * For a TPOLL_FD_EDGE fd whose callback stopped before EAGAIN (to be fair
 * to other fds, say): `events` (TPOLL_RECV and/or TPOLL_SEND) are still
 * ready, so the callback runs again for the wanted ones after the fds
 * already ready on its thread, without a system call; ones not wanted now
 * are told when wanted. Level-triggered fds (and every fd on poll, select
 * and event ports) are reported again while ready anyway: 0 and nothing
 * changes. Callable from any thread. -EINVAL (events empty or not only
 * those bits), -EBADF, -EMFILE, -ENOENT.
 */
TPOLL_API int tpoll_fd_ready(struct tpoll *tp, int fd, unsigned events);

/* Current interest (TPOLL_RECV|TPOLL_SEND bits, TPOLL_RDHUP while close
 * is wanted) of fd, or -EBADF/-EMFILE/-ENOENT. */
TPOLL_API int tpoll_fd_interest(const struct tpoll *tp, int fd);

/* In a child after fork(): the calling thread keeps its thread id (if it
 * was bound) with a fresh poller; every other thread id is unbound; no
 * kernel object shared with the parent is touched. Call before any other
 * tpoll function in the child. -EINVAL NULL, or the poller creation error
 * (the calling thread is then unbound). May be called from a callback (a
 * callback that forks): the rest of that wait's batch belongs to the parent
 * and is dropped, and the fresh poller is created when the dispatch ends;
 * an error creating it is then returned by that tpoll_wait(). */
TPOLL_API int tpoll_after_fork(struct tpoll *tp);

/* Name of the backend the instance uses. */
TPOLL_API const char *tpoll_backend_name(const struct tpoll *tp);

/* 0 if `name` is compiled in, -ENOTSUP if it is a known backend that this
 * build lacks, -ENOENT if no backend has that name, -EINVAL if NULL.
 * Beware: 0 means yes; compare with 0 (`if (tpoll_backend_supported(n))`
 * is true when n is NOT available). */
TPOLL_API int tpoll_backend_supported(const char *name);

/* Name of the build's default backend. */
TPOLL_API const char *tpoll_default_backend(void);

/* Counters of thread `tid`. -EINVAL bad tid or NULL out. */
TPOLL_API int tpoll_thread_counters(const struct tpoll *tp, int tid,
                                    struct tpoll_counters *out);

/*
 * Loop services: timers, cross-thread calls, signals, a run loop. Their
 * callbacks run like fd callbacks: on their thread, from tpoll_wait()
 * (after the fd callbacks of that wait: timers, then signals, then calls),
 * count in its return value, and may call any function a callback may.
 */

/*
 * Timers, per thread. The program owns the memory of a timer (no
 * allocation per arm); tpoll_timer_init() gives it a thread id for life.
 * Delays are milliseconds on the monotonic clock, counted from the start
 * of the owner's next tpoll_wait() (one clock read for all the timers
 * armed since the last one), so a timer never fires early; it fires at
 * the owner's first tpoll_wait() at or after its due time, whose timeout
 * shrinks to the next due time. Timers due in different milliseconds
 * fire in the order of their due times; timers armed together with the
 * same delay, in the order they were armed.
 *
 * On the owning thread arm and cancel are synchronous. From any other
 * thread they are requests queued to the owner (the last one wins),
 * applied at its next iteration: a callback the owner already began may
 * still run, and re-arm the timer. To free a timer, cancel it on its own
 * thread (its callback, any callback of that thread, or a call posted
 * there with tpoll_call()), then free it. tpoll_thread_stop() cancels
 * the thread's timers. A timer is 72 bytes on LP64, the wheel about 7 KiB
 * per thread id.
 */
struct tpoll_timer;
typedef void (*tpoll_timer_cb)(struct tpoll *tp, struct tpoll_timer *t,
                               void *arg);

/* Private to tpoll: the fields are set up by tpoll_timer_init() and
 * never read or written by the program. */
struct tpoll_timer_link {
    struct tpoll_timer_link *next, *prev;
};

struct tpoll_timer {
    struct tpoll_timer_link tp_link; /* wheel slot or pending list */
    uint64_t tp_due;                 /* due time, or the delay while pending */
    tpoll_timer_cb tp_cb;
    void *tp_arg;
    struct tpoll_timer *tp_xnext; /* owner's queue of requests */
    uint64_t tp_xdelay;           /* requested delay, or a cancel */
    size_t tp_xgen; /* queued in this epoch of the owner's queue */
    int tp_tid;
    unsigned tp_state; /* where it is, and the wheel's epoch */
};

/* Longest delay tpoll_timer_arm() accepts: about 34 years. */
#define TPOLL_TIMER_MAX_MS ((((uint64_t)1) << 40) - 1)

/* Sets up t for thread tid with its callback; t must not be armed. Any
 * thread. -EINVAL NULL tp, t or cb, bad tid. */
TPOLL_API int tpoll_timer_init(struct tpoll *tp, struct tpoll_timer *t,
                               int tid, tpoll_timer_cb cb, void *arg);

/* Arms t to fire once after delay_ms; an armed timer is re-armed. On t's
 * thread: 0. From another thread: 0 when queued to t's thread. -EINVAL
 * NULL, delay over TPOLL_TIMER_MAX_MS; -ESRCH nobody is bound to t's
 * thread id, or it is stopping. */
TPOLL_API int tpoll_timer_arm(struct tpoll *tp, struct tpoll_timer *t,
                              uint64_t delay_ms);

/* Cancels t. On t's thread: 1 if it was armed (its callback will not
 * run), 0 if not. From another thread: 0 (a cancel queued to t's thread,
 * or nothing bound there, hence nothing armed). -EINVAL NULL. */
TPOLL_API int tpoll_timer_cancel(struct tpoll *tp, struct tpoll_timer *t);

/*
 * Cross-thread calls: fn(tp, arg) runs once on thread tid, from its
 * tpoll_wait() (or its tpoll_thread_stop(), for calls accepted before it
 * began), in the order each producer posted them. Any thread, bound or
 * not, including callbacks; not from a signal handler. Up to 256 calls
 * wait per thread without allocation; a longer queue doubles its array
 * once and keeps it (a steady load allocates nothing).
 * -EINVAL NULL tp or fn, bad tid; -ESRCH nobody is bound to tid, or it
 * is stopping; -ENOMEM (nothing posted).
 */
typedef void (*tpoll_call_fn)(struct tpoll *tp, void *arg);
TPOLL_API int tpoll_call(struct tpoll *tp, int tid, tpoll_call_fn fn,
                         void *arg);

/*
 * Signals: cb(tp, signo, arg) runs on thread tid at its next wait after
 * signo was delivered to the process (deliveries between two callbacks
 * coalesce into one). tpoll installs its own handler for signo while any
 * instance watches it, and restores the previous disposition after the
 * last unwatch; no signal mask is needed. One watch per signal per
 * instance, 64 in the process. Any thread, not from a signal handler.
 * -EINVAL NULL, bad tid, a signal that cannot be caught; -EEXIST signo
 * watched by this instance; -ENOSPC no watch left.
 */
typedef void (*tpoll_signal_cb)(struct tpoll *tp, int signo, void *arg);
TPOLL_API int tpoll_signal_watch(struct tpoll *tp, int signo, int tid,
                                 tpoll_signal_cb cb, void *arg);
/* Ends the watch: no delivery is recorded for it once it returns; a
 * callback already started on its thread may still run (none does when
 * called on that thread). -EINVAL, -ENOENT not watched. */
TPOLL_API int tpoll_signal_unwatch(struct tpoll *tp, int signo);

/* Runs tpoll_wait(tp, -1) on the calling bound thread until tpoll_stop()
 * names it, retrying -EINTR. Returns 0 once stopped (the stop is used
 * up), at once if a stop came since the thread started or last returned
 * from here; -EPERM unbound, -EBUSY from a callback, or the error of a
 * failing tpoll_wait. */
TPOLL_API int tpoll_run(struct tpoll *tp);

/* Makes tpoll_run() on thread tid return (now, or at once when next
 * entered). Any thread, and signal handlers: async-signal-safe (errno is
 * preserved). -EINVAL NULL or bad tid; -ESRCH nobody bound to tid. */
TPOLL_API int tpoll_stop(struct tpoll *tp, int tid);

/* Calls fn(tp, fd, owner, arg) for each fd inserted in group 0 whose thread
 * mask meets `mask`, in fd order, until fn returns non-zero (then returns
 * that). fn may delete the fd. An fd inserted or deleted during the visit
 * may or may not be seen. Any thread. -EINVAL NULL tp or fn. */
typedef int (*tpoll_visit_fn)(struct tpoll *tp, int fd, void *owner,
                              void *arg);
TPOLL_API int tpoll_fd_visit(struct tpoll *tp, tpoll_mask_t mask,
                             tpoll_visit_fn fn, void *arg);
/* tpoll_fd_visit for the fds of thread group `group` (tpoll_fd_visit is
 * group 0). -EINVAL group out of range too. */
TPOLL_API int tpoll_fd_visit_group(struct tpoll *tp, int group,
                                   tpoll_mask_t mask, tpoll_visit_fn fn,
                                   void *arg);

/* Library version as TPOLL_VERSION_NUMBER / string, of the linked library. */
TPOLL_API unsigned tpoll_version(void);
TPOLL_API const char *tpoll_version_string(void);

#ifdef __cplusplus
}
#endif

#endif
