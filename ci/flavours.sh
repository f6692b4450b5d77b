#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kqueue backend's suite once per kernel the emulation can behave as
# (TPOLL_EMUL_FLAVOUR): each flavour compiles backends/kqueue.c against
# its own <sys/event.h> (with or without EVFILT_USER and EV_RECEIPT,
# pointer or integer udata) and runs every test labelled kqueue-<flavour>.
# The default build (ci/test.sh) already runs the freebsd flavour and the
# event-port emulation (port-illumos), so by default this runs the others.
# Builds go under $1 (default ./build-flavours); prints a summary table
# and fails if any flavour failed.
# Environment: TPOLL_FLAVOURS (default "macos openbsd netbsd"), CC,
# TPOLL_FLAVOUR_JOBS (default 2), TPOLL_FLAVOUR_CMAKE_ARGS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$PWD/build-flavours}
jobs=${TPOLL_FLAVOUR_JOBS:-2}
flavours=${TPOLL_FLAVOURS:-macos openbsd netbsd}
mkdir -p "$out"

summary=()
failed=0
for f in $flavours; do
    dir=$out/$f
    start=$(date +%s)
    echo "== kqueue emulation as $f"
    # shellcheck disable=SC2086
    if ! cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTPOLL_WERROR=ON -DTPOLL_TEST_EMULATION=ON -DTPOLL_BACKENDS=kqueue \
        -DTPOLL_BUILD_EXAMPLES=OFF -DTPOLL_EMUL_FLAVOUR="$f" \
        ${TPOLL_FLAVOUR_CMAKE_ARGS:-} >"$dir.configure.log" 2>&1; then
        cat "$dir.configure.log"
        summary+=("$f: configure failed")
        failed=1
        continue
    fi
    grep "kqueue (emulated" "$dir.configure.log" || true
    if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
        tail -n 40 "$dir.build.log"
        summary+=("$f: build failed")
        failed=1
        continue
    fi
    built=$(date +%s)
    status=passed
    (cd "$dir" && ctest -j"$jobs" -L "kqueue-$f" --output-on-failure \
        >"$dir.ctest.log" 2>&1) || status=FAILED
    [ "$status" = passed ] || { tail -n 60 "$dir.ctest.log"; failed=1; }
    result=$(grep -E "tests passed|tests failed" "$dir.ctest.log" | tail -n 1)
    summary+=("$(printf '%-8s %-7s %s; build %ss, tests %ss' "$f" "$status" \
        "$result" "$((built - start))" "$(($(date +%s) - built))")")
done

echo "== ci/flavours.sh summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
