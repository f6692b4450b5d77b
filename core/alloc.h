/* SPDX-License-Identifier: MIT */
/* Every allocation of the library goes through here, so that tests can
 * make any one of them fail (fault injection) without wrapping libc. */
#ifndef TP_CORE_ALLOC_H
#define TP_CORE_ALLOC_H

#include <stddef.h>

void *tp__calloc(size_t n, size_t size);
/* realloc of an array of n elements (NULL: nothing changed). */
void *tp__realloc_array(void *p, size_t n, size_t size);
void tp__free(void *p);
/* n zeroed elements starting on a cache line; free *raw, not the result. */
void *tp__calloc_lines(size_t n, size_t size, void **raw);

/* Tests: make the n-th allocation from now fail (1 = the next one); 0
 * disables. */
void tp__alloc_fail_after(unsigned long n);

#endif
