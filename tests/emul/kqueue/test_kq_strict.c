/* SPDX-License-Identifier: MIT */
/*
 * Where the emulation is as strict as the kernel it behaves as
 * (TPOLL_EMUL_FLAVOUR), so that a backend relying on Linux's leniency
 * fails here first. Each test quotes the man page sentence it checks, or
 * names the kernel function where no man page says it. Runs with
 * TPOLL_BACKEND=kqueue, so that pipes are the flavour's.
 *
 * Descriptors: test_batch_every_ready_event needs EMUL_NPAIRS socket pairs
 * (the fixture of emul_pairs.h checks the limit and closes them).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define EMUL_NPAIRS 100
#include "../emul_pairs.h"
#include "kq_testutil.h"

/* "The kevent() system call returns the number of events placed in the
 * eventlist, up to the value given by nevents." Every active knote, all
 * of them in one call when they fit. */
static void test_batch_every_ready_event(void **state)
{
    struct emul_pairs *p = *state;
    struct kevent ev[2 * EMUL_NPAIRS];

    p->poller = kt_new();
    for (int i = 0; i < EMUL_NPAIRS; i++) {
        tu_socketpair(p->sv[i]);
        tu_write_byte(p->sv[i][1]);
        assert_int_equal(
            kt_change(p->poller, p->sv[i][0], KT_READ, EV_ADD, 0, NULL), 0);
    }
    assert_int_equal(kt_scan(p->poller, ev, 2 * EMUL_NPAIRS), EMUL_NPAIRS);
    /* Level-triggered: all of them again, in full batches. */
    assert_int_equal(kt_scan(p->poller, ev, 40), 40);
    assert_int_equal(kt_scan(p->poller, ev, 40), 40);
}

/* "The filter is also run when the user attempts to retrieve the kevent
 * from the kqueue. If the filter indicates that the condition that
 * triggered the event no longer holds, the kevent is removed from the
 * kqueue and is not returned." One that holds stays, behind the others
 * (kqueue_scan() puts it back at the tail): with a batch of one, the read
 * and write knotes of a descriptor take turns. */
static void test_batch_of_one_takes_turns(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2], last = -100; /* no filter numbers -100 */

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_WRITE, EV_ADD, 0, NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(kt_scan(kq, ev, 1), 1);
        assert_int_not_equal((int)ev[0].filter, last);
        last = (int)ev[0].filter;
    }
    /* The data is gone before the read knote's turn: it is not returned,
     * the write knote is. */
    assert_int_equal(tu_drain(sv[0]), 1);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal((int)ev[0].filter, KT_WRITE);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "Calling close() on a file descriptor will remove any kevents that
 * reference the descriptor": dup2() closes the number it re-points, even
 * to the same file, so its knotes are gone though the file never was. */
static void test_dup2_same_file_drops_knotes(void **state)
{
    struct kevent ev[1];
    int kq = kt_new(), sv[2], keep;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    keep = dup(sv[0]);
    assert_true(keep >= 0);
    assert_int_equal(dup2(keep, sv[0]), sv[0]);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_scan(kq, ev, 1), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_DELETE, 0, NULL),
                     -ENOENT);
    close(keep);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* EVFILT_WRITE: "For sockets, the low water mark and socket error
 * handling is identical to the EVFILT_READ case", where "If the read
 * direction of the socket has shutdown, then the filter also sets EV_EOF";
 * for writing, that is once the socket can send no more, the program's
 * own shutdown(SHUT_WR) included ("Further sends will be disallowed",
 * shutdown(2); filt_sowrite() tests CANTSENDMORE). The peer is still
 * there: the read filter reports nothing. */
static void test_write_eof_after_own_shutdown(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(kt_change(kq, sv[0], KT_WRITE, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_false(ev[0].flags & EV_EOF);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal((int)ev[0].filter, KT_WRITE);
    assert_true(ev[0].flags & EV_EOF);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* Attaching EVFILT_WRITE to a pipe whose reader is gone: FreeBSD's and
 * OpenBSD's pipe_kqfilter() refuse it with EPIPE, NetBSD's with EBADF
 * ("other end of pipe has been closed"), macOS attaches it and reports
 * EV_EOF ("The filter will set EV_EOF when the reader disconnects"). In an
 * eventlist with room, the refusal is an entry: "the event will be placed
 * in the eventlist with EV_ERROR set in flags and the system error in
 * data". */
static void test_write_attach_to_widowed_pipe(void **state)
{
    struct kevent ch, ev[1];
    int kq = kt_new(), p[2];

    (void)state;
    tu_pipe(p);
    close(p[0]);
    EV_SET(&ch, p[1], KT_WRITE, EV_ADD, 0, 0, NULL);
    if (TP_EMUL_MACOS) {
        assert_int_equal(kevent(kq, &ch, 1, ev, 1, &kt_zero), 1);
        assert_false(ev[0].flags & EV_ERROR);
        assert_true(ev[0].flags & EV_EOF);
    } else {
        assert_int_equal(kevent(kq, &ch, 1, ev, 1, &kt_zero), 1);
        assert_true(ev[0].flags & EV_ERROR);
        assert_int_equal(ev[0].data, TP_EMUL_NETBSD ? EBADF : EPIPE);
        assert_int_equal(kt_change(kq, p[1], KT_WRITE, EV_DELETE, 0, NULL),
                         -ENOENT);
    }
    close(kq);
    close(p[1]);
}

/* FreeBSD's pipe(2): "The pipe() function creates a pipe, which is an
 * object allowing bidirectional data flow"; the others' go one way. */
static void test_pipe_direction(void **state)
{
    char c = 0;
    int p[2];

    (void)state;
    tu_pipe(p);
    if (TP_EMUL_FREEBSD) {
        assert_int_equal(write(p[0], "x", 1), 1);
        assert_int_equal(read(p[1], &c, 1), 1);
        assert_int_equal(c, 'x');
    } else {
        assert_int_equal(write(p[0], "x", 1), -1);
        assert_int_equal(errno, EBADF);
    }
    close(p[0]);
    close(p[1]);
}

/* The flags of what kevent() returns, as each kernel writes them: an
 * error or receipt entry has "EV_ERROR set in flags", by assignment in
 * FreeBSD, OpenBSD and NetBSD ("kevp->flags = EV_ERROR" in their
 * kevent()), or-ed into the change's flags on macOS ("kev->flags |=
 * EV_ERROR" in kevent_register()); an event keeps the flags the knote
 * was added with, less the actions (kqueue_register()), EV_RECEIPT
 * included. A backend that compares flags with == breaks on one of them. */
static void test_returned_flags(void **state)
{
    struct kevent ch, ev[1];
    int kq = kt_new(), sv[2];
    unsigned add = EV_ADD;

    (void)state;
#ifdef EV_RECEIPT
    add |= EV_RECEIPT;
#endif
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    EV_SET(&ch, sv[0], KT_READ, EV_DELETE, 0, 0, NULL);
    assert_int_equal(kevent(kq, &ch, 1, ev, 1, &kt_zero), 1);
    assert_int_equal(ev[0].flags,
                     TP_EMUL_MACOS ? EV_DELETE | EV_ERROR : EV_ERROR);
    assert_int_equal(ev[0].data, ENOENT);
    EV_SET(&ch, sv[0], KT_READ, add, 0, 0, NULL);
    assert_int_equal(kevent(kq, &ch, 1, ev, 1, &kt_zero), 1);
#ifdef EV_RECEIPT
    assert_int_equal(ev[0].flags, TP_EMUL_MACOS ? add | EV_ERROR : EV_ERROR);
    assert_int_equal(ev[0].data, 0);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
#endif
    assert_int_equal(ev[0].flags, add & ~(unsigned)EV_ADD);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* udata is "Opaque user-defined value passed through the kernel
 * unchanged": an integer where the flavour's udata is intptr_t (NetBSD
 * before 10), a pointer elsewhere. */
static void test_udata_round_trip(void **state)
{
    struct kevent ch, ev[1];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    EV_SET(&ch, sv[0], KT_READ, EV_ADD, 0, 0, (void *)(uintptr_t)0x5a5a);
    assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 1), 1);
    assert_int_equal((uintptr_t)ev[0].udata, 0x5a5a);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* kqueue() makes a descriptor that exec'd programs inherit, as any;
 * kqueuex(2): "KQUEUE_CLOEXEC The returned file descriptor is
 * automatically closed on execve(2)" (FreeBSD), kqueue1(2) with O_CLOEXEC
 * (OpenBSD, NetBSD); macOS has neither. */
static void test_close_on_exec(void **state)
{
    int kq = kt_new(), kqx = -1;

    (void)state;
    assert_false(fcntl(kq, F_GETFD) & FD_CLOEXEC);
#if TP_EMUL_FREEBSD
    kqx = kqueuex(KQUEUE_CLOEXEC);
    assert_int_equal(kqueuex(0x100), -1);
    assert_int_equal(errno, EINVAL);
#elif TP_EMUL_OPENBSD || TP_EMUL_NETBSD
    kqx = kqueue1(O_CLOEXEC);
#endif
    if (kqx >= 0) {
        assert_true(fcntl(kqx, F_GETFD) & FD_CLOEXEC);
        close(kqx);
    }
    close(kq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_every_ready_event,
                                        emul_pairs_up, emul_pairs_down),
        cmocka_unit_test(test_batch_of_one_takes_turns),
        cmocka_unit_test(test_dup2_same_file_drops_knotes),
        cmocka_unit_test(test_write_eof_after_own_shutdown),
        cmocka_unit_test(test_write_attach_to_widowed_pipe),
        cmocka_unit_test(test_pipe_direction),
        cmocka_unit_test(test_returned_flags),
        cmocka_unit_test(test_udata_round_trip),
        cmocka_unit_test(test_close_on_exec),
    };

    return cmocka_run_group_tests_name(
        "kqueue emulation: as strict as " TP_EMUL_FLAVOUR_NAME, tests, NULL,
        NULL);
}
