/* SPDX-License-Identifier: MIT */
/* Small helpers for the kqueue emulation's tests. */
#ifndef TP_EMUL_KQ_TESTUTIL_H
#define TP_EMUL_KQ_TESTUTIL_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <time.h>

#include "testutil.h"

static const struct timespec kt_zero = {0, 0};

/* Filters and flags as ints, whatever the flavour's types. */
#define KT_READ ((int)EVFILT_READ)
#define KT_WRITE ((int)EVFILT_WRITE)
#ifdef EVFILT_USER
#define KT_USER ((int)EVFILT_USER)
#endif
/* udata as a pointer, whether the flavour has void * or intptr_t. */
#define KT_UDATA(ev) ((void *)(uintptr_t)(ev).udata)

/* One change, no eventlist: 0, or -errno as kevent() reports it. */
static inline int kt_change(int kq, uintptr_t ident, int filter, unsigned flags,
                            unsigned fflags, void *udata)
{
    struct kevent ch;

    EV_SET(&ch, ident, filter, flags, fflags, 0, udata);
    return kevent(kq, &ch, 1, NULL, 0, NULL) == 0 ? 0 : -errno;
}

/* Pending events, without waiting. */
static inline int kt_scan(int kq, struct kevent *ev, int n)
{
    int r = kevent(kq, NULL, 0, ev, n, &kt_zero);

    assert_true(r >= 0);
    return r;
}

static inline const struct kevent *kt_find(const struct kevent *ev, int n,
                                           uintptr_t ident, int filter)
{
    for (int i = 0; i < n; i++)
        if (ev[i].ident == ident && (int)ev[i].filter == filter)
            return &ev[i];
    return NULL;
}

static inline int kt_new(void)
{
    int kq = kqueue();

    assert_true(kq >= 0);
    return kq;
}

#endif
