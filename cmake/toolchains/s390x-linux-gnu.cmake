# SPDX-License-Identifier: MIT
# Debian cross toolchain s390x-linux-gnu (package gcc-s390x-linux-gnu); tests run under qemu-s390x-static.
set(TPOLL_CROSS_TRIPLET s390x-linux-gnu)
set(TPOLL_CROSS_PROCESSOR s390x)
set(TPOLL_CROSS_MULTIARCH s390x-linux-gnu)
set(TPOLL_CROSS_QEMU qemu-s390x-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
