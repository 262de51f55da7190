#!/usr/bin/env bash
# The package tests (tests/CMakeLists.txt): heartlock as another project sees it.
#   run.sh install PREFIX BUILD_DIR                 cmake --install into PREFIX (a fixture)
#   run.sh static PREFIX SOURCE_DIR CXX_FLAGS       find_package + build + run, on a simulated
#                                                   machine without hiredis/nlohmann-json -dev
#                                                   files; then the same through heartlock.pc
#   run.sh components PREFIX SOURCE_DIR             COMPONENTS redis postgres etcd; a missing
#                                                   component fails cleanly
#   run.sh shared LIBDIR SOURCE_DIR CXX_FLAGS       a shared libheartlock: exports, no third-party
#                                                   symbols, a consumer links and runs
set -euo pipefail
mode=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The consumer's view of a machine without libhiredis-dev and nlohmann-json3-dev: no pkg-config
# modules at all, and CMake does not look where their packages are (the consumer checks).
no_dev_files() {
  mkdir -p "$work/empty"
  env PKG_CONFIG_LIBDIR="$work/empty" PKG_CONFIG_PATH= "$@" \
    -DCMAKE_IGNORE_PATH="/usr/share/cmake/nlohmann_json;/usr/lib/x86_64-linux-gnu/cmake/hiredis;/usr/lib/x86_64-linux-gnu/cmake/Hiredis;/usr/include/hiredis;/usr/include/nlohmann"
}

case $mode in
install)
  rm -rf "$2"
  cmake --install "$3" --prefix "$2" >/dev/null
  ;;
static)
  prefix=$2 source_dir=$3 cxx_flags=${4:-}
  no_dev_files cmake -S "$source_dir/tests/package" -B "$work/build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="$cxx_flags" -DEXPECT_NO_HIREDIS=ON >/dev/null
  cmake --build "$work/build" >/dev/null
  "$work/build/consumer" "file://$work/locks"
  # heartlock.pc, static: Libs.private carries what libheartlock.a needs (the consumer's object
  # from above, linked again: compiling it twice would double the test's time); Cflags finds
  # the headers.
  pc() { PKG_CONFIG_LIBDIR="$work/empty" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config "$@"; }
  echo '#include <heartlock/version.h>' >"$work/pc.cc"
  # shellcheck disable=SC2046  # word splitting of the flags is the point
  ${CXX:-c++} -std=c++23 $(pc --cflags heartlock) -fsyntax-only "$work/pc.cc"
  # shellcheck disable=SC2046,SC2086
  ${CXX:-c++} $cxx_flags "$work/build/CMakeFiles/consumer.dir/consumer.cc.o" -o "$work/pc" \
    $(pc --static --libs heartlock) -Wl,-rpath,"$prefix/lib"
  "$work/pc" "file://$work/pc-locks" | sed 's/^/pkg-config: /'
  ;;
components)
  prefix=$2 source_dir=$3
  cmake -S "$source_dir/tests/package" -B "$work/ok" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCONFIGURE_ONLY=ON -DHEARTLOCK_COMPONENTS="redis;postgres;etcd" | grep -F 'heartlock '
  if cmake -S "$source_dir/tests/package" -B "$work/missing" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCONFIGURE_ONLY=ON -DHEARTLOCK_COMPONENTS="redis;nosuch" >"$work/missing.log" 2>&1; then
    echo "COMPONENTS nosuch was found"
    exit 1
  fi
  grep -F 'has no component nosuch' "$work/missing.log"
  ;;
shared)
  libdir=$2 source_dir=$3 cxx_flags=${4:-}
  lib=$(readlink -f "$libdir/libheartlock.so")
  soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
  echo "soname $soname"
  nm -D --defined-only "$lib" | awk '{ print $3 }' >"$work/exported"
  echo "exported $(wc -l <"$work/exported") symbols"
  # Nothing of OpenSSL, zlib, hiredis or nlohmann-json: what is exported is heartlock's (names
  # with heartlock in them: its API, and std templates on its types) or libstdc++'s template
  # instantiations (std::, __gnu_cxx::: weak, as in every C++ library; hiding them would give
  # the library copies of their function-local statics apart from its users').
  if grep -v 'heartlock' "$work/exported" |
      grep -Ev '^_Z(N|NK|T[VIS]|GVZN|GVZNK|ZN|ZNK)?(St|Sa|Ss|Si|So|9__gnu_cxx)' | head -20 | grep .; then
    echo "exported symbols that are neither heartlock's nor the standard library's"
    exit 1
  fi
  if grep -E '^(SSL|EVP|OPENSSL|OSSL|CRYPTO|BIO|X509|ERR|redis|deflate|inflate|crc32|adler32)|nlohmann' \
      "$work/exported" | head -20 | grep .; then
    echo "exported third-party symbols"
    exit 1
  fi
  # shellcheck disable=SC2086
  ${CXX:-c++} -std=c++23 -Wall -Wextra -Werror $cxx_flags -I"$source_dir/include" \
    "$source_dir/tests/package/consumer.cc" -o "$work/consumer" -L"$libdir" -lheartlock \
    -Wl,-rpath,"$libdir"
  if ldd "$work/consumer" | grep -E 'libheartlock' | grep -qv "$libdir"; then
    echo "the consumer does not load $libdir/libheartlock.so"
    exit 1
  fi
  "$work/consumer" "file://$work/locks"
  ;;
*)
  echo "unknown mode $mode" >&2
  exit 2
  ;;
esac
