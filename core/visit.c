/* SPDX-License-Identifier: MIT */
/* tpoll_fd_visit: the inserted fds of some threads, with their owners. */
#include <errno.h>

#include "core.h"

/* The owner is read between two reads of the state: an fd deleted or
 * inserted again meanwhile (its generation moved) is skipped. */
int tpoll_fd_visit_group(struct tpoll *tp, int group, tpoll_mask_t mask,
                         tpoll_visit_fn fn, void *arg)
{
    struct tp__group *g;
    int fd, hwm, r;

    if (tp == NULL || fn == NULL || group < 0 || group >= tp->ngroups)
        return -EINVAL;
    g = &tp->group[group];
    hwm = (int)tp_load(&g->hwm);
    for (fd = 0; fd < hwm; fd++) {
        struct tp__fd *e = &g->fds[fd];
        AO_t st = tp_load(&e->state), owner, m;

        if (!(st & TP_ST_INUSE))
            continue;
        m = tp_load(&e->thread_mask);
        owner = tp_load(&e->owner);
        if (TP_GEN(tp_load(&e->state)) != TP_GEN(st) || !(m & mask))
            continue;
        r = fn(tp, fd, (void *)owner, arg);
        if (r)
            return r;
    }
    return 0;
}

int tpoll_fd_visit(struct tpoll *tp, tpoll_mask_t mask, tpoll_visit_fn fn,
                   void *arg)
{
    return tpoll_fd_visit_group(tp, 0, mask, fn, arg);
}
