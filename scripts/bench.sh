#!/usr/bin/env bash
# `make bench`: runs every benchmark of a release build; each reports ratios against floors
# measured in the same run.
set -euo pipefail
build=${1:-build/release}
"$build/bench/file_benchmark" --benchmark_min_time=1
