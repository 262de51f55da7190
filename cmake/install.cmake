# The installed package: libheartlock and its headers, the CMake package (find_package(heartlock
# [COMPONENTS redis postgres etcd])), heartlock.pc, and the heartlock-tz module. Included by the
# top level after src/ when HEARTLOCK_INSTALL is on.
#
# Private dependencies stay private. A shared libheartlock carries them itself (DT_NEEDED, or
# linked in statically and hidden). A static libheartlock.a needs them at its user's link: the
# package names each by the file the build linked (resolved through symlinks, so libhiredis is
# libhiredis.so.0.14 from the runtime package, not the -dev symlink), never by a pkg-config
# module, CMake package or header, so a user of the file: backend configures and builds on a
# machine without hiredis', libpq's, libcurl's or nlohmann-json's development files.
include(CMakePackageConfigHelpers)

# heartlock_link_items(<out> <item>...): the link items of the installed interface for <item>s
# (targets or plain libraries): imported libraries become their files, the targets they link
# follow them, Threads::Threads stays (the package config finds it), header-only targets vanish.
function(heartlock_link_items out)
  set(items "")
  foreach(item IN LISTS ARGN)
    if(item STREQUAL "Threads::Threads" OR NOT TARGET ${item})
      if(item MATCHES "^/")
        file(REAL_PATH "${item}" item)
      endif()
      list(APPEND items ${item})
      continue()
    endif()
    get_target_property(type ${item} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      foreach(property IMPORTED_LOCATION IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_NOCONFIG)
        get_target_property(location ${item} ${property})
        if(location)
          file(REAL_PATH "${location}" location)
          list(APPEND items ${location})
          break()
        endif()
      endforeach()
    endif()
    get_target_property(linked ${item} INTERFACE_LINK_LIBRARIES)
    if(linked)
      list(FILTER linked EXCLUDE REGEX "^\\$<")  # generator expressions: none in these targets
      heartlock_link_items(more ${linked})
      list(APPEND items ${more})
    endif()
  endforeach()
  set(${out} ${items} PARENT_SCOPE)
endfunction()

# What the parts link, in link order: a library listed twice is kept at its last place, after
# everything that needs it (libhiredis before libcrypto, ...).
get_property(part_libs GLOBAL PROPERTY HEARTLOCK_PART_LIBS)
heartlock_link_items(export_libs ${part_libs})
list(REVERSE export_libs)
list(REMOVE_DUPLICATES export_libs)
list(REVERSE export_libs)
list(REMOVE_ITEM export_libs Threads::Threads)  # already a PUBLIC dependency
if(NOT BUILD_SHARED_LIBS)
  foreach(lib IN LISTS export_libs)
    target_link_libraries(heartlock INTERFACE $<INSTALL_INTERFACE:${lib}>)
  endforeach()
endif()

# Components (src/CMakeLists.txt): heartlock::redis, heartlock::postgres, heartlock::etcd.
foreach(backend IN LISTS HEARTLOCK_COMPONENTS)
  install(TARGETS heartlock_component_${backend} EXPORT heartlockTargets)
endforeach()

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/heartlock)
install(TARGETS heartlock EXPORT heartlockTargets FILE_SET HEADERS)
install(EXPORT heartlockTargets NAMESPACE heartlock:: DESTINATION ${config_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/heartlockConfig.cmake.in
  ${PROJECT_BINARY_DIR}/heartlockConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/heartlockConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/heartlockConfig.cmake
              ${PROJECT_BINARY_DIR}/heartlockConfigVersion.cmake DESTINATION ${config_dir})
# The CLI's time-zone module and the licence are in the .deb too (install component cli,
# packaging/deb.cmake).
install(TARGETS heartlock_tz LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/heartlock COMPONENT cli)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT cli)

# heartlock.pc: Libs.private lists what a static link needs, by file as above. No
# Requires.private: pkg-config checks those modules even for --cflags, and hiredis.pc is in
# libhiredis-dev. The headers need C++23 (-std=c++23), which pkg-config files do not set.
set(pc_libs_private "")
foreach(lib IN LISTS export_libs ITEMS Threads::Threads)
  if(lib STREQUAL "Threads::Threads")
    string(APPEND pc_libs_private " -pthread")
  elseif(lib MATCHES "^/")
    string(APPEND pc_libs_private " ${lib}")
  else()
    string(APPEND pc_libs_private " -l${lib}")
  endif()
endforeach()
string(STRIP "${pc_libs_private}" pc_libs_private)
# Relocatable, as the CMake package is: the prefix is found from the .pc file's own place.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(pc_prefix "${CMAKE_INSTALL_PREFIX}")
  set(pc_libdir "${CMAKE_INSTALL_LIBDIR}")
else()
  set(pc_prefix "\${pcfiledir}/..")
  string(REGEX REPLACE "[^/]+" ".." up "${CMAKE_INSTALL_LIBDIR}")
  string(APPEND pc_prefix "/${up}")
  set(pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/heartlock.pc.in ${PROJECT_BINARY_DIR}/heartlock.pc
               @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/heartlock.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
