/* SPDX-License-Identifier: MIT */
/*
 * The floor of a dispatching library, as a prototype (run only by name):
 * a bare epoll_wait loop that does per event only what tpoll's contract
 * cannot do without, on one thread and with no thread safety at all. The
 * cookie carries the fd and a generation (a stale event of a deleted fd
 * must never reach the next user of the number); the fd's table entry
 * holds the generation, the interest, the callback and its owner; the
 * kernel's event bits become TPOLL_RECV/TPOLL_SEND, filtered by the
 * interest; the callback gets (instance, fd, events, owner), the way
 * tpoll calls it. No running bit, no counters, no quiescent points, no
 * loop services. What tpoll spends per event above this is the price of
 * its guarantees between threads; what this spends above the bare loop
 * ("epoll") is the price of the callback contract itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ring.h"

#define NEVENTS 256
#define RECV 0x1u
#define SEND 0x2u

struct tb_ring;
typedef void (*tb_cb)(struct tb_ring *s, int fd, unsigned events,
                      void *owner);

struct tb_entry {
    uint32_t gen;
    unsigned interest;
    tb_cb cb;
    void *owner;
};

struct tb_ring {
    struct ring *r;
    int epfd;
    int nfds;
    struct tb_entry *tab; /* by fd number */
    struct epoll_event ev[NEVENTS];
};

/* The same shape as ring_tpoll.c's callback: the ring from a global. */
static struct ring *cur;

static void on_read(struct tb_ring *s, int fd, unsigned events, void *owner)
{
    (void)s;
    (void)fd;
    (void)events;
    ring_on_read(cur, (int)(intptr_t)owner);
}

static int add(struct tb_ring *s, int i)
{
    int fd = s->r->fds[i][0];
    struct tb_entry *e = &s->tab[fd];
    struct epoll_event ev = {.events = EPOLLIN};

    e->gen += 2; /* odd: in use */
    e->interest = RECV;
    e->cb = on_read;
    e->owner = (void *)(intptr_t)i;
    ev.data.u64 = (uint64_t)e->gen << 32 | (uint32_t)fd;
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int poll_once(struct tb_ring *s, int timeout_ms)
{
    int n = epoll_wait(s->epfd, s->ev, NEVENTS, timeout_ms), i;

    for (i = 0; i < n; i++) {
        uint64_t c = s->ev[i].data.u64;
        uint32_t ev = s->ev[i].events;
        int fd = (int)(uint32_t)c;
        struct tb_entry *e = &s->tab[fd];
        /* EPOLLIN is 0x1 and EPOLLOUT 0x4: one shift makes them RECV
         * and SEND (tpoll's epoll backend does the same). */
        unsigned events = (ev | ev >> 1) & (RECV | SEND) & e->interest;

        if (e->gen == (uint32_t)(c >> 32) && events != 0)
            e->cb(s, fd, events, e->owner);
    }
    return n < 0 ? -1 : 0;
}

static int tb_open(struct ring *r, const char *variant, void **state)
{
    struct tb_ring *s = calloc(1, sizeof(*s));
    int i;

    (void)variant;
    if (s == NULL)
        return -1;
    s->r = cur = r;
    for (i = 0; i < r->npairs; i++)
        if (r->fds[i][0] >= s->nfds)
            s->nfds = r->fds[i][0] + 1;
    s->tab = calloc((size_t)s->nfds, sizeof(*s->tab));
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->tab == NULL || s->epfd < 0)
        return -1;
    for (i = 0; i < s->nfds; i++)
        s->tab[i].gen = 1;
    for (i = 0; i < r->npairs; i++)
        if (add(s, i))
            return -1;
    *state = s;
    return poll_once(s, 0);
}

/* Stop and start: the interest changes in the table; the kernel's
 * registration stays (it would be changed only if the interest differed
 * at the next wait, as tpoll does). */
static int tb_rearm(void *state)
{
    struct tb_ring *s = state;
    int i;

    for (i = 0; i < s->r->npairs; i++) {
        struct tb_entry *e = &s->tab[s->r->fds[i][0]];

        e->interest = 0;
        e->interest = RECV;
    }
    return poll_once(s, 0);
}

static int tb_run_once(void *state)
{
    return poll_once(state, 1000);
}

static int64_t tb_ctl(void *state)
{
    (void)state;
    return -1;
}

static void tb_close(void *state)
{
    struct tb_ring *s = state;

    close(s->epfd);
    free(s->tab);
    free(s);
}

const struct ring_impl ring_table_impl = {
    .name = "epoll-table",
    .open = tb_open,
    .rearm = tb_rearm,
    .run_once = tb_run_once,
    .ctl_calls = tb_ctl,
    .close = tb_close,
};
