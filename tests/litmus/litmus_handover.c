/* SPDX-License-Identifier: MIT */
/*
 * Litmus: a delete or migration handing its record to a thread, against
 * that thread leaving the fd's callback, on a real thread and fd entry.
 *
 * hand_over (core/release.c, static: restated with the same primitives
 * and wake.h's own tp__wake_notify) sets the head.owed hint, fetch-ors
 * TP_W_OWED | TP_W_NOTIFIED into the wake word and then reads the
 * thread's running bit: set, it waits for the thread's quiescent point;
 * clear, it counts the thread out. The thread clears its running bit
 * (tp__event_as, core/event.h: tp_and(&e->running_mask, ~bit)), reads
 * the hint there, and at the end of its wait reads the wake word
 * (tp__wake_take_owed, called here). Waited for, the thread must see
 * TP_W_OWED, or it never passes the quiescent point the record waits
 * for: the forbidden outcome is the bit seen set and OWED not seen. A
 * bit seen clear is fine whatever the thread sees (a spurious quiescent
 * point is harmless). The hint is only a hint (core/head.h): a thread
 * that misses it passes the point at the end of the wait; its misses
 * are shown, not forbidden.
 *
 * The thread's loads of the hint and the wake word are relaxed
 * (tp_load_relaxed): ordered after its read-modify-write on x86,
 * natively and under qemu-user (which runs guest atomics as host locked
 * instructions), where this test passes; not on an ARMv8.0 core without
 * LSE atomics, where the forbidden outcome is allowed (docs/model.md,
 * "What neither can show").
 */
#include "litmus.h"
#include "core.h"
#include "wake.h"

#define MINE ((tpoll_mask_t)1 << 1)

static struct tp__thread th;
static _Alignas(64) struct tp__fd e;

/* The thread is inside the callback, awake, owing nothing. */
static void reset(void)
{
    tp_store(&e.running_mask, MINE);
    tp_store(&th.wword, 0);
    tp_store(&th.head.owed, 0);
}

static unsigned owner(void)
{
    AO_t hint;

    tp_and(&e.running_mask, ~MINE);
    hint = tp_load_relaxed(&th.head.owed);
    return (unsigned)tp__wake_take_owed(&th.wword) | (hint != 0) << 1;
}

static unsigned hander(void)
{
    tp_store_relaxed(&th.head.owed, 1);
    (void)tp__wake_notify(&th.wword, TP_W_OWED);
    return (tp_load(&e.running_mask) & MINE) != 0;
}

static int bad(unsigned owner_saw, unsigned waits)
{
    return waits && !(owner_saw & 1);
}

static const struct lit_case cases[] = {{
    .name = "handover",
    .reset = reset,
    .side = {owner, hander},
    .side_name = {"thread leaving the callback", "hand_over"},
    .value_name = {{"misses OWED and the hint", "sees OWED, misses the hint",
                    "sees the hint, misses OWED", "sees OWED and the hint"},
                   {"bit clear: counts it out", "bit set: waits for it"}},
    .bad = bad,
}};

LIT_MAIN(cases)
