/* SPDX-License-Identifier: MIT */
/*
 * Per-thread counters are 64 bits wide on every target: on a 32-bit one
 * the low word wraps into a high word that a reader on another thread
 * combines without tearing. Crossing 2^32 is reached here by starting the
 * counter just below it (counting there one by one would take minutes).
 */
#include <pthread.h>

#include "testutil.h"
#include "../platform/atomic.h"

static void start_near(tp_counter_t *c, uint64_t v)
{
#if UINTPTR_MAX > 0xffffffffu
    c->v = (AO_t)v;
#else
    c->lo = (AO_t)(uint32_t)v;
    c->hi = (AO_t)(2 * (v >> 32));
#endif
}

static void test_crosses_2_to_the_32(void **state)
{
    tp_counter_t c;

    (void)state;
    start_near(&c, 0xfffffffeull);
    tp_count(&c, 1);
    assert_true(tp_counter_read(&c) == 0xffffffffull);
    tp_count(&c, 3);
    assert_true(tp_counter_read(&c) == 0x100000002ull);
    tp_count(&c, 0xffffffffu);
    assert_true(tp_counter_read(&c) == 0x200000001ull);
}

/* A reader on another thread never sees a value the counter did not
 * hold: crossing 2^32 many times while it reads, it sees no value go
 * down (a torn read pairs an old high word with a new low one). */
struct race {
    tp_counter_t c;
    atomic_int done;
};

static void *writer(void *arg)
{
    struct race *r = arg;
    int i;

    for (i = 0; i < 200000; i++)
        tp_count(&r->c, 0x40000000u);
    atomic_store(&r->done, 1);
    return NULL;
}

static void test_reader_never_tears(void **state)
{
    struct race r;
    pthread_t t;
    uint64_t last = 0, v;

    (void)state;
    start_near(&r.c, 0);
    atomic_init(&r.done, 0);
    assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
    while (!atomic_load(&r.done)) {
        v = tp_counter_read(&r.c);
        assert_true(v >= last);
        assert_true(v % 0x40000000u == 0);
        last = v;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(tp_counter_read(&r.c) == 200000ull * 0x40000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crosses_2_to_the_32),
        cmocka_unit_test(test_reader_never_tears),
    };

    return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
