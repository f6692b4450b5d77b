/* SPDX-License-Identifier: MIT */
/* port_create(3C), port_send(3C) and port_alert(3C), sentence by sentence. */
#include <errno.h>

#include "port_testutil.h"

static int cookie_a, cookie_b;

/* "The port_create() function returns a file descriptor that represents a
 * newly created port. The close(2) function destroys the port and frees
 * all allocated resources." */
static void test_create_close(void **state)
{
    int before = tu_count_open_fds(), port, i;

    (void)state;
    for (i = 0; i < 3; i++) {
        port = pu_port();
        assert_int_equal(port_send(port, 1, NULL), 0);
        assert_int_equal(close(port), 0);
    }
    assert_int_equal(tu_count_open_fds(), before);
}

/* "The sent event has its portev_events member set to the value specified
 * in the events parameter and its portev_user member set to the value
 * specified in the user parameter." */
static void test_send_fields(void **state)
{
    int port = pu_port();
    port_event_t pe;

    (void)state;
    assert_int_equal(port_send(port, 0x42, &cookie_a), 0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_source, PORT_SOURCE_USER);
    assert_int_equal(pe.portev_events, 0x42);
    assert_ptr_equal(pe.portev_user, &cookie_a);
    assert_int_equal(pu_get_now(port, &pe), 0);
    close(port);
}

/* port_get(3C): "The following code could also be executed in another
 * thread or process." A user event wakes a thread blocked in port_getn(). */
static void test_send_wakes_waiter(void **state)
{
    struct pu_waiter w;
    int port = pu_port();

    (void)state;
    pu_waiter_start(&w, port, 8, 1);
    pu_waiter_wait_asleep(&w);
    assert_int_equal(port_send(port, 3, &cookie_b), 0);
    pu_waiter_join(&w);
    assert_int_equal(w.ret, 0);
    assert_int_equal(w.nget, 1);
    assert_ptr_equal(w.ev[0].portev_user, &cookie_b);
    close(port);
}

/* "EAGAIN The maximum number of events per port is exceeded." (the
 * default process.max-port-events is 65536) */
static void test_send_eagain(void **state)
{
    int port = pu_port(), i;
    uint_t n = 0;

    (void)state;
    for (i = 0; i < 65536; i++)
        assert_int_equal(port_send(port, 1, NULL), 0);
    assert_int_equal(port_send(port, 1, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(port_getn(port, NULL, 0, &n, NULL), 0);
    assert_int_equal(n, 65536);
    close(port);
}

/* "EBADF The port file descriptor is not valid." "EBADFD The port argument
 * is not an event port file descriptor." */
static void test_send_ebadf_ebadfd(void **state)
{
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(port_send(-1, 1, NULL), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(port_send(p[0], 1, NULL), -1);
    assert_int_equal(errno, EBADFD);
    close(p[0]);
    close(p[1]);
}

/* port_alert(3C): "A port in alert mode immediately awakens all threads
 * blocked in port_get(3C) or port_getn(3C). These threads return with an
 * alert notification that consists of a single port_event_t structure
 * with the source PORT_SOURCE_ALERT." */
static void test_alert_wakes_all(void **state)
{
    struct pu_waiter w[2];
    int port = pu_port(), i;

    (void)state;
    for (i = 0; i < 2; i++) {
        pu_waiter_start(&w[i], port, 8, 4);
        pu_waiter_wait_asleep(&w[i]);
    }
    assert_int_equal(port_alert(port, PORT_ALERT_SET, 9, &cookie_a), 0);
    for (i = 0; i < 2; i++) {
        pu_waiter_join(&w[i]);
        assert_int_equal(w[i].ret, 0);
        assert_int_equal(w[i].nget, 1);
        assert_int_equal(w[i].ev[0].portev_source, PORT_SOURCE_ALERT);
        assert_int_equal(w[i].ev[0].portev_events, 9);
        assert_ptr_equal(w[i].ev[0].portev_user, &cookie_a);
    }
    close(port);
}

/* "Subsequent threads trying to retrieve events from a port that is in
 * alert mode will return immediately with the alert notification."
 * "Events can be queued to a port that is in alert mode, but they will not
 * be retrievable until the port is transitioned out of alert mode." "A
 * port is transitioned out of alert mode by calling the port_alert()
 * function with a zero events parameter." */
static void test_alert_mode(void **state)
{
    int port = pu_port();
    port_event_t pe;

    (void)state;
    assert_int_equal(port_alert(port, PORT_ALERT_SET, 1, NULL), 0);
    assert_int_equal(port_send(port, 5, &cookie_b), 0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_source, PORT_SOURCE_ALERT);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_source, PORT_SOURCE_ALERT);
    assert_int_equal(port_alert(port, 0, 0, NULL), 0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_source, PORT_SOURCE_USER);
    assert_ptr_equal(pe.portev_user, &cookie_b);
    assert_int_equal(pu_get_now(port, &pe), 0);
    close(port);
}

/* "If flags is set to PORT_ALERT_UPDATE and the port is already in alert
 * mode, port_alert() returns with an error value of EBUSY." "EINVAL
 * Mutually exclusive flags are set." "If flags is set to PORT_ALERT_SET,
 * port_alert() sets the port in alert mode independent of the current
 * state of the port. The portev_events and portev_user members are set or
 * updated accordingly." */
static void test_alert_flags(void **state)
{
    int port = pu_port();
    port_event_t pe;

    (void)state;
    assert_int_equal(port_alert(port, PORT_ALERT_UPDATE, 1, &cookie_a), 0);
    assert_int_equal(port_alert(port, PORT_ALERT_UPDATE, 2, &cookie_b), -1);
    assert_int_equal(errno, EBUSY);
    assert_int_equal(
        port_alert(port, PORT_ALERT_SET | PORT_ALERT_UPDATE, 2, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(port_alert(port, PORT_ALERT_SET, 3, &cookie_b), 0);
    assert_int_equal(pu_get_now(port, &pe), 1);
    assert_int_equal(pe.portev_events, 3);
    assert_ptr_equal(pe.portev_user, &cookie_b);
    close(port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_close),
        cmocka_unit_test(test_send_fields),
        cmocka_unit_test(test_send_wakes_waiter),
        cmocka_unit_test(test_send_eagain),
        cmocka_unit_test(test_send_ebadf_ebadfd),
        cmocka_unit_test(test_alert_wakes_all),
        cmocka_unit_test(test_alert_mode),
        cmocka_unit_test(test_alert_flags),
    };

    return cmocka_run_group_tests_name(
        "port_create(3C) port_send(3C) port_alert(3C)", tests, NULL, NULL);
}
