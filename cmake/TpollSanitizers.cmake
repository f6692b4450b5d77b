# SPDX-License-Identifier: MIT
# -DTPOLL_SANITIZE="address;undefined" or "thread": applied to the library,
# the tests and the examples alike.
add_library(tpoll_sanitize INTERFACE)
if(TPOLL_SANITIZE)
  list(JOIN TPOLL_SANITIZE "," _tp_san)
  target_compile_options(tpoll_sanitize INTERFACE -fsanitize=${_tp_san} -fno-omit-frame-pointer -fno-sanitize-recover=all -g)
  target_link_options(tpoll_sanitize INTERFACE -fsanitize=${_tp_san})
endif()
