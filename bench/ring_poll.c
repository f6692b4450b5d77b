/* SPDX-License-Identifier: MIT */
/* A bare poll() loop over one pollfd array: stopping and starting a watcher
 * clears and sets its events field. O(P) per iteration by nature. */
#include <poll.h>
#include <stdlib.h>

#include "ring.h"

struct poll_ring {
    struct ring *r;
    struct pollfd *pfd;
};

static int poll_once(struct poll_ring *s, int timeout_ms)
{
    int n = poll(s->pfd, (nfds_t)s->r->npairs, timeout_ms), i;

    for (i = 0; n > 0 && i < s->r->npairs; i++) {
        if (s->pfd[i].revents) {
            n--;
            ring_on_read(s->r, i);
        }
    }
    return n < 0 ? -1 : 0;
}

static int pl_open(struct ring *r, const char *variant, void **state)
{
    struct poll_ring *s = calloc(1, sizeof(*s));
    int i;

    (void)variant;
    if (s == NULL)
        return -1;
    s->r = r;
    s->pfd = calloc((size_t)r->npairs, sizeof(*s->pfd));
    if (s->pfd == NULL)
        return -1;
    for (i = 0; i < r->npairs; i++) {
        s->pfd[i].fd = r->fds[i][0];
        s->pfd[i].events = POLLIN;
    }
    *state = s;
    return poll_once(s, 0);
}

static int pl_rearm(void *state)
{
    struct poll_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++) {
        s->pfd[i].events = 0;
        s->pfd[i].events = POLLIN;
    }
    return poll_once(s, 0);
}

static int pl_run_once(void *state)
{
    return poll_once(state, 1000);
}

static void pl_close(void *state)
{
    struct poll_ring *s = state;

    free(s->pfd);
    free(s);
}

const struct ring_impl ring_poll_impl = {
    .name = "poll",
    .open = pl_open,
    .rearm = pl_rearm,
    .run_once = pl_run_once,
    .close = pl_close,
};
