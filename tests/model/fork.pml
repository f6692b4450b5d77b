/* SPDX-License-Identifier: MIT
 *
 * Thread lifecycle and fork.
 *
 * Models tpoll_thread_start, tpoll_thread_stop (core/thread.c and
 * core/lifecycle.c, with the backend's thread_init and thread_term), the three things a started
 * thread does with shared locks held or shared state in use (an update
 * pass holding an fd lock, a callback, a delete_wait holding the fd lock
 * and then the graveyard lock, its waiter record on its stack), and
 * tpoll_after_fork (core/fork.c) in the child.
 *
 * fork() is one step of the forking thread F: from it on, every other
 * thread has vanished (their proctypes are "provided (!forked)"), and F
 * runs tpoll_after_fork on the memory as it was at that step.
 *
 * Properties (assertions), in the child:
 * (a) it never forgets (dereferences, frees, closes) a thread whose state
 *     is not fully built: every forget finds backend data and queues
 *     allocated and the poller fd open; so nothing is freed twice and no
 *     number closed twice;
 * (b) afterwards every lock is free (the child takes the fd lock, the
 *     graveyard lock and its own inbox lock, as its next delete would),
 *     and no graveyard record of a vanished thread is touched by the
 *     child's next quiesce.
 *
 * Size: F (thread id 0, live, idle when it forks: a fork inside a
 * callback is forkcb.pml) and one other thread T1 that starts, does one
 * of the three things, and stops. F forks at any step of T1, which covers
 * every point where a thread holds a lock or half-built state; a second
 * thread would only repeat T1's points.
 *
 * Bug (-DBUG): the child trusts a "bound" flag set at the very start of
 * tpoll_thread_start and cleared at the very end of tpoll_thread_stop
 * (the old tpoll_after_fork) and forgets every bound thread.
 * Counterexample: F forks while T1 is inside start before thread_init;
 * the child forgets T1 and dereferences its NULL backend data (or, forked
 * inside stop after thread_term, frees it again and closes its closed
 * poller fd).
 *
 * The vanished threads stay blocked where fork found them, which Spin
 * would report as invalid end states: the run ignores those (-E), and the
 * child's own progress is asserted instead (its locks are free).
 */
/* check.sh: pan -E */

#define NT 2
#define F 0
#define T1 1
#define BIT(t) (1 << (t))

/* life */
#define FREE 0
#define OPENING 1
#define LIVE 2
#define CLOSING 3

/* a resource: never made, made, given back */
#define NONE 0
#define MADE 1
#define GONE 2

byte life[NT];
bool bound[NT];
byte queues[NT];        /* update queues (memory) */
byte bdata[NT];         /* backend per-thread data (memory) */
byte pfd[NT];           /* poller and wake fds (descriptor numbers) */
bool inbox_dead[NT];
bool inbox_lock[NT];

/* the fd, with the bits of both threads */
bool fd_lock;
byte polled;
byte running;
bool in_cb[NT];

bool gy_lock;
bool linked;            /* a record is in the graveyard */
byte waiting;           /* its waiting bits; the record is on T1's stack */
bool waiter_woken;

bool forked;

inline acquire(l) { atomic { !l -> l = 1 } }
inline release_lock(l) { l = 0 }

inline make(t)
{
    life[t] = LIVE; bound[t] = 1; queues[t] = MADE; bdata[t] = MADE; pfd[t] = MADE
}

/* thread_forget: free memory, close the descriptors (a close only: no
 * kernel call that changes state shared with the parent). */
inline forget(t)
{
    d_step {
        printf("child forgets T%d (life %d): queues %d, backend data %d, poller fd %d\n",
               t, life[t], queues[t], bdata[t], pfd[t]);
        assert(bdata[t] == MADE);       /* NULL: crash; GONE: double free */
        assert(pfd[t] == MADE);         /* GONE: closes a reused number */
        assert(queues[t] == MADE);
        bdata[t] = GONE; pfd[t] = GONE; queues[t] = GONE
    }
}

inline quiesce(t)
{
    acquire(gy_lock);
    if
    :: linked && (waiting & BIT(t)) ->
        /* the record lives on the waiter's stack */
        assert(!forked);
        waiting = waiting & ~BIT(t);
        if
        :: waiting == 0 -> linked = 0; waiter_woken = 1
        :: else
        fi
    :: else
    fi;
    release_lock(gy_lock)
}

proctype other() provided (!forked)
{
    /* tpoll_thread_start */
    bound[T1] = 1;
    atomic { life[T1] == FREE -> life[T1] = OPENING };
    queues[T1] = MADE;
    bdata[T1] = MADE;           /* thread_init: backend data, */
    pfd[T1] = MADE;             /* then the poller and wake fds */
    acquire(inbox_lock[T1]);
    inbox_dead[T1] = 0;
    release_lock(inbox_lock[T1]);
    life[T1] = LIVE;

    if
    :: /* an update pass registers the fd under its lock */
        acquire(fd_lock);
        polled = polled | BIT(T1);
        release_lock(fd_lock)
    :: /* a callback of the fd */
        running = running | BIT(T1);
        in_cb[T1] = 1;
        in_cb[T1] = 0;
        running = running & ~BIT(T1)
    :: /* tpoll_fd_delete_wait: F's poll set holds the fd (a scan
        * backend), so the record waits for F */
        acquire(fd_lock);
        polled = 0;
        release_lock(fd_lock);
        acquire(gy_lock);
        linked = 1;
        waiting = BIT(F);
        acquire(inbox_lock[F]);
        release_lock(inbox_lock[F]);
        release_lock(gy_lock);
        waiter_woken
    fi;

    /* tpoll_thread_stop (tp__thread_close): the inbox dead, the last
     * quiescent point, then its bits cleared under each fd's lock */
    life[T1] = CLOSING;
    acquire(inbox_lock[T1]);
    inbox_dead[T1] = 1;
    release_lock(inbox_lock[T1]);
    quiesce(T1);
    acquire(fd_lock);
    polled = polled & ~BIT(T1);
    release_lock(fd_lock);
    pfd[T1] = GONE;             /* thread_term: close, then free */
    bdata[T1] = GONE;
    queues[T1] = GONE;
    life[T1] = FREE;
    bound[T1] = 0
}

/* F: live from the start; quiesces as its waits do, and forks. */
active proctype forker()
{
    byte t;

    d_step { make(F) };
    run other();
    do
    :: quiesce(F)
    :: break
    od;
    forked = 1;
    printf("F forks: T1 life %d, bound %d; fd lock %d, graveyard lock %d, record %d\n",
           life[T1], bound[T1], fd_lock, gy_lock, linked);

    /* tpoll_after_fork in the child */
    for (t : 0 .. NT - 1) {
        if
        :: t == F -> skip
#ifdef BUG
        :: t != F && bound[t] -> forget(t); life[t] = FREE; bound[t] = 0
        :: t != F && !bound[t] -> skip
#else
        :: t != F && life[t] == LIVE -> forget(t); life[t] = FREE
        :: t != F && life[t] != LIVE ->
            /* half built or half torn down: leak it in the child */
            life[t] = FREE
#endif
        fi;
        inbox_lock[t] = 0
    }
    fd_lock = 0;
    gy_lock = 0;
    polled = 0;
    running = 0;
    linked = 0;                 /* dropped, not read: it is T1's stack */
    /* self: a fresh poller */
    forget(F);
    d_step { make(F) };

    /* the child goes on: its next delete and wait take these locks */
    assert(!fd_lock && !gy_lock && !inbox_lock[F]);
    quiesce(F)
}
