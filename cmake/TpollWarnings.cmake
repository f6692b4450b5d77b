# SPDX-License-Identifier: MIT
add_library(tpoll_warnings INTERFACE)
target_compile_options(tpoll_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
)
if(TPOLL_WERROR)
  target_compile_options(tpoll_warnings INTERFACE -Werror)
endif()

# tpoll's own code is C11 without GNU extensions, set on each of its
# targets rather than through CMAKE_C_STANDARD: a project that adds tpoll
# with add_subdirectory keeps its own standard, and tpoll keeps c11 under
# whatever standard that project picked. The C_STANDARD property is needed
# beside the compile feature, which alone adds no -std flag when the
# compiler's default (gnu17) already satisfies c_std_11.
function(tpoll_c11 target)
  target_compile_features(${target} PRIVATE c_std_11)
  set_target_properties(${target} PROPERTIES
    C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
endfunction()
