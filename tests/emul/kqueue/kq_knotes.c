/* SPDX-License-Identifier: MIT */
/*
 * Knotes of the emulation and the changelist semantics of the kernels'
 * kqueue_register(): one knote per (ident, filter), EV_ADD creates or
 * modifies, anything else on a missing knote is ENOENT, EV_DELETE drops,
 * EV_ENABLE/EV_DISABLE toggle reporting without dropping; and the queue
 * of active knotes.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "kq_emul.h"

static struct kqe_fd **bucket(struct kqe *kq, int fd)
{
    return &kq->fds[(unsigned)fd % KQE_BUCKETS];
}

struct kqe_fd *tp__kqe_find_fd(struct kqe *kq, int fd)
{
    struct kqe_fd *k;

    for (k = *bucket(kq, fd); k != NULL; k = k->next)
        if (k->fd == fd)
            return k;
    return NULL;
}

void tp__kqe_enqueue(struct kqe *kq, struct kqe_note *n)
{
    if (n->queued)
        return;
    kqe_queue_push(&kq->active, n);
    n->queued = 1;
}

void tp__kqe_dequeue(struct kqe *kq, struct kqe_note *n)
{
    if (!n->queued)
        return;
    kqe_queue_remove(&kq->active, n);
    n->queued = 0;
}

static void unlink_fd(struct kqe *kq, struct kqe_fd *kfd)
{
    struct kqe_fd **p = bucket(kq, kfd->fd);

    tp__kqe_dequeue(kq, &kfd->rd);
    tp__kqe_dequeue(kq, &kfd->wr);
    while (*p != kfd)
        p = &(*p)->next;
    *p = kfd->next;
    free(kfd);
}

static int note_active(const struct kqe_note *n)
{
    return n->present && !n->disabled;
}

/*
 * Level-triggered knotes are registered EPOLLONESHOT, and only while they
 * are not queued: epoll finds a knote that became active, the queue keeps
 * it while it stays so. A registration whose file outlived its number
 * (dup, fork) therefore fires at most once more. When every active knote
 * of the fd has EV_CLEAR the registration is edge-triggered and constant,
 * which is what EV_CLEAR means for fd filters ("its state is reset" after
 * retrieval): a new arrival fires again.
 */
static uint32_t wanted_mask(const struct kqe_fd *kfd)
{
    uint32_t m = 0, unqueued = 0;
    int all_clear = 1;

    if (note_active(&kfd->rd)) {
        m |= EPOLLIN | EPOLLRDHUP;
        unqueued |= kfd->rd.queued ? 0 : EPOLLIN | EPOLLRDHUP;
        all_clear &= (kfd->rd.flags & EV_CLEAR) != 0;
    }
    if (note_active(&kfd->wr)) {
        m |= EPOLLOUT;
        unqueued |= kfd->wr.queued ? 0 : EPOLLOUT;
        all_clear &= (kfd->wr.flags & EV_CLEAR) != 0;
    }
    if (m == 0)
        return 0;
    if (all_clear)
        return m | EPOLLET;
    return unqueued ? unqueued | EPOLLONESHOT : 0;
}

static int register_fd(struct kqe *kq, struct kqe_fd *kfd, uint32_t want)
{
    struct epoll_event ev = {.events = want,
                             .data.u64 = (uint64_t)kfd->serial << 32 |
                                         (uint32_t)kfd->fd};
    int op = kfd->regmask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (epoll_ctl(kq->epfd, op, kfd->fd, &ev) != 0) {
        if (errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else if (errno == ENOENT)
            op = EPOLL_CTL_ADD;
        else
            return errno;
        if (epoll_ctl(kq->epfd, op, kfd->fd, &ev) != 0)
            return errno;
    }
    kfd->regmask = want;
    kfd->armed = 1;
    return 0;
}

int tp__kqe_sync(struct kqe *kq, struct kqe_fd *kfd)
{
    uint32_t want = wanted_mask(kfd);
    int err = 0;

    if (want == 0 && kfd->regmask != 0) {
        struct epoll_event ev = {0};

        epoll_ctl(kq->epfd, EPOLL_CTL_DEL, kfd->fd, &ev);
        kfd->regmask = 0;
    } else if (want != 0 && (want != kfd->regmask || !kfd->armed)) {
        err = register_fd(kq, kfd, want);
    }
    if (!kfd->rd.present && !kfd->wr.present)
        unlink_fd(kq, kfd);
    return err;
}

/* Called while the number still names the file (the close is intercepted
 * before it happens), or after it no longer does: then only a DEL by
 * number is tried, which fails harmlessly for a file this set lacks. */
void tp__kqe_purge(struct kqe *kq, struct kqe_fd *kfd)
{
    struct epoll_event ev = {0};

    if (kfd->regmask)
        epoll_ctl(kq->epfd, EPOLL_CTL_DEL, kfd->fd, &ev);
    unlink_fd(kq, kfd);
}

void tp__kqe_reset(struct kqe *kq)
{
    for (int b = 0; b < KQE_BUCKETS; b++) {
        while (kq->fds[b] != NULL) {
            struct kqe_fd *k = kq->fds[b];

            kq->fds[b] = k->next;
            free(k);
        }
    }
    while (kq->users != NULL) {
        struct kqe_user *u = kq->users;

        kq->users = u->next;
        free(u);
    }
    kqe_queue_init(&kq->active);
    kq->wake_armed = 0;
    kq->next_serial = 0;
}

void tp__kqe_update_wake(struct kqe *kq)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = KQE_WAKE_COOKIE};
    int want = kq->active.first != NULL;

    if (want == kq->wake_armed)
        return;
    if (epoll_ctl(kq->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
                  tp__kqe_wake_fd(), &ev) == 0 ||
        errno == EEXIST || errno == ENOENT)
        kq->wake_armed = want;
}

/* A new knote keeps the add's flags less the actions, EV_RECEIPT
 * included, and returns them with every event (kqueue_register():
 * "kn->kn_kevent.flags &= ~(EV_ADD | EV_DELETE | EV_ENABLE |
 * EV_DISABLE)"). */
static void create(struct kqe_note *n, const struct kevent *kev,
                   struct kqe_fd *kfd)
{
    *n = (struct kqe_note){.present = 1,
                           .filter = (int)kev->filter,
                           .ident = kev->ident,
                           .flags = (unsigned)kev->flags &
                                    ~(KQE_ACTIONS | KQE_SYSFLAGS),
                           .kfd = kfd};
#if TP_EMUL_FREEBSD
    memcpy(n->ext, kev->ext, sizeof(n->ext));
#endif
}

/* What every filter does with a change to an existing knote ("Re-adding an
 * existing event will modify the parameters of the original event"): the
 * kernel updates udata and the saved fflags and data, not the flags. */
static void modify(struct kqe *kq, struct kqe_note *n, const struct kevent *kev)
{
    n->udata = kev->udata;
    if (kev->flags & EV_ENABLE)
        n->disabled = 0;
    else if (kev->flags & EV_DISABLE)
        n->disabled = 1;
    if (n->disabled)
        tp__kqe_dequeue(kq, n);
}

static int is_stream_socket(int fd, const struct stat *sb)
{
    int type = 0;
    socklen_t len = sizeof(type);

    return S_ISSOCK(sb->st_mode) &&
           getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_STREAM;
}

static struct kqe_fd *new_fd(struct kqe *kq, int fd, const struct stat *sb)
{
    struct kqe_fd *kfd = calloc(1, sizeof(*kfd));

    if (kfd == NULL)
        return NULL;
    kfd->fd = fd;
    kfd->serial = kq->next_serial++;
    kfd->dev = sb->st_dev;
    kfd->ino = sb->st_ino;
    kfd->stream = is_stream_socket(fd, sb);
    kfd->next = *bucket(kq, fd);
    *bucket(kq, fd) = kfd;
    return kfd;
}

/*
 * Attaching EVFILT_WRITE to a pipe whose other end is gone: FreeBSD's and
 * OpenBSD's pipe_kqfilter() refuse it with EPIPE, NetBSD's with EBADF
 * ("other end of pipe has been closed"); macOS attaches it and reports
 * EV_EOF. The other end is gone when poll(2) sees an error or a hang-up
 * on the writing side.
 */
static int write_attach_error(int fd, const struct stat *sb)
{
#if TP_EMUL_MACOS
    (void)fd, (void)sb;
    return 0;
#else
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    if (!tp__kqe_is_pipe(fd, sb) || poll(&p, 1, 0) != 1 ||
        !(p.revents & (POLLERR | POLLHUP)))
        return 0;
    return TP_EMUL_NETBSD ? EBADF : EPIPE;
#endif
}

static int apply_fd(struct kqe *kq, const struct kevent *kev)
{
    struct kqe_fd *kfd;
    struct kqe_note *n;
    struct stat sb;
    int fd, created = 0, err;

    if (kev->ident > INT_MAX || fstat((int)kev->ident, &sb) != 0)
        return EBADF;
    fd = (int)kev->ident;
    kfd = tp__kqe_find_fd(kq, fd);
    /* Another file behind the number, closed where the emulation could
     * not see it: the old one's knotes went with its close ("Calling
     * close() on a file descriptor will remove any kevents that reference
     * the descriptor"). */
    if (kfd != NULL && (kfd->dev != sb.st_dev || kfd->ino != sb.st_ino)) {
        tp__kqe_purge(kq, kfd);
        kfd = NULL;
    }
    n = kfd == NULL ? NULL : (int)kev->filter == KQE_READ ? &kfd->rd : &kfd->wr;
    if (n == NULL || !n->present) {
        if (!(kev->flags & EV_ADD))
            return ENOENT;
        if ((int)kev->filter == KQE_WRITE &&
            (err = write_attach_error(fd, &sb)) != 0)
            return err;
        if (kfd == NULL && (kfd = new_fd(kq, fd, &sb)) == NULL)
            return ENOMEM;
        n = (int)kev->filter == KQE_READ ? &kfd->rd : &kfd->wr;
        create(n, kev, kfd);
        created = 1;
    }
    if (kev->flags & EV_DELETE) {
        tp__kqe_dequeue(kq, n);
        n->present = 0;
        return tp__kqe_sync(kq, kfd);
    }
    modify(kq, n, kev);
    n->fflags = kev->fflags;
    n->data = kev->data;
    err = tp__kqe_sync(kq, kfd);
    if (err && created) {
        n->present = 0;
        tp__kqe_sync(kq, kfd);
    }
    return err;
}

#ifdef EVFILT_USER
static struct kqe_user **find_user(struct kqe *kq, uintptr_t ident)
{
    struct kqe_user **p = &kq->users;

    while (*p != NULL && (*p)->n.ident != ident)
        p = &(*p)->next;
    return p;
}

static void combine_fflags(struct kqe_note *n, unsigned fflags)
{
    unsigned ff = fflags & NOTE_FFLAGSMASK;

    switch (fflags & NOTE_FFCTRLMASK) {
    case NOTE_FFAND:
        n->fflags &= ff;
        break;
    case NOTE_FFOR:
        n->fflags |= ff;
        break;
    case NOTE_FFCOPY:
        n->fflags = ff;
        break;
    default:
        break;
    }
}

/* EVFILT_USER: fflags are combined as NOTE_FFAND/FFOR/FFCOPY say, and
 * NOTE_TRIGGER makes the knote fire, on EV_ADD and on plain modifications
 * alike (the usual trigger is flags 0 with NOTE_TRIGGER). */
static int apply_user(struct kqe *kq, const struct kevent *kev)
{
    struct kqe_user **p = find_user(kq, kev->ident), *u = *p;

    if (u == NULL) {
        if (!(kev->flags & EV_ADD))
            return ENOENT;
        u = calloc(1, sizeof(*u));
        if (u == NULL)
            return ENOMEM;
        create(&u->n, kev, NULL);
        u->next = kq->users;
        kq->users = u;
        p = &kq->users;
    }
    if (kev->flags & EV_DELETE) {
        tp__kqe_dequeue(kq, &u->n);
        *p = u->next;
        free(u);
        return 0;
    }
    modify(kq, &u->n, kev);
    combine_fflags(&u->n, kev->fflags);
    if (kev->fflags & NOTE_TRIGGER)
        u->n.triggered = 1;
    if (kev->flags & EV_ADD)
        u->n.data = kev->data;
    if (u->n.triggered && note_active(&u->n))
        tp__kqe_enqueue(kq, &u->n);
    return 0;
}
#endif

int tp__kqe_apply(struct kqe *kq, const struct kevent *kev)
{
    int filter = (int)kev->filter, err;

    if (filter == KQE_READ || filter == KQE_WRITE)
        err = apply_fd(kq, kev);
#ifdef EVFILT_USER
    else if (filter == KQE_USER)
        err = apply_user(kq, kev);
#endif
    else
        err = EINVAL;
    tp__kqe_update_wake(kq);
    return err;
}
