/* SPDX-License-Identifier: MIT */
/*
 * The sleep/wake handshake, both halves, on one word per thread: the
 * owner about to block in its kernel poller, and a notifier that queued
 * work for it. Each side makes one read-modify-write of the word, a full
 * barrier, so the two are totally ordered: either the notifier's comes
 * first and the owner sees NOTIFIED (and does not block), or the owner's
 * comes first and the notifier sees SLEEPING (and signals). Work that a
 * notifier published before its fetch-or is visible to an owner whose
 * fetch-or came after it. No store-then-load on two words, no fence
 * whose absence on one path loses a wake-up.
 */
#ifndef TP_CORE_WAKE_H
#define TP_CORE_WAKE_H

#include "../platform/atomic.h"
#include "../platform/compiler.h"

#define TP_W_SLEEPING 0x1u /* owner: about to block, or blocked */
#define TP_W_NOTIFIED 0x2u /* notifiers: work queued since the owner woke */
/* A delete or migration waits for this thread to pass a quiescent point
 * (release.c). */
#define TP_W_OWED 0x4u

/* Owner, before blocking: publishes SLEEPING and reads what notifiers
 * left, in one read-modify-write. Returns 1 if the owner may block. The
 * read-modify-write is the fence: it forbids the owner's read of the word
 * (and, after it, of the inbox) from being satisfied before its SLEEPING
 * is visible to a notifier (the store-buffer reordering that lost
 * wake-ups with two words). An add, not an or: SLEEPING is clear here
 * (only the owner sets it, and tp__wake_sleep_end clears it after every
 * poll), so adding it is or-ing it, and a fetch-and-add is one locked
 * instruction where a fetch-or is a compare-and-swap loop. */
static inline int tp__wake_sleep_begin(tp_atomic_t *w)
{
    return !(tp_fetch_add(w, TP_W_SLEEPING) & (TP_W_NOTIFIED | TP_W_OWED));
}

/* Owner, once the poll returned: a notification from now on is for the
 * next sleep. One that came during this one left its work where the next
 * wait looks (the inbox), or is answered by this wait returning (a plain
 * wake). OWED stays until the thread has passed its quiescent point. An
 * atomic and, not a store: a notifier's fetch-or landing between a load
 * and a store would be lost with its TP_W_OWED. */
static inline void tp__wake_sleep_end(tp_atomic_t *w)
{
    tp_and(w, ~(AO_t)(TP_W_SLEEPING | TP_W_NOTIFIED));
}

/* Notifier, after publishing its work (and `bits`, TP_W_OWED or 0): one
 * fetch-or of bits | TP_W_NOTIFIED (tp__wake_notify), whose old value
 * says whether to signal the owner's poller (tp__wake_must_signal): it
 * sleeps and nobody signalled it since it began to. */
static inline int tp__wake_must_signal(AO_t old)
{
    return (old & (TP_W_SLEEPING | TP_W_NOTIFIED)) == TP_W_SLEEPING;
}

/* The fetch-or is the fence of this half: it forbids the notifier's read
 * of SLEEPING from being satisfied before its work (stored before the
 * call) and its NOTIFIED are visible to the owner. It is made every time,
 * also when NOTIFIED is already set: the old protocol skipped it then,
 * and its work could stay unseen by an owner deciding to sleep. */
static inline AO_t tp__wake_notify(tp_atomic_t *w, AO_t bits)
{
    return tp_fetch_or(w, bits | TP_W_NOTIFIED);
}

/* Owner, outside its poll and its callbacks: was a quiescent point asked
 * for? Clears the request; the caller then passes the point. The read is
 * an acquire: it follows the callback's clearing of its running bit (a
 * read-modify-write) in the handshake with a delete handing a record
 * over, and on arm64 without LSE atomics a relaxed load may be satisfied
 * before that store is visible, losing the quiescent point. */
static inline int tp__wake_take_owed(tp_atomic_t *w)
{
    if (TP_LIKELY(!(tp_load(w) & TP_W_OWED)))
        return 0;
    tp_and(w, ~(AO_t)TP_W_OWED);
    return 1;
}

#endif
