# SPDX-License-Identifier: MIT
# Installs tpoll in two components, so that a package (or
# `cmake --install --component`) can split them:
#   Runtime      the shared library and its SONAME link, LICENSE
#   Development  headers, the static library, the libtpoll.so link,
#                pkg-config files, the CMake package, man pages,
#                LICENSE and CHANGELOG.md
include(CMakePackageConfigHelpers)

install(FILES include/tpoll.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT Development)
install(FILES ${PROJECT_BINARY_DIR}/include/tpoll/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tpoll COMPONENT Development)

# The installed package exports one target per library kind; tpoll::tpoll
# is defined by tpollConfig.cmake as the shared one when installed.
install(TARGETS ${TPOLL_LIB_TARGETS}
        EXPORT tpollTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          COMPONENT Runtime NAMELINK_COMPONENT Development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tpollTargets
        NAMESPACE tpoll::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tpoll
        COMPONENT Development)

configure_package_config_file(cmake/tpollConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tpollConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tpoll)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tpollConfigVersion.cmake
  COMPATIBILITY ${TPOLL_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/tpollConfig.cmake
              ${PROJECT_BINARY_DIR}/tpollConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tpoll
        COMPONENT Development)

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
# The io_uring backend's liburing: private to the shared library, needed
# by whoever links the archive.
set(TPOLL_PC_REQUIRES "")
if("io_uring" IN_LIST TPOLL_BACKENDS)
  set(TPOLL_PC_REQUIRES "liburing")
endif()
configure_file(cmake/tpoll.pc.in ${PROJECT_BINARY_DIR}/tpoll.pc @ONLY)
configure_file(cmake/tpoll-static.pc.in ${PROJECT_BINARY_DIR}/tpoll-static.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tpoll.pc ${PROJECT_BINARY_DIR}/tpoll-static.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)

# The licence travels with each component, which may be shipped alone.
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT Runtime)
install(FILES LICENSE CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT Development)
include(TpollMan)

# `cmake --build <dir> --target uninstall` removes what `cmake --install`
# of this build tree installed. Top level only: as a subproject the
# install manifest would list the parent's files too.
if(TPOLL_TOP_LEVEL)
  add_custom_target(uninstall
    COMMAND ${CMAKE_COMMAND} -DBUILD=${PROJECT_BINARY_DIR}
            -P ${PROJECT_SOURCE_DIR}/cmake/TpollUninstall.cmake
    COMMENT "Removing what cmake --install of ${PROJECT_BINARY_DIR} installed")
endif()
