# SPDX-License-Identifier: MIT
# acp_storage_add_plugin(<name> SOURCES <src>... [LINK <targets>...]
#                        [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds libacp_storage_<name>.so as a CMake MODULE: no SONAME, hidden
# visibility (only the entry made by ACP_PLUGIN_DEFINE is exported), no
# undefined symbols, compiled against the plugin header alone (a plugin
# never links the core), and installs it, mode 0644, into the plugin
# directory.  Works in this source tree and, shipped in the CMake package,
# for out-of-tree backends after find_package(acp_storage CONFIG).
#
# Install directory: ACP_STORAGE_PLUGIN_INSTALL_DIR if set, else the
# package's plugin directory relative to the install prefix
# (ACP_STORAGE_PLUGINDIR_REL in the source tree,
# ACP_STORAGE_PLUGINDIR_FROM_PREFIX for an installed package), so that
# `cmake --install build --prefix DIR` puts the plugin under DIR.  Install
# with the prefix the core was installed to, and the core finds the plugin
# without configuration.
function(acp_storage_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES;LINK" ${ARGN})
  string(LENGTH "${name}" _len)
  if(NOT name MATCHES "^[a-z0-9_]+$" OR _len GREATER 64)
    message(FATAL_ERROR "acp_storage_add_plugin: '${name}' is not a valid plugin name ([a-z0-9_]{1,64})")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "acp_storage_add_plugin(${name}): no SOURCES")
  endif()
  set(tgt acp_storage_plugin_${name})
  add_library(${tgt} MODULE ${P_SOURCES})
  set_target_properties(${tgt} PROPERTIES
    PREFIX "lib"
    SUFFIX ".so"
    OUTPUT_NAME "acp_storage_${name}"
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(P_OUTPUT_DIRECTORY)
    set_target_properties(${tgt} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${P_OUTPUT_DIRECTORY}")
  elseif(DEFINED ACP_STORAGE_BUILD_PLUGINDIR)
    set_target_properties(${tgt} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ACP_STORAGE_BUILD_PLUGINDIR}")
  endif()
  target_link_libraries(${tgt} PRIVATE acp_storage::plugin_headers ${P_LINK})
  target_link_options(${tgt} PRIVATE "LINKER:-z,defs")
  if(NOT P_NO_INSTALL)
    if(DEFINED ACP_STORAGE_PLUGIN_INSTALL_DIR)
      set(_dest "${ACP_STORAGE_PLUGIN_INSTALL_DIR}")
    elseif(DEFINED ACP_STORAGE_PLUGINDIR_REL)
      set(_dest "${ACP_STORAGE_PLUGINDIR_REL}")
    elseif(DEFINED ACP_STORAGE_PLUGINDIR_FROM_PREFIX AND
           NOT ACP_STORAGE_PLUGINDIR_FROM_PREFIX MATCHES "^\\.\\.")
      set(_dest "${ACP_STORAGE_PLUGINDIR_FROM_PREFIX}")
    else()
      set(_dest "${ACP_STORAGE_PLUGINDIR}")
    endif()
    install(TARGETS ${tgt}
      LIBRARY DESTINATION "${_dest}"
      PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endfunction()
