/* SPDX-License-Identifier: MIT */
/*
 * fork() finds other threads anywhere: inside tpoll_thread_start or
 * tpoll_thread_stop, in an update pass holding an fd's lock, in a delete,
 * in a callback. Each test parks a thread at one such point (core/hooks.h),
 * forks, and has the child call tpoll_after_fork and then use the instance:
 * the child must not crash, hang on a lock a vanished thread held, close
 * descriptors it did not prove its own, or steal the parent's wake-up.
 * The child reports through its exit status (no cmocka in the child).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "park.h"
#include "testutil.h"

/* Exit statuses of a child. */
enum {
    CHILD_OK = 0,
    CHILD_AFTER_FORK = 10,
    CHILD_START = 11,
    CHILD_USE = 12,
    CHILD_STOP = 13,
    CHILD_FD_LOST = 14,
    CHILD_DEADLINE = 15,
};

static void reap_ok(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void count_call(struct tpoll *tp, void *arg)
{
    (void)tp;
    ++*(int *)arg;
}

/* In the child: a call posted to the thread's own id runs at its wait. */
static int child_calls(struct tpoll *tp, int tid, int n)
{
    static int ran;
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    if (n == 1)
        ran = 0;
    if (tpoll_call(tp, tid, count_call, &ran) != 0)
        return CHILD_USE;
    while (ran < n) {
        if (tpoll_wait(tp, 100) < 0)
            return CHILD_USE;
        if (tu_now_ms() > end)
            return CHILD_DEADLINE;
    }
    return CHILD_OK;
}

/* In the child: the instance works. The thread the child kept (if any)
 * is stopped, thread id `tid` (whatever it was in the parent) started, an
 * fd inserted, made ready, dispatched and deleted, and the id stopped. */
static int child_use(struct tpoll *tp, int tid)
{
    struct tu_rec r = {0};
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;
    int sv[2];

    if (tpoll_thread_id(tp) >= 0 && tpoll_thread_stop(tp) != 0)
        return CHILD_STOP;
    if (tpoll_thread_start(tp, tid) != 0)
        return CHILD_START;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0 ||
        tpoll_fd_insert_group(tp, sv[0], tu_rec_cb, &r, TPOLL_GROUP(tid),
                              TPOLL_THREAD(tid), 0) != 0 ||
        tpoll_want_recv(tp, sv[0]) != 0 || write(sv[1], "x", 1) != 1)
        return CHILD_USE;
    while (r.calls == 0) {
        if (tpoll_wait(tp, 100) < 0)
            return CHILD_USE;
        if (tu_now_ms() > end)
            return CHILD_DEADLINE;
    }
    if (tpoll_fd_delete(tp, sv[0]) != 0)
        return CHILD_USE;
    close(sv[0]);
    close(sv[1]);
    /* Two calls: the second goes into the ring the first one's take
     * swapped in (the spare). */
    if (child_calls(tp, tid, 1) != CHILD_OK ||
        child_calls(tp, tid, 2) != CHILD_OK)
        return CHILD_USE;
    return tpoll_thread_stop(tp) != 0 ? CHILD_STOP : CHILD_OK;
}

/* A thread that starts thread id `tid`, then stops it when told. */
struct starter {
    struct tpoll *tp;
    int tid;
    pthread_t thread;
    atomic_int started, go_stop;
    int start_err, stop_err;
};

static void *starter_main(void *arg)
{
    struct starter *s = arg;

    s->start_err = tpoll_thread_start(s->tp, s->tid);
    atomic_store(&s->started, 1);
    while (!atomic_load(&s->go_stop))
        sched_yield();
    s->stop_err = s->start_err ? 0 : tpoll_thread_stop(s->tp);
    return NULL;
}

static void starter_run(struct starter *s, struct tpoll *tp, int tid)
{
    s->tp = tp;
    s->tid = tid;
    atomic_init(&s->started, 0);
    atomic_init(&s->go_stop, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, starter_main, s), 0);
}

static void starter_join(struct starter *s)
{
    atomic_store(&s->go_stop, 1);
    assert_int_equal(pthread_join(s->thread, NULL), 0);
    assert_int_equal(s->start_err, 0);
    assert_int_equal(s->stop_err, 0);
}

static pid_t fork_child_using(struct tpoll *tp, int tid)
{
    pid_t pid = tu_fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (tpoll_after_fork(tp) != 0)
            _exit(CHILD_AFTER_FORK);
        _exit(child_use(tp, tid));
    }
    return pid;
}

/* Fork while thread 1 is inside tpoll_thread_start, at `point`; the
 * forking thread is bound to thread 0 (it keeps it in the child). */
static void fork_inside_start(enum tp__hook_point point)
{
    struct tpoll *tp = tu_create(2, 0);
    struct starter s;
    struct tu_trap *t;

    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    t = tu_trap_arm(point, 1);
    starter_run(&s, tp, 1);
    assert_true(tu_trap_wait(t));
    reap_ok(fork_child_using(tp, 1));
    reap_ok(fork_child_using(tp, 0));
    tu_trap_release(t);
    starter_join(&s);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tu_destroy(tp);
}

static void test_fork_while_start_claimed(void **state)
{
    (void)state;
    fork_inside_start(TP_HOOK_START_CLAIMED);
}

static void test_fork_while_start_built(void **state)
{
    (void)state;
    fork_inside_start(TP_HOOK_START_BUILT);
}

/* Fork while thread 1 is inside tpoll_thread_stop, its poller torn down
 * but its id not yet free. */
static void test_fork_while_stopping(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct starter s;
    struct tu_trap *t;

    (void)state;
    starter_run(&s, tp, 1);
    while (!atomic_load(&s.started))
        sched_yield();
    t = tu_trap_arm(TP_HOOK_STOP_TORN_DOWN, 1);
    atomic_store(&s.go_stop, 1);
    assert_true(tu_trap_wait(t));
    reap_ok(fork_child_using(tp, 1));
    tu_trap_release(t);
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    assert_int_equal(s.start_err, 0);
    assert_int_equal(s.stop_err, 0);
    tu_destroy(tp);
}

/* Fork while thread 0's update pass holds fd's lock (a kernel call next):
 * the child must be able to delete and reinsert that fd. */
static void test_fork_while_pass_holds_lock(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_loop l;
    struct tu_trap *t;
    int sv[2];
    pid_t pid;

    (void)state;
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 1), 0);
    t = tu_trap_arm(TP_HOOK_PASS_LOCKED, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_true(tu_trap_wait(t));
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (tpoll_after_fork(tp) != 0)
            _exit(CHILD_AFTER_FORK);
        if (tpoll_fd_delete(tp, sv[0]) != 0 ||
            tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 1) != 0 ||
            tpoll_fd_delete(tp, sv[0]) != 0)
            _exit(CHILD_USE);
        _exit(child_use(tp, 0));
    }
    reap_ok(pid);
    tu_trap_release(t);
    tu_loop_stop(&l);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

struct deleter {
    struct tpoll *tp;
    int fd;
    int result;
};

static void *delete_main(void *arg)
{
    struct deleter *d = arg;

    d->result = tpoll_fd_delete(d->tp, d->fd);
    return NULL;
}

/* Fork while another thread is inside tpoll_fd_delete, fd still locked. */
static void test_fork_while_deleting(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct deleter d;
    struct tu_loop l;
    struct tu_trap *t;
    pthread_t dt;
    int sv[2];
    pid_t pid;

    (void)state;
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    d.tp = tp;
    d.fd = sv[0];
    t = tu_trap_arm(TP_HOOK_DELETE_DONE, sv[0]);
    assert_int_equal(pthread_create(&dt, NULL, delete_main, &d), 0);
    assert_true(tu_trap_wait(t));
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (tpoll_after_fork(tp) != 0)
            _exit(CHILD_AFTER_FORK);
        /* The parent's delete had bumped the generation: the entry is
         * free for the child (or still the old fd: either is usable). */
        tpoll_fd_delete(tp, sv[0]);
        if (tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 1) != 0 ||
            tpoll_fd_delete(tp, sv[0]) != 0)
            _exit(CHILD_USE);
        _exit(child_use(tp, 0));
    }
    reap_ok(pid);
    tu_trap_release(t);
    assert_int_equal(pthread_join(dt, NULL), 0);
    assert_int_equal(d.result, 0);
    tu_loop_stop(&l);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * Thread groups: group 0's entry of a number is its lock in every group,
 * and a side table says which other group holds the number. Fork while a
 * thread deletes fd X of group 1, parked at `point` (both locks held):
 * the child must find X free (the delete had cleared the entry) and
 * usable in any group. high0: group 0 has an fd above X (its highest
 * number covers X), else X is above every number group 0 ever had.
 */
static void fork_deleting_in_group(enum tp__hook_point point, int high0)
{
    struct tpoll *tp = tu_create(2 * TPOLL_MAX_THREADS, 0);
    int sv[2], hi[2] = {-1, -1};
    struct deleter d;
    struct tu_trap *t;
    pthread_t dt;
    pid_t pid;

    tu_socketpair(sv);
    if (high0) {
        tu_socketpair(hi);
        assert_true(hi[1] > sv[0]);
        assert_int_equal(tpoll_fd_insert(tp, hi[1], tu_noop_cb, NULL, 1), 0);
    }
    assert_int_equal(
        tpoll_fd_insert_group(tp, sv[0], tu_noop_cb, NULL, 1, 1, 0), 0);
    d.tp = tp;
    d.fd = sv[0];
    t = tu_trap_arm(point, sv[0]);
    assert_int_equal(pthread_create(&dt, NULL, delete_main, &d), 0);
    assert_true(tu_trap_wait(t));
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(TU_DEADLINE_MS / 1000); /* a lock left held: a hang */
        if (tpoll_after_fork(tp) != 0)
            _exit(CHILD_AFTER_FORK);
        if (tpoll_fd_group(tp, sv[0]) != -ENOENT ||
            tpoll_fd_insert_group(tp, sv[0], tu_noop_cb, NULL, 1, 2, 0) !=
                0 ||
            tpoll_fd_group(tp, sv[0]) != 1 ||
            tpoll_fd_delete(tp, sv[0]) != 0 ||
            tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 1) != 0 ||
            tpoll_fd_group(tp, sv[0]) != 0 || tpoll_fd_delete(tp, sv[0]) != 0)
            _exit(CHILD_USE);
        _exit(child_use(tp, TPOLL_TID(1, 3)));
    }
    reap_ok(pid);
    tu_trap_release(t);
    assert_int_equal(pthread_join(dt, NULL), 0);
    assert_int_equal(d.result, 0);
    if (high0) {
        assert_int_equal(tpoll_fd_delete(tp, hi[1]), 0);
        close(hi[0]);
        close(hi[1]);
    }
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* Group 0's lock of X was held above group 0's highest number: the
 * child used to reset locks below it only, and hung on X's. */
static void test_fork_while_deleting_in_group_lock_held(void **state)
{
    (void)state;
    fork_deleting_in_group(TP_HOOK_DELETE_DONE, 0);
}

/* The entry cleared, the side table not yet: the child used to find X
 * "inserted" (-EEXIST) and "not inserted" (-ENOENT) at once, for ever. */
static void test_fork_while_deleting_in_group_half_written(void **state)
{
    (void)state;
    fork_deleting_in_group(TP_HOOK_DELETE_UNREGISTERED, 1);
}

/* A thread id's first start makes its call rings; the child of a fork in
 * between starts the id itself and posts calls to it (child_use). */
static void test_fork_while_start_makes_call_rings(void **state)
{
    (void)state;
    fork_inside_start(TP_HOOK_CALL_RINGS_MADE);
}

/*
 * A callback forks while a wake-up is pending later in the same batch.
 * The child, finishing the parent's batch, must not read the wake signal
 * it shares with the parent: here the parent's thread is parked just
 * before it blocks again, with a new wake-up sent to it; if the child
 * read that signal, the parent would block with its "notified" flag set,
 * so that no later tpoll_wake would ever signal it again.
 */
struct fork_cb {
    int go[2]; /* parent -> child: finish the batch now */
    atomic_int child;
    int forked;
};

static int exit_pipe[2];

static void exit_child_cb(struct tpoll *tp, int fd, unsigned events,
                          void *owner)
{
    (void)tp, (void)fd, (void)events, (void)owner;
    _exit(CHILD_OK);
}

static void forking_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct fork_cb *f = owner;
    char c;

    (void)events;
    tu_drain(fd);
    if (f->forked++)
        return;
    atomic_store(&f->child, tu_fork());
    if (atomic_load(&f->child) != 0)
        return;
    if (tpoll_after_fork(tp) != 0)
        _exit(CHILD_AFTER_FORK);
    /* The child's copy of the loop ends at its next wait, through a
     * writable pipe whose callback exits the child. */
    if (pipe(exit_pipe) != 0 ||
        tpoll_fd_insert(tp, exit_pipe[1], exit_child_cb, NULL, 1) != 0 ||
        tpoll_want_send(tp, exit_pipe[1]) != 0)
        _exit(CHILD_USE);
    while (read(f->go[0], &c, 1) < 0 && errno == EINTR)
        ;
}

static void test_fork_in_callback_keeps_parents_wakeup(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct fork_cb f = {.forked = 0};
    struct tu_trap *t1, *t2;
    struct tu_loop l;
    unsigned long loops;
    int sv[2];

    (void)state;
    atomic_init(&f.child, 0);
    assert_int_equal(pipe(f.go), 0);
    tu_socketpair(sv);
    /* Park the loop just before its first sleep, then make the fd
     * readable and send a wake-up: both are in its first batch, the
     * wake-up last (nothing has woken the loop before: a kernel that
     * reported the wake fd once may keep it first in its ready list). */
    assert_int_equal(tpoll_fd_insert(tp, sv[0], forking_cb, &f, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    t1 = tu_trap_arm(TP_HOOK_BEFORE_POLL, 0);
    tu_loop_start(&l, tp, 0);
    assert_true(tu_trap_wait(t1));
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    /* Once the callback forked, park the parent's loop before its next
     * sleep (a backend may deliver the two events in separate batches:
     * then the trap is passed again until the fork happened). */
    do {
        t2 = tu_trap_arm(TP_HOOK_BEFORE_POLL, 0);
        tu_trap_release(t1);
        assert_true(tu_trap_wait(t2));
        t1 = t2;
    } while (atomic_load(&f.child) == 0);
    assert_true(atomic_load(&f.child) > 0);
    /* Wake the parent's loop while it is parked there, then let the child
     * finish the old batch and exit, and only then let the parent block. */
    loops = atomic_load(&l.loops);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_int_equal(write(f.go[1], "g", 1), 1);
    reap_ok(atomic_load(&f.child));
    tu_trap_release(t2);
    /* The parent's thread wakes up: for that wake-up, and for later ones. */
    assert_true(tu_wait_atomic(&l.loops, loops + 1));
    loops = atomic_load(&l.loops);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_true(tu_wait_atomic(&l.loops, loops + 1));
    tu_loop_stop(&l);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    close(f.go[0]);
    close(f.go[1]);
    tu_destroy(tp);
}

/*
 * A child that closes the descriptors it inherited and opens its own
 * before calling tpoll_after_fork: the new files land on the numbers the
 * parent's pollers and wake fds had, and tpoll must leave them alone.
 */
static int is_dev_null(int fd)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 &&
           a.st_rdev == b.st_rdev && S_ISCHR(a.st_mode);
}

static int child_reopens_then_after_fork(struct tpoll *tp, int keep)
{
    int reopened[64], n = 0, fd, i;

    /* Close every inherited descriptor but stdio and the report pipe, and
     * fill the lowest numbers again with /dev/null. */
    for (fd = 3; fd < 256; fd++)
        if (fd != keep)
            close(fd);
    while (n < 64) {
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fd >= 256)
            break;
        reopened[n++] = fd;
    }
    if (tpoll_after_fork(tp) != 0)
        return CHILD_AFTER_FORK;
    for (i = 0; i < n; i++)
        if (!is_dev_null(reopened[i]))
            return CHILD_FD_LOST;
    return CHILD_OK;
}

static void test_after_fork_leaves_childs_own_fds(void **state)
{
    struct tpoll *tp = tu_create(3, 0);
    struct tu_loop l1, l2;
    pid_t pid;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_loop_start(&l1, tp, 1);
    tu_loop_start(&l2, tp, 2);
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_reopens_then_after_fork(tp, -1));
    reap_ok(pid);
    tu_loop_stop(&l1);
    tu_loop_stop(&l2);
    assert_int_equal(tpoll_thread_stop(tp), 0);
    tu_destroy(tp);
}

/*
 * Fork while a delete waits for a callback running on another thread:
 * the child does not release (the parent does, once), and its instance
 * works.
 */
static atomic_int releases;

static void count_release(struct tpoll *tp, int fd, void *owner)
{
    (void)tp, (void)fd, (void)owner;
    atomic_fetch_add(&releases, 1);
}

static void test_fork_while_release_pending(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_trap *t;
    struct tu_loop l;
    uint64_t end;
    int sv[2];
    pid_t pid;

    (void)state;
    atomic_store(&releases, 0);
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 2), 0);
    t = tu_trap_arm(TP_HOOK_DISPATCH_CHECKED, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_trap_wait(t));
    assert_int_equal(tpoll_fd_delete_async(tp, sv[0], count_release), 0);
    assert_int_equal(atomic_load(&releases), 0);
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (tpoll_after_fork(tp) != 0)
            _exit(CHILD_AFTER_FORK);
        if (atomic_load(&releases) != 0)
            _exit(CHILD_USE);
        _exit(child_use(tp, 0));
    }
    reap_ok(pid);
    tu_trap_release(t);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&releases) == 0 && tu_now_ms() < end)
        sched_yield();
    assert_int_equal(atomic_load(&releases), 1);
    tu_loop_stop(&l);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * A release that forks and calls tpoll_after_fork while it runs inside
 * tpoll_fd_delete_async, outside any wait: no dispatch ends there, and
 * the child's fresh poller must still be made before its next wait (it
 * used to sleep in the poller it shares with the parent, and not see its
 * own ready fd).
 */
static pid_t release_child = -1;

static void forking_release(struct tpoll *tp, int fd, void *owner)
{
    (void)fd, (void)owner;
    release_child = tu_fork();
    if (release_child == 0 && tpoll_after_fork(tp) != 0)
        _exit(CHILD_AFTER_FORK);
}

static void test_fork_from_a_release_outside_wait(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    int sv[2];

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_noop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_fd_delete_async(tp, sv[0], forking_release), 0);
    assert_true(release_child >= 0);
    if (release_child == 0) {
        /* The child's thread 0 polls a ready fd of its own at once. */
        struct tu_rec r = {0};
        int q[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, q) != 0 ||
            tpoll_fd_insert(tp, q[0], tu_rec_cb, &r, 1) != 0 ||
            tpoll_want_recv(tp, q[0]) != 0 || write(q[1], "x", 1) != 1)
            _exit(CHILD_USE);
        _exit(tpoll_wait(tp, TU_DEADLINE_MS) == 1 && r.calls == 1
                  ? CHILD_OK
                  : CHILD_DEADLINE);
    }
    reap_ok(release_child);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

static int setup(void **state)
{
    (void)state;
    tu_hook_observe(NULL);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_while_start_claimed),
        cmocka_unit_test(test_fork_while_start_built),
        cmocka_unit_test(test_fork_while_stopping),
        cmocka_unit_test(test_fork_while_pass_holds_lock),
        cmocka_unit_test(test_fork_while_deleting),
        cmocka_unit_test(test_fork_while_deleting_in_group_lock_held),
        cmocka_unit_test(test_fork_while_deleting_in_group_half_written),
        cmocka_unit_test(test_fork_while_start_makes_call_rings),
        cmocka_unit_test(test_fork_in_callback_keeps_parents_wakeup),
        cmocka_unit_test(test_after_fork_leaves_childs_own_fds),
        cmocka_unit_test(test_fork_while_release_pending),
        cmocka_unit_test(test_fork_from_a_release_outside_wait),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, setup, NULL);
}
