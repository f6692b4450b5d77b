/* SPDX-License-Identifier: MIT */
/*
 * Litmus: a scan backend's poll-set rebuild against a delete, on a real
 * thread's words. The delete raises the thread's rebuild flag and then
 * reads its wake word (core/fdops.c raise_rebuild, static there: its two
 * lines restated with the same primitives). The thread publishes
 * SLEEPING (tp__wake_sleep_begin, tpoll_wait) and then reads the flag
 * (tp__scan_dirty, core/backend.c, called here as the poll and select
 * backends call it first thing in their poll). Forbidden: the delete
 * sees the thread awake, so does not count it as holding the fd, while
 * the thread sees no flag and polls its old set, which holds the fd.
 *
 * The thread's load of the flag is relaxed (tp_load_relaxed): ordered after
 * its read-modify-write on x86, natively and under qemu-user (which runs
 * guest atomics as host locked instructions), where this test passes;
 * not on an ARMv8.0 core without LSE atomics, where the forbidden
 * outcome is allowed (docs/model.md, "What neither can show").
 */
#include "litmus.h"
#include "backend.h"
#include "core.h"
#include "wake.h"

static struct tp__thread th;

/* Awake, nothing notified, the poll set up to date. */
static void reset(void)
{
    tp_store(&th.wword, 0);
    tp_store(&th.scan_dirty, 0);
}

static unsigned owner(void)
{
    (void)tp__wake_sleep_begin(&th.wword);
    return (unsigned)tp__scan_dirty(&th);
}

/* raise_rebuild: tp_swap(&th->scan_dirty, 1), then
 * tp_load(&th->wword) & TP_W_SLEEPING. */
static unsigned deleter(void)
{
    tp_swap(&th.scan_dirty, 1);
    return (tp_load(&th.wword) & TP_W_SLEEPING) != 0;
}

static int bad(unsigned rebuilds, unsigned holder)
{
    return !rebuilds && !holder;
}

static const struct lit_case cases[] = {{
    .name = "rebuild",
    .reset = reset,
    .side = {owner, deleter},
    .side_name = {"scan thread", "delete"},
    .value_name = {{"polls its old set", "rebuilds its set"},
                   {"sees it awake: not a holder",
                    "sees it sleeping: a holder"}},
    .bad = bad,
}};

LIT_MAIN(cases)
