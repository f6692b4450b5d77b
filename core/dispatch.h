/* SPDX-License-Identifier: MIT */
/* The per-event path's rare cases, out of line (core/dispatch.c). */
#ifndef TP_CORE_DISPATCH_H
#define TP_CORE_DISPATCH_H

#include "fd.h"

struct tp__thread;

/* An event of a one-thread fd held back while the thread it migrated from
 * still runs its callback. */
void tp__event_held(struct tp__thread *th, int fd);
/* Whether a thread other than th is inside the callback of fd (entry e)
 * or dropping its event; each such thread is asked to re-mark fd for the
 * threads of its mask when it leaves (tp__event_left). */
int tp__others_inside(struct tp__thread *th, struct tp__fd *e);
/* Out of fd's callback (or its event), with something waiting for that:
 * a delete or migration, or a thread that held an event back. */
void tp__event_left(struct tp__thread *th, int fd);
/* An event whose key is not its fd's generation: an edge-triggered fd's
 * (TP_EDGE_GEN), or a stale or foreign one to drop. The running bit is
 * set. Returns as tp__event. */
int tp__event_other(struct tp__thread *th, int fd, uint32_t gen, unsigned ev);

#endif
