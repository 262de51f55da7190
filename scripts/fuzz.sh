#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (the fuzz preset, clang 16) and runs each for
# FUZZ_SECONDS (default 60) on a copy of its seed corpus, under build/fuzz/work/<target>/: the
# committed corpus never grows by itself. Prints one line per target:
#   target=<name> execs=<runs> cov=<edges> ft=<features> corpus=<inputs> crashes=<n>
# A crash (or leak, timeout, out-of-memory) is copied to fuzz/regressions/<target>/, which every
# `make test` replays (fuzz_replay), and the script exits non-zero. docs/fuzzing.md has the rest.
# Usage: scripts/fuzz.sh [target...]   (default: every target the build has)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh fuzz

seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc)}
build=build/fuzz
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/*_fuzzer; do
    t=$(basename "$f")
    targets+=("${t%_fuzzer}")
  done
fi

# The crontab target parses schedules, which load the time-zone module (src/cron/tz_api.h): the
# fuzzers live outside bin/, so they find it through the environment.
export HEARTLOCK_TZ_MODULE="$PWD/$build/bin/heartlock-tz.so"

summary=()
failed=0
for t in "${targets[@]}"; do
  fuzzer="$build/fuzz/${t}_fuzzer"
  [ -x "$fuzzer" ] || { echo "fuzz: no fuzzer for target '$t'" >&2; exit 2; }
  work="$build/work/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  echo "=== $t: ${seconds}s (log: $work/log)"
  # -rss_limit_mb also caps single allocations (malloc_limit_mb defaults to it): a reply that
  # makes the parser allocate gigabytes is a finding. -timeout: one input may take 25 s at most.
  set +e
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=25 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
  set -e
  # libFuzzer's final stats, and its last status line ("#N DONE cov: C ft: F corp: K/...").
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  status=$(grep -E '^#[0-9]+.*cov: ' "$work/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corpus=$(find "$work/corpus" -type f | wc -l)
  crashes=0
  for a in "$work"/artifacts/{crash,leak,timeout,oom}-*; do
    [ -f "$a" ] || continue
    crashes=$((crashes + 1))
    mkdir -p "fuzz/regressions/$t"
    cp "$a" "fuzz/regressions/$t/"
    echo "fuzz: $t: $(basename "$a") saved as fuzz/regressions/$t/$(basename "$a");" \
         "reproduce with $fuzzer fuzz/regressions/$t/$(basename "$a")" >&2
    grep -m1 -E 'ERROR: |invariant broken|terminate called|runtime error' "$work/log" >&2 || true
  done
  [ "$crashes" -eq 0 ] || failed=1
  summary+=("target=$t execs=${execs:-0} cov=${cov:-0} ft=${ft:-0} corpus=$corpus crashes=$crashes")
done

printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: crashes found; their inputs are in fuzz/regressions/ (make test replays them):" \
       "fix the bug, or move an input to fuzz/pending/<target>/ until the fix lands" >&2
  exit 1
fi
