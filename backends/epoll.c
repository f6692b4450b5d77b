/* SPDX-License-Identifier: MIT */
/* Linux epoll: one epoll set per thread, an eventfd to wake it. */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../core/backend.h"
#include "../platform/wakefd.h"

/* The cookie: fd in the low half, generation in the high half. The wake
 * eventfd gets a cookie no table fd can have. */
#define WAKE_COOKIE UINT64_MAX

struct ep_thread {
    int epfd;
    struct tp_fdmark epmark;
    struct tp_wakefd wake;
    int nevents;
    struct epoll_event events[];
};

static struct ep_thread *ep(struct tp__thread *th)
{
    return *tp__backend_data(th);
}

/* The read side's close alone is EPOLLRDHUP without EPOLLIN: data that
 * arrives then wakes nothing. */
static uint32_t to_epoll(unsigned want)
{
    return (want & TP_EV_CLOSEONLY ? (uint32_t)EPOLLRDHUP
            : want & TP_EV_RECV    ? (uint32_t)(EPOLLIN | EPOLLRDHUP)
                                   : 0) |
           (want & TP_EV_SEND ? EPOLLOUT : 0) |
           (want & TP_EV_EDGE ? (uint32_t)EPOLLET : 0);
}

/* The epoll bits are kernel ABI; the asserts keep the shifts honest. */
_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT && EPOLLERR == POLLERR &&
                   EPOLLHUP == POLLHUP && EPOLLRDHUP == POLLRDHUP,
               "epoll event bits are poll(2)'s");
_Static_assert(EPOLLIN == TP_EV_RECV && EPOLLOUT == TP_EV_SEND << 1,
               "epoll's in and out shifted into ours");

/* Readable and/or writable, nothing else: the common case, converted
 * inline in ep_dispatch. */
static int only_rw(uint32_t ev)
{
    return !(ev & ~(uint32_t)(EPOLLIN | EPOLLOUT));
}

/* EPOLLEXCLUSIVE is only accepted by ADD, and not with EPOLLRDHUP: an
 * exclusive fd is changed by delete + add, and a peer's shutdown shows as
 * readable (read returns 0) instead of as RDHUP. */
static int ep_set_exclusive(struct tp__thread *th, int fd, uint64_t cookie,
                            unsigned have, unsigned want)
{
    struct epoll_event ev = {.events = EPOLLEXCLUSIVE |
                                       (to_epoll(want) & ~(uint32_t)EPOLLRDHUP),
                             .data.u64 = cookie};
    int epfd = ep(th)->epfd, err;

    if (have) {
        tp__count_ctl(th, 1);
        if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) != 0 && errno != ENOENT)
            return -errno;
    }
    tp__count_ctl(th, 1);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    err = -errno;
    /* The core takes a failed set() to leave `have` registered. */
    if (have) {
        ev.events = EPOLLEXCLUSIVE | (to_epoll(have) & ~(uint32_t)EPOLLRDHUP);
        tp__count_ctl(th, 1);
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    return err;
}

static int ctl(struct tp__thread *th, int op, int fd, struct epoll_event *ev)
{
    tp__count_ctl(th, 1);
    return epoll_ctl(ep(th)->epfd, op, fd, ev) == 0 ? 0 : -errno;
}

/*
 * What `have` says is registered may not be what the kernel holds when
 * the program closed an fd without deleting it: the registration went
 * with the file, and a new file may have the number. The kernel's answer
 * decides: a modify of nothing is an add, an add of something already
 * there a modify, and a delete of nothing is done.
 */
static int ep_set(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
                  unsigned want)
{
    struct epoll_event ev = {.events = to_epoll(want),
                             .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
    int err;

    if (want & TP_EV_EXCL)
        return ep_set_exclusive(th, fd, ev.data.u64, have, want);
    if (!want) {
        err = ctl(th, EPOLL_CTL_DEL, fd, &ev);
        return err == -ENOENT || err == -EBADF ? 0 : err;
    }
    err = ctl(th, have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (err == -ENOENT && have)
        err = ctl(th, EPOLL_CTL_ADD, fd, &ev);
    else if (err == -EEXIST && !have)
        err = ctl(th, EPOLL_CTL_MOD, fd, &ev);
    return err;
}

static void ep_remove(struct tp__thread *th, int fd, unsigned have)
{
    struct epoll_event ev = {0};

    (void)have;
    tp__count_ctl(th, 1);
    epoll_ctl(ep(th)->epfd, EPOLL_CTL_DEL, fd, &ev);
}

static int ep_poll(struct tp__thread *th, int timeout_ms)
{
    struct ep_thread *t = ep(th);
    int n = epoll_wait(t->epfd, t->events, t->nevents, timeout_ms);

    return n < 0 ? -errno : n;
}

static void ep_dispatch(struct tp__thread *th, int n)
{
    struct ep_thread *t = ep(th);
    int i;

    for (i = 0; i < n; i++) {
        uint64_t c = t->events[i].data.u64;
        uint32_t ev;

        if (c == WAKE_COOKIE) {
            if (tp__woken(th))
                tp_wakefd_drain(&t->wake);
            continue;
        }
        ev = t->events[i].events;
        if (TP_LIKELY(only_rw(ev)))
            tp__event_rw(th, (int)(uint32_t)c, (uint32_t)(c >> 32),
                         (ev | ev >> 1) & TP_EV_BOTH);
        else
            tp__event(th, (int)(uint32_t)c, (uint32_t)(c >> 32),
                      tp__poll_events(ev));
    }
}

static void ep_wake(struct tp__thread *th)
{
    tp_wakefd_signal(&ep(th)->wake);
}

static int ep_thread_init(struct tp__thread *th)
{
    int batch = tp__thread_batch(th);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_COOKIE};
    struct ep_thread *t;
    int err;

    t = tp__calloc(1, sizeof(*t) + (size_t)batch * sizeof(t->events[0]));
    if (t == NULL)
        return -ENOMEM;
    t->nevents = batch;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (t->epfd < 0) {
        err = -errno;
        goto fail_epoll;
    }
    tp_fdmark_take(&t->epmark, t->epfd);
    err = tp_wakefd_open(&t->wake);
    if (err)
        goto fail_wake;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wake.rfd, &ev) != 0) {
        err = -errno;
        goto fail_register;
    }
    *tp__backend_data(th) = t;
    return 0;

fail_register:
    tp_wakefd_close(&t->wake);
fail_wake:
    close(t->epfd);
fail_epoll:
    tp__free(t);
    return err;
}

/* Closing the epoll set drops all its registrations. */
static void ep_thread_term(struct tp__thread *th)
{
    struct ep_thread *t = ep(th);

    tp_wakefd_close(&t->wake);
    close(t->epfd);
    tp__free(t);
    *tp__backend_data(th) = NULL;
}

/* In a forked child the set is shared with the parent, and closing our
 * copy leaves it intact; but the child may have closed the number and
 * opened a file of its own there: close only what is still ours. */
static void ep_thread_forget(struct tp__thread *th)
{
    struct ep_thread *t = ep(th);

    tp_wakefd_forget(&t->wake);
    tp_fdmark_close_if_owned(&t->epmark);
    tp__free(t);
    *tp__backend_data(th) = NULL;
}

const struct tpoll_backend tp__backend_epoll = {
    .name = "epoll",
    .caps = TP_CAP_EXCLUSIVE | TP_CAP_KERNEL_KIND | TP_CAP_EDGE | TP_CAP_CLOSE,
    .thread_init = ep_thread_init,
    .thread_term = ep_thread_term,
    .thread_forget = ep_thread_forget,
    .set = ep_set,
    .remove = ep_remove,
    .poll = ep_poll,
    .dispatch = ep_dispatch,
    .wake = ep_wake,
};
