/* SPDX-License-Identifier: MIT */
/*
 * kevent(2) for the emulation: the changelist in order with FreeBSD's
 * error rules, then a scan that waits on the epoll set without holding the
 * kqueue's lock (other threads may change it meanwhile, as the core's
 * delete does) and turns epoll readiness into kevents.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>

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

static void fill(struct kevent *out, uintptr_t ident, short filter,
                 const struct kqe_note *n, unsigned short extra, int64_t data)
{
    out->ident = ident;
    out->filter = filter;
    out->flags = n->flags | extra;
    out->fflags = filter == EVFILT_USER ? n->fflags & NOTE_FFLAGSMASK : 0;
    out->data = data;
    out->udata = n->udata;
    for (int i = 0; i < 4; i++)
        out->ext[i] = n->ext[i];
}

/* EV_ONESHOT: "After the user retrieves the event from the kqueue, it is
 * deleted"; EV_DISPATCH disables it instead. */
static void retrieved(struct kqe_note *n)
{
    if (n->flags & EV_ONESHOT)
        n->present = 0;
    else if (n->flags & EV_DISPATCH)
        n->disabled = 1;
}

/*
 * FreeBSD puts the socket error in fflags with EV_EOF. Linux reads it only
 * destructively (SO_ERROR clears it, and the program's own read or write
 * must still see it), so the emulation puts this stand-in there whenever
 * epoll flags an error on a socket at end of file.
 */
#define SOCKET_ERROR_STANDIN EIO

static unsigned int eof_fflags(uint32_t rev, const struct stat *sb)
{
    return (rev & EPOLLERR) && S_ISSOCK(sb->st_mode) ? SOCKET_ERROR_STANDIN : 0;
}

/*
 * EVFILT_READ is ready with data or at end of file, and "It is possible
 * for EOF to be returned ... while there is still data pending". EV_EOF
 * on EVFILT_WRITE: the reader is gone (a hang-up, or an error on a pipe).
 */
static int deliver_fd(struct kqe *kq, const struct epoll_event *ev,
                      struct kevent *out, int room)
{
    uint32_t rev = ev->events, serial = (uint32_t)(ev->data.u64 >> 32);
    int fd = (int)(uint32_t)ev->data.u64, n = 0;
    struct kqe_fd *kfd = tp__kqe_find_fd(kq, fd);
    struct stat sb;

    if (kfd == NULL || kfd->serial != serial)
        return 0;
    if (fstat(fd, &sb) != 0 || sb.st_dev != kfd->dev || sb.st_ino != kfd->ino) {
        tp__kqe_purge(kq, kfd);
        return 0;
    }
    if (kfd->rd.present && !kfd->rd.disabled && n < room &&
        (rev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        int eof = (rev & (EPOLLRDHUP | EPOLLHUP)) != 0;

        fill(&out[n], (uintptr_t)fd, EVFILT_READ, &kfd->rd, eof ? EV_EOF : 0,
             bytes_readable(fd));
        out[n++].fflags = eof ? eof_fflags(rev, &sb) : 0;
        retrieved(&kfd->rd);
    }
    if (kfd->wr.present && !kfd->wr.disabled && n < room &&
        (rev & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
        int eof =
            (rev & EPOLLHUP) || ((rev & EPOLLERR) && !S_ISSOCK(sb.st_mode));

        fill(&out[n], (uintptr_t)fd, EVFILT_WRITE, &kfd->wr, eof ? EV_EOF : 0,
             write_space(fd, &sb));
        out[n++].fflags = eof ? eof_fflags(rev, &sb) : 0;
        retrieved(&kfd->wr);
    }
    /* Re-armed even when the eventlist was full: a level-triggered knote
     * left out now is reported by a later scan. */
    tp__kqe_sync(kq, kfd, 1);
    return n;
}

/* A user knote stays triggered until retrieved with EV_CLEAR, which resets
 * it ("After the event is retrieved by the user, its state is reset"). */
static int deliver_users(struct kqe *kq, struct kevent *out, int room)
{
    struct kqe_user **p = &kq->users;
    int n = 0;

    while (*p != NULL && n < room) {
        struct kqe_user *u = *p;

        if (!u->n.present || u->n.disabled || !u->n.triggered) {
            p = &u->next;
            continue;
        }
        fill(&out[n++], u->ident, EVFILT_USER, &u->n, 0, u->n.data);
        if (u->n.flags & EV_CLEAR) {
            u->n.triggered = 0;
            u->n.fflags = 0;
        }
        retrieved(&u->n);
        if (!u->n.present) {
            *p = u->next;
            free(u);
            continue;
        }
        p = &u->next;
    }
    tp__kqe_update_wake(kq);
    return n;
}

static int collect(struct kqe *kq, const struct epoll_event *evs, int nev,
                   struct kevent *out, int room)
{
    int n = 0;

    for (int i = 0; i < nev; i++)
        if (evs[i].data.u64 != KQE_WAKE_COOKIE)
            n += deliver_fd(kq, &evs[i], out + n, room - n);
    return n + deliver_users(kq, out + n, room - n);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Rounded up, so a scan never gives up before its time limit. */
static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - now_ns();

    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Each epoll event can become two kevents, and an edge-triggered one is
 * consumed by epoll_wait, so no more are fetched than surely fit. A wait
 * that produced nothing (a stale registration, a knote disabled meanwhile)
 * goes on until the time limit.
 */
static int scan(struct kqe *kq, struct kevent *out, int nevents,
                const struct timespec *timeout)
{
    struct epoll_event evs[SCAN_MAX];
    int64_t deadline = 0;
    int ms = -1, max = (nevents + 1) / 2, n;

    if (max > SCAN_MAX)
        max = SCAN_MAX;
    if (timeout != NULL) {
        if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
            timeout->tv_nsec >= 1000000000) {
            errno = EINVAL;
            return -1;
        }
        /* "The timeout value is limited to 24 hours; longer timeouts will
         * be silently reinterpreted as 24 hours." */
        if (timeout->tv_sec >= MAX_TIMEOUT_S)
            deadline = now_ns() + (int64_t)MAX_TIMEOUT_S * 1000000000;
        else
            deadline = now_ns() + (int64_t)timeout->tv_sec * 1000000000 +
                       timeout->tv_nsec;
        ms = remaining_ms(deadline);
    }
    for (;;) {
        n = epoll_wait(kq->epfd, evs, max, ms);
        if (n < 0) {
            if (errno != EINTR)
                errno = EBADF;
            return -1;
        }
        pthread_mutex_lock(&kq->mu);
        n = collect(kq, evs, n, out, nevents);
        pthread_mutex_unlock(&kq->mu);
        if (n > 0 || ms == 0)
            return n;
        if (timeout != NULL && (ms = remaining_ms(deadline)) == 0)
            return 0;
    }
}

/*
 * "If an error occurs while processing an element of the changelist and
 * there is enough room in the eventlist, then the event will be placed in
 * the eventlist with EV_ERROR set in flags and the system error in data.
 * Otherwise, -1 will be returned". As in FreeBSD, a change with EV_RECEIPT
 * always takes a slot, any returned error entry ends the call before the
 * scan, and "The same array may be used for the changelist and eventlist"
 * (entry i is written only after change i was read).
 */
int kevent(int kqfd, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout)
{
    struct kqe *kq;
    int err, placed = 0;

    if (nchanges < 0 || nevents < 0) {
        errno = EINVAL;
        return -1;
    }
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

        if (kev.filter == 0)
            continue;
        err = tp__kqe_apply(kq, &kev);
        if (!err && !(kev.flags & EV_RECEIPT))
            continue;
        if (placed == nevents) {
            pthread_mutex_unlock(&kq->mu);
            if (!err)
                return placed;
            errno = err;
            return -1;
        }
        kev.flags = EV_ERROR;
        kev.data = err;
        eventlist[placed++] = kev;
    }
    pthread_mutex_unlock(&kq->mu);
    if (placed > 0 || nevents == 0)
        return placed;
    return scan(kq, eventlist, nevents, timeout);
}
