/* SPDX-License-Identifier: MIT */
/* The fd API: insert, delete, migrate, interest. Each records the new state
 * in the shared table and queues the fd on the threads that must act. */
#include <errno.h>

#include "binding.h"
#include "hooks.h"
#include "lifecycle.h"
#include "queue.h"
#include "release.h"
#include "wake.h"

static int valid_mask(const struct tp__group *g, tpoll_mask_t m)
{
    return m != 0 && (m & ~g->all) == 0;
}

static struct tp__fd *fd_entry(const struct tpoll *tp, int fd, int *err)
{
    if (tp == NULL) {
        *err = -EINVAL;
        return NULL;
    }
    /* A valid number beyond the table has its own error, whose remedy
     * (a larger max_fds) differs from that of a negative fd. */
    if (fd < 0 || fd >= tp->max_fds) {
        *err = fd < 0 ? -EBADF : -EMFILE;
        return NULL;
    }
    return &tp->group[0].fds[fd];
}

/* The group other than 0 that fd's number is inserted in, or 0. Asked
 * only when group 0's entry is not in use: the common path never is. */
static int away_index(const struct tpoll *tp, int fd)
{
    return tp->away != NULL ? (int)tp_load(&tp->away[fd]) : 0;
}

static struct tp__group *away_group(struct tpoll *tp, int fd)
{
    int g = away_index(tp, fd);

    return g != 0 ? &tp->group[g] : NULL;
}

/*
 * Lock the entry fd's number lives in: group 0's entry, locked and
 * returned with its state in *st when it is in use or the number is in no
 * group; else that group's entry, locked too, with group 0's left locked
 * as well (*e0 tells it is: unlock it after, with unlock_entry), so that
 * the number cannot move meanwhile. Group 0's lock comes first, always.
 */
static struct tp__fd *lock_entry(struct tpoll *tp, int fd, struct tp__group **g,
                                 struct tp__fd **e0, AO_t *st)
{
    struct tp__fd *e = &tp->group[0].fds[fd];
    struct tp__group *away;

    *g = &tp->group[0];
    *e0 = NULL;
    *st = tp__fd_lock(e);
    if ((*st & TP_ST_INUSE) || (away = away_group(tp, fd)) == NULL)
        return e;
    *e0 = e;
    *g = away;
    e = &away->fds[fd];
    *st = tp__fd_lock(e);
    return e;
}

static void unlock_entry(struct tp__fd *e, struct tp__fd *e0)
{
    tp__fd_unlock(e);
    if (e0 != NULL)
        tp__fd_unlock(e0);
}

static void raise_hwm(struct tp__group *g, int fd)
{
    AO_t cur = tp_load(&g->hwm);

    while (cur < (AO_t)fd + 1) {
        AO_t seen = tp_cas(&g->hwm, cur, (AO_t)fd + 1);

        if (seen == cur)
            break;
        cur = seen;
    }
}

int tpoll_fd_insert(struct tpoll *tp, int fd, tpoll_cb cb, void *owner,
                    tpoll_mask_t thread_mask)
{
    return tpoll_fd_insert_flags(tp, fd, cb, owner, thread_mask, 0);
}

int tpoll_fd_insert_flags(struct tpoll *tp, int fd, tpoll_cb cb, void *owner,
                          tpoll_mask_t thread_mask, unsigned flags)
{
    return tpoll_fd_insert_group(tp, fd, cb, owner, 0, thread_mask, flags);
}

/* Fills the entry e, locked with state st, for a new user. */
static void insert_locked(const struct tpoll *tp, struct tp__fd *e, AO_t st,
                          tpoll_cb cb, void *owner, tpoll_mask_t thread_mask,
                          unsigned flags)
{
    tp_store(&e->cb, (AO_t)cb);
    tp_store(&e->owner, (AO_t)owner);
    tp_store(&e->thread_mask, thread_mask);
    /* New generation: events and updates of the previous user are stale. */
    st = ((st & ~TP_ST_PER_GEN) + TP_ST_GEN_ONE) | TP_ST_INUSE |
         (flags & TPOLL_FD_EXCLUSIVE ? TP_ST_EXCL : 0) |
         (tp->be->caps & TP_CAP_KERNEL_KIND ? TP_ST_CHECKED : 0) |
         (flags & TPOLL_FD_EDGE && tp->be->caps & TP_CAP_EDGE ? TP_ST_EDGE : 0);
    tp_store(&e->state, st | TP_ST_LOCK);
}

int tpoll_fd_insert_group(struct tpoll *tp, int fd, tpoll_cb cb, void *owner,
                          int group, tpoll_mask_t thread_mask, unsigned flags)
{
    struct tp__group *g;
    struct tp__fd *e0, *e;
    int err = 0;
    AO_t st, st0;

    e0 = fd_entry(tp, fd, &err);
    if (e0 == NULL)
        return err;
    if (group < 0 || group >= tp->ngroups)
        return -EINVAL;
    g = &tp->group[group];
    if (cb == NULL || !valid_mask(g, thread_mask) ||
        (flags & ~(TPOLL_FD_EXCLUSIVE | TPOLL_FD_EDGE)))
        return -EINVAL;
    if ((tp_load(&e0->state) & TP_ST_INUSE) || away_index(tp, fd) != 0)
        return -EEXIST;
    /* No system call here: the fd's kind is checked at its first
     * registration (pass.c). */
    if (tp->be->fd_check != NULL && (err = tp->be->fd_check(tp, fd)) != 0)
        return err;
    /* Published before the fd is: a thread starting now scans up to hwm. */
    raise_hwm(g, fd);
    /* Group 0's entry is the number's lock whatever the group. */
    st0 = tp__fd_lock(e0);
    if ((st0 & TP_ST_INUSE) || away_index(tp, fd) != 0) {
        tp__fd_unlock(e0);
        return -EEXIST;
    }
    if (group == 0) {
        insert_locked(tp, e0, st0, cb, owner, thread_mask, flags);
        st = tp_load(&e0->state);
    } else {
        e = &g->fds[fd];
        insert_locked(tp, e, tp__fd_lock(e), cb, owner, thread_mask, flags);
        st = tp_load(&e->state);
        tp_store(&tp->away[fd], (AO_t)group);
        tp__fd_unlock(e);
    }
    tp__fd_unlock(e0);
    /* Registered once, now, whatever the interest (edge-triggered). */
    if (st & TP_ST_EDGE)
        tp__mark(g, fd, thread_mask);
    return 0;
}

/* Without a lock: the group fd's number is inserted in and the state of
 * its entry there, read once, or -ENOENT; fd is in range. */
static int live_state(const struct tpoll *tp, int fd, AO_t *st)
{
    int g = 0;

    *st = tp_load(&tp->group[0].fds[fd].state);
    if (!(*st & TP_ST_INUSE) && (g = away_index(tp, fd)) != 0)
        *st = tp_load(&tp->group[g].fds[fd].state);
    return *st & TP_ST_INUSE ? g : -ENOENT;
}

int tpoll_fd_group(const struct tpoll *tp, int fd)
{
    int err = 0;
    AO_t st;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    return live_state(tp, fd, &st);
}

/* What the first phase of a delete leaves in use (delete_locked). */
struct in_use {
    struct tp__group *grp; /* the group the fd was in */
    tpoll_mask_t running; /* threads inside (or entering) fd's callback */
    tpoll_mask_t holders; /* threads whose poll() may hold the file */
    void *owner;
};

/*
 * A scan thread that polled fd: have its poll set rebuilt, and tell
 * whether it may be inside a blocking poll() that watches fd (its bit if
 * so). The flag is raised (a full barrier) before its wake word is read;
 * it publishes SLEEPING (a full barrier) before it reads the flag: either
 * its rebuild sees the flag, or this sees it sleeping. A thread that is
 * not sleeping holds no file now, and rebuilds before it polls again.
 */
static tpoll_mask_t raise_rebuild(struct tp__thread *th)
{
    tp_swap(&th->scan_dirty, 1);
    return tp_load(&th->wword) & TP_W_SLEEPING ? th->bit : 0;
}

/*
 * The first phase of a delete, under the fd's lock. The generation bump
 * makes every event a poller already fetched stale. Clearing the mask (a
 * full barrier) before reading running_mask pairs with tp__event setting
 * its running bit before reading the mask: a thread either sees the fd
 * gone or is seen running, and is then waited for.
 *
 * Pollers register open files: a registration left behind would outlive
 * the number if the file is shared (dup, fork), so it is removed now,
 * while the number still names the file. Scan backends register nothing,
 * but a thread inside poll() or select() holds the file: its polled bits
 * are cleared first and its rebuild flag raised after (a rebuild in
 * between then either misses the fd or finds the flag raised again), and
 * if it sleeps it is counted as a holder, to be woken and waited for.
 *
 * closing (tpoll_fd_close): the fd is closed once nothing uses it, and an
 * edge-triggered fd's registrations go with the close (epoll drops them
 * with the file, kqueue with the descriptor): none is removed now. Until
 * the close they may still report: stale keys, dropped; and edge
 * triggered, they cannot make a poller return at every call meanwhile.
 *
 * A backend whose kernel holds the file while it is registered, and whose
 * poller only its thread may change (TP_CAP_HOLDS), is asked to remove it
 * (the thread makes the removal before it polls again, or at its quiescent
 * point), and each such thread is a holder if it sleeps, as above.
 */
static int delete_locked(struct tpoll *tp, int fd, struct in_use *u,
                         int closing)
{
    struct tp__group *g;
    struct tp__fd *e, *e0;
    tpoll_mask_t polled;
    int err = -EINVAL; /* fd_entry sets it whenever it fails */
    AO_t st;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    e = lock_entry(tp, fd, &g, &e0, &st);
    if (!(st & TP_ST_INUSE)) {
        unlock_entry(e, e0);
        return -ENOENT;
    }
    closing = closing && (st & TP_ST_EDGE);
    st = (st & ~(TP_ST_PER_GEN | TP_ST_INUSE)) + TP_ST_GEN_ONE;
    tp_store(&e->state, st | TP_ST_LOCK);
    tp_swap(&e->thread_mask, 0);
    polled = tp_load(&e->polled_recv) | tp_load(&e->polled_send);
    u->holders = 0;
    if (tp->be->caps & TP_CAP_SCAN) {
        tp_store(&e->polled_recv, 0);
        tp_store(&e->polled_send, 0);
        for (; polled; polled &= polled - 1)
            u->holders |= raise_rebuild(&g->threads[tp__ctz(polled)]);
    } else if (!closing) {
        for (; polled; polled &= polled - 1) {
            struct tp__thread *th = &g->threads[tp__ctz(polled)];

            tp->be->remove(th, fd, tp__polled_for(e, th->bit));
            if (tp->be->caps & TP_CAP_HOLDS)
                u->holders |= th->bit;
        }
    }
    if (!(tp->be->caps & TP_CAP_SCAN)) {
        tp_store(&e->polled_recv, 0);
        tp_store(&e->polled_send, 0);
    }
    TP_HOOK(TP_HOOK_DELETE_UNREGISTERED, fd);
    u->running = tp_load(&e->running_mask);
    u->owner = (void *)tp_load(&e->owner);
    tp_store(&e->cb, 0);
    tp_store(&e->owner, 0);
    u->grp = g;
    /* The number is free in every group once the locks go. */
    if (e0 != NULL)
        tp_store(&tp->away[fd], 0);
    TP_HOOK(TP_HOOK_DELETE_DONE, fd);
    unlock_entry(e, e0);
    return 0;
}

/* Threads of `mask` (of g) other than the calling thread when it is
 * inside a callback: the caller knows its own callback is still running. */
static tpoll_mask_t others(const struct tp__group *g, tpoll_mask_t mask)
{
    const struct tp__thread *self = tp__self(g->tp);

    if (self != NULL && self->in_dispatch && self->grp == g)
        mask &= ~self->bit;
    return mask;
}

/* A holder that is the calling thread would wait for itself: it makes
 * its removals at once instead (its own poller it may change). */
static tpoll_mask_t settle_self(struct tp__group *g, tpoll_mask_t holders)
{
    struct tpoll *tp = g->tp;
    struct tp__thread *self = tp__self(tp);

    if (self == NULL || self->grp != g || !(holders & self->bit) ||
        self->fork_pending || tp->be->settle == NULL)
        return holders;
    tp->be->settle(self);
    return holders & ~self->bit;
}

/* Wake the threads that may hold fd in a poll() (they drop it before they
 * poll again), with nobody waiting for them to. */
static void wake_holders(struct tp__group *g, tpoll_mask_t holders)
{
    for (; holders; holders &= holders - 1) {
        struct tp__thread *th = &g->threads[tp__ctz(holders)];

        tp__inbox_lock(th);
        if (!th->inbox_dead)
            tp__notify_locked(th, 0);
        tp__inbox_unlock(th);
    }
}

int tpoll_fd_delete(struct tpoll *tp, int fd)
{
    struct in_use u = {0};
    int err = delete_locked(tp, fd, &u, 0);

    if (err)
        return err;
    wake_holders(u.grp, settle_self(u.grp, u.holders));
    return others(u.grp, u.running) != 0;
}

/* A release run inside this call (nothing was in use) forked and called
 * tpoll_after_fork: no dispatch ends here to give the child its fresh
 * poller, so it is made now (an error leaves the thread unbound, as after
 * a failed tpoll_after_fork). */
static void finish_fork_here(struct tpoll *tp)
{
    struct tp__thread *self = tp__self(tp);

    if (self != NULL && self->fork_pending && !self->in_dispatch)
        tp__thread_finish_fork(self);
}

/* Deletes fd and hands what remains to a release record: the release
 * callback, and for tpoll_fd_close the close, run once nothing uses it.
 * The caller checked fd's range, so that a bad one allocates nothing. */
static int delete_released(struct tpoll *tp, int fd, tpoll_release_cb release,
                           int closing)
{
    struct tp__rel *r;
    struct in_use u = {0};
    int err;

    r = tp__rel_new();
    if (r == NULL)
        return -ENOMEM;
    err = delete_locked(tp, fd, &u, closing);
    if (err) {
        tp__rel_free(r);
        return err;
    }
    r->fd = fd;
    r->grp = u.grp;
    r->owner = u.owner;
    r->release = release;
    r->close_fd = closing;
    r->running = u.running;
    r->holders = settle_self(u.grp, u.holders);
    tp__rel_submit(tp, r);
    finish_fork_here(tp);
    return 0;
}

int tpoll_fd_delete_async(struct tpoll *tp, int fd, tpoll_release_cb release)
{
    int err = 0;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    if (release == NULL)
        return -EINVAL;
    return delete_released(tp, fd, release, 0);
}

int tpoll_fd_close(struct tpoll *tp, int fd, tpoll_release_cb release)
{
    int err = 0;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    return delete_released(tp, fd, release, 1);
}

int tpoll_fd_delete_wait(struct tpoll *tp, int fd)
{
    struct in_use u = {0};
    int err;

    if (tp != NULL && tp__in_callback())
        return -EDEADLK;
    err = delete_locked(tp, fd, &u, 0);
    if (err)
        return err;
    u.holders = settle_self(u.grp, u.holders);
    if (u.running | u.holders)
        tp__rel_wait(u.grp, fd, u.running, u.holders);
    return 0;
}

int tpoll_fd_set_threads(struct tpoll *tp, int fd, tpoll_mask_t thread_mask)
{
    struct tp__group *g;
    struct tp__fd *e, *e0;
    tpoll_mask_t old, leaving;
    int err = 0;
    AO_t st;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    /* Checked against group 0 first, so that a bad mask is refused
     * without a lock in the common case, and against the fd's group once
     * it is known. */
    if (thread_mask == 0 ||
        (tp->ngroups == 1 && !valid_mask(&tp->group[0], thread_mask)))
        return -EINVAL;
    e = lock_entry(tp, fd, &g, &e0, &st);
    if (!(st & TP_ST_INUSE) || !valid_mask(g, thread_mask)) {
        unlock_entry(e, e0);
        return st & TP_ST_INUSE ? -EINVAL : -ENOENT;
    }
    /* The swap is a full barrier before running_mask is read: delete's
     * handshake, for the threads that leave. */
    old = tp_swap(&e->thread_mask, thread_mask);
    leaving = others(g, tp_load(&e->running_mask) & old & ~thread_mask);
    /* Leavers unregister, joiners register, at their next update pass. */
    if (old != thread_mask)
        tp__mark(g, fd,
                 old | thread_mask | tp_load(&e->polled_recv) |
                     tp_load(&e->polled_send));
    unlock_entry(e, e0);
    if (!leaving)
        return 0;
    if (tp__in_callback())
        return 1;
    TP_HOOK(TP_HOOK_MIGRATE_WAIT, fd);
    tp__rel_wait(g, fd, leaving, 0);
    return 0;
}

/* Threads to queue fd on after its state went from st to nst by an
 * interest change or a readiness report. A level-triggered fd's threads
 * re-register; an edge-triggered one's registration does not change: one
 * of its threads only has to tell the callback of readiness now wanted,
 * and a thread that could not register it (the kernel refused: a
 * registration error is told with the wanted directions) tries again. */
static TP_INLINE tpoll_mask_t concerned(const struct tp__group *g,
                                        const struct tp__fd *e, AO_t st,
                                        AO_t nst)
{
    tpoll_mask_t mask = tp_load(&e->thread_mask);

    if (nst & TP_ST_EDGE) {
        mask &= tp_load(&g->started);
        return (tp__ready_wanted(nst) & ~tp__ready_wanted(st)) ||
                       (tp_load(&e->polled_recv) & mask) != mask
                   ? mask
                   : 0;
    }
    return mask | tp_load(&e->polled_recv) | tp_load(&e->polled_send);
}

/* Sets the state bits to (bits & keep) | add, if the fd is in use and has
 * the bits `need` too (0 and nothing changes if not), and none of `refuse`
 * (-ENOTSUP and nothing changes if it has). */
static TP_INLINE int change_entry(struct tp__group *g, struct tp__fd *e, int fd,
                                  AO_t st, AO_t keep, AO_t add, AO_t need,
                                  AO_t refuse)
{
    AO_t seen, nst;
    tpoll_mask_t who;

    need |= TP_ST_INUSE;
    for (;;) {
        if ((st & need) != need)
            return st & TP_ST_INUSE ? 0 : -ENOENT;
        if (TP_UNLIKELY(st & refuse))
            return -ENOTSUP;
        nst = (st & keep) | add;
        if (nst == st)
            return 0;
        seen = tp_cas(&e->state, st, nst);
        if (seen == st)
            break;
        st = seen;
    }
    who = concerned(g, e, st, nst);
    /* Already queued on every concerned thread (a stop then a want before
     * the next pass): a pass clears its bit before reading the state, so it
     * sees this change too. */
    if ((tp_load(&e->update_mask) & who) == who)
        return 0;
    tp__mark(g, fd, who);
    return 0;
}

/* Group 0's entry is not in use: the number may be in another group's
 * table. Out of line, so that group 0's path has no call before its
 * compare-and-swap. */
static TP_NOINLINE int change_away(struct tpoll *tp, int fd, AO_t keep,
                                   AO_t add, AO_t need, AO_t refuse)
{
    struct tp__group *g = away_group(tp, fd);

    if (g == NULL)
        return -ENOENT;
    return change_entry(g, &g->fds[fd], fd, tp_load_relaxed(&g->fds[fd].state),
                        keep, add, need, refuse);
}

static TP_INLINE int change_state(struct tpoll *tp, int fd, AO_t keep, AO_t add,
                                  AO_t need, AO_t refuse)
{
    struct tp__fd *e;
    int err = 0;
    AO_t st;

    e = fd_entry(tp, fd, &err);
    if (e == NULL)
        return err;
    st = tp_load_relaxed(&e->state);
    if (TP_UNLIKELY(!(st & TP_ST_INUSE)))
        return change_away(tp, fd, keep, add, need, refuse);
    return change_entry(&tp->group[0], e, fd, st, keep, add, need, refuse);
}

int tpoll_want_recv(struct tpoll *tp, int fd)
{
    return change_state(tp, fd, ~(AO_t)0, TP_EV_RECV, 0, 0);
}

int tpoll_stop_recv(struct tpoll *tp, int fd)
{
    return change_state(tp, fd, ~(AO_t)TP_EV_RECV, 0, 0, 0);
}

int tpoll_want_send(struct tpoll *tp, int fd)
{
    return change_state(tp, fd, ~(AO_t)0, TP_EV_SEND, 0, 0);
}

int tpoll_stop_send(struct tpoll *tp, int fd)
{
    return change_state(tp, fd, ~(AO_t)TP_EV_SEND, 0, 0, 0);
}

/* The read side's close is watched apart from its data only by a backend
 * that can (TP_CAP_CLOSE), and neither for an edge-triggered fd (a close
 * that came before the want would have to be remembered apart from the
 * readiness its state word keeps) nor for an exclusive one (epoll refuses
 * EPOLLRDHUP with EPOLLEXCLUSIVE). */
static int change_close(struct tpoll *tp, int fd, AO_t keep, AO_t add)
{
    AO_t refuse = TP_ST_EDGE;
    int err = 0;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    if (!(tp->be->caps & TP_CAP_CLOSE))
        return tpoll_fd_group(tp, fd) >= 0 ? -ENOTSUP : -ENOENT;
    if (tp->be->caps & TP_CAP_EXCLUSIVE)
        refuse |= TP_ST_EXCL;
    return change_state(tp, fd, keep, add, 0, refuse);
}

int tpoll_want_close(struct tpoll *tp, int fd)
{
    return change_close(tp, fd, ~(AO_t)0, TP_ST_CLOSE);
}

int tpoll_stop_close(struct tpoll *tp, int fd)
{
    return change_close(tp, fd, ~(AO_t)TP_ST_CLOSE, 0);
}

int tpoll_fd_ready(struct tpoll *tp, int fd, unsigned events)
{
    int err = 0;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    if (events == 0 || (events & ~(unsigned)TP_EV_BOTH))
        return -EINVAL;
    /* Readiness is kept for edge-triggered fds only. */
    return change_state(tp, fd, ~(AO_t)0, (AO_t)events << TP_ST_RDY_SHIFT,
                        TP_ST_EDGE, 0);
}

int tpoll_fd_interest(const struct tpoll *tp, int fd)
{
    AO_t st;
    int err = 0;

    if (fd_entry(tp, fd, &err) == NULL)
        return err;
    if (live_state(tp, fd, &st) < 0)
        return -ENOENT;
    return (int)((st & TP_EV_BOTH) | (st & TP_ST_CLOSE ? TPOLL_RDHUP : 0));
}
