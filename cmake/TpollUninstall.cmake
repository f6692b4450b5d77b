# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.20)
# cmake -DBUILD=<build dir> -P TpollUninstall.cmake (the uninstall target)
# Removes every file that `cmake --install` of BUILD recorded, whole or by
# component (install_manifest.txt, install_manifest_<Component>.txt; the
# paths include DESTDIR), then the directories of tpoll's own that this
# left empty, then the manifests: a second run has nothing to do.
file(GLOB manifests ${BUILD}/install_manifest*.txt)
if(NOT manifests)
  message(STATUS "Nothing to uninstall: no install manifest in ${BUILD}")
  return()
endif()
set(dirs "")
foreach(m IN LISTS manifests)
  file(STRINGS ${m} files)
  foreach(f IN LISTS files)
    if(IS_SYMLINK ${f} OR EXISTS ${f})
      message(STATUS "Removing ${f}")
      file(REMOVE ${f})
      get_filename_component(d ${f} DIRECTORY)
      list(APPEND dirs ${d})
    endif()
  endforeach()
endforeach()
# include/tpoll, lib/cmake/tpoll, share/doc/tpoll: tpoll's alone, removed
# when empty; shared ones (lib, man3, pkgconfig) stay.
list(REMOVE_DUPLICATES dirs)
foreach(d IN LISTS dirs)
  get_filename_component(name ${d} NAME)
  file(GLOB left ${d}/*)
  if(name STREQUAL "tpoll" AND NOT left)
    message(STATUS "Removing ${d}/")
    file(REMOVE_RECURSE ${d})
  endif()
endforeach()
file(REMOVE ${manifests})
