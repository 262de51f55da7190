#!/usr/bin/env bash
# Installs the Debian 12 packages heartlock needs to build and test, if any are missing.
# Usage: scripts/install-deps.sh [servers|fuzz|docs|bench-report]   ("servers": also the servers
# the tests start; "fuzz": also clang 16 with libFuzzer and its sanitizer runtimes, for `make fuzz`;
# "docs": graphviz, for `make docs`; "bench-report": gnuplot, for `make bench-report`)
set -euo pipefail

packages=(
  build-essential cmake pkg-config make
  libssl-dev zlib1g-dev libhiredis-dev libpq-dev libcurl4-openssl-dev libmicrohttpd-dev
  libcli11-dev nlohmann-json3-dev libhowardhinnant-date-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-prometheus-client
  util-linux procps openssl scdoc file
)
if [ "${1:-}" = servers ]; then
  packages+=(redis-server postgresql etcd-server etcd-client pgbouncer faketime)
fi
if [ "${1:-}" = fuzz ]; then
  packages+=(clang-16 libclang-rt-16-dev libfuzzer-16-dev)
fi
if [ "${1:-}" = docs ]; then
  packages=(graphviz)
fi
if [ "${1:-}" = bench-report ]; then
  packages=(python3 gnuplot-nox)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
# Server packages would start their daemons on the default ports; the tests start their own on
# free ports. A policy-rc.d that answers 101 ("action forbidden") keeps them from starting.
policy=/usr/sbin/policy-rc.d
placed_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  placed_policy=yes
fi
trap 'if [ -n "$placed_policy" ]; then $sudo rm -f "$policy"; fi' EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
