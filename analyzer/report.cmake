# analyzer/report.cmake - the report side of the analyzer, owned with
# symbols.c, report_html*.c and report_collapsed.c:
#   tidemark_symbols  the offline symbolizer (libdw/libdwfl from elfutils)
#   tidemark_reports   the html and collapsed renderers (report.h); needs
#                     tidemark_core for the model helpers (tm_human_bytes, ...)
# analyzer/CMakeLists.txt includes this after defining tidemark_core and links
# tidemark_reports into the command. tests/report includes it when the analyzer
# folder does not exist yet (then only tidemark_symbols is built).
find_library(TMK_LIBDW dw REQUIRED)
find_library(TMK_LIBELF elf REQUIRED)
find_path(TMK_LIBDWFL_INCLUDE elfutils/libdwfl.h REQUIRED)

if(NOT TARGET tidemark_symbols)
  add_library(tidemark_symbols STATIC ${CMAKE_CURRENT_LIST_DIR}/symbols.c)
  target_include_directories(tidemark_symbols PUBLIC ${CMAKE_CURRENT_LIST_DIR}
                             ${TMK_LIBDWFL_INCLUDE})
  target_link_libraries(tidemark_symbols PUBLIC ${TMK_LIBDW} ${TMK_LIBELF})
endif()

if(TARGET tidemark_core AND NOT TARGET tidemark_reports)
  # The model's site strings are symbolized by the core with tidemark_symbols.
  target_link_libraries(tidemark_core PUBLIC tidemark_symbols)
  add_library(tidemark_reports STATIC
              ${CMAKE_CURRENT_LIST_DIR}/report_html.c
              ${CMAKE_CURRENT_LIST_DIR}/report_html_svg.c
              ${CMAKE_CURRENT_LIST_DIR}/report_collapsed.c
              ${CMAKE_CURRENT_LIST_DIR}/report_stack.c)
  target_link_libraries(tidemark_reports PUBLIC tidemark_core tidemark_symbols m)
endif()
