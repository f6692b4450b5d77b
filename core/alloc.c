/* SPDX-License-Identifier: MIT */
/* Allocation, with a countdown that makes one allocation fail. */
#include <stdint.h>
#include <stdlib.h>

#include "../platform/atomic.h"
#include "../platform/compiler.h"
#include "alloc.h"

static tp_atomic_t fail_countdown; /* 0: never fail */

void tp__alloc_fail_after(unsigned long n)
{
    tp_store(&fail_countdown, (AO_t)n);
}

static int fail_now(void)
{
    AO_t left = tp_load_relaxed(&fail_countdown);

    return TP_UNLIKELY(left != 0) &&
           tp_fetch_add(&fail_countdown, (AO_t)-1) == 1;
}

void *tp__calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : calloc(n, size);
}

/* A size of 0 is refused: realloc(p, 0) may free p, or not. */
void *tp__realloc_array(void *p, size_t n, size_t size)
{
    if (fail_now() || n == 0 || size == 0 || n > SIZE_MAX / size)
        return NULL;
    return realloc(p, n * size);
}

/* Over-allocate by one line and round the start up, rather than
 * posix_memalign + memset: calloc leaves a large table's untouched pages
 * unmapped (zero pages), which a memset would make resident. */
void *tp__calloc_lines(size_t n, size_t size, void **raw)
{
    uintptr_t start;

    if (size != 0 && n > (SIZE_MAX - TP_CACHE_LINE) / size)
        return NULL;
    *raw = tp__calloc(1, n * size + TP_CACHE_LINE - 1);
    if (*raw == NULL)
        return NULL;
    start = ((uintptr_t)*raw + TP_CACHE_LINE - 1) &
            ~(uintptr_t)(TP_CACHE_LINE - 1);
    return (void *)start;
}

void tp__free(void *p)
{
    free(p);
}
