/* SPDX-License-Identifier: MIT */
/*
 * The type of a backend: what the core calls. Backends implement it in
 * backends/<name>.c; the core calls through it and never names a backend
 * (core/registry.c lists them).
 */
#ifndef TP_CORE_VTABLE_H
#define TP_CORE_VTABLE_H

#include <stdint.h>

struct tpoll;
struct tp__thread;

/* Capability flags. */
/* `set` only queues; changes reach the kernel in `flush`, and failures are
 * reported there through tp__change_failed(). The core keeps the fds of a
 * batch locked until the flush so that a delete never races a queued add. */
#define TP_CAP_BATCH 0x1u
/* No kernel registrations: the backend builds its poll set from the
 * table's polled bits (tp__scan_polled) whenever tp__scan_dirty() says they
 * changed. The core never calls `set` or `remove`: they may be NULL. */
#define TP_CAP_SCAN 0x2u
/* set() understands TP_EV_EXCL in `want` (epoll: EPOLLEXCLUSIVE). Other
 * backends never see the flag. */
#define TP_CAP_EXCLUSIVE 0x8u
/* The kernel refuses, at registration, every fd the core's kind check
 * would (a closed fd, a regular file, a directory: epoll), so the core
 * skips its check and the fstat it costs. */
#define TP_CAP_KERNEL_KIND 0x10u
/* set() registers edge-triggered when `want` has TP_EV_EDGE (epoll:
 * EPOLLET, kqueue: EV_CLEAR): readiness is reported once per change. The
 * core then keeps the registration for both directions for the fd's whole
 * life in the thread, and interest changes never reach the backend. Other
 * backends treat a TPOLL_FD_EDGE fd as level-triggered, which tells the
 * callback at least as often. */
#define TP_CAP_EDGE 0x20u
/* The kernel holds the file of every registration, and only the thread
 * itself may change its poller (io_uring: a poll request in flight holds
 * the file, and a ring is driven by its owner). `remove` only queues the
 * removal, which the thread makes before it polls again; a delete counts
 * such a thread as a holder while it sleeps (as poll and select threads),
 * wakes it, and its second phase waits for the thread's quiescent point,
 * where the core calls `settle` first. The calling thread settles at
 * once. */
#define TP_CAP_HOLDS 0x40u
/* set() watches the read side's close without its data when `want` has
 * TP_EV_CLOSEONLY with TP_EV_RECV (epoll: EPOLLRDHUP without EPOLLIN). Only
 * such a backend accepts tpoll_want_close, and only on an fd that is
 * neither edge-triggered nor, with TP_CAP_EXCLUSIVE, exclusive. */
#define TP_CAP_CLOSE 0x80u

struct tpoll_backend {
    const char *name;
    unsigned caps;

    /* Can this backend run here? Called by tpoll_create, so that a kernel
     * or a sandbox that refuses the backend's system calls fails there,
     * never silently. Optional. 0 or -errno. */
    int (*probe)(void);

    /* Create/close this thread's poller and wake mechanism. thread_init
     * runs on the thread being bound; thread_term on the same thread. */
    int (*thread_init)(struct tp__thread *th);
    void (*thread_term)(struct tp__thread *th);
    /* In a forked child: release the thread's resources without any call
     * that would change kernel state shared with the parent. */
    void (*thread_forget)(struct tp__thread *th);

    /* May this backend watch fd number `fd`? Called at insert, so it makes
     * no system call. Optional. 0 or -errno. */
    int (*fd_check)(struct tpoll *tp, int fd);
    /* May it watch a file of this kind (st_mode of fstat)? Called at the
     * first registration of an fd, after the core refused closed fds,
     * regular files and directories. Optional. 0 or -errno. */
    int (*kind_check)(unsigned mode);

    /* Make th's registration of fd watch `want` with cookie `gen`, where
     * `have` is what is registered now. Runs on th, with fd locked.
     * Immediate backends return 0 or -errno; batching ones return 0. */
    int (*set)(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
               unsigned want);
    /* Submit queued changes (TP_CAP_BATCH only). Runs on th. */
    void (*flush)(struct tp__thread *th);
    /* Synchronously stop watching fd in th's poller, from any thread, with
     * fd locked (delete). `have` is what th has registered. With
     * TP_CAP_HOLDS: queue the removal for th, which makes it in `settle`
     * or before it polls again. */
    void (*remove)(struct tp__thread *th, int fd, unsigned have);
    /* TP_CAP_HOLDS only. Runs on th, out of its poll and its callbacks:
     * complete every removal queued so far; when it returns, th's poller
     * holds none of those files any more. */
    void (*settle)(struct tp__thread *th);

    /* Wait for events (at most timeout_ms, -1 forever). Returns the number
     * of raw events fetched, or -errno. Runs on th. */
    int (*poll)(struct tp__thread *th, int timeout_ms);
    /* Report the n fetched events through tp__event(). Runs on th. */
    void (*dispatch)(struct tp__thread *th, int n);
    /* Make th's poll return. Any thread; th's inbox lock is held. */
    void (*wake)(struct tp__thread *th);
};

#endif
