# SPDX-License-Identifier: MIT
add_test(NAME consumer.man COMMAND sh ${src}/man.sh ${prefix}
  ${CMAKE_INSTALL_MANDIR} ${PROJECT_SOURCE_DIR}/include/tpoll.h)
set_tests_properties(consumer.man PROPERTIES
  LABELS consumer FIXTURES_REQUIRED tpoll_prefix SKIP_RETURN_CODE 77)
