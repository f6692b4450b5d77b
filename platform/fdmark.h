/* SPDX-License-Identifier: MIT */
/*
 * A descriptor the library created, marked so that a forked child can
 * tell whether the number still names it. A child may close and reuse any
 * inherited number before it calls tpoll_after_fork, so the child closes
 * a number only when it is proven to be the library's: the same file
 * (device and inode) and the owner stamp the library put on the open file
 * (F_SETOWN, shared by every copy of the descriptor, absent from a file
 * opened since). Where the stamp cannot be set, the child never closes
 * the number: a leaked copy rather than a closed file of the program.
 */
#ifndef TP_PLATFORM_FDMARK_H
#define TP_PLATFORM_FDMARK_H

#include <sys/types.h>

struct tp_fdmark {
    int fd;
    int stamped; /* the stamp was set: a proof is possible */
    pid_t pid;   /* the stamp: the creating process */
    dev_t dev;
    ino_t ino;
};

/* Mark fd, just created by this process. Never fails: an fd that cannot
 * be stamped is only never closed by a child. */
void tp_fdmark_take(struct tp_fdmark *m, int fd);
/* In a forked child: close m's number if it still is the marked file. */
void tp_fdmark_close_if_owned(struct tp_fdmark *m);

#endif
