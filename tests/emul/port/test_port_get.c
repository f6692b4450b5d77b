/* SPDX-License-Identifier: MIT */
/* port_get(3C) and port_getn(3C), sentence by sentence. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "port_testutil.h"
/* After port.h: its close() releases a port. */
#define EMUL_NPAIRS 100
#include "../emul_pairs.h"

static void send_n(int port, int n)
{
    int i;

    for (i = 0; i < n; i++)
        assert_int_equal(port_send(port, i + 1, NULL), 0);
}

/* "If max is 0, the value pointed to by nget is set to the number of
 * events available on the port. The port_getn() function returns
 * immediately but no events are retrieved." */
static void test_max_zero_counts(void **state)
{
    int port = pu_port(), sv[2];
    uint_t n = 5;

    (void)state;
    tu_socketpair(sv);
    send_n(port, 3);
    assert_int_equal(
        port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0], POLLOUT, NULL),
        0);
    assert_int_equal(port_getn(port, NULL, 0, &n, NULL), 0);
    assert_int_equal(n, 4);
    n = 0;
    assert_int_equal(port_getn(port, NULL, 0, &n, NULL), 0);
    assert_int_equal(n, 4);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* "The max parameter specifies the maximum number of events that can be
 * returned in list[]." "On return, the value pointed to by nget is updated
 * to the actual number of events retrieved in list." */
static void test_nget_in_out(void **state)
{
    int port = pu_port();
    port_event_t list[8];
    uint_t n = 1;

    (void)state;
    send_n(port, 5);
    assert_int_equal(port_getn(port, list, 3, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].portev_events, 1);
    assert_int_equal(list[2].portev_events, 3);
    n = 1;
    assert_int_equal(port_getn(port, list, 8, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].portev_events, 4);
    assert_int_equal(list[1].portev_events, 5);
    close(port);
}

/* "The port_getn() function block until the desired number of events are
 * available" */
static void test_blocks_for_desired_number(void **state)
{
    struct pu_waiter w;
    int port = pu_port();

    (void)state;
    send_n(port, 1);
    pu_waiter_start(&w, port, 8, 2);
    pu_waiter_wait_asleep(&w);
    assert_int_equal(pu_pending(port), 1);
    send_n(port, 1);
    pu_waiter_join(&w);
    assert_int_equal(w.ret, 0);
    assert_int_equal(w.nget, 2);
    close(port);
}

/* "ETIME The time interval expired before the expected number of events
 * have been posted to the port (original value in nget), or nget is
 * updated with the number of returned port_event_t structures in list[]."
 * The events it returns are retrieved: they are not returned again. */
static void test_etime_returns_events(void **state)
{
    timespec_t t = {0, 20 * 1000 * 1000};
    int port = pu_port();
    port_event_t list[8];
    uint64_t start;
    uint_t n = 3;

    (void)state;
    send_n(port, 2);
    start = tu_now_ms();
    assert_int_equal(port_getn(port, list, 8, &n, &t), -1);
    assert_int_equal(errno, ETIME);
    assert_true(tu_now_ms() - start >= 20);
    assert_int_equal(n, 2);
    assert_int_equal(list[1].portev_events, 2);
    assert_int_equal(pu_pending(port), 0);
    n = 1;
    assert_int_equal(port_getn(port, list, 8, &n, &t), -1);
    assert_int_equal(errno, ETIME);
    assert_int_equal(n, 0);
    close(port);
}

/* "To poll for an event without waiting, timeout should point to a zeroed
 * timespec." With nothing there, port_get() fails with ETIME. */
static void test_zero_timeout_polls(void **state)
{
    timespec_t zero = {0, 0};
    int port = pu_port();
    port_event_t pe;

    (void)state;
    assert_int_equal(port_get(port, &pe, &zero), -1);
    assert_int_equal(errno, ETIME);
    send_n(port, 1);
    assert_int_equal(port_get(port, &pe, &zero), 0);
    assert_int_equal(pe.portev_source, PORT_SOURCE_USER);
    close(port);
}

/* "EINVAL The timeout element tv_sec is < 0 or the timeout element tv_nsec
 * is < 0 or > 1000000000." and, for port_getn(), "The list[] argument is
 * NULL, the nget argument is NULL, or the content of nget is > max and max
 * is > 0." */
static void test_einval(void **state)
{
    timespec_t neg_sec = {-1, 0}, neg_ns = {0, -1}, big_ns = {0, 1000000001};
    int port = pu_port();
    port_event_t list[2];
    uint_t n = 1;

    (void)state;
    assert_int_equal(port_get(port, list, &neg_sec), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_get(port, list, &neg_ns), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_get(port, list, &big_ns), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_getn(port, NULL, 2, &n, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_getn(port, list, 2, NULL, NULL), -1);
    assert_int_equal(errno, EINVAL);
    n = 3;
    assert_int_equal(port_getn(port, list, 2, &n, NULL), -1);
    assert_int_equal(errno, EINVAL);
    close(port);
}

/* "EBADF The port identifier is not valid." "EBADFD The port argument is
 * not an event port file descriptor." */
static void test_ebadf_ebadfd(void **state)
{
    port_event_t pe;
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(port_get(-1, &pe, NULL), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(port_get(p[0], &pe, NULL), -1);
    assert_int_equal(errno, EBADFD);
    close(p[0]);
    close(p[1]);
}

static void on_signal(int sig)
{
    (void)sig;
}

/* "EINTR A signal was caught during the execution of the function." The
 * kernel returns no event with EINTR; none is lost either. */
static void test_eintr(void **state)
{
    struct sigaction sa, old;
    struct pu_waiter w;
    int port = pu_port();

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    send_n(port, 1);
    pu_waiter_start(&w, port, 8, 2);
    pu_waiter_wait_asleep(&w);
    assert_int_equal(pthread_kill(w.thread, SIGUSR1), 0);
    pu_waiter_join(&w);
    assert_int_equal(w.ret, -1);
    assert_int_equal(w.err, EINTR);
    assert_int_equal(w.nget, 0);
    assert_int_equal(pu_pending(port), 1);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    close(port);
}

/* A zero nget with max > 0 asks for nothing and gets nothing (kernel
 * port_getn(): "no events required"). */
static void test_nget_zero(void **state)
{
    int port = pu_port();
    port_event_t list[2];
    uint_t n = 0;

    (void)state;
    send_n(port, 1);
    assert_int_equal(port_getn(port, list, 2, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pu_pending(port), 1);
    close(port);
}

/*
 * Saturated: "The max parameter specifies the maximum number of events
 * that can be returned in list[]", and port_getn() returns every event
 * the port holds up to it; the port queue holds every fired association
 * (port_associate(3C): "an event notification will be generated" when the
 * object has an event), so a full batch follows a full batch, never a
 * nearly empty one. Needs EMUL_NPAIRS socket pairs (emul_pairs.h).
 */
static void test_saturated_batches_are_full(void **state)
{
    struct emul_pairs *m = *state;
    port_event_t list[40];
    uint_t n;

    m->poller = pu_port();
    for (int i = 0; i < EMUL_NPAIRS; i++) {
        tu_socketpair(m->sv[i]);
        tu_write_byte(m->sv[i][1]);
        assert_int_equal(port_associate(m->poller, PORT_SOURCE_FD,
                                        (uintptr_t)m->sv[i][0], POLLIN, NULL),
                         0);
    }
    for (int want = 40, left = EMUL_NPAIRS; left > 0; left -= want) {
        want = left < 40 ? left : 40;
        n = 1;
        assert_int_equal(port_getn(m->poller, list, 40, &n, NULL), 0);
        assert_int_equal(n, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_zero_counts),
        cmocka_unit_test(test_nget_in_out),
        cmocka_unit_test(test_blocks_for_desired_number),
        cmocka_unit_test(test_etime_returns_events),
        cmocka_unit_test(test_zero_timeout_polls),
        cmocka_unit_test(test_einval),
        cmocka_unit_test(test_ebadf_ebadfd),
        cmocka_unit_test(test_eintr),
        cmocka_unit_test(test_nget_zero),
        cmocka_unit_test_setup_teardown(test_saturated_batches_are_full,
                                        emul_pairs_up, emul_pairs_down),
    };

    return cmocka_run_group_tests_name("port_get(3C)", tests, NULL, NULL);
}
