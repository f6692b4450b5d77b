#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer target tests/fuzz/fuzz_ops (clang, ASan+UBSan) and
# runs it for a bounded time on every compiled backend, starting from the
# checked-in corpus. New inputs go to a scratch corpus, never into the tree;
# a crash leaves its reproducer in the build directory.
# Usage: ci/fuzz.sh [build-dir]   (default ./build-fuzz)
# TPOLL_BACKEND=name fuzzes that backend only (default: byte 0 of each
# input picks one of the compiled backends).
# Environment: TPOLL_FUZZ_SECONDS (default 60), TPOLL_FUZZ_RUNS (default
# unlimited: the time bound applies), TPOLL_FUZZ_JOBS (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$PWD/build-fuzz}
seconds=${TPOLL_FUZZ_SECONDS:-60}
runs=${TPOLL_FUZZ_RUNS:--1}
jobs=${TPOLL_FUZZ_JOBS:-1}

# The kqueue and event-port backends are fuzzed too, over their emulations.
extra=()
if ls "$root"/tests/emul/*/sources.cmake >/dev/null 2>&1; then
    extra+=(-DTPOLL_TEST_EMULATION=ON)
fi
mkdir -p "$build"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTPOLL_WERROR=ON -DTPOLL_SANITIZE="address;undefined;fuzzer-no-link" \
    -DTPOLL_BUILD_EXAMPLES=OFF "${extra[@]}" \
    >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j2 --target fuzz_ops

scratch="$build/corpus"
mkdir -p "$scratch" "$build/artifacts"
cd "$build"
# -jobs forks workers that log to fuzz-N.log; show them if anything fails.
status=0
"$build/tests/fuzz/fuzz_ops" -max_total_time="$seconds" -runs="$runs" \
    -jobs="$jobs" -workers="$jobs" -max_len=512 -timeout=10 \
    -artifact_prefix="$build/artifacts/" -print_final_stats=1 \
    "$scratch" "$root/tests/fuzz/corpus" || status=$?
if [ "$jobs" -gt 1 ] || ls fuzz-*.log >/dev/null 2>&1; then
    tail -n 30 fuzz-*.log 2>/dev/null || true
fi
if [ "$status" -ne 0 ]; then
    echo "ci/fuzz.sh: fuzz_ops found a divergence; reproducer(s):" >&2
    ls -l "$build/artifacts" >&2
    exit "$status"
fi
echo "ci/fuzz.sh: no finding in ${seconds}s"
