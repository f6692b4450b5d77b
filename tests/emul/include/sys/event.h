/* SPDX-License-Identifier: MIT */
/*
 * Test-only <sys/event.h> for Linux: the subset of FreeBSD's kqueue(2) API
 * that tests/emul/kqueue emulates on top of epoll, with FreeBSD's layout
 * and constant values, so that backends/kqueue.c compiles unchanged.
 * docs/kqueue.md lists what is emulated and how closely.
 */
#ifndef TP_EMUL_SYS_EVENT_H
#define TP_EMUL_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER (-11)

/* Actions and options (input). */
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
/* Returned values. */
#define EV_EOF 0x8000
#define EV_ERROR 0x4000

/* EVFILT_USER fflags. */
#define NOTE_FFNOP 0x00000000u
#define NOTE_FFAND 0x40000000u
#define NOTE_FFOR 0x80000000u
#define NOTE_FFCOPY 0xc0000000u
#define NOTE_FFCTRLMASK 0xc0000000u
#define NOTE_FFLAGSMASK 0x00ffffffu
#define NOTE_TRIGGER 0x01000000u

struct kevent {
    uintptr_t ident;      /* identifier: an fd, or any value for EVFILT_USER */
    short filter;         /* EVFILT_* */
    unsigned short flags; /* EV_* */
    unsigned int fflags;  /* filter flags */
    int64_t data;         /* filter data */
    void *udata;          /* passed through unchanged */
    uint64_t ext[4];      /* passed through unchanged */
};

#define EV_SET(kevp, a, b, c, d, e, f)                                         \
    do {                                                                       \
        struct kevent *ev_set_p_ = (kevp);                                     \
        ev_set_p_->ident = (a);                                                \
        ev_set_p_->filter = (b);                                               \
        ev_set_p_->flags = (c);                                                \
        ev_set_p_->fflags = (d);                                               \
        ev_set_p_->data = (e);                                                 \
        ev_set_p_->udata = (f);                                                \
        ev_set_p_->ext[0] = ev_set_p_->ext[1] = 0;                             \
        ev_set_p_->ext[2] = ev_set_p_->ext[3] = 0;                             \
    } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout);

#endif
