# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# The SONAME policy of docs/versioning.md, written out independently of
# the build's own computation: libtpoll.so.0.MINOR while MAJOR is 0 (a
# minor release may break the ABI), libtpoll.so.MAJOR from 1.0 on.
function(tpoll_expected_soname version out)
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _ "${version}")
  if(CMAKE_MATCH_1 EQUAL 0)
    set(${out} "libtpoll.so.0.${CMAKE_MATCH_2}" PARENT_SCOPE)
  else()
    set(${out} "libtpoll.so.${CMAKE_MATCH_1}" PARENT_SCOPE)
  endif()
endfunction()

# Run as a script: cmake -DLIBDIR=<installed libdir> -DVERSION=<x.y.z>
#   [-DREADELF=readelf] -P soname.cmake
# The installed library carries the expected SONAME, and the files a
# loader and a linker look for are there: libtpoll.so -> SONAME -> the
# real file libtpoll.so.VERSION.
if(NOT CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  return()
endif()
if(NOT READELF)
  find_program(READELF NAMES readelf REQUIRED)
endif()
tpoll_expected_soname(${VERSION} soname)
set(real ${LIBDIR}/libtpoll.so.${VERSION})
if(NOT EXISTS ${real} OR IS_SYMLINK ${real})
  message(FATAL_ERROR "${real} is missing or not the real file")
endif()
execute_process(COMMAND ${READELF} -d ${real} OUTPUT_VARIABLE dyn
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${real} failed")
endif()
string(REGEX MATCH "\\(SONAME\\)[^\n]*\\[([^]\n]*)\\]" _ "${dyn}")
if(NOT CMAKE_MATCH_1 STREQUAL soname)
  message(FATAL_ERROR "SONAME of ${real} is '${CMAKE_MATCH_1}', policy says '${soname}'")
endif()
foreach(link ${soname} libtpoll.so)
  file(REAL_PATH ${LIBDIR}/${link} target)
  file(REAL_PATH ${real} real_resolved)
  if(NOT IS_SYMLINK ${LIBDIR}/${link} OR NOT target STREQUAL real_resolved)
    message(FATAL_ERROR "${LIBDIR}/${link} is not a link to ${real}")
  endif()
endforeach()
message(STATUS "SONAME ${soname}, links in place")
