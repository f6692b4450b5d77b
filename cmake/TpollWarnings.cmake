# SPDX-License-Identifier: MIT
add_library(tpoll_warnings INTERFACE)
target_compile_options(tpoll_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
)
if(TPOLL_WERROR)
  target_compile_options(tpoll_warnings INTERFACE -Werror)
endif()
