/* SPDX-License-Identifier: MIT */
/* Thread lifecycle: queues, poller, the per-thread init hook, teardown. */
#include <errno.h>

#include "binding.h"
#include "hooks.h"
#include "lifecycle.h"
#include "queue.h"
#include "release.h"
#include "svc.h"
#include "wake.h"

static int alloc_queues(struct tp__thread *th)
{
    int max_fds = th->head.max_fds;

    th->qcap = max_fds < TP_QUEUE_CAP ? max_fds : TP_QUEUE_CAP;
    th->overflow = 0;
    th->local = tp__calloc((size_t)th->qcap, sizeof(int));
    th->inbox = tp__calloc((size_t)th->qcap, sizeof(int));
    th->late = tp__calloc(TP_LATE_CAP, sizeof(*th->late));
    if (th->local && th->inbox && th->late && tp__svc_prepare(th) == 0)
        return 0;
    tp__thread_free_queues(th);
    return -ENOMEM;
}

void tp__thread_free_queues(struct tp__thread *th)
{
    tp__free(th->local);
    tp__free(th->inbox);
    tp__free(th->late);
    tp__free(th->closeonly);
    th->local = th->inbox = NULL;
    th->late = NULL;
    th->closeonly = NULL;
    th->nlocal = th->nlate = th->overflow = 0;
}

/* The per-thread init hook: queue every live fd this thread may poll.
 * Bounded by the highest fd ever inserted in its group, not by the table
 * size; the fds of other groups are in other tables. */
static void mark_all_for(struct tp__thread *th)
{
    int fd, hwm = (int)tp_load(&th->grp->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &th->head.fds[fd];

        if ((tp_load(&e->state) & TP_ST_INUSE) &&
            (tp_load(&e->thread_mask) & th->bit))
            tp__mark_self(th, fd);
    }
}

/* Forget this thread's registrations in the table. Each polled bit is
 * cleared under the fd lock, so a concurrent delete either saw it (and
 * already removed the fd from our still-open poller) or never will. The
 * loads that skip the lock are acquires: a bit a delete cleared was
 * cleared after it used our poller, and that use must be ordered before
 * the poller is closed and freed below us. */
static void clear_thread_bits(struct tp__thread *th)
{
    int fd, hwm = (int)tp_load(&th->grp->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &th->head.fds[fd];

        if (!((tp_load(&e->polled_recv) | tp_load(&e->polled_send) |
               tp_load(&e->update_mask)) &
              th->bit))
            continue;
        tp__fd_lock(e);
        tp_and(&e->polled_recv, ~th->bit);
        tp_and(&e->polled_send, ~th->bit);
        tp_and(&e->update_mask, ~th->bit);
        tp__fd_unlock(e);
    }
}

/* th has a fresh poller: open its inbox, count it as started, and run the
 * per-thread init hook. */
static void go_live(struct tp__thread *th)
{
    tp_store(&th->wword, 0);
    tp_store(&th->head.owed, 0);
    th->nheld = th->late_held = 0;
    tp_store(&th->scan_dirty, 1);
    /* After fork the id may come from a thread that vanished inside its
     * dispatch: nothing of that dispatch belongs to the new binding. */
    th->in_dispatch = 0;
    th->head.dbit = th->bit;
    tp__inbox_set_dead(th, 0);
    tp_or(&th->grp->started, th->bit);
    mark_all_for(th);
    tp__svc_live(th);
}

int tp__thread_open(struct tp__thread *th)
{
    int err;

    err = alloc_queues(th);
    if (err)
        return err;
    err = th->head.tp->be->thread_init(th);
    if (err) {
        tp__thread_free_queues(th);
        return err;
    }
    TP_HOOK(TP_HOOK_START_BUILT, th->tid);
    go_live(th);
    return 0;
}

void tp__thread_close(struct tp__thread *th)
{
    struct tpoll *tp = th->head.tp;

    tp__svc_close(th);
    tp_and(&th->grp->started, ~th->bit);
    tp__inbox_set_dead(th, 1);
    /* Its last quiescent point: records handed over before the inbox
     * closed name it, later ones count it out. */
    tp_and(&th->wword, ~(AO_t)TP_W_OWED);
    tp__quiesce(th);
    clear_thread_bits(th);
    /* A release just run forked, and this is the child: the poller is
     * the parent's (a kqueue number may name another file here). */
    if (th->fork_pending) {
        th->fork_pending = 0;
        tp->be->thread_forget(th);
    } else {
        tp->be->thread_term(th);
    }
    tp__thread_free_queues(th);
}

int tp__thread_renew(struct tp__thread *th)
{
    int err;

    th->nlocal = th->nlate = th->overflow = 0;
    err = th->head.tp->be->thread_init(th);
    if (err) {
        tp__thread_free_queues(th);
        tp__unbind(th);
        tp_store(&th->life, TP_LIFE_FREE);
        return err;
    }
    go_live(th);
    return 0;
}

int tp__thread_finish_fork(struct tp__thread *th)
{
    th->fork_pending = 0;
    th->head.tp->be->thread_forget(th);
    return tp__thread_renew(th);
}
