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


#endif
