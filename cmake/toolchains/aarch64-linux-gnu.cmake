# SPDX-License-Identifier: MIT
# Debian cross toolchain aarch64-linux-gnu (package gcc-aarch64-linux-gnu); tests run under qemu-aarch64-static.
set(TPOLL_CROSS_TRIPLET aarch64-linux-gnu)
set(TPOLL_CROSS_PROCESSOR aarch64)
set(TPOLL_CROSS_MULTIARCH aarch64-linux-gnu)
set(TPOLL_CROSS_QEMU qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
