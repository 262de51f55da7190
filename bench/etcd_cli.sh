#!/usr/bin/env bash
# A CLI run on etcd: `heartlock run -b etcd://... -n -k K -- true` against `etcdctl lock K true`
# on the same etcd, one after the other. Per run: wall time, CPU (user+sys of the finished
# children, from the shell's `times`: the stable figure on a shared machine) and the writes it
# costs etcd (raft proposals committed, from the server's /metrics), counted twice: right after
# the runs, and once every lease they granted has ended -- a lease left to expire (etcdctl's
# session lease) costs a proposal of its own when it does. Then heartlock's wall and CPU as
# ratios of etcdctl's.
# Never fails `make bench` for want of a tool or a metric: without etcdctl it says so and stops;
# without curl or the metrics it says so and times the runs without counting writes, and a read
# of the metrics that fails midway stops the counting from there on (said, never a wrong count).
# Usage: bench/etcd_cli.sh BUILD HOST:PORT [RUNS]   (RUNS: HEARTLOCK_BENCH_CLI_RUNS, 20)
set -euo pipefail
build=$1
endpoint=$2
runs=${3:-${HEARTLOCK_BENCH_CLI_RUNS:-20}}
heartlock="$build/bin/heartlock"

if ! command -v etcdctl >/dev/null; then
  echo "etcd_cli: no etcdctl (scripts/install-deps.sh servers installs etcd-client): skipped"
  exit 0
fi
if [ ! -x "$heartlock" ]; then
  echo "etcd_cli: no $heartlock: skipped"
  exit 0
fi

# One counter of etcd's /metrics, or nothing if it cannot be read.
metric() {
  { curl -sf --max-time 5 "http://$endpoint/metrics" 2>/dev/null || true; } |
    awk -v m="$1" '$1 == m { printf "%d\n", $2; exit }'
}
proposals() { metric etcd_server_proposals_committed_total; }
# Leases granted and not yet ended, or nothing if either counter cannot be read.
leases_alive() {
  local granted revoked
  granted=$(metric etcd_debugging_lease_granted_total)
  revoked=$(metric etcd_debugging_lease_revoked_total)
  if [ -n "$granted" ] && [ -n "$revoked" ]; then echo $((granted - revoked)); fi
}

# Writes are counted only if every counter it needs is there.
counting=1
if ! command -v curl >/dev/null; then
  echo "etcd_cli: no curl: writes per run not counted"
  counting=0
else
  for m in etcd_server_proposals_committed_total etcd_debugging_lease_granted_total \
    etcd_debugging_lease_revoked_total; do
    if [ -z "$(metric "$m")" ]; then
      echo "etcd_cli: etcd at $endpoint has no $m in /metrics: writes per run not counted"
      counting=0
      break
    fi
  done
fi

# count VAR READER: sets VAR to what READER (proposals, leases_alive) prints while counting. A
# read that comes back empty (curl failed, etcd went away) stops the counting for the rest of
# the run, said once: a write count made of a missing read would be wrong, not just absent.
count() {
  [ "$counting" = 1 ] || return 0
  local value
  value=$("$2")
  if [ -z "$value" ]; then
    echo "etcd_cli: a read of $endpoint/metrics failed: writes per run no longer counted"
    counting=0
    return 0
  fi
  printf -v "$1" '%s' "$value"
}

work_file=$(mktemp)
trap 'rm -f "$work_file" "$work_file".*' EXIT

# CPU of the finished children of this shell, in microseconds: `times` (its second line) run in
# this shell, not in a command substitution's subshell, which has children of its own.
children_cpu_us() {
  times >"$work_file.times"
  tail -1 "$work_file.times" | awk '{
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
    printf "%d\n", t * 1e6 }'
}

# Waits until no more leases are alive than $1: leases left to expire end within their ttl
# (etcdctl's session: 10 s) and a little.
settle() {
  local waited=0 alive=0
  while [ "$counting" = 1 ] && [ "$waited" -lt 300 ]; do
    count alive leases_alive
    if [ "$counting" != 1 ] || [ "$alive" -le "$1" ]; then break; fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# measure LABEL CMD...: runs CMD `runs` times; prints wall and CPU per run, proposals per run
# (during the runs, then with the expiries of the leases the runs left behind).
measure() {
  local label=$1
  shift
  local alive0=0 p0=0 p1=0 p2=0 c0 c1 t0 t1 failed=0
  count alive0 leases_alive
  count p0 proposals
  children_cpu_us >"$work_file.c0"
  t0=$(date +%s%N)
  for _ in $(seq "$runs"); do
    "$@" >/dev/null 2>&1 || failed=$((failed + 1))
  done
  t1=$(date +%s%N)
  children_cpu_us >"$work_file.c1"
  count p1 proposals
  settle "$alive0"
  count p2 proposals
  c0=$(<"$work_file.c0")
  c1=$(<"$work_file.c1")
  awk -v l="$label" -v n="$runs" -v w=$((t1 - t0)) -v c=$((c1 - c0)) -v a=$((p1 - p0)) \
    -v b=$((p2 - p0)) -v counted="$counting" 'BEGIN {
      printf "%-12s %8.2f ms wall %8.2f ms CPU", l, w / n / 1e6, c / n / 1e3
      if (counted) printf " %5.2f writes/run (%.2f with expiries)", a / n, b / n
      printf "\n" }'
  if [ "$failed" -gt 0 ]; then
    echo "etcd_cli: $failed of $runs runs of $label failed"
  fi
  # For the ratio lines: wall and CPU of all runs, in nanoseconds and microseconds.
  echo "$((t1 - t0)) $((c1 - c0))" >"$work_file.$label"
}

echo "A CLI run on etcd at $endpoint, $runs runs each (per run; CPU: user+sys with children)"
# Warm-up: the page cache, etcd's first leases; then etcdctl's lease must end before counting.
alive=0
count alive leases_alive
"$heartlock" run -b "etcd://$endpoint" -q -n -k bench-cli -- true >/dev/null 2>&1 || true
etcdctl --endpoints="$endpoint" lock bench-cli-etcdctl true >/dev/null 2>&1 || true
settle "$alive"
measure heartlock "$heartlock" run -b "etcd://$endpoint" -q -n -k bench-cli -- true
measure etcdctl etcdctl --endpoints="$endpoint" lock bench-cli-etcdctl true
read -r hw hc <"$work_file.heartlock"
read -r ew ec <"$work_file.etcdctl"
awk -v hw="$hw" -v hc="$hc" -v ew="$ew" -v ec="$ec" 'BEGIN {
  printf "%-58s %9.3f x\n", "heartlock run / etcdctl lock, wall", (ew > 0 ? hw / ew : 0)
  printf "%-58s %9.3f x\n", "heartlock run / etcdctl lock, CPU", (ec > 0 ? hc / ec : 0) }'
