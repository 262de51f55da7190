# The include scan of a layering check (layering.cmake): runs the preprocessor (-MM) over every
# source of one part and fails when any of them reaches, directly or through other headers, a
# file of the project outside the folders the part may use.
#
# -D variables, lists separated by '|': PART, CXX, STD (the compiler's C++23 flag: clang 16 knows
# only -std=c++2b), ROOT (the source tree), INCLUDES, DEFINES, ALLOWED (folders), SOURCES.
foreach(var INCLUDES DEFINES ALLOWED SOURCES)
  string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()
set(flags -x c++ ${STD} -MM)
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags "-I${dir}")
endforeach()
foreach(definition IN LISTS DEFINES)
  list(APPEND flags "-D${definition}")
endforeach()

set(violations "")
foreach(source IN LISTS SOURCES)
  execute_process(COMMAND ${CXX} ${flags} ${source}
                  OUTPUT_VARIABLE deps ERROR_VARIABLE errors RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${PART}: the include scan of ${source} failed:\n${errors}")
  endif()
  string(REPLACE "\\\n" " " deps "${deps}")
  string(REGEX REPLACE "^[^:]*:" "" deps "${deps}")
  separate_arguments(deps UNIX_COMMAND "${deps}")
  foreach(dep IN LISTS deps)
    cmake_path(SET dep NORMALIZE "${dep}")
    cmake_path(IS_PREFIX ROOT "${dep}" NORMALIZE in_project)
    if(NOT in_project)
      continue()  # a system or third-party header
    endif()
    set(ok FALSE)
    foreach(dir IN LISTS ALLOWED)
      cmake_path(IS_PREFIX dir "${dep}" NORMALIZE inside)
      if(inside)
        set(ok TRUE)
      endif()
    endforeach()
    if(NOT ok)
      cmake_path(RELATIVE_PATH source BASE_DIRECTORY "${ROOT}" OUTPUT_VARIABLE shown_source)
      cmake_path(RELATIVE_PATH dep BASE_DIRECTORY "${ROOT}" OUTPUT_VARIABLE shown_dep)
      string(APPEND violations "  ${shown_source} includes ${shown_dep}\n")
    endif()
  endforeach()
endforeach()
if(violations)
  list(TRANSFORM ALLOWED REPLACE "^${ROOT}/(.*)$" "\\1/")
  list(JOIN ALLOWED ", " shown_allowed)
  message(FATAL_ERROR "${PART} reaches above its layer (it may include only ${shown_allowed}; "
                      "src/CMakeLists.txt):\n${violations}")
endif()
