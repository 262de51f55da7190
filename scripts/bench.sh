#!/usr/bin/env bash
# `make bench`: runs every benchmark of a release build; each reports ratios against floors
# measured in the same run. The Redis benchmark gets a redis-server of its own on a free port.
set -euo pipefail
build=${1:-build/release}
"$build/bench/file_benchmark" --benchmark_min_time=1

if [ -x "$build/bench/redis_benchmark" ]; then
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 26379)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --loglevel warning --logfile "$work/log" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  echo
  HEARTLOCK_BENCH_REDIS_URL="redis://127.0.0.1:$port" \
    "$build/bench/redis_benchmark" --benchmark_min_time=1
fi
