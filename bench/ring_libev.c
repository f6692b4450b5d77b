/* SPDX-License-Identifier: MIT */
/* libev on its epoll backend (named explicitly, so that the comparison is
 * epoll against epoll whatever libev would pick). */
#include <ev.h>
#include <stdint.h>
#include <stdlib.h>

#include "ring.h"

struct ev_ring {
    struct ring *r;
    struct ev_loop *loop;
    ev_io *w;
};

static struct ring *cur;

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    ring_on_read(cur, (int)(intptr_t)w->data);
}

static int lv_open(struct ring *r, const char *variant, void **state)
{
    struct ev_ring *s = calloc(1, sizeof(*s));
    int i;

    (void)variant;
    if (s == NULL)
        return -1;
    s->r = cur = r;
    s->loop = ev_loop_new(EVBACKEND_EPOLL);
    s->w = calloc((size_t)r->npairs, sizeof(*s->w));
    if (s->loop == NULL || s->w == NULL)
        return -1;
    for (i = 0; i < r->npairs; i++) {
        ev_io_init(&s->w[i], on_read, r->fds[i][0], EV_READ);
        s->w[i].data = (void *)(intptr_t)i;
        ev_io_start(s->loop, &s->w[i]);
    }
    *state = s;
    ev_run(s->loop, EVRUN_NOWAIT);
    return 0;
}

static int lv_rearm(void *state)
{
    struct ev_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++) {
        ev_io_stop(s->loop, &s->w[i]);
        ev_io_start(s->loop, &s->w[i]);
    }
    ev_run(s->loop, EVRUN_NOWAIT);
    return 0;
}

static int lv_run_once(void *state)
{
    ev_run(((struct ev_ring *)state)->loop, EVRUN_ONCE);
    return 0;
}

static void lv_close(void *state)
{
    struct ev_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        ev_io_stop(s->loop, &s->w[i]);
    ev_loop_destroy(s->loop);
    free(s->w);
    free(s);
}

const struct ring_impl ring_libev_impl = {
    .name = "libev",
    .open = lv_open,
    .rearm = lv_rearm,
    .run_once = lv_run_once,
    .close = lv_close,
};
