#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start, part 2, and what CI runs: install what is missing, build
# with -Werror (gcc, then clang) with every backend the platform has plus
# the kqueue and event-port emulations, run the whole suite on every
# backend, then the sanitizer and static-analysis passes, the kqueue
# emulation's other kernel flavours (ci/flavours.sh) and fuzzing.
# Each step's output goes to a log file under the build directory; the
# terminal gets one line per step as it ends, then a table (step, result,
# time) and a verdict. A failing step stops the run and prints the end of
# its log (for the test suites, each failing test's output first).
# Environment: BUILD_DIR (default build/), TPOLL_CI_QUICK=1 stops after
# the gcc suite; TPOLL_FUZZ_SECONDS (default 60) bounds the fuzzing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
logs=$build/logs
jobs=$(nproc)
mkdir -p "$logs"
rm -f "$logs"/*.log

steps=() results=() times=()
summary() {
    local i verdict
    printf '\n%-24s %-8s %6s\n' step result time
    for i in "${!steps[@]}"; do
        printf '%-24s %-8s %5ss\n' "${steps[$i]}" "${results[$i]}" "${times[$i]}"
    done
    if [ "${results[*]}" = "${results[*]//FAILED/}" ]; then
        verdict="PASSED: ${#steps[@]} steps"
    else
        verdict="FAILED at ${steps[-1]}"
    fi
    echo "ci/test.sh: $verdict in $((SECONDS - total_start)) s (logs: $logs)"
}

# The failing tests' own output, from a ctest --output-on-failure log,
# then ctest's list of them.
ctest_failures() {
    awk '/\*\*\*(Failed|Timeout|Exception)|\*\*\*Not Run|Not Run /{show=1}
         /^ *Start +[0-9]+:|^ *[0-9]+\/[0-9]+ Test +#[0-9]+: .* +Passed/{show=0}
         show' "$1" | tail -n 150
    sed -n '/^The following tests FAILED:/,$p' "$1"
}

# step NAME COMMAND...: runs COMMAND with its output in $logs/NAME.log.
step() {
    local name=$1 log=$logs/$1.log start=$SECONDS rc=0 tests
    shift
    echo "== $name ... (log: $log)"
    "$@" >"$log" 2>&1 || rc=$?
    steps+=("$name")
    times+=($((SECONDS - start)))
    tests=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
    if [ "$rc" -eq 0 ]; then
        results+=(ok)
        echo "   ok, $((SECONDS - start)) s${tests:+: $tests}"
        return 0
    fi
    results+=(FAILED)
    echo "   FAILED (exit $rc) after $((SECONDS - start)) s; the end of $log:"
    if grep -q '^The following tests FAILED:' "$log"; then
        ctest_failures "$log"
    else
        tail -n 60 "$log"
    fi
    summary
    exit 1
}

configure_build() { # compiler, dir
    CC=$1 cmake -S "$root" -B "$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTPOLL_WERROR=ON -DTPOLL_TEST_EMULATION=ON &&
        cmake --build "$2" -j"$jobs"
}
run_suite() { # dir
    cd "$1" && ctest --output-on-failure -j"$jobs"
}

total_start=$SECONDS
# Package installation is shown as it happens, not logged: it is what a
# fresh machine spends its first minutes on.
echo "== dependencies"
"$root/ci/deps.sh" --profile test

step gcc-build configure_build gcc "$build/gcc"
step gcc-tests run_suite "$build/gcc"
if [ "${TPOLL_CI_QUICK:-0}" != 1 ]; then
    step clang-build configure_build clang "$build/clang"
    step sanitizers "$root/ci/sanitize.sh" "$build/san"
    step clang-tidy "$root/ci/analyze.sh" "$build/analyze"
    step kqueue-flavours "$root/ci/flavours.sh" "$build/flavours"
    step "fuzz-${TPOLL_FUZZ_SECONDS:-60}s" env TPOLL_FUZZ_SECONDS="${TPOLL_FUZZ_SECONDS:-60}" \
        "$root/ci/fuzz.sh" "$build/fuzz"
fi
summary
