/* SPDX-License-Identifier: MIT */
/* libevent 2 with its default configuration (epoll on Linux). */
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>

#include "ring.h"

struct le_ring {
    struct ring *r;
    struct event_base *base;
    struct event **ev;
};

static struct ring *cur;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ring_on_read(cur, (int)(intptr_t)arg);
}

static int le_open(struct ring *r, const char *variant, void **state)
{
    struct le_ring *s = calloc(1, sizeof(*s));
    int i;

    (void)variant;
    if (s == NULL)
        return -1;
    s->r = cur = r;
    s->base = event_base_new();
    s->ev = calloc((size_t)r->npairs, sizeof(*s->ev));
    if (s->base == NULL || s->ev == NULL)
        return -1;
    for (i = 0; i < r->npairs; i++) {
        s->ev[i] = event_new(s->base, r->fds[i][0], EV_READ | EV_PERSIST,
                             on_read, (void *)(intptr_t)i);
        if (s->ev[i] == NULL || event_add(s->ev[i], NULL))
            return -1;
    }
    *state = s;
    return event_base_loop(s->base, EVLOOP_NONBLOCK) < 0 ? -1 : 0;
}

static int le_rearm(void *state)
{
    struct le_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        if (event_del(s->ev[i]) || event_add(s->ev[i], NULL))
            return -1;
    return event_base_loop(s->base, EVLOOP_NONBLOCK) < 0 ? -1 : 0;
}

static int le_run_once(void *state)
{
    return event_base_loop(((struct le_ring *)state)->base, EVLOOP_ONCE) < 0
               ? -1
               : 0;
}

static void le_close(void *state)
{
    struct le_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        event_free(s->ev[i]);
    event_base_free(s->base);
    free(s->ev);
    free(s);
}

const struct ring_impl ring_libevent_impl = {
    .name = "libevent",
    .open = le_open,
    .rearm = le_rearm,
    .run_once = le_run_once,
    .close = le_close,
};
