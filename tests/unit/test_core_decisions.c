/* SPDX-License-Identifier: MIT */
/*
 * The core's kernel-operation decisions, observed through a fake backend
 * that records every set/remove/flush call instead of touching a poller.
 * The instance is created normally, then its backend is swapped for the
 * fake before any thread starts.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "backend.h"
#include "core.h"
#include "queue.h"

enum { CALL_SET, CALL_REMOVE, CALL_FLUSH };

struct call {
    int kind;
    int tid;
    int fd;
    uint32_t gen;
    unsigned have, want;
};

#define MAX_CALLS 256

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct call calls[MAX_CALLS];
static int ncalls;
static int set_result; /* what the fake set() returns */

/* Raw events the next poll of thread 0 reports, as a kernel would. */
struct raw {
    int fd;
    uint32_t gen;
    unsigned ev;
};
static struct raw inject[8];
static int ninject;

static void log_call(int kind, struct tp__thread *th, int fd, uint32_t gen,
                     unsigned have, unsigned want)
{
    pthread_mutex_lock(&log_mu);
    assert_true(ncalls < MAX_CALLS);
    calls[ncalls].kind = kind;
    calls[ncalls].tid = tp__thread_tid(th);
    calls[ncalls].fd = fd;
    calls[ncalls].gen = gen;
    calls[ncalls].have = have;
    calls[ncalls].want = want;
    ncalls++;
    pthread_mutex_unlock(&log_mu);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    ncalls = 0;
    set_result = 0;
    ninject = 0;
    pthread_mutex_unlock(&log_mu);
}

static int log_count(int kind, int tid)
{
    int i, n = 0;

    pthread_mutex_lock(&log_mu);
    for (i = 0; i < ncalls; i++)
        if (calls[i].kind == kind && (tid < 0 || calls[i].tid == tid))
            n++;
    pthread_mutex_unlock(&log_mu);
    return n;
}

/* The only call of `kind` on thread tid; fails the test unless exactly one. */
static struct call log_only(int kind, int tid)
{
    struct call c = {0};
    int i, n = 0;

    pthread_mutex_lock(&log_mu);
    for (i = 0; i < ncalls; i++) {
        if (calls[i].kind == kind && calls[i].tid == tid) {
            c = calls[i];
            n++;
        }
    }
    pthread_mutex_unlock(&log_mu);
    assert_int_equal(n, 1);
    return c;
}

static int fake_thread_init(struct tp__thread *th)
{
    *tp__backend_data(th) = NULL;
    return 0;
}

static void fake_thread_term(struct tp__thread *th)
{
    (void)th;
}

static int fake_set(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
                    unsigned want)
{
    log_call(CALL_SET, th, fd, gen, have, want);
    return set_result;
}

static void fake_flush(struct tp__thread *th)
{
    log_call(CALL_FLUSH, th, -1, 0, 0, 0);
}

static void fake_remove(struct tp__thread *th, int fd, unsigned have)
{
    log_call(CALL_REMOVE, th, fd, 0, have, 0);
}

static int fake_poll(struct tp__thread *th, int timeout_ms)
{
    (void)timeout_ms;
    return tp__thread_tid(th) == 0 ? ninject : 0;
}

static void fake_dispatch(struct tp__thread *th, int n)
{
    int i;

    for (i = 0; i < n; i++)
        tp__event(th, inject[i].fd, inject[i].gen, inject[i].ev);
    ninject = 0;
}

static void inject_event(int fd, uint32_t gen, unsigned ev)
{
    inject[ninject].fd = fd;
    inject[ninject].gen = gen;
    inject[ninject].ev = ev;
    ninject++;
}

static void fake_wake(struct tp__thread *th)
{
    (void)th;
}

static const struct tpoll_backend fake_immediate = {
    .name = "fake",
    .caps = 0,
    .thread_init = fake_thread_init,
    .thread_term = fake_thread_term,
    .thread_forget = fake_thread_term,
    .set = fake_set,
    .remove = fake_remove,
    .poll = fake_poll,
    .dispatch = fake_dispatch,
    .wake = fake_wake,
};

static const struct tpoll_backend fake_batch = {
    .name = "fake-batch",
    .caps = TP_CAP_BATCH,
    .thread_init = fake_thread_init,
    .thread_term = fake_thread_term,
    .thread_forget = fake_thread_term,
    .set = fake_set,
    .flush = fake_flush,
    .remove = fake_remove,
    .poll = fake_poll,
    .dispatch = fake_dispatch,
    .wake = fake_wake,
};

static const struct tpoll_backend fake_scan = {
    .name = "fake-scan",
    .caps = TP_CAP_SCAN,
    .thread_init = fake_thread_init,
    .thread_term = fake_thread_term,
    .thread_forget = fake_thread_term,
    .set = fake_set,
    .remove = fake_remove,
    .poll = fake_poll,
    .dispatch = fake_dispatch,
    .wake = fake_wake,
};

static struct tpoll *fake_create(int threads, const struct tpoll_backend *be)
{
    struct tpoll *tp = tu_create(threads, 256);

    tp->be = be;
    log_reset();
    return tp;
}

static struct tp__fd *entry(struct tpoll *tp, int fd)
{
    return &tp->group[0].fds[fd];
}

static unsigned polled(struct tpoll *tp, int fd, int tid)
{
    struct tp__fd *e = entry(tp, fd);

    return ((tp_load(&e->polled_recv) >> tid) & 1 ? TP_EV_RECV : 0) |
           ((tp_load(&e->polled_send) >> tid) & 1 ? TP_EV_SEND : 0);
}

static void force_polled(struct tpoll *tp, int fd, int tid, unsigned have)
{
    struct tp__fd *e = entry(tp, fd);
    tpoll_mask_t bit = TPOLL_THREAD(tid);

    if (have & TP_EV_RECV)
        tp_fetch_or(&e->polled_recv, bit);
    else
        tp_fetch_and(&e->polled_recv, ~bit);
    if (have & TP_EV_SEND)
        tp_fetch_or(&e->polled_send, bit);
    else
        tp_fetch_and(&e->polled_send, ~bit);
}

static void set_interest(struct tpoll *tp, int fd, unsigned interest)
{
    assert_int_equal(interest & TP_EV_RECV ? tpoll_want_recv(tp, fd)
                                           : tpoll_stop_recv(tp, fd),
                     0);
    assert_int_equal(interest & TP_EV_SEND ? tpoll_want_send(tp, fd)
                                           : tpoll_stop_send(tp, fd),
                     0);
}

static uint32_t gen_of(struct tpoll *tp, int fd)
{
    return TP_GEN(tp_load(&entry(tp, fd)->state));
}

struct errs {
    int calls;
    unsigned events;
};

static void err_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct errs *r = owner;

    (void)tp, (void)fd;
    r->calls++;
    r->events |= events;
}

static void nop_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)fd, (void)events, (void)owner;
}

/* A thread of the instance other than the test's own, run one tpoll_wait
 * at a time on request so that its update passes happen at known points. */
struct stepper {
    struct tpoll *tp;
    int tid;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending; /* 1: run a step, -1: stop and exit */
    int done;
};

static void *stepper_main(void *arg)
{
    struct stepper *s = arg;
    int quit = 0;

    pthread_mutex_lock(&s->mu);
    s->done = tpoll_thread_start(s->tp, s->tid) == 0 ? 1 : -1;
    pthread_cond_broadcast(&s->cv);
    while (!quit) {
        while (s->pending == 0)
            pthread_cond_wait(&s->cv, &s->mu);
        quit = s->pending < 0;
        s->pending = 0;
        pthread_mutex_unlock(&s->mu);
        if (quit)
            tpoll_thread_stop(s->tp);
        else
            tpoll_wait(s->tp, 0);
        pthread_mutex_lock(&s->mu);
        s->done = 1;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void stepper_cmd(struct stepper *s, int cmd)
{
    pthread_mutex_lock(&s->mu);
    s->done = 0;
    s->pending = cmd;
    pthread_cond_broadcast(&s->cv);
    while (!s->done)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void stepper_start(struct stepper *s, struct tpoll *tp, int tid)
{
    memset(s, 0, sizeof(*s));
    s->tp = tp;
    s->tid = tid;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, stepper_main, s), 0);
    pthread_mutex_lock(&s->mu);
    while (!s->done)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(s->done, 1);
}

static void stepper_step(struct stepper *s)
{
    stepper_cmd(s, 1);
}

static void stepper_stop(struct stepper *s)
{
    stepper_cmd(s, -1);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Every (thread in mask, interest, polled) combination: set() is called
 * once with (polled, in mask ? interest : 0) when those differ, never
 * otherwise, and the polled bits end up equal to what was asked for. */
static void test_decision_matrix(void **state)
{
    struct tpoll *tp = fake_create(2, &fake_immediate);
    int p[2], inmask, interest, have;

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    for (inmask = 0; inmask < 2; inmask++) {
        for (interest = 0; interest < 4; interest++) {
            for (have = 0; have < 4; have++) {
                unsigned want = inmask ? (unsigned)interest : 0;
                tpoll_mask_t mask = TPOLL_THREAD(inmask ? 0 : 1);

                assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, mask),
                                 0);
                set_interest(tp, p[0], (unsigned)interest);
                force_polled(tp, p[0], 0, (unsigned)have);
                tp__mark(&tp->group[0], p[0], TPOLL_THREAD(0));
                log_reset();
                assert_true(tpoll_wait(tp, 0) >= 0);
                if (want == (unsigned)have) {
                    assert_int_equal(log_count(CALL_SET, -1), 0);
                } else {
                    struct call c = log_only(CALL_SET, 0);

                    assert_int_equal(log_count(CALL_SET, -1), 1);
                    assert_int_equal(c.fd, p[0]);
                    assert_int_equal(c.gen, gen_of(tp, p[0]));
                    assert_int_equal(c.have, (unsigned)have);
                    assert_int_equal(c.want, want);
                }
                assert_int_equal(polled(tp, p[0], 0), want);
                /* Leave thread 0 with nothing registered before delete. */
                force_polled(tp, p[0], 0, 0);
                assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
            }
        }
    }
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* A refused registration is reported once as TPOLL_ERR on the callback and
 * leaves only what was registered before. */
static void test_set_failure(void **state)
{
    struct tpoll *tp = fake_create(1, &fake_immediate);
    struct errs r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(polled(tp, p[0], 0), TP_EV_RECV);
    log_reset();
    set_result = -EPERM;
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(log_count(CALL_SET, 0), 1);
    assert_int_equal(r.calls, 1);
    assert_true(r.events & TPOLL_ERR);
    assert_int_equal(polled(tp, p[0], 0), TP_EV_RECV);
    set_result = 0;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* Changes between two polls of one thread collapse into at most one call,
 * and into none when they cancel out. */
static void test_changes_collapse(void **state)
{
    struct tpoll *tp = fake_create(1, &fake_immediate);
    int p[2];
    struct call c;

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, 1), 0);

    /* want + stop + want from nothing: one registration. */
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_int_equal(tpoll_stop_recv(tp, p[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.have, 0);
    assert_int_equal(c.want, TP_EV_RECV);

    /* stop + want: net nil, no call. */
    log_reset();
    assert_int_equal(tpoll_stop_recv(tp, p[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(log_count(CALL_SET, -1), 0);

    /* Four changes over both directions: one modification. */
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_stop_send(tp, p[0]), 0);
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_stop_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.have, TP_EV_RECV);
    assert_int_equal(c.want, TP_EV_SEND);

    /* Repeated identical requests are no change at all. */
    log_reset();
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_stop_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(log_count(CALL_SET, -1), 0);

    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* Migration between two threads: away and back before either polls costs
 * nothing; a real move costs one call on each side. */
static void test_migration_collapse(void **state)
{
    struct tpoll *tp = fake_create(2, &fake_immediate);
    struct stepper s1;
    int p[2];
    struct call c;

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    stepper_start(&s1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    stepper_step(&s1);
    assert_int_equal(log_count(CALL_SET, 0), 1);
    assert_int_equal(log_count(CALL_SET, 1), 0);

    log_reset();
    assert_int_equal(tpoll_fd_set_threads(tp, p[0], TPOLL_THREAD(1)), 0);
    assert_int_equal(tpoll_fd_set_threads(tp, p[0], TPOLL_THREAD(0)), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    stepper_step(&s1);
    assert_int_equal(log_count(CALL_SET, -1), 0);

    assert_int_equal(tpoll_fd_set_threads(tp, p[0], TPOLL_THREAD(1)), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    stepper_step(&s1);
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.have, TP_EV_RECV);
    assert_int_equal(c.want, 0);
    c = log_only(CALL_SET, 1);
    assert_int_equal(c.have, 0);
    assert_int_equal(c.want, TP_EV_RECV);
    assert_int_equal(polled(tp, p[0], 0), 0);
    assert_int_equal(polled(tp, p[0], 1), TP_EV_RECV);

    /* Changes made on thread 0 for thread 1's fd: one call on thread 1,
     * none on thread 0. */
    log_reset();
    assert_int_equal(tpoll_stop_recv(tp, p[0]), 0);
    assert_int_equal(tpoll_want_send(tp, p[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    stepper_step(&s1);
    assert_int_equal(log_count(CALL_SET, 0), 0);
    c = log_only(CALL_SET, 1);
    assert_int_equal(c.have, TP_EV_RECV);
    assert_int_equal(c.want, TP_EV_BOTH);

    /* Shared by both: each thread registers once. */
    log_reset();
    assert_int_equal(tpoll_fd_set_threads(tp, p[0], 3), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    stepper_step(&s1);
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.want, TP_EV_BOTH);
    assert_int_equal(log_count(CALL_SET, 1), 0);

    log_reset();
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    assert_int_equal(log_only(CALL_REMOVE, 0).have, TP_EV_BOTH);
    assert_int_equal(log_only(CALL_REMOVE, 1).have, TP_EV_BOTH);
    stepper_stop(&s1);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* Delete removes the fd from exactly the pollers that watch it, with what
 * each has registered, and leaves no update behind. */
static void test_delete_removes_polled(void **state)
{
    struct tpoll *tp = fake_create(3, &fake_immediate);
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, 7), 0);
    force_polled(tp, p[0], 0, TP_EV_RECV);
    force_polled(tp, p[0], 2, TP_EV_BOTH);
    log_reset();
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    assert_int_equal(log_count(CALL_REMOVE, -1), 2);
    assert_int_equal(log_only(CALL_REMOVE, 0).have, TP_EV_RECV);
    assert_int_equal(log_only(CALL_REMOVE, 2).have, TP_EV_BOTH);
    assert_int_equal(log_only(CALL_REMOVE, 0).fd, p[0]);
    assert_int_equal(polled(tp, p[0], 0), 0);
    assert_int_equal(polled(tp, p[0], 2), 0);
    assert_int_equal(tpoll_fd_interest(tp, p[0]), -ENOENT);

    /* An fd deleted with updates still queued costs nothing later. */
    assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    log_reset();
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    assert_int_equal(log_count(CALL_REMOVE, -1), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(log_count(CALL_SET, -1), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* Scan backends keep no kernel registration: delete calls no remove(). */
static void test_delete_scan_backend(void **state)
{
    struct tpoll *tp = fake_create(1, &fake_scan);
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(polled(tp, p[0], 0), TP_EV_RECV);
    log_reset();
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    assert_int_equal(log_count(CALL_REMOVE, -1), 0);
    assert_int_equal(polled(tp, p[0], 0), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* A batching backend gets one flush per pass that changed something and
 * none for a pass that changed nothing. */
static void test_batch_flush(void **state)
{
    struct tpoll *tp = fake_create(1, &fake_batch);
    int a[2], b[2];

    (void)state;
    tu_pipe(a);
    tu_pipe(b);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, a[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[1], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_want_send(tp, b[1]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(log_count(CALL_SET, 0), 2);
    assert_int_equal(log_count(CALL_FLUSH, 0), 1);
    assert_int_equal(calls[ncalls - 1].kind, CALL_FLUSH);

    log_reset();
    assert_int_equal(tpoll_stop_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(log_count(CALL_SET, -1), 0);
    assert_int_equal(log_count(CALL_FLUSH, -1), 0);

    assert_int_equal(tpoll_fd_delete(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, b[1]), 0);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    tu_destroy(tp);
}

/*
 * The init hook of a starting thread queues exactly the live fds its mask
 * names (the `updates` counter counts them) and scans no further than the
 * highest fd inserted: an entry planted past it that looks live is never
 * looked at.
 */
static void test_init_hook(void **state)
{
    struct tpoll *tp = fake_create(2, &fake_immediate);
    int a[2], b[2], c[2], d[2], gone[2], planted;
    struct tp__fd *pe;
    struct tpoll_counters ctr;

    (void)state;
    tu_pipe(a);
    tu_pipe(b);
    tu_pipe(c);
    tu_pipe(d);
    tu_pipe(gone);
    assert_int_equal(tpoll_fd_insert(tp, a[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, c[0], nop_cb, NULL, 2), 0);
    assert_int_equal(tpoll_want_recv(tp, c[0]), 0);
    assert_int_equal(tpoll_fd_insert(tp, d[1], nop_cb, NULL, 3), 0);
    assert_int_equal(tpoll_want_send(tp, d[1]), 0);
    assert_int_equal(tpoll_fd_insert(tp, gone[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, gone[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, gone[0]), 0);
    assert_int_equal((int)tp_load(&tp->group[0].hwm), gone[0] + 1);

    planted = (int)tp_load(&tp->group[0].hwm) + 3;
    assert_true(planted < tp->max_fds);
    pe = entry(tp, planted);
    tp_store(&pe->thread_mask, 1);
    tp_store(&pe->state, TP_ST_INUSE | TP_EV_RECV | TP_ST_GEN_ONE);

    log_reset();
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(log_count(CALL_SET, 0), 2);
    assert_int_equal(log_count(CALL_SET, -1), 2);
    assert_int_equal(calls[0].want | calls[1].want, TP_EV_BOTH);
    assert_true((calls[0].fd == a[0] && calls[1].fd == d[1]) ||
                (calls[0].fd == d[1] && calls[1].fd == a[0]));
    ctr = tu_counters(tp, 0);
    assert_int_equal(ctr.updates, 3); /* a, b and d */

    tp_store(&pe->state, 0);
    tp_store(&pe->thread_mask, 0);
    assert_int_equal(tpoll_fd_delete(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, b[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, c[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, d[1]), 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    close(c[0]), close(c[1]), close(d[0]), close(d[1]);
    close(gone[0]), close(gone[1]);
    tu_destroy(tp);
}

/* A thread that stops and starts again re-registers what it watched. */
static void test_restart_reregisters(void **state)
{
    struct tpoll *tp = fake_create(1, &fake_immediate);
    int p[2];
    struct call c;

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], nop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    assert_int_equal(polled(tp, p[0], 0), 0);
    log_reset();
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.have, 0);
    assert_int_equal(c.want, TP_EV_RECV);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* What a callback sees for each raw event and interest: the wanted
 * directions, with a condition attached to the wanted direction it
 * concerns (a half-close its own, an error both) so that the callback's
 * read or write reports it. Backends report HUP with either half-close. */
#define RD (TP_EV_HUP | TP_EV_RDHUP)
#define WR (TP_EV_HUP | TP_EV_WRHUP)
static void test_event_mapping(void **state)
{
    static const struct {
        unsigned interest, raw, seen; /* seen 0: no callback */
    } cases[] = {
        {TP_EV_RECV, TP_EV_RECV, TPOLL_RECV},
        {TP_EV_RECV, TP_EV_SEND, 0},
        {TP_EV_RECV, TP_EV_BOTH, TPOLL_RECV},
        {TP_EV_SEND, TP_EV_RECV, 0},
        {TP_EV_SEND, TP_EV_BOTH, TPOLL_SEND},
        {TP_EV_BOTH, TP_EV_BOTH, TPOLL_RECV | TPOLL_SEND},
        /* The peer shut its sending side (POLLRDHUP, EV_EOF on read). */
        {TP_EV_RECV, RD, TPOLL_RECV | RD},
        {TP_EV_RECV, TP_EV_RECV | RD, TPOLL_RECV | RD},
        {TP_EV_BOTH, RD, TPOLL_RECV | RD},
        {TP_EV_BOTH, TP_EV_SEND | RD, TPOLL_RECV | TPOLL_SEND | RD},
        {TP_EV_SEND, RD, 0},
        {TP_EV_SEND, TP_EV_SEND | RD, TPOLL_SEND},
        /* Nothing more can be sent. */
        {TP_EV_SEND, WR, TPOLL_SEND | WR},
        {TP_EV_RECV, WR, 0},
        {TP_EV_BOTH, TP_EV_RECV | WR, TPOLL_RECV | TPOLL_SEND | WR},
        /* Both (POLLHUP): every wanted direction, with its own half. */
        {TP_EV_RECV, RD | WR, TPOLL_RECV | RD},
        {TP_EV_SEND, RD | WR, TPOLL_SEND | WR},
        {TP_EV_BOTH, RD | WR, TPOLL_RECV | TPOLL_SEND | RD | WR},
        {TP_EV_RECV, TP_EV_ERR, TPOLL_RECV | TPOLL_ERR},
        {TP_EV_SEND, TP_EV_ERR, TPOLL_SEND | TPOLL_ERR},
        {TP_EV_BOTH, TP_EV_ERR, TPOLL_RECV | TPOLL_SEND | TPOLL_ERR},
        {TP_EV_BOTH, TP_EV_ERR | RD | WR,
         TPOLL_RECV | TPOLL_SEND | TPOLL_ERR | RD | WR},
        {TP_EV_RECV, TP_EV_ERR | WR, TPOLL_RECV | TPOLL_ERR},
        {TP_EV_SEND, TP_EV_ERR | RD | WR, TPOLL_SEND | TPOLL_ERR | WR},
        {TP_EV_RECV, TP_EV_ERR, TPOLL_RECV | TPOLL_ERR},
        {0, TP_EV_ERR | RD | WR | TP_EV_BOTH, 0},
    };
    struct tpoll *tp = fake_create(1, &fake_immediate);
    struct errs r;
    size_t i;
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 1), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_interest(tp, p[0], cases[i].interest);
        memset(&r, 0, sizeof(r));
        inject_event(p[0], gen_of(tp, p[0]), cases[i].raw);
        assert_int_equal(tpoll_wait(tp, 0), cases[i].seen ? 1 : 0);
        assert_int_equal(r.calls, cases[i].seen ? 1 : 0);
        assert_int_equal(r.events, cases[i].seen);
    }
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* The interest change (change), then one set() from have to want, or
 * none when want is 0 and have too. */
static void expect_set(struct tpoll *tp, int fd,
                       int (*change)(struct tpoll *, int), unsigned have,
                       unsigned want)
{
    struct call c;

    log_reset();
    assert_int_equal(change(tp, fd), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    if (have == want) {
        assert_int_equal(log_count(CALL_SET, -1), 0);
        return;
    }
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.have, have);
    assert_int_equal(c.want, want);
}

/* Close wanted without recv: a recv-side registration of the close-only
 * kind, told apart from a whole one at every change; the read side's
 * conditions are told without RECV. A backend without TP_CAP_CLOSE
 * refuses. */
static void test_close_decisions(void **state)
{
    static const struct {
        unsigned raw, seen;
    } cases[] = {
        {RD, RD}, {TP_EV_ERR, TPOLL_ERR}, {TP_EV_ERR | RD | WR, TPOLL_ERR | RD},
        {WR, 0},  {TP_EV_RECV, 0},
    };
    const unsigned closeonly = TP_EV_RECV | TP_EV_CLOSEONLY;
    static struct tpoll_backend fake_close;
    struct tpoll *tp;
    struct errs r;
    size_t i;
    int p[2];

    (void)state;
    fake_close = fake_immediate;
    fake_close.caps = TP_CAP_CLOSE;
    tp = fake_create(1, &fake_close);
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 1), 0);
    expect_set(tp, p[0], tpoll_want_close, 0, closeonly);
    expect_set(tp, p[0], tpoll_want_recv, closeonly, TP_EV_RECV);
    expect_set(tp, p[0], tpoll_stop_recv, TP_EV_RECV, closeonly);
    expect_set(tp, p[0], tpoll_want_send, closeonly, closeonly | TP_EV_SEND);
    expect_set(tp, p[0], tpoll_stop_send, closeonly | TP_EV_SEND, closeonly);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&r, 0, sizeof(r));
        inject_event(p[0], gen_of(tp, p[0]), cases[i].raw);
        assert_int_equal(tpoll_wait(tp, 0), cases[i].seen ? 1 : 0);
        assert_int_equal(r.events, cases[i].seen);
    }
    expect_set(tp, p[0], tpoll_stop_close, closeonly, 0);
    expect_set(tp, p[0], tpoll_want_recv, 0, TP_EV_RECV);
    expect_set(tp, p[0], tpoll_want_close, TP_EV_RECV, TP_EV_RECV);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    tu_destroy(tp);

    tp = fake_create(1, &fake_immediate);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_close(tp, p[0]), -ENOTSUP);
    assert_int_equal(tpoll_fd_interest(tp, p[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}
#undef RD
#undef WR

/* Events of an older generation (a deleted user of the number) and events
 * fetched by a thread that has left the mask never reach a callback; the
 * latter make that thread drop its registration at its next pass. */
static void test_stale_and_foreign_events(void **state)
{
    struct tpoll *tp = fake_create(2, &fake_immediate);
    struct errs r = {0};
    struct stepper s1;
    uint32_t old;
    int p[2];
    struct call c;

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    stepper_start(&s1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 1), 0);
    old = gen_of(tp, p[0]);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    assert_true(gen_of(tp, p[0]) != old);
    assert_true(tpoll_wait(tp, 0) >= 0);
    inject_event(p[0], old, TP_EV_RECV);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    inject_event(p[0], gen_of(tp, p[0]), TP_EV_RECV);
    assert_int_equal(tpoll_wait(tp, 0), 1);
    assert_int_equal(r.calls, 1);

    /* Moved to thread 1; thread 0 still has an event fetched before. */
    assert_int_equal(tpoll_fd_set_threads(tp, p[0], 2), 0);
    log_reset();
    inject_event(p[0], gen_of(tp, p[0]), TP_EV_RECV);
    /* Simulate the event arriving before thread 0's pass: force the
     * registration back as it was when the kernel reported. */
    force_polled(tp, p[0], 0, TP_EV_RECV);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 1);
    stepper_step(&s1);
    c = log_only(CALL_SET, 1);
    assert_int_equal(c.want, TP_EV_RECV);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    stepper_stop(&s1);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

/* An event from a thread outside the mask, with a registration left in
 * place, queues the fd so that the next pass unregisters it. */
static void test_foreign_event_unregisters(void **state)
{
    struct tpoll *tp = fake_create(2, &fake_immediate);
    struct errs r = {0};
    int p[2];
    struct call c;

    (void)state;
    tu_pipe(p);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, p[0], err_cb, &r, 2), 0);
    assert_int_equal(tpoll_want_recv(tp, p[0]), 0);
    /* A registration thread 0 should not have, and nothing queued. */
    force_polled(tp, p[0], 0, TP_EV_RECV);
    assert_true(tpoll_wait(tp, 0) >= 0);
    log_reset();
    inject_event(p[0], gen_of(tp, p[0]), TP_EV_RECV);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(log_count(CALL_SET, 0), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    c = log_only(CALL_SET, 0);
    assert_int_equal(c.have, TP_EV_RECV);
    assert_int_equal(c.want, 0);
    assert_int_equal(tpoll_fd_delete(tp, p[0]), 0);
    close(p[0]);
    close(p[1]);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_matrix),
        cmocka_unit_test(test_set_failure),
        cmocka_unit_test(test_changes_collapse),
        cmocka_unit_test(test_migration_collapse),
        cmocka_unit_test(test_delete_removes_polled),
        cmocka_unit_test(test_delete_scan_backend),
        cmocka_unit_test(test_batch_flush),
        cmocka_unit_test(test_init_hook),
        cmocka_unit_test(test_restart_reregisters),
        cmocka_unit_test(test_event_mapping),
        cmocka_unit_test(test_close_decisions),
        cmocka_unit_test(test_stale_and_foreign_events),
        cmocka_unit_test(test_foreign_event_unregisters),
    };

    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
