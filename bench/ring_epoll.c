/* SPDX-License-Identifier: MIT */
/* The floor: a bare epoll_wait loop, level-triggered, the pair index in the
 * cookie. Stopping and starting a watcher is EPOLL_CTL_DEL + EPOLL_CTL_ADD,
 * as in a loop that applies every change at once. */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ring.h"

#define NEVENTS 256

struct ep_ring {
    struct ring *r;
    int epfd;
    int64_t ctl;
    struct epoll_event ev[NEVENTS];
};

static int add(struct ep_ring *s, int i)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

    s->ctl++;
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->r->fds[i][0], &ev);
}

static int poll_once(struct ep_ring *s, int timeout_ms)
{
    int n = epoll_wait(s->epfd, s->ev, NEVENTS, timeout_ms), i;

    for (i = 0; i < n; i++)
        ring_on_read(s->r, (int)s->ev[i].data.u32);
    return n < 0 ? -1 : 0;
}

static int ep_open(struct ring *r, const char *variant, void **state)
{
    struct ep_ring *s = calloc(1, sizeof(*s));
    int i;

    (void)variant;
    if (s == NULL)
        return -1;
    s->r = r;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0)
        return -1;
    for (i = 0; i < r->npairs; i++)
        if (add(s, i))
            return -1;
    *state = s;
    return poll_once(s, 0);
}

static int ep_rearm(void *state)
{
    struct ep_ring *s = state;
    struct epoll_event ev = {0};
    int i;

    for (i = 0; i < s->r->npairs; i++) {
        s->ctl++;
        if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->r->fds[i][0], &ev) ||
            add(s, i))
            return -1;
    }
    return poll_once(s, 0);
}

static int ep_run_once(void *state)
{
    return poll_once(state, 1000);
}

static int64_t ep_ctl(void *state)
{
    return ((struct ep_ring *)state)->ctl;
}

static void ep_close(void *state)
{
    struct ep_ring *s = state;

    close(s->epfd);
    free(s);
}

const struct ring_impl ring_epoll_impl = {
    .name = "epoll",
    .open = ep_open,
    .rearm = ep_rearm,
    .run_once = ep_run_once,
    .ctl_calls = ep_ctl,
    .close = ep_close,
};
