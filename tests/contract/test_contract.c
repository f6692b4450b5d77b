/* SPDX-License-Identifier: MIT */
/*
 * docs/contract.md, line by line: every public function with every bad
 * input the contract names. Each bad call must return the documented
 * error and change nothing: the fd table (tpoll_fd_interest), the thread
 * binding, the counters and the set of open fds are compared before and
 * after, and a valid call afterwards must still work. Memory leaks are
 * the ASan build's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include "testutil.h"

#define MAX_FDS 128
#define NTHREADS 2

/* The fixture: tid 0 bound to the test thread, one probe socketpair end
 * inserted on tid 0 with recv interest, nothing readable yet. */
struct fx {
    struct tpoll *tp;
    int sv[2];
    int fds_before;
    atomic_int calls;
    atomic_uint events;
    /* What the probe's callback does, once, from inside the callback. */
    void (*nested)(struct fx *f);
};

struct snap {
    int open_fds;
    int probe_interest;
    int other_interest;
    int tid;
    struct tpoll_counters c[NTHREADS];
};

static struct snap take_snap(struct fx *f)
{
    struct snap s;
    int t;

    memset(&s, 0, sizeof(s));
    s.open_fds = tu_count_open_fds();
    s.probe_interest = tpoll_fd_interest(f->tp, f->sv[0]);
    s.other_interest = tpoll_fd_interest(f->tp, f->sv[1]);
    s.tid = tpoll_thread_id(f->tp);
    for (t = 0; t < NTHREADS; t++)
        assert_int_equal(tpoll_thread_counters(f->tp, t, &s.c[t]), 0);
    return s;
}

/* Counters of a thread that did not wait in between must not move. */
static void expect_same(const struct snap *a, const struct snap *b)
{
    int t;

    assert_int_equal(a->open_fds, b->open_fds);
    assert_int_equal(a->probe_interest, b->probe_interest);
    assert_int_equal(a->other_interest, b->other_interest);
    assert_int_equal(a->tid, b->tid);
    for (t = 0; t < NTHREADS; t++)
        assert_memory_equal(&a->c[t], &b->c[t], sizeof(a->c[t]));
}

#define expect_unchanged(f, call, err)                                        \
    do {                                                                      \
        struct snap before_ = take_snap(f), after_;                           \
        assert_int_equal((call), (err));                                      \
        after_ = take_snap(f);                                                \
        expect_same(&before_, &after_);                                       \
    } while (0)

static void probe_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct fx *f = owner;
    void (*nested)(struct fx *) = f->nested;

    assert_ptr_equal(tp, f->tp);
    assert_int_equal(fd, f->sv[0]);
    atomic_fetch_or(&f->events, events);
    atomic_fetch_add(&f->calls, 1);
    f->nested = NULL;
    if (nested != NULL)
        nested(f);
}

static int probe_called(void *arg)
{
    return atomic_load(&((struct fx *)arg)->calls) > 0;
}

/* The valid call after the bad ones: the probe still reports readiness,
 * to its own callback, exactly once per wait. */
static void expect_probe_works(struct fx *f)
{
    atomic_store(&f->calls, 0);
    tu_write_byte(f->sv[1]);
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_int_equal(atomic_load(&f->calls), 1);
    assert_true(tu_drain(f->sv[0]) > 0);
    atomic_store(&f->calls, 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->fds_before = tu_count_open_fds();
    f->tp = tu_create(NTHREADS, MAX_FDS);
    tu_socketpair(f->sv);
    assert_true(f->sv[1] < MAX_FDS);
    assert_int_equal(tpoll_thread_start(f->tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(f->tp, f->sv[0], probe_cb, f, 1), 0);
    assert_int_equal(tpoll_want_recv(f->tp, f->sv[0]), 0);
    assert_int_equal(tpoll_wait(f->tp, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    expect_probe_works(f);
    assert_int_equal(tpoll_fd_delete(f->tp, f->sv[0]), 0);
    close(f->sv[0]);
    close(f->sv[1]);
    tu_destroy(f->tp);
    assert_int_equal(tu_count_open_fds(), f->fds_before);
    free(f);
    return 0;
}

/* ---- running a call on a thread that is not bound ---- */

struct on_thread {
    int (*fn)(struct fx *f);
    struct fx *f;
    int ret;
};

static void *on_thread_main(void *arg)
{
    struct on_thread *o = arg;

    o->ret = o->fn(o->f);
    return NULL;
}

static int run_unbound(int (*fn)(struct fx *), struct fx *f)
{
    struct on_thread o = {fn, f, 0};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, on_thread_main, &o), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    return o.ret;
}

/* An fd number in range that is not open. */
static int closed_number(void)
{
    int fd;

    for (fd = MAX_FDS - 1; fd > 2; fd--)
        if (fcntl(fd, F_GETFD) < 0)
            return fd;
    fail_msg("no free fd number below %d", MAX_FDS);
    return -1;
}

/* ---- instance ---- */

static void test_options_init(void **state)
{
    struct tpoll_options o;

    (void)state;
    memset(&o, 0xa5, sizeof(o));
    tpoll_options_init(&o);
    assert_int_equal(o.max_fds, 0);
    assert_int_equal(o.threads, 0);
    assert_int_equal(o.batch, 0);
    assert_null(o.backend);
    tpoll_options_init(NULL);
}

static int try_create(struct tpoll_options *o)
{
    struct tpoll *sentinel = (struct tpoll *)&sentinel, *tp = sentinel;
    int fds = tu_count_open_fds();
    int r = tpoll_create(&tp, o);

    if (r == 0) {
        assert_ptr_not_equal(tp, sentinel);
        tu_destroy(tp);
    } else {
        assert_ptr_equal(tp, sentinel);
    }
    assert_int_equal(tu_count_open_fds(), fds);
    return r;
}

static struct tpoll_options opts_for_backend(void)
{
    struct tpoll_options o;

    tpoll_options_init(&o);
    o.backend = tu_backend();
    o.max_fds = MAX_FDS;
    return o;
}

static void test_create_bad_options(void **state)
{
    struct tpoll_options o;
    struct rlimit rl;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    o = opts_for_backend();
    assert_int_equal(tpoll_create(NULL, &o), -EINVAL);
    o.threads = -1;
    assert_int_equal(try_create(&o), -EINVAL);
    o.threads = TPOLL_MAX_THREAD_IDS + 1;
    assert_int_equal(try_create(&o), -EINVAL);
    o = opts_for_backend();
    o.batch = -1;
    assert_int_equal(try_create(&o), -EINVAL);
    o.batch = 65537;
    assert_int_equal(try_create(&o), -EINVAL);
    o = opts_for_backend();
    o.max_fds = -1;
    assert_int_equal(try_create(&o), -EINVAL);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < INT_MAX) {
        o.max_fds = (int)rl.rlim_max + 1;
        assert_int_equal(try_create(&o), -EINVAL);
    }
}

static void test_create_limits_ok(void **state)
{
    struct tpoll_options o;
    struct rlimit rl;

    (void)state;
    o = opts_for_backend();
    o.threads = TPOLL_MAX_THREADS;
    o.batch = 65536;
    assert_int_equal(try_create(&o), 0);
    /* Every thread id: 4096 / TPOLL_MAX_THREADS groups, each with a table
     * of its own (small here: a 32-bit process has no room for 128 of
     * the default size). */
    o = opts_for_backend();
    o.threads = TPOLL_MAX_THREAD_IDS;
    o.max_fds = 1024;
    assert_int_equal(try_create(&o), 0);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 65536) {
        o = opts_for_backend();
        o.max_fds = (int)rl.rlim_max;
        assert_int_equal(try_create(&o), 0);
    }
    assert_int_equal(try_create(NULL), 0);
}

static void test_create_unknown_backend(void **state)
{
    struct tpoll_options o = opts_for_backend();

    (void)state;
    o.backend = "no-such-backend";
    assert_int_equal(try_create(&o), -ENOENT);
    o.backend = "EPOLL";
    assert_int_equal(try_create(&o), -ENOENT);
}

static void test_create_uncompiled_backend(void **state)
{
    static const char *const known[] = {"epoll", "kqueue", "port", "poll",
                                        "select"};
    struct tpoll_options o = opts_for_backend();
    size_t i;
    int checked = 0;

    (void)state;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (tpoll_backend_supported(known[i]) != -ENOTSUP)
            continue;
        o.backend = known[i];
        assert_int_equal(try_create(&o), -ENOTSUP);
        checked++;
    }
    if (checked == 0)
        skip();
}

static void test_create_env_backend(void **state)
{
    struct tpoll_options o = opts_for_backend();
    char *saved = getenv("TPOLL_BACKEND") ? strdup(getenv("TPOLL_BACKEND"))
                                          : NULL;

    (void)state;
    o.backend = NULL;
    assert_int_equal(setenv("TPOLL_BACKEND", "no-such-backend", 1), 0);
    assert_int_equal(try_create(&o), -ENOENT);
    /* An explicit name wins over the environment. */
    o.backend = tpoll_default_backend();
    assert_int_equal(try_create(&o), 0);
    /* Empty means the build's default, in the option or the variable. */
    o.backend = "";
    assert_int_equal(try_create(&o), 0);
    assert_int_equal(setenv("TPOLL_BACKEND", "", 1), 0);
    o.backend = NULL;
    assert_int_equal(try_create(&o), 0);
    if (saved != NULL) {
        setenv("TPOLL_BACKEND", saved, 1);
        free(saved);
    } else {
        unsetenv("TPOLL_BACKEND");
    }
}

static void test_null_instance(void **state)
{
    struct tpoll_counters c;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_destroy(NULL), 0);
    assert_int_equal(tpoll_thread_start(NULL, 0), -EINVAL);
    assert_int_equal(tpoll_thread_stop(NULL), -EINVAL);
    assert_int_equal(tpoll_thread_id(NULL), -EINVAL);
    assert_int_equal(tpoll_wait(NULL, 0), -EINVAL);
    assert_int_equal(tpoll_wake(NULL, 0), -EINVAL);
    assert_int_equal(tpoll_fd_insert(NULL, sv[0], probe_cb, NULL, 1),
                     -EINVAL);
    assert_int_equal(tpoll_fd_insert_flags(NULL, sv[0], probe_cb, NULL, 1, 0),
                     -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(NULL, sv[0], probe_cb, NULL, 0, 1, 0), -EINVAL);
    assert_int_equal(tpoll_fd_group(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_fd_delete(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_fd_set_threads(NULL, sv[0], 1), -EINVAL);
    assert_int_equal(tpoll_want_recv(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_stop_recv(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_want_send(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_stop_send(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_fd_interest(NULL, sv[0]), -EINVAL);
    assert_int_equal(tpoll_after_fork(NULL), -EINVAL);
    assert_null(tpoll_backend_name(NULL));
    assert_int_equal(tpoll_thread_counters(NULL, 0, &c), -EINVAL);
    close(sv[0]);
    close(sv[1]);
}

struct other_thread {
    struct tpoll *tp;
    int tid;
    pthread_t t;
    atomic_int bound;
    atomic_int release;
};

static void *bound_loop_main(void *arg)
{
    struct other_thread *o = arg;

    assert_int_equal(tpoll_thread_start(o->tp, o->tid), 0);
    atomic_store(&o->bound, 1);
    while (!atomic_load(&o->release))
        tpoll_wait(o->tp, -1);
    assert_int_equal(tpoll_thread_stop(o->tp), 0);
    return NULL;
}

static void other_start(struct other_thread *o, struct tpoll *tp, int tid)
{
    o->tp = tp;
    o->tid = tid;
    atomic_store(&o->bound, 0);
    atomic_store(&o->release, 0);
    assert_int_equal(pthread_create(&o->t, NULL, bound_loop_main, o), 0);
    while (!atomic_load(&o->bound))
        sched_yield();
    /* Once its first wait began, its counters stay put while it sleeps. */
    while (tu_counters(tp, tid).loops == 0)
        sched_yield();
}

static void other_stop(struct other_thread *o)
{
    atomic_store(&o->release, 1);
    assert_int_equal(tpoll_wake(o->tp, o->tid), 0);
    assert_int_equal(pthread_join(o->t, NULL), 0);
}

static void test_destroy_other_bound(void **state)
{
    struct fx *f = *state;
    struct other_thread o;

    other_start(&o, f->tp, 1);
    expect_unchanged(f, tpoll_destroy(f->tp), -EBUSY);
    other_stop(&o);
}

static void nested_destroy(struct fx *f)
{
    assert_int_equal(tpoll_destroy(f->tp), -EBUSY);
    assert_int_equal(tpoll_thread_id(f->tp), 0);
}

static void test_destroy_in_callback(void **state)
{
    struct fx *f = *state;

    f->nested = nested_destroy;
    tu_write_byte(f->sv[1]);
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_null(f->nested);
    assert_true(tu_drain(f->sv[0]) > 0);
}

/* ---- threads ---- */

static void test_thread_start_errors(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, tpoll_thread_start(f->tp, -1), -EINVAL);
    expect_unchanged(f, tpoll_thread_start(f->tp, NTHREADS), -EINVAL);
    expect_unchanged(f, tpoll_thread_start(f->tp, INT_MAX), -EINVAL);
    expect_unchanged(f, tpoll_thread_start(f->tp, INT_MIN), -EINVAL);
    /* Already bound to this instance, to the same id or another. */
    expect_unchanged(f, tpoll_thread_start(f->tp, 0), -EBUSY);
    expect_unchanged(f, tpoll_thread_start(f->tp, 1), -EBUSY);
}

static int start_tid1(struct fx *f)
{
    int r = tpoll_thread_start(f->tp, 1);

    assert_int_equal(tpoll_thread_id(f->tp), -EPERM);
    return r;
}

static int start_tid0(struct fx *f)
{
    return start_tid1(f) == -EBUSY ? tpoll_thread_start(f->tp, 0) : 0;
}

static void test_thread_start_taken(void **state)
{
    struct fx *f = *state;
    struct other_thread o;

    other_start(&o, f->tp, 1);
    expect_unchanged(f, run_unbound(start_tid0, f), -EBUSY);
    other_stop(&o);
    /* Free again once its holder stopped. */
    o.tp = f->tp;
    other_start(&o, f->tp, 1);
    other_stop(&o);
}

#define BINDINGS 8

static int fill_bindings(struct fx *f)
{
    struct tpoll *tps[BINDINGS + 1];
    int i, fds, r;

    (void)f;
    for (i = 0; i <= BINDINGS; i++)
        tps[i] = tu_create(1, MAX_FDS);
    for (i = 0; i < BINDINGS; i++)
        assert_int_equal(tpoll_thread_start(tps[i], 0), 0);
    fds = tu_count_open_fds();
    r = tpoll_thread_start(tps[BINDINGS], 0);
    assert_int_equal(tu_count_open_fds(), fds);
    assert_int_equal(tpoll_thread_id(tps[BINDINGS]), -EPERM);
    /* Freeing one binding makes room. */
    assert_int_equal(tpoll_thread_stop(tps[0]), 0);
    assert_int_equal(tpoll_thread_start(tps[BINDINGS], 0), 0);
    for (i = 0; i <= BINDINGS; i++)
        tu_destroy(tps[i]);
    return r;
}

static void test_thread_start_bindings_full(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, run_unbound(fill_bindings, f), -EMLINK);
}

static int stop_unbound(struct fx *f)
{
    return tpoll_thread_stop(f->tp);
}

static void nested_stop(struct fx *f)
{
    assert_int_equal(tpoll_thread_stop(f->tp), -EBUSY);
    assert_int_equal(tpoll_thread_id(f->tp), 0);
}

static void test_thread_stop_errors(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, run_unbound(stop_unbound, f), -EPERM);
    f->nested = nested_stop;
    tu_write_byte(f->sv[1]);
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_null(f->nested);
    assert_true(tu_drain(f->sv[0]) > 0);
}

static int id_unbound(struct fx *f)
{
    return tpoll_thread_id(f->tp);
}

static void test_thread_id_errors(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, tpoll_thread_id(f->tp), 0);
    expect_unchanged(f, run_unbound(id_unbound, f), -EPERM);
}

static int wait_unbound(struct fx *f)
{
    return tpoll_wait(f->tp, 0);
}

static void nested_wait(struct fx *f)
{
    struct tpoll_counters before, after;

    assert_int_equal(tpoll_thread_counters(f->tp, 0, &before), 0);
    assert_int_equal(tpoll_wait(f->tp, 0), -EBUSY);
    assert_int_equal(tpoll_wait(f->tp, -1), -EBUSY);
    assert_int_equal(tpoll_thread_counters(f->tp, 0, &after), 0);
    assert_memory_equal(&before, &after, sizeof(before));
}

static void test_wait_errors(void **state)
{
    struct fx *f = *state;

    tu_write_byte(f->sv[1]);
    /* The pending byte must not be consumed by a refused wait. */
    expect_unchanged(f, run_unbound(wait_unbound, f), -EPERM);
    f->nested = nested_wait;
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_null(f->nested);
    assert_int_equal(atomic_load(&f->calls), 1);
    assert_true(tu_drain(f->sv[0]) > 0);
}

static void test_wake_errors(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, tpoll_wake(f->tp, -1), -EINVAL);
    expect_unchanged(f, tpoll_wake(f->tp, NTHREADS), -EINVAL);
    expect_unchanged(f, tpoll_wake(f->tp, INT_MIN), -EINVAL);
    /* Nobody holds tid 1: nothing to wake, nothing changes. */
    expect_unchanged(f, tpoll_wake(f->tp, 1), 0);
}

/* ---- fds ---- */

static void test_insert_errors(void **state)
{
    struct fx *f = *state;
    int fd = f->sv[1];
    tpoll_mask_t beyond = TPOLL_THREAD(NTHREADS);

    expect_unchanged(f, tpoll_fd_insert(f->tp, -1, probe_cb, f, 1), -EBADF);
    expect_unchanged(f, tpoll_fd_insert(f->tp, INT_MIN, probe_cb, f, 1),
                     -EBADF);
    expect_unchanged(f, tpoll_fd_insert(f->tp, MAX_FDS, probe_cb, f, 1),
                     -EMFILE);
    expect_unchanged(f, tpoll_fd_insert(f->tp, INT_MAX, probe_cb, f, 1),
                     -EMFILE);
    expect_unchanged(f, tpoll_fd_insert(f->tp, fd, NULL, f, 1), -EINVAL);
    expect_unchanged(f, tpoll_fd_insert(f->tp, fd, probe_cb, f, 0), -EINVAL);
    expect_unchanged(f, tpoll_fd_insert(f->tp, fd, probe_cb, f, beyond),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert(f->tp, fd, probe_cb, f, 1 | beyond),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert(f->tp, fd, probe_cb, f,
                                        ~(tpoll_mask_t)0),
                     -EINVAL);
    /* The rejected fd can still be inserted properly. */
    assert_int_equal(tpoll_fd_insert(f->tp, fd, probe_cb, f, 2), 0);
    assert_int_equal(tpoll_fd_interest(f->tp, fd), 0);
    assert_int_equal(tpoll_fd_delete(f->tp, fd), 0);
}

/* What records the refusals below. */
struct refused {
    int fd;
    atomic_int calls;
    atomic_uint events;
};

static void refused_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct refused *r = owner;

    (void)tp;
    assert_int_equal(fd, r->fd);
    atomic_fetch_or(&r->events, events);
    atomic_fetch_add(&r->calls, 1);
}

/* One wait that runs the update pass and whatever it reported. */
static void expect_refusal(struct fx *f, struct refused *r, unsigned dirs)
{
    atomic_store(&r->calls, 0);
    atomic_store(&r->events, 0);
    assert_true(tpoll_wait(f->tp, 0) >= 0);
    assert_int_equal(atomic_load(&r->calls), 1);
    assert_int_equal(atomic_load(&r->events), TPOLL_ERR | dirs);
    /* Reported once: nothing is registered, so nothing more comes. */
    assert_true(tpoll_wait(f->tp, 0) >= 0);
    assert_int_equal(atomic_load(&r->calls), 1);
}

/*
 * Insert makes no system call, so it cannot tell a closed fd, a regular
 * file or a directory from a socket: it accepts them, and their first
 * registration refuses them on every backend alike (epoll's kernel does,
 * the core checks for the others): TPOLL_ERR with the wanted directions,
 * at the wait after each want, never readiness. Delete works as
 * for any fd.
 */
static void test_unpollable_refused_at_registration(void **state)
{
    struct fx *f = *state;
    FILE *file = tmpfile();
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    int fds[3], i;

    assert_non_null(file);
    assert_true(dir >= 0 && dir < MAX_FDS && fileno(file) < MAX_FDS);
    fds[0] = closed_number();
    fds[1] = fileno(file);
    fds[2] = dir;
    for (i = 0; i < 3; i++) {
        struct refused r = {fds[i], 0, 0};

        assert_int_equal(tpoll_fd_insert(f->tp, r.fd, refused_cb, &r, 1), 0);
        assert_int_equal(tpoll_fd_interest(f->tp, r.fd), 0);
        assert_int_equal(tpoll_want_recv(f->tp, r.fd), 0);
        expect_refusal(f, &r, TPOLL_RECV);
        assert_int_equal(tpoll_want_send(f->tp, r.fd), 0);
        expect_refusal(f, &r, TPOLL_RECV | TPOLL_SEND);
        assert_int_equal(tpoll_fd_delete(f->tp, r.fd), 0);
        assert_int_equal(tpoll_fd_interest(f->tp, r.fd), -ENOENT);
    }
    fclose(file);
    close(dir);
}

/*
 * More refusals at once than one pass reports (64): the rest are reported
 * by the next waits, none lost, and no wait blocks while some are left
 * (the poll counter, which counts polls that could block, stays put; a
 * wait that blocked would return after its 5 s with refusals missing).
 */
#define MANY_REFUSED 80

static int all_refused(const struct refused *r, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (atomic_load(&r[i].calls) == 0)
            return 0;
    return 1;
}

static void test_many_refusals_none_lost(void **state)
{
    struct fx *f = *state;
    struct refused r[MANY_REFUSED];
    struct tpoll_counters before, after;
    int dir = open("/", O_RDONLY | O_DIRECTORY), i, waits;

    assert_true(dir >= 0);
    for (i = 0; i < MANY_REFUSED; i++) {
        r[i].fd = fcntl(dir, F_DUPFD_CLOEXEC, 0);
        assert_true(r[i].fd >= 0 && r[i].fd < MAX_FDS);
        atomic_init(&r[i].calls, 0);
        atomic_init(&r[i].events, 0);
        assert_int_equal(
            tpoll_fd_insert(f->tp, r[i].fd, refused_cb, &r[i], 1), 0);
        assert_int_equal(tpoll_want_recv(f->tp, r[i].fd), 0);
    }
    assert_int_equal(tpoll_thread_counters(f->tp, 0, &before), 0);
    for (waits = 0; waits < 3 && !all_refused(r, MANY_REFUSED); waits++)
        assert_true(tpoll_wait(f->tp, 5000) >= 0);
    assert_int_equal(tpoll_thread_counters(f->tp, 0, &after), 0);
    assert_int_equal(after.polls, before.polls);
    assert_true(tpoll_wait(f->tp, 0) >= 0);
    for (i = 0; i < MANY_REFUSED; i++) {
        assert_int_equal(atomic_load(&r[i].calls), 1);
        assert_int_equal(atomic_load(&r[i].events), TPOLL_ERR | TPOLL_RECV);
        assert_int_equal(tpoll_fd_delete(f->tp, r[i].fd), 0);
        close(r[i].fd);
    }
    close(dir);
}

static void test_insert_precedence(void **state)
{
    struct fx *f = *state;

    /* Range first, then arguments, then the table. */
    expect_unchanged(f, tpoll_fd_insert(f->tp, -1, NULL, f, 0), -EBADF);
    expect_unchanged(f, tpoll_fd_insert(f->tp, f->sv[0], probe_cb, f, 0),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert(f->tp, closed_number(), NULL, f, 1),
                     -EINVAL);
}

static void test_insert_flags_errors(void **state)
{
    struct fx *f = *state;
    int fd = f->sv[1];

    expect_unchanged(f, tpoll_fd_insert_flags(NULL, fd, probe_cb, f, 1, 0),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, -1, probe_cb, f, 1, 0),
                     -EBADF);
    expect_unchanged(
        f, tpoll_fd_insert_flags(f->tp, MAX_FDS, probe_cb, f, 1, ~0u), -EMFILE);
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, fd, probe_cb, f, 1,
                                              TPOLL_FD_EDGE << 1),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, fd, probe_cb, f, 1, ~0u),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, fd, NULL, f, 1,
                                              TPOLL_FD_EXCLUSIVE),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, fd, probe_cb, f, 0,
                                              TPOLL_FD_EXCLUSIVE),
                     -EINVAL);
    /* Arguments before the table: bad flags on an inserted fd. */
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, f->sv[0], probe_cb, f, 1,
                                              TPOLL_FD_EDGE << 1),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_insert_flags(f->tp, f->sv[0], probe_cb, f, 1,
                                              TPOLL_FD_EXCLUSIVE),
                     -EEXIST);
    /* Valid flags on every backend, and the fd works as usual. */
    assert_int_equal(tpoll_fd_insert_flags(f->tp, fd, probe_cb, f, 1,
                                           TPOLL_FD_EXCLUSIVE),
                     0);
    assert_int_equal(tpoll_fd_interest(f->tp, fd), 0);
    assert_int_equal(tpoll_fd_delete(f->tp, fd), 0);
    assert_int_equal(tpoll_fd_insert_flags(f->tp, fd, probe_cb, f, 1, 0), 0);
    assert_int_equal(tpoll_fd_delete(f->tp, fd), 0);
    assert_int_equal(tpoll_fd_insert_flags(f->tp, fd, probe_cb, f, 1,
                                           TPOLL_FD_EDGE | TPOLL_FD_EXCLUSIVE),
                     0);
    assert_int_equal(tpoll_fd_interest(f->tp, fd), 0);
    assert_int_equal(tpoll_fd_delete(f->tp, fd), 0);
}

static void other_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)fd, (void)events, (void)owner;
    fail_msg("a rejected insert replaced the callback");
}

static void test_insert_exists(void **state)
{
    struct fx *f = *state;

    assert_int_equal(tpoll_want_send(f->tp, f->sv[0]), 0);
    expect_unchanged(f, tpoll_fd_insert(f->tp, f->sv[0], other_cb, NULL, 2),
                     -EEXIST);
    expect_unchanged(f, tpoll_fd_insert(f->tp, f->sv[0], probe_cb, f, 1),
                     -EEXIST);
    /* Callback, owner, mask and interest are those of the first insert. */
    assert_int_equal(tpoll_fd_interest(f->tp, f->sv[0]),
                     TPOLL_RECV | TPOLL_SEND);
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_int_equal(atomic_load(&f->events) & TPOLL_SEND, TPOLL_SEND);
    assert_int_equal(tpoll_stop_send(f->tp, f->sv[0]), 0);
    assert_int_equal(tpoll_wait(f->tp, 0), 0);
}

static void test_insert_select_range(void **state)
{
    struct fx *f = *state;
    struct tpoll *big;
    int fd = FD_SETSIZE + 10, want;
    struct rlimit rl;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= (rlim_t)fd + 1)
        skip();
    big = tu_create(1, fd + 1);
    assert_int_equal(dup2(f->sv[1], fd), fd);
    want = strcmp(tpoll_backend_name(big), "select") == 0 ? -ERANGE : 0;
    assert_int_equal(tpoll_fd_insert(big, fd, probe_cb, f, 1), want);
    assert_int_equal(tpoll_fd_interest(big, fd), want ? -ENOENT : 0);
    if (want == 0)
        assert_int_equal(tpoll_fd_delete(big, fd), 0);
    close(fd);
    tu_destroy(big);
}

static void test_delete_errors(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, tpoll_fd_delete(f->tp, -1), -EBADF);
    expect_unchanged(f, tpoll_fd_delete(f->tp, MAX_FDS), -EMFILE);
    expect_unchanged(f, tpoll_fd_delete(f->tp, INT_MAX), -EMFILE);
    expect_unchanged(f, tpoll_fd_delete(f->tp, f->sv[1]), -ENOENT);
    expect_unchanged(f, tpoll_fd_delete(f->tp, closed_number()), -ENOENT);
    /* A second delete of the same fd. */
    assert_int_equal(tpoll_fd_insert(f->tp, f->sv[1], probe_cb, f, 1), 0);
    assert_int_equal(tpoll_fd_delete(f->tp, f->sv[1]), 0);
    expect_unchanged(f, tpoll_fd_delete(f->tp, f->sv[1]), -ENOENT);
}

static void test_set_threads_errors(void **state)
{
    struct fx *f = *state;
    tpoll_mask_t beyond = TPOLL_THREAD(NTHREADS);

    expect_unchanged(f, tpoll_fd_set_threads(f->tp, -1, 1), -EBADF);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, MAX_FDS, 1), -EMFILE);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, -1, 0), -EBADF);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, f->sv[0], 0), -EINVAL);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, f->sv[0], beyond),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, f->sv[0], 3 | beyond),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, f->sv[1], 0), -EINVAL);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, f->sv[1], 1), -ENOENT);
    /* The probe still belongs to tid 0 only: a wait on tid 0 sees it. */
}

static void test_interest_errors(void **state)
{
    static int (*const fns[])(struct tpoll *, int) = {
        tpoll_want_recv, tpoll_stop_recv, tpoll_want_send, tpoll_stop_send};
    struct fx *f = *state;
    size_t i;

    for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        expect_unchanged(f, fns[i](f->tp, -1), -EBADF);
        expect_unchanged(f, fns[i](f->tp, MAX_FDS), -EMFILE);
        expect_unchanged(f, fns[i](f->tp, INT_MIN), -EBADF);
        expect_unchanged(f, fns[i](f->tp, f->sv[1]), -ENOENT);
        expect_unchanged(f, fns[i](f->tp, closed_number()), -ENOENT);
    }
    expect_unchanged(f, tpoll_fd_interest(f->tp, -1), -EBADF);
    expect_unchanged(f, tpoll_fd_interest(f->tp, MAX_FDS), -EMFILE);
    expect_unchanged(f, tpoll_fd_interest(f->tp, f->sv[1]), -ENOENT);
    expect_unchanged(f, tpoll_fd_interest(f->tp, f->sv[0]), TPOLL_RECV);
    /* Idempotent: repeating a change is a success that changes nothing. */
    expect_unchanged(f, tpoll_want_recv(f->tp, f->sv[0]), 0);
    expect_unchanged(f, tpoll_stop_send(f->tp, f->sv[0]), 0);
}

/* ---- delete while a callback runs elsewhere ---- */

struct slow {
    struct tpoll *tp;
    int sv[2];
    atomic_int entered;
    atomic_int left;
    atomic_int release;
    atomic_int calls_after_delete;
    atomic_int deleted;
    int hold_ms;
    int delete_ret;
};

static void slow_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct slow *s = owner;
    uint64_t end = tu_now_ms() + (uint64_t)s->hold_ms;

    (void)tp, (void)fd, (void)events;
    if (atomic_load(&s->deleted))
        atomic_fetch_add(&s->calls_after_delete, 1);
    atomic_store(&s->entered, 1);
    /* Holds the callback open so that the delete overlaps it. */
    while (!atomic_load(&s->release) && tu_now_ms() < end)
        sched_yield();
    atomic_store(&s->left, 1);
}

static void slow_setup(struct slow *s, struct fx *f, struct other_thread *o,
                       int hold_ms)
{
    memset(s, 0, sizeof(*s));
    s->tp = f->tp;
    s->hold_ms = hold_ms;
    tu_socketpair(s->sv);
    assert_int_equal(tpoll_fd_insert(f->tp, s->sv[0], slow_cb, s, 2), 0);
    assert_int_equal(tpoll_want_recv(f->tp, s->sv[0]), 0);
    other_start(o, f->tp, 1);
    tu_write_byte(s->sv[1]);
    while (!atomic_load(&s->entered))
        sched_yield();
}

/* tpoll_fd_delete never waits: with a callback still inside on another
 * thread it returns 1 at once (the callback is held open until after). */
static void test_delete_returns_1_while_running_elsewhere(void **state)
{
    struct fx *f = *state;
    struct other_thread o;
    struct slow s;

    slow_setup(&s, f, &o, TU_DEADLINE_MS);
    assert_int_equal(tpoll_fd_delete(f->tp, s.sv[0]), 1);
    atomic_store(&s.deleted, 1);
    assert_false(atomic_load(&s.left));
    atomic_store(&s.release, 1);
    other_stop(&o);
    assert_int_equal(atomic_load(&s.calls_after_delete), 0);
    assert_int_equal(tpoll_fd_interest(f->tp, s.sv[0]), -ENOENT);
    close(s.sv[0]);
    close(s.sv[1]);
}

/* tpoll_fd_delete_wait returns only once the running callback left. */
struct waiter_call {
    struct tpoll *tp;
    int fd;
    atomic_int returned;
    int ret;
};

static void *delete_wait_main(void *arg)
{
    struct waiter_call *w = arg;

    w->ret = tpoll_fd_delete_wait(w->tp, w->fd);
    atomic_store(&w->returned, 1);
    return NULL;
}

static void test_delete_wait_waits_for_running_callback(void **state)
{
    struct fx *f = *state;
    struct waiter_call w = {0};
    struct other_thread o;
    struct slow s;
    pthread_t t;

    slow_setup(&s, f, &o, TU_DEADLINE_MS);
    w.tp = f->tp;
    w.fd = s.sv[0];
    assert_int_equal(pthread_create(&t, NULL, delete_wait_main, &w), 0);
    /* The fd is gone at once (first phase), the call still waits. */
    while (tpoll_fd_interest(f->tp, s.sv[0]) != -ENOENT)
        sched_yield();
    atomic_store(&s.deleted, 1);
    atomic_store(&s.release, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.ret, 0);
    /* It returned after the callback had left. */
    assert_true(atomic_load(&s.left));
    other_stop(&o);
    assert_int_equal(atomic_load(&s.calls_after_delete), 0);
    close(s.sv[0]);
    close(s.sv[1]);
}

/* tpoll_fd_delete_async: the release runs once, after the callback that
 * was running has left, with the owner; never while it runs. */
struct released {
    atomic_int calls;
    atomic_int left_before; /* the slow callback had left by then */
    struct slow *s;
    int fd;
    void *owner;
};

static struct released rel;

static void record_release(struct tpoll *tp, int fd, void *owner)
{
    (void)tp;
    rel.fd = fd;
    rel.owner = owner;
    if (rel.s == NULL || atomic_load(&rel.s->left))
        atomic_store(&rel.left_before, 1);
    atomic_fetch_add(&rel.calls, 1);
}

static void test_delete_async_releases_after_running_callback(void **state)
{
    struct fx *f = *state;
    struct other_thread o;
    struct slow s;
    uint64_t end;

    memset(&rel, 0, sizeof(rel));
    slow_setup(&s, f, &o, TU_DEADLINE_MS);
    rel.s = &s;
    assert_int_equal(tpoll_fd_delete_async(f->tp, s.sv[0], record_release), 0);
    atomic_store(&s.deleted, 1);
    assert_int_equal(tpoll_fd_interest(f->tp, s.sv[0]), -ENOENT);
    assert_int_equal(atomic_load(&rel.calls), 0);
    atomic_store(&s.release, 1);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&rel.calls) == 0 && tu_now_ms() < end)
        sched_yield();
    other_stop(&o);
    assert_int_equal(atomic_load(&rel.calls), 1);
    assert_true(atomic_load(&rel.left_before));
    assert_int_equal(rel.fd, s.sv[0]);
    assert_ptr_equal(rel.owner, &s);
    assert_int_equal(atomic_load(&s.calls_after_delete), 0);
    close(s.sv[0]);
    close(s.sv[1]);
}

/* Nothing in use: the release runs before tpoll_fd_delete_async returns,
 * on the calling thread. */
static void test_delete_async_idle_releases_at_once(void **state)
{
    struct fx *f = *state;
    int sv[2];

    memset(&rel, 0, sizeof(rel));
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(f->tp, sv[0], tu_noop_cb, &rel, 1), 0);
    assert_int_equal(tpoll_fd_delete_async(f->tp, sv[0], record_release), 0);
    assert_int_equal(atomic_load(&rel.calls), 1);
    assert_ptr_equal(rel.owner, &rel);
    close(sv[0]);
    close(sv[1]);
}

static void test_delete_async_and_wait_errors(void **state)
{
    struct fx *f = *state;
    int sv[2];

    tu_socketpair(sv);
    expect_unchanged(f, tpoll_fd_delete_async(NULL, sv[0], record_release),
                     -EINVAL);
    expect_unchanged(f, tpoll_fd_delete_async(f->tp, -1, record_release),
                     -EBADF);
    expect_unchanged(f, tpoll_fd_delete_async(f->tp, MAX_FDS, record_release),
                     -EMFILE);
    expect_unchanged(f, tpoll_fd_delete_async(f->tp, sv[0], record_release),
                     -ENOENT);
    expect_unchanged(f, tpoll_fd_delete_async(f->tp, f->sv[0], NULL), -EINVAL);
    /* The fd's range comes before the other arguments. */
    expect_unchanged(f, tpoll_fd_delete_async(f->tp, -1, NULL), -EBADF);
    expect_unchanged(f, tpoll_fd_delete_async(f->tp, MAX_FDS, NULL), -EMFILE);
    expect_unchanged(f, tpoll_fd_delete_wait(NULL, sv[0]), -EINVAL);
    expect_unchanged(f, tpoll_fd_delete_wait(f->tp, -1), -EBADF);
    expect_unchanged(f, tpoll_fd_delete_wait(f->tp, MAX_FDS), -EMFILE);
    expect_unchanged(f, tpoll_fd_delete_wait(f->tp, sv[0]), -ENOENT);
    close(sv[0]);
    close(sv[1]);
}

static struct slow *slow_target;

static void delete_slow_from_cb(struct fx *f)
{
    slow_target->delete_ret = tpoll_fd_delete(f->tp, slow_target->sv[0]);
    atomic_store(&slow_target->deleted, 1);
    atomic_store(&slow_target->release, 1);
}

static void test_delete_in_callback_returns_1(void **state)
{
    struct fx *f = *state;
    struct other_thread o;
    struct slow s;

    slow_setup(&s, f, &o, TU_DEADLINE_MS);
    slow_target = &s;
    f->nested = delete_slow_from_cb;
    tu_write_byte(f->sv[1]);
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_true(tu_drain(f->sv[0]) > 0);
    /* The slow callback was still running on tid 1: the owner is busy. */
    assert_int_equal(s.delete_ret, 1);
    other_stop(&o);
    assert_true(atomic_load(&s.left));
    assert_int_equal(atomic_load(&s.calls_after_delete), 0);
    assert_int_equal(tpoll_fd_interest(f->tp, s.sv[0]), -ENOENT);
    close(s.sv[0]);
    close(s.sv[1]);
}

/* From inside a callback tpoll_fd_delete_wait would wait for callbacks
 * that may wait for this one: it refuses, and deletes nothing. */
static int wait_ret;

static void delete_wait_from_cb(struct fx *f)
{
    wait_ret = tpoll_fd_delete_wait(f->tp, f->sv[0]);
}

static void test_delete_wait_in_callback_is_edeadlk(void **state)
{
    struct fx *f = *state;

    f->nested = delete_wait_from_cb;
    tu_write_byte(f->sv[1]);
    assert_true(tu_wait_until(f->tp, probe_called, f));
    assert_true(tu_drain(f->sv[0]) > 0);
    assert_int_equal(wait_ret, -EDEADLK);
    assert_int_equal(tpoll_fd_interest(f->tp, f->sv[0]), TPOLL_RECV);
}

/* ---- queries ---- */

static void test_backend_queries(void **state)
{
    struct fx *f = *state;

    assert_string_equal(tpoll_backend_name(f->tp), tu_backend());
    assert_int_equal(tpoll_backend_supported(tu_backend()), 0);
    assert_int_equal(tpoll_backend_supported(NULL), -EINVAL);
    assert_int_equal(tpoll_backend_supported(""), -ENOENT);
    assert_int_equal(tpoll_backend_supported("no-such-backend"), -ENOENT);
    assert_non_null(tpoll_default_backend());
    assert_int_equal(tpoll_backend_supported(tpoll_default_backend()), 0);
}

static void test_counters_errors(void **state)
{
    struct fx *f = *state;
    struct tpoll_counters c;

    expect_unchanged(f, tpoll_thread_counters(f->tp, -1, &c), -EINVAL);
    expect_unchanged(f, tpoll_thread_counters(f->tp, NTHREADS, &c), -EINVAL);
    expect_unchanged(f, tpoll_thread_counters(f->tp, 0, NULL), -EINVAL);
    expect_unchanged(f, tpoll_thread_counters(f->tp, 1, &c), 0);
    assert_int_equal(c.loops, 0);
}

static void test_version(void **state)
{
    char buf[32];

    (void)state;
    assert_int_equal(tpoll_version(), TPOLL_VERSION_NUMBER);
    assert_string_equal(tpoll_version_string(), TPOLL_VERSION_STRING);
    snprintf(buf, sizeof(buf), "%u.%u.%u", tpoll_version() >> 16,
             (tpoll_version() >> 8) & 0xff, tpoll_version() & 0xff);
    assert_string_equal(buf, tpoll_version_string());
}

/* ---- the fd table's size ---- */

/* A number at or above max_fds is -EMFILE, before any other argument is
 * looked at; a negative one stays -EBADF. */
static void test_fd_beyond_table(void **state)
{
    struct fx *f = *state;

    expect_unchanged(f, tpoll_fd_insert(f->tp, MAX_FDS, NULL, f, 0), -EMFILE);
    expect_unchanged(f, tpoll_fd_insert(f->tp, MAX_FDS + 1, probe_cb, f, 1),
                     -EMFILE);
    expect_unchanged(f, tpoll_fd_set_threads(f->tp, MAX_FDS, 0), -EMFILE);
    expect_unchanged(f, tpoll_fd_insert(f->tp, INT_MIN, NULL, f, 0), -EBADF);
}

/* The table size max_fds = 0 gave: the first number beyond it is -EMFILE,
 * the last one inside it, not open, -EBADF. */
static int default_table_size(void)
{
    struct tpoll_options o = opts_for_backend();
    struct tpoll *tp;
    int n;

    o.max_fds = 0;
    assert_int_equal(tpoll_create(&tp, &o), 0);
    for (n = 1; n < INT_MAX; n *= 2)
        if (tpoll_fd_interest(tp, n) == -EMFILE)
            break;
    for (n /= 2; tpoll_fd_interest(tp, n) != -EMFILE; n++)
        ;
    /* The last number of the table is in it: taken like any other (select
     * refuses numbers from FD_SETSIZE on, whatever the table). */
    if (fcntl(n - 1, F_GETFD) < 0) {
        int err = tpoll_fd_insert(tp, n - 1, probe_cb, NULL, 1);

        assert_true(err == 0 || (err == -ERANGE && n - 1 >= FD_SETSIZE));
        if (err == 0)
            assert_int_equal(tpoll_fd_delete(tp, n - 1), 0);
    }
    tu_destroy(tp);
    return n;
}

static int hard_limit_table(const struct rlimit *rl)
{
    if (rl->rlim_max == RLIM_INFINITY ||
        rl->rlim_max > TPOLL_DEFAULT_MAX_FDS_CAP)
        return TPOLL_DEFAULT_MAX_FDS_CAP;
    return (int)rl->rlim_max;
}

/* max_fds = 0 sizes the table from the hard RLIMIT_NOFILE, not the soft
 * one: a program that raises its soft limit after tpoll_create can insert
 * the numbers it then gets. */
static void test_default_table_follows_hard_limit(void **state)
{
    struct rlimit rl, low;
    int above, sv[2];
    struct tpoll *tp;
    struct tpoll_options o = opts_for_backend();

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 256)
        skip();
    low = rl;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    assert_int_equal(default_table_size(), hard_limit_table(&rl));
    o.max_fds = 0;
    assert_int_equal(tpoll_create(&tp, &o), 0);
    /* The server raises its limit, then gets a number above the old one. */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    tu_socketpair(sv);
    above = fcntl(sv[0], F_DUPFD_CLOEXEC, 200);
    assert_true(above >= 200);
    assert_int_equal(tpoll_fd_insert(tp, above, probe_cb, NULL, 1), 0);
    assert_int_equal(tpoll_fd_delete(tp, above), 0);
    tu_destroy(tp);
    close(above);
    close(sv[0]);
    close(sv[1]);
}

static long resident_kb(void)
{
    long pages = 0, res = -1;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_SANITIZED 1
#endif

static struct tpoll *started_instance(int max_fds)
{
    struct tpoll_options o = opts_for_backend();
    struct tpoll *tp;

    o.max_fds = max_fds;
    assert_int_equal(tpoll_create(&tp, &o), 0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    return tp;
}

/* The larger default table costs address space, not memory: creating an
 * instance and starting a thread leaves the table's pages untouched. The
 * hard limit is raised to the cap where that is allowed (root), so that
 * the table is large enough for the resident size to tell. Sanitizers'
 * allocators touch what they hand out: skipped under them. */
static void test_default_table_costs_no_memory(void **state)
{
    struct rlimit rl, big;
    struct tpoll *tp;
    long before, grown;
    size_t slots_bytes;

    (void)state;
#ifdef TU_SANITIZED
    skip();
#endif
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    big = rl;
    big.rlim_max = TPOLL_DEFAULT_MAX_FDS_CAP;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > big.rlim_max ||
        setrlimit(RLIMIT_NOFILE, &big) != 0)
        big = rl;
    /* A slot is eight words (64 bytes on 64-bit systems, as documented);
     * a table under 1 MiB could not be told from a thread start's noise. */
    slots_bytes = (size_t)hard_limit_table(&big) * 8 * sizeof(void *);
    if (resident_kb() < 0 || slots_bytes < ((size_t)1 << 20)) {
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        skip();
    }
    /* A small instance first: what any first start touches (code, under
     * qemu its translation; the allocator's arenas) is not the table's. */
    tu_destroy(started_instance(64));
    before = resident_kb();
    tp = started_instance(0);
    grown = resident_kb() - before;
    print_message("max_fds=%d: resident +%ld KiB\n", hard_limit_table(&big),
                  grown);
    assert_true((size_t)grown * 1024 < slots_bytes / 2);
    tu_destroy(tp);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

#define FX(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_create_bad_options),
        cmocka_unit_test(test_create_limits_ok),
        cmocka_unit_test(test_create_unknown_backend),
        cmocka_unit_test(test_create_uncompiled_backend),
        cmocka_unit_test(test_create_env_backend),
        cmocka_unit_test(test_null_instance),
        cmocka_unit_test(test_version),
        FX(test_destroy_other_bound),
        FX(test_destroy_in_callback),
        FX(test_thread_start_errors),
        FX(test_thread_start_taken),
        FX(test_thread_start_bindings_full),
        FX(test_thread_stop_errors),
        FX(test_thread_id_errors),
        FX(test_wait_errors),
        FX(test_wake_errors),
        FX(test_insert_errors),
        FX(test_unpollable_refused_at_registration),
        FX(test_many_refusals_none_lost),
        FX(test_insert_precedence),
        FX(test_insert_exists),
        FX(test_insert_flags_errors),
        FX(test_insert_select_range),
        FX(test_delete_errors),
        FX(test_set_threads_errors),
        FX(test_interest_errors),
        FX(test_delete_returns_1_while_running_elsewhere),
        FX(test_delete_wait_waits_for_running_callback),
        FX(test_delete_async_releases_after_running_callback),
        FX(test_delete_async_idle_releases_at_once),
        FX(test_delete_async_and_wait_errors),
        FX(test_delete_wait_in_callback_is_edeadlk),
        FX(test_delete_in_callback_returns_1),
        FX(test_backend_queries),
        FX(test_counters_errors),
        FX(test_fd_beyond_table),
        cmocka_unit_test(test_default_table_follows_hard_limit),
        cmocka_unit_test(test_default_table_costs_no_memory),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
