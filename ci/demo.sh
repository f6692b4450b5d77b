#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start, part 1: install what building needs (cmake, a C compiler,
# make, pkg-config, libatomic_ops; not the test tools), build the library
# and the echo demo, run it. Shows the packages being installed and the
# build's progress lines. Extra arguments go to the demo (e.g. --backend
# poll --threads 2 --seconds 5; --help lists them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/demo}

"$root/ci/deps.sh" --profile build
echo "== configure ($build)"
# The configuration summary, not every check.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTPOLL_BUILD_TESTS=OFF |
    sed -n '/tpoll .* configuration/,/warnings as errors/p'
echo "== build"
cmake --build "$build" -j"$(nproc)" --target tpoll_echo
echo "== run: tpoll_echo $*"
"$build/examples/tpoll_echo" "$@"
