/* SPDX-License-Identifier: MIT */
/* libuv with one uv_poll_t per pair. */
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "ring.h"

struct uv_ring {
    struct ring *r;
    uv_loop_t loop;
    uv_poll_t *h;
};

static struct ring *cur;

static void on_read(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    ring_on_read(cur, (int)(intptr_t)h->data);
}

static int lu_open(struct ring *r, const char *variant, void **state)
{
    struct uv_ring *s = calloc(1, sizeof(*s));
    int i;

    (void)variant;
    if (s == NULL || uv_loop_init(&s->loop))
        return -1;
    s->r = cur = r;
    s->h = calloc((size_t)r->npairs, sizeof(*s->h));
    if (s->h == NULL)
        return -1;
    for (i = 0; i < r->npairs; i++) {
        if (uv_poll_init(&s->loop, &s->h[i], r->fds[i][0]))
            return -1;
        s->h[i].data = (void *)(intptr_t)i;
        if (uv_poll_start(&s->h[i], UV_READABLE, on_read))
            return -1;
    }
    *state = s;
    uv_run(&s->loop, UV_RUN_NOWAIT);
    return 0;
}

static int lu_rearm(void *state)
{
    struct uv_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        if (uv_poll_stop(&s->h[i]) ||
            uv_poll_start(&s->h[i], UV_READABLE, on_read))
            return -1;
    uv_run(&s->loop, UV_RUN_NOWAIT);
    return 0;
}

static int lu_run_once(void *state)
{
    uv_run(&((struct uv_ring *)state)->loop, UV_RUN_ONCE);
    return 0;
}

static void lu_close(void *state)
{
    struct uv_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        uv_close((uv_handle_t *)&s->h[i], NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    free(s->h);
    free(s);
}

const struct ring_impl ring_libuv_impl = {
    .name = "libuv",
    .open = lu_open,
    .rearm = lu_rearm,
    .run_once = lu_run_once,
    .close = lu_close,
};
