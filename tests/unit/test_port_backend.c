/* SPDX-License-Identifier: MIT */
/*
 * The event-port backend's kernel calls, observed by wrapping the port
 * functions at link time (--wrap): each wrapper logs the call and then
 * forwards it to the real one, unless a test makes it fail. Covers every
 * (have, want) transition of set(), the one-shot re-association through
 * the update pass, remove() from another thread, ETIME/EINTR in poll(),
 * wake, thread init failures and fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <port.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"
#include "binding.h"
#include "wake.h"

extern const struct tpoll_backend tp__backend_port;

enum op { OP_CREATE, OP_ASSOC, OP_DISSOC, OP_GETN, OP_SEND };

struct pcall {
    enum op op;
    int port, fd, events, ret, err;
    uintptr_t user;
    pthread_t thread;
};

#define MAX_CALLS 512

enum getn_fault {
    GETN_REAL,
    GETN_ETIME_WITH_EVENTS,
    GETN_EINTR_WITH_EVENTS,
    GETN_EINTR_EMPTY,
    GETN_EINTR_NGET_UNTOUCHED,
};

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pcall calls[MAX_CALLS];
static int ncalls;
static int create_fail, assoc_fail;
static enum getn_fault getn_fault;

int __real_port_create(void);
int __real_port_associate(int port, int source, uintptr_t object, int events,
                          void *user);
int __real_port_dissociate(int port, int source, uintptr_t object);
int __real_port_getn(int port, port_event_t list[], uint_t max, uint_t *nget,
                     const timespec_t *timeout);
int __real_port_send(int port, int events, void *user);
int __wrap_port_create(void);
int __wrap_port_associate(int port, int source, uintptr_t object, int events,
                          void *user);
int __wrap_port_dissociate(int port, int source, uintptr_t object);
int __wrap_port_getn(int port, port_event_t list[], uint_t max, uint_t *nget,
                     const timespec_t *timeout);
int __wrap_port_send(int port, int events, void *user);

static int log_call(enum op op, int port, int fd, int events, uintptr_t user,
                    int ret)
{
    int err = errno;

    pthread_mutex_lock(&log_mu);
    assert_true(ncalls < MAX_CALLS);
    calls[ncalls] = (struct pcall){.op = op,
                                   .port = port,
                                   .fd = fd,
                                   .events = events,
                                   .user = user,
                                   .ret = ret,
                                   .err = ret < 0 ? err : 0,
                                   .thread = pthread_self()};
    ncalls++;
    pthread_mutex_unlock(&log_mu);
    errno = err;
    return ret;
}

static int fail_with(int err)
{
    errno = err;
    return -1;
}

int __wrap_port_create(void)
{
    int r = create_fail ? fail_with(create_fail) : __real_port_create();

    return log_call(OP_CREATE, r, -1, 0, 0, r);
}

int __wrap_port_associate(int port, int source, uintptr_t object, int events,
                          void *user)
{
    int r;

    assert_int_equal(source, PORT_SOURCE_FD);
    r = assoc_fail ? fail_with(assoc_fail)
                   : __real_port_associate(port, source, object, events, user);
    return log_call(OP_ASSOC, port, (int)object, events, (uintptr_t)user, r);
}

int __wrap_port_dissociate(int port, int source, uintptr_t object)
{
    int r;

    assert_int_equal(source, PORT_SOURCE_FD);
    r = __real_port_dissociate(port, source, object);
    return log_call(OP_DISSOC, port, (int)object, 0, 0, r);
}

int __wrap_port_getn(int port, port_event_t list[], uint_t max, uint_t *nget,
                     const timespec_t *timeout)
{
    int r;

    if (getn_fault == GETN_EINTR_EMPTY) {
        *nget = 0;
        r = fail_with(EINTR);
    } else if (getn_fault == GETN_EINTR_NGET_UNTOUCHED) {
        r = fail_with(EINTR);
    } else {
        r = __real_port_getn(port, list, max, nget, timeout);
        if (r == 0 && *nget > 0 && getn_fault == GETN_ETIME_WITH_EVENTS)
            r = fail_with(ETIME);
        if (r == 0 && *nget > 0 && getn_fault == GETN_EINTR_WITH_EVENTS)
            r = fail_with(EINTR);
    }
    return log_call(OP_GETN, port, -1, (int)*nget, 0, r);
}

int __wrap_port_send(int port, int events, void *user)
{
    int r = __real_port_send(port, events, user);

    return log_call(OP_SEND, port, -1, events, (uintptr_t)user, r);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    ncalls = 0;
    pthread_mutex_unlock(&log_mu);
}

static int count(enum op op)
{
    int i, n = 0;

    pthread_mutex_lock(&log_mu);
    for (i = 0; i < ncalls; i++)
        n += calls[i].op == op;
    pthread_mutex_unlock(&log_mu);
    return n;
}

static struct pcall last(enum op op)
{
    struct pcall c = {.op = op, .fd = -1};
    int i;

    pthread_mutex_lock(&log_mu);
    for (i = 0; i < ncalls; i++)
        if (calls[i].op == op)
            c = calls[i];
    pthread_mutex_unlock(&log_mu);
    return c;
}

static int reset_faults(void **state)
{
    (void)state;
    create_fail = assoc_fail = 0;
    getn_fault = GETN_REAL;
    log_reset();
    return 0;
}

/* ---- an instance on the calling thread ---- */

struct fixture {
    struct tpoll *tp;
    struct tp__thread *th;
    int port;
    int sv[2];
};

static void fixture_up(struct fixture *f)
{
    f->tp = tu_create(1, 0);
    log_reset();
    assert_int_equal(tpoll_thread_start(f->tp, 0), 0);
    assert_int_equal(count(OP_CREATE), 1);
    f->port = last(OP_CREATE).port;
    f->th = tp__self(f->tp);
    assert_non_null(f->th);
    tu_socketpair(f->sv);
    log_reset();
}

static void fixture_down(struct fixture *f)
{
    close(f->sv[0]);
    close(f->sv[1]);
    tu_destroy(f->tp);
}

static int poll_events(unsigned dirs)
{
    return (dirs & TP_EV_RECV ? POLLIN : 0) | (dirs & TP_EV_SEND ? POLLOUT : 0);
}

/* What the port reports for the fd right now, made ready both ways. */
static int port_watches(int port, int fd, int peer)
{
    timespec_t zero = {0, 0};
    port_event_t pe;
    uint_t n = 1;

    tu_write_byte(peer);
    if (__real_port_getn(port, &pe, 1, &n, &zero) != 0 || n == 0)
        return 0;
    assert_int_equal(pe.portev_object, (uintptr_t)fd);
    tu_drain(fd);
    return pe.portev_events & (POLLIN | POLLOUT);
}

/* set() for every (have, want) with have != want: want == 0 dissociates,
 * anything else is one port_associate with exactly the wanted events and
 * the generation as the cookie, which also updates an association. */
static void test_every_transition(void **state)
{
    struct fixture f;
    unsigned have, want;

    (void)state;
    fixture_up(&f);
    for (have = 0; have <= TP_EV_BOTH; have++) {
        for (want = 0; want <= TP_EV_BOTH; want++) {
            uint32_t gen = 100 + have * 4 + want;
            struct pcall c;

            if (have == want)
                continue;
            if (have)
                assert_int_equal(
                    tp__backend_port.set(f.th, f.sv[0], gen - 50, 0, have), 0);
            log_reset();
            assert_int_equal(
                tp__backend_port.set(f.th, f.sv[0], gen, have, want), 0);
            assert_int_equal(ncalls, 1);
            if (want == 0) {
                c = last(OP_DISSOC);
                assert_int_equal(c.ret, 0);
            } else {
                c = last(OP_ASSOC);
                assert_int_equal(c.events, poll_events(want));
                assert_int_equal(c.user, gen);
            }
            assert_int_equal(c.port, f.port);
            assert_int_equal(c.fd, f.sv[0]);
            assert_int_equal(port_watches(f.port, f.sv[0], f.sv[1]),
                             poll_events(want));
            /* Leave nothing associated for the next pair. */
            __real_port_dissociate(f.port, PORT_SOURCE_FD, (uintptr_t)f.sv[0]);
        }
    }
    fixture_down(&f);
}

/* A dissociation that finds the association used up by a retrieved event
 * (ENOENT) or the fd closed (EBADFD) is what was wanted: success. Any
 * failure of port_associate is the set()'s error. */
static void test_set_errors(void **state)
{
    struct fixture f;
    int fd;

    (void)state;
    fixture_up(&f);
    assert_int_equal(tp__backend_port.set(f.th, f.sv[0], 1, 0, TP_EV_SEND), 0);
    assert_int_equal(port_watches(f.port, f.sv[0], f.sv[1]), POLLOUT);
    assert_int_equal(tp__backend_port.set(f.th, f.sv[0], 1, TP_EV_SEND, 0), 0);
    assert_int_equal(last(OP_DISSOC).err, ENOENT);
    fd = dup(f.sv[0]);
    assert_int_equal(tp__backend_port.set(f.th, fd, 1, 0, TP_EV_RECV), 0);
    close(fd);
    assert_int_equal(tp__backend_port.set(f.th, fd, 1, TP_EV_RECV, 0), 0);
    assert_int_equal(last(OP_DISSOC).err, EBADFD);
    assoc_fail = EAGAIN;
    assert_int_equal(tp__backend_port.set(f.th, f.sv[0], 1, 0, TP_EV_RECV),
                     -EAGAIN);
    assoc_fail = 0;
    fixture_down(&f);
}

/* ---- the one-shot re-association goes through the update pass ---- */

struct seen {
    struct tp__thread *th;
    int calls, assoc_at_cb, polled_at_cb, queued_at_cb;
    int stop_in_cb;
};

static void seen_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct seen *s = owner;
    struct tp__fd *e = &tp->group[0].fds[fd];

    (void)events;
    s->calls++;
    s->assoc_at_cb = count(OP_ASSOC);
    s->polled_at_cb = (tp_load(&e->polled_recv) & s->th->bit) != 0;
    s->queued_at_cb = (tp_load(&e->update_mask) & s->th->bit) != 0;
    if (s->stop_in_cb)
        assert_int_equal(tpoll_stop_recv(tp, fd), 0);
}

static void test_rearm_by_update_pass(void **state)
{
    struct fixture f;
    struct seen s = {0};
    struct pcall c;
    uint32_t gen;
    int i;

    (void)state;
    fixture_up(&f);
    s.th = f.th;
    assert_int_equal(tpoll_fd_insert(f.tp, f.sv[0], seen_cb, &s, 1), 0);
    assert_int_equal(tpoll_want_recv(f.tp, f.sv[0]), 0);
    assert_int_equal(tpoll_wait(f.tp, 0), 0);
    assert_int_equal(count(OP_ASSOC), 1);
    gen = (uint32_t)last(OP_ASSOC).user;
    tu_write_byte(f.sv[1]);
    assert_int_equal(tpoll_wait(f.tp, 1000), 1);
    /* The retrieved event used the association up: the core forgot it and
     * queued the fd, and nothing re-associated it during dispatch. */
    assert_int_equal(s.assoc_at_cb, 1);
    assert_false(s.polled_at_cb);
    assert_true(s.queued_at_cb);
    assert_int_equal(count(OP_ASSOC), 1);
    /* The next pass re-associates, before it polls, with the same cookie. */
    log_reset();
    assert_int_equal(tpoll_wait(f.tp, 0), 1);
    assert_true(ncalls >= 2);
    assert_int_equal(calls[0].op, OP_ASSOC);
    assert_int_equal(calls[1].op, OP_GETN);
    c = calls[0];
    assert_int_equal(c.events, POLLIN);
    assert_int_equal(c.user, gen);
    assert_int_equal(s.calls, 2);
    /* One association per delivered event, no more. */
    for (i = 0; i < 5; i++)
        assert_int_equal(tpoll_wait(f.tp, 0), 1);
    assert_int_equal(count(OP_ASSOC), 6);
    assert_int_equal(count(OP_DISSOC), 0);
    assert_int_equal(tpoll_fd_delete(f.tp, f.sv[0]), 0);
    fixture_down(&f);
}

/* Interest dropped in the callback: the association is already gone, so
 * neither a re-association nor a dissociation follows. */
static void test_stop_in_callback_costs_nothing(void **state)
{
    struct fixture f;
    struct seen s = {0};

    (void)state;
    fixture_up(&f);
    s.th = f.th;
    s.stop_in_cb = 1;
    assert_int_equal(tpoll_fd_insert(f.tp, f.sv[0], seen_cb, &s, 1), 0);
    assert_int_equal(tpoll_want_recv(f.tp, f.sv[0]), 0);
    tu_write_byte(f.sv[1]);
    assert_int_equal(tpoll_wait(f.tp, 1000), 1);
    log_reset();
    assert_int_equal(tpoll_wait(f.tp, 0), 0);
    assert_int_equal(count(OP_ASSOC), 0);
    assert_int_equal(count(OP_DISSOC), 0);
    assert_int_equal(tpoll_fd_delete(f.tp, f.sv[0]), 0);
    assert_int_equal(count(OP_DISSOC), 0);
    fixture_down(&f);
}

/* ---- remove() from another thread ---- */

static void test_delete_from_other_thread(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct seen s = {0};
    struct tu_loop l;
    int sv[2], port;
    struct pcall c;

    (void)state;
    tu_socketpair(sv);
    log_reset();
    tu_loop_start(&l, tp, 0);
    port = last(OP_CREATE).port;
    assert_int_equal(tpoll_fd_insert(tp, sv[0], seen_cb, &s, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    /* Registered once the loop's update pass has recorded it. */
    while (!(tp_load(&tp->group[0].fds[sv[0]].polled_recv) & 1))
        sched_yield();
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    c = last(OP_DISSOC);
    assert_int_equal(c.port, port);
    assert_int_equal(c.fd, sv[0]);
    assert_int_equal(c.ret, 0);
    assert_true(pthread_equal(c.thread, pthread_self()));
    tu_write_byte(sv[1]);
    assert_int_equal(
        __real_port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]), -1);
    assert_int_equal(errno, ENOENT);
    tu_loop_stop(&l);
    assert_int_equal(s.calls, 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* ---- poll(): ETIME and EINTR ---- */

static int ready_cb_calls;

static void count_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)owner, (void)events;
    ready_cb_calls++;
    tu_drain(fd);
}

static void check_events_kept(enum getn_fault fault)
{
    struct fixture f;

    fixture_up(&f);
    ready_cb_calls = 0;
    assert_int_equal(tpoll_fd_insert(f.tp, f.sv[0], count_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(f.tp, f.sv[0]), 0);
    tu_write_byte(f.sv[1]);
    getn_fault = fault;
    assert_int_equal(tpoll_wait(f.tp, 1000), 1);
    assert_int_equal(last(OP_GETN).ret, -1);
    assert_int_equal(ready_cb_calls, 1);
    getn_fault = GETN_REAL;
    /* Reported as used up, so re-associated by the next pass. */
    log_reset();
    tu_write_byte(f.sv[1]);
    assert_int_equal(tpoll_wait(f.tp, 1000), 1);
    assert_int_equal(count(OP_ASSOC), 1);
    assert_int_equal(tpoll_fd_delete(f.tp, f.sv[0]), 0);
    fixture_down(&f);
}

static void test_etime_with_events(void **state)
{
    (void)state;
    check_events_kept(GETN_ETIME_WITH_EVENTS);
}

static void test_eintr_with_events(void **state)
{
    (void)state;
    check_events_kept(GETN_EINTR_WITH_EVENTS);
}

/* EINTR alone is the wait's error; an ETIME timeout is no error. An nget
 * the failing call left as it was is not taken for events. */
static void test_eintr_etime_empty(void **state)
{
    struct fixture f;

    (void)state;
    fixture_up(&f);
    getn_fault = GETN_EINTR_EMPTY;
    assert_int_equal(tpoll_wait(f.tp, 1000), -EINTR);
    getn_fault = GETN_EINTR_NGET_UNTOUCHED;
    assert_int_equal(tpoll_wait(f.tp, 1000), -EINTR);
    getn_fault = GETN_REAL;
    assert_int_equal(tpoll_wait(f.tp, 10), 0);
    assert_int_equal(last(OP_GETN).err, ETIME);
    fixture_down(&f);
}

/* ---- wake, thread init ---- */

struct waker {
    struct tpoll *tp;
    struct tp__thread *th;
};

static void *waker_main(void *arg)
{
    struct waker *w = arg;

    while (!(tp_load(&w->th->wword) & TP_W_SLEEPING))
        sched_yield();
    assert_int_equal(tpoll_wake(w->tp, 0), 0);
    return NULL;
}

static void test_wake_is_port_send(void **state)
{
    struct tpoll_counters c;
    struct fixture f;
    struct waker w;
    pthread_t t;

    (void)state;
    fixture_up(&f);
    w.tp = f.tp;
    w.th = f.th;
    assert_int_equal(pthread_create(&t, NULL, waker_main, &w), 0);
    assert_int_equal(tpoll_wait(f.tp, TU_DEADLINE_MS), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(count(OP_SEND), 1);
    assert_int_equal(last(OP_SEND).port, f.port);
    assert_int_equal(tpoll_thread_counters(f.tp, 0, &c), 0);
    assert_int_equal(c.wakeups, 1);
    fixture_down(&f);
}

/* Counts descriptors: assumes a port thread holds its port and nothing
 * else (with the emulation, the port's eventfd too, which the port's
 * close releases), and that nothing else in the process opens or closes
 * one meanwhile. The teardown stops the thread and destroys the instance
 * whatever an assertion did. */
static int instance_up(void **state)
{
    reset_faults(state);
    *state = tu_create(1, 0);
    return 0;
}

static int instance_down(void **state)
{
    create_fail = 0;
    tpoll_thread_stop(*state);
    tu_destroy(*state);
    return 0;
}

static void test_thread_init(void **state)
{
    struct tpoll *tp = *state;
    int before = tu_count_open_fds(), port;

    create_fail = EMFILE;
    assert_int_equal(tpoll_thread_start(tp, 0), -EMFILE);
    assert_int_equal(tu_count_open_fds(), before);
    create_fail = 0;
    log_reset();
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    port = last(OP_CREATE).port;
    assert_true(fcntl(port, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    assert_int_equal(tu_count_open_fds(), before);
}

/* After fork, the child's thread gets a new port, and the parent's port
 * is only closed in the child: no dissociation that would reach shared
 * state, and the parent's association still delivers. */
static int child_after_fork(struct fixture *f)
{
    log_reset();
    if (tpoll_after_fork(f->tp) != 0)
        return 10;
    if (count(OP_DISSOC) != 0)
        return 11;
    if (count(OP_CREATE) != 1 || last(OP_CREATE).port < 0)
        return 12;
    if (tpoll_wait(f->tp, 0) < 0 || count(OP_ASSOC) != 1 ||
        last(OP_ASSOC).port != last(OP_CREATE).port)
        return 13;
    return 0;
}

static void test_fork_forgets(void **state)
{
    struct fixture f;
    int status;
    pid_t pid;

    (void)state;
    fixture_up(&f);
    ready_cb_calls = 0;
    assert_int_equal(tpoll_fd_insert(f.tp, f.sv[0], count_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(f.tp, f.sv[0]), 0);
    assert_int_equal(tpoll_wait(f.tp, 0), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_after_fork(&f));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    log_reset();
    tu_write_byte(f.sv[1]);
    assert_int_equal(tpoll_wait(f.tp, TU_DEADLINE_MS), 1);
    assert_int_equal(ready_cb_calls, 1);
    assert_int_equal(count(OP_ASSOC), 0);
    assert_int_equal(tpoll_fd_delete(f.tp, f.sv[0]), 0);
    fixture_down(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_transition, reset_faults),
        cmocka_unit_test_setup(test_set_errors, reset_faults),
        cmocka_unit_test_setup(test_rearm_by_update_pass, reset_faults),
        cmocka_unit_test_setup(test_stop_in_callback_costs_nothing,
                               reset_faults),
        cmocka_unit_test_setup(test_delete_from_other_thread, reset_faults),
        cmocka_unit_test_setup(test_etime_with_events, reset_faults),
        cmocka_unit_test_setup(test_eintr_with_events, reset_faults),
        cmocka_unit_test_setup(test_eintr_etime_empty, reset_faults),
        cmocka_unit_test_setup(test_wake_is_port_send, reset_faults),
        cmocka_unit_test_setup_teardown(test_thread_init, instance_up,
                                        instance_down),
        cmocka_unit_test_setup(test_fork_forgets, reset_faults),
    };

    if (strcmp(tu_backend(), "port") != 0)
        return 77;
    return cmocka_run_group_tests_name("port backend", tests, NULL, NULL);
}
