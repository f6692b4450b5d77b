/* SPDX-License-Identifier: MIT */
/* The per-event path's rare cases. */
#include "dispatch.h"
#include "event.h"
#include "hooks.h"
#include "core.h"
#include "queue.h"
#include "release.h"

/* A registration this thread should not have (migrated away, generation
 * of a live fd it still watches): let the update pass drop or refresh it.
 * A stale event of a deleted or reused fd is simply dropped. */
static void event_dropped(struct tp__thread *th, int fd, AO_t st, uint32_t gen)
{
    if (!th->fork_pending && (st & TP_ST_INUSE) && TP_GEN(st) == gen)
        tp__mark_self(th, fd);
    if (TP_UNLIKELY(tp_load(&th->head.owed)))
        tp__event_left(th, fd);
}

/*
 * Between two callbacks a thread is out of every callback and out of its
 * poll: a quiescent point, passed at once so that a waiting delete or
 * migration waits for the callback it named, not the rest of the batch.
 * If fd left this thread's mask while it ran, the threads it joined may
 * have stopped watching it meanwhile (tp__event_held): they re-evaluate
 * it now.
 */
void tp__event_left(struct tp__thread *th, int fd)
{
    tpoll_mask_t mask = tp_load(&th->head.fds[fd].thread_mask);

    tp_store_relaxed(&th->head.owed, 0);
    if (mask && !(mask & th->bit))
        tp__mark(th->grp, fd, mask);
    tp__pass_quiescent(th);
}

/*
 * An edge-triggered fd is told each readiness change once: a direction
 * that arrives while not wanted is remembered in the state word (for this
 * generation only) and told when wanted (pass.c). A half-close makes its
 * direction ready, an error both. What is told is decided on the state
 * that the remembering compare-and-swap saw, so a want racing with this
 * either sees the readiness remembered or is told it here.
 */
static unsigned edge_events(struct tp__fd *e, int fd, AO_t st, uint32_t gen,
                            unsigned ev)
{
    unsigned dirs = (ev & TP_EV_BOTH) | tp__cond_dirs(ev);

    (void)fd; /* for the test hook only */
    for (;;) {
        unsigned add = dirs & ~(unsigned)st &
                       ~(unsigned)(st >> TP_ST_RDY_SHIFT) & TP_EV_BOTH;
        AO_t seen;

        if (add == 0)
            break;
        TP_HOOK(TP_HOOK_EDGE_REMEMBER, fd);
        seen = tp_cas(&e->state, st, st | (AO_t)add << TP_ST_RDY_SHIFT);
        if (seen == st)
            break;
        st = seen;
        if (TP_GEN(st) != gen)
            return 0;
    }
    return tp__user_events(ev, (unsigned)(st & TP_EV_BOTH));
}

/*
 * Readiness this thread took from the state word (pass.c) but may no
 * longer tell: the fd left its mask between the pass and the dispatch.
 * The threads still in the mask may see no new edge, so it goes back into
 * the state word for them (this generation only), and they are queued if
 * it is wanted, as tpoll_fd_ready does.
 */
static void give_back(struct tp__group *g, struct tp__fd *e, int fd, AO_t st,
                      uint32_t gen, unsigned ev)
{
    AO_t add = (AO_t)(ev & TP_EV_BOTH) << TP_ST_RDY_SHIFT, seen;

    while (TP_GEN(st) == gen && (st | add) != st) {
        seen = tp_cas(&e->state, st, st | add);
        if (seen == st) {
            if (tp__ready_wanted(st | add) & ~tp__ready_wanted(st))
                tp__mark(g, fd, tp_load(&e->thread_mask));
            return;
        }
        st = seen;
    }
}

/* cb, owner, the state and the mask are read again, after the running
 * bit as in tp__event_as, so they still belong to the generation seen. */
int tp__event_other(struct tp__thread *th, int fd, uint32_t gen, unsigned ev)
{
    struct tp__fd *e = &th->head.fds[fd];
    tpoll_mask_t bit = th->head.dbit;
    AO_t cb = tp_load(&e->cb), owner = tp_load(&e->owner);
    AO_t st = tp_load(&e->state), mask = tp_load(&e->thread_mask);

    if ((gen & 1) || TP_GEN(st) != (gen | 1) || !(mask & bit)) {
        TP_HOOK(TP_HOOK_EVENT_DROPPING, fd);
        tp_and(&e->running_mask, ~bit);
        if (TP_UNLIKELY(ev & TP_EV_TAKEN) && !th->fork_pending)
            give_back(th->grp, e, fd, st, gen | 1, ev);
        event_dropped(th, fd, st, gen | 1);
        return 0;
    }
    if (tp__event_hold(th, e, fd, bit, mask))
        return 1;
    return tp__event_run(th, e, fd, bit, cb, owner,
                         edge_events(e, fd, st, gen | 1, ev));
}

/* Stop watching fd in this thread's poller for now; what it watches stays
 * counted right (a backend that refuses keeps it watched). */
static void unwatch(struct tp__thread *th, int fd)
{
    const struct tpoll_backend *be = th->head.tp->be;
    struct tp__fd *e = &th->head.fds[fd];
    AO_t st = tp__fd_lock(e);
    unsigned have = tp__polled_for(e, th->bit);

    if (have && (be->caps & TP_CAP_SCAN)) {
        tp__fd_set_polled(e, th->bit, have, 0);
        tp_store(&th->scan_dirty, 1);
    } else if (have && be->set(th, fd, TP_GEN(st), have, 0) == 0) {
        /* Counted first: a batch's refused removal restores it. */
        tp__fd_set_polled(e, th->bit, have, 0);
        if (be->flush != NULL)
            be->flush(th);
    }
    tp__fd_unlock(e);
}

/* The hint is set (a full barrier) before running_mask is read again; a
 * leaving thread clears its running bit (a full barrier) before it reads
 * its hint: either it re-marks the fd, or this sees it gone. */
int tp__others_inside(struct tp__thread *th, struct tp__fd *e)
{
    struct tp__thread *threads = th->grp->threads;
    tpoll_mask_t others = tp_load(&e->running_mask) & ~th->bit, m;

    for (m = others; m; m &= m - 1)
        tp_or(&threads[tp__ctz(m)].head.owed, 1);
    return (tp_load(&e->running_mask) & others) != 0;
}

/*
 * The thread the fd left still runs its callback. Waiting for it by
 * polling again would spin (a ready fd makes every poll return at once),
 * so this thread remembers the fd as held, stops watching it, and asks
 * each thread still inside to re-mark it when it leaves (the owed hint,
 * tp__event_left); the update pass watches a held fd again once no other
 * thread runs it (asking again the threads it then finds inside), and
 * this one queues the fd itself if they all left already.
 */
void tp__event_held(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->head.fds[fd];
    int i, inside;

    for (i = 0; i < th->nheld && th->held[i] != fd; i++)
        ;
    if (th->fork_pending || (i == th->nheld && i == TP_HELD_CAP))
        return;
    th->held[i] = fd;
    th->nheld += i == th->nheld;
    inside = tp__others_inside(th, e);
    unwatch(th, fd);
    if (!inside)
        tp__mark_self(th, fd);
    if (TP_UNLIKELY(tp_load(&th->head.owed)))
        tp__event_left(th, fd);
}
