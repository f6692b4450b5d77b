# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DCC=<compiler> -DINCLUDE=<include/> -DGENERATED_INCLUDE=<the
#       build's include/> -DROOT=<source tree> -DPRELUDE=<prelude.h>
#       -DOUT=<scratch dir> -P snippets.cmake
# Every C snippet of README.md, docs/guide.md and the man pages' EXAMPLE
# sections compiles against tpoll.h with -Wall -Werror, so that the docs
# never show code that does not build. A snippet is a ```c block (README,
# guide) or an .EX/.EE block (man); one marked as a fragment (a line
# "<!-- snippet: fragment -->", or ".\" snippet: fragment", just before
# it: code of another library, shown for comparison) is left out.
#
# Each snippet becomes one file: prelude.h (the program's own names the
# excerpts use), then its function definitions, then its other lines as
# the body of a function. #line directives point the compiler's messages
# at the document's own lines. -Wno-unused-function: a snippet may define
# a callback that the excerpt does not get to use.
set(docs ${ROOT}/README.md ${ROOT}/docs/guide.md)
file(GLOB man ${ROOT}/docs/man/*.3)
list(APPEND docs ${man})
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})

set(compiled 0)
set(fragments 0)
set(failed "")

# Writes one snippet (lines in the list variable `code`, the first at
# document line `first`) to a file and compiles it.
function(check_snippet doc first)
  set(funcs "")
  set(body "")
  set(in_func FALSE)
  set(n ${first})
  foreach(line IN LISTS code)
    # A function definition starts at column 0 with a name and "(" and
    # ends at the first "}" in column 0.
    if(NOT in_func AND line MATCHES "^(static )?[a-z_][a-z0-9_ *]* \\**[a-z_][a-z0-9_]*\\(")
      set(in_func TRUE)
      string(APPEND funcs "#line ${n} \"${doc}\"\n")
    endif()
    if(in_func)
      string(APPEND funcs "${line}\n")
      if(line STREQUAL "}")
        set(in_func FALSE)
      endif()
    elseif(NOT line STREQUAL "")
      string(APPEND body "#line ${n} \"${doc}\"\n${line}\n")
    endif()
    math(EXPR n "${n} + 1")
  endforeach()
  get_filename_component(name ${doc} NAME)
  string(MAKE_C_IDENTIFIER "${name}_${first}" id)
  set(file ${OUT}/${id}.c)
  file(WRITE ${file} "#include \"${PRELUDE}\"\n${funcs}\nvoid snippet_${id}(void);\nvoid snippet_${id}(void)\n{\n${body}}\n")
  execute_process(COMMAND ${CC} -std=c11 -Wall -Werror -Wno-unused-function
      -fsyntax-only -I${INCLUDE} -I${GENERATED_INCLUDE} ${file}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(STATUS "ok   ${name}:${first}")
  else()
    message("FAIL ${name}:${first} (${file})\n${out}")
    set(failed ${failed} "${name}:${first}" PARENT_SCOPE)
  endif()
endfunction()

foreach(doc IN LISTS docs)
  get_filename_component(name ${doc} NAME)
  set(is_man FALSE)
  if(doc MATCHES "\\.3$")
    set(is_man TRUE)
  endif()
  # Lines are read one by one, empty ones kept; [ and ] would otherwise
  # group lines in a CMake list.
  file(READ ${doc} text)
  string(REPLACE "[" "@LB@" text "${text}")
  string(REPLACE "]" "@RB@" text "${text}")
  string(REPLACE ";" "@SC@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(n 0)
  set(in_block FALSE)
  set(fragment FALSE)
  set(section "")
  set(prev "")
  foreach(raw IN LISTS lines)
    math(EXPR n "${n} + 1")
    set(line "${raw}")
    string(REPLACE "@LB@" "[" line "${line}")
    string(REPLACE "@RB@" "]" line "${line}")
    string(REPLACE "@SC@" ";" line "${line}")
    if(is_man)
      if(line MATCHES "^\\.SH +(.*)$")
        set(section "${CMAKE_MATCH_1}")
      endif()
      set(open_re "^\\.EX")
      set(close_re "^\\.EE")
      set(mark_re "^\\.\\\\\" snippet: fragment")
    else()
      set(section EXAMPLE)
      set(open_re "^ *```c$")
      set(close_re "^ *```$")
      set(mark_re "^<!-- snippet: fragment")
    endif()
    if(NOT in_block)
      if(line MATCHES "${open_re}" AND section STREQUAL "EXAMPLE")
        set(in_block TRUE)
        set(code "")
        math(EXPR first "${n} + 1")
        string(REGEX REPLACE "[^ ].*$" "" indent "${line}")
        string(LENGTH "${indent}" indent)
        set(fragment FALSE)
        if(prev MATCHES "${mark_re}")
          set(fragment TRUE)
        endif()
      endif()
      set(prev "${line}")
      continue()
    endif()
    if(line MATCHES "${close_re}")
      set(in_block FALSE)
      if(fragment)
        math(EXPR fragments "${fragments} + 1")
        message(STATUS "skip ${name}:${first} (marked as a fragment)")
      else()
        math(EXPR compiled "${compiled} + 1")
        check_snippet(${doc} ${first})
      endif()
      set(prev "${line}")
      continue()
    endif()
    if(is_man)
      string(REPLACE "\\-" "-" line "${line}")
      string(REPLACE "\\e" "\\" line "${line}")
    elseif(indent GREATER 0)
      # A block indented in a list item: its lines lose that indentation.
      string(REPEAT " " ${indent} pad)
      if(line MATCHES "^${pad}(.*)$")
        set(line "${CMAKE_MATCH_1}")
      endif()
    endif()
    # Kept as one list item each, whatever they hold.
    string(REPLACE ";" "\\;" line "${line}")
    list(APPEND code "${line}")
  endforeach()
endforeach()

message(STATUS "${compiled} snippets compiled, ${fragments} fragments left out")
if(compiled EQUAL 0)
  message(FATAL_ERROR "no snippet found: has the marking changed?")
endif()
if(failed)
  message(FATAL_ERROR "snippets that do not compile: ${failed}")
endif()
