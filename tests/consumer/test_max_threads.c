/* SPDX-License-Identifier: MIT */
/*
 * A thread mask is an unsigned long, one bit per thread of a group:
 * 64 on LP64, 32 on ILP32 (i386, armhf). An instance with that many
 * threads works up to the top bit; more thread ids than
 * TPOLL_MAX_THREAD_IDS are refused.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "testutil.h"

static int ulong_bits(void)
{
    unsigned long v = ULONG_MAX;
    int n = 0;

    while (v != 0) {
        v >>= 1;
        n++;
    }
    return n;
}

struct hit {
    atomic_int count;
    atomic_int tid;
};

static void read_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct hit *h = owner;
    char c;

    (void)events;
    if (read(fd, &c, 1) == 1) {
        atomic_store(&h->tid, tpoll_thread_id(tp));
        atomic_fetch_add(&h->count, 1);
    }
}

static int both_hit(void *arg)
{
    struct hit *h = arg;

    return atomic_load(&h[0].count) > 0 && atomic_load(&h[1].count) > 0;
}

static void test_limit_is_mask_width(void **state)
{
    (void)state;
    print_message("TPOLL_MAX_THREADS = %d\n", TPOLL_MAX_THREADS);
    assert_int_equal(TPOLL_MAX_THREADS, ulong_bits());
    assert_int_equal(sizeof(tpoll_mask_t), sizeof(unsigned long));
    assert_true(TPOLL_THREAD(TPOLL_MAX_THREADS - 1) == ~(ULONG_MAX >> 1));
}

static void test_one_more_refused(void **state)
{
    struct tpoll_options o;
    struct tpoll *tp = NULL;

    (void)state;
    tpoll_options_init(&o);
    o.threads = TPOLL_MAX_THREAD_IDS + 1;
    o.max_fds = 64;
    assert_int_equal(tpoll_create(&tp, &o), -EINVAL);
    assert_null(tp);

    tp = tu_create(TPOLL_MAX_THREADS, 64);
    assert_int_equal(tpoll_thread_start(tp, TPOLL_MAX_THREADS), -EINVAL);
    tu_destroy(tp);
}

/* Every thread id bound at once; an fd owned by the top one only and an fd
 * whose mask has every bit set both get their callback. */
static void test_all_threads_work(void **state)
{
    enum { N = TPOLL_MAX_THREADS };
    const int top = N - 1;
    struct tpoll *tp = tu_create(N, 0);
    struct tu_loop loops[TPOLL_MAX_THREADS];
    struct hit hits[2];
    int a[2], b[2];
    int i;

    (void)state;
    for (i = 0; i < 2; i++) {
        atomic_init(&hits[i].count, 0);
        atomic_init(&hits[i].tid, -1);
    }
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    for (i = 1; i < N; i++)
        tu_loop_start(&loops[i], tp, i);

    tu_socketpair(a);
    tu_socketpair(b);
    assert_int_equal(
        tpoll_fd_insert(tp, a[0], read_cb, &hits[0], TPOLL_THREAD(top)), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], read_cb, &hits[1], ~0UL), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    tu_write_byte(a[1]);
    tu_write_byte(b[1]);
    assert_true(tu_wait_until(tp, both_hit, hits));
    assert_int_equal(atomic_load(&hits[0].tid), top);
    assert_int_equal(atomic_load(&hits[0].count), 1);
    assert_int_equal(atomic_load(&hits[1].count), 1);

    /* A callback may still be returning on its thread (or, for the fd
     * every thread polls, have been entered by a second thread that found
     * nothing to read): tpoll_fd_delete would return 1 then, and `hits`
     * must outlive it. delete_wait waits for it. */
    assert_int_equal(tpoll_fd_delete_wait(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete_wait(tp, b[0]), 0);
    for (i = 1; i < N; i++)
        tu_loop_stop(&loops[i]);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    for (i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_is_mask_width),
        cmocka_unit_test(test_one_more_refused),
        cmocka_unit_test(test_all_threads_work),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
