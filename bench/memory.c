/* SPDX-License-Identifier: MIT */
/*
 * Memory per fd slot: heap bytes that tpoll_create() and each
 * tpoll_thread_start() take, divided by max_fds, measured with mallinfo2()
 * (so it counts what the library really allocates, fd table and per-thread
 * queues alike). Also prints the resident growth per registered fd after
 * inserting and registering every fd of P socketpairs on one thread.
 * Large blocks are mmap'ed, so untouched slots cost address space only:
 * both numbers are printed.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stats.h"
#include "tpoll.h"

static size_t heap_bytes(void)
{
    struct mallinfo2 m = mallinfo2();

    return m.uordblks + m.hblkhd;
}

static void die(const char *what)
{
    fprintf(stderr, "memory: FAILED: %s\n", what);
    exit(1);
}

static void never(struct tpoll *tp, int fd, unsigned ev, void *owner)
{
    (void)tp;
    (void)fd;
    (void)ev;
    (void)owner;
}

struct starter {
    struct tpoll *tp;
    int tid;
    pthread_barrier_t *b;
};

static void *start_and_park(void *p)
{
    struct starter *s = p;

    if (tpoll_thread_start(s->tp, s->tid))
        die("tpoll_thread_start");
    pthread_barrier_wait(s->b);
    pthread_barrier_wait(s->b);
    tpoll_thread_stop(s->tp);
    return NULL;
}

/* Heap bytes of an instance with `threads` started thread ids. */
static size_t instance_bytes(int max_fds, int threads)
{
    struct tpoll_options o;
    struct tpoll *tp;
    pthread_t th[8];
    struct starter st[8];
    pthread_barrier_t b;
    size_t before = heap_bytes(), after;
    int t;

    tpoll_options_init(&o);
    o.max_fds = max_fds;
    o.threads = threads;
    o.backend = "epoll";
    if (tpoll_create(&tp, &o))
        die("tpoll_create");
    pthread_barrier_init(&b, NULL, (unsigned)threads + 1);
    for (t = 0; t < threads; t++) {
        st[t].tp = tp;
        st[t].tid = t;
        st[t].b = &b;
        if (pthread_create(&th[t], NULL, start_and_park, &st[t]))
            die("pthread_create");
    }
    pthread_barrier_wait(&b);
    after = heap_bytes();
    pthread_barrier_wait(&b);
    for (t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&b);
    tpoll_destroy(tp);
    return after - before;
}

static long resident_kb(void)
{
    long kb = bench_resident_kb();

    if (kb < 0)
        die("statm");
    return kb;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    int max_fds, npairs = 2000, t, i, (*fds)[2];
    struct tpoll *tp;
    struct tpoll_options o;
    long r0, r1;

    if (argc > 1)
        npairs = atoi(argv[1]);
    getrlimit(RLIMIT_NOFILE, &rl);
    max_fds = (int)rl.rlim_cur;
    /* What one more slot costs (the difference between max_fds and half
     * of it) apart from what an instance and a thread cost whatever
     * max_fds is; and everything divided by max_fds. */
    /* One arena, so that mallinfo2() (main arena only) sees what started
     * threads allocate; a first run absorbs glibc's one-time allocations
     * and its mmap threshold adjustment. */
    mallopt(M_ARENA_MAX, 1);
    instance_bytes(max_fds, 4);
    for (t = 1; t <= 4; t *= 2) {
        size_t full = instance_bytes(max_fds, t);
        size_t half = instance_bytes(max_fds / 2, t);
        double slot = (double)(full - half) / (max_fds - max_fds / 2);

        printf("memory max_fds=%d threads=%d heap_bytes_per_slot=%.1f "
               "slot_bytes=%.1f fixed_bytes=%.0f\n",
               max_fds, t, (double)full / max_fds, slot,
               (double)full - slot * max_fds);
    }

    fds = calloc((size_t)npairs, sizeof(fds[0]));
    if (fds == NULL)
        die("calloc");
    for (i = 0; i < npairs; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds[i]))
            die("socketpair");
    tpoll_options_init(&o);
    o.max_fds = max_fds;
    o.backend = "epoll";
    r0 = resident_kb();
    if (tpoll_create(&tp, &o) || tpoll_thread_start(tp, 0))
        die("tpoll setup");
    for (i = 0; i < npairs; i++)
        for (t = 0; t < 2; t++)
            if (tpoll_fd_insert(tp, fds[i][t], never, NULL,
                                TPOLL_THREAD(0)) ||
                tpoll_want_recv(tp, fds[i][t]))
                die("insert");
    tpoll_wait(tp, 0);
    r1 = resident_kb();
    printf("memory registered_fds=%d resident_bytes_per_fd=%.1f "
           "(user space only; the kernel's epitem is not counted)\n",
           2 * npairs, (double)(r1 - r0) * 1024 / (2 * npairs));
    for (i = 0; i < npairs; i++)
        for (t = 0; t < 2; t++)
            tpoll_fd_delete(tp, fds[i][t]);
    tpoll_destroy(tp);
    return 0;
}
