/* SPDX-License-Identifier: MIT */
/* Loopback TCP: readiness both ways, orderly close, reset, refused
 * connect. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

struct rec {
    int calls;
    unsigned events;
    long got;
    int read_err;
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)tp;
    r->calls++;
    r->events |= events;
    if (events & TPOLL_RECV) {
        errno = 0;
        r->got = tu_drain(fd);
        r->read_err = errno;
    }
}

static int called(void *arg)
{
    return ((struct rec *)arg)->calls > 0;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void test_tcp_readiness(void **state)
{
    struct rec r = {0};
    struct tpoll *tp;
    char msg[] = "hello";
    int s[2];

    (void)state;
    tu_tcp_pair(s);
    tp = tu_start_one(rec_cb, &r, s[1]);
    assert_int_equal(tpoll_want_send(tp, s[1]), 0);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.events, TPOLL_SEND);
    assert_int_equal(tpoll_stop_send(tp, s[1]), 0);
    assert_int_equal(tpoll_want_recv(tp, s[1]), 0);
    r.calls = 0;
    r.events = 0;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(write(s[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.events, TPOLL_RECV);
    assert_int_equal(r.got, (long)sizeof(msg));
    close(s[0]);
    tu_finish_one(tp, s[1]);
}

/* Orderly close by the peer: readable, read returns 0. */
static void test_tcp_peer_fin(void **state)
{
    struct rec r = {0};
    struct tpoll *tp;
    int s[2];

    (void)state;
    tu_tcp_pair(s);
    tp = tu_start_one(rec_cb, &r, s[1]);
    assert_int_equal(tpoll_want_recv(tp, s[1]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(s[0]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_RECV);
    assert_int_equal(r.got, 0);
    /* A FIN is the read side's half-close, not the write side's; select
     * and a poll(2) without POLLRDHUP do not see it. */
    if (tu_backend_reports_rdhup(tp))
        assert_int_equal(r.events & (TPOLL_HUP | TPOLL_RDHUP | TPOLL_WRHUP),
                         TPOLL_HUP | TPOLL_RDHUP);
    assert_false(r.events & TPOLL_WRHUP);
    tu_finish_one(tp, s[1]);
}

/* Reset by the peer: readable, the read reports ECONNRESET; backends that
 * can tell flag an error or hang-up. */
static void test_tcp_reset(void **state)
{
    struct linger lg = {1, 0};
    struct rec r = {0};
    struct tpoll *tp;
    int s[2];

    (void)state;
    tu_tcp_pair(s);
    tp = tu_start_one(rec_cb, &r, s[1]);
    assert_int_equal(tpoll_want_recv(tp, s[1]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(setsockopt(s[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
                     0);
    close(s[0]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_RECV);
    assert_int_equal(r.got, -1);
    assert_int_equal(r.read_err, ECONNRESET);
    if (tu_backend_reports_hup(tp))
        assert_true(r.events & (TPOLL_ERR | TPOLL_HUP));
    tu_finish_one(tp, s[1]);
}

/* A refused connect: SEND (with ERR where the backend tells) and SO_ERROR
 * holds ECONNREFUSED. */
static void test_tcp_connect_refused(void **state)
{
    struct rec r = {0};
    struct tpoll *tp;
    socklen_t len = sizeof(int);
    int fd, soerr = 0;

    (void)state;
    fd = tu_tcp_connect_start(tu_unused_tcp_port());
    tp = tu_start_one(rec_cb, &r, fd);
    assert_int_equal(tpoll_want_send(tp, fd), 0);
    assert_true(tu_wait_until(tp, called, &r));
    assert_true(r.events & TPOLL_SEND);
    assert_false(r.events & TPOLL_RECV);
    if (tu_backend_reports_hup(tp))
        assert_true(r.events & TPOLL_ERR);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len), 0);
    assert_int_equal(soerr, ECONNREFUSED);
    tu_finish_one(tp, fd);
}

/* The same with both directions wanted: both reported, once per wait. */
static void test_tcp_connect_refused_both(void **state)
{
    struct rec r = {0};
    struct tpoll *tp;
    int fd;

    (void)state;
    fd = tu_tcp_connect_start(tu_unused_tcp_port());
    tp = tu_start_one(rec_cb, &r, fd);
    assert_int_equal(tpoll_want_send(tp, fd), 0);
    assert_int_equal(tpoll_want_recv(tp, fd), 0);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.calls, 1);
    assert_true(r.events & TPOLL_SEND);
    assert_true(r.events & TPOLL_RECV);
    tu_finish_one(tp, fd);
}

/* A listening socket: a pending connection makes it readable. */
static void test_tcp_accept_readiness(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    struct rec r = {0};
    struct tpoll *tp;
    int lfd, cfd;

    (void)state;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    tp = tu_create(1, 0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, lfd, rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, lfd), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    cfd = tu_tcp_connect_start(ntohs(a.sin_port));
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.events, TPOLL_RECV);
    close(cfd);
    tu_finish_one(tp, lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_readiness),
        cmocka_unit_test(test_tcp_peer_fin),
        cmocka_unit_test(test_tcp_reset),
        cmocka_unit_test(test_tcp_connect_refused),
        cmocka_unit_test(test_tcp_connect_refused_both),
        cmocka_unit_test(test_tcp_accept_readiness),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, group_setup, NULL);
}
