/* SPDX-License-Identifier: MIT */
/*
 * The timer wheel over years of its clock, in a moment: the timers' clock
 * is moved ahead (tp__timer_skew_ms) between waits that do not block.
 * Timers at every level and at the edges of each level's span fire in the
 * order of their due times, never before them, and no later than the
 * first wait after them; timers re-armed from callbacks at other points
 * of the wheel's time too.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "svc.h"

#define N 20000

struct tm_rec {
    struct tpoll_timer t;
    int id, gen, fired;
    uint64_t armed_ms, delay;
};

static uint64_t skew;
static struct tm_rec recs[N];
static uint64_t last_delay;
static int last_id, fired_total, order_errors, early;
static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static uint64_t clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + skew;
}

static void rec_cb(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    struct tm_rec *r = arg;

    (void)t;
    if (clock_ms() < r->armed_ms + r->delay)
        early++;
    if (r->gen == 0) {
        if (r->delay < last_delay ||
            (r->delay == last_delay && r->id < last_id))
            order_errors++;
        last_delay = r->delay;
        last_id = r->id;
    }
    r->fired++;
    fired_total++;
    if (r->gen == 0 && r->id % 4 == 0) { /* again, from another point */
        r->gen = 1;
        r->delay = next_rand() % (1u << 20);
        r->armed_ms = clock_ms();
        assert_int_equal(tpoll_timer_arm(tp, &r->t, r->delay), 0);
    }
}

static uint64_t first_delay[N];

static uint64_t pick_delay_of(int i)
{
    return first_delay[i];
}

static uint64_t pick_delay(int i, uint64_t max)
{
    static const uint64_t edges[] = {0,    1,    62,   63,     64,     65,
                                     4095, 4096, 4097, 262143, 262144, 262145};
    int ne = (int)(sizeof(edges) / sizeof(edges[0]));

    if (i < ne)
        return edges[i];
    if (i < 2 * ne)
        return edges[i - ne] + 1000;
    if (i % 97 == 0)
        return max - (uint64_t)(next_rand() % 1000);
    return ((uint64_t)next_rand() << 8 ^ next_rand()) % max;
}

static void test_wheel_over_years(void **state)
{
    struct tpoll *tp = tu_create(1, 16);
    /* 2^36 ms (2 years) where the clock skew fits in the word. */
    uint64_t max = sizeof(AO_t) >= 8 ? (uint64_t)1 << 36 : (uint64_t)1 << 30;
    uint64_t start, placed, now;
    int i, expected = N + (N + 3) / 4;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    start = clock_ms();
    for (i = 0; i < N; i++) {
        struct tm_rec *r = &recs[i];

        r->id = i;
        r->delay = first_delay[i] = pick_delay(i, max);
        r->armed_ms = start;
        assert_int_equal(tpoll_timer_init(tp, &r->t, 0, rec_cb, r), 0);
        assert_int_equal(tpoll_timer_arm(tp, &r->t, r->delay), 0);
    }
    /* Placed by this wait, with the clock it reads: due by `placed`. */
    assert_true(tpoll_wait(tp, 0) >= 0);
    placed = clock_ms();
    while (fired_total < expected) {
        /* Small steps at first (every level-0 tick matters), then large
         * ones through the upper levels. */
        uint64_t span = clock_ms() - start;
        uint64_t step =
            span < 300000 ? next_rand() % 97 : next_rand() % (span / 64 + 1);

        skew += step;
        tp__timer_skew_ms((AO_t)skew);
        assert_true(tpoll_wait(tp, 0) >= 0);
        now = clock_ms();
        /* Not late: every first-round timer due two ticks ago fired. */
        for (i = 0; i < N; i += 37)
            if (placed + pick_delay_of(i) + 2 <= now)
                assert_true(recs[i].fired > 0);
        assert_true(skew < 4 * max);
    }
    assert_int_equal(fired_total, expected);
    assert_int_equal(order_errors, 0);
    assert_int_equal(early, 0);
    tp__timer_skew_ms(0);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wheel_over_years),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
