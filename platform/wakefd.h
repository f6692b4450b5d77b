/* SPDX-License-Identifier: MIT */
/* A pollable wake signal: an eventfd where the OS has one, a pipe
 * otherwise. Used by backends whose kernel poller has no user event. */
#ifndef TP_PLATFORM_WAKEFD_H
#define TP_PLATFORM_WAKEFD_H

#include "fdmark.h"

struct tp_wakefd {
    int rfd; /* watch this for readability */
    int wfd; /* signal through this (same as rfd for an eventfd) */
    struct tp_fdmark rmark, wmark;
};

int tp_wakefd_open(struct tp_wakefd *w);
void tp_wakefd_close(struct tp_wakefd *w);
/* In a forked child: close what is provably still ours (fdmark.h). */
void tp_wakefd_forget(struct tp_wakefd *w);
void tp_wakefd_signal(const struct tp_wakefd *w);
void tp_wakefd_drain(const struct tp_wakefd *w);

#endif
