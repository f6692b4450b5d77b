/* SPDX-License-Identifier: MIT */
/*
 * The program the instruction budgets are measured on (perf_guard.sh runs
 * it under callgrind). Two workloads, each at two sizes, so that start-up
 * and setup cancel out in the difference:
 *
 *   perf_ring event bare|tpoll P A W   a ring of P socketpairs with A
 *       tokens passed on W times (one read and one write per event), on
 *       a bare epoll loop or on tpoll (its default backend, epoll here);
 *   perf_ring rereg P K                P watched fds, stopped and wanted
 *       again K times, each time followed by one non-blocking wait.
 *
 * Exit status 0, or 1 with a message when an invariant fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpoll.h"

static int (*pairs)[2];
static int npairs;
static long writes_left, reads;

static void die(const char *what)
{
    fprintf(stderr, "perf_ring: %s\n", what);
    exit(1);
}

static void open_pairs(int n)
{
    int i;

    npairs = n;
    pairs = calloc((size_t)n, sizeof(*pairs));
    if (pairs == NULL)
        die("calloc");
    for (i = 0; i < n; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pairs[i]))
            die("socketpair");
}

/* A token arrived on pair i: pass it on to the next pair. */
static void on_token(int i)
{
    char c;

    if (read(pairs[i][0], &c, 1) != 1)
        die("read");
    reads++;
    if (writes_left > 0) {
        writes_left--;
        if (write(pairs[(i + 1) % npairs][1], "t", 1) != 1)
            die("write");
    }
}

static void start_tokens(int active)
{
    int i, space = npairs / active;

    for (i = 0; i < active; i++)
        if (write(pairs[i * space][1], "t", 1) != 1)
            die("write");
}

static void run_bare(int active, long w)
{
    struct epoll_event ev[256];
    long target = active + w;
    int ep = epoll_create1(EPOLL_CLOEXEC), i, n;

    if (ep < 0)
        die("epoll_create1");
    for (i = 0; i < npairs; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

        if (epoll_ctl(ep, EPOLL_CTL_ADD, pairs[i][0], &e))
            die("epoll_ctl");
    }
    writes_left = w;
    start_tokens(active);
    while (reads < target) {
        n = epoll_wait(ep, ev, 256, 1000);
        for (i = 0; i < n; i++)
            on_token((int)ev[i].data.u32);
    }
    close(ep);
}

static void on_ready(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)fd, (void)events;
    on_token((int)(intptr_t)owner);
}

static struct tpoll *open_tpoll(void)
{
    struct tpoll *tp;
    int i;

    if (tpoll_create(&tp, NULL) || tpoll_thread_start(tp, 0))
        die("tpoll_create");
    for (i = 0; i < npairs; i++)
        if (tpoll_fd_insert(tp, pairs[i][0], on_ready, (void *)(intptr_t)i,
                            TPOLL_THREAD(0)) ||
            tpoll_want_recv(tp, pairs[i][0]))
            die("insert");
    if (tpoll_wait(tp, 0) < 0)
        die("tpoll_wait");
    return tp;
}

static void close_tpoll(struct tpoll *tp)
{
    int i;

    for (i = 0; i < npairs; i++)
        tpoll_fd_delete(tp, pairs[i][0]);
    tpoll_destroy(tp);
}

static void run_tpoll(int active, long w)
{
    struct tpoll *tp = open_tpoll();
    long target = active + w;

    writes_left = w;
    start_tokens(active);
    while (reads < target)
        if (tpoll_wait(tp, 1000) < 0)
            die("tpoll_wait");
    close_tpoll(tp);
}

static void run_rereg(long rounds)
{
    struct tpoll *tp = open_tpoll();
    long k;
    int i;

    for (k = 0; k < rounds; k++) {
        for (i = 0; i < npairs; i++)
            if (tpoll_stop_recv(tp, pairs[i][0]) ||
                tpoll_want_recv(tp, pairs[i][0]))
                die("rereg");
        if (tpoll_wait(tp, 0) < 0)
            die("tpoll_wait");
    }
    close_tpoll(tp);
}

static long calls_ran;

static void on_call(struct tpoll *tp, void *arg)
{
    (void)tp, (void)arg;
    calls_ran++;
}

/* What a producer and the owner pay per cross-thread call, with the
 * owner's wait amortised over a batch of B (the caller is both: posting
 * to itself takes the same path as posting from another thread, minus
 * the cache misses that callgrind does not count). */
static void run_calls(int batch, long rounds)
{
    struct tpoll *tp;
    long k;
    int i;

    if (tpoll_create(&tp, NULL) || tpoll_thread_start(tp, 0))
        die("tpoll_create");
    for (k = 0; k < rounds; k++) {
        for (i = 0; i < batch; i++)
            if (tpoll_call(tp, 0, on_call, NULL))
                die("tpoll_call");
        if (tpoll_wait(tp, 0) < 0)
            die("tpoll_wait");
    }
    tpoll_destroy(tp);
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "event") == 0) {
        int active = atoi(argv[4]);

        open_pairs(atoi(argv[3]));
        if (active < 1 || active > npairs)
            die("bad A");
        if (strcmp(argv[2], "bare") == 0)
            run_bare(active, atol(argv[5]));
        else
            run_tpoll(active, atol(argv[5]));
        return reads == active + atol(argv[5]) ? 0 : 1;
    }
    if (argc == 4 && strcmp(argv[1], "rereg") == 0) {
        open_pairs(atoi(argv[2]));
        run_rereg(atol(argv[3]));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "calls") == 0) {
        run_calls(atoi(argv[2]), atol(argv[3]));
        return calls_ran == atoi(argv[2]) * atol(argv[3]) ? 0 : 1;
    }
    fprintf(stderr,
            "usage: perf_ring event bare|tpoll P A W | rereg P K | calls B K\n");
    return 2;
}
