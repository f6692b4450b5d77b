#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis: clang-tidy with the checked-in .clang-tidy over every
# file of core/, backends/ and platform/ that the build compiles (with the
# kqueue and event-port emulations when the tree has them, so that those
# backends are analysed on Linux too). Any finding fails.
# Usage: ci/analyze.sh [build-dir]   (default ./build-analyze)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$PWD/build-analyze}
tidy=${CLANG_TIDY:-$(command -v clang-tidy || command -v clang-tidy-14 || true)}
if [ -z "$tidy" ]; then
    echo "ci/analyze.sh: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2
    exit 1
fi

extra=()
if ls "$root"/tests/emul/*/sources.cmake >/dev/null 2>&1; then
    extra+=(-DTPOLL_TEST_EMULATION=ON)
fi
mkdir -p "$build"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DTPOLL_BUILD_TESTS=OFF -DTPOLL_BUILD_EXAMPLES=OFF "${extra[@]}" \
    >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
# Generated headers (version.h, tpoll_config.h, tpoll_backends.h) must exist.
cmake --build "$build" -j2 >"$build/build.log" 2>&1 ||
    { tail -n 40 "$build/build.log"; exit 1; }

mapfile -t files < <(sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' \
    "$build/compile_commands.json" |
    grep -E "^$root/(core|backends|platform)/" | sort -u)
if [ ${#files[@]} -eq 0 ]; then
    echo "ci/analyze.sh: no source found in $build/compile_commands.json" >&2
    exit 1
fi
echo "ci/analyze.sh: clang-tidy on ${#files[@]} files"
# "N warnings generated" counts the suppressed ones: noise.
"$tidy" --quiet -p "$build" --config-file="$root/.clang-tidy" "${files[@]}" \
    2> >(grep -v "warnings\{0,1\} generated\.$" >&2)
echo "ci/analyze.sh: no finding"
