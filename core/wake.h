/* SPDX-License-Identifier: MIT */
/*
 * The sleep/wake handshake, both halves: the owner about to block in its
 * kernel poller, and a notifier that queued work for it.
 */
#ifndef TP_CORE_WAKE_H
#define TP_CORE_WAKE_H

#include "core.h"

#define TP_W_SLEEPING 0x1u

/* Publish "sleeping", then (after a full fence) look once more for work:
 * a notifier stores "notified" and then, after its own fence, reads
 * "sleeping", so either it signals or its work is seen here. Returns 1 if
 * the owner may block. */
static inline int tp__wake_sleep_begin(struct tp__thread *th)
{
    tp_store_relaxed(&th->wstate, TP_W_SLEEPING);
    tp_fence();
    return !(tp_load_relaxed(&th->notified) || tp_load_relaxed(&th->ninbox) ||
             th->nerrs);
}

/* Awake again: a notification from now on is for the next wait. One that
 * came during this one is consumed (its work is in the inbox, checked by
 * the next wait; a plain wake is answered by this wait returning). */
static inline void tp__wake_sleep_end(struct tp__thread *th)
{
    tp_store_relaxed(&th->wstate, 0);
    if (tp_load_relaxed(&th->notified))
        tp_store(&th->notified, 0);
}

/* One signal per sleep: notifiers are serialised by the inbox lock, and
 * only the first one after the sleeper last woke signals it. Returns 1 if
 * the caller must signal th's poller. */
static inline int tp__wake_notify(struct tp__thread *th)
{
    if (tp_load_relaxed(&th->notified))
        return 0;
    tp_store_relaxed(&th->notified, 1);
    tp_fence();
    return (tp_load_relaxed(&th->wstate) & TP_W_SLEEPING) != 0;
}

#endif
