/* SPDX-License-Identifier: MIT */
/*
 * Thread groups: what thread ids cost before and after they start, what
 * a start costs with many fds in the instance (the per-thread init hook
 * walks the fds of its own group, up to that group's highest), and what
 * an interest change costs on an fd of group 0 and of another group.
 * Heap bytes are mallinfo2()'s (the library's allocations; thread stacks
 * and the kernel's pollers are not counted). Sizes fit a hard limit of
 * 20000 fds: each started thread holds two (epoll: its poller and its
 * wake eventfd).
 *
 *   bench_groups [-t THREADS] [-f FDS] [-g GROUPS] [-r ROUNDS]
 */
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"
#include "tpoll.h"

static void die(const char *what)
{
    fprintf(stderr, "groups: FAILED: %s\n", what);
    exit(1);
}

static size_t heap_bytes(void)
{
    struct mallinfo2 m = mallinfo2();

    return m.uordblks + m.hblkhd;
}

static long resident_kb(void)
{
    long kb = bench_resident_kb();

    if (kb < 0)
        die("statm");
    return kb;
}

static double now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void never(struct tpoll *tp, int fd, unsigned ev, void *owner)
{
    (void)tp;
    (void)fd;
    (void)ev;
    (void)owner;
}

static struct tpoll *create(int threads, int max_fds)
{
    struct tpoll_options o;
    struct tpoll *tp;

    tpoll_options_init(&o);
    o.threads = threads;
    o.max_fds = max_fds;
    o.backend = "epoll";
    if (tpoll_create(&tp, &o))
        die("tpoll_create");
    return tp;
}

/* The mask of every thread id of group g. */
static tpoll_mask_t group_all(int threads, int g)
{
    int n = threads - g * TPOLL_MAX_THREADS;

    return n >= TPOLL_MAX_THREADS ? ~(tpoll_mask_t)0 : TPOLL_THREAD(n) - 1;
}

/* Threads started one at a time (so that none waits for the CPU while
 * timed), each timing its tpoll_thread_start and first tpoll_wait, then
 * parked until all are measured. */
struct starter {
    struct tpoll *tp;
    int tid;
    double ns;
    sem_t *go, *done;
    pthread_barrier_t *end;
};

static void *start_timed(void *p)
{
    struct starter *s = p;
    double t0;

    sem_wait(s->go);
    t0 = now_ns();
    if (tpoll_thread_start(s->tp, s->tid))
        die("tpoll_thread_start");
    if (tpoll_wait(s->tp, 0) < 0)
        die("tpoll_wait");
    s->ns = now_ns() - t0;
    sem_post(s->done);
    pthread_barrier_wait(s->end);
    tpoll_thread_stop(s->tp);
    return NULL;
}

/* Starts threads 0..n-1 of tp; returns the median start and the heap
 * bytes they took, in *heap. */
static double start_all(struct tpoll *tp, int n, size_t *heap)
{
    struct starter *st = calloc((size_t)n, sizeof(*st));
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    double *ns = calloc((size_t)n, sizeof(*ns)), med;
    pthread_barrier_t end;
    pthread_attr_t attr;
    sem_t go, done;
    size_t before;
    int i;

    if (st == NULL || th == NULL || ns == NULL)
        die("calloc");
    sem_init(&go, 0, 0);
    sem_init(&done, 0, 0);
    pthread_barrier_init(&end, NULL, (unsigned)n + 1);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    for (i = 0; i < n; i++) {
        st[i] = (struct starter){tp, i, 0, &go, &done, &end};
        if (pthread_create(&th[i], &attr, start_timed, &st[i]))
            die("pthread_create");
    }
    before = heap_bytes();
    for (i = 0; i < n; i++) {
        sem_post(&go);
        sem_wait(&done);
    }
    *heap = heap_bytes() - before;
    pthread_barrier_wait(&end);
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ns[i] = st[i].ns;
    }
    med = bench_median(ns, n);
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&end);
    sem_destroy(&go);
    sem_destroy(&done);
    free(st);
    free(th);
    free(ns);
    return med;
}

/* Inserts `nfds` numbers (copies of one socket) round-robin over the
 * first `groups` groups, each fd in the mask of its whole group. */
static int *insert_spread(struct tpoll *tp, int threads, int nfds, int groups)
{
    int *fds = calloc((size_t)nfds, sizeof(int)), sv[2], i;

    if (fds == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        die("setup");
    for (i = 0; i < nfds; i++) {
        int g = i % groups;

        fds[i] = dup(sv[0]);
        if (fds[i] < 0)
            die("dup (raise the fd limit or lower -f)");
        if (tpoll_fd_insert_group(tp, fds[i], never, NULL, g,
                                  group_all(threads, g), 0))
            die("tpoll_fd_insert_group");
    }
    close(sv[0]);
    close(sv[1]);
    return fds;
}

static void remove_all(struct tpoll *tp, int *fds, int nfds)
{
    int i;

    for (i = 0; i < nfds; i++) {
        tpoll_fd_delete(tp, fds[i]);
        close(fds[i]);
    }
    free(fds);
}

/* ns per interest change (a stop and a want) of `nfds` fds of group g,
 * made by a thread of that group, then one pass. */
static double rereg_ns(int threads, int nfds, int g, int rounds)
{
    struct tpoll *tp = create(threads, 20000);
    int *fds = calloc((size_t)nfds, sizeof(int)), sv[2], i, k;
    double *per = calloc((size_t)rounds, sizeof(double)), med;

    if (fds == NULL || per == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        die("setup");
    if (tpoll_thread_start(tp, TPOLL_TID(g, 0)))
        die("tpoll_thread_start");
    for (i = 0; i < nfds; i++) {
        fds[i] = dup(sv[0]);
        if (fds[i] < 0 ||
            tpoll_fd_insert_group(tp, fds[i], never, NULL, g, 1, 0) ||
            tpoll_want_recv(tp, fds[i]))
            die("insert");
    }
    tpoll_wait(tp, 0);
    for (k = 0; k < rounds; k++) {
        double t0 = now_ns();

        for (i = 0; i < nfds; i++) {
            tpoll_stop_recv(tp, fds[i]);
            tpoll_want_recv(tp, fds[i]);
        }
        tpoll_wait(tp, 0);
        per[k] = (now_ns() - t0) / nfds;
    }
    med = bench_median(per, rounds);
    for (i = 0; i < nfds; i++) {
        tpoll_fd_delete(tp, fds[i]);
        close(fds[i]);
    }
    tpoll_thread_stop(tp);
    tpoll_destroy(tp);
    close(sv[0]);
    close(sv[1]);
    free(fds);
    free(per);
    return med;
}

int main(int argc, char **argv)
{
    int threads = 256, nfds = 10000, groups = 4, rounds = 9, ids, opt;
    int *fds;
    struct tpoll *tp;
    size_t before, heap;
    double ns0, ns;

    while ((opt = getopt(argc, argv, "t:f:g:r:")) != -1) {
        switch (opt) {
        case 't': threads = atoi(optarg); break;
        case 'f': nfds = atoi(optarg); break;
        case 'g': groups = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_groups [-t THREADS] [-f FDS] "
                            "[-g GROUPS] [-r ROUNDS]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > TPOLL_MAX_THREAD_IDS || groups < 1 ||
        groups > (threads + TPOLL_MAX_THREADS - 1) / TPOLL_MAX_THREADS ||
        nfds < 0 || rounds < 1 || rounds > 99)
        die("bad arguments");
    mallopt(M_ARENA_MAX, 1);

    /* Allocated is not resident: what no thread start writes stays
     * untouched pages. */
    for (ids = TPOLL_MAX_THREADS; ids <= TPOLL_MAX_THREAD_IDS; ids *= 8) {
        long r0 = resident_kb();

        before = heap_bytes();
        tp = create(ids, 1024);
        printf("groups ids=%d heap_bytes_per_id=%.0f "
               "resident_bytes_per_id=%.0f (max_fds=1024)\n",
               ids, (double)(heap_bytes() - before) / ids,
               (double)(resident_kb() - r0) * 1024 / ids);
        tpoll_destroy(tp);
    }

    tp = create(threads, 20000);
    ns0 = start_all(tp, threads, &heap);
    tpoll_destroy(tp);
    printf("groups threads=%d fds=0 start_us=%.1f "
           "heap_bytes_per_started_thread=%.0f\n",
           threads, ns0 / 1e3, (double)heap / threads);
    tp = create(threads, 20000);
    fds = insert_spread(tp, threads, nfds, groups);
    ns = start_all(tp, threads, &heap);
    printf("groups threads=%d fds=%d over groups=%d start_us=%.1f "
           "init_hook_us=%.1f\n",
           threads, nfds, groups, ns / 1e3, (ns - ns0) / 1e3);
    remove_all(tp, fds, nfds);
    tpoll_destroy(tp);

    printf("groups rereg fds=1000 group0_ns_per_fd=%.2f group1_ns_per_fd=%.2f\n",
           rereg_ns(threads > TPOLL_MAX_THREADS ? threads
                                                : 2 * TPOLL_MAX_THREADS,
                    1000, 0, rounds),
           rereg_ns(threads > TPOLL_MAX_THREADS ? threads
                                                : 2 * TPOLL_MAX_THREADS,
                    1000, 1, rounds));
    return 0;
}
