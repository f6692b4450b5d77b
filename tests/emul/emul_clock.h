/* SPDX-License-Identifier: MIT */
/* Time limits of the emulations' waits (kevent(), port_getn()). */
#ifndef TP_EMUL_CLOCK_H
#define TP_EMUL_CLOCK_H

#include <limits.h>
#include <stdint.h>
#include <time.h>

static inline int64_t tp_emul_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds left until deadline, rounded up so that a wait never gives
 * up before its time limit; 0 once it has passed. */
static inline int tp_emul_ms_left(int64_t deadline)
{
    int64_t left = deadline - tp_emul_now_ns();

    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > INT_MAX ? INT_MAX : (int)left;
}

#endif
