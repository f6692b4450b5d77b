/* SPDX-License-Identifier: MIT
 *
 * P2 and P3: dispatch against delete, and the two-phase delete with a
 * release callback (the graveyard).
 *
 * Models tpoll_fd_delete_async (core/fdops.c tpoll_fd_delete in the old
 * code) with its release record, the per-event path of dispatch
 * (core/event.h tp__event_as), quiesce at its three points (start of the
 * update pass, end of a wait that found OWED, thread_stop), and for scan
 * backends (backends/poll.c, select.c) the poll-set rebuild
 * (core/update.c tp__scan_dirty, tp__scan_polled).
 *
 * Memory: interleaving (sequential consistency). Every handshake here is
 * read-modify-write then load on both sides (running bit / thread mask,
 * scan_dirty / polled bits, graveyard and inbox locks), and every RMW is
 * a full barrier, so no store-buffer reordering survives; wake.pml shows
 * what a missing barrier does.
 *
 * Properties (assertions):
 * (a) release runs exactly once: never twice, and once every thread has
 *     stopped (Spin's timeout: nothing can move) it has run;
 * (b) when release runs no thread is inside the fd's callback, and no
 *     callback of that incarnation starts after it;
 * (c) scan backends: when release runs no thread is in a poll() whose
 *     set holds the fd, and no poll() after it has the fd in its set;
 * (d) delete never waits for another thread: the deleter takes only
 *     locks held for a few statements, and release runs on whichever
 *     thread clears the last waiting bit (checked by construction).
 *
 * Size: two polling threads T0 and T1 with the fd registered on both,
 * plus a deleting thread D; each polling thread runs ITERS waits and then
 * thread_stop. Two pollers are the least that make "who clears the last
 * bit" a race, and ITERS = 2 lets a thread quiesce in one wait and poll
 * again in the next (what bug 2 needs). One fd, one delete: the
 * properties are per incarnation, and a second delete of a reused number
 * meets a new generation, which (b) already covers through the check.
 *
 * Options: -DSCAN: a scan backend (poll, select); without it a
 * registration backend (epoll, kqueue, ports), where delete unregisters
 * the fd from every polling thread's poller itself.
 *
 * Bugs:
 *  -DBUG (=1): release as soon as delete returns, ignoring R (the old
 *     tpoll_fd_delete returned and let the caller free the owner).
 *     Counterexample: T0 sets its running bit, finds the fd live and
 *     enters the callback; D deletes and releases while T0 is inside.
 *  -DBUG=2 (implies SCAN): delete flags the holders' scan_dirty before it
 *     clears the polled bits (the old tpoll_fd_delete). Counterexample: a
 *     holder's rebuild consumes the flag and still reads its polled bit,
 *     keeps the fd in its set, quiesces, and polls the released (closed)
 *     fd in every later wait.
 *  -DBUG=3: delete reads running_mask before it clears thread_mask.
 *     Counterexample: D reads R = 0, T0 sets its running bit and still
 *     sees itself in the mask, D clears the mask and releases while T0
 *     runs the callback.
 *  -DBUG=4: dispatch reads thread_mask before it sets its running bit.
 *     Counterexample: T0 reads the old mask, D clears it and reads
 *     R = 0, T0 sets its bit and enters the callback after release.
 */

#if BUG == 2
#define SCAN
#endif

#define ITERS 2
#define NT 2            /* polling threads T0, T1 */
#define ALL 3           /* both of their bits */
#define BIT(t) (1 << (t))

/* The fd entry. */
byte gen = 1;           /* generation; the events carry the one they were
                         * registered with */
bool inuse = 1;
byte thread_mask = ALL;
byte running_mask;
byte polled = ALL;      /* polled_recv | polled_send: both registered */
bool fd_lock;

/* Per thread. */
bool reg[NT] = 1;       /* registration backends: the fd is in T's poller */
bool dirty[NT];         /* scan backends: scan_dirty */
bool set_has[NT] = 1;   /* scan backends: T's poll set holds the fd */
bool in_poll[NT];       /* T is inside poll() */
bool in_cb[NT];         /* T is inside the fd's callback */
bool owed[NT];          /* the OWED bit of T's wake word */
bool dead[NT];          /* T's inbox is dead (thread_stop) */
bool inbox_lock[NT];
byte stopped;

/* The graveyard: one record, for the one delete. */
bool gy_lock;
bool linked;
byte waiting;

byte released;

inline acquire(l) { atomic { !l -> l = 1 } }
inline release_lock(l) { l = 0 }

inline release_fd()
{
    d_step {
        printf("release runs (in callback: T0 %d T1 %d; in poll with fd: T0 %d T1 %d)\n",
               in_cb[0], in_cb[1], in_poll[0] && set_has[0], in_poll[1] && set_has[1]);
        assert(!in_cb[0] && !in_cb[1]);                                  /* (b) */
        assert(!(in_poll[0] && set_has[0]) && !(in_poll[1] && set_has[1])); /* (c) */
        released++;
    }
    assert(released == 1)                                               /* (a) */
}

/* T is outside poll and dispatch: its waiting bit may go. */
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
    :: mine -> printf("T%d quiesces last\n", t); mine = 0; release_fd()
    :: else
    fi
}

/* core/event.h tp__event_as for an event registered with generation eg. */
inline dispatch(t, eg)
{
#if BUG == 4
    mask = thread_mask;
    running_mask = running_mask | BIT(t);
#else
    running_mask = running_mask | BIT(t);
    mask = thread_mask;
#endif
    st = gen;
    if
    :: st != eg || !(mask & BIT(t)) ->
        printf("T%d drops the event (gen %d, event gen %d, mask %d)\n", t, st, eg, mask);
        running_mask = running_mask & ~BIT(t)
    :: else ->
        d_step {
            printf("T%d enters the callback\n", t);
            assert(released == 0);                                       /* (b) */
            in_cb[t] = 1
        };
        in_cb[t] = 0;
        running_mask = running_mask & ~BIT(t)
    fi;
    mask = 0; st = 0
}

/* The poll and the events it returns. A registration backend reports the
 * fd only while it is registered; a scan backend rebuilds its set first
 * when flagged, and polls whatever its set holds (a closed fd reports
 * POLLNVAL at once, so "ready" is always possible). */
inline poll_and_dispatch(t)
{
#ifdef SCAN
    atomic {
        if
        :: dirty[t] ->
            dirty[t] = 0;
            set_has[t] = (polled & BIT(t)) != 0;
            set_gen = gen;
            printf("T%d rebuilds its poll set: fd %d\n", t, set_has[t])
        :: else
        fi
    };
    d_step {
        assert(!(released && set_has[t]));                               /* (c) */
        in_poll[t] = 1
    };
    ev = set_has[t];
    eg = set_gen;
    in_poll[t] = 0;
#else
    atomic { ev = reg[t]; eg = gen };
#endif
    if
    :: ev -> dispatch(t, eg)
    :: true
    fi;
    ev = 0; eg = 0
}

proctype poller(byte t)
{
    byte i, mask, st, eg, set_gen = 1;
    bool ev, mine;

    for (i : 1 .. ITERS) {
        /* the update pass quiesces after draining the inbox */
        quiesce(t);
        poll_and_dispatch(t);
        /* P1 step 6 */
        if
        :: owed[t] -> owed[t] = 0; quiesce(t)
        :: else
        fi
    }
    /* thread_stop: dead first, then quiesce unconditionally */
    acquire(inbox_lock[t]);
    dead[t] = 1;
    release_lock(inbox_lock[t]);
    quiesce(t);
    stopped++
}

proctype deleter()
{
    byte r, h, need, t;

    acquire(fd_lock);
    d_step { gen++; inuse = 0 };
#if BUG == 3
    r = running_mask;
    thread_mask = 0;
#else
    thread_mask = 0;
    r = running_mask;
#endif
    h = polled;
#ifdef SCAN
    /* the fd leaves every poll set before the holders are flagged: a
     * rebuild that consumes the flag reads the cleared bits */
#if BUG == 2
    for (t : 0 .. NT - 1) {
        if :: h & BIT(t) -> dirty[t] = 1 :: else fi
    }
    polled = 0;
#else
    polled = 0;
    for (t : 0 .. NT - 1) {
        if :: h & BIT(t) -> dirty[t] = 1 :: else fi
    }
#endif
#else
    /* registration backends remove the fd from every poller now */
    for (t : 0 .. NT - 1) {
        if :: h & BIT(t) -> reg[t] = 0 :: else fi
    }
    polled = 0;
    h = 0;
#endif
    release_lock(fd_lock);
    printf("D deleted: R %d, holders %d\n", r, h);

#if BUG == 1
    release_fd()
#else
    need = r | h;
    acquire(gy_lock);
    linked = 1;
    waiting = need;
    for (t : 0 .. NT - 1) {
        if
        :: need & BIT(t) ->
            acquire(inbox_lock[t]);
            if
            :: dead[t] -> waiting = waiting & ~BIT(t)
            :: else -> owed[t] = 1      /* fetch_or OWED; notify (P1) */
            fi;
            release_lock(inbox_lock[t])
        :: else
        fi
    }
    if
    :: waiting == 0 -> linked = 0; need = 0
    :: else -> need = 1
    fi;
    release_lock(gy_lock);
    if
    :: need == 0 -> printf("D releases at once\n"); release_fd()
    :: else
    fi
#endif
}

/* Every thread has stopped and the delete returned: release has run. */
active proctype watchdog()
{
    timeout -> assert(stopped == NT && released == 1)                    /* (a) */
}

init
{
    atomic { run poller(0); run poller(1); run deleter() }
}
