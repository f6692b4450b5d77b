/* SPDX-License-Identifier: MIT */
/*
 * Thread groups under load. 16 bound threads, 4 in each of 4 groups (the
 * last one partial: TPOLL_MAX_THREADS / 2 ids), each run a seeded random
 * sequence on 48 shared socketpairs between short waits: writes into the
 * peers, interest changes, migrations inside the fd's group
 * (tpoll_fd_set_threads), and moves to another group: tpoll_fd_delete
 * or tpoll_fd_delete_wait and an insert at once, or
 * tpoll_fd_delete_async whose release inserts (also from the fd's own
 * callback), and now and then a thread stops and starts again. Each
 * insert has its own owner record. TPOLL_STRESS_EDGE=1 inserts every fd
 * with TPOLL_FD_EDGE (the callbacks read until EAGAIN). Checked as callbacks
 * run and at the end:
 *
 * - a callback runs on a thread of its owner's group named in its mask
 *   (the mask widened to old | new while a set_threads is under way);
 * - never after its delete returned 0 (or tpoll_fd_delete_wait returned),
 *   nor after or during its release; each release runs once, with the
 *   owner of the insert it ends, and its fd;
 * - tpoll_fd_group names the group of the current insert, and
 *   tpoll_fd_visit_group finds each fd in its group only (and, while the
 *   fds move, shows an fd only with an owner of its insert in the group
 *   visited);
 * - every byte written is read once every fd wants recv again (no
 *   readiness lost in a move), and no fd is leaked.
 *
 * Sized to run in about TPOLL_STRESS_SECONDS (default 2) per backend, or
 * TPOLL_STRESS_OPS operations per thread (default 20000), under TSan too:
 * 16 threads and 96 fds stay far from TSan's thread limit and select's
 * FD_SETSIZE. TPOLL_STRESS_SEED is printed on failure.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define GROUPS 4
#define PER_GROUP 4 /* started thread ids per group */
#define WORKERS (GROUPS * PER_GROUP)
#define SLOTS (WORKERS * 3)
#define MAX_UNREAD 4096

/* A slot's fd is inserted, or moving: deleted with a release that
 * inserts it again. */
enum { INSERTED, MOVING };

struct owner {
    int fd, slot, group;
    atomic_ulong mask;
    atomic_int running;
    atomic_int deleted;  /* no callback may start any more */
    atomic_int released; /* its release ran */
    atomic_int release_calls;
    int async;          /* deleted with a release */
    struct owner *next; /* inserted by the release, if any */
    struct owner *all;
};

struct slot {
    pthread_mutex_t mu;
    int fd, peer;
    atomic_int state;
    struct owner *owner; /* current (or next, while MOVING) insert */
    atomic_long written, read;
};

struct worker {
    int tid;
    pthread_t thread;
    uint64_t rng;
};

static struct {
    struct tpoll *tp;
    int threads; /* thread ids of the instance */
    int started[GROUPS][PER_GROUP];
    unsigned long seed, max_ops;
    unsigned flags; /* TPOLL_FD_EDGE or 0 */
    uint64_t end_ms;
    atomic_int phase; /* 0 run, 1 serve callbacks, 2 stop */
    struct tu_failure fail;
    pthread_mutex_t all_mu;
    struct owner *owners;
    struct slot slots[SLOTS];
    struct tu_event done; /* workers through with their operations */
    int visits[SLOTS];
    atomic_ulong ops, callbacks, moves, migrations, cb_moves, restarts;
    atomic_ulong visit_rounds;
} S;

static _Thread_local struct worker *self;

#define report(...) tu_failure_set(&S.fail, __VA_ARGS__)

static unsigned rnd(struct worker *w, unsigned n)
{
    /* splitmix64 step: reproducible per thread from the seed. */
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (unsigned)((z ^ (z >> 31)) >> 33) % n;
}

/* Ids in group g: the last group is partial. */
static int ids_in(int g)
{
    int n = S.threads - TPOLL_TID(g, 0);

    return n < TPOLL_MAX_THREADS ? n : TPOLL_MAX_THREADS;
}

/* A mask of started threads of group g: mostly one thread. */
static tpoll_mask_t rnd_mask(struct worker *w, int g)
{
    tpoll_mask_t m = 0;
    unsigned pick =
        rnd(w, 3) ? 1u << rnd(w, PER_GROUP) : 1 + rnd(w, (1u << PER_GROUP) - 1);
    int k;

    for (k = 0; k < PER_GROUP; k++)
        if (pick & (1u << k))
            m |= TPOLL_THREAD(S.started[g][k]);
    return m;
}

static struct owner *new_owner(int idx, int group, tpoll_mask_t mask)
{
    struct owner *o = calloc(1, sizeof(*o));

    if (o == NULL)
        abort();
    o->fd = S.slots[idx].fd;
    o->slot = idx;
    o->group = group;
    atomic_init(&o->mask, mask);
    pthread_mutex_lock(&S.all_mu);
    o->all = S.owners;
    S.owners = o;
    pthread_mutex_unlock(&S.all_mu);
    return o;
}

static void expect(int got, int want, const char *what, int idx)
{
    if (got != want)
        report("%s on slot %d returned %d, expected %d", what, idx, got, want);
}

static void check_thread(struct tpoll *tp, struct owner *o, const char *who)
{
    int tid = tpoll_thread_id(tp);
    tpoll_mask_t m = atomic_load(&o->mask);

    if (tid < 0 || TPOLL_GROUP(tid) != o->group || !(m & TPOLL_THREAD(tid)))
        report("%s of fd %d (slot %d) on tid %d, outside group %d mask %#lx",
               who, o->fd, o->slot, tid, o->group, (unsigned long)m);
}

static void read_all(struct slot *s, int fd)
{
    char buf[4096];
    ssize_t r;

    while ((r = read(fd, buf, sizeof(buf))) > 0)
        atomic_fetch_add(&s->read, r);
}

static void move_from_callback(struct tpoll *tp, struct owner *o);

/*
 * Calls on the fd's number without the slot's lock, racing with a move
 * of the number to another group: they find the old insert, the new
 * one or none, never anything else.
 */
static void race_lookups(struct tpoll *tp, struct owner *o)
{
    int g = tpoll_fd_group(tp, o->fd), r = tpoll_want_recv(tp, o->fd);

    if (g != -ENOENT && (g < 0 || g >= GROUPS))
        report("fd_group of fd %d during moves: %d", o->fd, g);
    if (r != 0 && r != -ENOENT)
        report("want_recv of fd %d during moves: %d", o->fd, r);
}

static void group_cb(struct tpoll *tp, int fd, unsigned events, void *arg)
{
    struct owner *o = arg;
    const char *broken = tu_conditions_broken(events);

    atomic_fetch_add(&S.callbacks, 1);
    atomic_fetch_add(&o->running, 1);
    check_thread(tp, o, "callback");
    if (fd != o->fd)
        report("callback for fd %d with the owner of fd %d", fd, o->fd);
    if (atomic_load(&o->deleted))
        report("callback of fd %d (slot %d) after its delete returned", fd,
               o->slot);
    if (atomic_load(&o->released))
        report("callback of fd %d (slot %d) after its release", fd, o->slot);
    if (broken)
        report("fd %d: events %#x: %s", fd, events, broken);
    if (events & TPOLL_RECV)
        read_all(&S.slots[o->slot], fd);
    if (self != NULL && rnd(self, 4) == 0)
        race_lookups(tp, o);
    if (self != NULL && rnd(self, 16) == 0)
        move_from_callback(tp, o);
    atomic_fetch_sub(&o->running, 1);
}

/* Inserts the slot's owner (already chosen) with recv interest. */
static void insert_owner(struct tpoll *tp, struct slot *s, struct owner *o,
                         const char *what)
{
    expect(tpoll_fd_insert_group(tp, s->fd, group_cb, o, o->group,
                                 atomic_load(&o->mask), S.flags),
           0, what, o->slot);
    expect(tpoll_want_recv(tp, s->fd), 0, what, o->slot);
    expect(tpoll_fd_group(tp, s->fd), o->group, what, o->slot);
}

/* The end of a delete_async: no callback of o runs any more. The slot
 * was left MOVING to o->next, which this inserts. */
static void move_release(struct tpoll *tp, int fd, void *arg)
{
    struct owner *o = arg;
    struct slot *s = &S.slots[o->slot];

    if (fd != o->fd)
        report("release for fd %d with the owner of fd %d", fd, o->fd);
    if (!o->async)
        report("release of fd %d, never deleted with a release", fd);
    if (atomic_load(&o->running) != 0)
        report("release of fd %d while its callback runs", fd);
    if (atomic_fetch_add(&o->release_calls, 1) != 0)
        report("second release of fd %d", fd);
    atomic_store(&o->released, 1);
    insert_owner(tp, s, o->next, "insert from release");
    atomic_store(&s->state, INSERTED);
}

static int other_group(struct worker *w, int g)
{
    return (g + 1 + (int)rnd(w, GROUPS - 1)) % GROUPS;
}

/* Starts moving the slot's fd to another group through delete_async:
 * the release inserts it. The caller holds the slot's lock. */
static void move_async(struct worker *w, struct slot *s)
{
    struct owner *o = s->owner;
    int g = other_group(w, o->group);

    o->next = new_owner(o->slot, g, rnd_mask(w, g));
    o->async = 1;
    s->owner = o->next;
    atomic_store(&s->state, MOVING);
    atomic_fetch_add(&S.moves, 1);
    expect(tpoll_fd_delete_async(S.tp, s->fd, move_release), 0, "delete_async",
           o->slot);
}

/* The fd's own callback moves it; its release runs once this callback
 * returns. Only with the slot's lock free: its holder may be waiting
 * for this very callback. */
static void move_from_callback(struct tpoll *tp, struct owner *o)
{
    struct slot *s = &S.slots[o->slot];

    (void)tp;
    if (pthread_mutex_trylock(&s->mu) != 0)
        return;
    if (atomic_load(&S.phase) == 0 && s->owner == o &&
        atomic_load(&s->state) == INSERTED) {
        atomic_fetch_add(&S.cb_moves, 1);
        move_async(self, s);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Delete (plain or waiting) and insert into another group at once. */
static void move_now(struct worker *w, struct slot *s, int idx)
{
    struct owner *o = s->owner;
    int g = other_group(w, o->group), r;

    if (rnd(w, 2)) {
        r = tpoll_fd_delete(S.tp, s->fd);
        if (r != 0 && r != 1)
            report("delete on slot %d: %d", idx, r);
    } else {
        r = tpoll_fd_delete_wait(S.tp, s->fd);
        expect(r, 0, "delete_wait", idx);
    }
    if (r == 0)
        atomic_store(&o->deleted, 1);
    s->owner = new_owner(idx, g, rnd_mask(w, g));
    atomic_fetch_add(&S.moves, 1);
    insert_owner(S.tp, s, s->owner, "insert after delete");
}

/* Within the group: the mask is old | new until set_threads returned
 * (outside callbacks it waits for the leaving threads' callbacks). */
static void migrate(struct worker *w, struct slot *s, int idx)
{
    struct owner *o = s->owner;
    tpoll_mask_t m = rnd_mask(w, o->group);

    atomic_fetch_or(&o->mask, m);
    expect(tpoll_fd_set_threads(S.tp, s->fd, m), 0, "set_threads", idx);
    atomic_store(&o->mask, m);
    atomic_fetch_add(&S.migrations, 1);
}

static void write_some(struct worker *w, struct slot *s)
{
    char buf[32];
    size_t n = 1 + rnd(w, sizeof(buf));
    ssize_t r;

    if (atomic_load(&s->written) - atomic_load(&s->read) > MAX_UNREAD)
        return;
    memset(buf, 'g', n);
    r = write(s->peer, buf, n);
    if (r > 0)
        atomic_fetch_add(&s->written, r);
    else if (errno != EAGAIN)
        report("write: %s", strerror(errno));
}

/* The thread leaves its id and binds it again with a new poller: its
 * releases run in the stop, and the start registers the fds again. */
static void restart(struct worker *w)
{
    int r = tpoll_thread_stop(S.tp);

    if (r != 0 || (r = tpoll_thread_start(S.tp, w->tid)) != 0)
        report("restart of tid %d: %d", w->tid, r);
    atomic_fetch_add(&S.restarts, 1);
}

static void do_op(struct worker *w)
{
    int idx = (int)rnd(w, SLOTS);
    struct slot *s = &S.slots[idx];
    unsigned op = rnd(w, 100);

    if (rnd(w, 1000) == 0) {
        restart(w);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->state) != INSERTED) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    expect(tpoll_fd_group(S.tp, s->fd), s->owner->group, "fd_group", idx);
    if (op < 50)
        write_some(w, s);
    else if (op < 60)
        expect(tpoll_stop_recv(S.tp, s->fd), 0, "stop_recv", idx);
    else if (op < 75)
        expect(tpoll_want_recv(S.tp, s->fd), 0, "want_recv", idx);
    else if (op < 87)
        migrate(w, s, idx);
    else if (op < 94)
        move_now(w, s, idx);
    else
        move_async(w, s);
    pthread_mutex_unlock(&s->mu);
}

static void wait_once(struct worker *w, int timeout)
{
    int r = tpoll_wait(S.tp, timeout);

    if (r < 0 && r != -EINTR)
        report("tpoll_wait on tid %d: %d", w->tid, r);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned long ops = 0;

    self = w;
    if (tpoll_thread_start(S.tp, w->tid) != 0)
        report("thread_start %d failed", w->tid);
    while (ops < S.max_ops && tu_now_ms() < S.end_ms &&
           !atomic_load(&S.fail.failed)) {
        do_op(w);
        ops++;
        wait_once(w, (int)rnd(w, 2));
    }
    atomic_fetch_add(&S.ops, ops);
    tu_event_post(&S.done);
    while (atomic_load(&S.phase) < 2)
        wait_once(w, -1);
    if (tpoll_thread_stop(S.tp) != 0)
        report("thread_stop %d failed", w->tid);
    return NULL;
}

static int moving(struct slot *s)
{
    return atomic_load(&s->state) == MOVING;
}

static int unread(struct slot *s)
{
    return atomic_load(&s->read) < atomic_load(&s->written);
}

/* Waits until busy() holds for no slot; 1 on success. */
static int settle(int (*busy)(struct slot *))
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;
    int i;

    for (i = 0; i < SLOTS && !atomic_load(&S.fail.failed);) {
        if (!busy(&S.slots[i])) {
            i++;
            continue;
        }
        if (tu_now_ms() > end)
            return 0;
        sched_yield();
    }
    return 1;
}

static void wake_all(void)
{
    int g, k;

    for (g = 0; g < GROUPS; g++)
        for (k = 0; k < PER_GROUP; k++)
            tpoll_wake(S.tp, S.started[g][k]);
}

/* Everything wants recv again and one more byte goes to every fd: all
 * bytes arrive, each fd on a thread of its group. */
static void check_nothing_lost(void)
{
    int i;

    if (!settle(moving))
        report("a release never ran");
    for (i = 0; i < SLOTS; i++) {
        struct slot *s = &S.slots[i];

        pthread_mutex_lock(&s->mu);
        expect(tpoll_want_recv(S.tp, s->fd), 0, "final want_recv", i);
        write_some(&(struct worker){.rng = (uint64_t)i}, s);
        pthread_mutex_unlock(&s->mu);
    }
    if (settle(unread))
        return;
    for (i = 0; i < SLOTS && !atomic_load(&S.fail.failed); i++) {
        struct slot *s = &S.slots[i];

        if (unread(s))
            report("slot %d fd %d: %ld bytes never read (group %d mask %#lx, "
                   "interest %d)",
                   i, s->fd, atomic_load(&s->written) - atomic_load(&s->read),
                   s->owner->group, (unsigned long)atomic_load(&s->owner->mask),
                   tpoll_fd_interest(S.tp, s->fd));
    }
}

static int count_visit(struct tpoll *tp, int fd, void *owner, void *arg)
{
    struct owner *o = owner;
    int *group = arg;

    (void)tp;
    if (o == NULL || o->fd != fd || S.slots[o->slot].owner != o ||
        o->group != *group)
        report("visit of group %d found fd %d with a wrong owner", *group, fd);
    else
        S.visits[o->slot]++;
    return 0;
}

/* A visit racing with moves may see an fd or not, but what it shows of
 * one is an insert of that fd in the group visited. */
static int racing_visit(struct tpoll *tp, int fd, void *owner, void *arg)
{
    struct owner *o = owner;
    int *group = arg;

    (void)tp;
    if (o == NULL || o->fd != fd || o->group != *group)
        report("visit of group %d during moves found fd %d with the owner "
               "of fd %d in group %d",
               *group, fd, o ? o->fd : -1, o ? o->group : -1);
    return 0;
}

static void visit_while_workers_run(void)
{
    int g;

    while (tu_event_count(&S.done) < WORKERS) {
        for (g = 0; g < GROUPS; g++)
            expect(tpoll_fd_visit_group(S.tp, g, ~(tpoll_mask_t)0, racing_visit,
                                        &g),
                   0, "visit_group", -1);
        atomic_fetch_add(&S.visit_rounds, 1);
        sched_yield();
    }
}

/* Each fd is visited once, in the group of its current insert. */
static void check_visits(void)
{
    int g, i;

    for (g = 0; g < GROUPS; g++)
        expect(tpoll_fd_visit_group(S.tp, g, ~(tpoll_mask_t)0, count_visit, &g),
               0, "visit_group", -1);
    for (i = 0; i < SLOTS; i++)
        if (S.visits[i] != 1)
            report("slot %d visited %d times", i, S.visits[i]);
}

static void check_releases(void)
{
    struct owner *o;

    for (o = S.owners; o != NULL; o = o->all)
        if (atomic_load(&o->release_calls) != o->async)
            report("fd %d (slot %d): %d releases for %d async deletes", o->fd,
                   o->slot, atomic_load(&o->release_calls), o->async);
}

/* Thread ids 0, 1, the middle and the last of each group. */
static void choose_threads(void)
{
    int g, k;

    for (g = 0; g < GROUPS; g++) {
        int n = ids_in(g);
        int bits[PER_GROUP] = {0, 1, n / 2, n - 1};

        for (k = 0; k < PER_GROUP; k++)
            S.started[g][k] = TPOLL_TID(g, bits[k]);
    }
}

static void start_workers(struct worker *w)
{
    int g, k, i = 0;

    for (g = 0; g < GROUPS; g++) {
        for (k = 0; k < PER_GROUP; k++) {
            w[i].tid = S.started[g][k];
            w[i].rng = (S.seed + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)i;
            assert_int_equal(
                pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
            i++;
        }
    }
}

static void setup_slots(void)
{
    int i;

    for (i = 0; i < SLOTS; i++) {
        struct slot *s = &S.slots[i];
        int sv[2];
        int g = i % GROUPS;

        pthread_mutex_init(&s->mu, NULL);
        tu_socketpair(sv);
        s->fd = sv[0];
        s->peer = sv[1];
        s->owner = new_owner(
            i, g, TPOLL_THREAD(S.started[g][(i / GROUPS) % PER_GROUP]));
        insert_owner(S.tp, s, s->owner, "first insert");
        atomic_store(&s->state, INSERTED);
    }
}

static void teardown_slots(void)
{
    int i;

    for (i = 0; i < SLOTS; i++) {
        struct slot *s = &S.slots[i];

        if (atomic_load(&s->state) == INSERTED)
            expect(tpoll_fd_delete(S.tp, s->fd), 0, "final delete", i);
        close(s->fd);
        close(s->peer);
        pthread_mutex_destroy(&s->mu);
    }
    while (S.owners != NULL) {
        struct owner *o = S.owners;

        S.owners = o->all;
        free(o);
    }
}

static void test_groups_stress(void **state)
{
    struct worker w[WORKERS];
    int fds_before = tu_count_open_fds(), k;

    (void)state;
    memset(&S, 0, sizeof(S));
    S.seed = tu_env_ulong("TPOLL_STRESS_SEED", 0x6e0c95);
    S.max_ops = tu_env_ulong("TPOLL_STRESS_OPS", 20000);
    S.flags = tu_env_ulong("TPOLL_STRESS_EDGE", 0) ? TPOLL_FD_EDGE : 0;
    S.threads = (GROUPS - 1) * TPOLL_MAX_THREADS + TPOLL_MAX_THREADS / 2;
    pthread_mutex_init(&S.all_mu, NULL);
    S.tp = tu_create(S.threads, 0);
    tu_event_init(&S.done);
    choose_threads();
    setup_slots();
    S.end_ms = tu_now_ms() + 1000 * tu_env_ulong("TPOLL_STRESS_SECONDS", 2);
    start_workers(w);
    visit_while_workers_run();
    atomic_store(&S.phase, 1);
    check_nothing_lost();
    check_visits();
    atomic_store(&S.phase, 2);
    wake_all();
    for (k = 0; k < WORKERS; k++)
        assert_int_equal(pthread_join(w[k].thread, NULL), 0);
    check_releases();
    teardown_slots();
    tu_destroy(S.tp);
    pthread_mutex_destroy(&S.all_mu);
    tu_event_destroy(&S.done);
    if (atomic_load(&S.fail.failed))
        fail_msg("groups stress failed (TPOLL_STRESS_SEED=%lu, backend %s): "
                 "%s",
                 S.seed, tu_backend(), S.fail.text);
    print_message("seed %lu%s: %lu ops, %lu callbacks, %lu moves across "
                  "groups (%lu from callbacks), %lu migrations, %lu thread "
                  "restarts, %lu visit rounds\n",
                  S.seed, S.flags ? " (edge)" : "", atomic_load(&S.ops),
                  atomic_load(&S.callbacks), atomic_load(&S.moves),
                  atomic_load(&S.cb_moves), atomic_load(&S.migrations),
                  atomic_load(&S.restarts), atomic_load(&S.visit_rounds));
    assert_true(atomic_load(&S.moves) > 0);
    assert_int_equal(tu_count_open_fds(), fds_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_stress),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
