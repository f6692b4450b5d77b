/* SPDX-License-Identifier: MIT */
/* TPOLL_FD_EXCLUSIVE: accepted on every backend, changes nothing of what
 * the fd's callbacks see; on epoll each interest change of such an fd is a
 * delete + add (EPOLLEXCLUSIVE is only accepted when adding). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static void test_unknown_flags_refused(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert_flags(tp, sv[0], tu_noop_cb, NULL, 1, 0x4),
                     -EINVAL);
    assert_int_equal(tpoll_fd_insert_flags(tp, sv[0], tu_noop_cb, NULL, 1,
                                           TPOLL_FD_EXCLUSIVE | 0x80000000u),
                     -EINVAL);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), -ENOENT);
    /* Flags 0 is plain insert. */
    assert_int_equal(tpoll_fd_insert_flags(tp, sv[0], tu_noop_cb, NULL, 1, 0), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* Interest changes of an exclusive fd keep working in both directions. */
static void test_exclusive_interest_changes(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tpoll_counters c0, c1;
    struct tu_rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert_flags(tp, sv[0], tu_rec_cb, &r, 1,
                                           TPOLL_FD_EXCLUSIVE),
                     0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, tu_rec_called, &r));
    assert_int_equal(r.events & (TPOLL_RECV | TPOLL_SEND), TPOLL_RECV);

    /* recv -> recv+send: on epoll a delete and an add. */
    c0 = tu_counters(tp, 0);
    r.calls = 0;
    r.events = 0;
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_true(tu_wait_until(tp, tu_rec_called, &r));
    assert_int_equal(r.events & (TPOLL_RECV | TPOLL_SEND),
                     TPOLL_RECV | TPOLL_SEND);
    c1 = tu_counters(tp, 0);
    if (strcmp(tpoll_backend_name(tp), "epoll") == 0)
        assert_int_equal(c1.ctl_calls - c0.ctl_calls, 2);

    /* Down to send only: no more RECV although data is pending. */
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    r.calls = 0;
    r.events = 0;
    assert_true(tu_wait_until(tp, tu_rec_called, &r));
    assert_int_equal(r.events & (TPOLL_RECV | TPOLL_SEND), TPOLL_SEND);

    /* Nothing wanted: no callback, even with data pending. */
    assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
    r.calls = 0;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);

    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* A listener shared by two threads: every connection accepted exactly
 * once, only on the threads of the mask. */
#define NCONN 20

struct shared {
    int lfd;
    struct tu_event accepted;
    atomic_int foreign;
};

static void accept_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct shared *s = owner;
    int tid = tpoll_thread_id(tp);
    int c;

    (void)events;
    if (tid != 1 && tid != 2)
        atomic_fetch_add(&s->foreign, 1);
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        tu_event_post(&s->accepted);
    }
}

static void test_exclusive_shared_listener(void **state)
{
    struct tpoll *tp = tu_create(3, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    struct tu_loop l1, l2;
    struct shared s;
    int i, clients[NCONN];

    (void)state;
    memset(&s, 0, sizeof(s));
    tu_event_init(&s.accepted);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(s.lfd >= 0);
    assert_int_equal(bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s.lfd, NCONN), 0);
    assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(tpoll_fd_insert_flags(tp, s.lfd, accept_cb, &s,
                                           TPOLL_THREAD(1) | TPOLL_THREAD(2),
                                           TPOLL_FD_EXCLUSIVE),
                     0);
    assert_int_equal(tpoll_want_recv(tp, s.lfd), 0);
    tu_loop_start(&l1, tp, 1);
    tu_loop_start(&l2, tp, 2);
    for (i = 0; i < NCONN; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(clients[i] >= 0);
        assert_int_equal(
            connect(clients[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    assert_true(tu_event_wait(&s.accepted, NCONN));
    assert_int_equal(tu_event_count(&s.accepted), NCONN);
    assert_int_equal(atomic_load(&s.foreign), 0);
    tu_loop_stop(&l1);
    tu_loop_stop(&l2);
    assert_int_equal(tpoll_fd_delete(tp, s.lfd), 0);
    close(s.lfd);
    for (i = 0; i < NCONN; i++)
        close(clients[i]);
    tu_event_destroy(&s.accepted);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_flags_refused),
        cmocka_unit_test(test_exclusive_interest_changes),
        cmocka_unit_test(test_exclusive_shared_listener),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
