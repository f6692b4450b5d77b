/* SPDX-License-Identifier: MIT */
/*
 * Which thread ids the calling OS thread is bound to: a few slots of
 * thread-local storage, so one OS thread may serve several instances (a
 * test harness, a library inside a server) at once.
 */
#ifndef TP_CORE_BINDING_H
#define TP_CORE_BINDING_H

#include <errno.h>

#include "core.h"

#define TP_MAX_BINDINGS 8
extern TP_TLS struct tp__thread *tp__bindings[TP_MAX_BINDINGS];

struct tp__thread *tp__lookup_rest(const struct tpoll *tp);

/* The binding found moves to the front, so a thread serving one instance
 * finds it at the first slot: inline there, the rest out of line. */
static inline struct tp__thread *tp__self(const struct tpoll *tp)
{
    struct tp__thread *th = tp__bindings[0];

    if (TP_LIKELY(th != NULL && th->head.tp == tp))
        return th;
    return tp__lookup_rest(tp);
}

/* The first binding, if it is a thread of group g: the common case of a
 * thread changing its own group's fds, as cheap as tp__self's first
 * check (a thread of g is bound to g's instance). NULL says nothing. */
static inline struct tp__thread *tp__self_in(const struct tp__group *g)
{
    struct tp__thread *th = tp__bindings[0];

    return th != NULL && th->grp == g ? th : NULL;
}

/* The calling thread's binding to tp, for the calls that need one: 0,
 * -EPERM (unbound) or -EINVAL (NULL instance). No binding has a NULL
 * instance, so the NULL check waits for a miss. */
static inline int tp__bound_self(const struct tpoll *tp, struct tp__thread **th)
{
    *th = tp__self(tp);
    if (TP_LIKELY(*th != NULL))
        return 0;
    return tp == NULL ? -EINVAL : -EPERM;
}

/* Inside a callback of any instance: some binding of this OS thread is in
 * its dispatch, or a release callback runs on it (bound or not). A call
 * that would wait for another thread's callback must not wait there (two
 * callbacks waiting for each other). */
int tp__in_callback(void);

/* A release callback begins / ends on the calling OS thread. */
void tp__release_enter(void);
void tp__release_leave(void);

/* Take / give back a slot for th (-EMLINK when all are taken). */
int tp__bind(struct tp__thread *th);
void tp__unbind(struct tp__thread *th);

#endif
