/* SPDX-License-Identifier: MIT */
/*
 * Wake: two threads play ping-pong through cross-thread wakeups. Thread 0
 * publishes an odd sequence number and wakes thread 1, which is (normally)
 * asleep in its loop's wait; thread 1 answers with the next even number and
 * wakes thread 0. Both loops block in their poller between turns, so every
 * turn is a real sleep and wake. Implementations: tpoll (tpoll_wake on one
 * instance with two thread ids, every compiled backend), libuv
 * (uv_async_send between two loops), libev (ev_async_send between two
 * loops). Prints wakeups per second (two per round trip), median over R
 * rounds. Exits non-zero if a turn is lost.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"
#include "tpoll.h"
#ifdef BENCH_HAVE_LIBUV
#include <uv.h>
#endif
#ifdef BENCH_HAVE_LIBEV
#include <ev.h>
#endif

#define MAX_ROUNDS 32

struct pp {
    atomic_long seq;
    long turns;
    struct tpoll *tp;
#ifdef BENCH_HAVE_LIBUV
    uv_loop_t uvl[2];
    uv_async_t uva[2];
#endif
#ifdef BENCH_HAVE_LIBEV
    struct ev_loop *evl[2];
    ev_async eva[2];
#endif
    void (*wake)(struct pp *p, int to);
    void (*wait)(struct pp *p, int self);
    void (*enter)(struct pp *p, int self);
    void (*leave)(struct pp *p, int self);
    pthread_barrier_t ready;
};

static void die(const char *what)
{
    fprintf(stderr, "wake: FAILED: %s (%s)\n", what, strerror(errno));
    exit(1);
}

/* Thread 1 moves when seq is odd; it waits in its loop until then. */
static void play(struct pp *p, int self)
{
    long i;

    p->enter(p, self);
    pthread_barrier_wait(&p->ready);
    for (i = 0; i < p->turns; i++) {
        long mine = 2 * i + self;

        while (atomic_load(&p->seq) != mine)
            p->wait(p, self);
        atomic_store(&p->seq, mine + 1);
        p->wake(p, !self);
    }
    p->leave(p, self);
}

static void *player1(void *arg)
{
    play(arg, 1);
    return NULL;
}

/* ---- tpoll ---- */

static void tp_enter(struct pp *p, int self)
{
    if (tpoll_thread_start(p->tp, self))
        die("tpoll_thread_start");
}

static void tp_leave(struct pp *p, int self)
{
    (void)self;
    tpoll_thread_stop(p->tp);
}

static void tp_wake(struct pp *p, int to)
{
    if (tpoll_wake(p->tp, to))
        die("tpoll_wake");
}

static void tp_wait(struct pp *p, int self)
{
    (void)self;
    if (tpoll_wait(p->tp, 1000) < 0)
        die("tpoll_wait");
}

/* ---- libuv ---- */
#ifdef BENCH_HAVE_LIBUV
static void uv_nop(uv_async_t *a)
{
    (void)a;
}

static void lu_enter(struct pp *p, int self)
{
    (void)p;
    (void)self;
}

static void lu_leave(struct pp *p, int self)
{
    uv_close((uv_handle_t *)&p->uva[self], NULL);
    uv_run(&p->uvl[self], UV_RUN_DEFAULT);
}

static void lu_wake(struct pp *p, int to)
{
    if (uv_async_send(&p->uva[to]))
        die("uv_async_send");
}

static void lu_wait(struct pp *p, int self)
{
    uv_run(&p->uvl[self], UV_RUN_ONCE);
}
#endif

/* ---- libev ---- */
#ifdef BENCH_HAVE_LIBEV
static void ev_nop(struct ev_loop *l, ev_async *a, int revents)
{
    (void)l;
    (void)a;
    (void)revents;
}

static void lv_enter(struct pp *p, int self)
{
    (void)p;
    (void)self;
}

static void lv_leave(struct pp *p, int self)
{
    ev_async_stop(p->evl[self], &p->eva[self]);
}

static void lv_wake(struct pp *p, int to)
{
    ev_async_send(p->evl[to], &p->eva[to]);
}

static void lv_wait(struct pp *p, int self)
{
    ev_run(p->evl[self], EVRUN_ONCE);
}
#endif

static double run(const char *impl, long turns)
{
    struct pp *p = calloc(1, sizeof(*p));
    pthread_t th;
    double t0, dt;
    int i;

    if (p == NULL)
        die("calloc");
    p->turns = turns;
    if (strncmp(impl, "tpoll-", 6) == 0) {
        struct tpoll_options o;

        tpoll_options_init(&o);
        o.threads = 2;
        o.backend = impl + 6;
        if (tpoll_create(&p->tp, &o))
            die("tpoll_create");
        p->enter = tp_enter;
        p->leave = tp_leave;
        p->wake = tp_wake;
        p->wait = tp_wait;
#ifdef BENCH_HAVE_LIBUV
    } else if (strcmp(impl, "libuv") == 0) {
        for (i = 0; i < 2; i++)
            if (uv_loop_init(&p->uvl[i]) ||
                uv_async_init(&p->uvl[i], &p->uva[i], uv_nop))
                die("uv init");
        p->enter = lu_enter;
        p->leave = lu_leave;
        p->wake = lu_wake;
        p->wait = lu_wait;
#endif
#ifdef BENCH_HAVE_LIBEV
    } else if (strcmp(impl, "libev") == 0) {
        for (i = 0; i < 2; i++) {
            p->evl[i] = ev_loop_new(EVBACKEND_EPOLL);
            if (p->evl[i] == NULL)
                die("ev_loop_new");
            ev_async_init(&p->eva[i], ev_nop);
            ev_async_start(p->evl[i], &p->eva[i]);
        }
        p->enter = lv_enter;
        p->leave = lv_leave;
        p->wake = lv_wake;
        p->wait = lv_wait;
#endif
    } else {
        fprintf(stderr, "wake: %s is not in this build\n", impl);
        exit(2);
    }
    pthread_barrier_init(&p->ready, NULL, 2);
    if (pthread_create(&th, NULL, player1, p))
        die("pthread_create");
    /* Thread 0 is the calling thread; the clock starts when both have
     * entered their loops and stops when the last answer arrived. */
    p->enter(p, 0);
    pthread_barrier_wait(&p->ready);
    t0 = bench_now_s();
    for (i = 0; i < turns; i++) {
        long mine = 2 * (long)i;

        while (atomic_load(&p->seq) != mine)
            p->wait(p, 0);
        atomic_store(&p->seq, mine + 1);
        p->wake(p, 1);
    }
    while (atomic_load(&p->seq) != 2 * turns)
        p->wait(p, 0);
    dt = bench_now_s() - t0;
    p->leave(p, 0);
    pthread_join(th, NULL);
    if (atomic_load(&p->seq) != 2 * turns) {
        fprintf(stderr, "wake: FAILED: %s: lost turns\n", impl);
        exit(1);
    }
    if (p->tp != NULL)
        tpoll_destroy(p->tp);
#ifdef BENCH_HAVE_LIBUV
    if (strcmp(impl, "libuv") == 0)
        for (i = 0; i < 2; i++)
            uv_loop_close(&p->uvl[i]);
#endif
#ifdef BENCH_HAVE_LIBEV
    if (strcmp(impl, "libev") == 0)
        for (i = 0; i < 2; i++)
            ev_loop_destroy(p->evl[i]);
#endif
    pthread_barrier_destroy(&p->ready);
    free(p);
    return 2.0 * (double)turns / dt;
}

int main(int argc, char **argv)
{
    const char *impls[8];
    static const char *const tp_names[] = {"epoll", "kqueue", "port", "poll",
                                           "select"};
    static char names[5][16];
    double v[8][MAX_ROUNDS];
    long turns = 20000;
    int rounds = 5, n = 0, opt, i, k;

    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        switch (opt) {
        case 'n': turns = atol(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_wake [-n round trips] [-r rounds]\n");
            return 2;
        }
    }
    if (turns < 1 || rounds < 1 || rounds > MAX_ROUNDS)
        return 2;
    for (i = 0; i < 5; i++) {
        if (tpoll_backend_supported(tp_names[i]) == 0) {
            snprintf(names[i], sizeof(names[i]), "tpoll-%s", tp_names[i]);
            impls[n++] = names[i];
        }
    }
#ifdef BENCH_HAVE_LIBUV
    impls[n++] = "libuv";
#endif
#ifdef BENCH_HAVE_LIBEV
    impls[n++] = "libev";
#endif
    for (k = 0; k < rounds; k++)
        for (i = 0; i < n; i++)
            v[i][k] = run(impls[i], turns);
    for (i = 0; i < n; i++) {
        printf("wake impl=%s wakeups_per_s=%.0f\n", impls[i],
               bench_median(v[i], rounds));
    }
    return 0;
}
