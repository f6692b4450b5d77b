/* SPDX-License-Identifier: MIT
 *
 * Delete and release: dispatch against delete, and the two-phase delete
 * whose release callback runs once no thread can still use the fd.
 *
 * Models tpoll_fd_delete_async: the first phase under the fd lock
 * (core/fdops.c delete_locked, with raise_rebuild for scan backends),
 * then the record and its hand-over to each thread named
 * (core/release.c tp__rel_submit, hand_over). Against it, polling
 * threads running tpoll_wait (core/thread.c): the sleep word's
 * SLEEPING (core/wake.h tp__wake_sleep_begin, tp__wake_sleep_end), the
 * poll, the per-event path (core/event.h tp__event_as) with the
 * quiescent point after a callback when the owed hint is set
 * (core/dispatch.c tp__event_left), the quiescent point at the end of
 * every wait (tp__wake_take_owed), and thread_stop's last one
 * (core/lifecycle.c tp__thread_close). For scan backends (backends/poll.c,
 * select.c) the poll set is rebuilt when the thread's flag is raised
 * (core/backend.c tp__scan_dirty, tp__scan_polled). There is no
 * quiescent point in the update pass.
 *
 * Memory: interleaving (sequential consistency), except for the delete's
 * store of the state word (the generation bump), a release store that
 * may wait in the deleter's store buffer until its next read-modify-write
 * (the swap of thread_mask) or any moment before. Every handshake here is
 * read-modify-write then load on both sides (running bit / thread mask,
 * rebuild flag / SLEEPING, OWED / running bit), and the models take an
 * RMW to order the load after it; the litmus tests (tests/litmus) check
 * that on the machines they run on. wake.pml shows what a missing
 * barrier does.
 *
 * Properties (assertions):
 * (a) release runs exactly once, and without any thread stopping: once
 *     nothing can move (Spin's timeout) every thread has stopped and
 *     release has run. A thread may, after its last wait, wait for the
 *     release before it stops (as an application does whose next step
 *     needs a lock that the deleting side holds until its release ran),
 *     so a record that waits for a thread that has finished its wait
 *     without passing the point is a deadlock, caught here;
 * (b) when release runs no thread is inside the fd's callback, and no
 *     callback of that incarnation starts after it;
 * (c) scan backends: when release runs no thread is in a poll() that may
 *     block (it published SLEEPING and saw no notification) whose set
 *     holds the fd; a poll that starts after it with the fd in its set
 *     may not block, and the thread's rebuild flag is raised, so that
 *     its next poll drops the fd (a poll that does not block holds the
 *     file only for the call);
 * (d) delete never waits for another thread: the deleter takes only
 *     locks held for a few statements, and release runs on whichever
 *     thread clears the last waiting bit (checked by construction).
 *
 * Size: two polling threads T0 and T1 with the fd registered on both,
 * plus a deleting thread D; each polling thread runs ITERS waits, each
 * with or without a timeout, and then thread_stop, or first waits for
 * the release. Two pollers are the least that make "who clears the last
 * bit" a race, and ITERS = 2 lets a thread quiesce in one wait and poll
 * again in the next (what bug 2 needs). One fd, one delete: the
 * properties are per incarnation, and a reused number meets a new
 * generation, which (b) already covers through the check. The poll may
 * always return (the fd is ready, a timeout, or hand_over's signal to a
 * sleeper, whose delivery wake.pml proves).
 *
 * Options: -DSCAN: a scan backend (poll, select); without it a
 * registration backend (epoll, kqueue, ports), where delete unregisters
 * the fd from every polling thread's poller itself and names no holder.
 *
 * Bugs:
 *  -DBUG (=1): release as soon as delete returns, ignoring the threads
 *     it found running (an fd delete that lets the caller free the owner
 *     at once). Counterexample: T0 sets its running bit, finds the fd
 *     live and enters the callback; D deletes and releases while T0 is
 *     inside.
 *  -DBUG=2 (implies SCAN): delete raises the rebuild flags before it
 *     clears the polled bits. Counterexample: a thread's rebuild consumes
 *     the flag and still reads its polled bit, so its set keeps the fd
 *     with no flag left to drop it; D releases, and every later poll of
 *     that thread watches the released (closed) fd, sleeping in it when
 *     it waits with a timeout.
 *  -DBUG=3: delete reads running_mask before it clears thread_mask.
 *     Counterexample: D's generation bump waits in its store buffer, D
 *     reads R = 0, T0 sets its running bit and still sees the old
 *     generation and itself in the mask, D clears the mask and releases
 *     while T0 runs the callback. Without the store buffer the
 *     generation check alone would stop T0: the swap is what orders the
 *     bump before the read of running_mask.
 *  (Dispatch reading thread_mask before it sets its running bit is no
 *     bug against a delete: the running bit's RMW comes before the read
 *     of the generation, which the swap made visible before the delete
 *     read running_mask, so the generation check stops the dispatch. It
 *     is one against a migration, which keeps the generation:
 *     migrate.pml -DBUG=3.)
 *  -DBUG=4: hand_over re-reads the running bit before its fetch-or of
 *     OWED instead of after. Counterexample: D reads T0's bit set, T0
 *     leaves the callback (its hint and OWED not yet set) and finishes
 *     its last wait without a quiescent point, D sets OWED and waits for
 *     T0, which waits for the release: nothing can move.
 *  -DBUG=5 (implies SCAN): raise_rebuild reads the wake word before it
 *     raises the flag. Counterexample: D reads T0 awake (not a holder),
 *     T0 publishes SLEEPING and finds no flag, D raises it and releases
 *     at once, and T0 blocks in a poll whose set holds the released fd.
 *  -DBUG=6: hand_over waits for every thread the first phase named,
 *     with no re-check. Counterexample: D reads T0's running bit, T0
 *     leaves the callback and finishes its last wait, D hands over and
 *     waits for T0, which waits for the release: nothing can move. (A
 *     holder that stopped sleeping is the same case on a scan backend.)
 */

#if BUG == 2 || BUG == 5
#define SCAN
#endif

#define ITERS 2
#define NT 2            /* polling threads T0, T1 */
#define ALL 3           /* both of their bits */
#define BIT(t) (1 << (t))
#define REG_GEN 1       /* the generation the fd was registered with */

/* Bits of a thread's wake word (core/wake.h). */
#define W_SLEEPING 1
#define W_NOTIFIED 2
#define W_OWED     4

/* The fd entry. key: the state word's generation key as other threads
 * read it, REG_GEN while in use, 0 once deleted (TP_GEN includes the
 * in-use bit, so a deleted entry matches no event). The delete writes
 * the state with a release store, which may wait in its store buffer
 * until its next read-modify-write: pend says it still does. */
byte key = REG_GEN;
bool pend;
byte thread_mask = ALL;
byte running_mask;
byte polled = ALL;      /* polled_recv | polled_send: both registered */
bool fd_lock;

/* Per thread. */
bool reg[NT] = 1;       /* registration backends: the fd is in T's poller */
bool dirty[NT];         /* scan backends: scan_dirty */
bool set_has[NT] = 1;   /* scan backends: T's poll set holds the fd */
bool in_poll[NT];       /* T is inside poll() */
bool may_block[NT];     /* ghost: that poll has a timeout and saw no
                         * notification (it can sleep) */
bool in_cb[NT];         /* T is inside the fd's callback */
byte w[NT];             /* the wake word */
bool hint[NT];          /* head.owed */
bool dead[NT];          /* T's inbox is dead (thread_stop) */
bool inbox_lock[NT];
byte stopped;

/* The graveyard: one record, for the one delete. */
bool gy_lock;
bool linked;
byte waiting;

byte released;

inline acquire(l) { atomic { !l -> l = 1 } }

inline drain_state()
{
    if
    :: pend -> key = 0; pend = 0
    :: else
    fi
}
inline release_lock(l) { l = 0 }

inline release_fd()
{
    d_step {
        printf("release runs (in callback: T0 %d T1 %d; sleeping in poll with fd: T0 %d T1 %d)\n",
               in_cb[0], in_cb[1], in_poll[0] && set_has[0] && may_block[0],
               in_poll[1] && set_has[1] && may_block[1]);
        assert(!in_cb[0] && !in_cb[1]);                                  /* (b) */
        assert(!(in_poll[0] && set_has[0] && may_block[0]) &&
               !(in_poll[1] && set_has[1] && may_block[1]));             /* (c) */
        released++;
    }
    assert(released == 1)                                               /* (a) */
}

/* tp__quiesce: T is outside its poll and its callbacks; its waiting bit
 * goes, and whoever clears the last one finishes the record. */
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

/* tp__pass_quiescent: tp__wake_take_owed's relaxed load, then the
 * and that clears OWED, then the quiescent point. */
inline pass_quiescent(t)
{
    if
    :: w[t] & W_OWED ->
        w[t] = w[t] & ~W_OWED;
        quiesce(t)
    :: else
    fi
}

/* core/event.h tp__event_as for an event carrying generation eg. */
inline dispatch(t, eg)
{
    running_mask = running_mask | BIT(t);
    mask = thread_mask;
    st = key;
    if
    :: st != eg || !(mask & BIT(t)) ->
        printf("T%d drops the event (key %d, event gen %d, mask %d)\n", t, st, eg, mask);
        running_mask = running_mask & ~BIT(t)
    :: else ->
        d_step {
            printf("T%d enters the callback\n", t);
            assert(released == 0);                                       /* (b) */
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
    mask = 0; st = 0
}

/* The poll. A registration backend reports the fd only while it is
 * registered. A scan backend rebuilds its set first when its flag is
 * raised (tp__scan_dirty: the flag taken in one step, since only the
 * thread clears it; then tp__scan_polled: the polled bits and the
 * entry's key in one step, since the delete changes the key before the
 * bits and reading them apart gives no pair that one step does not), and
 * polls whatever its set holds (a closed fd reports POLLNVAL at once,
 * so "ready" is always possible). */
inline poll(t)
{
#ifdef SCAN
    if
    :: atomic { dirty[t] -> dirty[t] = 0 };
        d_step {
            set_has[t] = (polled & BIT(t)) != 0;
            set_gen = key
        };
        printf("T%d rebuilds its poll set: fd %d\n", t, set_has[t])
    :: else
    fi;
    d_step {
        assert(!(released && set_has[t] && may_block[t]));              /* (c) */
        assert(!(released && set_has[t]) || dirty[t]);                  /* (c) */
        in_poll[t] = 1
    };
    ev = set_has[t];
    eg = set_gen;
    in_poll[t] = 0;
#else
    ev = reg[t];
    eg = REG_GEN;
#endif
    printf("T%d polled: event %d\n", t, ev)
}

proctype poller(byte t)
{
    byte i, mask, st, eg, old, set_gen = REG_GEN;
    bool ev, mine, slept;

    for (i : 1 .. ITERS) {
        /* tpoll_wait: a zero timeout does not touch the wake word */
        if
        :: slept = 0
        :: slept = 1
        fi;
        if
        :: slept ->
            d_step {
                old = w[t];
                w[t] = old | W_SLEEPING;
                may_block[t] = !(old & (W_NOTIFIED | W_OWED))
            }
        :: else
        fi;
        poll(t);
        if
        :: slept -> d_step { w[t] = w[t] & ~(W_SLEEPING | W_NOTIFIED); may_block[t] = 0 }
        :: else
        fi;
        if
        :: ev -> dispatch(t, eg)
        :: true
        fi;
        /* the end of every wait */
        pass_quiescent(t);
        ev = 0; eg = 0; old = 0; slept = 0
    }
    /* The application may wait for the release before going on. */
    if
    :: skip -> released; printf("T%d saw the release\n", t)
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

/* raise_rebuild for T: the flag (a swap), then the wake word. */
inline raise_rebuild(t)
{
#if BUG == 5
    if :: w[t] & W_SLEEPING -> h = h | BIT(t) :: else fi;
    dirty[t] = 1
#else
    dirty[t] = 1;
    if :: w[t] & W_SLEEPING -> h = h | BIT(t) :: else fi
#endif
}

/* hand_over: the hint, one fetch-or of OWED | NOTIFIED (the notify, whose
 * signal is not modelled: the poll may return anyway), then the re-check:
 * a runner still in the running mask, a holder still sleeping. */
inline hand_over(t)
{
    hint[t] = 1;
#if BUG == 4
    cur = (running_mask & BIT(t)) != 0;
    d_step { old = w[t]; w[t] = old | W_OWED | W_NOTIFIED };
#else
    d_step { old = w[t]; w[t] = old | W_OWED | W_NOTIFIED };
    cur = (running_mask & BIT(t)) != 0;
#endif
    if
#if BUG == 6
    :: true ->
#else
    :: ((r & BIT(t)) && cur) || ((h & BIT(t)) && (old & W_SLEEPING)) ->
#endif
        printf("D waits for T%d (running %d, sleeping %d)\n", t, cur, (old & W_SLEEPING) != 0)
    :: else ->
        printf("D counts T%d out\n", t);
        waiting = waiting & ~BIT(t)
    fi
}

proctype deleter()
{
    byte r, h, p, need, t, old;
    bool cur;

    acquire(fd_lock);
    pend = 1;
#if BUG == 3
    r = running_mask;
#endif
    /* the swap: a full barrier, so the state store is visible first */
    d_step { drain_state(); thread_mask = 0 };
    p = polled;
#ifdef SCAN
    /* the fd leaves every poll set before the holders are flagged: a
     * rebuild that consumes the flag reads the cleared bits */
#if BUG == 2
    for (t : 0 .. NT - 1) {
        if :: p & BIT(t) -> raise_rebuild(t) :: else fi
    }
    polled = 0;
#else
    polled = 0;
    for (t : 0 .. NT - 1) {
        if :: p & BIT(t) -> raise_rebuild(t) :: else fi
    }
#endif
#else
    /* registration backends remove the fd from every poller now */
    for (t : 0 .. NT - 1) {
        if :: p & BIT(t) -> reg[t] = 0 :: else fi
    }
    polled = 0;
#endif
#if BUG != 3
    r = running_mask;
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
            :: else -> hand_over(t)
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

/* The delete's state store may reach memory at any moment (a loop, so
 * that the flush leaves no trace in the state but the store). */
active proctype state_buffer()
{
end:
    do
    :: atomic { pend -> key = 0; pend = 0 }
    od
}

/* Every thread has stopped and the delete returned: release has run. */
active proctype watchdog()
{
    timeout ->
    if
    :: stopped != NT -> printf("STUCK: %d threads stopped, release run %d, record waits for %d\n",
                              stopped, released, waiting)
    :: else
    fi;
    assert(stopped == NT && released == 1)                              /* (a) */
}

init
{
    atomic { run poller(0); run poller(1); run deleter() }
}
