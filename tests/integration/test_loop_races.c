/* SPDX-License-Identifier: MIT */
/*
 * Races of the loop services, each forced at a named point of the core
 * (core/hooks.h): a cancel from another thread while the timer fires, and
 * calls posted to a thread that is stopping.
 */
#include <errno.h>
#include <string.h>

#include "park.h"
#include "testutil.h"

struct fired {
    struct tpoll_timer t;
    atomic_int calls;
};

static void fired_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)tp, (void)t;
    atomic_fetch_add(&((struct fired *)arg)->calls, 1);
}

struct probe {
    struct tpoll_timer *t;
    int armed;
    struct tu_event done;
};

static void probe_call(struct tpoll *tp, void *arg)
{
    struct probe *p = arg;

    p->armed = tpoll_timer_cancel(tp, p->t);
    tu_event_post(&p->done);
}

/* Whether t was armed on thread tid (and cancels it there). */
static int armed_on(struct tpoll *tp, int tid, struct tpoll_timer *t)
{
    struct probe p = {.t = t, .armed = -1};

    tu_event_init(&p.done);
    assert_int_equal(tpoll_call(tp, tid, probe_call, &p), 0);
    assert_true(tu_event_wait(&p.done, 1));
    tu_event_destroy(&p.done);
    return p.armed;
}

/*
 * The owner has taken the timer out of the wheel and is about to run its
 * callback when another thread arms (delay) or cancels (delay < 0) it.
 * The request returns 0 (queued); the callback already begun still runs,
 * once; afterwards the timer is armed as the request said: `armed_after`.
 */
static void request_while_firing(long delay, int armed_after)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_trap *trap = tu_trap_arm(TP_HOOK_TIMER_FIRE, 1);
    struct tu_loop l;
    struct fired f;

    memset(&f, 0, sizeof(f));
    tu_loop_start(&l, tp, 1);
    assert_int_equal(tpoll_timer_init(tp, &f.t, 1, fired_cb, &f), 0);
    assert_int_equal(tpoll_timer_arm(tp, &f.t, 1), 0);
    assert_true(tu_trap_wait(trap));
    if (delay < 0)
        assert_int_equal(tpoll_timer_cancel(tp, &f.t), 0);
    else
        assert_int_equal(tpoll_timer_arm(tp, &f.t, (uint64_t)delay), 0);
    assert_int_equal(atomic_load(&f.calls), 0);
    tu_trap_release(trap);
    assert_int_equal(armed_on(tp, 1, &f.t), armed_after);
    assert_int_equal(atomic_load(&f.calls), 1);
    tu_loop_stop(&l);
    tu_destroy(tp);
}

/* A cancel: the callback begun runs, and never again. */
static void test_cancel_while_firing(void **state)
{
    (void)state;
    request_while_firing(-1, 0);
}

/* A re-arm: the callback begun runs, and the timer is armed again
 * afterwards (the request is applied after it). */
static void test_rearm_while_firing(void **state)
{
    (void)state;
    request_while_firing(60000, 1);
}

struct stopper {
    struct tu_loop *l;
    pthread_t thread;
};

static void *stop_main(void *arg)
{
    tu_loop_stop(((struct stopper *)arg)->l);
    return NULL;
}

struct ran {
    int seq[10];
    int n;
    int tid;
};

static void ran_call(struct tpoll *tp, void *arg)
{
    struct ran *r = arg;

    r->tid = tpoll_thread_id(tp);
    r->seq[r->n] = r->n;
    r->n++;
}

/*
 * Thread 1 is inside tpoll_thread_stop, its gate closed but its calls
 * still taken: calls posted now are accepted and run in that stop, on
 * thread 1; a stop or wake finds nobody to end; once the stop returned,
 * calls are refused.
 */
static void test_calls_posted_while_stopping(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_trap *trap = tu_trap_arm(TP_HOOK_STOP_SERVICES, 1);
    struct tu_loop l;
    struct stopper s = {.l = &l};
    struct ran r;
    int i;

    (void)state;
    memset(&r, 0, sizeof(r));
    tu_loop_start(&l, tp, 1);
    assert_int_equal(pthread_create(&s.thread, NULL, stop_main, &s), 0);
    assert_true(tu_trap_wait(trap));
    for (i = 0; i < 10; i++)
        assert_int_equal(tpoll_call(tp, 1, ran_call, &r), 0);
    assert_int_equal(tpoll_stop(tp, 1), -ESRCH);
    assert_int_equal(tpoll_wake(tp, 1), 0);
    assert_int_equal(r.n, 0);
    tu_trap_release(trap);
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    assert_int_equal(r.n, 10);
    assert_int_equal(r.tid, 1);
    assert_int_equal(tpoll_call(tp, 1, ran_call, &r), -ESRCH);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_while_firing),
        cmocka_unit_test(test_rearm_while_firing),
        cmocka_unit_test(test_calls_posted_while_stopping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
