#!/usr/bin/env bash
# Slot lateness of `heartlock cron` with three daemons on one Redis: an every-second job records
# $HEARTLOCK_SLOT and its start (date +%s.%N) for HEARTLOCK_BENCH_CRON_LATENESS_SECONDS (default
# 30); reported: lateness (start - slot) p50/p99/max, and runs per slot (exactly 1; any slot run
# twice or not at all is a violation). Floors in the same run, at the same time: one daemon on the file
# backend with the same job, and a shell loop that sleeps to each whole second and runs the same
# command. The redis-server is the bench's own: a free loopback port, a temporary directory.
# Usage: bench/cron_lateness.sh [BUILD_DIR]   (default build/bench)
set -euo pipefail
build=${1:-build/bench}
bin=$(realpath "$build/bin/heartlock")
seconds=${HEARTLOCK_BENCH_CRON_LATENESS_SECONDS:-30}
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 1 200); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

# What every variant runs at each slot: the slot, the start time, who ran it. `%` is `\%` in a
# crontab.
# shellcheck disable=SC2016  # expanded by the shell that runs the job
record='echo "$HEARTLOCK_SLOT $(date +%s.%N) $RUNNER" >>"$OUT"'
printf '# heartlock: name=tick\n* * * * * * %s\n' "${record//%/\\%}" >"$work/crontab"

daemon() {  # RUNNER OUT BACKEND
  RUNNER=$1 OUT=$2 "$bin" -b "$3" --json cron "$work/crontab" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
}
for i in 1 2 3; do daemon "redis-$i" "$work/redis.runs" "redis://127.0.0.1:$port"; done
mkdir "$work/store"
daemon file "$work/file.runs" "file://$work/store"

# The floor loop: sleep(1) to the next whole second, then the same command in a new shell.
loop() {
  while :; do
    local now next
    now=$(date +%s%N)
    next=$((now / 1000000000 + 1))
    sleep "0.$(printf %09d $((next * 1000000000 - now)))"
    HEARTLOCK_SLOT=$(date -u -d "@$next" +%FT%TZ) RUNNER=loop OUT="$work/loop.runs" sh -c "$record"
  done
}
loop &
pids+=($!)

for f in redis-1 redis-2 redis-3 file; do
  for _ in $(seq 1 200); do grep -q '"event":"loaded"' "$work/$f.err" 2>/dev/null && break; sleep 0.05; done
done
# Slots from the second after all are ready, to the one before the stop: whole seconds only.
from=$(($(date +%s) + 2))
sleep "$seconds"
to=$(($(date +%s) - 2))
# What the daemons themselves recorded: the ledger's lateness_ms (the command's spawn - slot, in
# whole ms), without the shell's and date's start-up in the recorded start.
"$bin" -b "redis://127.0.0.1:$port" --json history tick -n 1000 >"$work/redis.ledger"
"$bin" -b "file://$work/store" --json history tick -n 1000 >"$work/file.ledger"

echo "heartlock cron: lateness of an every-second job (start - slot), slots $from..$to ($((to - from + 1)))"
python3 - "$from" "$to" "$work" <<'PY'
import collections, datetime, json, math, sys
lo, hi, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def pct(v, p):  # nearest rank
    v = sorted(v)
    return v[max(1, min(len(v), math.ceil(p / 100 * len(v)))) - 1] if v else float("nan")

print(f"  {'':40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'runs':>5} {'twice+':>6} {'none':>5}  by runner")
for label, name in (("floor: sleep-aligned shell loop", "loop"),
                    ("floor: 1 daemon, file backend", "file"),
                    ("3 daemons on one redis-server", "redis")):
    runs = collections.defaultdict(list)
    try:
        lines = open(f"{work}/{name}.runs").read().split("\n")
    except FileNotFoundError:
        lines = []
    for line in filter(None, lines):
        slot_text, started, runner = line.split()
        slot = int(datetime.datetime.strptime(slot_text, "%Y-%m-%dT%H:%M:%SZ")
                   .replace(tzinfo=datetime.timezone.utc).timestamp())
        if lo <= slot <= hi:
            runs[slot].append(((float(started) - slot) * 1000, runner))
    late = [ms for r in runs.values() for ms, _ in r]
    twice = sum(1 for r in runs.values() if len(r) > 1)
    none = sum(1 for s in range(lo, hi + 1) if s not in runs)
    by = collections.Counter(who for r in runs.values() for _, who in r)
    print(f"  {label:40} {pct(late, 50):8.2f} {pct(late, 99):8.2f} {pct(late, 100):8.2f} "
          f"{len(late):5} {twice:6} {none:5}  {dict(sorted(by.items()))}")
print("  (twice+: slots run more than once; none: slots nobody ran; nearest-rank percentiles)")
print("  the daemons' own record (ledger lateness_ms: spawn - slot, whole ms):")
for label, name in (("1 daemon, file backend", "file"), ("3 daemons on one redis-server", "redis")):
    late = []
    for r in json.load(open(f"{work}/{name}.ledger")):
        slot = int(datetime.datetime.strptime(r["slot"], "%Y-%m-%dT%H:%M:%SZ")
                   .replace(tzinfo=datetime.timezone.utc).timestamp())
        if lo <= slot <= hi:
            late.append(r["lateness_ms"])
    print(f"  {label:40} {pct(late, 50):8.0f} {pct(late, 99):8.0f} {pct(late, 100):8.0f} {len(late):5}")
PY
