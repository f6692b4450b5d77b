/* SPDX-License-Identifier: MIT */
/*
 * Litmus: the sleep/wake handshake (core/wake.h), with its own inline
 * functions on a real thread's words. The owner about to block does
 * tp__wake_sleep_begin; a notifier publishes an inbox entry as
 * mark_remote does (core/queue.c) and then tp__wake_notify, deciding with
 * tp__wake_must_signal. Both read-modify-write the one wake word, so
 * they are totally ordered: an owner that blocks is signalled, and one
 * that does not block sees the work.
 *
 * Also measured, never a failure: the two-word protocol the wake word
 * replaced, whose notifier returned without a fence when it found
 * "notified" still set, and so could lose a wake-up (tests/model/wake.pml
 * bug variant). It runs on words of its own, laid out as they were.
 */
#include "litmus.h"
#include "core.h"
#include "wake.h"

static struct tp__thread th;

/* After tp__wake_sleep_end: awake, nothing notified, nothing owed, and
 * the inbox empty. */
static void wake_reset(void)
{
    tp_store(&th.wword, 0);
    tp_store(&th.ninbox, 0);
}

/* tpoll_wait (core/thread.c): the sleep check, then (here, to see what
 * the notifier published) the inbox count the next wait reads. */
static unsigned wake_owner(void)
{
    unsigned blocks = tp__wake_sleep_begin(&th.wword);

    return blocks | (tp_load(&th.ninbox) != 0) << 1;
}

/* mark_remote (core/queue.c), the inbox lock left out (the owner does
 * not take it): publish the entry count, then tp__notify_locked's two
 * calls. */
static unsigned wake_notifier(void)
{
    tp_store(&th.ninbox, tp_load_relaxed(&th.ninbox) + 1);
    return (unsigned)tp__wake_must_signal(tp__wake_notify(&th.wword, 0));
}

/* Lost: the owner blocks and nobody signals it. Blind: it does not block
 * (it saw NOTIFIED) but does not see the work published before. */
static int wake_bad(unsigned owner, unsigned notifier)
{
    return (owner & 1) ? !notifier : !(owner & 2);
}

/* The old protocol: "sleeping" written by the owner, "notified" by the
 * notifiers and cleared by the owner, each with a relaxed store and a
 * fence, on the thread's shared line as they were. */
static struct {
    _Alignas(64) tp_atomic_t sleeping;
    tp_atomic_t notified;
    tp_atomic_t ninbox;
} old;

/* A notification of the previous round left "notified" set, and the
 * owner has just woken from that sleep. */
static void old_reset(void)
{
    tp_store_relaxed(&old.sleeping, 0);
    tp_store_relaxed(&old.notified, 1);
    tp_store_relaxed(&old.ninbox, 0);
}

/* woke_up clearing notified, then sleep_timeout: sleeping := 1, fence,
 * read notified and ninbox; block if both are 0. */
static unsigned old_owner(void)
{
    AO_t notified, n;

    tp_store_relaxed(&old.notified, 0);
    tp_store_relaxed(&old.sleeping, 1);
    tp_fence();
    notified = tp_load_relaxed(&old.notified);
    n = tp_load_relaxed(&old.ninbox);
    return (!notified && !n) | (n != 0) << 1;
}

/* The inbox count (a plain store), then tp__notify_locked's early return
 * when notified is already set, without a fence; otherwise notified := 1,
 * fence, and signal if the owner sleeps. */
static unsigned old_notifier(void)
{
    tp_store_relaxed(&old.ninbox, 1);
    if (tp_load_relaxed(&old.notified))
        return 0;
    tp_store_relaxed(&old.notified, 1);
    tp_fence();
    return tp_load_relaxed(&old.sleeping) ? 2 : 1;
}

static int old_bad(unsigned owner, unsigned notifier)
{
    return (owner & 1) && notifier != 2;
}

static const struct lit_case cases[] = {
    {
        .name = "wake",
        .reset = wake_reset,
        .side = {wake_owner, wake_notifier},
        .side_name = {"owner", "notifier"},
        .value_name = {{"does not block, sees no work", "blocks, sees no work",
                        "does not block, sees the work",
                        "blocks, sees the work"},
                       {"does not signal", "signals"}},
        .bad = wake_bad,
    },
    {
        .name = "wake.old-protocol (measured only)",
        .reset = old_reset,
        .side = {old_owner, old_notifier},
        .side_name = {"owner", "notifier"},
        .value_name = {{"does not block", "blocks, sees no work",
                        "does not block, sees the work",
                        "blocks, sees the work"},
                       {"returns: notified was set",
                        "notifies, owner awake: no signal",
                        "notifies and signals"}},
        .bad = old_bad,
        .measure_only = 1,
    },
};

LIT_MAIN(cases)
