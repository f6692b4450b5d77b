/* SPDX-License-Identifier: MIT */
/* The litmus harness (litmus.h): two threads, a spin barrier per round. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "litmus.h"

#define LIT_STOP (~(AO_t)0)
#define LIT_MIN_ROUNDS 20000ul
/* Past this, a case that has not reached LIT_MIN_ROUNDS gives up: the
 * machine is too busy (or too slow) for the rounds to mean anything. */
#define LIT_GIVE_UP_SECONDS 30.0
/*
 * Delays before each side, in iterations of an empty loop (about a
 * nanosecond each natively): a random jitter on both, and on side 0 a
 * lead that tracks how late side 1 sees the start flag (a cache-line
 * transfer natively, much more under qemu or a sanitizer). The lead
 * grows when side 0 finished first and shrinks when side 1 did, so the
 * two finish first about equally often and their windows overlap in
 * both orders and in the middle (both sides seeing the other's write).
 */
#define LIT_JITTER 64u
/* Some microseconds: more only helps when side 1 is not running at all
 * (both threads on one busy core), and then nothing does. */
#define LIT_LEAD_MAX 10000u

struct lit_run {
    /* The round side 1 may start, or LIT_STOP. */
    _Alignas(64) tp_atomic_t go;
    /* Side 1's line: the last round it finished, and what it observed. */
    _Alignas(64) tp_atomic_t done;
    tp_atomic_t v1;
    tp_atomic_t finished; /* sides finished this round (0, 1, 2) */
    const struct lit_case *c;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double env_double(const char *name, double dflt)
{
    const char *s = getenv(name);
    double v;

    return s != NULL && (v = strtod(s, NULL)) > 0 ? v : dflt;
}

/* xorshift32: cheap, and different on each thread. */
static unsigned next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* An empty loop the compiler keeps: no instruction that orders memory
 * (a pause or yield could, and qemu turns yield into a thread switch). */
static void delay(unsigned n)
{
    while (n--)
        __asm__ __volatile__("" ::: "memory");
}

/* Spins while *p == old, yielding after a while: with more runnable
 * threads than cores (a loaded machine, qemu) the other side may need
 * this core to finish its round. */
static AO_t wait_change(const tp_atomic_t *p, AO_t old)
{
    unsigned spins = 0;
    AO_t v;

    while ((v = tp_load(p)) == old)
        if (++spins > 4096)
            sched_yield();
    return v;
}

/* Each side on a CPU of its own, the first two the process may use: on a
 * busy machine the scheduler may otherwise put both on one core, where
 * they never run at once. Best effort: with one CPU, or where it fails,
 * the sides run where the scheduler puts them. */
static int lit_cpu[2] = {-1, -1};

static void choose_cpus(void)
{
    cpu_set_t set;
    int cpu, k = 0;

    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return;
    for (cpu = 0; cpu < CPU_SETSIZE && k < 2; cpu++)
        if (CPU_ISSET(cpu, &set))
            lit_cpu[k++] = cpu;
    if (k < 2)
        lit_cpu[0] = -1;
}

static void pin_side(int side)
{
    cpu_set_t set;

    if (lit_cpu[0] < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(lit_cpu[side], &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *side1_main(void *arg)
{
    struct lit_run *r = arg;
    uint32_t seed = 0x9e3779b9u;
    AO_t round = 0;

    pin_side(1);

    while ((round = wait_change(&r->go, round)) != LIT_STOP) {
        delay(next_rand(&seed) % LIT_JITTER);
        tp_store_relaxed(&r->v1, r->c->side[1]());
        tp_fetch_add(&r->finished, 1);
        tp_store(&r->done, round);
    }
    return NULL;
}

struct lit_bounds {
    double start, budget;
    unsigned long max;
};

/* Stop at max rounds, or once the budget is spent and enough rounds were
 * run to judge (or it is hopeless: then run_case skips). The clock is
 * read every 256 rounds only. */
static int done_enough(const struct lit_bounds *b, unsigned long n)
{
    double secs;

    if (n >= b->max)
        return 1;
    if (n % 256 != 0 || (secs = now_s() - b->start) < b->budget)
        return 0;
    return n >= LIT_MIN_ROUNDS || secs > LIT_GIVE_UP_SECONDS;
}

/* Rounds until done_enough; hist[v0][v1] counts the outcomes, *first0
 * the rounds side 0 finished first (about half when the sides overlap). */
static unsigned long run_rounds(struct lit_run *r,
                                unsigned long hist[LIT_VALUES][LIT_VALUES],
                                double *secs, unsigned long *first0)
{
    struct lit_bounds b = {
        .start = now_s(),
        .budget = env_double("TPOLL_LITMUS_SECONDS", 1.5),
        .max = (unsigned long)env_double("TPOLL_LITMUS_ROUNDS", 2e7),
    };
    uint32_t seed = 0x2545f491u;
    unsigned long n = 0;
    unsigned v0, lead = 0;

    do {
        r->c->reset();
        tp_store(&r->finished, 0);
        tp_store(&r->go, (AO_t)n + 1);
        delay(lead + next_rand(&seed) % LIT_JITTER);
        v0 = r->c->side[0]();
        if (tp_fetch_add(&r->finished, 1) == 0) {
            lead += lead < LIT_LEAD_MAX;
            ++*first0;
        } else
            lead -= lead > 0;
        wait_change(&r->done, (AO_t)n); /* side 1 finished round n + 1 */
        hist[v0 % LIT_VALUES][tp_load_relaxed(&r->v1) % LIT_VALUES]++;
    } while (!done_enough(&b, ++n));
    *secs = now_s() - b.start;
    return n;
}

/* What an outcome is, after its count. */
static const char *verdict(const struct lit_case *c, unsigned v0, unsigned v1)
{
    if (!c->bad(v0, v1))
        return "";
    return c->measure_only ? "  <- bad (measured)" : "  <- FORBIDDEN";
}

static void print_outcomes(const struct lit_case *c,
                           unsigned long hist[LIT_VALUES][LIT_VALUES])
{
    unsigned v0, v1;

    for (v0 = 0; v0 < LIT_VALUES; v0++)
        for (v1 = 0; v1 < LIT_VALUES; v1++) {
            if (hist[v0][v1] == 0)
                continue;
            printf("  %-34s %-34s %12lu%s\n", c->value_name[0][v0],
                   c->value_name[1][v1], hist[v0][v1], verdict(c, v0, v1));
        }
}

static unsigned long count_bad(const struct lit_case *c,
                               unsigned long hist[LIT_VALUES][LIT_VALUES])
{
    unsigned long bad = 0;
    unsigned v0, v1;

    for (v0 = 0; v0 < LIT_VALUES; v0++)
        for (v1 = 0; v1 < LIT_VALUES; v1++)
            if (c->bad(v0, v1))
                bad += hist[v0][v1];
    return bad;
}

/* Returns 0, 1 (a forbidden outcome) or 77 (too few rounds, or rounds
 * that did not overlap, to judge). */
static int run_case(const struct lit_case *c)
{
    static struct lit_run r;
    unsigned long hist[LIT_VALUES][LIT_VALUES] = {{0}}, n, bad, first0 = 0;
    pthread_t t;
    double secs = 0;

    r.c = c;
    tp_store(&r.go, 0);
    tp_store(&r.done, 0);
    if (pthread_create(&t, NULL, side1_main, &r) != 0) {
        perror("pthread_create");
        return 1;
    }
    n = run_rounds(&r, hist, &secs, &first0);
    tp_store(&r.go, LIT_STOP);
    pthread_join(t, NULL);

    bad = count_bad(c, hist);
    printf("litmus %s: %lu rounds in %.2f s (%.2f M rounds/s), %s first in "
           "%.0f%%\n",
           c->name, n, secs, (double)n / secs / 1e6, c->side_name[0],
           100.0 * (double)first0 / (double)n);
    printf("  %-34s %-34s %12s\n", c->side_name[0], c->side_name[1], "rounds");
    print_outcomes(c, hist);
    if (c->measure_only) {
        if (bad)
            printf("  measured: the bad outcome %lu times, %.2f per million "
                   "rounds\n",
                   bad, (double)bad * 1e6 / (double)n);
        else
            printf("  measured: the bad outcome never, in %lu rounds on this "
                   "machine\n",
                   n);
        return 0;
    }
    if (bad) {
        printf("litmus %s: FAIL: the forbidden outcome, %lu times\n", c->name,
               bad);
        return 1;
    }
    if (n < LIT_MIN_ROUNDS) {
        printf("litmus %s: SKIP: only %lu rounds (at least %lu needed)\n",
               c->name, n, LIT_MIN_ROUNDS);
        return 77;
    }
    /* One side (nearly) always first: they took turns, never overlapped,
     * and the rounds say nothing about reordering. */
    if (first0 < n / 20 || first0 > n - n / 20) {
        printf("litmus %s: SKIP: the sides did not overlap\n", c->name);
        return 77;
    }
    return 0;
}

int lit_run_all(const struct lit_case *cases, int n)
{
    int i, status = 0;

    choose_cpus();
    /* One core still runs every interleaving the scheduler makes, but
     * no reordering inside a store buffer: say so rather than hide it. */
    if (lit_cpu[0] < 0)
        printf("litmus: one CPU to run on: the sides never run at once\n");
    pin_side(0);
    for (i = 0; i < n; i++) {
        int st = run_case(&cases[i]);

        if (st == 1 || (st == 77 && status == 0))
            status = st;
    }
    fflush(stdout);
    return status;
}
