/* SPDX-License-Identifier: MIT */
/*
 * Thread groups: more thread ids than a mask has bits. Each behavioural
 * test runs twice, on a pool of 4 groups and on one of 16 groups of
 * TPOLL_MAX_THREADS ids (256 and 1024 threads on LP64), every thread
 * bound with its own poller: events reach only threads of the fd's group
 * named by its mask (the same bit busy in every group), set_threads
 * moves an fd within its group under traffic, a thread of another group
 * (the one with the victim's bit, where it can be) deletes an fd whose
 * callback is running (delete, delete_async, close, delete_wait), the
 * number goes into another group at once while the old callback still
 * runs, and back into the old group for the thread still running it;
 * interest changes and tpoll_fd_ready come from another group; the
 * per-thread calls (tpoll_call, timers, signals, wake, counters) reach
 * ids beyond the first group. Then, on small instances: bad input around
 * a partial last group (100 ids), its threads at work, the largest
 * thread id, a thread started after its group's fds were inserted, a
 * destroy with fds left in groups, tpoll_fd_group and
 * tpoll_fd_visit_group, fork with a bound thread of a group above 0 (or
 * from an unbound thread, the child binding an id of such a group).
 *
 * Sizes: a pool costs per started thread its poller's fds (2 on epoll, 3
 * with the kqueue emulation) and 2 per routed fd; 1024 threads need about
 * 5500 fds, within the 20000 of the CI machines (the soft limit is raised
 * for the pool when lower, and restored by its teardown). select watches
 * only numbers below FD_SETSIZE (1024), its wake fds included: there the
 * 4-group pool is whole, and the 16-group one starts 40 thread ids of 64
 * per group (640 threads, every group still has ids above 32) and routes
 * one fd per 8 threads (pool_size()). Loop threads run on TU_SMALL_STACK
 * stacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* Shared fds routed per group: all its loop threads (exclusive), its
 * first and last, every other one (edge-triggered). */
#define SHARED_PER_GROUP 3
/* fd numbers select keeps for the tests' own pairs and the runner. */
#define SELECT_RESERVE 96

/* The mask of the first n threads of a group. */
static tpoll_mask_t first_bits(int n)
{
    return n >= TPOLL_MAX_THREADS ? ~(tpoll_mask_t)0 : (TPOLL_THREAD(n) - 1);
}

/*
 * A pool: `groups` groups, thread ids TPOLL_TID(g, 0..per_group-1) bound,
 * each by a loop thread except main_tid (the last started id of the last
 * group), which the test's main thread holds: a thread of its own group
 * that can call what callbacks may not (tpoll_fd_delete_wait).
 */
struct pool {
    struct tpoll *tp;
    int groups, per_group, stride;
    int main_tid;
    int nloops;
    struct tu_loop *loops;
    struct tu_loop **by_tid;
    struct tpoll_timer *timers; /* one per group, alive until teardown */
    struct rlimit saved;
    int limit_changed;
};

static int is_select(void)
{
    return strcmp(tu_backend(), "select") == 0;
}

/*
 * Started ids per group and routing stride: everything on select must
 * stay below FD_SETSIZE: per group, one wake fd per thread and a pair
 * per routed fd.
 */
static void pool_size(struct pool *p)
{
    int budget = FD_SETSIZE - SELECT_RESERVE, cost;

    p->per_group = TPOLL_MAX_THREADS;
    p->stride = 1;
    if (!is_select())
        return;
    for (;;) {
        cost = p->per_group + 2 * ((p->per_group + p->stride - 1) / p->stride +
                                   SHARED_PER_GROUP);
        if (p->groups * cost <= budget)
            return;
        if (p->stride < 8)
            p->stride *= 2;
        else
            p->per_group -= 4;
    }
}

/* fds the pool and its routing test need at most, with room to spare. */
static rlim_t pool_fds(const struct pool *p)
{
    int threads = p->groups * p->per_group;

    return (rlim_t)(3 * threads + 2 * (threads + SHARED_PER_GROUP * p->groups) +
                    256);
}

static int raise_fd_limit(struct pool *p)
{
    struct rlimit rl;
    rlim_t need = pool_fds(p);

    if (getrlimit(RLIMIT_NOFILE, &p->saved) != 0)
        return -1;
    if (p->saved.rlim_cur != RLIM_INFINITY && p->saved.rlim_cur < need) {
        if (p->saved.rlim_max != RLIM_INFINITY && p->saved.rlim_max < need) {
            print_message("the pool needs %lu fds, the hard limit is %lu\n",
                          (unsigned long)need,
                          (unsigned long)p->saved.rlim_max);
            return -1;
        }
        rl = p->saved;
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -1;
        p->limit_changed = 1;
    }
    return 0;
}

static int table_size(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > INT_MAX)
        return 0;
    return (int)rl.rlim_cur;
}

static int pool_setup(void **state, int groups)
{
    struct pool *p = calloc(1, sizeof(*p));
    int *tids, g, n, i = 0;

    if (p == NULL)
        return -1;
    *state = p;
    p->groups = groups;
    pool_size(p);
    if (raise_fd_limit(p) != 0)
        return -1;
    /* Every fd number is below the soft limit: a table per group of that
     * size, not of the hard limit (address space per group). */
    p->tp = tu_create(groups * TPOLL_MAX_THREADS, table_size());
    p->main_tid = TPOLL_TID(groups - 1, p->per_group - 1);
    p->nloops = groups * p->per_group - 1;
    p->loops = calloc((size_t)p->nloops, sizeof(*p->loops));
    p->by_tid =
        calloc((size_t)(groups * TPOLL_MAX_THREADS), sizeof(*p->by_tid));
    p->timers = calloc((size_t)groups, sizeof(*p->timers));
    tids = calloc((size_t)p->nloops, sizeof(*tids));
    if (!p->loops || !p->by_tid || !p->timers || !tids)
        return -1;
    for (g = 0; g < groups; g++)
        for (n = 0; n < p->per_group; n++)
            if (TPOLL_TID(g, n) != p->main_tid) {
                p->by_tid[TPOLL_TID(g, n)] = &p->loops[i];
                tids[i++] = TPOLL_TID(g, n);
            }
    print_message("%d groups x %d threads, one routed fd per %d\n", groups,
                  p->per_group, p->stride);
    tu_loops_start(p->loops, p->nloops, p->tp, tids);
    free(tids);
    return tpoll_thread_start(p->tp, p->main_tid);
}

static int pool_teardown(void **state)
{
    struct pool *p = *state;
    int err = 0;

    if (p == NULL)
        return 0;
    if (p->tp) {
        tpoll_thread_stop(p->tp);
        if (p->loops)
            tu_loops_stop(p->loops, p->nloops);
        err = tpoll_destroy(p->tp);
    }
    if (p->limit_changed && setrlimit(RLIMIT_NOFILE, &p->saved) != 0)
        err = -1;
    free(p->loops);
    free(p->by_tid);
    free(p->timers);
    free(p);
    return err;
}

static int pool4_setup(void **state)
{
    return pool_setup(state, 4);
}

static int pool16_setup(void **state)
{
    return pool_setup(state, 16);
}

/* Thread ids of group g run by loop threads, as a mask of the group. */
static tpoll_mask_t loop_mask(const struct pool *p, int g)
{
    tpoll_mask_t m = first_bits(p->per_group);

    if (g == TPOLL_GROUP(p->main_tid))
        m &= ~TPOLL_THREAD(p->main_tid);
    return m;
}

/* Its highest bit (the last loop thread of the group). */
static int last_loop_bit(const struct pool *p, int g)
{
    int n = p->per_group - 1;

    while (!(loop_mask(p, g) & TPOLL_THREAD(n)))
        n--;
    return n;
}

/*
 * Per-insert record, the owner of one fd: the callback checks that it
 * runs on a thread of `group` named in `allowed`, for its own fd.
 */
struct grec {
    int fd;
    int group;
    atomic_int drain;
    atomic_uint events; /* union of all the events seen */
    atomic_ulong allowed;
    atomic_int bad;
    atomic_int last_tid;
    atomic_ulong calls;
};

static void grec_init(struct grec *r, int fd, int group, tpoll_mask_t allowed)
{
    r->fd = fd;
    r->group = group;
    atomic_init(&r->drain, 1);
    atomic_init(&r->events, 0);
    atomic_init(&r->allowed, allowed);
    atomic_init(&r->bad, 0);
    atomic_init(&r->last_tid, -1);
    atomic_init(&r->calls, 0);
}

static int wrong_thread(int tid, int group, tpoll_mask_t allowed)
{
    return tid < 0 || TPOLL_GROUP(tid) != group ||
           !(allowed & TPOLL_THREAD(tid));
}

static void grec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct grec *r = owner;
    int tid = tpoll_thread_id(tp);

    if (fd != r->fd || wrong_thread(tid, r->group, atomic_load(&r->allowed)))
        atomic_fetch_add(&r->bad, 1);
    atomic_store(&r->last_tid, tid);
    atomic_fetch_or(&r->events, events);
    if (atomic_load(&r->drain) && (events & TPOLL_RECV))
        tu_drain(fd);
    if (events & TPOLL_SEND)
        tpoll_stop_send(tp, fd);
    atomic_fetch_add(&r->calls, 1);
}

/* One routed fd: its pair and its record. */
struct gfd {
    int sv[2];
    tpoll_mask_t mask;
    struct grec r;
};

/* Inserts r's fd with recv interest, in r's group and mask. */
static void insert_rec(struct tpoll *tp, struct grec *r, unsigned flags)
{
    assert_int_equal(tpoll_fd_insert_group(tp, r->fd, grec_cb, r, r->group,
                                           atomic_load(&r->allowed), flags),
                     0);
    assert_int_equal(tpoll_fd_group(tp, r->fd), r->group);
    assert_int_equal(tpoll_want_recv(tp, r->fd), 0);
}

static void gfd_insert(struct tpoll *tp, struct gfd *f, int group,
                       tpoll_mask_t mask, unsigned flags)
{
    tu_socketpair(f->sv);
    f->mask = mask;
    grec_init(&f->r, f->sv[0], group, mask);
    insert_rec(tp, &f->r, flags);
}

static void gfd_remove(struct tpoll *tp, struct gfd *f)
{
    assert_int_equal(tpoll_fd_delete_wait(tp, f->sv[0]), 0);
    close(f->sv[0]);
    close(f->sv[1]);
}

/* Every other bit of m. */
static tpoll_mask_t alternate_bits(tpoll_mask_t m)
{
    tpoll_mask_t out = 0;
    int n, keep = 1;

    for (n = 0; n < TPOLL_MAX_THREADS; n++)
        if (m & TPOLL_THREAD(n)) {
            if (keep)
                out |= TPOLL_THREAD(n);
            keep = !keep;
        }
    return out;
}

/*
 * Routing: per group, one fd per `stride` loop threads with that thread
 * alone in its mask, and the shared fds. The same bit of every group is
 * in use at once, so an fd routed by its bit alone, whatever its group,
 * runs on a wrong thread. Each round writes a byte to every fd and waits
 * for every callback.
 */
static void test_route_by_group_and_mask(void **state)
{
    struct pool *p = *state;
    struct tpoll *tp = p->tp;
    int max = p->groups * (TPOLL_MAX_THREADS + SHARED_PER_GROUP);
    struct gfd *f = calloc((size_t)max, sizeof(*f));
    int g, n, i, nf = 0, round;

    assert_non_null(f);
    for (g = 0; g < p->groups; g++) {
        tpoll_mask_t lm = loop_mask(p, g);

        for (n = 0; n < p->per_group; n += p->stride)
            if (lm & TPOLL_THREAD(n))
                gfd_insert(tp, &f[nf++], g, TPOLL_THREAD(n), 0);
        gfd_insert(tp, &f[nf++], g, lm, TPOLL_FD_EXCLUSIVE);
        gfd_insert(tp, &f[nf++], g,
                   TPOLL_THREAD(0) | TPOLL_THREAD(last_loop_bit(p, g)), 0);
        gfd_insert(tp, &f[nf++], g, alternate_bits(lm), TPOLL_FD_EDGE);
    }
    for (round = 1; round <= 3; round++) {
        for (i = 0; i < nf; i++)
            tu_write_byte(f[i].sv[1]);
        for (i = 0; i < nf; i++)
            assert_true(tu_wait_atomic(&f[i].r.calls, (unsigned long)round));
    }
    for (i = 0; i < nf; i++) {
        int tid = atomic_load(&f[i].r.last_tid);

        assert_int_equal(atomic_load(&f[i].r.bad), 0);
        assert_int_equal(TPOLL_GROUP(tid), f[i].r.group);
        assert_true(f[i].mask & TPOLL_THREAD(tid));
        gfd_remove(tp, &f[i]);
    }
    free(f);
}

/*
 * Migration inside a group while traffic flows: the fd stays readable
 * (its callback never reads), so it runs again and again while the mask
 * walks over the group. A callback on a thread that left the mask after
 * set_threads returned, or on a thread of another group, is wrong.
 */
static void test_set_threads_within_group(void **state)
{
    struct pool *p = *state;
    struct tpoll *tp = p->tp;
    int g = 1, a = 0, z = last_loop_bit(p, 1), mid = z / 2, i;
    tpoll_mask_t path[] = {
        TPOLL_THREAD(z),
        TPOLL_THREAD(a) | TPOLL_THREAD(mid),
        loop_mask(p, g),
        TPOLL_THREAD(mid),
        TPOLL_THREAD(a),
        TPOLL_THREAD(z) | TPOLL_THREAD(a),
        alternate_bits(loop_mask(p, g)),
        TPOLL_THREAD(z),
    };
    tpoll_mask_t cur = TPOLL_THREAD(a);
    struct gfd f;

    gfd_insert(tp, &f, g, cur, 0);
    atomic_store(&f.r.drain, 0);
    tu_write_byte(f.sv[1]);
    assert_true(tu_wait_atomic(&f.r.calls, 3));
    for (i = 0; i < (int)(sizeof(path) / sizeof(path[0])); i++) {
        unsigned long seen;

        atomic_store(&f.r.allowed, cur | path[i]);
        assert_int_equal(tpoll_fd_set_threads(tp, f.sv[0], path[i]), 0);
        atomic_store(&f.r.allowed, path[i]);
        cur = path[i];
        seen = atomic_load(&f.r.calls);
        assert_true(tu_wait_atomic(&f.r.calls, seen + 3));
        assert_int_equal(atomic_load(&f.r.bad), 0);
        assert_true(cur & TPOLL_THREAD(atomic_load(&f.r.last_tid)));
        assert_int_equal(tpoll_fd_group(tp, f.sv[0]), g);
    }
    gfd_remove(tp, &f);
    assert_int_equal(atomic_load(&f.r.bad), 0);
}

/*
 * A victim fd whose first callback blocks on its thread until the test
 * lets it go; it never reads, so the fd stays readable.
 */
struct victim {
    struct pool *pool;
    struct tpoll *tp;
    struct grec r;
    int sv[2];
    int tid;
    atomic_ulong returned; /* callbacks that returned */
    atomic_int running;
    struct tu_event entered, go;
    /* the release of a delete_async */
    atomic_int released, release_tid, release_saw_running;
    atomic_ulong release_saw_returned;
    atomic_int release_saw_closed;
    struct tu_event release_ev;
};

static void victim_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct victim *v = owner;

    atomic_fetch_add(&v->running, 1);
    grec_cb(tp, fd, events, &v->r);
    if (atomic_load(&v->r.calls) == 1) {
        tu_event_post(&v->entered);
        tu_event_wait(&v->go, 1);
    }
    atomic_fetch_sub(&v->running, 1);
    atomic_fetch_add(&v->returned, 1);
}

static void victim_release(struct tpoll *tp, int fd, void *owner)
{
    struct victim *v = owner;

    (void)fd;
    atomic_store(&v->release_tid, tpoll_thread_id(tp));
    atomic_store(&v->release_saw_running, atomic_load(&v->running));
    atomic_store(&v->release_saw_returned, atomic_load(&v->returned));
    atomic_store(&v->release_saw_closed,
                 fcntl(fd, F_GETFD) == -1 && errno == EBADF);
    atomic_fetch_add(&v->released, 1);
    tu_event_post(&v->release_ev);
}

/* Victim on the last loop thread of group 1, running its callback. */
static void victim_start(struct pool *p, struct victim *v)
{
    int bit = last_loop_bit(p, 1);

    memset(v, 0, sizeof(*v));
    tu_event_init(&v->entered);
    tu_event_init(&v->go);
    tu_event_init(&v->release_ev);
    tu_socketpair(v->sv);
    v->pool = p;
    v->tp = p->tp;
    v->tid = TPOLL_TID(1, bit);
    grec_init(&v->r, v->sv[0], 1, TPOLL_THREAD(bit));
    atomic_store(&v->r.drain, 0);
    tu_write_byte(v->sv[1]);
    assert_int_equal(tpoll_fd_insert_group(p->tp, v->sv[0], victim_cb, v, 1,
                                           TPOLL_THREAD(bit), 0),
                     0);
    assert_int_equal(tpoll_want_recv(p->tp, v->sv[0]), 0);
    assert_true(tu_event_wait(&v->entered, 1));
    assert_int_equal(atomic_load(&v->r.last_tid), v->tid);
}

/*
 * The deleted fd is still readable: a thread that kept it in its poll
 * set would loop. Looping is only seen over time: 50 ms in which the
 * victim's thread, with nothing to do, may end at most the wait it was
 * in and one more.
 */
static void assert_idle(struct tu_loop *l)
{
    struct timespec window = {0, 50000000};
    unsigned long before;

    tu_loop_round_trip(l);
    before = atomic_load(&l->loops);
    nanosleep(&window, NULL);
    assert_in_range(atomic_load(&l->loops), before, before + 2);
}

/* Lets the blocked callback return, and checks that no callback of the
 * victim started after that (two round trips of its thread), and that
 * its thread sleeps. */
static void victim_finish(struct pool *p, struct victim *v)
{
    tu_event_post(&v->go);
    assert_true(tu_wait_atomic(&v->returned, 1));
    assert_idle(p->by_tid[v->tid]);
    assert_int_equal(atomic_load(&v->r.calls), 1);
    assert_int_equal(atomic_load(&v->r.bad), 0);
    if (!atomic_load(&v->release_saw_closed))
        close(v->sv[0]);
    close(v->sv[1]);
    tu_event_destroy(&v->entered);
    tu_event_destroy(&v->go);
    tu_event_destroy(&v->release_ev);
}

/*
 * The threads with the victim's bit in the other groups pass a quiescent
 * point (a whole wait): a delete waits for group 1's thread only, and
 * they must not stand in for it. 1 when they all did (no assertion: a
 * helper thread calls it too).
 */
static int same_bit_elsewhere_passes(struct pool *p, struct victim *v)
{
    int g, ok = 1;

    for (g = 0; g < p->groups; g++) {
        struct tu_loop *l = p->by_tid[TPOLL_TID(g, v->tid % TPOLL_MAX_THREADS)];
        unsigned long from;

        if (g == 1 || l == NULL)
            continue;
        from = atomic_load(&l->loops);
        ok &= tpoll_wake(p->tp, l->tid) == 0 &&
              tu_wait_atomic(&l->loops, from + 1) &&
              tpoll_wake(p->tp, l->tid) == 0 &&
              tu_wait_atomic(&l->loops, from + 2);
    }
    return ok;
}

/* A delete run by tpoll_call on a loop thread of another group. */
enum delete_kind { DELETE, DELETE_ASYNC, CLOSE };

struct remote_delete {
    struct victim *v;
    enum delete_kind kind;
    atomic_int ret, tid;
    struct tu_event done;
};

static void remote_delete_fn(struct tpoll *tp, void *arg)
{
    struct remote_delete *d = arg;

    atomic_store(&d->tid, tpoll_thread_id(tp));
    switch (d->kind) {
    case DELETE:
        atomic_store(&d->ret, tpoll_fd_delete(tp, d->v->sv[0]));
        break;
    case DELETE_ASYNC:
        atomic_store(&d->ret,
                     tpoll_fd_delete_async(tp, d->v->sv[0], victim_release));
        break;
    case CLOSE:
        atomic_store(&d->ret, tpoll_fd_close(tp, d->v->sv[0], victim_release));
        break;
    }
    tu_event_post(&d->done);
}

static void delete_from(struct pool *p, struct victim *v, int tid,
                        enum delete_kind kind, int want)
{
    struct remote_delete d = {.v = v, .kind = kind};

    tu_event_init(&d.done);
    assert_int_equal(tpoll_call(p->tp, tid, remote_delete_fn, &d), 0);
    assert_true(tu_event_wait(&d.done, 1));
    assert_int_equal(atomic_load(&d.tid), tid);
    assert_int_equal(atomic_load(&d.ret), want);
    assert_int_equal(tpoll_fd_group(p->tp, v->sv[0]), -ENOENT);
    tu_event_destroy(&d.done);
}

/* tpoll_fd_delete from the thread of group 0 with the victim's bit (a
 * callback there, as the victim's callback is on its own thread) says
 * 1: the callback still runs on its thread of group 1. */
static void test_delete_from_other_group(void **state)
{
    struct pool *p = *state;
    struct victim v;

    victim_start(p, &v);
    delete_from(p, &v, TPOLL_TID(0, v.tid % TPOLL_MAX_THREADS), DELETE, 1);
    assert_int_equal(atomic_load(&v.returned), 0);
    victim_finish(p, &v);
}

/* The release waits for the running callback, then runs on the
 * victim's thread; a close comes before it. */
static void released_after_callback(struct pool *p, struct victim *v,
                                    int closed)
{
    assert_true(same_bit_elsewhere_passes(p, v));
    assert_int_equal(atomic_load(&v->released), 0);
    tu_event_post(&v->go);
    assert_true(tu_event_wait(&v->release_ev, 1));
    assert_int_equal(atomic_load(&v->released), 1);
    assert_int_equal(atomic_load(&v->release_saw_running), 0);
    assert_int_equal(atomic_load(&v->release_saw_returned), 1);
    assert_int_equal(atomic_load(&v->release_tid), v->tid);
    assert_int_equal(atomic_load(&v->release_saw_closed), closed);
    victim_finish(p, v);
    assert_int_equal(atomic_load(&v->released), 1);
}

/* tpoll_fd_delete_async from the thread of group 2 with the victim's
 * bit. */
static void test_delete_async_from_other_group(void **state)
{
    struct pool *p = *state;
    struct victim v;

    victim_start(p, &v);
    delete_from(p, &v, TPOLL_TID(2, v.tid % TPOLL_MAX_THREADS), DELETE_ASYNC,
                0);
    released_after_callback(p, &v, 0);
}

/* tpoll_fd_close from a thread of the last group. */
static void test_close_from_other_group(void **state)
{
    struct pool *p = *state;
    struct victim v;

    victim_start(p, &v);
    delete_from(p, &v, TPOLL_TID(p->groups - 1, 0), CLOSE, 0);
    released_after_callback(p, &v, 1);
}

/* Lets the victim go once its delete has begun (the fd is gone from the
 * table from then on) and the same bit of other groups passed. */
static void *let_go_after_delete(void *arg)
{
    struct victim *v = arg;
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (tpoll_fd_group(v->tp, v->sv[0]) >= 0 && tu_now_ms() < end)
        sched_yield();
    (void)same_bit_elsewhere_passes(v->pool, v);
    tu_event_post(&v->go);
    return NULL;
}

/* tpoll_fd_delete_wait from the main thread, bound in the last group:
 * it returns only once the callback on group 1's thread has returned,
 * which the helper lets happen only after the delete began. */
static void test_delete_wait_from_other_group(void **state)
{
    struct pool *p = *state;
    struct victim v;
    pthread_t helper;

    victim_start(p, &v);
    assert_int_equal(pthread_create(&helper, NULL, let_go_after_delete, &v), 0);
    assert_int_equal(tpoll_fd_delete_wait(p->tp, v.sv[0]), 0);
    assert_int_equal(atomic_load(&v.returned), 1);
    assert_int_equal(pthread_join(helper, NULL), 0);
    victim_finish(p, &v);
}

/*
 * The number goes into group 2 (the same bit as the victim's in group 1)
 * right after tpoll_fd_delete, while the old callback still runs: the
 * new insert's callbacks come with the new owner on group 2's thread,
 * the old callback finishes, and no event of either reaches the other.
 */
static void test_reinsert_into_other_group_while_running(void **state)
{
    struct pool *p = *state;
    int bit = last_loop_bit(p, 1);
    struct victim v;
    struct grec fresh;

    victim_start(p, &v);
    assert_int_equal(tpoll_fd_delete(p->tp, v.sv[0]), 1);
    grec_init(&fresh, v.sv[0], 2, TPOLL_THREAD(bit));
    insert_rec(p->tp, &fresh, 0);
    /* The byte the victim never read is the new user's first event. */
    assert_true(tu_wait_atomic(&fresh.calls, 1));
    assert_int_equal(atomic_load(&v.returned), 0);
    assert_int_equal(atomic_load(&fresh.last_tid), TPOLL_TID(2, bit));
    tu_event_post(&v.go);
    assert_true(tu_wait_atomic(&v.returned, 1));
    tu_write_byte(v.sv[1]);
    assert_true(tu_wait_atomic(&fresh.calls, 2));
    assert_int_equal(tpoll_fd_delete_wait(p->tp, v.sv[0]), 0);
    assert_int_equal(atomic_load(&fresh.bad), 0);
    victim_finish(p, &v);
}

/*
 * There and back: the number goes to group 2, then back into group 1 for
 * the very thread still running the old user's callback. The new user's
 * callback waits for that thread, then comes with the new owner.
 */
static void test_back_into_running_group(void **state)
{
    struct pool *p = *state;
    int bit = last_loop_bit(p, 1);
    struct victim v;
    struct grec away, back;

    victim_start(p, &v);
    assert_int_equal(tpoll_fd_delete(p->tp, v.sv[0]), 1);
    grec_init(&away, v.sv[0], 2, TPOLL_THREAD(bit));
    insert_rec(p->tp, &away, 0);
    assert_true(tu_wait_atomic(&away.calls, 1));
    assert_int_equal(tpoll_fd_delete_wait(p->tp, v.sv[0]), 0);
    grec_init(&back, v.sv[0], 1, TPOLL_THREAD(bit));
    insert_rec(p->tp, &back, 0);
    tu_write_byte(v.sv[1]);
    /* Its only thread is still inside the old callback. */
    assert_int_equal(atomic_load(&back.calls), 0);
    assert_int_equal(atomic_load(&v.returned), 0);
    tu_event_post(&v.go);
    assert_true(tu_wait_atomic(&back.calls, 1));
    assert_int_equal(atomic_load(&back.last_tid), v.tid);
    assert_int_equal(tpoll_fd_delete_wait(p->tp, v.sv[0]), 0);
    assert_int_equal(atomic_load(&away.bad), 0);
    assert_int_equal(atomic_load(&back.bad), 0);
    victim_finish(p, &v);
}

/*
 * Interest changes and tpoll_fd_ready from the main thread, of the last
 * group, on an edge-triggered fd of group 2 whose callback leaves the
 * first byte unread: the callbacks run on group 2's thread. (Where
 * edge triggering exists, only tpoll_fd_ready brings the second call.)
 */
static void test_interest_from_other_group(void **state)
{
    struct pool *p = *state;
    int tid = TPOLL_TID(2, last_loop_bit(p, 2));
    struct gfd f;

    gfd_insert(p->tp, &f, 2, TPOLL_THREAD(tid), TPOLL_FD_EDGE);
    atomic_store(&f.r.drain, 0);
    tu_write_byte(f.sv[1]);
    assert_true(tu_wait_atomic(&f.r.calls, 1));
    atomic_store(&f.r.drain, 1);
    assert_int_equal(tpoll_fd_ready(p->tp, f.sv[0], 0), -EINVAL);
    assert_int_equal(tpoll_fd_ready(p->tp, f.sv[0], TPOLL_RECV), 0);
    assert_true(tu_wait_atomic(&f.r.calls, 2));
    assert_int_equal(tpoll_stop_recv(p->tp, f.sv[0]), 0);
    assert_int_equal(tpoll_want_send(p->tp, f.sv[0]), 0);
    for (;;) {
        /* Counted before the events are looked at: the callback adds
         * its events before it counts itself. */
        unsigned long n = atomic_load(&f.r.calls);

        if (atomic_load(&f.r.events) & TPOLL_SEND)
            break;
        assert_true(tu_wait_atomic(&f.r.calls, n + 1));
    }
    assert_int_equal(atomic_load(&f.r.last_tid), tid);
    assert_int_equal(atomic_load(&f.r.bad), 0);
    gfd_remove(p->tp, &f);
}

/* Per-thread services on every loop thread, whatever its group. */
struct on_thread {
    atomic_int tid;
    struct tu_event *ev;
};

static void record_call(struct tpoll *tp, void *arg)
{
    struct on_thread *o = arg;

    atomic_store(&o->tid, tpoll_thread_id(tp));
    tu_event_post(o->ev);
}

static void record_timer(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)t;
    record_call(tp, arg);
}

static void record_signal(struct tpoll *tp, int signo, void *arg)
{
    (void)signo;
    record_call(tp, arg);
}

static void test_per_thread_calls(void **state)
{
    struct pool *p = *state;
    struct tpoll *tp = p->tp;
    struct on_thread *calls = calloc((size_t)p->nloops, sizeof(*calls));
    struct on_thread *timers = calloc((size_t)p->groups, sizeof(*timers));
    struct on_thread sig = {0};
    struct tu_event ev;
    unsigned long *loops = calloc((size_t)p->nloops, sizeof(*loops));
    int i, g, sig_tid = TPOLL_TID(p->groups - 1, 0);

    assert_true(calls && timers && loops);
    tu_event_init(&ev);
    for (i = 0; i < p->nloops; i++) {
        calls[i].ev = &ev;
        assert_int_equal(
            tpoll_call(tp, p->loops[i].tid, record_call, &calls[i]), 0);
    }
    assert_true(tu_event_wait(&ev, p->nloops));
    for (i = 0; i < p->nloops; i++)
        assert_int_equal(atomic_load(&calls[i].tid), p->loops[i].tid);

    /* A timer on the last loop thread of each group, armed from here. */
    for (g = 0; g < p->groups; g++) {
        int tid = TPOLL_TID(g, last_loop_bit(p, g));

        timers[g].ev = &ev;
        assert_int_equal(
            tpoll_timer_init(tp, &p->timers[g], tid, record_timer, &timers[g]),
            0);
        assert_int_equal(tpoll_timer_arm(tp, &p->timers[g], 0), 0);
    }
    assert_true(tu_event_wait(&ev, p->nloops + p->groups));
    for (g = 0; g < p->groups; g++)
        assert_int_equal(atomic_load(&timers[g].tid),
                         TPOLL_TID(g, last_loop_bit(p, g)));

    /* A signal watched by a thread of the last group. */
    sig.ev = &ev;
    assert_int_equal(
        tpoll_signal_watch(tp, SIGUSR1, sig_tid, record_signal, &sig), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_true(tu_event_wait(&ev, p->nloops + p->groups + 1));
    assert_int_equal(atomic_load(&sig.tid), sig_tid);
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR1), 0);

    /* Wakes end every thread's wait; the counters follow. */
    for (i = 0; i < p->nloops; i++) {
        loops[i] = atomic_load(&p->loops[i].loops);
        assert_int_equal(tpoll_wake(tp, p->loops[i].tid), 0);
    }
    for (i = 0; i < p->nloops; i++) {
        assert_true(tu_wait_atomic(&p->loops[i].loops, loops[i] + 1));
        assert_true(tu_counters(tp, p->loops[i].tid).loops > 0);
    }
    tu_event_destroy(&ev);
    free(calls);
    free(timers);
    free(loops);
}

/* --- Small instances ------------------------------------------------- */

static int last_group(int threads)
{
    return TPOLL_GROUP(threads - 1);
}

/* Thread ids in the last group of an instance of `threads`. */
static int in_last_group(int threads)
{
    return threads - TPOLL_TID(last_group(threads), 0);
}

static int count_fd(struct tpoll *tp, int fd, void *owner, void *arg)
{
    (void)tp, (void)fd, (void)owner;
    ++*(int *)arg;
    return 0;
}

/* How many fds of group g have a mask meeting m. */
static int fds_meeting(struct tpoll *tp, int g, tpoll_mask_t m)
{
    int n = 0;

    assert_int_equal(tpoll_fd_visit_group(tp, g, m, count_fd, &n), 0);
    return n;
}

/*
 * 100 thread ids: the last group is partial (36 ids on LP64, 4 on 32-bit
 * systems). Every refusal changes nothing.
 */
static void test_bad_input_partial_group(void **state)
{
    enum { THREADS = 100, MAX_FDS = 256 };
    struct tpoll *tp = tu_create(THREADS, MAX_FDS);
    struct tpoll_options o;
    struct tpoll *none = NULL;
    struct tpoll_timer t;
    int last = last_group(THREADS), n = in_last_group(THREADS);
    tpoll_mask_t valid = first_bits(n), beyond = TPOLL_THREAD(n);
    int sv[2], fd;

    (void)state;
    tu_socketpair(sv);
    fd = sv[0];
    assert_int_equal(tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, -1, 1, 0),
                     -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last + 1, 1, 0),
        -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, INT_MAX, 1, 0),
        -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last, 0, 0), -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last, beyond, 0),
        -EINVAL);
    assert_int_equal(tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last,
                                           valid | beyond, 0),
                     -EINVAL);
    assert_int_equal(tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last,
                                           ~(tpoll_mask_t)0, 0),
                     -EINVAL);
    assert_int_equal(tpoll_fd_insert_group(tp, fd, NULL, NULL, last, valid, 0),
                     -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last, valid, 0x80u),
        -EINVAL);
    assert_int_equal(
        tpoll_fd_insert_group(tp, -1, tu_noop_cb, NULL, last, valid, 0),
        -EBADF);
    assert_int_equal(
        tpoll_fd_insert_group(tp, MAX_FDS, tu_noop_cb, NULL, last, valid, 0),
        -EMFILE);
    assert_int_equal(tpoll_fd_group(tp, fd), -ENOENT);
    assert_int_equal(tpoll_fd_interest(tp, fd), -ENOENT);

    /* The whole partial group is a good mask; the number is taken then. */
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last, valid, 0), 0);
    assert_int_equal(tpoll_fd_group(tp, fd), last);
    assert_int_equal(tpoll_fd_insert(tp, fd, tu_noop_cb, NULL, 1), -EEXIST);
    assert_int_equal(tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, 0, 1, 0),
                     -EEXIST);
    assert_int_equal(
        tpoll_fd_insert_group(tp, fd, tu_noop_cb, NULL, last, 1, 0), -EEXIST);
    assert_int_equal(tpoll_fd_group(tp, fd), last);

    /* set_threads names threads of the fd's group, within the count. */
    assert_int_equal(tpoll_fd_set_threads(tp, fd, beyond), -EINVAL);
    assert_int_equal(tpoll_fd_set_threads(tp, fd, valid | beyond), -EINVAL);
    assert_int_equal(tpoll_fd_set_threads(tp, fd, 0), -EINVAL);
    assert_int_equal(fds_meeting(tp, last, TPOLL_THREAD(0)), 1);
    assert_int_equal(tpoll_fd_set_threads(tp, fd, TPOLL_THREAD(n - 1)), 0);
    assert_int_equal(fds_meeting(tp, last, TPOLL_THREAD(0)), 0);
    assert_int_equal(fds_meeting(tp, last, TPOLL_THREAD(n - 1)), 1);
    assert_int_equal(tpoll_fd_group(tp, fd), last);

    /* Per-thread calls: ids up to 99, not 100. */
    assert_int_equal(tpoll_thread_start(tp, THREADS), -EINVAL);
    assert_int_equal(tpoll_wake(tp, THREADS), -EINVAL);
    assert_int_equal(tpoll_wake(tp, THREADS - 1), 0);
    assert_int_equal(tpoll_call(tp, THREADS, record_call, NULL), -EINVAL);
    assert_int_equal(tpoll_call(tp, THREADS - 1, record_call, NULL), -ESRCH);
    assert_int_equal(tpoll_stop(tp, THREADS), -EINVAL);
    assert_int_equal(tpoll_stop(tp, THREADS - 1), -ESRCH);
    assert_int_equal(tpoll_timer_init(tp, &t, THREADS, record_timer, NULL),
                     -EINVAL);
    assert_int_equal(tpoll_timer_init(tp, &t, THREADS - 1, record_timer, NULL),
                     0);
    assert_int_equal(
        tpoll_thread_counters(tp, THREADS, &(struct tpoll_counters){0}),
        -EINVAL);
    assert_int_equal(tu_counters(tp, THREADS - 1).loops, 0);
    assert_int_equal(
        tpoll_signal_watch(tp, SIGUSR1, THREADS, record_signal, NULL), -EINVAL);

    assert_int_equal(tpoll_fd_delete(tp, fd), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);

    tpoll_options_init(&o);
    o.threads = TPOLL_MAX_THREAD_IDS + 1;
    assert_int_equal(tpoll_create(&none, &o), -EINVAL);
    o.threads = -1;
    assert_int_equal(tpoll_create(&none, &o), -EINVAL);
    assert_null(none);
}

/* The threads of a partial last group poll its fds. */
static void test_partial_group_routes(void **state)
{
    enum { THREADS = 100 };
    struct tpoll *tp = tu_create(THREADS, 0);
    int last = last_group(THREADS), n = in_last_group(THREADS);
    int tids[3] = {TPOLL_TID(last, 0), THREADS - 1, TPOLL_TID(last, 0) - 1};
    struct tu_loop l[3];
    struct gfd f[3];
    int i;

    (void)state;
    tu_loops_start(l, 3, tp, tids);
    gfd_insert(tp, &f[0], last, first_bits(n), 0);
    gfd_insert(tp, &f[1], last, TPOLL_THREAD(THREADS - 1), 0);
    gfd_insert(tp, &f[2], last - 1, TPOLL_THREAD(tids[2]), 0);
    for (i = 0; i < 3; i++)
        tu_write_byte(f[i].sv[1]);
    for (i = 0; i < 3; i++)
        assert_true(tu_wait_atomic(&f[i].r.calls, 1));
    assert_int_equal(atomic_load(&f[1].r.last_tid), THREADS - 1);
    assert_int_equal(atomic_load(&f[2].r.last_tid), tids[2]);
    tu_loops_stop(l, 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&f[i].r.bad), 0);
        gfd_remove(tp, &f[i]);
    }
    tu_destroy(tp);
}

/*
 * A thread id's loop services are made at its first start: a signal
 * watch and a timer set up for an id of group 2 before then work once it
 * runs, and again after it restarts.
 */
static void test_services_before_first_start(void **state)
{
    struct tpoll *tp = tu_create(3 * TPOLL_MAX_THREADS, 0);
    int tid = TPOLL_TID(2, 7), round, n = 0;
    struct on_thread got = {0};
    struct tpoll_timer t;
    struct tu_event ev;
    struct tu_loop l;

    (void)state;
    tu_event_init(&ev);
    got.ev = &ev;
    assert_int_equal(tpoll_signal_watch(tp, SIGUSR2, tid, record_signal, &got),
                     0);
    assert_int_equal(tpoll_timer_init(tp, &t, tid, record_timer, &got), 0);
    assert_int_equal(tpoll_timer_arm(tp, &t, 0), -ESRCH);
    assert_int_equal(tpoll_call(tp, tid, record_call, &got), -ESRCH);
    for (round = 0; round < 2; round++) {
        tu_loop_start(&l, tp, tid);
        assert_int_equal(tpoll_timer_arm(tp, &t, 0), 0);
        assert_true(tu_event_wait(&ev, ++n));
        assert_int_equal(atomic_load(&got.tid), tid);
        atomic_store(&got.tid, -1);
        assert_int_equal(raise(SIGUSR2), 0);
        assert_true(tu_event_wait(&ev, ++n));
        assert_int_equal(atomic_load(&got.tid), tid);
        atomic_store(&got.tid, -1);
        assert_int_equal(tpoll_call(tp, tid, record_call, &got), 0);
        assert_true(tu_event_wait(&ev, ++n));
        assert_int_equal(atomic_load(&got.tid), tid);
        tu_loop_stop(&l);
    }
    assert_int_equal(tpoll_signal_unwatch(tp, SIGUSR2), 0);
    tu_event_destroy(&ev);
    tu_destroy(tp);
}

/*
 * Fds inserted in a group before its thread starts, some with numbers
 * above every fd of group 0: the starting thread registers them; and
 * again after a restart.
 */
static void test_late_start_in_group(void **state)
{
    struct tpoll *tp = tu_create(3 * TPOLL_MAX_THREADS, 0);
    int tid = TPOLL_TID(2, 3);
    struct tu_loop l;
    struct gfd low, high[3];
    int i, round;

    (void)state;
    gfd_insert(tp, &low, 0, TPOLL_THREAD(0), 0);
    for (i = 0; i < 3; i++)
        gfd_insert(tp, &high[i], 2, TPOLL_THREAD(tid), 0);
    assert_true(high[2].sv[0] > low.sv[0]);
    for (round = 1; round <= 2; round++) {
        tu_write_byte(high[2].sv[1]);
        tu_loop_start(&l, tp, tid);
        assert_true(tu_wait_atomic(&high[2].r.calls, (unsigned long)round));
        for (i = 0; i < 2; i++) {
            tu_write_byte(high[i].sv[1]);
            assert_true(tu_wait_atomic(&high[i].r.calls, (unsigned long)round));
        }
        tu_loop_stop(&l);
    }
    for (i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&high[i].r.bad), 0);
        assert_int_equal(atomic_load(&high[i].r.last_tid), tid);
        gfd_remove(tp, &high[i]);
    }
    assert_int_equal(atomic_load(&low.r.calls), 0);
    gfd_remove(tp, &low);
    tu_destroy(tp);
}

/* The largest instance: thread id TPOLL_MAX_THREAD_IDS - 1 works. A
 * small table: each group has its own (a cache line per slot). */
static void test_largest_thread_id(void **state)
{
    enum { TOP = TPOLL_MAX_THREAD_IDS - 1 };
    struct tpoll *tp = tu_create(TPOLL_MAX_THREAD_IDS, 256);
    int tids[2] = {0, TOP};
    struct tu_loop l[2];
    struct gfd f;

    (void)state;
    tu_loops_start(l, 2, tp, tids);
    gfd_insert(tp, &f, TPOLL_GROUP(TOP), TPOLL_THREAD(TOP), 0);
    tu_write_byte(f.sv[1]);
    assert_true(tu_wait_atomic(&f.r.calls, 1));
    assert_int_equal(atomic_load(&f.r.last_tid), TOP);
    tu_loops_stop(l, 2);
    assert_int_equal(atomic_load(&f.r.bad), 0);
    gfd_remove(tp, &f);
    tu_destroy(tp);
}

/*
 * Destroyed with fds still inserted in several groups, after their
 * threads polled them: the instance forgets them (nothing leaks under
 * ASan) and leaves them open.
 */
static void test_destroy_with_fds_in_groups(void **state)
{
    struct tpoll *tp = tu_create(4 * TPOLL_MAX_THREADS, 0);
    int tids[3] = {TPOLL_TID(1, 2), TPOLL_TID(2, 2), TPOLL_TID(3, 2)};
    struct tu_loop l[3];
    struct gfd f[3];
    int i;

    (void)state;
    tu_loops_start(l, 3, tp, tids);
    for (i = 0; i < 3; i++) {
        gfd_insert(tp, &f[i], i + 1, TPOLL_THREAD(tids[i]), 0);
        tu_write_byte(f[i].sv[1]);
    }
    for (i = 0; i < 3; i++)
        assert_true(tu_wait_atomic(&f[i].r.calls, 1));
    tu_loops_stop(l, 3);
    tu_destroy(tp);
    for (i = 0; i < 3; i++) {
        assert_int_equal(fcntl(f[i].sv[0], F_GETFD), FD_CLOEXEC);
        close(f[i].sv[0]);
        close(f[i].sv[1]);
    }
}

/* tpoll_fd_group and tpoll_fd_visit_group. */
struct seen {
    int n;
    int fd[8];
    void *owner[8];
    int stop_at;   /* returns 42 at this call (1-based), 0 never */
    int delete_it; /* deletes each fd it visits */
};

static int visit_cb(struct tpoll *tp, int fd, void *owner, void *arg)
{
    struct seen *s = arg;

    if (s->n < 8) {
        s->fd[s->n] = fd;
        s->owner[s->n] = owner;
    }
    s->n++;
    if (s->delete_it && tpoll_fd_delete(tp, fd) != 0)
        return -1;
    return s->n == s->stop_at ? 42 : 0;
}

static struct seen visit(struct tpoll *tp, int group, tpoll_mask_t mask)
{
    struct seen s;

    memset(&s, 0, sizeof(s));
    assert_int_equal(tpoll_fd_visit_group(tp, group, mask, visit_cb, &s), 0);
    return s;
}

static void test_fd_group_and_visit(void **state)
{
    enum { MAX_FDS = 512 };
    int threads = 3 * TPOLL_MAX_THREADS + 5;
    struct tpoll *tp = tu_create(threads, MAX_FDS);
    static const int group_of[6] = {0, 1, 1, 3, 2, 0};
    tpoll_mask_t mask_of[6] = {1,
                               TPOLL_THREAD(0) | TPOLL_THREAD(3),
                               TPOLL_THREAD(5),
                               TPOLL_THREAD(4),
                               1,
                               TPOLL_THREAD(3)};
    int sv[6][2], i, owners[6];
    struct seen s;

    (void)state;
    for (i = 0; i < 6; i++) {
        tu_socketpair(sv[i]);
        assert_int_equal(tpoll_fd_insert_group(tp, sv[i][0], tu_noop_cb,
                                               &owners[i], group_of[i],
                                               mask_of[i], 0),
                         0);
        assert_int_equal(tpoll_fd_group(tp, sv[i][0]), group_of[i]);
    }
    assert_int_equal(tpoll_fd_group(tp, -1), -EBADF);
    assert_int_equal(tpoll_fd_group(tp, MAX_FDS), -EMFILE);
    assert_int_equal(tpoll_fd_group(tp, sv[0][1]), -ENOENT);

    /* Group 0 through both calls: a, then f, in fd order. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(tpoll_fd_visit(tp, ~(tpoll_mask_t)0, visit_cb, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.fd[0], sv[0][0]);
    assert_int_equal(s.fd[1], sv[5][0]);
    assert_ptr_equal(s.owner[1], &owners[5]);
    s = visit(tp, 0, ~(tpoll_mask_t)0);
    assert_int_equal(s.n, 2);
    /* Group 1 by mask: bit 3 names b only, bit 5 c only. */
    s = visit(tp, 1, ~(tpoll_mask_t)0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.fd[0], sv[1][0]);
    assert_int_equal(s.fd[1], sv[2][0]);
    s = visit(tp, 1, TPOLL_THREAD(TPOLL_TID(1, 3)));
    assert_int_equal(s.n, 1);
    assert_ptr_equal(s.owner[0], &owners[1]);
    s = visit(tp, 1, TPOLL_THREAD(5));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.fd[0], sv[2][0]);
    s = visit(tp, 3, TPOLL_THREAD(4));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.fd[0], sv[3][0]);
    s = visit(tp, 3, TPOLL_THREAD(0));
    assert_int_equal(s.n, 0);

    /* Stopping and deleting from the visit. */
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    assert_int_equal(
        tpoll_fd_visit_group(tp, 1, ~(tpoll_mask_t)0, visit_cb, &s), 42);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof(s));
    s.delete_it = 1;
    assert_int_equal(
        tpoll_fd_visit_group(tp, 1, ~(tpoll_mask_t)0, visit_cb, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(tpoll_fd_group(tp, sv[1][0]), -ENOENT);
    assert_int_equal(visit(tp, 1, ~(tpoll_mask_t)0).n, 0);

    /* e moves from group 2 to group 3, behind d in fd order or not. */
    assert_int_equal(tpoll_fd_delete(tp, sv[4][0]), 0);
    assert_int_equal(tpoll_fd_insert_group(tp, sv[4][0], tu_noop_cb, &owners[4],
                                           3, TPOLL_THREAD(1), 0),
                     0);
    assert_int_equal(tpoll_fd_group(tp, sv[4][0]), 3);
    assert_int_equal(visit(tp, 2, ~(tpoll_mask_t)0).n, 0);
    s = visit(tp, 3, ~(tpoll_mask_t)0);
    assert_int_equal(s.n, 2);
    assert_true(s.fd[0] < s.fd[1]);

    /* Calls that take an fd work whatever its group. */
    assert_int_equal(tpoll_want_recv(tp, sv[3][0]), 0);
    assert_int_equal(tpoll_want_send(tp, sv[3][0]), 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[3][0]), TPOLL_RECV | TPOLL_SEND);
    assert_int_equal(tpoll_fd_ready(tp, sv[3][0], TPOLL_RECV), 0);
    assert_int_equal(tpoll_stop_send(tp, sv[3][0]), 0);
    assert_int_equal(tpoll_stop_recv(tp, sv[3][0]), 0);
    if (tpoll_want_close(tp, sv[3][0]) == 0) {
        assert_int_equal(tpoll_fd_interest(tp, sv[3][0]), TPOLL_RDHUP);
        assert_int_equal(tpoll_stop_close(tp, sv[3][0]), 0);
    } else {
        assert_int_equal(tpoll_want_close(tp, sv[3][0]), -ENOTSUP);
    }
    assert_int_equal(tpoll_fd_interest(tp, sv[3][0]), 0);

    /* Bad groups. */
    assert_int_equal(
        tpoll_fd_visit_group(tp, -1, ~(tpoll_mask_t)0, visit_cb, &s), -EINVAL);
    assert_int_equal(tpoll_fd_visit_group(tp, last_group(threads) + 1,
                                          ~(tpoll_mask_t)0, visit_cb, &s),
                     -EINVAL);
    assert_int_equal(tpoll_fd_visit_group(tp, 0, ~(tpoll_mask_t)0, NULL, &s),
                     -EINVAL);
    assert_int_equal(
        tpoll_fd_visit_group(NULL, 0, ~(tpoll_mask_t)0, visit_cb, &s), -EINVAL);

    for (i = 0; i < 6; i++) {
        if (tpoll_fd_group(tp, sv[i][0]) >= 0)
            assert_int_equal(tpoll_fd_delete(tp, sv[i][0]), 0);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    tu_destroy(tp);
}

/*
 * fork. Child side, no cmocka assertions (they would unwind into a copy
 * of the parent's runner): the exit status names the step. Runs the
 * calling thread's waits until *calls reaches n; 1 on success.
 */
static int wait_calls(struct tpoll *tp, atomic_ulong *calls, unsigned long n)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (atomic_load(calls) < n)
        if (tpoll_wait(tp, 100) < 0 || tu_now_ms() > end)
            return 0;
    return 1;
}

/* In the child: fd (of r) gets its event on thread tid. */
static int child_event(struct tpoll *tp, struct grec *r, int peer, int tid)
{
    unsigned long n = atomic_load(&r->calls) + 1;

    return write(peer, "c", 1) == 1 && wait_calls(tp, &r->calls, n) &&
           atomic_load(&r->last_tid) == tid && atomic_load(&r->bad) == 0;
}

/* The forking thread was bound to tid, of group 2: it keeps it. */
static int child_keeps_id(struct tpoll *tp, int tid, struct grec *r, int peer,
                          int other_group_fd)
{
    struct grec fresh;
    int sv[2];

    if (tpoll_after_fork(tp) != 0)
        return 10;
    if (tpoll_thread_id(tp) != tid)
        return 11;
    if (tpoll_fd_group(tp, r->fd) != TPOLL_GROUP(tid))
        return 12;
    if (!child_event(tp, r, peer, tid))
        return 13;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        return 14;
    grec_init(&fresh, sv[0], TPOLL_GROUP(tid),
              TPOLL_THREAD(tid) | TPOLL_THREAD(tid + 1));
    if (tpoll_fd_insert_group(tp, sv[0], grec_cb, &fresh, fresh.group,
                              atomic_load(&fresh.allowed), 0) != 0 ||
        tpoll_want_recv(tp, sv[0]) != 0)
        return 15;
    if (!child_event(tp, &fresh, sv[1], tid))
        return 16;
    /* An fd of group 1, whose thread is the parent's: nothing uses it. */
    if (tpoll_fd_delete(tp, other_group_fd) != 0)
        return 17;
    if (tpoll_fd_delete(tp, sv[0]) != 0 || tpoll_fd_delete(tp, r->fd) != 0)
        return 18;
    return 0;
}

/* l runs tid, and f, inserted in tid's group for tid alone, has had a
 * callback there. */
static void loop_with_fd(struct tpoll *tp, struct tu_loop *l, struct gfd *f,
                         int tid)
{
    tu_loop_start(l, tp, tid);
    gfd_insert(tp, f, TPOLL_GROUP(tid), TPOLL_THREAD(tid), 0);
    tu_write_byte(f->sv[1]);
    assert_true(tu_wait_atomic(&f->r.calls, 1));
}

static void reap(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fork_group_thread(void **state)
{
    struct tpoll *tp = tu_create(3 * TPOLL_MAX_THREADS, 0);
    int tid = TPOLL_TID(2, 5), ltid = TPOLL_TID(1, 5);
    struct tu_loop l;
    struct gfd mine, other;
    pid_t pid;

    (void)state;
    loop_with_fd(tp, &l, &other, ltid);
    /* Its thread idle again: in the child nothing of it is in use. */
    tu_loop_round_trip(&l);
    assert_int_equal(tpoll_thread_start(tp, tid), 0);
    gfd_insert(tp, &mine, 2, TPOLL_THREAD(tid), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_keeps_id(tp, tid, &mine.r, mine.sv[1], other.sv[0]));
    reap(pid);
    /* The parent's registrations did not move. */
    tu_write_byte(mine.sv[1]);
    assert_true(wait_calls(tp, &mine.r.calls, 1));
    tu_write_byte(other.sv[1]);
    assert_true(tu_wait_atomic(&other.r.calls, 2));
    assert_int_equal(atomic_load(&other.r.bad), 0);
    assert_int_equal(atomic_load(&mine.r.bad), 0);
    tu_loop_stop(&l);
    gfd_remove(tp, &mine);
    gfd_remove(tp, &other);
    tu_destroy(tp);
}

/* The forking thread was unbound: the child binds tid, of group 2, which
 * a loop of the parent holds, and the fd of that group works there. */
static int child_takes_id(struct tpoll *tp, int tid, struct grec *r, int peer)
{
    if (tpoll_after_fork(tp) != 0)
        return 10;
    if (tpoll_thread_id(tp) != -EPERM)
        return 11;
    if (tpoll_thread_start(tp, tid) != 0)
        return 12;
    if (tpoll_want_recv(tp, r->fd) != 0)
        return 13;
    if (!child_event(tp, r, peer, tid))
        return 14;
    if (tpoll_fd_delete(tp, r->fd) != 0 || tpoll_thread_stop(tp) != 0)
        return 15;
    return 0;
}

static void test_fork_unbound_child_takes_group_id(void **state)
{
    struct tpoll *tp = tu_create(3 * TPOLL_MAX_THREADS, 0);
    int tid = TPOLL_TID(2, 9);
    struct tu_loop l;
    struct gfd f;
    pid_t pid;

    (void)state;
    loop_with_fd(tp, &l, &f, tid);
    /* The parent's loop leaves the child's bytes alone. */
    assert_int_equal(tpoll_stop_recv(tp, f.sv[0]), 0);
    tu_loop_round_trip(&l);
    pid = tu_fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_takes_id(tp, tid, &f.r, f.sv[1]));
    reap(pid);
    assert_int_equal(tpoll_want_recv(tp, f.sv[0]), 0);
    tu_write_byte(f.sv[1]);
    assert_true(tu_wait_atomic(&f.r.calls, 2));
    assert_int_equal(atomic_load(&f.r.last_tid), tid);
    assert_int_equal(atomic_load(&f.r.bad), 0);
    tu_loop_stop(&l);
    gfd_remove(tp, &f);
    tu_destroy(tp);
}

#define POOL_TESTS                                                             \
    cmocka_unit_test(test_route_by_group_and_mask),                            \
        cmocka_unit_test(test_set_threads_within_group),                       \
        cmocka_unit_test(test_delete_from_other_group),                        \
        cmocka_unit_test(test_delete_async_from_other_group),                  \
        cmocka_unit_test(test_close_from_other_group),                         \
        cmocka_unit_test(test_delete_wait_from_other_group),                   \
        cmocka_unit_test(test_reinsert_into_other_group_while_running),        \
        cmocka_unit_test(test_back_into_running_group),                        \
        cmocka_unit_test(test_interest_from_other_group),                      \
        cmocka_unit_test(test_per_thread_calls)

int main(void)
{
    const struct CMUnitTest pool[] = {POOL_TESTS};
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_bad_input_partial_group),
        cmocka_unit_test(test_partial_group_routes),
        cmocka_unit_test(test_largest_thread_id),
        cmocka_unit_test(test_late_start_in_group),
        cmocka_unit_test(test_services_before_first_start),
        cmocka_unit_test(test_destroy_with_fds_in_groups),
        cmocka_unit_test(test_fd_group_and_visit),
        cmocka_unit_test(test_fork_group_thread),
        cmocka_unit_test(test_fork_unbound_child_takes_group_id),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("4 groups", pool, pool4_setup,
                                          pool_teardown);
    failed += cmocka_run_group_tests_name("16 groups", pool, pool16_setup,
                                          pool_teardown);
    failed += cmocka_run_group_tests_name(tu_backend(), small, NULL, NULL);
    return failed;
}
