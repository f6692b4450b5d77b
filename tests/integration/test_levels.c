/* SPDX-License-Identifier: MIT */
/* Level-triggered semantics on one thread: readiness in each direction,
 * repeats until drained, and the stop/want toggles with their cost. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

struct rec {
    int calls;
    unsigned events;
    int read_one; /* consume one byte per callback */
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;
    char c;

    (void)tp;
    r->calls++;
    r->events |= events;
    if (r->read_one && (events & TPOLL_RECV))
        assert_int_equal(read(fd, &c, 1), 1);
}

static int called(void *arg)
{
    return ((struct rec *)arg)->calls > 0;
}

static void setup_one(struct tpoll **tp, int sv[2], struct rec *r)
{
    *tp = tu_create(1, 0);
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(*tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(*tp, sv[0], rec_cb, r, 1), 0);
}

static void teardown_one(struct tpoll *tp, int sv[2])
{
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

static void test_recv_pipe(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(p[1]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.events, TPOLL_RECV);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* Writable at once; not writable once the buffer is full; writable again
 * once the peer reads. */
static void test_send_readiness(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    char buf[4096];
    int sv[2];

    (void)state;
    setup_one(&tp, sv, &r);
    memset(buf, 'y', sizeof(buf));
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(r.events, TPOLL_SEND);
    while (write(sv[0], buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    r.calls = 0;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    while (tu_drain(sv[1]) > 0)
        ;
    r.events = 0;
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.events, TPOLL_SEND);
    teardown_one(tp, sv);
}

/* Not drained: reported again on every wait, until drained. */
static void test_level_repeat(void **state)
{
    struct tpoll *tp;
    struct rec r = {.read_one = 1};
    int sv[2], i;

    (void)state;
    setup_one(&tp, sv, &r);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (i = 0; i < 3; i++)
        tu_write_byte(sv[1]);
    for (i = 1; i <= 3; i++) {
        assert_int_equal(tpoll_wait(tp, 1000), 1);
        assert_int_equal(r.calls, i);
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 3);
    teardown_one(tp, sv);
}

/* Both directions in one callback when both are ready and wanted. */
static void test_both_directions(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int sv[2];

    (void)state;
    setup_one(&tp, sv, &r);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), TPOLL_RECV | TPOLL_SEND);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.events, TPOLL_RECV | TPOLL_SEND);
    /* Only what is wanted is reported. */
    assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
    r.events = 0;
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.events, TPOLL_RECV);
    teardown_one(tp, sv);
}

/* stop: silence; want: events again; stop + want before the next wait: no
 * kernel registration call at all. */
static void test_stop_want_toggles(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    struct tpoll_counters c0, c1;
    uint64_t base;
    int sv[2], i;

    (void)state;
    setup_one(&tp, sv, &r);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), 0);
    r.calls = 0;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.calls, 1);

    /* Baseline: what ten reported waits cost with no change at all (one-
     * shot backends such as event ports re-arm after each event). */
    c0 = tu_counters(tp, 0);
    for (i = 0; i < 10; i++)
        assert_int_equal(tpoll_wait(tp, 1000), 1);
    c1 = tu_counters(tp, 0);
    base = c1.ctl_calls - c0.ctl_calls;
    c0 = c1;
    for (i = 0; i < 10; i++) {
        assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
        assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
        assert_int_equal(tpoll_wait(tp, 1000), 1);
    }
    c1 = tu_counters(tp, 0);
    assert_int_equal(c1.ctl_calls - c0.ctl_calls, base);
    assert_int_equal(r.calls, 21);

    /* The counter does move when the registration really changes, on the
     * backends that keep one. */
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    c1 = tu_counters(tp, 0);
    if (strcmp(tpoll_backend_name(tp), "poll") != 0 &&
        strcmp(tpoll_backend_name(tp), "select") != 0)
        assert_true(c1.ctl_calls > c0.ctl_calls);
    teardown_one(tp, sv);
}

/* An fd inserted with no interest is never reported. */
static void test_no_interest_silent(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int sv[2];

    (void)state;
    setup_one(&tp, sv, &r);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(r.calls, 0);
    teardown_one(tp, sv);
}

/* Interest changed by the fd's own callback, which a one-shot backend
 * reads back when it re-arms after the callback: a stop and a want keep
 * a ready fd reported, a switch reports the new direction, a stop
 * silences it. The byte is never read: the fd stays readable. */
struct self_change {
    int calls;
    unsigned events;
    int mode; /* 0: nothing, 1: stop, 2: stop + want, 3: recv -> send */
};

static void change_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct self_change *s = owner;

    s->calls++;
    s->events |= events;
    if (s->mode >= 1)
        assert_int_equal(tpoll_stop_recv(tp, fd), 0);
    if (s->mode == 2)
        assert_int_equal(tpoll_want_recv(tp, fd), 0);
    if (s->mode == 3)
        assert_int_equal(tpoll_want_send(tp, fd), 0);
}

static void test_change_in_callback(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct self_change s = {.mode = 2};
    int sv[2], i;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], change_cb, &s, 1), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (i = 1; i <= 3; i++) {
        assert_int_equal(tpoll_wait(tp, 1000), 1);
        assert_int_equal(s.calls, i);
    }
    s.mode = 3;
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(s.events, TPOLL_RECV);
    s.mode = 0;
    s.events = 0;
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(s.events, TPOLL_SEND);
    assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
    s.mode = 1;
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(s.calls, 6);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(s.calls, 6);
    teardown_one(tp, sv);
}

/* More ready fds than the poller fetches per call: every one is still
 * reported, over several waits. */
static void test_small_batch(void **state)
{
    struct tpoll_options o;
    struct tpoll *tp = NULL;
    struct rec r[6];
    int sv[6][2], i, total = 0, rounds = 0;

    (void)state;
    tpoll_options_init(&o);
    o.batch = 2;
    assert_int_equal(tpoll_create(&tp, &o), 0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    memset(r, 0, sizeof(r));
    for (i = 0; i < 6; i++) {
        tu_socketpair(sv[i]);
        r[i].read_one = 1;
        assert_int_equal(tpoll_fd_insert(tp, sv[i][0], rec_cb, &r[i], 1), 0);
        assert_int_equal(tpoll_want_recv(tp, sv[i][0]), 0);
        tu_write_byte(sv[i][1]);
    }
    while (total < 6 && rounds++ < 20) {
        int n = tpoll_wait(tp, 1000);

        assert_true(n >= 1);
        total += n;
    }
    assert_int_equal(total, 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(tpoll_fd_delete(tp, sv[i][0]), 0);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recv_pipe),
        cmocka_unit_test(test_send_readiness),
        cmocka_unit_test(test_level_repeat),
        cmocka_unit_test(test_both_directions),
        cmocka_unit_test(test_stop_want_toggles),
        cmocka_unit_test(test_no_interest_silent),
        cmocka_unit_test(test_small_batch),
        cmocka_unit_test(test_change_in_callback),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
