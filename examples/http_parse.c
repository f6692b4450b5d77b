/* SPDX-License-Identifier: MIT */
/* Built with _GNU_SOURCE, for memmem(). */
#include "http_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char hello[] = "HTTP/1.1 200 OK\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 6\r\n"
                            "\r\n"
                            "hello\n";
static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Content-Length: 0\r\n"
                                  "Connection: close\r\n"
                                  "\r\n";
static const char too_large[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";

static void reply(struct http_buf *b, const char *msg, size_t len)
{
    memcpy(b->out + b->out_len, msg, len);
    b->out_len += len;
}

static int header_is(const char *line, const char *name, const char *value)
{
    size_t n = strlen(name);

    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    line += n + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    return value == NULL || strncasecmp(line, value, strlen(value)) == 0;
}

size_t http_answer(struct http_buf *b, unsigned long long *requests)
{
    size_t used = 0;

    while (!b->closing && b->out_len + sizeof(too_large) <= HTTP_OUT_CAP) {
        char *req = b->in + used;
        size_t avail = b->in_len - used;
        char *end = memmem(req, avail, "\r\n\r\n", 4);
        char *line, *eol;
        long body = 0;

        if (end == NULL) {
            if (used == 0 && avail == HTTP_IN_CAP) {
                reply(b, too_large, sizeof(too_large) - 1);
                b->closing = 1;
            }
            break;
        }
        *end = '\0'; /* headers become one string; the request is used up */
        eol = strstr(req, "\r\n");
        if (eol == NULL)
            eol = end;
        if (memmem(req, (size_t)(eol - req), " HTTP/1.", 8) == NULL) {
            reply(b, bad_request, sizeof(bad_request) - 1);
            b->closing = 1;
            break;
        }
        if (memmem(req, (size_t)(eol - req), " HTTP/1.0", 9) != NULL)
            b->closing = 1;
        for (line = eol + 2; line < end; line = eol + 2) {
            eol = strstr(line, "\r\n");
            if (eol == NULL)
                eol = end;
            if (header_is(line, "Connection", "close"))
                b->closing = 1;
            else if (header_is(line, "Content-Length", NULL))
                body = strtol(strchr(line, ':') + 1, NULL, 10);
        }
        if (body < 0 || (size_t)(end + 4 - req) + (size_t)body > HTTP_IN_CAP) {
            reply(b, bad_request, sizeof(bad_request) - 1);
            b->closing = 1;
            break;
        }
        if ((size_t)(end + 4 - req) + (size_t)body > avail) {
            *end = '\r'; /* wait for the body: keep the request intact */
            break;
        }
        reply(b, hello, sizeof(hello) - 1);
        (*requests)++;
        used += (size_t)(end + 4 - req) + (size_t)body;
    }
    return used;
}

int http_send(int fd, struct http_buf *b)
{
    while (b->out_off < b->out_len) {
        ssize_t n = send(fd, b->out + b->out_off, b->out_len - b->out_off,
                         MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        b->out_off += (size_t)n;
    }
    return 1;
}

int http_serve(struct http_buf *b, http_send_fn *send_fn, void *arg,
               unsigned long long *requests)
{
    size_t used;
    int flushed;

    do {
        used = http_answer(b, requests);
        memmove(b->in, b->in + used, b->in_len - used);
        b->in_len -= used;
        flushed = send_fn(b, arg);
        if (flushed == 1)
            b->out_off = b->out_len = 0;
    } while (flushed == 1 && used > 0 && !b->closing);
    return flushed;
}
