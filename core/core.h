/* SPDX-License-Identifier: MIT */
/*
 * What the core keeps per instance and per thread id. Data only: the
 * files of core/ that act on it each hold one part (queue.c the queues,
 * wake.h the sleep word, pass.c the update pass, ...). Never included by
 * backends, which see a thread only through its head (core/head.h).
 * The backend's services (core/backend.h) are not declared here: the core
 * calls the vtable, and only backends call the services.
 */
#ifndef TP_CORE_INSTANCE_H
#define TP_CORE_INSTANCE_H

#include "alloc.h"
#include "head.h"
#include "vtable.h"

/* Update queues are bounded, so that memory does not grow with max_fds
 * per thread; an fd that finds its queue full keeps its update_mask bit
 * and is found by a scan of the table instead. */
#define TP_QUEUE_CAP 1024
/* Events the update pass finds (registration failures, readiness of an
 * edge-triggered fd) kept per pass; past that an fd stays queued and the
 * next pass finds it again (pass.c). */
#define TP_LATE_CAP 64
/* Held fds remembered per thread; past that an event is held back by
 * polling again (the rare case of many migrations in flight at once). */
#define TP_HELD_CAP 16
_Static_assert(TP_LATE_CAP <= 255 && TP_HELD_CAP <= 255,
               "counted in bytes (struct tp__thread)");

/*
 * Life of a thread id. A fork can find another thread anywhere inside
 * tpoll_thread_start or tpoll_thread_stop; the child trusts only a LIVE
 * thread (built to the end and not yet being torn down). OPENING and
 * CLOSING are stored before the first and after the last step of those
 * calls, LIVE and FREE after their last one.
 */
enum {
    TP_LIFE_FREE,    /* no OS thread holds the id */
    TP_LIFE_OPENING, /* claimed: queues and poller being built */
    TP_LIFE_LIVE,    /* bound, poller and queues complete */
    TP_LIFE_CLOSING, /* being torn down */
};

/* An event the update pass found: a registration failure (TP_EV_ERR), or
 * remembered readiness of an edge-triggered fd now wanted. Reported to
 * the fd's callback by the wait unless the fd is deleted (its generation
 * moves on) first. */
struct tp__late {
    int fd;
    uint32_t gen;
    unsigned ev;
};

struct tp__rel;
struct tp__svc;

struct tp__counters {
    tp_counter_t loops, polls, callbacks, ctl_calls, updates, wakeups,
        idle_wakeups;
};

struct tp__thread {
    /* First: the part that backends and the per-event path read. */
    struct tp__thread_head head;

    /* Owned by the bound thread. */
    tpoll_mask_t bit; /* in its group's masks */
    struct tp__group *grp;
    tp_atomic_t life;     /* TP_LIFE_*: what a forked child may trust */
    int *local;           /* fds queued by this thread, at most one per fd */
    struct tp__late *late; /* events the update pass found, to report */
    /* One bit per fd: this thread's recv-side registration of it watches
     * the read side's close only (pass.c). Made at its first such one. */
    unsigned long *closeonly;
    /* The loop services (svc.h), made with the instance: read at every
     * wait, so on the owner's lines, not on the line wakers write. */
    struct tp__svc *svc;
    struct tp__counters ctr;
    int tid;
    int nlocal;
    int qcap; /* capacity of local and inbox */
    int nlate;
    /* Small counts and flags, as bytes: the owner's part fills its four
     * lines exactly. */
    unsigned char late_held;    /* events of held fds waiting in late, not
                                 * to spin on (<= TP_LATE_CAP) */
    unsigned char nheld;        /* <= TP_HELD_CAP */
    unsigned char overflow;     /* a queue overflowed: the next pass scans
                                 * update_mask */
    unsigned char in_pass;      /* the update pass walks the local queue */
    unsigned char in_dispatch;  /* inside tpoll_wait's dispatch (callbacks
                                 * may run) */
    unsigned char fork_pending; /* after_fork ran in a callback of this
                                 * dispatch: the rest of the batch is the
                                 * parent's; the poller is renewed when the
                                 * dispatch ends */
    /* One-thread fds that migrated here while the thread they left still
     * ran their callback: not watched until it left (dispatch.c). */
    int held[TP_HELD_CAP];

    /* Written by other threads, from a cache line of its own on, so that
     * their writes never take the owner's lines away (the array of threads
     * is line-aligned, and so is each thread's size). The wake word:
     * TP_W_* bits of the sleep/wake handshake (wake.h). */
    _Alignas(TP_CACHE_LINE) tp_atomic_t wword;
    /* Scan backends: the polled bits changed since the poll set was last
     * built (by this thread's update pass, or another thread's delete). */
    tp_atomic_t scan_dirty;
    /* The inbox. */
    tp_atomic_t inbox_lock;
    tp_atomic_t ninbox;
    int *inbox;         /* fds queued by other threads, at most one per fd */
    int inbox_dead;     /* under inbox_lock: thread not started, drop pushes */
    int inbox_overflow; /* under inbox_lock: a push found the inbox full */
    /* The gate of the lock-free wake (svc.h), written by wakers and
     * signal handlers. */
    tp_atomic_t gate;
};

/*
 * A thread group: TPOLL_MAX_THREADS consecutive thread ids and a table of
 * its own for the fds inserted in it. Masks name threads of one group, so
 * a group's table never holds another group's bits: a number deleted in
 * one group and inserted in another at once meets nothing of its old
 * user (running bits, queued updates, registrations) in its new entry.
 * A program with TPOLL_MAX_THREADS threads or fewer has group 0 only.
 */
struct tp__group {
    struct tp__fd *fds; /* line-aligned: one entry never straddles two */
    struct tp__thread *threads; /* its first thread */
    struct tpoll *tp;
    tpoll_mask_t all;    /* its thread ids (the last group may be short) */
    tp_atomic_t started; /* threads with an open poller and inbox */
    tp_atomic_t hwm;     /* 1 + highest fd ever inserted in it */
    void *fds_mem;       /* what to free: see tp__calloc_lines */
};

struct tpoll {
    int max_fds;
    int nthreads;
    int ngroups;
    int batch;
    const struct tpoll_backend *be;
    /* Several groups: per fd number, the group other than 0 it is
     * inserted in, or 0. Written under the lock of group 0's entry (which
     * serialises every insert and delete of the number), read only when
     * group 0's entry is not in use: a program with one group, or an fd
     * of group 0, never reads it. NULL with one group. */
    tp_atomic_t *away;
    /* Deletes and migrations waiting for threads to pass a quiescent
     * point (release.c), under a spinlock of their own. */
    tp_atomic_t graves_lock;
    struct tp__rel *graves;
    struct tp__thread *threads;
    void *threads_mem;        /* what to free: see tp__calloc_lines */
    struct tp__group group[]; /* ngroups */
};

/* Thread id of th (tests' fake backends report it). */
int tp__thread_tid(const struct tp__thread *th);

#endif
