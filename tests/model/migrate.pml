/* SPDX-License-Identifier: MIT
 *
 * Migration: tpoll_fd_set_threads against dispatch, and the caller's
 * wait for the threads that leave while inside the fd's callback.
 *
 * Models tpoll_fd_set_threads called outside callbacks (core/fdops.c):
 * under the fd lock, swap thread_mask and read the leavers still running
 * (running_mask & old & ~new); then, if there are any, a record with a
 * waiter instead of a release (core/release.c tp__rel_wait,
 * tp__rel_submit, hand_over), on which the caller sleeps until every
 * leaver it still waits for has passed a quiescent point. hand_over sets
 * the owed hint, fetch-ors OWED into the leaver's wake word and then
 * re-reads its running bit: a leaver already out of the callback is not
 * waited for. Dispatch is core/event.h tp__event_as, with its
 * single-thread guard (an fd whose mask is one thread leaves the event to
 * the next poll while another thread is still in its running mask) and
 * the quiescent point after a callback when the owed hint is set
 * (core/dispatch.c tp__event_left); every wait ends with a quiescent
 * point if OWED is set (core/thread.c, core/wake.h tp__wake_take_owed),
 * and thread_stop passes one (core/lifecycle.c tp__thread_close).
 *
 * From inside a callback set_threads does not wait: it leaves out the
 * calling thread (which knows its own callback runs), and returns 1 if
 * another leaver is still inside. That path waits for nothing, so it has
 * no deadlock to find, and what it leaves to the guard (the fd's
 * callback never on two threads at once) is checked here while M waits.
 *
 * Memory: interleaving. The handshakes are RMW then load on both sides
 * (running bit / mask swap; OWED / running bit), and an RMW orders the
 * load after it (see delete.pml and the litmus tests).
 *
 * Properties (assertions):
 * (a) once set_threads has returned, no thread removed from the mask is
 *     inside the fd's callback, and none starts one;
 * (b) the fd's mask is one thread before and after, so its callback never
 *     runs on two threads at once (the single-thread guard);
 * (c) set_threads returns, and every thread stops: when nothing can move,
 *     both have happened. A thread may, after its last wait, wait for
 *     set_threads to return (as an application whose next step needs a
 *     lock the caller holds), so a caller that waits for a leaver which
 *     has finished its wait is a deadlock, caught here.
 *
 * Size: the fd moves from T0 to T1, set by a third thread M. Each of T0
 * and T1 runs ITERS = 2 waits that may hold an event for the fd (a
 * registration may outlive the move until the thread's next update pass,
 * so an event may come in any wait), then thread_stop. One leaver and one
 * joiner are all (a) and (b) speak of; a second wait lets the leaver be
 * caught inside a callback across the return.
 *
 * Bugs:
 *  -DBUG (=1): set_threads returns without waiting for the leavers.
 *     Counterexample: T0 sets its running bit and reads the old mask; M
 *     swaps the mask and returns while T0 is inside the callback (or has
 *     yet to start it) on a thread the fd no longer belongs to.
 *  -DBUG=2: dispatch without the single-thread guard. Counterexample: T0
 *     is inside the callback with the old mask; T1 sets its running bit,
 *     sees the new mask {T1}, and enters too: the callback of a
 *     one-thread fd runs on two threads while set_threads waits.
 *  -DBUG=3: dispatch reads thread_mask before it sets its running bit.
 *     Counterexample: T0 reads the old mask {T0}; M swaps the mask and
 *     reads no leaver running; T0 sets its bit and enters the callback,
 *     and M returns while T0 is inside. A migration keeps the generation, so nothing else stops
 *     T0 (against a delete the generation check does: delete.pml).
 *  -DBUG=4: hand_over re-reads the running bit before its fetch-or of
 *     OWED instead of after. Counterexample: M reads T0's bit set, T0
 *     leaves the callback (its hint and OWED not yet set) and finishes
 *     its last wait without a quiescent point; M sets OWED and sleeps
 *     until T0 passes one, and T0 waits for set_threads to return.
 */

#define ITERS 2
#define NT 2
#define BIT(t) (1 << (t))
#define OLD BIT(0)      /* T0 leaves */
#define NEW BIT(1)      /* T1 joins */

/* Bits of a thread's wake word (core/wake.h). */
#define W_NOTIFIED 2
#define W_OWED     4

byte thread_mask = OLD;
byte running_mask;
bool fd_lock;

bool in_cb[NT];
byte w[NT];             /* the wake word (SLEEPING plays no part here) */
bool hint[NT];          /* head.owed */
bool dead[NT];
bool inbox_lock[NT];
byte stopped;

bool gy_lock;
bool linked;
byte waiting;
bool woken;             /* the waiter's condition variable was signalled */

bool returned;          /* set_threads has returned */

inline acquire(l) { atomic { !l -> l = 1 } }
inline release_lock(l) { l = 0 }

inline quiesce(t)
{
    acquire(gy_lock);
    if
    :: linked && (waiting & BIT(t)) ->
        waiting = waiting & ~BIT(t);
        if
        :: waiting == 0 -> linked = 0; mine = 1
        :: else
        fi
    :: else
    fi;
    release_lock(gy_lock);
    if
    :: mine -> printf("T%d quiesces last, wakes M\n", t); mine = 0; woken = 1
    :: else
    fi
}

/* tp__pass_quiescent: tp__wake_take_owed, then the quiescent point. */
inline pass_quiescent(t)
{
    if
    :: w[t] & W_OWED ->
        w[t] = w[t] & ~W_OWED;
        quiesce(t)
    :: else
    fi
}

inline dispatch(t)
{
#if BUG == 3
    mask = thread_mask;
    running_mask = running_mask | BIT(t);
#else
    running_mask = running_mask | BIT(t);
    mask = thread_mask;
#endif
    if
    :: !(mask & BIT(t)) ->
        printf("T%d drops the event (mask %d)\n", t, mask);
        running_mask = running_mask & ~BIT(t)
#if BUG != 2
    :: (mask & BIT(t)) && running_mask != BIT(t) && !(mask & (mask - 1)) ->
        printf("T%d leaves the event: another thread is running\n", t);
        running_mask = running_mask & ~BIT(t)
#endif
    :: else ->
        d_step {
            printf("T%d enters the callback (set_threads returned: %d)\n", t, returned);
            assert(!(returned && (BIT(t) & OLD & ~NEW)));        /* (a) */
            assert(!in_cb[1 - t]);                               /* (b) */
            in_cb[t] = 1
        };
        in_cb[t] = 0;
        running_mask = running_mask & ~BIT(t);
        /* tp__event_left: between two callbacks, if a record asked */
        if
        :: hint[t] -> hint[t] = 0; pass_quiescent(t)
        :: else
        fi
    fi;
    mask = 0
}

proctype poller(byte t)
{
    byte i, mask;
    bool mine;

    for (i : 1 .. ITERS) {
        if
        :: dispatch(t)
        :: skip
        fi;
        /* the end of every wait */
        pass_quiescent(t)
    }
    /* The application may wait for set_threads to return. */
    if
    :: skip -> returned; printf("T%d saw set_threads return\n", t)
    :: skip
    fi;
    /* thread_stop: dead first, then OWED cleared and a quiescent point */
    acquire(inbox_lock[t]);
    dead[t] = 1;
    release_lock(inbox_lock[t]);
    w[t] = w[t] & ~W_OWED;
    quiesce(t);
    stopped++
}

/* hand_over: the hint, one fetch-or of OWED | NOTIFIED, then the re-check
 * of the running bit. */
inline hand_over(t)
{
    hint[t] = 1;
#if BUG == 4
    cur = (running_mask & BIT(t)) != 0;
    w[t] = w[t] | W_OWED | W_NOTIFIED;
#else
    w[t] = w[t] | W_OWED | W_NOTIFIED;
    cur = (running_mask & BIT(t)) != 0;
#endif
    if
    :: cur -> printf("M waits for T%d\n", t)
    :: else -> printf("M counts T%d out\n", t); waiting = waiting & ~BIT(t)
    fi
}

proctype migrator()
{
    byte old, r, t;
    bool cur;

    acquire(fd_lock);
    d_step { old = thread_mask; thread_mask = NEW };
    r = running_mask & old & ~NEW;
    /* the update marks for leavers and joiners are not modelled: they
     * only add or remove registrations, and events may come regardless */
    release_lock(fd_lock);
    printf("M swapped the mask: leavers running %d\n", r);
#if BUG != 1
    if
    :: r != 0 ->
        acquire(gy_lock);
        linked = 1;
        waiting = r;
        for (t : 0 .. NT - 1) {
            if
            :: r & BIT(t) ->
                acquire(inbox_lock[t]);
                if
                :: dead[t] -> waiting = waiting & ~BIT(t)
                :: else -> hand_over(t)
                fi;
                release_lock(inbox_lock[t])
            :: else
            fi
        }
        if
        :: waiting == 0 -> linked = 0; woken = 1
        :: else
        fi;
        release_lock(gy_lock);
        woken
    :: else
    fi;
#endif
    d_step {
        printf("M: set_threads returns (T0 in callback: %d)\n", in_cb[0]);
        assert(!in_cb[0]);                                       /* (a) */
        returned = 1
    }
}

active proctype watchdog()
{
    timeout ->
    if
    :: !returned || stopped != NT ->
        printf("STUCK: set_threads returned %d, %d threads stopped, record waits for %d\n",
               returned, stopped, waiting)
    :: else
    fi;
    assert(returned && stopped == NT)                            /* (c) */
}

init
{
    atomic { run poller(0); run poller(1); run migrator() }
}
