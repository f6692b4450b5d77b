/* SPDX-License-Identifier: MIT */
/*
 * Cross-thread calls through the public API: FIFO per producer under
 * contention (past the ring, into allocated nodes), every accepted call
 * runs exactly once also while its thread stops, calls from callbacks and
 * to the calling thread itself, and the errors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PRODUCERS 3
#define PER_PRODUCER 20000

struct fifo {
    struct tpoll *tp;
    int target;
    atomic_long next[PRODUCERS]; /* next sequence number expected */
    atomic_int bad_order, bad_thread;
    atomic_ulong ran;
};

struct msg {
    struct fifo *f;
    int producer;
    long seq;
};

static void fifo_call(struct tpoll *tp, void *arg)
{
    struct msg *m = arg;
    struct fifo *f = m->f;

    if (tpoll_thread_id(tp) != f->target)
        atomic_fetch_add(&f->bad_thread, 1);
    if (atomic_load(&f->next[m->producer]) != m->seq)
        atomic_fetch_add(&f->bad_order, 1);
    atomic_store(&f->next[m->producer], m->seq + 1);
    atomic_fetch_add(&f->ran, 1);
}

struct producer {
    struct fifo *f;
    int id;
    pthread_t thread;
    struct msg *msgs;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    long i;

    for (i = 0; i < PER_PRODUCER; i++) {
        p->msgs[i].f = p->f;
        p->msgs[i].producer = p->id;
        p->msgs[i].seq = i;
        assert_int_equal(
            tpoll_call(p->f->tp, p->f->target, fifo_call, &p->msgs[i]), 0);
    }
    return NULL;
}

/* Three producers (two unbound, one bound to another thread id) post to
 * one thread, faster than it runs them at first: each one's calls run in
 * its order, all of them, on the target. */
static void test_fifo_per_producer(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct fifo f;
    struct producer p[PRODUCERS];
    struct tu_loop l;
    int i;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.tp = tp;
    f.target = 1;
    tu_loop_start(&l, tp, 1);
    for (i = 0; i < PRODUCERS; i++) {
        p[i].f = &f;
        p[i].id = i;
        p[i].msgs = calloc(PER_PRODUCER, sizeof(*p[i].msgs));
        assert_non_null(p[i].msgs);
    }
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    for (i = 1; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&p[i].thread, NULL, produce, &p[i]), 0);
    produce(&p[0]);
    for (i = 1; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(p[i].thread, NULL), 0);
    assert_true(tu_wait_atomic(&f.ran, PRODUCERS * PER_PRODUCER));
    assert_int_equal(atomic_load(&f.bad_order), 0);
    assert_int_equal(atomic_load(&f.bad_thread), 0);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tu_loop_stop(&l);
    for (i = 0; i < PRODUCERS; i++)
        free(p[i].msgs);
    tu_destroy(tp);
}

/* Producers post while the target starts and stops again and again:
 * every call accepted (0) runs exactly once, on the target; a refused one
 * (-ESRCH) never. */
struct churn {
    struct tpoll *tp;
    atomic_int done;
    atomic_ulong accepted, ran;
    atomic_int bad;
};

static void churn_call(struct tpoll *tp, void *arg)
{
    struct churn *c = arg;

    if (tpoll_thread_id(tp) != 1)
        atomic_fetch_add(&c->bad, 1);
    atomic_fetch_add(&c->ran, 1);
}

static void *churn_produce(void *arg)
{
    struct churn *c = arg;

    while (!atomic_load(&c->done)) {
        int r = tpoll_call(c->tp, 1, churn_call, c);

        if (r == 0)
            atomic_fetch_add(&c->accepted, 1);
        else if (r != -ESRCH)
            atomic_fetch_add(&c->bad, 1);
    }
    return NULL;
}

static void test_calls_while_thread_stops(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct churn c;
    pthread_t t[2];
    int round, i;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.tp = tp;
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn_produce, &c), 0);
    for (round = 0; round < 200; round++) {
        struct tu_loop l;

        tu_loop_start(&l, tp, 1);
        tu_loop_stop(&l);
    }
    atomic_store(&c.done, 1);
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&c.bad), 0);
    assert_int_equal(atomic_load(&c.ran), atomic_load(&c.accepted));
    tu_destroy(tp);
}

/* Accepted before the stop began: they run inside tpoll_thread_stop, on
 * the stopping thread, in order; afterwards the id refuses calls. */
struct in_stop {
    int ran[300];
    int n;
    int in_stop;
    int wait_ret;
};

static void in_stop_call(struct tpoll *tp, void *arg)
{
    struct in_stop *s = arg;

    assert_int_equal(tpoll_thread_id(tp), 0);
    s->wait_ret = tpoll_wait(tp, 0);
    s->ran[s->n] = s->in_stop;
    s->n++;
}

static void test_calls_run_in_thread_stop(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct in_stop s;
    int i;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    for (i = 0; i < 300; i++)
        assert_int_equal(tpoll_call(tp, 0, in_stop_call, &s), 0);
    s.in_stop = 1;
    assert_int_equal(tpoll_thread_stop(tp), 0);
    assert_int_equal(s.n, 300);
    for (i = 0; i < 300; i++)
        assert_int_equal(s.ran[i], 1);
    assert_int_equal(s.wait_ret, -EBUSY);
    assert_int_equal(tpoll_call(tp, 0, in_stop_call, &s), -ESRCH);
    assert_int_equal(s.n, 300);
    tu_destroy(tp);
}

/* A call to the calling thread runs at its next wait, not inside
 * tpoll_call; one posted from a call runs at the wait after. */
struct self {
    int ran, nested_ran;
};

static void nested_call(struct tpoll *tp, void *arg)
{
    (void)tp;
    ((struct self *)arg)->nested_ran++;
}

static void self_call(struct tpoll *tp, void *arg)
{
    struct self *s = arg;

    s->ran++;
    assert_int_equal(tpoll_call(tp, 0, nested_call, s), 0);
}

static void test_call_to_self(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct self s = {0, 0};

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_call(tp, 0, self_call, &s), 0);
    assert_int_equal(s.ran, 0);
    assert_int_equal(tpoll_wait(tp, -1), 1);
    assert_int_equal(s.ran, 1);
    assert_int_equal(s.nested_ran, 0);
    assert_int_equal(tpoll_wait(tp, -1), 1);
    assert_int_equal(s.nested_ran, 1);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_destroy(tp);
}

/* A burst of calls to a sleeping thread costs it few wake-ups: only the
 * first call of a batch signals it. */
static void count_call(struct tpoll *tp, void *arg)
{
    (void)tp;
    atomic_fetch_add((atomic_ulong *)arg, 1);
}

static void test_burst_wakes_once_per_batch(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_loop l;
    atomic_ulong ran;
    uint64_t wakeups;
    int i;

    (void)state;
    atomic_store(&ran, 0);
    tu_loop_start(&l, tp, 1);
    for (i = 0; i < 1000; i++)
        assert_int_equal(tpoll_call(tp, 1, count_call, &ran), 0);
    assert_true(tu_wait_atomic(&ran, 1000));
    wakeups = tu_counters(tp, 1).wakeups;
    assert_true(wakeups < 1000);
    tu_loop_stop(&l);
    tu_destroy(tp);
}

static void test_call_errors(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    atomic_ulong ran;

    (void)state;
    atomic_store(&ran, 0);
    assert_int_equal(tpoll_call(NULL, 0, count_call, &ran), -EINVAL);
    assert_int_equal(tpoll_call(tp, 0, NULL, &ran), -EINVAL);
    assert_int_equal(tpoll_call(tp, -1, count_call, &ran), -EINVAL);
    assert_int_equal(tpoll_call(tp, 2, count_call, &ran), -EINVAL);
    assert_int_equal(tpoll_call(tp, 1, count_call, &ran), -ESRCH);
    assert_int_equal(tpoll_call(tp, 0, count_call, &ran), -ESRCH);
    tu_destroy(tp);
    assert_int_equal(atomic_load(&ran), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_per_producer),
        cmocka_unit_test(test_calls_while_thread_stops),
        cmocka_unit_test(test_calls_run_in_thread_stop),
        cmocka_unit_test(test_call_to_self),
        cmocka_unit_test(test_burst_wakes_once_per_batch),
        cmocka_unit_test(test_call_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
