# heartlock_part(<part> [BELOW <part>...] SOURCES <file>... [INCLUDES <dir>...] [LIBS <lib>...])
#
# Adds the OBJECT library heartlock_<part> (sources under src/<part>/) to the `heartlock` library,
# and a check, built with ALL, that the part stays in its layer: it may use the public headers
# (include/), its own folder and the parts named BELOW, and nothing else of the project.
#
#  - Headers: a part's include path is include/ and its dependencies' third-party directories,
#    never src/, so no header of another part is found by a short name. What a relative path
#    ("../redis/x.h") reaches is caught by the include scan (check_includes.cmake), which runs
#    the preprocessor over every source of the part and fails on any project file outside the
#    allowed folders, whatever path led there.
#  - Symbols: heartlock_<part>_layering links the objects of the part and of the parts BELOW it,
#    and nothing else of the project, into an executable: a call, vtable or global of a part
#    above or beside it is an undefined reference, and the build fails.
function(heartlock_part part)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "BELOW;SOURCES;INCLUDES;LIBS")
  set(target heartlock_${part})
  add_library(${target} OBJECT ${arg_SOURCES})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include ${arg_INCLUDES})
  target_compile_features(${target} PRIVATE cxx_std_23)
  target_link_libraries(${target} PRIVATE ${arg_LIBS} $<BUILD_INTERFACE:heartlock_warnings>)
  # Hidden by default: libheartlock exports what include/heartlock/ marks HEARTLOCK_API.
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

  # The objects go into libheartlock (and its other variants, src/CMakeLists.txt), and so do the
  # libraries they need, in the build tree only: the installed package names them by file
  # (heartlock_export_libs, cmake/install.cmake), so that its users need no pkg-config module,
  # CMake package or header of them, and header-only ones (nlohmann_json) not at all.
  # (A static library links nothing itself: what its users link goes to INTERFACE, where
  # BUILD_INTERFACE leaves no trace in the export, while PRIVATE would export $<LINK_ONLY:>.)
  foreach(variant IN LISTS heartlock_variants)
    target_sources(${variant} PRIVATE $<TARGET_OBJECTS:${target}>)
    get_target_property(type ${variant} TYPE)
    foreach(lib IN LISTS arg_LIBS)
      if(type STREQUAL "STATIC_LIBRARY")
        target_link_libraries(${variant} INTERFACE $<BUILD_INTERFACE:$<LINK_ONLY:${lib}>>)
      else()
        target_link_libraries(${variant} PRIVATE $<BUILD_INTERFACE:${lib}>)
      endif()
    endforeach()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY HEARTLOCK_PART_LIBS ${arg_LIBS})

  set(allowed ${PROJECT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR}/${part})
  set(below_targets "")
  foreach(below IN LISTS arg_BELOW)
    list(APPEND allowed ${CMAKE_CURRENT_SOURCE_DIR}/${below})
    list(APPEND below_targets heartlock_${below})
  endforeach()
  list(TRANSFORM arg_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/ OUTPUT_VARIABLE sources)

  add_executable(${target}_layering ${PROJECT_SOURCE_DIR}/cmake/layering_main.cc)
  target_link_libraries(${target}_layering PRIVATE ${target} ${below_targets})
  heartlock_check_includes(${target}_layering SCANNED ${target} ALLOWED ${allowed}
                           SOURCES ${sources})
endfunction()

# heartlock_check_includes(<target> SCANNED <target> ALLOWED <dir>... SOURCES <file>...)
#
# Runs the include scan (check_includes.cmake) over SOURCES, compiled as SCANNED compiles them,
# before <target> links: the build fails when one of them reaches a file of the project outside
# the ALLOWED folders. For the libraries above libheartlock (src/exec/, cli/), whose include
# path must contain src/ to find "exec/...".
function(heartlock_check_includes target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SCANNED" "ALLOWED;SOURCES")
  add_custom_command(TARGET ${target} PRE_LINK
    COMMAND ${CMAKE_COMMAND} -DPART=${arg_SCANNED} -DCXX=${CMAKE_CXX_COMPILER}
            -DSTD=${CMAKE_CXX23_STANDARD_COMPILE_OPTION}
            -DROOT=${PROJECT_SOURCE_DIR}
            "-DINCLUDES=$<JOIN:$<TARGET_PROPERTY:${arg_SCANNED},INCLUDE_DIRECTORIES>,|>"
            "-DDEFINES=$<JOIN:$<TARGET_PROPERTY:${arg_SCANNED},COMPILE_DEFINITIONS>,|>"
            "-DALLOWED=$<JOIN:${arg_ALLOWED},|>" "-DSOURCES=$<JOIN:${arg_SOURCES},|>"
            -P ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake
    VERBATIM)
endfunction()
