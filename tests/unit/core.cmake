# SPDX-License-Identifier: MIT
# Core decisions against a recording fake backend: no kernel poller is
# involved, so one run covers them (label unit).
foreach(t test_core_decisions test_counters)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
  target_link_libraries(${t} PRIVATE tpoll_test_support)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS "unit" TIMEOUT 60
    SKIP_RETURN_CODE 77)
endforeach()
