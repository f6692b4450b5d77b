/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

const char *tu_backend(void)
{
    const char *b = getenv("TPOLL_BACKEND");

    return b && *b ? b : tpoll_default_backend();
}

struct tpoll *tu_create(int threads, int max_fds)
{
    struct tpoll_options o;
    struct tpoll *tp = NULL;

    tpoll_options_init(&o);
    o.threads = threads;
    o.max_fds = max_fds;
    assert_int_equal(tpoll_create(&tp, &o), 0);
    assert_string_equal(tpoll_backend_name(tp), tu_backend());
    return tp;
}

void tu_destroy(struct tpoll *tp)
{
    assert_int_equal(tpoll_destroy(tp), 0);
}

static void nonblock(int fd)
{
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    assert_int_equal(fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
}

void tu_socketpair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    nonblock(sv[0]);
    nonblock(sv[1]);
}

void tu_pipe(int p[2])
{
    assert_int_equal(pipe(p), 0);
    nonblock(p[0]);
    nonblock(p[1]);
}

void tu_write_byte(int fd)
{
    char c = 'x';

    assert_int_equal(write(fd, &c, 1), 1);
}

long tu_drain(int fd)
{
    char buf[4096];
    long total = 0;
    ssize_t r;

    for (;;) {
        r = read(fd, buf, sizeof(buf));
        if (r > 0) {
            total += r;
            continue;
        }
        if (r == 0)
            return total;
        return total ? total : -1;
    }
}

int tu_count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream itself */
}

uint64_t tu_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tu_rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct tu_rec *r = owner;

    (void)tp;
    r->calls++;
    r->events |= events;
    r->fd = fd;
}

int tu_rec_called(void *rec)
{
    return ((struct tu_rec *)rec)->calls > 0;
}

void tu_noop_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)fd, (void)events, (void)owner;
}

int tu_wait_until(struct tpoll *tp, int (*cond)(void *), void *arg)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (!cond(arg)) {
        int r = tpoll_wait(tp, 100);

        assert_true(r >= 0 || r == -EINTR);
        if (tu_now_ms() > end)
            return 0;
    }
    return 1;
}

static void *loop_main(void *arg)
{
    struct tu_loop *l = arg;
    int err = tpoll_thread_start(l->tp, l->tid);

    atomic_store(&l->start_err, err);
    atomic_store(&l->started, 1);
    if (err)
        return NULL;
    while (!atomic_load(&l->stop)) {
        tpoll_wait(l->tp, -1);
        atomic_fetch_add(&l->loops, 1);
    }
    tpoll_thread_stop(l->tp);
    return NULL;
}

static void loop_spawn(struct tu_loop *l, struct tpoll *tp, int tid,
                       const pthread_attr_t *attr)
{
    l->tp = tp;
    l->tid = tid;
    atomic_store(&l->started, 0);
    atomic_store(&l->stop, 0);
    atomic_store(&l->loops, 0);
    assert_int_equal(pthread_create(&l->thread, attr, loop_main, l), 0);
}

static void loop_await_start(struct tu_loop *l)
{
    while (!atomic_load(&l->started))
        sched_yield();
    assert_int_equal(atomic_load(&l->start_err), 0);
}

void tu_loop_start(struct tu_loop *l, struct tpoll *tp, int tid)
{
    loop_spawn(l, tp, tid, NULL);
    loop_await_start(l);
}

void tu_loop_stop(struct tu_loop *l)
{
    atomic_store(&l->stop, 1);
    assert_int_equal(tpoll_wake(l->tp, l->tid), 0);
    assert_int_equal(pthread_join(l->thread, NULL), 0);
}

void tu_loops_start(struct tu_loop *l, int n, struct tpoll *tp, const int *tids)
{
    pthread_attr_t attr;
    int i;

    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, TU_SMALL_STACK), 0);
    for (i = 0; i < n; i++)
        loop_spawn(&l[i], tp, tids[i], &attr);
    pthread_attr_destroy(&attr);
    for (i = 0; i < n; i++)
        loop_await_start(&l[i]);
}

void tu_loops_stop(struct tu_loop *l, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        atomic_store(&l[i].stop, 1);
        assert_int_equal(tpoll_wake(l[i].tp, l[i].tid), 0);
    }
    for (i = 0; i < n; i++)
        assert_int_equal(pthread_join(l[i].thread, NULL), 0);
}

void tu_loop_round_trip(struct tu_loop *l)
{
    unsigned long from = atomic_load(&l->loops), k;

    for (k = 1; k <= 2; k++) {
        assert_int_equal(tpoll_wake(l->tp, l->tid), 0);
        assert_true(tu_wait_atomic(&l->loops, from + k));
    }
}

void tu_event_init(struct tu_event *ev)
{
    assert_int_equal(pthread_mutex_init(&ev->mu, NULL), 0);
    assert_int_equal(pthread_cond_init(&ev->cv, NULL), 0);
    ev->count = 0;
}

void tu_event_destroy(struct tu_event *ev)
{
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
}

void tu_event_post(struct tu_event *ev)
{
    pthread_mutex_lock(&ev->mu);
    ev->count++;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

int tu_event_count(struct tu_event *ev)
{
    int n;

    pthread_mutex_lock(&ev->mu);
    n = ev->count;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

int tu_event_wait(struct tu_event *ev, int n)
{
    struct timespec end;
    int ok = 1;

    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += TU_DEADLINE_MS / 1000;
    pthread_mutex_lock(&ev->mu);
    while (ev->count < n && ok)
        if (pthread_cond_timedwait(&ev->cv, &ev->mu, &end) != 0)
            ok = ev->count >= n;
    pthread_mutex_unlock(&ev->mu);
    return ok;
}

/* For counters with no condition variable behind them: poll them with a
 * short pause until they move, bounded by the safety deadline. */
int tu_wait_atomic(atomic_ulong *v, unsigned long n)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;
    struct timespec pause = {0, 200000};

    while (atomic_load(v) < n) {
        if (tu_now_ms() > end)
            return 0;
        nanosleep(&pause, NULL);
    }
    return 1;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

int tu_tcp_connect_start(int port)
{
    struct sockaddr_in a = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int r;

    assert_true(fd >= 0);
    r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    assert_true(r == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
    return fd;
}

void tu_tcp_pair(int out[2])
{
    struct sockaddr_in a = loopback(0);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    int cfd, afd;

    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    cfd = tu_tcp_connect_start(bound_port(lfd));
    /* Blocking accept: the handshake completes in the kernel on loopback. */
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    close(lfd);
    nonblock(afd);
    assert_int_equal(
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    assert_int_equal(
        setsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    out[0] = cfd;
    out[1] = afd;
}

int tu_unused_tcp_port(void)
{
    struct sockaddr_in a = loopback(0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    port = bound_port(fd);
    close(fd);
    return port;
}

int tu_backend_reports_hup(const struct tpoll *tp)
{
    return strcmp(tpoll_backend_name(tp), "select") != 0;
}

struct tpoll *tu_start_one(tpoll_cb cb, void *owner, int fd)
{
    struct tpoll *tp = tu_create(1, 0);

    assert_int_equal(tpoll_thread_start(tp, 0), 0);
    assert_int_equal(tpoll_fd_insert(tp, fd, cb, owner, 1), 0);
    return tp;
}

void tu_finish_one(struct tpoll *tp, int fd)
{
    assert_int_equal(tpoll_fd_delete(tp, fd), 0);
    close(fd);
    tu_destroy(tp);
}

int tu_backend_reports_rdhup(const struct tpoll *tp)
{
    const char *b = tpoll_backend_name(tp);

    if (strcmp(b, "poll") == 0 || strcmp(b, "port") == 0) {
#ifdef POLLRDHUP
        return 1;
#else
        return 0;
#endif
    }
    return tu_backend_reports_hup(tp);
}

/* close: the read side's close is wanted (tpoll_want_close), which takes
 * the place of TPOLL_RECV for the conditions. */
static const char *conditions_broken(unsigned events, int close)
{
    unsigned half = events & (TPOLL_RDHUP | TPOLL_WRHUP);

    if (!(events & TPOLL_HUP) != !half)
        return "TPOLL_HUP without a half-close, or a half-close without it";
    if ((events & TPOLL_RDHUP) && !(events & TPOLL_RECV) && !close)
        return "TPOLL_RDHUP without TPOLL_RECV";
    if ((events & TPOLL_WRHUP) && !(events & TPOLL_SEND))
        return "TPOLL_WRHUP without TPOLL_SEND";
    if ((events & TPOLL_ERR) && !(events & (TPOLL_RECV | TPOLL_SEND)) && !close)
        return "TPOLL_ERR without a direction";
    return NULL;
}

const char *tu_conditions_broken(unsigned events)
{
    return conditions_broken(events, 0);
}

const char *tu_close_conditions_broken(unsigned events)
{
    return conditions_broken(events, 1);
}

struct tpoll_counters tu_counters(const struct tpoll *tp, int tid)
{
    struct tpoll_counters c;

    assert_int_equal(tpoll_thread_counters(tp, tid, &c), 0);
    return c;
}

pid_t tu_fork(void)
{
    static const int caught[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    pid_t pid = fork();
    size_t i;

    if (pid == 0)
        for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
            signal(caught[i], SIG_DFL);
    return pid;
}

unsigned long tu_env_ulong(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);

    return v && *v ? strtoul(v, NULL, 0) : dflt;
}

void tu_failure_set(struct tu_failure *f, const char *fmt, ...)
{
    va_list ap;

    if (atomic_exchange(&f->failed, 1))
        return;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof(f->text), fmt, ap);
    va_end(ap);
}
