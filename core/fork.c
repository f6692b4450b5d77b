/* SPDX-License-Identifier: MIT */
/* tpoll_after_fork: the child keeps the calling thread, nothing else. */
#include <errno.h>

#include "binding.h"
#include "lifecycle.h"
#include "release.h"
#include "svc.h"

/*
 * A thread id whose thread vanished with the fork. Its poller and queues
 * are released without a kernel call that would change state shared with
 * the parent (an epoll set is shared, and a DEL in the child would remove
 * the parent's registrations), and only if it was LIVE: one caught inside
 * tpoll_thread_start or tpoll_thread_stop has half-built or half-freed
 * state that nothing can be trusted of, so it is left as it is (a leak in
 * the child, never a crash, a double free or a close of a number that is
 * not ours).
 */
static void forget_thread(struct tpoll *tp, struct tp__thread *th)
{
    if (tp_load(&th->life) == TP_LIFE_LIVE) {
        tp->be->thread_forget(th);
        tp__thread_free_queues(th);
    } else {
        th->local = th->inbox = NULL;
        th->late = NULL;
        th->closeonly = NULL;
        th->nlocal = th->nlate = th->overflow = 0;
    }
    tp_store(&th->life, TP_LIFE_FREE);
}

/* Locks that a vanished thread held are reset, and every record of what
 * the parent's pollers held is dropped: the child's poller starts empty. */
static void reset_table(struct tp__group *g)
{
    int fd, hwm = (int)tp_load(&g->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &g->fds[fd];

        tp_and(&e->state, ~(AO_t)TP_ST_LOCK);
        tp_store(&e->polled_recv, 0);
        tp_store(&e->polled_send, 0);
        tp_store(&e->update_mask, 0);
        tp_store(&e->running_mask, 0);
    }
}

/*
 * Group 0's entry of a number is its lock in every group, and tp->away
 * says which other group the number is in: a vanished thread may have
 * held that lock for a number above group 0's highest, or stopped between
 * the two writes of an insert or a delete in another group. The child
 * trusts the entries: the number is in the group whose entry is in use
 * (an insert that had published its entry is done, a delete that had
 * cleared it is done).
 */
static void reset_numbers(struct tpoll *tp)
{
    int g, fd, top = 0;

    for (g = 0; g < tp->ngroups; g++) {
        int hwm = (int)tp_load(&tp->group[g].hwm);

        top = hwm > top ? hwm : top;
    }
    for (fd = (int)tp_load(&tp->group[0].hwm); fd < top; fd++)
        tp_and(&tp->group[0].fds[fd].state, ~(AO_t)TP_ST_LOCK);
    if (tp->away == NULL)
        return;
    for (fd = 0; fd < top; fd++)
        tp_store(&tp->away[fd], 0);
    for (g = 1; g < tp->ngroups; g++) {
        struct tp__group *grp = &tp->group[g];
        int hwm = (int)tp_load(&grp->hwm);

        for (fd = 0; fd < hwm; fd++)
            if (tp_load(&grp->fds[fd].state) & TP_ST_INUSE)
                tp_store(&tp->away[fd], (AO_t)g);
    }
}

int tpoll_after_fork(struct tpoll *tp)
{
    struct tp__thread *self;
    int i;

    if (tp == NULL)
        return -EINVAL;
    self = tp__self(tp);
    tp__svc_fork(tp, self);
    for (i = 0; i < tp->ngroups; i++)
        tp_store(&tp->group[i].started, 0);
    for (i = 0; i < tp->nthreads; i++) {
        struct tp__thread *th = &tp->threads[i];

        tp_store(&th->inbox_lock, 0);
        th->inbox_dead = 1;
        th->inbox_overflow = 0;
        tp_store(&th->ninbox, 0);
        if (th != self && tp_load(&th->life) != TP_LIFE_FREE)
            forget_thread(tp, th);
    }
    for (i = 0; i < tp->ngroups; i++)
        reset_table(&tp->group[i]);
    reset_numbers(tp);
    tp__rel_forget_all(tp);
    if (self == NULL)
        return 0;
    /* Called from a callback: the dispatch still reads the poller's event
     * buffer; the poller is renewed when the dispatch ends. */
    if (self->in_dispatch) {
        self->nlocal = self->nlate = self->overflow = 0;
        self->fork_pending = 1;
        self->head.dbit = 0;
        return 0;
    }
    tp->be->thread_forget(self);
    return tp__thread_renew(self);
}
