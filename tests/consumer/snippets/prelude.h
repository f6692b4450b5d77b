/* SPDX-License-Identifier: MIT */
/*
 * What the documentation's C snippets take from the program around them:
 * its connection type and helpers, and the variables an excerpt uses
 * without declaring. Each snippet is compiled on top of this (see
 * snippets.cmake); tpoll's own names come from tpoll.h alone.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tpoll.h>

struct conn {
    int fd;
    struct tpoll_timer idle;
};
enum { CLOSED = 1, PENDING = 2 };

int handle_input(struct conn *c);
int flush(struct conn *c);
int pick_worker(void);
struct conn *new_conn(int fd);
void on_conn(struct tpoll *tp, int fd, unsigned events, void *owner);
void on_release(struct tpoll *tp, int fd, void *owner);
void conn_close(struct tpoll *tp, struct conn *c);
void conn_free(struct conn *c);
int close_conn(struct tpoll *tp, int fd, void *owner, void *arg);
void on_idle(struct tpoll *tp, struct tpoll_timer *t, void *arg);
void adopt_conn(struct tpoll *tp, void *arg);
void on_shutdown(struct tpoll *tp, int signo, void *arg);

extern struct tpoll *tp;
extern struct conn *c, *conn;
extern int fd, tid, my_id, id, w, worker, nthreads;
extern tpoll_mask_t mask;
extern volatile int running, stopping, stop;
