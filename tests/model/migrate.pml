/* SPDX-License-Identifier: MIT
 *
 * Migration: tpoll_fd_set_threads against dispatch (P2's migrator half
 * and P3's waiter record).
 *
 * Models tpoll_fd_set_threads called outside callbacks (core/fdops.c):
 * under the fd lock, swap thread_mask and read the leavers still running
 * (R = running_mask & old & ~new); then a graveyard record with a waiter
 * instead of a release, on which the caller sleeps until every leaver in
 * R has quiesced. Dispatch is core/event.h tp__event_as, including its
 * single-thread guard (an fd whose mask is one thread leaves the event to
 * the next poll while another thread is still in its running mask).
 *
 * Memory: interleaving. The handshake is RMW (running bit / mask swap)
 * then load on both sides, and RMWs are full barriers (see delete.pml).
 *
 * Properties (assertions):
 * (a) once set_threads has returned, no thread removed from the mask is
 *     inside the fd's callback, and none starts one;
 * (b) the fd's mask is one thread before and after, so its callback never
 *     runs on two threads at once (the single-thread guard);
 * (c) set_threads returns: when nothing can move, it has (a leaver that
 *     never quiesces would leave the caller asleep for ever).
 *
 * Size: the fd moves from T0 to T1, set by a third thread M. Each of T0
 * and T1 runs ITERS = 2 waits with an event for the fd in each (a
 * registration may outlive the move until the thread's next update pass,
 * so an event may come in any wait), then thread_stop. One leaver and one
 * joiner are all (a) and (b) speak of; a second wait lets the leaver be
 * caught inside a callback across the return.
 *
 * Bugs:
 *  -DBUG (=1): set_threads returns without waiting for the leavers in R
 *     (the old tpoll_fd_set_threads). Counterexample: T0 sets its running
 *     bit and reads the old mask; M swaps the mask and returns while T0
 *     is inside the callback (or has yet to start it) on a thread the fd
 *     no longer belongs to.
 *  -DBUG=2: dispatch without the single-thread guard, which is P2 as the
 *     spec writes it. Counterexample: T0 is inside the callback with the
 *     old mask; T1 sets its running bit, sees the new mask {T1}, and
 *     enters too: the callback of a one-thread fd runs on two threads
 *     while set_threads waits. The guard has to stay in core v2.
 */

#define ITERS 2
#define NT 2
#define BIT(t) (1 << (t))
#define OLD BIT(0)      /* T0 leaves */
#define NEW BIT(1)      /* T1 joins */

byte thread_mask = OLD;
byte running_mask;
bool fd_lock;

bool in_cb[NT];
bool owed[NT];
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

inline dispatch(t)
{
    running_mask = running_mask | BIT(t);
    mask = thread_mask;
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
        running_mask = running_mask & ~BIT(t)
    fi;
    mask = 0
}

proctype poller(byte t)
{
    byte i, mask;
    bool mine;

    for (i : 1 .. ITERS) {
        quiesce(t);
        if
        :: dispatch(t)
        :: skip
        fi;
        if
        :: owed[t] -> owed[t] = 0; quiesce(t)
        :: else
        fi
    }
    acquire(inbox_lock[t]);
    dead[t] = 1;
    release_lock(inbox_lock[t]);
    quiesce(t);
    stopped++
}

proctype migrator()
{
    byte old, r, t;

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
                :: else -> owed[t] = 1
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
    timeout -> assert(returned && stopped == NT)                 /* (c) */
}

init
{
    atomic { run poller(0); run poller(1); run migrator() }
}
