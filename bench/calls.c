/* SPDX-License-Identifier: MIT */
/*
 * Cross-thread calls: producer threads hand work items (a function and an
 * argument) to one consumer thread sleeping in its loop, as a server
 * hands accepted connections to a worker. tpoll: tpoll_call. libev and
 * libuv: what a program writes there, a queue under a mutex (a vector
 * swapped out by the consumer) and ev_async_send / uv_async_send. Prints
 * calls per second, median over R rounds, and the ratio to tpoll.
 *   bench_calls [-r ROUNDS] [-p PRODUCERS] [-n CALLS_PER_PRODUCER]
 *               [-o IMPL] (only that one, for a profiler)
 *               [-s BATCH] (one thread posting to itself: see below)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"
#include "tpoll.h"
#ifdef BENCH_HAVE_LIBUV
#include <uv.h>
#endif
#ifdef BENCH_HAVE_LIBEV
#include <ev.h>
#endif

#define MAX_ROUNDS 16
#define MAX_PRODUCERS 8

struct item {
    void (*fn)(void *arg);
    void *arg;
};

/* The program's queue for libev and libuv. */
struct queue {
    pthread_mutex_t mu;
    struct item *v;
    size_t n, cap;
};

struct bench {
    long total;
    atomic_int ready, go;
    int producers;
    long per_producer;
    struct tpoll *tp;
    struct queue q;
#ifdef BENCH_HAVE_LIBEV
    struct ev_loop *evl;
    ev_async eva;
#endif
#ifdef BENCH_HAVE_LIBUV
    uv_loop_t uvl;
    uv_async_t uva;
#endif
    void (*post)(struct bench *b);
    /* Written by the consumer for every call: a line of its own, or the
     * producers reading the fields above would share it. */
    _Alignas(64) atomic_long ran;
    char pad[64 - sizeof(atomic_long)];
};

static void die(const char *what)
{
    fprintf(stderr, "bench_calls: %s\n", what);
    exit(1);
}

/* The work: count it (only the consumer writes the count). */
static void work(void *arg)
{
    struct bench *b = arg;

    atomic_store_explicit(
        &b->ran, atomic_load_explicit(&b->ran, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

static void queue_push(struct queue *q, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&q->mu);
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 256;
        q->v = realloc(q->v, q->cap * sizeof(*q->v));
        if (q->v == NULL)
            die("realloc");
    }
    q->v[q->n].fn = fn;
    q->v[q->n].arg = arg;
    q->n++;
    pthread_mutex_unlock(&q->mu);
}

/* Swap the vector out under the lock, run it outside. */
static void queue_drain(struct queue *q, struct item **spare, size_t *cap)
{
    struct item *v;
    size_t n, i, c;

    pthread_mutex_lock(&q->mu);
    v = q->v;
    n = q->n;
    c = q->cap;
    q->v = *spare;
    q->cap = *cap;
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
    for (i = 0; i < n; i++)
        v[i].fn(v[i].arg);
    *spare = v;
    *cap = c;
}

static void *producer(void *arg)
{
    struct bench *b = arg;
    long i;

    atomic_fetch_add(&b->ready, 1);
    while (!atomic_load(&b->go))
        ;
    for (i = 0; i < b->per_producer; i++)
        b->post(b);
    return NULL;
}

/* ---- tpoll ---- */

static void tp_work(struct tpoll *tp, void *arg)
{
    (void)tp;
    work(arg);
}

static void tp_post(struct bench *b)
{
    if (tpoll_call(b->tp, 0, tp_work, b) != 0)
        die("tpoll_call");
}

static void tp_consume(struct bench *b)
{
    while (atomic_load_explicit(&b->ran, memory_order_relaxed) < b->total)
        tpoll_wait(b->tp, -1);
}

/* ---- libev ---- */
#ifdef BENCH_HAVE_LIBEV
static struct item *lv_spare;
static size_t lv_cap;

static void lv_async(struct ev_loop *l, ev_async *a, int revents)
{
    struct bench *b = a->data;

    (void)l, (void)revents;
    queue_drain(&b->q, &lv_spare, &lv_cap);
}

static void lv_post(struct bench *b)
{
    queue_push(&b->q, work, b);
    ev_async_send(b->evl, &b->eva);
}

static void lv_consume(struct bench *b)
{
    while (atomic_load_explicit(&b->ran, memory_order_relaxed) < b->total)
        ev_run(b->evl, EVRUN_ONCE);
}
#endif

/* ---- libuv ---- */
#ifdef BENCH_HAVE_LIBUV
static struct item *lu_spare;
static size_t lu_cap;

static void lu_async(uv_async_t *a)
{
    struct bench *b = a->data;

    queue_drain(&b->q, &lu_spare, &lu_cap);
}

static void lu_post(struct bench *b)
{
    queue_push(&b->q, work, b);
    uv_async_send(&b->uva);
}

static void lu_consume(struct bench *b)
{
    while (atomic_load_explicit(&b->ran, memory_order_relaxed) < b->total)
        uv_run(&b->uvl, UV_RUN_ONCE);
}
#endif

/* The implementation's loop, with b->post set; returns its consumer. */
static void (*open_impl(struct bench *b, const char *impl))(struct bench *)
{
    pthread_mutex_init(&b->q.mu, NULL);
    if (strcmp(impl, "tpoll") == 0) {
        if (tpoll_create(&b->tp, NULL) || tpoll_thread_start(b->tp, 0))
            die("tpoll");
        b->post = tp_post;
        return tp_consume;
    }
#ifdef BENCH_HAVE_LIBEV
    if (strcmp(impl, "libev") == 0) {
        b->evl = ev_loop_new(EVBACKEND_EPOLL);
        ev_async_init(&b->eva, lv_async);
        b->eva.data = b;
        ev_async_start(b->evl, &b->eva);
        b->post = lv_post;
        return lv_consume;
    }
#endif
#ifdef BENCH_HAVE_LIBUV
    if (strcmp(impl, "libuv") == 0) {
        uv_loop_init(&b->uvl);
        uv_async_init(&b->uvl, &b->uva, lu_async);
        b->uva.data = b;
        b->post = lu_post;
        return lu_consume;
    }
#endif
    die("unknown implementation");
    return NULL;
}

/* One pass of the loop that does not block. */
static void run_once(struct bench *b)
{
    if (b->tp != NULL)
        tpoll_wait(b->tp, 0);
#ifdef BENCH_HAVE_LIBEV
    if (b->evl != NULL)
        ev_run(b->evl, EVRUN_NOWAIT);
#endif
#ifdef BENCH_HAVE_LIBUV
    if (b->post == lu_post)
        uv_run(&b->uvl, UV_RUN_NOWAIT);
#endif
}

static void close_impl(struct bench *b)
{
    if (b->tp != NULL)
        tpoll_destroy(b->tp);
#ifdef BENCH_HAVE_LIBEV
    if (b->evl != NULL) {
        ev_async_stop(b->evl, &b->eva);
        ev_loop_destroy(b->evl);
    }
#endif
#ifdef BENCH_HAVE_LIBUV
    if (b->post == lu_post) {
        uv_close((uv_handle_t *)&b->uva, NULL);
        uv_run(&b->uvl, UV_RUN_DEFAULT);
        uv_loop_close(&b->uvl);
    }
#endif
    free(b->q.v);
    /* Every round starts from empty queues, as tpoll's instance does. */
#ifdef BENCH_HAVE_LIBEV
    free(lv_spare);
    lv_spare = NULL;
    lv_cap = 0;
#endif
#ifdef BENCH_HAVE_LIBUV
    free(lu_spare);
    lu_spare = NULL;
    lu_cap = 0;
#endif
    pthread_mutex_destroy(&b->q.mu);
    free(b);
}

static struct bench *new_bench(int producers, long per)
{
    struct bench *b = aligned_alloc(64, sizeof(struct bench));

    if (b == NULL)
        die("aligned_alloc");
    memset(b, 0, sizeof(*b));
    b->producers = producers;
    b->per_producer = per;
    b->total = per * producers;
    return b;
}

static double round_of(const char *impl, int producers, long per)
{
    struct bench *b = new_bench(producers, per);
    void (*consume)(struct bench *) = open_impl(b, impl);
    pthread_t th[MAX_PRODUCERS];
    double t0, dt;
    int i;

    for (i = 0; i < producers; i++)
        if (pthread_create(&th[i], NULL, producer, b))
            die("pthread_create");
    while (atomic_load(&b->ready) < producers)
        ;
    t0 = bench_now_s();
    atomic_store(&b->go, 1);
    consume(b);
    dt = bench_now_s() - t0;
    for (i = 0; i < producers; i++)
        pthread_join(th[i], NULL);
    close_impl(b);
    return (double)(per * producers) / dt;
}

/* -s BATCH: one thread posts BATCH calls to its own loop and runs the
 * loop once, `per` calls in all. No cache line moves between cores, so
 * this is the instruction cost of a call on both sides (run it under
 * callgrind with two values of -n: the difference over the difference
 * of calls), not the throughput of a handoff. */
static double self_round_of(const char *impl, long per, int batch)
{
    struct bench *b = new_bench(1, per);
    long done;
    double t0, dt;
    int i;

    open_impl(b, impl);
    t0 = bench_now_s();
    for (done = 0; done < per; done += batch) {
        for (i = 0; i < batch; i++)
            b->post(b);
        run_once(b);
    }
    dt = bench_now_s() - t0;
    if (atomic_load(&b->ran) != done)
        die("calls lost");
    close_impl(b);
    return (double)done / dt;
}

int main(int argc, char **argv)
{
    static const char *const impls[] = {
        "tpoll",
#ifdef BENCH_HAVE_LIBEV
        "libev",
#endif
#ifdef BENCH_HAVE_LIBUV
        "libuv",
#endif
    };
    const char *only = NULL;
    int rounds = 5, producers = 1, batch = 0, opt, i, k;
    long per = 2000000;
    double v[sizeof(impls) / sizeof(impls[0])][MAX_ROUNDS], base = 0;

    while ((opt = getopt(argc, argv, "r:p:n:o:s:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'p')
            producers = atoi(optarg);
        else if (opt == 'n')
            per = atol(optarg);
        else if (opt == 'o')
            only = optarg;
        else if (opt == 's')
            batch = atoi(optarg);
        else
            die("usage: bench_calls [-r ROUNDS] [-p PRODUCERS] [-n CALLS] "
                "[-o IMPL] [-s BATCH]");
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || producers < 1 ||
        producers > MAX_PRODUCERS || per < 1 || batch < 0)
        die("bad arguments");
    /* Rounds interleave the implementations, so that a busy moment of the
     * machine hits them alike. */
    for (k = 0; k < rounds; k++)
        for (i = 0; i < (int)(sizeof(impls) / sizeof(impls[0])); i++)
            v[i][k] = only == NULL || strcmp(only, impls[i]) == 0
                          ? batch ? self_round_of(impls[i], per, batch)
                                  : round_of(impls[i], producers, per)
                          : 1;
    if (batch)
        printf("1 thread posting to itself, batches of %d, %ld calls\n",
               batch, per);
    else
        printf("%d producer(s), 1 consumer, %ld calls each\n", producers,
               per);
    for (i = 0; i < (int)(sizeof(impls) / sizeof(impls[0])); i++) {
        double m = bench_median(v[i], rounds);

        if (i == 0)
            base = m;
        printf("%-6s %8.2f M calls/s  %5.2fx of tpoll\n", impls[i], m / 1e6,
               m / base);
        /* The same, for ci/bench.sh's report. */
        if (only == NULL)
            printf("calls impl=%s producers=%d batch=%d mcalls_per_s=%.2f\n",
                   impls[i], batch ? 0 : producers, batch, m / 1e6);
    }
    return 0;
}
