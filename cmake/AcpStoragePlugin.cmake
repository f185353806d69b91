# acp_storage_add_plugin(<name> SOURCES <src>... [LINK <targets>...])
#
# Builds libacp_storage_<name>.so as a CMake MODULE: no SONAME, hidden
# visibility (only the entry made by ACP_PLUGIN_DEFINE is exported), no
# undefined symbols, and only the plugin header on the include path: a
# plugin never links the core.
function(acp_storage_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LINK" ${ARGN})
  if(NOT name MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "acp_storage_add_plugin: '${name}' is not a valid plugin name ([a-z0-9_]{1,64})")
  endif()
  set(tgt acp_storage_plugin_${name})
  add_library(${tgt} MODULE ${P_SOURCES})
  set_target_properties(${tgt} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "acp_storage_${name}"
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY "${ACP_STORAGE_BUILD_PLUGINDIR}")
  target_include_directories(${tgt} PRIVATE "${PROJECT_SOURCE_DIR}/include")
  target_link_options(${tgt} PRIVATE "LINKER:-z,defs")
  if(P_LINK)
    target_link_libraries(${tgt} PRIVATE ${P_LINK})
  endif()
  install(TARGETS ${tgt}
    LIBRARY DESTINATION "${ACP_STORAGE_PLUGINDIR_REL}"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endfunction()
