/* SPDX-License-Identifier: MIT */
/* tpoll on one backend, chosen by name, on a single bound thread; the
 * "-edge" implementations insert every fd with TPOLL_FD_EDGE (each read
 * empties its socket: one byte per token). */
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

/* Registers everything, and takes what the registrations reported and no
 * callback wants: an edge-triggered fd's first "writable", which it
 * remembers. A batch at a time (the wait fetches at most `batch` events),
 * until a wait fetches nothing of the kind (idle_wakeups stays). */
static int settle(struct tpoll *tp)
{
    struct tpoll_counters c;
    uint64_t idle;

    if (tpoll_thread_counters(tp, 0, &c) != 0)
        return -1;
    do {
        idle = c.idle_wakeups;
        if (tpoll_wait(tp, 0) < 0 || tpoll_thread_counters(tp, 0, &c) != 0)
            return -1;
    } while (c.idle_wakeups != idle);
    return 0;
}

static int tp_open_flags(struct ring *r, const char *backend, void **state,
                         unsigned flags)
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
        int err = tpoll_fd_insert_flags(s->tp, r->fds[i][0], on_read,
                                        (void *)(intptr_t)i, TPOLL_THREAD(0),
                                        flags);

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
    return settle(s->tp);
}

static int tp_open(struct ring *r, const char *backend, void **state)
{
    return tp_open_flags(r, backend, state, 0);
}

static int tp_open_edge(struct ring *r, const char *backend, void **state)
{
    return tp_open_flags(r, backend, state, TPOLL_FD_EDGE);
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

#define TP_IMPL_AS(id, b, suffix, opener)                                      \
    static const struct ring_impl tp_##id = {                                  \
        .name = "tpoll-" #b suffix,                                            \
        .variant = #b,                                                         \
        .open = opener,                                                        \
        .rearm = tp_rearm,                                                     \
        .run_once = tp_run_once,                                               \
        .ctl_calls = tp_ctl,                                                   \
        .close = tp_close,                                                     \
    }
#define TP_IMPL(b) TP_IMPL_AS(b, b, "", tp_open)

TP_IMPL(epoll);
TP_IMPL(io_uring);
TP_IMPL(kqueue);
TP_IMPL(port);
TP_IMPL(poll);
TP_IMPL(select);
TP_IMPL_AS(epoll_edge, epoll, "-edge", tp_open_edge);
TP_IMPL_AS(kqueue_edge, kqueue, "-edge", tp_open_edge);

int ring_tpoll_list(const struct ring_impl **out)
{
    static const struct ring_impl *const all[] = {
        &tp_epoll, &tp_io_uring, &tp_kqueue,    &tp_port,
        &tp_poll,  &tp_select,   &tp_epoll_edge, &tp_kqueue_edge};
    int n = 0;
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (tpoll_backend_supported(all[i]->variant) == 0)
            out[n++] = all[i];
    return n;
}
