/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a program of API calls made by one thread
 * on a small instance, run side by side with a reference model of the fd
 * table (inserted, interest, mask, bytes readable, callback incarnation).
 * Every return value, every interest query and every dispatch of every
 * tpoll_wait(0) is compared with the model; a divergence aborts.
 *
 * Byte 0 picks the backend among the compiled ones, unless TPOLL_BACKEND
 * is set (the corpus replay test runs each file on every backend).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpoll.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPAIRS 3
#define NSLOTS (2 * NPAIRS)
#define MAX_FDS 64
#define NTHREADS 2
#define MAX_PENDING 4096
/* Each unread write holds an skb whose true size counts against the
 * writer's send buffer: too many and the writer stops being writable,
 * which the model (writers always writable) does not track. */
#define MAX_WRITES 16

enum action { ACT_DRAIN, ACT_NONE, ACT_DELETE, ACT_STOP, ACT_NEST, NACT };

struct slot {
    int fd;
    int inserted;
    unsigned interest;
    tpoll_mask_t mask;
    unsigned action;
    unsigned long incarnation; /* bumped by each insert */
    long pending;              /* bytes readable on fd */
    int writes;                /* unread writes behind `pending` */
    int calls;                 /* callbacks in the current wait */
};

struct fz {
    struct tpoll *tp;
    struct slot s[NSLOTS];
    int shut[NPAIRS];
    int bound; /* thread id the fuzzing thread is bound to, or -1 */
    int in_wait;
    unsigned long incarnations;
    uint64_t callbacks[NTHREADS];
    const uint8_t *p, *end;
    const char *backend;
};

static struct fz z;
static const char *backends[5];
static int nbackends;
static const char *env_backend;
static int trace; /* TPOLL_FUZZ_TRACE=1: print each operation */
static int regular_fd = -1;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_ops divergence (%s) at %s:%d: ",            \
                    z.backend, __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define EXPECT_RET(call, want)                                                \
    do {                                                                      \
        int got_ = (call);                                                    \
        int want_ = (want);                                                   \
        CHECK(got_ == want_, "%s returned %d, model says %d", #call, got_,    \
              want_);                                                         \
    } while (0)

static unsigned next(void)
{
    return z.p < z.end ? *z.p++ : 0;
}

static const tpoll_mask_t mask_choices[] = {
    0, 1, 2, 3, 4, ~(tpoll_mask_t)0, 1 | 4, (tpoll_mask_t)1 << (NTHREADS - 1),
};

static tpoll_mask_t pick_mask(void)
{
    return mask_choices[next() % (sizeof(mask_choices) / sizeof(mask_choices[0]))];
}

static int mask_ok(tpoll_mask_t m)
{
    return m != 0 && (m >> NTHREADS) == 0;
}

static void *owner_of(int i)
{
    return (void *)(uintptr_t)(((uintptr_t)z.s[i].incarnation << 4) |
                               (uintptr_t)i);
}

/* Releases of tpoll_fd_delete_async: called, and still owed (a delete
 * from the fd's own callback releases once that callback returned). */
static unsigned long released, releases_owed;
static int release_fd = -1;

static void on_release(struct tpoll *tp, int fd, void *owner)
{
    (void)tp;
    CHECK(releases_owed > 0, "release of fd %d that nobody owed", fd);
    CHECK(owner != NULL && fd == release_fd, "release of fd %d, expected %d",
          fd, release_fd);
    released++;
    releases_owed--;
}

/*
 * The three deletes, chosen by the incarnation (no input byte, so that
 * the corpus keeps its meaning). One thread: nothing else can be running
 * the fd's callback, so the release runs before the call returns, or,
 * from inside that callback, right after it; the waiting delete refuses
 * inside callbacks and deletes nothing.
 */
static int delete_slot(int i, int in_callback)
{
    struct slot *s = &z.s[i];
    int ret;

    switch (s->incarnation % 3) {
    case 0:
        ret = tpoll_fd_delete(z.tp, s->fd);
        break;
    case 1:
        ret = tpoll_fd_delete_wait(z.tp, s->fd);
        if (in_callback) {
            CHECK(ret == -EDEADLK, "delete_wait in a callback: %d", ret);
            return 0;
        }
        break;
    default:
        release_fd = s->fd;
        releases_owed += s->inserted;
        ret = tpoll_fd_delete_async(z.tp, s->fd, on_release);
        if (!in_callback)
            CHECK(releases_owed == 0, "release of fd %d not run at once",
                  s->fd);
        break;
    }
    if (ret == 0) {
        s->inserted = 0;
        s->interest = 0;
    }
    return ret;
}

static void check_fd_open(int fd)
{
    CHECK(fcntl(fd, F_GETFD) >= 0, "fd %d should be open", fd);
}

static void open_pair(int p)
{
    int sv[2], i;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %d",
          errno);
    for (i = 0; i < 2; i++) {
        struct slot *s = &z.s[2 * p + i];

        CHECK(fcntl(sv[i], F_SETFL, O_NONBLOCK) == 0, "fcntl");
        memset(s, 0, sizeof(*s));
        s->fd = sv[i];
    }
    z.shut[p] = 0;
}

static unsigned ready_of(const struct slot *s, int slot)
{
    unsigned r = 0;

    if ((s->interest & TPOLL_RECV) && (s->pending > 0 || z.shut[slot / 2]))
        r |= TPOLL_RECV;
    if (s->interest & TPOLL_SEND)
        r |= TPOLL_SEND;
    return r;
}

static void model_check_all(void)
{
    int i;

    for (i = 0; i < NSLOTS; i++) {
        const struct slot *s = &z.s[i];

        EXPECT_RET(tpoll_fd_interest(z.tp, s->fd),
                   s->inserted ? (int)s->interest : -ENOENT);
    }
}

static void drain(struct slot *s)
{
    char buf[MAX_PENDING];
    ssize_t r;

    while ((r = read(s->fd, buf, sizeof(buf))) > 0)
        s->pending -= r;
    s->writes = 0;
    CHECK(s->pending == 0, "fd %d: %ld bytes unread after drain", s->fd,
          s->pending);
}

static void on_event(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    int i = (int)((uintptr_t)owner & 0xf);
    struct slot *s;
    unsigned ready;

    CHECK(tp == z.tp, "callback for another instance");
    CHECK(z.in_wait, "callback outside tpoll_wait");
    CHECK(i < NSLOTS, "bad owner %p", owner);
    s = &z.s[i];
    CHECK(s->fd == fd, "owner of slot %d (fd %d) got fd %d", i, s->fd, fd);
    CHECK(s->inserted && owner == owner_of(i),
          "callback for fd %d: stale incarnation or deleted", fd);
    CHECK(z.bound >= 0 && (s->mask & TPOLL_THREAD(z.bound)),
          "callback on thread %d outside mask %#lx", z.bound, s->mask);
    CHECK(s->calls == 0, "second callback for fd %d in one wait", fd);
    s->calls++;
    z.callbacks[z.bound]++;
    ready = ready_of(s, i);
    CHECK((events & (TPOLL_RECV | TPOLL_SEND)) == ready,
          "fd %d events %#x, model readiness %#x (interest %#x pending %ld)",
          fd, events, ready, s->interest, s->pending);
    CHECK(!(events & TPOLL_ERR), "fd %d: unexpected TPOLL_ERR", fd);
    CHECK(!(events & TPOLL_HUP) || z.shut[i / 2], "fd %d: HUP without hang-up",
          fd);
    CHECK(!(events & TPOLL_HUP) == !(events & (TPOLL_RDHUP | TPOLL_WRHUP)),
          "fd %d: events %#x: HUP and half-closes disagree", fd, events);
    CHECK(!(events & TPOLL_RDHUP) || (events & TPOLL_RECV),
          "fd %d: events %#x: RDHUP without RECV", fd, events);
    CHECK(!(events & TPOLL_WRHUP) || (events & TPOLL_SEND),
          "fd %d: events %#x: WRHUP without SEND", fd, events);
    switch (s->action) {
    case ACT_DRAIN:
        if (events & TPOLL_RECV)
            drain(s);
        break;
    case ACT_NONE:
        break;
    case ACT_DELETE:
        EXPECT_RET(delete_slot(i, 1), 0);
        break;
    case ACT_STOP:
        EXPECT_RET(tpoll_stop_recv(tp, fd), 0);
        EXPECT_RET(tpoll_stop_send(tp, fd), 0);
        s->interest = 0;
        break;
    case ACT_NEST:
        /* Re-entering the loop would reuse the event buffer being walked. */
        EXPECT_RET(tpoll_wait(tp, 0), -EBUSY);
        EXPECT_RET(tpoll_thread_stop(tp), -EBUSY);
        EXPECT_RET(tpoll_destroy(tp), -EBUSY);
        break;
    }
}

static void op_wait(void)
{
    int i, expected = 0, got;

    if (z.bound < 0) {
        EXPECT_RET(tpoll_wait(z.tp, 0), -EPERM);
        return;
    }
    for (i = 0; i < NSLOTS; i++) {
        struct slot *s = &z.s[i];

        s->calls = 0;
        if (s->inserted && (s->mask & TPOLL_THREAD(z.bound)) &&
            ready_of(s, i))
            expected++;
    }
    z.in_wait = 1;
    got = tpoll_wait(z.tp, 0);
    z.in_wait = 0;
    /* libFuzzer's timers send signals: a poll they interrupt before any
     * callback ran is reported as such (docs/contract.md) and changes
     * nothing the model tracks. */
    if (got == -EINTR) {
        for (i = 0; i < NSLOTS; i++)
            CHECK(z.s[i].calls == 0, "-EINTR after a callback of fd %d",
                  z.s[i].fd);
        return;
    }
    CHECK(got == expected, "tpoll_wait dispatched %d, model expects %d", got,
          expected);
    CHECK(releases_owed == 0, "%lu releases owed after tpoll_wait",
          releases_owed);
    for (i = 0; i < NSLOTS; i++) {
        const struct slot *s = &z.s[i];

        CHECK(s->calls <= 1, "fd %d called %d times", s->fd, s->calls);
    }
}

static void op_insert(int i)
{
    struct slot *s = &z.s[i];
    tpoll_mask_t m = pick_mask();
    int nullcb = (next() & 7) == 0;
    int want = 0;

    if (nullcb || !mask_ok(m))
        want = -EINVAL;
    else if (s->inserted)
        want = -EEXIST;
    if (want == 0) {
        z.incarnations++;
        s->incarnation = z.incarnations & 0xfffffff;
    }
    if (trace)
        fprintf(stderr, "  insert mask %#lx nullcb %d -> %d\n", m, nullcb,
                want);
    EXPECT_RET(tpoll_fd_insert(z.tp, s->fd, nullcb ? NULL : on_event,
                               owner_of(i), m),
               want);
    if (want == 0) {
        s->inserted = 1;
        s->interest = 0;
        s->mask = m;
        s->calls = 0;
    }
}

static void op_delete(int i)
{
    struct slot *s = &z.s[i];
    int want = s->inserted ? 0 : -ENOENT;

    EXPECT_RET(delete_slot(i, 0), want);
}

static void op_interest(int i, int op)
{
    static int (*const fns[4])(struct tpoll *, int) = {
        tpoll_want_recv, tpoll_stop_recv, tpoll_want_send, tpoll_stop_send};
    struct slot *s = &z.s[i];

    EXPECT_RET(fns[op](z.tp, s->fd), s->inserted ? 0 : -ENOENT);
    if (!s->inserted)
        return;
    switch (op) {
    case 0: s->interest |= TPOLL_RECV; break;
    case 1: s->interest &= ~TPOLL_RECV; break;
    case 2: s->interest |= TPOLL_SEND; break;
    default: s->interest &= ~TPOLL_SEND; break;
    }
}

static void op_set_threads(int i)
{
    struct slot *s = &z.s[i];
    tpoll_mask_t m = pick_mask();
    int want = !mask_ok(m) ? -EINVAL : !s->inserted ? -ENOENT : 0;

    EXPECT_RET(tpoll_fd_set_threads(z.tp, s->fd, m), want);
    if (want == 0)
        s->mask = m;
}

static void op_write(int i)
{
    struct slot *s = &z.s[i];
    char buf[256];
    size_t n = 1 + next() % sizeof(buf);

    if (z.shut[i / 2] || s->pending + (long)n > MAX_PENDING ||
        s->writes == MAX_WRITES)
        return;
    memset(buf, 'x', n);
    CHECK(write(z.s[i ^ 1].fd, buf, n) == (ssize_t)n, "write: %d", errno);
    s->pending += (long)n;
    s->writes++;
}

static int pick_tid(void)
{
    static const int tids[] = {0, 1, 0, 1, -1, NTHREADS, INT_MAX, INT_MIN};

    return tids[next() % (sizeof(tids) / sizeof(tids[0]))];
}

static int tid_ok(int tid)
{
    return tid >= 0 && tid < NTHREADS;
}

static void op_thread_start(void)
{
    int tid = pick_tid();
    int want = !tid_ok(tid) ? -EINVAL : z.bound >= 0 ? -EBUSY : 0;

    if (trace)
        fprintf(stderr, "  start tid %d -> %d\n", tid, want);
    EXPECT_RET(tpoll_thread_start(z.tp, tid), want);
    if (want == 0)
        z.bound = tid;
    EXPECT_RET(tpoll_thread_id(z.tp), z.bound >= 0 ? z.bound : -EPERM);
}

static void op_thread_stop(void)
{
    EXPECT_RET(tpoll_thread_stop(z.tp), z.bound >= 0 ? 0 : -EPERM);
    z.bound = -1;
    EXPECT_RET(tpoll_thread_id(z.tp), -EPERM);
}

static void op_wake(void)
{
    int tid = pick_tid();

    EXPECT_RET(tpoll_wake(z.tp, tid), tid_ok(tid) ? 0 : -EINVAL);
}

static void delete_if_inserted(int i)
{
    if (z.s[i].inserted)
        op_delete(i);
}

/* Close both ends and open a new pair: the numbers are usually reused. */
static void op_reopen(int p)
{
    delete_if_inserted(2 * p);
    delete_if_inserted(2 * p + 1);
    close(z.s[2 * p].fd);
    close(z.s[2 * p + 1].fd);
    open_pair(p);
}

static void op_shutdown(int p)
{
    if (!z.shut[p])
        CHECK(shutdown(z.s[2 * p].fd, SHUT_RDWR) == 0, "shutdown: %d", errno);
    z.shut[p] = 1;
}

static void op_counters(void)
{
    struct tpoll_counters c;
    int tid = pick_tid();

    if (!tid_ok(tid)) {
        EXPECT_RET(tpoll_thread_counters(z.tp, tid, &c), -EINVAL);
        return;
    }
    EXPECT_RET(tpoll_thread_counters(z.tp, tid, NULL), -EINVAL);
    EXPECT_RET(tpoll_thread_counters(z.tp, tid, &c), 0);
    CHECK(c.callbacks == z.callbacks[tid],
          "thread %d counts %llu callbacks, model %llu", tid,
          (unsigned long long)c.callbacks,
          (unsigned long long)z.callbacks[tid]);
}

/* fds that are not in the table: out of range, closed, a regular file
 * (the last two are inserted, and deleted at once, by the insert case). */
static void op_bad_fd(void)
{
    static const int fixed[] = {-1, INT_MIN, MAX_FDS, INT_MAX};
    unsigned kind = next() % 6, api = next() % 6;
    int fd, insert_err, range_err = -ENOENT;

    if (kind < 4) {
        fd = fixed[kind];
        /* Negative: no fd at all; beyond the table: max_fds too small. */
        range_err = fd < 0 ? -EBADF : -EMFILE;
        insert_err = range_err;
    } else if (kind == 4) {
        fd = MAX_FDS - 1;
        if (fcntl(fd, F_GETFD) >= 0)
            return;
        /* Insert makes no system call: it takes the closed number. */
        insert_err = 0;
    } else {
        fd = regular_fd;
        if (fd >= MAX_FDS)
            return;
        insert_err = 0;
    }
    switch (api) {
    case 0:
        EXPECT_RET(tpoll_fd_insert(z.tp, fd, on_event, NULL, 1), insert_err);
        /* Taken without interest: nothing registered, nothing reported;
         * out of the table again at once. */
        if (insert_err == 0)
            EXPECT_RET(tpoll_fd_delete(z.tp, fd), 0);
        break;
    case 1:
        EXPECT_RET(tpoll_fd_delete(z.tp, fd), range_err);
        break;
    case 2:
        EXPECT_RET(tpoll_want_recv(z.tp, fd), range_err);
        break;
    case 3:
        EXPECT_RET(tpoll_stop_send(z.tp, fd), range_err);
        break;
    case 4:
        EXPECT_RET(tpoll_fd_set_threads(z.tp, fd, 1), range_err);
        break;
    default:
        EXPECT_RET(tpoll_fd_interest(z.tp, fd), range_err);
        break;
    }
}

static void run_op(void)
{
    unsigned op = next() % 17;
    int i = (int)(next() % NSLOTS);

    if (trace)
        fprintf(stderr, "op %u slot %d fd %d\n", op, i, z.s[i].fd);

    switch (op) {
    case 0: op_insert(i); break;
    case 1: op_delete(i); break;
    case 2: case 3: case 4: case 5: op_interest(i, (int)op - 2); break;
    case 6: op_set_threads(i); break;
    case 7: op_write(i); break;
    case 8: case 9: op_wait(); break;
    case 10: op_wake(); break;
    case 11: op_thread_stop(); break;
    case 12: op_thread_start(); break;
    case 13: op_reopen(i / 2); break;
    case 14: op_shutdown(i / 2); break;
    case 15: z.s[i].action = next() % NACT; break;
    default:
        if (i & 1)
            op_counters();
        else
            op_bad_fd();
        break;
    }
    model_check_all();
}

static const char *pick_backend(unsigned b)
{
    if (env_backend != NULL)
        return env_backend;
    return backends[b % (unsigned)nbackends];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const all[] = {"epoll", "kqueue", "port", "poll",
                                      "select"};
    FILE *f;
    size_t i;

    (void)argc, (void)argv;
    env_backend = getenv("TPOLL_BACKEND");
    trace = getenv("TPOLL_FUZZ_TRACE") != NULL;
    if (env_backend != NULL && *env_backend == '\0')
        env_backend = NULL;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (tpoll_backend_supported(all[i]) == 0)
            backends[nbackends++] = all[i];
    f = tmpfile();
    if (f == NULL || nbackends == 0)
        abort();
    regular_fd = fileno(f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tpoll_options o;
    int p;

    if (regular_fd < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    memset(&z, 0, sizeof(z));
    z.p = data;
    z.end = data + size;
    z.bound = -1;
    tpoll_options_init(&o);
    o.max_fds = MAX_FDS;
    o.threads = NTHREADS;
    o.backend = z.backend = pick_backend(next());
    CHECK(tpoll_create(&z.tp, &o) == 0, "tpoll_create(%s) failed", o.backend);
    for (p = 0; p < NPAIRS; p++)
        open_pair(p);
    while (z.p < z.end)
        run_op();
    EXPECT_RET(tpoll_destroy(z.tp), 0);
    for (p = 0; p < NSLOTS; p++) {
        check_fd_open(z.s[p].fd);
        close(z.s[p].fd);
    }
    z.tp = NULL;
    return 0;
}
