# SPDX-License-Identifier: MIT
# The event-port emulation, compiled into the library (hidden symbols) when
# TPOLL_TEST_EMULATION=ON and this platform has no <port.h> of its own.
# Included by tests/emul/sources.cmake.
if(NOT TP_HAVE_PORT_H)
  list(APPEND TPOLL_EMUL_SOURCES ${CMAKE_CURRENT_LIST_DIR}/port_emul.c)
endif()
