/* SPDX-License-Identifier: MIT */
/*
 * What the libuv and libev HTTP servers share with each other and, by
 * construction, with examples/http.c: the command line, the banner, the
 * SO_REUSEPORT listeners and the request parsing. Only the event loop
 * differs between the three, which is what the comparison is about.
 */
#ifndef BENCH_HTTP_COMMON_H
#define BENCH_HTTP_COMMON_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>

#include "http_parse.h"

#define HTTP_ACCEPT_BURST 64

struct http_opts {
    const char *name; /* program name, for the banner and errors */
    struct sockaddr_in addr;
    int threads;
    int seconds;
    unsigned idle_ms;
};

void http_die(const char *name, const char *what, const char *err);
void http_parse_args(int argc, char **argv, struct http_opts *o);
int http_listener(struct http_opts *o);
void http_banner(const struct http_opts *o, const char *backend);
void http_run_threads(int threads, void *(*fn)(void *), void *args,
                      size_t size);

#endif
