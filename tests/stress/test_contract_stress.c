/* SPDX-License-Identifier: MIT */
/*
 * Contract stress: written from include/tpoll.h, docs/contract.md,
 * docs/guide.md and the man pages alone, without reading the core. It
 * plays what a program does with tpoll and checks, as things happen, each
 * promise those documents make that a program can observe.
 *
 * The program: NSLOTS connections (socketpairs; the library polls one end,
 * "clients" write into the other). Four loop threads (thread ids 0..3)
 * run tpoll_wait(-1); thread id 4 exists but is never bound. Connections
 * are pinned (one-thread mask) except the first NSHARED, which get masks
 * of several threads, like a shared listener. Actors:
 *
 * - callbacks read a random amount (level-triggered: the rest must come
 *   back), forward bytes to other connections (a proxy), stop their own
 *   recv interest (back-pressure), want send and stop it when told they
 *   can write, accept new connections and hand them to a worker with
 *   tpoll_fd_set_threads, migrate or delete their own fd or another one
 *   (plain, async with the close done at once or in the release, and
 *   delete_wait, which must refuse there), and call what must be -EBUSY;
 * - a timer thread, bound to nothing, closes connections (an idle-timeout
 *   sweep) with the three deletes, moves them between threads (a
 *   balancer) and resumes back-pressured ones;
 * - a client thread writes into the connections;
 * - the loop threads, between waits, delete and migrate too, and now and
 *   then stop and restart (or hand their thread id to a new OS thread);
 * - the main thread checks tpoll_wake on each loop thread (every wait is
 *   unbounded, so a lost wake-up hangs and fails) and on the unbound id.
 *
 * A number is reused at once after a delete (dup2 of a new socket onto it,
 * then insert); a callback still running for the old user touches the fd
 * only under its connection's lock, as a program has to.
 *
 * Checked, each from a sentence of the contract:
 * - the release of each tpoll_fd_delete_async runs exactly once, with the
 *   owner and fd of that insert, never while a callback of that fd runs,
 *   inside the call or else on a loop thread; from a bound thread it is in
 *   callback context (tpoll_wait is -EBUSY); none for the other deletes.
 *   (A release on a thread outside every mask of that insert is counted,
 *   not failed: the core also waits for a thread that only looked at a
 *   stale event of the number, and "a thread still using the fd" can be
 *   read that way);
 * - no callback starts once tpoll_fd_delete returned 0, once
 *   tpoll_fd_delete_wait returned, once the release ran; at those points
 *   no callback of the fd is running (one still running when delete
 *   returned 1, or before the release, is allowed);
 * - tpoll_fd_delete_wait in a callback is -EDEADLK and the fd stays
 *   inserted with its interest (a plain delete from the fd's own callback
 *   with a one-thread mask returning 1, which the guide says it does not,
 *   is counted: the contract's "1 when one may" allows it);
 * - tpoll_fd_set_threads outside callbacks returns 0, and then no callback
 *   of the fd runs on a leaving thread or starts there; inside callbacks
 *   0 or 1, and after 0 the same holds; callbacks run only on threads of
 *   the fd's mask (after a migration that returned 1 the leavers stay
 *   allowed, since a callback already started there may still begin);
 * - the callback of an fd whose mask always named one thread never runs
 *   on two threads at once, also across migrations;
 * - events are a non-empty set of RECV/SEND (HUP/ERR only with one of
 *   them) and SEND only for an fd that wanted it; tpoll_fd_interest is
 *   what the program asked;
 * - every byte written is read (level-triggered, nothing lost), also
 *   across migrations, restarts and interest changes;
 * - once quiet, loop threads stay asleep (loops counter still) and a
 *   deleted, closed socket's peer sees EOF at once while they sleep, for
 *   each of the three deletes;
 * - tpoll_thread_stop/start succeed while others delete and migrate the
 *   thread's fds; insert after a delete of the number succeeds;
 * - no fd is left open at the end, no memory (ASan).
 *
 * Edge-triggered mode (TPOLL_CSTRESS_EDGE=1): every fd is inserted with
 * TPOLL_FD_EDGE. A callback then reads until EAGAIN, or reads a random
 * amount and calls tpoll_fd_ready(TPOLL_RECV) for what it may have left,
 * as the contract asks; one that keeps send wanted without writing calls
 * tpoll_fd_ready(TPOLL_SEND). The same checks hold: every byte is read
 * (readiness seen while recv was stopped is told at the want), and quiet
 * threads sleep. tpoll_fd_close is a fifth delete there and in the level
 * mode alike: the release runs once, with the number closed by tpoll.
 *
 * Environment: TPOLL_CSTRESS_SEED (printed at the start and on failure),
 * TPOLL_CSTRESS_SECONDS (default 2), TPOLL_CSTRESS_EDGE.
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

#define NTIDS 5  /* thread ids of the instance */
#define NLOOPS 4 /* bound ones: 0..NLOOPS-1; NTIDS-1 never is */
#define NSLOTS 32
#define NSHARED 4
#define TABLE 1024
#define MAGIC 0x7e57ab1eu
#define BACKLOG 32768L
#define LOOP_BITS (TPOLL_THREAD(NLOOPS) - 1)
#define ALL_BITS (TPOLL_THREAD(NTIDS) - 1)
#define HANG_MS 20000

enum { EMPTY, LIVE, BUSY, RETIRING };
enum { RUN, DRAIN, STOP };
enum { DEL_PLAIN, DEL_ASYNC, DEL_ASYNC_LATE, DEL_WAIT, DEL_CLOSE, DEL_KINDS };

struct owner {
    unsigned magic;
    unsigned long serial;
    int slot, fd;
    int peer; /* under the slot's peer_mu */
    int shared;
    /* Under the slot's claim (state BUSY): */
    unsigned interest;
    tpoll_mask_t mask, lax;
    /* The fd's number belongs to this owner until closing is set. */
    pthread_mutex_t io;
    int closing;
    atomic_long written, readn;
    atomic_int running, running_on[NTIDS];
    atomic_ulong allowed;   /* threads a callback may start on */
    atomic_ulong ever_mask; /* every mask it had */
    atomic_int ever_send;
    atomic_int dead; /* no callback may start any more */
    atomic_int async, late_close, releases;
    atomic_int tp_closes; /* deleted with tpoll_fd_close */
    struct owner *next;
};

struct slot {
    atomic_int state;
    struct owner *cur; /* written under the claim and peer_mu */
    pthread_mutex_t peer_mu;
};

struct loop {
    int tid;
    unsigned gen;
    pthread_t thread;
    atomic_int bound, exited;
    atomic_ulong req, ack, waits;
};

static struct {
    struct tpoll *tp;
    unsigned long seed;
    int edge; /* TPOLL_CSTRESS_EDGE: every fd TPOLL_FD_EDGE */
    atomic_int phase;
    atomic_int failed;
    char failure[768];
    pthread_mutex_t owners_mu;
    struct owner *owners;
    atomic_ulong serials;
    struct slot slots[NSLOTS];
    struct loop loops[NLOOPS];
    atomic_ulong n_cb, n_rel, n_del[DEL_KINDS], n_edeadlk, n_mig, n_mig1,
        n_del1, n_reuse, n_cycles, n_respawn, n_accept, n_wake, n_fwd,
        n_rel_foreign, n_self1, n_ready, n_eagain;
} S;

/* What the calling thread is doing. */
static _Thread_local struct {
    int tid;           /* loop thread id, -1 elsewhere */
    int depth;         /* callbacks and releases of this thread on the stack */
    struct owner *cur; /* the innermost callback's owner */
    struct owner *async_for; /* inside tpoll_fd_delete_async of this one */
    int in_stop;
    uint64_t rng;
    const char *name; /* for reports */
    const char *call; /* the tpoll call this thread is in, for reports */
} ctx = {-1, 0, NULL, NULL, 0, 0, "main", ""};

static void bad(const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "contract stress [%s seed %lu]: %s\n", tu_backend(), S.seed,
            msg);
    if (!atomic_exchange(&S.failed, 1))
        snprintf(S.failure, sizeof(S.failure), "[%s seed %lu] %s", tu_backend(),
                 S.seed, msg);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void seed_thread(uint64_t who)
{
    ctx.rng = mix(S.seed * 1000003u + who) | 1;
}

static unsigned rnd(unsigned n)
{
    ctx.rng ^= ctx.rng >> 12;
    ctx.rng ^= ctx.rng << 25;
    ctx.rng ^= ctx.rng >> 27;
    return (unsigned)((ctx.rng * 2685821657736338717ull) >> 33) % n;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    nanosleep(&ts, NULL);
}

static int running(void)
{
    return atomic_load(&S.phase) == RUN && !atomic_load(&S.failed);
}

/* A one-thread mask, rarely the thread id nobody binds; or, for a shared
 * fd, any non-empty set. */
static tpoll_mask_t pick_mask(int shared)
{
    tpoll_mask_t m;

    if (!shared)
        return TPOLL_THREAD(rnd(16) == 0 ? NTIDS - 1 : (int)rnd(NLOOPS));
    m = (tpoll_mask_t)rnd(1u << NTIDS) & ALL_BITS;
    return m ? m : LOOP_BITS;
}

static struct owner *owner_new(int slot, int fd, int peer)
{
    struct owner *o = calloc(1, sizeof(*o));

    if (o == NULL)
        abort();
    o->magic = MAGIC;
    o->serial = atomic_fetch_add(&S.serials, 1);
    o->slot = slot;
    o->fd = fd;
    o->peer = peer;
    o->shared = slot < NSHARED;
    pthread_mutex_init(&o->io, NULL);
    pthread_mutex_lock(&S.owners_mu);
    o->next = S.owners;
    S.owners = o;
    pthread_mutex_unlock(&S.owners_mu);
    return o;
}

/* The claim: exclusive right to call tpoll on a slot's fd and to change
 * which owner it has. */
static struct owner *claim(int s)
{
    int want = LIVE;

    if (!atomic_compare_exchange_strong(&S.slots[s].state, &want, BUSY))
        return NULL;
    return S.slots[s].cur;
}

static int claim_empty(int s)
{
    int want = EMPTY;

    return atomic_compare_exchange_strong(&S.slots[s].state, &want, BUSY);
}

static void unclaim(int s, int state)
{
    atomic_store(&S.slots[s].state, state);
}

/* Callbacks of `o` running now, not counting the caller's own. */
static int others_running_on(struct owner *o, int t)
{
    int n = atomic_load(&o->running_on[t]);

    if (ctx.cur == o && ctx.tid == t)
        n--;
    return n;
}

static int others_running(struct owner *o)
{
    int n = 0;

    for (int t = 0; t < NTIDS; t++)
        n += others_running_on(o, t);
    return n;
}

static void check_interest(struct owner *o, const char *after)
{
    int r = tpoll_fd_interest(S.tp, o->fd);

    if (r != (int)o->interest)
        bad("fd %d (#%lu): tpoll_fd_interest is %d after %s, the program "
            "asked for %u",
            o->fd, o->serial, r, after, o->interest);
}

static void on_conn(struct tpoll *tp, int fd, unsigned ev, void *arg);
static void on_release(struct tpoll *tp, int fd, void *arg);

/* Migration under the claim; does not unclaim. */
static void migrate_claimed(struct owner *o, tpoll_mask_t nm)
{
    tpoll_mask_t old = o->mask;
    int in_cb = ctx.depth > 0;
    int r;

    /* A joining thread may start as soon as the call is underway. */
    atomic_store(&o->allowed, old | nm | o->lax);
    atomic_fetch_or(&o->ever_mask, nm);
    ctx.call = "tpoll_fd_set_threads";
    r = tpoll_fd_set_threads(S.tp, o->fd, nm);
    ctx.call = "";
    atomic_fetch_add(&S.n_mig, 1);
    if (r < 0 || r > 1 || (!in_cb && r != 0)) {
        bad("tpoll_fd_set_threads(fd %d, %#lx -> %#lx) %s a callback "
            "returned %d",
            o->fd, old, nm, in_cb ? "inside" : "outside", r);
        return;
    }
    if (r == 0) {
        for (int t = 0; t < NTIDS; t++)
            if ((old & ~nm & TPOLL_THREAD(t)) && others_running_on(o, t))
                bad("tpoll_fd_set_threads(fd %d, %#lx -> %#lx) returned 0 "
                    "%s a callback while a callback of it runs on leaving "
                    "thread %d",
                    o->fd, old, nm, in_cb ? "inside" : "outside", t);
    } else {
        atomic_fetch_add(&S.n_mig1, 1);
        o->lax |= old & ~nm;
    }
    o->mask = nm;
    atomic_store(&o->allowed, nm | o->lax);
}

/* The client side of o goes: its peer is closed, the slot has no owner. */
static void drop_peer(int s, struct owner *o)
{
    pthread_mutex_lock(&S.slots[s].peer_mu);
    close(o->peer);
    o->peer = -1;
    S.slots[s].cur = NULL;
    pthread_mutex_unlock(&S.slots[s].peer_mu);
}

/* Opens a connection in slot s (claimed): a new socketpair, or, with
 * `old` (deleted and retired), a new socket dup2'ed onto old's number. */
static void conn_open(int s, struct owner *old)
{
    struct slot *sl = &S.slots[s];
    struct owner *o;
    int sv[2], fd, r;
    tpoll_mask_t mask;
    unsigned flags = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        bad("socketpair: %s", strerror(errno));
        if (old != NULL) {
            close(old->fd);
            drop_peer(s, old);
        }
        unclaim(s, EMPTY);
        return;
    }
    fd = sv[0];
    if (old != NULL) {
        /* The number is replaced atomically: it never becomes free. */
        if (dup2(sv[0], old->fd) != old->fd)
            bad("dup2: %s", strerror(errno));
        close(sv[0]);
        fd = old->fd;
        atomic_fetch_add(&S.n_reuse, 1);
    }
    o = owner_new(s, fd, sv[1]);
    mask = pick_mask(o->shared);
    /* An acceptor hands the connection on: insert it on its own thread,
     * then move it to a worker. */
    int handoff = !o->shared && ctx.depth > 0 && ctx.tid >= 0 && rnd(2);
    if (handoff)
        mask = TPOLL_THREAD(ctx.tid);
    if (o->shared && rnd(2))
        flags = TPOLL_FD_EXCLUSIVE;
    if (S.edge)
        flags |= TPOLL_FD_EDGE;
    o->mask = mask;
    atomic_store(&o->allowed, mask);
    atomic_store(&o->ever_mask, mask);
    ctx.call = "tpoll_fd_insert";
    r = tpoll_fd_insert_flags(S.tp, fd, on_conn, o, mask, flags);
    ctx.call = "";
    if (r != 0)
        bad("tpoll_fd_insert(fd %d, mask %#lx) returned %d%s", fd, mask, r,
            old ? " for a number whose delete returned" : "");
    r = tpoll_want_recv(S.tp, fd);
    if (r != 0)
        bad("tpoll_want_recv(fd %d) after insert returned %d", fd, r);
    o->interest = TPOLL_RECV;
    if (handoff) {
        atomic_fetch_add(&S.n_accept, 1);
        migrate_claimed(o, pick_mask(0));
    }
    pthread_mutex_lock(&sl->peer_mu);
    if (old != NULL) {
        close(old->peer);
        old->peer = -1;
    }
    sl->cur = o;
    pthread_mutex_unlock(&sl->peer_mu);
    unclaim(s, LIVE);
}

/* The program gives up the number: a late callback of `o` will not touch
 * it any more. */
static void retire_io(struct owner *o)
{
    pthread_mutex_lock(&o->io);
    o->closing = 1;
    pthread_mutex_unlock(&o->io);
}

/* After a delete of o (slot claimed): close, or reuse the number at once. */
static void conn_finish(int s, struct owner *o)
{
    retire_io(o);
    if (running() && rnd(2)) {
        conn_open(s, o);
        return;
    }
    close(o->fd);
    drop_peer(s, o);
    unclaim(s, EMPTY);
}

/* The owner pointer a callback or a release got is the one of that fd. */
static int owner_ok(const struct owner *o, int fd, const char *what)
{
    if (o == NULL || o->magic != MAGIC) {
        bad("%s for fd %d with an owner that is no owner", what, fd);
        return 0;
    }
    if (fd != o->fd)
        bad("%s for fd %d with the owner of fd %d (#%lu)", what, fd, o->fd,
            o->serial);
    return 1;
}

static void on_release(struct tpoll *tp, int fd, void *arg)
{
    struct owner *o = arg;
    int s, r;

    if (!owner_ok(o, fd, "release"))
        return;
    if (!atomic_load(&o->async))
        bad("release of fd %d (#%lu), which was not deleted with "
            "tpoll_fd_delete_async",
            fd, o->serial);
    if (atomic_fetch_add(&o->releases, 1) != 0)
        bad("second release of fd %d (#%lu)", fd, o->serial);
    if (atomic_load(&o->running) != 0)
        bad("release of fd %d (#%lu) while %d callback(s) of it run", fd,
            o->serial, atomic_load(&o->running));
    if (ctx.async_for != o) {
        /* Not inside the call: on a thread that was using the fd. */
        if (ctx.tid < 0) {
            bad("release of fd %d (#%lu) on thread '%s', neither bound nor "
                "in tpoll_fd_delete_async of it (it is in %s%s)",
                fd, o->serial, ctx.name, ctx.call,
                ctx.async_for ? ", tpoll_fd_delete_async of another fd" : "");
        } else if (!(atomic_load(&o->ever_mask) & TPOLL_THREAD(ctx.tid))) {
            /* A thread that only looked at a stale event of the number
             * (an earlier user's, or one fetched before a migration):
             * "using the fd" is read loosely; counted, not failed. */
            atomic_fetch_add(&S.n_rel_foreign, 1);
        }
    }
    atomic_store(&o->dead, 1);
    atomic_fetch_add(&S.n_rel, 1);
    /* It runs as a callback does. */
    if (ctx.tid >= 0 && !ctx.in_stop && tpoll_thread_id(tp) == ctx.tid &&
        (r = tpoll_wait(tp, 0)) != -EBUSY)
        bad("tpoll_wait from a release on bound thread %d returned %d", ctx.tid,
            r);
    if (!atomic_load(&o->late_close) && !atomic_load(&o->tp_closes))
        return;
    /* This release owns the slot: close, and maybe accept anew there. */
    s = o->slot;
    int want = RETIRING;
    if (!atomic_compare_exchange_strong(&S.slots[s].state, &want, BUSY)) {
        bad("harness: slot %d of a late-closing release is in state %d", s,
            want);
        return;
    }
    ctx.depth++;
    retire_io(o);
    /* tpoll_fd_close: tpoll closed the number before this release. */
    if (!atomic_load(&o->tp_closes))
        close(o->fd);
    drop_peer(s, o);
    if (running() && rnd(2))
        conn_open(s, NULL);
    else
        unclaim(s, EMPTY);
    ctx.depth--;
}

/* One of the deletes (slot claimed); gives the slot up. */
static void do_delete(int s, struct owner *o, int kind)
{
    int in_cb = ctx.depth > 0;
    int self = in_cb && ctx.cur == o;
    struct owner *saved;
    int r;

    if (kind == DEL_WAIT && in_cb) {
        r = tpoll_fd_delete_wait(S.tp, o->fd);
        atomic_fetch_add(&S.n_edeadlk, 1);
        if (r != -EDEADLK) {
            bad("tpoll_fd_delete_wait(fd %d) from a callback returned %d, "
                "not -EDEADLK",
                o->fd, r);
            if (r == 0) {
                atomic_store(&o->dead, 1);
                conn_finish(s, o);
            }
            return;
        }
        check_interest(o, "a refused tpoll_fd_delete_wait");
        unclaim(s, LIVE);
        return;
    }
    atomic_fetch_add(&S.n_del[kind], 1);
    switch (kind) {
    case DEL_WAIT:
        ctx.call = "tpoll_fd_delete_wait";
        r = tpoll_fd_delete_wait(S.tp, o->fd);
        ctx.call = "";
        if (r != 0)
            bad("tpoll_fd_delete_wait(fd %d) outside callbacks returned %d",
                o->fd, r);
        else if (others_running(o))
            bad("tpoll_fd_delete_wait(fd %d) returned while a callback of "
                "it runs",
                o->fd);
        atomic_store(&o->dead, 1);
        break;
    case DEL_PLAIN:
        ctx.call = "tpoll_fd_delete";
        r = tpoll_fd_delete(S.tp, o->fd);
        ctx.call = "";
        if (r != 0 && r != 1) {
            bad("tpoll_fd_delete(fd %d) returned %d", o->fd, r);
            break;
        }
        /* The guide says 0 here; the contract's "1 when one may" allows
         * 1 (another thread looking at a stale event of the number):
         * counted, not failed. */
        if (self && !o->shared && r != 0)
            atomic_fetch_add(&S.n_self1, 1);
        if (r == 0) {
            if (others_running(o))
                bad("tpoll_fd_delete(fd %d) returned 0 while a callback of "
                    "it runs elsewhere",
                    o->fd);
            atomic_store(&o->dead, 1);
        } else {
            atomic_fetch_add(&S.n_del1, 1);
        }
        break;
    default: {
        /* tpoll_fd_close: the number is tpoll's now. Late or closing, the
         * release takes the slot from here. */
        int closes = kind == DEL_CLOSE;
        const char *name = closes ? "tpoll_fd_close" : "tpoll_fd_delete_async";

        atomic_store(&o->async, 1);
        if (kind != DEL_ASYNC) {
            atomic_store(closes ? &o->tp_closes : &o->late_close, 1);
            unclaim(s, RETIRING);
        }
        saved = ctx.async_for;
        ctx.async_for = o;
        ctx.call = name;
        r = closes ? tpoll_fd_close(S.tp, o->fd, on_release)
                   : tpoll_fd_delete_async(S.tp, o->fd, on_release);
        ctx.async_for = saved;
        ctx.call = "";
        if (r != 0)
            bad("%s(fd %d) returned %d", name, o->fd, r);
        if (kind != DEL_ASYNC)
            return;
        break;
    }
    }
    conn_finish(s, o);
}

/* An interest change (slot claimed), and what tpoll_fd_interest says
 * after it. */
static void change_interest(struct owner *o, int (*fn)(struct tpoll *, int),
                            const char *name, unsigned clear, unsigned set)
{
    int r = fn(S.tp, o->fd);

    if (r != 0)
        bad("%s(fd %d) returned %d", name, o->fd, r);
    o->interest = (o->interest & ~clear) | set;
    check_interest(o, name);
}

static void do_want_recv(int s, struct owner *o)
{
    change_interest(o, tpoll_want_recv, "tpoll_want_recv", 0, TPOLL_RECV);
    unclaim(s, LIVE);
}

/* Writes into slot s's peer, as a client or a proxy would. */
static void client_write(int s)
{
    struct slot *sl = &S.slots[s];
    static const char buf[2048];
    struct owner *o;
    ssize_t n;

    pthread_mutex_lock(&sl->peer_mu);
    o = sl->cur;
    if (o != NULL && o->peer >= 0 &&
        atomic_load(&o->written) - atomic_load(&o->readn) < BACKLOG) {
        n = send(o->peer, buf, 1 + rnd(sizeof(buf)), MSG_NOSIGNAL);
        if (n > 0)
            atomic_fetch_add(&o->written, n);
    }
    pthread_mutex_unlock(&sl->peer_mu);
}

/* What a thread does to some slot: open it if empty, else delete, move
 * or resume it. */
static void slot_action(int s)
{
    struct owner *o;

    if (claim_empty(s)) {
        conn_open(s, NULL);
        return;
    }
    o = claim(s);
    if (o == NULL)
        return;
    switch (rnd(10)) {
    case 0:
    case 1:
    case 2:
    case 3:
        do_delete(s, o, (int)rnd(DEL_KINDS));
        break;
    case 4:
    case 5:
    case 6:
        migrate_claimed(o, pick_mask(o->shared));
        unclaim(s, LIVE);
        break;
    default:
        do_want_recv(s, o);
        break;
    }
}

/* Claims the calling callback's own slot, if it still holds its fd. */
static int claim_own(struct owner *o)
{
    struct owner *c = claim(o->slot);

    if (c == NULL)
        return 0;
    if (c != o) {
        unclaim(o->slot, LIVE);
        return 0;
    }
    return 1;
}

/* Edge-triggered, for what the callback leaves undone: "call
 * tpoll_fd_ready() for what it left undone" (0; -ENOENT once a delete of
 * the fd that may still see this callback running has returned). */
static void say_ready(struct tpoll *tp, struct owner *o, unsigned events)
{
    int r = tpoll_fd_ready(tp, o->fd, events);

    atomic_fetch_add(&S.n_ready, 1);
    if (r != 0 && r != -ENOENT)
        bad("tpoll_fd_ready(fd %d (#%lu), %#x) in its callback returned %d",
            o->fd, o->serial, events, r);
}

/* One read of a random size; edge-triggered, either until EAGAIN or one
 * read and tpoll_fd_ready for what may be left. Under o->io. */
static void read_some(struct tpoll *tp, struct owner *o, int fd)
{
    int all = S.edge && rnd(2);
    char buf[1024];
    ssize_t n;

    do {
        n = read(fd, buf, 1 + rnd(sizeof(buf)));
        if (n > 0)
            atomic_fetch_add(&o->readn, n);
        else if (n == 0)
            bad("harness: EOF on fd %d (#%lu) whose peer is open", fd,
                o->serial);
    } while (all && n > 0);
    if (n < 0 && errno == EAGAIN)
        atomic_fetch_add(&S.n_eagain, 1);
    else if (S.edge && !all)
        say_ready(tp, o, TPOLL_RECV);
}

static void cb_actions(struct tpoll *tp, struct owner *o, unsigned ev)
{
    unsigned r = rnd(1000);
    int s = o->slot, other = (int)rnd(NSLOTS), x;

    if ((ev & TPOLL_SEND) && r < 600) {
        if (claim_own(o)) {
            change_interest(o, tpoll_stop_send, "tpoll_stop_send", TPOLL_SEND,
                            0);
            unclaim(s, LIVE);
        }
        return;
    }
    /* Send kept wanted and nothing written: still writable. */
    if ((ev & TPOLL_SEND) && S.edge) {
        pthread_mutex_lock(&o->io);
        if (!o->closing)
            say_ready(tp, o, TPOLL_SEND);
        pthread_mutex_unlock(&o->io);
    }
    if (r < 14) {
        if (claim_own(o))
            do_delete(s, o, (int)rnd(DEL_KINDS));
    } else if (r < 28) {
        if (claim_own(o)) {
            migrate_claimed(o, pick_mask(o->shared));
            unclaim(s, LIVE);
        }
    } else if (r < 40) {
        if (claim_own(o)) {
            change_interest(o, tpoll_stop_recv, "tpoll_stop_recv", TPOLL_RECV,
                            0);
            unclaim(s, LIVE);
        }
    } else if (r < 50) {
        if (claim_own(o)) {
            atomic_store(&o->ever_send, 1);
            change_interest(o, tpoll_want_send, "tpoll_want_send", 0,
                            TPOLL_SEND);
            unclaim(s, LIVE);
        }
    } else if (r < 90) {
        if (other != s)
            slot_action(other);
    } else if (r < 140) {
        atomic_fetch_add(&S.n_fwd, 1);
        client_write(other);
    } else if (r < 145) {
        int t = (int)rnd(NTIDS);
        if ((x = tpoll_wake(tp, t)) != 0)
            bad("tpoll_wake(%d) from a callback returned %d", t, x);
    } else if (r < 148) {
        if ((x = tpoll_wait(tp, 0)) != -EBUSY)
            bad("tpoll_wait from a callback returned %d", x);
        if ((x = tpoll_thread_stop(tp)) != -EBUSY)
            bad("tpoll_thread_stop from a callback returned %d", x);
        if ((x = tpoll_destroy(tp)) != -EBUSY)
            bad("tpoll_destroy from a callback returned %d", x);
    } else if (r < 160) {
        /* A slow callback: widens the windows of the others. */
        if (rnd(2))
            sched_yield();
        else
            sleep_us(rnd(200));
    }
}

static void on_conn(struct tpoll *tp, int fd, unsigned ev, void *arg)
{
    struct owner *o = arg, *saved;
    int t = ctx.tid, before;

    atomic_fetch_add(&S.n_cb, 1);
    if (!owner_ok(o, fd, "callback"))
        return;
    if (t < 0 || tpoll_thread_id(tp) != t) {
        bad("callback for fd %d on a thread that is not a loop thread", fd);
        return;
    }
    if (atomic_load(&o->dead))
        bad("callback for fd %d (#%lu) started after its delete returned 0, "
            "its delete_wait returned or its release ran",
            fd, o->serial);
    if (!(atomic_load(&o->allowed) & TPOLL_THREAD(t)))
        bad("callback for fd %d (#%lu) on thread %d, outside its mask %#lx", fd,
            o->serial, t, atomic_load(&o->allowed));
    if (!(ev & (TPOLL_RECV | TPOLL_SEND)) ||
        (ev & ~(TPOLL_RECV | TPOLL_SEND | TPOLL_HUP | TPOLL_ERR | TPOLL_RDHUP |
                TPOLL_WRHUP)))
        bad("callback for fd %d with events %#x", fd, ev);
    if (tu_conditions_broken(ev) != NULL)
        bad("callback for fd %d with events %#x: %s", fd, ev,
            tu_conditions_broken(ev));
    if ((ev & TPOLL_SEND) && !atomic_load(&o->ever_send))
        bad("callback for fd %d (#%lu) with TPOLL_SEND, never wanted", fd,
            o->serial);
    before = atomic_fetch_add(&o->running, 1);
    atomic_fetch_add(&o->running_on[t], 1);
    if (!o->shared && before != 0)
        bad("callback for fd %d (#%lu), one-thread masks only, overlaps "
            "itself (now on thread %d, mask %#lx)",
            fd, o->serial, t, atomic_load(&o->allowed));
    saved = ctx.cur;
    ctx.cur = o;
    ctx.depth++;

    /* Read a random amount: what is left must be reported again (level),
     * or be said to be left (edge). */
    pthread_mutex_lock(&o->io);
    if (!o->closing && (ev & TPOLL_RECV))
        read_some(tp, o, fd);
    pthread_mutex_unlock(&o->io);
    if (running())
        cb_actions(tp, o, ev);

    ctx.depth--;
    ctx.cur = saved;
    atomic_fetch_sub(&o->running_on[t], 1);
    atomic_fetch_sub(&o->running, 1);
}

/* ---- threads ---- */

/* tpoll_thread_stop on a loop thread; releases may run inside it. */
static void loop_unbind(struct loop *L)
{
    int r;

    atomic_store(&L->bound, 0);
    ctx.in_stop = 1;
    r = tpoll_thread_stop(S.tp);
    ctx.in_stop = 0;
    if (r != 0)
        bad("tpoll_thread_stop on thread %d returned %d", L->tid, r);
}

static void *loop_main(void *arg)
{
    struct loop *L = arg;
    int r;

    ctx.tid = L->tid;
    ctx.name = "loop";
    seed_thread(((uint64_t)L->gen << 8) | (uint64_t)L->tid);
    r = tpoll_thread_start(S.tp, L->tid);
    if (r != 0) {
        bad("tpoll_thread_start(%d) returned %d", L->tid, r);
        atomic_store(&L->exited, 1);
        return NULL;
    }
    atomic_store(&L->bound, 1);
    for (;;) {
        if (atomic_load(&S.phase) == STOP)
            break;
        atomic_store(&L->ack, atomic_load(&L->req));
        r = tpoll_wait(S.tp, -1);
        atomic_fetch_add(&L->waits, 1);
        if (r < 0 && r != -EINTR) {
            bad("tpoll_wait on thread %d returned %d", L->tid, r);
            break;
        }
        if (!running())
            continue;
        if (rnd(48) == 0)
            slot_action((int)rnd(NSLOTS));
        if (rnd(600) == 0) {
            /* Stop and start again while the others go on. */
            atomic_fetch_add(&S.n_cycles, 1);
            loop_unbind(L);
            if (rnd(3) == 0) {
                /* Hand the id to a new OS thread. */
                atomic_store(&L->exited, 1);
                return NULL;
            }
            sleep_us(rnd(3000));
            r = tpoll_thread_start(S.tp, L->tid);
            if (r != 0) {
                bad("tpoll_thread_start(%d) after a stop returned %d", L->tid,
                    r);
                atomic_store(&L->exited, 1);
                return NULL;
            }
            atomic_store(&L->bound, 1);
        }
    }
    loop_unbind(L);
    atomic_store(&L->exited, 1);
    return NULL;
}

static void loop_spawn(struct loop *L)
{
    atomic_store(&L->exited, 0);
    L->gen++;
    if (pthread_create(&L->thread, NULL, loop_main, L) != 0)
        abort();
}

/* Joins a loop thread that handed its id on and starts its successor. */
static void respawn_exited(void)
{
    for (int t = 0; t < NLOOPS; t++) {
        struct loop *L = &S.loops[t];

        if (atomic_load(&L->exited) && atomic_load(&S.phase) != STOP) {
            pthread_join(L->thread, NULL);
            atomic_fetch_add(&S.n_respawn, 1);
            loop_spawn(L);
        }
    }
}

static void *timer_main(void *arg)
{
    (void)arg;
    seed_thread(100);
    ctx.name = "timer";
    while (running()) {
        sleep_us(100 + rnd(900));
        slot_action((int)rnd(NSLOTS));
    }
    return NULL;
}

static void *client_main(void *arg)
{
    (void)arg;
    seed_thread(101);
    ctx.name = "client";
    while (running()) {
        client_write((int)rnd(NSLOTS));
        if (rnd(8) == 0)
            sleep_us(rnd(100));
    }
    return NULL;
}

/* ---- watchdog: a hang is reported with the seed, not by ctest ---- */

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv = PTHREAD_COND_INITIALIZER;
static int wd_done;
static const char *volatile wd_step = "start";

static void *watchdog_main(void *arg)
{
    struct timespec until;
    long ms = *(long *)arg;
    int done;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    pthread_mutex_lock(&wd_mu);
    while (!wd_done)
        if (pthread_cond_timedwait(&wd_cv, &wd_mu, &until) != 0)
            break;
    done = wd_done;
    pthread_mutex_unlock(&wd_mu);
    if (!done) {
        fprintf(stderr,
                "contract stress [%s seed %lu]: hung at step '%s' (%s)\n",
                tu_backend(), S.seed, wd_step,
                atomic_load(&S.failed) ? S.failure : "no failure before");
        for (int t = 0; t < NLOOPS; t++)
            fprintf(stderr, "  loop %d: bound %d waits %lu req %lu ack %lu\n",
                    t, atomic_load(&S.loops[t].bound),
                    atomic_load(&S.loops[t].waits),
                    atomic_load(&S.loops[t].req), atomic_load(&S.loops[t].ack));
        for (int s = 0; s < NSLOTS; s++)
            fprintf(stderr, "  slot %d: state %d\n", s,
                    atomic_load(&S.slots[s].state));
        fflush(stderr);
        _exit(1);
    }
    return NULL;
}

/* ---- main-thread steps ---- */

static int wait_for(int (*cond)(void), long ms)
{
    uint64_t end = tu_now_ms() + (uint64_t)ms;

    while (!cond()) {
        if (tu_now_ms() > end)
            return 0;
        respawn_exited();
        sleep_us(500);
    }
    return 1;
}

static int ping_tid;

static int ping_acked(void)
{
    struct loop *L = &S.loops[ping_tid];

    return atomic_load(&L->ack) >= atomic_load(&L->req);
}

static void ping(int t)
{
    int r;

    ping_tid = t;
    atomic_fetch_add(&S.loops[t].req, 1);
    atomic_fetch_add(&S.n_wake, 1);
    if ((r = tpoll_wake(S.tp, t)) != 0)
        bad("tpoll_wake(%d) returned %d", t, r);
    if (!wait_for(ping_acked, HANG_MS))
        bad("tpoll_wake(%d): its tpoll_wait(-1) did not return within %d ms", t,
            HANG_MS);
}

static int all_bound(void)
{
    for (int t = 0; t < NLOOPS; t++)
        if (!atomic_load(&S.loops[t].bound))
            return 0;
    return 1;
}

static int none_busy(void)
{
    for (int s = 0; s < NSLOTS; s++) {
        int st = atomic_load(&S.slots[s].state);
        if (st == BUSY || st == RETIRING)
            return 0;
    }
    return 1;
}

static int drained(void)
{
    for (int s = 0; s < NSLOTS; s++) {
        struct owner *o = S.slots[s].cur;

        if (atomic_load(&S.slots[s].state) == LIVE && o != NULL &&
            atomic_load(&o->readn) < atomic_load(&o->written))
            return 0;
    }
    return 1;
}

static void check_drained(void)
{
    if (wait_for(drained, HANG_MS))
        return;
    for (int s = 0; s < NSLOTS; s++) {
        struct owner *o = S.slots[s].cur;

        if (o != NULL && atomic_load(&o->readn) < atomic_load(&o->written)) {
            bad("%s data lost: fd %d (#%lu, mask %#lx, interest %d) has "
                "%ld of %ld bytes read after %d ms",
                S.edge ? "edge-triggered" : "level-triggered", o->fd, o->serial,
                o->mask, tpoll_fd_interest(S.tp, o->fd), atomic_load(&o->readn),
                atomic_load(&o->written), HANG_MS);
            return;
        }
    }
}

/* Once quiet, loop threads sleep in their pollers: their loop counters
 * stand still. */
static void check_quiet(const char *when)
{
    struct tpoll_counters a[NLOOPS], b[NLOOPS];
    unsigned long wa[NLOOPS];

    sleep_us(200000);
    for (int t = 0; t < NLOOPS; t++) {
        a[t] = tu_counters(S.tp, t);
        wa[t] = atomic_load(&S.loops[t].waits);
    }
    sleep_us(300000);
    for (int t = 0; t < NLOOPS; t++) {
        b[t] = tu_counters(S.tp, t);
        if (b[t].loops - a[t].loops > 2 ||
            atomic_load(&S.loops[t].waits) - wa[t] > 2)
            bad("%s: idle thread %d does not sleep: %lu loops (%lu returns "
                "of tpoll_wait) in 300 ms; polls %lu callbacks %lu updates "
                "%lu ctl_calls %lu wakeups %lu idle_wakeups %lu",
                when, t, (unsigned long)(b[t].loops - a[t].loops),
                atomic_load(&S.loops[t].waits) - wa[t],
                (unsigned long)(b[t].polls - a[t].polls),
                (unsigned long)(b[t].callbacks - a[t].callbacks),
                (unsigned long)(b[t].updates - a[t].updates),
                (unsigned long)(b[t].ctl_calls - a[t].ctl_calls),
                (unsigned long)(b[t].wakeups - a[t].wakeups),
                (unsigned long)(b[t].idle_wakeups - a[t].idle_wakeups));
    }
}

static int release_of;

static int released(void)
{
    struct owner *o = S.slots[release_of].cur;

    return o != NULL && atomic_load(&o->releases) > 0;
}

/* With every loop thread asleep in its poller: delete, close at once, and
 * the peer must see EOF promptly (poll and select hold the file while
 * they sleep on it). */
static void check_eof_after_delete(int kind)
{
    struct pollfd p;
    struct owner *o = NULL;
    char c;
    int s, r;

    for (s = 0; s < NSLOTS; s++)
        if ((o = claim(s)) != NULL)
            break;
    if (o == NULL)
        return;
    wd_step = "eof";
    atomic_fetch_add(&S.n_del[kind], 1);
    if (kind == DEL_PLAIN) {
        r = tpoll_fd_delete(S.tp, o->fd);
    } else if (kind == DEL_WAIT) {
        r = tpoll_fd_delete_wait(S.tp, o->fd);
    } else {
        atomic_store(&o->async, 1);
        ctx.async_for = o;
        r = tpoll_fd_delete_async(S.tp, o->fd, on_release);
        ctx.async_for = NULL;
    }
    if (r != 0 && !(kind == DEL_PLAIN && r == 1))
        bad("delete kind %d of quiet fd %d returned %d", kind, o->fd, r);
    retire_io(o);
    close(o->fd);
    p.fd = o->peer;
    p.events = POLLIN;
    p.revents = 0;
    r = poll(&p, 1, 2000);
    if (r != 1 || read(o->peer, &c, 1) != 0)
        bad("%s: the peer of deleted and closed fd %d (mask %#lx) saw no "
            "EOF within 2 s while the loops slept (poll %d, revents %#x)",
            kind == DEL_PLAIN  ? "tpoll_fd_delete"
            : kind == DEL_WAIT ? "tpoll_fd_delete_wait"
                               : "tpoll_fd_delete_async",
            o->fd, o->mask, r, p.revents);
    if (kind == DEL_ASYNC) {
        release_of = s;
        if (!wait_for(released, HANG_MS))
            bad("release of quiet fd %d never ran", o->fd);
    }
    drop_peer(s, o);
    unclaim(s, EMPTY);
}

static void test_contract_stress(void **state)
{
    pthread_t timer, client, wd;
    const char *env;
    double seconds = 2.0;
    long wd_ms;
    int fds_before, r;
    uint64_t end;
    struct owner *o, *next;

    (void)state;
    env = getenv("TPOLL_CSTRESS_SEED");
    S.seed = env && *env
                 ? strtoul(env, NULL, 0)
                 : (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
    env = getenv("TPOLL_CSTRESS_SECONDS");
    if (env && *env)
        seconds = strtod(env, NULL);
    env = getenv("TPOLL_CSTRESS_EDGE");
    S.edge = env && *env && strcmp(env, "0") != 0;
    fprintf(stderr, "contract stress: backend %s seed %lu seconds %.1f%s\n",
            tu_backend(), S.seed, seconds, S.edge ? " edge-triggered" : "");
    seed_thread(102);
    wd_ms = (long)(seconds * 1000) + 120000;
    pthread_create(&wd, NULL, watchdog_main, &wd_ms);

    fds_before = tu_count_open_fds();
    S.tp = tu_create(NTIDS, TABLE);
    pthread_mutex_init(&S.owners_mu, NULL);
    for (int s = 0; s < NSLOTS; s++)
        pthread_mutex_init(&S.slots[s].peer_mu, NULL);
    for (int t = 0; t < NLOOPS; t++) {
        S.loops[t].tid = t;
        loop_spawn(&S.loops[t]);
    }
    for (int s = 0; s < NSLOTS; s++)
        if (claim_empty(s))
            conn_open(s, NULL);
    pthread_create(&timer, NULL, timer_main, NULL);
    pthread_create(&client, NULL, client_main, NULL);

    /* Run: every wake must end an unbounded wait. */
    wd_step = "run";
    end = tu_now_ms() + (uint64_t)(seconds * 1000);
    while (tu_now_ms() < end && !atomic_load(&S.failed)) {
        respawn_exited();
        ping((int)rnd(NLOOPS));
        if ((r = tpoll_wake(S.tp, NTIDS - 1)) != 0)
            bad("tpoll_wake of the unbound thread id returned %d", r);
        sleep_us(2000 + rnd(5000));
    }

    /* Drain: nothing new; every byte written must be read. */
    wd_step = "drain";
    atomic_store(&S.phase, DRAIN);
    pthread_join(timer, NULL);
    pthread_join(client, NULL);
    if (!wait_for(all_bound, HANG_MS))
        bad("a loop thread did not come back");
    if (!wait_for(none_busy, HANG_MS))
        bad("a delete or migration did not finish, or a release never ran "
            "(%d ms)",
            HANG_MS);
    for (int s = 0; s < NSLOTS && !atomic_load(&S.failed); s++) {
        if ((o = claim(s)) == NULL)
            continue;
        if (!(o->mask & LOOP_BITS))
            migrate_claimed(o, TPOLL_THREAD(rnd(NLOOPS)));
        /* Always writable: with send wanted the loop would never rest. */
        change_interest(o, tpoll_stop_send, "tpoll_stop_send", TPOLL_SEND, 0);
        do_want_recv(s, o);
    }
    for (int t = 0; t < NLOOPS; t++)
        ping(t);
    if (!atomic_load(&S.failed))
        check_drained();

    /* Quiet: threads sleep; a deleted and closed fd's peer sees EOF. */
    wd_step = "quiet";
    if (!atomic_load(&S.failed))
        check_quiet("after the drain");
    if (!atomic_load(&S.failed)) {
        check_eof_after_delete(DEL_PLAIN);
        check_eof_after_delete(DEL_ASYNC);
        check_eof_after_delete(DEL_WAIT);
        check_quiet("after the deletes of quiet fds");
    }

    /* Stop: delete what is left while the loops run, then stop them. */
    wd_step = "stop";
    for (int s = 0; s < NSLOTS; s++)
        if ((o = claim(s)) != NULL)
            do_delete(s, o, (int)rnd(DEL_KINDS));
    atomic_store(&S.phase, STOP);
    for (int t = 0; t < NLOOPS; t++) {
        tpoll_wake(S.tp, t);
        pthread_join(S.loops[t].thread, NULL);
    }
    wd_step = "end";
    for (int s = 0; s < NSLOTS; s++) {
        int st = atomic_load(&S.slots[s].state);

        if (st != EMPTY) {
            bad("slot %d in state %d after every thread stopped (a release "
                "that never ran?)",
                s, st);
            if (S.slots[s].cur != NULL) {
                close(S.slots[s].cur->fd);
                close(S.slots[s].cur->peer);
            }
        }
    }
    for (o = S.owners; o != NULL; o = o->next) {
        int want = atomic_load(&o->async) ? 1 : 0;

        if (atomic_load(&o->releases) != want) {
            bad("fd %d (#%lu): %d release(s), %d expected", o->fd, o->serial,
                atomic_load(&o->releases), want);
            break;
        }
    }
    assert_int_equal(tpoll_destroy(S.tp), 0);
    if (tu_count_open_fds() != fds_before)
        bad("%d fds open at the end, %d at the start", tu_count_open_fds(),
            fds_before);
    fprintf(stderr,
            "contract stress: backend %s seed %lu: %lu callbacks, %lu "
            "releases, deletes plain/async/async-late/wait/close "
            "%lu/%lu/%lu/%lu/%lu (plain returned 1: %lu), %lu refused "
            "delete_wait, %lu migrations (returned 1: %lu), %lu hand-offs, "
            "%lu numbers reused, %lu forwards, %lu stop/start, %lu new "
            "threads, %lu wakes, %lu releases on a thread outside the "
            "fd's masks, %lu own-callback deletes of a one-thread fd "
            "returning 1, %lu tpoll_fd_ready, %lu reads to EAGAIN\n",
            tu_backend(), S.seed, atomic_load(&S.n_cb), atomic_load(&S.n_rel),
            atomic_load(&S.n_del[0]), atomic_load(&S.n_del[1]),
            atomic_load(&S.n_del[2]), atomic_load(&S.n_del[3]),
            atomic_load(&S.n_del[4]), atomic_load(&S.n_del1),
            atomic_load(&S.n_edeadlk), atomic_load(&S.n_mig),
            atomic_load(&S.n_mig1), atomic_load(&S.n_accept),
            atomic_load(&S.n_reuse), atomic_load(&S.n_fwd),
            atomic_load(&S.n_cycles), atomic_load(&S.n_respawn),
            atomic_load(&S.n_wake), atomic_load(&S.n_rel_foreign),
            atomic_load(&S.n_self1), atomic_load(&S.n_ready),
            atomic_load(&S.n_eagain));
    for (o = S.owners; o != NULL; o = next) {
        next = o->next;
        pthread_mutex_destroy(&o->io);
        free(o);
    }
    for (int s = 0; s < NSLOTS; s++)
        pthread_mutex_destroy(&S.slots[s].peer_mu);
    pthread_mutex_lock(&wd_mu);
    wd_done = 1;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
    pthread_join(wd, NULL);
    if (atomic_load(&S.failed))
        fail_msg("%s", S.failure);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_stress),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
