/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "park.h"
#include "testutil.h"

#define MAX_TRAPS 8

struct tu_trap {
    int used;
    enum tp__hook_point point;
    long arg;
    int armed;    /* the next matching hook parks here */
    int parked;   /* a thread is held here */
    int released; /* the parked thread may go */
};

static void on_hook_entry(enum tp__hook_point point, long arg);
static void disarm_in_child(void);
static void install(void);

static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, disarm_in_child);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct tu_trap traps[MAX_TRAPS];
static tp__hook_fn observer;

static struct timespec deadline(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += TU_DEADLINE_MS / 1000;
    return ts;
}

/* The relaxed trap: armed (point + 1, 0 when off), parked, released. */
static atomic_int rx_point, rx_parked, rx_released;
static atomic_long rx_arg;

static int relaxed_hit(enum tp__hook_point point, long arg)
{
    long want;

    if (atomic_load_explicit(&rx_point, memory_order_relaxed) != (int)point + 1)
        return 0;
    want = atomic_load_explicit(&rx_arg, memory_order_relaxed);
    return want < 0 || want == arg;
}

static void relaxed_park(void)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    atomic_store_explicit(&rx_point, 0, memory_order_relaxed);
    atomic_store_explicit(&rx_parked, 1, memory_order_relaxed);
    while (!atomic_load_explicit(&rx_released, memory_order_relaxed) &&
           tu_now_ms() < end)
        sched_yield();
    atomic_store_explicit(&rx_parked, 0, memory_order_relaxed);
}

void tu_relaxed_trap_arm(enum tp__hook_point point, long arg)
{
    atomic_store_explicit(&rx_released, 0, memory_order_relaxed);
    atomic_store_explicit(&rx_parked, 0, memory_order_relaxed);
    atomic_store_explicit(&rx_arg, arg, memory_order_relaxed);
    atomic_store_explicit(&rx_point, (int)point + 1, memory_order_relaxed);
    install();
}

int tu_relaxed_trap_wait(void)
{
    uint64_t end = tu_now_ms() + TU_DEADLINE_MS;

    while (!atomic_load_explicit(&rx_parked, memory_order_relaxed))
        if (tu_now_ms() > end)
            return 0;
        else
            sched_yield();
    return 1;
}

void tu_relaxed_trap_release(void)
{
    atomic_store_explicit(&rx_point, 0, memory_order_relaxed);
    atomic_store_explicit(&rx_released, 1, memory_order_relaxed);
}

static void on_hook(enum tp__hook_point point, long arg)
{
    struct tu_trap *t = NULL;
    int i;

    if (observer != NULL)
        observer(point, arg);
    pthread_mutex_lock(&mu);
    for (i = 0; i < MAX_TRAPS && t == NULL; i++)
        if (traps[i].used && traps[i].armed && traps[i].point == point &&
            (traps[i].arg < 0 || traps[i].arg == arg))
            t = &traps[i];
    if (t != NULL) {
        struct timespec ts = deadline();

        t->armed = 0;
        t->parked = 1;
        pthread_cond_broadcast(&cv);
        /* The deadline keeps a forgotten trap from hanging the suite. */
        while (!t->released &&
               pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
            ;
        t->parked = 0;
        t->used = 0;
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
}

/* Every hook comes here: the relaxed trap first, without any lock. */
static void on_hook_entry(enum tp__hook_point point, long arg)
{
    if (relaxed_hit(point, arg)) {
        relaxed_park();
        return;
    }
    on_hook(point, arg);
}

/* A forked child has none of the parent's other threads: a trap armed for
 * one of them must not catch the child's only thread instead. */
static void disarm_in_child(void)
{
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&cv, NULL);
    memset(traps, 0, sizeof(traps));
    atomic_store_explicit(&rx_point, 0, memory_order_relaxed);
}

static void install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, register_fork_handler);
    tp__hook_install(on_hook_entry);
}

void tu_hook_observe(tp__hook_fn fn)
{
    pthread_mutex_lock(&mu);
    observer = fn;
    pthread_mutex_unlock(&mu);
    install();
}

struct tu_trap *tu_trap_arm(enum tp__hook_point point, long arg)
{
    struct tu_trap *t = NULL;
    int i;

    pthread_mutex_lock(&mu);
    for (i = 0; i < MAX_TRAPS && t == NULL; i++)
        if (!traps[i].used)
            t = &traps[i];
    assert_non_null(t);
    t->used = 1;
    t->point = point;
    t->arg = arg;
    t->armed = 1;
    t->parked = 0;
    t->released = 0;
    pthread_mutex_unlock(&mu);
    install();
    return t;
}

int tu_trap_wait(struct tu_trap *t)
{
    struct timespec ts = deadline();
    int ok;

    pthread_mutex_lock(&mu);
    while (!t->parked && pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
        ;
    ok = t->parked;
    pthread_mutex_unlock(&mu);
    return ok;
}

int tu_trap_parked(struct tu_trap *t)
{
    int p;

    pthread_mutex_lock(&mu);
    p = t->parked;
    pthread_mutex_unlock(&mu);
    return p;
}

void tu_trap_release(struct tu_trap *t)
{
    pthread_mutex_lock(&mu);
    t->armed = 0;
    if (t->parked) {
        t->released = 1;
        pthread_cond_broadcast(&cv);
    } else {
        t->used = 0;
    }
    pthread_mutex_unlock(&mu);
}
