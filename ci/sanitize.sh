#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sanitizer passes of CI: the whole suite under ASan+UBSan, then under
# TSan (clang), each in its own build directory under $1 (default
# ./build-san). Every backend runs, with the kqueue and event-port
# emulations when the tree has them. Prints the time of each pass.
# Environment: TPOLL_SAN_CC (compiler of the ASan+UBSan pass, default
# clang, else gcc), TPOLL_TSAN_LABELS (ctest label regex of the TSan pass,
# default: every test), TPOLL_SAN_CMAKE_ARGS (extra configure arguments),
# TPOLL_STRESS_SECONDS (stress budget per backend, default 2),
# TPOLL_SAN_PASSES (default "asan-ubsan tsan").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$PWD/build-san}
jobs=${TPOLL_SAN_JOBS:-2}
tsan_labels=${TPOLL_TSAN_LABELS:-}
export TPOLL_STRESS_SECONDS=${TPOLL_STRESS_SECONDS:-2}

asan_cc=${TPOLL_SAN_CC:-}
if [ -z "$asan_cc" ]; then
    if command -v clang >/dev/null; then asan_cc=clang; else asan_cc=gcc; fi
fi
if ! command -v clang >/dev/null; then
    echo "ci/sanitize.sh: clang is needed for the TSan pass" >&2
    exit 1
fi

extra=()
if ls "$root"/tests/emul/*/sources.cmake >/dev/null 2>&1; then
    extra+=(-DTPOLL_TEST_EMULATION=ON)
fi
# shellcheck disable=SC2206
extra+=(${TPOLL_SAN_CMAKE_ARGS:-})

# Reports abort the test that triggered them; leaks are reported at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

pass() { # name, compiler, sanitizers, ctest args...
    local name=$1 cc=$2 san=$3 dir="$out/$1" start
    shift 3
    start=$(date +%s)
    mkdir -p "$dir"
    echo "== $name: CC=$cc -DTPOLL_SANITIZE=\"$san\""
    CC=$cc cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTPOLL_WERROR=ON \
        -DTPOLL_SANITIZE="$san" "${extra[@]}" >"$dir/configure.log" 2>&1 ||
        { cat "$dir/configure.log"; exit 1; }
    cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 ||
        { tail -n 50 "$dir/build.log"; exit 1; }
    (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@")
    echo "== $name: passed in $(($(date +%s) - start)) s"
}

total=$(date +%s)
for p in ${TPOLL_SAN_PASSES:-asan-ubsan tsan}; do
    case $p in
    asan-ubsan) pass asan-ubsan "$asan_cc" "address;undefined" ;;
    tsan)
        if [ -n "$tsan_labels" ]; then
            pass tsan clang thread -L "$tsan_labels"
        else
            pass tsan clang thread
        fi
        ;;
    *) echo "ci/sanitize.sh: unknown pass $p" >&2; exit 1 ;;
    esac
done
echo "ci/sanitize.sh: all passed in $(($(date +%s) - total)) s"
