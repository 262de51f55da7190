#!/usr/bin/env bash
# Installs the build in BUILD_DIR into a temporary prefix, builds the consumer against it, runs it.
set -euo pipefail
build_dir=$1
source_dir=$2
cxx_flags=${3:-}  # the build's flags (sanitizers), so the consumer links against the same runtime
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/package" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$cxx_flags" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer" "file://$work/locks"
