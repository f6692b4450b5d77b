/* SPDX-License-Identifier: MIT */
/*
 * The update pass: before it polls, a thread re-evaluates every fd queued
 * for it and brings its kernel poller in line with the table.
 */
#ifndef TP_CORE_PASS_H
#define TP_CORE_PASS_H

#include "core.h"

/* Apply th's queued updates (runs on th). */
void tp__apply_updates(struct tp__thread *th);
/* Note a registration failure of fd in generation gen, for
 * tp__dispatch_late. */
void tp__record_error(struct tp__thread *th, int fd, uint32_t gen);
/* Dispatch the events the last pass found (struct tp__late). */
void tp__dispatch_late(struct tp__thread *th);

#endif
