/* SPDX-License-Identifier: MIT */
/* Peer gone: the wanted direction is reported so that the read or write
 * the callback attempts sees the condition; HUP where the backend knows,
 * with the half-close of each direction (TPOLL_RDHUP, TPOLL_WRHUP). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

struct rec {
    int calls;
    unsigned events;
    long got;      /* what a read in the callback returned (RECV) */
    int write_err; /* errno of a write in the callback (SEND), or 0 */
    const char *broken; /* a rule of the conditions a report broke */
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;
    char c = 'z';

    (void)tp;
    r->calls++;
    r->events |= events;
    if (r->broken == NULL)
        r->broken = tu_conditions_broken(events);
    if (events & TPOLL_RECV)
        r->got = tu_drain(fd);
    if (events & TPOLL_SEND) {
        ssize_t n = write(fd, &c, 1);

        r->write_err = n < 0 ? errno : 0;
    }
}

static int called(void *arg)
{
    return ((struct rec *)arg)->calls > 0;
}

static int group_setup(void **state)
{
    (void)state;
    /* Writes to a closed peer must fail with EPIPE, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void check_recv_hangup(int fd, int peer, int is_pipe)
{
    struct tpoll *tp;
    struct rec r = {0};

    tp = tu_start_one(rec_cb, &r, fd);
    assert_int_equal(tpoll_want_recv(tp, fd), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(peer);
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_RECV);
    assert_false(r.events & TPOLL_SEND);
    assert_int_equal(r.got, 0);
    if (tu_backend_reports_hup(tp))
        assert_true(r.events & TPOLL_HUP);
    /* Still level-triggered: EOF stays readable. */
    r.calls = 0;
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    (void)is_pipe;
    tu_finish_one(tp, fd);
}

static void test_socketpair_peer_closed(void **state)
{
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    check_recv_hangup(sv[0], sv[1], 0);
}

static void test_pipe_writer_closed(void **state)
{
    int p[2];

    (void)state;
    tu_pipe(p);
    check_recv_hangup(p[0], p[1], 1);
}

/* Data then EOF: the data comes first, then read returns 0. */
static void test_data_then_hangup(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tp = tu_start_one(rec_cb, &r, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    tu_write_byte(sv[1]);
    close(sv[1]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_RECV);
    assert_int_equal(r.got, 2);
    tu_finish_one(tp, sv[0]);
}

/* Only send wanted, peer gone: SEND is still reported so that the write
 * fails with EPIPE, rather than the condition being swallowed. */
static void test_send_to_closed_peer(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    struct tpoll_counters c;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tp = tu_start_one(rec_cb, &r, sv[0]);
    close(sv[1]);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_SEND);
    assert_false(r.events & TPOLL_RECV);
    assert_int_equal(r.write_err, EPIPE);
    /* Nothing wanted any more: no spinning on the hang-up. */
    assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    c = tu_counters(tp, 0);
    assert_int_equal(tpoll_wait(tp, 20), 0);
    assert_int_equal(tu_counters(tp, 0).idle_wakeups, c.idle_wakeups);
    tu_finish_one(tp, sv[0]);
}

/* Pipe write end whose reader is gone: an error with SEND. */
static void test_pipe_reader_closed(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    tp = tu_start_one(rec_cb, &r, p[1]);
    assert_int_equal(tpoll_want_send(tp, p[1]), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.write_err, 0);
    close(p[0]);
    r.calls = 0;
    r.events = 0;
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_SEND);
    assert_int_equal(r.write_err, EPIPE);
    if (tu_backend_reports_hup(tp))
        assert_true(r.events & (TPOLL_ERR | TPOLL_HUP));
    tu_finish_one(tp, p[1]);
}

/* With recv wanted and a hang-up, a recv-less interest change stops the
 * reports: the hang-up does not leak to an fd that wants nothing. */
static void test_hangup_after_stop(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tp = tu_start_one(rec_cb, &r, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    close(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(r.calls, 0);
    tu_finish_one(tp, sv[0]);
}

/*
 * A hang-up that shows in no wanted direction: send wanted on a pipe's read
 * end whose writer is gone (poll and epoll report POLLHUP alone). The
 * condition must reach the callback, with the wanted direction so that the
 * write reports it, instead of waking the poller for nothing forever.
 */
static void test_hangup_outside_wanted(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    struct tpoll_counters c0, c1;
    int p[2], i;

    (void)state;
    tu_pipe(p);
    /* Assumes one-way pipes: FreeBSD's go both ways (a read end takes
     * writes), so there the test has nothing to say. */
    if (write(p[0], "", 0) == 0) {
        close(p[0]);
        close(p[1]);
        skip();
    }
    tp = tu_start_one(rec_cb, &r, p[0]);
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(p[1]);
    c0 = tu_counters(tp, 0);
    for (i = 0; i < 5 && r.calls == 0; i++)
        assert_true(tpoll_wait(tp, 20) >= 0);
    c1 = tu_counters(tp, 0);
    if (tu_backend_reports_hup(tp)) {
        assert_int_equal(r.calls, 1);
        assert_true(r.events & TPOLL_SEND);
        assert_true(r.events & (TPOLL_HUP | TPOLL_ERR));
        assert_int_equal(r.write_err, EBADF);
    } else {
        assert_int_equal(r.calls, 0);
    }
    assert_int_equal(c1.idle_wakeups, c0.idle_wakeups);
    tu_finish_one(tp, p[0]);
}

static int told_both(void *arg)
{
    const struct rec *r = arg;

    return (r->events & TPOLL_RECV) && (r->events & TPOLL_SEND);
}

static int told_wrhup(void *arg)
{
    return (((struct rec *)arg)->events & TPOLL_WRHUP) != 0;
}

static int write_failed(void *arg)
{
    return ((struct rec *)arg)->write_err != 0;
}

static void reset(struct rec *r)
{
    r->calls = 0;
    r->events = 0;
    r->write_err = 0;
}

/*
 * The peer shuts its sending side down: the read side's half-close alone.
 * The read finds end-of-file, and this side still sends: a proxy keeps
 * forwarding the other way. fd is a stream socket connected to peer.
 */
static void check_peer_shut_write(int fd, int peer)
{
    struct tpoll *tp;
    struct rec r = {0};
    char c;

    tp = tu_start_one(rec_cb, &r, fd);
    assert_int_equal(tpoll_want_recv(tp, fd), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.got, 0);
    if (tu_backend_reports_rdhup(tp))
        assert_int_equal(r.events, TPOLL_RECV | TPOLL_HUP | TPOLL_RDHUP);
    else
        assert_int_equal(r.events & ~(unsigned)TPOLL_HUP, TPOLL_RECV);
    assert_null(r.broken);
    /* Still open the other way: send alone, with no condition. */
    assert_int_equal(tpoll_stop_recv(tp, fd), 0);
    assert_int_equal(tpoll_want_send(tp, fd), 0);
    reset(&r);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.events, TPOLL_SEND);
    assert_int_equal(r.write_err, 0);
    assert_int_equal(read(peer, &c, 1), 1);
    close(peer);
    tu_finish_one(tp, fd);
}

static void test_socketpair_peer_shut_write(void **state)
{
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    check_peer_shut_write(sv[0], sv[1]);
}

static void test_tcp_peer_shut_write(void **state)
{
    int s[2];

    (void)state;
    tu_tcp_pair(s);
    check_peer_shut_write(s[1], s[0]);
}

/* The peer closes a socketpair: both directions are shut, each told with
 * its own direction. */
static void test_peer_close_shuts_both(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tp = tu_start_one(rec_cb, &r, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(sv[1]);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_true(tu_wait_until(tp, told_both, &r));
    assert_int_equal(r.got, 0);
    assert_int_equal(r.write_err, EPIPE);
    if (tu_backend_reports_hup(tp))
        assert_int_equal(r.events & (TPOLL_HUP | TPOLL_RDHUP | TPOLL_WRHUP),
                         TPOLL_HUP | TPOLL_RDHUP | TPOLL_WRHUP);
    assert_false(r.events & TPOLL_ERR);
    assert_null(r.broken);
    tu_finish_one(tp, sv[0]);
}

/*
 * TCP: the peer's close is a FIN, the read side's half-close only; this
 * side may still write, and the peer, gone, answers with a reset: only
 * then is the write side shut (with the error the write reports).
 */
static void test_tcp_close_then_reset(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int s[2];

    (void)state;
    tu_tcp_pair(s);
    tp = tu_start_one(rec_cb, &r, s[1]);
    assert_int_equal(tpoll_want_recv(tp, s[1]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(s[0]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.got, 0);
    assert_false(r.events & (TPOLL_WRHUP | TPOLL_ERR));
    if (tu_backend_reports_rdhup(tp))
        assert_true(r.events & TPOLL_RDHUP);
    assert_int_equal(tpoll_stop_recv(tp, s[1]), 0);
    /* The first write is taken; the reset it draws ends the write side. */
    assert_int_equal(write(s[1], "x", 1), 1);
    assert_int_equal(tpoll_want_send(tp, s[1]), 0);
    reset(&r);
    if (tu_backend_reports_hup(tp)) {
        assert_true(tu_wait_until(tp, told_wrhup, &r));
        assert_true(r.events & TPOLL_HUP);
    }
    assert_true(tu_wait_until(tp, write_failed, &r));
    assert_true(r.write_err == EPIPE || r.write_err == ECONNRESET);
    assert_null(r.broken);
    tu_finish_one(tp, s[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socketpair_peer_closed),
        cmocka_unit_test(test_pipe_writer_closed),
        cmocka_unit_test(test_data_then_hangup),
        cmocka_unit_test(test_send_to_closed_peer),
        cmocka_unit_test(test_pipe_reader_closed),
        cmocka_unit_test(test_hangup_after_stop),
        cmocka_unit_test(test_hangup_outside_wanted),
        cmocka_unit_test(test_socketpair_peer_shut_write),
        cmocka_unit_test(test_tcp_peer_shut_write),
        cmocka_unit_test(test_peer_close_shuts_both),
        cmocka_unit_test(test_tcp_close_then_reset),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, group_setup, NULL);
}
