/* SPDX-License-Identifier: MIT */
/*
 * Atomics: a thin layer over libatomic_ops so that the core names what it
 * needs (fetch-or returning the old value, sequentially consistent RMW) and
 * libatomic_ops chooses the instructions per CPU. Every read-modify-write
 * here is sequentially consistent: the core's handshakes (sleep/notify,
 * running mask/thread mask, polled mask/delete) are Dekker-style, each
 * side a read-modify-write and then a load of the other side's word. That
 * load must be an acquire (tp_load), never tp_load_relaxed: where the
 * read-modify-write is a load-exclusive/store-release loop with no
 * trailing barrier (arm64 without LSE atomics, gcc's out-of-line
 * helpers), only an acquire load is ordered after its store.
 */
#ifndef TP_PLATFORM_ATOMIC_H
#define TP_PLATFORM_ATOMIC_H

#include <stdint.h>

#include <atomic_ops.h>

typedef AO_t tp_atomic_t;

static inline AO_t tp_load(const volatile AO_t *p)
{
    return AO_load_acquire(p);
}
static inline AO_t tp_load_relaxed(const volatile AO_t *p)
{
    return AO_load(p);
}
static inline void tp_store(volatile AO_t *p, AO_t v)
{
    AO_store_release(p, v);
}
static inline void tp_store_relaxed(volatile AO_t *p, AO_t v)
{
    AO_store(p, v);
}
static inline void tp_fence(void)
{
    AO_nop_full();
}

static inline AO_t tp_cas(volatile AO_t *p, AO_t old, AO_t val)
{
    return AO_fetch_compare_and_swap_full(p, old, val);
}

/* Or / and without the old value: one locked instruction, no loop. */
static inline void tp_or(volatile AO_t *p, AO_t bits)
{
    AO_or_full(p, bits);
}
static inline void tp_and(volatile AO_t *p, AO_t bits)
{
    AO_and_full(p, bits);
}

static inline AO_t tp_fetch_or(volatile AO_t *p, AO_t bits)
{
    AO_t old = AO_load(p), seen;

    while ((seen = tp_cas(p, old, old | bits)) != old)
        old = seen;
    return old;
}

static inline AO_t tp_fetch_and(volatile AO_t *p, AO_t bits)
{
    AO_t old = AO_load(p), seen;

    while ((seen = tp_cas(p, old, old & bits)) != old)
        old = seen;
    return old;
}

static inline AO_t tp_swap(volatile AO_t *p, AO_t val)
{
    AO_t old = AO_load(p), seen;

    while ((seen = tp_cas(p, old, val)) != old)
        old = seen;
    return old;
}

static inline AO_t tp_fetch_add(volatile AO_t *p, AO_t v)
{
    return AO_fetch_and_add_full(p, v);
}

/*
 * 64-bit counters with a single writer (the thread that owns them) and
 * readers anywhere: a plain load and store, no lock prefix. Where a word
 * is 32 bits the high half lives apart; the writer makes it odd while the
 * low half wraps, so a reader retries instead of pairing halves of two
 * different values.
 */
#if UINTPTR_MAX > 0xffffffffu
typedef struct {
    volatile AO_t v;
} tp_counter_t;

static inline void tp_count(tp_counter_t *c, AO_t n)
{
    AO_store(&c->v, AO_load(&c->v) + n);
}

static inline uint64_t tp_counter_read(const tp_counter_t *c)
{
    return AO_load(&c->v);
}
#else
typedef struct {
    volatile AO_t lo, hi; /* hi: twice the high half, odd while wrapping */
} tp_counter_t;

static inline void tp_count(tp_counter_t *c, AO_t n)
{
    AO_t lo = AO_load(&c->lo), sum = lo + n;

    if (sum < lo) {
        AO_t hi = AO_load(&c->hi);

        AO_store_release(&c->hi, hi + 1);
        AO_store_release(&c->lo, sum);
        AO_store_release(&c->hi, hi + 2);
        return;
    }
    AO_store(&c->lo, sum);
}

static inline uint64_t tp_counter_read(const tp_counter_t *c)
{
    AO_t h1, lo, h2;

    do {
        h1 = AO_load_acquire(&c->hi);
        lo = AO_load_acquire(&c->lo);
        h2 = AO_load_acquire(&c->hi);
    } while ((h1 & 1) || h1 != h2);
    return (uint64_t)(h1 / 2) << 32 | lo;
}
#endif

#endif
