#!/usr/bin/env bash
# `make torture`: the torture runs of `make test` (tests/integration/torture_test.cc, ctest label
# `torture`), each for TORTURE_SECONDS (default 120) instead of a few seconds: every backend, the
# library and the CLI, faults on the workers, the network, the servers and the clocks; then the
# scheduler's multi-process fault tests for SCHEDULER_SECONDS (default 60), and three `heartlock cron`
# daemons per backend for CRON_SECONDS (default 30). Prints one line per run
# (docs/torture.md):
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
cmake --build "$build" -j "$(nproc)" --target torture_tests heartlock-torture heartlock_exe \
  scheduler_fault_tests cron_tests || exit 1
# One run at a time (no -j): each has the machine to itself, as its timed faults assume.
HEARTLOCK_TORTURE_SECONDS=$seconds \
  ctest --test-dir "$build" -L torture --output-on-failure --verbose \
  --timeout $((seconds * 2 + 300)) | grep --line-buffered -E '\[ torture  \]|tests passed|\*\*\*Failed|Failure'
status=${PIPESTATUS[0]}
# The scheduler across processes (tests/integration/scheduler_fault_test.cc), its members running
# SCHEDULER_SECONDS (default 60) instead of 8.
scheduler_seconds=${SCHEDULER_SECONDS:-60}
HEARTLOCK_SCHEDULER_SECONDS=$scheduler_seconds \
  ctest --test-dir "$build" -R '^Backends/SchedulerFault\.' --output-on-failure --verbose \
  --timeout $((scheduler_seconds * 3 + 300)) | grep --line-buffered -E '\[ measure  \]|tests passed|\*\*\*Failed|Failure'
scheduler_status=${PIPESTATUS[0]}
# Three `heartlock cron` daemons on every backend (tests/integration/cron_cluster_test.cc), running
# CRON_SECONDS (default 30) instead of 6.
cron_seconds=${CRON_SECONDS:-30}
HEARTLOCK_CRON_SECONDS=$cron_seconds \
  ctest --test-dir "$build" -R '^Backends/CronClusterTest\.' --output-on-failure \
  --timeout $((cron_seconds * 3 + 300)) | grep --line-buffered -E 'tests passed|\*\*\*Failed|Failure'
cron_status=${PIPESTATUS[0]}
[ "$status" -ne 0 ] && exit "$status"
[ "$scheduler_status" -ne 0 ] && exit "$scheduler_status"
exit "$cron_status"
