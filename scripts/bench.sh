#!/usr/bin/env bash
# `make bench`: runs every benchmark of a release build; each reports ratios against floors
# measured in the same run. The Redis, PostgreSQL and etcd benchmarks get servers of their own on
# free loopback ports, in temporary directories, stopped at the end.
set -euo pipefail
build=${1:-build/bench}
if [ -z "${HEARTLOCK_BENCH_SKIP_FILE:-}" ]; then "$build/bench/file_benchmark" --benchmark_min_time=1; fi
echo
"$build/bench/cron_benchmark" --benchmark_min_time=1  # next_after/s: items_per_second
echo
# Idle CPU with 10 000 jobs (HEARTLOCK_BENCH_IDLE_SECONDS, 10), dispatch, and wake-up lateness over
# HEARTLOCK_BENCH_ROUNDS (20) real seconds per variant: about 1 min 45 s.
"$build/bench/scheduler_benchmark" --benchmark_min_time=1
echo
# `heartlock cron`: a daemon's idle cost with 1 000 jobs (HEARTLOCK_BENCH_CRON_IDLE_SECONDS, 20),
# then the slot lateness of three daemons on a Redis of the script's own
# (HEARTLOCK_BENCH_CRON_LATENESS_SECONDS, 30).
here=$(dirname "$0")/..
"$here/bench/cron_idle.sh" "$build"
if [ -x "$build/bench/redis_benchmark" ]; then
  echo
  "$here/bench/cron_lateness.sh" "$build"
fi

# shellcheck source=bench/bench_lib.sh
source "$here/bench/bench_lib.sh"

listening() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 200); do "$@" && return 0; sleep 0.05; done
  echo "bench: a server did not start" >&2
  return 1
}

if [ -x "$build/bench/redis_benchmark" ]; then
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --loglevel warning --logfile "$work/redis.log" &
  pids+=($!)
  wait_for listening "$port"
  echo
  export HEARTLOCK_BENCH_REDIS_URL="redis://127.0.0.1:$port"
  "$build/bench/redis_benchmark" --benchmark_min_time=1
fi

if [ -x "$build/bench/postgres_benchmark" ]; then
  # PostgreSQL refuses to run as root: as root, it runs as the postgres user.
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  mkdir "$work/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$work" "$work/pg"; fi
  as_pg "$pgbin/initdb" -D "$work/pg/data" -U heartlock --auth=trust -E UTF8 --locale=C \
    --no-sync >/dev/null
  port=$(free_port)
  as_pg "$pgbin/postgres" -D "$work/pg/data" -p "$port" -k "$work/pg" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
    >"$work/pg/log" 2>&1 &
  pids+=($!)
  wait_for "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port"
  echo
  export HEARTLOCK_BENCH_POSTGRES_URL="postgres://heartlock@127.0.0.1:$port/postgres"
  "$build/bench/postgres_benchmark" --benchmark_min_time=1
fi

if [ -x "$build/bench/etcd_benchmark" ]; then
  port=$(free_port)
  peer=$(free_port)
  etcd --name bench --data-dir "$work/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "bench=http://127.0.0.1:$peer" >"$work/etcd.log" 2>&1 &
  pids+=($!)
  wait_for listening "$port"
  sleep 1  # a leader
  echo
  export HEARTLOCK_BENCH_ETCD_URL="etcd://127.0.0.1:$port"
  "$build/bench/etcd_benchmark" --benchmark_min_time=1
  # `heartlock run` against `etcdctl lock`: wall, CPU and etcd writes per run.
  echo
  "$here/bench/etcd_cli.sh" "$build" "127.0.0.1:$port" || echo "etcd_cli: failed; going on"
fi

# The cron daemon's per-slot work before its command starts, on the file backend and on each
# server above (the HEARTLOCK_BENCH_*_URL exported), against each backend's raw lock cycle.
echo
"$build/bench/cron_claim_benchmark" --benchmark_min_time=1
