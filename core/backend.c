/* SPDX-License-Identifier: MIT */
/* The services the core offers to backends (declared in backend.h). */
#include "backend.h"
#include "core.h"
#include "hooks.h"
#include "pass.h"
#include "queue.h"

int tp__woken(struct tp__thread *th)
{
    if (th->fork_pending)
        return 0;
    tp_count(&th->ctr.wakeups, 1);
    return 1;
}

void tp__count_ctl(struct tp__thread *th, unsigned n)
{
    tp_count(&th->ctr.ctl_calls, n);
}

void tp__oneshot_fired(struct tp__thread *th, int fd)
{
    struct tp__fd *e;

    /* After a fork in this dispatch the association was the parent's: the
     * child's fresh poller registers the fd anew. */
    if (fd < 0 || fd >= th->head.max_fds || th->fork_pending)
        return;
    e = &th->head.fds[fd];
    tp__fd_lock(e);
    tp_and(&e->polled_recv, ~th->bit);
    tp_and(&e->polled_send, ~th->bit);
    tp__fd_unlock(e);
    tp__mark_self(th, fd);
}

void tp__change_failed(struct tp__thread *th, int fd, uint32_t gen,
                       unsigned dirs, int err)
{
    struct tp__fd *e = &th->head.fds[fd];

    (void)err;
    tp__fd_set_polled(e, th->bit, dirs, 0);
    tp__record_error(th, fd, gen);
}

void tp__remove_failed(struct tp__thread *th, int fd, unsigned dirs, int err)
{
    (void)err;
    tp__fd_set_polled(&th->head.fds[fd], th->bit, 0, dirs);
    tp__mark_self(th, fd);
}

/* The swap is a full barrier: a delete that clears a polled bit after the
 * rebuild's scan read it sets the flag again after ours is cleared. The
 * first read is an acquire: it follows the owner's fetch-and-add of SLEEPING
 * in the handshake with a delete (raise_rebuild), and a relaxed load may
 * be satisfied before that read-modify-write's store is visible (arm64
 * without LSE atomics: LDAXR/STLXR, then a plain LDR). */
int tp__scan_dirty(struct tp__thread *th)
{
    if (!(tp_load(&th->scan_dirty) && tp_swap(&th->scan_dirty, 0)))
        return 0;
    TP_HOOK(TP_HOOK_SCAN_REBUILD, th->tid);
    return 1;
}

void tp__scan_polled(struct tp__thread *th, tp__scan_fn fn, void *arg)
{
    int fd, hwm = (int)tp_load(&th->grp->hwm);

    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &th->head.fds[fd];
        unsigned have = tp__polled_for(e, th->bit);

        if (have)
            fn(arg, fd, TP_GEN(tp_load(&e->state)), have);
    }
}
