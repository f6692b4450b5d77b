# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DBUILD=<build dir> -DPREFIX=<scratch dir> -DLIBDIR=<lib dir>
#       -DINCLUDEDIR=.. -DMANDIR=.. -DDOCDIR=.. -DVERSION=<x.y.z>
#       -DSHARED=ON|OFF -P components.cmake
# The install components, as a packager splits them:
#  - Runtime holds the shared library and its SONAME link (and LICENSE),
#    nothing a compiler needs;
#  - Development holds the rest (headers, archive, the libtpoll.so link,
#    .pc files, CMake package, man pages, LICENSE, CHANGELOG.md), and not
#    the shared library itself;
#  - together they are exactly a full install: no file is left in no
#    component;
#  - the uninstall target then removes every file of the three installs.
include(${CMAKE_CURRENT_LIST_DIR}/soname.cmake)
file(REMOVE_RECURSE ${PREFIX})

function(install_into dir)
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${dir} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install ${ARGN} failed")
  endif()
endfunction()

function(files_in dir out)
  file(GLOB_RECURSE found LIST_DIRECTORIES false RELATIVE ${dir} ${dir}/*)
  list(SORT found)
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(expect_exactly dir)
  files_in(${dir} got)
  set(want ${ARGN})
  list(SORT want)
  if(NOT "${got}" STREQUAL "${want}")
    message(FATAL_ERROR "${dir} holds:\n  ${got}\nexpected:\n  ${want}")
  endif()
  message(STATUS "${dir}: ${got}")
endfunction()

install_into(${PREFIX}/runtime --component Runtime)
install_into(${PREFIX}/dev --component Development)
install_into(${PREFIX}/full)

tpoll_expected_soname(${VERSION} soname)
set(runtime ${DOCDIR}/LICENSE)
set(dev_lib "")
if(SHARED)
  list(APPEND runtime ${LIBDIR}/libtpoll.so.${VERSION} ${LIBDIR}/${soname})
  set(dev_lib ${LIBDIR}/libtpoll.so)
endif()
files_in(${PREFIX}/full full)
set(man "")
foreach(f IN LISTS full)
  if(f MATCHES "^${MANDIR}/man3/")
    list(APPEND man ${f})
  endif()
endforeach()
if(NOT "${MANDIR}/man3/tpoll_wait.3" IN_LIST man)
  message(FATAL_ERROR "no man page in the full install")
endif()
expect_exactly(${PREFIX}/runtime ${runtime})
file(GLOB cmake_files RELATIVE ${PREFIX}/full ${PREFIX}/full/${LIBDIR}/cmake/tpoll/*)
expect_exactly(${PREFIX}/dev
  ${INCLUDEDIR}/tpoll.h ${INCLUDEDIR}/tpoll/version.h
  ${LIBDIR}/libtpoll.a ${dev_lib}
  ${LIBDIR}/pkgconfig/tpoll.pc ${LIBDIR}/pkgconfig/tpoll-static.pc
  ${cmake_files} ${man} ${DOCDIR}/LICENSE ${DOCDIR}/CHANGELOG.md)
if(NOT "${LIBDIR}/cmake/tpoll/tpollConfig.cmake" IN_LIST cmake_files)
  message(FATAL_ERROR "no tpollConfig.cmake in the full install")
endif()
# Runtime and Development share only LICENSE.
files_in(${PREFIX}/runtime r)
files_in(${PREFIX}/dev d)
set(both ${r} ${d})
list(REMOVE_DUPLICATES both)
list(SORT both)
if(NOT "${both}" STREQUAL "${full}")
  message(FATAL_ERROR "Runtime + Development:\n  ${both}\nfull install:\n  ${full}")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} --target uninstall
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the uninstall target failed")
endif()
foreach(p runtime dev full)
  expect_exactly(${PREFIX}/${p})
  if(EXISTS ${PREFIX}/${p}/${INCLUDEDIR}/tpoll OR EXISTS ${PREFIX}/${p}/${DOCDIR})
    message(FATAL_ERROR "uninstall left tpoll's own directories in ${PREFIX}/${p}")
  endif()
endforeach()
