/* SPDX-License-Identifier: MIT */
/*
 * bench_http_libuv: tpoll_http's "hello" server on libuv, one uv_loop_t
 * per thread, each with its own SO_REUSEPORT listener. Same options,
 * banner and answers as tpoll_http; see http_common.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http_common.h"

struct worker;

struct conn {
    uv_tcp_t tcp; /* first: the stream callbacks find the conn from it */
    uv_timer_t idle; /* pushed back at every read */
    uv_write_t wr;   /* the answers a full socket left over */
    int blocked;     /* wr is pending, reading is stopped */
    struct worker *w;
    struct http_buf b;
};

struct worker {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop; /* the one thing other threads touch */
    unsigned long long requests, accepted;
};

static struct http_opts opts = {.name = "bench_http_libuv"};
static struct worker *workers;
static atomic_flag stopping = ATOMIC_FLAG_INIT;

/* Once: a loop that has stopped may already have closed its handle. */
static void stop_all(void)
{
    int i;

    if (atomic_flag_test_and_set(&stopping))
        return;
    for (i = 0; i < opts.threads; i++)
        uv_async_send(&workers[i].stop);
}

static void on_stop(uv_async_t *a)
{
    uv_stop(a->loop);
}

static void on_signal(uv_signal_t *s, int signo)
{
    (void)s, (void)signo;
    stop_all();
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    stop_all();
}

static void on_idle_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The timer closes second so that the conn is freed once, after both. */
static void on_tcp_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    uv_close((uv_handle_t *)&c->idle, on_idle_closed);
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

static void on_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

/* uv_try_write: the same direct write() as tpoll_http's send(), with no
 * request to allocate while the socket has room. */
static int conn_send(struct http_buf *b, void *arg)
{
    struct conn *c = arg;

    while (b->out_off < b->out_len) {
        uv_buf_t buf = uv_buf_init(b->out + b->out_off,
                                   (unsigned)(b->out_len - b->out_off));
        int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);

        if (n < 0)
            return n == UV_EAGAIN ? 0 : -1;
        b->out_off += (size_t)n;
    }
    return 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->b.in + c->b.in_len,
                       (unsigned)(HTTP_IN_CAP - c->b.in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_written(uv_write_t *req, int status);

/* As tpoll_http: a client that does not read is not read from. The rest
 * of the answers goes out through uv_write, which says when it is done. */
static void conn_serve(struct conn *c)
{
    int flushed = http_serve(&c->b, conn_send, c, &c->w->requests);
    uv_buf_t buf;

    if (flushed < 0 || (flushed && c->b.closing)) {
        conn_close(c);
        return;
    }
    if (flushed) {
        if (c->blocked) {
            c->blocked = 0;
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        }
        return;
    }
    c->blocked = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    buf = uv_buf_init(c->b.out + c->b.out_off,
                      (unsigned)(c->b.out_len - c->b.out_off));
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0)
        conn_close(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;

    if (status == UV_ECANCELED) /* closing already */
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->b.out_off = c->b.out_len = 0;
    conn_serve(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;

    (void)buf;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0) /* EAGAIN */
        return;
    c->b.in_len += (size_t)n;
    if (opts.idle_ms)
        uv_timer_start(&c->idle, on_idle, opts.idle_ms, 0);
    conn_serve(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct worker *w = server->data;
    struct conn *c;

    if (status < 0 || (c = calloc(1, sizeof(*c))) == NULL)
        return;
    c->w = w;
    c->tcp.data = c->idle.data = c->wr.data = c;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->idle);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (opts.idle_ms)
        uv_timer_start(&c->idle, on_idle, opts.idle_ms, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    w->accepted++;
}

/* Connections carry their conn in data; the worker's own handles none. */
static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->data != NULL && h->type == UV_TCP)
        conn_close(h->data);
    else if (h->data == NULL && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    uv_run(&w->loop, UV_RUN_DEFAULT);
    w->listener.data = NULL;
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        fprintf(stderr, "%s: a loop still has handles\n", opts.name);
    return NULL;
}

static void check(const char *what, int rc)
{
    if (rc < 0)
        http_die(opts.name, what, uv_strerror(rc));
}

int main(int argc, char **argv)
{
    uv_signal_t sigint_w, sigterm_w;
    uv_timer_t deadline;
    unsigned long long requests = 0, accepted = 0;
    char backend[64];
    int i;

    /* close_walk tells the server's handles by their NULL data. */
    memset(&sigint_w, 0, sizeof(sigint_w));
    memset(&sigterm_w, 0, sizeof(sigterm_w));
    memset(&deadline, 0, sizeof(deadline));
    http_parse_args(argc, argv, &opts);
    workers = calloc((size_t)opts.threads, sizeof(*workers));
    if (workers == NULL)
        http_die(opts.name, "calloc", strerror(ENOMEM));
    /* Every loop and its stop handle exist before any thread runs, so
     * that stop_all can reach them all from the start. */
    for (i = 0; i < opts.threads; i++) {
        struct worker *w = &workers[i];

        check("uv_loop_init", uv_loop_init(&w->loop));
        check("uv_tcp_init", uv_tcp_init(&w->loop, &w->listener));
        /* libuv 1.44 has no SO_REUSEPORT flag: bind our own socket. */
        check("uv_tcp_open", uv_tcp_open(&w->listener, http_listener(&opts)));
        w->listener.data = w;
        check("uv_listen", uv_listen((uv_stream_t *)&w->listener, 1024,
                                     on_connection));
        check("uv_async_init", uv_async_init(&w->loop, &w->stop, on_stop));
    }
    check("uv_signal_init", uv_signal_init(&workers[0].loop, &sigint_w));
    check("uv_signal_init", uv_signal_init(&workers[0].loop, &sigterm_w));
    check("uv_signal_start", uv_signal_start(&sigint_w, on_signal, SIGINT));
    check("uv_signal_start", uv_signal_start(&sigterm_w, on_signal, SIGTERM));
    check("uv_timer_init", uv_timer_init(&workers[0].loop, &deadline));
    if (opts.seconds > 0)
        uv_timer_start(&deadline, on_deadline, (uint64_t)opts.seconds * 1000,
                       0);
    snprintf(backend, sizeof(backend), "libuv %s epoll", uv_version_string());
    http_banner(&opts, backend);

    http_run_threads(opts.threads, worker_main, workers, sizeof(*workers));

    for (i = 0; i < opts.threads; i++) {
        requests += workers[i].requests;
        accepted += workers[i].accepted;
    }
    printf("%s: served %llu requests on %llu connections\n", opts.name,
           requests, accepted);
    free(workers);
    return 0;
}
