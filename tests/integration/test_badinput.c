/* SPDX-License-Identifier: MIT */
/* The foundation's bad-input list: each call returns its documented
 * negative errno and changes nothing (state, fds, registrations). The
 * exhaustive per-function matrix lives in tests/contract. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include "testutil.h"

#define MAX_FDS 64

struct rec {
    int calls;
};

static void rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)tp, (void)events;
    r->calls++;
    tu_drain(fd);
}

static int called(void *arg)
{
    return ((struct rec *)arg)->calls > 0;
}

/* Every fd operation on a number that cannot be in the table: -EBADF for
 * a negative one, -EMFILE for one at or beyond max_fds. */
static void check_bad_number(struct tpoll *tp, int fd)
{
    struct rec r = {0};
    int want = fd < 0 ? -EBADF : -EMFILE;

    assert_int_equal(tpoll_fd_insert(tp, fd, rec_cb, &r, 1), want);
    assert_int_equal(tpoll_fd_delete(tp, fd), want);
    assert_int_equal(tpoll_fd_set_threads(tp, fd, 1), want);
    assert_int_equal(tpoll_want_recv(tp, fd), want);
    assert_int_equal(tpoll_stop_recv(tp, fd), want);
    assert_int_equal(tpoll_want_send(tp, fd), want);
    assert_int_equal(tpoll_stop_send(tp, fd), want);
    assert_int_equal(tpoll_fd_interest(tp, fd), want);
}

static void test_fd_out_of_range(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    int big;

    (void)state;
    check_bad_number(tp, -1);
    check_bad_number(tp, -1000);
    check_bad_number(tp, MAX_FDS);
    check_bad_number(tp, MAX_FDS + 1);
    /* An open fd at the table size is still out of range. */
    big = fcntl(0, F_DUPFD_CLOEXEC, MAX_FDS);
    if (big < 0)
        big = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, MAX_FDS);
    if (big >= 0) {
        check_bad_number(tp, big);
        close(big);
    }
    tu_destroy(tp);
}

/* Not inserted (or no longer): -ENOENT everywhere. A closed number or a
 * regular file is inserted (insert makes no system call to tell) and
 * deleted like any fd; its registration is refused (test_contract). */
static void test_not_inserted(void **state)
{
    struct tpoll *tp = tu_create(1, MAX_FDS);
    struct rec r = {0};
    char path[] = "/tmp/tpoll-badinput-XXXXXX";
    int sv[2], f;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_fd_set_threads(tp, sv[0], 1), -ENOENT);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_want_send(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_stop_send(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), -ENOENT);

    close(sv[0]);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), -ENOENT);

    f = mkstemp(path);
    assert_true(f >= 0);
    unlink(path);
    if (f < MAX_FDS) {
        assert_int_equal(tpoll_fd_insert(tp, f, rec_cb, &r, 1), 0);
        assert_int_equal(tpoll_fd_delete(tp, f), 0);
        assert_int_equal(tpoll_fd_interest(tp, f), -ENOENT);
    }
    close(f);
    close(sv[1]);
    tu_destroy(tp);
}

/* Double insert: -EEXIST, and the first callback, owner, mask and
 * interest stay. */
static void test_double_insert(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    struct rec first = {0}, second = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &first, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &second, 1), -EEXIST);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &second, 2), -EEXIST);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), TPOLL_RECV);
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, called, &first));
    assert_int_equal(second.calls, 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* Bad masks and callbacks: -EINVAL, nothing inserted or changed. */
static void test_bad_masks(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 0), -EINVAL);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, TPOLL_THREAD(2)),
                     -EINVAL);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1 | 4), -EINVAL);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r,
                                     TPOLL_THREAD(TPOLL_MAX_THREADS - 1)),
                     -EINVAL);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], NULL, &r, 1), -EINVAL);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), -ENOENT);

    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_set_threads(tp, sv[0], 0), -EINVAL);
    assert_int_equal(tpoll_fd_set_threads(tp, sv[0], TPOLL_THREAD(5)), -EINVAL);
    assert_int_equal(tpoll_fd_set_threads(tp, sv[0], 2 | 8), -EINVAL);
    /* Still on thread 0. */
    tu_write_byte(sv[1]);
    assert_true(tu_wait_until(tp, called, &r));
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), TPOLL_RECV);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

static void *try_start(void *arg)
{
    struct tpoll *tp = arg;

    return (void *)(intptr_t)tpoll_thread_start(tp, 0);
}

/* Thread ids and binding. */
static void test_thread_calls(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    struct tpoll_counters c;
    pthread_t t;
    void *ret;

    (void)state;
    assert_int_equal(tpoll_wait(tp, 0), -EPERM);
    assert_int_equal(tpoll_thread_stop(tp), -EPERM);
    assert_int_equal(tpoll_thread_id(tp), -EPERM);
    assert_int_equal(tpoll_thread_start(tp, -1), -EINVAL);
    assert_int_equal(tpoll_thread_start(tp, 2), -EINVAL);
    assert_int_equal(tpoll_thread_start(tp, TPOLL_MAX_THREADS), -EINVAL);
    assert_int_equal(tpoll_thread_id(tp), -EPERM);
    assert_int_equal(tpoll_thread_counters(tp, -1, &c), -EINVAL);
    assert_int_equal(tpoll_thread_counters(tp, 2, &c), -EINVAL);
    assert_int_equal(tpoll_thread_counters(tp, 0, NULL), -EINVAL);
    assert_int_equal(tpoll_wait(NULL, 0), -EINVAL);
    assert_int_equal(tpoll_thread_start(NULL, 0), -EINVAL);

    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    /* Already bound to this instance, to the same or another id. */
    assert_int_equal(tpoll_thread_start(tp, 0), -EBUSY);
    assert_int_equal(tpoll_thread_start(tp, 1), -EBUSY);
    assert_int_equal(tpoll_thread_id(tp), 0);
    /* The id is taken by this thread: another thread cannot have it. */
    assert_int_equal(pthread_create(&t, NULL, try_start, tp), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((int)(intptr_t)ret, -EBUSY);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    assert_int_equal(tpoll_thread_stop(tp), -EPERM);
    assert_int_equal(tpoll_wait(tp, 0), -EPERM);
    tu_destroy(tp);
}

static void *start_and_hold(void *arg)
{
    struct tu_loop *l = arg;

    tu_loop_start(l, l->tp, 1);
    return NULL;
}

/* Destroy while another thread is bound: -EBUSY, instance intact. */
static void test_destroy_busy(void **state)
{
    struct tpoll *tp = tu_create(2, MAX_FDS);
    struct tu_loop l;
    pthread_t t;

    (void)state;
    l.tp = tp;
    assert_int_equal(pthread_create(&t, NULL, start_and_hold, &l), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(tpoll_destroy(tp), -EBUSY);
    assert_int_equal(tpoll_wake(tp, 1), 0);
    tu_loop_stop(&l);
    assert_int_equal(tpoll_destroy(tp), 0);
    assert_int_equal(tpoll_destroy(NULL), 0);
}

static int create_with(const char *backend, int threads, int max_fds, int batch)
{
    struct tpoll_options o;
    struct tpoll *tp = NULL;
    int r;

    tpoll_options_init(&o);
    o.backend = backend;
    o.threads = threads;
    o.max_fds = max_fds;
    o.batch = batch;
    r = tpoll_create(&tp, &o);
    if (r == 0)
        assert_int_equal(tpoll_destroy(tp), 0);
    else
        assert_null(tp);
    return r;
}

/* Unknown and not compiled backends, by option and by environment, and
 * out-of-range options: clear errors, never a fallback. */
static void test_create_errors(void **state)
{
    static const char *known[] = {"epoll", "io_uring", "kqueue",
                                  "port",  "poll",     "select"};
    const char *env = getenv("TPOLL_BACKEND");
    char *saved = env ? strdup(env) : NULL;
    struct rlimit rl;
    struct tpoll *tp = NULL;
    size_t i;
    int missing = 0;

    (void)state;
    assert_int_equal(create_with("nope", 1, MAX_FDS, 0), -ENOENT);
    assert_int_equal(create_with("EPOLL", 1, MAX_FDS, 0), -ENOENT);
    assert_int_equal(tpoll_backend_supported("nope"), -ENOENT);
    assert_int_equal(tpoll_backend_supported(NULL), -EINVAL);
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        int s = tpoll_backend_supported(known[i]);

        assert_true(s == 0 || s == -ENOTSUP);
        assert_int_equal(create_with(known[i], 1, MAX_FDS, 0), s);
        missing += s != 0;
    }
    assert_int_equal(tpoll_backend_supported(tpoll_default_backend()), 0);

    assert_int_equal(setenv("TPOLL_BACKEND", "nope", 1), 0);
    assert_int_equal(create_with(NULL, 1, MAX_FDS, 0), -ENOENT);
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (tpoll_backend_supported(known[i]) == 0)
            continue;
        assert_int_equal(setenv("TPOLL_BACKEND", known[i], 1), 0);
        assert_int_equal(create_with(NULL, 1, MAX_FDS, 0), -ENOTSUP);
    }
    /* The explicit option wins over the environment. */
    assert_int_equal(create_with(tpoll_default_backend(), 1, MAX_FDS, 0), 0);
    if (saved) {
        assert_int_equal(setenv("TPOLL_BACKEND", saved, 1), 0);
        free(saved);
    } else {
        unsetenv("TPOLL_BACKEND");
    }
    (void)missing;

    assert_int_equal(create_with(NULL, -1, MAX_FDS, 0), -EINVAL);
    assert_int_equal(create_with(NULL, TPOLL_MAX_THREAD_IDS + 1, MAX_FDS, 0),
                     -EINVAL);
    assert_int_equal(create_with(NULL, 1, -1, 0), -EINVAL);
    assert_int_equal(create_with(NULL, 1, MAX_FDS, -1), -EINVAL);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < INT_MAX)
        assert_int_equal(create_with(NULL, 1, (int)rl.rlim_max + 1, 0),
                         -EINVAL);
    assert_int_equal(create_with(NULL, TPOLL_MAX_THREADS, MAX_FDS, 0), 0);
    assert_int_equal(tpoll_create(NULL, NULL), -EINVAL);
    assert_int_equal(tpoll_create(&tp, NULL), 0);
    assert_string_equal(tpoll_backend_name(tp), tu_backend());
    assert_int_equal(tpoll_destroy(tp), 0);
}

/* select cannot take fd numbers at or above FD_SETSIZE. */
static void test_select_fd_setsize(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int sv[2], high;

    (void)state;
    if (strcmp(tu_backend(), "select") != 0)
        skip();
    tp = tu_create(1, FD_SETSIZE + 64);
    tu_socketpair(sv);
    high = fcntl(sv[0], F_DUPFD_CLOEXEC, FD_SETSIZE);
    if (high < 0) {
        close(sv[0]);
        close(sv[1]);
        tu_destroy(tp);
        skip();
    }
    assert_int_equal(tpoll_fd_insert(tp, high, rec_cb, &r, 1), -ERANGE);
    assert_int_equal(tpoll_fd_interest(tp, high), -ENOENT);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(high);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* The whole sequence of failing calls leaves no fd open behind it. */
static void test_no_fd_leak(void **state)
{
    int before = tu_count_open_fds();

    test_not_inserted(state);
    test_bad_masks(state);
    test_thread_calls(state);
    test_create_errors(state);
    assert_int_equal(tu_count_open_fds(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_out_of_range),
        cmocka_unit_test(test_not_inserted),
        cmocka_unit_test(test_double_insert),
        cmocka_unit_test(test_bad_masks),
        cmocka_unit_test(test_thread_calls),
        cmocka_unit_test(test_destroy_busy),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_select_fd_setsize),
        cmocka_unit_test(test_no_fd_leak),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
