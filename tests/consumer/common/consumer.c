/* SPDX-License-Identifier: MIT */
/*
 * What every consumer project builds and runs: proof that the headers,
 * the library and its link flags reached the program, and that the library
 * works there (one instance, one socketpair, one callback). Written in the
 * common subset of C and C++ so that the C++ consumers compile it too.
 */
#if !defined(__cplusplus) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tpoll.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s failed: %d\n", what, rc);
    return 1;
}

static void on_recv(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    int *hits = (int *)owner;
    char c;

    (void)tp;
    if ((events & TPOLL_RECV) && read(fd, &c, 1) == 1)
        ++*hits;
}

int main(void)
{
    struct tpoll_options opts;
    struct tpoll *tp = NULL;
    int sv[2];
    int hits = 0;
    int rc, i;

    if (tpoll_version() != TPOLL_VERSION_NUMBER)
        return fail("header/library version match", (int)tpoll_version());
    tpoll_options_init(&opts);
    opts.threads = 1;
    opts.max_fds = 256;
    rc = tpoll_create(&tp, &opts);
    if (rc < 0)
        return fail("tpoll_create", rc);
    rc = tpoll_thread_start(tp, 0);
    if (rc < 0)
        return fail("tpoll_thread_start", rc);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return fail("socketpair", -1);
    rc = tpoll_fd_insert(tp, sv[0], on_recv, &hits, TPOLL_THREAD(0));
    if (rc < 0)
        return fail("tpoll_fd_insert", rc);
    rc = tpoll_want_recv(tp, sv[0]);
    if (rc < 0)
        return fail("tpoll_want_recv", rc);
    if (write(sv[1], "x", 1) != 1)
        return fail("write", -1);
    /* Each wait returns as soon as the byte is seen; the bound only turns
     * a broken build into a failure instead of a hang. */
    for (i = 0; i < 50 && hits == 0; i++) {
        rc = tpoll_wait(tp, 200);
        if (rc < 0)
            return fail("tpoll_wait", rc);
    }
    if (hits != 1)
        return fail("callback count", hits);
    printf("tpoll %s, backend %s: one callback\n", tpoll_version_string(),
           tpoll_backend_name(tp));
    if ((rc = tpoll_fd_delete(tp, sv[0])) < 0)
        return fail("tpoll_fd_delete", rc);
    close(sv[0]);
    close(sv[1]);
    if ((rc = tpoll_thread_stop(tp)) < 0)
        return fail("tpoll_thread_stop", rc);
    if ((rc = tpoll_destroy(tp)) < 0)
        return fail("tpoll_destroy", rc);
    return 0;
}
