/* SPDX-License-Identifier: MIT */
/*
 * Shared listener: one listening TCP socket watched by T threads; a client
 * makes N connections one at a time, each waiting until it was accepted,
 * so that every thread is asleep when a connection arrives. Counts the
 * wakeups this costs per accepted connection:
 *
 *   tpoll            the listener in every thread's mask (each thread's
 *                    epoll set watches it, level-triggered);
 *   tpoll-exclusive  the same, inserted with TPOLL_FD_EXCLUSIVE;
 *   epoll            T bare epoll sets, level-triggered, the same shape;
 *   epoll-exclusive  T bare epoll sets with EPOLLEXCLUSIVE: the floor of
 *                    what an exclusive mode can give.
 *
 * A wakeup is a return from the poller with the listener reported (or
 * nothing at all); accept() failing with EAGAIN is a wasted one. A thread
 * that the kernel wakes but whose poll finds the connection already taken
 * goes back to sleep inside epoll_wait() without returning, so the poller
 * threads' voluntary context switches are counted too: that is what every
 * wakeup costs, visible or not. Exits
 * non-zero when the accepted count differs from N.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpoll.h"

#define MAX_T 8

struct lrun {
    const char *mode;
    int nthreads;
    int lfd;
    struct tpoll *tp;
    int epfd[MAX_T];
    atomic_long accepted, wasted, wakeups, switches;
    atomic_int stop;
    pthread_barrier_t ready;
};

struct larg {
    struct lrun *lr;
    int tid;
};

static void die(const char *what)
{
    fprintf(stderr, "listener: FAILED: %s (%s)\n", what, strerror(errno));
    exit(1);
}

static long vol_switches(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
}

static void accept_one(struct lrun *lr)
{
    int c = accept4(lr->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    atomic_fetch_add(&lr->wakeups, 1);
    if (c < 0) {
        if (errno != EAGAIN)
            die("accept4");
        atomic_fetch_add(&lr->wasted, 1);
        return;
    }
    close(c);
    atomic_fetch_add(&lr->accepted, 1);
}

static void on_listen(struct tpoll *tp, int fd, unsigned ev, void *owner)
{
    (void)tp;
    (void)fd;
    (void)ev;
    accept_one(owner);
}

static void *tp_thread(void *p)
{
    struct larg *a = p;
    struct lrun *lr = a->lr;

    if (tpoll_thread_start(lr->tp, a->tid))
        die("tpoll_thread_start");
    long sw;

    tpoll_wait(lr->tp, 0);
    pthread_barrier_wait(&lr->ready);
    sw = vol_switches();
    while (!atomic_load(&lr->stop)) {
        if (tpoll_wait(lr->tp, -1) < 0)
            die("tpoll_wait");
    }
    atomic_fetch_add(&lr->switches, vol_switches() - sw);
    tpoll_thread_stop(lr->tp);
    return NULL;
}

static void *ep_thread(void *p)
{
    struct larg *a = p;
    struct lrun *lr = a->lr;
    struct epoll_event ev;
    int n;
    long sw;

    pthread_barrier_wait(&lr->ready);
    sw = vol_switches();
    while (!atomic_load(&lr->stop)) {
        n = epoll_wait(lr->epfd[a->tid], &ev, 1, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        if (n == 1 && ev.data.u32 == 1)
            accept_one(lr);
    }
    atomic_fetch_add(&lr->switches, vol_switches() - sw);
    return NULL;
}

static int listen_socket(struct sockaddr_in *sa)
{
    socklen_t len = sizeof(*sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) ||
        listen(fd, 128) || getsockname(fd, (struct sockaddr *)sa, &len))
        die("listen socket");
    return fd;
}

static void run(const char *mode, int nthreads, int nconn)
{
    struct lrun lr = {.mode = mode, .nthreads = nthreads};
    pthread_t th[MAX_T];
    struct larg args[MAX_T];
    struct sockaddr_in sa;
    int stopfd[2], t, i, tp_mode = strncmp(mode, "tpoll", 5) == 0;
    unsigned tp_flags =
        strcmp(mode, "tpoll-exclusive") == 0 ? TPOLL_FD_EXCLUSIVE : 0;

    lr.lfd = listen_socket(&sa);
    if (pipe(stopfd))
        die("pipe");
    pthread_barrier_init(&lr.ready, NULL, (unsigned)nthreads + 1);
    if (tp_mode) {
        struct tpoll_options o;

        tpoll_options_init(&o);
        o.threads = nthreads;
        o.backend = "epoll";
        if (tpoll_create(&lr.tp, &o) ||
            tpoll_fd_insert_flags(lr.tp, lr.lfd, on_listen, &lr,
                                  TPOLL_THREAD(nthreads) - 1, tp_flags) ||
            tpoll_want_recv(lr.tp, lr.lfd))
            die("tpoll setup");
    } else {
        uint32_t excl = strcmp(mode, "epoll-exclusive") == 0 ? EPOLLEXCLUSIVE
                                                             : 0;

        for (t = 0; t < nthreads; t++) {
            struct epoll_event ev = {.events = EPOLLIN | excl, .data.u32 = 1};
            struct epoll_event sv = {.events = EPOLLIN, .data.u32 = 2};

            lr.epfd[t] = epoll_create1(EPOLL_CLOEXEC);
            if (lr.epfd[t] < 0 ||
                epoll_ctl(lr.epfd[t], EPOLL_CTL_ADD, lr.lfd, &ev) ||
                epoll_ctl(lr.epfd[t], EPOLL_CTL_ADD, stopfd[0], &sv))
                die("epoll setup");
        }
    }
    for (t = 0; t < nthreads; t++) {
        args[t].lr = &lr;
        args[t].tid = t;
        if (pthread_create(&th[t], NULL, tp_mode ? tp_thread : ep_thread,
                           &args[t]))
            die("pthread_create");
    }
    pthread_barrier_wait(&lr.ready);
    for (i = 0; i < nconn; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
            die("connect");
        /* Let every woken thread finish before the next connection, so that
         * each connection finds all threads asleep. */
        while (atomic_load(&lr.accepted) <= i)
            sched_yield();
        close(c);
    }
    atomic_store(&lr.stop, 1);
    if (tp_mode) {
        for (t = 0; t < nthreads; t++)
            tpoll_wake(lr.tp, t);
    } else if (write(stopfd[1], "x", 1) != 1) {
        die("write");
    }
    for (t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    if (atomic_load(&lr.accepted) != nconn) {
        fprintf(stderr, "listener: FAILED: %s: accepted %ld of %d\n", mode,
                (long)atomic_load(&lr.accepted), nconn);
        exit(1);
    }
    printf("listener mode=%s T=%d N=%d wakeups_per_conn=%.3f "
           "wasted_per_conn=%.3f switches_per_conn=%.3f\n",
           mode, nthreads, nconn, (double)atomic_load(&lr.wakeups) / nconn,
           (double)atomic_load(&lr.wasted) / nconn,
           (double)atomic_load(&lr.switches) / nconn);
    if (tp_mode) {
        tpoll_fd_delete(lr.tp, lr.lfd);
        tpoll_destroy(lr.tp);
    } else {
        for (t = 0; t < nthreads; t++)
            close(lr.epfd[t]);
    }
    close(stopfd[0]);
    close(stopfd[1]);
    close(lr.lfd);
    pthread_barrier_destroy(&lr.ready);
}

int main(int argc, char **argv)
{
    int nthreads = 2, nconn = 2000, opt;

    while ((opt = getopt(argc, argv, "t:n:")) != -1) {
        switch (opt) {
        case 't': nthreads = atoi(optarg); break;
        case 'n': nconn = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_listener [-t threads] [-n conns]\n");
            return 2;
        }
    }
    if (nthreads < 1 || nthreads > MAX_T || nconn < 1)
        return 2;
    run("tpoll", nthreads, nconn);
    run("tpoll-exclusive", nthreads, nconn);
    run("epoll", nthreads, nconn);
    run("epoll-exclusive", nthreads, nconn);
    return 0;
}
