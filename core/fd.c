/* SPDX-License-Identifier: MIT */
/* The fd entry's lock. */
#include <sched.h>

#include "fd.h"

void tp__spin_pause(unsigned *spins)
{
    if (++*spins > 64)
        sched_yield();
}

/* The lock only serialises table writers against each other and against
 * an update pass registering the fd; interest changes do not take it. */
int tp__fd_trylock(struct tp__fd *e, AO_t *st)
{
    *st = tp_load_relaxed(&e->state);
    return !(*st & TP_ST_LOCK) &&
           tp_cas(&e->state, *st, *st | TP_ST_LOCK) == *st;
}

AO_t tp__fd_lock(struct tp__fd *e)
{
    unsigned spins = 0;
    AO_t st;

    while (!tp__fd_trylock(e, &st))
        tp__spin_pause(&spins);
    return st;
}

/* Interest changes go on while the lock is held: unlocking must keep them. */
void tp__fd_unlock(struct tp__fd *e)
{
    tp_and(&e->state, ~(AO_t)TP_ST_LOCK);
}
