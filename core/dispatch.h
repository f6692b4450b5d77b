/* SPDX-License-Identifier: MIT */
/* The per-event path's rare cases, out of line (core/dispatch.c). */
#ifndef TP_CORE_DISPATCH_H
#define TP_CORE_DISPATCH_H

#include "fd.h"

struct tp__thread;

/* An event that must not reach the callback (stale or foreign). */
void tp__event_dropped(struct tp__thread *th, int fd, AO_t st, uint32_t gen);
/* Out of a callback, with a delete or migration waiting for that. */
void tp__event_left(struct tp__thread *th);

#endif
