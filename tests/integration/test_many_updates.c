/* SPDX-License-Identifier: MIT */
/* More changes between two polls than a thread's update queues hold
 * (TP_QUEUE_CAP): made by the thread itself and by another thread, every
 * fd must still be registered. select cannot take fd numbers past
 * FD_SETSIZE, so there the queues never fill up and the same test checks
 * the plain path. */
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "core.h"
#include "testutil.h"

#define WANT_PAIRS (TP_QUEUE_CAP + TP_QUEUE_CAP / 2)

struct many {
    int (*sv)[2];
    int n;
    char *seen;
    struct tu_event ev;
    int calls;
};

static void once_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct many *m = owner;
    int i;

    (void)events;
    tu_drain(fd);
    tpoll_stop_recv(tp, fd);
    for (i = 0; i < m->n; i++) {
        if (m->sv[i][0] == fd && !m->seen[i]) {
            m->seen[i] = 1;
            m->calls++;
            tu_event_post(&m->ev);
        }
    }
}

static int pairs_for_backend(void)
{
    /* Two fds per pair plus a few already open. */
    if (strcmp(tu_backend(), "select") == 0)
        return (FD_SETSIZE - 64) / 2;
    return WANT_PAIRS;
}

static void open_pairs(struct many *m)
{
    int i;

    memset(m, 0, sizeof(*m));
    m->n = pairs_for_backend();
    m->sv = calloc((size_t)m->n, sizeof(*m->sv));
    m->seen = calloc((size_t)m->n, 1);
    assert_non_null(m->sv);
    assert_non_null(m->seen);
    for (i = 0; i < m->n; i++)
        tu_socketpair(m->sv[i]);
    tu_event_init(&m->ev);
}

static void close_pairs(struct tpoll *tp, struct many *m)
{
    int i;

    for (i = 0; i < m->n; i++) {
        assert_int_equal(tpoll_fd_delete(tp, m->sv[i][0]), 0);
        close(m->sv[i][0]);
        close(m->sv[i][1]);
    }
    tu_event_destroy(&m->ev);
    free(m->sv);
    free(m->seen);
}

static int all_seen(void *arg)
{
    struct many *m = arg;

    return m->calls == m->n;
}

static void test_local_overflow(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct many m;
    int i;

    (void)state;
    open_pairs(&m);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    for (i = 0; i < m.n; i++) {
        assert_int_equal(tpoll_fd_insert(tp, m.sv[i][0], once_cb, &m, 1), 0);
        assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
        tu_write_byte(m.sv[i][1]);
    }
    assert_true(tu_wait_until(tp, all_seen, &m));
    assert_int_equal(m.calls, m.n);
    close_pairs(tp, &m);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tu_destroy(tp);
}

static void test_remote_overflow(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l;
    struct many m;
    int i;

    (void)state;
    open_pairs(&m);
    tu_loop_start(&l, tp, 1);
    /* This thread is not bound: every mark goes to thread 1's inbox. */
    for (i = 0; i < m.n; i++) {
        tu_write_byte(m.sv[i][1]);
        assert_int_equal(
            tpoll_fd_insert(tp, m.sv[i][0], once_cb, &m, TPOLL_THREAD(1)), 0);
        assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
    }
    assert_true(tu_event_wait(&m.ev, m.n));
    tu_loop_stop(&l);
    assert_int_equal(m.calls, m.n);
    close_pairs(tp, &m);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_overflow),
        cmocka_unit_test(test_remote_overflow),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
