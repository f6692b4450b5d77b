/* SPDX-License-Identifier: MIT */
/*
 * Atomics: a thin layer over libatomic_ops so that the core names what it
 * needs (fetch-or returning the old value, sequentially consistent RMW) and
 * libatomic_ops chooses the instructions per CPU. Every read-modify-write
 * here is a full barrier: the core's handshakes (sleep/notify, running
 * mask/thread mask, polled mask/delete) are Dekker-style and need it.
 */
#ifndef TP_PLATFORM_ATOMIC_H
#define TP_PLATFORM_ATOMIC_H

#include <atomic_ops.h>

typedef AO_t tp_atomic_t;

static inline AO_t tp_load(const volatile AO_t *p) { return AO_load_acquire(p); }
static inline AO_t tp_load_relaxed(const volatile AO_t *p) { return AO_load(p); }
static inline void tp_store(volatile AO_t *p, AO_t v) { AO_store_release(p, v); }
static inline void tp_store_relaxed(volatile AO_t *p, AO_t v) { AO_store(p, v); }
static inline void tp_fence(void) { AO_nop_full(); }

static inline AO_t tp_cas(volatile AO_t *p, AO_t old, AO_t val)
{
    return AO_fetch_compare_and_swap_full(p, old, val);
}

/* Or / and without the old value: one locked instruction, no loop. */
static inline void tp_or(volatile AO_t *p, AO_t bits) { AO_or_full(p, bits); }
static inline void tp_and(volatile AO_t *p, AO_t bits) { AO_and_full(p, bits); }

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

/* Counters have a single writer: a plain load and store, no lock prefix. */
static inline void tp_count(volatile AO_t *p, AO_t n)
{
    AO_store(p, AO_load(p) + n);
}

#endif
