/* SPDX-License-Identifier: MIT */
/*
 * Bare io_uring loops, without tpoll, to measure what a backend design
 * could reach before building it (docs/performance.md, "io_uring against
 * epoll"). Each is the floor of one design, as ring_epoll.c is epoll's:
 *
 *   uring-poll     one-shot IORING_OP_POLL_ADD per fd, re-armed after its
 *                  callback, cooperative task work (the backend's design);
 *   uring-defer    the same with IORING_SETUP_DEFER_TASKRUN, each wait
 *                  asking for one completion (at least one is needed);
 *   uring-greedy   deferred, but the wait first asks, with a zero timeout,
 *                  for as many completions as the last pass brought (the
 *                  mode chosen by load: one at a time when the load is
 *                  one), so that the kernel runs more than its 20 deferred
 *                  items per pass, and blocks for one only when that finds
 *                  none;
 *   uring-multi    one multishot IORING_OP_POLL_ADD per fd, cooperative,
 *                  re-added only when the kernel ends it: a completion per
 *                  wake-up. Edge-like, not a level-triggered registration:
 *                  where pairs often hold two tokens (P=100, A=100) a few
 *                  go unreported and the ring stops ("no progress"), so it
 *                  is measured only where it runs through;
 *   uring-epwait   a persistent level-triggered epoll set, and the ring
 *                  carries only the wait: IORING_OP_EPOLL_WAIT (kernel
 *                  6.15+). One wait at a time: a second one in flight would
 *                  report again the level-triggered fds that the first one
 *                  reported and the loop has not yet read.
 *
 * The pair index is the user_data (the epoll cookie for uring-epwait).
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ring.h"
#include "stats.h"

/* liburing 2.3's headers predate it; the kernel's number since 6.15. */
#ifndef IORING_OP_EPOLL_WAIT
#define IORING_OP_EPOLL_WAIT 59
#endif

#define SQ_ENTRIES 256u
#define CQ_ENTRIES 4096u
#define NEVENTS 256
/* user_data of a POLL_REMOVE (rearm's), so that its completion is not
 * taken for a readable pair. */
#define UD_REMOVE (1ull << 32)

enum mode { POLL_COOP, POLL_MULTI, POLL_DEFER, POLL_GREEDY, EPOLL_WAIT };

struct ur_ring {
    struct ring *r;
    enum mode mode;
    struct io_uring ring;
    int epfd;
    int waiting; /* an EPOLL_WAIT is in flight */
    int last;    /* pairs read in the last pass (uring-greedy) */
    int64_t ctl;
    struct epoll_event ev[NEVENTS];
};

/* An SQE, submitting the queued ones when the queue is full. */
static struct io_uring_sqe *sqe_get(struct ur_ring *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

    if (sqe == NULL && io_uring_submit(&s->ring) >= 0)
        sqe = io_uring_get_sqe(&s->ring);
    return sqe;
}

static int arm(struct ur_ring *s, int i)
{
    struct io_uring_sqe *sqe = sqe_get(s);

    if (sqe == NULL)
        return -1;
    if (s->mode == POLL_MULTI)
        io_uring_prep_poll_multishot(sqe, s->r->fds[i][0], POLLIN);
    else
        io_uring_prep_poll_add(sqe, s->r->fds[i][0], POLLIN);
    io_uring_sqe_set_data64(sqe, (uint64_t)i);
    s->ctl++;
    return 0;
}

/* Runs the callbacks of the completions in the queue and queues their
 * re-arms. Returns how many pairs it dispatched, or -1. */
static int reap_polls(struct ur_ring *s)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int n = 0, failed = 0;

    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        seen++;
        if (cqe->user_data & UD_REMOVE || cqe->res == -ECANCELED)
            continue;
        if (cqe->res < 0) {
            failed = 1;
            continue;
        }
        ring_on_read(s->r, (int)cqe->user_data);
        /* A multishot request stays armed while the kernel says MORE. */
        if ((s->mode != POLL_MULTI || !(cqe->flags & IORING_CQE_F_MORE)) &&
            arm(s, (int)cqe->user_data))
            failed = 1;
        n++;
    }
    io_uring_cq_advance(&s->ring, seen);
    return failed ? -1 : n;
}

/* liburing 2.3's timed wait returns -ETIME, or the number it submitted,
 * after one io_uring_enter that found no completion, also when the kernel
 * returned before the time was up (deferred work that posted none): wait
 * again until a completion comes or the time is really up. */
static int wait_one(struct ur_ring *s, int timeout_ms)
{
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                   .tv_nsec = (timeout_ms % 1000) * 1000000L};
    uint64_t end = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct io_uring_cqe *cqe;
    int err;

    do {
        err = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
        if (err < 0 && err != -ETIME)
            return -1;
    } while (io_uring_cq_ready(&s->ring) == 0 && bench_now_ns() < end);
    return 0;
}

/* One pass: the completions already posted, else what one wait brings. */
static int poll_pass(struct ur_ring *s, int timeout_ms)
{
    struct __kernel_timespec zero = {0};
    struct io_uring_cqe *cqe;
    int n = reap_polls(s), err;

    if (n != 0)
        return n;
    if (s->mode == POLL_GREEDY) {
        /* The kernel runs up to max(20, wait_nr) deferred items per pass.
         * Ask for as many as the last pass brought, with a zero timeout:
         * as many are likely pending again, and asking for more than are
         * makes the kernel arm and expire a timer (about 15 us here). */
        err = io_uring_submit_and_wait_timeout(
            &s->ring, &cqe, s->last > 1 ? (unsigned)s->last : 1, &zero, NULL);
        if (err < 0 && err != -ETIME)
            return -1;
        n = reap_polls(s);
        if (n != 0)
            return s->last = n;
    }
    if (wait_one(s, timeout_ms))
        return -1;
    n = reap_polls(s);
    if (n > 0)
        s->last = n;
    return n;
}

/* Until a pair was read or the time is up: completions of removals (the
 * rearm's) are no progress. */
static int wait_polls(struct ur_ring *s, int timeout_ms)
{
    uint64_t end = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int n;

    do {
        n = poll_pass(s, timeout_ms);
    } while (n == 0 && bench_now_ns() < end);
    return n < 0 ? -1 : 0;
}

/* Runs the callbacks of the wait's events; clears `waiting` when the
 * wait's completion is among those in the queue. */
static int reap_epoll(struct ur_ring *s)
{
    struct io_uring_cqe *cqe;
    int n, i;

    while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
        n = 0;
        if (cqe->user_data == 0) {
            n = cqe->res;
            s->waiting = 0;
        }
        io_uring_cqe_seen(&s->ring, cqe);
        if (n < 0 && n != -ECANCELED)
            return -1;
        for (i = 0; i < n; i++)
            ring_on_read(s->r, (int)s->ev[i].data.u32);
    }
    return 0;
}

static int wait_epoll(struct ur_ring *s, int timeout_ms)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

    if (sqe == NULL)
        return -1;
    /* No liburing helper: fd the epoll set, addr/len its events array. */
    io_uring_prep_rw(IORING_OP_EPOLL_WAIT, sqe, s->epfd, s->ev, NEVENTS, 0);
    io_uring_sqe_set_data64(sqe, 0);
    s->waiting = 1;
    if (wait_one(s, timeout_ms) || reap_epoll(s))
        return -1;
    if (!s->waiting)
        return 0;
    /* Nothing came in time: take the wait back, so that it does not fill
     * the events array while the next one is being prepared, and so that
     * only one is ever in flight (a second would report again the
     * level-triggered fds that the first reported). */
    sqe = io_uring_get_sqe(&s->ring);
    if (sqe == NULL)
        return -1;
    io_uring_prep_cancel64(sqe, 0, 0);
    io_uring_sqe_set_data64(sqe, UD_REMOVE);
    while (s->waiting)
        if (io_uring_submit_and_wait(&s->ring, 1) < 0 || reap_epoll(s))
            return -1;
    return 0;
}

static int poll_once(struct ur_ring *s, int timeout_ms)
{
    return s->mode == EPOLL_WAIT ? wait_epoll(s, timeout_ms)
                                 : wait_polls(s, timeout_ms);
}

static int ep_add(struct ur_ring *s, int i)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

    s->ctl++;
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->r->fds[i][0], &ev);
}

static int setup_ring(struct ur_ring *s)
{
    struct io_uring_params p = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
                 IORING_SETUP_SINGLE_ISSUER,
        .cq_entries = CQ_ENTRIES,
    };

    p.flags |= s->mode == POLL_DEFER || s->mode == POLL_GREEDY
                   ? IORING_SETUP_DEFER_TASKRUN
                   : IORING_SETUP_COOP_TASKRUN;
    return io_uring_queue_init_params(SQ_ENTRIES, &s->ring, &p);
}

static int ur_open_mode(struct ring *r, enum mode mode, void **state)
{
    struct ur_ring *s = calloc(1, sizeof(*s));
    int i;

    if (s == NULL)
        return -1;
    s->r = r;
    s->mode = mode;
    s->epfd = -1;
    if (setup_ring(s) < 0) {
        free(s);
        return -1;
    }
    if (mode == EPOLL_WAIT) {
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epfd < 0)
            return -1;
    }
    for (i = 0; i < r->npairs; i++)
        if (mode == EPOLL_WAIT ? ep_add(s, i) : arm(s, i))
            return -1;
    *state = s;
    return poll_once(s, 0);
}

/* Stop and start every watcher: a removal and a new request per pair (a
 * DEL and an ADD for the epoll set), applied by one non-blocking wait. */
static int ur_rearm(void *state)
{
    struct ur_ring *s = state;
    struct epoll_event ev = {0};
    struct io_uring_sqe *sqe;
    int i;

    for (i = 0; i < s->r->npairs; i++) {
        s->ctl++;
        if (s->mode == EPOLL_WAIT) {
            if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->r->fds[i][0], &ev) ||
                ep_add(s, i))
                return -1;
            continue;
        }
        sqe = sqe_get(s);
        if (sqe == NULL)
            return -1;
        io_uring_prep_poll_remove(sqe, (uint64_t)i);
        io_uring_sqe_set_data64(sqe, UD_REMOVE | (uint64_t)i);
        if (arm(s, i))
            return -1;
    }
    return poll_once(s, 0);
}

static int ur_run_once(void *state)
{
    return poll_once(state, 1000);
}

static int64_t ur_ctl(void *state)
{
    return ((struct ur_ring *)state)->ctl;
}

static void ur_close(void *state)
{
    struct ur_ring *s = state;

    io_uring_queue_exit(&s->ring);
    if (s->epfd >= 0)
        close(s->epfd);
    free(s);
}

/* One implementation per mode: its opener and its table. */
#define UR_IMPL(id, label, mode)                                               \
    static int open_##mode(struct ring *r, const char *v, void **state)        \
    {                                                                          \
        (void)v;                                                               \
        return ur_open_mode(r, mode, state);                                   \
    }                                                                          \
    static const struct ring_impl id = {                                       \
        .name = label,                                                         \
        .open = open_##mode,                                                   \
        .rearm = ur_rearm,                                                     \
        .run_once = ur_run_once,                                               \
        .ctl_calls = ur_ctl,                                                   \
        .close = ur_close,                                                     \
    }

UR_IMPL(ring_uring_poll_impl, "uring-poll", POLL_COOP);
UR_IMPL(ring_uring_multi_impl, "uring-multi", POLL_MULTI);
UR_IMPL(ring_uring_defer_impl, "uring-defer", POLL_DEFER);
UR_IMPL(ring_uring_greedy_impl, "uring-greedy", POLL_GREEDY);
UR_IMPL(ring_uring_epwait_impl, "uring-epwait", EPOLL_WAIT);

int ring_uring_list(const struct ring_impl **out)
{
    out[0] = &ring_uring_poll_impl;
    out[1] = &ring_uring_multi_impl;
    out[2] = &ring_uring_defer_impl;
    out[3] = &ring_uring_greedy_impl;
    out[4] = &ring_uring_epwait_impl;
    return 5;
}
