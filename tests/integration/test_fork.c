/* SPDX-License-Identifier: MIT */
/* fork: a child that calls tpoll_after_fork polls its own fds with a fresh
 * poller and leaves the parent's registrations alone. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

struct rec {
    int calls;
    unsigned events;
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)tp;
    r->calls++;
    r->events |= events;
    tu_drain(fd);
}

static int called(void *arg)
{
    return ((struct rec *)arg)->calls > 0;
}

/* Child side, with no cmocka assertions (they would unwind into a copy of
 * the parent's runner): the exit status says which step failed. */
static int child_wait_for(struct tpoll *tp, struct rec *r)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (r->calls == 0) {
        if (tpoll_wait(tp, 100) < 0 || tu_now_ms() > end)
            return 0;
    }
    return 1;
}

/*
 * After after_fork (and, if the parent's thread id was not ours, a fresh
 * start), insert a new pair, get its event, then drop the inherited fd:
 * delete it from the child's table and close the child's copy.
 */
static int child_main(struct tpoll *tp, int tid, int must_start, int inherited)
{
    struct rec r = {0};
    int sv[2];

    if (tpoll_after_fork(tp) != 0)
        return 10;
    if (must_start) {
        if (tpoll_thread_id(tp) != -EPERM)
            return 11;
        if (tpoll_thread_start(tp, tid) != 0)
            return 12;
    } else if (tpoll_thread_id(tp) != tid) {
        return 13;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        return 14;
    if (tpoll_fd_insert(tp, sv[0], rec_cb, &r, TPOLL_THREAD(tid)) != 0 ||
        tpoll_want_recv(tp, sv[0]) != 0)
        return 15;
    if (write(sv[1], "c", 1) != 1)
        return 16;
    if (!child_wait_for(tp, &r) || !(r.events & TPOLL_RECV))
        return 17;
    if (tpoll_fd_delete(tp, sv[0]) != 0)
        return 18;
    if (tpoll_fd_delete(tp, inherited) != 0)
        return 19;
    close(inherited);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void reap(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The forking thread is bound: the child keeps its id with a new poller. */
static void test_fork_bound_thread(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct rec r = {0};
    int sv[2];
    pid_t pid;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_main(tp, 0, 0, sv[0]));
    reap(pid);
    /* Registered once before the fork, never re-registered since. */
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(r.calls, 1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* The parent's poller runs on another thread; the forking thread is
 * unbound. The child binds the id its parent's loop thread holds. */
struct trec {
    atomic_int calls;
    struct tu_event ev;
};

static void trec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct trec *r = owner;

    (void)tp, (void)events;
    tu_drain(fd);
    atomic_fetch_add(&r->calls, 1);
    tu_event_post(&r->ev);
}

static void test_fork_from_unbound(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0;
    struct trec r;
    int sv[2];
    pid_t pid;

    (void)state;
    atomic_init(&r.calls, 0);
    tu_event_init(&r.ev);
    tu_socketpair(sv);
    tu_loop_start(&l0, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], trec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_event_wait(&r.ev, 1));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_main(tp, 0, 1, sv[0]));
    reap(pid);
    tu_write_byte(sv[1]);
    assert_true(tu_event_wait(&r.ev, 2));
    tu_loop_stop(&l0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&r.ev);
    tu_destroy(tp);
}

/* fork while another thread is inside a callback: in the child that thread
 * id is free to bind again and its waits work (nothing of the vanished
 * thread's dispatch state survives). */
struct hold {
    struct tu_event entered;
    struct tu_event release;
};

static void hold_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct hold *h = owner;

    (void)tp, (void)events;
    tu_drain(fd);
    tu_event_post(&h->entered);
    assert_true(tu_event_wait(&h->release, 1));
}

static void test_fork_during_callback(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0;
    struct hold h;
    int sv[2];
    pid_t pid;

    (void)state;
    tu_event_init(&h.entered);
    tu_event_init(&h.release);
    tu_socketpair(sv);
    tu_loop_start(&l0, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], hold_cb, &h, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_event_wait(&h.entered, 1));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_main(tp, 0, 1, sv[0]));
    tu_event_post(&h.release);
    reap(pid);
    tu_loop_stop(&l0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_event_destroy(&h.entered);
    tu_event_destroy(&h.release);
    tu_destroy(tp);
}

/*
 * A callback that forks (a server handing a connection to a worker) and
 * calls tpoll_after_fork in the child, which then returns into the wait it
 * forked from. The child must not go on with the batch its parent's poller
 * fetched (the parent handles those), nor touch freed poller memory; its
 * next waits use its own poller. The parent carries on undisturbed.
 */
struct fork_cb_ctx {
    pid_t parent;
    int forked;
    int after_fork_rc;
    int calls[2];
    int fd[2];
};

static void forking_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct fork_cb_ctx *c = owner;
    int me = fd == c->fd[0] ? 0 : 1;
    pid_t pid;

    (void)events;
    c->calls[me]++;
    if (c->forked)
        return;
    c->forked = 1;
    pid = fork();
    if (pid < 0) {
        c->after_fork_rc = -errno;
        return;
    }
    if (pid == 0)
        c->after_fork_rc = tpoll_after_fork(tp);
}

static int child_after_callback_fork(struct tpoll *tp, struct fork_cb_ctx *c,
                                     int first)
{
    struct rec r = {0};
    int sv[2], i;

    if (c->after_fork_rc != 0)
        return 20;
    /* Only the forking callback ran here; the other event of the batch
     * was the parent's. */
    if (c->calls[first] != 1 || c->calls[1 - first] != 0)
        return 21;
    if (tpoll_thread_id(tp) != 0)
        return 22;
    /* The inherited fd whose event was dropped is still readable: the
     * child's own poller reports it. */
    {
        uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

        while (c->calls[1 - first] == 0)
            if (tpoll_wait(tp, 100) < 0 || tu_now_ms() > end)
                return 28;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        return 23;
    if (tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1) != 0 ||
        tpoll_want_recv(tp, sv[0]) != 0)
        return 24;
    if (write(sv[1], "c", 1) != 1)
        return 25;
    if (!child_wait_for(tp, &r))
        return 26;
    for (i = 0; i < 2; i++)
        if (tpoll_fd_delete(tp, c->fd[i]) != 0)
            return 27;
    return 0;
}

static void test_fork_inside_callback(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct fork_cb_ctx c;
    int a[2], b[2], first, n;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.parent = getpid();
    tu_socketpair(a);
    tu_socketpair(b);
    c.fd[0] = a[0];
    c.fd[1] = b[0];
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, a[0], forking_cb, &c, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], forking_cb, &c, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(a[1]);
    tu_write_byte(b[1]);
    n = tpoll_wait(tp, 1000);
    first = c.calls[0] ? 0 : 1;
    if (getpid() != c.parent)
        _exit(child_after_callback_fork(tp, &c, first));
    assert_int_equal(c.after_fork_rc, 0);
    assert_int_equal(n, 2);
    {
        int status = 0;

        assert_true(wait(&status) > 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* The parent's fds are still registered in its own poller. */
    tu_drain(a[0]);
    tu_drain(b[0]);
    c.calls[0] = c.calls[1] = 0;
    tu_write_byte(a[1]);
    tu_write_byte(b[1]);
    while (c.calls[0] == 0 || c.calls[1] == 0)
        assert_true(tpoll_wait(tp, 1000) > 0);
    assert_int_equal(tpoll_fd_delete(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, b[0]), 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_bound_thread),
        cmocka_unit_test(test_fork_from_unbound),
        cmocka_unit_test(test_fork_during_callback),
        cmocka_unit_test(test_fork_inside_callback),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
