/* SPDX-License-Identifier: MIT */
/* Several event-loop threads: thread-local fds leave idle threads asleep,
 * shared fds run only on threads of their mask, a late thread registers
 * what exists, and remote interest changes and wakes reach sleepers. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Per-fd record for callbacks running on loop threads. */
struct trec {
    struct tpoll *tp;
    tpoll_mask_t allowed; /* threads the callback may run on */
    atomic_int bad_thread;
    atomic_int on[4]; /* callbacks per thread id */
    struct tu_event ev;
    int drain;
};

static void trec_init(struct trec *r, struct tpoll *tp, tpoll_mask_t allowed)
{
    memset(r, 0, sizeof(*r));
    r->tp = tp;
    r->allowed = allowed;
    r->drain = 1;
    tu_event_init(&r->ev);
}

static void trec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct trec *r = owner;
    int tid = tpoll_thread_id(tp);

    (void)events;
    if (tid < 0 || tid >= 4 || !(r->allowed & TPOLL_THREAD(tid)))
        atomic_fetch_add(&r->bad_thread, 1);
    else
        atomic_fetch_add(&r->on[tid], 1);
    if (r->drain)
        tu_drain(fd);
    tu_event_post(&r->ev);
}

/* Waits until thread tid has finished an update pass that saw `n` fds in
 * total since it started, so that it is about to sleep with them set up. */
static void wait_updates(struct tpoll *tp, int tid, uint64_t n)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (tu_counters(tp, tid).updates < n) {
        assert_true(tu_now_ms() < end);
        sched_yield();
    }
}

/*
 * Each thread owns its own fd. Traffic on thread 0's fd, including
 * interest changes made from the main thread, must neither wake nor loop
 * thread 1.
 */
static void test_idle_thread_not_woken(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0, l1;
    struct trec r0, r1;
    struct tpoll_counters before, after, busy;
    unsigned long loops1;
    int a[2], b[2], i;

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    trec_init(&r0, tp, TPOLL_THREAD(0));
    trec_init(&r1, tp, TPOLL_THREAD(1));
    tu_loop_start(&l0, tp, 0);
    tu_loop_start(&l1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, a[0], trec_cb, &r0, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], trec_cb, &r1, 2), 0);
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    wait_updates(tp, 1, 1);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    wait_updates(tp, 0, 1);
    before = tu_counters(tp, 1);
    loops1 = atomic_load(&l1.loops);
    busy = tu_counters(tp, 0);

    for (i = 0; i < 100; i++) {
        tu_write_byte(a[1]);
        assert_true(tu_event_wait(&r0.ev, i + 1));
        if (i % 2) {
            assert_int_equal(tpoll_stop_recv(tp, a[0]), 0);
            assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
        }
    }

    after = tu_counters(tp, 1);
    /* The wait that was blocking at the snapshot was counted before it. */
    assert_true(tu_counters(tp, 0).loops >= busy.loops + 99);
    assert_int_equal(after.loops, before.loops);
    assert_int_equal(after.wakeups, before.wakeups);
    assert_int_equal(after.polls, before.polls);
    assert_int_equal(atomic_load(&l1.loops), loops1);
    assert_int_equal(atomic_load(&r1.on[1]), 0);
    assert_int_equal(atomic_load(&r0.bad_thread), 0);

    /* And thread 1 still works when its own fd has traffic. */
    tu_write_byte(b[1]);
    assert_true(tu_event_wait(&r1.ev, 1));
    assert_int_equal(atomic_load(&r1.on[1]), 1);

    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    assert_int_equal(tpoll_fd_delete(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, b[0]), 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    tu_event_destroy(&r0.ev);
    tu_event_destroy(&r1.ev);
    tu_destroy(tp);
}

/* An fd shared by threads 0 and 2 of three: every callback runs on one of
 * them, never on thread 1. */
static void test_shared_fd(void **state)
{
    struct tpoll *tp = tu_create(3, 0);
    struct tu_loop l[3];
    struct trec r;
    int sv[2], i;
    tpoll_mask_t mask = TPOLL_THREAD(0) | TPOLL_THREAD(2);

    (void)state;
    tu_socketpair(sv);
    trec_init(&r, tp, mask);
    for (i = 0; i < 3; i++)
        tu_loop_start(&l[i], tp, i);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], trec_cb, &r, mask), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (i = 0; i < 50; i++) {
        tu_write_byte(sv[1]);
        assert_true(tu_event_wait(&r.ev, i + 1));
    }
    for (i = 0; i < 3; i++)
        tu_loop_stop(&l[i]);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(atomic_load(&r.on[1]), 0);
    assert_true(atomic_load(&r.on[0]) + atomic_load(&r.on[2]) >= 50);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/* Fds inserted, with interest and even ready, before their thread starts:
 * the starting thread registers them. */
static void test_late_thread_registers(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0, l1;
    struct trec r[3];
    int sv[3][2], i;

    (void)state;
    tu_loop_start(&l0, tp, 0);
    for (i = 0; i < 3; i++) {
        tu_socketpair(sv[i]);
        trec_init(&r[i], tp, TPOLL_THREAD(1));
        assert_int_equal(
            tpoll_fd_insert(tp, sv[i][0], trec_cb, &r[i], TPOLL_THREAD(1)), 0);
        assert_int_equal(tpoll_want_recv(tp, sv[i][0]), 0);
    }
    tu_write_byte(sv[0][1]);
    tu_loop_start(&l1, tp, 1);
    assert_true(tu_event_wait(&r[0].ev, 1));
    tu_write_byte(sv[1][1]);
    tu_write_byte(sv[2][1]);
    assert_true(tu_event_wait(&r[1].ev, 1));
    assert_true(tu_event_wait(&r[2].ev, 1));
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    for (i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&r[i].bad_thread), 0);
        assert_int_equal(tpoll_fd_delete(tp, sv[i][0]), 0);
        close(sv[i][0]);
        close(sv[i][1]);
        tu_event_destroy(&r[i].ev);
    }
    tu_destroy(tp);
}

/*
 * Returns once l's thread has run a whole tpoll_wait that began after the
 * call: its update pass saw every change made before, and every callback
 * of an earlier wait has returned. Two wakes: the first ends the wait in
 * progress (which may have begun before), the second a wait that began
 * after it. Counting update-pass entries instead fell short when the
 * previous round's last callback ran late on a one-shot backend (port):
 * the want and the stop then shared the fd's pending entry, and the count
 * never reached its target.
 */
static void wait_iteration_after(struct tpoll *tp, struct tu_loop *l)
{
    unsigned long from = atomic_load(&l->loops), k;

    for (k = 1; k <= 2; k++) {
        assert_int_equal(tpoll_wake(tp, l->tid), 0);
        assert_true(tu_wait_atomic(&l->loops, from + k));
    }
}

/*
 * Thread 1 sleeps in wait(-1) with its fd readable but not wanted. Thread
 * 0 (here the main thread, bound) wants recv: thread 1 must wake, register
 * and run the callback, with no other traffic to help it.
 */
static void test_remote_interest_wakes_sleeper(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l1;
    struct trec r;
    int sv[2], round;

    (void)state;
    tu_socketpair(sv);
    trec_init(&r, tp, TPOLL_THREAD(1));
    r.drain = 0;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_loop_start(&l1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], trec_cb, &r, 2), 0);
    tu_write_byte(sv[1]);
    for (round = 1; round <= 5; round++) {
        assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
        assert_true(tu_event_wait(&r.ev, 1));
        /* Stop from the sleeper's side of the world, then count again
         * once no callback of this round can still come. */
        assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
        wait_iteration_after(tp, &l1);
        pthread_mutex_lock(&r.ev.mu);
        r.ev.count = 0;
        pthread_mutex_unlock(&r.ev.mu);
    }
    tu_loop_stop(&l1);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/* The same from an unbound thread, on a thread that owns several fds. */
static void test_unbound_changer(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_loop l0;
    struct trec r;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    trec_init(&r, tp, TPOLL_THREAD(0));
    tu_loop_start(&l0, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], trec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_true(tu_event_wait(&r.ev, 1));
    assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
    tu_loop_stop(&l0);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/* tpoll_wake returns a thread from wait(-1), once per wake. */
static void test_wake(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l1;
    int i;

    (void)state;
    tu_loop_start(&l1, tp, 1);
    for (i = 0; i < 5; i++) {
        unsigned long loops = atomic_load(&l1.loops);

        assert_int_equal(tpoll_wake(tp, 1), 0);
        assert_true(tu_wait_atomic(&l1.loops, loops + 1));
    }
    assert_true(tu_counters(tp, 1).wakeups >= 1);
    assert_int_equal(tu_counters(tp, 1).callbacks, 0);
    assert_int_equal(tpoll_wake(tp, 2), -EINVAL);
    assert_int_equal(tpoll_wake(tp, -1), -EINVAL);
    /* A thread id that is not started: accepted, nothing happens. */
    assert_int_equal(tpoll_wake(tp, 0), 0);
    tu_loop_stop(&l1);
    tu_destroy(tp);
}

/* A thread that stops and starts again (with a new poller) registers its
 * fds again; the fds never noticed. */
static void test_thread_restart(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l1;
    struct trec r;
    int sv[2], i;

    (void)state;
    tu_socketpair(sv);
    trec_init(&r, tp, TPOLL_THREAD(1));
    assert_int_equal(tpoll_fd_insert(tp, sv[0], trec_cb, &r, 2), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (i = 1; i <= 3; i++) {
        tu_loop_start(&l1, tp, 1);
        tu_write_byte(sv[1]);
        assert_true(tu_event_wait(&r.ev, i));
        tu_loop_stop(&l1);
    }
    assert_int_equal(atomic_load(&r.on[1]), 3);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/*
 * A thread started when every number below FD_SETSIZE is taken: select
 * cannot watch the wake fd it would get, and says so the way insert does
 * (-ERANGE), not as if descriptors had run out (-EMFILE sent users looking
 * for a leak). Other backends start. The fillers and the raised limit are
 * undone by the group's teardown, even when an assertion fails.
 */
static struct rlimit saved_limit;
static int fillers[FD_SETSIZE + 8], nfillers;

static int fill_low_numbers(void **state)
{
    struct rlimit rl;
    int fd;

    (void)state;
    nfillers = 0;
    if (getrlimit(RLIMIT_NOFILE, &saved_limit) != 0)
        return -1;
    rl = saved_limit;
    if (rl.rlim_cur < FD_SETSIZE + 64) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < FD_SETSIZE + 64)
            return -1;
        rl.rlim_cur = FD_SETSIZE + 64;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -1;
    }
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 &&
           fd < FD_SETSIZE && nfillers < FD_SETSIZE)
        fillers[nfillers++] = fd;
    if (fd >= 0)
        fillers[nfillers++] = fd; /* the first at or above FD_SETSIZE */
    return 0;
}

static int unfill_low_numbers(void **state)
{
    (void)state;
    while (nfillers > 0)
        close(fillers[--nfillers]);
    return setrlimit(RLIMIT_NOFILE, &saved_limit);
}

static void test_start_with_no_low_fd_left(void **state)
{
    struct tpoll *tp = tu_create(1, FD_SETSIZE + 64);
    int err;

    (void)state;
    err = tpoll_thread_start(tp, 0);
    if (strcmp(tpoll_backend_name(tp), "select") == 0) {
        assert_int_equal(err, -ERANGE);
    } else {
        assert_int_equal(err, 0);
        assert_int_equal(tpoll_thread_stop(tp), 0);
    }
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_thread_not_woken),
        cmocka_unit_test(test_shared_fd),
        cmocka_unit_test(test_late_thread_registers),
        cmocka_unit_test(test_remote_interest_wakes_sleeper),
        cmocka_unit_test(test_unbound_changer),
        cmocka_unit_test(test_wake),
        cmocka_unit_test(test_thread_restart),
        cmocka_unit_test_setup_teardown(test_start_with_no_low_fd_left,
                                        fill_low_numbers, unfill_low_numbers),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
