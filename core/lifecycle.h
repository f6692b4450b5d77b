/* SPDX-License-Identifier: MIT */
/* Building and tearing down a thread id's poller, queues and inbox. */
#ifndef TP_CORE_LIFECYCLE_H
#define TP_CORE_LIFECYCLE_H

#include "core.h"

/* Queues, then the backend's poller, then live (inbox open, counted as
 * started, every fd of its mask queued). 0 or -errno, nothing left. */
int tp__thread_open(struct tp__thread *th);
/* The reverse, on the thread itself. */
void tp__thread_close(struct tp__thread *th);
/* In a forked child: a fresh poller for th; on failure th is unbound. */
int tp__thread_renew(struct tp__thread *th);
/* A callback forked and called tpoll_after_fork: once that callback's
 * caller is done with the parent's poller, it goes and the child's is
 * made; on failure th is unbound. */
int tp__thread_finish_fork(struct tp__thread *th);
/* Release th's queues (the poller is the caller's business). */
void tp__thread_free_queues(struct tp__thread *th);

#endif
