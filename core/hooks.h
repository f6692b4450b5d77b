/* SPDX-License-Identifier: MIT */
/*
 * Test-only hooks: named points of the core where a test can park a thread
 * and release it later, so that a race is forced instead of hoped for.
 * They exist only in the library built for the race tests (the static
 * library tpoll_hooked, compiled with TPOLL_TEST_HOOKS); in every library
 * that is installed TP_HOOK() is nothing at all.
 */
#ifndef TP_CORE_HOOKS_H
#define TP_CORE_HOOKS_H

enum tp__hook_point {
    TP_HOOK_DISPATCH_CHECKED,    /* event passed its checks, callback next;
                                    arg: fd */
    TP_HOOK_START_CLAIMED,       /* thread_start: id claimed, nothing built;
                                    arg: tid */
    TP_HOOK_START_BUILT,         /* thread_start: poller built, not yet
                                    live; arg: tid */
    TP_HOOK_STOP_TORN_DOWN,      /* thread_stop: poller gone, id not yet
                                    free; arg: tid */
    TP_HOOK_PASS_LOCKED,         /* update pass: fd locked, kernel call
                                    next; arg: fd */
    TP_HOOK_BEFORE_POLL,         /* sleeping published, kernel poll next;
                                    arg: tid */
    TP_HOOK_POLLED,              /* kernel poll returned, dispatch next;
                                    arg: tid */
    TP_HOOK_DELETE_UNREGISTERED, /* delete: every poller unregistered or
                                    told to drop fd; arg: fd */
    TP_HOOK_DELETE_DONE,         /* delete: entry cleared, still locked;
                                    arg: fd */
    TP_HOOK_SCAN_REBUILD,        /* scan backend: rebuild decided, polled
                                    bits not read yet; arg: tid */
    TP_HOOK_MIGRATE_WAIT,        /* set_threads: about to wait for leavers;
                                    arg: fd */
    TP_HOOK_TIMER_FIRE,          /* a timer left the wheel, its callback
                                    next; arg: tid */
    TP_HOOK_STOP_SERVICES,       /* thread_stop: gate closed, calls still
                                    accepted; arg: tid */
    TP_HOOK_CALL_RING_GROWN,     /* tpoll_call: a full ring reallocated,
                                    not yet in place, queue locked;
                                    arg: tid */
    TP_HOOK_EDGE_REMEMBER,       /* edge-triggered event: state read, an
                                    unwanted direction to remember next;
                                    arg: fd */
    TP_HOOK_CALL_RINGS_MADE,     /* thread_start: a thread id's call rings
                                    allocated, not yet in place; arg: tid */
    TP_HOOK_EVENT_DROPPING,      /* an event failed its checks, running bit
                                    still set, drop next; arg: fd */
    TP_HOOK_COUNT
};

typedef void (*tp__hook_fn)(enum tp__hook_point point, long arg);

#ifdef TPOLL_TEST_HOOKS
void tp__hook(enum tp__hook_point point, long arg);
/* Install the function every hook calls (NULL: none). */
void tp__hook_install(tp__hook_fn fn);
#define TP_HOOK(point, arg) tp__hook((point), (long)(arg))
#else
#define TP_HOOK(point, arg) ((void)0)
#endif

#endif
