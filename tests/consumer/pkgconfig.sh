#!/bin/sh
# SPDX-License-Identifier: MIT
# pkgconfig.sh PKG_CONFIG_DIR CC OUTDIR SOURCE [shared|static]
# Builds SOURCE the way a Makefile user would, with the flags of
# `pkg-config --cflags --libs tpoll` (or `--static`), then runs it.
# Extra compiler and linker flags (sanitizers) come in CONSUMER_FLAGS.
set -eu
pcdir=$1 cc=$2 out=$3 src=$4 kind=${5:-shared}
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }
export PKG_CONFIG_PATH="$pcdir"
mkdir -p "$out"
cflags=$(pkg-config --cflags tpoll)
exe=$out/consumer_pc_$kind
warn="-std=c11 -Wall -Wextra -Wpedantic -Werror"
if [ "$kind" = static ]; then
    # -Bstatic makes -ltpoll pick libtpoll.a although libtpoll.so sits
    # beside it; --static adds the private dependencies it needs.
    libs=$(pkg-config --static --libs tpoll)
    # shellcheck disable=SC2086
    $cc $warn ${CONSUMER_FLAGS:-} $cflags "$src" -o "$exe" \
        -Wl,-Bstatic $libs -Wl,-Bdynamic
    if readelf -d "$exe" | grep -q 'NEEDED.*libtpoll'; then
        echo "$exe needs libtpoll.so although linked with --static" >&2
        exit 1
    fi
else
    libs=$(pkg-config --libs tpoll)
    # shellcheck disable=SC2086
    $cc $warn ${CONSUMER_FLAGS:-} $cflags "$src" -o "$exe" $libs
    readelf -d "$exe" | grep -q 'NEEDED.*libtpoll' ||
        { echo "$exe does not need libtpoll.so" >&2; exit 1; }
    LD_LIBRARY_PATH=$(pkg-config --variable=libdir tpoll)
    export LD_LIBRARY_PATH
fi
"$exe"
