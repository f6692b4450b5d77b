/* SPDX-License-Identifier: MIT
 *
 * Fork from a callback (epoll): the child must not consume the parent's
 * wake signal.
 *
 * Models tpoll_wait on the epoll backend (core/thread.c with the
 * sleep/wake handshake of core/wake.h; backends/epoll.c ep_dispatch, which reads the wake
 * eventfd when the batch reports it), a callback in the first batch that
 * forks and calls tpoll_after_fork, and the child continuing that
 * batch's dispatch. A notifier publishes work for the parent thread and
 * notifies it (core/queue.c mark_remote). The eventfd is one kernel object, shared by parent
 * and child after the fork; everything else in the child is its own copy
 * and does not touch the parent.
 *
 * Memory: interleaving. The sleep/wake handshake uses only RMWs on the
 * wake word; wake.pml proves it on store buffers. What is checked here is the
 * kernel object the two processes share.
 *
 * Property (assertion): no lost wakeup in the parent: when nothing can
 * move, the parent thread is blocked in an untimed poll with every inbox
 * entry handled (as in wake.pml).
 *
 * Size: the parent thread, the notifier with two notifications (the
 * first signals the wake fd that the forking batch reports, the second
 * is the one the child can steal), and the child. The batch holds the
 * forking fd and the wake fd in either order.
 *
 * Bug (-DBUG): the child acts on the rest of the batch and reads the
 * wake eventfd (ep_dispatch's WAKE_COOKIE case runs whatever
 * fork_pending says). Counterexample: the parent finishes the batch,
 * sleeps again; the notifier sets NOTIFIED and signals; the child, still
 * in its copy of the batch, reads the eventfd; the parent blocks with
 * work pending, and with NOTIFIED set no notifier signals it again.
 */

#define NOTES 2
#define W_SLEEPING 1
#define W_NOTIFIED 2

byte w;
bool wakefd;
bool inbox_lock;
byte ninbox;
byte published;
byte consumed;
bool parent_blocked;

inline acquire(l) { atomic { !l -> l = 1 } }
inline release_lock(l) { l = 0 }

proctype notifier()
{
    byte k, old;

    for (k : 1 .. NOTES) {
        acquire(inbox_lock);
        ninbox++;
        published++;
        d_step {
            old = w;
            w = w | W_NOTIFIED;
            printf("notifier publishes, fetch_or NOTIFIED: w was %d\n", old)
        };
        if
        :: (old & (W_SLEEPING | W_NOTIFIED)) == W_SLEEPING ->
            d_step { printf("notifier signals\n"); wakefd = 1 }
        :: else
        fi;
        release_lock(inbox_lock)
    }
}

/* The child after tpoll_after_fork returned into the callback: the rest
 * of the batch is the parent's. */
proctype child(bool wake_in_rest)
{
#ifdef BUG
    if
    :: wake_in_rest ->
        d_step {
            printf("child reads the shared wake eventfd (was %d)\n", wakefd);
            wakefd = 0
        }
    :: else
    fi
#else
    skip
#endif
}

active proctype parent()
{
    byte old;
    bool slept, timed, wake_seen, wake_first, forked;

    do
    :: true ->
        /* 1. drain the inbox */
        if
        :: ninbox != 0 ->
            acquire(inbox_lock);
            consumed = consumed + ninbox;
            ninbox = 0;
            release_lock(inbox_lock)
        :: else
        fi;
        /* 2. */
        if
        :: slept = 0
        :: slept = 1; timed = 1
        :: slept = 1; timed = 0
        fi;
        if
        :: slept ->
            d_step {
                old = w;
                w = w | W_SLEEPING;
                printf("parent: fetch_or SLEEPING, w was %d\n", old)
            };
            if
            :: old & W_NOTIFIED -> timed = 1
            :: else
            fi
        :: else
        fi;
        /* 3. epoll_wait; the forking fd is ready in the first batch */
        if
        :: slept && !timed ->
            printf("parent blocks in epoll_wait\n");
            parent_blocked = 1;
end_poll:
            wakefd;
            parent_blocked = 0
        :: else
        fi;
        wake_seen = wakefd;
        /* 4. */
        if
        :: slept -> w = w & ~(W_SLEEPING | W_NOTIFIED)
        :: else
        fi;
        /* 5. dispatch the batch: the wake cookie before or after the
         * forking callback */
        if
        :: wake_first = 1
        :: wake_first = 0
        fi;
        if
        :: wake_seen && wake_first -> wakefd = 0
        :: else
        fi;
        if
        :: !forked ->
            forked = 1;
            printf("callback forks (wake fd in the rest of the batch: %d)\n",
                   wake_seen && !wake_first);
            run child(wake_seen && !wake_first)
        :: else
        fi;
        if
        :: wake_seen && !wake_first -> wakefd = 0
        :: else
        fi;
        slept = 0; timed = 0; wake_seen = 0; wake_first = 0; old = 0
    od
}

active proctype watchdog()
{
    timeout ->
    if
    :: consumed != published ->
        printf("LOST WAKEUP: parent blocked with %d of %d entries handled, wake fd %d, w %d\n",
               consumed, published, wakefd, w)
    :: else
    fi;
    assert(parent_blocked && consumed == published)
}

init
{
    run notifier()
}
