/* SPDX-License-Identifier: MIT */
/* The thread API: binding an OS thread to a thread id, the wait loop
 * iteration, waking a thread. */
#include <errno.h>

#include "binding.h"
#include "hooks.h"
#include "lifecycle.h"
#include "pass.h"
#include "queue.h"
#include "release.h"
#include "svc.h"
#include "wake.h"

int tpoll_thread_start(struct tpoll *tp, int tid)
{
    struct tp__thread *th;
    int err;

    if (tp == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    if (tp__self(tp) != NULL)
        return -EBUSY;
    th = &tp->threads[tid];
    if (tp_cas(&th->life, TP_LIFE_FREE, TP_LIFE_OPENING) != TP_LIFE_FREE)
        return -EBUSY;
    err = tp__bind(th);
    if (err)
        goto fail_slot;
    TP_HOOK(TP_HOOK_START_CLAIMED, tid);
    err = tp__thread_open(th);
    if (err)
        goto fail_open;
    tp_store(&th->life, TP_LIFE_LIVE);
    return 0;

fail_open:
    tp__unbind(th);
fail_slot:
    tp_store(&th->life, TP_LIFE_FREE);
    return err;
}

int tpoll_thread_stop(struct tpoll *tp)
{
    struct tp__thread *th;
    int err = tp__bound_self(tp, &th);

    if (err)
        return err;
    /* The poller and its event buffer are in use below us. */
    if (th->in_dispatch)
        return -EBUSY;
    tp_store(&th->life, TP_LIFE_CLOSING);
    tp__thread_close(th);
    TP_HOOK(TP_HOOK_STOP_TORN_DOWN, th->tid);
    tp__unbind(th);
    tp_store(&th->life, TP_LIFE_FREE);
    return 0;
}

int tpoll_thread_id(const struct tpoll *tp)
{
    struct tp__thread *th;
    int err = tp__bound_self(tp, &th);

    return err ? err : th->tid;
}

int tpoll_wake(struct tpoll *tp, int tid)
{
    if (tp == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    tp__gate_notify(&tp->threads[tid], 0);
    return 0;
}

int tpoll_wait(struct tpoll *tp, int timeout_ms)
{
    struct tp__thread *th;
    int n = tp__bound_self(tp, &th), slept;

    if (TP_UNLIKELY(n))
        return n;
    if (th->in_dispatch) /* a nested wait would reuse the event buffer */
        return -EBUSY;
    tp_count(&th->ctr.loops, 1);
    /* Most iterations have nothing queued: skip the pass's call frame. */
    if ((th->nlocal | th->overflow) || tp_load(&th->ninbox))
        tp__apply_updates(th);
    timeout_ms = tp__svc_timeout(th, timeout_ms);
    slept = timeout_ms != 0;
    /* A notification (queued work, a wake, a quiescent point asked for)
     * or an error to report that is not held back: poll without
     * blocking. */
    if (slept) {
        if (!tp__wake_sleep_begin(&th->wword) || th->nlate > th->late_held)
            timeout_ms = 0;
        else
            TP_HOOK(TP_HOOK_BEFORE_POLL, th->tid);
    }
    n = tp->be->poll(th, timeout_ms);
    if (slept)
        tp__wake_sleep_end(&th->wword);
    TP_HOOK(TP_HOOK_POLLED, th->tid);
    if (timeout_ms != 0) /* a poll that could block, as the counter says */
        tp_count(&th->ctr.polls, 1);
    th->head.dispatched = 0;
    th->in_dispatch = 1;
    if (TP_UNLIKELY(th->nlate))
        tp__dispatch_late(th);
    if (n > 0) {
        tp->be->dispatch(th, n);
        if (th->head.dispatched == 0)
            tp_count(&th->ctr.idle_wakeups, 1);
    }
    tp__svc_run(th);
    /* A quiescent point: out of the poll and of every callback. Release
     * callbacks due run here, as callbacks (still in the dispatch). */
    if (TP_UNLIKELY(tp__wake_take_owed(&th->wword)))
        tp__quiesce(th);
    th->in_dispatch = 0;
    tp_count(&th->ctr.callbacks, (AO_t)th->head.dispatched);
    if (TP_UNLIKELY(th->fork_pending)) {
        int err = tp__thread_finish_fork(th);

        if (err)
            return err;
    }
    if (n < 0 && th->head.dispatched == 0)
        return n;
    return th->head.dispatched;
}
