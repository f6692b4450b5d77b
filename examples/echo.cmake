# SPDX-License-Identifier: MIT
add_executable(tpoll_echo ${CMAKE_CURRENT_LIST_DIR}/echo.c)
tpoll_c11(tpoll_echo)
target_compile_definitions(tpoll_echo PRIVATE _GNU_SOURCE)
target_link_libraries(tpoll_echo PRIVATE tpoll::tpoll tpoll_warnings tpoll_sanitize Threads::Threads)
if(TPOLL_BUILD_TESTS)
  tpoll_add_test(NAME example_echo KIND example TIMEOUT 60
    COMMAND tpoll_echo --backend @BACKEND@ --seconds 1 --conns 16)
  tpoll_add_test(NAME example_echo_help KIND example BACKENDS none
    ENVIRONMENT "EMULATOR=${TPOLL_EMULATOR}"
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_check.sh help $<TARGET_FILE:tpoll_echo>
      --backend --threads --clients --conns --seconds --size --max-fds)
  # A table too small for the connections: the insert's -EMFILE is what
  # the demo reports, not an error of its own.
  tpoll_add_test(NAME example_echo_error KIND example TIMEOUT 60
    ENVIRONMENT "EMULATOR=${TPOLL_EMULATOR}"
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_check.sh error $<TARGET_FILE:tpoll_echo>
      -24 --backend @BACKEND@ --max-fds 16 --conns 32 --seconds 1)
endif()
