/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "port_testutil.h"

int pu_port(void)
{
    int port = port_create();

    assert_true(port >= 0);
    return port;
}

unsigned pu_pending(int port)
{
    uint_t n = 0;

    assert_int_equal(port_getn(port, NULL, 0, &n, NULL), 0);
    return n;
}

int pu_get_now(int port, port_event_t *pe)
{
    timespec_t zero = {0, 0};

    if (port_get(port, pe, &zero) == 0)
        return 1;
    assert_int_equal(errno, ETIME);
    return 0;
}

static void *waiter_main(void *arg)
{
    struct pu_waiter *w = arg;

    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    w->ret = port_getn(w->port, w->ev, w->max, &w->nget, NULL);
    w->err = w->ret ? errno : 0;
    return NULL;
}

void pu_waiter_start(struct pu_waiter *w, int port, uint_t max, uint_t nget)
{
    w->port = port;
    w->max = max;
    w->nget = nget;
    atomic_store(&w->tid, 0);
    assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

static char task_state(int tid)
{
    char path[64], buf[256], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    f = fopen(path, "r");
    if (f == NULL)
        return '?';
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Once it has started, the thread can only sleep inside the port call:
 * the emulation's lock is free, since this thread makes no port call. */
void pu_waiter_wait_asleep(struct pu_waiter *w)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (atomic_load(&w->tid) == 0 ||
           task_state(atomic_load(&w->tid)) != 'S') {
        assert_true(tu_now_ms() < end);
        sched_yield();
    }
}

void pu_waiter_join(struct pu_waiter *w)
{
    assert_int_equal(pthread_join(w->thread, NULL), 0);
}
