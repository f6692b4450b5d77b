/* SPDX-License-Identifier: MIT */
/*
 * Multi-thread stress against a model. T bound threads (2..8) each run a
 * seeded random sequence of operations on shared socketpairs: insert,
 * want/stop recv/send, migrate, delete (often an fd another thread polls),
 * close and immediately reopen the same number, wake, and writes into the
 * peers; between operations they run tpoll_wait. The model is what the
 * callbacks check as they run and what the end checks:
 *
 * - every byte written is eventually read (no lost readiness);
 * - no callback starts after its fd's delete returned (0, or any return
 *   of tpoll_fd_delete_wait), none runs after its release callback, and
 *   the release of each tpoll_fd_delete_async runs exactly once, never
 *   while a callback of that fd runs; no callback with the owner of a
 *   previous user of the number (each insert has its own owner record);
 * - callbacks only run on threads in the fd's mask, and a single-thread
 *   mask's callback never overlaps itself (checked when no migration
 *   raced the wait that dispatched it);
 * - once everything is read, idle threads stay asleep (their loop counts
 *   do not move), and a deleted and closed fd's peer sees end-of-file at
 *   once although every thread sleeps in its poller;
 * - no fd is leaked and (under ASan) no memory.
 *
 * Environment: TPOLL_STRESS_SEED (printed on failure), TPOLL_STRESS_THREADS
 * (default 4), TPOLL_STRESS_SECONDS (default 2), TPOLL_STRESS_OPS (per
 * thread, default 20000): the run stops at whichever bound comes first.
 * TPOLL_STRESS_EDGE=1 inserts every fd with TPOLL_FD_EDGE (the callbacks
 * read until EAGAIN, as edge triggering asks): no byte may be lost then
 * either, though readiness is told once per edge.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define MAX_THREADS 8
#define SLOTS_PER_THREAD 6
#define MAX_SLOTS (MAX_THREADS * SLOTS_PER_THREAD)
#define MAX_FDS 1024
#define MAX_UNREAD 8192

/* One socketpair's lifetime: bytes in and out of it. */
struct pairgen {
    atomic_long written;
    atomic_long read;
    struct pairgen *next_all;
};

/* One insert's owner: never reused, freed at the end. */
struct owner {
    int fd;
    int slot;
    struct pairgen *pg;
    atomic_int deleting; /* a delete began: a callback still running may
                          * find the peer closed (reopen) */
    atomic_int deleted;  /* no callback may start any more */
    atomic_int async;    /* deleted with tpoll_fd_delete_async */
    atomic_int released; /* its release callback ran */
    atomic_int release_calls;
    atomic_int running;
    atomic_ulong mask; /* mask since the last completed insert/migration */
    struct owner *next_all;
};

struct slot {
    pthread_mutex_t mu;
    int fd;   /* inserted end */
    int peer; /* written end */
    int inserted;
    unsigned interest;
    struct owner *owner;
    struct owner *gone; /* the last owner deleted */
    struct pairgen *pg;
};

struct stress {
    struct tpoll *tp;
    int nthreads;
    int nslots;
    unsigned long seed;
    uint64_t end_ms;
    unsigned long max_ops;
    unsigned insert_flags; /* TPOLL_FD_EDGE or 0 */
    atomic_int phase;      /* 0 run, 1 drain, 2 idle (block), 3 stop */
    atomic_int ready;
    atomic_int done; /* workers through with their operations */
    /* Odd while a migration is in flight; bumped around each one. */
    atomic_ulong migrations;
    struct tu_failure fail;
    pthread_mutex_t all_mu;
    struct owner *owners;
    struct pairgen *pgs;
    struct slot slots[MAX_SLOTS];
    atomic_ulong ops, callbacks, strict_checks, cb_ops;
};

static struct stress S;

struct worker {
    int tid;
    pthread_t thread;
    uint64_t rng;
};

static _Thread_local struct worker *self_worker;
/* Value of S.migrations when this thread's current wait began. */
static _Thread_local unsigned long wait_epoch;

#define report(...) tu_failure_set(&S.fail, __VA_ARGS__)

static uint64_t rnd(struct worker *w)
{
    /* xorshift64*: reproducible per thread from the seed. */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 2685821657736338717ull;
}

static unsigned rnd_below(struct worker *w, unsigned n)
{
    return (unsigned)(rnd(w) >> 33) % n;
}

static tpoll_mask_t rnd_mask(struct worker *w)
{
    tpoll_mask_t all = TPOLL_THREAD(S.nthreads) - 1;
    tpoll_mask_t m;

    /* Mostly one thread, the case with the exclusivity guarantee. */
    if (rnd_below(w, 3) != 0)
        return TPOLL_THREAD(rnd_below(w, (unsigned)S.nthreads));
    m = (tpoll_mask_t)rnd(w) & all;
    return m ? m : 1;
}

static struct pairgen *new_pairgen(void)
{
    struct pairgen *pg = calloc(1, sizeof(*pg));

    if (pg == NULL)
        abort();
    pthread_mutex_lock(&S.all_mu);
    pg->next_all = S.pgs;
    S.pgs = pg;
    pthread_mutex_unlock(&S.all_mu);
    return pg;
}

static struct owner *new_owner(struct slot *s, int idx, tpoll_mask_t mask)
{
    struct owner *o = calloc(1, sizeof(*o));

    if (o == NULL)
        abort();
    o->fd = s->fd;
    o->slot = idx;
    o->pg = s->pg;
    atomic_store(&o->mask, mask);
    pthread_mutex_lock(&S.all_mu);
    o->next_all = S.owners;
    S.owners = o;
    pthread_mutex_unlock(&S.all_mu);
    return o;
}

static void read_all(struct owner *o, int fd)
{
    char buf[4096];
    ssize_t r;

    while ((r = read(fd, buf, sizeof(buf))) > 0)
        atomic_fetch_add(&o->pg->read, r);
    if (r == 0 && !atomic_load(&o->deleting))
        report("fd %d (slot %d): unexpected EOF", fd, o->slot);
}

static void cb_own_op(struct worker *w, struct owner *o);

static void stress_cb(struct tpoll *tp, int fd, unsigned events, void *arg)
{
    struct owner *o = arg;
    struct worker *w = self_worker;
    tpoll_mask_t bit, mask;
    int others;

    atomic_fetch_add(&S.callbacks, 1);
    others = atomic_fetch_add(&o->running, 1);
    if (w == NULL || tpoll_thread_id(tp) != w->tid)
        report("callback on an unbound thread");
    if (atomic_load(&o->deleted))
        report("callback for fd %d (slot %d) after its delete returned", fd,
               o->slot);
    if (atomic_load(&o->released))
        report("callback for fd %d (slot %d) after its release", fd, o->slot);
    if (fd != o->fd)
        report("callback for fd %d with the owner of fd %d", fd, o->fd);
    if (events == 0 || (events & ~(TPOLL_RECV | TPOLL_SEND | TPOLL_HUP |
                                   TPOLL_ERR | TPOLL_RDHUP | TPOLL_WRHUP)))
        report("fd %d: bad events %#x", fd, events);
    if (tu_conditions_broken(events) != NULL)
        report("fd %d: events %#x: %s", fd, events,
               tu_conditions_broken(events));
    bit = TPOLL_THREAD(w ? w->tid : 0);
    mask = atomic_load(&o->mask);
    /* Only a wait that no migration raced gives an exact answer. */
    if (atomic_load(&S.migrations) == wait_epoch && !(wait_epoch & 1)) {
        atomic_fetch_add(&S.strict_checks, 1);
        if (!(mask & bit))
            report("fd %d: callback on tid %d outside mask %#lx", fd,
                   w ? w->tid : -1, mask);
        if (others != 0 && (mask & (mask - 1)) == 0)
            report("fd %d: callback overlaps itself with mask %#lx", fd, mask);
    }
    if (events & TPOLL_RECV)
        read_all(o, fd);
    if (events & TPOLL_SEND) {
        int r = tpoll_stop_send(tp, fd);

        if (r != 0 && r != -ENOENT)
            report("stop_send from callback: %d", r);
    }
    if (w != NULL && rnd_below(w, 8) == 0)
        cb_own_op(w, o);
    atomic_fetch_sub(&o->running, 1);
}

static void expect(int got, int want, const char *what, int slot)
{
    if (got != want)
        report("%s on slot %d returned %d, model says %d", what, slot, got,
               want);
}

static void stress_release(struct tpoll *tp, int fd, void *arg)
{
    struct owner *o = arg;

    (void)tp;
    if (fd != o->fd)
        report("release for fd %d with the owner of fd %d", fd, o->fd);
    if (!atomic_load(&o->async))
        report("release of fd %d, never deleted with a release", fd);
    if (atomic_load(&o->running) != 0)
        report("release of fd %d while its callback runs", fd);
    if (atomic_fetch_add(&o->release_calls, 1) != 0)
        report("second release of fd %d", fd);
    atomic_store(&o->released, 1);
}

/*
 * One of the three deletes. Plain: 0 promises no callback runs elsewhere
 * (from inside the fd's own callback, that one does not count); 1 that
 * one still may. Wait (outside callbacks only): returns once none runs.
 * Async: the release says so.
 */
static void delete_one(struct worker *w, struct slot *s, int idx, int in_cb)
{
    struct owner *o = s->owner;
    unsigned how = rnd_below(w, 3);
    int r;

    atomic_store(&o->deleting, 1);
    /* In a callback the waiting delete refuses and deletes nothing. */
    if (how == 1 && in_cb) {
        expect(tpoll_fd_delete_wait(S.tp, s->fd), -EDEADLK,
               "delete_wait in callback", idx);
        how = 2;
    }
    switch (how) {
    case 0:
        r = tpoll_fd_delete(S.tp, s->fd);
        if (r != 0 && r != 1)
            report("delete on slot %d: %d", idx, r);
        if (r == 0)
            atomic_store(&o->deleted, 1);
        break;
    case 1:
        expect(tpoll_fd_delete_wait(S.tp, s->fd), 0, "delete_wait", idx);
        atomic_store(&o->deleted, 1);
        break;
    default:
        atomic_store(&o->async, 1);
        expect(tpoll_fd_delete_async(S.tp, s->fd, stress_release), 0,
               "delete_async", idx);
        break;
    }
    s->inserted = 0;
    s->gone = o;
    s->owner = NULL;
}

/* No callback of the slot's last owner may run any more: its delete said
 * so (returned 0, or waited), or its release ran. Only then may the
 * number name another file: a callback still running reads it. */
static int settled(const struct slot *s)
{
    return s->gone == NULL || atomic_load(&s->gone->deleted) ||
           atomic_load(&s->gone->released);
}

static void op_insert(struct worker *w, struct slot *s, int idx)
{
    tpoll_mask_t m = rnd_mask(w);

    if (s->inserted) {
        expect(tpoll_fd_insert_flags(S.tp, s->fd, stress_cb, s->owner, m,
                                     S.insert_flags),
               -EEXIST, "insert", idx);
        return;
    }
    s->owner = new_owner(s, idx, m);
    expect(tpoll_fd_insert_flags(S.tp, s->fd, stress_cb, s->owner, m,
                                 S.insert_flags),
           0, "insert", idx);
    s->inserted = 1;
    s->interest = 0;
    /* Almost always read what arrives, so bytes do not pile up. */
    if (rnd_below(w, 8) != 0) {
        expect(tpoll_want_recv(S.tp, s->fd), 0, "want_recv", idx);
        s->interest |= TPOLL_RECV;
    }
}

static void op_delete(struct worker *w, struct slot *s, int idx)
{
    if (!s->inserted) {
        expect(tpoll_fd_delete(S.tp, s->fd), -ENOENT, "delete", idx);
        return;
    }
    delete_one(w, s, idx, 0);
}

static void op_interest(struct worker *w, struct slot *s, int idx)
{
    unsigned which = rnd_below(w, 4);
    int want = s->inserted ? 0 : -ENOENT;

    switch (which) {
    case 0:
        expect(tpoll_want_recv(S.tp, s->fd), want, "want_recv", idx);
        break;
    case 1:
        expect(tpoll_stop_recv(S.tp, s->fd), want, "stop_recv", idx);
        break;
    case 2:
        expect(tpoll_want_send(S.tp, s->fd), want, "want_send", idx);
        break;
    default:
        /* The callback stops send itself; the model does not track it. */
        expect(tpoll_stop_send(S.tp, s->fd), want, "stop_send", idx);
        break;
    }
    if (s->inserted && which == 0)
        s->interest |= TPOLL_RECV;
    if (s->inserted && which == 1)
        s->interest &= ~TPOLL_RECV;
    if (s->inserted) {
        int got = tpoll_fd_interest(S.tp, s->fd);

        if (got < 0 || ((unsigned)got & TPOLL_RECV) != s->interest)
            report("slot %d: interest %d, model recv %#x", idx, got,
                   s->interest);
    }
}

/* Outside callbacks set_threads waits for callbacks on leaving threads
 * (0); inside one it does not, and says 1 when one may still run. */
static void op_migrate(struct worker *w, struct slot *s, int idx, int in_cb)
{
    tpoll_mask_t m = rnd_mask(w);
    int r;

    if (!s->inserted) {
        expect(tpoll_fd_set_threads(S.tp, s->fd, m), -ENOENT, "set_threads",
               idx);
        return;
    }
    atomic_fetch_add(&S.migrations, 1);
    atomic_store(&s->owner->mask, m | atomic_load(&s->owner->mask));
    r = tpoll_fd_set_threads(S.tp, s->fd, m);
    if (r != 0 && !(in_cb && r == 1))
        report("set_threads on slot %d returned %d", idx, r);
    atomic_store(&s->owner->mask, m);
    atomic_fetch_add(&S.migrations, 1);
}

/* From inside the fd's own callback: delete it, migrate it or flip its
 * interest. Only with the slot's lock free: a thread holding it may be
 * inside a delete that waits for this very callback. */
static void cb_own_op(struct worker *w, struct owner *o)
{
    struct slot *s = &S.slots[o->slot];

    if (pthread_mutex_trylock(&s->mu) != 0)
        return;
    /* Checked under the lock: the drain re-arms each slot under it. */
    if (s->owner != o || atomic_load(&S.phase) != 0) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    atomic_fetch_add(&S.cb_ops, 1);
    switch (rnd_below(w, 3)) {
    case 0:
        delete_one(w, s, o->slot, 1);
        break;
    case 1:
        op_migrate(w, s, o->slot, 1);
        break;
    default:
        expect(tpoll_stop_recv(S.tp, s->fd), 0, "stop_recv in callback",
               o->slot);
        expect(tpoll_want_recv(S.tp, s->fd), 0, "want_recv in callback",
               o->slot);
        s->interest |= TPOLL_RECV;
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

static void op_write(struct worker *w, struct slot *s)
{
    char buf[64];
    long unread = atomic_load(&s->pg->written) - atomic_load(&s->pg->read);
    size_t n = 1 + rnd_below(w, sizeof(buf));
    ssize_t r;

    if (unread > MAX_UNREAD)
        return;
    memset(buf, 'w', n);
    r = write(s->peer, buf, n);
    if (r > 0)
        atomic_fetch_add(&s->pg->written, r);
    else if (errno != EAGAIN)
        report("write: %s", strerror(errno));
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        report("fcntl: %s", strerror(errno));
}

/* Close, and at once give the same number to a new socket, once no
 * callback of its last user can be running (else skipped: that callback
 * would read the new socket, still blocking, and hang). */
static void op_reopen(struct worker *w, struct slot *s, int idx)
{
    int sv[2];

    if (s->inserted)
        op_delete(w, s, idx);
    if (!settled(s))
        return;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        report("socketpair: %s", strerror(errno));
        return;
    }
    close(s->peer);
    /* dup2 closes the old socket and reuses its number in one step: a
     * close() first would let another thread's socketpair() take it. */
    if (dup2(sv[0], s->fd) != s->fd)
        report("dup2: %s", strerror(errno));
    close(sv[0]);
    s->peer = sv[1];
    set_nonblock(s->fd);
    set_nonblock(s->peer);
    s->pg = new_pairgen();
}

static void do_op(struct worker *w)
{
    int idx = (int)rnd_below(w, (unsigned)S.nslots);
    struct slot *s = &S.slots[idx];
    unsigned op = rnd_below(w, 100);

    if (op < 5) {
        expect(tpoll_wake(S.tp, (int)rnd_below(w, (unsigned)S.nthreads)), 0,
               "wake", idx);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (op < 20)
        op_insert(w, s, idx);
    else if (op < 30)
        op_delete(w, s, idx);
    else if (op < 45)
        op_interest(w, s, idx);
    else if (op < 55)
        op_migrate(w, s, idx, 0);
    else if (op < 60)
        op_reopen(w, s, idx);
    else
        op_write(w, s);
    pthread_mutex_unlock(&s->mu);
}

static void wait_once(struct worker *w, int idle)
{
    int r;

    wait_epoch = atomic_load(&S.migrations);
    r = tpoll_wait(S.tp, idle || rnd_below(w, 4) == 0 ? 2 : 0);
    if (r < 0 && r != -EINTR)
        report("tpoll_wait on tid %d: %d", w->tid, r);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned long ops = 0;

    self_worker = w;
    if (tpoll_thread_start(S.tp, w->tid) != 0)
        report("thread_start %d failed", w->tid);
    atomic_fetch_add(&S.ready, 1);
    while (atomic_load(&S.ready) < S.nthreads)
        sched_yield();
    while (ops < S.max_ops && tu_now_ms() < S.end_ms &&
           !atomic_load(&S.fail.failed)) {
        do_op(w);
        ops++;
        wait_once(w, 0);
    }
    atomic_fetch_add(&S.ops, ops);
    atomic_fetch_add(&S.done, 1);
    /* Keep serving callbacks while the main thread drains; then block
     * until told to stop (tpoll_wake), for the idle checks. */
    while (atomic_load(&S.phase) < 2)
        wait_once(w, 1);
    while (atomic_load(&S.phase) < 3) {
        int r = tpoll_wait(S.tp, -1);

        if (r < 0 && r != -EINTR)
            report("tpoll_wait on tid %d: %d", w->tid, r);
    }
    if (tpoll_thread_stop(S.tp) != 0)
        report("thread_stop %d failed", w->tid);
    return NULL;
}

static long unread_bytes(int *worst)
{
    long total = 0, most = 0;
    int i;

    for (i = 0; i < S.nslots; i++) {
        struct pairgen *pg = S.slots[i].pg;
        long u = atomic_load(&pg->written) - atomic_load(&pg->read);

        total += u;
        if (u > most) {
            most = u;
            *worst = i;
        }
    }
    return total;
}

/* Every slot inserted with recv interest: all written bytes must arrive. */
static void drain_all(void)
{
    uint64_t end;
    int i, worst = -1;
    long left;

    for (i = 0; i < S.nslots; i++) {
        struct slot *s = &S.slots[i];

        pthread_mutex_lock(&s->mu);
        if (!s->inserted) {
            s->owner = new_owner(s, i, TPOLL_THREAD(i % S.nthreads));
            expect(tpoll_fd_insert_flags(S.tp, s->fd, stress_cb, s->owner,
                                         TPOLL_THREAD(i % S.nthreads),
                                         S.insert_flags),
                   0, "final insert", i);
            s->inserted = 1;
        }
        expect(tpoll_want_recv(S.tp, s->fd), 0, "final want_recv", i);
        s->interest |= TPOLL_RECV;
        pthread_mutex_unlock(&s->mu);
    }
    end = tu_now_ms() + TU_DEADLINE_MS;
    while ((left = unread_bytes(&worst)) > 0 && tu_now_ms() < end)
        sched_yield();
    if (left > 0)
        report("lost readiness: %ld bytes never read (slot %d fd %d: %ld, "
               "interest %d)",
               left, worst, S.slots[worst].fd,
               atomic_load(&S.slots[worst].pg->written) -
                   atomic_load(&S.slots[worst].pg->read),
               tpoll_fd_interest(S.tp, S.slots[worst].fd));
}

static uint64_t loops_of(int tid)
{
    struct tpoll_counters c;

    if (tpoll_thread_counters(S.tp, tid, &c) != 0)
        report("counters of %d", tid);
    return c.loops;
}

/* Everything is read and nothing is ready: the threads, now blocking in
 * their pollers, must not loop (a thread polling a closed number, or a
 * wake-up never consumed, would spin). A short settling time lets each
 * finish the timed wait it was in. */
static void check_idle(void)
{
    struct timespec settle = {0, 20000000}, window = {0, 200000000};
    uint64_t before[MAX_THREADS];
    int i;

    nanosleep(&settle, NULL);
    for (i = 0; i < S.nthreads; i++)
        before[i] = loops_of(i);
    nanosleep(&window, NULL);
    for (i = 0; i < S.nthreads; i++) {
        uint64_t n = loops_of(i) - before[i];

        if (n > 2)
            report("idle thread %d looped %llu times in 200 ms", i,
                   (unsigned long long)n);
    }
}

/* With every thread asleep in its poller, delete and close each fd: its
 * peer sees end-of-file at once (poll() and select() hold the files they
 * watch until they return: delete must wake them). */
static void close_all_with_eof(void)
{
    int i;

    for (i = 0; i < S.nslots; i++) {
        struct slot *s = &S.slots[i];
        struct pollfd p = {.fd = s->peer, .events = POLLIN};
        char c;

        if (s->inserted) {
            expect(tpoll_fd_delete(S.tp, s->fd), 0, "idle delete", i);
            s->inserted = 0;
        }
        close(s->fd);
        s->fd = -1;
        if (poll(&p, 1, TU_DEADLINE_MS) != 1 || read(s->peer, &c, 1) != 0)
            report("slot %d: peer saw no end-of-file after delete + close", i);
    }
}

/* Every delete with a release was released exactly once; no other. */
static void check_releases(void)
{
    struct owner *o;

    for (o = S.owners; o != NULL; o = o->next_all)
        if (atomic_load(&o->release_calls) != atomic_load(&o->async))
            report("fd %d (slot %d): %d releases for %d async deletes", o->fd,
                   o->slot, atomic_load(&o->release_calls),
                   atomic_load(&o->async));
}

static void free_all(void)
{
    while (S.owners != NULL) {
        struct owner *o = S.owners;

        S.owners = o->next_all;
        free(o);
    }
    while (S.pgs != NULL) {
        struct pairgen *pg = S.pgs;

        S.pgs = pg->next_all;
        free(pg);
    }
}

static void test_stress(void **state)
{
    struct worker workers[MAX_THREADS];
    int fds_before = tu_count_open_fds(), i;
    unsigned long seconds;

    (void)state;
    memset(&S, 0, sizeof(S));
    S.seed = tu_env_ulong("TPOLL_STRESS_SEED", 0x7a11c0de);
    S.nthreads = (int)tu_env_ulong("TPOLL_STRESS_THREADS", 4);
    if (S.nthreads < 2 || S.nthreads > MAX_THREADS)
        fail_msg("TPOLL_STRESS_THREADS must be 2..%d", MAX_THREADS);
    seconds = tu_env_ulong("TPOLL_STRESS_SECONDS", 2);
    S.max_ops = tu_env_ulong("TPOLL_STRESS_OPS", 20000);
    S.insert_flags = tu_env_ulong("TPOLL_STRESS_EDGE", 0) ? TPOLL_FD_EDGE : 0;
    S.nslots = S.nthreads * SLOTS_PER_THREAD;
    pthread_mutex_init(&S.all_mu, NULL);
    S.tp = tu_create(S.nthreads, MAX_FDS);
    for (i = 0; i < S.nslots; i++) {
        int sv[2];

        pthread_mutex_init(&S.slots[i].mu, NULL);
        tu_socketpair(sv);
        S.slots[i].fd = sv[0];
        S.slots[i].peer = sv[1];
        S.slots[i].pg = new_pairgen();
    }
    S.end_ms = tu_now_ms() + seconds * 1000;
    for (i = 0; i < S.nthreads; i++) {
        workers[i].tid = i;
        workers[i].rng = (S.seed + 1) * 0x9e3779b97f4a7c15ull ^
                         (uint64_t)(i + 1) * 0xbf58476d1ce4e5b9ull;
        if (workers[i].rng == 0)
            workers[i].rng = 1;
        assert_int_equal(
            pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]),
            0);
    }
    /* Workers stop at their op or time budget; then drain and check. */
    while (atomic_load(&S.done) < S.nthreads) {
        struct timespec ts = {0, 5000000};

        nanosleep(&ts, NULL);
    }
    atomic_store(&S.phase, 1);
    if (!atomic_load(&S.fail.failed))
        drain_all();
    atomic_store(&S.phase, 2);
    if (!atomic_load(&S.fail.failed)) {
        check_idle();
        close_all_with_eof();
    }
    atomic_store(&S.phase, 3);
    for (i = 0; i < S.nthreads; i++)
        tpoll_wake(S.tp, i);
    for (i = 0; i < S.nthreads; i++)
        assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
    for (i = 0; i < S.nslots; i++) {
        struct slot *s = &S.slots[i];

        if (s->inserted)
            expect(tpoll_fd_delete(S.tp, s->fd), 0, "final delete", i);
        if (s->fd >= 0)
            close(s->fd);
        close(s->peer);
        pthread_mutex_destroy(&s->mu);
    }
    check_releases();
    tu_destroy(S.tp);
    free_all();
    pthread_mutex_destroy(&S.all_mu);
    if (atomic_load(&S.fail.failed))
        fail_msg("stress failed (TPOLL_STRESS_SEED=%lu TPOLL_STRESS_THREADS=%d"
                 " backend %s): %s",
                 S.seed, S.nthreads, tu_backend(), S.fail.text);
    print_message("seed %lu, %d threads, %lu ops (%lu from callbacks), %lu "
                  "callbacks, %lu strict checks\n",
                  S.seed, S.nthreads, atomic_load(&S.ops),
                  atomic_load(&S.cb_ops), atomic_load(&S.callbacks),
                  atomic_load(&S.strict_checks));
    assert_true(atomic_load(&S.callbacks) > 0);
    assert_true(atomic_load(&S.strict_checks) > 0);
    assert_int_equal(tu_count_open_fds(), fds_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
