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

static int valid_mask(const struct tpoll *tp, tpoll_mask_t m)
{
    tpoll_mask_t all = tp->nthreads == TPOLL_MAX_THREADS
                           ? ~(tpoll_mask_t)0
                           : TPOLL_THREAD(tp->nthreads) - 1;

    return m != 0 && (m & ~all) == 0;
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
    return &tp->fds[fd];
}

static void raise_hwm(struct tpoll *tp, int fd)
{
    AO_t cur = tp_load(&tp->hwm);

    while (cur < (AO_t)fd + 1) {
        AO_t seen = tp_cas(&tp->hwm, cur, (AO_t)fd + 1);

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
    struct tp__fd *e;
    int err = 0;
    AO_t st;

    e = fd_entry(tp, fd, &err);
    if (e == NULL)
        return err;
    if (cb == NULL || !valid_mask(tp, thread_mask) ||
        (flags & ~(TPOLL_FD_EXCLUSIVE | TPOLL_FD_EDGE)))
        return -EINVAL;
    if (tp_load(&e->state) & TP_ST_INUSE)
        return -EEXIST;
    /* No system call here: the fd's kind is checked at its first
     * registration (pass.c). */
    if (tp->be->fd_check != NULL && (err = tp->be->fd_check(tp, fd)) != 0)
        return err;
    /* Published before the fd is: a thread starting now scans up to hwm. */
    raise_hwm(tp, fd);
    st = tp__fd_lock(e);
    if (st & TP_ST_INUSE) {
        tp__fd_unlock(e);
        return -EEXIST;
    }
    tp_store(&e->cb, (AO_t)cb);
    tp_store(&e->owner, (AO_t)owner);
    tp_store(&e->thread_mask, thread_mask);
    /* New generation: events and updates of the previous user are stale. */
    st = ((st & ~TP_ST_PER_GEN) + TP_ST_GEN_ONE) | TP_ST_INUSE |
         (flags & TPOLL_FD_EXCLUSIVE ? TP_ST_EXCL : 0) |
         (tp->be->caps & TP_CAP_KERNEL_KIND ? TP_ST_CHECKED : 0) |
         (flags & TPOLL_FD_EDGE && tp->be->caps & TP_CAP_EDGE ? TP_ST_EDGE
                                                              : 0);
    tp_store(&e->state, st | TP_ST_LOCK);
    tp__fd_unlock(e);
    /* Registered once, now, whatever the interest (edge-triggered). */
    if (st & TP_ST_EDGE)
        tp__mark(tp, fd, thread_mask);
    return 0;
}

/* What the first phase of a delete leaves in use (delete_locked). */
struct in_use {
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
    struct tp__fd *e;
    tpoll_mask_t polled;
    int err = 0;
    AO_t st;

    e = fd_entry(tp, fd, &err);
    if (e == NULL)
        return err;
    st = tp__fd_lock(e);
    if (!(st & TP_ST_INUSE)) {
        tp__fd_unlock(e);
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
            u->holders |= raise_rebuild(&tp->threads[tp__ctz(polled)]);
    } else if (!closing) {
        for (; polled; polled &= polled - 1) {
            struct tp__thread *th = &tp->threads[tp__ctz(polled)];

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
    TP_HOOK(TP_HOOK_DELETE_DONE, fd);
    tp__fd_unlock(e);
    return 0;
}

/* Threads of `mask` other than the calling thread when it is inside a
 * callback: the caller knows its own callback is still running. */
static tpoll_mask_t others(const struct tpoll *tp, tpoll_mask_t mask)
{
    const struct tp__thread *self = tp__self(tp);

    if (self != NULL && self->in_dispatch)
        mask &= ~self->bit;
    return mask;
}

/* A holder that is the calling thread would wait for itself: it makes
 * its removals at once instead (its own poller it may change). */
static tpoll_mask_t settle_self(struct tpoll *tp, tpoll_mask_t holders)
{
    struct tp__thread *self = tp__self(tp);

    if (self == NULL || !(holders & self->bit) || self->fork_pending ||
        tp->be->settle == NULL)
        return holders;
    tp->be->settle(self);
    return holders & ~self->bit;
}

/* Wake the threads that may hold fd in a poll() (they drop it before they
 * poll again), with nobody waiting for them to. */
static void wake_holders(struct tpoll *tp, tpoll_mask_t holders)
{
    for (; holders; holders &= holders - 1) {
        struct tp__thread *th = &tp->threads[tp__ctz(holders)];

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
    wake_holders(tp, settle_self(tp, u.holders));
    return others(tp, u.running) != 0;
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
    r->owner = u.owner;
    r->release = release;
    r->close_fd = closing;
    r->running = u.running;
    r->holders = settle_self(tp, u.holders);
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
    u.holders = settle_self(tp, u.holders);
    if (u.running | u.holders)
        tp__rel_wait(tp, fd, u.running, u.holders);
    return 0;
}

int tpoll_fd_set_threads(struct tpoll *tp, int fd, tpoll_mask_t thread_mask)
{
    struct tp__fd *e;
    tpoll_mask_t old, leaving;
    int err = 0;
    AO_t st;

    e = fd_entry(tp, fd, &err);
    if (e == NULL)
        return err;
    if (!valid_mask(tp, thread_mask))
        return -EINVAL;
    st = tp__fd_lock(e);
    if (!(st & TP_ST_INUSE)) {
        tp__fd_unlock(e);
        return -ENOENT;
    }
    /* The swap is a full barrier before running_mask is read: delete's
     * handshake, for the threads that leave. */
    old = tp_swap(&e->thread_mask, thread_mask);
    leaving = others(tp, tp_load(&e->running_mask) & old & ~thread_mask);
    /* Leavers unregister, joiners register, at their next update pass. */
    if (old != thread_mask)
        tp__mark(tp, fd,
                 old | thread_mask | tp_load(&e->polled_recv) |
                     tp_load(&e->polled_send));
    tp__fd_unlock(e);
    if (!leaving)
        return 0;
    if (tp__in_callback())
        return 1;
    TP_HOOK(TP_HOOK_MIGRATE_WAIT, fd);
    tp__rel_wait(tp, fd, leaving, 0);
    return 0;
}

/* Threads to queue fd on after its state went from st to nst by an
 * interest change or a readiness report. A level-triggered fd's threads
 * re-register; an edge-triggered one's registration does not change: one
 * of its threads only has to tell the callback of readiness now wanted,
 * and a thread that could not register it (the kernel refused: a
 * registration error is told with the wanted directions) tries again. */
static TP_INLINE tpoll_mask_t concerned(const struct tpoll *tp,
                                        const struct tp__fd *e, AO_t st,
                                        AO_t nst)
{
    tpoll_mask_t mask = tp_load(&e->thread_mask);

    if (nst & TP_ST_EDGE) {
        mask &= tp_load(&tp->started);
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
static TP_INLINE int change_state(struct tpoll *tp, int fd, AO_t keep, AO_t add,
                                  AO_t need, AO_t refuse)
{
    struct tp__fd *e;
    AO_t st, seen, nst;
    tpoll_mask_t who;
    int err = 0;

    e = fd_entry(tp, fd, &err);
    if (e == NULL)
        return err;
    need |= TP_ST_INUSE;
    st = tp_load_relaxed(&e->state);
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
    who = concerned(tp, e, st, nst);
    /* Already queued on every concerned thread (a stop then a want before
     * the next pass): a pass clears its bit before reading the state, so it
     * sees this change too. */
    if ((tp_load(&e->update_mask) & who) == who)
        return 0;
    tp__mark(tp, fd, who);
    return 0;
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
        return tp_load(&tp->fds[fd].state) & TP_ST_INUSE ? -ENOTSUP : -ENOENT;
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
    st = tp_load(&tp->fds[fd].state);
    if (!(st & TP_ST_INUSE))
        return -ENOENT;
    return (int)((st & TP_EV_BOTH) | (st & TP_ST_CLOSE ? TPOLL_RDHUP : 0));
}
