/* SPDX-License-Identifier: MIT */
/*
 * bench_http_libev: tpoll_http's "hello" server on libev, one ev_loop per
 * thread on the epoll backend (named explicitly, as in ring_libev.c), each
 * with its own SO_REUSEPORT listener. Same options, banner and answers as
 * tpoll_http; see http_common.h.
 */
#include <errno.h>
#include <ev.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_common.h"

struct worker;

struct conn {
    ev_io io;
    ev_timer idle; /* pushed back at every read */
    int blocked;   /* answers wait for EV_WRITE, input is paused */
    struct worker *w;
    struct conn *prev, *next; /* the worker's, closed when it stops */
    struct http_buf b;
};

struct worker {
    struct ev_loop *loop;
    int listen_fd;
    ev_io accept_w;
    ev_async stop_w; /* the one thing other threads touch */
    struct conn *conns;
    unsigned long long requests, accepted;
};

static struct http_opts opts = {.name = "bench_http_libev"};
static struct worker *workers;
static atomic_flag stopping = ATOMIC_FLAG_INIT;

/* Once: a loop that has stopped may already be destroyed. */
static void stop_all(void)
{
    int i;

    if (atomic_flag_test_and_set(&stopping))
        return;
    for (i = 0; i < opts.threads; i++)
        ev_async_send(workers[i].loop, &workers[i].stop_w);
}

static void on_stop(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)a, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop, (void)s, (void)revents;
    stop_all();
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)t, (void)revents;
    stop_all();
}

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;

    ev_io_stop(w->loop, &c->io);
    ev_timer_stop(w->loop, &c->idle);
    close(c->io.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void conn_idle(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    conn_close(t->data);
}

/* The same send() loop as tpoll_http's. */
static int conn_send(struct http_buf *b, void *arg)
{
    return http_send(((struct conn *)arg)->io.fd, b);
}

static void conn_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = (struct conn *)io;
    int flushed;

    if ((revents & EV_READ) && c->b.in_len < HTTP_IN_CAP) {
        ssize_t n = recv(io->fd, c->b.in + c->b.in_len,
                         HTTP_IN_CAP - c->b.in_len, 0);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            conn_close(c);
            return;
        }
        if (n > 0) {
            c->b.in_len += (size_t)n;
            if (opts.idle_ms)
                ev_timer_again(loop, &c->idle);
        }
    }
    flushed = http_serve(&c->b, conn_send, c, &c->w->requests);
    if (flushed < 0 || (flushed && c->b.closing)) {
        conn_close(c);
        return;
    }
    /* As tpoll_http: a client that does not read is not read from. */
    if (flushed == c->blocked) {
        c->blocked = !flushed;
        ev_io_stop(loop, io);
        ev_io_set(io, io->fd, flushed ? EV_READ : EV_WRITE);
        ev_io_start(loop, io);
    }
}

static void accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    int i, one = 1;

    (void)revents;
    for (i = 0; i < HTTP_ACCEPT_BURST; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;

        if (fd < 0)
            return;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->w = w;
        c->next = w->conns;
        if (c->next)
            c->next->prev = c;
        w->conns = c;
        ev_io_init(&c->io, conn_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
        ev_init(&c->idle, conn_idle);
        c->idle.repeat = opts.idle_ms / 1000.0;
        c->idle.data = c;
        if (opts.idle_ms)
            ev_timer_again(loop, &c->idle);
        w->accepted++;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    ev_run(w->loop, 0);
    while (w->conns)
        conn_close(w->conns);
    ev_io_stop(w->loop, &w->accept_w);
    ev_async_stop(w->loop, &w->stop_w);
    close(w->listen_fd);
    return NULL;
}

int main(int argc, char **argv)
{
    ev_signal sigint_w, sigterm_w;
    ev_timer deadline;
    unsigned long long requests = 0, accepted = 0;
    char backend[64];
    int i;

    http_parse_args(argc, argv, &opts);
    workers = calloc((size_t)opts.threads, sizeof(*workers));
    if (workers == NULL)
        http_die(opts.name, "calloc", strerror(ENOMEM));
    /* Every loop and its stop watch exist before any thread runs, so
     * that stop_all can reach them all from the start. */
    for (i = 0; i < opts.threads; i++) {
        struct worker *w = &workers[i];

        w->loop = ev_loop_new(EVBACKEND_EPOLL);
        if (w->loop == NULL)
            http_die(opts.name, "ev_loop_new", "no epoll backend");
        w->listen_fd = http_listener(&opts);
        ev_io_init(&w->accept_w, accept_cb, w->listen_fd, EV_READ);
        w->accept_w.data = w;
        ev_io_start(w->loop, &w->accept_w);
        ev_async_init(&w->stop_w, on_stop);
        ev_async_start(w->loop, &w->stop_w);
    }
    ev_signal_init(&sigint_w, on_signal, SIGINT);
    ev_signal_init(&sigterm_w, on_signal, SIGTERM);
    ev_signal_start(workers[0].loop, &sigint_w);
    ev_signal_start(workers[0].loop, &sigterm_w);
    ev_timer_init(&deadline, on_deadline, opts.seconds, 0);
    if (opts.seconds > 0)
        ev_timer_start(workers[0].loop, &deadline);
    snprintf(backend, sizeof(backend), "libev %d.%d epoll", ev_version_major(),
             ev_version_minor());
    http_banner(&opts, backend);

    http_run_threads(opts.threads, worker_main, workers, sizeof(*workers));

    ev_signal_stop(workers[0].loop, &sigint_w);
    ev_signal_stop(workers[0].loop, &sigterm_w);
    ev_timer_stop(workers[0].loop, &deadline);
    for (i = 0; i < opts.threads; i++) {
        requests += workers[i].requests;
        accepted += workers[i].accepted;
        ev_loop_destroy(workers[i].loop);
    }
    printf("%s: served %llu requests on %llu connections\n", opts.name,
           requests, accepted);
    free(workers);
    return 0;
}
