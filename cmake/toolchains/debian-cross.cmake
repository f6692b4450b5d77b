# SPDX-License-Identifier: MIT
# Common part of the Debian cross toolchain files: each sets
# TPOLL_CROSS_TRIPLET (compiler prefix, package gcc-<triplet>),
# TPOLL_CROSS_PROCESSOR, TPOLL_CROSS_MULTIARCH (/usr/lib/<multiarch>) and
# TPOLL_CROSS_QEMU (the qemu-user binary the tests run under), then
# includes this file. ci/cross.sh sets TPOLL_CROSS_PKG_CONFIG_LIBDIR to add
# libraries it unpacked itself, and TPOLL_CROSS_NATIVE=1 when the host's
# kernel runs the target's binaries itself (i386 on x86_64): the tests
# then run without qemu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${TPOLL_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${TPOLL_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${TPOLL_CROSS_TRIPLET}-g++)
set(CMAKE_NM ${TPOLL_CROSS_TRIPLET}-nm)
if(NOT "$ENV{TPOLL_CROSS_NATIVE}" STREQUAL "1")
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TPOLL_CROSS_QEMU})
endif()

if(DEFINED ENV{TPOLL_CROSS_PKG_CONFIG_LIBDIR})
  set(ENV{PKG_CONFIG_LIBDIR} "$ENV{TPOLL_CROSS_PKG_CONFIG_LIBDIR}")
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${TPOLL_CROSS_MULTIARCH}/pkgconfig:/usr/share/pkgconfig")
endif()
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
