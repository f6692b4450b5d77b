# SPDX-License-Identifier: MIT
add_executable(tpoll_http ${CMAKE_CURRENT_LIST_DIR}/http.c)
target_compile_definitions(tpoll_http PRIVATE _GNU_SOURCE)
target_link_libraries(tpoll_http PRIVATE tpoll::tpoll tpoll_warnings tpoll_sanitize Threads::Threads)
# Driven by wrk (Debian package wrk; skipped without it): a few seconds of
# keep-alive load on loopback, every response checked.
if(TPOLL_BUILD_TESTS AND NOT CMAKE_CROSSCOMPILING)
  foreach(b IN LISTS TPOLL_BACKENDS)
    add_test(NAME example_http_wrk.${b} COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/http_wrk.sh
      $<TARGET_FILE:tpoll_http> ${CMAKE_CURRENT_LIST_DIR}/http_check.lua ${b})
    set_tests_properties(example_http_wrk.${b} PROPERTIES
      LABELS "example;${b}" TIMEOUT 60 SKIP_RETURN_CODE 77 RUN_SERIAL ON)
  endforeach()
endif()
