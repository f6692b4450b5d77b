/* SPDX-License-Identifier: MIT
 *
 * Sleep and wake, on explicit store buffers.
 *
 * Models tpoll_wait's sleep half (core/thread.c: the update pass's inbox
 * drain, core/queue.c tp__drain_inbox; the sleep check,
 * core/wake.h tp__wake_sleep_begin; the poll; tp__wake_sleep_end; the
 * wake-fd drain of dispatch; the quiescent point at the end of the wait,
 * tp__wake_take_owed) against notifiers: core/queue.c mark_remote
 * publishing an inbox entry and then tp__notify_locked (one fetch-or of
 * NOTIFIED, tp__wake_notify, whose old value decides the signal,
 * tp__wake_must_signal), and core/release.c hand_over, whose one fetch-or
 * carries OWED with NOTIFIED.
 *
 * Memory: x86-TSO. Each process owns a FIFO store buffer; a plain store
 * enters it, a load reads the newest own buffered value for its location
 * or else memory, read-modify-writes and fences drain the buffer first,
 * and a flusher process moves the oldest entry of any buffer to memory at
 * any moment. -DPSO weakens this: any buffered store may drain that has
 * no older one to its location, except a release store (tp_store), which
 * waits for all older ones; loads stay in order, as acquire loads do.
 * -DSC writes memory directly (no buffers), to show which failures need
 * the buffers: the bug variant verifies clean under SC.
 *
 * Properties:
 * (a) no lost wakeup: when no process can move (Spin's timeout: the
 *     notifiers have finished and every buffer has drained), the owner
 *     is blocked in an untimed poll with every inbox entry and owed
 *     record handled. An owner blocked with work pending and an
 *     unsignalled wake fd is the lost wakeup; no process is left to
 *     signal it, so this safety check is the liveness property.
 * (b) one signal per sleep: between two sleep checks, at most one
 *     notifier decides to signal (its fetch_or returned SLEEPING without
 *     NOTIFIED). The decision is counted, not the eventfd write: a
 *     notifier may decide during one sleep and write during the next,
 *     which costs one spurious wakeup and is no defect of the protocol.
 *
 * Size: one owner and two notifiers of two items each; notifier 2's
 * second item is an owed record. The bug needs a second notification
 * that finds "notified" still set from an earlier one (one notifier with
 * two items already shows it); the second notifier exercises the inbox
 * lock handover and a record published by another thread than an entry.
 *
 * Bug (-DBUG): the two-word protocol the wake word replaced: separate
 * words "sleeping" (owner) and "notified" (notifiers), relaxed stores
 * and a fence on each side, and a notifier that returns, without a
 * fence, when it finds "notified" set. Counterexample: the owner, just
 * woken, clears notified (still in its store buffer); a notifier stores
 * ninbox (into its buffer), reads the stale notified == 1 and returns;
 * the owner, about to sleep, fences, reads notified == 0 and ninbox == 0,
 * and blocks for ever with an entry in its inbox. The litmus test
 * litmus.wake measures how often this happens on real hardware.
 */

#define NP 3            /* 0: owner, 1 and 2: notifiers */
#define SB 3            /* store buffer depth: the owner's longest run of
                         * stores without a fence before a sleep (in the
                         * old protocol: its wake-up's two, then its sleep
                         * check's one) */
#define NOTES 2         /* notifications per notifier */

/* Memory locations. */
#define W        0      /* fixed: the owner's wake word */
#define SLEEPING 0      /* bug: the owner's sleeping word */
#define NOTIFIED 1      /* bug: the notifiers' word */
#define NINBOX   2
#define LOCK     3      /* the owner's inbox lock */
#define NLOC     4

/* Bits of W. */
#define W_SLEEPING 1
#define W_NOTIFIED 2
#define W_OWED     4

byte mem[NLOC];
byte sb_loc[NP * SB];
byte sb_val[NP * SB];
bool sb_rel[NP * SB];
byte sb_n[NP];

bool wakefd;            /* the owner's wake eventfd: signalled or not */
byte sigs;              /* signals since the owner's last sleep check */
byte published;         /* inbox entries published (ghost) */
byte consumed;          /* inbox entries the owner has drained (ghost) */
byte records;           /* owed records linked (ghost) */
byte quiesced;          /* owed records the owner has handled (ghost) */
bool owner_blocked;

/* Flush entry k of process p's buffer to memory. */
inline flush_at(p, k)
{
    mem[sb_loc[p * SB + k]] = sb_val[p * SB + k];
    fi_j = k;
    do
    :: fi_j + 1 < sb_n[p] ->
        sb_loc[p * SB + fi_j] = sb_loc[p * SB + fi_j + 1];
        sb_val[p * SB + fi_j] = sb_val[p * SB + fi_j + 1];
        sb_rel[p * SB + fi_j] = sb_rel[p * SB + fi_j + 1];
        fi_j++
    :: else -> break
    od;
    sb_n[p]--;
    sb_loc[p * SB + sb_n[p]] = 0;
    sb_val[p * SB + sb_n[p]] = 0;
    sb_rel[p * SB + sb_n[p]] = 0;
    fi_j = 0
}

inline drain(p)
{
    do
    :: sb_n[p] > 0 -> flush_at(p, 0)
    :: else -> break
    od
}

/* A plain load: the newest own buffered store to l, else memory. */
inline load(p, l, v)
{
    d_step {
        v = mem[l];
        fi_i = 0;
        do
        :: fi_i < sb_n[p] ->
            if
            :: sb_loc[p * SB + fi_i] == l -> v = sb_val[p * SB + fi_i]
            :: else
            fi;
            fi_i++
        :: else -> break
        od;
        fi_i = 0
    }
}

/* A store; rel says release (may not pass older stores under PSO). A
 * full buffer drains its oldest entry first. SB covers every run of
 * stores between two fences on a path that sleeps; only repeated
 * zero-timeout waits of the old protocol can fill it, and the fixed
 * protocol's state space is the same with SB = 4. */
inline store(p, l, v, rel)
{
#ifdef SC
    mem[l] = v
#else
    d_step {
        if
        :: sb_n[p] == SB -> flush_at(p, 0)
        :: else
        fi;
        sb_loc[p * SB + sb_n[p]] = l;
        sb_val[p * SB + sb_n[p]] = v;
        sb_rel[p * SB + sb_n[p]] = rel;
        sb_n[p]++
    }
#endif
}

inline fence(p)
{
    d_step { drain(p) }
}

/* Read-modify-writes are full barriers: drain, then act on memory. */
inline fetch_or(p, l, bits, old)
{
    d_step { drain(p); old = mem[l]; mem[l] = mem[l] | bits }
}

inline fetch_and(p, l, bits, old)
{
    d_step { drain(p); old = mem[l]; mem[l] = mem[l] & bits }
}

inline lock(p)
{
    d_step { drain(p) };
    atomic { mem[LOCK] == 0 -> mem[LOCK] = 1 }
}

inline unlock(p)
{
    store(p, LOCK, 0, 1)
}

/* Any buffered store may reach memory at any time: oldest first under
 * TSO; under PSO any one with no older store to its location and, if it
 * is a release store, no older store at all. */
#define AT(p, k) ((p) * SB + (k))
#ifdef PSO
#define MAY_FLUSH(p, k) ((k) < sb_n[p] && ((k) == 0 || \
    (!sb_rel[AT(p, k)] && sb_loc[AT(p, 0)] != sb_loc[AT(p, k)] && \
     ((k) < 2 || sb_loc[AT(p, 1)] != sb_loc[AT(p, k)]))))
#else
#define MAY_FLUSH(p, k) ((k) == 0 && sb_n[p] > 0)
#endif

active proctype flusher()
{
    byte fi_j;
end:
    do
    :: d_step { MAY_FLUSH(0, 0) -> flush_at(0, 0) }
    :: d_step { MAY_FLUSH(1, 0) -> flush_at(1, 0) }
    :: d_step { MAY_FLUSH(2, 0) -> flush_at(2, 0) }
#ifdef PSO
    :: d_step { MAY_FLUSH(0, 1) -> flush_at(0, 1) }
    :: d_step { MAY_FLUSH(1, 1) -> flush_at(1, 1) }
    :: d_step { MAY_FLUSH(2, 1) -> flush_at(2, 1) }
    :: d_step { MAY_FLUSH(0, 2) -> flush_at(0, 2) }
    :: d_step { MAY_FLUSH(1, 2) -> flush_at(1, 2) }
    :: d_step { MAY_FLUSH(2, 2) -> flush_at(2, 2) }
#endif
    od
}

/* Nothing can move: the notifiers have finished, every buffer has
 * drained, and the owner waits in an untimed poll for a signal that no
 * one will send. That is only allowed with no work pending (property a). */
#define PENDING (consumed != published || quiesced != records)

active proctype watchdog()
{
    timeout ->
    if
    :: PENDING -> printf("LOST WAKEUP: owner blocked with %d of %d inbox entries and %d of %d owed records handled, wake fd %d\n",
                         consumed, published, quiesced, records, wakefd)
    :: else
    fi;
    assert(owner_blocked && !PENDING)
}

/* The update pass's inbox drain (core/queue.c tp__drain_inbox): a
 * load first, the lock only when there is something to take. */
inline drain_inbox()
{
    load(0, NINBOX, v);
    if
    :: v != 0 ->
        lock(0);
        load(0, NINBOX, v);
        d_step { consumed = consumed + v };
        printf("owner: drains %d inbox entries\n", v);
        store(0, NINBOX, 0, 1);
        unlock(0)
    :: else -> printf("owner: reads ninbox 0\n")
    fi
}

/* tpoll_wait's timeout: 0 never sleeps; a finite one sleeps but may
 * return on its own; an infinite one returns only on a signal. */
inline choose_timeout()
{
    if
    :: slept = 0
    :: slept = 1; timed = 1
    :: slept = 1; timed = 0
    fi
}

/* The kernel poll: reports the wake fd if it is signalled by the time it
 * returns. */
inline poll()
{
    if
    :: slept && !timed ->
        printf("owner: blocks in poll, no timeout\n");
        owner_blocked = 1;
end_poll:
        wakefd;
        owner_blocked = 0
    :: else
    fi;
    reported = wakefd;
    printf("owner: poll returns, wake fd reported: %d\n", reported)
}

/* Dispatch reads the eventfd it saw reported, and with it whatever was
 * signalled since (an eventfd read takes the whole count). */
inline dispatch_wakefd()
{
    if
    :: reported -> wakefd = 0
    :: else
    fi
}

#ifndef BUG

/* Notifier n: publish work (an inbox entry under the inbox lock, or an
 * owed record), then notify with one fetch_or, which carries OWED for a
 * record. The second notifier's second item is an owed record, linked
 * before hand_over runs, as tp__rel_submit does. */
proctype notifier(byte n)
{
    byte fi_i, fi_j, v, old, k, bits;

    for (k : 1 .. NOTES) {
        lock(n);
        if
        :: n == 2 && k == NOTES ->
            d_step { records++ };
            bits = W_OWED;
            printf("notifier %d: owed record linked\n", n)
        :: else ->
            load(n, NINBOX, v);
            store(n, NINBOX, v + 1, 1);
            d_step { published++ };
            printf("notifier %d: stores ninbox %d (buffered)\n", n, v + 1)
        fi;
        /* (b) counts the decision, taken in the fetch_or: the signal's
         * write may land in a later sleep (see the header) */
        d_step {
            drain(n);
            old = mem[W];
            mem[W] = old | bits | W_NOTIFIED;
            if
            :: (old & (W_SLEEPING | W_NOTIFIED)) == W_SLEEPING -> sigs++
            :: else
            fi
        };
        printf("notifier %d: fetch_or NOTIFIED (and %d), w was %d\n", n, bits, old);
        assert(sigs <= 1);
        if
        :: (old & (W_SLEEPING | W_NOTIFIED)) == W_SLEEPING ->
            printf("notifier %d: signals\n", n);
            wakefd = 1
        :: else
        fi;
        bits = 0;
        unlock(n)
    }
}

active proctype owner()
{
    byte fi_i, fi_j, v, old;
    bool slept, timed, reported;

    do
    :: true ->
        drain_inbox();
        choose_timeout();
        if
        :: slept ->
            /* tp__wake_sleep_begin: a fetch-and-add, which is the
             * fetch-or it stands for only while SLEEPING is clear;
             * (b) counts the signals from here */
            d_step { drain(0); old = mem[W]; mem[W] = old + W_SLEEPING; sigs = 0 };
            assert(!(old & W_SLEEPING));
            printf("owner: fetch_add SLEEPING, w was %d\n", old);
            if
            :: old & (W_NOTIFIED | W_OWED) -> timed = 1
            :: else
            fi
        :: else
        fi;
        poll();
        /* tp__wake_sleep_end: NOTIFIED belongs to this sleep; OWED
         * survives until the quiescent point */
        if
        :: slept -> fetch_and(0, W, ~(W_SLEEPING | W_NOTIFIED), old)
        :: else
        fi;
        dispatch_wakefd();
        /* tp__wake_take_owed at the end of the wait */
        load(0, W, v);
        if
        :: v & W_OWED ->
            fetch_and(0, W, ~W_OWED, old);
            d_step { quiesced = records };
            printf("owner: passes its quiescent point\n")
        :: else
        fi;
        timed = 0; slept = 0; reported = 0; v = 0; old = 0
    od
}

#else /* BUG: the old two-word protocol */

proctype notifier(byte n)
{
    byte fi_i, fi_j, v, k;

    for (k : 1 .. NOTES) {
        lock(n);
        load(n, NINBOX, v);
        store(n, NINBOX, v + 1, 1);
        d_step { published++ };
        printf("notifier %d: stores ninbox %d (buffered)\n", n, v + 1);
        /* the old notify: return at once when notified is set */
        load(n, NOTIFIED, v);
        if
        :: v ->
            printf("notifier %d: notified is 1, returns without a fence\n", n)
        :: else ->
            store(n, NOTIFIED, 1, 0);
            fence(n);
            load(n, SLEEPING, v);
            printf("notifier %d: notified := 1, fence, sleeping is %d\n", n, v);
            if
            :: v -> printf("notifier %d: signals\n", n); wakefd = 1
            :: else
            fi
        fi;
        unlock(n)
    }
}

active proctype owner()
{
    byte fi_i, fi_j, v, n2;
    bool slept, timed, reported;

    do
    :: true ->
        drain_inbox();
        choose_timeout();
        /* the sleep check: sleeping := 1, fence, read both words */
        if
        :: slept ->
            sigs = 0;
            store(0, SLEEPING, 1, 0);
            fence(0);
            load(0, NOTIFIED, v);
            load(0, NINBOX, n2);
            printf("owner: sleeping := 1, fence, reads notified %d ninbox %d\n", v, n2);
            if
            :: v || n2 -> timed = 1
            :: else
            fi
        :: else
        fi;
        poll();
        /* the wake-up, after every poll */
        store(0, SLEEPING, 0, 0);
        load(0, NOTIFIED, v);
        if
        :: v -> store(0, NOTIFIED, 0, 1);
            printf("owner: wake-up clears notified (buffered)\n")
        :: else
        fi;
        dispatch_wakefd();
        timed = 0; slept = 0; reported = 0; v = 0; n2 = 0
    od
}

#endif

init
{
    atomic { run notifier(1); run notifier(2) }
}
