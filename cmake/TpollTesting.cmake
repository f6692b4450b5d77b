# SPDX-License-Identifier: MIT
# tpoll_add_test: the one way a test is registered with ctest, so that
# every test gets the same backend selection, labels, skip code and
# timeout, and a test whose file is missing fails configure.
#
#   tpoll_add_test(NAME <name> KIND <label>
#                  {SOURCES <file>... | COMMAND <program> [<arg>...]}
#                  [BACKENDS all|none|<backend>...] [TARGET <executable>]
#                  [LIBS <lib>...] [INCLUDES <dir>...]
#                  [LINK_OPTIONS <option>...] [DEFINITIONS <def>...]
#                  [LABELS <label>...] [TIMEOUT <seconds>] [RUN_SERIAL]
#                  [HOOKED]
#                  [ENVIRONMENT <var>=<value>...]
#                  [PROPERTIES <property> <value>...])
#
# SOURCES builds the executable TARGET (default: NAME) in the calling
# directory, linked with tpoll_test_support (HOOKED: tpoll_test_support_hooked,
# the library with the core's test hooks, for tests that force
# interleavings) and LIBS; INCLUDES come first,
# so that tests/emul/include can stand in for a system header. COMMAND
# runs anything else: a script with its interpreter, a program built by
# other means. In COMMAND, @BACKEND@ stands for the entry's backend, and
# an argument naming a file of the source tree must name one that exists.
#
# BACKENDS all (the default), or a list of compiled backends: one entry
# <NAME>.<backend> per backend, run with TPOLL_BACKEND=<backend>, labels
# <KIND>;<backend>. BACKENDS none: one entry <NAME>, label <KIND>, for a
# test that is not about a backend or chooses its own. Every entry: the
# LABELS added, exit code 77 means skipped, TIMEOUT 120 unless given,
# and any other ctest PROPERTIES as given.
function(tpoll_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "RUN_SERIAL;HOOKED" "NAME;KIND;TARGET;TIMEOUT"
    "SOURCES;COMMAND;BACKENDS;LIBS;INCLUDES;LINK_OPTIONS;DEFINITIONS;LABELS;ENVIRONMENT;PROPERTIES")
  if(T_UNPARSED_ARGUMENTS OR NOT T_NAME OR NOT T_KIND)
    message(FATAL_ERROR "tpoll_add_test(${ARGV}): needs NAME and KIND, and no other words than its keywords")
  endif()
  if(T_SOURCES AND T_COMMAND)
    message(FATAL_ERROR "tpoll_add_test(${T_NAME}): SOURCES or COMMAND, not both")
  endif()

  if(T_SOURCES)
    if(NOT T_TARGET)
      set(T_TARGET ${T_NAME})
    endif()
    add_executable(${T_TARGET} ${T_SOURCES})
    tpoll_c11(${T_TARGET})
    target_include_directories(${T_TARGET} BEFORE PRIVATE ${T_INCLUDES})
    target_compile_definitions(${T_TARGET} PRIVATE ${T_DEFINITIONS})
    if(T_HOOKED)
      target_link_libraries(${T_TARGET} PRIVATE tpoll_test_support_hooked ${T_LIBS})
    else()
      target_link_libraries(${T_TARGET} PRIVATE tpoll_test_support ${T_LIBS})
    endif()
    target_link_options(${T_TARGET} PRIVATE ${T_LINK_OPTIONS})
    set(T_COMMAND ${T_TARGET})
  elseif(T_COMMAND)
    _tp_test_inputs_exist(${T_NAME} ${T_COMMAND})
  else()
    message(FATAL_ERROR "tpoll_add_test(${T_NAME}): SOURCES or COMMAND is needed")
  endif()

  if(NOT T_BACKENDS OR T_BACKENDS STREQUAL "all")
    set(T_BACKENDS ${TPOLL_BACKENDS})
  elseif(T_BACKENDS STREQUAL "none")
    set(T_BACKENDS)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(common TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77 ${T_PROPERTIES})
  if(T_RUN_SERIAL)
    list(APPEND common RUN_SERIAL ON)
  endif()

  if(NOT T_BACKENDS)
    add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
    set(labels ${T_KIND} ${T_LABELS})
    set_tests_properties(${T_NAME} PROPERTIES ${common} LABELS "${labels}")
    if(T_ENVIRONMENT)
      set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${T_ENVIRONMENT}")
    endif()
    return()
  endif()
  foreach(b IN LISTS T_BACKENDS)
    if(NOT b IN_LIST TPOLL_BACKENDS)
      message(FATAL_ERROR "tpoll_add_test(${T_NAME}): backend '${b}' is not compiled; register the test only when it is")
    endif()
    string(REPLACE "@BACKEND@" ${b} command "${T_COMMAND}")
    set(labels ${T_KIND} ${b} ${T_LABELS} ${TPOLL_EMUL_LABEL_${b}})
    set(environment TPOLL_BACKEND=${b} ${T_ENVIRONMENT})
    add_test(NAME ${T_NAME}.${b} COMMAND ${command})
    set_tests_properties(${T_NAME}.${b} PROPERTIES ${common}
      LABELS "${labels}" ENVIRONMENT "${environment}")
  endforeach()
endfunction()

# A script or input of the source tree that was renamed or deleted must
# fail configure, as a missing source does, rather than fail every run.
# The build tree may lie inside the source tree: its paths are outputs.
function(_tp_test_inputs_exist name)
  foreach(arg IN LISTS ARGN)
    cmake_path(IS_PREFIX PROJECT_SOURCE_DIR "${arg}" NORMALIZE in_sources)
    cmake_path(IS_PREFIX PROJECT_BINARY_DIR "${arg}" NORMALIZE in_build)
    if(in_sources AND NOT in_build AND NOT EXISTS "${arg}")
      message(FATAL_ERROR "tpoll_add_test(${name}): ${arg} does not exist")
    endif()
  endforeach()
endfunction()
