# SPDX-License-Identifier: MIT
# The kqueue backend's changelists, with kevent() wrapped at link time so
# that every change the backend submits is seen (labels unit, kqueue).
# GNU ld and lld have --wrap; Apple's linker does not.
if("kqueue" IN_LIST TPOLL_BACKENDS AND NOT APPLE)
  foreach(t test_kqueue_changes)
    add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
    target_link_libraries(${t} PRIVATE tpoll_test_support)
    target_link_options(${t} PRIVATE "LINKER:--wrap=kevent")
    if(TPOLL_TEST_EMULATION AND NOT TP_HAVE_SYS_EVENT_H)
      target_include_directories(${t} BEFORE PRIVATE ${TPOLL_EMUL_INCLUDE_DIR})
    endif()
    add_test(NAME ${t} COMMAND ${t})
    set_tests_properties(${t} PROPERTIES LABELS "unit;kqueue" TIMEOUT 60
      ENVIRONMENT "TPOLL_BACKEND=kqueue" SKIP_RETURN_CODE 77)
  endforeach()
endif()
