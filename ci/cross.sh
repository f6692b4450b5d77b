#!/bin/sh
# SPDX-License-Identifier: MIT
# Cross-builds tpoll with Debian's cross toolchains and runs the test suite
# under qemu-user (i386 natively on an x86_64 kernel), one architecture per
# invocation:
#   ci/cross.sh arm64|s390x|i386 [extra ctest arguments]
# Debian 12, as root or with sudo (installs packages unless
# TPOLL_CROSS_NO_INSTALL=1). Meant for a disposable CI machine, yet it
# leaves apt's configuration as it found it: a foreign architecture it
# had to add is removed again on exit, even on failure, with the packages
# of that architecture (TPOLL_CI_KEEP_APT=1 keeps both, to save the
# download on the next run); the cross toolchains and qemu, ordinary
# packages of the host, stay installed.
# BUILD_DIR (default /tmp/tpoll-cross-<arch>) holds the build;
# TPOLL_CROSS_CMAKE_ARGS adds configure options (CFLAGS is honoured as
# usual), TPOLL_CROSS_EMULATION=OFF
# leaves out the emulated kqueue and event-port backends.
set -eu

arch=${1:-}
[ $# -gt 0 ] && shift
case "$arch" in
    arm64) triplet=aarch64-linux-gnu multiarch=$triplet qemu=qemu-aarch64-static ;;
    s390x) triplet=s390x-linux-gnu multiarch=$triplet qemu=qemu-s390x-static ;;
    i386) triplet=i686-linux-gnu multiarch=i386-linux-gnu qemu=qemu-i386-static ;;
    *) echo "usage: $0 arm64|s390x|i386 [ctest args]" >&2; exit 2 ;;
esac

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-/tmp/tpoll-cross-$arch}
# The target's libatomic-ops-dev is Multi-Arch: no (it would replace the
# host's copy), so it is unpacked here instead of installed.
stage=$build/stage
jobs=${JOBS:-2}
start=$(date +%s)

. "$src/ci/apt.sh"

# Runs on every exit once the architecture was added here.
added_arch=0
restore_apt() {
    rc=$?
    if [ "$added_arch" = 1 ] && [ "${TPOLL_CI_KEEP_APT:-0}" != 1 ]; then
        foreign=$(dpkg-query -W -f '${binary:Package}\n' | grep ":$arch\$" || true)
        # dpkg, not apt: exactly these packages go, nothing of the host's;
        # apt calls libc6:$arch and libgcc-s1:$arch essential and refuses.
        # shellcheck disable=SC2086
        { [ -z "$foreign" ] || as_root dpkg --purge --force-remove-protected \
            --force-remove-essential $foreign >/dev/null 2>&1; } &&
            as_root dpkg --remove-architecture "$arch" &&
            echo "cross.sh: removed the $arch architecture it had added, and its packages" ||
            echo "cross.sh: warning: could not remove the $arch architecture (dpkg --remove-architecture $arch)" >&2
    fi
    exit $rc
}
trap restore_apt EXIT
trap 'exit 130' INT TERM

if [ "${TPOLL_CROSS_NO_INSTALL:-0}" != 1 ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        as_root dpkg --add-architecture "$arch"
        added_arch=1
    fi
    apt_update
    apt_get install --no-install-recommends \
        "gcc-$triplet" "binutils-$triplet" "libc6-dev-$arch-cross" \
        qemu-user-static cmake ninja-build pkg-config \
        "libcmocka-dev:$arch" "libc6:$arch" >/dev/null
fi

installed=$(date +%s)
rm -rf "$stage"
mkdir -p "$stage"
(cd "$stage" && apt-get -o APT::Sandbox::User=root download -q "libatomic-ops-dev:$arch" >/dev/null)
dpkg-deb -x "$stage"/libatomic-ops-dev_*.deb "$stage/root"
for pc in "$stage"/root/usr/lib/"$multiarch"/pkgconfig/*.pc; do
    sed -i "s|^prefix=.*|prefix=$stage/root/usr|" "$pc"
done

# An x86_64 kernel runs i386 binaries itself: the tests run natively there,
# on the real kernel's 32-bit system call layer. Under Debian 12's
# qemu-i386 the second case of test_signals (a signal raised on one
# thread for a watch of another, which sleeps in its poller) ended with
# status 255 and no message, the guest calling exit_group(-1) right after
# the loop thread's exit; the same binary passes natively, and the suite
# passes under qemu for arm64 and s390x.
runner=$qemu
if [ "$arch" = i386 ] && [ "$(uname -m)" = x86_64 ]; then
    printf 'int main(void) { return 0; }\n' >"$stage/probe.c"
    if "$triplet-gcc" -o "$stage/probe" "$stage/probe.c" 2>/dev/null &&
        "$stage/probe" 2>/dev/null; then
        runner=native
        export TPOLL_CROSS_NATIVE=1
    fi
fi

# The emulated kqueue and event-port backends run too once they exist.
emul=OFF
[ -f "$src/backends/kqueue.c" ] && [ -f "$src/backends/port.c" ] && emul=ON
export TPOLL_CROSS_PKG_CONFIG_LIBDIR="$stage/root/usr/lib/$multiarch/pkgconfig:/usr/lib/$multiarch/pkgconfig:/usr/share/pkgconfig"
cmake --fresh -S "$src" -B "$build" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchains/$triplet.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTPOLL_WERROR=ON \
    -DTPOLL_TEST_EMULATION="${TPOLL_CROSS_EMULATION:-$emul}" \
    ${TPOLL_CROSS_CMAKE_ARGS:-} >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs"
built=$(date +%s)

cd "$build"
# qemu-user translates every instruction: the timeouts stretch accordingly.
status=0
ctest --output-on-failure -j"$jobs" --timeout 600 "$@" || status=$?
end=$(date +%s)
echo "cross.sh $arch ($runner): packages $((installed - start)) s, build $((built - installed)) s, tests $((end - built)) s, total $((end - start)) s"
exit $status
