/* SPDX-License-Identifier: MIT */
/*
 * Races of the loop services, each forced at a named point of the core
 * (core/hooks.h): a cancel from another thread while the timer fires,
 * calls posted to a thread that is stopping, and a fork while another
 * thread grows a call queue.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A thread bound to an id that takes no calls until told to. */
struct idle_owner {
    struct tpoll *tp;
    pthread_t thread;
    int tid, ran_all;
    atomic_int bound, go;
};

static atomic_int counted;

static void count_call(struct tpoll *tp, void *arg)
{
    (void)tp, (void)arg;
    atomic_fetch_add(&counted, 1);
}

static int counted_all(void *arg)
{
    return atomic_load(&counted) >= *(int *)arg;
}

/* Once told to go, runs the 257 calls queued to it, and stops. */
static void *idle_owner_main(void *arg)
{
    struct idle_owner *o = arg;
    int want = 257;

    assert_int_equal(tpoll_thread_start(o->tp, o->tid), 0);
    atomic_store(&o->bound, 1);
    while (!atomic_load(&o->go))
        sched_yield();
    o->ran_all = tu_wait_until(o->tp, counted_all, &want);
    assert_int_equal(tpoll_thread_stop(o->tp), 0);
    return NULL;
}

static void *fill_ring(void *arg)
{
    struct idle_owner *o = arg;
    int i;

    for (i = 0; i < 257; i++) /* the 257th grows the first array */
        assert_int_equal(tpoll_call(o->tp, o->tid, count_call, NULL), 0);
    return NULL;
}

/* The child's only thread binds the id whose queue was growing and calls
 * itself past the first array twice over. 0 when every call ran. */
static int child_calls_itself(struct tpoll *tp)
{
    int i, want = 600;

    atomic_store(&counted, 0);
    if (tpoll_after_fork(tp) != 0 || tpoll_thread_start(tp, 1) != 0)
        return 2;
    for (i = 0; i < want; i++)
        if (tpoll_call(tp, 1, count_call, NULL) != 0)
            return 3;
    if (!tu_wait_until(tp, counted_all, &want))
        return 4;
    return tpoll_destroy(tp) == 0 ? 0 : 5;
}

/*
 * Another thread forks while a producer is inside the queue's lock with a
 * grown array that is not yet in place (realloc may have freed the old
 * one). The child must not use either array of that queue: its calls to
 * the id run, with no write to freed memory.
 */
static void test_fork_while_a_queue_grows(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tu_trap *trap = tu_trap_arm(TP_HOOK_CALL_RING_GROWN, 1);
    struct idle_owner o = {.tp = tp, .tid = 1};
    pthread_t producer;
    int status;
    pid_t pid;

    (void)state;
    assert_int_equal(pthread_create(&o.thread, NULL, idle_owner_main, &o), 0);
    while (!atomic_load(&o.bound))
        sched_yield();
    assert_int_equal(pthread_create(&producer, NULL, fill_ring, &o), 0);
    assert_true(tu_trap_wait(trap));
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_calls_itself(tp));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    tu_trap_release(trap);
    assert_int_equal(pthread_join(producer, NULL), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's queue is whole: its 257 calls run on the owner. */
    atomic_store(&counted, 0);
    atomic_store(&o.go, 1);
    assert_int_equal(pthread_join(o.thread, NULL), 0);
    assert_true(o.ran_all);
    assert_int_equal(atomic_load(&counted), 257);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_while_firing),
        cmocka_unit_test(test_rearm_while_firing),
        cmocka_unit_test(test_calls_posted_while_stopping),
        cmocka_unit_test(test_fork_while_a_queue_grows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
