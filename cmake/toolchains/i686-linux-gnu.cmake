# SPDX-License-Identifier: MIT
# Debian cross toolchain i686-linux-gnu (package gcc-i686-linux-gnu), tests run under qemu-i386-static.
# Target libraries come from Debian multiarch (/usr/lib/i386-linux-gnu); ci/cross.sh
# sets TPOLL_CROSS_PKG_CONFIG_LIBDIR to add libraries it unpacked itself.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(CMAKE_C_COMPILER i686-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER i686-linux-gnu-g++)
set(CMAKE_NM i686-linux-gnu-nm)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-i386-static)

if(DEFINED ENV{TPOLL_CROSS_PKG_CONFIG_LIBDIR})
  set(ENV{PKG_CONFIG_LIBDIR} "$ENV{TPOLL_CROSS_PKG_CONFIG_LIBDIR}")
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig")
endif()
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
