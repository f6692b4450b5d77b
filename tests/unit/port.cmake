# SPDX-License-Identifier: MIT
# The event-port backend's kernel calls, with the port functions wrapped at
# link time (--wrap): labels unit and port.
if(NOT "port" IN_LIST TPOLL_BACKENDS)
  return()
endif()
include(CheckLinkerFlag)
check_linker_flag(C "LINKER:--wrap=port_send" TP_LINKER_HAS_WRAP)
if(NOT TP_LINKER_HAS_WRAP)
  message(STATUS "port backend unit tests skipped: the linker has no --wrap")
  return()
endif()
tpoll_backend_test(test_port_backend unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_port_backend.c
  BACKENDS port TIMEOUT 60)
target_link_options(test_port_backend PRIVATE
  "LINKER:--wrap=port_create,--wrap=port_associate,--wrap=port_dissociate"
  "LINKER:--wrap=port_getn,--wrap=port_send")
if(NOT TP_HAVE_PORT_H)
  target_include_directories(test_port_backend BEFORE PRIVATE ${TPOLL_EMUL_INCLUDE_DIR})
endif()
