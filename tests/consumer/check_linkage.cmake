# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DKIND=shared|static -DEXE=<program> -DREADELF=<readelf>
#       [-DVERSION=<tpoll version>] -P ...
# Fails unless EXE needs libtpoll.so (shared) or does not (static); with
# VERSION, a shared EXE must need exactly the SONAME of that version, so
# that the loader refuses to run it on an incompatible release.
include(${CMAKE_CURRENT_LIST_DIR}/soname.cmake)
if(NOT READELF)
  find_program(READELF NAMES readelf)
endif()
execute_process(COMMAND ${READELF} -d ${EXE} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${EXE} failed")
endif()
string(REGEX MATCH "NEEDED[^\n]*\\[(libtpoll\\.so[^]\n]*)\\]" needed "${dyn}")
set(needed_name "${CMAKE_MATCH_1}")
if(KIND STREQUAL "shared" AND NOT needed)
  message(FATAL_ERROR "${EXE} was meant to link libtpoll.so but does not need it")
elseif(KIND STREQUAL "static" AND needed)
  message(FATAL_ERROR "${EXE} was meant to link libtpoll.a but needs ${needed_name}")
endif()
if(KIND STREQUAL "shared" AND VERSION)
  tpoll_expected_soname(${VERSION} soname)
  if(NOT needed_name STREQUAL soname)
    message(FATAL_ERROR "${EXE} needs ${needed_name}, not ${soname}")
  endif()
endif()
