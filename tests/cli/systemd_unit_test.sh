#!/usr/bin/env bash
# packaging/systemd/heartlock-cron.service passes `systemd-analyze verify`: with the built binary in
# place of the installed path (verify checks that ExecStart is executable), and with no warning
# at all about the file (verify exits 0 on an unknown key or section, but says so).
# Usage: systemd_unit_test.sh UNIT_FILE HEARTLOCK_BINARY. Exit 77 (skipped) without systemd-analyze.
set -euo pipefail
unit=$1
binary=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not found: skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
copy="$dir/$(basename "$unit")"
sed "s#/usr/local/bin/heartlock#$binary#g" "$unit" >"$copy"
grep -q "$binary cron " "$copy" || { echo "ExecStart does not run $binary cron"; exit 1; }
status=0
output=$(systemd-analyze verify --man=no "$copy" 2>&1) || status=$?
echo "$output"
if [ "$status" -ne 0 ]; then
  echo "systemd-analyze verify failed ($status)"
  exit 1
fi
if grep -F "$(basename "$unit")" <<<"$output"; then
  echo "systemd-analyze verify warned about the unit"
  exit 1
fi
echo "verified: $unit"
