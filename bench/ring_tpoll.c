/* SPDX-License-Identifier: MIT */
/* tpoll on one backend, chosen by name, on a single bound thread. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpoll.h"
#include "ring.h"

struct tp_ring {
    struct ring *r;
    struct tpoll *tp;
};

static struct ring *cur;

static void on_read(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp;
    (void)fd;
    (void)events;
    ring_on_read(cur, (int)(intptr_t)owner);
}

static int tp_open(struct ring *r, const char *backend, void **state)
{
    struct tp_ring *s = calloc(1, sizeof(*s));
    struct tpoll_options o;
    int i;

    if (s == NULL)
        return -1;
    s->r = cur = r;
    tpoll_options_init(&o);
    o.backend = backend;
    if (tpoll_create(&s->tp, &o))
        return -1;
    i = tpoll_thread_start(s->tp, 0);
    if (i == -EMFILE && strcmp(backend, "select") == 0) {
        /* select: its wake fd got a number beyond FD_SETSIZE. */
        tpoll_destroy(s->tp);
        free(s);
        return RING_TOO_BIG;
    }
    if (i)
        return -1;
    for (i = 0; i < r->npairs; i++) {
        int err = tpoll_fd_insert(s->tp, r->fds[i][0], on_read,
                                  (void *)(intptr_t)i, TPOLL_THREAD(0));

        if (err == -ERANGE) {
            /* select: fds beyond FD_SETSIZE; not a failure of the run. */
            while (--i >= 0)
                tpoll_fd_delete(s->tp, r->fds[i][0]);
            tpoll_destroy(s->tp);
            free(s);
            return RING_TOO_BIG;
        }
        if (err || tpoll_want_recv(s->tp, r->fds[i][0]))
            return -1;
    }
    *state = s;
    return tpoll_wait(s->tp, 0) < 0 ? -1 : 0;
}

static int tp_rearm(void *state)
{
    struct tp_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        if (tpoll_stop_recv(s->tp, s->r->fds[i][0]) ||
            tpoll_want_recv(s->tp, s->r->fds[i][0]))
            return -1;
    return tpoll_wait(s->tp, 0) < 0 ? -1 : 0;
}

static int tp_run_once(void *state)
{
    return tpoll_wait(((struct tp_ring *)state)->tp, 1000) < 0 ? -1 : 0;
}

static int64_t tp_ctl(void *state)
{
    struct tpoll_counters c;

    if (tpoll_thread_counters(((struct tp_ring *)state)->tp, 0, &c))
        return -1;
    return (int64_t)c.ctl_calls;
}

static void tp_close(void *state)
{
    struct tp_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++)
        tpoll_fd_delete(s->tp, s->r->fds[i][0]);
    tpoll_destroy(s->tp);
    free(s);
}

#define TP_IMPL(b)                                                             \
    static const struct ring_impl tp_##b = {                                   \
        .name = "tpoll-" #b,                                                   \
        .variant = #b,                                                         \
        .open = tp_open,                                                       \
        .rearm = tp_rearm,                                                     \
        .run_once = tp_run_once,                                               \
        .ctl_calls = tp_ctl,                                                   \
        .close = tp_close,                                                     \
    }

TP_IMPL(epoll);
TP_IMPL(io_uring);
TP_IMPL(kqueue);
TP_IMPL(port);
TP_IMPL(poll);
TP_IMPL(select);

int ring_tpoll_list(const struct ring_impl **out)
{
    static const struct ring_impl *const all[] = {
        &tp_epoll, &tp_io_uring, &tp_kqueue, &tp_port, &tp_poll, &tp_select};
    int n = 0;
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (tpoll_backend_supported(all[i]->variant) == 0)
            out[n++] = all[i];
    return n;
}
