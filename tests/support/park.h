/* SPDX-License-Identifier: MIT */
/*
 * Forcing interleavings through the core's test hooks (core/hooks.h): a
 * trap parks the first thread that reaches its point (and matches), and
 * holds it until the test releases it. Only for tests linked with the
 * hooked library (tpoll_test_support_hooked).
 */
#ifndef TPOLL_PARK_H
#define TPOLL_PARK_H

#include <pthread.h>

#include "hooks.h"

struct tu_trap;

/* Arms a one-shot trap at `point`. arg >= 0: only a hook whose argument
 * equals it (an fd, a thread id); -1: any. Installs the hook dispatcher. */
struct tu_trap *tu_trap_arm(enum tp__hook_point point, long arg);
/* Waits until a thread is parked in the trap: 1, or 0 after the safety
 * deadline. */
int tu_trap_wait(struct tu_trap *t);
/* 1 if a thread is parked there now. */
int tu_trap_parked(struct tu_trap *t);
/* Lets the parked thread go (or disarms a trap nobody reached) and frees
 * the trap. */
void tu_trap_release(struct tu_trap *t);

/*
 * A trap that synchronises through relaxed atomics only: a thread
 * sanitizer sees no happens-before edge through it, so that a race in the
 * core between the parked thread's past and the test's next steps stays
 * visible. At most one at a time.
 */
void tu_relaxed_trap_arm(enum tp__hook_point point, long arg);
int tu_relaxed_trap_wait(void);
void tu_relaxed_trap_release(void);

/* A callback for every hook, before traps are looked at (NULL: none). */
void tu_hook_observe(tp__hook_fn fn);

#endif
