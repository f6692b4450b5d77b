/* SPDX-License-Identifier: MIT */
/*
 * Signals through the public API: a watched signal's callback on the
 * chosen thread, the previous disposition restored, the errors; fork
 * while signals arrive (the child's watch works after tpoll_after_fork);
 * tpoll_stop and tpoll_wake from a handler the program installed, also
 * firing over and over while threads start, run and stop.
 *
 * The kqueue and event-port backends run here on a test-only emulation
 * whose kevent()/port_send() take a mutex: a handler interrupting a
 * thread inside one of them, and waking that same thread, would wait for
 * itself. On the kernels they stand for, these are system calls and
 * async-signal-safe. So signals that may land anywhere are blocked in
 * every thread that calls tpoll, and taken by a thread that does not;
 * and ThreadSanitizer is told that the emulations' wake calls are not
 * what a handler on those systems runs (it reports the allocation and
 * the lock inside them as signal-unsafe).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "signal:port_send\nsignal:kevent\n";
}

struct seen {
    atomic_int calls;
    atomic_int tid;
    atomic_int signo;
};

static void seen_cb(struct tpoll *tp, int signo, void *arg)
{
    struct seen *s = arg;

    atomic_store(&s->tid, tpoll_thread_id(tp));
    atomic_store(&s->signo, signo);
    atomic_fetch_add(&s->calls, 1);
}

static int seen_called(void *arg)
{
    return atomic_load(&((struct seen *)arg)->calls) > 0;
}

static void block(int signo, int how)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, signo);
    assert_int_equal(pthread_sigmask(how, &set, NULL), 0);
}

/* raise() runs the handler on the calling thread, outside any kevent():
 * safe on every backend. */
static void test_watch_delivers_on_the_thread(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct seen s;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 0, seen_cb, &s), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_true(tu_wait_until(tp, seen_called, &s));
    assert_int_equal(atomic_load(&s.calls), 1); /* coalesced */
    assert_int_equal(atomic_load(&s.tid), 0);
    assert_int_equal(atomic_load(&s.signo), SIGUSR1);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), 0);
    tu_destroy(tp);
}

/* Watched for thread 1, raised on thread 0 (unbound): the callback runs
 * on thread 1. A signal that came while nobody was bound to the id is
 * delivered once a thread binds it. */
static void test_watch_on_another_thread(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct seen s;
    struct tu_loop l;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 1, seen_cb, &s), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    tu_loop_start(&l, tp, 1);
    while (atomic_load(&s.calls) == 0)
        sched_yield();
    assert_int_equal(atomic_load(&s.tid), 1);
    assert_int_equal(raise(SIGUSR1), 0);
    while (atomic_load(&s.calls) < 2)
        sched_yield();
    tu_loop_stop(&l);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), 0);
    tu_destroy(tp);
}

static atomic_int program_handler_ran;

static void program_handler(int signo)
{
    (void)signo;
    atomic_fetch_add(&program_handler_ran, 1);
}

/* The program's handler is replaced while watched and restored after the
 * last unwatch (two instances watch the same signal); destroy ends an
 * instance's watches. */
static void test_previous_handler_restored(void **state)
{
    struct tpoll *a = tu_create(1, 64), *b = tu_create(1, 64);
    struct sigaction sa, now;
    struct seen s;

    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = program_handler;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
    assert_int_equal(tpoll_signal_watch(a, SIGUSR2, 0, seen_cb, &s), 0);
    assert_int_equal(tpoll_signal_watch(b, SIGUSR2, 0, seen_cb, &s), 0);
    assert_int_equal(tpoll_signal_unwatch(a, SIGUSR2), 0);
    assert_int_equal(sigaction(SIGUSR2, NULL, &now), 0);
    assert_true(now.sa_handler != program_handler);
    tu_destroy(b);
    assert_int_equal(sigaction(SIGUSR2, NULL, &now), 0);
    assert_true(now.sa_handler == program_handler);
    assert_int_equal(raise(SIGUSR2), 0);
    assert_int_equal(atomic_load(&program_handler_ran), 1);
    sa.sa_handler = SIG_DFL;
    assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
    tu_destroy(a);
}

static void test_signal_errors(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct seen s;

    (void)state;
    assert_int_equal(tpoll_signal_watch(NULL, SIGUSR1, 0, seen_cb, &s),
                     -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 0, NULL, &s), -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 2, seen_cb, &s), -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, 0, 0, seen_cb, &s), -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, 100000, 0, seen_cb, &s), -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, SIGKILL, 0, seen_cb, &s), -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, SIGSTOP, 0, seen_cb, &s), -EINVAL);
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 0, seen_cb, &s), 0);
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 1, seen_cb, &s), -EEXIST);
    assert_int_equal(tpoll_signal_unwatch(NULL, SIGUSR1), -EINVAL);
    assert_int_equal(tpoll_signal_unwatch(tp, 0), -EINVAL);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR2), -ENOENT);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), 0);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), -ENOENT);
    tu_destroy(tp);
}

static void test_watches_run_out(void **state)
{
    struct tpoll *tp[65];
    struct seen s;
    int i;

    (void)state;
    for (i = 0; i < 65; i++) {
        tp[i] = tu_create(1, 16);
        assert_int_equal(tpoll_signal_watch(tp[i], SIGUSR1, 0, seen_cb, &s),
                         i < 64 ? 0 : -ENOSPC);
    }
    for (i = 0; i < 65; i++)
        tu_destroy(tp[i]);
}

/* ---- signals while forking ---- */

/* Takes the process-directed signals: the only thread not blocking it. */
struct taker {
    pthread_t thread;
    atomic_int stop;
};

static void *take_signals(void *arg)
{
    struct taker *t = arg;

    block(SIGUSR1, SIG_UNBLOCK);
    while (!atomic_load(&t->stop))
        sched_yield();
    return NULL;
}

struct spammer {
    pthread_t thread;
    atomic_int stop;
};

static void *spam(void *arg)
{
    struct spammer *s = arg;

    while (!atomic_load(&s->stop))
        kill(getpid(), SIGUSR1);
    return NULL;
}

/* The parent's thread 0 watches SIGUSR1 while it arrives without pause;
 * children forked meanwhile call tpoll_after_fork, take the signal on
 * their own thread 0, and get their callback. The parent keeps getting
 * its own. */
static void test_fork_while_signals_arrive(void **state)
{
    struct tpoll *tp = tu_create(1, 64);
    struct taker taker = {.stop = 0};
    struct spammer sp = {.stop = 0};
    struct seen s;
    int i;

    (void)state;
    memset(&s, 0, sizeof(s));
    /* Restored by the unwatch, it drops the signals still pending then. */
    assert_true(signal(SIGUSR1, SIG_IGN) != SIG_ERR);
    block(SIGUSR1, SIG_BLOCK);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR1, 0, seen_cb, &s), 0);
    assert_int_equal(pthread_create(&taker.thread, NULL, take_signals, &taker),
                     0);
    assert_int_equal(pthread_create(&sp.thread, NULL, spam, &sp), 0);
    for (i = 0; i < 10; i++) {
        pid_t pid;
        int status;

        atomic_store(&s.calls, 0);
        assert_true(tu_wait_until(tp, seen_called, &s));
        pid = tu_fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int ok = tpoll_after_fork(tp) == 0;

            atomic_store(&s.calls, 0);
            block(SIGUSR1, SIG_UNBLOCK);
            ok = ok && raise(SIGUSR1) == 0;
            ok = ok && tu_wait_until(tp, seen_called, &s) &&
                 atomic_load(&s.tid) == 0;
            _exit(ok ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    atomic_store(&sp.stop, 1);
    assert_int_equal(pthread_join(sp.thread, NULL), 0);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), 0);
    atomic_store(&taker.stop, 1);
    assert_int_equal(pthread_join(taker.thread, NULL), 0);
    block(SIGUSR1, SIG_UNBLOCK);
    assert_true(signal(SIGUSR1, SIG_DFL) != SIG_ERR);
    tu_destroy(tp);
}

/* ---- tpoll_stop and tpoll_wake from the program's handler ---- */

static struct tpoll *handler_tp;
static atomic_int handler_stops, handler_lost_errno;

static void stop_all(int signo)
{
    struct tpoll *tp = handler_tp;
    int i, e = errno;

    (void)signo;
    errno = 12345;
    for (i = 0; i < 4; i++) {
        tpoll_wake(tp, i);
        if (tpoll_stop(tp, i) == 0)
            atomic_fetch_add(&handler_stops, 1);
    }
    if (errno != 12345) /* preserved */
        atomic_store(&handler_lost_errno, 1);
    errno = e;
}

static void install_stop_all(struct tpoll *tp)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stop_all;
    sigemptyset(&sa.sa_mask);
    handler_tp = tp;
    assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
}

static void uninstall_stop_all(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
}

struct runner {
    struct tpoll *tp;
    pthread_t thread;
    int tid, rounds, err;
    atomic_int running, returned;
};

static void *run_main(void *arg)
{
    struct runner *r = arg;

    block(SIGUSR2, SIG_BLOCK);
    assert_int_equal(tpoll_thread_start(r->tp, r->tid), 0);
    atomic_store(&r->running, 1);
    r->err = tpoll_run(r->tp);
    atomic_store(&r->returned, 1);
    assert_int_equal(tpoll_thread_stop(r->tp), 0);
    return NULL;
}

/* The handler runs on the unbound test thread (pthread_kill) and stops
 * thread 1 inside tpoll_run. */
static void test_stop_from_signal_handler(void **state)
{
    struct tpoll *tp = tu_create(2, 64);
    struct runner r = {.tp = tp, .tid = 1};

    (void)state;
    install_stop_all(tp);
    assert_int_equal(pthread_create(&r.thread, NULL, run_main, &r), 0);
    while (!atomic_load(&r.running))
        sched_yield();
    assert_int_equal(pthread_kill(pthread_self(), SIGUSR2), 0);
    assert_int_equal(pthread_join(r.thread, NULL), 0);
    assert_int_equal(r.err, 0);
    uninstall_stop_all();
    tu_destroy(tp);
}

/* Threads start, run until stopped and stop, over and over, while a
 * handler stops and wakes every thread id without pause: no wake fd is
 * used after its thread closed it (ASan, TSan), no run misses its stop. */
struct cycler {
    struct tpoll *tp;
    pthread_t thread;
    int tid;
    atomic_int done;
};

static void *cycle_main(void *arg)
{
    struct cycler *c = arg;
    int i;

    block(SIGUSR2, SIG_BLOCK);
    for (i = 0; i < 300; i++) {
        assert_int_equal(tpoll_thread_start(c->tp, c->tid), 0);
        assert_int_equal(tpoll_run(c->tp), 0);
        assert_int_equal(tpoll_thread_stop(c->tp), 0);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_handler_while_threads_start_and_stop(void **state)
{
    struct tpoll *tp = tu_create(4, 64);
    struct cycler c[3];
    int i, all;

    (void)state;
    install_stop_all(tp);
    for (i = 0; i < 3; i++) {
        c[i].tp = tp;
        c[i].tid = i + 1;
        atomic_store(&c[i].done, 0);
        assert_int_equal(pthread_create(&c[i].thread, NULL, cycle_main, &c[i]),
                         0);
    }
    do {
        assert_int_equal(pthread_kill(pthread_self(), SIGUSR2), 0);
        for (all = 1, i = 0; i < 3; i++)
            all &= atomic_load(&c[i].done);
    } while (!all);
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_join(c[i].thread, NULL), 0);
    assert_true(atomic_load(&handler_stops) >= 900);
    assert_int_equal(atomic_load(&handler_lost_errno), 0);
    uninstall_stop_all();
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_delivers_on_the_thread),
        cmocka_unit_test(test_watch_on_another_thread),
        cmocka_unit_test(test_previous_handler_restored),
        cmocka_unit_test(test_signal_errors),
        cmocka_unit_test(test_watches_run_out),
        cmocka_unit_test(test_fork_while_signals_arrive),
        cmocka_unit_test(test_stop_from_signal_handler),
        cmocka_unit_test(test_handler_while_threads_start_and_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
