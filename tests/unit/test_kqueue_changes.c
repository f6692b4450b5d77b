/* SPDX-License-Identifier: MIT */
/*
 * The kqueue backend's changelists. kevent() is wrapped at link time
 * (--wrap=kevent): every call is recorded and then passed to the real one,
 * so the changes are checked exactly and their effect on real readiness
 * too. For every (registered, wanted) pair over {none, recv, send, both},
 * reached through interest and through the thread mask, the update pass
 * must submit exactly one add per direction gained and one delete per
 * direction lost, all in one kevent() call with room for every result.
 * Also: failing changes, early flushes, the EVFILT_USER probe and its
 * fallback, and the fd kinds the backend refuses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/event.h>
#include <unistd.h>

#include "backend.h"
#include "core.h"
#include "testutil.h"
#include "tpoll_kqueue_config.h"

#if TP_KQ_HAVE_EV_RECEIPT
#define RECEIPT EV_RECEIPT
#else
#define RECEIPT 0
#endif

#define MAX_CALLS 32
#define MAX_CHANGES 64

struct call {
    int nchanges;
    int nevents;
    struct kevent ch[MAX_CHANGES];
};

static struct call calls[MAX_CALLS];
static int ncalls;
static int recording;
static int user_filter_broken; /* EVFILT_USER changes fail with EINVAL */
static int user_changes;       /* EVFILT_USER changes seen */
static int fail_next_delete;   /* errno the next lone EV_DELETE fails with */
static int fail_whole_after;   /* >0: the next batch applies this many
                                * changes, then fails as a whole */

static int is_user_filter(const struct kevent *k)
{
#if TP_KQ_HAVE_EVFILT_USER
    return k->filter == EVFILT_USER;
#else
    (void)k;
    return 0;
#endif
}

/* kevent()'s counts are size_t on NetBSD, int elsewhere. */
#if defined(__NetBSD__) || (defined(TP_EMUL_NETBSD) && TP_EMUL_NETBSD)
typedef size_t kq_count_t;
#else
typedef int kq_count_t;
#endif

int __real_kevent(int kq, const struct kevent *ch, kq_count_t nch,
                  struct kevent *ev, kq_count_t nev, const struct timespec *ts);
int __wrap_kevent(int kq, const struct kevent *ch, kq_count_t nch,
                  struct kevent *ev, kq_count_t nev, const struct timespec *ts);

int __wrap_kevent(int kq, const struct kevent *ch, kq_count_t nch,
                  struct kevent *ev, kq_count_t nev, const struct timespec *ts)
{
    for (int i = 0; i < (int)nch; i++) {
        if (!is_user_filter(&ch[i]))
            continue;
        user_changes++;
        if (user_filter_broken) {
            errno = EINVAL;
            return -1;
        }
    }
    if (recording && nch > 0) {
        struct call *c = &calls[ncalls++];

        assert_true(ncalls <= MAX_CALLS && (int)nch <= MAX_CHANGES);
        c->nchanges = (int)nch;
        c->nevents = (int)nev;
        memcpy(c->ch, ch, (size_t)nch * sizeof(*ch));
    }
    /* A call that fails as a whole after applying some of its changes
     * (as a fault reading the changelist does): -1, and no entries. */
    if (fail_whole_after > 0 && (int)nch > fail_whole_after) {
        __real_kevent(kq, ch, (kq_count_t)fail_whole_after, ev, nev, ts);
        fail_whole_after = 0;
        errno = EFAULT;
        return -1;
    }
    /* A delete the kernel refuses: its receipt carries the error, and the
     * filter stays registered (nothing is passed on). */
    if (fail_next_delete && nch == 1 && (ch[0].flags & EV_DELETE) && nev >= 1) {
        ev[0] = ch[0];
        ev[0].flags = EV_ERROR;
        ev[0].data = fail_next_delete;
        fail_next_delete = 0;
        return 1;
    }
    return __real_kevent(kq, ch, nch, ev, nev, ts);
}

static void record(int on)
{
    recording = on;
    if (on)
        ncalls = 0;
}

struct rec {
    int calls;
    unsigned events;
};

static void record_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct rec *r = owner;

    (void)tp, (void)fd;
    r->calls++;
    r->events |= events;
}

static struct tpoll *create(int threads, int batch)
{
    struct tpoll_options o;
    struct tpoll *tp = NULL;

    tpoll_options_init(&o);
    o.threads = threads;
    o.max_fds = 256;
    o.batch = batch;
    o.backend = "kqueue";
    assert_int_equal(tpoll_create(&tp, &o), 0);
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    return tp;
}

static uint32_t gen_of(struct tpoll *tp, int fd)
{
    return TP_GEN(tp_load(&tp->group[0].fds[fd].state));
}

static void set_interest(struct tpoll *tp, int fd, unsigned want)
{
    assert_int_equal(
        (want & TPOLL_RECV ? tpoll_want_recv : tpoll_stop_recv)(tp, fd), 0);
    assert_int_equal(
        (want & TPOLL_SEND ? tpoll_want_send : tpoll_stop_send)(tp, fd), 0);
}

static const struct kevent *change_for(const struct call *c, int fd, int filter)
{
    for (int i = 0; i < c->nchanges; i++)
        if (c->ch[i].ident == (uintptr_t)fd && (int)c->ch[i].filter == filter)
            return &c->ch[i];
    return NULL;
}

/* One call that turns `have` into `want` for fd: an add (again) of every
 * wanted filter (an add of one already there only updates it, and
 * repairs one the kernel dropped when the program closed the fd without
 * deleting it), a delete of every filter no longer wanted, nothing for
 * the others; an eventlist with room for a result per change. */
static void check_changes(struct tpoll *tp, int fd, unsigned have,
                          unsigned want)
{
    unsigned dirs[2] = {TPOLL_RECV, TPOLL_SEND};
    int filters[2] = {(int)EVFILT_READ, (int)EVFILT_WRITE};
    int expected = 0;

    if (have == want) {
        assert_int_equal(ncalls, 0);
        return;
    }
    assert_int_equal(ncalls, 1);
    assert_true(calls[0].nevents >= calls[0].nchanges);
    for (int d = 0; d < 2; d++) {
        const struct kevent *k = change_for(&calls[0], fd, filters[d]);

        if (want & dirs[d]) {
            assert_non_null(k);
            assert_int_equal(k->flags, EV_ADD | RECEIPT);
            assert_int_equal((uint32_t)(uintptr_t)k->udata, gen_of(tp, fd));
            expected++;
        } else if (have & dirs[d]) {
            assert_non_null(k);
            assert_int_equal(k->flags, EV_DELETE | RECEIPT);
            expected++;
        } else {
            assert_null(k);
        }
    }
    assert_int_equal(calls[0].nchanges, expected);
}

/* The registration left behind reports exactly `want`. */
static void check_registered(struct tpoll *tp, int fd, int peer, struct rec *r,
                             unsigned want)
{
    r->calls = 0;
    r->events = 0;
    tu_write_byte(peer);
    assert_int_equal(tpoll_wait(tp, want ? 1000 : 0), want ? 1 : 0);
    assert_int_equal(r->events & (TPOLL_RECV | TPOLL_SEND), want);
    tu_drain(fd);
}

static void test_interest_transitions(void **state)
{
    (void)state;
    for (unsigned have = 0; have < 4; have++) {
        for (unsigned want = 0; want < 4; want++) {
            struct tpoll *tp = create(1, 0);
            struct rec r = {0};
            int sv[2];

            tu_socketpair(sv);
            assert_int_equal(tpoll_fd_insert(tp, sv[0], record_cb, &r, 1), 0);
            set_interest(tp, sv[0], have);
            assert_true(tpoll_wait(tp, 0) >= 0);
            record(1);
            set_interest(tp, sv[0], want);
            assert_true(tpoll_wait(tp, 0) >= 0);
            record(0);
            check_changes(tp, sv[0], have, want);
            check_registered(tp, sv[0], sv[1], &r, want);
            assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
            close(sv[0]);
            close(sv[1]);
            tu_destroy(tp);
        }
    }
}

/* want = interest only while the thread is in the fd's mask: leaving the
 * mask deletes what is registered, joining it adds the interest. */
static void test_mask_transitions(void **state)
{
    (void)state;
    for (unsigned interest = 1; interest < 4; interest++) {
        struct tpoll *tp = create(2, 0);
        struct rec r = {0};
        int sv[2];

        tu_socketpair(sv);
        assert_int_equal(tpoll_fd_insert(tp, sv[0], record_cb, &r, 1), 0);
        set_interest(tp, sv[0], interest);
        assert_true(tpoll_wait(tp, 0) >= 0);
        record(1);
        assert_int_equal(tpoll_fd_set_threads(tp, sv[0], TPOLL_THREAD(1)), 0);
        assert_true(tpoll_wait(tp, 0) >= 0);
        record(0);
        check_changes(tp, sv[0], interest, 0);
        check_registered(tp, sv[0], sv[1], &r, 0);
        record(1);
        assert_int_equal(tpoll_fd_set_threads(tp, sv[0], 3), 0);
        assert_true(tpoll_wait(tp, 0) >= 0);
        record(0);
        check_changes(tp, sv[0], 0, interest);
        check_registered(tp, sv[0], sv[1], &r, interest);
        assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
        close(sv[0]);
        close(sv[1]);
        tu_destroy(tp);
    }
}

/* One change of the batch fails (its fd was closed behind tpoll's back):
 * the others are applied, the failure reaches that fd's callback as an
 * error and its direction is no longer counted as registered. */
static void test_failing_change_in_batch(void **state)
{
    struct rec ra = {0}, rb = {0}, rc = {0};
    struct tpoll *tp = create(1, 0);
    int a[2], b[2], c[2];

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    tu_socketpair(c);
    assert_int_equal(tpoll_fd_insert(tp, a[0], record_cb, &ra, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], record_cb, &rb, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, c[0], record_cb, &rc, 1), 0);
    /* b's kind is checked at its first registration, before any batch;
     * closed after that, its next registration reaches the batch. */
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(tpoll_stop_recv(tp, b[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    close(b[0]);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, c[0]), 0);
    tu_write_byte(a[1]);
    tu_write_byte(c[1]);
    record(1);
    assert_int_equal(tpoll_wait(tp, 1000), 3);
    record(0);
    assert_int_equal(ncalls, 1);
    assert_int_equal(calls[0].nchanges, 3);
    assert_true(calls[0].nevents >= 3);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(ra.events, TPOLL_RECV);
    assert_int_equal(rc.calls, 1);
    assert_int_equal(rc.events, TPOLL_RECV);
    assert_int_equal(rb.calls, 1);
    assert_true(rb.events & TPOLL_ERR);
    assert_int_equal(tp_load(&tp->group[0].fds[b[0]].polled_recv), 0);
    assert_int_equal(tpoll_fd_delete(tp, b[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, a[0]), 0);
    assert_int_equal(tpoll_fd_delete(tp, c[0]), 0);
    close(a[0]);
    close(a[1]);
    close(b[1]);
    close(c[0]);
    close(c[1]);
    tu_destroy(tp);
}

/* A delete whose knote went with a close is "already gone": no error. */
static void test_delete_of_closed_fd_is_quiet(void **state)
{
    struct tpoll *tp = create(1, 0);
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], record_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    close(sv[0]);
    record(1);
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    record(0);
    assert_int_equal(ncalls, 1);
    assert_int_equal(calls[0].ch[0].flags, EV_DELETE | RECEIPT);
    assert_int_equal(r.calls, 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[1]);
    tu_destroy(tp);
}

/* A batch larger than the changelist buffer (batch option 4: room for 4
 * changes) is submitted in several full calls, and every change lands. */
static void test_full_buffer_flushes_early(void **state)
{
    struct tpoll *tp = create(1, 4);
    struct rec r[5] = {{0}};
    int sv[5][2], total = 0;

    (void)state;
    for (int i = 0; i < 5; i++) {
        tu_socketpair(sv[i]);
        assert_int_equal(tpoll_fd_insert(tp, sv[i][0], record_cb, &r[i], 1), 0);
        assert_int_equal(tpoll_want_recv(tp, sv[i][0]), 0);
        assert_int_equal(tpoll_want_send(tp, sv[i][0]), 0);
        tu_write_byte(sv[i][1]);
    }
    record(1);
    assert_true(tpoll_wait(tp, 1000) > 0);
    record(0);
    assert_true(ncalls >= 3);
    for (int c = 0; c < ncalls; c++) {
        assert_true(calls[c].nchanges <= 4);
        assert_true(calls[c].nevents >= calls[c].nchanges);
        total += calls[c].nchanges;
    }
    assert_int_equal(total, 10);
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 10 && r[i].calls == 0; k++)
            assert_true(tpoll_wait(tp, 1000) >= 0);
        assert_int_equal(r[i].events, TPOLL_RECV | TPOLL_SEND);
        assert_int_equal(tpoll_fd_delete(tp, sv[i][0]), 0);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    tu_destroy(tp);
}

/* Any block device node, opened for fstat only (O_PATH needs no access to
 * the device), or -1 where there is none or no O_PATH. */
static int open_block_device(void)
{
    int fd = -1;
#ifdef O_PATH
    DIR *d = opendir("/dev");
    struct dirent *de;

    if (d == NULL)
        return -1;
    while (fd < 0 && (de = readdir(d)) != NULL) {
        struct stat sb;

        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISBLK(sb.st_mode))
            fd = openat(dirfd(d), de->d_name, O_PATH | O_CLOEXEC);
    }
    closedir(d);
#endif
    return fd;
}

/* kqueue treats block devices as vnodes (always readable, not writable):
 * their first registration is refused (TPOLL_ERR, never readiness), and
 * insert, which makes no system call, takes them like any fd. */
static void test_block_device_refused(void **state)
{
    struct tpoll *tp;
    struct rec r = {0};
    int fd = open_block_device();

    (void)state;
    if (fd < 0)
        skip();
    tp = create(1, 0);
    assert_int_equal(tpoll_fd_insert(tp, fd, record_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, fd), 0);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.events, TPOLL_ERR | TPOLL_RECV);
    assert_true(tpoll_wait(tp, 0) >= 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(tpoll_fd_delete(tp, fd), 0);
    close(fd);
    tu_destroy(tp);
}

/* The wake of another thread goes through the thread's backend hook. */
static void wake_thread0(struct tpoll *tp)
{
    tp->be->wake(&tp->threads[0]);
}

/* EVFILT_USER is probed when a thread starts: where it works, a wake is a
 * NOTE_TRIGGER; where it fails, the thread falls back to a wake fd and
 * never touches EVFILT_USER again. Either way the wake ends a wait. */
static void test_wake_user_filter_or_fallback(void **state)
{
    (void)state;
    for (int broken = 0; broken < 2; broken++) {
        struct tpoll *tp;
        struct tpoll_counters c;
        int seen;

        user_filter_broken = broken;
        tp = create(1, 0);
        seen = user_changes;
        wake_thread0(tp);
        assert_int_equal(tpoll_wait(tp, 10000), 0);
        assert_int_equal(tpoll_thread_counters(tp, 0, &c), 0);
        assert_int_equal(c.wakeups, 1);
        assert_int_equal(user_changes - seen,
                         broken ? 0 : TP_KQ_HAVE_EVFILT_USER);
        tu_destroy(tp);
        user_filter_broken = 0;
    }
}

/* A delete the kernel refuses (other than "already gone") leaves the
 * filter registered: it stays counted as registered and the next update
 * pass removes it, rather than being forgotten while it keeps firing. */
static void test_refused_delete_is_retried(void **state)
{
    struct tpoll *tp = create(1, 0);
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], record_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    fail_next_delete = ENOMEM;
    record(1);
    assert_int_equal(tpoll_stop_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(fail_next_delete, 0);
    assert_true(tp_load(&tp->group[0].fds[sv[0]].polled_recv) & 1);
    /* The next pass tries again, and the kernel agrees this time. */
    assert_int_equal(tpoll_wait(tp, 0), 0);
    record(0);
    assert_int_equal(ncalls, 2);
    assert_int_equal(calls[1].nchanges, 1);
    assert_int_equal(calls[1].ch[0].flags, EV_DELETE | RECEIPT);
    assert_int_equal(tp_load(&tp->group[0].fds[sv[0]].polled_recv), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* After the program's own shutdown(SHUT_WR) the write filter reports
 * EV_EOF (it can send no more) while the peer is still there: the
 * callback is told send only, as epoll tells it (EPOLLOUT), not a
 * hang-up, which would also report recv to a reader with nothing to read
 * and tell it the connection is over; the peer's data still arrives. */
static void test_own_shutdown_is_not_a_hangup(void **state)
{
    struct tpoll *tp = create(1, 0);
    struct rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], record_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.events, TPOLL_SEND);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    r.calls = 0;
    r.events = 0;
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.events, TPOLL_SEND);
    assert_int_equal(tpoll_stop_send(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    r.events = 0;
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.events, TPOLL_RECV);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* Send wanted on a pipe whose reader is gone: FreeBSD, DragonFly and
 * OpenBSD refuse the write filter (EPIPE), NetBSD too (EBADF), macOS
 * attaches it and reports EV_EOF. Whichever, the callback sees what it
 * sees when the reader leaves after the registration (send, with the
 * hang-up or error poll(2) reports), and again at every poll while send
 * is wanted, as a level-triggered poller reports it; the write fails with
 * EPIPE. Once send is no longer wanted, nothing more. */
static unsigned widowed_pipe_events(int close_first, int *write_err)
{
    struct tpoll *tp = create(1, 0);
    struct rec r = {0};
    int p[2];

    tu_pipe(p);
    if (close_first)
        close(p[0]);
    assert_int_equal(tpoll_fd_insert(tp, p[1], record_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_send(tp, p[1]), 0);
    if (!close_first) {
        assert_int_equal(tpoll_wait(tp, 1000), 1);
        close(p[0]);
        r.calls = 0;
        r.events = 0;
    }
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r.calls, 2);
    *write_err = write(p[1], "x", 1) < 0 ? errno : 0;
    assert_int_equal(tpoll_stop_send(tp, p[1]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 20), 0);
    assert_int_equal(r.calls, 2);
    assert_int_equal(tpoll_fd_delete(tp, p[1]), 0);
    close(p[1]);
    tu_destroy(tp);
    return r.events;
}

static void test_send_to_widowed_pipe(void **state)
{
    unsigned before, after;
    int err_before, err_after;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    before = widowed_pipe_events(1, &err_before);
    after = widowed_pipe_events(0, &err_after);
    assert_true(before & TPOLL_SEND);
    assert_true(before & (TPOLL_HUP | TPOLL_ERR));
    assert_int_equal(before, after);
    assert_int_equal(err_before, EPIPE);
    assert_int_equal(err_after, EPIPE);
}

/* A batch that fails as a whole (-1, errno EFAULT) after the kernel
 * applied its first change: every change lands anyway, no callback is
 * told of an error, and the registrations are exactly the ones the core
 * counts: one whose interest is then dropped stays quiet. */
static void test_batch_failing_as_a_whole(void **state)
{
    struct tpoll *tp = create(1, 0);
    struct rec r[3] = {{0}};
    int sv[3][2];

    (void)state;
    for (int i = 0; i < 3; i++) {
        tu_socketpair(sv[i]);
        assert_int_equal(tpoll_fd_insert(tp, sv[i][0], record_cb, &r[i], 1), 0);
        assert_int_equal(tpoll_want_recv(tp, sv[i][0]), 0);
        tu_write_byte(sv[i][1]);
    }
    fail_whole_after = 1;
    assert_int_equal(tpoll_wait(tp, 1000), 3);
    assert_int_equal(fail_whole_after, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].events, TPOLL_RECV);
        assert_true(tp_load(&tp->group[0].fds[sv[i][0]].polled_recv) & 1);
        tu_drain(sv[i][0]);
    }
    assert_int_equal(tpoll_stop_recv(tp, sv[0][0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    r[0].calls = 0;
    tu_write_byte(sv[0][1]);
    assert_int_equal(tpoll_wait(tp, 20), 0);
    assert_int_equal(r[0].calls, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tpoll_fd_delete(tp, sv[i][0]), 0);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interest_transitions),
        cmocka_unit_test(test_mask_transitions),
        cmocka_unit_test(test_failing_change_in_batch),
        cmocka_unit_test(test_refused_delete_is_retried),
        cmocka_unit_test(test_delete_of_closed_fd_is_quiet),
        cmocka_unit_test(test_full_buffer_flushes_early),
        cmocka_unit_test(test_wake_user_filter_or_fallback),
        cmocka_unit_test(test_block_device_refused),
        cmocka_unit_test(test_own_shutdown_is_not_a_hangup),
        cmocka_unit_test(test_send_to_widowed_pipe),
        cmocka_unit_test(test_batch_failing_as_a_whole),
    };

    return cmocka_run_group_tests_name("kqueue changelists", tests, NULL, NULL);
}
