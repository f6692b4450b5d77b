# SPDX-License-Identifier: MIT
# Sources of the test-only kqueue and event-port emulations, compiled into
# the library (hidden symbols) when TPOLL_TEST_EMULATION=ON.
# TPOLL_EMUL_INCLUDE_DIR holds the stand-in system headers and the
# generated flavour header they include (tests/emul/flavour.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/flavour.cmake)
set(TPOLL_EMUL_SOURCES)
set(TPOLL_EMUL_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR}/include ${TPOLL_EMUL_FLAVOUR_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/kqueue/sources.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/port/sources.cmake)
