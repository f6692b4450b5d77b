#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start, part 2, and what CI runs: install what is missing, build
# with -Werror (gcc, then clang) with every backend the platform has plus
# the kqueue and event-port emulations, run the whole suite on every
# backend, then the sanitizer, static-analysis and fuzzing passes.
# Environment: BUILD_DIR (default build/), TPOLL_CI_QUICK=1 skips the
# clang, sanitizer, analysis and fuzzing passes; TPOLL_FUZZ_SECONDS
# (default 60) bounds the fuzzing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=$(nproc)

"$root/ci/deps.sh"

configure_build() { # dir, extra cmake args...
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTPOLL_WERROR=ON \
        -DTPOLL_TEST_EMULATION=ON "$@" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; exit 1; }
    grep -A8 "tpoll .* configuration" "$dir.configure.log" || true
    cmake --build "$dir" -j"$jobs"
}

mkdir -p "$build"
echo "== gcc build and full test suite"
CC=gcc configure_build "$build/gcc"
(cd "$build/gcc" && ctest --output-on-failure -j"$jobs")

if [ "${TPOLL_CI_QUICK:-0}" != 1 ]; then
    echo "== clang build (-Werror)"
    CC=clang configure_build "$build/clang"
    echo "== sanitizers (ASan+UBSan, TSan)"
    "$root/ci/sanitize.sh" "$build/san"
    echo "== static analysis (clang-tidy)"
    "$root/ci/analyze.sh" "$build/analyze"
    echo "== fuzzing (${TPOLL_FUZZ_SECONDS:-60} s from the checked-in corpus)"
    TPOLL_FUZZ_SECONDS=${TPOLL_FUZZ_SECONDS:-60} "$root/ci/fuzz.sh" "$build/fuzz"
fi
echo "ci/test.sh: all passed"
