#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start, part 1: install what is missing, build, run the echo demo.
# Extra arguments go to the demo (e.g. --backend poll --threads 2 --seconds 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/demo}

"$root/ci/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTPOLL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target tpoll_echo >/dev/null
"$build/examples/tpoll_echo" "$@"
