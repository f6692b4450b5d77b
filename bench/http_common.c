/* SPDX-License-Identifier: MIT */
#include "http_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void http_die(const char *name, const char *what, const char *err)
{
    fprintf(stderr, "%s: %s: %s\n", name, what, err);
    exit(1);
}

static void usage(const char *name, int status)
{
    fprintf(status == 0 ? stdout : stderr,
            "usage: %s [OPTION VALUE]...\n"
            "The tpoll_http \"hello\" server on another event library, "
            "for comparison.\n"
            "  --port P        TCP port; 0 picks a free one (default: 0)\n"
            "  --addr A        IPv4 address (default: 127.0.0.1)\n"
            "  --threads N     loops, one per thread, each with its own "
            "SO_REUSEPORT\n"
            "                  listener (default: 1)\n"
            "  --backend epoll the only one (default: epoll)\n"
            "  --seconds S     stop after S seconds; 0: on SIGINT or SIGTERM "
            "(default: 0)\n"
            "  --idle MS       close a connection idle for MS milliseconds; "
            "0: never\n"
            "                  (default: 30000)\n",
            name);
    exit(status);
}

void http_parse_args(int argc, char **argv, struct http_opts *o)
{
    int i;

    o->addr.sin_family = AF_INET;
    o->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    o->threads = 1;
    o->idle_ms = 30000;
    for (i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            usage(o->name, 0);
        if (v == NULL)
            usage(o->name, 2);
        if (strcmp(argv[i], "--port") == 0)
            o->addr.sin_port = htons((unsigned short)atoi(v));
        else if (strcmp(argv[i], "--addr") == 0) {
            if (inet_pton(AF_INET, v, &o->addr.sin_addr) != 1)
                usage(o->name, 2);
        } else if (strcmp(argv[i], "--threads") == 0)
            o->threads = atoi(v);
        else if (strcmp(argv[i], "--seconds") == 0)
            o->seconds = atoi(v);
        else if (strcmp(argv[i], "--backend") == 0) {
            /* Accepted so that one command line runs all the servers. */
            if (strcmp(v, "epoll") != 0)
                usage(o->name, 2);
        } else if (strcmp(argv[i], "--idle") == 0)
            o->idle_ms = (unsigned)strtoul(v, NULL, 10);
        else
            usage(o->name, 2);
    }
    if (o->threads < 1 || o->threads > 64 || o->seconds < 0)
        usage(o->name, 2);
}

/* Every thread opens its own: with port 0 the first one picks the port
 * and writes it back into o->addr for the others to share. */
int http_listener(struct http_opts *o)
{
    socklen_t len = sizeof(o->addr);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        http_die(o->name, "socket", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        http_die(o->name, "SO_REUSEPORT", strerror(errno));
    if (bind(fd, (struct sockaddr *)&o->addr, sizeof(o->addr)) < 0)
        http_die(o->name, "bind", strerror(errno));
    if (listen(fd, 1024) < 0)
        http_die(o->name, "listen", strerror(errno));
    if (getsockname(fd, (struct sockaddr *)&o->addr, &len) < 0)
        http_die(o->name, "getsockname", strerror(errno));
    return fd;
}

/* The scripts take the URL from this line, as they do from tpoll_http's. */
void http_banner(const struct http_opts *o, const char *backend)
{
    printf("%s: listening on http://%s:%d/ with %d thread(s), backend %s, "
           "reuseport listener\n",
           o->name, inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port),
           o->threads, backend);
    fflush(stdout);
}

/* Thread 0 is the caller's, which keeps SIGINT and SIGTERM: the others
 * start with them blocked, so the signal watch of thread 0's loop gets
 * them. */
void http_run_threads(int threads, void *(*fn)(void *), void *args,
                      size_t size)
{
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    sigset_t block, old;
    int i, rc;

    if (t == NULL)
        http_die("http", "calloc", strerror(ENOMEM));
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 1; i < threads; i++)
        if ((rc = pthread_create(&t[i], NULL, fn,
                                 (char *)args + (size_t)i * size)) != 0)
            http_die("http", "pthread_create", strerror(rc));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    fn(args);
    for (i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    free(t);
}
