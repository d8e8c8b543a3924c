# analyzer/report.cmake - the report side of the analyzer: the symbolizer
# (libdw) and the html/collapsed writers. Included from analyzer/CMakeLists.txt
# after it defines tidemark_core (or from tests/report when it does not).
find_library(TMK_LIBDW dw REQUIRED)
find_library(TMK_LIBELF elf REQUIRED)
find_path(TMK_LIBDWFL_INCLUDE elfutils/libdwfl.h REQUIRED)

if(NOT TARGET tidemark_symbols)
  add_library(tidemark_symbols STATIC ${CMAKE_CURRENT_LIST_DIR}/symbols.c)
  target_include_directories(tidemark_symbols PUBLIC ${CMAKE_CURRENT_LIST_DIR}
                             ${TMK_LIBDWFL_INCLUDE})
  target_link_libraries(tidemark_symbols PUBLIC ${TMK_LIBDW} ${TMK_LIBELF})
endif()
