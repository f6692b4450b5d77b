/* SPDX-License-Identifier: MIT */
/* Delete: immediate close and reuse of the number, delete from callbacks
 * (own fd, another fd with an event pending in the same batch), dup'd
 * files, and delete from a thread that does not own the fd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Delete, close and reopen at once: the new user of the number sees
 * nothing of the old one's pending data, then its own events. */
static void test_delete_close_reuse(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_rec old = {0}, fresh = {0};
    int sv[2], nv[2], num;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    num = sv[0];
    assert_int_equal(tpoll_fd_insert(tp, num, tu_rec_cb, &old, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, num), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_fd_delete(tp, num), 0);
    assert_int_equal(tpoll_fd_interest(tp, num), -ENOENT);
    close(sv[0]);
    tu_socketpair(nv);
    assert_int_equal(nv[0], num);
    assert_int_equal(tpoll_fd_insert(tp, num, tu_rec_cb, &fresh, 1), 0);
    assert_int_equal(tpoll_fd_interest(tp, num), 0);
    assert_int_equal(tpoll_want_recv(tp, num), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(old.calls, 0);
    assert_int_equal(fresh.calls, 0);
    tu_write_byte(nv[1]);
    assert_true(tu_wait_until(tp, tu_rec_called, &fresh));
    assert_int_equal(old.calls, 0);
    assert_int_equal(tpoll_fd_delete(tp, num), 0);
    close(sv[1]);
    close(nv[0]);
    close(nv[1]);
    tu_destroy(tp);
}

/*
 * Two fds ready in the same batch. Whichever callback runs first deletes
 * the other, closes it and reuses its number for a new, idle fd with a new
 * owner. The other's pending event must reach neither its old callback nor
 * the new user.
 */
struct pair_ctx {
    int fd[2];     /* the two ready fds */
    int peer[2];   /* their peers */
    int calls[2];  /* callbacks per original fd */
    int first;     /* index of the fd whose callback ran first, or -1 */
    int reused[2]; /* the new socketpair on the deleted number */
    struct tu_rec fresh;
};

static void fresh_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    tu_rec_cb(tp, fd, events, owner);
}

static void pair_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct pair_ctx *c = owner;
    int me = fd == c->fd[0] ? 0 : 1, other = 1 - me;

    (void)events;
    assert_int_equal(fd, c->fd[me]);
    c->calls[me]++;
    tu_drain(fd);
    if (c->first >= 0)
        return;
    c->first = me;
    assert_int_equal(tpoll_fd_delete(tp, c->fd[other]), 0);
    assert_int_equal(close(c->fd[other]), 0);
    tu_socketpair(c->reused);
    assert_int_equal(c->reused[0], c->fd[other]);
    assert_int_equal(tpoll_fd_insert(tp, c->reused[0], fresh_cb, &c->fresh, 1),
                     0);
    assert_int_equal(tpoll_want_recv(tp, c->reused[0]), 0);
}

static void test_delete_other_in_batch(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct pair_ctx c;
    int a[2], b[2], other;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.first = -1;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(a);
    tu_socketpair(b);
    c.fd[0] = a[0], c.peer[0] = a[1];
    c.fd[1] = b[0], c.peer[1] = b[1];
    assert_int_equal(tpoll_fd_insert(tp, a[0], pair_cb, &c, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], pair_cb, &c, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, a[0]), 0);
    assert_int_equal(tpoll_want_recv(tp, b[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(a[1]);
    tu_write_byte(b[1]);
    /* Both are ready before the wait: one batch holds both events. */
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_true(c.first == 0 || c.first == 1);
    other = 1 - c.first;
    assert_int_equal(c.calls[c.first], 1);
    assert_int_equal(c.calls[other], 0);
    assert_int_equal(c.fresh.calls, 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(c.calls[other], 0);
    assert_int_equal(c.fresh.calls, 0);
    tu_write_byte(c.reused[1]);
    assert_true(tu_wait_until(tp, tu_rec_called, &c.fresh));
    assert_int_equal(c.calls[other], 0);
    assert_int_equal(tpoll_fd_delete(tp, c.fd[c.first]), 0);
    assert_int_equal(tpoll_fd_delete(tp, c.reused[0]), 0);
    close(c.fd[c.first]);
    close(c.peer[0]);
    close(c.peer[1]);
    close(c.reused[0]);
    close(c.reused[1]);
    tu_destroy(tp);
}

/* A callback deletes and closes its own fd; nothing more is reported for
 * it, and delete does not wait for the running callback (itself). */
struct self_ctx {
    int calls;
    int ret;
};

static void self_delete_cb(struct tpoll *tp, int fd, unsigned events,
                           void *owner)
{
    struct self_ctx *c = owner;

    (void)events;
    c->calls++;
    c->ret = tpoll_fd_delete(tp, fd);
    close(fd);
}

static void test_delete_self_in_callback(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct self_ctx c = {0};
    int sv[2];

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], self_delete_cb, &c, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.ret, 0);
    assert_int_equal(tpoll_fd_interest(tp, sv[0]), -ENOENT);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_wait(tp, 10), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), -ENOENT);
    close(sv[1]);
    tu_destroy(tp);
}

/* The registered file outlives the number (dup): after delete and close of
 * the dup, the shared file's readiness must not keep waking the poller. */
static void test_delete_dup_closed(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_rec r = {0};
    struct tpoll_counters c0, c1;
    int sv[2], d, i;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    d = dup(sv[0]);
    assert_true(d >= 0);
    assert_int_equal(tpoll_fd_insert(tp, d, tu_rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, d), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_fd_delete(tp, d), 0);
    close(d);
    tu_write_byte(sv[1]);
    c0 = tu_counters(tp, 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(tpoll_wait(tp, 0), 0);
    c1 = tu_counters(tp, 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(c1.idle_wakeups, c0.idle_wakeups);
    assert_int_equal(c1.callbacks, c0.callbacks);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/* Deleted and re-inserted under the same number without a close: the new
 * registration works (the kernel's old one was really removed). */
static void test_delete_reinsert_same_fd(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_rec r1 = {0}, r2 = {0};
    int sv[2];

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_rec_cb, &r1, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], tu_rec_cb, &r2, 1), 0);
    assert_int_equal(tpoll_want_send(tp, sv[0]), 0);
    assert_int_equal(tpoll_wait(tp, 1000), 1);
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.events, TPOLL_SEND);
    assert_int_equal(tpoll_fd_delete(tp, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
}

/*
 * Delete from a thread that is not bound, while the owner polls an fd that
 * is always readable: once delete returns, the callback never starts again.
 * The callback checks a flag set right after delete returns.
 */
struct race_ctx {
    atomic_int deleted;
    atomic_int late; /* callbacks that started after delete returned */
    atomic_ulong calls;
};

static void race_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct race_ctx *c = owner;

    (void)tp, (void)fd, (void)events;
    if (atomic_load(&c->deleted))
        atomic_fetch_add(&c->late, 1);
    atomic_fetch_add(&c->calls, 1);
}

static void test_delete_from_other_thread(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_loop loop;
    int round;

    (void)state;
    tu_loop_start(&loop, tp, 0);
    for (round = 0; round < 50; round++) {
        struct race_ctx c;
        int sv[2];

        atomic_init(&c.deleted, 0);
        atomic_init(&c.late, 0);
        atomic_init(&c.calls, 0);
        tu_socketpair(sv);
        tu_write_byte(sv[1]);
        assert_int_equal(tpoll_fd_insert(tp, sv[0], race_cb, &c, 1), 0);
        assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
        assert_true(tu_wait_atomic(&c.calls, 1 + (unsigned long)(round % 4)));
        /* c lives on this stack: wait until no callback can use it. */
        assert_int_equal(tpoll_fd_delete_wait(tp, sv[0]), 0);
        atomic_store(&c.deleted, 1);
        close(sv[0]);
        close(sv[1]);
        /* A wake round trip: the owner has passed any dispatch of the old
         * batch once its loop counter moves. */
        {
            unsigned long l = atomic_load(&loop.loops);

            assert_int_equal(tpoll_wake(tp, 0), 0);
            assert_true(tu_wait_atomic(&loop.loops, l + 1));
        }
        assert_int_equal(atomic_load(&c.late), 0);
    }
    tu_loop_stop(&loop);
    tu_destroy(tp);
}

/*
 * The owner is another thread: delete, close and reuse the number at once
 * from the main thread, with data waiting on both the old and the new file.
 * The old user's callback never runs after delete returned; the new one
 * gets its event on the owner thread.
 */
struct reuse_ctx {
    atomic_int deleted;
    atomic_int late;
    struct tu_event fresh;
};

static void reuse_old_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct reuse_ctx *c = owner;

    (void)tp, (void)fd, (void)events;
    if (atomic_load(&c->deleted))
        atomic_fetch_add(&c->late, 1);
}

static void reuse_new_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct reuse_ctx *c = owner;

    (void)tp;
    if (events & TPOLL_RECV)
        tu_drain(fd);
    tu_event_post(&c->fresh);
}

static void test_reuse_across_threads(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l1;
    struct reuse_ctx c;
    int round;

    (void)state;
    memset(&c, 0, sizeof(c));
    tu_event_init(&c.fresh);
    tu_loop_start(&l1, tp, 1);
    for (round = 1; round <= 20; round++) {
        int a[2], b[2], num;

        atomic_store(&c.deleted, 0);
        tu_socketpair(a);
        num = a[0];
        tu_write_byte(a[1]);
        assert_int_equal(tpoll_fd_insert(tp, num, reuse_old_cb, &c, 2), 0);
        assert_int_equal(tpoll_want_recv(tp, num), 0);
        assert_int_equal(tpoll_fd_delete_wait(tp, num), 0);
        atomic_store(&c.deleted, 1);
        close(a[0]);
        close(a[1]);
        tu_socketpair(b);
        assert_int_equal(b[0], num);
        tu_write_byte(b[1]);
        assert_int_equal(tpoll_fd_insert(tp, num, reuse_new_cb, &c, 2), 0);
        assert_int_equal(tpoll_want_recv(tp, num), 0);
        assert_true(tu_event_wait(&c.fresh, round));
        assert_int_equal(tpoll_fd_delete_wait(tp, num), 0);
        close(b[0]);
        close(b[1]);
    }
    tu_loop_stop(&l1);
    assert_int_equal(atomic_load(&c.late), 0);
    tu_event_destroy(&c.fresh);
    tu_destroy(tp);
}

/*
 * Delete from inside a callback while the deleted fd's callback runs on
 * another thread: delete does not wait (1: the owner must not be freed
 * yet), and no callback for that fd starts once it returned.
 */
struct busy_ctx {
    struct tu_event entered, release;
    atomic_int deleted;
    atomic_int late;
    atomic_int ret;
    int victim;
    struct tpoll *victim_tp;
};

static void victim_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct busy_ctx *c = owner;

    (void)tp, (void)events;
    if (atomic_load(&c->deleted))
        atomic_fetch_add(&c->late, 1);
    if (tu_event_count(&c->entered) == 0) {
        tu_event_post(&c->entered);
        assert_true(tu_event_wait(&c->release, 1));
    }
    (void)fd;
}

static void killer_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct busy_ctx *c = owner;

    (void)tp, (void)events;
    tu_drain(fd);
    if (atomic_load(&c->deleted))
        return;
    atomic_store(&c->ret, tpoll_fd_delete(c->victim_tp, c->victim));
    atomic_store(&c->deleted, 1);
    tu_event_post(&c->release);
}

/*
 * The victim's callback runs (and blocks) on the thread `vtid` of `vtp`,
 * watched by `vloop`; the killer, on `ktp` with mask `kmask`, deletes the
 * victim from its own callback. A delete that waited for the victim would
 * never post the release.
 */
static void delete_while_running(struct tpoll *vtp, int vtid,
                                 struct tu_loop *vloop, struct tpoll *ktp,
                                 tpoll_mask_t kmask)
{
    struct busy_ctx c;
    int v[2], k[2];

    memset(&c, 0, sizeof(c));
    tu_event_init(&c.entered);
    tu_event_init(&c.release);
    tu_socketpair(v);
    tu_socketpair(k);
    c.victim = v[0];
    c.victim_tp = vtp;
    /* The victim stays readable (never drained). */
    tu_write_byte(v[1]);
    assert_int_equal(
        tpoll_fd_insert(vtp, v[0], victim_cb, &c, TPOLL_THREAD(vtid)), 0);
    assert_int_equal(tpoll_want_recv(vtp, v[0]), 0);
    assert_true(tu_event_wait(&c.entered, 1));
    assert_int_equal(tpoll_fd_insert(ktp, k[0], killer_cb, &c, kmask), 0);
    assert_int_equal(tpoll_want_recv(ktp, k[0]), 0);
    tu_write_byte(k[1]);
    assert_true(tu_event_wait(&c.release, 1));
    assert_int_equal(atomic_load(&c.ret), 1);
    /* Two wake round trips: the first ends the wait that ran the old
     * callback, the second is a whole wait after it. */
    for (int i = 0; i < 2; i++) {
        unsigned long l = atomic_load(&vloop->loops);

        assert_int_equal(tpoll_wake(vtp, vtid), 0);
        assert_true(tu_wait_atomic(&vloop->loops, l + 1));
    }
    assert_int_equal(atomic_load(&c.late), 0);
    assert_int_equal(tpoll_fd_interest(vtp, v[0]), -ENOENT);
    /* The killer's callback may still be returning on its thread. */
    assert_int_equal(tpoll_fd_delete_wait(ktp, k[0]), 0);
    close(v[0]), close(v[1]), close(k[0]), close(k[1]);
    tu_event_destroy(&c.entered);
    tu_event_destroy(&c.release);
}

static void test_delete_in_callback_while_running(void **state)
{
    struct tpoll *tp = tu_create(2, 0);
    struct tu_loop l0, l1;

    (void)state;
    tu_loop_start(&l0, tp, 0);
    tu_loop_start(&l1, tp, 1);
    delete_while_running(tp, 1, &l1, tp, TPOLL_THREAD(0));
    tu_loop_stop(&l0);
    tu_loop_stop(&l1);
    tu_destroy(tp);
}

/* The same from a callback of another instance, on a thread not bound to
 * the victim's: "inside a callback" is a property of the OS thread. */
static void test_delete_in_other_instance_callback(void **state)
{
    struct tpoll *a = tu_create(1, 0), *b = tu_create(1, 0);
    struct tu_loop la, lb;

    (void)state;
    tu_loop_start(&la, a, 0);
    tu_loop_start(&lb, b, 0);
    delete_while_running(a, 0, &la, b, TPOLL_THREAD(0));
    tu_loop_stop(&la);
    tu_loop_stop(&lb);
    tu_destroy(a);
    tu_destroy(b);
}

/*
 * poll() and select() hold every file they watch until they return: a
 * thread asleep in them keeps a deleted and closed socket alive, and its
 * peer sees no end-of-file. Delete wakes such a thread, which drops the
 * fd before it polls again: the peer sees EOF at once, on every backend.
 */
struct sleeper {
    atomic_int calls;
    atomic_long tid; /* kernel thread id of the loop */
};

static void sleeper_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct sleeper *s = owner;

    (void)tp, (void)events;
    tu_drain(fd);
    atomic_store(&s->tid, (long)syscall(SYS_gettid));
    atomic_fetch_add(&s->calls, 1);
}

/* The loop thread is blocked in the kernel (state S in /proc). */
static int thread_sleeps(long tid)
{
    char path[64], buf[256], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
    f = fopen(path, "r");
    if (f == NULL)
        return 1; /* no /proc: nothing to wait for */
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && p[2] == 'S';
}

static void test_delete_close_peer_sees_eof(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct sleeper s = {0};
    struct pollfd pfd;
    struct tu_loop l;
    uint64_t end;
    char c;
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_loop_start(&l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], sleeper_cb, &s, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&s.calls) == 0 && tu_now_ms() < end)
        sched_yield();
    assert_int_equal(atomic_load(&s.calls), 1);
    /* Back asleep in its poller, watching sv[0]. */
    while (!thread_sleeps(atomic_load(&s.tid)) && tu_now_ms() < end)
        sched_yield();
    assert_true(thread_sleeps(atomic_load(&s.tid)));
    assert_true(tpoll_fd_delete(tp, sv[0]) >= 0);
    close(sv[0]);
    pfd.fd = sv[1];
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, TU_DEADLINE_MS), 1);
    assert_int_equal(read(sv[1], &c, 1), 0);
    tu_loop_stop(&l);
    close(sv[1]);
    tu_destroy(tp);
}

/* The peer of a closed socket sees EOF now, without waiting. */
static int peer_sees_eof_now(int peer)
{
    struct pollfd pfd = {.fd = peer, .events = POLLIN};
    char c;

    return poll(&pfd, 1, 0) == 1 && read(peer, &c, 1) == 0;
}

/* Thread 0 loops with sv[0] registered, and is back asleep in its poller
 * after one callback. */
static void start_asleep_with(struct tpoll *tp, struct tu_loop *l,
                              struct sleeper *s, int sv[2])
{
    uint64_t end;

    tu_socketpair(sv);
    tu_loop_start(l, tp, 0);
    assert_int_equal(tpoll_fd_insert(tp, sv[0], sleeper_cb, s, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, sv[0]), 0);
    tu_write_byte(sv[1]);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&s->calls) == 0 && tu_now_ms() < end)
        sched_yield();
    assert_int_equal(atomic_load(&s->calls), 1);
    while (!thread_sleeps(atomic_load(&s->tid)) && tu_now_ms() < end)
        sched_yield();
    assert_true(thread_sleeps(atomic_load(&s->tid)));
}

/*
 * The second phase ends when nothing holds the file: a poller asleep on
 * it (poll, select, an io_uring poll request) has let it go when
 * tpoll_fd_delete_wait returns, so a close right after it gives the peer
 * EOF at once, asleep thread or not.
 */
static void test_delete_wait_then_close_releases_file(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct sleeper s = {0};
    struct tu_loop l;
    int sv[2];

    (void)state;
    start_asleep_with(tp, &l, &s, sv);
    assert_int_equal(tpoll_fd_delete_wait(tp, sv[0]), 0);
    close(sv[0]);
    assert_true(peer_sees_eof_now(sv[1]));
    tu_loop_stop(&l);
    close(sv[1]);
    tu_destroy(tp);
}

/* The same through a release callback, which closes the fd itself. */
static int release_sv[2];
static atomic_int release_saw_eof;

static void close_and_look(struct tpoll *tp, int fd, void *owner)
{
    (void)tp, (void)owner;
    close(fd);
    atomic_store(&release_saw_eof, peer_sees_eof_now(release_sv[1]) ? 1 : 2);
}

static void test_delete_async_release_finds_file_released(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct sleeper s = {0};
    struct tu_loop l;
    uint64_t end;

    (void)state;
    atomic_store(&release_saw_eof, 0);
    start_asleep_with(tp, &l, &s, release_sv);
    assert_int_equal(tpoll_fd_delete_async(tp, release_sv[0], close_and_look),
                     0);
    end = tu_now_ms() + TU_DEADLINE_MS;
    while (atomic_load(&release_saw_eof) == 0 && tu_now_ms() < end)
        sched_yield();
    assert_int_equal(atomic_load(&release_saw_eof), 1);
    tu_loop_stop(&l);
    close(release_sv[1]);
    tu_destroy(tp);
}

/*
 * A program error the library recovers from: an fd closed without
 * delete, its number reused by a new socket, then given send interest.
 * The kernel holds no registration for the new file; the library must
 * register it (not modify a registration that is gone, fail, and report
 * a spurious error), and keep reporting it readable.
 */
static void test_closed_without_delete_number_reused(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct tu_rec r = {0};
    int sv[2], nv[2], num;

    (void)state;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(sv);
    num = sv[0];
    assert_int_equal(tpoll_fd_insert(tp, num, tu_rec_cb, &r, 1), 0);
    assert_int_equal(tpoll_want_recv(tp, num), 0);
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_socketpair(nv);
    close(num);
    close(sv[1]);
    assert_int_equal(dup2(nv[0], num), num);
    close(nv[0]);
    assert_int_equal(tpoll_want_send(tp, num), 0);
    assert_true(tu_wait_until(tp, tu_rec_called, &r));
    assert_true(r.events & TPOLL_SEND);
    assert_false(r.events & TPOLL_ERR);
    assert_int_equal(tpoll_stop_send(tp, num), 0);
    r.calls = 0;
    r.events = 0;
    tu_write_byte(nv[1]);
    assert_true(tu_wait_until(tp, tu_rec_called, &r));
    assert_true(r.events & TPOLL_RECV);
    assert_false(r.events & TPOLL_ERR);
    assert_true(tpoll_fd_delete(tp, num) >= 0);
    close(num);
    close(nv[1]);
    tu_destroy(tp);
}

/*
 * A delete with a release from the fd's own callback: the release runs
 * right after that callback returns, before the next callback of the
 * same batch (the program may free what the next one would otherwise
 * find half torn down only once it has run).
 */
struct batch_ctx {
    int fd[2];
    int calls;
    int first;        /* the fd the first callback deleted */
    int released;     /* the release ran */
    int second_after; /* the second callback found the release done */
};

static struct batch_ctx *batch_cur;

static void batch_release(struct tpoll *tp, int fd, void *owner)
{
    (void)tp, (void)fd, (void)owner;
    batch_cur->released = 1;
}

static void batch_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct batch_ctx *c = owner;

    (void)events;
    tu_drain(fd);
    if (c->calls++ == 0) {
        c->first = fd == c->fd[0] ? 0 : 1;
        assert_int_equal(tpoll_fd_delete_async(tp, fd, batch_release), 0);
        assert_int_equal(c->released, 0);
    } else {
        c->second_after = c->released;
    }
}

static void test_release_before_next_callback_of_batch(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct batch_ctx c = {.first = -1};
    int a[2], b[2], i;

    (void)state;
    batch_cur = &c;
    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    tu_socketpair(a);
    tu_socketpair(b);
    c.fd[0] = a[0];
    c.fd[1] = b[0];
    for (i = 0; i < 2; i++) {
        assert_int_equal(tpoll_fd_insert(tp, c.fd[i], batch_cb, &c, 1), 0);
        assert_int_equal(tpoll_want_recv(tp, c.fd[i]), 0);
    }
    assert_int_equal(tpoll_wait(tp, 0), 0);
    tu_write_byte(a[1]);
    tu_write_byte(b[1]);
    assert_int_equal(tpoll_wait(tp, TU_DEADLINE_MS), 2);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.released, 1);
    assert_int_equal(c.second_after, 1);
    assert_int_equal(tpoll_fd_delete(tp, c.fd[1 - c.first]), 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    tu_destroy(tp);
}

/*
 * A release is a callback on any thread: run inside tpoll_fd_delete_async
 * on a thread bound to nothing, tpoll_fd_delete_wait from it refuses as
 * it does in any callback (it would wait for callbacks that may wait for
 * this one), and deletes nothing.
 */
struct unbound_ctx {
    int victim;
    int wait_rc;
    int still_inserted;
};

static struct unbound_ctx *unbound_cur;

static void unbound_release(struct tpoll *tp, int fd, void *owner)
{
    (void)fd, (void)owner;
    unbound_cur->wait_rc = tpoll_fd_delete_wait(tp, unbound_cur->victim);
    unbound_cur->still_inserted =
        tpoll_fd_interest(tp, unbound_cur->victim) >= 0;
}

static void test_release_on_unbound_thread_is_a_callback(void **state)
{
    struct tpoll *tp = tu_create(1, 0);
    struct unbound_ctx c = {.wait_rc = 1};
    int a[2], b[2];

    (void)state;
    unbound_cur = &c;
    tu_socketpair(a);
    tu_socketpair(b);
    c.victim = b[0];
    assert_int_equal(tpoll_fd_insert(tp, a[0], tu_noop_cb, NULL, 1), 0);
    assert_int_equal(tpoll_fd_insert(tp, b[0], tu_noop_cb, NULL, 1), 0);
    /* Nothing in use: the release runs inside the call, here. */
    assert_int_equal(tpoll_fd_delete_async(tp, a[0], unbound_release), 0);
    assert_int_equal(c.wait_rc, -EDEADLK);
    assert_true(c.still_inserted);
    assert_int_equal(tpoll_fd_delete(tp, b[0]), 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    tu_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_close_reuse),
        cmocka_unit_test(test_delete_other_in_batch),
        cmocka_unit_test(test_delete_self_in_callback),
        cmocka_unit_test(test_delete_dup_closed),
        cmocka_unit_test(test_delete_reinsert_same_fd),
        cmocka_unit_test(test_delete_from_other_thread),
        cmocka_unit_test(test_delete_in_callback_while_running),
        cmocka_unit_test(test_delete_in_other_instance_callback),
        cmocka_unit_test(test_reuse_across_threads),
        cmocka_unit_test(test_delete_close_peer_sees_eof),
        cmocka_unit_test(test_delete_wait_then_close_releases_file),
        cmocka_unit_test(test_delete_async_release_finds_file_released),
        cmocka_unit_test(test_closed_without_delete_number_reused),
        cmocka_unit_test(test_release_before_next_callback_of_batch),
        cmocka_unit_test(test_release_on_unbound_thread_is_a_callback),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
