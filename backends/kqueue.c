/* SPDX-License-Identifier: MIT */
/*
 * kqueue (FreeBSD, OpenBSD, NetBSD, DragonFly, macOS): one kqueue per
 * thread; changes are batched and submitted in one kevent() call per
 * update pass; EVFILT_USER wakes the thread where it works, a pipe
 * otherwise. Every descriptor it creates is close-on-exec. Only kqueue
 * API differences are conditional, from tpoll_kqueue_config.h
 * (cmake/TpollKqueueChecks.cmake).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/backend.h"
#include "../platform/wakefd.h"
#include "tpoll_kqueue_config.h"

/* Without EV_RECEIPT a flush may return readiness events, which are
 * dropped (a level-triggered one comes again at the poll): an EV_CLEAR
 * knote's would be lost, so edge-triggered fds are level-triggered there. */
#if TP_KQ_HAVE_EV_RECEIPT
#define CHANGE_FLAGS EV_RECEIPT
#define EDGE_CAP TP_CAP_EDGE
#else
#define CHANGE_FLAGS 0
#define EDGE_CAP 0u
#endif

/* The ident of the wake knote; user events have their own ident space. */
#define WAKE_IDENT 0

/* The generation travels in udata, a pointer or (NetBSD) an intptr_t. */
#define GEN_UDATA(gen) ((TP_KQ_UDATA_T)(uintptr_t)(gen))
#define UDATA_GEN(ud) ((uint32_t)(uintptr_t)(ud))

struct kq_thread {
    int kq;
    int use_user;          /* wake through EVFILT_USER, else the pipe */
    struct tp_wakefd wake; /* the pipe, when use_user is 0 */
    int nchanges;
    int cap; /* changes[], results[] and refused[] entries */
    struct kevent *changes;
    struct kevent *results;
    int nrefused;           /* write filters refused: reader gone */
    int nrefused_polled;    /* of them, at the end of the last poll */
    struct kevent *refused; /* as the EV_EOF event the filter would give */
    int nslots;             /* power of two, at least twice nevents */
    int *slots;             /* kevent index per fd while folding */
    unsigned *bits;         /* TP_EV_* folded per first kevent of an fd */
    int nevents;
    struct kevent events[];
};

static struct kq_thread *kt(struct tp__thread *th)
{
    return *tp__backend_data(th);
}

static const struct timespec zero_ts = {0, 0};

static short filter_of(unsigned dir)
{
    return dir == TP_EV_RECV ? EVFILT_READ : EVFILT_WRITE;
}

static unsigned dir_of(const struct kevent *ev)
{
    return ev->filter == EVFILT_READ ? TP_EV_RECV : TP_EV_SEND;
}

static void queue_change(struct kq_thread *t, int fd, unsigned dir,
                         unsigned short flags, uint32_t gen)
{
    struct kevent *ch = &t->changes[t->nchanges];

    EV_SET(ch, (uintptr_t)fd, filter_of(dir), flags | CHANGE_FLAGS, 0, 0,
           GEN_UDATA(gen));
    t->nchanges++;
}

/* Failures of a delete that only say "no longer there" are not failures:
 * closing an fd removes its knotes. */
static int delete_gone(int err)
{
    return err == ENOENT || err == EBADF;
}

/*
 * EVFILT_WRITE on a pipe whose reader is gone is refused at registration
 * by FreeBSD, DragonFly and OpenBSD (EPIPE) and NetBSD (EBADF, though the
 * descriptor is open), where macOS attaches it and reports EV_EOF.
 */
static int reader_gone(const struct kevent *ch, int err)
{
    return ch->filter == EVFILT_WRITE &&
           (err == EPIPE ||
            (err == EBADF && fcntl((int)ch->ident, F_GETFD) >= 0));
}

/*
 * A refused write filter is reported as the EV_EOF event the kernel would
 * have given had it attached it (send, and what poll(2) says: see
 * write_eof()), at the next poll, and as one-shot: the core re-registers
 * the fd after it, so the condition comes again at every poll while send
 * is wanted, as the level-triggered event would. An edge-triggered one
 * (EV_CLEAR, kept) is reported once and not re-registered: the core asks
 * for the write filter whatever the interest, and the condition never
 * changes again. With no room left it is an error.
 */
static void refuse_write(struct tp__thread *th, struct kq_thread *t,
                         const struct kevent *ch, int err)
{
    if (t->nrefused == t->cap) {
        tp__change_failed(th, (int)ch->ident, UDATA_GEN(ch->udata), TP_EV_SEND,
                          -err);
        return;
    }
    t->refused[t->nrefused] = *ch;
    t->refused[t->nrefused].flags = EV_EOF | (ch->flags & EV_CLEAR);
    t->refused[t->nrefused].fflags = 0;
    t->nrefused++;
}

/* An add that failed leaves nothing registered; a delete that failed
 * other than "already gone" leaves the filter in place, to be removed by
 * the next pass. */
static void report_failure(struct tp__thread *th, struct kq_thread *t,
                           const struct kevent *ch, int err)
{
    if (!(ch->flags & EV_DELETE) && reader_gone(ch, err))
        refuse_write(th, t, ch, err);
    else if (!(ch->flags & EV_DELETE))
        tp__change_failed(th, (int)ch->ident, UDATA_GEN(ch->udata), dir_of(ch),
                          -err);
    else if (!delete_gone(err))
        tp__remove_failed(th, (int)ch->ident, dir_of(ch), -err);
}

/*
 * With EV_RECEIPT every change has its entry in results, in order; without
 * it only failed changes do, still in order. Either way an entry belongs
 * to the first change not yet matched with the same ident and filter.
 */
static void report_results(struct tp__thread *th, struct kq_thread *t, int n)
{
    int i, j = 0;

    for (i = 0; i < n; i++) {
        const struct kevent *r = &t->results[i];
        int err;

        if (!(r->flags & EV_ERROR))
            continue;
        while (j < t->nchanges && (t->changes[j].ident != r->ident ||
                                   t->changes[j].filter != r->filter))
            j++;
        if (j == t->nchanges)
            return;
        err = (int)r->data;
        if (err != 0)
            report_failure(th, t, &t->changes[j], err);
        j++;
    }
}

/*
 * A call that failed as a whole, though its eventlist had room for every
 * change's error: kqueue(2) says -1 comes when an error finds no room,
 * and (EFAULT) "There was an error reading or writing the kevent
 * structure", not which changes were applied before it; the kernels read
 * and apply a changelist a few entries at a time. So each change is
 * submitted again alone, which lands whatever the failed call did: "Re-
 * adding an existing event will modify the parameters of the original
 * event, and not result in a duplicate entry", and a delete already done
 * fails with ENOENT, "already gone". Each change's own result is then
 * reported as in a batch; a lone change whose call fails as a whole was
 * not applied.
 */
static void replay_each(struct tp__thread *th, struct kq_thread *t)
{
    int i, n;

    tp__count_ctl(th, (unsigned)t->nchanges);
    for (i = 0; i < t->nchanges; i++) {
        const struct kevent *ch = &t->changes[i];
        struct kevent res;

        n = kevent(t->kq, ch, 1, &res, 1, &zero_ts);
        if (n < 0 && errno != EINTR)
            report_failure(th, t, ch, errno);
        else if (n == 1 && (res.flags & EV_ERROR) && res.data != 0)
            report_failure(th, t, ch, (int)res.data);
    }
}

/*
 * One kevent() for the whole batch with an eventlist as long as the
 * changelist: without it the kernel stops at the first failing change and
 * drops the rest. Without EV_RECEIPT the call may also return readiness
 * events; they are level-triggered and come again at the poll, and a wake
 * consumed here was for a sleep that is already over.
 */
static void kq_flush(struct tp__thread *th)
{
    struct kq_thread *t = kt(th);
    int n;

    if (t->nchanges == 0)
        return;
    tp__count_ctl(th, (unsigned)t->nchanges);
    n = kevent(t->kq, t->changes, t->nchanges, t->results, t->nchanges,
               &zero_ts);
    /* EINTR: "all changes in the changelist have been applied". */
    if (n >= 0)
        report_results(th, t, n);
    else if (errno != EINTR)
        replay_each(th, t);
    t->nchanges = 0;
}

/*
 * Adds for every direction wanted, deletes for those registered and no
 * longer wanted: a filter this thread never added is never deleted. An
 * add of a filter already there only updates it (kqueue(2)), so adding
 * the wanted ones again costs one change each in the same call, and
 * repairs what `have` believed of an fd the program closed without
 * deleting (closing drops its knotes) whose number a new file took. The
 * core holds the fd's lock until the flush, so a full buffer is flushed
 * here at once.
 */
static int kq_set(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
                  unsigned want)
{
    struct kq_thread *t = kt(th);
    unsigned dir;

    if (t->nchanges + 2 > t->cap)
        kq_flush(th);
    for (dir = TP_EV_RECV; dir <= TP_EV_SEND; dir <<= 1) {
        if (want & dir)
            queue_change(t, fd, dir,
                         EV_ADD | (want & TP_EV_EDGE ? EV_CLEAR : 0), gen);
        else if (have & dir)
            queue_change(t, fd, dir, EV_DELETE, gen);
    }
    return 0;
}

/*
 * Synchronous, from any thread, on th's kqueue (kevent() is thread-safe on
 * one kqueue). Registrations already gone are fine. Without EV_RECEIPT a
 * call with an eventlist may go on to scan, which would take th's events
 * (its wake among them) away from th: one change per call, no eventlist.
 */
static void kq_remove(struct tp__thread *th, int fd, unsigned have)
{
    struct kq_thread *t = kt(th);
    struct kevent ch[2];
    int i, n = 0;

    for (i = 0; i < 2; i++) {
        unsigned dir = i == 0 ? TP_EV_RECV : TP_EV_SEND;

        if (!(have & dir))
            continue;
        EV_SET(&ch[n], (uintptr_t)fd, filter_of(dir), EV_DELETE | CHANGE_FLAGS,
               0, 0, GEN_UDATA(0));
        n++;
    }
    if (n == 0)
        return;
    tp__count_ctl(th, (unsigned)n);
#if TP_KQ_HAVE_EV_RECEIPT
    {
        struct kevent res[2];

        kevent(t->kq, ch, n, res, n, &zero_ts);
    }
#else
    for (i = 0; i < n; i++)
        kevent(t->kq, &ch[i], 1, NULL, 0, NULL);
#endif
}

/* Refused write filters take the end of the batch and keep the poll from
 * blocking; what does not fit waits for the next one. */
static int take_refused(struct kq_thread *t, int n)
{
    int k = t->nrefused < t->nevents - n ? t->nrefused : t->nevents - n;

    memcpy(&t->events[n], t->refused, (size_t)k * sizeof(t->refused[0]));
    t->nrefused -= k;
    memmove(t->refused, t->refused + k,
            (size_t)t->nrefused * sizeof(t->refused[0]));
    t->nrefused_polled = k;
    return n + k;
}

static int kq_poll(struct tp__thread *th, int timeout_ms)
{
    struct kq_thread *t = kt(th);
    struct timespec ts, *tsp = NULL;
    int room = t->nevents, n = 0;

    if (t->nrefused) {
        room -= t->nrefused < room ? t->nrefused : room;
        timeout_ms = 0;
    }
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
        tsp = &ts;
    }
    n = kevent(t->kq, NULL, 0, t->events, room, tsp);
    if (n < 0 && !t->nrefused)
        return -errno;
    return take_refused(t, n < 0 ? 0 : n);
}

/*
 * EV_EOF on EVFILT_WRITE says only that nothing more can be sent: the
 * reader is gone, or the program shut its socket down for writing itself
 * (shutdown(SHUT_WR)) while the peer is still there and may send. The
 * write the callback attempts reports either (EPIPE). What the other
 * backends would tell is asked of poll(2): a hang-up (both half-closes)
 * once neither direction is left, an error for POLLERR (Linux's widowed
 * pipe), and nothing but send after the program's own shutdown, which
 * epoll and poll do not report either. The extra call is made at the end
 * of a connection only.
 */
static unsigned write_eof(const struct kevent *ev)
{
    struct pollfd p = {.fd = (int)ev->ident, .events = POLLOUT};
    unsigned bits = TP_EV_SEND;

    if (poll(&p, 1, 0) == 1)
        bits |= tp__poll_events((unsigned short)p.revents) & TP_EV_COND;
    return bits;
}

/*
 * EV_EOF on EVFILT_READ is the read side's half-close, even with data
 * left (the read reports it after the data); on EVFILT_WRITE see
 * write_eof(). A socket error comes in
 * fflags with EV_EOF and is an error.
 */
static unsigned from_kevent(const struct kevent *ev)
{
    unsigned bits;

    if (ev->flags & EV_ERROR)
        return TP_EV_ERR;
    if (!(ev->flags & EV_EOF))
        return ev->filter == EVFILT_READ ? TP_EV_RECV : TP_EV_SEND;
    bits = ev->filter == EVFILT_READ ? TP_EV_RECV | TP_EV_HUP | TP_EV_RDHUP
                                     : write_eof(ev);
    return bits | (ev->fflags ? TP_EV_ERR : 0);
}

static int is_wake(const struct kq_thread *t, const struct kevent *ev)
{
#if TP_KQ_HAVE_EVFILT_USER
    if (ev->filter == EVFILT_USER)
        return 1;
#endif
    return !t->use_user && ev->filter == EVFILT_READ &&
           ev->ident == (uintptr_t)t->wake.rfd;
}

/*
 * kqueue reports the two filters of one fd as two kevents; the core wants
 * one report per fd per poll, so the second one's bits are folded into the
 * first through a small open-addressing table (at most two kevents per fd,
 * one entry per fd, table twice the batch).
 */
static int fold_slot(struct kq_thread *t, int i)
{
    uintptr_t id = t->events[i].ident;
    unsigned h = (unsigned)(id * 2654435761u) & (t->nslots - 1);

    while (t->slots[h] >= 0) {
        const struct kevent *o = &t->events[t->slots[h]];

        if (o->ident == id &&
            UDATA_GEN(o->udata) == UDATA_GEN(t->events[i].udata))
            return t->slots[h];
        h = (h + 1) & (t->nslots - 1);
    }
    t->slots[h] = i;
    return i;
}

static void kq_dispatch(struct tp__thread *th, int n)
{
    struct kq_thread *t = kt(th);
    int i;

    for (i = 0; i < t->nslots; i++)
        t->slots[i] = -1;
    for (i = 0; i < n; i++) {
        const struct kevent *ev = &t->events[i];
        int first;

        t->bits[i] = 0;
        if (i >= n - t->nrefused_polled) {
            if (!(ev->flags & EV_CLEAR))
                tp__oneshot_fired(th, (int)ev->ident);
        } else if (is_wake(t, ev)) {
            if (tp__woken(th) && !t->use_user)
                tp_wakefd_drain(&t->wake);
            continue;
        }
        first = fold_slot(t, i);
        t->bits[first] |= from_kevent(ev);
    }
    for (i = 0; i < n; i++) {
        const struct kevent *ev = &t->events[i];

        if (t->bits[i])
            tp__event(th, (int)ev->ident, UDATA_GEN(ev->udata), t->bits[i]);
    }
}

static void kq_wake(struct tp__thread *th)
{
    struct kq_thread *t = kt(th);

#if TP_KQ_HAVE_EVFILT_USER
    if (t->use_user) {
        struct kevent ev;

        EV_SET(&ev, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, GEN_UDATA(0));
        kevent(t->kq, &ev, 1, NULL, 0, NULL);
        return;
    }
#endif
    tp_wakefd_signal(&t->wake);
}

/*
 * EVFILT_USER exists on some systems only, and emulation layers have
 * shipped it broken; so the wake knote is added (EV_CLEAR: one trigger,
 * one wake-up), triggered and looked for before it is trusted.
 */
static int user_wake_works(struct kq_thread *t)
{
#if TP_KQ_HAVE_EVFILT_USER
    struct kevent ch[2], ev[2];
    int n;

    EV_SET(&ch[0], WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0,
           GEN_UDATA(0));
    EV_SET(&ch[1], WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, GEN_UDATA(0));
    if (kevent(t->kq, ch, 2, NULL, 0, NULL) != 0)
        return 0;
    n = kevent(t->kq, NULL, 0, ev, 2, &zero_ts);
    if (n == 1 && ev[0].filter == EVFILT_USER && !(ev[0].flags & EV_ERROR))
        return 1;
    EV_SET(&ch[0], WAKE_IDENT, EVFILT_USER, EV_DELETE, 0, 0, GEN_UDATA(0));
    kevent(t->kq, ch, 1, NULL, 0, NULL);
#else
    (void)t;
#endif
    return 0;
}

/* Without EV_RECEIPT a successful add returns nothing, or a readiness
 * event: only an EV_ERROR entry that was written carries a result. */
static int open_pipe_wake(struct kq_thread *t)
{
    struct kevent ch, res;
    int n, err = tp_wakefd_open(&t->wake);

    if (err)
        return err;
    EV_SET(&ch, (uintptr_t)t->wake.rfd, EVFILT_READ, EV_ADD | CHANGE_FLAGS, 0,
           0, GEN_UDATA(0));
    n = kevent(t->kq, &ch, 1, &res, 1, &zero_ts);
    if (n < 0)
        err = -errno;
    else if (n == 1 && (res.flags & EV_ERROR) && res.data != 0)
        err = -(int)res.data;
    if (err)
        tp_wakefd_close(&t->wake);
    return err;
}

static void free_buffers(struct kq_thread *t)
{
    tp__free(t->changes);
    tp__free(t->results);
    tp__free(t->refused);
    tp__free(t->slots);
    tp__free(t->bits);
    tp__free(t);
}

/* A kqueue is inherited by exec'd programs unless created close-on-exec:
 * kqueuex(KQUEUE_CLOEXEC) on FreeBSD, kqueue1(O_CLOEXEC) on NetBSD and
 * OpenBSD; elsewhere (macOS) fcntl() right after, which leaves a window
 * for another thread's fork and exec. */
static int open_kqueue(void)
{
#if TP_KQ_HAVE_KQUEUEX
    return kqueuex(KQUEUE_CLOEXEC);
#elif TP_KQ_HAVE_KQUEUE1
    return kqueue1(O_CLOEXEC);
#else
    int kq = kqueue(), err;

    if (kq < 0 || fcntl(kq, F_SETFD, FD_CLOEXEC) == 0)
        return kq;
    err = errno;
    close(kq);
    errno = err;
    return -1;
#endif
}

/* Every set() queues at most two changes, so the buffers hold a batch's
 * worth of fds (the instance's batch option) and at least one fd. */
static int kq_thread_init(struct tp__thread *th)
{
    int batch = tp__thread_batch(th);
    int cap = batch < 2 ? 2 : batch;
    struct kq_thread *t;
    int err;

    t = tp__calloc(1, sizeof(*t) + (size_t)batch * sizeof(t->events[0]));
    if (t == NULL)
        return -ENOMEM;
    t->nevents = batch;
    t->cap = cap;
    t->wake.rfd = t->wake.wfd = -1;
    for (t->nslots = 2; t->nslots < 2 * batch;)
        t->nslots *= 2;
    t->changes = tp__calloc((size_t)cap, sizeof(t->changes[0]));
    t->results = tp__calloc((size_t)cap, sizeof(t->results[0]));
    t->refused = tp__calloc((size_t)cap, sizeof(t->refused[0]));
    t->slots = tp__calloc((size_t)t->nslots, sizeof(t->slots[0]));
    t->bits = tp__calloc((size_t)batch, sizeof(t->bits[0]));
    if (t->changes == NULL || t->results == NULL || t->refused == NULL ||
        t->slots == NULL || t->bits == NULL) {
        err = -ENOMEM;
        goto fail_buffers;
    }
    t->kq = open_kqueue();
    if (t->kq < 0) {
        err = -errno;
        goto fail_buffers;
    }
    t->use_user = user_wake_works(t);
    if (!t->use_user) {
        err = open_pipe_wake(t);
        if (err)
            goto fail_wake;
    }
    *tp__backend_data(th) = t;
    return 0;

fail_wake:
    close(t->kq);
fail_buffers:
    free_buffers(t);
    return err;
}

static void free_thread(struct tp__thread *th, struct kq_thread *t)
{
    free_buffers(t);
    *tp__backend_data(th) = NULL;
}

static void kq_thread_term(struct tp__thread *th)
{
    struct kq_thread *t = kt(th);

    close(t->kq);
    if (!t->use_user)
        tp_wakefd_close(&t->wake);
    free_thread(th, t);
}

/* In a forked child the kqueue does not exist ("not inherited by a child
 * created with fork"), and its number may already name another file, so
 * it is not closed; the wake pipe is inherited, and closed where it still
 * is ours. */
static void kq_thread_forget(struct tp__thread *th)
{
    struct kq_thread *t = kt(th);

    if (!t->use_user)
        tp_wakefd_forget(&t->wake);
    free_thread(th, t);
}

/*
 * Block devices are vnodes to kqueue: EVFILT_READ fires whenever the file
 * offset is not at the end, that is always, and EVFILT_WRITE is refused,
 * so a registration would spin or fail. Regular files and directories are
 * refused by the core already.
 */
static int kq_kind_check(unsigned mode)
{
    return S_ISBLK(mode) ? -EPERM : 0;
}

const struct tpoll_backend tp__backend_kqueue = {
    .name = "kqueue",
    .caps = TP_CAP_BATCH | EDGE_CAP,
    .thread_init = kq_thread_init,
    .thread_term = kq_thread_term,
    .thread_forget = kq_thread_forget,
    .kind_check = kq_kind_check,
    .set = kq_set,
    .flush = kq_flush,
    .remove = kq_remove,
    .poll = kq_poll,
    .dispatch = kq_dispatch,
    .wake = kq_wake,
};
