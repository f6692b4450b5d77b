/* SPDX-License-Identifier: MIT */
/*
 * Timers: a hierarchical wheel per thread id, 7 levels of 64 slots, 1 ms
 * per tick at level 0 and 64 times more per level, each slot a FIFO list
 * of the timers themselves. A timer sits at the level of the highest
 * 6-bit digit in which its due tick differs from the current one, so
 * that arming and cancelling are a list link and unlink, and a timer is
 * moved down (cascaded) at most once per level as its time nears, to
 * fire exactly at its tick. Timers armed between two waits wait in a
 * pending list, without a clock read; the next wait reads the clock once
 * and places them all.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "binding.h"
#include "hooks.h"
#include "svc.h"

/* Where a timer is, in the low bits of tp_state; the wheel's epoch above
 * them. A timer stamped with another epoch is idle, wherever its links
 * point (its thread stopped, or vanished in a fork). */
#define W_IDLE 0u
#define W_PENDING 1u
#define W_WHEEL 2u
#define W_SHIFT 2
#define W_EPOCHS (UINT_MAX >> W_SHIFT)

#define LEVEL_MASK (TP_WHEEL_SLOTS - 1)
#define TICK_NS 1000000u

/* Tests: the timers' clock runs this many milliseconds ahead. */
static tp_atomic_t skew_ms;

void tp__timer_skew_ms(AO_t ms)
{
    tp_store(&skew_ms, ms);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
           (uint64_t)tp_load_relaxed(&skew_ms) * 1000000u;
}

static struct tpoll_timer *timer_of(struct tpoll_timer_link *l)
{
    return (struct tpoll_timer *)(void *)l; /* the link is the first field */
}

static void list_init(struct tpoll_timer_link *head)
{
    head->next = head->prev = head;
}

static int list_empty(const struct tpoll_timer_link *head)
{
    return head->next == head;
}

static void list_append(struct tpoll_timer_link *head,
                        struct tpoll_timer_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static void list_unlink(struct tpoll_timer_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
}

/* Moves every entry of `from` to the empty list `to`. */
static void list_move(struct tpoll_timer_link *from,
                      struct tpoll_timer_link *to)
{
    list_init(to);
    if (list_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    list_init(from);
}

static unsigned where(const struct tp__wheel *w, const struct tpoll_timer *t)
{
    return t->tp_state >> W_SHIFT == w->epoch ? t->tp_state & 3u : W_IDLE;
}

static void set_where(const struct tp__wheel *w, struct tpoll_timer *t,
                      unsigned wh)
{
    t->tp_state = w->epoch << W_SHIFT | wh;
}

void tp__wheel_init(struct tp__wheel *w)
{
    int l, i;

    w->base_ns = mono_ns();
    w->cur = 0;
    w->armed = w->placed = 0;
    w->epoch = w->epoch % W_EPOCHS + 1;
    w->min_tick = UINT64_MAX;
    memset(w->used, 0, sizeof(w->used));
    list_init(&w->pending);
    for (l = 0; l < TP_WHEEL_LEVELS; l++)
        for (i = 0; i < TP_WHEEL_SLOTS; i++)
            list_init(&w->slot[l][i]);
}

/* ---- the wheel ---- */

static unsigned digit(uint64_t tick, int level)
{
    return (unsigned)(tick >> (level * TP_WHEEL_BITS)) & LEVEL_MASK;
}

static uint64_t tick_of(const struct tpoll_timer *t)
{
    return t->tp_due / TICK_NS;
}

/* Due at the current tick or after it. */
static void place(struct tp__wheel *w, struct tpoll_timer *t)
{
    uint64_t tick = tick_of(t), x = tick ^ w->cur;
    int level =
        x < TP_WHEEL_SLOTS ? 0 : (63 - __builtin_clzll(x)) / TP_WHEEL_BITS;
    unsigned i = digit(tick, level);

    list_append(&w->slot[level][i], &t->tp_link);
    w->used[level] |= (uint64_t)1 << i;
    set_where(w, t, W_WHEEL);
    if (tick == w->min_tick && t->tp_due < w->min_due)
        w->min_due = t->tp_due;
}

/* A timer left the wheel: the earliest due time known may be gone. */
static void unplace(struct tp__wheel *w)
{
    w->placed--;
    w->min_tick = UINT64_MAX;
}

/*
 * The next tick at which something happens: a level-0 slot to fire (the
 * current tick's own slot included: it may hold timers due later in this
 * millisecond), or a higher slot to cascade (at the start of its span).
 * Every timer of level L > 0 is in a slot above the current tick's digit
 * L, in the current span of level L + 1, so the first level with a used
 * slot there names the next tick. `from` is 0 to include the current
 * tick, 1 to look after it.
 */
static uint64_t next_tick(struct tp__wheel *w, unsigned from)
{
    int level;

    for (level = 0; level < TP_WHEEL_LEVELS; level++) {
        unsigned d = digit(w->cur, level) + (level ? 1 : from);
        unsigned shift = level * TP_WHEEL_BITS;
        uint64_t later = d >= TP_WHEEL_SLOTS ? 0 : w->used[level] >> d << d;

        while (later) {
            unsigned i = (unsigned)__builtin_ctzll(later);

            if (!list_empty(&w->slot[level][i]))
                return (w->cur >> (shift + TP_WHEEL_BITS)
                                      << (shift + TP_WHEEL_BITS)) +
                       ((uint64_t)i << shift);
            w->used[level] &= ~((uint64_t)1 << i);
            later &= later - 1;
        }
    }
    return UINT64_MAX;
}

/* The earliest due time in the level-0 slot of `tick`, kept until a
 * timer leaves the wheel (a placement can only lower it). */
static uint64_t min_due(struct tp__wheel *w, uint64_t tick)
{
    struct tpoll_timer_link *head = &w->slot[0][digit(tick, 0)], *l;

    if (w->min_tick != tick) {
        w->min_tick = tick;
        w->min_due = UINT64_MAX;
        for (l = head->next; l != head; l = l->next)
            if (timer_of(l)->tp_due < w->min_due)
                w->min_due = timer_of(l)->tp_due;
    }
    return w->min_due;
}

static void cascade(struct tp__wheel *w, int level, unsigned i)
{
    struct tpoll_timer_link list;

    list_move(&w->slot[level][i], &list);
    w->used[level] &= ~((uint64_t)1 << i);
    while (!list_empty(&list)) {
        struct tpoll_timer *t = timer_of(list.next);

        list_unlink(&t->tp_link);
        place(w, t);
    }
}

/* After a fork in a callback the rest is the child's copy of timers due:
 * they fire at its next wait. */
static void put_back(struct tp__wheel *w, struct tpoll_timer_link *list)
{
    while (!list_empty(list)) {
        struct tpoll_timer *t = timer_of(list->next);

        list_unlink(&t->tp_link);
        t->tp_due = 0;
        list_append(&w->pending, &t->tp_link);
        set_where(w, t, W_PENDING);
        unplace(w);
    }
}

/*
 * Fires the timers of the current tick's slot that are due by `now`, in
 * the slot's order (the order they were placed). They are moved out
 * first: a callback may cancel the others, or arm timers (pending).
 */
static int expire(struct tp__thread *th, uint64_t now)
{
    struct tp__wheel *w = &th->svc->wheel;
    struct tpoll_timer_link *head = &w->slot[0][digit(w->cur, 0)], *l;
    struct tpoll_timer_link due;

    list_init(&due);
    for (l = head->next; l != head;) {
        struct tpoll_timer *t = timer_of(l);

        l = l->next;
        if (t->tp_due <= now) {
            list_unlink(&t->tp_link);
            list_append(&due, &t->tp_link);
        }
    }
    while (!list_empty(&due)) {
        struct tpoll_timer *t = timer_of(due.next);

        list_unlink(&t->tp_link);
        set_where(w, t, W_IDLE);
        w->armed--;
        unplace(w);
        TP_HOOK(TP_HOOK_TIMER_FIRE, th->tid);
        t->tp_cb(th->head.tp, t, t->tp_arg);
        th->head.dispatched++;
        if (TP_UNLIKELY(th->fork_pending)) {
            put_back(w, &due);
            return 0;
        }
    }
    return 1;
}

/* Every tick up to now's: at each one that matters, cascade the slots
 * whose span starts there (highest first: their timers may land in the
 * lower slots cascaded next), then fire what is due of its level-0 slot
 * (all of it, for a tick that is over). */
static void advance(struct tp__thread *th, uint64_t now)
{
    struct tp__wheel *w = &th->svc->wheel;
    uint64_t now_tick = now / TICK_NS;

    for (;;) {
        uint64_t next;
        int level;

        if (!expire(th, now) || w->cur >= now_tick)
            return;
        next = w->placed > 0 ? next_tick(w, 1) : UINT64_MAX;
        if (next > now_tick) {
            w->cur = now_tick;
            return;
        }
        w->cur = next;
        for (level = TP_WHEEL_LEVELS - 1; level > 0; level--)
            if ((next & (((uint64_t)1 << (level * TP_WHEEL_BITS)) - 1)) == 0)
                cascade(w, level, digit(next, level));
    }
}

/* A timer armed at real time r with delay d is due at r + d, r read
 * after the arm call: never early. */
static void place_pending(struct tp__wheel *w, uint64_t now)
{
    while (!list_empty(&w->pending)) {
        struct tpoll_timer *t = timer_of(w->pending.next);

        list_unlink(&t->tp_link);
        t->tp_due = now + t->tp_due * TICK_NS;
        place(w, t);
        w->placed++;
    }
}

/* The poll's timeout (whole milliseconds, rounded up) runs to the exact
 * due time of the first timer when it is in a level-0 slot: a timer armed
 * just before the poll is not rounded twice. */
int tp__timer_timeout(struct tp__thread *th, int timeout_ms)
{
    struct tp__wheel *w = &th->svc->wheel;
    uint64_t now = mono_ns() - w->base_ns, next, due, wait;

    place_pending(w, now);
    next = next_tick(w, 0);
    if (next == UINT64_MAX)
        return timeout_ms;
    due = next * TICK_NS;
    if (!((next ^ w->cur) >> TP_WHEEL_BITS)) /* a level-0 slot */
        due = min_due(w, next);
    if (due <= now)
        return 0;
    wait = (due - now + TICK_NS - 1) / TICK_NS;
    if (wait > INT_MAX)
        wait = INT_MAX;
    return timeout_ms >= 0 && (uint64_t)timeout_ms < wait ? timeout_ms
                                                          : (int)wait;
}

void tp__timer_fire(struct tp__thread *th)
{
    advance(th, mono_ns() - th->svc->wheel.base_ns);
}

/* ---- arming ---- */

static void arm_local(struct tp__wheel *w, struct tpoll_timer *t,
                      uint64_t delay)
{
    unsigned wh = where(w, t);

    if (wh != W_IDLE)
        list_unlink(&t->tp_link);
    else
        w->armed++;
    if (wh == W_WHEEL)
        unplace(w);
    t->tp_due = delay;
    list_append(&w->pending, &t->tp_link);
    set_where(w, t, W_PENDING);
}

static int cancel_local(struct tp__wheel *w, struct tpoll_timer *t)
{
    unsigned wh = where(w, t);

    if (wh == W_IDLE)
        return 0;
    list_unlink(&t->tp_link);
    set_where(w, t, W_IDLE);
    w->armed--;
    if (wh == W_WHEEL)
        unplace(w);
    return 1;
}

void tp__timer_apply(struct tp__thread *th, struct tpoll_timer *t,
                     uint64_t delay)
{
    if (delay == TP_TIMER_CANCEL)
        cancel_local(&th->svc->wheel, t);
    else
        arm_local(&th->svc->wheel, t, delay);
}

/* The calling thread, when it is t's owner. A request of another thread
 * still queued for t is applied first: this change comes after it. */
static struct tp__thread *owner(struct tpoll *tp, struct tpoll_timer *t)
{
    struct tp__thread *th = tp__self(tp);

    if (th == NULL || th->tid != t->tp_tid)
        return NULL;
    if (TP_UNLIKELY(tp_load_relaxed(&t->tp_xgen) == th->svc->xgen))
        tp__call_apply_requests(th);
    return th;
}

int tpoll_timer_init(struct tpoll *tp, struct tpoll_timer *t, int tid,
                     tpoll_timer_cb cb, void *arg)
{
    if (tp == NULL || t == NULL || cb == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    list_init(&t->tp_link);
    t->tp_cb = cb;
    t->tp_arg = arg;
    t->tp_tid = tid;
    return 0;
}

static int valid(const struct tpoll *tp, const struct tpoll_timer *t)
{
    return tp != NULL && t != NULL && t->tp_tid >= 0 &&
           t->tp_tid < tp->nthreads && t->tp_cb != NULL;
}

int tpoll_timer_arm(struct tpoll *tp, struct tpoll_timer *t, uint64_t delay_ms)
{
    struct tp__thread *th;

    if (!valid(tp, t) || delay_ms > TPOLL_TIMER_MAX_MS)
        return -EINVAL;
    th = owner(tp, t);
    if (th == NULL)
        return tp__call_request(&tp->threads[t->tp_tid], t, delay_ms);
    arm_local(&th->svc->wheel, t, delay_ms);
    return 0;
}

int tpoll_timer_cancel(struct tpoll *tp, struct tpoll_timer *t)
{
    struct tp__thread *th;

    if (!valid(tp, t))
        return -EINVAL;
    th = owner(tp, t);
    if (th == NULL) {
        tp__call_request(&tp->threads[t->tp_tid], t, TP_TIMER_CANCEL);
        return 0;
    }
    return cancel_local(&th->svc->wheel, t);
}
