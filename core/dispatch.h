/* SPDX-License-Identifier: MIT */
/* The per-event path's rare cases, out of line (core/dispatch.c). */
#ifndef TP_CORE_DISPATCH_H
#define TP_CORE_DISPATCH_H

#include "fd.h"

struct tp__thread;

/* An event that must not reach the callback (stale or foreign). */
void tp__event_dropped(struct tp__thread *th, int fd, AO_t st, uint32_t gen);
/* An event of a one-thread fd held back while the thread it migrated from
 * still runs its callback. */
void tp__event_held(struct tp__thread *th, int fd);
/* Out of fd's callback (or its event), with something waiting for that:
 * a delete or migration, or a thread that held an event back. */
void tp__event_left(struct tp__thread *th, int fd);

#endif
