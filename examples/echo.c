/* SPDX-License-Identifier: MIT */
/*
 * tpoll_echo: a multi-threaded echo server on loopback with its own client
 * load, to see tpoll work end to end.
 *
 *   tpoll_echo [--backend NAME] [--threads N] [--clients N] [--conns N]
 *              [--seconds S] [--size BYTES] [--max-fds N]
 *
 * (--help lists the defaults.)
 *
 * Server thread 0 accepts; it hands each connection to a server thread
 * (ids 0..threads-1, in turn) with a cross-thread call (tpoll_call), and
 * that thread inserts it with a mask naming only itself. Client threads
 * (the following ids) each drive their share of the connections in
 * ping-pong: send a message, wait for its echo, send again. Every thread
 * runs tpoll_run() until the main thread stops it (tpoll_stop).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tpoll.h>

#define MAX_MSG 4096

struct conn {
    int fd;
    int is_client;
    size_t size;   /* message size (clients) */
    size_t filled; /* bytes buffered: to echo (server) or received (client) */
    size_t sent;   /* bytes of buf already written */
    char buf[MAX_MSG];
};

struct demo {
    struct tpoll *tp;
    int threads, clients, conns, seconds;
    size_t size;
    int listen_fd;
    struct sockaddr_in addr;
    atomic_int stop;
    atomic_ullong messages;
    atomic_int accepted;
    int next_worker; /* thread 0's: the next server thread to get one */
};

struct worker {
    struct demo *d;
    int tid;
    pthread_t thread;
    int err;
};

static struct demo demo;

/* err: a tpoll function's negative return, printed with its number as
 * the program got it, or a positive errno of the C library. */
static void fail(const char *what, int err)
{
    if (err < 0)
        fprintf(stderr, "tpoll_echo: %s: %s (tpoll returned %d)\n", what,
                strerror(-err), err);
    else
        fprintf(stderr, "tpoll_echo: %s: %s\n", what, strerror(err));
    exit(1);
}

/* Runs once nothing uses the connection any more: here, right after the
 * callback that closed it returns. */
static void release_conn(struct tpoll *tp, int fd, void *owner)
{
    (void)tp;
    close(fd);
    free(owner);
}

static void close_conn(struct tpoll *tp, struct conn *c)
{
    int err = tpoll_fd_delete_async(tp, c->fd, release_conn);

    if (err)
        fail("delete connection", err);
}

/* The threads are gone: what is still inserted is closed here. */
static int close_visited(struct tpoll *tp, int fd, void *owner, void *arg)
{
    (void)fd, (void)arg;
    if (owner != NULL)
        close_conn(tp, owner);
    return 0;
}

/* Write what is buffered; with a full socket buffer, wait for SEND. */
static int flush_out(struct tpoll *tp, struct conn *c, size_t len)
{
    while (c->sent < len) {
        ssize_t w = write(c->fd, c->buf + c->sent, len - c->sent);

        if (w < 0 && errno == EAGAIN) {
            tpoll_want_send(tp, c->fd);
            return 0;
        }
        if (w <= 0)
            return -1;
        c->sent += (size_t)w;
    }
    tpoll_stop_send(tp, c->fd);
    return 1;
}

static void server_io(struct tpoll *tp, struct conn *c, unsigned events)
{
    if (c->filled == 0 || (events & TPOLL_RECV)) {
        ssize_t r = read(c->fd, c->buf + c->filled, sizeof(c->buf) - c->filled);

        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            close_conn(tp, c);
            return;
        }
        if (r > 0)
            c->filled += (size_t)r;
    }
    if (c->filled == 0)
        return;
    switch (flush_out(tp, c, c->filled)) {
    case 1:
        c->filled = c->sent = 0;
        tpoll_want_recv(tp, c->fd);
        break;
    case 0: /* stop reading until the echo is out */
        tpoll_stop_recv(tp, c->fd);
        break;
    default:
        close_conn(tp, c);
    }
}

static void client_io(struct tpoll *tp, struct conn *c, unsigned events)
{
    if (events & TPOLL_SEND) {
        if (flush_out(tp, c, c->size) < 0)
            goto broken;
    }
    if (events & TPOLL_RECV) {
        char in[MAX_MSG];
        ssize_t r = read(c->fd, in, c->size - c->filled);

        if (r == 0 || (r < 0 && errno != EAGAIN))
            goto broken;
        if (r > 0)
            c->filled += (size_t)r;
        if (c->filled == c->size) {
            atomic_fetch_add_explicit(&demo.messages, 1, memory_order_relaxed);
            c->filled = c->sent = 0;
            if (!atomic_load_explicit(&demo.stop, memory_order_relaxed) &&
                flush_out(tp, c, c->size) < 0)
                goto broken;
        }
    }
    return;
broken:
    if (!atomic_load(&demo.stop))
        fprintf(stderr, "tpoll_echo: client connection broken\n");
    close_conn(tp, c);
}

static void conn_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    struct conn *c = owner;

    (void)fd;
    if (c->is_client)
        client_io(tp, c, events);
    else
        server_io(tp, c, events);
}

static struct conn *new_conn(int fd, int is_client)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        fail("calloc", ENOMEM);
    c->fd = fd;
    c->is_client = is_client;
    c->size = demo.size;
    return c;
}

/* A connection that could not be set up, before fail() exits: nothing
 * of it may outlive the exit unreachable (LeakSanitizer checks there). */
static void drop_conn(struct tpoll *tp, struct conn *c)
{
    tpoll_fd_delete(tp, c->fd);
    close(c->fd);
    free(c);
}

/* On the server thread the connection was handed to: it is this
 * thread's from now on. */
static void adopt(struct tpoll *tp, void *arg)
{
    struct conn *c = arg;
    int err = tpoll_fd_insert(tp, c->fd, conn_cb, c,
                              TPOLL_THREAD(tpoll_thread_id(tp)));

    if (err == 0)
        err = tpoll_want_recv(tp, c->fd);
    if (err) {
        drop_conn(tp, c);
        fail("insert accepted connection", err);
    }
    atomic_fetch_add(&demo.accepted, 1);
}

/* Thread 0 accepts, and hands each connection over in turn. A server
 * thread that is already stopping refuses it: it is closed. */
static void listen_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    int one = 1, s;

    (void)events, (void)owner;
    while ((s = accept(fd, NULL, NULL)) >= 0) {
        struct conn *c;
        int to = demo.next_worker;

        demo.next_worker = (to + 1) % demo.threads;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = new_conn(s, 0);
        if (tpoll_call(tp, to, adopt, c) != 0) {
            close(s);
            free(c);
        }
    }
}

static int connect_one(void)
{
    int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (s < 0)
        fail("socket", errno);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s, (struct sockaddr *)&demo.addr, sizeof(demo.addr)) != 0 &&
        errno != EINPROGRESS)
        fail("connect", errno);
    return s;
}

/* Client thread `k` opens its share of the connections; the first SEND
 * event (connected) starts each ping-pong. */
static void start_clients(struct tpoll *tp, int k, int tid)
{
    int i;

    for (i = k; i < demo.conns; i += demo.clients) {
        int s = connect_one();
        struct conn *c = new_conn(s, 1);
        int err;

        memset(c->buf, 'a' + i % 26, c->size);
        err = tpoll_fd_insert(tp, s, conn_cb, c, TPOLL_THREAD(tid));
        if (err == 0)
            err = tpoll_want_recv(tp, s);
        if (err == 0)
            err = tpoll_want_send(tp, s);
        if (err) {
            drop_conn(tp, c);
            fail("insert client connection", err);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tpoll *tp = w->d->tp;

    w->err = tpoll_thread_start(tp, w->tid);
    if (w->err)
        return NULL;
    if (w->tid >= w->d->threads)
        start_clients(tp, w->tid - w->d->threads, w->tid);
    /* A stop sent before this thread was bound was refused: the flag,
     * set before it, is seen here. */
    if (!atomic_load(&w->d->stop))
        w->err = tpoll_run(tp);
    tpoll_thread_stop(tp);
    return NULL;
}

static int setup_listener(void)
{
    socklen_t len = sizeof(demo.addr);
    int one = 1;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (s < 0)
        fail("socket", errno);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&demo.addr, 0, sizeof(demo.addr));
    demo.addr.sin_family = AF_INET;
    demo.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&demo.addr, sizeof(demo.addr)) != 0 ||
        listen(s, 1024) != 0 ||
        getsockname(s, (struct sockaddr *)&demo.addr, &len) != 0)
        fail("listen", errno);
    return s;
}

/* --help to stdout (exit 0), a bad command line to stderr (exit 2). */
static void usage(int status)
{
    FILE *out = status == 0 ? stdout : stderr;

    fprintf(out,
            "usage: tpoll_echo [OPTION VALUE]...\n"
            "An echo server and its clients on loopback, for S seconds.\n"
            "  --backend NAME  epoll, kqueue, port, poll or select\n"
            "                  (default: $TPOLL_BACKEND, else %s)\n"
            "  --threads N     server threads (default: 2)\n"
            "  --clients N     client threads (default: 1)\n"
            "  --conns N       connections, spread over the clients "
            "(default: 64)\n"
            "  --seconds S     how long the clients run (default: 3)\n"
            "  --size BYTES    message size, 1..%d (default: 64)\n"
            "  --max-fds N     tpoll's fd table size (default: 0, the hard "
            "RLIMIT_NOFILE)\n"
            "  --help          this text\n"
            "threads + clients: at most %d.\n",
            tpoll_default_backend(), MAX_MSG, TPOLL_MAX_THREADS);
    exit(status);
}

static void parse_args(int argc, char **argv, struct tpoll_options *o)
{
    int i;

    demo.threads = 2;
    demo.clients = 1;
    demo.conns = 64;
    demo.seconds = 3;
    demo.size = 64;
    for (i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            usage(0);
        if (v == NULL)
            usage(2);
        if (strcmp(argv[i], "--backend") == 0)
            o->backend = v;
        else if (strcmp(argv[i], "--threads") == 0)
            demo.threads = atoi(v);
        else if (strcmp(argv[i], "--clients") == 0)
            demo.clients = atoi(v);
        else if (strcmp(argv[i], "--conns") == 0)
            demo.conns = atoi(v);
        else if (strcmp(argv[i], "--seconds") == 0)
            demo.seconds = atoi(v);
        else if (strcmp(argv[i], "--size") == 0)
            demo.size = (size_t)atoi(v);
        else if (strcmp(argv[i], "--max-fds") == 0)
            o->max_fds = atoi(v);
        else
            usage(2);
    }
    if (demo.threads < 1 || demo.clients < 1 || demo.conns < 1 ||
        demo.seconds < 1 || demo.size < 1 || demo.size > MAX_MSG ||
        demo.threads + demo.clients > TPOLL_MAX_THREADS)
        usage(2);
    o->threads = demo.threads + demo.clients;
}

int main(int argc, char **argv)
{
    struct tpoll_options o;
    struct worker *w;
    struct timespec t0, t1;
    double secs;
    int i, n, err;

    tpoll_options_init(&o);
    parse_args(argc, argv, &o);
    err = tpoll_create(&demo.tp, &o);
    if (err)
        fail("tpoll_create", err);
    demo.listen_fd = setup_listener();
    if ((err = tpoll_fd_insert(demo.tp, demo.listen_fd, listen_cb, NULL,
                               TPOLL_THREAD(0))) != 0 ||
        (err = tpoll_want_recv(demo.tp, demo.listen_fd)) != 0)
        fail("insert listener", err);

    n = demo.threads + demo.clients;
    w = calloc((size_t)n, sizeof(*w));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        w[i].d = &demo;
        w[i].tid = i;
        pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
    }
    sleep((unsigned)demo.seconds);
    atomic_store(&demo.stop, 1);
    for (i = 0; i < n; i++)
        tpoll_stop(demo.tp, i);
    for (i = 0; i < n; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].err)
            fail("worker thread", w[i].err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("backend      %s\n", tpoll_backend_name(demo.tp));
    printf("threads      %d server + %d client\n", demo.threads, demo.clients);
    printf("connections  %d (accepted %d)\n", demo.conns, atomic_load(&demo.accepted));
    printf("messages     %llu in %.2f s: %.0f msg/s (%zu bytes each)\n",
           (unsigned long long)atomic_load(&demo.messages), secs,
           (double)atomic_load(&demo.messages) / secs, demo.size);

    /* Every connection still inserted, on any thread (the listener has
     * no owner). */
    tpoll_fd_visit(demo.tp, ~(tpoll_mask_t)0, close_visited, NULL);
    tpoll_fd_delete(demo.tp, demo.listen_fd);
    close(demo.listen_fd);
    tpoll_destroy(demo.tp);
    free(w);
    return atomic_load(&demo.messages) > 0 ? 0 : 1;
}
