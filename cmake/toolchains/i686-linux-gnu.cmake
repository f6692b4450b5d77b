# SPDX-License-Identifier: MIT
# Debian cross toolchain i686-linux-gnu (package gcc-i686-linux-gnu); tests
# run under qemu-i386-static, or natively on an x86_64 kernel that runs
# i386 binaries (ci/cross.sh sets TPOLL_CROSS_NATIVE=1 then).
set(TPOLL_CROSS_TRIPLET i686-linux-gnu)
set(TPOLL_CROSS_PROCESSOR i686)
set(TPOLL_CROSS_MULTIARCH i386-linux-gnu)
set(TPOLL_CROSS_QEMU qemu-i386-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
