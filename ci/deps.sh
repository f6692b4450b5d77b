#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages one job needs, when missing, and shows what
# it installs (each package as apt unpacks and sets it up).
# Usage: ci/deps.sh [--profile build|test|deb] [extra-package ...]
#   build  what building the library and the examples needs (ci/demo.sh)
#   test   everything the test suite and ci/test.sh use (the default)
#   deb    building and checking the Debian packages (ci/deb.sh)
# As root, or through sudo otherwise (ci/apt.sh).
set -euo pipefail

profile=test
if [ "${1:-}" = --profile ]; then
    profile=${2:?--profile needs build, test or deb}
    shift 2
fi
# liburing-dev: the io_uring backend (left out of the build without it).
build=(cmake make gcc pkg-config libatomic-ops-dev liburing-dev)
case $profile in
build) pkgs=("${build[@]}") ;;
# g++ for the header's C++ consumer test, wrk for the HTTP example's load
# test, clang's sanitizer and libFuzzer runtimes (only recommended by
# clang, so not pulled in with --no-install-recommends), clang-tidy for
# analysis, spin for the protocol models (tests/model), man-db for the
# man page test, valgrind for the instruction budgets (tests/perf).
test) pkgs=("${build[@]}" libcmocka-dev g++ clang libclang-rt-14-dev
            clang-tidy wrk spin man-db valgrind) ;;
deb) pkgs=("${build[@]}" libcmocka-dev dpkg-dev debhelper lintian) ;;
*) echo "ci/deps.sh: unknown profile $profile (build, test or deb)" >&2; exit 2 ;;
esac
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "ci/deps.sh: missing packages (${missing[*]}) and no apt-get; install them with your package manager" >&2
    exit 1
fi
. "$(dirname "$0")/apt.sh"
echo "ci/deps.sh: installing ${missing[*]} (and what they depend on)"
apt_update
# apt's own progress, one line per package unpacked and set up.
apt_get install --no-install-recommends "${missing[@]}" |
    { grep --line-buffered -E '^(Need to get|Unpacking|Setting up) ' || true; }
echo "ci/deps.sh: done"
