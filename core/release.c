/* SPDX-License-Identifier: MIT */
/* Records of deletes and migrations waiting for threads (release.h). */
#include <unistd.h>

#include "binding.h"
#include "queue.h"
#include "release.h"
#include "wake.h"

static void graves_lock(struct tpoll *tp)
{
    unsigned spins = 0;

    while (tp_cas(&tp->graves_lock, 0, 1) != 0)
        tp__spin_pause(&spins);
}

static void graves_unlock(struct tpoll *tp)
{
    tp_store(&tp->graves_lock, 0);
}

struct tp__rel *tp__rel_new(void)
{
    struct tp__rel *r = tp__calloc(1, sizeof(*r));

    if (r != NULL)
        r->heap = 1;
    return r;
}

void tp__rel_free(struct tp__rel *r)
{
    tp__free(r);
}

/*
 * Release callbacks run as callbacks do: tpoll_wait, thread_stop and
 * destroy refuse to run from inside them on this thread, and a blocking
 * delete or migration does not wait there. The waiter's record lives on
 * its stack: it is not touched after the signal.
 */
static void run_release(struct tpoll *tp, struct tp__rel *r)
{
    struct tp__thread *self = tp__self(tp);
    int was = self != NULL ? self->in_dispatch : 0;

    if (self != NULL)
        self->in_dispatch = 1;
    tp__release_enter();
    r->release(tp, r->fd, r->owner);
    tp__release_leave();
    if (self != NULL)
        self->in_dispatch = was;
}

static void finish(struct tpoll *tp, struct tp__rel *r)
{
    if (r->close_fd)
        close(r->fd);
    if (r->release != NULL)
        run_release(tp, r);
    if (r->waiter != NULL) {
        struct tp__waiter *w = r->waiter;

        pthread_mutex_lock(&w->mu);
        w->done = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    } else if (r->heap) {
        tp__rel_free(r);
    }
}

static void unlink_rel(struct tpoll *tp, struct tp__rel *r)
{
    struct tp__rel **p = &tp->graves;

    while (*p != r)
        p = &(*p)->next;
    *p = r->next;
}

/*
 * Under the thread's inbox lock, as marks are: a thread that has marked
 * its inbox dead (stopping) has passed its last quiescent point, or will
 * pass it after the lock and see the record then. Returns whether th must
 * still pass one for r.
 *
 * A thread may have left already (running_mask read, then the thread
 * finished its callback and its wait): it is not waited for, or a caller
 * blocked here would wait for a thread that has no reason to come back
 * (it may itself wait for a lock that caller holds). The wake word's
 * fetch-or comes first (a full barrier), then the running bit is read;
 * the thread clears its running bit (a full barrier) and then reads its
 * wake word: either it sees TP_W_OWED, or this sees its bit clear. The
 * running bit may be set again by a new user of the number: then the
 * thread is waited for needlessly, never wrongly. A holder that no longer
 * sleeps has returned from the poll that held the file, and rebuilds its
 * set (the delete raised its flag) before it polls again. A TP_CAP_HOLDS
 * holder asleep is woken and makes the removal (settle) at its quiescent
 * point, before the record can be finished; one that is not asleep is not
 * waited for either (it may be blocked on a lock the caller holds): it
 * makes the removal before it polls again.
 */
static int hand_over(struct tp__rel *r, struct tp__thread *th)
{
    int needed = 0;
    AO_t old;

    tp__inbox_lock(th);
    if (!th->inbox_dead) {
        tp_store_relaxed(&th->head.owed, 1);
        old = tp__notify_locked(th, TP_W_OWED);
        needed = ((r->running & th->bit) &&
                  (tp_load(&r->grp->fds[r->fd].running_mask) & th->bit)) ||
                 ((r->holders & th->bit) && (old & TP_W_SLEEPING));
    }
    tp__inbox_unlock(th);
    return needed;
}

void tp__rel_submit(struct tpoll *tp, struct tp__rel *r)
{
    tpoll_mask_t left;
    int done;

    /* Nothing in use: no record to keep, no lock to take. */
    if (!(r->running | r->holders)) {
        finish(tp, r);
        return;
    }
    graves_lock(tp);
    r->waiting = r->running | r->holders;
    r->next = tp->graves;
    tp->graves = r;
    for (left = r->waiting; left; left &= left - 1) {
        struct tp__thread *th = &r->grp->threads[tp__ctz(left)];

        if (!hand_over(r, th))
            r->waiting &= ~th->bit;
    }
    done = r->waiting == 0;
    if (done)
        unlink_rel(tp, r);
    graves_unlock(tp);
    if (done)
        finish(tp, r);
}

void tp__rel_wait(struct tp__group *g, int fd, tpoll_mask_t running,
                  tpoll_mask_t holders)
{
    struct tp__waiter w = {.done = 0};
    struct tp__rel r = {.waiter = &w, .fd = fd, .grp = g};

    r.running = running;
    r.holders = holders;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    tp__rel_submit(g->tp, &r);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

void tp__pass_quiescent(struct tp__thread *th)
{
    if (tp__wake_take_owed(&th->wword))
        tp__quiesce(th);
}

void tp__quiesce(struct tp__thread *th)
{
    struct tpoll *tp = th->head.tp;
    struct tp__rel *r, *next, *done = NULL;

    /* The removals that deletes asked of this thread before it got here
     * are made first: its records may name it as a holder. Not after a
     * fork in this dispatch: the poller is the parent's. */
    if (tp->be->settle != NULL && !th->fork_pending)
        tp->be->settle(th);
    graves_lock(tp);
    for (r = tp->graves; r != NULL; r = next) {
        next = r->next;
        if (r->grp != th->grp || !(r->waiting & th->bit))
            continue;
        r->waiting &= ~th->bit;
        if (r->waiting == 0) {
            unlink_rel(tp, r);
            r->next = done;
            done = r;
        }
    }
    graves_unlock(tp);
    for (r = done; r != NULL; r = next) {
        next = r->next;
        finish(tp, r);
    }
}

/* Taken by a thread that vanished, the list may be half-linked: then
 * none of it is trusted and nothing of it freed (a leak in the child).
 * Otherwise the records it allocated are freed, releases not called (the
 * parent calls them); a waiter's record lived on a vanished stack. */
void tp__rel_forget_all(struct tpoll *tp)
{
    struct tp__rel *r, *next;

    if (tp_load(&tp->graves_lock) == 0) {
        for (r = tp->graves; r != NULL; r = next) {
            next = r->next;
            if (r->heap && r->waiter == NULL)
                tp__rel_free(r);
        }
    }
    tp_store(&tp->graves_lock, 0);
    tp->graves = NULL;
}
