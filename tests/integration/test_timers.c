/* SPDX-License-Identifier: MIT */
/*
 * Timers through the public API: expiry order (ties in arm order), never
 * early against the monotonic clock, cancel and re-arm from callbacks and
 * from other threads, timers of a thread that stops, the pattern that
 * frees a timer another thread may still fire, and the lateness
 * distribution (printed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A timer that records when and where it fired. */
struct rec {
    struct tpoll_timer t;
    int id;
    uint64_t delay;
    uint64_t armed_ns; /* read before the arm call */
    uint64_t fired_ns;
    int fired, tid;
};

struct log {
    int n, want;
    int order[200000];
};

static struct log *log_new(int want)
{
    struct log *l = calloc(1, sizeof(*l));

    assert_non_null(l);
    l->want = want;
    return l;
}

static struct log *the_log;

static void rec_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct rec *r = arg;

    assert_ptr_equal(&r->t, t);
    r->fired_ns = now_ns();
    r->fired++;
    r->tid = tpoll_thread_id(tp);
    if (the_log != NULL)
        the_log->order[the_log->n++] = r->id;
}

static int log_full(void *arg)
{
    struct log *l = arg;

    return l->n >= l->want;
}

static void arm_rec(struct tpoll *tp, struct rec *r, uint64_t delay)
{
    r->delay = delay;
    r->armed_ns = now_ns();
    assert_int_equal(tpoll_timer_arm(tp, &r->t, delay), 0);
}

static void init_recs(struct tpoll *tp, struct rec *r, int n, int tid)
{
    int i;

    for (i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].id = i;
        assert_int_equal(tpoll_timer_init(tp, &r[i].t, tid, rec_cb, &r[i]), 0);
    }
}

static void expect_not_early(const struct rec *r)
{
    assert_true(r->fired_ns - r->armed_ns >= r->delay * 1000000u);
}

/*
 * n timers armed in one batch with delay(i), every third one cancelled
 * again if `cancel`: the others fire once each, by delay, ties in the
 * order armed, never early; the cancelled ones never.
 */
static void fire_in_order(int n, uint64_t (*delay)(int i), int cancel)
{
    struct tpoll *tp = tu_create(1, 64);
    struct rec *r = calloc((size_t)n, sizeof(*r));
    int i, last_id = -1;
    uint64_t last = 0;

    assert_non_null(r);
    the_log = log_new(n);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    init_recs(tp, r, n, 0);
    for (i = 0; i < n; i++)
        arm_rec(tp, &r[i], delay(i));
    for (i = 0; cancel && i < n; i += 3)
        assert_int_equal(tpoll_timer_cancel(tp, &r[i].t), 1);
    the_log->want = cancel ? n - (n + 2) / 3 : n;
    assert_true(tu_wait_until(tp, log_full, the_log));
    for (i = 0; i < the_log->want; i++) {
        const struct rec *x = &r[the_log->order[i]];

        assert_false(cancel && x->id % 3 == 0);
        assert_int_equal(x->fired, 1);
        assert_true(x->delay > last || (x->delay == last && x->id > last_id));
        last = x->delay;
        last_id = x->id;
        expect_not_early(x);
    }
    free(the_log);
    the_log = NULL;
    free(r);
    tu_destroy(tp);
}

static uint64_t with_ties(int i)
{
    return (uint64_t)(i * 7 % 13);
}

static void test_order_and_ties(void **state)
{
    (void)state;
    fire_in_order(40, with_ties, 0);
}

/* tpoll_wait(-1) with only a timer armed blocks until it is due, then
 * returns its callback in the count. */
static void test_wait_timeout_shrinks(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct rec r;
    int n;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    init_recs(tp, &r, 1, 0);
    arm_rec(tp, &r, 5);
    do
        n = tpoll_wait(tp, -1);
    while (n == 0 || n == -EINTR);
    assert_int_equal(n, 1);
    assert_int_equal(r.fired, 1);
    expect_not_early(&r);
    tu_destroy(tp);
}

/* A chain that re-arms itself from its callback, measured each time. */
struct chain {
    struct tpoll_timer t;
    int left;
    uint64_t delay, armed_ns;
    uint64_t *late_ns;
    int n;
};

static void chain_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct chain *c = arg;
    uint64_t now = now_ns();

    assert_true(now - c->armed_ns >= c->delay * 1000000u);
    c->late_ns[c->n++] = now - c->armed_ns - c->delay * 1000000u;
    if (--c->left == 0)
        return;
    c->armed_ns = now_ns();
    assert_int_equal(tpoll_timer_arm(tp, t, c->delay), 0);
}

static int chain_done(void *arg)
{
    return ((struct chain *)arg)->left == 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Never early, and how late: the distribution is printed (the loop's
 * timeout has 1 ms resolution, so up to about 1 ms plus scheduling). */
static void test_never_early_and_lateness(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct chain c = {.left = 200, .delay = 2};
    uint64_t late[200];

    (void)state;
    c.late_ns = late;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_timer_init(tp, &c.t, 0, chain_cb, &c), 0);
    c.armed_ns = now_ns();
    assert_int_equal(tpoll_timer_arm(tp, &c.t, c.delay), 0);
    assert_true(tu_wait_until(tp, chain_done, &c));
    qsort(late, 200, sizeof(late[0]), cmp_u64);
    print_message("lateness of a 2 ms timer over 200 fires (%s): "
                  "min %.3f p50 %.3f p90 %.3f p99 %.3f max %.3f ms\n",
                  tu_backend(), (double)late[0] / 1e6, (double)late[100] / 1e6,
                  (double)late[180] / 1e6, (double)late[198] / 1e6,
                  (double)late[199] / 1e6);
    tu_destroy(tp);
}

/* From a callback: cancel a timer due in the same millisecond (it does
 * not fire), re-arm another; the firing timer is no longer armed. */
struct trio {
    struct tpoll_timer a, b, c;
    int fa, fb, fc;
    int cancel_b, cancel_self;
    uint64_t rearmed_ns, c_ns;
};

static void trio_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct trio *x = arg;

    if (t == &x->a) {
        x->fa++;
        x->cancel_self = tpoll_timer_cancel(tp, &x->a);
        x->cancel_b = tpoll_timer_cancel(tp, &x->b);
        x->rearmed_ns = now_ns();
        assert_int_equal(tpoll_timer_arm(tp, &x->c, 20), 0);
    } else if (t == &x->b) {
        x->fb++;
    } else {
        x->fc++;
        x->c_ns = now_ns();
    }
}

static int trio_done(void *arg)
{
    return ((struct trio *)arg)->fc > 0;
}

static void test_cancel_and_rearm_in_callback(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct trio x;

    (void)state;
    memset(&x, 0, sizeof(x));
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_timer_init(tp, &x.a, 0, trio_cb, &x), 0);
    assert_int_equal(tpoll_timer_init(tp, &x.b, 0, trio_cb, &x), 0);
    assert_int_equal(tpoll_timer_init(tp, &x.c, 0, trio_cb, &x), 0);
    assert_int_equal(tpoll_timer_arm(tp, &x.a, 5), 0);
    assert_int_equal(tpoll_timer_arm(tp, &x.b, 5), 0);
    assert_int_equal(tpoll_timer_arm(tp, &x.c, 5), 0);
    assert_true(tu_wait_until(tp, trio_done, &x));
    assert_int_equal(x.fa, 1);
    assert_int_equal(x.fb, 0);
    assert_int_equal(x.fc, 1);
    assert_int_equal(x.cancel_self, 0);
    assert_int_equal(x.cancel_b, 1);
    assert_true(x.c_ns - x.rearmed_ns >= 20000000u);
    /* Cancelled on its thread: nothing armed any more. */
    assert_int_equal(tpoll_timer_cancel(tp, &x.b), 0);
    assert_int_equal(tpoll_timer_cancel(tp, &x.c), 0);
    tu_destroy(tp);
}

/* ---- other threads ---- */

/* Runs fn(tp, arg) on thread tid through a call, and waits for it. */
struct on {
    void (*fn)(struct tpoll *tp, void *arg);
    void *arg;
    struct tu_event done;
};

static void on_call(struct tpoll *tp, void *arg)
{
    struct on *o = arg;

    o->fn(tp, o->arg);
    tu_event_post(&o->done);
}

static void run_on(struct tpoll *tp, int tid,
                   void (*fn)(struct tpoll *tp, void *arg), void *arg)
{
    struct on o = {.fn = fn, .arg = arg};

    tu_event_init(&o.done);
    assert_int_equal(tpoll_call(tp, tid, on_call, &o), 0);
    assert_true(tu_event_wait(&o.done, 1));
    tu_event_destroy(&o.done);
}

struct probe {
    struct tpoll_timer *t;
    int was_armed;
};

static void cancel_here(struct tpoll *tp, void *arg)
{
    struct probe *p = arg;

    p->was_armed = tpoll_timer_cancel(tp, p->t);
}

static int armed_on(struct tpoll *tp, int tid, struct tpoll_timer *t)
{
    struct probe p = {t, -1};

    run_on(tp, tid, cancel_here, &p);
    return p.was_armed;
}

struct fired {
    struct tpoll_timer t;
    struct tu_event ev;
    atomic_int tid;
};

static void fired_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct fired *f = arg;

    (void)t;
    atomic_store(&f->tid, tpoll_thread_id(tp));
    tu_event_post(&f->ev);
}

/* Armed from another thread, it fires on its own; a cancel from another
 * thread is applied by its thread before the calls posted after it. */
static void test_cross_thread_arm_and_cancel(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_loop l;
    struct fired f;

    (void)state;
    tu_event_init(&f.ev);
    tu_loop_start(&l, tp, 1);
    assert_int_equal(tpoll_timer_init(tp, &f.t, 1, fired_cb, &f), 0);
    assert_int_equal(tpoll_timer_arm(tp, &f.t, 1), 0);
    assert_true(tu_event_wait(&f.ev, 1));
    assert_int_equal(atomic_load(&f.tid), 1);

    assert_int_equal(tpoll_timer_arm(tp, &f.t, 60000), 0);
    assert_int_equal(tpoll_timer_arm(tp, &f.t, 30000), 0);
    assert_int_equal(armed_on(tp, 1, &f.t), 1);
    assert_int_equal(tpoll_timer_arm(tp, &f.t, 60000), 0);
    assert_int_equal(tpoll_timer_cancel(tp, &f.t), 0);
    assert_int_equal(armed_on(tp, 1, &f.t), 0);
    tu_loop_stop(&l);
    assert_int_equal(tu_event_count(&f.ev), 1);
    tu_event_destroy(&f.ev);
    tu_destroy(tp);
}

static void arm_long(struct tpoll *tp, void *arg)
{
    assert_int_equal(tpoll_timer_arm(tp, arg, 60000), 0);
}

/* A stopping thread cancels its timers: none fires, arming from another
 * thread is refused while nobody is bound, cancelling is a no-op, and a
 * new thread of the id starts with none armed. */
static void test_timers_of_a_stopped_thread(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_loop l;
    struct fired f;

    (void)state;
    tu_event_init(&f.ev);
    tu_loop_start(&l, tp, 1);
    assert_int_equal(tpoll_timer_init(tp, &f.t, 1, fired_cb, &f), 0);
    run_on(tp, 1, arm_long, &f.t);
    tu_loop_stop(&l);
    assert_int_equal(tpoll_timer_arm(tp, &f.t, 1), -ESRCH);
    assert_int_equal(tpoll_timer_cancel(tp, &f.t), 0);
    tu_loop_start(&l, tp, 1);
    assert_int_equal(armed_on(tp, 1, &f.t), 0);
    run_on(tp, 1, arm_long, &f.t);
    assert_int_equal(armed_on(tp, 1, &f.t), 1);
    tu_loop_stop(&l);
    assert_int_equal(tu_event_count(&f.ev), 0);
    tu_event_destroy(&f.ev);
    tu_destroy(tp);
}

/* A timer that keeps firing (re-armed by its callback) on thread 1 is
 * freed from thread 0 with the pattern of the contract: a call posted to
 * thread 1 cancels it there, then frees it. (A cancel from thread 0 alone
 * would not do: the callback running meanwhile re-arms the timer after
 * the cancel.) Under ASan a callback on freed memory fails the test. */
struct busy {
    struct tpoll_timer t;
    atomic_int fires;
};

static void busy_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct busy *b = arg;

    atomic_fetch_add(&b->fires, 1);
    assert_int_equal(tpoll_timer_arm(tp, t, 0), 0);
}

static void cancel_and_free(struct tpoll *tp, void *arg)
{
    struct busy *b = arg;

    tpoll_timer_cancel(tp, &b->t);
    free(b);
}

static void test_free_from_another_thread(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_loop l;
    int round;

    (void)state;
    tu_loop_start(&l, tp, 1);
    for (round = 0; round < 20; round++) {
        struct busy *b = calloc(1, sizeof(*b));

        assert_non_null(b);
        assert_int_equal(tpoll_timer_init(tp, &b->t, 1, busy_cb, b), 0);
        assert_int_equal(tpoll_timer_arm(tp, &b->t, 0), 0);
        while (atomic_load(&b->fires) < 2)
            sched_yield();
        assert_int_equal(tpoll_call(tp, 1, cancel_and_free, b), 0);
    }
    tu_loop_stop(&l);
    tu_destroy(tp);
}

static uint64_t spread(int i)
{
    return (uint64_t)((unsigned)i * 2654435761u % 300);
}

/* 100,000 timers on one thread, spread over 300 ms, a third cancelled. */
static void test_many_timers_in_order(void **state)
{
    (void)state;
    fire_in_order(100000, spread, 1);
}

static void test_timer_errors(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tpoll_timer t;

    (void)state;
    assert_int_equal(tpoll_timer_init(NULL, &t, 0, fired_cb, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, NULL, 0, fired_cb, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, 0, NULL, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, 2, fired_cb, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, -1, fired_cb, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, 1, fired_cb, NULL), 0);
    assert_int_equal(tpoll_timer_arm(NULL, &t, 1), -EINVAL);
    assert_int_equal(tpoll_timer_arm(tp, NULL, 1), -EINVAL);
    assert_int_equal(tpoll_timer_arm(tp, &t, TPOLL_TIMER_MAX_MS + 1), -EINVAL);
    assert_int_equal(tpoll_timer_arm(tp, &t, 1), -ESRCH);
    assert_int_equal(tpoll_timer_cancel(NULL, &t), -EINVAL);
    assert_int_equal(tpoll_timer_cancel(tp, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_cancel(tp, &t), 0);
    assert_int_equal(tpoll_thread_start(tp, 1), 0);
    assert_int_equal(tpoll_timer_arm(tp, &t, TPOLL_TIMER_MAX_MS), 0);
    assert_int_equal(tpoll_timer_cancel(tp, &t), 1);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_wait_timeout_shrinks),
        cmocka_unit_test(test_never_early_and_lateness),
        cmocka_unit_test(test_cancel_and_rearm_in_callback),
        cmocka_unit_test(test_cross_thread_arm_and_cancel),
        cmocka_unit_test(test_timers_of_a_stopped_thread),
        cmocka_unit_test(test_free_from_another_thread),
        cmocka_unit_test(test_many_timers_in_order),
        cmocka_unit_test(test_timer_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
