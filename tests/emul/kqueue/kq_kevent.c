/* SPDX-License-Identifier: MIT */
/*
 * kevent(2) for the emulation: the changelist in order with the kernels'
 * error rules, then a scan that moves epoll readiness into the queue of
 * active knotes and hands the queue out, re-running each knote's filter
 * as it goes; it waits on the epoll set without holding the kqueue's lock
 * (other threads may change it meanwhile, as the core's delete does).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "../emul_clock.h"
#include "kq_emul.h"

#define SCAN_MAX 64
#define MAX_TIMEOUT_S (24 * 60 * 60)

static int64_t bytes_readable(int fd)
{
    int n = 0;

    return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* "data will contain the amount of space remaining in the write buffer". */
static int64_t write_space(int fd, const struct stat *sb)
{
    int size = 0, queued = 0;
    socklen_t len = sizeof(size);

    if (S_ISSOCK(sb->st_mode)) {
        if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0 ||
            ioctl(fd, TIOCOUTQ, &queued) != 0)
            return 0;
    } else if (S_ISFIFO(sb->st_mode)) {
        size = fcntl(fd, F_GETPIPE_SZ);
        if (size < 0 || ioctl(fd, FIONREAD, &queued) != 0)
            return 0;
    }
    return size > queued ? size - queued : 0;
}

static int active(const struct kqe_note *n)
{
    return n->present && !n->disabled;
}

/* Still active after its retrieval, and not reset by it. */
static int stays_active(const struct kqe_note *n)
{
    return active(n) && !(n->flags & EV_CLEAR);
}

static void fill(struct kevent *out, const struct kqe_note *n, unsigned extra,
                 unsigned fflags, int64_t data)
{
    EV_SET(out, n->ident, n->filter, n->flags | extra, fflags, data, n->udata);
#if TP_EMUL_FREEBSD
    for (int i = 0; i < 4; i++)
        out->ext[i] = n->ext[i];
#endif
}

/* EV_ONESHOT: "After the user retrieves the event from the kqueue, it is
 * deleted"; EV_DISPATCH disables it instead. */
static void retrieved(struct kqe_note *n)
{
    if (n->flags & EV_ONESHOT)
        n->present = 0;
    else if (n->flags & KQE_DISPATCH)
        n->disabled = 1;
}

/*
 * The kernels put the socket error in fflags with EV_EOF. Linux reads it
 * only destructively (SO_ERROR clears it, and the program's own read or
 * write must still see it), so the emulation puts this stand-in there
 * whenever poll(2) flags an error on a socket at end of file.
 */
#define SOCKET_ERROR_STANDIN EIO

static unsigned eof_fflags(int rev, const struct stat *sb)
{
    return (rev & POLLERR) && S_ISSOCK(sb->st_mode) ? SOCKET_ERROR_STANDIN : 0;
}

/* The socket's own sending side is shut down (shutdown(SHUT_WR)): Linux
 * has no query for it, but a send of nothing fails with EPIPE then and
 * does nothing otherwise. Asked only when poll(2) sees no error, which
 * this send would consume. */
static int send_shut_down(int fd)
{
    return send(fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE;
}

/* What a knote's filter says now, as the kernel's f_event() would. */
struct probe {
    unsigned eof;
    unsigned fflags;
    int64_t data;
};

static int poll_now(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};

    return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/*
 * EVFILT_READ is ready with data or at end of file, and "It is possible
 * for EOF to be returned ... while there is still data pending".
 */
static int probe_read(const struct kqe_fd *kfd, const struct stat *sb,
                      struct probe *p)
{
    int rev = poll_now(kfd->fd, POLLIN | POLLRDHUP);

    if (!(rev & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)))
        return 0;
    p->eof = rev & (POLLRDHUP | POLLHUP) ? EV_EOF : 0;
    p->fflags = p->eof ? eof_fflags(rev, sb) : 0;
    p->data = bytes_readable(kfd->fd);
    return 1;
}

/*
 * EV_EOF on EVFILT_WRITE: "when the reader disconnects" (a hang-up, or an
 * error on a pipe), and on a socket whenever it can send no more, which
 * includes the program's own shutdown(SHUT_WR) (filt_sowrite() tests
 * SBS_CANTSENDMORE in FreeBSD, SS_CANTSENDMORE in the others).
 */
static int probe_write(const struct kqe_fd *kfd, const struct stat *sb,
                       struct probe *p)
{
    int rev = poll_now(kfd->fd, POLLOUT);

    if (!(rev & (POLLOUT | POLLHUP | POLLERR)))
        return 0;
    p->eof =
        (rev & POLLHUP) || ((rev & POLLERR) && !S_ISSOCK(sb->st_mode)) ||
                (!(rev & POLLERR) && kfd->stream && send_shut_down(kfd->fd))
            ? EV_EOF
            : 0;
    p->fflags = p->eof ? eof_fflags(rev, sb) : 0;
    p->data = write_space(kfd->fd, sb);
    return 1;
}

/*
 * "The filter is also run when the user attempts to retrieve the kevent
 * from the kqueue. If the filter indicates that the condition that
 * triggered the event no longer holds, the kevent is removed from the
 * kqueue and is not returned." A knote whose number was closed where the
 * emulation could not see it (another file behind the number) is gone.
 * Returns 1 if out was filled.
 */
static int report_fd(struct kqe *kq, struct kqe_note *n, struct kevent *out)
{
    struct kqe_fd *kfd = n->kfd;
    struct probe p = {0};
    struct stat sb;
    int ready;

    if (fstat(kfd->fd, &sb) != 0 || sb.st_dev != kfd->dev ||
        sb.st_ino != kfd->ino) {
        tp__kqe_purge(kq, kfd);
        return 0;
    }
    ready =
        n == &kfd->rd ? probe_read(kfd, &sb, &p) : probe_write(kfd, &sb, &p);
    if (ready) {
        fill(out, n, p.eof, p.fflags, p.data);
        retrieved(n);
        /* Level-triggered: back at the tail while it holds, so that a
         * small eventlist takes every active knote in turn. */
        if (stays_active(n))
            tp__kqe_enqueue(kq, n);
    }
    tp__kqe_sync(kq, kfd);
    return ready;
}

/* A user knote stays triggered until retrieved with EV_CLEAR, which resets
 * it ("After the event is retrieved by the user, its state is reset"). */
static int report_user(struct kqe *kq, struct kqe_note *n, struct kevent *out)
{
    struct kqe_user **p = &kq->users, *u;

    if (!n->present || n->disabled || !n->triggered)
        return 0;
    fill(out, n, 0, n->fflags, n->data);
    if (n->flags & EV_CLEAR) {
        n->triggered = 0;
        n->fflags = 0;
    }
    retrieved(n);
    if (n->present) {
        if (stays_active(n))
            tp__kqe_enqueue(kq, n);
        return 1;
    }
    while (&(*p)->n != n)
        p = &(*p)->next;
    u = *p;
    *p = u->next;
    free(u);
    return 1;
}

/*
 * Hands out the queue from its head, each knote at most once per call (a
 * marker ends the pass), as kqueue_scan() does: a knote that still holds
 * goes back to the tail, so with a batch of one
 * the read and write knotes of a descriptor, or several descriptors, take
 * turns instead of one starving the others.
 */
static int report_queue(struct kqe *kq, struct kevent *out, int room)
{
    struct kqe_note marker = {.queued = 1}, *n;
    int count = 0;

    kqe_queue_push(&kq->active, &marker);
    while (count < room && (n = kq->active.first) != &marker) {
        tp__kqe_dequeue(kq, n);
        count += n->kfd != NULL ? report_fd(kq, n, &out[count])
                                : report_user(kq, n, &out[count]);
    }
    tp__kqe_dequeue(kq, &marker);
    return count;
}

/* An epoll event makes the knotes it concerns active: they join the
 * queue, and the consumed one-shot registration is armed again for the
 * ones that did not. */
static void harvest_one(struct kqe *kq, const struct epoll_event *ev)
{
    uint32_t rev = ev->events, serial = (uint32_t)(ev->data.u64 >> 32);
    int fd = (int)(uint32_t)ev->data.u64;
    struct kqe_fd *kfd;

    if (ev->data.u64 == KQE_WAKE_COOKIE)
        return;
    kfd = tp__kqe_find_fd(kq, fd);
    if (kfd == NULL || kfd->serial != serial)
        return;
    if (kfd->regmask & EPOLLONESHOT)
        kfd->armed = 0;
    if (active(&kfd->rd) &&
        (rev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        tp__kqe_enqueue(kq, &kfd->rd);
    if (active(&kfd->wr) && (rev & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
        tp__kqe_enqueue(kq, &kfd->wr);
    tp__kqe_sync(kq, kfd);
}

static void harvest(struct kqe *kq, const struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++)
        harvest_one(kq, &evs[i]);
}

/* Everything epoll has ready, without waiting. */
static void harvest_now(struct kqe *kq)
{
    struct epoll_event evs[SCAN_MAX];
    int n;

    do {
        n = epoll_wait(kq->epfd, evs, SCAN_MAX, 0);
        if (n > 0)
            harvest(kq, evs, n);
    } while (n == SCAN_MAX);
}

static int parse_timeout(const struct timespec *timeout, int64_t *deadline)
{
    if (timeout == NULL)
        return 0;
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
        timeout->tv_nsec >= 1000000000)
        return EINVAL;
    /* "The timeout value is limited to 24 hours; longer timeouts will be
     * silently reinterpreted as 24 hours." */
    if (timeout->tv_sec >= MAX_TIMEOUT_S)
        *deadline = tp_emul_now_ns() + (int64_t)MAX_TIMEOUT_S * 1000000000;
    else
        *deadline = tp_emul_now_ns() + (int64_t)timeout->tv_sec * 1000000000 +
                    timeout->tv_nsec;
    return 0;
}

/*
 * Every active knote up to nevents ("returns the number of events placed
 * in the eventlist, up to the value given by nevents"): what epoll has
 * ready joins the queue first. A wait ends with epoll's events harvested
 * into the queue, and one that produced nothing (a knote disabled or no
 * longer ready meanwhile) goes on until the time limit.
 */
static int scan(struct kqe *kq, struct kevent *out, int nevents,
                const struct timespec *timeout)
{
    struct epoll_event evs[SCAN_MAX];
    int64_t deadline = 0;
    int ms = -1, n = 0, err;

    err = parse_timeout(timeout, &deadline);
    if (err) {
        errno = err;
        return -1;
    }
    for (;;) {
        pthread_mutex_lock(&kq->mu);
        harvest(kq, evs, n);
        harvest_now(kq);
        n = report_queue(kq, out, nevents);
        tp__kqe_update_wake(kq);
        pthread_mutex_unlock(&kq->mu);
        if (timeout != NULL)
            ms = tp_emul_ms_left(deadline);
        if (n > 0 || ms == 0)
            return n;
        n = epoll_wait(kq->epfd, evs, SCAN_MAX, ms);
        if (n < 0) {
            if (errno != EINTR)
                errno = EBADF;
            return -1;
        }
    }
}

/* An error entry: FreeBSD, OpenBSD and NetBSD replace the change's flags
 * ("kevp->flags = EV_ERROR"), macOS adds EV_ERROR to them. */
static unsigned error_flags(const struct kevent *kev)
{
    return TP_EMUL_MACOS ? (unsigned)kev->flags | EV_ERROR : EV_ERROR;
}

/*
 * "If an error occurs while processing an element of the changelist and
 * there is enough room in the eventlist, then the event will be placed in
 * the eventlist with EV_ERROR set in flags and the system error in data.
 * Otherwise, -1 will be returned". As in the kernels, a change with
 * EV_RECEIPT always takes a slot, any returned error entry ends the call
 * before the scan, a change with filter 0 is skipped where filters are
 * negative, and "The same array may be used for the changelist and
 * eventlist" (entry i is written only after change i was read).
 */
static int kevent_impl(int kqfd, const struct kevent *changelist, int nchanges,
                       struct kevent *eventlist, int nevents,
                       const struct timespec *timeout)
{
    struct kqe *kq;
    int err, placed = 0;

    if ((nchanges && changelist == NULL) || (nevents && eventlist == NULL)) {
        errno = EFAULT;
        return -1;
    }
    kq = tp__kqe_lookup(kqfd, &err);
    if (kq == NULL) {
        errno = err;
        return -1;
    }
    pthread_mutex_lock(&kq->mu);
    for (int i = 0; i < nchanges; i++) {
        struct kevent kev = changelist[i];

        if (!TP_EMUL_NETBSD && kev.filter == 0)
            continue;
        err = tp__kqe_apply(kq, &kev);
        if (!err && !((unsigned)kev.flags & KQE_RECEIPT))
            continue;
        if (placed == nevents) {
            pthread_mutex_unlock(&kq->mu);
            if (!err)
                return placed;
            errno = err;
            return -1;
        }
        kev.flags = error_flags(&kev);
        kev.data = err;
        eventlist[placed++] = kev;
    }
    pthread_mutex_unlock(&kq->mu);
    if (placed > 0 || nevents == 0)
        return placed;
    return scan(kq, eventlist, nevents, timeout);
}

#if TP_EMUL_NETBSD
int kevent(int kqfd, const struct kevent *changelist, size_t nchanges,
           struct kevent *eventlist, size_t nevents,
           const struct timespec *timeout)
{
    if (nchanges > INT_MAX || nevents > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    return kevent_impl(kqfd, changelist, (int)nchanges, eventlist, (int)nevents,
                       timeout);
}
#else
int kevent(int kqfd, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout)
{
    if (nchanges < 0 || nevents < 0) {
        errno = EINVAL;
        return -1;
    }
    return kevent_impl(kqfd, changelist, nchanges, eventlist, nevents, timeout);
}
#endif
