/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests: instances on the backend named by
 * TPOLL_BACKEND, fd pairs, event-loop threads, waiting on conditions. */
#ifndef TPOLL_TESTUTIL_H
#define TPOLL_TESTUTIL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "tpoll.h"

/* Safety net for waits that should end long before: a hang fails the test
 * instead of the ctest timeout. Never a way to wait for an event. */
#define TU_DEADLINE_MS 10000

struct tpoll *tu_create(int threads, int max_fds);
void tu_destroy(struct tpoll *tp);

void tu_socketpair(int sv[2]);
void tu_pipe(int p[2]);
void tu_write_byte(int fd);
/* Reads everything available; returns bytes read, 0 on EOF, -1 if none. */
long tu_drain(int fd);
int tu_count_open_fds(void);
const char *tu_backend(void);

/* A callback that records what it saw, for single-thread tests. */
struct tu_rec {
    int calls;
    unsigned events; /* union of all the events seen */
    int fd;          /* fd of the last call */
};
void tu_rec_cb(struct tpoll *tp, int fd, unsigned events, void *owner);
/* Condition for tu_wait_until: the struct tu_rec was called. */
int tu_rec_called(void *rec);
/* A callback that does nothing. */
void tu_noop_cb(struct tpoll *tp, int fd, unsigned events, void *owner);

/* Runs tpoll_wait on the calling bound thread until cond(arg) holds.
 * Returns 1 on success, 0 if the safety deadline passed. */
int tu_wait_until(struct tpoll *tp, int (*cond)(void *), void *arg);
uint64_t tu_now_ms(void);

/* An event-loop thread bound to `tid` that waits until told to stop. */
struct tu_loop {
    struct tpoll *tp;
    int tid;
    pthread_t thread;
    atomic_int started;
    atomic_int stop;
    atomic_int start_err;
    atomic_ulong loops;
};
void tu_loop_start(struct tu_loop *l, struct tpoll *tp, int tid);
void tu_loop_stop(struct tu_loop *l);
/* n loops at once, l[i] bound to tids[i], on TU_SMALL_STACK stacks so that
 * a thousand of them stay small; returns once all are bound. */
#define TU_SMALL_STACK (256 * 1024)
void tu_loops_start(struct tu_loop *l, int n, struct tpoll *tp,
                    const int *tids);
void tu_loops_stop(struct tu_loop *l, int n);
/* Returns once l's thread has run a whole tpoll_wait that began after
 * the call (two wake round trips): every callback it had begun has
 * returned, and it saw every change made before. */
void tu_loop_round_trip(struct tu_loop *l);

/* A counter that other threads bump and the test waits on, for conditions
 * reached on threads that are not the caller's tpoll loop. */
struct tu_event {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
};
void tu_event_init(struct tu_event *ev);
void tu_event_destroy(struct tu_event *ev);
void tu_event_post(struct tu_event *ev);
int tu_event_count(struct tu_event *ev);
/* Waits until count >= n; 1 on success, 0 if the safety deadline passed. */
int tu_event_wait(struct tu_event *ev, int n);
/* Waits until *v >= n (an atomic bumped elsewhere), same convention. */
int tu_wait_atomic(atomic_ulong *v, unsigned long n);

/* Connected loopback TCP pair: out[0] the connecting side, out[1] the
 * accepted one; both non-blocking and close-on-exec. */
void tu_tcp_pair(int out[2]);
/* A loopback port nothing listens on (bound, then released). */
int tu_unused_tcp_port(void);
/* Non-blocking TCP socket whose connect() to 127.0.0.1:port is underway
 * (or already failed: the error is then read back with SO_ERROR). */
int tu_tcp_connect_start(int port);

/* A numeric setting from the environment (strtoul, any base); dflt when
 * unset or empty. */
unsigned long tu_env_ulong(const char *name, unsigned long dflt);

/* The first failure that threads of a stress test saw (they must not
 * assert: cmocka's assertions only work on the main thread). Later ones
 * are dropped; the main thread fails with `text` once they are done. */
struct tu_failure {
    atomic_int failed;
    char text[512];
};
void tu_failure_set(struct tu_failure *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* fork() for tests: in the child, the signals cmocka catches are reset to
 * their defaults, so that a crash there kills the child (and its parent
 * sees it) instead of unwinding into the child's copy of the test runner. */
pid_t tu_fork(void);

/* One thread (id 0) bound, fd inserted with cb and owner for it. */
struct tpoll *tu_start_one(tpoll_cb cb, void *owner, int fd);
/* Deletes and closes fd, destroys the instance. */
void tu_finish_one(struct tpoll *tp, int fd);

/* 1 if the instance's backend reports TPOLL_HUP (all but select). */
int tu_backend_reports_hup(const struct tpoll *tp);
/* 1 if it also tells the read side's half-close alone (TPOLL_RDHUP after
 * the peer's shutdown(SHUT_WR)): poll and event ports only where the
 * system has POLLRDHUP. */
int tu_backend_reports_rdhup(const struct tpoll *tp);
/* 0 if `events` keeps the contract's rules for conditions: TPOLL_HUP
 * exactly with a half-close, each half-close and TPOLL_ERR with a wanted
 * direction it concerns; else a text saying which rule it breaks. */
const char *tu_conditions_broken(unsigned events);
/* The same for an fd whose read side's close is wanted
 * (tpoll_want_close): TPOLL_RDHUP and TPOLL_ERR may come without a
 * direction. */
const char *tu_close_conditions_broken(unsigned events);
/* Reads thread tid's counters, asserting success. */
struct tpoll_counters tu_counters(const struct tpoll *tp, int tid);

#endif
