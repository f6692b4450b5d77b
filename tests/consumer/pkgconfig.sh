#!/bin/sh
# SPDX-License-Identifier: MIT
# pkgconfig.sh PKG_CONFIG_DIR CC OUTDIR SOURCE [shared|static]
# Builds SOURCE the way a Makefile user would, with nothing but the flags
# of `pkg-config --cflags --libs tpoll` (shared) or `tpoll-static`
# (static), then runs it. The shared program must need libtpoll.so and
# find it only through the library path; the static one must need no
# libtpoll at all and run with no library path.
# Extra compiler and linker flags (sanitizers) come in CONSUMER_FLAGS.
set -eu
pcdir=$1 cc=$2 out=$3 src=$4 kind=${5:-shared}
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }
export PKG_CONFIG_PATH="$pcdir"
mkdir -p "$out"
exe=$out/consumer_pc_$kind
warn="-std=c11 -Wall -Wextra -Wpedantic -Werror"
module=tpoll
[ "$kind" = static ] && module=tpoll-static
cflags=$(pkg-config --cflags $module)
libs=$(pkg-config --libs $module)
echo "pkg-config --cflags --libs $module: $cflags $libs"
# shellcheck disable=SC2086
$cc $warn ${CONSUMER_FLAGS:-} $cflags "$src" -o "$exe" $libs

unset LD_LIBRARY_PATH
if [ "$kind" = static ]; then
    if readelf -d "$exe" | grep -q 'NEEDED.*libtpoll'; then
        echo "$exe needs libtpoll.so although linked with tpoll-static" >&2
        exit 1
    fi
    if command -v ldd >/dev/null && ldd "$exe" | grep -q libtpoll; then
        echo "ldd: $exe loads libtpoll.so" >&2
        exit 1
    fi
else
    readelf -d "$exe" | grep -q 'NEEDED.*libtpoll' ||
        { echo "$exe does not need libtpoll.so" >&2; exit 1; }
    LD_LIBRARY_PATH=$(pkg-config --variable=libdir tpoll)
    export LD_LIBRARY_PATH
fi
"$exe"
