# SPDX-License-Identifier: MIT
# Event ports (illumos, Solaris): the functions backends/port.c calls, and
# port as the default backend where it is the native poller. Included by
# TpollBackends.cmake; does nothing unless port is in TPOLL_BACKENDS.
if(NOT "port" IN_LIST TPOLL_BACKENDS)
  return()
endif()

if(TP_HAVE_PORT_H)
  foreach(f port_create port_associate port_dissociate port_getn port_send)
    string(TOUPPER "TP_HAVE_${f}" _var)
    check_symbol_exists(${f} port.h ${_var})
    if(NOT ${_var})
      message(FATAL_ERROR "<port.h> lacks ${f}(), which the port backend needs; drop port from TPOLL_BACKENDS")
    endif()
  endforeach()
  # illumos also ships <sys/epoll.h>, a compatibility layer over /dev/poll;
  # event ports are the native poller there, so auto prefers them.
  if(TPOLL_DEFAULT_BACKEND STREQUAL "auto" AND CMAKE_SYSTEM_NAME STREQUAL "SunOS")
    set(TPOLL_DEFAULT_BACKEND_RESOLVED port)
  endif()
elseif(NOT TPOLL_TEST_EMULATION)
  message(FATAL_ERROR "port is in TPOLL_BACKENDS but <port.h> was not found (event ports exist on illumos and Solaris; on Linux use -DTPOLL_TEST_EMULATION=ON for tests)")
endif()
