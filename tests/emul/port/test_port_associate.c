/* SPDX-License-Identifier: MIT */
/* port_associate(3C) and port_dissociate(3C), sentence by sentence. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "port_testutil.h"

static int cookie_a, cookie_b;

/* "At most one event notification will be generated per associated file
 * descriptor." "When an event for a PORT_SOURCE_FD object is retrieved,
 * the object no longer has an association with the port." */
static void test_one_event_then_dissociated(void **state)
{
    int port = pu_port(), sv[2];
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    tu_write_byte(sv[1]);
    tu_write_byte(sv[1]);
    assert_int_equal(pu_pending(port), 1);
    assert_int_equal(pu_get_now(port, &pe), 1);
    tu_write_byte(sv[1]);
    assert_int_equal(pu_get_now(port, &pe), 0);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]),
                     -1);
    assert_int_equal(errno, ENOENT);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* "The delivery event has its portev_user member set to the value
 * specified in the user parameter." */
static void test_event_fields(void **state)
{
    int port = pu_port(), sv[2];
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_source, PORT_SOURCE_FD);
    assert_int_equal(pe.portev_object, (uintptr_t)sv[0]);
    assert_ptr_equal(pe.portev_user, &cookie_a);
    assert_int_equal(pe.portev_events, POLLIN);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* "if a file descriptor is associated with a port for the POLLRDNORM event
 * and data is available on the file descriptor at the time the
 * port_associate() function is called, an event is immediately sent to the
 * port. If data is not yet available, one event is sent to the port when
 * data first becomes available." */
static void test_immediate_and_later_event(void **state)
{
    int port = pu_port(), ready[2], idle[2];
    port_event_t pe;
    uint_t n = 1;

    (void)state;
    tu_socketpair(ready);
    tu_socketpair(idle);
    tu_write_byte(ready[1]);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)ready[0],
                                    POLLRDNORM, &cookie_a),
                     0);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)idle[0],
                                    POLLRDNORM, &cookie_b),
                     0);
    assert_int_equal(pu_pending(port), 1);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_object, (uintptr_t)ready[0]);
    assert_int_equal(pe.portev_events, POLLRDNORM);
    assert_int_equal(pu_pending(port), 0);
    tu_write_byte(idle[1]);
    assert_int_equal(port_getn(port, &pe, 1, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pe.portev_object, (uintptr_t)idle[0]);
    assert_ptr_equal(pe.portev_user, &cookie_b);
    close(ready[0]);
    close(ready[1]);
    close(idle[0]);
    close(idle[1]);
    close(port);
}

/* "If the specified object is already associated with the specified port,
 * the port_associate() function serves to update the events and user
 * arguments of the association." */
static void test_reassociate_updates(void **state)
{
    int port = pu_port(), sv[2];
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    assert_int_equal(pu_pending(port), 0);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLOUT, &cookie_b),
                     0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_events, POLLOUT);
    assert_ptr_equal(pe.portev_user, &cookie_b);
    assert_int_equal(pu_get_now(port, &pe), 0);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* An update also withdraws an event that fired for the old events and was
 * not retrieved yet (port_associate_fd(): "Remove any events that where
 * already fired for this fd and are still in the port queue"). */
static void test_reassociate_withdraws_fired_event(void **state)
{
    int port = pu_port(), sv[2];
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLOUT, &cookie_a),
                     0);
    assert_int_equal(pu_pending(port), 1);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_b),
                     0);
    assert_int_equal(pu_pending(port), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_events, POLLIN);
    assert_ptr_equal(pe.portev_user, &cookie_b);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* "After processing of the file descriptor is completed, the
 * port_associate() function can be called to reassociate the object with
 * the port." */
static void test_reassociate_after_retrieval(void **state)
{
    int port = pu_port(), sv[2];
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pu_get_now(port, &pe), 0);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_b),
                     0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_ptr_equal(pe.portev_user, &cookie_b);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* "The port_dissociate() function removes the association of an object
 * with a port." A fired, unretrieved event goes with it
 * (port_dissociate_fd(): "dissociates ... and removes already fired
 * events"). */
static void test_dissociate(void **state)
{
    int port = pu_port(), sv[2];
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]),
                     0);
    tu_write_byte(sv[1]);
    assert_int_equal(pu_get_now(port, &pe), 0);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    assert_int_equal(pu_pending(port), 1);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]),
                     0);
    assert_int_equal(pu_pending(port), 0);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* ERRORS: "EBADF The port identifier is not valid." "EBADFD The source
 * argument is of type PORT_SOURCE_FD and the object argument is not a
 * valid file descriptor." "EINVAL The source argument is not valid."
 * "ENOENT The specified object is not associated with the port." */
static void test_errors(void **state)
{
    int port = pu_port(), sv[2], closed;

    (void)state;
    tu_socketpair(sv);
    closed = dup(sv[0]);
    close(closed);
    assert_int_equal(
        port_associate(-1, PORT_SOURCE_FD, (uintptr_t)sv[0], POLLIN, NULL), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(
        port_associate(sv[1], PORT_SOURCE_FD, (uintptr_t)sv[0], POLLIN, NULL),
        -1);
    assert_int_equal(errno, EBADFD);
    assert_int_equal(
        port_associate(port, PORT_SOURCE_FD, (uintptr_t)closed, POLLIN, NULL),
        -1);
    assert_int_equal(errno, EBADFD);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)closed),
                     -1);
    assert_int_equal(errno, EBADFD);
    assert_int_equal(
        port_associate(port, PORT_SOURCE_USER, (uintptr_t)sv[0], POLLIN, NULL),
        -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_USER, (uintptr_t)sv[0]),
                     -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]),
                     -1);
    assert_int_equal(errno, ENOENT);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* Closing an fd removes its associations (the kernel's close path calls
 * port_close_fd()), even when the file lives on through a dup: no event
 * comes for the closed number, and a new file under that number is "not
 * associated with the port" (ENOENT). */
static void test_closed_fd_loses_association(void **state)
{
    int port = pu_port(), sv[2], other[2], fd;
    port_event_t pe;

    (void)state;
    tu_socketpair(sv);
    fd = dup(sv[0]);
    assert_true(fd >= 0);
    assert_int_equal(
        port_associate(port, PORT_SOURCE_FD, (uintptr_t)fd, POLLIN, &cookie_a),
        0);
    close(fd);
    tu_write_byte(sv[1]);
    assert_int_equal(pu_get_now(port, &pe), 0);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)fd), -1);
    assert_int_equal(errno, EBADFD);
    tu_socketpair(other);
    assert_int_equal(dup2(other[0], fd), fd);
    tu_write_byte(other[1]);
    assert_int_equal(pu_get_now(port, &pe), 0);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)fd), -1);
    assert_int_equal(errno, ENOENT);
    close(fd);
    close(other[0]);
    close(other[1]);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* ATTRIBUTES "MT-Level Safe": a dissociation from one thread while another
 * is blocked in port_getn() leaves that thread no event of the fd. */
static void test_dissociate_while_other_thread_waits(void **state)
{
    struct pu_waiter w;
    int port = pu_port(), sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    pu_waiter_start(&w, port, 8, 1);
    pu_waiter_wait_asleep(&w);
    assert_int_equal(port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]),
                     0);
    tu_write_byte(sv[1]);
    assert_int_equal(port_send(port, 7, &cookie_b), 0);
    pu_waiter_join(&w);
    assert_int_equal(w.ret, 0);
    assert_int_equal(w.nget, 1);
    assert_int_equal(w.ev[0].portev_source, PORT_SOURCE_USER);
    assert_int_equal(pu_pending(port), 0);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

/* "The process performing the first association with a port (parent or
 * child process) is designated as the owner of the association. Only the
 * owner of an association is allowed to dissociate the file descriptor
 * from a port." port_create(3C): "ports are shared between child and
 * parent processes after fork()". The child closing its copy of the port
 * leaves the parent's association in place. */
static void test_fork_owner(void **state)
{
    int port = pu_port(), sv[2], status;
    timespec_t deadline = {TU_DEADLINE_MS / 1000, 0};
    port_event_t pe;
    pid_t pid;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(port_associate(port, PORT_SOURCE_FD, (uintptr_t)sv[0],
                                    POLLIN, &cookie_a),
                     0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int r = port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)sv[0]);

        close(port);
        _exit(r == -1 && errno == EACCES ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(port_get(port, &pe, &deadline), 0);
    assert_ptr_equal(pe.portev_user, &cookie_a);
    close(sv[0]);
    close(sv[1]);
    close(port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_event_then_dissociated),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_immediate_and_later_event),
        cmocka_unit_test(test_reassociate_updates),
        cmocka_unit_test(test_reassociate_withdraws_fired_event),
        cmocka_unit_test(test_reassociate_after_retrieval),
        cmocka_unit_test(test_dissociate),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_closed_fd_loses_association),
        cmocka_unit_test(test_dissociate_while_other_thread_waits),
        cmocka_unit_test(test_fork_owner),
    };

    return cmocka_run_group_tests_name("port_associate(3C)", tests, NULL, NULL);
}
