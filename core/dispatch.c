/* SPDX-License-Identifier: MIT */
/* From a backend's raw event to the user's callback, dropping what is
 * stale (an older generation) or foreign (a thread not in the mask). */
#include "event.h"

/* A registration this thread should not have (migrated away, generation
 * of a live fd it still watches): let the update pass drop or refresh it.
 * A stale event of a deleted or reused fd is simply dropped. */
void tp__event_dropped(struct tp__thread *th, int fd, AO_t st, uint32_t gen)
{
    if (!th->fork_pending && (st & TP_ST_INUSE) && TP_GEN(st) == gen)
        tp__mark_self(th, fd);
}

void tp__woken(struct tp__thread *th)
{
    tp_count(&th->ctr.wakeups, 1);
}

void tp__oneshot_fired(struct tp__thread *th, int fd)
{
    struct tp__fd *e;

    /* After a fork in this dispatch the association was the parent's: the
     * child's fresh poller registers the fd anew. */
    if (fd < 0 || fd >= th->tp->max_fds || th->fork_pending)
        return;
    e = &th->tp->fds[fd];
    tp__fd_lock(e);
    tp_and(&e->polled_recv, ~th->bit);
    tp_and(&e->polled_send, ~th->bit);
    tp__fd_unlock(e);
    tp__mark_self(th, fd);
}

/* Registration failures become an error event on the fd's callback, once,
 * and are not retried until the interest changes again. */
void tp__dispatch_errors(struct tp__thread *th)
{
    int i, n = th->nerrs;

    th->nerrs = 0;
    for (i = 0; i < n; i++) {
        int fd = th->errs[i];
        AO_t st = tp_load(&th->tp->fds[fd].state);

        tp__event(th, fd, TP_GEN(st), TP_EV_ERR);
    }
}
