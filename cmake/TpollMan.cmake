# SPDX-License-Identifier: MIT
# Section 3 man pages: one per public function (related functions share a
# page through a .so stub), plus tpoll(3).
file(GLOB TPOLL_MAN3_PAGES ${PROJECT_SOURCE_DIR}/docs/man/*.3)
install(FILES ${TPOLL_MAN3_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3
        COMPONENT Development)
