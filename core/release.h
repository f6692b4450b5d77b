/* SPDX-License-Identifier: MIT */
/*
 * Waiting for threads without blocking them: a delete (or a migration)
 * that finds other threads still inside the fd's callback, or a scan
 * backend's poll still holding the file, leaves a record naming them.
 * Each named thread passes a quiescent point (the end of its wait, or its
 * stop) and clears its bit; whoever clears the last one finishes the
 * record: calls the release callback, or wakes the caller that waits.
 */
#ifndef TP_CORE_RELEASE_H
#define TP_CORE_RELEASE_H

#include <pthread.h>

#include "core.h"

/* A caller blocked until a record is finished (on the caller's stack). */
struct tp__waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

struct tp__rel {
    struct tp__rel *next;
    struct tp__group *grp; /* the group the masks below name threads of */
    tpoll_mask_t waiting; /* threads yet to pass a quiescent point */
    tpoll_mask_t running; /* of them: those inside fd's callback */
    tpoll_mask_t holders; /* of them: those asleep in a poll that may hold fd */
    int fd;
    void *owner;
    tpoll_release_cb release;  /* or NULL */
    int close_fd;              /* tpoll_fd_close: close fd first */
    struct tp__waiter *waiter; /* or NULL */
    int heap;                  /* tp__rel_new's: freed when finished */
};

/* A record for a release callback, allocated before anything changes so
 * that a failure changes nothing. NULL: out of memory. */
struct tp__rel *tp__rel_new(void);
void tp__rel_free(struct tp__rel *r);

/*
 * Ask the threads of r->running (inside fd's callback when the delete or
 * migration read running_mask) and r->holders (asleep in a poll that may
 * hold fd's file) to pass a quiescent point for r. A thread that already
 * left, or is stopped (or stopping), is counted out at once. If none is
 * left, r is finished before this returns, on the calling thread.
 */
void tp__rel_submit(struct tpoll *tp, struct tp__rel *r);

/* Block until the threads of `running` and `holders` (as above, of g) for fd
 * passed a quiescent point. Only from outside every callback: the threads
 * waited for may be waiting for us. */
void tp__rel_wait(struct tp__group *g, int fd, tpoll_mask_t running,
                  tpoll_mask_t holders);

/* th passed a quiescent point: outside its poll and its callbacks. */
void tp__quiesce(struct tp__thread *th);
/* th is out of its poll and its callbacks: if a quiescent point was asked
 * for, pass it. */
void tp__pass_quiescent(struct tp__thread *th);

/* In a forked child: forget every record (the threads they wait for are
 * gone; a waiter's record lives on a stack that is gone too). */
void tp__rel_forget_all(struct tpoll *tp);

#endif
