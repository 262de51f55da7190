#!/usr/bin/env bash
# `make test`: installs what is missing, then builds and runs every test three times: a plain
# debug build, AddressSanitizer+UndefinedBehaviorSanitizer, and ThreadSanitizer.
# HEARTLOCK_TEST_PRESETS="dev" limits it (e.g. for a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh servers  # redis-server, PostgreSQL, etcd: the tests start their own

jobs=$(nproc)
presets=${HEARTLOCK_TEST_PRESETS:-"dev asan tsan"}
for preset in $presets; do
  echo "=== $preset: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test"
  # Sanitizer runs: abort on the first report, so a finding fails the suite.
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "build/$preset" --output-on-failure -j "$jobs" --timeout 300
done
