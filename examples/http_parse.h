/* SPDX-License-Identifier: MIT */
/*
 * tpoll_http's HTTP side, apart from any event loop: a connection's
 * buffers and the request parser that fills out[] with the answers. The
 * libuv and libev servers of bench/ use it too, so that every server of
 * the comparison does the same work per request.
 */
#ifndef TPOLL_EXAMPLES_HTTP_PARSE_H
#define TPOLL_EXAMPLES_HTTP_PARSE_H

#include <stddef.h>

#define HTTP_IN_CAP 8192
#define HTTP_OUT_CAP 16384

struct http_buf {
    int closing; /* close once out[] is flushed */
    size_t in_len;
    size_t out_len, out_off;
    char in[HTTP_IN_CAP];
    char out[HTTP_OUT_CAP];
};

/*
 * Answers the complete requests buffered in in[] while an answer still
 * fits in out[], adding one to *requests per "hello". Returns the bytes of
 * in[] they used (the caller drops them); sets closing when the
 * connection must end after the answers already queued (Connection:
 * close, HTTP/1.0, a bad or oversized request).
 */
size_t http_answer(struct http_buf *b, unsigned long long *requests);

/* Sends out[out_off..out_len): 1 once all of it went, 0 if the socket is
 * full, -1 on error. */
typedef int http_send_fn(struct http_buf *b, void *arg);

/* The send() loop of a non-blocking socket, as an http_send_fn would. */
int http_send(int fd, struct http_buf *b);

/*
 * Answers what in[] holds and sends the answers, while they go out and
 * requests remain: 1 once out[] is empty (it is reset), 0 if the socket
 * is full, -1 on a send error. The one loop of every server, whatever
 * its event loop, so that they all do the same work per request.
 */
int http_serve(struct http_buf *b, http_send_fn *send_fn, void *arg,
               unsigned long long *requests);

#endif
