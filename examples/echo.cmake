# SPDX-License-Identifier: MIT
add_executable(tpoll_echo ${CMAKE_CURRENT_LIST_DIR}/echo.c)
tpoll_c11(tpoll_echo)
target_compile_definitions(tpoll_echo PRIVATE _GNU_SOURCE)
target_link_libraries(tpoll_echo PRIVATE tpoll::tpoll tpoll_warnings tpoll_sanitize Threads::Threads)
if(TPOLL_BUILD_TESTS)
  tpoll_add_test(NAME example_echo KIND example TIMEOUT 60
    COMMAND tpoll_echo --backend @BACKEND@ --seconds 1 --conns 16)
endif()
