# The Debian package `heartlock`, built by CPack's DEB generator from any configured build tree:
#
#   make deb                                  # the `deb` preset (system OpenSSL), then cpack
#   cpack -G DEB --config build/dev/CPackConfig.cmake    # from a tree already built
#
# It holds the install component `cli`: the executable, heartlock-tz.so, the man page, the shell
# completions, the examples, LICENSE and CHANGELOG (install rules in cli/, src/, packaging/ and the
# top level). packaging/deb/prebuild.cmake adds what only a Debian system wants: the systemd unit
# with /usr/bin in it, the sysusers.d file, the copyright file, compressed man page and
# changelog. The maintainer scripts in packaging/deb/ register `cronlock` and `golock` as
# alternatives for /usr/bin/heartlock (cli/main.cc runs the cronlock drop-in under those names).
#
# The library, its headers and CMake package (install rules without a component) are not packaged
# (docs/packaging.md says why); `cmake --install` still installs everything.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME heartlock)
set(CPACK_PACKAGE_VENDOR heartlock)
if(NOT CPACK_PACKAGE_CONTACT)
  set(CPACK_PACKAGE_CONTACT "heartlock maintainers <heartlock@localhost>")
endif()
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run scheduled jobs once, never twice at the same time")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "heartlock wraps a command the way flock(1) or cronlock do, but with leases:
a lock held by a process that is alive (and, if asked, making progress),
renewed while it runs, and a strictly increasing fencing token for every
acquisition. A crashed or hung holder blocks the next run for one ttl at most.
Locks live in a directory on this host or on a Redis, PostgreSQL or etcd
server shared by many hosts; `heartlock cron` runs a crontab on many hosts,
each slot once.

cronlock and golock are provided as alternatives: drop-ins for those tools.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/deb/prebuild.cmake)
set(CPACK_HEARTLOCK_SOURCE_DIR ${PROJECT_SOURCE_DIR})  # for prebuild.cmake

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL cli)
set(CPACK_DEBIAN_CLI_PACKAGE_NAME heartlock)
set(CPACK_DEBIAN_CLI_FILE_NAME DEB-DEFAULT)  # heartlock_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Depends: from dpkg-shlibdeps on the linked libraries (glibc; libssl3 and zlib1g when they are not
# linked statically; libdate-tz3 and libstdc++6 for heartlock-tz.so). What is loaded with dlopen
# is not seen there: libpq5 (postgres://), libcurl4 (etcd://), libmicrohttpd12 (`cron
# --metrics-listen`, which the shipped systemd unit uses) and libssl3 (rediss://: libssl is loaded
# on the first TLS connection, src/redis/tls_api.h) are Recommends: heartlock works without them,
# and says which library is missing when a backend needs it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5, libcurl4, libmicrohttpd12, libssl3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/deb/postinst ${CMAKE_CURRENT_LIST_DIR}/deb/prerm
    ${CMAKE_CURRENT_LIST_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
