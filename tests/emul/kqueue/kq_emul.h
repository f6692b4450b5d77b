/* SPDX-License-Identifier: MIT */
/*
 * Internal state of the test-only kqueue emulation (tests/emul/kqueue).
 * A kqueue is an epoll set plus, per descriptor, the knotes of its two
 * filters; EVFILT_USER knotes live in memory only. docs/kqueue.md maps
 * each piece to FreeBSD's kqueue(2).
 */
#ifndef TP_EMUL_KQ_EMUL_H
#define TP_EMUL_KQ_EMUL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/event.h>
#include <sys/types.h>

#define KQE_BUCKETS 256
/* epoll cookie of the process-wide wake fd; fd cookies never have it. */
#define KQE_WAKE_COOKIE UINT64_MAX

/* One (ident, filter) knote. */
struct kqe_note {
    int present;
    int disabled;
    int triggered;        /* EVFILT_USER only */
    unsigned short flags; /* EV_ONESHOT | EV_CLEAR | EV_DISPATCH */
    unsigned int fflags;
    int64_t data;
    void *udata;
    uint64_t ext[4];
};

/* The two knotes of one descriptor and its epoll registration. */
struct kqe_fd {
    int fd;
    uint32_t serial; /* in the epoll cookie: events of an older record
                      * (a file that outlived its number) are ignored */
    dev_t dev;       /* identity of the file the knotes were added on */
    ino_t ino;
    uint32_t regmask; /* epoll events registered, 0 if not registered */
    struct kqe_note rd, wr;
    struct kqe_fd *next;
};

struct kqe_user {
    uintptr_t ident;
    struct kqe_note n;
    struct kqe_user *next;
};

struct kqe {
    pthread_mutex_t mu; /* knotes and registrations; never held in wait */
    int epfd;
    pid_t pid; /* creator: the queue does not exist in other processes */
    dev_t dev; /* identity of epfd, to notice a closed and reused number */
    ino_t ino;
    uint32_t next_serial;
    int wake_armed; /* the wake fd is in epfd */
    struct kqe_fd *fds[KQE_BUCKETS];
    struct kqe_user *users;
};

/* The kqueue named by descriptor kq in this process, or NULL (*err set). */
struct kqe *tp__kqe_lookup(int kq, int *err);
/* The always-readable fd whose presence in an epoll set wakes it. */
int tp__kqe_wake_fd(void);

/* With kq->mu held. */
int tp__kqe_apply(struct kqe *kq, const struct kevent *kev);
struct kqe_fd *tp__kqe_find_fd(struct kqe *kq, int fd);
/* Re-registers kfd's epoll interest (rearm: after a one-shot delivery);
 * frees kfd when it has no knote left. 0 or an errno value. */
int tp__kqe_sync(struct kqe *kq, struct kqe_fd *kfd, int rearm);
/* Drops kfd's knotes without trusting its number (the file was closed). */
void tp__kqe_purge(struct kqe *kq, struct kqe_fd *kfd);
/* Puts the wake fd in or out of the epoll set after user knotes changed. */
void tp__kqe_update_wake(struct kqe *kq);
void tp__kqe_reset(struct kqe *kq);

#endif
