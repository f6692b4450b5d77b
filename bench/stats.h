/* SPDX-License-Identifier: MIT */
/* Clock, median and resident memory shared by the benchmark programs. */
#ifndef TPOLL_BENCH_STATS_H
#define TPOLL_BENCH_STATS_H

#include <stdint.h>

/* CLOCK_MONOTONIC, in nanoseconds and in seconds. */
uint64_t bench_now_ns(void);
double bench_now_s(void);

/* Median of v[0..n-1]; sorts v. */
double bench_median(double *v, int n);

/* Resident memory of the process in KiB (/proc/self/statm), or -1. */
long bench_resident_kb(void);

#endif
