/* SPDX-License-Identifier: MIT */
/*
 * The emulation's changelist, checked against FreeBSD's kqueue(2); each
 * test quotes the sentence it checks.
 */
#include <unistd.h>

#include "kq_testutil.h"

/* "A kevent is identified by the (ident, filter) pair; there may only be
 * one unique kevent per kqueue." */
static void test_identity_pair(void **state)
{
    struct kevent ev[4];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_WRITE, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 4), 2);
    assert_non_null(kt_find(ev, 2, sv[0], KT_READ));
    assert_non_null(kt_find(ev, 2, sv[0], KT_WRITE));
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "Re-adding an existing event will modify the parameters of the original
 * event, and not result in a duplicate entry." */
static void test_readd_modifies(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2], a, b;

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, &a), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, &b), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_ptr_equal(KT_UDATA(ev[0]), &b);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "[ENOENT] The event could not be found to be modified or deleted." */
static void test_missing_knote_enoent(void **state)
{
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_DELETE, 0, NULL),
                     -ENOENT);
    assert_int_equal(kt_change(kq, sv[0], KT_WRITE, EV_DISABLE, 0, NULL),
                     -ENOENT);
#ifdef KT_USER
    assert_int_equal(kt_change(kq, 7, KT_USER, 0, NOTE_TRIGGER, NULL), -ENOENT);
#endif
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_DELETE, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_DELETE, 0, NULL),
                     -ENOENT);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "If an error occurs while processing an element of the changelist and
 * there is enough room in the eventlist, then the event will be placed in
 * the eventlist with EV_ERROR set in flags and the system error in data."
 * Processing goes on with the next change. */
static void test_error_entry_and_continue(void **state)
{
    struct kevent ch[3], ev[3];
    int kq = kt_new(), a[2], b[2], c[2];

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    tu_socketpair(c);
    EV_SET(&ch[0], a[0], KT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], b[0], KT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[2], c[0], KT_READ, EV_ADD, 0, 0, NULL);
    assert_int_equal(kevent(kq, ch, 3, ev, 3, &kt_zero), 1);
    assert_int_equal(ev[0].ident, b[0]);
    assert_int_equal((int)ev[0].filter, KT_READ);
    assert_true(ev[0].flags & EV_ERROR);
    assert_int_equal(ev[0].data, ENOENT);
    assert_int_equal(kt_change(kq, a[0], KT_READ, EV_DELETE, 0, NULL), 0);
    assert_int_equal(kt_change(kq, c[0], KT_READ, EV_DELETE, 0, NULL), 0);
    close(kq);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
}

/* "Otherwise, -1 will be returned, and errno will be set to indicate the
 * error condition." The changes after the failing one are not applied. */
static void test_error_without_room(void **state)
{
    struct kevent ch[3];
    int kq = kt_new(), a[2], b[2], c[2];

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    tu_socketpair(c);
    EV_SET(&ch[0], a[0], KT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], b[0], KT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[2], c[0], KT_READ, EV_ADD, 0, 0, NULL);
    assert_int_equal(kevent(kq, ch, 3, NULL, 0, NULL), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(kt_change(kq, a[0], KT_READ, EV_DELETE, 0, NULL), 0);
    assert_int_equal(kt_change(kq, c[0], KT_READ, EV_DELETE, 0, NULL), -ENOENT);
    close(kq);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
}

#ifdef EV_RECEIPT
/* EV_RECEIPT: "When passed as input, it forces EV_ERROR to always be
 * returned. When a filter is successfully added the data field will be
 * zero." and it is for "making bulk changes to a kqueue without draining
 * any pending events". */
static void test_receipt(void **state)
{
    struct kevent ch[3], ev[3];
    int kq = kt_new(), a[2], b[2];

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    tu_write_byte(a[1]);
    EV_SET(&ch[0], a[0], KT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[1], b[0], KT_READ, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[2], b[0], KT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    assert_int_equal(kevent(kq, ch, 3, ev, 3, &kt_zero), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ev[i].ident, ch[i].ident);
        assert_true(ev[i].flags & EV_ERROR);
    }
    assert_int_equal(ev[0].data, 0);
    assert_int_equal(ev[1].data, ENOENT);
    assert_int_equal(ev[2].data, 0);
    /* The readiness of a[0] is still pending. */
    assert_int_equal(kt_scan(kq, ev, 3), 1);
    assert_int_equal(ev[0].ident, a[0]);
    assert_false(ev[0].flags & EV_ERROR);
    close(kq);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}
#endif

#ifdef EV_RECEIPT
/* "Note that if this flag is encountered and there is no remaining space
 * in eventlist to hold the EV_ERROR event, then subsequent changes will
 * not get processed." As in FreeBSD, the change that finds no room was
 * applied; the ones after it are not. */
static void test_receipt_without_room(void **state)
{
    struct kevent ch[3], ev[1];
    int kq = kt_new(), a[2], b[2], c[2];

    (void)state;
    tu_socketpair(a);
    tu_socketpair(b);
    tu_socketpair(c);
    EV_SET(&ch[0], a[0], KT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[1], b[0], KT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[2], c[0], KT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    assert_int_equal(kevent(kq, ch, 3, ev, 1, &kt_zero), 1);
    assert_int_equal(ev[0].ident, a[0]);
    assert_int_equal(kt_change(kq, a[0], KT_READ, EV_DELETE, 0, NULL), 0);
    assert_int_equal(kt_change(kq, b[0], KT_READ, EV_DELETE, 0, NULL), 0);
    assert_int_equal(kt_change(kq, c[0], KT_READ, EV_DELETE, 0, NULL), -ENOENT);
    close(kq);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
}
#endif

/* "All changes contained in the changelist are applied before any pending
 * events are read from the queue." and "The same array may be used for
 * the changelist and eventlist." */
static void test_changes_then_scan_same_array(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2], tag;

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    EV_SET(&ev[0], sv[0], KT_READ, EV_ADD, 0, 0, &tag);
    EV_SET(&ev[1], sv[0], KT_WRITE, EV_ADD, 0, 0, &tag);
    assert_int_equal(kevent(kq, ev, 2, ev, 2, &kt_zero), 2);
    assert_non_null(kt_find(ev, 2, sv[0], KT_READ));
    assert_non_null(kt_find(ev, 2, sv[0], KT_WRITE));
    assert_ptr_equal(KT_UDATA(ev[0]), &tag);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* EV_DISABLE: "Disable the event so kevent() will not return it. The
 * filter itself is not disabled." EV_ENABLE: "Permit kevent() to return
 * the event if it is triggered." */
static void test_enable_disable(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD, 0, NULL), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_DISABLE, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ENABLE, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal(ev[0].data, 2);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* "Adding an event automatically enables it, unless overridden by the
 * EV_DISABLE flag." */
static void test_add_disabled(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(
        kt_change(kq, sv[0], KT_READ, EV_ADD | EV_DISABLE, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ENABLE, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* EV_ONESHOT: "Causes the event to return only the first occurrence of the
 * filter being triggered. After the user retrieves the event from the
 * kqueue, it is deleted." */
static void test_oneshot(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(
        kt_change(kq, sv[0], KT_READ, EV_ADD | EV_ONESHOT, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_true(ev[0].flags & EV_ONESHOT);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_DELETE, 0, NULL),
                     -ENOENT);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

/* EV_CLEAR: "After the event is retrieved by the user, its state is
 * reset." New data makes it fire again. */
static void test_clear(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ADD | EV_CLEAR, 0, NULL),
                     0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal(ev[0].data, 1);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    tu_write_byte(sv[1]);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal(ev[0].data, 2);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}

#ifdef EV_DISPATCH
/* EV_DISPATCH: "Disable the event source immediately after delivery of an
 * event." */
static void test_dispatch(void **state)
{
    struct kevent ev[2];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    tu_write_byte(sv[1]);
    assert_int_equal(
        kt_change(kq, sv[0], KT_READ, EV_ADD | EV_DISPATCH, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    assert_int_equal(kt_scan(kq, ev, 2), 0);
    assert_int_equal(kt_change(kq, sv[0], KT_READ, EV_ENABLE, 0, NULL), 0);
    assert_int_equal(kt_scan(kq, ev, 2), 1);
    close(kq);
    close(sv[0]);
    close(sv[1]);
}
#endif

/* "[EBADF] The specified descriptor is invalid." and "[EINVAL] The
 * specified time limit or filter is invalid." */
static void test_bad_arguments(void **state)
{
    struct timespec bad = {0, 1000000000};
    struct kevent ev[1];
    int kq = kt_new(), sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(kt_change(kq, sv[0], 42, EV_ADD, 0, NULL), -EINVAL);
    close(sv[1]);
    assert_int_equal(kt_change(kq, sv[1], KT_READ, EV_ADD, 0, NULL), -EBADF);
    assert_int_equal(kevent(sv[0], NULL, 0, ev, 1, &kt_zero), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(kevent(kq, NULL, 0, ev, 1, &bad), -1);
    assert_int_equal(errno, EINVAL);
    close(kq);
    assert_int_equal(kevent(kq, NULL, 0, ev, 1, &kt_zero), -1);
    assert_int_equal(errno, EBADF);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_pair),
        cmocka_unit_test(test_readd_modifies),
        cmocka_unit_test(test_missing_knote_enoent),
        cmocka_unit_test(test_error_entry_and_continue),
        cmocka_unit_test(test_error_without_room),
#ifdef EV_RECEIPT
        cmocka_unit_test(test_receipt),
#endif
#ifdef EV_RECEIPT
        cmocka_unit_test(test_receipt_without_room),
#endif
        cmocka_unit_test(test_changes_then_scan_same_array),
        cmocka_unit_test(test_enable_disable),
        cmocka_unit_test(test_add_disabled),
        cmocka_unit_test(test_oneshot),
        cmocka_unit_test(test_clear),
#ifdef EV_DISPATCH
        cmocka_unit_test(test_dispatch),
#endif
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests_name("kqueue emulation: changelist", tests,
                                       NULL, NULL);
}
