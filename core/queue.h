/* SPDX-License-Identifier: MIT */
/*
 * Update queues. A change of an fd sets, for every started thread that
 * must act, its bit in update_mask; whoever flips the bit from 0 to 1
 * queues the fd on that thread (its local array, or its inbox when the
 * change comes from another thread). A thread queuing on itself sets
 * the bit with a plain locked or when it saw it clear, so another
 * thread's change may queue the same fd on its inbox meanwhile: an fd
 * sits at most once in each of a thread's queues. The update pass
 * (pass.c) empties them.
 */
#ifndef TP_CORE_QUEUE_H
#define TP_CORE_QUEUE_H

#include "core.h"

/* The inbox lock of a thread (a spinlock: held for a few stores). */
void tp__inbox_lock(struct tp__thread *th);
void tp__inbox_unlock(struct tp__thread *th);

/* Tell th it has work (with `bits` of the wake word, TP_W_OWED or 0);
 * signal it if it sleeps. Inbox lock held (a stopping thread closes its
 * wake fd only under it). Returns the wake word before. */
AO_t tp__notify_locked(struct tp__thread *th, AO_t bits);

/* Queue fd for re-evaluation on each started thread of `who` (of g). */
void tp__mark(struct tp__group *g, int fd, tpoll_mask_t who);
/* Queue fd on th itself (the calling thread). */
void tp__mark_self(struct tp__thread *th, int fd);

/* Bits of a word of the thread's close-only bitmap (pass.c). */
#define TP_WORD_BITS (8 * sizeof(unsigned long))

/* What the poller of th watches of fd (entry e), a close-only
 * registration (TP_EV_CLOSEONLY) told apart from one for the data by th's
 * close-only bitmap: a thread whose fd went from its close alone to its
 * data wants recv, as its polled bits say, and must still re-register. */
static inline unsigned tp__have_for(const struct tp__thread *th,
                                    const struct tp__fd *e, int fd)
{
    unsigned have = tp__polled_for(e, th->bit);

    if (th->closeonly != NULL && (have & TP_EV_RECV) &&
        (th->closeonly[(unsigned)fd / TP_WORD_BITS] >>
         ((unsigned)fd % TP_WORD_BITS)) &
            1)
        have |= TP_EV_CLOSEONLY;
    return have;
}

/* Runs on th, outside a batch (whose fds stay locked until its flush):
 * clears the update bits of the first n fds of th's local queue and drops
 * those found settled (what th should watch is what it watches; kinds:
 * th has close-only registrations, so the polled bits alone do not tell).
 * The others move to the front, in order. Returns how many stay. */
int tp__drop_settled(struct tp__thread *th, int n, int kinds);

/* Move the inbox into the local queue (or flag an overflow). Runs on th. */
void tp__drain_inbox(struct tp__thread *th);

/* Open (dead = 0) or close th's inbox, emptying it. */
void tp__inbox_set_dead(struct tp__thread *th, int dead);

#endif
