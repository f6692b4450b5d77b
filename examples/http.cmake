# SPDX-License-Identifier: MIT
add_executable(tpoll_http ${CMAKE_CURRENT_LIST_DIR}/http.c
  ${CMAKE_CURRENT_LIST_DIR}/http_parse.c)
tpoll_c11(tpoll_http)
target_compile_definitions(tpoll_http PRIVATE _GNU_SOURCE)
target_link_libraries(tpoll_http PRIVATE tpoll::tpoll tpoll_warnings tpoll_sanitize Threads::Threads)
if(TPOLL_BUILD_TESTS)
  tpoll_add_test(NAME example_http_help KIND example BACKENDS none
    ENVIRONMENT "EMULATOR=${TPOLL_EMULATOR}"
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_check.sh help $<TARGET_FILE:tpoll_http>
      --port --addr --threads --backend --seconds --listener --trigger)
endif()
# Driven by wrk (Debian package wrk; skipped without it): a few seconds of
# keep-alive load on loopback, every response checked.
if(TPOLL_BUILD_TESTS AND NOT CMAKE_CROSSCOMPILING)
  tpoll_add_test(NAME example_http_wrk KIND example TIMEOUT 60 RUN_SERIAL
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/http_wrk.sh $<TARGET_FILE:tpoll_http>
      ${CMAKE_CURRENT_LIST_DIR}/http_check.lua @BACKEND@)
  # The same with edge-triggered connections (--trigger edge).
  tpoll_add_test(NAME example_http_wrk_edge KIND example TIMEOUT 60 RUN_SERIAL
    ENVIRONMENT TRIGGER=edge LABELS edge
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/http_wrk.sh $<TARGET_FILE:tpoll_http>
      ${CMAKE_CURRENT_LIST_DIR}/http_check.lua @BACKEND@)
endif()
# The server closes idle connections, and every open one when it stops
# (bash's /dev/tcp as the client).
if(TPOLL_BUILD_TESTS AND NOT CMAKE_CROSSCOMPILING)
  tpoll_add_test(NAME example_http_close KIND example TIMEOUT 60
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/http_close.sh $<TARGET_FILE:tpoll_http> @BACKEND@)
endif()
