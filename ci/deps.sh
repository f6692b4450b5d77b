#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages tpoll needs to build and test, when missing.
# Usage: ci/deps.sh [extra-package ...]
set -euo pipefail

# g++ for the header's C++ consumer test, wrk for the HTTP example's load
# test, clang's sanitizer and libFuzzer runtimes (only recommended by clang,
# so not pulled in with --no-install-recommends), clang-tidy for analysis,
# spin for the protocol models (tests/model).
pkgs=(cmake make gcc g++ clang libclang-rt-14-dev clang-tidy pkg-config
      libatomic-ops-dev libcmocka-dev wrk spin "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "ci/deps.sh: missing packages (${missing[*]}) and no apt-get; install them with your package manager" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    TPOLL_SUDO=sudo
fi
. "$(dirname "$0")/apt.sh"
echo "ci/deps.sh: installing ${missing[*]}"
apt_update
apt_get install --no-install-recommends "${missing[@]}" >/dev/null
