/* SPDX-License-Identifier: MIT */
/*
 * Linux io_uring, through liburing: one ring per thread. A registration is
 * a one-shot poll request (IORING_OP_POLL_ADD). Its completion ends it:
 * after the fd's callback the backend arms the same request again while
 * the fd's interest and generation are still the ones it watches, so that
 * for the core the registration persists, as epoll's does; otherwise it
 * tells the core (tp__oneshot_fired), whose next update pass decides, as
 * for event ports. Changes and re-arms are
 * submission entries that the wait submits with the wait itself, in one
 * io_uring_enter. The kernel posts completions when the thread next
 * enters it for any system call (IORING_SETUP_COOP_TASKRUN): a wait that
 * finds some posted makes no system call at all, and the entries it has
 * wait for a wait that finds none (or a full queue, or a removal).
 *
 * A poll request holds its file until it completes, and only the owner may
 * drive its ring: a delete from another thread queues the fd (remove), the
 * owner cancels the request before it polls again or at its quiescent point
 * (settle), and the core waits for that (TP_CAP_HOLDS). A thread has at
 * most one request per fd in the kernel, so a completion always says which
 * request ended.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../core/backend.h"
#include "../platform/fdmark.h"
#include "../platform/wakefd.h"

/* A poll request's user_data: generation << 32 | request id; a removal's:
 * UD_REMOVAL | the id of the request it removes. Ids stay below 2^31. */
#define UD_REMOVAL 0x80000000u
#define UD_WAKE UINT64_MAX             /* the read of the wake eventfd */
#define UD_CANCEL_ALL (UINT64_MAX - 1) /* thread_term's */

/* Submission entries; the completion queue is larger (the kernel keeps
 * what overflows it: IORING_FEAT_NODROP, required). */
#define SQ_ENTRIES 256u
#define CQ_ENTRIES 1024u
/* Requests beyond one per fd: those being removed, whose completion the
 * next poll reaps. */
#define SPARE_REQS 256

/* A poll request in the kernel. Its id, not the fd, is in the user_data:
 * a change of an fd's events removes its request and adds another at once
 * (the new one watches the file the number names now, even after a close
 * without delete), so an fd may have one live request and others ending. */
struct req {
    int fd;
    uint32_t gen;
    int next;         /* free list; -1 ends it */
    uint8_t removing; /* cancelled: its completion is only reaped */
    uint8_t done;     /* its completion was reaped */
    /* Completed with an event, its id kept for the re-arm after the
     * callback: still the fd's registration for the core, no longer in
     * the kernel. */
    uint8_t parked;
    uint8_t removals; /* removals of it not completed (at most two) */
    uint8_t dirs;     /* TP_EV_RECV/SEND it watches */
};

/* A completion to dispatch. */
struct ur_event {
    int fd;
    uint32_t gen;
    int32_t res; /* poll mask; 0 for the wake */
    int id;      /* the parked request */
};

struct ur_thread {
    struct io_uring ring;
    struct tp_fdmark mark;
    struct tp_wakefd wake;
    uint64_t wake_buf; /* the kernel writes here: lives until the ring */
    int wake_armed;
    int ninflight;  /* poll requests and the wake read not completed */
    int nremoving;  /* of them: poll requests being removed */
    int cancelling; /* thread_term's cancellation was not completed */
    int urgent;     /* entries to submit before the next poll: removals */
    int *live;      /* per fd: its live request's id + 1, or 0 */
    struct req *reqs;
    int free_req;  /* a freed id, or -1 */
    int fresh_req; /* ids from here on were never used */
    int nreqs;
    /* Removals asked by deletes, on any thread (remove): fds under a spin
     * lock, at most one per fd (a thread arms an fd again only in set(),
     * which takes them first). */
    tp_atomic_t qlock, qn;
    int *queue;
    int nevents;
    struct ur_event events[];
};

static struct ur_thread *ur(struct tp__thread *th)
{
    return *tp__backend_data(th);
}

_Static_assert(POLLIN == 0x1 && POLLOUT == 0x4 && TP_EV_RECV == 0x1 &&
                   TP_EV_SEND == 0x2,
               "poll and tpoll event bits");

/* Readable and/or writable, nothing else: converted inline. */
static int only_rw(int32_t res)
{
    return !(res & ~(POLLIN | POLLOUT));
}

/* A full submission queue is submitted at once (a pass that changes more
 * fds than the queue holds); NULL only if the kernel takes none. */
static TP_NOINLINE struct io_uring_sqe *sqe_get_full(struct ur_thread *t)
{
    if (io_uring_submit_and_get_events(&t->ring) < 0)
        return NULL;
    return io_uring_get_sqe(&t->ring);
}

static inline struct io_uring_sqe *sqe_get(struct ur_thread *t)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

    return TP_LIKELY(sqe != NULL) ? sqe : sqe_get_full(t);
}

static uint64_t user_data(const struct ur_thread *t, int id)
{
    return (uint64_t)t->reqs[id].gen << 32 | (uint32_t)id;
}

/* Ids are handed out in order the first time, so that the table's pages
 * are touched only as far as requests were ever in flight at once. */
static int req_available(const struct ur_thread *t)
{
    return t->free_req >= 0 || t->fresh_req < t->nreqs;
}

static int req_new(struct ur_thread *t)
{
    int id = t->free_req;

    if (id >= 0)
        t->free_req = t->reqs[id].next;
    else
        id = t->fresh_req++;
    return id;
}

static void req_free(struct ur_thread *t, int id)
{
    t->reqs[id].next = t->free_req;
    t->free_req = id;
}

/* A poll request that failed: reported as a refused registration while
 * the fd still has that generation; a deleted one's is forgotten. */
static void poll_failed(struct tp__thread *th, int fd, uint32_t gen,
                        unsigned dirs, int err)
{
    struct tp__fd *e = &tp__head(th)->fds[fd];
    AO_t st = tp__fd_lock(e);

    if (TP_GEN(st) == gen) {
        tp__change_failed(th, fd, gen, dirs, err);
        tp__fd_unlock(e);
        return;
    }
    tp__fd_unlock(e);
    tp__oneshot_fired(th, fd);
}

static int remove_req(struct ur_thread *t, int id);

/* A removal's result. The kernel refuses to remove a poll request whose
 * wake-up it is processing (-EALREADY): the request may then complete, or
 * go on waiting (the wake-up found no event), so it is removed again until
 * it completes. An id is freed once neither its request nor a removal of
 * it can still complete. */
static void removal_done(struct ur_thread *t, int id, int res)
{
    struct req *r = &t->reqs[id];

    r->removals--;
    if (!r->done && res == -EALREADY)
        (void)remove_req(t, id);
    else if (r->done && r->removals == 0)
        req_free(t, id);
}

/*
 * A completion. A poll request's ends it. A live request's event is
 * copied to ev for dispatch and the request parked: its fd stays
 * registered for the core, and the dispatch re-arms it after the callback
 * (rearm). With ev NULL (settle), or no event, the fd goes back to the
 * update pass (tp__oneshot_fired), which arms it again if interest
 * remains: level-triggered, a dropped event fires again. `locked` is an fd
 * the caller holds locked and is arming (-1: none). Returns 1 when ev was
 * filled.
 */
static int reap(struct tp__thread *th, const struct io_uring_cqe *c,
                struct ur_event *ev, int locked)
{
    struct ur_thread *t = ur(th);
    uint64_t ud = c->user_data;
    struct req *r;
    int id;

    if (ud == UD_CANCEL_ALL)
        return 0;
    if (ud == UD_WAKE) {
        t->ninflight--;
        t->wake_armed = 0;
        if (ev == NULL) {
            (void)tp__woken(th);
            return 0;
        }
        ev->fd = -1;
        return 1;
    }
    id = (int)((uint32_t)ud & ~UD_REMOVAL);
    if ((uint32_t)ud & UD_REMOVAL) {
        removal_done(t, id, c->res);
        return 0;
    }
    t->ninflight--;
    r = &t->reqs[id];
    if (TP_LIKELY(ev != NULL && c->res > 0 && !r->removing)) {
        r->parked = 1;
        ev->fd = r->fd;
        ev->gen = r->gen;
        ev->res = c->res;
        ev->id = id;
        return 1;
    }
    r->done = 1;
    if (r->removals == 0)
        req_free(t, id);
    if (r->removing) {
        t->nremoving--;
        return 0;
    }
    t->live[r->fd] = 0;
    if (r->fd == locked)
        return 0;
    if (TP_UNLIKELY(c->res < 0) && c->res != -ECANCELED) {
        poll_failed(th, r->fd, r->gen, r->dirs, c->res);
        return 0;
    }
    tp__oneshot_fired(th, r->fd);
    return 0;
}

/* Reaps posted completions without dispatching them: all of them, or
 * (until_settled) until no removed request is left in the kernel. */
static void reap_quietly(struct tp__thread *th, int locked, int until_settled)
{
    struct ur_thread *t = ur(th);
    struct io_uring_cqe *c;
    unsigned head, seen = 0;

    io_uring_for_each_cqe(&t->ring, head, c)
    {
        if (until_settled && t->nremoving == 0)
            break;
        seen++;
        (void)reap(th, c, NULL, locked);
    }
    io_uring_cq_advance(&t->ring, seen);
}

/* Every request id is taken: those of removed requests come back with
 * their completions (the next poll would reap them; a pass that changes
 * more fds than SPARE_REQS before it does waits for them here). */
static int reclaim(struct tp__thread *th, int locked)
{
    struct ur_thread *t = ur(th);

    while (!req_available(t) && t->nremoving > 0) {
        int err = io_uring_cq_ready(&t->ring) != 0
                      ? 0
                      : io_uring_submit_and_wait(&t->ring, 1);

        if (err < 0 && err != -EINTR)
            return err;
        reap_quietly(th, locked, 0);
    }
    return req_available(t) ? 0 : -ENOMEM;
}

static int arm(struct tp__thread *th, int fd, uint32_t gen, unsigned want)
{
    struct ur_thread *t = ur(th);
    struct io_uring_sqe *sqe;
    int id, err;

    if (TP_UNLIKELY(!req_available(t)) && (err = reclaim(th, fd)) != 0)
        return err;
    sqe = sqe_get(t);
    if (sqe == NULL)
        return -EAGAIN;
    id = req_new(t);
    t->reqs[id].fd = fd;
    t->reqs[id].gen = gen;
    t->reqs[id].removing = 0;
    t->reqs[id].done = 0;
    t->reqs[id].parked = 0;
    t->reqs[id].removals = 0;
    t->reqs[id].dirs = (uint8_t)(want & TP_EV_BOTH);
    io_uring_prep_poll_add(sqe, fd, (unsigned short)tp__poll_want(want));
    io_uring_sqe_set_data64(sqe, user_data(t, id));
    tp__count_ctl(th, 1);
    t->live[fd] = id + 1;
    t->ninflight++;
    return 0;
}

static int remove_req(struct ur_thread *t, int id)
{
    struct io_uring_sqe *sqe = sqe_get(t);

    if (sqe == NULL)
        return -EAGAIN;
    io_uring_prep_poll_remove(sqe, user_data(t, id));
    io_uring_sqe_set_data64(sqe, UD_REMOVAL | (uint32_t)id);
    t->reqs[id].removals++;
    return 0;
}

/* A parked request is no longer in the kernel: its id is freed. */
static void unpark(struct ur_thread *t, int fd, int id)
{
    t->reqs[id].parked = 0;
    t->live[fd] = 0;
    req_free(t, id);
}

/* The live request ends with -ECANCELED, or with an event that beat the
 * removal: either way its completion is only reaped. A parked one has
 * ended already. */
static int cancel(struct tp__thread *th, int fd)
{
    struct ur_thread *t = ur(th);
    int id = t->live[fd] - 1, err;

    if (t->reqs[id].parked) {
        unpark(t, fd, id);
        return 0;
    }
    err = remove_req(t, id);
    if (err)
        return err;
    tp__count_ctl(th, 1);
    t->reqs[id].removing = 1;
    t->live[fd] = 0;
    t->nremoving++;
    return 0;
}

static void queue_lock(struct ur_thread *t)
{
    unsigned spins = 0;

    while (tp_cas(&t->qlock, 0, 1) != 0)
        tp__spin_pause(&spins);
}

static void queue_unlock(struct ur_thread *t)
{
    tp_store(&t->qlock, 0);
}

/* The removals deletes asked for: the live request of such an fd belongs
 * to a deleted generation (the owner arms a new generation only in set(),
 * after taking them; the re-arm after a callback arms only the generation
 * the request watched, which a removal queued since then cancels). */
static TP_NOINLINE void take_queued_removals(struct tp__thread *th)
{
    struct ur_thread *t = ur(th);
    int i, n;

    queue_lock(t);
    n = (int)tp_load_relaxed(&t->qn);
    for (i = 0; i < n; i++) {
        int fd = t->queue[i];

        if (t->live[fd] != 0 && cancel(th, fd) != 0)
            break;
        t->urgent = 1;
    }
    /* Entries left (no submission entry to be had) wait for the next
     * call. */
    memmove(t->queue, t->queue + i, (size_t)(n - i) * sizeof(t->queue[0]));
    tp_store(&t->qn, (AO_t)(n - i));
    queue_unlock(t);
}

static inline void take_removals(struct tp__thread *th)
{
    if (TP_UNLIKELY(tp_load(&ur(th)->qn) != 0))
        take_queued_removals(th);
}

/* Runs on th with fd locked. A change of events is a removal and an add,
 * in the same submission: no poll update, whose request would keep
 * watching a file closed without a delete when a new one took its
 * number. */
static int ur_set(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
                  unsigned want)
{
    struct ur_thread *t = ur(th);
    int id, err;

    (void)have;
    want &= TP_EV_BOTH;
    take_removals(th);
    id = t->live[fd] - 1;
    if (id >= 0 && t->reqs[id].gen == gen && t->reqs[id].dirs == want &&
        !t->reqs[id].parked)
        return 0;
    if (id >= 0 && (err = cancel(th, fd)) != 0)
        return err;
    return want != 0 ? arm(th, fd, gen, want) : 0;
}

/* Any thread, fd locked: only the owner may drive its ring. */
static void ur_remove(struct tp__thread *th, int fd, unsigned have)
{
    struct ur_thread *t = ur(th);
    AO_t n;

    (void)have;
    queue_lock(t);
    n = tp_load_relaxed(&t->qn);
    t->queue[n] = fd;
    tp_store(&t->qn, n + 1);
    queue_unlock(t);
}

/* Completions already posted: no system call. The entries queued (re-arms
 * of fds just reported, changes of interest) are submitted when no
 * completion is left, or at once when a delete asked for a removal. A
 * re-arm waits at most for a queue's worth of others (sqe_get submits a
 * full queue); a level-triggered fd reports what it missed meanwhile. */
static int enter(struct ur_thread *t, int timeout_ms)
{
    struct __kernel_timespec ts, *tsp = NULL;
    struct io_uring_cqe *cqe;
    unsigned ready = io_uring_cq_ready(&t->ring);

    if (ready == 0 && timeout_ms != 0) {
        if (timeout_ms > 0) {
            ts.tv_sec = timeout_ms / 1000;
            ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL;
            tsp = &ts;
        }
        return io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, tsp, NULL);
    }
    if (ready == 0 || t->urgent) {
        t->urgent = 0;
        return io_uring_submit_and_get_events(&t->ring);
    }
    return 0;
}

/* The wake eventfd is read through the ring: a wake costs the woken
 * thread no read() of its own. */
static void arm_wake(struct ur_thread *t)
{
    struct io_uring_sqe *sqe = sqe_get(t);

    if (sqe == NULL)
        return;
    io_uring_prep_read(sqe, t->wake.rfd, &t->wake_buf, sizeof(t->wake_buf), 0);
    io_uring_sqe_set_data64(sqe, UD_WAKE);
    t->wake_armed = 1;
    t->ninflight++;
}

/* The completions are copied out and the queue advanced before any
 * callback runs: a callback that forks leaves the ring, which the child
 * shares with the parent, untouched. */
static int ur_poll(struct tp__thread *th, int timeout_ms)
{
    struct ur_thread *t = ur(th);
    const struct io_uring_cq *cq = &t->ring.cq;
    unsigned head, ready, i;
    int err, n = 0;

    take_removals(th);
    if (!t->wake_armed)
        arm_wake(t);
    err = enter(t, timeout_ms);
    if (err < 0 && err != -ETIME && err != -EINTR)
        return err;
    /* The kernel's tail is read once (io_uring_for_each_cqe reads it
     * again for every entry). */
    head = *cq->khead;
    ready = io_uring_cq_ready(&t->ring);
    for (i = 0; i < ready && n < t->nevents; i++)
        n += reap(th, &cq->cqes[(head + i) & cq->ring_mask], &t->events[n], -1);
    io_uring_cq_advance(&t->ring, i);
    return n == 0 && err == -EINTR ? -EINTR : n;
}

/*
 * After the callback: the parked request is armed again, unchanged, while
 * this thread still should watch the fd's generation for the events it
 * watched. The core's registration then never ended, as with epoll, and a
 * change racing with the check queues the fd for the update pass, whose
 * set() or remove() replaces or cancels the new request. Otherwise (the
 * interest changed, the fd was deleted or left the thread, a callback
 * forked) the fd goes back to the update pass, as an event port's does. A
 * set() or remove() during the callbacks may have taken the request
 * already: it is no longer parked then (only a poll parks requests, and
 * an id reused meanwhile was armed, which clears the flag).
 */
static int rearm(struct tp__thread *th, struct ur_thread *t,
                 const struct ur_event *ev)
{
    struct req *r = &t->reqs[ev->id];
    struct tp__fd *e = &tp__head(th)->fds[ev->fd];
    struct io_uring_sqe *sqe;
    AO_t st;

    if (!r->parked)
        return 0;
    st = tp_load(&e->state);
    if (TP_LIKELY(TP_GEN(st) == r->gen &&
                  tp__wanted(e, st, tp__head(th)->dbit) == r->dirs) &&
        (sqe = sqe_get(t)) != NULL) {
        r->parked = 0;
        io_uring_prep_poll_add(sqe, ev->fd,
                               (unsigned short)tp__poll_want(r->dirs));
        io_uring_sqe_set_data64(sqe, user_data(t, ev->id));
        t->ninflight++;
        return 1;
    }
    unpark(t, ev->fd, ev->id);
    tp__oneshot_fired(th, ev->fd);
    return 0;
}

static void ur_dispatch(struct tp__thread *th, int n)
{
    struct ur_thread *t = ur(th);
    const struct ur_event *ev = t->events, *end = ev + n;
    unsigned armed = 0;

    for (; ev < end; ev++) {
        if (TP_UNLIKELY(ev->fd < 0)) {
            (void)tp__woken(th);
            continue;
        }
        if (TP_LIKELY(only_rw(ev->res)))
            tp__event_rw(th, ev->fd, ev->gen,
                         (unsigned)(ev->res | ev->res >> 1) & TP_EV_BOTH);
        else
            tp__event(th, ev->fd, ev->gen, tp__poll_events((unsigned)ev->res));
        armed += (unsigned)rearm(th, t, ev);
    }
    tp__count_ctl(th, armed);
}

/*
 * The quiescent point: the removals queued so far are submitted and their
 * requests' completions reaped. The kernel cancels a poll request when the
 * removal is submitted and completes it (dropping the file) in the same
 * io_uring_enter, which asks for completions: one system call as a rule.
 */
static void ur_settle(struct tp__thread *th)
{
    struct ur_thread *t = ur(th);
    int err;

    take_removals(th);
    if (t->nremoving == 0)
        return;
    err = io_uring_submit_and_get_events(&t->ring);
    for (;;) {
        if (err < 0 && err != -EINTR && err != -ETIME)
            return;
        reap_quietly(th, -1, 1);
        if (t->nremoving == 0)
            return;
        err = io_uring_submit_and_wait(&t->ring, 1);
    }
}

static void ur_wake(struct tp__thread *th)
{
    tp_wakefd_signal(&ur(th)->wake);
}

static int setup_ring(struct io_uring *ring)
{
    struct io_uring_params p = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_COOP_TASKRUN,
        .cq_entries = CQ_ENTRIES,
    };
    int err = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);

    /* Kernels before 6.0 know fewer flags: the ring works without them
     * (completions are then posted as soon as they happen). */
    if (err == -EINVAL) {
        p = (struct io_uring_params){
            .flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
            .cq_entries = CQ_ENTRIES,
        };
        err = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
    }
    if (err)
        return err;
    /* Waits with a timeout in the same io_uring_enter (5.11), and no
     * completion lost when the queue is full (5.5). */
    if ((p.features & (IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP)) !=
        (IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP)) {
        io_uring_queue_exit(ring);
        return -ENOSYS;
    }
    return 0;
}

/* io_uring_setup refused (kernel.io_uring_disabled, a seccomp filter, a
 * kernel without io_uring or too old): tpoll_create fails with its
 * errno. */
static int ur_probe(void)
{
    struct io_uring ring;
    int err = setup_ring(&ring);

    if (err == 0)
        io_uring_queue_exit(&ring);
    return err;
}

static void free_tables(struct ur_thread *t)
{
    tp__free(t->reqs);
}

/* The request table and the per-fd tables in one zeroed allocation, left
 * untouched: a large calloc's fresh pages cost no memory until used. */
static int alloc_tables(struct ur_thread *t, int max_fds)
{
    t->nreqs = max_fds + SPARE_REQS;
    t->reqs = tp__calloc(1, (size_t)t->nreqs * sizeof(t->reqs[0]) +
                                (size_t)max_fds * 2 * sizeof(int));
    if (t->reqs == NULL)
        return -ENOMEM;
    t->live = (int *)(void *)(t->reqs + t->nreqs);
    t->queue = t->live + max_fds;
    t->free_req = -1;
    return 0;
}

static int ur_thread_init(struct tp__thread *th)
{
    int batch = tp__thread_batch(th);
    struct ur_thread *t;
    int err;

    t = tp__calloc(1, sizeof(*t) + (size_t)batch * sizeof(t->events[0]));
    if (t == NULL)
        return -ENOMEM;
    t->nevents = batch;
    err = alloc_tables(t, tp__thread_max_fds(th));
    if (err)
        goto fail_tables;
    /* The ring's fd is close-on-exec (io_uring_setup makes it so). */
    err = setup_ring(&t->ring);
    if (err)
        goto fail_ring;
    tp_fdmark_take(&t->mark, t->ring.ring_fd);
    err = tp_wakefd_open(&t->wake);
    if (err)
        goto fail_wake;
    *tp__backend_data(th) = t;
    return 0;

fail_wake:
    io_uring_queue_exit(&t->ring);
fail_ring:
    free_tables(t);
fail_tables:
    tp__free(t);
    return err;
}

static void free_thread(struct tp__thread *th, struct ur_thread *t)
{
    free_tables(t);
    tp__free(t);
    *tp__backend_data(th) = NULL;
}

/* Completions of thread_term's cancellation: nothing is reported any more
 * (the thread's bits are already cleared). Returns 0 once the kernel
 * refused the cancellation (a kernel before 5.19): then closing the ring
 * cancels the requests, after it returns. */
static int reap_cancelled(struct ur_thread *t)
{
    struct io_uring_cqe *c;
    unsigned head, seen = 0;
    int ok = 1;

    io_uring_for_each_cqe(&t->ring, head, c)
    {
        seen++;
        if (c->user_data == UD_CANCEL_ALL) {
            t->cancelling = 0;
            ok &= c->res >= 0 || c->res == -ENOENT || c->res == -EALREADY;
        } else if (!((uint32_t)c->user_data & UD_REMOVAL) ||
                   c->user_data == UD_WAKE) {
            t->ninflight--;
        }
    }
    io_uring_cq_advance(&t->ring, seen);
    return ok;
}

/* Every request is cancelled and its completion waited for before the
 * ring is closed: closing a ring cancels its requests only later, from a
 * kernel worker, and a file would outlive tpoll_thread_stop. A request
 * whose wake-up the kernel is processing escapes one cancellation: it is
 * cancelled again. */
static void cancel_all(struct ur_thread *t)
{
    while (t->ninflight > 0) {
        struct io_uring_sqe *sqe = sqe_get(t);

        if (sqe == NULL)
            return;
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
        io_uring_sqe_set_data64(sqe, UD_CANCEL_ALL);
        t->cancelling = 1;
        do {
            int err = io_uring_submit_and_wait(&t->ring, 1);

            if ((err < 0 && err != -EINTR && err != -ETIME) ||
                !reap_cancelled(t))
                return;
        } while (t->cancelling || io_uring_cq_ready(&t->ring) != 0);
    }
}

/* By libc's munmap, not liburing's own system call, so that a thread
 * sanitizer knows the memory is gone: a ring mapped there later is not
 * taken for this one. */
static void unmap_ring(struct io_uring *r)
{
    munmap(r->sq.sqes, r->sq.ring_entries * sizeof(struct io_uring_sqe));
    munmap(r->sq.ring_ptr, r->sq.ring_sz);
    if (r->cq.ring_ptr != r->sq.ring_ptr)
        munmap(r->cq.ring_ptr, r->cq.ring_sz);
}

static void ur_thread_term(struct tp__thread *th)
{
    struct ur_thread *t = ur(th);

    cancel_all(t);
    unmap_ring(&t->ring);
    close(t->ring.ring_fd);
    tp_wakefd_close(&t->wake);
    free_thread(th, t);
}

/*
 * In a forked child the ring's memory is shared with the parent: it is
 * unmapped without a write, and the ring's fd closed only while it is
 * still ours (the child may have reused the number). Closing the child's
 * copy leaves the parent's ring and requests alone.
 */
static void ur_thread_forget(struct tp__thread *th)
{
    struct ur_thread *t = ur(th);

    unmap_ring(&t->ring);
    tp_fdmark_close_if_owned(&t->mark);
    tp_wakefd_forget(&t->wake);
    free_thread(th, t);
}

const struct tpoll_backend tp__backend_io_uring = {
    .name = "io_uring",
    .caps = TP_CAP_HOLDS,
    .probe = ur_probe,
    .thread_init = ur_thread_init,
    .thread_term = ur_thread_term,
    .thread_forget = ur_thread_forget,
    .set = ur_set,
    .remove = ur_remove,
    .settle = ur_settle,
    .poll = ur_poll,
    .dispatch = ur_dispatch,
    .wake = ur_wake,
};
