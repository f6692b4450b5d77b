# SPDX-License-Identifier: MIT
# Required dependencies, found through pkg-config, with a message naming
# the package to install when one is missing.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found. Install it: Debian/Ubuntu: apt-get install pkg-config; FreeBSD: pkg install pkgconf; macOS: brew install pkg-config")
endif()

pkg_check_modules(TPOLL_AO QUIET IMPORTED_TARGET atomic_ops)
if(NOT TPOLL_AO_FOUND)
  message(FATAL_ERROR "libatomic_ops not found (pkg-config module atomic_ops). Install it: Debian/Ubuntu: apt-get install libatomic-ops-dev; FreeBSD: pkg install libatomic_ops; macOS: brew install libatomic_ops")
endif()
# The core only uses the header-only primitives of libatomic_ops.
add_library(tpoll_atomic_ops INTERFACE)
target_include_directories(tpoll_atomic_ops INTERFACE ${TPOLL_AO_INCLUDE_DIRS})
add_library(tpoll::atomic_ops ALIAS tpoll_atomic_ops)

if(TPOLL_BUILD_TESTS)
  pkg_check_modules(TPOLL_CMOCKA QUIET IMPORTED_TARGET cmocka)
  if(NOT TPOLL_CMOCKA_FOUND)
    message(FATAL_ERROR "cmocka not found (pkg-config module cmocka), needed for the tests (or configure with -DTPOLL_BUILD_TESTS=OFF). Install it: Debian/Ubuntu: apt-get install libcmocka-dev; FreeBSD: pkg install cmocka; macOS: brew install cmocka")
  endif()
endif()
