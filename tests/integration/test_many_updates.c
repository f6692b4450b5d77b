/* SPDX-License-Identifier: MIT */
/* More changes between two polls than a thread's update queues hold
 * (TP_QUEUE_CAP): made by the thread itself and by another thread, every
 * fd must still be registered. select cannot take fd numbers past
 * FD_SETSIZE, so there the queues never fill up and the same test checks
 * the plain path. */
#include <errno.h>
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
    int expected; /* callbacks expected_seen waits for */
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

static int expected_seen(void *arg)
{
    struct many *m = arg;

    return m->calls >= m->expected;
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

/*
 * More changes than the queue holds, most of which cancel out (a stop
 * and a want: re-registration): the queue drops those as it fills, while
 * their entries are still in cache, and does not overflow into a scan of
 * the table; the pass then costs exactly the kernel calls of the changes
 * that did not cancel out.
 */
static int is_select(void)
{
    return strcmp(tu_backend(), "select") == 0;
}

static void test_settled_changes_do_not_overflow(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tp__thread *th;
    struct tpoll_counters before, after;
    struct many m;
    int i, stopped = 0;

    (void)state;
    open_pairs(&m);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    th = &tp->threads[0];
    for (i = 0; i < m.n; i++) {
        assert_int_equal(tpoll_fd_insert(tp, m.sv[i][0], once_cb, &m, 1), 0);
        assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    before = tu_counters(tp, 0);
    for (i = 0; i < m.n; i++) {
        assert_int_equal(tpoll_stop_recv(tp, m.sv[i][0]), 0);
        assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
    }
    assert_int_equal(th->overflow, 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    after = tu_counters(tp, 0);
    assert_true(after.ctl_calls == before.ctl_calls);
    /* One in three stopped for good: those cost a call each, no more. */
    for (i = 0; i < m.n; i++) {
        assert_int_equal(tpoll_stop_recv(tp, m.sv[i][0]), 0);
        if (i % 3 == 0)
            stopped++;
        else
            assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
    }
    assert_int_equal(th->overflow, 0);
    before = after;
    assert_int_equal(tpoll_wait(tp, 0), 0);
    after = tu_counters(tp, 0);
    if (!is_select() && strcmp(tu_backend(), "poll") != 0)
        assert_true(after.ctl_calls - before.ctl_calls == (uint64_t)stopped);
    for (i = 0; i < m.n; i++)
        assert_int_equal(tp_load(&tp->group[0].fds[m.sv[i][0]].update_mask), 0);
    /* Still level-triggered where interest remains, silent elsewhere. */
    for (i = 0; i < m.n; i++)
        tu_write_byte(m.sv[i][1]);
    m.expected = m.n - stopped;
    assert_true(tu_wait_until(tp, expected_seen, &m));
    for (i = 0; i < m.n; i += 3)
        assert_false(m.seen[i]);
    close_pairs(tp, &m);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tu_destroy(tp);
}

/*
 * A thread watching an fd's close alone (tpoll_want_close) registers it
 * with a recv-side registration of the close-only kind. When the fd then
 * wants its data instead, what it wants (recv) equals what the polled
 * bits say it watches (recv): only the thread's close-only record tells
 * the registration must change. A full queue's compaction must read that
 * record too, or it drops the fd as settled and its data is never told.
 */
static void test_compaction_sees_closeonly(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct many m;
    int i, x;

    (void)state;
    open_pairs(&m);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    x = m.sv[0][0];
    for (i = 0; i < m.n; i++)
        assert_int_equal(tpoll_fd_insert(tp, m.sv[i][0], once_cb, &m, 1), 0);
    if (tpoll_want_close(tp, x) == -ENOTSUP) {
        close_pairs(tp, &m);
        assert_int_equal(tpoll_thread_stop(tp), 0);
        tu_destroy(tp);
        skip();
    }
    for (i = 1; i < m.n; i++)
        assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    /* x first in the queue, then more re-registrations than it holds. */
    assert_int_equal(tpoll_stop_close(tp, x), 0);
    assert_int_equal(tpoll_want_recv(tp, x), 0);
    for (i = 1; i < m.n; i++) {
        assert_int_equal(tpoll_stop_recv(tp, m.sv[i][0]), 0);
        assert_int_equal(tpoll_want_recv(tp, m.sv[i][0]), 0);
    }
    tu_write_byte(m.sv[0][1]);
    m.expected = 1;
    assert_true(tu_wait_until(tp, expected_seen, &m));
    assert_true(m.seen[0]);
    close_pairs(tp, &m);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_overflow),
        cmocka_unit_test(test_remote_overflow),
        cmocka_unit_test(test_settled_changes_do_not_overflow),
        cmocka_unit_test(test_compaction_sees_closeonly),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
