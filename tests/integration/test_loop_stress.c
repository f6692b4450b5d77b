/* SPDX-License-Identifier: MIT */
/*
 * The loop services under load, checked against docs/contract.md alone:
 * timers armed, re-armed and cancelled from their thread and from others
 * (never early, at most one run per arm request, idle once a call posted
 * after a cancel ran, cancel's answer on the own thread); calls posted
 * while their targets start, run and stop (each accepted call once, in
 * each producer's order, refused ones never); tpoll_stop from another
 * thread and from a signal handler; watches made and ended while the
 * signal keeps arriving; tpoll_fd_visit while fds come and go; the
 * timers of a stopped thread; bad input changing nothing.
 *
 * No test sleeps for an event: each waits for a condition, with the
 * safety deadline of testutil.h. The other threads count what they see
 * wrong; the test's thread asserts.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* The emulated kevent()/port_send() take a mutex (see test_signals.c):
 * not what a handler runs on the systems they stand for. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "signal:port_send\nsignal:kevent\n";
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A small deterministic generator per thread. */
static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static int deadline_passed(uint64_t start_ms)
{
    return tu_now_ms() - start_ms > TU_DEADLINE_MS;
}

static void block(int signo, int how)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, signo);
    assert_int_equal(pthread_sigmask(how, &set, NULL), 0);
}

/* ---- a thread in tpoll_run, stopped by the test ---- */

struct runner {
    struct tpoll *tp;
    pthread_t thread;
    int tid;
    atomic_int bound, quit, bad;
    atomic_ulong returns;
};

static void *runner_main(void *arg)
{
    struct runner *r = arg;

    block(SIGUSR1, SIG_BLOCK);
    block(SIGUSR2, SIG_BLOCK);
    if (tpoll_thread_start(r->tp, r->tid) != 0) {
        atomic_store(&r->bad, 1);
        atomic_store(&r->bound, 1);
        return NULL;
    }
    atomic_store(&r->bound, 1);
    while (!atomic_load(&r->quit)) {
        if (tpoll_run(r->tp) != 0)
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->returns, 1);
    }
    if (tpoll_thread_stop(r->tp) != 0)
        atomic_fetch_add(&r->bad, 1);
    return NULL;
}

static void runner_start(struct runner *r, struct tpoll *tp, int tid)
{
    memset(r, 0, sizeof(*r));
    r->tp = tp;
    r->tid = tid;
    assert_int_equal(pthread_create(&r->thread, NULL, runner_main, r), 0);
    while (!atomic_load(&r->bound))
        sched_yield();
    assert_int_equal(atomic_load(&r->bad), 0);
}

/* Stopped with tpoll_stop from this (unbound) thread. */
static void runner_end(struct runner *r)
{
    atomic_store(&r->quit, 1);
    assert_int_equal(tpoll_stop(r->tp, r->tid), 0);
    assert_int_equal(pthread_join(r->thread, NULL), 0);
    assert_int_equal(atomic_load(&r->bad), 0);
}

/* A call that sets a flag on its thread: everything that thread was
 * asked before it has been applied. */
struct probe {
    atomic_int done;
    void (*on_thread)(void *);
    void *arg;
};

static void probe_fn(struct tpoll *tp, void *arg)
{
    struct probe *p = arg;

    (void)tp;
    if (p->on_thread != NULL)
        p->on_thread(p->arg);
    atomic_store(&p->done, 1);
}

static void probe_sync(struct tpoll *tp, int tid, void (*fn)(void *), void *arg)
{
    struct probe p = {.on_thread = fn, .arg = arg};
    uint64_t start = tu_now_ms();

    atomic_store(&p.done, 0);
    assert_int_equal(tpoll_call(tp, tid, probe_fn, &p), 0);
    while (!atomic_load(&p.done)) {
        assert_false(deadline_passed(start));
        sched_yield();
    }
}

/* ---- timers from other threads ---- */

/*
 * A timer that one producer thread drives through cycles: the cycle
 * begins at t0, makes one to three requests (arms of the timer's own
 * delay, or cancels, the last one an arm), maybe waits for the timer to
 * fire, then cancels and posts a probe call. The owner's callback checks
 * it is never early (every request of the cycle came after t0) and never
 * runs once the probe ran (idle); the producer checks there were no more
 * runs than arm requests.
 */
#define XT_PER_PRODUCER 8
#define XT_PRODUCERS 2
#define XT_CYCLES 60

enum { XT_IDLE, XT_ACTIVE };

struct xt {
    struct tpoll_timer t;
    struct probe probe;
    uint64_t delay_ms;
    _Atomic uint64_t t0;
    atomic_int phase, fires;
    /* the producer's */
    int step, ops, arms, cycles;
};

struct xt_shared {
    struct tpoll *tp;
    atomic_int early, after_idle, too_many, errors, lost;
};

static struct xt_shared *xt_sh;

static void xt_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct xt *x = arg;

    (void)tp, (void)t;
    if (atomic_load(&x->phase) != XT_ACTIVE)
        atomic_fetch_add(&xt_sh->after_idle, 1);
    if (now_ns() < atomic_load(&x->t0) + x->delay_ms * 1000000u)
        atomic_fetch_add(&xt_sh->early, 1);
    atomic_fetch_add(&x->fires, 1);
}

static void xt_idle(void *arg)
{
    atomic_store(&((struct xt *)arg)->phase, XT_IDLE);
}

enum { S_BEGIN, S_OPS, S_WAIT, S_CANCEL, S_PROBE, S_DONE };

/* One step of x's cycle; returns 1 when x did all its cycles. */
static int xt_step(struct xt *x, unsigned *seed)
{
    struct tpoll *tp = xt_sh->tp;

    switch (x->step) {
    case S_BEGIN:
        atomic_store(&x->fires, 0);
        atomic_store(&x->t0, now_ns());
        atomic_store(&x->phase, XT_ACTIVE);
        x->ops = 1 + (int)(next_rand(seed) % 3);
        x->arms = 0;
        x->step = S_OPS;
        return 0;
    case S_OPS:
        if (x->ops > 1 && next_rand(seed) % 3 == 0) {
            if (tpoll_timer_cancel(tp, &x->t) != 0)
                atomic_fetch_add(&xt_sh->errors, 1);
        } else {
            if (tpoll_timer_arm(tp, &x->t, x->delay_ms) != 0)
                atomic_fetch_add(&xt_sh->errors, 1);
            x->arms++;
        }
        if (--x->ops == 0)
            x->step = next_rand(seed) % 2 ? S_WAIT : S_CANCEL;
        return 0;
    case S_WAIT: /* the last request was an arm: it fires */
        if (atomic_load(&x->fires) > 0)
            x->step = S_CANCEL;
        return 0;
    case S_CANCEL:
        if (tpoll_timer_cancel(tp, &x->t) != 0)
            atomic_fetch_add(&xt_sh->errors, 1);
        x->probe.on_thread = xt_idle;
        x->probe.arg = x;
        atomic_store(&x->probe.done, 0);
        if (tpoll_call(tp, 1, probe_fn, &x->probe) != 0)
            atomic_fetch_add(&xt_sh->errors, 1);
        x->step = S_PROBE;
        return 0;
    case S_PROBE:
        if (!atomic_load(&x->probe.done))
            return 0;
        if (atomic_load(&x->fires) > x->arms)
            atomic_fetch_add(&xt_sh->too_many, 1);
        x->step = ++x->cycles == XT_CYCLES ? S_DONE : S_BEGIN;
        return 0;
    default:
        return 1;
    }
}

struct xt_producer {
    pthread_t thread;
    struct xt x[XT_PER_PRODUCER];
    unsigned seed;
};

static void *xt_produce(void *arg)
{
    struct xt_producer *p = arg;
    uint64_t start = tu_now_ms();
    int i, done;

    do {
        for (done = 0, i = 0; i < XT_PER_PRODUCER; i++)
            done += xt_step(&p->x[i], &p->seed);
        if (deadline_passed(start)) {
            atomic_store(&xt_sh->lost, 1);
            break;
        }
        sched_yield();
    } while (done < XT_PER_PRODUCER);
    return NULL;
}

/*
 * The owner's own timers at the same time: a driver timer on thread 1
 * re-arms itself and arms or cancels local timers at random; a local
 * cancel answers whether the timer was armed, and a local timer never
 * fires early nor when it is not armed.
 */
#define LOCAL_TIMERS 16
#define LOCAL_ROUNDS 400

struct local {
    struct tpoll_timer t;
    uint64_t armed_ns, delay_ms;
    int armed;
};

struct local_set {
    struct tpoll_timer driver;
    struct local l[LOCAL_TIMERS];
    unsigned seed;
    int rounds;
    atomic_int done, bad;
};

static void local_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct local_set *s = arg;
    struct local *l = (struct local *)(void *)t;

    (void)tp;
    if (!l->armed || now_ns() < l->armed_ns + l->delay_ms * 1000000u)
        atomic_fetch_add(&s->bad, 1);
    l->armed = 0;
}

static void driver_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct local_set *s = arg;
    int i;

    for (i = 0; i < 4; i++) {
        struct local *l = &s->l[next_rand(&s->seed) % LOCAL_TIMERS];

        if (next_rand(&s->seed) % 3 == 0) {
            if (tpoll_timer_cancel(tp, &l->t) != l->armed)
                atomic_fetch_add(&s->bad, 1);
            l->armed = 0;
        } else {
            l->delay_ms = next_rand(&s->seed) % 4;
            l->armed_ns = now_ns();
            if (tpoll_timer_arm(tp, &l->t, l->delay_ms) != 0)
                atomic_fetch_add(&s->bad, 1);
            l->armed = 1;
        }
    }
    if (++s->rounds < LOCAL_ROUNDS) {
        if (tpoll_timer_arm(tp, t, next_rand(&s->seed) % 2) != 0)
            atomic_fetch_add(&s->bad, 1);
        return;
    }
    for (i = 0; i < LOCAL_TIMERS; i++)
        if (tpoll_timer_cancel(tp, &s->l[i].t) != s->l[i].armed)
            atomic_fetch_add(&s->bad, 1);
    atomic_store(&s->done, 1);
}

static void start_driver(void *arg)
{
    struct local_set *s = arg;

    assert_int_equal(tpoll_timer_arm(xt_sh->tp, &s->driver, 0), 0);
}

static void test_timers_from_every_side(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct xt_shared sh;
    struct xt_producer *p = calloc(XT_PRODUCERS, sizeof(*p));
    struct local_set *ls = calloc(1, sizeof(*ls));
    struct runner r;
    uint64_t start;
    int i, j;

    (void)state;
    assert_non_null(p);
    assert_non_null(ls);
    memset(&sh, 0, sizeof(sh));
    sh.tp = tp;
    xt_sh = &sh;
    for (i = 0; i < XT_PRODUCERS; i++) {
        p[i].seed = 7u + (unsigned)i;
        for (j = 0; j < XT_PER_PRODUCER; j++) {
            struct xt *x = &p[i].x[j];

            x->delay_ms = (uint64_t)(j % 3);
            assert_int_equal(tpoll_timer_init(tp, &x->t, 1, xt_cb, x), 0);
        }
    }
    ls->seed = 99;
    assert_int_equal(tpoll_timer_init(tp, &ls->driver, 1, driver_cb, ls), 0);
    for (i = 0; i < LOCAL_TIMERS; i++)
        assert_int_equal(tpoll_timer_init(tp, &ls->l[i].t, 1, local_cb, ls), 0);
    runner_start(&r, tp, 1);
    probe_sync(tp, 1, start_driver, ls);
    for (i = 1; i < XT_PRODUCERS; i++)
        assert_int_equal(pthread_create(&p[i].thread, NULL, xt_produce, &p[i]),
                         0);
    xt_produce(&p[0]);
    for (i = 1; i < XT_PRODUCERS; i++)
        assert_int_equal(pthread_join(p[i].thread, NULL), 0);
    start = tu_now_ms();
    while (!atomic_load(&ls->done)) {
        assert_false(deadline_passed(start));
        sched_yield();
    }
    runner_end(&r);
    assert_int_equal(atomic_load(&sh.lost), 0);
    assert_int_equal(atomic_load(&sh.errors), 0);
    assert_int_equal(atomic_load(&sh.early), 0);
    assert_int_equal(atomic_load(&sh.after_idle), 0);
    assert_int_equal(atomic_load(&sh.too_many), 0);
    assert_int_equal(atomic_load(&ls->bad), 0);
    free(p);
    free(ls);
    tu_destroy(tp);
}

/* ---- calls and stops while the targets come and go ---- */

#define CY_TARGETS 2
#define CY_ROUNDS 150
#define CY_PRODUCERS 2
#define CY_MAX_MSGS 60000

struct msg {
    int producer, seq;
    atomic_int ran;
};

struct cy {
    struct tpoll *tp;
    atomic_int cycling; /* targets still cycling */
    atomic_int bad, late_fires, armed_after_start;
    atomic_ulong accepted, refused, ran;
    /* last seq seen per (target, producer), written by the target */
    int last[CY_TARGETS + 1][CY_PRODUCERS];
};

static struct cy *cy_sh;

static void cy_call(struct tpoll *tp, void *arg)
{
    struct msg *m = arg;
    int tid = tpoll_thread_id(tp);

    if (tid < 1 || tid > CY_TARGETS || atomic_fetch_add(&m->ran, 1) != 0 ||
        m->seq <= cy_sh->last[tid][m->producer])
        atomic_fetch_add(&cy_sh->bad, 1);
    else
        cy_sh->last[tid][m->producer] = m->seq;
    atomic_fetch_add(&cy_sh->ran, 1);
}

static void late_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)tp, (void)t, (void)arg;
    atomic_fetch_add(&cy_sh->late_fires, 1);
}

static void soon_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)tp, (void)t, (void)arg;
}

struct cycler {
    pthread_t thread;
    int tid;
    struct tpoll_timer late[2], soon;
};

/* Start, arm, run until stopped, stop: the hour-long timers die with the
 * binding and are found disarmed by the next one. */
static void *cycle_main(void *arg)
{
    struct cycler *c = arg;
    struct tpoll *tp = cy_sh->tp;
    int i, k;

    for (i = 0; i < CY_ROUNDS; i++) {
        if (tpoll_thread_start(tp, c->tid) != 0) {
            atomic_fetch_add(&cy_sh->bad, 1);
            break;
        }
        for (k = 0; k < 2; k++) {
            if (tpoll_timer_cancel(tp, &c->late[k]) != 0)
                atomic_fetch_add(&cy_sh->armed_after_start, 1);
            if (tpoll_timer_arm(tp, &c->late[k], 3600000) != 0)
                atomic_fetch_add(&cy_sh->bad, 1);
        }
        if (tpoll_timer_arm(tp, &c->soon, (uint64_t)(i % 2)) != 0)
            atomic_fetch_add(&cy_sh->bad, 1);
        if (tpoll_run(tp) != 0)
            atomic_fetch_add(&cy_sh->bad, 1);
        if (tpoll_thread_stop(tp) != 0)
            atomic_fetch_add(&cy_sh->bad, 1);
    }
    atomic_fetch_sub(&cy_sh->cycling, 1);
    return NULL;
}

struct cy_producer {
    pthread_t thread;
    int id;
    struct msg *msgs;
    struct tpoll_timer *soon[CY_TARGETS];
};

static void *cy_produce(void *arg)
{
    struct cy_producer *p = arg;
    struct tpoll *tp = cy_sh->tp;
    int n = 0;
    unsigned k = 0;

    while (atomic_load(&cy_sh->cycling) > 0 && n < CY_MAX_MSGS) {
        struct msg *m = &p->msgs[n];
        int tid = 1 + (int)(k++ % CY_TARGETS), r;

        m->producer = p->id;
        m->seq = n + 1;
        r = tpoll_call(tp, tid, cy_call, m);
        /* A refused call never runs: its message is used again, so that
         * refusals (targets not started yet, or between two bindings)
         * do not use up the messages. */
        if (r == 0) {
            atomic_fetch_add(&cy_sh->accepted, 1);
            n++;
        } else if (r == -ESRCH) {
            atomic_fetch_add(&cy_sh->refused, 1);
        } else {
            atomic_fetch_add(&cy_sh->bad, 1);
        }
        /* Cross-thread arms of a timer whose thread comes and goes. */
        r = tpoll_timer_arm(tp, p->soon[k % CY_TARGETS], 0);
        if (r != 0 && r != -ESRCH)
            atomic_fetch_add(&cy_sh->bad, 1);
    }
    return NULL;
}

static void test_calls_and_stops_while_targets_cycle(void **state)
{
    struct tpoll *tp = tu_create(1 + CY_TARGETS, 64);
    struct cy *cy = calloc(1, sizeof(*cy));
    struct cycler c[CY_TARGETS];
    struct cy_producer p[CY_PRODUCERS];
    unsigned long ran_total = 0;
    int i, k;

    (void)state;
    assert_non_null(cy);
    cy->tp = tp;
    cy_sh = cy;
    atomic_store(&cy->cycling, CY_TARGETS);
    for (i = 0; i < CY_TARGETS; i++) {
        c[i].tid = i + 1;
        for (k = 0; k < 2; k++)
            assert_int_equal(
                tpoll_timer_init(tp, &c[i].late[k], i + 1, late_cb, NULL), 0);
        assert_int_equal(tpoll_timer_init(tp, &c[i].soon, i + 1, soon_cb, NULL),
                         0);
    }
    for (i = 0; i < CY_PRODUCERS; i++) {
        p[i].id = i;
        p[i].msgs = calloc(CY_MAX_MSGS, sizeof(struct msg));
        assert_non_null(p[i].msgs);
        for (k = 0; k < CY_TARGETS; k++)
            p[i].soon[k] = &c[k].soon;
        assert_int_equal(pthread_create(&p[i].thread, NULL, cy_produce, &p[i]),
                         0);
    }
    for (i = 0; i < CY_TARGETS; i++)
        assert_int_equal(pthread_create(&c[i].thread, NULL, cycle_main, &c[i]),
                         0);
    /* The targets stay in their first run until a producer's call was
     * accepted: otherwise, on a busy machine, every round could end
     * before a producer ran, and the checks below would see nothing. */
    assert_true(tu_wait_atomic(&cy->accepted, 1));
    /* This thread stops the targets, bound or not, until they are done. */
    while (atomic_load(&cy->cycling) > 0) {
        for (i = 1; i <= CY_TARGETS; i++) {
            int r = tpoll_stop(tp, i);

            if (r != 0 && r != -ESRCH)
                atomic_fetch_add(&cy->bad, 1);
        }
        sched_yield();
    }
    for (i = 0; i < CY_TARGETS; i++)
        assert_int_equal(pthread_join(c[i].thread, NULL), 0);
    for (i = 0; i < CY_PRODUCERS; i++)
        assert_int_equal(pthread_join(p[i].thread, NULL), 0);
    assert_int_equal(atomic_load(&cy->bad), 0);
    assert_int_equal(atomic_load(&cy->late_fires), 0);
    assert_int_equal(atomic_load(&cy->armed_after_start), 0);
    /* Every accepted call ran once, every refused one never. */
    for (i = 0; i < CY_PRODUCERS; i++) {
        for (k = 0; k < CY_MAX_MSGS; k++)
            ran_total += (unsigned long)atomic_load(&p[i].msgs[k].ran);
        free(p[i].msgs);
    }
    assert_int_equal(ran_total, atomic_load(&cy->accepted));
    assert_int_equal(atomic_load(&cy->ran), atomic_load(&cy->accepted));
    assert_true(atomic_load(&cy->accepted) > 0);
    free(cy);
    tu_destroy(tp);
}

/* ---- signals: stop from a handler, watches made and ended ---- */

static struct tpoll *sig_tp;
static atomic_int sig_program_usr1, sig_errno_lost;

static void program_usr1(int signo)
{
    (void)signo;
    atomic_fetch_add(&sig_program_usr1, 1);
}

static void program_usr2_stops(int signo)
{
    int e = errno;

    (void)signo;
    errno = 4242;
    if (tpoll_stop(sig_tp, 1) != 0)
        atomic_store(&sig_errno_lost, 2);
    if (errno != 4242)
        atomic_store(&sig_errno_lost, 1);
    errno = e;
}

/* Takes the process's SIGUSR1 and SIGUSR2 (the tpoll threads block
 * them), sent without pause by the spammer. */
struct sig_threads {
    pthread_t taker, spammer;
    atomic_int stop;
};

static void *sig_take(void *arg)
{
    struct sig_threads *s = arg;

    block(SIGUSR1, SIG_UNBLOCK);
    block(SIGUSR2, SIG_UNBLOCK);
    while (!atomic_load(&s->stop))
        sched_yield();
    return NULL;
}

static void *sig_spam(void *arg)
{
    struct sig_threads *s = arg;

    while (!atomic_load(&s->stop)) {
        pthread_kill(s->taker, SIGUSR1);
        sched_yield();
    }
    return NULL;
}

#define WATCHES 150

struct watch_rec {
    atomic_int calls;
    int bad_tid;
};

static void watch_cb(struct tpoll *tp, int signo, void *arg)
{
    struct watch_rec *w = arg;

    if (signo != SIGUSR1 || tpoll_thread_id(tp) != 1)
        w->bad_tid = 1;
    atomic_fetch_add(&w->calls, 1);
}

static void test_signals_while_watches_come_and_go(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct watch_rec *w = calloc(WATCHES, sizeof(*w));
    int *after = calloc(WATCHES, sizeof(*after));
    struct sigaction sa, old1, old2;
    struct sig_threads st;
    struct runner r;
    int i;

    (void)state;
    assert_non_null(w);
    assert_non_null(after);
    sig_tp = tp;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = program_usr1;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old1), 0);
    sa.sa_handler = program_usr2_stops;
    assert_int_equal(sigaction(SIGUSR2, &sa, &old2), 0);
    block(SIGUSR1, SIG_BLOCK);
    block(SIGUSR2, SIG_BLOCK);
    memset(&st, 0, sizeof(st));
    runner_start(&r, tp, 1);
    assert_int_equal(pthread_create(&st.taker, NULL, sig_take, &st), 0);
    assert_int_equal(pthread_create(&st.spammer, NULL, sig_spam, &st), 0);
    for (i = 0; i < WATCHES; i++) {
        unsigned long returns = atomic_load(&r.returns);
        uint64_t start = tu_now_ms();
        int seen;

        assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 1, watch_cb, &w[i]),
                         0);
        /* The spammer's next delivery reaches the watch. */
        while (atomic_load(&w[i].calls) == 0) {
            assert_false(deadline_passed(start));
            sched_yield();
        }
        /* A stop from the handler ends the run (now, or the next). */
        assert_int_equal(pthread_kill(st.taker, SIGUSR2), 0);
        while (atomic_load(&r.returns) == returns) {
            assert_false(deadline_passed(start));
            sched_yield();
        }
        assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), 0);
        /* The program's handler has the signal again. */
        seen = atomic_load(&sig_program_usr1);
        while (atomic_load(&sig_program_usr1) == seen) {
            assert_false(deadline_passed(start));
            sched_yield();
        }
        /* Once a call posted now ran, the ended watch is silent. */
        probe_sync(tp, 1, NULL, NULL);
        after[i] = atomic_load(&w[i].calls);
    }
    atomic_store(&st.stop, 1);
    assert_int_equal(pthread_join(st.spammer, NULL), 0);
    assert_int_equal(pthread_join(st.taker, NULL), 0);
    probe_sync(tp, 1, NULL, NULL);
    runner_end(&r);
    for (i = 0; i < WATCHES; i++) {
        assert_int_equal(atomic_load(&w[i].calls), after[i]);
        assert_int_equal(w[i].bad_tid, 0);
    }
    assert_int_equal(atomic_load(&sig_errno_lost), 0);
    block(SIGUSR1, SIG_UNBLOCK);
    block(SIGUSR2, SIG_UNBLOCK);
    assert_int_equal(sigaction(SIGUSR1, &old1, NULL), 0);
    assert_int_equal(sigaction(SIGUSR2, &old2, NULL), 0);
    free(w);
    free(after);
    tu_destroy(tp);
}

/* ---- tpoll_fd_visit while fds come and go ---- */

#define VISIT_FDS 24
#define VISIT_INCARNATIONS 4000

struct incarnation {
    int fd;
};

struct visit_churn {
    struct tpoll *tp;
    struct incarnation *inc;
    atomic_int done, bad;
    atomic_ulong visits;
};

static void *visit_churn_main(void *arg)
{
    struct visit_churn *vc = arg;
    int fds[VISIT_FDS][2], i, n = 0;

    for (i = 0; i < VISIT_FDS; i++)
        fds[i][0] = fds[i][1] = -1;
    while (n < VISIT_INCARNATIONS) {
        /* Halfway, let two visits end: one of them ran entirely while
         * this thread's fds were inserted, however the two threads were
         * scheduled. */
        if (n == VISIT_INCARNATIONS / 2 &&
            !tu_wait_atomic(&vc->visits, atomic_load(&vc->visits) + 2))
            atomic_fetch_add(&vc->bad, 1);
        i = n % VISIT_FDS;
        if (fds[i][0] >= 0) {
            if (tpoll_fd_delete(vc->tp, fds[i][0]) < 0)
                atomic_fetch_add(&vc->bad, 1);
            close(fds[i][0]);
            close(fds[i][1]);
        }
        if (pipe(fds[i]) != 0) {
            atomic_fetch_add(&vc->bad, 1);
            break;
        }
        vc->inc[n].fd = fds[i][0];
        if (tpoll_fd_insert(vc->tp, fds[i][0], tu_noop_cb, &vc->inc[n],
                            TPOLL_THREAD(0)) != 0)
            atomic_fetch_add(&vc->bad, 1);
        n++;
    }
    for (i = 0; i < VISIT_FDS; i++)
        if (fds[i][0] >= 0) {
            tpoll_fd_delete(vc->tp, fds[i][0]);
            close(fds[i][0]);
            close(fds[i][1]);
        }
    atomic_store(&vc->done, 1);
    return NULL;
}

struct visit_seen {
    int last_fd, n, bad;
};

static int visit_check(struct tpoll *tp, int fd, void *owner, void *arg)
{
    struct visit_seen *v = arg;
    struct incarnation *inc = owner;

    (void)tp;
    if (fd <= v->last_fd || inc == NULL || inc->fd != fd)
        v->bad++;
    v->last_fd = fd;
    v->n++;
    return 0;
}

static int visit_stop_at_third(struct tpoll *tp, int fd, void *owner, void *arg)
{
    int *n = arg;

    (void)tp, (void)fd, (void)owner;
    return ++*n == 3 ? 77 : 0;
}

static void test_visit_while_fds_come_and_go(void **state)
{
    struct visit_churn vc;
    pthread_t thread;
    int visits = 0, n = 0, p[2][2], i;

    (void)state;
    memset(&vc, 0, sizeof(vc));
    vc.tp = tu_create(2, 1024);
    vc.inc = calloc(VISIT_INCARNATIONS, sizeof(*vc.inc));
    assert_non_null(vc.inc);
    assert_int_equal(tpoll_fd_visit(vc.tp, TPOLL_THREAD(0), NULL, NULL),
                     -EINVAL);
    assert_int_equal(pthread_create(&thread, NULL, visit_churn_main, &vc), 0);
    while (!atomic_load(&vc.done)) {
        struct visit_seen v = {.last_fd = -1};

        assert_int_equal(
            tpoll_fd_visit(vc.tp, TPOLL_THREAD(0), visit_check, &v), 0);
        assert_int_equal(v.bad, 0);
        visits++;
        atomic_store(&vc.visits, (unsigned long)visits);
    }
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(atomic_load(&vc.bad), 0);
    assert_true(visits >= 2);
    /* The visit stops at fn's first non-zero, and returns it; a mask
     * that meets no fd's visits none. */
    for (i = 0; i < 2; i++) {
        tu_pipe(p[i]);
        assert_int_equal(
            tpoll_fd_insert(vc.tp, p[i][0], tu_noop_cb, NULL, TPOLL_THREAD(0)),
            0);
        assert_int_equal(
            tpoll_fd_insert(vc.tp, p[i][1], tu_noop_cb, NULL, TPOLL_THREAD(0)),
            0);
    }
    assert_int_equal(
        tpoll_fd_visit(vc.tp, TPOLL_THREAD(0), visit_stop_at_third, &n), 77);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(
        tpoll_fd_visit(vc.tp, TPOLL_THREAD(1), visit_stop_at_third, &n), 0);
    assert_int_equal(n, 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(tpoll_fd_delete(vc.tp, p[i][0]), 0);
        assert_int_equal(tpoll_fd_delete(vc.tp, p[i][1]), 0);
        close(p[i][0]);
        close(p[i][1]);
    }
    free(vc.inc);
    tu_destroy(vc.tp);
}

/* ---- bad input changes nothing; the longest delay; destroy ---- */

static void never_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)tp, (void)t;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_bad_input_and_longest_delay(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct tpoll_timer t, zeroed, saved;
    atomic_int fired;
    uint64_t t0;

    (void)state;
    atomic_store(&fired, 0);
    memset(&zeroed, 0, sizeof(zeroed));
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_timer_init(tp, &t, 0, never_cb, &fired), 0);
    assert_int_equal(tpoll_timer_arm(tp, &t, TPOLL_TIMER_MAX_MS), 0);
    /* Refused requests leave the armed timer as it was. */
    memcpy(&saved, &t, sizeof(t));
    assert_int_equal(tpoll_timer_arm(tp, &t, TPOLL_TIMER_MAX_MS + 1), -EINVAL);
    assert_int_equal(tpoll_timer_arm(tp, &t, UINT64_MAX), -EINVAL);
    assert_int_equal(tpoll_timer_arm(NULL, &t, 1), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, 2, never_cb, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, -1, never_cb, NULL), -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, 0, NULL, NULL), -EINVAL);
    assert_memory_equal(&saved, &t, sizeof(t));
    assert_int_equal(tpoll_timer_arm(tp, &zeroed, 1), -EINVAL);
    assert_int_equal(tpoll_timer_cancel(tp, &zeroed), -EINVAL);
    assert_int_equal(tpoll_timer_cancel(NULL, &t), -EINVAL);
    assert_int_equal(tpoll_call(tp, 2, probe_fn, NULL), -EINVAL);
    assert_int_equal(tpoll_stop(tp, -1), -EINVAL);
    assert_int_equal(tpoll_stop(NULL, 0), -EINVAL);
    /* The longest delay neither fires nor spins: a wait that may block
     * 20 ms blocks about that long, several times. */
    for (int i = 0; i < 3; i++) {
        t0 = tu_now_ms();
        assert_int_equal(tpoll_wait(tp, 20), 0);
        assert_true(tu_now_ms() - t0 >= 19);
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&fired), 0);
    assert_int_equal(tpoll_timer_cancel(tp, &t), 1);
    /* Destroyed with timers armed on the calling thread: its stop cancels
     * them, and their memory is the program's (ASan: nothing leaked). */
    assert_int_equal(tpoll_timer_arm(tp, &t, 1), 0);
    assert_int_equal(tpoll_timer_init(tp, &zeroed, 0, never_cb, &fired), 0);
    assert_int_equal(tpoll_timer_arm(tp, &zeroed, 0), 0);
    tu_destroy(tp);
    assert_int_equal(atomic_load(&fired), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_from_every_side),
        cmocka_unit_test(test_calls_and_stops_while_targets_cycle),
        cmocka_unit_test(test_signals_while_watches_come_and_go),
        cmocka_unit_test(test_visit_while_fds_come_and_go),
        cmocka_unit_test(test_bad_input_and_longest_delay),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
