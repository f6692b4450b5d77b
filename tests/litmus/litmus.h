/* SPDX-License-Identifier: MIT */
/*
 * Litmus harness: a two-thread handshake run once per round, many rounds,
 * with its outcomes counted. Each side runs on its own thread; both start
 * a round together at a spin barrier, after a random short delay each, so
 * that their few instructions overlap in every way the hardware allows.
 * A side returns what it observed as a small number (LIT_VALUES values);
 * the pair of observations is the round's outcome.
 *
 * A test is bounded by rounds and by time: it stops after max_rounds, or
 * once its time budget is spent and it has done min_rounds.
 * TPOLL_LITMUS_SECONDS (per case, default 1.5) and TPOLL_LITMUS_ROUNDS
 * (the maximum, default 20 million) change them for long runs.
 */
#ifndef TPOLL_LITMUS_H
#define TPOLL_LITMUS_H

#include "../platform/atomic.h"

#define LIT_VALUES 4 /* a side observes one of 0 .. LIT_VALUES - 1 */

struct lit_case {
    const char *name;
    /* Sets the shared words as they are before the handshake; runs on
     * side 0's thread between rounds, while side 1's waits. */
    void (*reset)(void);
    unsigned (*side[2])(void);
    const char *side_name[2];
    /* What each observation means, for the histogram. */
    const char *value_name[2][LIT_VALUES];
    /* The outcome the protocol forbids. */
    int (*bad)(unsigned v0, unsigned v1);
    /* 1: a measurement of a protocol known to be broken; bad outcomes
     * are counted and printed, never a failure. */
    int measure_only;
};

/* Runs each case in turn and prints its rounds, rate and outcomes.
 * Returns the exit status: 0, or 1 if a case that is not measure_only
 * saw its bad outcome. */
int lit_run_all(const struct lit_case *cases, int n);

/* A test's main: its table of cases, run. */
#define LIT_MAIN(cases)                                                        \
    int main(void)                                                             \
    {                                                                          \
        return lit_run_all(cases, (int)(sizeof(cases) / sizeof((cases)[0])));  \
    }

#endif
