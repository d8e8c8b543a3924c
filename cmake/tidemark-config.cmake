# tidemark-config.cmake - find_package(tidemark) for an installed tidemark.
#   tidemark::annotate  the annotation headers (tidemark/annotate.h,
#                       tidemark/uthash.h); header-only, links libdl
#   tidemark::gomap     the bundled Go-style map (tidemark/gomap.h), static
#   tidemark_SHIM       path of libtidemark.so (for LD_PRELOAD)
#   tidemark_EXECUTABLE path of the tidemark command
# Everything is found relative to this file: <prefix>/lib/cmake/tidemark/.
get_filename_component(_tidemark_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET tidemark::annotate)
  add_library(tidemark::annotate INTERFACE IMPORTED)
  set_target_properties(tidemark::annotate PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_tidemark_prefix}/include"
    INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")
endif()
if(NOT TARGET tidemark::gomap)
  add_library(tidemark::gomap_sizing STATIC IMPORTED)
  set_target_properties(tidemark::gomap_sizing PROPERTIES
    IMPORTED_LOCATION "${_tidemark_prefix}/lib/tidemark/libgomap_sizing.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_tidemark_prefix}/include")
  add_library(tidemark::gomap STATIC IMPORTED)
  set_target_properties(tidemark::gomap PROPERTIES
    IMPORTED_LOCATION "${_tidemark_prefix}/lib/tidemark/libgomap.a"
    INTERFACE_LINK_LIBRARIES "tidemark::gomap_sizing;tidemark::annotate")
endif()

set(tidemark_SHIM "${_tidemark_prefix}/lib/libtidemark.so")
set(tidemark_EXECUTABLE "${_tidemark_prefix}/bin/tidemark")
set(tidemark_FOUND TRUE)
unset(_tidemark_prefix)
