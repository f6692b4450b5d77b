/* SPDX-License-Identifier: MIT */
/*
 * The emulation's filters, close and fork behaviour and threads, checked
 * against FreeBSD's kqueue(2); each test quotes the sentence it checks.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kq_testutil.h"

/* Sockets: "On return, data contains the number of bytes of protocol data
 * available to read." */
static void test_read_data_socket(void **state)
{
    struct kevent ev[1];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 0);
    assert_int_equal(write(sv[1], "hello", 5), 5);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_int_equal((int)ev[0].filter, KT_READ);
    assert_int_equal(ev[0].data, 5);
    assert_false(ev[0].flags & EV_EOF);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "If the read direction of the socket has shutdown, then the filter also
 * sets EV_EOF in flags" and "It is possible for EOF to be returned
 * (indicating the connection is gone) while there is still data pending
 * in the socket buffer." */
static void test_read_eof_socket(void **state)
{
    struct kevent ev[1];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(write(sv[1], "abc", 3), 3);
    close(sv[1]);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].data, 3);
    assert_int_equal(tu_drain(sv[0]), 3);
    /* Still at end of file with nothing left: still reported. */
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].data, 0);
    close(kq);
    close(sv[0]);
}

/* Pipes: "Returns when the there is data to read; data contains the number
 * of bytes available. When the last writer disconnects, the filter will
 * set EV_EOF in flags." */
static void test_read_pipe(void **state)
{
    struct kevent ev[1];
    int kq = kt_new(), p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(kt_change(kq, p[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 0);
    assert_int_equal(write(p[1], "xy", 2), 2);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_int_equal(ev[0].data, 2);
    assert_false(ev[0].flags & EV_EOF);
    assert_int_equal(tu_drain(p[0]), 2);
    close(p[1]);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].data, 0);
    close(kq);
    close(p[0]);
}

/* KT_WRITE "returns whenever it is possible to write to the
 * descriptor. For sockets, pipes and fifos, data will contain the amount
 * of space remaining in the write buffer. The filter will set EV_EOF when
 * the reader disconnects" */
static void test_write_pipe(void **state)
{
    char buf[4096] = {0};
    struct kevent ev[1];
    int kq = kt_new(), p[2], size;

    (void)state;
    tu_pipe(p);
    size = fcntl(p[1], F_GETPIPE_SZ);
    assert_int_equal(kt_change(kq, p[1], KT_WRITE, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    /* FreeBSD's two-way pipes are emulated by sockets, whose space is
     * the socket buffer's. */
    if (size > 0)
        assert_int_equal(ev[0].data, size);
    else
        assert_true(ev[0].data > 0);
    while (write(p[1], buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(kt_scan(kq, ev, 1), 0);
    close(p[0]);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_true(ev[0].flags & EV_EOF);
    close(kq);
    close(p[1]);
}

/* "Calling close() on a file descriptor will remove any kevents that
 * reference the descriptor." At once: an old file that lives on elsewhere
 * (here a dup) reports nothing under the closed number, and a new file
 * behind the number has no knote. */
static void test_close_removes_knotes(void **state)
{
    struct epoll_event ep;
    struct kevent ev[2];
    int kq = kt_new(), p[2], q[2], keep;

    (void)state;
    tu_pipe(p);
    assert_int_equal(kt_change(kq, p[0], KT_READ, EV_ADD, 0, NULL), 0);
    keep = dup(p[0]);
    assert_true(keep >= 0);
    close(p[0]);
    tu_write_byte(p[1]);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    tu_write_byte(p[1]);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    /* White-box: the kqueue is an epoll set, and the registration of the
     * file that outlived its number went with the close, so the closed
     * number costs no wake-up. */
    assert_int_equal(epoll_wait(kq, &ep, 1, 0), 0);
    /* The number now names another pipe. */
    tu_pipe(q);
    assert_int_equal(dup2(q[0], p[0]), p[0]);
    assert_int_equal(kt_change(kq, p[0], KT_READ, EV_DELETE, 0, NULL), -ENOENT);
    tu_write_byte(q[1]);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    assert_int_equal(kt_change(kq, p[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal(ev[0].ident, p[0]);
    assert_int_equal(ev[0].data, 1);
    close(kq);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    close(keep);
}

#ifdef KT_USER
/* KT_USER "Establishes a user event identified by ident which is not
 * associated with any kernel mechanism but is triggered by user level
 * code." with "NOTE_TRIGGER Cause the event to be triggered." and, with
 * EV_CLEAR, "After the event is retrieved by the user, its state is
 * reset." */
static void test_user_trigger_clear(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), tag;

    (void)state;
    assert_int_equal(kt_change(kq, 5, KT_USER, EV_ADD | EV_CLEAR, 0, &tag), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    assert_int_equal(kt_change(kq, 5, KT_USER, 0, NOTE_TRIGGER, &tag), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal(ev[0].ident, 5);
    assert_int_equal((int)ev[0].filter, KT_USER);
    assert_ptr_equal(KT_UDATA(ev[0]), &tag);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    close(kq);
}
#endif

#ifdef KT_USER
/* Without EV_CLEAR a triggered user event stays triggered; "On return,
 * fflags contains the users defined flags in the lower 24 bits", combined
 * by NOTE_FFOR, NOTE_FFAND and NOTE_FFCOPY. */
static void test_user_fflags(void **state)
{
    struct kevent ev[1];
    int kq = kt_new();

    (void)state;
    assert_int_equal(kt_change(kq, 9, KT_USER, EV_ADD, NOTE_FFCOPY | 0x5, NULL),
                     0);
    assert_int_equal(
        kt_change(kq, 9, KT_USER, 0, NOTE_FFOR | 0x12 | NOTE_TRIGGER, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_int_equal(ev[0].fflags, 0x17);
    assert_int_equal(kt_change(kq, 9, KT_USER, 0, NOTE_FFAND | 0x3, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_int_equal(ev[0].fflags, 0x3);
    assert_int_equal(kt_change(kq, 9, KT_USER, EV_DELETE, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 0);
    close(kq);
}
#endif

struct waiter {
    int kq;
    atomic_int blocking;
    int n;
    struct kevent ev[2];
};

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;

    atomic_store(&w->blocking, 1);
    w->n = kevent(w->kq, NULL, 0, w->ev, 2, NULL);
    return NULL;
}

static void start_waiter(struct waiter *w, pthread_t *t)
{
    atomic_store(&w->blocking, 0);
    assert_int_equal(pthread_create(t, NULL, wait_forever, w), 0);
    while (!atomic_load(&w->blocking))
        sched_yield();
}

#ifdef KT_USER
/* A trigger from another thread ends a kevent() waiting with no time
 * limit ("If timeout is a NULL pointer, kevent() waits indefinitely"),
 * whether it lands before or during the wait. */
static void test_user_wakes_other_thread(void **state)
{
    struct waiter w = {.kq = kt_new()};
    pthread_t t;

    (void)state;
    assert_int_equal(kt_change(w.kq, 0, KT_USER, EV_ADD | EV_CLEAR, 0, NULL),
                     0);
    start_waiter(&w, &t);
    assert_int_equal(kt_change(w.kq, 0, KT_USER, 0, NOTE_TRIGGER, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.n, 1);
    assert_int_equal((int)w.ev[0].filter, KT_USER);
    close(w.kq);
}
#endif

/* Changes from one thread reach a kevent() waiting in another: the kqueue
 * is shared, and the new knote's "preexisting condition" ends the wait
 * ("The filter is executed upon the initial registration of a kevent in
 * order to detect whether a preexisting condition is present"). */
static void test_change_while_waiting(void **state)
{
    struct waiter w = {.kq = kt_new()};
    pthread_t t;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    start_waiter(&w, &t);
    assert_int_equal(kt_change(w.kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ev[0].ident, sv[0]);
    close(w.kq);
    close(sv[0]);
    close(sv[1]);
}

/* "If the time limit expires, then kevent() returns 0." and "When nevents
 * is zero, kevent() will return immediately even if there is a timeout
 * specified" */
static void test_timeouts(void **state)
{
    struct timespec ts = {0, 20 * 1000000};
    struct kevent ev[1];
    int kq = kt_new();
    uint64_t t0;

    (void)state;
    t0 = tu_now_ms();
    assert_int_equal(kevent(kq, NULL, 0, ev, 1, &ts), 0);
    assert_true(tu_now_ms() - t0 >= 20);
    ts.tv_sec = 60;
    t0 = tu_now_ms();
    assert_int_equal(kevent(kq, NULL, 0, NULL, 0, &ts), 0);
    assert_true(tu_now_ms() - t0 < 30000);
    close(kq);
}

/* "The queue is not inherited by a child created with fork(2)." The
 * child has no descriptor under its number, which is free for its own
 * files; the parent's queue is untouched. */
static void test_not_inherited(void **state)
{
    struct kevent ev[1];
    int kq = kt_new(), sv[2], status;
    pid_t pid;

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int r = kevent(kq, NULL, 0, ev, 1, &kt_zero), err = errno;

        if (r != -1 || err != EBADF)
            _exit(1);
        if (fcntl(kq, F_GETFD) != -1 || errno != EBADF)
            _exit(2);
        _exit(dup2(sv[1], kq) == kq ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_int_equal(ev[0].ident, sv[0]);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "The kqueue() system call creates a new kernel event queue and returns
 * a descriptor." Closing it releases everything: no descriptor of the
 * emulation outlives it. Counts descriptors: assumes the emulation keeps
 * none per kqueue beside the kqueue's own (its wake eventfd is one per
 * process, opened before main()); it closes its own before asserting. */
static void test_close_kqueue_releases(void **state)
{
    int before = tu_count_open_fds(), kq, sv[2], added, user = 0;

    (void)state;
    tu_socketpair(sv);
    kq = kt_new();
    added = kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL);
#ifdef KT_USER
    user = kt_change(kq, 3, KT_USER, EV_ADD, NOTE_TRIGGER, NULL);
#endif
    close(kq);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(added, 0);
    assert_int_equal(user, 0);
    assert_int_equal(tu_count_open_fds(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_data_socket),
        cmocka_unit_test(test_read_eof_socket),
        cmocka_unit_test(test_read_pipe),
        cmocka_unit_test(test_write_pipe),
        cmocka_unit_test(test_close_removes_knotes),
#ifdef KT_USER
        cmocka_unit_test(test_user_trigger_clear),
#endif
#ifdef KT_USER
        cmocka_unit_test(test_user_fflags),
#endif
#ifdef KT_USER
        cmocka_unit_test(test_user_wakes_other_thread),
#endif
        cmocka_unit_test(test_change_while_waiting),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_not_inherited),
        cmocka_unit_test(test_close_kqueue_releases),
    };

    return cmocka_run_group_tests_name("kqueue emulation: filters", tests, NULL,
                                       NULL);
}
