/* SPDX-License-Identifier: MIT */
/*
 * Loop services of a thread id: timers (timer.c), cross-thread calls and
 * timer requests (call.c), signal deliveries (signal.c), and the gate
 * through which a waker or a signal handler reaches the thread's wake fd
 * without a lock (gate.c). The rest of the core knows them only through
 * the hooks at the bottom: thread start and stop, fork, destroy, and the
 * two in tpoll_wait.
 */
#ifndef TP_CORE_SVC_H
#define TP_CORE_SVC_H

#include "core.h"

/*
 * The gate word (struct tp__thread's gate). A waker adds TP_G_ONE and
 * reads CLOSED in the same read-modify-write: while it is inside, a
 * stopping thread, which sets CLOSED and then waits for the count to
 * drop to zero, does not close its wake fd. One word, so neither side
 * needs a second load ordered after its read-modify-write.
 */
#define TP_G_CLOSED 0x1u /* no thread bound, or it is stopping */
#define TP_G_STOP 0x2u   /* tpoll_stop() came: tpoll_run() returns */
#define TP_G_SIGNAL 0x4u /* a watched signal was delivered for the thread */
#define TP_G_ONE 0x8u    /* one waker inside the gate */

/* A call waiting in a thread's ring. */
struct tp__call {
    tpoll_call_fn fn;
    void *arg;
};

/* Calls a thread holds without allocating at first; a full ring doubles,
 * and stays as large. */
#define TP_CALL_RING 256

/* The timer wheel: 7 levels of 64 slots of 1 ms << (6 * level). */
#define TP_WHEEL_LEVELS 7
#define TP_WHEEL_BITS 6
#define TP_WHEEL_SLOTS (1 << TP_WHEEL_BITS)

struct tp__wheel {
    uint64_t base_ns;           /* the monotonic time of tick 0 */
    uint64_t cur;               /* the tick being processed (cascaded into) */
    uint64_t min_tick, min_due; /* the earliest due time in a level-0 slot */
    long armed;                 /* timers in the wheel or pending */
    long placed;                /* of them, in the wheel */
    unsigned epoch;             /* timers stamped with another are not armed */
    /* Slots that may hold timers (a bit may stay set for an emptied
     * slot: cleared when found empty). */
    uint64_t used[TP_WHEEL_LEVELS];
    struct tpoll_timer_link pending; /* armed, placed at the next wait */
    struct tpoll_timer_link slot[TP_WHEEL_LEVELS][TP_WHEEL_SLOTS];
};

struct tp__svc {
    /* Shared with producers, under lock. */
    tp_atomic_t lock;
    struct tp__call *ring;
    struct tpoll_timer *xhead, **xtail;
    int live;      /* a thread takes calls (started, not stopping) */
    unsigned xgen; /* a timer is queued if its tp_xgen is this */
    int ncalls, nreqs;
    int cap; /* of ring */
    /* Something is queued: set by the first producer since the owner took
     * the queue, which looks at it once per wait. On a line of its own,
     * so that the owner's look does not take the lock's line away from
     * producers at every call. */
    _Alignas(TP_CACHE_LINE) tp_atomic_t mail;
    /* The owner's. */
    struct tp__call *spare;
    void *mem; /* the first thread's: the block of every thread's */
    int spare_cap;
    struct tp__wheel wheel;
};

/* Calls the owner took from its queue, to run after its timers. */
struct tp__taken {
    struct tp__call *calls;
    int n;
};

/* The wait for a held lock (svc.c), out of line so that callers stay
 * small; it returns with the lock taken. */
void tp__svc_spin_wait(tp_atomic_t *lock);

/* The services' spinlocks (a queue, the signal slots): held for a few
 * stores. */
static inline void tp__svc_spin_lock(tp_atomic_t *lock)
{
    if (TP_UNLIKELY(tp_cas(lock, 0, 1) != 0))
        tp__svc_spin_wait(lock);
}

static inline void tp__svc_spin_unlock(tp_atomic_t *lock)
{
    tp_store(lock, 0);
}

/* ---- gate.c ---- */

/* Enter th's gate: 1 if its wake fd may be used until tp__gate_leave,
 * 0 (and nothing to leave) if it is closed. Async-signal-safe. */
int tp__gate_enter(struct tp__thread *th);
void tp__gate_leave(struct tp__thread *th);
/* Set `bits` in th's gate and make its wait return, if a thread is bound.
 * Async-signal-safe. Returns 0, or -ESRCH when the gate is closed. */
int tp__gate_notify(struct tp__thread *th, AO_t bits);
void tp__gate_open(struct tp__thread *th);
/* Close the gate, and wait for the wakers inside to leave. */
void tp__gate_close(struct tp__thread *th);

/* ---- call.c ---- */

/* Owner: take what is queued; timer requests are applied at once, the
 * calls are left in `out` for tp__call_run. */
void tp__call_take(struct tp__thread *th, struct tp__taken *out);
/* Owner: run them, as callbacks (after a fork in one, the rest belong to
 * the parent and are dropped). */
void tp__call_run(struct tp__thread *th, struct tp__taken *in);
/* Owner: apply the queued timer requests only (before a change of its
 * own to a timer that has one queued). */
void tp__call_apply_requests(struct tp__thread *th);
/* Queue a request for timer t to its thread th: a delay, or
 * TP_TIMER_CANCEL. 0, or -ESRCH when th takes no calls. */
#define TP_TIMER_CANCEL UINT64_MAX
int tp__call_request(struct tp__thread *th, struct tpoll_timer *t,
                     uint64_t delay);
/* Thread stop: take no more, and run what was accepted. */
void tp__call_close(struct tp__thread *th);
void tp__call_open(struct tp__thread *th);
/* In a forked child: nothing queued survives (the parent runs it). */
void tp__call_forget(struct tp__svc *s);
/* The rings, made with the instance and freed with it. */
int tp__call_alloc(struct tp__svc *s, int tid);
/* The rings are whole (they are made at a thread id's first start). */
int tp__call_ready(const struct tp__svc *s);
/* A new queue's request list, at its thread id's first start. */
void tp__call_init(struct tp__svc *s);
void tp__call_free(struct tp__svc *s);

/* ---- timer.c ---- */

/* An empty wheel; every timer of the one before is disarmed at once (its
 * epoch moves on). */
void tp__wheel_init(struct tp__wheel *w);
/* Owner: a request queued by another thread, applied. */
void tp__timer_apply(struct tp__thread *th, struct tpoll_timer *t,
                     uint64_t delay);
int tp__timer_timeout(struct tp__thread *th, int timeout_ms);
void tp__timer_fire(struct tp__thread *th);
/* Tests: move the timers' clock `ms` ahead of the monotonic clock. */
void tp__timer_skew_ms(AO_t ms);

/* ---- signal.c ---- */

void tp__signal_dispatch(struct tp__thread *th);
/* A watch for th has deliveries not yet reported. */
int tp__signal_pending(const struct tp__thread *th);
/* In a forked child: the watches are the child's (its pid). */
void tp__signal_after_fork(struct tpoll *tp);
/* Destroy: every watch of tp ends. */
void tp__signal_forget(struct tpoll *tp);

/* ---- svc.c: the hooks ---- */

/* tpoll_create: every thread id's services, gates closed. 0 or -ENOMEM. */
int tp__svc_create(struct tpoll *tp);
/* Before th's first start: -ENOMEM, or 0. */
int tp__svc_prepare(struct tp__thread *th);
/* tpoll_destroy: signal watches end, the memory goes. */
void tp__svc_destroy(struct tpoll *tp);
/* The thread is live (started, or renewed after fork): it takes calls,
 * its gate opens. */
void tp__svc_live(struct tp__thread *th);
/* Thread stop, first: close the gate and the queue, run the calls
 * accepted, cancel the timers. */
void tp__svc_close(struct tp__thread *th);
/* tpoll_after_fork, first: every gate closed, nothing queued survives,
 * the timers of the threads that vanished are forgotten. */
void tp__svc_fork(struct tpoll *tp, struct tp__thread *self);

/* tpoll_wait, after the update pass: timers armed since the last wait are
 * placed, and the timeout shrinks to the next due time. */
static inline int tp__svc_timeout(struct tp__thread *th, int timeout_ms)
{
    if (TP_LIKELY(th->svc->wheel.armed == 0))
        return timeout_ms;
    return tp__timer_timeout(th, timeout_ms);
}

void tp__svc_dispatch(struct tp__thread *th);
/* tpoll_wait, after the fd callbacks: timers due, signals, calls. The
 * loads are acquires: they follow the owner's read-modify-write of its
 * wake word, in the handshake with a producer (work, then NOTIFIED). */
static inline void tp__svc_run(struct tp__thread *th)
{
    struct tp__svc *s = th->svc;

    /* One branch for the three: this runs at every wait. */
    if (TP_UNLIKELY(((AO_t)s->wheel.placed | tp_load(&s->mail) |
                     (tp_load(&th->gate) & TP_G_SIGNAL)) != 0))
        tp__svc_dispatch(th);
}

#endif
