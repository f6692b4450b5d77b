/* SPDX-License-Identifier: MIT */
/* Every allocation of the library goes through here so that tests can make
 * any one of them fail (fault injection) without wrapping libc. */
#include <stdlib.h>

#include "alloc_hook.h"
#include "internal.h"

static tp_atomic_t fail_countdown; /* 0: never fail */

void tp__alloc_fail_after(unsigned long n)
{
    tp_store(&fail_countdown, (AO_t)n);
}

void *tp__calloc(size_t n, size_t size)
{
    AO_t left = tp_load_relaxed(&fail_countdown);

    if (TP_UNLIKELY(left != 0)) {
        if (tp_fetch_add(&fail_countdown, (AO_t)-1) == 1)
            return NULL;
    }
    return calloc(n, size);
}

void tp__free(void *p)
{
    free(p);
}
