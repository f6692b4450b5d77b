/* SPDX-License-Identifier: MIT */
#ifndef TP_PLATFORM_COMPILER_H
#define TP_PLATFORM_COMPILER_H

/* Any libc header defines __GLIBC__ on glibc (used below). */
#include <limits.h>

#define TP_CACHE_LINE 64

#if defined(__GNUC__) || defined(__clang__)
#define TP_LIKELY(x) __builtin_expect(!!(x), 1)
#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* A rare path kept out of its caller, so the caller's common path does not
 * pay for the rare one's registers. */
#define TP_NOINLINE __attribute__((noinline))
/* A small function whose callers pass constants: each copy is folded. */
#define TP_INLINE inline __attribute__((always_inline))
#if defined(__GLIBC__)
/* Thread-locals read on every wait: initial-exec spares the shared
 * library a __tls_get_addr call per access. glibc keeps static TLS room
 * for libraries loaded later by dlopen (these are a few words); musl's
 * loader refuses initial-exec TLS in a dlopen'ed library, and the other
 * loaders are not checked: the general model there. */
#define TP_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define TP_TLS _Thread_local
#endif
#else
#define TP_NOINLINE
#define TP_INLINE inline
#define TP_TLS _Thread_local
#define TP_LIKELY(x) (x)
#define TP_UNLIKELY(x) (x)
#endif

#endif
