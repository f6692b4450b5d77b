# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DKIND=shared|static -DEXE=<program> -DREADELF=<readelf> -P ...
# Fails unless EXE needs libtpoll.so (shared) or does not (static).
if(NOT READELF)
  find_program(READELF NAMES readelf)
endif()
execute_process(COMMAND ${READELF} -d ${EXE} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${EXE} failed")
endif()
string(REGEX MATCH "NEEDED[^\n]*libtpoll\\.so" needed "${dyn}")
if(KIND STREQUAL "shared" AND NOT needed)
  message(FATAL_ERROR "${EXE} was meant to link libtpoll.so but does not need it")
elseif(KIND STREQUAL "static" AND needed)
  message(FATAL_ERROR "${EXE} was meant to link libtpoll.a but needs libtpoll.so")
endif()
