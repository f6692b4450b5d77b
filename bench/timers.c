/* SPDX-License-Identifier: MIT */
/*
 * Timers per thread: tpoll's wheel against libev's 4-ary heap (ev_timer)
 * and libuv's binary heap (uv_timer_t), with N idle timers armed (10,000
 * and 1,000,000: no fds, memory only). Per implementation and N:
 *
 *   arm+cancel  arm one more timer and cancel it again, ns per pair;
 *   rearm       re-arm a random one of the N (an idle timeout pushed back
 *               by traffic), with one non-blocking loop iteration per
 *               1,000 re-arms, ns per re-arm;
 *   bytes       memory per armed timer: the struct the program owns plus
 *               the library's index entry for it (libev's heap array
 *               holds 16 bytes per timer, its cached due time and the
 *               pointer, and grows by doubling; tpoll's wheel and libuv's
 *               heap link the structs themselves);
 *   late        how late a 2 ms timer fires, re-armed 300 times from its
 *               callback: p50/p99/max in ms (negative: early).
 *
 * Medians over R rounds (default 5), and the ratios against tpoll.
 *   bench_timers [-r ROUNDS] [-n N]...
 */
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

#define PAIRS 2000000L
#define REARMS 2000000L
#define MAX_ROUNDS 16
#define LATE_N 300
#define LATE_DELAY 2

struct result {
    double arm_cancel, rearm, bytes, late[3];
};

/* One implementation: set up N timers, run the measures, tear down. */
struct impl {
    const char *name;
    size_t timer_size; /* the struct, and any per-timer index entry */
    void *(*open)(long n);
    void (*arm_cancel)(void *s, long pairs);
    void (*rearm)(void *s, long count);
    void (*late)(void *s, double *late_ms, int n);
    void (*close)(void *s);
};

static unsigned long rng = 88172645463325252ul;

static unsigned long next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Idle timeouts: 10 s to 70 s. */
static unsigned long idle_ms(void)
{
    return 10000 + next_rand() % 60000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_timers: %s\n", what);
    exit(1);
}

/* ---- tpoll ---- */

struct tp_state {
    struct tpoll *tp;
    long n;
    struct tpoll_timer *t, extra;
    /* lateness chain */
    int left, fired;
    uint64_t armed_ns;
    double *late;
};

static void tp_nop(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)tp, (void)t, (void)arg;
}

static void *tp_open(long n)
{
    struct tp_state *s = calloc(1, sizeof(*s));
    long i;

    if (s == NULL || tpoll_create(&s->tp, NULL) || tpoll_thread_start(s->tp, 0))
        die("tpoll");
    s->n = n;
    s->t = calloc((size_t)n, sizeof(*s->t));
    if (s->t == NULL)
        die("calloc");
    for (i = 0; i < n; i++)
        tpoll_timer_init(s->tp, &s->t[i], 0, tp_nop, NULL);
    tpoll_timer_init(s->tp, &s->extra, 0, tp_nop, NULL);
    for (i = 0; i < n; i++)
        tpoll_timer_arm(s->tp, &s->t[i], idle_ms());
    tpoll_wait(s->tp, 0);
    return s;
}

static void tp_arm_cancel(void *state, long pairs)
{
    struct tp_state *s = state;
    long i;

    for (i = 0; i < pairs; i++) {
        tpoll_timer_arm(s->tp, &s->extra, 30000);
        tpoll_timer_cancel(s->tp, &s->extra);
    }
}

static void tp_rearm(void *state, long count)
{
    struct tp_state *s = state;
    long i;

    for (i = 1; i <= count; i++) {
        tpoll_timer_arm(s->tp, &s->t[next_rand() % (unsigned long)s->n],
                        idle_ms());
        if (i % 1000 == 0)
            tpoll_wait(s->tp, 0);
    }
}

static void tp_late_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct tp_state *s = arg;
    uint64_t now = bench_now_ns();

    s->late[s->fired++] =
        ((double)(now - s->armed_ns) - LATE_DELAY * 1e6) / 1e6;
    if (--s->left > 0) {
        s->armed_ns = bench_now_ns();
        tpoll_timer_arm(tp, t, LATE_DELAY);
    }
}

static void tp_late(void *state, double *late, int n)
{
    struct tp_state *s = state;
    struct tpoll_timer t;

    s->late = late;
    s->left = n;
    s->fired = 0;
    tpoll_timer_init(s->tp, &t, 0, tp_late_cb, s);
    s->armed_ns = bench_now_ns();
    tpoll_timer_arm(s->tp, &t, LATE_DELAY);
    while (s->left > 0)
        tpoll_wait(s->tp, -1);
}

static void tp_close(void *state)
{
    struct tp_state *s = state;

    tpoll_destroy(s->tp);
    free(s->t);
    free(s);
}

/* ---- libev ---- */
#ifdef BENCH_HAVE_LIBEV
struct lv_state {
    struct ev_loop *loop;
    long n;
    ev_timer *t, extra;
    int left, fired;
    uint64_t armed_ns;
    double *late;
};

static void lv_nop(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)w, (void)revents;
}

static void *lv_open(long n)
{
    struct lv_state *s = calloc(1, sizeof(*s));
    long i;

    if (s == NULL || (s->loop = ev_loop_new(EVBACKEND_EPOLL)) == NULL)
        die("libev");
    s->n = n;
    s->t = calloc((size_t)n, sizeof(*s->t));
    if (s->t == NULL)
        die("calloc");
    for (i = 0; i < n; i++) {
        ev_timer_init(&s->t[i], lv_nop, (double)idle_ms() / 1000, 0.);
        ev_timer_start(s->loop, &s->t[i]);
    }
    ev_timer_init(&s->extra, lv_nop, 30., 0.);
    ev_run(s->loop, EVRUN_NOWAIT);
    return s;
}

static void lv_arm_cancel(void *state, long pairs)
{
    struct lv_state *s = state;
    long i;

    for (i = 0; i < pairs; i++) {
        ev_timer_set(&s->extra, 30., 0.);
        ev_timer_start(s->loop, &s->extra);
        ev_timer_stop(s->loop, &s->extra);
    }
}

static void lv_rearm(void *state, long count)
{
    struct lv_state *s = state;
    long i;

    for (i = 1; i <= count; i++) {
        ev_timer *w = &s->t[next_rand() % (unsigned long)s->n];

        ev_timer_stop(s->loop, w);
        ev_timer_set(w, (double)idle_ms() / 1000, 0.);
        ev_timer_start(s->loop, w);
        if (i % 1000 == 0)
            ev_run(s->loop, EVRUN_NOWAIT);
    }
}

static struct lv_state *lv_cur;

static void lv_late_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    struct lv_state *s = lv_cur;
    uint64_t now = bench_now_ns();

    (void)revents;
    s->late[s->fired++] =
        ((double)(now - s->armed_ns) - LATE_DELAY * 1e6) / 1e6;
    if (--s->left > 0) {
        s->armed_ns = bench_now_ns();
        ev_timer_set(w, LATE_DELAY / 1000., 0.);
        ev_timer_start(l, w);
    }
}

static void lv_late(void *state, double *late, int n)
{
    struct lv_state *s = state;
    ev_timer t;

    lv_cur = s;
    s->late = late;
    s->left = n;
    s->fired = 0;
    ev_timer_init(&t, lv_late_cb, LATE_DELAY / 1000., 0.);
    s->armed_ns = bench_now_ns();
    ev_timer_start(s->loop, &t);
    while (s->left > 0)
        ev_run(s->loop, EVRUN_ONCE);
}

static void lv_close(void *state)
{
    struct lv_state *s = state;

    ev_loop_destroy(s->loop);
    free(s->t);
    free(s);
}
#endif

/* ---- libuv ---- */
#ifdef BENCH_HAVE_LIBUV
struct lu_state {
    uv_loop_t loop;
    long n;
    uv_timer_t *t, extra;
    int left, fired;
    uint64_t armed_ns;
    double *late;
};

static void lu_nop(uv_timer_t *t)
{
    (void)t;
}

static void *lu_open(long n)
{
    struct lu_state *s = calloc(1, sizeof(*s));
    long i;

    if (s == NULL || uv_loop_init(&s->loop))
        die("libuv");
    s->n = n;
    s->t = calloc((size_t)n, sizeof(*s->t));
    if (s->t == NULL)
        die("calloc");
    for (i = 0; i < n; i++) {
        uv_timer_init(&s->loop, &s->t[i]);
        uv_timer_start(&s->t[i], lu_nop, idle_ms(), 0);
    }
    uv_timer_init(&s->loop, &s->extra);
    uv_run(&s->loop, UV_RUN_NOWAIT);
    return s;
}

static void lu_arm_cancel(void *state, long pairs)
{
    struct lu_state *s = state;
    long i;

    for (i = 0; i < pairs; i++) {
        uv_timer_start(&s->extra, lu_nop, 30000, 0);
        uv_timer_stop(&s->extra);
    }
}

static void lu_rearm(void *state, long count)
{
    struct lu_state *s = state;
    long i;

    for (i = 1; i <= count; i++) {
        uv_timer_start(&s->t[next_rand() % (unsigned long)s->n], lu_nop,
                       idle_ms(), 0);
        if (i % 1000 == 0)
            uv_run(&s->loop, UV_RUN_NOWAIT);
    }
}

static void lu_late_cb(uv_timer_t *t)
{
    struct lu_state *s = t->data;
    uint64_t now = bench_now_ns();

    s->late[s->fired++] =
        ((double)(now - s->armed_ns) - LATE_DELAY * 1e6) / 1e6;
    if (--s->left > 0) {
        s->armed_ns = bench_now_ns();
        uv_timer_start(t, lu_late_cb, LATE_DELAY, 0);
    }
}

static void lu_late(void *state, double *late, int n)
{
    struct lu_state *s = state;
    uv_timer_t t;

    s->late = late;
    s->left = n;
    s->fired = 0;
    uv_timer_init(&s->loop, &t);
    t.data = s;
    s->armed_ns = bench_now_ns();
    uv_timer_start(&t, lu_late_cb, LATE_DELAY, 0);
    while (s->left > 0)
        uv_run(&s->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&s->loop, UV_RUN_NOWAIT);
}

static void lu_close(void *state)
{
    struct lu_state *s = state;
    long i;

    for (i = 0; i < s->n; i++)
        uv_close((uv_handle_t *)&s->t[i], NULL);
    uv_close((uv_handle_t *)&s->extra, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    free(s->t);
    free(s);
}
#endif

static const struct impl impls[] = {
    {"tpoll", sizeof(struct tpoll_timer), tp_open, tp_arm_cancel, tp_rearm,
     tp_late, tp_close},
#ifdef BENCH_HAVE_LIBEV
    {"libev", sizeof(ev_timer) + 16, lv_open, lv_arm_cancel, lv_rearm, lv_late,
     lv_close},
#endif
#ifdef BENCH_HAVE_LIBUV
    {"libuv", sizeof(uv_timer_t), lu_open, lu_arm_cancel, lu_rearm, lu_late,
     lu_close},
#endif
};
#define NIMPLS ((int)(sizeof(impls) / sizeof(impls[0])))

static int cmp_late(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* One round of one implementation at one size. */
static void round_of(const struct impl *im, long n, struct result *r)
{
    void *s = im->open(n);
    double t0, late[LATE_N];

    r->bytes = (double)im->timer_size;
    t0 = bench_now_s();
    im->arm_cancel(s, PAIRS);
    r->arm_cancel = (bench_now_s() - t0) * 1e9 / PAIRS;
    t0 = bench_now_s();
    im->rearm(s, REARMS);
    r->rearm = (bench_now_s() - t0) * 1e9 / REARMS;
    im->late(s, late, LATE_N);
    qsort(late, LATE_N, sizeof(late[0]), cmp_late);
    r->late[0] = late[LATE_N / 2];
    r->late[1] = late[LATE_N * 99 / 100];
    r->late[2] = late[LATE_N - 1];
    im->close(s);
}

int main(int argc, char **argv)
{
    long sizes[4] = {10000, 1000000};
    int nsizes = 2, rounds = 5, opt, given = 0, z, i, k;

    while ((opt = getopt(argc, argv, "r:n:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'n' && given < 4)
            sizes[given++] = atol(optarg);
        else
            die("usage: bench_timers [-r ROUNDS] [-n N]...");
    }
    if (given)
        nsizes = given;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        die("rounds: 1..16");
    printf("%-7s %9s %12s %10s %8s %22s\n", "impl", "timers", "arm+cancel",
           "rearm", "bytes", "late p50/p99/max ms");
    for (z = 0; z < nsizes; z++) {
        static struct result r[NIMPLS][MAX_ROUNDS];
        double base[2] = {0, 0};

        /* Rounds interleave the implementations, so that a busy moment of
         * the machine hits them alike; each round starts from a fresh
         * loop. */
        for (k = 0; k < rounds; k++)
            for (i = 0; i < NIMPLS; i++)
                round_of(&impls[i], sizes[z], &r[i][k]);
        for (i = 0; i < NIMPLS; i++) {
            double v[7][MAX_ROUNDS], m[7];
            int f;

            for (k = 0; k < rounds; k++) {
                v[0][k] = r[i][k].arm_cancel;
                v[1][k] = r[i][k].rearm;
                v[2][k] = r[i][k].bytes;
                for (f = 0; f < 3; f++)
                    v[3 + f][k] = r[i][k].late[f];
            }
            for (f = 0; f < 6; f++)
                m[f] = bench_median(v[f], rounds);
            if (i == 0) {
                base[0] = m[0];
                base[1] = m[1];
            }
            printf("%-7s %9ld %7.1f ns %4.2fx %6.1f ns %4.2fx %5.0f B "
                   "%6.3f/%6.3f/%6.3f\n",
                   impls[i].name, sizes[z], m[0], m[0] / base[0], m[1],
                   m[1] / base[1], m[2], m[3], m[4], m[5]);
            /* The same, for ci/bench.sh's report. */
            printf("timers impl=%s N=%ld arm_cancel_ns=%.2f rearm_ns=%.2f "
                   "bytes=%.0f late_p50_ms=%.3f late_p99_ms=%.3f "
                   "late_max_ms=%.3f\n",
                   impls[i].name, sizes[z], m[0], m[1], m[2], m[3], m[4],
                   m[5]);
        }
        fflush(stdout);
    }
    return 0;
}
