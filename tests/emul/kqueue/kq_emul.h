/* SPDX-License-Identifier: MIT */
/*
 * Internal state of the test-only kqueue emulation (tests/emul/kqueue).
 * A kqueue is an epoll set, the knotes of each descriptor (a read and a
 * write one), EVFILT_USER knotes in memory, and the queue of active
 * knotes that kevent() hands out, as kqueue_scan() does in the kernel.
 * docs/kqueue.md maps each piece to kqueue(2).
 */
#ifndef TP_EMUL_KQ_EMUL_H
#define TP_EMUL_KQ_EMUL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <sys/types.h>

#define KQE_BUCKETS 256
/* epoll cookie of the process-wide wake fd; fd cookies never have it. */
#define KQE_WAKE_COOKIE UINT64_MAX

/* Flags every flavour's kernel has, under the emulation's own names: some
 * flavours' headers lack EV_RECEIPT and EV_DISPATCH, and a program there
 * never passes them. */
#define KQE_RECEIPT 0x0040u
#define KQE_DISPATCH 0x0080u
#define KQE_ACTIONS (unsigned)(EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE)
#define KQE_SYSFLAGS 0xf000u

/* Filter numbers as ints, whatever the flavour's filter type. */
#define KQE_READ ((int)EVFILT_READ)
#define KQE_WRITE ((int)EVFILT_WRITE)
#ifdef EVFILT_USER
#define KQE_USER ((int)EVFILT_USER)
#endif

#if TP_EMUL_NETBSD
typedef intptr_t kqe_udata_t;
#else
typedef void *kqe_udata_t;
#endif

struct kqe_fd;

/* One (ident, filter) knote. */
struct kqe_note {
    int present;
    int disabled;
    int triggered; /* EVFILT_USER only */
    int queued;    /* on the kqueue's active queue */
    int filter;
    uintptr_t ident;
    unsigned flags; /* as the kernel keeps them: the add's, less actions */
    unsigned fflags;
    int64_t data;
    kqe_udata_t udata;
#if TP_EMUL_FREEBSD
    uint64_t ext[4];
#endif
    struct kqe_fd *kfd; /* NULL for EVFILT_USER */
    struct kqe_note *qnext, *qprev; /* on the active queue */
};

/* The active queue, a list kept by hand: <sys/queue.h> is a BSD and glibc
 * header that musl does not have. */
struct kqe_queue {
    struct kqe_note *first, *last;
};

static inline void kqe_queue_init(struct kqe_queue *q)
{
    q->first = q->last = NULL;
}

static inline void kqe_queue_push(struct kqe_queue *q, struct kqe_note *n)
{
    n->qnext = NULL;
    n->qprev = q->last;
    if (q->last != NULL)
        q->last->qnext = n;
    else
        q->first = n;
    q->last = n;
}

static inline void kqe_queue_remove(struct kqe_queue *q, struct kqe_note *n)
{
    if (n->qprev != NULL)
        n->qprev->qnext = n->qnext;
    else
        q->first = n->qnext;
    if (n->qnext != NULL)
        n->qnext->qprev = n->qprev;
    else
        q->last = n->qprev;
}

/* The two knotes of one descriptor and its epoll registration. */
struct kqe_fd {
    int fd;
    uint32_t serial; /* in the epoll cookie: events of an older record
                      * (a file that outlived its number) are ignored */
    dev_t dev;       /* identity of the file the knotes were added on */
    ino_t ino;
    int stream;       /* a stream socket: its own shutdown is looked for */
    uint32_t regmask; /* epoll events registered, 0 if not registered */
    int armed;        /* a one-shot registration not yet consumed */
    struct kqe_note rd, wr;
    struct kqe_fd *next;
};

struct kqe_user {
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
    struct kqe_queue active; /* knotes to report, oldest first */
    struct kqe *abandoned;   /* a forked child's list of the parent's */
};

/* The kqueue named by descriptor kq in this process, or NULL (*err set). */
struct kqe *tp__kqe_lookup(int kq, int *err);
/* The always-readable fd whose presence in an epoll set wakes it. */
int tp__kqe_wake_fd(void);
/* fd (whose fstat is sb) is a pipe or fifo of this flavour's kernel. */
int tp__kqe_is_pipe(int fd, const struct stat *sb);

/* With kq->mu held. */
int tp__kqe_apply(struct kqe *kq, const struct kevent *kev);
struct kqe_fd *tp__kqe_find_fd(struct kqe *kq, int fd);
/* Makes kfd's epoll registration watch its active knotes that are not
 * queued; frees kfd when it has no knote left. 0 or an errno value. */
int tp__kqe_sync(struct kqe *kq, struct kqe_fd *kfd);
/* Drops kfd's knotes: its descriptor is being closed, or was. */
void tp__kqe_purge(struct kqe *kq, struct kqe_fd *kfd);
void tp__kqe_enqueue(struct kqe *kq, struct kqe_note *n);
void tp__kqe_dequeue(struct kqe *kq, struct kqe_note *n);
/* Puts the wake fd in the epoll set while knotes wait on the queue, so
 * that a kevent() blocked in another thread returns for them. */
void tp__kqe_update_wake(struct kqe *kq);
void tp__kqe_reset(struct kqe *kq);

#endif
