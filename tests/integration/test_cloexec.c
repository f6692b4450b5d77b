/* SPDX-License-Identifier: MIT */
/*
 * Every descriptor the library creates is close-on-exec, on every backend
 * (pollers: epoll, kqueue, port; wake descriptors: eventfd, pipe), so that
 * a program that forks and execs leaks none of them into the new image.
 *
 * What it assumes of the backend: its descriptors exist once a thread has
 * started and waited, and are the only ones the process opens between the
 * two snapshots below. It needs FDS_SCANNED descriptor numbers to look at
 * and no free ones beyond the library's; the fixture's teardown stops the
 * loop thread, destroys the instance and closes the test's own sockets
 * whatever an assertion did.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#define FDS_SCANNED 1024

struct fixture {
    struct tpoll *tp;
    struct tu_loop loop;
    int loop_started;
    int sv[2];
    unsigned char open_before[FDS_SCANNED];
};

static void snapshot(unsigned char *open)
{
    for (int fd = 0; fd < FDS_SCANNED; fd++)
        open[fd] = fcntl(fd, F_GETFD) >= 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->sv[0] = f->sv[1] = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f->loop_started)
        tu_loop_stop(&f->loop);
    if (f->tp != NULL)
        tu_destroy(f->tp);
    if (f->sv[0] >= 0)
        close(f->sv[0]);
    if (f->sv[1] >= 0)
        close(f->sv[1]);
    free(f);
    return 0;
}

static void test_library_descriptors_close_on_exec(void **state)
{
    struct fixture *f = *state;
    int created = 0;

    tu_socketpair(f->sv);
    snapshot(f->open_before);
    f->tp = tu_create(2, 0);
    assert_int_equal(tpoll_thread_start(f->tp, 0), 0);
    tu_loop_start(&f->loop, f->tp, 1);
    f->loop_started = 1;
    assert_int_equal(tpoll_fd_insert(f->tp, f->sv[0], tu_noop_cb, NULL, 3), 0);
    assert_int_equal(tpoll_want_recv(f->tp, f->sv[0]), 0);
    assert_true(tpoll_wait(f->tp, 0) >= 0);
    assert_int_equal(tpoll_wake(f->tp, 1), 0);
    for (int fd = 0; fd < FDS_SCANNED; fd++) {
        int flags = fcntl(fd, F_GETFD);

        if (flags < 0 || f->open_before[fd])
            continue;
        created++;
        if (!(flags & FD_CLOEXEC))
            fail_msg("descriptor %d, created by the %s backend, is inherited "
                     "across exec",
                     fd, tu_backend());
    }
    /* Each started thread has a poller or a wake descriptor. */
    assert_true(created >= 2);
    assert_int_equal(tpoll_fd_delete(f->tp, f->sv[0]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_library_descriptors_close_on_exec,
                                        setup, teardown),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
