#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages of debian/ (dpkg-buildpackage -us -uc -b) in a
# scratch copy of the tree, runs lintian (any error or warning fails),
# checks what each package holds, unpacks them into a clean prefix
# (dpkg -x, nothing is installed on the machine) and builds consumers
# against that prefix: pkg-config (shared and static) and find_package.
# Usage: ci/deb.sh [out-dir]   (default build/deb); Debian 12.
# Installs debhelper, lintian and the build dependencies when missing
# (as root, or through sudo).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
cc=${CC:-cc}

"$root/ci/deps.sh" --profile deb

rm -rf "$out"
mkdir -p "$out/src"
# The tree as it is, without build directories or git metadata.
tar -C "$root" --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
    -cf - . | tar -C "$out/src" -xf -

echo "ci/deb.sh: dpkg-buildpackage -us -uc -b (log: $out/build.log)"
(cd "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
    { tail -n 60 "$out/build.log"; exit 1; }
grep -E '^dpkg-deb: building' "$out/build.log"
changes=$(ls "$out"/*.changes)

echo "ci/deb.sh: lintian"
# Root is fine here (a throw-away copy); the message about it is not a tag.
lintian --fail-on error,warning --info --display-info --pedantic \
    "$changes" 2> >(grep -v 'running with root privileges' >&2)
echo "ci/deb.sh: lintian: no error, no warning"

runtime=$(sed -n 's/^Package: \(libtpoll[0-9].*\)/\1/p' "$root/debian/control")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=usr/lib/$multiarch
contents() { dpkg-deb -c "$1" | awk '{print $6}' | grep -v '/$' | sort; }
expect() { # package file, extended regex every entry must match, required entries...
    local deb=$1 allowed=$2 f
    shift 2
    if contents "$deb" | grep -Ev "$allowed"; then
        echo "ci/deb.sh: $deb holds the files above, which belong elsewhere" >&2
        exit 1
    fi
    for f in "$@"; do
        contents "$deb" | grep -qx "./$f" ||
            { echo "ci/deb.sh: $deb lacks $f" >&2; exit 1; }
    done
}
expect "$out/${runtime}_"*.deb \
    "^\./($lib/libtpoll\.so\.[0-9.]+|usr/share/doc/$runtime/.*|usr/share/lintian/overrides/$runtime)$" \
    "$lib/libtpoll.so.$(sed -n 's/^libtpoll\.so\.\([0-9.]*\) .*/\1/p' "$root/debian/$runtime.symbols")" \
    "usr/share/doc/$runtime/copyright"
expect "$out/libtpoll-dev_"*.deb \
    "^\./(usr/include/.*|$lib/libtpoll\.(a|so)|$lib/pkgconfig/tpoll(-static)?\.pc|$lib/cmake/tpoll/.*|usr/share/man/man3/tpoll.*\.3\.gz|usr/share/doc/libtpoll-dev/.*|usr/share/lintian/overrides/libtpoll-dev)$" \
    usr/include/tpoll.h "$lib/libtpoll.a" "$lib/libtpoll.so" \
    "$lib/pkgconfig/tpoll.pc" "$lib/pkgconfig/tpoll-static.pc" \
    "$lib/cmake/tpoll/tpollConfig.cmake" usr/share/man/man3/tpoll_wait.3.gz
echo "ci/deb.sh: package contents as expected"

prefix=$out/root
for deb in "$out/${runtime}_"*.deb "$out/libtpoll-dev_"*.deb; do
    dpkg -x "$deb" "$prefix"
done
export PKG_CONFIG_PATH=$prefix/$lib/pkgconfig
src=$root/tests/consumer/common/consumer.c
flags="-std=c11 -Wall -Wextra -Wpedantic -Werror"
# shellcheck disable=SC2046,SC2086
$cc $flags $(pkg-config --cflags tpoll) "$src" -o "$out/consumer_shared" \
    $(pkg-config --libs tpoll)
# shellcheck disable=SC2046,SC2086
$cc $flags $(pkg-config --cflags tpoll-static) "$src" -o "$out/consumer_static" \
    $(pkg-config --libs tpoll-static)
readelf -d "$out/consumer_shared" | grep -q "NEEDED.*\[libtpoll\.so\.${runtime#libtpoll}\]" ||
    { echo "ci/deb.sh: the shared consumer does not need libtpoll.so.${runtime#libtpoll}" >&2; exit 1; }
if readelf -d "$out/consumer_static" | grep -q 'NEEDED.*libtpoll'; then
    echo "ci/deb.sh: the static consumer needs libtpoll.so" >&2
    exit 1
fi
LD_LIBRARY_PATH=$prefix/$lib "$out/consumer_shared"
"$out/consumer_static"
cmake -S "$root/tests/consumer/find_package" -B "$out/find_package" \
    -DCMAKE_PREFIX_PATH="$prefix/usr" -DTPOLL_KIND=shared >"$out/find_package.log" 2>&1 &&
    cmake --build "$out/find_package" >>"$out/find_package.log" 2>&1 ||
    { cat "$out/find_package.log"; exit 1; }
LD_LIBRARY_PATH=$prefix/$lib "$out/find_package/consumer"
echo "ci/deb.sh: consumers built against the unpacked packages: pkg-config (shared, static), find_package"
