/* SPDX-License-Identifier: MIT */
/*
 * tpoll_run and tpoll_stop from other threads, a stop sent before the run
 * began, and tpoll_fd_visit closing a thread's connections before
 * destroy.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

struct runner {
    struct tpoll *tp;
    pthread_t thread;
    int tid;
    int err;
    atomic_int bound, go, returned;
};

static void *run_main(void *arg)
{
    struct runner *r = arg;

    assert_int_equal(tpoll_thread_start(r->tp, r->tid), 0);
    atomic_store(&r->bound, 1);
    while (!atomic_load(&r->go))
        sched_yield();
    r->err = tpoll_run(r->tp);
    atomic_store(&r->returned, 1);
    assert_int_equal(tpoll_thread_stop(r->tp), 0);
    return NULL;
}

static void runner_start(struct runner *r, struct tpoll *tp, int tid, int go)
{
    memset(r, 0, sizeof(*r));
    r->tp = tp;
    r->tid = tid;
    atomic_store(&r->go, go);
    assert_int_equal(pthread_create(&r->thread, NULL, run_main, r), 0);
    while (!atomic_load(&r->bound))
        sched_yield();
}

/* Stopped from another thread while it sleeps in tpoll_run. */
static void test_stop_from_another_thread(void **state)
{
    struct tpoll *tp = tu_create(3, 64);
    struct runner a, b;

    (void)state;
    runner_start(&a, tp, 1, 1);
    runner_start(&b, tp, 2, 1);
    assert_int_equal(tpoll_stop(tp, 2), 0);
    assert_int_equal(pthread_join(b.thread, NULL), 0);
    assert_int_equal(b.err, 0);
    assert_int_equal(atomic_load(&a.returned), 0);
    assert_int_equal(tpoll_stop(tp, 1), 0);
    assert_int_equal(pthread_join(a.thread, NULL), 0);
    assert_int_equal(a.err, 0);
    tu_destroy(tp);
}

/* A stop sent after the thread bound and before it entered tpoll_run
 * makes the run return at once; the next run waits for a new stop. */
static void test_stop_before_run(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct runner r;

    (void)state;
    runner_start(&r, tp, 1, 0);
    assert_int_equal(tpoll_stop(tp, 1), 0);
    assert_int_equal(tpoll_stop(tp, 1), 0);
    atomic_store(&r.go, 1);
    assert_int_equal(pthread_join(r.thread, NULL), 0);
    assert_int_equal(r.err, 0);

    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_stop(tp, 0), 0);
    assert_int_equal(tpoll_run(tp), 0);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, -1), 0); /* the wake, not a stop */
    tu_destroy(tp);
}

/* A stop sent to an id nobody holds is refused and not remembered. */
static void test_stop_unbound(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct runner r;

    (void)state;
    assert_int_equal(tpoll_stop(tp, 1), -ESRCH);
    runner_start(&r, tp, 1, 1);
    /* The run must not have returned for the refused stop: it returns
     * with the next one, which it must have waited for. */
    assert_int_equal(atomic_load(&r.returned), 0);
    assert_int_equal(tpoll_stop(tp, 1), 0);
    assert_int_equal(pthread_join(r.thread, NULL), 0);
    tu_destroy(tp);
}

static void stop_me(struct tpoll *tp, void *arg)
{
    (void)arg;
    assert_int_equal(tpoll_run(tp), -EBUSY);
    assert_int_equal(tpoll_stop(tp, tpoll_thread_id(tp)), 0);
}

/* From inside a callback a run is refused; a stop from there ends the
 * run that dispatched it. */
static void test_run_errors_and_stop_from_callback(void **state)
{
    struct tpoll *tp = tu_create(2, 64);

    (void)state;
    assert_int_equal(tpoll_run(NULL), -EINVAL);
    assert_int_equal(tpoll_run(tp), -EPERM);
    assert_int_equal(tpoll_stop(NULL, 0), -EINVAL);
    assert_int_equal(tpoll_stop(tp, -1), -EINVAL);
    assert_int_equal(tpoll_stop(tp, 2), -EINVAL);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_call(tp, 0, stop_me, NULL), 0);
    assert_int_equal(tpoll_run(tp), 0);
    tu_destroy(tp);
}

/* ---- visiting the fds ---- */

struct visit {
    int fds[16];
    void *owners[16];
    int n, stop_at;
    int delete_them;
};

static int visit_cb(struct tpoll *tp, int fd, void *owner, void *arg)
{
    struct visit *v = arg;

    v->fds[v->n] = fd;
    v->owners[v->n] = owner;
    v->n++;
    if (v->delete_them) {
        assert_int_equal(tpoll_fd_delete(tp, fd), 0);
        close(fd);
    }
    return v->n == v->stop_at ? 42 : 0;
}

static void test_fd_visit(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct visit v;
    int p[3][2], i;

    (void)state;
    for (i = 0; i < 3; i++) {
        tu_socketpair(p[i]);
        assert_int_equal(tpoll_fd_insert(tp, p[i][0], tu_noop_cb, &p[i],
                                         i == 2 ? 3 : TPOLL_THREAD(i)),
                         0);
    }
    memset(&v, 0, sizeof(v));
    assert_int_equal(tpoll_fd_visit(tp, TPOLL_THREAD(1), visit_cb, &v), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.fds[0], p[1][0] < p[2][0] ? p[1][0] : p[2][0]);
    assert_ptr_equal(v.owners[0],
                     v.fds[0] == p[1][0] ? (void *)&p[1] : (void *)&p[2]);
    memset(&v, 0, sizeof(v));
    v.stop_at = 2;
    assert_int_equal(tpoll_fd_visit(tp, ~(tpoll_mask_t)0, visit_cb, &v), 42);
    assert_int_equal(v.n, 2);
    assert_int_equal(tpoll_fd_visit(NULL, 1, visit_cb, &v), -EINVAL);
    assert_int_equal(tpoll_fd_visit(tp, 1, NULL, &v), -EINVAL);
    /* Closing every connection, as a program does before destroy. */
    memset(&v, 0, sizeof(v));
    v.delete_them = 1;
    assert_int_equal(tpoll_fd_visit(tp, ~(tpoll_mask_t)0, visit_cb, &v), 0);
    assert_int_equal(v.n, 3);
    memset(&v, 0, sizeof(v));
    assert_int_equal(tpoll_fd_visit(tp, ~(tpoll_mask_t)0, visit_cb, &v), 0);
    assert_int_equal(v.n, 0);
    for (i = 0; i < 3; i++)
        close(p[i][1]);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_from_another_thread),
        cmocka_unit_test(test_stop_before_run),
        cmocka_unit_test(test_stop_unbound),
        cmocka_unit_test(test_run_errors_and_stop_from_callback),
        cmocka_unit_test(test_fd_visit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
