# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DBUILD=<build dir> -DPREFIX=<dir> [-DCONFIG=<cfg>] -P install.cmake
# A fresh install of the build, as a user would make it.
file(REMOVE_RECURSE ${PREFIX})
set(cfg)
if(CONFIG)
  set(cfg --config ${CONFIG})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX} ${cfg}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed")
endif()
