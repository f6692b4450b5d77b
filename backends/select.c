/* SPDX-License-Identifier: MIT */
/* select(2): the oldest fallback, limited to fd numbers below FD_SETSIZE.
 * Like poll, the sets are built from the fd table's polled bits and rebuilt
 * only when they changed. */
#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>

#include "../core/backend.h"
#include "../platform/wakefd.h"

struct select_thread {
    struct tp_wakefd wake;
    int maxfd;
    fd_set rd, wr, rd_out, wr_out, bad; /* bad: closed behind our back */
    int nfds;          /* watched fds (the wake fd apart), in fds[] */
    int fds[FD_SETSIZE];
    uint32_t gens[FD_SETSIZE];
};

static struct select_thread *st(struct tp__thread *th)
{
    return *tp__backend_data(th);
}

static int select_fd_check(struct tpoll *tp, int fd)
{
    (void)tp;
    return fd >= FD_SETSIZE ? -ERANGE : 0;
}

static void add_fd(void *arg, int fd, uint32_t gen, unsigned want)
{
    struct select_thread *t = arg;

    if (want & TP_EV_RECV)
        FD_SET(fd, &t->rd);
    if (want & TP_EV_SEND)
        FD_SET(fd, &t->wr);
    t->gens[fd] = gen;
    t->fds[t->nfds++] = fd;
    if (fd > t->maxfd)
        t->maxfd = fd;
}

/* One closed fd fails the whole select(); poll would flag just that fd
 * (POLLNVAL), so do the same: report an error on each closed one. */
static int find_closed(struct select_thread *t)
{
    int i, n = 0;

    FD_ZERO(&t->rd_out);
    FD_ZERO(&t->wr_out);
    for (i = 0; i < t->nfds; i++) {
        int fd = t->fds[i];

        if (fcntl(fd, F_GETFD) < 0) {
            FD_SET(fd, &t->bad);
            n++;
        }
    }
    return n;
}

static int select_poll(struct tp__thread *th, int timeout_ms)
{
    struct select_thread *t = st(th);
    struct timeval tv, *tvp = NULL;
    int r;

    /* Rebuilt only when the set changed (see poll.c). */
    if (tp__scan_dirty(th)) {
        FD_ZERO(&t->rd);
        FD_ZERO(&t->wr);
        FD_SET(t->wake.rfd, &t->rd);
        t->maxfd = t->wake.rfd;
        t->nfds = 0;
        tp__scan_polled(th, add_fd, t);
    }
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    t->rd_out = t->rd;
    t->wr_out = t->wr;
    FD_ZERO(&t->bad);
    r = select(t->maxfd + 1, &t->rd_out, &t->wr_out, NULL, tvp);
    if (r < 0 && errno == EBADF)
        return find_closed(t);
    return r < 0 ? -errno : r;
}

/* n counts one per set bit (of rd_out, wr_out, or bad after find_closed):
 * the walk over the watched fds stops once all are found. */
static void select_dispatch(struct tp__thread *th, int n)
{
    struct select_thread *t = st(th);
    int i;

    if (FD_ISSET(t->wake.rfd, &t->rd_out)) {
        if (tp__woken(th))
            tp_wakefd_drain(&t->wake);
        n--;
    }
    for (i = 0; i < t->nfds && n > 0; i++) {
        int fd = t->fds[i];
        unsigned rd = FD_ISSET(fd, &t->rd_out) ? TP_EV_RECV : 0;
        unsigned wr = FD_ISSET(fd, &t->wr_out) ? TP_EV_SEND : 0;
        unsigned bad = FD_ISSET(fd, &t->bad) ? TP_EV_ERR : 0;

        if (rd | wr | bad) {
            n -= (rd != 0) + (wr != 0) + (bad != 0);
            tp__event(th, fd, t->gens[fd], rd | wr | bad);
        }
    }
}

static void select_wake(struct tp__thread *th)
{
    tp_wakefd_signal(&st(th)->wake);
}

static int select_thread_init(struct tp__thread *th)
{
    struct select_thread *t;
    int err;

    t = tp__calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    err = tp_wakefd_open(&t->wake);
    /* Every number select can watch is taken: say so as insert does. */
    if (err == 0 && t->wake.rfd >= FD_SETSIZE) {
        tp_wakefd_close(&t->wake);
        err = -ERANGE;
    }
    if (err) {
        tp__free(t);
        return err;
    }
    *tp__backend_data(th) = t;
    return 0;
}

static void select_thread_term(struct tp__thread *th)
{
    tp_wakefd_close(&st(th)->wake);
    tp__free(st(th));
    *tp__backend_data(th) = NULL;
}

/* In a forked child: the wake fd's number may be the child's own file. */
static void select_thread_forget(struct tp__thread *th)
{
    tp_wakefd_forget(&st(th)->wake);
    tp__free(st(th));
    *tp__backend_data(th) = NULL;
}

const struct tpoll_backend tp__backend_select = {
    .name = "select",
    .caps = TP_CAP_SCAN,
    .fd_check = select_fd_check,
    .thread_init = select_thread_init,
    .thread_term = select_thread_term,
    .thread_forget = select_thread_forget,
    .poll = select_poll,
    .dispatch = select_dispatch,
    .wake = select_wake,
};
