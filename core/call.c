/* SPDX-License-Identifier: MIT */
/*
 * Cross-thread calls and timer requests: one queue per thread id under a
 * spinlock. Calls go into a ring that the owner swaps with a spare one; a
 * full ring doubles and keeps its size. A timer
 * request links the timer itself, once: the last request wins. The lock
 * also keeps the thread's wake fd open: a stopping thread takes it to
 * close the queue before it closes its wake fd.
 */
#include <errno.h>

#include "binding.h"
#include "hooks.h"
#include "queue.h"
#include "svc.h"

static void svc_lock(struct tp__svc *s)
{
    tp__svc_spin_lock(&s->lock);
}

static void svc_unlock(struct tp__svc *s)
{
    tp__svc_spin_unlock(&s->lock);
}

/* The first item since the owner last emptied the queue notifies it; the
 * next ones find it notified already (the lock orders them after that
 * one, and the owner takes all of them at once). */
static void posted(struct tp__thread *th, struct tp__svc *s)
{
    if (tp_load_relaxed(&s->mail) == 0) {
        tp_store(&s->mail, 1);
        tp__notify_locked(th, 0);
    }
}

/* A full ring doubles, under the lock: realloc moves a large array's
 * pages rather than copying them, and the owner never touches this ring
 * outside the lock (it runs the other one). A ring dropped after a fork
 * (tp__call_forget) has no array: it starts again at TP_CALL_RING. */
static int push_locked(struct tp__thread *th, struct tp__svc *s,
                       const struct tp__call *c)
{
    if (TP_UNLIKELY(s->ncalls == s->cap)) {
        int cap = s->cap ? 2 * s->cap : TP_CALL_RING;
        struct tp__call *bigger =
            tp__realloc_array(s->ring, (size_t)cap, sizeof(*c));

        if (bigger == NULL)
            return -ENOMEM;
        TP_HOOK(TP_HOOK_CALL_RING_GROWN, th->tid);
        s->ring = bigger;
        s->cap = cap;
    }
    s->ring[s->ncalls++] = *c;
    posted(th, s);
    return 0;
}

/* Entered with the lock held: the first call since the owner took its
 * queue (it notifies), a full ring, a queue that is not live. */
static TP_NOINLINE int call_locked(struct tp__thread *th, struct tp__svc *s,
                                   tpoll_call_fn fn, void *arg)
{
    struct tp__call c = {fn, arg};
    int err = s->live ? push_locked(th, s, &c) : -ESRCH;

    svc_unlock(s);
    return err;
}

static TP_NOINLINE int call_contended(struct tp__thread *th,
                                      struct tp__svc *s, tpoll_call_fn fn,
                                      void *arg)
{
    tp__svc_spin_wait(&s->lock);
    return call_locked(th, s, fn, arg);
}

/* The common call is a store between a lock and an unlock, and every
 * other case leaves by a tail call: no registers to save, as it is what a
 * producer pays per call. */
int tpoll_call(struct tpoll *tp, int tid, tpoll_call_fn fn, void *arg)
{
    struct tp__svc *s;

    if (TP_UNLIKELY(tp == NULL || fn == NULL || tid < 0 ||
                    tid >= tp->nthreads))
        return -EINVAL;
    s = tp->threads[tid].svc;
    if (TP_UNLIKELY(tp_cas(&s->lock, 0, 1) != 0))
        return call_contended(&tp->threads[tid], s, fn, arg);
    if (TP_LIKELY(s->live && s->ncalls < s->cap &&
                  tp_load_relaxed(&s->mail) != 0)) {
        struct tp__call *c = &s->ring[s->ncalls++];

        c->fn = fn;
        c->arg = arg;
        svc_unlock(s);
        return 0;
    }
    return call_locked(&tp->threads[tid], s, fn, arg);
}

int tp__call_request(struct tp__thread *th, struct tpoll_timer *t,
                     uint64_t delay)
{
    struct tp__svc *s = th->svc;
    int err = 0;

    svc_lock(s);
    if (!s->live) {
        err = -ESRCH;
    } else {
        t->tp_xdelay = delay;
        if (tp_load_relaxed(&t->tp_xgen) != s->xgen) {
            tp_store_relaxed(&t->tp_xgen, s->xgen);
            t->tp_xnext = NULL;
            *s->xtail = t;
            s->xtail = &t->tp_xnext;
            s->nreqs++;
            posted(th, s);
        }
    }
    svc_unlock(s);
    return err;
}

/* Each timer leaves the queue under the lock, with the request it holds
 * then; a later request queues it again. Applied before any callback
 * runs, so none of them can have freed a timer still listed. */
static void apply_requests(struct tp__thread *th, struct tpoll_timer *t)
{
    struct tp__svc *s = th->svc;

    while (t != NULL) {
        struct tpoll_timer *next;
        uint64_t delay;

        svc_lock(s);
        next = t->tp_xnext;
        delay = t->tp_xdelay;
        tp_store_relaxed(&t->tp_xgen, 0);
        svc_unlock(s);
        tp__timer_apply(th, t, delay);
        t = next;
    }
}

static struct tpoll_timer *take_requests_locked(struct tp__svc *s)
{
    struct tpoll_timer *t = s->xhead;

    s->xhead = NULL;
    s->xtail = &s->xhead;
    s->nreqs = 0;
    tp_store(&s->mail, s->ncalls != 0);
    return t;
}

void tp__call_apply_requests(struct tp__thread *th)
{
    struct tp__svc *s = th->svc;
    struct tpoll_timer *t;

    svc_lock(s);
    t = take_requests_locked(s);
    svc_unlock(s);
    apply_requests(th, t);
}

/* The ring is swapped with the spare one: producers fill the other while
 * the owner runs these. */
static void take_calls_locked(struct tp__svc *s, struct tp__taken *out)
{
    int cap = s->cap;

    out->calls = s->ring;
    out->n = s->ncalls;
    s->ring = s->spare;
    s->cap = s->spare_cap;
    s->spare = out->calls;
    s->spare_cap = cap;
    s->ncalls = 0;
    tp_store(&s->mail, s->nreqs != 0);
}

void tp__call_take(struct tp__thread *th, struct tp__taken *out)
{
    struct tp__svc *s = th->svc;
    struct tpoll_timer *t;

    svc_lock(s);
    take_calls_locked(s, out);
    t = take_requests_locked(s);
    svc_unlock(s);
    apply_requests(th, t);
}

void tp__call_run(struct tp__thread *th, struct tp__taken *in)
{
    struct tpoll *tp = th->head.tp;
    int i;

    for (i = 0; i < in->n && !th->fork_pending; i++) {
        in->calls[i].fn(tp, in->calls[i].arg);
        th->head.dispatched++;
    }
}

void tp__call_open(struct tp__thread *th)
{
    svc_lock(th->svc);
    th->svc->live = 1;
    svc_unlock(th->svc);
}

/* Timer requests are dropped with their epoch (the thread's timers are
 * all cancelled); accepted calls run here, as callbacks. */
void tp__call_close(struct tp__thread *th)
{
    struct tp__svc *s = th->svc;
    struct tp__taken calls;
    int was = th->in_dispatch;

    svc_lock(s);
    s->live = 0;
    take_calls_locked(s, &calls);
    take_requests_locked(s);
    s->xgen = s->xgen + 1 ? s->xgen + 1 : 1;
    svc_unlock(s);
    th->in_dispatch = 1;
    tp__call_run(th, &calls);
    th->in_dispatch = was;
}

/* A lock held by a thread that vanished may leave the arrays half
 * swapped (ring and spare the same array, or a capacity that is the
 * other array's) or the ring half grown (realloc freed the old array, the
 * new one is not in place): neither is trusted then. Both are dropped, a
 * leak in the child, and each grows again from nothing when used. */
void tp__call_forget(struct tp__svc *s)
{
    if (tp_load(&s->lock) != 0) {
        s->ring = s->spare = NULL;
        s->cap = s->spare_cap = 0;
    }
    tp_store(&s->lock, 0);
    s->live = 0;
    s->ncalls = 0;
    s->xhead = NULL;
    s->xtail = &s->xhead;
    s->nreqs = 0;
    s->xgen = s->xgen + 1 ? s->xgen + 1 : 1;
    tp_store(&s->mail, 0);
}

void tp__call_init(struct tp__svc *s)
{
    s->xtail = &s->xhead;
    s->xgen = 1;
}

/* At a thread id's first start, when its rings are missing. A fork can
 * come anywhere in here (another thread starting): the child then finds
 * the rings missing, or one of them, or their sizes, and makes them
 * again (freeing the half, which only it can reach). The request queue's
 * epoch is not touched: a child's copy of a queued timer must stay stale
 * (tp__call_forget moved the epoch on). */
int tp__call_alloc(struct tp__svc *s, int tid)
{
    struct tp__call *ring = tp__calloc(TP_CALL_RING, sizeof(*ring));
    struct tp__call *spare = tp__calloc(TP_CALL_RING, sizeof(*spare));

    (void)tid; /* for the test hook only */
    TP_HOOK(TP_HOOK_CALL_RINGS_MADE, tid);
    if (ring == NULL || spare == NULL) {
        tp__free(ring);
        tp__free(spare);
        return -ENOMEM;
    }
    tp__call_free(s);
    s->ring = ring;
    s->spare = spare;
    s->cap = s->spare_cap = TP_CALL_RING;
    return 0;
}

int tp__call_ready(const struct tp__svc *s)
{
    return s->ring != NULL && s->spare != NULL && s->cap != 0 &&
           s->spare_cap != 0;
}

void tp__call_free(struct tp__svc *s)
{
    tp__free(s->ring);
    tp__free(s->spare);
    s->ring = s->spare = NULL;
}
