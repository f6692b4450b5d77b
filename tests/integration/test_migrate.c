/* SPDX-License-Identifier: MIT */
/* Migration with tpoll_fd_set_threads: callbacks follow the mask. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

struct mrec {
    atomic_ulong allowed; /* current mask, as the test last set it */
    atomic_int bad_thread;
    atomic_int on[3];
    struct tu_event ev;
};

static void mrec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct mrec *r = owner;
    int tid = tpoll_thread_id(tp);

    (void)events;
    if (tid < 0 || tid >= 3 || !(atomic_load(&r->allowed) & TPOLL_THREAD(tid)))
        atomic_fetch_add(&r->bad_thread, 1);
    else
        atomic_fetch_add(&r->on[tid], 1);
    tu_drain(fd);
    tu_event_post(&r->ev);
}

static void migrate(struct tpoll *tp, int fd, struct mrec *r, tpoll_mask_t m)
{
    assert_int_equal(tpoll_fd_set_threads(tp, fd, m), 0);
    atomic_store(&r->allowed, m);
}

/* set_threads does not wait for a callback already running on a thread
 * that leaves: one full loop of every thread after it returned ends any
 * such callback, after which the old threads must stay silent. */
static void quiesce(struct tpoll *tp, struct tu_loop *l, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        unsigned long loops = atomic_load(&l[i].loops);

        assert_int_equal(tpoll_wake(tp, l[i].tid), 0);
        assert_true(tu_wait_atomic(&l[i].loops, loops + 1));
    }
}

static void test_migrate_between_threads(void **state)
{
    struct tpoll *tp = tu_create(3, 0);
    struct tu_loop l[3];
    struct mrec r;
    int sv[2], i, n = 0;
    static const tpoll_mask_t path[] = {1, 2, 4, 1, 6, 2, 1};

    (void)state;
    memset(&r, 0, sizeof(r));
    tu_event_init(&r.ev);
    tu_socketpair(sv);
    for (i = 0; i < 3; i++)
        tu_loop_start(&l[i], tp, i);
    atomic_store(&r.allowed, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], mrec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (i = 0; i < (int)(sizeof(path) / sizeof(path[0])); i++) {
        int on_before[3], t;

        atomic_store(&r.allowed, path[i] | atomic_load(&r.allowed));
        assert_int_equal(tpoll_fd_set_threads(tp, sv[0], path[i]), 0);
        quiesce(tp, l, 3);
        atomic_store(&r.allowed, path[i]);
        for (t = 0; t < 3; t++)
            on_before[t] = atomic_load(&r.on[t]);
        tu_write_byte(sv[1]);
        assert_true(tu_event_wait(&r.ev, ++n));
        for (t = 0; t < 3; t++)
            if (!(path[i] & TPOLL_THREAD(t)))
                assert_int_equal(atomic_load(&r.on[t]), on_before[t]);
        assert_int_equal(atomic_load(&r.bad_thread), 0);
    }
    for (i = 0; i < 3; i++)
        tu_loop_stop(&l[i]);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/* Migrating to a thread that has not started yet: it registers the fd
 * when it starts; the old thread stops at once. */
static void test_migrate_to_unstarted(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0, l1;
    struct mrec r;
    int sv[2];

    (void)state;
    memset(&r, 0, sizeof(r));
    tu_event_init(&r.ev);
    tu_socketpair(sv);
    tu_loop_start(&l0, tp, 0);
    atomic_store(&r.allowed, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], mrec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_event_wait(&r.ev, 1));
    atomic_store(&r.allowed, 0);
    migrate(tp, sv[0], &r, 2);
    tu_write_byte(sv[1]);
    tu_loop_start(&l1, tp, 1);
    assert_true(tu_event_wait(&r.ev, 2));
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(atomic_load(&r.on[0]), 1);
    assert_int_equal(atomic_load(&r.on[1]), 1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/* Migration from inside the fd's own callback, on a single bound thread
 * pair driven by hand: the next event runs on the new thread. */
static void self_migrate_cb(struct tpoll *tp, int fd, unsigned events,
                            void *owner)
{
    struct mrec *r = owner;
    int tid = tpoll_thread_id(tp);

    mrec_cb(tp, fd, events, owner);
    if (tid == 0) {
        /* mrec_cb already let the test write the next byte: thread 1 may
         * run the callback as soon as set_threads has marked it, before
         * migrate() records the new mask. */
        atomic_store(&r->allowed, TPOLL_THREAD(0) | TPOLL_THREAD(1));
        migrate(tp, fd, r, 2);
    }
}

static void test_migrate_from_callback(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0, l1;
    struct mrec r;
    int sv[2];

    (void)state;
    memset(&r, 0, sizeof(r));
    tu_event_init(&r.ev);
    tu_socketpair(sv);
    tu_loop_start(&l0, tp, 0);
    tu_loop_start(&l1, tp, 1);
    atomic_store(&r.allowed, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], self_migrate_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_event_wait(&r.ev, 1));
    tu_write_byte(sv[1]);
    assert_true(tu_event_wait(&r.ev, 2));
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    assert_int_equal(atomic_load(&r.bad_thread), 0);
    assert_int_equal(atomic_load(&r.on[0]), 1);
    assert_int_equal(atomic_load(&r.on[1]), 1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_between_threads),
        cmocka_unit_test(test_migrate_to_unstarted),
        cmocka_unit_test(test_migrate_from_callback),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
