/* SPDX-License-Identifier: MIT */
/*
 * tpoll_http: an HTTP/1.1 keep-alive "hello" server on tpoll threads, for
 * load generators such as wrk.
 *
 *   tpoll_http [--port P] [--addr A] [--threads N] [--backend NAME]
 *              [--seconds S] [--listener reuseport|shared] [--idle MS]
 *              [--trigger level|edge]
 *
 * (--help lists the defaults.)
 *
 * Every request gets "hello\n". Connections stay open (HTTP/1.1 keep-alive,
 * pipelining) unless the client says "Connection: close" or speaks
 * HTTP/1.0. With --listener reuseport (the default) each thread has its own
 * SO_REUSEPORT listener and the kernel spreads connections; with shared,
 * one listener is polled by every thread. Either way an accepted
 * connection stays on the thread that accepted it, and is closed after MS
 * milliseconds without a request (default 30000; 0: never). The server
 * stops on SIGINT or SIGTERM (or after S seconds), closes every
 * connection and prints what it served. Each thread runs tpoll_run(); a
 * signal watch (and the timer of --seconds) on thread 0 stops them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tpoll.h>

#include "http_parse.h"

#define ACCEPT_BURST 64

struct worker;

struct conn {
    int fd;
    int blocked; /* out[] is waiting for TPOLL_SEND, input is paused */
    struct worker *w;
    struct tpoll_timer idle; /* pushed back at every request */
    struct http_buf b;
};

struct server {
    struct tpoll *tp;
    int threads;
    int shared;
    unsigned idle_ms;
    unsigned fd_flags; /* TPOLL_FD_EDGE with --trigger edge */
    struct sockaddr_in addr;
    struct worker *workers;
    struct tpoll_timer deadline; /* --seconds */
    atomic_int stopping; /* for a thread not yet bound when stop_all ran */
};

struct worker {
    struct server *s;
    int tid;
    int listen_fd; /* this thread's listener, or the shared one */
    pthread_t thread;
    int err;
    unsigned long long requests, accepted, ctl_calls;
    int refused; /* connections tpoll refused (see accept_cb) */
};

/* err: a tpoll function's negative return, printed with its number as
 * the program got it, or a positive errno of the C library. */
static void die(const char *what, int err)
{
    if (err < 0)
        fprintf(stderr, "tpoll_http: %s: %s (tpoll returned %d)\n", what,
                strerror(-err), err);
    else
        fprintf(stderr, "tpoll_http: %s: %s\n", what, strerror(err));
    exit(1);
}

/* Runs once nothing uses the connection any more, after tpoll closed its
 * socket: here, right after the callback that closed it returns, on the
 * connection's thread. */
static void conn_release(struct tpoll *tp, int fd, void *owner)
{
    (void)tp, (void)fd;
    free(owner);
}

/* On the connection's thread: its timer is cancelled there, so it cannot
 * fire on freed memory. */
static void conn_close(struct tpoll *tp, struct conn *c)
{
    int err;

    tpoll_timer_cancel(tp, &c->idle);
    /* Closed by tpoll at the safe moment; an edge-triggered connection's
     * registration goes with the close: no unregistration call. */
    err = tpoll_fd_close(tp, c->fd, conn_release);
    if (err)
        die("delete connection", err);
}

static void conn_idle(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)t;
    conn_close(tp, arg);
}

static void conn_active(struct tpoll *tp, struct conn *c)
{
    if (c->w->s->idle_ms)
        tpoll_timer_arm(tp, &c->idle, c->w->s->idle_ms);
}

static int conn_send(struct http_buf *b, void *arg)
{
    return http_send(((struct conn *)arg)->fd, b);
}

/*
 * Edge-triggered (--trigger edge), readiness is told once: input left in
 * the socket is said to be still there, since no edge will come for it.
 * A read that filled the buffer may have left some (a shorter one
 * emptied the socket), and so may a read skipped for a full buffer.
 */
static void conn_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct conn *c = owner;
    struct http_buf *b = &c->b;
    int flushed, more = 0;

    (void)fd;
    if ((events & TPOLL_RECV) && b->in_len < HTTP_IN_CAP) {
        size_t room = HTTP_IN_CAP - b->in_len;
        ssize_t n = recv(c->fd, b->in + b->in_len, room, 0);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            conn_close(tp, c);
            return;
        }
        if (n > 0) {
            b->in_len += (size_t)n;
            more = (size_t)n == room;
            conn_active(tp, c);
        }
    } else if (events & TPOLL_RECV) {
        more = 1;
    }
    flushed = http_serve(b, conn_send, c, &c->w->requests);
    if (flushed < 0 || (flushed && b->closing)) {
        conn_close(tp, c);
        return;
    }
    /* A client that does not read its answers is not read from either:
     * requests wait in the socket until the answers have gone out. */
    if (flushed == c->blocked) {
        c->blocked = !flushed;
        if (flushed) {
            tpoll_stop_send(tp, c->fd);
            tpoll_want_recv(tp, c->fd);
            more = 1;
        } else {
            tpoll_want_send(tp, c->fd);
            tpoll_stop_recv(tp, c->fd);
        }
    }
    if (more && (c->w->s->fd_flags & TPOLL_FD_EDGE))
        tpoll_fd_ready(tp, c->fd, TPOLL_RECV);
}

static void accept_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct server *s = owner;
    int tid = tpoll_thread_id(tp);
    struct worker *w = &s->workers[tid];
    int i, rc, one = 1;

    (void)events;
    for (i = 0; i < ACCEPT_BURST; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;

        if (cfd < 0)
            return; /* EAGAIN, or another thread took it (shared) */
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(cfd);
            continue;
        }
        c->fd = cfd;
        c->w = w;
        rc = tpoll_fd_insert_flags(tp, cfd, conn_cb, c, TPOLL_THREAD(tid),
                                   s->fd_flags);
        if (rc < 0) {
            /* Beyond max_fds (-EMFILE), or select's FD_SETSIZE (-ERANGE):
             * refuse the connection rather than stop serving, and say
             * why once per thread. */
            if (w->refused++ == 0)
                fprintf(stderr,
                        "tpoll_http: thread %d refuses connections: "
                        "%s (tpoll returned %d)\n",
                        tid, strerror(-rc), rc);
            close(cfd);
            free(c);
            continue;
        }
        tpoll_timer_init(tp, &c->idle, tid, conn_idle, c);
        conn_active(tp, c);
        w->accepted++;
        tpoll_want_recv(tp, cfd);
    }
}

/* The connections are the fds whose owner is not the server (the
 * listeners' owner). */
static int close_visited(struct tpoll *tp, int fd, void *owner, void *arg)
{
    (void)fd;
    if (owner != arg)
        conn_close(tp, owner);
    return 0;
}

/* Every thread's loop stops: SIGINT, SIGTERM or the --seconds timer. A
 * thread that binds later finds the flag (set before each stop tried). */
static void stop_all(struct server *s)
{
    int i;

    atomic_store(&s->stopping, 1);
    for (i = 0; i < s->threads; i++)
        tpoll_stop(s->tp, i);
}

static void on_signal(struct tpoll *tp, int signo, void *arg)
{
    (void)tp, (void)signo;
    stop_all(arg);
}

static void on_deadline(struct tpoll *tp, struct tpoll_timer *t, void *arg)
{
    (void)tp, (void)t;
    stop_all(arg);
}

/* Runs until stopped, then closes its own connections (on this thread,
 * where their timers are cancelled) before it stops. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tpoll *tp = w->s->tp;
    struct tpoll_counters c;
    int rc = w->tid == 0 ? 0 : tpoll_thread_start(tp, w->tid);

    if (rc == 0 && !atomic_load(&w->s->stopping))
        rc = tpoll_run(tp);
    if (rc < 0) {
        w->err = rc;
        stop_all(w->s);
    }
    tpoll_fd_visit(tp, TPOLL_THREAD(w->tid), close_visited, w->s);
    if (tpoll_thread_counters(tp, w->tid, &c) == 0)
        w->ctl_calls = c.ctl_calls;
    tpoll_thread_stop(tp);
    return NULL;
}

static int open_listener(struct server *s, int reuseport)
{
    socklen_t len = sizeof(s->addr);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket", errno);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        die("SO_REUSEPORT", errno);
    if (bind(fd, (struct sockaddr *)&s->addr, sizeof(s->addr)) < 0)
        die("bind", errno);
    if (listen(fd, 1024) < 0)
        die("listen", errno);
    /* With port 0 the first listener picks the port the others share. */
    if (getsockname(fd, (struct sockaddr *)&s->addr, &len) < 0)
        die("getsockname", errno);
    return fd;
}

/* --help to stdout (exit 0), a bad command line to stderr (exit 2). */
static void usage(int status)
{
    FILE *out = status == 0 ? stdout : stderr;

    fprintf(out,
            "usage: tpoll_http [OPTION VALUE]...\n"
            "An HTTP/1.1 keep-alive server answering \"hello\" to every "
            "request.\n"
            "  --port P        TCP port; 0 picks a free one (default: 0)\n"
            "  --addr A        IPv4 address to listen on "
            "(default: 127.0.0.1)\n"
            "  --threads N     server threads, 1..%d (default: 1)\n"
            "  --backend NAME  epoll, kqueue, port, poll or select\n"
            "                  (default: $TPOLL_BACKEND, else %s)\n"
            "  --seconds S     stop after S seconds; 0: on SIGINT or SIGTERM "
            "(default: 0)\n"
            "  --listener KIND reuseport: a SO_REUSEPORT listener per "
            "thread; shared: one\n"
            "                  for all threads (default: reuseport)\n"
            "  --idle MS       close a connection idle for MS milliseconds; "
            "0: never\n"
            "                  (default: 30000)\n"
            "  --trigger T     level, or edge: connections registered once\n"
            "                  (TPOLL_FD_EDGE) (default: level)\n"
            "  --help          this text\n",
            TPOLL_MAX_THREADS, tpoll_default_backend());
    exit(status);
}

static void parse_args(int argc, char **argv, struct server *s,
                       struct tpoll_options *o, int *seconds)
{
    int i;

    for (i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            usage(0);
        if (v == NULL)
            usage(2);
        if (strcmp(argv[i], "--port") == 0)
            s->addr.sin_port = htons((unsigned short)atoi(v));
        else if (strcmp(argv[i], "--addr") == 0) {
            if (inet_pton(AF_INET, v, &s->addr.sin_addr) != 1)
                usage(2);
        } else if (strcmp(argv[i], "--threads") == 0)
            o->threads = atoi(v);
        else if (strcmp(argv[i], "--backend") == 0)
            o->backend = v;
        else if (strcmp(argv[i], "--seconds") == 0)
            *seconds = atoi(v);
        else if (strcmp(argv[i], "--idle") == 0)
            s->idle_ms = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--listener") == 0) {
            if (strcmp(v, "shared") == 0)
                s->shared = 1;
            else if (strcmp(v, "reuseport") != 0)
                usage(2);
        } else if (strcmp(argv[i], "--trigger") == 0) {
            if (strcmp(v, "edge") == 0)
                s->fd_flags = TPOLL_FD_EDGE;
            else if (strcmp(v, "level") != 0)
                usage(2);
        } else
            usage(2);
    }
    if (o->threads < 1 || o->threads > TPOLL_MAX_THREADS || *seconds < 0)
        usage(2);
}

int main(int argc, char **argv)
{
    struct server s;
    struct tpoll_options o;
    unsigned long long requests = 0, accepted = 0, ctl_calls = 0;
    int seconds = 0, status = 0;
    int i, rc;

    memset(&s, 0, sizeof(s));
    s.idle_ms = 30000;
    s.addr.sin_family = AF_INET;
    s.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    tpoll_options_init(&o);
    o.threads = 1;
    parse_args(argc, argv, &s, &o, &seconds);
    s.threads = o.threads;

    rc = tpoll_create(&s.tp, &o);
    if (rc < 0)
        die("tpoll_create", rc);
    s.workers = calloc((size_t)s.threads, sizeof(*s.workers));
    if (s.workers == NULL)
        die("calloc", ENOMEM);
    for (i = 0; i < s.threads; i++) {
        struct worker *w = &s.workers[i];
        tpoll_mask_t mask = TPOLL_THREAD(i);

        w->s = &s;
        w->tid = i;
        if (s.shared && i > 0) {
            w->listen_fd = s.workers[0].listen_fd;
            continue;
        }
        w->listen_fd = open_listener(&s, !s.shared);
        if (s.shared)
            mask = ~(tpoll_mask_t)0 >> (TPOLL_MAX_THREADS - s.threads);
        rc = tpoll_fd_insert(s.tp, w->listen_fd, accept_cb, &s, mask);
        if (rc < 0 || (rc = tpoll_want_recv(s.tp, w->listen_fd)) < 0)
            die("listener", rc);
    }
    /* Thread 0 is this one: it takes the signals and the deadline. */
    if ((rc = tpoll_thread_start(s.tp, 0)) < 0 ||
        (rc = tpoll_signal_watch(s.tp, SIGINT, 0, on_signal, &s)) < 0 ||
        (rc = tpoll_signal_watch(s.tp, SIGTERM, 0, on_signal, &s)) < 0 ||
        (rc = tpoll_timer_init(s.tp, &s.deadline, 0, on_deadline, &s)) < 0)
        die("thread 0", rc);
    if (seconds > 0)
        tpoll_timer_arm(s.tp, &s.deadline, (uint64_t)seconds * 1000);
    printf("tpoll_http: listening on http://%s:%d/ with %d thread(s), "
           "backend %s, %s listener\n",
           inet_ntoa(s.addr.sin_addr), ntohs(s.addr.sin_port), s.threads,
           tpoll_backend_name(s.tp), s.shared ? "shared" : "reuseport");
    fflush(stdout);
    for (i = 1; i < s.threads; i++)
        if ((rc = pthread_create(&s.workers[i].thread, NULL, worker_main,
                                 &s.workers[i])) != 0)
            die("pthread_create", rc);
    worker_main(&s.workers[0]);

    for (i = 0; i < s.threads; i++) {
        struct worker *w = &s.workers[i];

        if (i > 0)
            pthread_join(w->thread, NULL);
        if (w->err < 0) {
            fprintf(stderr, "tpoll_http: thread %d: %s (tpoll returned %d)\n",
                    i, strerror(-w->err), w->err);
            status = 1;
        }
        requests += w->requests;
        accepted += w->accepted;
        ctl_calls += w->ctl_calls;
        if (!s.shared || i == 0) {
            tpoll_fd_delete(s.tp, w->listen_fd);
            close(w->listen_fd);
        }
    }
    printf("tpoll_http: served %llu requests on %llu connections\n", requests,
           accepted);
    /* Registration calls (epoll_ctl, kevent changes, ...), listeners
     * included, per connection: what edge triggering saves. */
    printf("tpoll_http: %llu registration calls (%.2f per connection, "
           "%.4f per request)\n",
           ctl_calls, accepted ? (double)ctl_calls / (double)accepted : 0.0,
           requests ? (double)ctl_calls / (double)requests : 0.0);
    tpoll_signal_unwatch(s.tp, SIGINT);
    tpoll_signal_unwatch(s.tp, SIGTERM);
    tpoll_destroy(s.tp);
    free(s.workers);
    return status;
}
