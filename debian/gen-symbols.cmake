# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DMAP=cmake/tpoll.map -DVERSION=<x.y.z> [-DOUT=<file>]
#       [-DCHECK=<debian dir>] -P debian/gen-symbols.cmake
# The Debian symbols file of the runtime package, generated from the
# version script (printed, or written to OUT). With CHECK, fails unless
# that debian/ directory has this very file as <runtime package>.symbols
# and its control file names that package (the name follows the SONAME:
# a new SONAME needs both renamed). Each symbol's minimal
# version is the release that added its node (TPOLL_1.3 -> 1.3.0), but
# never earlier than the first release of the current SONAME: while the
# major version is 0 every 0.MINOR has a SONAME of its own, so everything
# in libtpoll.so.0.3 dates from 0.3.0. dpkg-gensymbols -c4 (debian/rules)
# then fails the package build if the library exports anything else.
# tests/consumer registers the CHECK as the test consumer.deb_symbols.
include(${CMAKE_CURRENT_LIST_DIR}/../tests/consumer/soname.cmake)
tpoll_expected_soname(${VERSION} soname)
string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _ "${VERSION}")
if(CMAKE_MATCH_1 EQUAL 0)
  set(first "0.${CMAKE_MATCH_2}.0")
else()
  set(first "${CMAKE_MATCH_1}.0.0")
endif()
string(REPLACE "libtpoll.so." "libtpoll" package "${soname}")

file(READ ${MAP} map)
string(REGEX REPLACE "/\\*[^*]*\\*/" "" map "${map}")
# Semicolons would split the nodes into list items: spaces do as well.
string(REPLACE ";" " " map "${map}")
string(REGEX MATCHALL "TPOLL_[0-9]+\\.[0-9]+[ \t\n]*{[^}]*}" nodes "${map}")
set(lines "")
foreach(node IN LISTS nodes)
  string(REGEX MATCH "^TPOLL_([0-9]+\\.[0-9]+)" _ "${node}")
  set(name "TPOLL_${CMAKE_MATCH_1}")
  set(since "${CMAKE_MATCH_1}.0")
  if(since VERSION_LESS first)
    set(since ${first})
  endif()
  string(REGEX REPLACE "local:.*$" "" node "${node}")
  string(REGEX REPLACE "^[^:]*global:" "" node "${node}")
  string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*" symbols "${node}")
  list(APPEND lines " ${name}@${name} ${since}")
  foreach(s IN LISTS symbols)
    list(APPEND lines " ${s}@${name} ${since}")
  endforeach()
endforeach()
list(SORT lines)
list(JOIN lines "\n" body)
set(text "${soname} ${package} #MINVER#\n* Build-Depends-Package: libtpoll-dev\n${body}\n")
if(CHECK)
  set(held "${CHECK}/${package}.symbols")
  if(NOT EXISTS ${held})
    message(FATAL_ERROR "${held} is missing: the runtime package of ${soname} is ${package}")
  endif()
  file(READ ${held} held_text)
  if(NOT held_text STREQUAL text)
    message(FATAL_ERROR "${held} differs from what cmake/tpoll.map gives; regenerate it:\n"
      "  cmake -DMAP=cmake/tpoll.map -DVERSION=${VERSION} -DOUT=debian/${package}.symbols -P debian/gen-symbols.cmake\n"
      "expected:\n${text}")
  endif()
  file(STRINGS ${CHECK}/control packages REGEX "^Package: ")
  if(NOT "Package: ${package}" IN_LIST packages)
    message(FATAL_ERROR "${CHECK}/control has no package ${package} (it has: ${packages})")
  endif()
  message(STATUS "${held} matches the version script; control names ${package}")
elseif(OUT)
  file(WRITE ${OUT} "${text}")
else()
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo_append "${text}")
endif()
