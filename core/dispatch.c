/* SPDX-License-Identifier: MIT */
/* The per-event path's rare cases. */
#include "dispatch.h"
#include "core.h"
#include "queue.h"
#include "release.h"

/* A registration this thread should not have (migrated away, generation
 * of a live fd it still watches): let the update pass drop or refresh it.
 * A stale event of a deleted or reused fd is simply dropped. */
void tp__event_dropped(struct tp__thread *th, int fd, AO_t st, uint32_t gen)
{
    if (!th->fork_pending && (st & TP_ST_INUSE) && TP_GEN(st) == gen)
        tp__mark_self(th, fd);
}

/* Between two callbacks a thread is out of every callback and out of its
 * poll: a quiescent point, passed at once so that a waiting delete or
 * migration waits for the callback it named, not the rest of the batch. */
void tp__event_left(struct tp__thread *th)
{
    tp_store_relaxed(&th->head.owed, 0);
    tp__pass_quiescent(th);
}
