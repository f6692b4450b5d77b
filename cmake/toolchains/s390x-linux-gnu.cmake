# SPDX-License-Identifier: MIT
# Debian cross toolchain s390x-linux-gnu (package gcc-s390x-linux-gnu), tests run under qemu-s390x-static.
# Target libraries come from Debian multiarch (/usr/lib/s390x-linux-gnu); ci/cross.sh
# sets TPOLL_CROSS_PKG_CONFIG_LIBDIR to add libraries it unpacked itself.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER s390x-linux-gnu-g++)
set(CMAKE_NM s390x-linux-gnu-nm)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x-static)

if(DEFINED ENV{TPOLL_CROSS_PKG_CONFIG_LIBDIR})
  set(ENV{PKG_CONFIG_LIBDIR} "$ENV{TPOLL_CROSS_PKG_CONFIG_LIBDIR}")
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/s390x-linux-gnu/pkgconfig:/usr/share/pkgconfig")
endif()
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
