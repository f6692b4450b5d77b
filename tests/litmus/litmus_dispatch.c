/* SPDX-License-Identifier: MIT */
/*
 * Litmus: dispatch against delete and migration, on a real fd entry. The
 * dispatching thread sets its running bit and then reads the thread mask
 * (core/event.h tp__event_as: tp_or(&e->running_mask, bit), then, after
 * the loads of cb, owner and state, tp_load(&e->thread_mask)). A delete
 * clears the mask and then reads running_mask (core/fdops.c
 * delete_locked: tp_swap(&e->thread_mask, 0), then, after the polled
 * bits, tp_load(&e->running_mask)); a migration swaps in the new mask
 * and reads the leavers (tpoll_fd_set_threads: tp_swap(&e->thread_mask,
 * thread_mask), then tp_load(&e->running_mask) & old & ~thread_mask).
 * Both functions are too large to call here: these are their two
 * instructions, with the same primitives. Forbidden: the dispatcher
 * sees the old mask (and enters the callback) while the delete or the
 * migration sees its running bit clear (and does not wait for it).
 */
#include "litmus.h"
#include "fd.h"

#define MINE ((tpoll_mask_t)1 << 1)  /* the dispatching thread */
#define OTHER ((tpoll_mask_t)1 << 2) /* where a migration moves the fd */

static _Alignas(64) struct tp__fd e;

static void reset(void)
{
    tp_store(&e.thread_mask, MINE);
    tp_store(&e.running_mask, 0);
}

static unsigned dispatcher(void)
{
    tp_or(&e.running_mask, MINE);
    return (tp_load(&e.thread_mask) & MINE) != 0;
}

static unsigned deleter(void)
{
    tp_swap(&e.thread_mask, 0);
    return (tp_load(&e.running_mask) & MINE) != 0;
}

static unsigned migrator(void)
{
    tpoll_mask_t old = tp_swap(&e.thread_mask, OTHER);

    return (tp_load(&e.running_mask) & old & ~OTHER) != 0;
}

static int bad(unsigned dispatch, unsigned other)
{
    return dispatch && !other;
}

static const struct lit_case cases[] = {
    {
        .name = "dispatch/delete",
        .reset = reset,
        .side = {dispatcher, deleter},
        .side_name = {"dispatcher", "delete"},
        .value_name = {{"sees the fd gone: drops", "sees the fd: enters"},
                       {"sees no runner: does not wait",
                        "sees the runner: waits"}},
        .bad = bad,
    },
    {
        .name = "dispatch/migrate",
        .reset = reset,
        .side = {dispatcher, migrator},
        .side_name = {"dispatcher", "set_threads"},
        .value_name = {{"sees the fd moved: drops", "sees the fd: enters"},
                       {"sees no leaver: does not wait",
                        "sees the leaver: waits"}},
        .bad = bad,
    },
};

LIT_MAIN(cases)
