# SPDX-License-Identifier: MIT
# Installs headers, libraries, tpoll.pc and the CMake package tpoll::tpoll.
include(CMakePackageConfigHelpers)

install(FILES include/tpoll.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/tpoll/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tpoll)

# The installed package exports one target per library kind; tpoll::tpoll
# is defined by tpollConfig.cmake as the shared one when installed.
install(TARGETS ${TPOLL_LIB_TARGETS}
        EXPORT tpollTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tpollTargets
        NAMESPACE tpoll::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tpoll)

configure_package_config_file(cmake/tpollConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tpollConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tpoll)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tpollConfigVersion.cmake
  COMPATIBILITY ${TPOLL_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/tpollConfig.cmake
              ${PROJECT_BINARY_DIR}/tpollConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tpoll)

# pkg-config: paths relative to the prefix so that a relocated install works.
# The prefix itself is found from the .pc file's own place: the configured
# CMAKE_INSTALL_PREFIX is wrong after `cmake --install --prefix` or a copy.
file(RELATIVE_PATH TPOLL_PC_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" TPOLL_PC_PREFIX "${TPOLL_PC_PREFIX}")
set(TPOLL_PC_PREFIX "\${pcfiledir}/${TPOLL_PC_PREFIX}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TPOLL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
set(TPOLL_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(TPOLL_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TPOLL_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TPOLL_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# tpoll.pc links the shared library (or the static one when it is the
# only one built); tpoll-static.pc names the archive itself, as libuv's
# libuv-static.pc does, since `pkg-config --static` only adds private
# dependencies and -ltpoll still finds libtpoll.so first.
configure_file(cmake/tpoll.pc.in ${PROJECT_BINARY_DIR}/tpoll.pc @ONLY)
configure_file(cmake/tpoll-static.pc.in ${PROJECT_BINARY_DIR}/tpoll-static.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tpoll.pc ${PROJECT_BINARY_DIR}/tpoll-static.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
include(TpollMan)
