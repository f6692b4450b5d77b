/* SPDX-License-Identifier: MIT
 *
 * Update queues and their overflow into a table scan.
 *
 * Models the interest change (core/fdops.c change_interest), marking
 * (core/queue.c tp__mark_self for the thread itself, mark_remote for
 * another thread, under its inbox lock), and the update pass
 * (core/queue.c tp__drain_inbox; core/pass.c apply_by_scan,
 * process_queue) of one thread T, as tpoll_wait runs it: only when
 * something is queued.
 *
 * Memory: interleaving. The pass clears its update bit with an RMW and
 * then reads the state; a change writes the state with a CAS and then
 * reads update_mask: RMW then load on both sides (see delete.pml).
 *
 * Property (assertion): once every change has been made, one more pass
 * of T leaves T's polled bit of every fd equal to what T should watch
 * (the fd's interest; T stays in the mask and the fds stay in use). An fd
 * whose entry a full queue dropped keeps its update bit, and the scan
 * that the overflow triggers finds it.
 *
 * Size: queue capacity 1 (local queue and inbox alike) and two fds, so
 * that a second fd overflows; one remote thread C making three interest
 * changes and T making one change of its own between passes (its local
 * queue). Three remote changes let C queue both fds and change one again
 * while T's pass is processing it.
 *
 * Bugs:
 *  -DBUG (=1): the pass reads the state before it clears the fd's update
 *     bit. Counterexample: T reads interest off; C turns it on, finds T's
 *     update bit still set and does not queue the fd; T clears the bit
 *     and keeps the fd unregistered with interest on, and no pass ever
 *     sees the fd again.
 *  -DBUG=2: the drain drops the entries of an overflowed inbox without
 *     setting T's overflow flag. Counterexample: C queues fd 0 (the inbox
 *     is full) and marks fd 1 (inbox_overflow); T's drain keeps neither,
 *     scans nothing, and fd 1's update bit stays set with no queue entry:
 *     later changes of fd 1 see the bit and do not queue it either.
 */

#define NFD 2
#define CAP 1
#define CHANGES 3

/* Per fd; the bits are T's. */
bool interest[NFD];
bool update[NFD];
bool polled[NFD];

/* T's queues. */
byte lentry;            /* the one local entry, valid when nlocal == 1 */
byte nlocal;
bool overflow;
byte inbox;
byte ninbox;
bool inbox_overflow;
bool inbox_lock;

bool changes_done;

inline acquire(l) { atomic { !l -> l = 1 } }
inline release_lock(l) { l = 0 }

/* process(fd): clear the update bit (a full barrier), then decide. */
inline process(f)
{
#if BUG == 1
    want = interest[f];
    update[f] = 0;
#else
    update[f] = 0;
    want = interest[f];
#endif
    if
    :: want != polled[f] ->
        printf("T registers fd %d: %d\n", f, want);
        polled[f] = want
    :: else
    fi
}

inline process_queue()
{
    if
    :: nlocal == 1 -> process(lentry); nlocal = 0; lentry = 0
    :: else
    fi
}

inline drain_inbox()
{
    if
    :: ninbox != 0 ->
        acquire(inbox_lock);
        if
        :: inbox_overflow || nlocal + ninbox > CAP ->
#if BUG != 2
            /* every dropped entry kept its update bit: the scan finds it */
            overflow = 1;
#endif
            inbox_overflow = 0;
            printf("T drops its inbox (overflow)\n")
        :: else ->
            lentry = inbox;
            nlocal = nlocal + ninbox
        fi;
        ninbox = 0;
        inbox = 0;
        release_lock(inbox_lock)
    :: else
    fi
}

/* After an overflow: every fd with T's update bit, a queue load at a
 * time (CAP = 1: one fd per chunk). */
inline apply_by_scan()
{
    overflow = 0;
    nlocal = 0;
    lentry = 0;
    for (f : 0 .. NFD - 1) {
        if
        :: update[f] -> lentry = f; nlocal = 1; process_queue()
        :: else
        fi
    }
    f = 0
}

inline update_pass()
{
    if
    :: nlocal != 0 || overflow || ninbox != 0 ->
        drain_inbox();
        if
        :: overflow -> printf("T scans the table\n"); apply_by_scan()
        :: else -> process_queue()
        fi
    :: else
    fi
}

/* The thread's own mark: it saw its bit clear, then sets it with an
 * atomic or (not a fetch-or) and queues the fd whatever another thread
 * did in between (a remote mark then queued it on the inbox too). */
inline mark_self(f)
{
    if
    :: !update[f] ->
        update[f] = 1;
        if
        :: nlocal < CAP -> lentry = f; nlocal++
        :: else -> overflow = 1
        fi
    :: else
    fi
}

inline mark_remote(f)
{
    if
    :: !update[f] ->
        acquire(inbox_lock);
        atomic {
            if
            :: !update[f] ->
                update[f] = 1;
                if
                :: ninbox < CAP -> inbox = f; ninbox++
                :: else -> inbox_overflow = 1
                fi
                /* notify(T): sleep/wake, proven in wake.pml; T's loop polls
                 * without blocking here */
            :: else
            fi
        };
        release_lock(inbox_lock)
    :: else
    fi
}

/* change_interest: flip the interest (the CAS), then mark T; the
 * mark returns at once if T's update bit is set, since the pass clears
 * the bit before it reads the state and so sees this change. */
proctype changer()
{
    byte k, f;

    for (k : 1 .. CHANGES) {
        if
        :: f = 0
        :: f = 1
        fi;
        interest[f] = !interest[f];
        printf("C sets fd %d interest %d\n", f, interest[f]);
        mark_remote(f)
    }
    changes_done = 1
}

active proctype owner()
{
    byte f, g, want;
    bool own = 1;

    do
    :: update_pass()
    :: own ->
        /* a callback on T changes one of T's fds */
        own = 0;
        if
        :: g = 0
        :: g = 1
        fi;
        interest[g] = !interest[g];
        printf("T sets fd %d interest %d\n", g, interest[g]);
        mark_self(g)
    :: changes_done && !own -> break
    od;
    printf("T: the last pass\n");
    update_pass();
    for (f : 0 .. NFD - 1) {
        assert(polled[f] == interest[f])
    }
}

init
{
    run changer()
}
