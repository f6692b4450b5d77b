/* SPDX-License-Identifier: MIT */
/*
 * The ring benchmark (the shape of libevent's test/bench.c): P socketpairs,
 * a persistent read watcher on end 0 of each; A pairs get a byte; every read
 * callback reads one byte and, until W writes are done, writes one byte into
 * the next pair. Each implementation (tpoll on one backend, a bare epoll or
 * poll loop, libev, libevent, libuv) provides the operations below.
 */
#ifndef TPOLL_BENCH_RING_H
#define TPOLL_BENCH_RING_H

#include <stdint.h>

struct ring {
    int npairs;
    int active;
    long writes;
    int (*fds)[2]; /* [i][0] watched read end, [i][1] its write end */
    long reads;    /* reads done by callbacks */
    long written;  /* writes done by callbacks */
};

#define RING_TOO_BIG 1

struct ring_impl {
    const char *name;
    const char *variant; /* tpoll: the backend name */
    /* Creates the loop and a started read watcher for every pair, and runs
     * one non-blocking iteration so that everything is registered. Returns
     * 0, RING_TOO_BIG (this implementation cannot take that many fds: the
     * run skips it) or -1. */
    int (*open)(struct ring *r, const char *variant, void **state);
    /* Stops and restarts every watcher, then runs one non-blocking
     * iteration (the timed "setup"). */
    int (*rearm)(void *state);
    /* One blocking iteration (at most ~1 s). */
    int (*run_once)(void *state);
    /* Kernel registration calls so far, or -1 when unknown. */
    int64_t (*ctl_calls)(void *state);
    void (*close)(void *state);
};

/* Every implementation's read callback for pair idx. Exits the process
 * with a message when the read does not return exactly one byte. */
void ring_on_read(struct ring *r, int idx);

/* What this build provides. */
extern const struct ring_impl ring_epoll_impl;
extern const struct ring_impl ring_poll_impl;
/* The floor of a dispatching library (ring_table.c): a prototype. */
extern const struct ring_impl ring_table_impl;
/* The tpoll implementations this build compiles in; returns their count. */
int ring_tpoll_list(const struct ring_impl **out);
#ifdef BENCH_HAVE_URING
/* Bare io_uring loops (ring_uring.c): design prototypes, run only when
 * named, never by "all"; returns their count. */
int ring_uring_list(const struct ring_impl **out);
#endif
#ifdef BENCH_HAVE_LIBEV
extern const struct ring_impl ring_libev_impl;
#endif
#ifdef BENCH_HAVE_LIBEVENT
extern const struct ring_impl ring_libevent_impl;
#endif
#ifdef BENCH_HAVE_LIBUV
extern const struct ring_impl ring_libuv_impl;
#endif

#endif
