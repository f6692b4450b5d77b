/* SPDX-License-Identifier: MIT */
/*
 * Edge-triggered fds (TPOLL_FD_EDGE) on every backend. epoll and kqueue
 * register them edge-triggered; poll, select and event ports treat them as
 * level-triggered. What holds everywhere: a direction that became ready
 * while not wanted is told when wanted, tpoll_fd_ready makes the callback
 * run again, a delete forgets readiness. What only edge-triggered backends
 * do is checked where it applies: one registration for the fd's life, and
 * no second report of readiness the callback left unconsumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "park.h"
#include "testutil.h"

struct rec {
    atomic_int calls;
    atomic_uint events;
    int read_one;  /* consume one byte per callback */
    int read_all;  /* read until EAGAIN */
    int ready_on;  /* call tpoll_fd_ready(RECV) after a one-byte read */
    long got;
    struct tu_event *posted;
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;
    char buf[256];
    ssize_t n;

    atomic_fetch_add(&r->calls, 1);
    atomic_fetch_or(&r->events, events);
    if ((events & TPOLL_RECV) && r->read_one) {
        n = read(fd, buf, 1);
        r->got += n > 0 ? n : 0;
        if (n == 1 && r->ready_on)
            assert_int_equal(tpoll_fd_ready(tp, fd, TPOLL_RECV), 0);
    }
    if ((events & TPOLL_RECV) && r->read_all)
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            r->got += n;
    if (r->posted != NULL)
        tu_event_post(r->posted);
}

/* The backends that register edge-triggered in this build: kqueue only
 * with EV_RECEIPT (CMake says so). */
#ifndef TU_KQUEUE_EDGE
#define TU_KQUEUE_EDGE 0
#endif
static int edge_backend(const struct tpoll *tp)
{
    const char *b = tpoll_backend_name(tp);

    return strcmp(b, "epoll") == 0 ||
           (TU_KQUEUE_EDGE && strcmp(b, "kqueue") == 0);
}

static struct tpoll *setup(int sv[2], struct rec *r)
{
    struct tpoll *tp = tu_create(1, 0);

    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, sv[0], rec_cb, r, 1, TPOLL_FD_EDGE), 0);
    return tp;
}

static void teardown(struct tpoll *tp, int sv[2])
{
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

static uint64_t ctl_calls(const struct tpoll *tp)
{
    return tu_counters(tp, 0).ctl_calls;
}

/* Registered once, at the first wait, whatever the interest; a thousand
 * interest changes and the waits between them make no registration call
 * where the backend registers edge-triggered. */
static void test_registered_once(void **state)
{
    struct rec r = {0};
    int sv[2], i;
    struct tpoll *tp = setup(sv, &r);
    uint64_t after_first;

    (void)state;
    r.read_all = 1;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    after_first = ctl_calls(tp);
    if (edge_backend(tp))
        assert_true(after_first >= 1);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
        assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
        assert_true(tpoll_wait(tp, 0) >= 0);
        if (i % 10 == 0) {
            tu_write_byte(sv[1]);
            assert_true(tpoll_wait(tp, 0) >= 0);
        }
        assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
        assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
        assert_true(tpoll_wait(tp, 0) >= 0);
    }
    /* Each byte written while recv was wanted was read by a callback. */
    assert_int_equal(r.got, 100);
    if (edge_backend(tp))
        assert_int_equal(ctl_calls(tp), after_first);
    teardown(tp, sv);
}

/* Data that arrived while recv was not wanted is told at the want, with
 * no new data: before the first registration, and after it. */
static void test_ready_while_unwanted(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    r.read_all = 1;
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_true(atomic_load(&r.events) & TPOLL_RECV);
    assert_int_equal(r.got, 1);

    /* Registered and drained: now the edge comes while unwanted. */
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(r.got, 2);
    /* Drained: nothing more. */
    assert_int_equal(tpoll_wait(tp, 0), 0);
    teardown(tp, sv);
}

/* A want and a stop before any wait: the readiness is neither told nor
 * lost. */
static void test_want_then_stop_keeps_readiness(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    r.read_all = 1;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(r.got, 1);
    teardown(tp, sv);
}

/* A callback that leaves data unread is not told again on an
 * edge-triggered backend until new data arrives (on the others it is,
 * the fd being level-triggered there). */
static void test_unconsumed_not_told_again(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    r.read_one = 1;
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    tu_write_byte(sv[1]);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(r.got, 1);
    if (edge_backend(tp)) {
        assert_int_equal(tpoll_wait(tp, 0), 0);
        assert_int_equal(r.got, 1);
        tu_write_byte(sv[1]);
        assert_int_equal(tpoll_wait(tp, 0), 1);
        assert_int_equal(r.got, 2);
    } else {
        assert_int_equal(tpoll_wait(tp, 0), 1);
        assert_int_equal(r.got, 2);
    }
    teardown(tp, sv);
}

/* tpoll_fd_ready from the callback: it runs again, once per wait, until
 * the data is consumed, on every backend; then it stops. */
static void test_fd_ready_tells_again(void **state)
{
    struct rec r = {0};
    int sv[2], i;
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    r.read_one = 1;
    r.ready_on = 1;
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (i = 0; i < 5; i++)
        tu_write_byte(sv[1]);
    for (i = 0; i < 5; i++)
        assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(r.got, 5);
    /* The last call's tpoll_fd_ready found nothing left: one more call
     * reads nothing, and then none. */
    assert_true(tpoll_wait(tp, 0) <= 1);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.got, 5);
    teardown(tp, sv);
}

/* tpoll_fd_ready for a direction not wanted: told at the want. */
static void test_fd_ready_unwanted_told_at_want(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_fd_ready(tp, sv[0], TPOLL_SEND), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(atomic_load(&r.events), TPOLL_SEND);
    teardown(tp, sv);
}

/* A hang-up while nothing is wanted: the read side is told at the want,
 * and the read finds end-of-file. */
static void test_hangup_while_unwanted(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);
    char c;

    (void)state;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_true(atomic_load(&r.events) & TPOLL_RECV);
    assert_int_equal(read(sv[0], &c, 1), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    tu_destroy(tp);
}

/* The peer's shutdown(SHUT_WR) on an edge-triggered fd: the read side's
 * half-close, told with recv, and the read finds end-of-file. (While recv
 * is not wanted it is remembered as readiness: test_hangup_while_unwanted.) */
static void test_peer_shut_write_half_close(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);
    char c;

    (void)state;
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    if (tu_backend_reports_rdhup(tp))
        assert_int_equal(atomic_load(&r.events),
                         TPOLL_RECV | TPOLL_HUP | TPOLL_RDHUP);
    assert_null(tu_conditions_broken(atomic_load(&r.events)));
    assert_int_equal(read(sv[0], &c, 1), 0);
    teardown(tp, sv);
}

/* Readiness belongs to one user of the number: after a delete and a new
 * insert, nothing is told that the new user did not see. */
static void test_delete_forgets_readiness(void **state)
{
    struct rec r = {0}, fresh = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_fd_ready(tp, sv[0], TPOLL_RECV | TPOLL_SEND), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, sv[0], rec_cb, &fresh, 1, TPOLL_FD_EDGE), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&fresh.calls), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    teardown(tp, sv);
}

/* Writable once per edge: a second wait does not tell it again on an
 * edge-triggered backend; filling the buffer and draining it from the
 * peer makes a new edge. */
static void test_send_edges(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);
    char buf[4096] = {0};

    (void)state;
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(atomic_load(&r.events), TPOLL_SEND);
    if (!edge_backend(tp)) {
        assert_int_equal(tpoll_wait(tp, 0), 1);
        teardown(tp, sv);
        return;
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    while (write(sv[0], buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_drain(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(atomic_load(&r.calls), 2);
    teardown(tp, sv);
}

/* The end of the tests with a loop thread: the one byte written was told
 * as readable and read there; then everything is closed. */
static void finish_looped(struct tpoll *tp, struct tu_loop *l, int sv[2],
                          struct rec *r, struct tu_event *ev)
{
    assert_true(tu_event_wait(ev, 1));
    tu_loop_stop(l);
    assert_true(atomic_load(&r->events) & TPOLL_RECV);
    assert_int_equal(r->got, 1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(ev);
    tu_destroy(tp);
}

/* An edge-triggered fd moved to another thread keeps what it remembered:
 * the readiness seen on thread 0 is told on thread 1 at the want. */
static void test_migrated_keeps_readiness(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_event ev;
    struct tu_loop l;
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_event_init(&ev);
    r.read_all = 1;
    r.posted = &ev;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, sv[0], rec_cb, &r, 1, TPOLL_FD_EDGE), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_loop_start(&l, tp, 1);
    assert_int_equal(tpoll_fd_set_threads(tp, sv[0], TPOLL_THREAD(1)), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    finish_looped(tp, &l, sv, &r, &ev);
}

/*
 * A want racing with the remembering of an unwanted direction: the event
 * thread has read the state (recv not wanted) and is about to remember
 * recv as ready when the want lands. The want saw nothing remembered, so
 * it queued nothing; the event thread's compare-and-swap fails, and on the
 * state it then sees recv is wanted: it tells the callback at once.
 */
static void test_want_races_remembering(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_event ev;
    struct tu_trap *trap;
    struct tu_loop l;
    struct rec r = {0};
    int sv[2];

    (void)state;
    if (!edge_backend(tp)) {
        tu_destroy(tp);
        skip();
    }
    tu_event_init(&ev);
    r.posted = &ev;
    r.read_all = 1;
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 0);
    trap = tu_trap_arm(TP_HOOK_EDGE_REMEMBER, sv[0]);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, sv[0], rec_cb, &r, 1, TPOLL_FD_EDGE), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_trap_wait(trap));
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_trap_release(trap);
    finish_looped(tp, &l, sv, &r, &ev);
}

/* The fd tid 0 moves to thread 1 alone when its poll returns. */
static struct tpoll *leave_tp;
static atomic_int leave_fd = -1;

static void leave_at_polled(enum tp__hook_point point, long arg)
{
    int fd = atomic_load(&leave_fd);

    if (point == TP_HOOK_POLLED && arg == 0 && fd >= 0) {
        atomic_store(&leave_fd, -1);
        assert_int_equal(tpoll_fd_set_threads(leave_tp, fd, TPOLL_THREAD(1)),
                         0);
    }
}

/*
 * An fd of threads 0 and 1 with readiness remembered while unwanted; the
 * want queues it on both, thread 0's pass takes the readiness, and the fd
 * leaves thread 0 between that pass and the dispatch of what it took.
 * Thread 1 still watches the fd (no new registration, no new edge): the
 * readiness must reach it. Forced: thread 1 remembers the edge, then is
 * parked after its poll until thread 0 (the test) has dropped its part.
 */
static void test_leave_after_taking_readiness(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_event ev;
    struct tu_trap *trap;
    struct tu_loop l;
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_event_init(&ev);
    r.read_all = 1;
    r.posted = &ev;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert_flags(tp, sv[0], rec_cb, &r,
                                           TPOLL_THREAD(0) | TPOLL_THREAD(1),
                                           TPOLL_FD_EDGE),
                     0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    /* Thread 1 registers, then sees the byte while recv is unwanted. */
    trap = edge_backend(tp) ? tu_trap_arm(TP_HOOK_EDGE_REMEMBER, sv[0]) : NULL;
    tu_loop_start(&l, tp, 1);
    tu_write_byte(sv[1]);
    if (trap != NULL) {
        assert_true(tu_trap_wait(trap));
        tu_trap_release(trap);
    }
    /* Its next poll returns with the edge consumed and remembered. */
    trap = tu_trap_arm(TP_HOOK_POLLED, 1);
    assert_int_equal(tpoll_wake(tp, 1), 0);
    assert_true(tu_trap_wait(trap));
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    leave_tp = tp;
    atomic_store(&leave_fd, sv[0]);
    tu_hook_observe(leave_at_polled);
    assert_true(tpoll_wait(tp, 0) >= 0);
    tu_hook_observe(NULL);
    assert_int_equal(atomic_load(&leave_fd), -1);
    assert_int_equal(atomic_load(&r.calls), 0);
    tu_trap_release(trap);
    finish_looped(tp, &l, sv, &r, &ev);
}

/* A file no backend can poll, inserted edge-triggered: its registration
 * at the first wait is refused with nothing wanted, so nothing is told;
 * a want tries again and tells TPOLL_ERR with the wanted direction, as
 * for a level-triggered fd, on every backend. */
static void test_refused_told_at_want(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct rec r = {0};
    char path[] = "/tmp/tpoll-edge-XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert_flags(tp, fd, rec_cb, &r, 1, TPOLL_FD_EDGE),
                     0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    assert_int_equal(tpoll_want_send(tp, fd), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(atomic_load(&r.events), TPOLL_ERR | TPOLL_SEND);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_fd_delete(tp, fd), 0);
    close(fd);
    tu_destroy(tp);
}

/*
 * The read end of a pipe whose writer is gone, inserted edge-triggered
 * with nothing wanted: the registration for both directions meets a
 * kernel that refuses a write filter there (FreeBSD, OpenBSD: EPIPE;
 * NetBSD: EBADF). Nothing is wanted and the hang-up is one edge, so once
 * it is seen the waits find nothing: no poll returns for nothing.
 */
static void test_pipe_writer_gone_quiet(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct rec r = {0};
    uint64_t idle;
    int p[2], i;

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    close(p[1]);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, p[0], rec_cb, &r, 1, TPOLL_FD_EDGE), 0);
    for (i = 0; i < 3; i++)
        assert_true(tpoll_wait(tp, 0) >= 0);
    idle = tu_counters(tp, 0).idle_wakeups;
    for (i = 0; i < 5; i++)
        assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tu_counters(tp, 0).idle_wakeups, idle);
    assert_int_equal(atomic_load(&r.calls), 0);
    /* The hang-up is still told at the want. */
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_true(atomic_load(&r.events) & TPOLL_RECV);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    tu_destroy(tp);
}

/* The owner of an fd closed by tpoll_fd_close: its record first. */
struct closed {
    struct rec r;
    atomic_ulong calls; /* release callbacks */
    atomic_int fd_was_closed;
    void *owner;
};

static void closed_release(struct tpoll *tp, int fd, void *owner)
{
    struct closed *c = owner;

    (void)tp;
    atomic_store(&c->fd_was_closed, fcntl(fd, F_GETFD) < 0 && errno == EBADF);
    c->owner = owner;
    atomic_fetch_add(&c->calls, 1);
}

/* tpoll_fd_close with nothing in use: the fd is closed and release runs
 * inside the call, and an edge-triggered fd's registration is left to the
 * close: one registration call in the fd's whole life. */
static void test_close_one_registration_call(void **state)
{
    struct closed c = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &c.r);
    uint64_t registered;

    (void)state;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    registered = ctl_calls(tp);
    assert_int_equal(tpoll_fd_close(tp, sv[0], closed_release), 0);
    assert_int_equal(atomic_load(&c.calls), 1);
    assert_true(atomic_load(&c.fd_was_closed));
    assert_ptr_equal(c.owner, &c);
    if (strcmp(tpoll_backend_name(tp), "epoll") == 0)
        assert_int_equal(registered, 1);
    if (edge_backend(tp))
        assert_int_equal(ctl_calls(tp), registered);
    /* The peer sees the end of the connection at once. */
    assert_int_equal(tu_drain(sv[1]), 0);
    assert_int_equal(tpoll_fd_close(tp, sv[0], NULL), -ENOENT);
    close(sv[1]);
    tu_destroy(tp);
}

static void on_parked(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)tp, (void)events;
    /* Still open while this callback runs, though tpoll_fd_close was
     * called meanwhile. */
    r->got = fcntl(fd, F_GETFD) >= 0;
    atomic_fetch_add(&r->calls, 1);
}

/* tpoll_fd_close while the fd's callback runs on another thread: the
 * number stays open until that callback returns, then it is closed and
 * release runs (forced: the callback is parked before it starts). */
static void test_close_waits_for_callback(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct closed c = {0};
    struct tu_trap *trap;
    struct tu_loop l;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 1);
    assert_int_equal(tpoll_fd_insert_flags(tp, sv[0], on_parked, &c.r,
                                           TPOLL_THREAD(1), TPOLL_FD_EDGE),
                     0);
    trap = tu_trap_arm(TP_HOOK_DISPATCH_CHECKED, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_trap_wait(trap));
    assert_int_equal(tpoll_fd_close(tp, sv[0], closed_release), 0);
    assert_int_equal(atomic_load(&c.calls), 0);
    assert_true(fcntl(sv[0], F_GETFD) >= 0);
    tu_trap_release(trap);
    assert_true(tu_wait_atomic(&c.calls, 1));
    tu_loop_stop(&l);
    assert_int_equal(atomic_load(&c.r.calls), 1);
    assert_int_equal(c.r.got, 1);
    assert_true(atomic_load(&c.fd_was_closed));
    close(sv[1]);
    tu_destroy(tp);
}

/* Refused calls close nothing. */
static void test_fd_close_errors(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    assert_int_equal(tpoll_fd_close(NULL, sv[0], NULL), -EINVAL);
    assert_int_equal(tpoll_fd_close(tp, -1, NULL), -EBADF);
    assert_int_equal(tpoll_fd_close(tp, 1 << 30, NULL), -EMFILE);
    assert_int_equal(tpoll_fd_close(tp, sv[1], NULL), -ENOENT);
    assert_true(fcntl(sv[0], F_GETFD) >= 0);
    assert_true(fcntl(sv[1], F_GETFD) >= 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), 0);
    teardown(tp, sv);
}

static void test_fd_ready_errors(void **state)
{
    struct rec r = {0};
    int sv[2];
    struct tpoll *tp = setup(sv, &r);

    (void)state;
    assert_int_equal(tpoll_fd_ready(NULL, sv[0], TPOLL_RECV), -EINVAL);
    assert_int_equal(tpoll_fd_ready(tp, -1, TPOLL_RECV), -EBADF);
    assert_int_equal(tpoll_fd_ready(tp, 1 << 30, TPOLL_RECV), -EMFILE);
    assert_int_equal(tpoll_fd_ready(tp, sv[1], TPOLL_RECV), -ENOENT);
    assert_int_equal(tpoll_fd_ready(tp, sv[0], 0), -EINVAL);
    assert_int_equal(tpoll_fd_ready(tp, sv[0], TPOLL_HUP), -EINVAL);
    assert_int_equal(tpoll_fd_ready(tp, sv[0], TPOLL_RECV | 0x100), -EINVAL);
    /* Nothing changed: no readiness told at a want. */
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    teardown(tp, sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_once),
        cmocka_unit_test(test_ready_while_unwanted),
        cmocka_unit_test(test_want_then_stop_keeps_readiness),
        cmocka_unit_test(test_unconsumed_not_told_again),
        cmocka_unit_test(test_fd_ready_tells_again),
        cmocka_unit_test(test_fd_ready_unwanted_told_at_want),
        cmocka_unit_test(test_hangup_while_unwanted),
        cmocka_unit_test(test_peer_shut_write_half_close),
        cmocka_unit_test(test_delete_forgets_readiness),
        cmocka_unit_test(test_send_edges),
        cmocka_unit_test(test_migrated_keeps_readiness),
        cmocka_unit_test(test_want_races_remembering),
        cmocka_unit_test(test_leave_after_taking_readiness),
        cmocka_unit_test(test_refused_told_at_want),
        cmocka_unit_test(test_pipe_writer_gone_quiet),
        cmocka_unit_test(test_close_one_registration_call),
        cmocka_unit_test(test_close_waits_for_callback),
        cmocka_unit_test(test_fd_close_errors),
        cmocka_unit_test(test_fd_ready_errors),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
