/* SPDX-License-Identifier: MIT */
/* Core state shared by the files of core/. Never included by backends. */
#ifndef TP_CORE_INTERNAL_H
#define TP_CORE_INTERNAL_H

#include <stdint.h>

#include "tpoll.h"
#include "backend.h"
#include "../platform/atomic.h"
#include "../platform/compiler.h"

/*
 * fd state word: interest, in-use and lock bits, and the generation in the
 * high bits. One word so that an interest change (CAS) can never lose a
 * concurrent delete's generation bump, and a reader sees both at once.
 */
#define TP_ST_RECV TP_EV_RECV
#define TP_ST_SEND TP_EV_SEND
#define TP_ST_LOCK 0x8u
#define TP_ST_EXCL TP_EV_EXCL /* inserted with TPOLL_FD_EXCLUSIVE */
/* In use: the bit just below the generation, so that the key TP_GEN()
 * that cookies carry is odd for a live fd and never matches a free entry:
 * one comparison per event checks both. */
#define TP_ST_INUSE 0x80u
#define TP_ST_GEN_SHIFT 8
#define TP_ST_GEN_ONE ((AO_t)1 << TP_ST_GEN_SHIFT)
#define TP_GEN(st) ((uint32_t)((st) >> (TP_ST_GEN_SHIFT - 1)))

/* One fd table entry: exactly one cache line on LP64 (asserted). */
struct tp__fd {
    tp_atomic_t state;        /* TP_ST_* bits and generation */
    tp_atomic_t thread_mask;  /* threads allowed to poll and dispatch */
    tp_atomic_t update_mask;  /* threads with this fd queued for update */
    tp_atomic_t polled_recv;  /* threads whose poller watches recv */
    tp_atomic_t polled_send;  /* threads whose poller watches send */
    tp_atomic_t running_mask; /* threads inside (or entering) the callback */
    tp_atomic_t cb;           /* tpoll_cb, as an integer for atomic access */
    tp_atomic_t owner;
};

/* Update queues are bounded, so that memory does not grow with max_fds
 * per thread; an fd that finds its queue full keeps its update_mask bit
 * and is found by a scan of the table instead. */
#define TP_QUEUE_CAP 1024
/* Registration failures reported per pass; more in one pass are not
 * reported (the registrations still fail, and are retried at the next
 * interest change). */
#define TP_ERR_CAP 64

/* wstate: written by the owner only (the sleep half of the handshake). */
#define TP_W_SLEEPING 0x1u

struct tp__counters {
    tp_atomic_t loops, polls, callbacks, ctl_calls, updates, wakeups,
        idle_wakeups;
};

struct tp__thread {
    /* First, so that backends reach it without a call (core/backend.h). */
    struct tp__thread_head head;

    /* Sleep/notify: the owner writes wstate, notifiers (under inbox_lock)
     * write notified. Separate words make both sides a store and a fence
     * instead of a compare-and-swap loop. */
    tp_atomic_t wstate;
    tp_atomic_t notified;
    /* Scan backends: the polled bits changed since the poll set was last
     * built (by this thread's update pass, or another thread's delete). */
    tp_atomic_t scan_dirty;
    /* Written by other threads: the inbox. */
    tp_atomic_t inbox_lock;
    tp_atomic_t ninbox;
    int inbox_dead; /* under inbox_lock: thread not started, drop pushes */
    int inbox_overflow; /* under inbox_lock: a push found the inbox full */
    int *inbox;     /* fds queued by other threads, at most one per fd */

    /* Owned by the bound thread, from the next cache line on (the struct
     * is line-aligned, so neighbouring threads share no line either). */
    _Alignas(TP_CACHE_LINE) struct tpoll *tp;
    struct tp__fd *fds; /* tp->fds, one load less per event */
    tpoll_mask_t dbit;  /* bit, or 0 for the rest of a forked dispatch */
    int tid;
    tpoll_mask_t bit;
    tp_atomic_t bound; /* an OS thread holds this id */
    int *local;        /* fds queued by this thread, at most one per fd */
    int nlocal;
    int qcap;     /* capacity of local and inbox */
    int overflow; /* a queue overflowed: the next pass scans update_mask */
    int *errs; /* fds whose registration failed in this pass */
    int nerrs;
    int dispatched;   /* callbacks run by the current poll */
    int in_dispatch;  /* inside tpoll_wait's dispatch (callbacks may run) */
    int fork_pending; /* after_fork ran in a callback of this dispatch: the
                       * rest of the batch is the parent's; the poller is
                       * renewed when the dispatch ends */
    struct tp__counters ctr;
};

struct tpoll {
    struct tp__fd *fds; /* line-aligned: one entry never straddles two */
    int max_fds;
    int nthreads;
    int batch;
    const struct tpoll_backend *be;
    void *be_data;
    tp_atomic_t started;  /* threads with an open poller and inbox */
    tp_atomic_t hwm;      /* 1 + highest fd ever inserted */
    struct tp__thread *threads;
    void *fds_mem, *threads_mem; /* what to free: see tp__calloc_lines */
};

/* The thread bound to tp on the calling OS thread, or NULL. */
struct tp__thread *tp__self(const struct tpoll *tp);
/* Is the calling OS thread inside a callback (of any instance)? Delete
 * must not wait for other threads there (two callbacks deleting each
 * other's fds would wait for each other). */
int tp__in_callback(void);

/* fd locking: the LOCK bit of the state word. */
int tp__fd_trylock(struct tp__fd *e, AO_t *st);
AO_t tp__fd_lock(struct tp__fd *e);
void tp__fd_unlock(struct tp__fd *e);

/* What th's poller watches of fd (TP_EV_RECV|TP_EV_SEND), from the
 * polled bits; and what it should watch, from the state word st. */
static inline unsigned tp__polled_for(const struct tp__fd *e,
                                      tpoll_mask_t bit)
{
    return (tp_load(&e->polled_recv) & bit ? TP_EV_RECV : 0) |
           (tp_load(&e->polled_send) & bit ? TP_EV_SEND : 0);
}

static inline unsigned tp__wanted(const struct tp__fd *e, AO_t st,
                                  tpoll_mask_t bit)
{
    if ((st & TP_ST_INUSE) && (tp_load(&e->thread_mask) & bit))
        return (unsigned)(st & TP_EV_BOTH);
    return 0;
}

/* The inbox lock of a thread (a spinlock: held for a few stores). */
void tp__inbox_lock(struct tp__thread *th);
void tp__inbox_unlock(struct tp__thread *th);

/* Queue fd for re-evaluation on each started thread of `who`. */
void tp__mark(struct tpoll *tp, int fd, tpoll_mask_t who);
/* Queue fd on th itself (the calling thread). */
void tp__mark_self(struct tp__thread *th, int fd);
/* Notify th that it has work; signal it if it sleeps. Inbox lock held. */
void tp__notify_locked(struct tp__thread *th);
/* Apply th's queued updates (runs on th). */
void tp__apply_updates(struct tp__thread *th);
/* Dispatch registration failures recorded by the last update pass. */
void tp__dispatch_errors(struct tp__thread *th);

/* n zeroed elements starting on a cache line; free *raw, not the result. */
void *tp__calloc_lines(size_t n, size_t size, void **raw);

const struct tpoll_backend *tp__backend_find(const char *name, int *err);

void tp__spin_pause(unsigned *spins);

static inline int tp__ctz(tpoll_mask_t m)
{
    return __builtin_ctzl(m);
}

#endif
