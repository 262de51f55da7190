#!/usr/bin/env bash
# Idle cost of `heartlock cron` holding 1 000 jobs that do not fire while measured, on the file
# backend: CPU (utime+stime from /proc/PID/stat) as % of one core over
# HEARTLOCK_BENCH_CRON_IDLE_SECONDS (default 20) of wall time, RSS (VmRSS, VmHWM), threads, and
# the time from exec to the daemon's "loaded" event. Against floors in the same run: the same daemon with 1 job, and `sleep`.
# All variants run at once (idle processes barely compete), each on a store of its own.
# Usage: bench/cron_idle.sh [BUILD_DIR]   (default build/bench)
set -euo pipefail
build=${1:-build/bench}
bin=$(realpath "$build/bin/heartlock")
seconds=${HEARTLOCK_BENCH_CRON_IDLE_SECONDS:-20}
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

# crontab FILE COUNT KIND: COUNT named no-op jobs. KIND "same": all at `0 0 1 1 *` (midnight,
# 1 January); "spread": distinct minutes, hours and days of the month six months from now.
crontab() {
  local file=$1 count=$2 kind=$3 month
  month=$(( ($(date -u +%-m) + 5) % 12 + 1 ))
  for ((i = 0; i < count; i++)); do
    echo "# heartlock: name=idle-$i"
    if [ "$kind" = same ]; then
      echo "0 0 1 1 * true"
    else
      echo "$((i % 60)) $((i / 60 % 24)) $((1 + i / 1440 % 28)) $month * true"
    fi
  done >"$file"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# CPU ticks (user+system) of PID: fields 14 and 15 of /proc/PID/stat, after the command name.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Context switches of all of PID's threads: how often they woke (finer than the ticks, which
# this VM's kernel does not refine: schedstat and sum_exec_runtime read 0).
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {printf "%d", s}'; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

names=()
declare -A pid_of started_at loaded_ms
start_daemon() {  # NAME COUNT KIND [extra options]
  local name=$1 count=$2 kind=$3
  shift 3
  crontab "$work/$name.tab" "$count" "$kind"
  mkdir "$work/$name.store"
  started_at[$name]=$(now_ms)
  "$bin" -b "file://$work/$name.store" --json cron "$@" "$work/$name.tab" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pid_of[$name]=$!
  pids+=($!)
  names+=("$name")
}

start_daemon one-job 1 same
start_daemon 1000-same 1000 same
start_daemon 1000-spread 1000 spread
start_daemon 1000-metrics 1000 same --metrics-listen 127.0.0.1:0
sleep 100000 &
pid_of[sleep]=$!
pids+=($!)

# Each daemon's start-up: from before its exec to the time_ms of its "loaded" event (--json).
for name in "${names[@]}"; do
  for _ in $(seq 1 600); do
    grep -q '"event":"loaded"' "$work/$name.err" 2>/dev/null && break
    sleep 0.05
  done
  line=$(grep '"event":"loaded"' "$work/$name.err") ||
    { echo "cron_idle: $name did not load:" >&2; cat "$work/$name.err" >&2; exit 1; }
  at=$(sed 's/.*"time_ms":\([0-9]*\).*/\1/' <<<"$line")
  loaded_ms[$name]=$((at - started_at[$name]))
done
sleep 2  # the scheduler's timer settles on the earliest slot

hz=$(getconf CLK_TCK)
declare -A cpu0 sw0
for name in "${names[@]}" sleep; do
  cpu0[$name]=$(cpu_ticks "${pid_of[$name]}")
  sw0[$name]=$(switches "${pid_of[$name]}")
done
t0=$(now_ms)
sleep "$seconds"
wall_ms=$(( $(now_ms) - t0 ))

echo "heartlock cron idle, file backend, ${wall_ms} ms of wall time (CPU %core: utime+stime, ticks" \
  "of 1/$hz s; wakeups/s: context switches of all threads per second)"
printf '  %-34s %10s %10s %10s %10s %8s %10s\n' "" "CPU %core" "wakeups/s" "VmRSS KiB" "VmHWM KiB" \
  "threads" "loaded ms"
for name in sleep "${names[@]}"; do
  p=${pid_of[$name]}
  ticks=$(( $(cpu_ticks "$p") - cpu0[$name] ))
  sw=$(( $(switches "$p") - sw0[$name] ))
  wakeups=$(awk -v n="$sw" -v w="$wall_ms" 'BEGIN {printf "%.2f", n / (w / 1000)}')
  pct=$(awk -v t="$ticks" -v hz="$hz" -v w="$wall_ms" 'BEGIN {printf "%.3f", t / hz / (w / 1000) * 100}')
  label=$name
  case $name in
    sleep) label="floor: sleep" ;;
    one-job) label="floor: daemon, 1 job" ;;
    1000-same) label="daemon, 1000 jobs at 0 0 1 1 *" ;;
    1000-spread) label="daemon, 1000 jobs, distinct times" ;;
    1000-metrics) label="daemon, 1000 jobs, --metrics-listen" ;;
  esac
  printf '  %-34s %10s %10s %10s %10s %8s %10s\n' "$label" "$pct" "$wakeups" "$(status_kib "$p" VmRSS)" \
    "$(status_kib "$p" VmHWM)" "$(status_kib "$p" Threads)" "${loaded_ms[$name]:--}"
done
