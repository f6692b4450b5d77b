/* SPDX-License-Identifier: MIT */
#ifndef TP_PLATFORM_COMPILER_H
#define TP_PLATFORM_COMPILER_H

#define TP_CACHE_LINE 64

#if defined(__GNUC__) || defined(__clang__)
#define TP_LIKELY(x) __builtin_expect(!!(x), 1)
#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TP_INTERNAL __attribute__((visibility("hidden")))
#else
#define TP_LIKELY(x) (x)
#define TP_UNLIKELY(x) (x)
#define TP_INTERNAL
#endif

#endif
