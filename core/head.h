/* SPDX-License-Identifier: MIT */
/*
 * The start of a thread's struct: the only part of a thread that backends
 * and the inline per-event path know (core.h has the rest).
 */
#ifndef TP_CORE_HEAD_H
#define TP_CORE_HEAD_H

#include "fd.h"

struct tpoll;
struct tp__thread;

struct tp__thread_head {
    void *bk;           /* the backend's per-thread state */
    struct tp__fd *fds; /* the instance's table, one load less per event */
    struct tpoll *tp;
    tpoll_mask_t dbit; /* this thread's bit; 0 for the rest of a batch
                        * in which a callback forked */
    int dispatched;    /* callbacks run by the current wait */
    /* A delete or a migration waits for this thread to leave the
     * callback it runs: checked after each callback (release.c). A hint:
     * the wake word's TP_W_OWED is what the end of the wait relies on. */
    tp_atomic_t owed;
    int batch; /* events fetched per poll */
    int max_fds;
};

static inline struct tp__thread_head *tp__head(struct tp__thread *th)
{
    return (struct tp__thread_head *)(void *)th;
}

#endif
