/* SPDX-License-Identifier: MIT */
/*
 * Knotes of the emulation and the changelist semantics of FreeBSD's
 * kqueue_register(): one knote per (ident, filter), EV_ADD creates or
 * modifies, anything else on a missing knote is ENOENT, EV_DELETE drops,
 * EV_ENABLE/EV_DISABLE toggle reporting without dropping.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "kq_emul.h"

#define PERSISTENT_FLAGS (EV_ONESHOT | EV_CLEAR | EV_DISPATCH)

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

static void unlink_fd(struct kqe *kq, struct kqe_fd *kfd)
{
    struct kqe_fd **p = bucket(kq, kfd->fd);

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
 * Level-triggered knotes are registered EPOLLONESHOT and re-armed after
 * each delivery: a registration whose file outlived its number (dup, fork)
 * can no longer be removed by number, and one-shot keeps it from firing
 * more than once. When every active knote of the fd has EV_CLEAR, the
 * registration is edge-triggered instead, which is what EV_CLEAR means for
 * fd filters ("its state is reset" after retrieval).
 */
static uint32_t wanted_mask(const struct kqe_fd *kfd)
{
    uint32_t m = 0;
    int all_clear = 1;

    if (note_active(&kfd->rd)) {
        m |= EPOLLIN | EPOLLRDHUP;
        all_clear &= (kfd->rd.flags & EV_CLEAR) != 0;
    }
    if (note_active(&kfd->wr)) {
        m |= EPOLLOUT;
        all_clear &= (kfd->wr.flags & EV_CLEAR) != 0;
    }
    if (m == 0)
        return 0;
    return m | (all_clear ? EPOLLET : EPOLLONESHOT);
}

int tp__kqe_sync(struct kqe *kq, struct kqe_fd *kfd, int rearm)
{
    uint32_t want = wanted_mask(kfd);
    struct epoll_event ev = {.events = want,
                             .data.u64 = (uint64_t)kfd->serial << 32 |
                                         (uint32_t)kfd->fd};
    int op;

    if (want == kfd->regmask && !(rearm && (want & EPOLLONESHOT)))
        goto done;
    if (want == 0) {
        epoll_ctl(kq->epfd, EPOLL_CTL_DEL, kfd->fd, &ev);
        kfd->regmask = 0;
        goto done;
    }
    op = kfd->regmask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
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
done:
    if (!kfd->rd.present && !kfd->wr.present)
        unlink_fd(kq, kfd);
    return 0;
}

/* The number may name another file now: only a DEL by number is tried,
 * which fails harmlessly for a file this set does not hold. */
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
    kq->wake_armed = 0;
    kq->next_serial = 0;
}

void tp__kqe_update_wake(struct kqe *kq)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = KQE_WAKE_COOKIE};
    int want = 0;

    for (struct kqe_user *u = kq->users; u != NULL && !want; u = u->next)
        want = note_active(&u->n) && u->n.triggered;
    if (want == kq->wake_armed)
        return;
    if (epoll_ctl(kq->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
                  tp__kqe_wake_fd(), &ev) == 0 ||
        errno == EEXIST || errno == ENOENT)
        kq->wake_armed = want;
}

/* What every filter does with a change to an existing knote ("Re-adding an
 * existing event will modify the parameters of the original event"). */
static void modify(struct kqe_note *n, const struct kevent *kev)
{
    if (kev->flags & EV_ADD) {
        n->flags = kev->flags & PERSISTENT_FLAGS;
        memcpy(n->ext, kev->ext, sizeof(n->ext));
    }
    n->udata = kev->udata;
    if (kev->flags & EV_ENABLE)
        n->disabled = 0;
    else if (kev->flags & EV_DISABLE)
        n->disabled = 1;
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
    kfd->next = *bucket(kq, fd);
    *bucket(kq, fd) = kfd;
    return kfd;
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
    /* Another file behind the number: the old one's knotes were removed
     * by its close ("Calling close() on a file descriptor will remove any
     * kevents that reference the descriptor"). */
    if (kfd != NULL && (kfd->dev != sb.st_dev || kfd->ino != sb.st_ino)) {
        tp__kqe_purge(kq, kfd);
        kfd = NULL;
    }
    if (kfd == NULL ||
        !(kev->filter == EVFILT_READ ? kfd->rd : kfd->wr).present) {
        if (!(kev->flags & EV_ADD))
            return ENOENT;
        if (kfd == NULL && (kfd = new_fd(kq, fd, &sb)) == NULL)
            return ENOMEM;
        created = 1;
    }
    n = kev->filter == EVFILT_READ ? &kfd->rd : &kfd->wr;
    if (created)
        *n = (struct kqe_note){.present = 1};
    if (kev->flags & EV_DELETE) {
        n->present = 0;
        return tp__kqe_sync(kq, kfd, 0);
    }
    modify(n, kev);
    n->fflags = kev->fflags;
    n->data = kev->data;
    err = tp__kqe_sync(kq, kfd, 0);
    if (err && created) {
        n->present = 0;
        tp__kqe_sync(kq, kfd, 0);
    }
    return err;
}

static struct kqe_user **find_user(struct kqe *kq, uintptr_t ident)
{
    struct kqe_user **p = &kq->users;

    while (*p != NULL && (*p)->ident != ident)
        p = &(*p)->next;
    return p;
}

/* EVFILT_USER: fflags are combined as NOTE_FFAND/FFOR/FFCOPY say, and
 * NOTE_TRIGGER makes the knote fire, on EV_ADD and on plain modifications
 * alike (the usual trigger is flags 0 with NOTE_TRIGGER). */
static int apply_user(struct kqe *kq, const struct kevent *kev)
{
    struct kqe_user **p = find_user(kq, kev->ident), *u = *p;
    unsigned int ff = kev->fflags & NOTE_FFLAGSMASK;

    if (u == NULL) {
        if (!(kev->flags & EV_ADD))
            return ENOENT;
        u = calloc(1, sizeof(*u));
        if (u == NULL)
            return ENOMEM;
        u->ident = kev->ident;
        u->n.present = 1;
        u->next = kq->users;
        kq->users = u;
        p = &kq->users;
    }
    if (kev->flags & EV_DELETE) {
        *p = u->next;
        free(u);
        tp__kqe_update_wake(kq);
        return 0;
    }
    modify(&u->n, kev);
    switch (kev->fflags & NOTE_FFCTRLMASK) {
    case NOTE_FFAND:
        u->n.fflags &= ff;
        break;
    case NOTE_FFOR:
        u->n.fflags |= ff;
        break;
    case NOTE_FFCOPY:
        u->n.fflags = ff;
        break;
    default:
        break;
    }
    if (kev->fflags & NOTE_TRIGGER)
        u->n.triggered = 1;
    if (kev->flags & EV_ADD)
        u->n.data = kev->data;
    tp__kqe_update_wake(kq);
    return 0;
}

int tp__kqe_apply(struct kqe *kq, const struct kevent *kev)
{
    switch (kev->filter) {
    case EVFILT_READ:
    case EVFILT_WRITE:
        return apply_fd(kq, kev);
    case EVFILT_USER:
        return apply_user(kq, kev);
    default:
        return EINVAL;
    }
}
