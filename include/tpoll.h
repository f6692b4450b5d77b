/* SPDX-License-Identifier: MIT */
/*
 * tpoll: one readiness-polling API over epoll, kqueue, event ports, poll and
 * select, for multi-threaded event-driven programs.
 *
 * Model in one paragraph: an instance (struct tpoll) owns one shared table of
 * file descriptors. Each of up to TPOLL_MAX_THREADS threads binds itself to a
 * thread id with tpoll_thread_start() and then calls tpoll_wait() in a loop;
 * every bound thread has its own kernel poller. An fd is inserted with a
 * callback, an owner pointer and a thread mask naming the threads allowed to
 * poll it and run its callback. Interest is level-triggered and changed with
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
#define TPOLL_THREAD(tid) ((tpoll_mask_t)1 << (tid))

/* Event bits passed to callbacks. */
#define TPOLL_RECV 0x1u /* readable, or read would report EOF/error */
#define TPOLL_SEND 0x2u /* writable, or write would report an error */
#define TPOLL_HUP 0x4u  /* peer hung up (advisory: select never reports it) */
#define TPOLL_ERR 0x8u  /* error condition on the fd or its registration */

/*
 * Called on a thread named in the fd's thread mask, from tpoll_wait().
 * `events` only names directions the fd has interest in; TPOLL_HUP and
 * TPOLL_ERR come together with each wanted direction so that the read or
 * write the callback attempts reports the condition. A callback may call
 * any tpoll function on any fd, including deleting its own fd.
 */
typedef void (*tpoll_cb)(struct tpoll *tp, int fd, unsigned events,
                         void *owner);

/* Options for tpoll_create(); initialise with tpoll_options_init(). */
struct tpoll_options {
    /* Size of the fd table: fds 0..max_fds-1 may be inserted (a larger
     * one is -EMFILE). 0 means the hard RLIMIT_NOFILE, capped at
     * TPOLL_DEFAULT_MAX_FDS_CAP, so that raising the soft limit after
     * tpoll_create is covered; untouched slots cost address space, not
     * memory. Must not exceed the hard RLIMIT_NOFILE. */
    int max_fds;
    /* Number of thread ids, 1..TPOLL_MAX_THREADS. 0 means 1. */
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
 * (see tpoll_backend_supported), -ENOMEM. */
TPOLL_API int tpoll_create(struct tpoll **out,
                           const struct tpoll_options *opts);

/* Destroys an instance. The calling thread, if bound, is unbound first.
 * -EBUSY (and nothing happens) while another thread is still bound, or
 * when called from one of the instance's callbacks.
 * Inserted fds are forgotten, never closed. NULL is accepted. */
TPOLL_API int tpoll_destroy(struct tpoll *tp);

/* Binds the calling thread to thread id `tid` and creates its kernel
 * poller; every inserted fd whose mask names `tid` is then registered by
 * the first tpoll_wait(). -EINVAL bad tid, -EBUSY tid taken or caller
 * already bound to this instance, -EMLINK caller already bound to 8
 * instances, -EMFILE/-ENOMEM/... poller creation. */
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
 * Callable from any thread, bound or not (not from signal handlers). A
 * thread id nobody is bound to has no wait to end: nothing happens.
 * -EINVAL bad tid. */
TPOLL_API int tpoll_wake(struct tpoll *tp, int tid);

/* Inserts fd with no interest yet. thread_mask must be non-empty and only
 * name thread ids below the instance's thread count. Callable from any
 * thread. -EBADF fd negative or not open, -EMFILE fd >= max_fds (create
 * the instance with a larger max_fds), -EEXIST already inserted, -EINVAL
 * bad mask or NULL cb, -EPERM an fd kind no backend can poll (regular
 * file, directory), -ERANGE the backend cannot take this fd number
 * whatever max_fds (select: fd >= FD_SETSIZE; use another backend). */
TPOLL_API int tpoll_fd_insert(struct tpoll *tp, int fd, tpoll_cb cb,
                              void *owner, tpoll_mask_t thread_mask);

/* Flags for tpoll_fd_insert_flags(). */
/* For an fd shared by several threads (a listening socket): wake one
 * waiting thread per readiness change instead of all of them. epoll uses
 * EPOLLEXCLUSIVE, which Linux only accepts when adding, so each interest
 * change of such an fd costs a delete and an add (two calls) instead of a
 * modify; on the other backends the flag is accepted and has no effect
 * (every thread in the mask may be woken). */
#define TPOLL_FD_EXCLUSIVE 0x1u

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
 * Moves fd to another set of threads (migration). Once it returns, no
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

/* Current interest (TPOLL_RECV|TPOLL_SEND bits) of fd, or
 * -EBADF/-EMFILE/-ENOENT. */
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

/* Library version as TPOLL_VERSION_NUMBER / string, of the linked library. */
TPOLL_API unsigned tpoll_version(void);
TPOLL_API const char *tpoll_version_string(void);

#ifdef __cplusplus
}
#endif

#endif
