/* SPDX-License-Identifier: MIT */
/* Single-thread readiness over pipes and socketpairs, on every backend. */
#include <errno.h>
#include <unistd.h>

#include "testutil.h"

static void test_recv_readiness(void **state)
{
    struct tpoll_counters c0, c1;
    struct tpoll *tp = tu_create(1, 0);
    struct tu_rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    c0 = tu_counters(tp, 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    /* A wait that cannot block counts as a loop, not as a poll. */
    c1 = tu_counters(tp, 0);
    assert_int_equal(c1.loops, c0.loops + 1);
    assert_int_equal(c1.polls, c0.polls);
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, tu_rec_called, &r));
    assert_int_equal(r.fd, sv[0]);
    assert_true(r.events & TPOLL_RECV);
    assert_false(r.events & TPOLL_SEND);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recv_readiness),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
