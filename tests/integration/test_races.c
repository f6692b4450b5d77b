/* SPDX-License-Identifier: MIT */
/*
 * Races between threads, each forced at a named point of the core
 * (core/hooks.h) instead of hoped for: delete against a scan backend's
 * rebuild, a registration error against the fd number's next user,
 * thread stop against delete, migration against a callback that passed
 * its checks, a migrated fd's registration error against the callback
 * still running on the thread it left.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "park.h"
#include "testutil.h"

static int is_scan_backend(const struct tpoll *tp)
{
    const char *b = tpoll_backend_name(tp);

    return strcmp(b, "poll") == 0 || strcmp(b, "select") == 0;
}

/* Hook counts per point (any argument), for "this point was passed". */
static atomic_ulong passed[TP_HOOK_COUNT];

static void count_hook(enum tp__hook_point point, long arg)
{
    (void)arg;
    atomic_fetch_add(&passed[point], 1);
}

/* A callback that counts calls and the events seen, from any thread. */
struct seen {
    atomic_int calls;
    atomic_uint events;
};

static void seen_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct seen *s = owner;

    (void)tp;
    tu_drain(fd);
    atomic_fetch_or(&s->events, events);
    atomic_fetch_add(&s->calls, 1);
}

static int seen_called(struct seen *s, int n)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;
    struct timespec pause = {0, 200000};

    while (atomic_load(&s->calls) < n) {
        if (tu_now_ms() > end)
            return 0;
        nanosleep(&pause, NULL);
    }
    return 1;
}

/* The loops a thread makes in `ms` while nothing is ready: an idle
 * thread makes none beyond the wake-ups it was sent. */
static unsigned long loops_in(struct tu_loop *l, int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    unsigned long before = atomic_load(&l->loops);

    nanosleep(&t, NULL);
    return atomic_load(&l->loops) - before;
}

struct deleter {
    struct tpoll *tp;
    int fd;
    pthread_t thread;
    int result;
};

static void *delete_main(void *arg)
{
    struct deleter *d = arg;

    d->result = tpoll_fd_delete(d->tp, d->fd);
    return NULL;
}

static void delete_in_thread(struct deleter *d, struct tpoll *tp, int fd)
{
    d->tp = tp;
    d->fd = fd;
    assert_int_equal(pthread_create(&d->thread, NULL, delete_main, d), 0);
}

/*
 * A scan backend (poll, select) rebuilds its poll set from the polled
 * bits when a flag says they changed. A delete that raised the flag
 * before clearing the bits let a rebuild in between keep the fd and
 * consume the flag: after the documented close, the thread polled a
 * closed number forever (POLLNVAL / EBADF at once, every time). Here
 * the rebuild is made to happen exactly there.
 */
static void test_delete_against_scan_rebuild(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct seen s = {0};
    struct deleter d;
    struct tu_trap *t;
    struct tu_loop l;
    unsigned long rebuilt;
    int sv[2];

    (void)state;
    tu_hook_observe(count_hook);
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], seen_cb, &s, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(seen_called(&s, 1));
    t = tu_trap_arm(TP_HOOK_DELETE_UNREGISTERED, sv[0]);
    delete_in_thread(&d, tp, sv[0]);
    assert_true(tu_trap_wait(t));
    rebuilt = atomic_load(&passed[TP_HOOK_SCAN_REBUILD]);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    if (is_scan_backend(tp))
        assert_true(tu_wait_atomic(&passed[TP_HOOK_SCAN_REBUILD], rebuilt + 1));
    tu_trap_release(t);
    assert_int_equal(pthread_join(d.thread, NULL), 0);
    assert_int_equal(d.result, 0);
    close(sv[0]);
    /* Kick the thread once; then it must stay asleep. */
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_true(loops_in(&l, 100) <= 3);
    tu_loop_stop(&l);
    close(sv[1]);
    tu_hook_observe(NULL);
    tu_destroy(tp);
}

/*
 * A registration failure is reported by the failing thread's next wait.
 * If the fd was deleted and its number reused in between, the error
 * belongs to the old user: it must not reach the new one.
 */
static void test_registration_error_stays_with_its_fd(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct seen old = {0}, fresh = {0};
    struct tu_trap *in_pass, *polled;
    struct tu_loop l;
    unsigned long loops;
    int num, sv[2];

    (void)state;
    num = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(num >= 0);
    tu_loop_start(&l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, num, seen_cb, &old, 1), 0);
    in_pass = tu_trap_arm(TP_HOOK_PASS_LOCKED, num);
    assert_int_equal(tpoll_want_recv(tp, num), 0);
    assert_true(tu_trap_wait(in_pass));
    /* The registration comes next; then the thread polls and parks. */
    polled = tu_trap_arm(TP_HOOK_POLLED, 0);
    tu_trap_release(in_pass);
    assert_true(tu_trap_wait(polled));
    assert_int_equal(tpoll_fd_delete(tp, num), 0);
    tu_socketpair(sv);
    assert_int_equal(dup2(sv[0], num), num);
    close(sv[0]);
    assert_int_equal(tpoll_fd_insert(tp, num, seen_cb, &fresh, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, num), 0);
    loops = atomic_load(&l.loops);
    tu_trap_release(polled);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_true(tu_wait_atomic(&l.loops, loops + 2));
    assert_int_equal(atomic_load(&fresh.calls), 0);
    assert_int_equal(atomic_load(&old.calls), 0);
    tu_loop_stop(&l);
    assert_int_equal(tpoll_fd_delete(tp, num), 0);
    close(num);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * tpoll_thread_stop against a delete that uses the stopping thread's
 * poller: the delete removes the fd from that poller, then clears the
 * polled bits; a stop that read them without ordering could free the
 * poller while the delete's use of it was not ordered before the free.
 * The delete is parked with relaxed atomics only, so that a thread
 * sanitizer sees no ordering but the core's own (this race shows under
 * TSan; elsewhere the test checks that both calls complete).
 */
struct stopper {
    struct tpoll *tp;
    struct seen *s;
    int fd;
    pthread_t thread;
    atomic_int started, stop;
    int stop_err;
};

static void *stopper_main(void *arg)
{
    struct stopper *st = arg;

    assert_int_equal(tpoll_thread_start(st->tp, 0), 0);
    assert_int_equal(tpoll_want_recv(st->tp, st->fd), 0);
    while (atomic_load(&st->s->calls) == 0)
        tpoll_wait(st->tp, 100);
    /* One more pass: event ports re-associate the fd consumed by the
     * event, leaving it queued for no update (the stop below must find
     * nothing of it to take its lock for, while the delete holds it). */
    tpoll_wait(st->tp, 0);
    atomic_store(&st->started, 1);
    while (!atomic_load(&st->stop))
        sched_yield();
    st->stop_err = tpoll_thread_stop(st->tp);
    return NULL;
}

static void test_stop_against_delete(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct stopper st = {0};
    struct seen s = {0};
    struct deleter d;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], seen_cb, &s, 1), 0);
    tu_write_byte(sv[1]);
    st.tp = tp;
    st.s = &s;
    st.fd = sv[0];
    assert_int_equal(pthread_create(&st.thread, NULL, stopper_main, &st), 0);
    while (!atomic_load(&st.started))
        sched_yield();
    tu_relaxed_trap_arm(TP_HOOK_DELETE_DONE, sv[0]);
    delete_in_thread(&d, tp, sv[0]);
    assert_true(tu_relaxed_trap_wait());
    atomic_store(&st.stop, 1);
    assert_int_equal(pthread_join(st.thread, NULL), 0);
    assert_int_equal(st.stop_err, 0);
    tu_relaxed_trap_release();
    assert_int_equal(pthread_join(d.thread, NULL), 0);
    assert_int_equal(d.result, 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * tpoll_fd_set_threads: once it returns, no callback for the fd starts on
 * a thread it removed. Thread 0 is parked after the event's checks and
 * before the callback; the migration to thread 1 runs meanwhile. The
 * callback must not start after the migration returned.
 */
struct late {
    atomic_int migrated; /* set_threads returned */
    atomic_int late;     /* a callback started on thread 0 after that */
    atomic_int calls;
    struct tpoll *tp;
};

static void late_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct late *lt = owner;

    (void)events;
    tu_drain(fd);
    if (tpoll_thread_id(tp) == 0 && atomic_load(&lt->migrated))
        atomic_store(&lt->late, 1);
    atomic_fetch_add(&lt->calls, 1);
}

struct migrator {
    struct tpoll *tp;
    int fd;
    struct late *lt;
    pthread_t thread;
    int result;
};

/* Moves m->fd to thread 1, then tells m->lt (if any) it returned. */
static void *migrate_to_1(void *arg)
{
    struct migrator *m = arg;

    m->result = tpoll_fd_set_threads(m->tp, m->fd, TPOLL_THREAD(1));
    if (m->lt != NULL)
        atomic_store(&m->lt->migrated, 1);
    return NULL;
}

static void test_no_callback_starts_on_a_removed_thread(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_trap *checked, *waits;
    struct late lt = {0};
    struct migrator m = {0};
    struct tu_loop l0, l1;
    uint64_t end;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_loop_start(&l0, tp, 0);
    tu_loop_start(&l1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], late_cb, &lt, 1), 0);
    checked = tu_trap_arm(TP_HOOK_DISPATCH_CHECKED, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_trap_wait(checked));
    waits = tu_trap_arm(TP_HOOK_MIGRATE_WAIT, sv[0]);
    m.tp = tp;
    m.fd = sv[0];
    m.lt = &lt;
    assert_int_equal(pthread_create(&m.thread, NULL, migrate_to_1, &m), 0);
    /* Either the migration returns at once, or it waits for thread 0. */
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (!atomic_load(&lt.migrated) && !tu_trap_parked(waits) &&
           tu_now_ms() < end)
        sched_yield();
    tu_trap_release(checked);
    tu_trap_release(waits);
    assert_int_equal(pthread_join(m.thread, NULL), 0);
    assert_true(m.result == 0);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&lt.calls) == 0 && tu_now_ms() < end)
        sched_yield();
    assert_int_equal(atomic_load(&lt.late), 0);
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * A one-thread fd that fails to register is reported TPOLL_ERR once. If
 * it has just been migrated while the thread it left is still inside its
 * callback, the new thread must hold the error back (a one-thread fd's
 * callback never overlaps itself), not drop it: nothing would report it
 * again.
 */
struct per_thread {
    atomic_int calls[3];
    atomic_uint events[3];
};

static void per_thread_cb(struct tpoll *tp, int fd, unsigned events,
                          void *owner)
{
    struct per_thread *p = owner;
    int tid = tpoll_thread_id(tp);

    (void)fd;
    atomic_fetch_or(&p->events[tid], events);
    atomic_fetch_add(&p->calls[tid], 1);
}

static void test_migrated_registration_error_is_not_dropped(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct per_thread p = {0};
    struct tpoll_counters c;
    struct tu_trap *checked;
    struct migrator m = {0};
    struct tu_loop l0, l1;
    uint64_t end;
    int num;

    (void)state;
    if (is_scan_backend(tp)) {
        tu_destroy(tp);
        skip(); /* poll and select register nothing: no error to report */
    }
    num = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(num >= 0);
    tu_loop_start(&l0, tp, 0);
    tu_loop_start(&l1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, num, per_thread_cb, &p, 1), 0);
    checked = tu_trap_arm(TP_HOOK_DISPATCH_CHECKED, num);
    assert_int_equal(tpoll_want_recv(tp, num), 0);
    assert_true(tu_trap_wait(checked));
    /* Thread 0 is inside the error's callback; migrate to thread 1, whose
     * registration fails too, and let thread 1 try to report it. */
    c = tu_counters(tp, 1);
    m.tp = tp;
    m.fd = num;
    assert_int_equal(pthread_create(&m.thread, NULL, migrate_to_1, &m), 0);
    /* Until thread 1's update pass has taken the migration in (its
     * registration fails, and the error waits for thread 0's callback). */
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (tu_counters(tp, 1).updates == c.updates && tu_now_ms() < end)
        sched_yield();
    assert_true(tu_counters(tp, 1).updates > c.updates);
    tu_trap_release(checked);
    assert_int_equal(pthread_join(m.thread, NULL), 0);
    assert_int_equal(m.result, 0);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&p.calls[1]) == 0 && tu_now_ms() < end)
        sched_yield();
    /* Thread 1 reported what thread 0 did: a registration error where
     * the backend refuses the file (epoll, kqueue), or whatever event
     * ports report for it at each poll. */
    assert_true(atomic_load(&p.calls[1]) >= 1);
    if (atomic_load(&p.events[0]) & TPOLL_ERR)
        assert_true(atomic_load(&p.events[1]) & TPOLL_ERR);
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    assert_int_equal(tpoll_fd_delete(tp, num), 0);
    close(num);
    tu_destroy(tp);
}

/*
 * A one-thread fd migrated while the thread it left is still inside its
 * callback: the new thread holds its event back (the callback never
 * overlaps itself). It must not spin meanwhile (the fd stays ready, and a
 * poll watching it returns at once), and must get the event once the old
 * callback returned.
 */
static void test_held_event_does_not_spin(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct per_thread p = {0};
    struct tu_trap *checked;
    struct migrator m = {0};
    struct tu_loop l0, l1;
    unsigned long loops;
    uint64_t end;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_loop_start(&l0, tp, 0);
    tu_loop_start(&l1, tp, 1);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], per_thread_cb, &p, 1), 0);
    checked = tu_trap_arm(TP_HOOK_DISPATCH_CHECKED, sv[0]);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_true(tu_trap_wait(checked));
    /* Thread 0 is inside the callback (parked); move the fd to thread 1,
     * which finds it ready and must hold the event back without looping.
     * The migration itself waits for thread 0: in a thread of its own. */
    m.tp = tp;
    m.fd = sv[0];
    loops = atomic_load(&l1.loops);
    assert_int_equal(pthread_create(&m.thread, NULL, migrate_to_1, &m), 0);
    /* Thread 1 took the fd over and met the held event. */
    assert_true(tu_wait_atomic(&l1.loops, loops + 2));
    assert_true(loops_in(&l1, 100) <= 3);
    tu_trap_release(checked);
    assert_int_equal(pthread_join(m.thread, NULL), 0);
    assert_int_equal(m.result, 0);
    /* Thread 0's callback drained nothing: the byte is still there for
     * thread 1, once thread 0 left. */
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&p.calls[1]) == 0 && tu_now_ms() < end)
        sched_yield();
    assert_int_equal(atomic_load(&p.calls[0]), 1);
    assert_true(atomic_load(&p.calls[1]) >= 1);
    assert_true(atomic_load(&p.events[1]) & TPOLL_RECV);
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * The held event's thread (1) checks the fd again in its pass when the
 * thread it waited for (0) left, and finds inside another thread (2) that
 * left the mask too and is dropping an event its poller still had: that
 * one must re-mark the fd when it leaves, or thread 1 never watches the
 * fd again. Before, only the threads inside at the hold were asked, and
 * the fd stayed silent for good (found by the thread-group tests, under
 * TSan, as a migration whose fd went quiet).
 */
static void test_held_event_meets_a_late_dropper(void **state)
{
    struct tpoll *tp = tu_create(3, 0);
    struct tu_trap *polled, *checked, *dropping, *moved;
    struct per_thread p = {0};
    struct migrator m = {0};
    struct tu_loop l0, l1, l2;
    uint64_t end;
    int sv[2], calls;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], per_thread_cb, &p, 7), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]); /* never read: ready at every poll */
    /* Thread 2 fetches the fd's event and stops before dispatching it. */
    polled = tu_trap_arm(TP_HOOK_POLLED, 2);
    tu_loop_start(&l2, tp, 2);
    assert_true(tu_trap_wait(polled));
    /* Thread 0 enters the callback and stops there (running bit set). */
    checked = tu_trap_arm(TP_HOOK_DISPATCH_CHECKED, sv[0]);
    tu_loop_start(&l0, tp, 0);
    assert_true(tu_trap_wait(checked));
    /* Move the fd to thread 1 alone. The move waits for thread 0: in a
     * thread of its own, stopped right after the mask changed. Thread 1
     * starts then: it registers the fd, finds thread 0 inside, holds the
     * event back and stops watching the fd (any wait of it returns with
     * the fd until then: two more waits make sure). */
    m.tp = tp;
    m.fd = sv[0];
    moved = tu_trap_arm(TP_HOOK_MIGRATE_WAIT, sv[0]);
    assert_int_equal(pthread_create(&m.thread, NULL, migrate_to_1, &m), 0);
    assert_true(tu_trap_wait(moved));
    tu_loop_start(&l1, tp, 1);
    tu_loop_round_trip(&l1);
    assert_int_equal(atomic_load(&p.calls[1]), 0);
    tu_trap_release(moved);
    /* Thread 2 dispatches the event it fetched before the move: it has
     * left the mask, and stops with its running bit set, dropping it. */
    dropping = tu_trap_arm(TP_HOOK_EVENT_DROPPING, sv[0]);
    tu_trap_release(polled);
    assert_true(tu_trap_wait(dropping));
    /* Thread 0 leaves the callback and re-marks the fd for thread 1,
     * whose pass finds thread 2 inside: still held. */
    tu_trap_release(checked);
    assert_int_equal(pthread_join(m.thread, NULL), 0);
    assert_int_equal(m.result, 0);
    tu_loop_round_trip(&l1);
    calls = atomic_load(&p.calls[1]);
    /* Thread 2 leaves: thread 1 watches the fd again and is told. */
    tu_trap_release(dropping);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&p.calls[1]) == calls && tu_now_ms() < end)
        sched_yield();
    assert_true(atomic_load(&p.calls[1]) > calls);
    assert_int_equal(tpoll_fd_delete_wait(tp, sv[0]), 0);
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    tu_loop_stop(&l2);
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

/* Counts calls and leaves the data: the fd stays readable. */
static void count_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)fd, (void)events;
    atomic_fetch_add(&((struct seen *)owner)->calls, 1);
}

/*
 * An interest change from another thread while the owner has fetched the
 * fd's event and not yet dispatched it (io_uring arms the fired request
 * again after the callback, reading the interest then): a stop silences
 * the fd for good, a stop and a want keep it reported, level-triggered.
 */
static void test_interest_change_between_poll_and_dispatch(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct seen s = {0};
    struct tu_trap *polled;
    struct tu_loop l;
    unsigned long loops;
    int sv[2], calls;

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    tu_loop_start(&l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], count_cb, &s, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_true(seen_called(&s, 2));
    polled = tu_trap_arm(TP_HOOK_POLLED, 0);
    assert_true(tu_trap_wait(polled));
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    calls = atomic_load(&s.calls);
    loops = atomic_load(&l.loops);
    tu_trap_release(polled);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_true(tu_wait_atomic(&l.loops, loops + 2));
    loops = atomic_load(&l.loops);
    assert_int_equal(tpoll_wake(tp, 0), 0);
    assert_true(tu_wait_atomic(&l.loops, loops + 1));
    assert_int_equal(atomic_load(&s.calls), calls);

    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_true(seen_called(&s, calls + 2));
    polled = tu_trap_arm(TP_HOOK_POLLED, 0);
    assert_true(tu_trap_wait(polled));
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    calls = atomic_load(&s.calls);
    tu_trap_release(polled);
    assert_true(seen_called(&s, calls + 3));
    tu_loop_stop(&l);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_against_scan_rebuild),
        cmocka_unit_test(test_registration_error_stays_with_its_fd),
        cmocka_unit_test(test_stop_against_delete),
        cmocka_unit_test(test_no_callback_starts_on_a_removed_thread),
        cmocka_unit_test(test_migrated_registration_error_is_not_dropped),
        cmocka_unit_test(test_held_event_does_not_spin),
        cmocka_unit_test(test_held_event_meets_a_late_dropper),
        cmocka_unit_test(test_interest_change_between_poll_and_dispatch),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, setup, NULL);
}
