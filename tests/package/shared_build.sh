#!/usr/bin/env bash
# `make test-package-shared`: the whole shared-library path, too slow for `make test` (it compiles
# libheartlock once more: minutes on two cores; ccache makes a repeat quick). Configures the
# library alone with BUILD_SHARED_LIBS=ON (no CLI, tools, tests or benchmarks), installs it,
# checks its SONAME and exports, and builds and runs the consumer of tests/package against it
# through find_package, on a simulated machine without hiredis' development files.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$source_dir/build/package-shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_SHARED_LIBS=ON \
  -DHEARTLOCK_BUILD_CLI=OFF -DHEARTLOCK_BUILD_TOOLS=OFF -DHEARTLOCK_BUILD_TESTS=OFF \
  -DHEARTLOCK_BUILD_BENCH=OFF -DHEARTLOCK_INSTALL=ON -DHEARTLOCK_WERROR=ON "${launcher[@]}" \
  >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target heartlock heartlock_tz >/dev/null
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name 'libheartlock.so' | head -1)")
# The exports and a consumer built by hand, as for the shared library of every test build.
"$source_dir/tests/package/run.sh" shared "$libdir" "$source_dir"
# find_package: the exported target is the shared library.
"$source_dir/tests/package/run.sh" static "$work/prefix" "$source_dir"
