#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the library and the test suite with musl-gcc (Debian musl-tools)
# and runs the suite: ci/musl.sh [extra ctest arguments]
# Installs packages unless TPOLL_MUSL_NO_INSTALL=1.
#
# Debian ships no musl build of the test dependencies, and musl-gcc only
# searches musl's own headers and libraries, so this script:
#  - points at libatomic_ops' headers alone (tpoll uses only its header-only
#    primitives) through a private pkg-config file;
#  - builds cmocka with musl-gcc from Debian's source package (apt-get
#    source), once: the build is kept in $BUILD_DIR-deps.
# Debian 12, as root or with sudo. Meant for a disposable CI machine, yet
# it leaves apt's configuration as it found it: when there is no deb-src
# entry, the one it adds for apt-get source is removed again on exit, even
# on failure (TPOLL_CI_KEEP_APT=1 keeps it).
# BUILD_DIR (default /tmp/tpoll-musl) holds the build, $BUILD_DIR-deps the
# dependencies.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-/tmp/tpoll-musl}
deps=$build-deps
jobs=${JOBS:-2}
start=$(date +%s)

. "$src/ci/apt.sh"

# Runs on every exit once the deb-src entry was added here.
added_src=
restore_apt() {
    rc=$?
    if [ -n "$added_src" ] && [ "${TPOLL_CI_KEEP_APT:-0}" != 1 ]; then
        as_root rm -f "$added_src" &&
            echo "musl.sh: removed the deb-src entry it had added ($added_src)"
    fi
    exit $rc
}
trap restore_apt EXIT
trap 'exit 130' INT TERM

need_cmocka=1
[ -f "$deps/prefix/lib/pkgconfig/cmocka.pc" ] && need_cmocka=0
if [ "${TPOLL_MUSL_NO_INSTALL:-0}" != 1 ]; then
    if [ "$need_cmocka" = 1 ] &&
        ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        added_src=/etc/apt/sources.list.d/tpoll-deb-src.sources
        as_root tee "$added_src" >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    apt_update
    apt_get install --no-install-recommends musl-tools dpkg-dev \
        libatomic-ops-dev cmake ninja-build pkg-config >/dev/null
fi
command -v musl-gcc >/dev/null || { echo "musl-gcc missing: apt-get install musl-tools" >&2; exit 1; }

if [ "$need_cmocka" = 1 ]; then
    rm -rf "$deps"
    mkdir -p "$deps/src"
    (cd "$deps/src" && apt-get -o APT::Sandbox::User=root source -q cmocka >/dev/null 2>&1) ||
        { echo "apt-get source cmocka failed (no deb-src entry?)" >&2; exit 1; }
    cmocka_src=$(find "$deps/src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n1)
    CC=musl-gcc cmake -S "$cmocka_src" -B "$deps/cmocka-build" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$deps/prefix" \
        -DCMAKE_INSTALL_LIBDIR=lib -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF \
        >"$deps/cmocka.log" 2>&1 || { cat "$deps/cmocka.log"; exit 1; }
    cmake --build "$deps/cmocka-build" -j"$jobs" >>"$deps/cmocka.log" 2>&1 &&
        cmake --install "$deps/cmocka-build" >>"$deps/cmocka.log" 2>&1 ||
        { cat "$deps/cmocka.log"; exit 1; }
fi

installed=$(date +%s)
# libatomic_ops' headers, without the rest of glibc's /usr/include.
mkdir -p "$deps/ao/include" "$deps/ao/pkgconfig"
ln -sfn /usr/include/atomic_ops.h "$deps/ao/include/atomic_ops.h"
ln -sfn /usr/include/atomic_ops "$deps/ao/include/atomic_ops"
cat >"$deps/ao/pkgconfig/atomic_ops.pc" <<PC
Name: atomic_ops
Description: libatomic_ops headers for musl builds of tpoll
Version: 7.6
Cflags: -I$deps/ao/include
PC

# The emulated kqueue and event-port backends run too once they exist.
emul=OFF
[ -f "$src/backends/kqueue.c" ] && [ -f "$src/backends/port.c" ] && emul=ON
export PKG_CONFIG_LIBDIR="$deps/ao/pkgconfig:$deps/prefix/lib/pkgconfig"
CC=musl-gcc cmake --fresh -S "$src" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTPOLL_WERROR=ON \
    -DTPOLL_TEST_EMULATION="${TPOLL_MUSL_EMULATION:-$emul}" \
    -DCMAKE_BUILD_RPATH="$deps/prefix/lib" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs"
built=$(date +%s)

cd "$build"
status=0
# The consumer projects build with the host's compiler and libc: not musl;
# the dlopen test is built here, with musl-gcc, and musl's loader is the
# strict one about thread-locals in a dlopen'ed library.
ctest --output-on-failure -j"$jobs" -LE consumer "$@" || status=$?
ctest --output-on-failure -j"$jobs" -R '^consumer\.dlopen\.' || status=$?
end=$(date +%s)
echo "musl.sh: packages $((installed - start)) s, build $((built - installed)) s, tests $((end - built)) s, total $((end - start)) s"
exit $status
