#!/usr/bin/env bash
# `make test`: installs what is missing, then builds and runs every test three times: a plain
# debug build, AddressSanitizer+UndefinedBehaviorSanitizer, and ThreadSanitizer.
# HEARTLOCK_TEST_PRESETS="dev" limits it (e.g. for a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh servers  # redis-server, PostgreSQL, etcd: the tests start their own

jobs=$(nproc)

# Runs one build's suite as two ctest streams side by side: the tests labelled integration_waits
# (tests/CMakeLists.txt: they mostly sleep through cron slots and leases running out) two per
# core, everything else one per core as before. The two streams together take about half the
# wall time of one stream; the CPU-bound tests still run one per core.
run_tests() {
  local dir=$1 waits_log rc=0 waits_rc=0
  waits_log=$(mktemp)
  # Sanitizer runs: abort on the first report, so a finding fails the suite.
  export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  ctest --test-dir "$dir" -L integration_waits --output-on-failure -j "$((jobs * 2))" \
    --timeout 300 >"$waits_log" 2>&1 &
  local waits_pid=$!
  ctest --test-dir "$dir" -LE integration_waits --output-on-failure -j "$jobs" --timeout 300 ||
    rc=$?
  wait "$waits_pid" || waits_rc=$?
  echo "=== the tests that wait (integration_waits):"
  cat "$waits_log"
  rm -f "$waits_log"
  return $((rc || waits_rc))
}
presets=${HEARTLOCK_TEST_PRESETS:-"dev asan tsan"}
for preset in $presets; do
  echo "=== $preset: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test"
  run_tests "build/$preset"
done
