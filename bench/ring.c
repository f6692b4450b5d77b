/* SPDX-License-Identifier: MIT */
/*
 * Ring benchmark driver. Runs the chosen implementations round-robin, R
 * rounds (each round starting one implementation further), on the same
 * socketpairs, so that every implementation sees the
 * same machine noise and the ratios to the bare epoll loop come from the
 * same run. Prints one line per implementation:
 *
 *   ring impl=NAME P=.. A=.. W=.. setup_ns_per_fd=.. event_ns=..
 *        ratio_epoll=.. setup_ctl=.. dispatch_ctl=.. rearm_ns_per_fd=..
 *
 * (medians over the rounds; setup_ns_per_fd is the first re-registration
 * of every watcher after the loop registered them, its caches cold from
 * the kernel's work; rearm_ns_per_fd the median of REARMS more, as a
 * program that keeps re-registering meets them; ratio_epoll is the median of the per-round
 * ratios; *_ctl are kernel registration calls during the setup and the
 * dispatch, counted by tpoll's ctl_calls counter or by the bare epoll loop
 * itself, -1 for the others). Exits non-zero, loudly, when an
 * invariant fails: reads == A + W, writes == W, every pair drained.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "stats.h"

#define MAX_IMPLS 24
/* Re-registrations timed after the first, per round. */
#define REARMS 4
#define MAX_ROUNDS 64

static void die(const char *what)
{
    fprintf(stderr, "ring: FAILED: %s\n", what);
    exit(1);
}

void ring_on_read(struct ring *r, int idx)
{
    char c;
    int w;

    if (read(r->fds[idx][0], &c, 1) != 1) {
        fprintf(stderr, "ring: FAILED: read on pair %d: %s\n", idx,
                strerror(errno));
        exit(1);
    }
    r->reads++;
    if (r->written < r->writes) {
        w = idx + 1 == r->npairs ? 0 : idx + 1;
        if (write(r->fds[w][1], "e", 1) != 1)
            die("write");
        r->written++;
    }
}

static void open_pairs(struct ring *r)
{
    int i;

    r->fds = calloc((size_t)r->npairs, sizeof(r->fds[0]));
    if (r->fds == NULL)
        die("calloc");
    for (i = 0; i < r->npairs; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r->fds[i])) {
            fprintf(stderr,
                    "ring: FAILED: socketpair %d of %d: %s (P pairs need 2P "
                    "fds: raise the fd limit or lower P)\n",
                    i, r->npairs, strerror(errno));
            exit(1);
        }
    }
}

static void close_pairs(struct ring *r)
{
    int i;

    for (i = 0; i < r->npairs; i++) {
        close(r->fds[i][0]);
        close(r->fds[i][1]);
    }
    free(r->fds);
    r->fds = NULL;
}

static void check_drained(const struct ring *r, const char *name)
{
    char c;
    int i;

    if (r->reads != r->active + r->writes || r->written != r->writes) {
        fprintf(stderr, "ring: FAILED: %s: reads %ld (want %ld), writes %ld "
                "(want %ld)\n", name, r->reads, r->active + r->writes,
                r->written, r->writes);
        exit(1);
    }
    for (i = 0; i < r->npairs; i++) {
        if (recv(r->fds[i][0], &c, 1, MSG_PEEK | MSG_DONTWAIT) != -1 ||
            errno != EAGAIN) {
            fprintf(stderr, "ring: FAILED: %s: pair %d not drained\n", name,
                    i);
            exit(1);
        }
    }
}

struct sample {
    double setup_ns_per_fd;
    double rearm_ns_per_fd;
    double event_ns;
    int64_t setup_ctl;
    int64_t dispatch_ctl;
};

static int64_t ctl_calls(const struct ring_impl *im, void *st)
{
    return im->ctl_calls ? im->ctl_calls(st) : -1;
}

static int run_round(const struct ring_impl *im, struct ring *r,
                     struct sample *out)
{
    int space = r->npairs / r->active, i;
    int64_t c0, c1, c1again, c2;
    uint64_t t0, t1, t2;
    double again[REARMS];
    void *st;
    long stalls = 0;

    r->reads = r->written = 0;
    i = im->open(r, im->variant, &st);
    if (i == RING_TOO_BIG)
        return RING_TOO_BIG;
    if (i != 0) {
        fprintf(stderr, "ring: FAILED: %s: open\n", im->name);
        exit(1);
    }
    c0 = ctl_calls(im, st);
    t0 = bench_now_ns();
    if (im->rearm(st) != 0)
        die("rearm");
    t1 = bench_now_ns();
    c1 = ctl_calls(im, st);
    out->setup_ns_per_fd = (double)(t1 - t0) / (double)r->npairs;
    for (i = 0; i < REARMS; i++) {
        t0 = bench_now_ns();
        if (im->rearm(st) != 0)
            die("rearm");
        again[i] = (double)(bench_now_ns() - t0) / (double)r->npairs;
    }
    out->rearm_ns_per_fd = bench_median(again, REARMS);
    c1again = ctl_calls(im, st);
    for (i = 0; i < r->active; i++)
        if (write(r->fds[i * space][1], "e", 1) != 1)
            die("write");
    t1 = bench_now_ns();
    while (r->reads < r->active + r->writes) {
        long before = r->reads;

        if (im->run_once(st) < 0)
            die("run_once");
        stalls = r->reads == before ? stalls + 1 : 0;
        if (stalls > 3) {
            fprintf(stderr, "ring: FAILED: %s: no progress at %ld reads\n",
                    im->name, r->reads);
            exit(1);
        }
    }
    t2 = bench_now_ns();
    c2 = ctl_calls(im, st);
    im->close(st);
    check_drained(r, im->name);
    out->event_ns = (double)(t2 - t1) / (double)(r->active + r->writes);
    out->setup_ctl = c0 < 0 ? -1 : c1 - c0;
    out->dispatch_ctl = c0 < 0 ? -1 : c2 - c1again;
    return 0;
}

static int list_impls(const struct ring_impl **out)
{
    int n = 0;

    out[n++] = &ring_epoll_impl;
    out[n++] = &ring_poll_impl;
    n += ring_tpoll_list(out + n);
#ifdef BENCH_HAVE_LIBEV
    out[n++] = &ring_libev_impl;
#endif
#ifdef BENCH_HAVE_LIBEVENT
    out[n++] = &ring_libevent_impl;
#endif
#ifdef BENCH_HAVE_LIBUV
    out[n++] = &ring_libuv_impl;
#endif
    return n;
}

/* Implementations run only when named: prototypes of designs, which
 * ci/bench.sh's "all" leaves out. */
static int list_prototypes(const struct ring_impl **out)
{
    out[0] = &ring_table_impl;
#ifdef BENCH_HAVE_URING
    return 1 + ring_uring_list(out + 1);
#else
    return 1;
#endif
}

static const struct ring_impl *find_impl(const char *name)
{
    const struct ring_impl *all[MAX_IMPLS];
    int n = list_impls(all), i;

    n += list_prototypes(all + n);

    for (i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* Makes the process multi-threaded, as a program using a threaded poller
 * is: the C library then takes its heavier path in every system call
 * (cancellation points). The thread only sleeps. */
static void *idle_thread(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void become_multithreaded(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, idle_thread, NULL) != 0 ||
        pthread_detach(t) != 0)
        die("pthread_create");
}

static void usage(void)
{
    const struct ring_impl *all[MAX_IMPLS];
    int n = list_impls(all), i;

    fprintf(stderr, "usage: bench_ring [-i impl,impl,...|all] [-p pairs] "
                    "[-a active] [-w writes] [-r rounds] [-m]\n"
                    "  -m: a multi-threaded process (one idle thread more),\n"
                    "      where libc's system-call wrappers cost more\n"
                    "implementations:");
    for (i = 0; i < n; i++)
        fprintf(stderr, " %s", all[i]->name);
    n = list_prototypes(all);
    if (n > 0)
        fprintf(stderr, "\nprototypes (only by name):");
    for (i = 0; i < n; i++)
        fprintf(stderr, " %s", all[i]->name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const struct ring_impl *impls[MAX_IMPLS];
    static struct sample s[MAX_IMPLS][MAX_ROUNDS];
    struct ring r = {.npairs = 1000, .active = 1, .writes = 100000};
    int nimpl = 0, rounds = 5, opt, i, j, k, epoll_idx = -1;
    int skipped[MAX_IMPLS] = {0};
    char *list = NULL, *tok, *save;

    while ((opt = getopt(argc, argv, "i:p:a:w:r:m")) != -1) {
        switch (opt) {
        case 'm': become_multithreaded(); break;
        case 'i': list = optarg; break;
        case 'p': r.npairs = atoi(optarg); break;
        case 'a': r.active = atoi(optarg); break;
        case 'w': r.writes = atol(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        default: usage();
        }
    }
    if (r.npairs < 1 || r.active < 1 || r.active > r.npairs || r.writes < 0 ||
        rounds < 1 || rounds > MAX_ROUNDS)
        usage();
    if (list == NULL || strcmp(list, "all") == 0) {
        nimpl = list_impls(impls);
    } else {
        for (tok = strtok_r(list, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            if (nimpl == MAX_IMPLS)
                usage();
            impls[nimpl] = find_impl(tok);
            if (impls[nimpl] == NULL) {
                fprintf(stderr, "ring: %s is not in this build\n", tok);
                usage();
            }
            nimpl++;
        }
    }
    for (i = 0; i < nimpl; i++)
        if (impls[i] == &ring_epoll_impl)
            epoll_idx = i;
    open_pairs(&r);
    /* Each round starts with the next implementation, so that none always
     * runs right after the same neighbour (warm socket buffers, a noisy
     * neighbour's tail). */
    for (k = 0; k < rounds; k++)
        for (j = 0; j < nimpl; j++) {
            i = (j + k) % nimpl;
            if (!skipped[i] && run_round(impls[i], &r, &s[i][k]))
                skipped[i] = 1;
        }
    for (i = 0; i < nimpl; i++) {
        double setup[MAX_ROUNDS], rearm[MAX_ROUNDS], ev[MAX_ROUNDS];
        double ratio[MAX_ROUNDS];
        int64_t sctl = s[i][0].setup_ctl, dctl = s[i][0].dispatch_ctl;

        if (skipped[i]) {
            printf("ring impl=%s P=%d A=%d W=%ld skipped=too-many-fds\n",
                   impls[i]->name, r.npairs, r.active, r.writes);
            continue;
        }

        for (k = 0; k < rounds; k++) {
            setup[k] = s[i][k].setup_ns_per_fd;
            rearm[k] = s[i][k].rearm_ns_per_fd;
            ev[k] = s[i][k].event_ns;
            ratio[k] = epoll_idx < 0 ? 0 : s[i][k].event_ns /
                                               s[epoll_idx][k].event_ns;
            if (s[i][k].setup_ctl > sctl)
                sctl = s[i][k].setup_ctl;
            if (s[i][k].dispatch_ctl > dctl)
                dctl = s[i][k].dispatch_ctl;
        }
        printf("ring impl=%s P=%d A=%d W=%ld setup_ns_per_fd=%.1f "
               "event_ns=%.1f ratio_epoll=%.3f setup_ctl=%lld "
               "dispatch_ctl=%lld rearm_ns_per_fd=%.1f\n",
               impls[i]->name, r.npairs, r.active, r.writes,
               bench_median(setup, rounds), bench_median(ev, rounds),
               epoll_idx < 0 ? 0.0 : bench_median(ratio, rounds),
               (long long)sctl, (long long)dctl,
               bench_median(rearm, rounds));
    }
    close_pairs(&r);
    return 0;
}
