# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DBUILD=<parent build> -DPREFIX=<dir> -DEXPECT_INSTALL=ON|OFF
#       -DEXPECT_KIND=shared|static -P ...
# Installs the parent project and looks at what landed: its own program
# always; tpoll's header, libraries (the shared one when it is built),
# pkg-config file, CMake package and man pages only when the parent asked
# for them (TPOLL_INSTALL=ON).
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install of the parent failed")
endif()
file(GLOB_RECURSE installed RELATIVE ${PREFIX} ${PREFIX}/*)
message(STATUS "installed: ${installed}")
if(NOT "bin/consumer" IN_LIST installed)
  message(FATAL_ERROR "the parent's own program was not installed")
endif()
set(tpoll_files "")
foreach(f IN LISTS installed)
  if(f MATCHES "tpoll")
    list(APPEND tpoll_files ${f})
  endif()
endforeach()
if(EXPECT_INSTALL)
  set(wants "include/tpoll\\.h$" "lib[^/]*/libtpoll\\.a$"
            "pkgconfig/tpoll\\.pc$" "cmake/tpoll/tpollConfig\\.cmake$"
            "man3/tpoll_wait\\.3$")
  if(EXPECT_KIND STREQUAL "shared")
    list(APPEND wants "lib[^/]*/libtpoll\\.so\\.")
  endif()
  foreach(want IN LISTS wants)
    set(found FALSE)
    foreach(f IN LISTS tpoll_files)
      if(f MATCHES "${want}")
        set(found TRUE)
      endif()
    endforeach()
    if(NOT found)
      message(FATAL_ERROR "TPOLL_INSTALL=ON, yet nothing matches ${want}")
    endif()
  endforeach()
elseif(tpoll_files)
  message(FATAL_ERROR "TPOLL_INSTALL is OFF, yet the parent installed: ${tpoll_files}")
endif()
