/* SPDX-License-Identifier: MIT */
/* tpoll_after_fork: the child keeps the calling thread, nothing else. */
#include <errno.h>

#include "binding.h"
#include "lifecycle.h"
#include "queue.h"

/*
 * In the child only the calling thread exists. Other threads' pollers are
 * released without a kernel call (an epoll set is shared with the parent,
 * and a DEL in the child would remove the parent's registrations); locks
 * that a vanished thread held are reset.
 */
int tpoll_after_fork(struct tpoll *tp)
{
    struct tp__thread *self;
    int i, fd, hwm;

    if (tp == NULL)
        return -EINVAL;
    self = tp__self(tp);
    for (i = 0; i < tp->nthreads; i++) {
        struct tp__thread *th = &tp->threads[i];

        tp_store(&th->inbox_lock, 0);
        if (!tp_load(&th->bound))
            continue;
        tp_and(&tp->started, ~th->bit);
        tp__inbox_set_dead(th, 1);
        /* Called from a callback: the dispatch still reads the poller's
         * event buffer; it is released when the dispatch ends. */
        if (th == self && self->in_dispatch)
            continue;
        tp->be->thread_forget(th);
        if (th != self) {
            tp__thread_free_queues(th);
            tp_store(&th->bound, 0);
        }
    }
    hwm = (int)tp_load(&tp->hwm);
    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &tp->fds[fd];

        tp_and(&e->state, ~(AO_t)TP_ST_LOCK);
        tp_store(&e->polled_recv, 0);
        tp_store(&e->polled_send, 0);
        tp_store(&e->update_mask, 0);
        tp_store(&e->running_mask, 0);
    }
    if (self == NULL)
        return 0;
    if (self->in_dispatch) {
        self->nlocal = self->nerrs = self->overflow = 0;
        self->fork_pending = 1;
        self->head.dbit = 0;
        return 0;
    }
    return tp__thread_renew(self);
}
