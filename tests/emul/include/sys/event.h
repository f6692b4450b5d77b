/* SPDX-License-Identifier: MIT */
/*
 * Test-only <sys/event.h> for Linux: the subset of the kqueue(2) API that
 * tests/emul/kqueue emulates on top of epoll, as the kernel named by
 * tp_emul_flavour.h (TPOLL_EMUL_FLAVOUR) declares it: its struct kevent
 * layout, its constant values, and only the features it has, so that
 * backends/kqueue.c compiles unchanged against each one, fallbacks
 * included. docs/kqueue.md lists what is emulated and how closely.
 *
 *   freebsd  FreeBSD 14: EVFILT_USER, EV_RECEIPT, void *udata, ext[4],
 *            kqueuex(KQUEUE_CLOEXEC)
 *   macos    macOS: EVFILT_USER (-10), EV_RECEIPT, intptr_t data, no ext,
 *            no kqueue1()/kqueuex()
 *   openbsd  OpenBSD: EV_RECEIPT, no EVFILT_USER, kqueue1(O_CLOEXEC)
 *   netbsd   NetBSD 9: unsigned filters numbered from 0, 32-bit flags,
 *            intptr_t udata, size_t counts, no EVFILT_USER, no
 *            EV_RECEIPT, kqueue1(O_CLOEXEC)
 */
#ifndef TP_EMUL_SYS_EVENT_H
#define TP_EMUL_SYS_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tp_emul_flavour.h"

#if TP_EMUL_NETBSD
#define EVFILT_READ 0U
#define EVFILT_WRITE 1U
#else
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#endif
#if TP_EMUL_FREEBSD
#define EVFILT_USER (-11)
#elif TP_EMUL_MACOS
#define EVFILT_USER (-10)
#endif

/* Actions and options (input). */
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#if !TP_EMUL_NETBSD
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
#endif
/* Returned values. */
#define EV_EOF 0x8000
#define EV_ERROR 0x4000

#ifdef EVFILT_USER
/* EVFILT_USER fflags. */
#define NOTE_FFNOP 0x00000000u
#define NOTE_FFAND 0x40000000u
#define NOTE_FFOR 0x80000000u
#define NOTE_FFCOPY 0xc0000000u
#define NOTE_FFCTRLMASK 0xc0000000u
#define NOTE_FFLAGSMASK 0x00ffffffu
#define NOTE_TRIGGER 0x01000000u
#endif

/* The field types of struct kevent and what EV_SET casts, per kernel. */
#if TP_EMUL_NETBSD
typedef uint32_t tp_emul_filter_t;
typedef uint32_t tp_emul_flags_t;
typedef int64_t tp_emul_data_t;
typedef intptr_t tp_emul_udata_t;
#define TP_EMUL_UDATA(f) ((intptr_t)(f))
#else
typedef int16_t tp_emul_filter_t;
typedef uint16_t tp_emul_flags_t;
#if TP_EMUL_MACOS
typedef intptr_t tp_emul_data_t;
#else
typedef int64_t tp_emul_data_t;
#endif
typedef void *tp_emul_udata_t;
#define TP_EMUL_UDATA(f) (f)
#endif

struct kevent {
    uintptr_t ident;         /* an fd, or any value for EVFILT_USER */
    tp_emul_filter_t filter; /* EVFILT_* */
    tp_emul_flags_t flags;   /* EV_* */
    uint32_t fflags;         /* filter flags */
    tp_emul_data_t data;     /* filter data */
    tp_emul_udata_t udata;   /* passed through unchanged */
#if TP_EMUL_FREEBSD
    uint64_t ext[4]; /* passed through unchanged */
#define TP_EMUL_EXT_ZERO(p)                                                    \
    ((p)->ext[0] = (p)->ext[1] = (p)->ext[2] = (p)->ext[3] = 0)
#else
#define TP_EMUL_EXT_ZERO(p) ((void)(p))
#endif
};

#define EV_SET(kevp, a, b, c, d, e, f)                                         \
    do {                                                                       \
        struct kevent *ev_set_p_ = (kevp);                                     \
        ev_set_p_->ident = (uintptr_t)(a);                                     \
        ev_set_p_->filter = (b);                                               \
        ev_set_p_->flags = (c);                                                \
        ev_set_p_->fflags = (d);                                               \
        ev_set_p_->data = (e);                                                 \
        ev_set_p_->udata = TP_EMUL_UDATA(f);                                   \
        TP_EMUL_EXT_ZERO(ev_set_p_);                                           \
    } while (0)

int kqueue(void);
#if TP_EMUL_FREEBSD
#define KQUEUE_CLOEXEC 0x00000001
int kqueuex(unsigned int flags);
#elif TP_EMUL_OPENBSD || TP_EMUL_NETBSD
/* Flags of <fcntl.h>: O_CLOEXEC (and, on NetBSD, O_NONBLOCK). */
int kqueue1(int flags);
#endif
#if TP_EMUL_NETBSD
int kevent(int kq, const struct kevent *changelist, size_t nchanges,
           struct kevent *eventlist, size_t nevents,
           const struct timespec *timeout);
#else
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout);
#endif

#endif
