/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, on every backend: allocation failure at every
 * allocation of create and thread start, no fd left for a thread's poller
 * or wake fd, signals during a wait, an fd closed without delete, fork
 * while other threads poll. Each must give a clean error or a correct
 * recovery, leak nothing (fd counts here, memory under ASan) and leave the
 * instance usable where docs/contract.md says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "testutil.h"

#define MAX_FDS 256

struct rec {
    atomic_int calls;
    atomic_uint events;
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)tp, (void)fd;
    atomic_fetch_or(&r->events, events);
    atomic_fetch_add(&r->calls, 1);
}

static int rec_called(void *arg)
{
    return atomic_load(&((struct rec *)arg)->calls) > 0;
}

/* The instance works: a byte written into a fd inserted now is seen by a
 * wait on the calling thread, which must be bound to a tid in mask 1. */
static void expect_works(struct tpoll *tp)
{
    struct rec r = {0};
    int sv[2];

    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, rec_called, &r));
    assert_true(atomic_load(&r.events) & TPOLL_RECV);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
}

static struct tpoll_options opts(int threads)
{
    struct tpoll_options o;

    tpoll_options_init(&o);
    o.backend = tu_backend();
    o.threads = threads;
    o.max_fds = MAX_FDS;
    return o;
}

/* ---- allocation failure ---- */

static void test_alloc_create(void **state)
{
    struct tpoll_options o = opts(2);
    int fds = tu_count_open_fds();
    struct tpoll *tp = NULL;
    unsigned long n;
    int r;

    (void)state;
    for (n = 1;; n++) {
        tp__alloc_fail_after(n);
        r = tpoll_create(&tp, &o);
        tp__alloc_fail_after(0);
        if (r == 0)
            break;
        assert_int_equal(r, -ENOMEM);
        assert_null(tp);
        assert_int_equal(tu_count_open_fds(), fds);
        assert_true(n < 100);
    }
    /* The instance, its fd table and its threads: at least three sites. */
    assert_true(n > 3);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    expect_works(tp);
    tu_destroy(tp);
    assert_int_equal(tu_count_open_fds(), fds);
}

static void test_alloc_thread_start(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    int fds = tu_count_open_fds();
    struct rec r = {0};
    unsigned long n;
    int sv[2], ret;

    (void)state;
    /* An fd inserted before the start is registered by the first wait. */
    tu_socketpair(sv);
    fds += 2;
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    for (n = 1;; n++) {
        tp__alloc_fail_after(n);
        ret = tpoll_thread_start(tp, 0);
        tp__alloc_fail_after(0);
        if (ret == 0)
            break;
        assert_int_equal(ret, -ENOMEM);
        assert_int_equal(tpoll_thread_id(tp), -EPERM);
        assert_int_equal(tpoll_wait(tp, 0), -EPERM);
        assert_int_equal(tu_count_open_fds(), fds);
        assert_int_equal(tpoll_fd_interest(tp, sv[0]), TPOLL_RECV);
        assert_true(n < 100);
    }
    assert_true(n > 1);
    assert_int_equal(tpoll_thread_id(tp), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, rec_called, &r));
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    /* Stopping and failing again on the restart leaves it usable too. */
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tp__alloc_fail_after(1);
    assert_int_equal(tpoll_thread_start(tp, 0), -ENOMEM);
    tp__alloc_fail_after(0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    expect_works(tp);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* ---- no fd left ---- */

/* Opens fds until EMFILE and closes them again: how many were free. */
static int free_fd_slots(void)
{
    int got[16], n = 0, i;

    while (n < 16) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        got[n++] = fd;
    }
    for (i = 0; i < n; i++)
        close(got[i]);
    return n;
}

static void test_emfile_thread_start(void **state)
{
    struct tpoll *tp = tu_create(1, MAX_FDS);
    struct rlimit saved, low;
    int fillers[MAX_FDS], nfill = 0, freed, r = -1;
    int fds;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = MAX_FDS / 2;
    fds = tu_count_open_fds();
    assert_true(fds < (int)low.rlim_cur - 8);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        fillers[nfill++] = fd;
    }
    /* Free one fd at a time: the poller, then the wake fd get one each.
     * A failed start must hand back every fd it opened. */
    for (freed = 0; freed <= 4; freed++) {
        if (freed > 0)
            close(fillers[--nfill]);
        r = tpoll_thread_start(tp, 0);
        if (r == 0)
            break;
        assert_true(r == -EMFILE || r == -ENFILE);
        assert_int_equal(tpoll_thread_id(tp), -EPERM);
        assert_int_equal(free_fd_slots(), freed);
    }
    assert_int_equal(r, 0);
    /* Even poll and select need a wake fd. */
    assert_true(freed >= 1);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    while (nfill > 0)
        close(fillers[--nfill]);
    expect_works(tp);
    tu_destroy(tp);
    assert_int_equal(tu_count_open_fds(), fds);
}

/* ---- signals ---- */

static void on_sigusr1(int sig)
{
    (void)sig;
}

struct eintr_loop {
    struct tpoll *tp;
    pthread_t thread;
    atomic_int bound;
    atomic_int stop;
    atomic_int eintr;
    atomic_int other_err;
    atomic_int returns;
};

static void *eintr_main(void *arg)
{
    struct eintr_loop *l = arg;

    assert_int_equal(tpoll_thread_start(l->tp, 1), 0);
    atomic_store(&l->bound, 1);
    while (!atomic_load(&l->stop)) {
        int r = tpoll_wait(l->tp, -1);

        if (r == -EINTR)
            atomic_fetch_add(&l->eintr, 1);
        else if (r < 0)
            atomic_fetch_add(&l->other_err, 1);
        atomic_fetch_add(&l->returns, 1);
    }
    assert_int_equal(tpoll_thread_stop(l->tp), 0);
    return NULL;
}

static void test_eintr_wait(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    struct sigaction sa, old;
    struct eintr_loop l;
    struct rec r = {0};
    uint64_t end;
    int sv[2], returns;

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the kernel wait fails with EINTR */
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    memset(&l, 0, sizeof(l));
    l.tp = tp;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 2), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(pthread_create(&l.thread, NULL, eintr_main, &l), 0);
    while (!atomic_load(&l.bound))
        sched_yield();
    /* A signal that lands between two waits interrupts nothing: repeat
     * until one lands inside the kernel wait. */
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&l.eintr) == 0 && tu_now_ms() < end) {
        struct timespec ts = {0, 1000000};

        assert_int_equal(pthread_kill(l.thread, SIGUSR1), 0);
        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&l.eintr) > 0);
    assert_int_equal(atomic_load(&l.other_err), 0);
    /* Still working: the byte reaches the callback on tid 1. */
    tu_write_byte(sv[1]);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (!atomic_load(&r.calls) && tu_now_ms() < end)
        sched_yield();
    assert_true(atomic_load(&r.calls) > 0);
    assert_true(tu_drain(sv[0]) > 0);
    /* And asleep again, not spinning on a stale condition. */
    returns = atomic_load(&l.returns);
    {
        struct timespec ts = {0, 20000000};

        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&l.returns) <= returns + 1);
    atomic_store(&l.stop, 1);
    assert_int_equal(tpoll_wake(tp, 1), 0);
    assert_int_equal(pthread_join(l.thread, NULL), 0);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* ---- fd closed without delete ---- */

static void test_closed_without_delete(void **state)
{
    struct tpoll *tp = tu_create(1, MAX_FDS);
    struct tpoll_counters before, after;
    struct rec r = {0};
    int fds = tu_count_open_fds();
    int sv[2], fd, i;
    uint64_t t0;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    fd = sv[0];
    assert_int_equal(tpoll_fd_insert(tp, fd, rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, fd), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    close(sv[0]);
    close(sv[1]);
    /* epoll and kqueue lose the registration with the file; poll and
     * select report the dead fd as an error, never as plain data. */
    for (i = 0; i < 3; i++)
        assert_true(tpoll_wait(tp, 0) >= 0);
    if (atomic_load(&r.calls) > 0)
        assert_true(atomic_load(&r.events) & TPOLL_ERR);
    assert_int_equal(tpoll_fd_delete(tp, fd), 0);
    assert_int_equal(tpoll_fd_interest(tp, fd), -ENOENT);
    /* No spinning: a wait with nothing to do sleeps its timeout. */
    atomic_store(&r.calls, 0);
    before = tu_counters(tp, 0);
    t0 = tu_now_ms();
    assert_int_equal(tpoll_wait(tp, 50), 0);
    assert_true(tu_now_ms() - t0 >= 40);
    after = tu_counters(tp, 0);
    assert_int_equal(after.callbacks, before.callbacks);
    assert_int_equal(atomic_load(&r.calls), 0);
    /* The number is free for its next user. */
    tu_socketpair(sv);
    assert_int_equal(sv[0], fd);
    expect_works(tp);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
    assert_int_equal(tu_count_open_fds(), fds);
}

/* ---- fork ---- */

/* No cmocka in the child: its exit code says which step failed. */
static void child_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    char buf[16];

    rec_cb(tp, fd, events, owner);
    while (read(fd, buf, sizeof(buf)) > 0)
        continue;
}

static int child_main(struct tpoll *tp, int mine, int mine_peer, int theirs)
{
    struct rec r = {0};
    char c = 'c';

    if (tpoll_after_fork(tp) != 0)
        return 10;
    if (tpoll_thread_id(tp) != 0)
        return 11;
    /* The parent's fd: forgetting it here must not unregister it there. */
    if (tpoll_fd_delete(tp, theirs) != 0)
        return 12;
    if (tpoll_fd_delete(tp, mine) != 0)
        return 13;
    if (tpoll_fd_insert(tp, mine, child_cb, &r, 1) != 0 ||
        tpoll_want_recv(tp, mine) != 0)
        return 14;
    if (write(mine_peer, &c, 1) != 1)
        return 15;
    while (atomic_load(&r.calls) == 0)
        if (tpoll_wait(tp, TU_DEADLINE_MS) <= 0)
            return 16;
    if (tpoll_fd_delete(tp, mine) != 0 || tpoll_destroy(tp) != 0)
        return 17;
    return 0;
}

static void test_fork_while_polling(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    struct rec theirs = {0}, mine = {0};
    struct tu_loop loop;
    int a[2], b[2], status;
    pid_t pid;

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    assert_int_equal(tpoll_fd_insert(tp, a[0], rec_cb, &theirs, 2), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], rec_cb, &mine, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_loop_start(&loop, tp, 1);
    /* tid 1 has a[0] registered once its first update pass ran. */
    while (atomic_load(&loop.loops) == 0 &&
           tu_counters(tp, 1).updates == 0)
        sched_yield();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_main(tp, b[0], b[1], a[0]));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's threads did not notice: tid 1 still gets a[0]. */
    tu_write_byte(a[1]);
    {
        uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

        while (!atomic_load(&theirs.calls) && tu_now_ms() < end)
            sched_yield();
    }
    assert_true(atomic_load(&theirs.calls) > 0);
    /* The child drained b's byte through its own copy of the socket. An
     * io_uring poll request records readiness when it happens, not when
     * the wait reads it (docs/io_uring.md): the byte's arrival may be
     * reported once, after the child read it; never again. */
    if (strcmp(tpoll_backend_name(tp), "io_uring") == 0) {
        assert_true(tpoll_wait(tp, 0) <= 1);
        atomic_store(&mine.calls, 0);
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(atomic_load(&mine.calls), 0);
    tu_loop_stop(&loop);
    assert_int_equal(tpoll_fd_delete(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, b[0]), 0);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    tu_destroy(tp);
}

/* In a child whose new poller cannot be created (its old one is released
 * first, so fds cannot run out here: allocation does), a clean error and
 * an unbound thread rather than a half-started one. */
static int child_after_fork_fails(struct tpoll *tp)
{
    int r;

    tp__alloc_fail_after(1);
    r = tpoll_after_fork(tp);
    tp__alloc_fail_after(0);
    if (r != -ENOMEM)
        return 20;
    if (tpoll_thread_id(tp) != -EPERM || tpoll_wait(tp, 0) != -EPERM)
        return 21;
    if (tpoll_thread_start(tp, 0) != 0)
        return 22;
    if (tpoll_destroy(tp) != 0)
        return 23;
    return 0;
}

static void test_after_fork_fails(void **state)
{
    struct tpoll *tp = tu_create(1, MAX_FDS);
    int status;
    pid_t pid;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_after_fork_fails(tp));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    expect_works(tp);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_create),
        cmocka_unit_test(test_alloc_thread_start),
        cmocka_unit_test(test_emfile_thread_start),
        cmocka_unit_test(test_eintr_wait),
        cmocka_unit_test(test_closed_without_delete),
        cmocka_unit_test(test_fork_while_polling),
        cmocka_unit_test(test_after_fork_fails),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
