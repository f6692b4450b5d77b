/* SPDX-License-Identifier: MIT */
/* Early-close interest (tpoll_want_close): the read side's close told
 * without its data, level-triggered, where the backend can (epoll);
 * -ENOTSUP and nothing changed elsewhere. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

struct rec {
    atomic_int calls;
    atomic_uint events;
    atomic_int tid;             /* thread id of the last call */
    const char *_Atomic broken; /* a rule of the conditions a report broke */
    struct tu_event seen;
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)fd;
    if (atomic_load(&r->broken) == NULL)
        atomic_store(&r->broken, tu_close_conditions_broken(events));
    atomic_fetch_or(&r->events, events);
    atomic_store(&r->tid, tpoll_thread_id(tp));
    atomic_fetch_add(&r->calls, 1);
    tu_event_post(&r->seen);
}

static int called(void *arg)
{
    return atomic_load(&((struct rec *)arg)->calls) > 0;
}

static void rec_reset(struct rec *r)
{
    atomic_store(&r->calls, 0);
    atomic_store(&r->events, 0);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int supported(const struct tpoll *tp)
{
    return strcmp(tpoll_backend_name(tp), "epoll") == 0;
}

/* fd (pair[0], its peer pair[1]) inserted on a one-thread instance with
 * its close wanted and registered; NULL where the backend refuses, after
 * checking that nothing changed (the pair is closed then). */
static struct tpoll *start_close(struct rec *r, const int pair[2])
{
    struct tpoll *tp;

    tu_event_init(&r->seen);
    tp = tu_start_one(rec_cb, r, pair[0]);
    if (!supported(tp)) {
        assert_int_equal(tpoll_want_close(tp, pair[0]), -ENOTSUP);
        assert_int_equal(tpoll_stop_close(tp, pair[0]), -ENOTSUP);
        assert_int_equal(tpoll_fd_interest(tp, pair[0]), 0);
        close(pair[1]);
        tu_finish_one(tp, pair[0]);
        tu_event_destroy(&r->seen);
        return NULL;
    }
    assert_int_equal(tpoll_want_close(tp, pair[0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, pair[0]), TPOLL_RDHUP);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    return tp;
}

static void finish(struct tpoll *tp, struct rec *r, const int pair[2])
{
    assert_null(atomic_load(&r->broken));
    close(pair[1]);
    tu_finish_one(tp, pair[0]);
    tu_event_destroy(&r->seen);
}

/* Waits that apply the pending changes and find nothing to tell. */
static void quiet(struct tpoll *tp, struct rec *r)
{
    rec_reset(r);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(atomic_load(&r->calls), 0);
}

/* Runs body on pair[0] (its peer pair[1]) with its close wanted, where
 * the backend can; elsewhere start_close checked the refusal. */
typedef void body_fn(struct tpoll *tp, struct rec *r, const int pair[2]);

static void run_with(const int pair[2], body_fn *body)
{
    struct rec r = {0};
    struct tpoll *tp = start_close(&r, pair);

    if (tp == NULL)
        return;
    body(tp, &r, pair);
    finish(tp, &r, pair);
}

static void run_socketpair(body_fn *body)
{
    int sv[2];

    tu_socketpair(sv);
    run_with(sv, body);
}

/* The peer's shutdown(SHUT_WR): RDHUP|HUP without RECV, at every wait
 * until stop_close. */
static void half_close(struct tpoll *tp, struct rec *r, const int pair[2])
{
    int i;

    assert_int_equal(shutdown(pair[1], SHUT_WR), 0);
    assert_true(tu_wait_until(tp, called, r));
    assert_int_equal(atomic_load(&r->events), TPOLL_RDHUP | TPOLL_HUP);
    for (i = 0; i < 3; i++) {
        rec_reset(r);
        assert_int_equal(tpoll_wait(tp, 1000), 1);
        assert_int_equal(atomic_load(&r->events), TPOLL_RDHUP | TPOLL_HUP);
    }
    assert_int_equal(tpoll_stop_close(tp, pair[0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, pair[0]), 0);
    quiet(tp, r);
}

static void test_socketpair_half_close(void **state)
{
    (void)state;
    run_socketpair(half_close);
}

static void test_tcp_half_close(void **state)
{
    int s[2], pair[2];

    (void)state;
    tu_tcp_pair(s);
    pair[0] = s[1];
    pair[1] = s[0];
    run_with(pair, half_close);
}

/* Data while only close is wanted wakes nothing (no busy loop); a want
 * of recv then tells it, with the close. */
static void data_wakes_nothing(struct tpoll *tp, struct rec *r, const int sv[2])
{
    struct tpoll_counters c;
    int i;

    tu_write_byte(sv[1]);
    c = tu_counters(tp, 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(tu_counters(tp, 0).idle_wakeups, c.idle_wakeups);
    assert_int_equal(tu_counters(tp, 0).callbacks, c.callbacks);
    assert_int_equal(atomic_load(&r->calls), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), TPOLL_RECV | TPOLL_RDHUP);
    assert_true(tu_wait_until(tp, called, r));
    assert_int_equal(atomic_load(&r->events), TPOLL_RECV);
    assert_int_equal(tu_drain(sv[0]), 1);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    rec_reset(r);
    assert_true(tu_wait_until(tp, called, r));
    assert_int_equal(atomic_load(&r->events),
                     TPOLL_RECV | TPOLL_RDHUP | TPOLL_HUP);
}

static void test_data_wakes_nothing(void **state)
{
    (void)state;
    run_socketpair(data_wakes_nothing);
}

static uint64_t ctl_after_wait(struct tpoll *tp)
{
    assert_int_equal(tpoll_wait(tp, 0), 0);
    return tu_counters(tp, 0).ctl_calls;
}

/* Each change of what is watched is one registration call; close wanted
 * with recv, or wanted and stopped before a wait, costs none. */
static void transitions(struct tpoll *tp, struct rec *r, const int sv[2])
{
    /* calls: registration calls the change makes at the next wait, or
     * NO_WAIT: the next change comes before it. */
    enum { NO_WAIT = -1 };
    static const struct {
        int (*change)(struct tpoll *, int);
        int calls;
    } steps[] = {
        {tpoll_want_recv, 1},        /* close-only to whole */
        {tpoll_stop_recv, 1},        /* back to close-only */
        {tpoll_stop_close, 1},       /* removed */
        {tpoll_want_close, NO_WAIT}, /* wanted and stopped: nothing */
        {tpoll_stop_close, 0},       {tpoll_want_recv, 1}, /* whole */
        {tpoll_want_close, 0}, /* with recv: no change */
        {tpoll_stop_recv, 1},  /* close-only again */
    };
    uint64_t n = ctl_after_wait(tp);
    size_t i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(steps[i].change(tp, sv[0]), 0);
        if (steps[i].calls == NO_WAIT)
            continue;
        n += (uint64_t)steps[i].calls;
        assert_int_equal(ctl_after_wait(tp), n);
    }
    tu_write_byte(sv[1]);
    quiet(tp, r);
}

static void test_transitions(void **state)
{
    (void)state;
    run_socketpair(transitions);
}

/* Delete and insert again: the number's next user starts without close
 * interest. */
static void delete_forgets(struct tpoll *tp, struct rec *r, const int sv[2])
{
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, r, 1), 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), 0);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    quiet(tp, r);
}

static void test_delete_forgets(void **state)
{
    (void)state;
    run_socketpair(delete_forgets);
}

/* Child side, with no cmocka assertions (they would unwind into a copy
 * of the parent's runner): the exit status says which step failed. */
static int child_close(struct tpoll *tp, struct rec *r, int fd)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    if (tpoll_after_fork(tp) != 0)
        return 10;
    if (tpoll_fd_interest(tp, fd) != TPOLL_RDHUP)
        return 11;
    while (atomic_load(&r->calls) == 0)
        if (tpoll_wait(tp, 100) < 0 || tu_now_ms() > end)
            return 12;
    if (atomic_load(&r->events) != (TPOLL_RDHUP | TPOLL_HUP))
        return 13;
    return 0;
}

/* Across fork: the child's fresh poller watches the close only, as the
 * parent's still does. */
static void fork_child(struct tpoll *tp, struct rec *r, const int sv[2])
{
    int status = 0;
    pid_t pid = tu_fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_close(tp, r, sv[0]));
    tu_write_byte(sv[1]);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(tu_wait_until(tp, called, r));
    assert_int_equal(atomic_load(&r->events), TPOLL_RDHUP | TPOLL_HUP);
}

static void test_fork_child(void **state)
{
    (void)state;
    run_socketpair(fork_child);
}

/* Bad input as for the other interest calls; fds the backend cannot
 * watch the close of are refused and keep their interest. */
static void test_refused(void **state)
{
    struct rec r = {0};
    struct tpoll *tp;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tp = tu_create(1, 64);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_want_close(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_want_close(tp, -1), -EBADF);
    assert_int_equal(tpoll_want_close(tp, 64), -EMFILE);
    assert_int_equal(tpoll_want_close(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_stop_close(tp, sv[0]), -ENOENT);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, sv[0], rec_cb, &r, 1, TPOLL_FD_EDGE), 0);
    assert_int_equal(
        tpoll_fd_insert_flags(tp, sv[1], rec_cb, &r, 1, TPOLL_FD_EXCLUSIVE), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[1]), 0);
    if (supported(tp)) {
        assert_int_equal(tpoll_want_close(tp, sv[0]), -ENOTSUP);
        assert_int_equal(tpoll_want_close(tp, sv[1]), -ENOTSUP);
    }
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), TPOLL_RECV);
    assert_int_equal(tpoll_fd_interest(tp, sv[1]), TPOLL_RECV);
    assert_int_equal(tpoll_fd_delete(tp, sv[1]), 0);
    close(sv[1]);
    tu_finish_one(tp, sv[0]);
}

/* Migrated to another thread, close-only still watched there (and no
 * longer on the thread it left). */
static void test_migrate(void **state)
{
    struct rec r = {0};
    struct tu_loop other;
    struct tpoll *tp;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_event_init(&r.seen);
    tp = tu_create(2, 0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, TPOLL_THREAD(0)),
                     0);
    if (!supported(tp)) {
        assert_int_equal(tpoll_want_close(tp, sv[0]), -ENOTSUP);
        goto out;
    }
    assert_int_equal(tpoll_want_close(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_loop_start(&other, tp, 1);
    assert_int_equal(tpoll_fd_set_threads(tp, sv[0], TPOLL_THREAD(1)), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    assert_true(tu_event_wait(&r.seen, 2));
    assert_int_equal(atomic_load(&r.tid), 1);
    assert_int_equal(atomic_load(&r.events), TPOLL_RDHUP | TPOLL_HUP);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    tu_loop_stop(&other);
    assert_null(atomic_load(&r.broken));
out:
    close(sv[1]);
    tu_finish_one(tp, sv[0]);
    tu_event_destroy(&r.seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socketpair_half_close),
        cmocka_unit_test(test_tcp_half_close),
        cmocka_unit_test(test_data_wakes_nothing),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_delete_forgets),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_fork_child),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, group_setup, NULL);
}
