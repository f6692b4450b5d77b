/* SPDX-License-Identifier: MIT */
/*
 * The fd table entry and its lock: the lowest room of the core. Everything
 * here is about one entry; nothing knows about threads beyond their bits.
 */
#ifndef TP_CORE_FD_H
#define TP_CORE_FD_H

#include <stdint.h>

#include "tpoll.h"
#include "../platform/atomic.h"
#include "../platform/compiler.h"

/* Interest and event bits, shared by the table, the core and backends. */
#define TP_EV_RECV 0x1u
#define TP_EV_SEND 0x2u
#define TP_EV_BOTH (TP_EV_RECV | TP_EV_SEND)
#define TP_EV_HUP 0x4u
#define TP_EV_ERR 0x8u
/* Half-close: backends report TP_EV_HUP with either (tp__hup). */
#define TP_EV_RDHUP 0x10u
#define TP_EV_WRHUP 0x20u
#define TP_EV_COND (TP_EV_HUP | TP_EV_ERR | TP_EV_RDHUP | TP_EV_WRHUP)
_Static_assert(TP_EV_RECV == TPOLL_RECV && TP_EV_SEND == TPOLL_SEND &&
                   TP_EV_HUP == TPOLL_HUP && TP_EV_ERR == TPOLL_ERR &&
                   TP_EV_RDHUP == TPOLL_RDHUP && TP_EV_WRHUP == TPOLL_WRHUP,
               "events reach callbacks unchanged");
/* In a backend's `want` only (never in an event): wake one of the threads
 * sharing the fd. */
#define TP_EV_EXCL 0x10u
/* In a late event only (pass.c): readiness the update pass took from the
 * state word, given back if this thread left the fd's mask meanwhile. */
#define TP_EV_TAKEN 0x40u
/* In a backend's `want` only: register edge-triggered (TP_CAP_EDGE); the
 * core then always asks for both directions. */
#define TP_EV_EDGE 0x80u
/* In a backend's `want` only, with TP_EV_RECV (TP_CAP_CLOSE): watch the
 * read side's close without its data (tpoll_want_close). Not TP_ST_CLOSE,
 * which tp__wanted() passes on: a close wanted with recv (the state's
 * RECV|CLOSE) must never look like a close-only registration. */
#define TP_EV_CLOSEONLY 0x200u

/*
 * fd state word: interest (TP_EV_RECV|TP_EV_SEND), readiness remembered for
 * an edge-triggered fd, lock, flags, in-use, and the generation in the high
 * bits. One word so that an interest change (CAS) can never lose a
 * concurrent delete's generation bump, and a reader sees both at once.
 */
/* Edge-triggered fd: a direction reported while it was not wanted (its
 * edge would be lost), to tell the callback when it is wanted: the
 * interest bits shifted up by TP_ST_RDY_SHIFT. */
#define TP_ST_RDY_SHIFT 2
#define TP_ST_RDY_RECV (TP_EV_RECV << TP_ST_RDY_SHIFT)
#define TP_ST_RDY_SEND (TP_EV_SEND << TP_ST_RDY_SHIFT)
#define TP_ST_RDY (TP_ST_RDY_RECV | TP_ST_RDY_SEND)
#define TP_ST_EXCL TP_EV_EXCL /* inserted with TPOLL_FD_EXCLUSIVE */
#define TP_ST_LOCK 0x20u
/* The fd's kind was found pollable for this generation (pass.c), or the
 * backend's kernel refuses what is not (TP_CAP_KERNEL_KIND). */
#define TP_ST_CHECKED 0x40u
/* Inserted with TPOLL_FD_EDGE on a backend with TP_CAP_EDGE. The same bit
 * as TP_EV_EDGE, so that tp__wanted() passes it on at no cost. */
#define TP_ST_EDGE TP_EV_EDGE
/* The read side's close is wanted (tpoll_want_close, TP_CAP_CLOSE).
 * tp__wanted() passes it on, so that what is wanted never equals what is
 * watched while it is set: the update pass decides what to watch for it
 * (pass.c). */
#define TP_ST_CLOSE 0x100u
/* In use: the bit just below the generation, so that the key TP_GEN()
 * that cookies carry is odd for a live fd and never matches a free entry:
 * one comparison per event checks both. */
#define TP_ST_INUSE 0x200u
#define TP_ST_GEN_SHIFT 10
#define TP_ST_GEN_ONE ((AO_t)1 << TP_ST_GEN_SHIFT)
#define TP_GEN(st) ((uint32_t)((st) >> (TP_ST_GEN_SHIFT - 1)))
/* The key an edge-triggered fd's registrations and remembered events
 * carry: even, so that its events leave the per-event common path
 * (core/event.h). */
#define TP_EDGE_GEN(st) (TP_GEN(st) & ~(uint32_t)1)
/* What belongs to one generation: cleared by insert and delete. */
#define TP_ST_PER_GEN                                                          \
    ((AO_t)(TP_EV_BOTH | TP_ST_RDY | TP_ST_EXCL | TP_ST_CHECKED | TP_ST_EDGE | \
            TP_ST_CLOSE))

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

/* The LOCK bit of the state word serialises the entry's writers (insert,
 * delete, migration) and an update pass registering the fd. */
int tp__fd_trylock(struct tp__fd *e, AO_t *st);
AO_t tp__fd_lock(struct tp__fd *e);
void tp__fd_unlock(struct tp__fd *e);

/* Busy-wait step for the core's short spinlocks: 64 plain retries, then
 * a yield per retry (a holder preempted on a busy machine gets the CPU). */
void tp__spin_pause(unsigned *spins);

/* What the poller of the thread with `bit` watches of the fd. */
static inline unsigned tp__polled_for(const struct tp__fd *e, tpoll_mask_t bit)
{
    return (tp_load(&e->polled_recv) & bit ? TP_EV_RECV : 0) |
           (tp_load(&e->polled_send) & bit ? TP_EV_SEND : 0);
}

/* What it should watch, from the state word st: the interest, with
 * TP_EV_EDGE for an edge-triggered fd (registered for both directions
 * whatever the interest, pass.c) and TP_ST_CLOSE when the read side's
 * close is wanted (pass.c decides what to watch for it). Never equal to
 * what is watched for an edge-triggered fd, so that the update pass always
 * looks at it: it is queued only when it must be registered or has
 * readiness to tell. */
static inline unsigned tp__wanted(const struct tp__fd *e, AO_t st,
                                  tpoll_mask_t bit)
{
    if ((st & TP_ST_INUSE) && (tp_load(&e->thread_mask) & bit))
        return (unsigned)(st & (TP_EV_BOTH | TP_ST_EDGE | TP_ST_CLOSE));
    return 0;
}

/* Readiness remembered of the directions now wanted (edge-triggered). */
static inline unsigned tp__ready_wanted(AO_t st)
{
    return (unsigned)(st & (st >> TP_ST_RDY_SHIFT)) & TP_EV_BOTH;
}

/* Record that the poller of the thread with `bit` went from watching
 * `have` to watching `want`. */
static inline void tp__fd_set_polled(struct tp__fd *e, tpoll_mask_t bit,
                                     unsigned have, unsigned want)
{
    unsigned on = want & ~have, off = have & ~want;

    if (on & TP_EV_RECV)
        tp_or(&e->polled_recv, bit);
    if (on & TP_EV_SEND)
        tp_or(&e->polled_send, bit);
    if (off & TP_EV_RECV)
        tp_and(&e->polled_recv, ~bit);
    if (off & TP_EV_SEND)
        tp_and(&e->polled_send, ~bit);
}

static inline int tp__ctz(tpoll_mask_t m)
{
    return __builtin_ctzl(m);
}

#endif
