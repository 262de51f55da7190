# CPack pre-build script of the heartlock .deb (packaging/deb.cmake): run on the staging tree that
# `cmake --install` of the component `cli` filled, before dpkg-shlibdeps and dpkg-deb see it. Adds
# what only the Debian package installs, and puts the rest the way Debian wants it:
#   - the systemd unit, with /usr/bin/heartlock in ExecStart (packaging/systemd/ has
#     /usr/local/bin, the path of a source install), and its sysusers.d file;
#   - /usr/share/doc/heartlock/copyright, the changelog as changelog.gz, man pages gzipped.
# Fails when the man page is missing (scdoc not installed): postinst points the cronlock and
# golock man pages at it.

set(source ${CPACK_HEARTLOCK_SOURCE_DIR})
# The staging root: the directory holding usr/ (one per component under CPACK_TEMPORARY_DIRECTORY).
file(GLOB_RECURSE binaries LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/heartlock")
list(FILTER binaries INCLUDE REGEX "/usr/bin/heartlock$")
list(LENGTH binaries count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "heartlock .deb: expected one bin/heartlock under "
                      "${CPACK_TEMPORARY_DIRECTORY}, found: ${binaries}")
endif()
cmake_path(GET binaries PARENT_PATH bindir)
cmake_path(GET bindir PARENT_PATH usr)  # <staging>/usr
set(doc ${usr}/share/doc/heartlock)
set(man1 ${usr}/share/man/man1)

if(NOT EXISTS ${man1}/heartlock.1)
  message(FATAL_ERROR "heartlock .deb: no man page heartlock.1 (install scdoc and reconfigure)")
endif()
if(EXISTS ${usr}/bin/cronlock OR EXISTS ${usr}/bin/golock)
  message(FATAL_ERROR "heartlock .deb: cronlock/golock are alternatives (postinst); configure "
                      "with -DHEARTLOCK_INSTALL_CRONLOCK=OFF")
endif()

file(READ ${source}/packaging/systemd/heartlock-cron.service unit)
string(REPLACE "/usr/local/bin/heartlock" "/usr/bin/heartlock" unit "${unit}")
file(WRITE ${usr}/lib/systemd/system/heartlock-cron.service "${unit}")
file(MAKE_DIRECTORY ${usr}/lib/sysusers.d ${doc})
file(COPY_FILE ${source}/packaging/systemd/heartlock.sysusers ${usr}/lib/sysusers.d/heartlock.conf)
file(COPY_FILE ${source}/packaging/deb/copyright ${doc}/copyright)

# gzip -9n: the best compression, no name or time stamp in the header (reproducible builds).
file(GLOB pages ${man1}/*.1)
foreach(file IN LISTS pages ITEMS ${doc}/CHANGELOG.md)
  if(EXISTS ${file})
    execute_process(COMMAND gzip -9nf ${file} COMMAND_ERROR_IS_FATAL ANY)
  endif()
endforeach()
if(EXISTS ${doc}/CHANGELOG.md.gz)
  file(RENAME ${doc}/CHANGELOG.md.gz ${doc}/changelog.gz)
endif()
