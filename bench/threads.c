/* SPDX-License-Identifier: MIT */
/*
 * Threads: T worker threads, each running its own ring (P socketpairs, A
 * active, W writes) on its own fds, optionally with one more thread that
 * has no fds at all. Three programs:
 *
 *   tpoll   one instance, one thread id per thread, each fd's mask naming
 *           only its owner;
 *   shared  one epoll set shared by every thread (EPOLLONESHOT, re-armed
 *           after each event, the usual way to share one set safely):
 *           any thread may handle any ring's fd;
 *   epoll   a bare epoll set per thread, no library (no idle thread): how
 *           far the kernel and the machine let two rings scale at all.
 *
 * Prints throughput, wakeups that found nothing to do, events handled by a
 * thread other than the fd's owner, how often the idle thread was woken,
 * and CPU time per event (medians over R rounds). Exits non-zero when a
 * ring ends with reads != A + W or undrained pairs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"
#include "tpoll.h"

#define MAX_T 8
#define MAX_ROUNDS 32

struct tring {
    int owner;
    int npairs, active;
    long writes;
    int (*fds)[2];
    atomic_long reads, written;
    atomic_long foreign; /* events handled by another thread */
};

enum prog { PROG_TPOLL, PROG_SHARED, PROG_EPOLL };
static const char *const prog_name[] = {"tpoll", "shared", "epoll"};

struct run {
    enum prog prog;
    int nthreads; /* workers */
    int idle;     /* one more thread without fds */
    struct tring rings[MAX_T];
    struct tpoll *tp;
    int epfd;
    atomic_int done; /* rings finished */
    atomic_int stop;
    pthread_barrier_t start;  /* all threads and main: begin and end */
    pthread_barrier_t finish; /* threads with work, and main */
    double t_end;             /* when the last ring completed */
    long idle_wakeups; /* polls that dispatched nothing, all threads */
    long idle_thread_woken;
};

static void die(const char *what)
{
    fprintf(stderr, "threads: FAILED: %s (%s)\n", what, strerror(errno));
    exit(1);
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* One read and, while writes remain, one write into the next pair.
 * Returns 1 when this read completed the ring. */
static int ring_read(struct run *rn, struct tring *r, int idx, int self)
{
    char c;
    int w;

    if (read(r->fds[idx][0], &c, 1) != 1)
        die("read");
    if (self != r->owner)
        atomic_fetch_add(&r->foreign, 1);
    if (atomic_fetch_add(&r->written, 1) < r->writes) {
        w = idx + 1 == r->npairs ? 0 : idx + 1;
        if (write(r->fds[w][1], "e", 1) != 1)
            die("write");
    } else {
        atomic_fetch_sub(&r->written, 1);
    }
    if (atomic_fetch_add(&r->reads, 1) + 1 == r->active + r->writes) {
        if (atomic_fetch_add(&rn->done, 1) + 1 == rn->nthreads)
            rn->t_end = bench_now_s();
        return 1;
    }
    return 0;
}

static void kick(struct tring *r)
{
    int space = r->npairs / r->active, i;

    for (i = 0; i < r->active; i++)
        if (write(r->fds[i * space][1], "e", 1) != 1)
            die("write");
}

/* ---- tpoll ---- */

struct tp_arg {
    struct run *rn;
    int tid;
};

static struct run *cur_run;

static void tp_on_read(struct tpoll *tp, int fd, unsigned ev, void *owner)
{
    int tid = tpoll_thread_id(tp);
    uintptr_t v = (uintptr_t)owner;

    (void)fd;
    (void)ev;
    ring_read(cur_run, &cur_run->rings[v >> 20], (int)(v & 0xfffff), tid);
}

static void *tp_thread(void *p)
{
    struct tp_arg *a = p;
    struct run *rn = a->rn;
    int tid = a->tid, i, n;

    if (tpoll_thread_start(rn->tp, tid))
        die("tpoll_thread_start");
    if (tid < rn->nthreads) {
        struct tring *r = &rn->rings[tid];

        for (i = 0; i < r->npairs; i++)
            if (tpoll_fd_insert(rn->tp, r->fds[i][0], tp_on_read,
                                (void *)(((uintptr_t)tid << 20) | (unsigned)i),
                                TPOLL_THREAD(tid)) ||
                tpoll_want_recv(rn->tp, r->fds[i][0]))
                die("insert");
        tpoll_wait(rn->tp, 0);
    }
    pthread_barrier_wait(&rn->start);
    if (tid < rn->nthreads) {
        struct tring *r = &rn->rings[tid];

        kick(r);
        while (atomic_load(&r->reads) < r->active + r->writes)
            if ((n = tpoll_wait(rn->tp, 1000)) < 0)
                die("tpoll_wait");
        pthread_barrier_wait(&rn->finish);
    } else {
        while (!atomic_load(&rn->stop))
            if (tpoll_wait(rn->tp, -1) < 0)
                die("tpoll_wait");
    }
    pthread_barrier_wait(&rn->start);
    if (tid < rn->nthreads)
        for (i = 0; i < rn->rings[tid].npairs; i++)
            tpoll_fd_delete(rn->tp, rn->rings[tid].fds[i][0]);
    tpoll_thread_stop(rn->tp);
    return NULL;
}

/* ---- one shared epoll set ---- */

static void *sh_thread(void *p)
{
    struct tp_arg *a = p;
    struct run *rn = a->rn;
    struct epoll_event ev[64];
    int tid = a->tid, i, n;
    long nothing = 0, woken = 0;

    pthread_barrier_wait(&rn->start);
    if (tid < rn->nthreads)
        kick(&rn->rings[tid]);
    while (atomic_load(&rn->done) < rn->nthreads) {
        n = epoll_wait(rn->epfd, ev, 64, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        if (n <= 0) {
            nothing++;
            continue;
        }
        woken++;
        for (i = 0; i < n; i++) {
            uint32_t v = ev[i].data.u32;
            struct tring *r = &rn->rings[v >> 20];
            int idx = (int)(v & 0xfffff);
            struct epoll_event re = {.events = EPOLLIN | EPOLLONESHOT,
                                     .data.u32 = v};

            ring_read(rn, r, idx, tid);
            if (epoll_ctl(rn->epfd, EPOLL_CTL_MOD, r->fds[idx][0], &re))
                die("epoll_ctl MOD");
        }
    }
    pthread_barrier_wait(&rn->finish);
    pthread_barrier_wait(&rn->start);
    /* Timeouts while others still worked: polls that found nothing. */
    __atomic_fetch_add(&rn->idle_wakeups, nothing, __ATOMIC_RELAXED);
    if (tid == rn->nthreads)
        rn->idle_thread_woken = woken;
    return NULL;
}

/* ---- a bare epoll set per thread ---- */

static void *own_thread(void *p)
{
    struct tp_arg *a = p;
    struct run *rn = a->rn;
    struct tring *r = &rn->rings[a->tid];
    struct epoll_event ev[64];
    int epfd = epoll_create1(EPOLL_CLOEXEC), i, n;

    if (epfd < 0)
        die("epoll_create1");
    for (i = 0; i < r->npairs; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

        if (epoll_ctl(epfd, EPOLL_CTL_ADD, r->fds[i][0], &e))
            die("epoll_ctl");
    }
    pthread_barrier_wait(&rn->start);
    kick(r);
    while (atomic_load(&r->reads) < r->active + r->writes) {
        n = epoll_wait(epfd, ev, 64, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (i = 0; i < n; i++)
            ring_read(rn, r, (int)ev[i].data.u32, a->tid);
    }
    pthread_barrier_wait(&rn->finish);
    pthread_barrier_wait(&rn->start);
    close(epfd);
    return NULL;
}

static void open_ring(struct tring *r, int owner, int npairs, int active,
                      long writes)
{
    int i;

    memset(r, 0, sizeof(*r));
    r->owner = owner;
    r->npairs = npairs;
    r->active = active;
    r->writes = writes;
    r->fds = calloc((size_t)npairs, sizeof(r->fds[0]));
    if (r->fds == NULL)
        die("calloc");
    for (i = 0; i < npairs; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r->fds[i]))
            die("socketpair");
}

static void check_ring(const struct tring *r)
{
    char c;
    int i;

    if (atomic_load(&r->reads) != r->active + r->writes ||
        atomic_load(&r->written) != r->writes) {
        fprintf(stderr, "threads: FAILED: ring %d: reads %ld writes %ld\n",
                r->owner, (long)atomic_load(&r->reads),
                (long)atomic_load(&r->written));
        exit(1);
    }
    for (i = 0; i < r->npairs; i++)
        if (recv(r->fds[i][0], &c, 1, MSG_PEEK | MSG_DONTWAIT) != -1 ||
            errno != EAGAIN)
            die("pair not drained");
}

struct result {
    double ev_per_s, cpu_ns_per_ev, idle_wakeups, foreign, idle_woken;
};

static void run_once(enum prog prog, int nthreads, int idle, int npairs,
                     int active, long writes, struct result *res)
{
    struct run *rn = calloc(1, sizeof(*rn));
    pthread_t th[MAX_T + 1];
    struct tp_arg args[MAX_T + 1];
    int total = nthreads + idle, t;
    double t0, c0, dt, dc;
    long foreign = 0;

    if (rn == NULL)
        die("calloc");
    rn->prog = prog;
    rn->nthreads = nthreads;
    rn->idle = idle;
    cur_run = rn;
    for (t = 0; t < nthreads; t++)
        open_ring(&rn->rings[t], t, npairs, active, writes);
    pthread_barrier_init(&rn->start, NULL, (unsigned)total + 1);
    pthread_barrier_init(&rn->finish, NULL,
                         (unsigned)(prog == PROG_SHARED ? total : nthreads) +
                             1);
    if (prog == PROG_SHARED) {
        rn->epfd = epoll_create1(EPOLL_CLOEXEC);
        for (t = 0; t < nthreads; t++) {
            int i;

            for (i = 0; i < npairs; i++) {
                struct epoll_event ev = {
                    .events = EPOLLIN | EPOLLONESHOT,
                    .data.u32 = (uint32_t)t << 20 | (uint32_t)i};

                if (epoll_ctl(rn->epfd, EPOLL_CTL_ADD,
                              rn->rings[t].fds[i][0], &ev))
                    die("epoll_ctl");
            }
        }
    } else if (prog == PROG_TPOLL) {
        struct tpoll_options o;

        tpoll_options_init(&o);
        o.threads = total;
        o.backend = "epoll";
        if (tpoll_create(&rn->tp, &o))
            die("tpoll_create");
    }
    for (t = 0; t < total; t++) {
        args[t].rn = rn;
        args[t].tid = t;
        if (pthread_create(&th[t], NULL,
                           prog == PROG_SHARED  ? sh_thread
                           : prog == PROG_TPOLL ? tp_thread
                                                : own_thread,
                           &args[t]))
            die("pthread_create");
    }
    pthread_barrier_wait(&rn->start);
    t0 = bench_now_s();
    c0 = cpu_s();
    pthread_barrier_wait(&rn->finish);
    dt = rn->t_end - t0;
    dc = cpu_s() - c0;
    if (prog == PROG_TPOLL) {
        for (t = 0; t < total; t++) {
            struct tpoll_counters c;

            tpoll_thread_counters(rn->tp, t, &c);
            rn->idle_wakeups += (long)c.idle_wakeups;
            /* The idle thread's one blocking poll has not returned yet:
             * every completed poll of it is a wakeup it did not need. */
            if (t == nthreads)
                rn->idle_thread_woken = (long)c.polls;
        }
        atomic_store(&rn->stop, 1);
        if (idle)
            tpoll_wake(rn->tp, nthreads);
    }
    pthread_barrier_wait(&rn->start);
    for (t = 0; t < total; t++)
        pthread_join(th[t], NULL);
    for (t = 0; t < nthreads; t++) {
        check_ring(&rn->rings[t]);
        foreign += atomic_load(&rn->rings[t].foreign);
    }
    res->ev_per_s = (double)nthreads * (double)(active + writes) / dt;
    res->cpu_ns_per_ev = dc * 1e9 / ((double)nthreads * (double)(active + writes));
    res->idle_wakeups = (double)rn->idle_wakeups;
    res->foreign = (double)foreign;
    res->idle_woken = idle ? (double)rn->idle_thread_woken : 0;
    if (prog == PROG_SHARED)
        close(rn->epfd);
    else if (prog == PROG_TPOLL)
        tpoll_destroy(rn->tp);
    for (t = 0; t < nthreads; t++) {
        int i;

        for (i = 0; i < npairs; i++) {
            close(rn->rings[t].fds[i][0]);
            close(rn->rings[t].fds[i][1]);
        }
        free(rn->rings[t].fds);
    }
    pthread_barrier_destroy(&rn->start);
    pthread_barrier_destroy(&rn->finish);
    free(rn);
}

int main(int argc, char **argv)
{
    int npairs = 100, active = 10, rounds = 3, opt, k, c;
    long writes = 100000;
    /* (program, workers, idle) in the order they are run each round. */
    static const int cfg[][3] = {
        {PROG_TPOLL, 1, 0},  {PROG_TPOLL, 2, 0},  {PROG_TPOLL, 1, 1},
        {PROG_TPOLL, 2, 1},  {PROG_SHARED, 1, 0}, {PROG_SHARED, 2, 0},
        {PROG_SHARED, 1, 1}, {PROG_SHARED, 2, 1}, {PROG_EPOLL, 1, 0},
        {PROG_EPOLL, 2, 0}};
    enum { NCFG = sizeof(cfg) / sizeof(cfg[0]) };
    static struct result res[NCFG][MAX_ROUNDS];
    double speedup[3][MAX_ROUNDS];

    while ((opt = getopt(argc, argv, "p:a:w:r:")) != -1) {
        switch (opt) {
        case 'p': npairs = atoi(optarg); break;
        case 'a': active = atoi(optarg); break;
        case 'w': writes = atol(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_threads [-p pairs] [-a active] "
                            "[-w writes per thread] [-r rounds]\n");
            return 2;
        }
    }
    if (npairs < 1 || active < 1 || active > npairs || rounds < 1 ||
        rounds > MAX_ROUNDS || npairs >= (1 << 20))
        return 2;
    for (k = 0; k < rounds; k++) {
        for (c = 0; c < NCFG; c++)
            run_once((enum prog)cfg[c][0], cfg[c][1], cfg[c][2], npairs,
                     active, writes, &res[c][k]);
        speedup[0][k] = res[1][k].ev_per_s / res[0][k].ev_per_s;
        speedup[1][k] = res[5][k].ev_per_s / res[4][k].ev_per_s;
        speedup[2][k] = res[9][k].ev_per_s / res[8][k].ev_per_s;
    }
    for (c = 0; c < NCFG; c++) {
        double v[5][MAX_ROUNDS];

        for (k = 0; k < rounds; k++) {
            v[0][k] = res[c][k].ev_per_s;
            v[1][k] = res[c][k].cpu_ns_per_ev;
            v[2][k] = res[c][k].idle_wakeups;
            v[3][k] = res[c][k].foreign;
            v[4][k] = res[c][k].idle_woken;
        }
        printf("threads prog=%s T=%d idle_thread=%d P=%d A=%d W=%ld "
               "events_per_s=%.0f cpu_ns_per_event=%.0f idle_wakeups=%.0f "
               "foreign_events=%.0f idle_thread_woken=%.0f\n",
               prog_name[cfg[c][0]], cfg[c][1], cfg[c][2], npairs,
               active, writes, bench_median(v[0], rounds),
               bench_median(v[1], rounds), bench_median(v[2], rounds),
               bench_median(v[3], rounds), bench_median(v[4], rounds));
    }
    printf("threads speedup_2_over_1 tpoll=%.3f shared=%.3f epoll=%.3f\n",
           bench_median(speedup[0], rounds), bench_median(speedup[1], rounds),
           bench_median(speedup[2], rounds));
    return 0;
}
