/* SPDX-License-Identifier: MIT */
/* Test-only hook, reachable from tests that link the static library. */
#ifndef TP_CORE_ALLOC_HOOK_H
#define TP_CORE_ALLOC_HOOK_H

/* Make the n-th allocation from now fail (1 = the next one); 0 disables. */
void tp__alloc_fail_after(unsigned long n);

#endif
