/* SPDX-License-Identifier: MIT */
/* From a backend's raw event to the user's callback, dropping what is
 * stale (an older generation) or foreign (a thread not in the mask). */
#include "internal.h"

/* Per OS thread, across instances: delete must not wait for other threads
 * from inside any callback (two callbacks deleting each other's fds). */
static _Thread_local int callback_depth;

int tp__in_callback(void)
{
    return callback_depth != 0;
}

/* HUP and ERR come with every wanted direction, so that the read or write
 * the callback attempts reports the condition, on every backend alike. */
static unsigned user_events(unsigned ev, unsigned interest)
{
    unsigned out = ev & interest;

    if (ev & (TP_EV_HUP | TP_EV_ERR)) {
        out |= interest & (ev & TP_EV_ERR ? TP_EV_BOTH : TP_EV_RECV);
        /* A hang-up seen in no wanted direction (send wanted on a pipe's
         * read end): pollers report it whatever was asked, so dropping it
         * would wake the thread for nothing at every poll. */
        if (!out)
            out = interest;
        if (out)
            out |= ev & (TP_EV_HUP | TP_EV_ERR);
    }
    return out;
}

/* Only this thread flips its own running bit and nothing needs the old
 * value: a plain locked or/and (a full barrier, as the handshake with
 * delete needs) instead of a compare-and-swap loop. */
static void set_running(struct tp__fd *e, tpoll_mask_t bit)
{
    AO_or_full(&e->running_mask, bit);
}

static void clear_running(struct tp__fd *e, tpoll_mask_t bit)
{
    AO_and_full(&e->running_mask, ~bit);
}

static void run_callback(struct tp__thread *th, int fd, unsigned events,
                         AO_t cb, AO_t owner)
{
    callback_depth++;
    ((tpoll_cb)cb)(th->tp, fd, events, (void *)owner);
    callback_depth--;
    th->dispatched++;
    tp_count(&th->ctr.callbacks, 1);
}

void tp__event(struct tp__thread *th, int fd, uint32_t gen, unsigned ev)
{
    struct tp__fd *e;
    AO_t st, cb, owner;
    unsigned events;

    if (TP_UNLIKELY(fd < 0 || fd >= th->tp->max_fds || th->fork_pending))
        return;
    e = &th->tp->fds[fd];
    st = tp_load(&e->state);
    if (TP_GEN(st) != gen || !(st & TP_ST_INUSE))
        return;
    /* Running bit first, then the checks (paired with delete, which clears
     * the mask and then reads running_mask). cb and owner are read between
     * two reads of the generation, so they belong to the generation seen. */
    set_running(e, th->bit);
    cb = tp_load(&e->cb);
    owner = tp_load(&e->owner);
    st = tp_load(&e->state);
    if (TP_GEN(st) != gen || !(st & TP_ST_INUSE) ||
        !(tp_load(&e->thread_mask) & th->bit)) {
        clear_running(e, th->bit);
        /* A registration we should not have: let the update pass drop it. */
        if ((st & TP_ST_INUSE) && TP_GEN(st) == gen)
            tp__mark_self(th, fd);
        return;
    }
    events = user_events(ev, (unsigned)(st & TP_EV_BOTH));
    if (events)
        run_callback(th, fd, events, cb, owner);
    clear_running(e, th->bit);
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
    tp_fetch_and(&e->polled_recv, ~th->bit);
    tp_fetch_and(&e->polled_send, ~th->bit);
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
