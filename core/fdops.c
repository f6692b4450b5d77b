/* SPDX-License-Identifier: MIT */
/* The fd API: insert, delete, migrate, interest. Each records the new state
 * in the shared table and queues the fd on the threads that must act. */
#include <errno.h>
#include <sys/stat.h>

#include "binding.h"
#include "hooks.h"
#include "queue.h"

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
    if (fd < 0 || fd >= tp->max_fds) {
        *err = -EBADF;
        return NULL;
    }
    return &tp->fds[fd];
}

/* epoll and event ports refuse regular files and directories, and for
 * poll/select they are always ready: refuse them everywhere alike. */
static int check_pollable(int fd)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0)
        return -EBADF;
    if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
        return -EPERM;
    return 0;
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
        (flags & ~TPOLL_FD_EXCLUSIVE))
        return -EINVAL;
    if (tp_load(&e->state) & TP_ST_INUSE)
        return -EEXIST;
    err = check_pollable(fd);
    if (err == 0 && tp->be->fd_check != NULL)
        err = tp->be->fd_check(tp, fd);
    if (err)
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
    st = ((st & ~(AO_t)(TP_EV_BOTH | TP_ST_EXCL)) + TP_ST_GEN_ONE) |
         TP_ST_INUSE | (flags & TPOLL_FD_EXCLUSIVE ? TP_ST_EXCL : 0);
    tp_store(&e->state, st | TP_ST_LOCK);
    tp__fd_unlock(e);
    return 0;
}

static int wait_callbacks_elsewhere(struct tpoll *tp, struct tp__fd *e)
{
    struct tp__thread *self = tp__self(tp);
    tpoll_mask_t mine = self ? self->bit : 0;
    unsigned spins = 0;

    if (!(tp_load(&e->running_mask) & ~mine))
        return 0;
    if (tp__in_callback())
        return 1;
    while (tp_load(&e->running_mask) & ~mine)
        tp__spin_pause(&spins);
    return 0;
}

int tpoll_fd_delete(struct tpoll *tp, int fd)
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
    /* Bumping the generation under the lock makes every event already
     * fetched by a poller stale; clearing the mask (a full barrier) before
     * reading running_mask pairs with tp__event setting its running bit
     * before reading the mask: a thread either sees the fd gone or is seen
     * running. */
    st = (st & ~(AO_t)(TP_EV_BOTH | TP_ST_INUSE | TP_ST_EXCL)) +
         TP_ST_GEN_ONE;
    tp_store(&e->state, st | TP_ST_LOCK);
    tp_swap(&e->thread_mask, 0);
    /* Pollers register open files: a registration left behind would
     * outlive the number if the file is shared (dup, fork). Remove it now,
     * while the number still names the file. Scan backends register
     * nothing but keep their poll set between polls: have it rebuilt. */
    polled = tp_load(&e->polled_recv) | tp_load(&e->polled_send);
    for (; polled; polled &= polled - 1) {
        struct tp__thread *th = &tp->threads[tp__ctz(polled)];

        if (tp->be->caps & TP_CAP_SCAN)
            tp_store(&th->scan_dirty, 1);
        else
            tp->be->remove(th, fd, tp__polled_for(e, th->bit));
    }
    TP_HOOK(TP_HOOK_DELETE_UNREGISTERED, fd);
    tp_store(&e->polled_recv, 0);
    tp_store(&e->polled_send, 0);
    tp_store(&e->cb, 0);
    tp_store(&e->owner, 0);
    TP_HOOK(TP_HOOK_DELETE_DONE, fd);
    tp__fd_unlock(e);
    return wait_callbacks_elsewhere(tp, e);
}

int tpoll_fd_set_threads(struct tpoll *tp, int fd, tpoll_mask_t thread_mask)
{
    struct tp__fd *e;
    tpoll_mask_t old;
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
    old = tp_swap(&e->thread_mask, thread_mask);
    /* Leavers unregister, joiners register, at their next update pass. */
    if (old != thread_mask)
        tp__mark(tp, fd,
                 old | thread_mask | tp_load(&e->polled_recv) |
                     tp_load(&e->polled_send));
    tp__fd_unlock(e);
    return 0;
}

/* Sets the interest bits to (bits & keep) | add. */
static int change_interest(struct tpoll *tp, int fd, AO_t keep, AO_t add)
{
    struct tp__fd *e;
    AO_t st, seen, nst;
    tpoll_mask_t who;
    int err = 0;

    e = fd_entry(tp, fd, &err);
    if (e == NULL)
        return err;
    st = tp_load_relaxed(&e->state);
    for (;;) {
        if (!(st & TP_ST_INUSE))
            return -ENOENT;
        nst = (st & keep) | add;
        if (nst == st)
            return 0;
        seen = tp_cas(&e->state, st, nst);
        if (seen == st)
            break;
        st = seen;
    }
    who = tp_load(&e->thread_mask) | tp_load(&e->polled_recv) |
          tp_load(&e->polled_send);
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
    return change_interest(tp, fd, ~(AO_t)0, TP_EV_RECV);
}

int tpoll_stop_recv(struct tpoll *tp, int fd)
{
    return change_interest(tp, fd, ~(AO_t)TP_EV_RECV, 0);
}

int tpoll_want_send(struct tpoll *tp, int fd)
{
    return change_interest(tp, fd, ~(AO_t)0, TP_EV_SEND);
}

int tpoll_stop_send(struct tpoll *tp, int fd)
{
    return change_interest(tp, fd, ~(AO_t)TP_EV_SEND, 0);
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
    return (int)(st & TP_EV_BOTH);
}
