# SPDX-License-Identifier: MIT
# cmake -DMANIFEST=<build>/install_manifest.txt -P uninstall.cmake
#
# Removes every file listed in the install manifest (what the last
# `cmake --install` of that build tree wrote, with DESTDIR as it was then).
# A file already gone is reported, not an error; a file that cannot be
# removed is.  Then each directory that held a removed file and is now
# empty goes too, and so on upwards, never above PREFIX (the install
# prefix, with DESTDIR) and never PREFIX itself: a directory still holding
# anything is someone else's as well and stays.
if(NOT MANIFEST OR NOT EXISTS "${MANIFEST}")
  message(FATAL_ERROR "uninstall: no install manifest '${MANIFEST}': nothing was installed from this build tree")
endif()
file(STRINGS "${MANIFEST}" _files)
set(_removed 0)
set(_dirs "")
foreach(_f IN LISTS _files)
  set(_path "$ENV{DESTDIR}${_f}")
  if(IS_SYMLINK "${_path}" OR EXISTS "${_path}")
    file(REMOVE "${_path}")
    if(IS_SYMLINK "${_path}" OR EXISTS "${_path}")
      message(FATAL_ERROR "uninstall: cannot remove ${_path}")
    endif()
    message(STATUS "Removed ${_path}")
    get_filename_component(_d "${_path}" DIRECTORY)
    list(APPEND _dirs "${_d}")
    math(EXPR _removed "${_removed} + 1")
  else()
    message(STATUS "Already gone: ${_path}")
  endif()
endforeach()
set(_top "$ENV{DESTDIR}${PREFIX}")
list(REMOVE_DUPLICATES _dirs)
foreach(_d IN LISTS _dirs)
  # Only directories strictly inside the prefix.
  while(PREFIX AND IS_DIRECTORY "${_d}")
    string(FIND "${_d}" "${_top}/" _at)
    if(NOT _at EQUAL 0)
      break()
    endif()
    file(GLOB _left "${_d}/*" "${_d}/.*")
    if(_left)
      break()
    endif()
    file(REMOVE_RECURSE "${_d}") # empty: nothing but the directory goes
    if(EXISTS "${_d}")
      break()
    endif()
    message(STATUS "Removed empty directory ${_d}")
    get_filename_component(_d "${_d}" DIRECTORY)
  endwhile()
endforeach()
message(STATUS "uninstall: ${_removed} files removed")
