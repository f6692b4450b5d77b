/* SPDX-License-Identifier: MIT */
/* Helpers of the event-port emulation's tests. */
#ifndef TP_PORT_TESTUTIL_H
#define TP_PORT_TESTUTIL_H

#include <port.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

/* A port, or a failed test. */
int pu_port(void);
/* Number of events the port holds (port_getn with max 0). */
unsigned pu_pending(int port);
/* Retrieves one event without waiting; 1 if there was one. */
int pu_get_now(int port, port_event_t *pe);

/* A thread blocked in a port call, and the means to wait until the kernel
 * has it asleep (its state in /proc), since nothing else can tell. */
struct pu_waiter {
    pthread_t thread;
    atomic_int tid;
    int port;
    uint_t max, nget;
    int ret, err;
    port_event_t ev[8];
};
void pu_waiter_start(struct pu_waiter *w, int port, uint_t max, uint_t nget);
void pu_waiter_wait_asleep(struct pu_waiter *w);
void pu_waiter_join(struct pu_waiter *w);

#endif
