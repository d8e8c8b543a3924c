# analyzer/report/report.cmake - the libraries around the renderers:
#   tidemark_symbols  the offline symbolizer (symbols/: libdw and
#                     libdwfl from elfutils), linked into tidemark_core:
#                     model/stack_namer.c names the model's stacks with it
#   tidemark_reports  the html, collapsed, pprof and openmetrics renderers
#                     (report.h); needs tidemark_core for the model helpers
# pprof's profile.proto (report/profile.proto) is compiled with protoc-c
# (protobuf-c-compiler) and linked with libprotobuf-c; the .pb.gz is gzipped
# with zlib.
# analyzer/CMakeLists.txt includes this after defining tidemark_core and links
# tidemark_reports into the command. tests/report includes it when the analyzer
# is not configured (then only tidemark_symbols is built).
find_library(TMK_LIBDW dw REQUIRED)
find_library(TMK_LIBELF elf REQUIRED)
find_path(TMK_LIBDWFL_INCLUDE elfutils/libdwfl.h REQUIRED)

if(NOT TARGET tidemark_symbols)
  get_filename_component(_tmk_analyzer ${CMAKE_CURRENT_LIST_DIR} DIRECTORY)
  add_library(tidemark_symbols STATIC ${_tmk_analyzer}/symbols/symbols.c
                                      ${_tmk_analyzer}/symbols/demangle.c)
  target_include_directories(tidemark_symbols PUBLIC ${_tmk_analyzer} ${TMK_LIBDWFL_INCLUDE})
  # stdc++: __cxa_demangle for C++ names from symbol tables (symbols/demangle.c).
  target_link_libraries(tidemark_symbols PUBLIC ${TMK_LIBDW} ${TMK_LIBELF} stdc++)
endif()

if(TARGET tidemark_core AND NOT TARGET tidemark_reports)
  # The model's site strings are symbolized by the core with tidemark_symbols.
  target_link_libraries(tidemark_core PUBLIC tidemark_symbols)

  # profile.proto -> profile.pb-c.c/.h (protobuf-c-compiler, libprotobuf-c-dev).
  find_program(TMK_PROTOC_C protoc-c REQUIRED)
  find_library(TMK_LIBPROTOBUF_C protobuf-c REQUIRED)
  find_path(TMK_PROTOBUF_C_INCLUDE protobuf-c/protobuf-c.h REQUIRED)
  find_package(ZLIB REQUIRED)
  set(_tmk_pb ${CMAKE_CURRENT_BINARY_DIR}/pprof_pb)
  add_custom_command(
    OUTPUT ${_tmk_pb}/profile.pb-c.c ${_tmk_pb}/profile.pb-c.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_tmk_pb}
    COMMAND ${TMK_PROTOC_C} --c_out=${_tmk_pb} -I${CMAKE_CURRENT_LIST_DIR}
            ${CMAKE_CURRENT_LIST_DIR}/profile.proto
    DEPENDS ${CMAKE_CURRENT_LIST_DIR}/profile.proto
    COMMENT "protoc-c: pprof's profile.proto")
  add_library(tidemark_pprof_pb STATIC ${_tmk_pb}/profile.pb-c.c)
  target_include_directories(tidemark_pprof_pb PUBLIC ${_tmk_pb} ${TMK_PROTOBUF_C_INCLUDE})
  target_link_libraries(tidemark_pprof_pb PUBLIC ${TMK_LIBPROTOBUF_C})
  target_compile_options(tidemark_pprof_pb PRIVATE -Wno-unused-parameter)

  add_library(tidemark_reports STATIC
              ${CMAKE_CURRENT_LIST_DIR}/report_html.c
              ${CMAKE_CURRENT_LIST_DIR}/report_html_svg.c
              ${CMAKE_CURRENT_LIST_DIR}/report_collapsed.c
              ${CMAKE_CURRENT_LIST_DIR}/report_pprof.c
              ${CMAKE_CURRENT_LIST_DIR}/report_openmetrics.c)
  # zlib by path, not ZLIB::ZLIB: an imported target is seen only below this
  # folder, and tests/fuzz links what tidemark_reports links.
  target_include_directories(tidemark_reports PRIVATE ${ZLIB_INCLUDE_DIRS})
  target_link_libraries(tidemark_reports PUBLIC tidemark_core tidemark_symbols
                        tidemark_pprof_pb ${ZLIB_LIBRARIES} m)
endif()
