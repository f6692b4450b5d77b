# SPDX-License-Identifier: MIT
# The kqueue emulation, compiled into the library (hidden symbols) when
# TPOLL_TEST_EMULATION=ON, the kqueue backend is compiled and this platform
# has no kqueue of its own.
if("kqueue" IN_LIST TPOLL_BACKENDS AND NOT TP_HAVE_SYS_EVENT_H)
  list(APPEND TPOLL_EMUL_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/kq_kevent.c
    ${CMAKE_CURRENT_LIST_DIR}/kq_knotes.c
    ${CMAKE_CURRENT_LIST_DIR}/kq_registry.c)
endif()
