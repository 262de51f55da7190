#!/usr/bin/env bash
# `make torture`: the torture runs of `make test` (tests/integration/torture_test.cc, ctest label
# `torture`), each for TORTURE_SECONDS (default 120) instead of a few seconds: every backend, the
# library and the CLI, faults on the workers, the network, the servers and the clocks. Prints one
# line per run (docs/torture.md):
#   [ torture  ] backend=… mode=… sections=… violations=0 lost_updates=0 fenced=… kills=… …
# Usage: scripts/torture.sh [BUILD_DIR]   (default build/dev, configured with the dev preset)
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh servers || exit 1  # redis-server, PostgreSQL, etcd, faketime

build=${1:-build/dev}
seconds=${TORTURE_SECONDS:-120}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake --preset dev >/dev/null || exit 1
fi
cmake --build "$build" -j "$(nproc)" --target torture_tests heartlock-torture heartlock_exe || exit 1
# One run at a time (no -j): each has the machine to itself, as its timed faults assume.
HEARTLOCK_TORTURE_SECONDS=$seconds \
  ctest --test-dir "$build" -L torture --output-on-failure --verbose \
  --timeout $((seconds * 2 + 300)) | grep --line-buffered -E '\[ torture  \]|tests passed|\*\*\*Failed|Failure'
exit "${PIPESTATUS[0]}"
