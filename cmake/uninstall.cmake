# SPDX-License-Identifier: MIT
# cmake -DMANIFEST=<build>/install_manifest.txt -P uninstall.cmake
#
# Removes every file listed in the install manifest (what the last
# `cmake --install` of that build tree wrote, with DESTDIR as it was then).
# A file already gone is reported, not an error; a file that cannot be
# removed is.
if(NOT MANIFEST OR NOT EXISTS "${MANIFEST}")
  message(FATAL_ERROR "uninstall: no install manifest '${MANIFEST}': nothing was installed from this build tree")
endif()
file(STRINGS "${MANIFEST}" _files)
set(_removed 0)
foreach(_f IN LISTS _files)
  set(_path "$ENV{DESTDIR}${_f}")
  if(IS_SYMLINK "${_path}" OR EXISTS "${_path}")
    file(REMOVE "${_path}")
    if(IS_SYMLINK "${_path}" OR EXISTS "${_path}")
      message(FATAL_ERROR "uninstall: cannot remove ${_path}")
    endif()
    message(STATUS "Removed ${_path}")
    math(EXPR _removed "${_removed} + 1")
  else()
    message(STATUS "Already gone: ${_path}")
  endif()
endforeach()
message(STATUS "uninstall: ${_removed} files removed")
