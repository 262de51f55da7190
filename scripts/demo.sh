#!/usr/bin/env bash
# `make demo`: a narrated tour of heartlock on the file backend, with the real CLI.
# Usage: scripts/demo.sh path/to/heartlock
set -u
HL=${1:?usage: demo.sh path/to/heartlock}
work=$(mktemp -d /tmp/heartlock-demo-XXXXXX)
export HEARTLOCK_DIR="$work/locks"
trap 'kill -CONT $(jobs -p) 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

if [ -t 1 ]; then B=$'\e[1m'; D=$'\e[2m'; N=$'\e[0m'; else B=; D=; N=; fi
say()  { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '%s%s%s\n' "$D" "$*" "$N"; }
# Shows a command, runs it, shows its exit code.
run()  { printf '$ %s\n' "$*"; "$@"; local rc=$?; note "(exit $rc)"; return 0; }
status() { printf '$ heartlock status\n'; "$HL" status; }
wait_for_file() { for _ in $(seq 1 500); do [ -s "$1" ] && return 0; sleep 0.01; done; return 1; }
gone() {  # pid: waits briefly for it to end; true if it did (zombies count as gone)
  for _ in $(seq 1 300); do
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$state" = Z ] && return 0; sleep 0.01
  done; return 1
}
wait_for_state() {  # name state: polls `heartlock status --json name`
  for _ in $(seq 1 1000); do
    "$HL" status --json "$1" | grep -q "\"state\": \"$2\"" && return 0; sleep 0.01
  done; return 1
}

note "lock directory: $HEARTLOCK_DIR (the default would be /run/lock/heartlock)"

say "1. A normal run: acquire, run the command in its own process group, release"
run "$HL" run -k nightly -- sh -c 'echo "working with fencing token $HEARTLOCK_TOKEN"; sleep 1; echo done'
status

say "2. A second run yields while the first one works (exit 75, or -E N)"
"$HL" run -k nightly -- sh -c "echo started > $work/first; sleep 3" &
first=$!
wait_for_file "$work/first"
status
run "$HL" run -v -k nightly -- echo "this must not run"   # -v: say who holds it
note "util-linux flock(1) on the same lock file is excluded too:"
run flock -n "$HEARTLOCK_DIR/nightly.lock" echo "this must not run either"
wait "$first"
note "the first run finished: (exit $?)"

say "3. A deadlocked holder: the wrapper is paused (SIGSTOP), its renewals stop"
"$HL" run -k nightly --ttl 2s --kill-grace 1s -- sh -c "echo \$\$ > $work/job; exec sleep 60" &
holder=$!
wait_for_file "$work/job"
run kill -STOP "$holder"
note "paused holder pid $holder; its lease expires after the 2s ttl..."
wait_for_state nightly expired
status
run "$HL" run -k nightly -- echo "took over the expired lease, with a larger token"
run kill -CONT "$holder"
wait "$holder"
note "the old holder woke up, learnt it lost the lease, stopped its command: (exit $?, 79 = lease lost)"
gone "$(cat "$work/job")" && note "its command (pid $(cat "$work/job")) is gone" || note "its command still runs!"

say "3b. A job that stops making progress: --heartbeat explicit needs \`heartlock heartbeat\` calls"
run "$HL" run -k report --heartbeat explicit --ttl 600ms --stale-after 1500ms --kill-grace 500ms -- \
  sh -c "for i in 1 2 3; do echo \"step \$i\"; $HL heartbeat; sleep 0.3; done; echo 'stuck...'; sleep 60"
note "no heartbeat for 1.5s: the lease counted as deadlocked and the job was stopped (exit 79)"

say "4. A crashed holder (kill -9) is taken over at once, not after its ttl"
"$HL" run -k nightly --ttl 1h -- sh -c "echo \$\$ > $work/crash; exec sleep 60" &
holder=$!
wait_for_file "$work/crash"
status
run kill -9 "$holder"
wait "$holder" 2>/dev/null
wait_for_state nightly dead
status
gone "$(cat "$work/crash")" && note "(the killed wrapper's watchdog killed its command too: pid $(cat "$work/crash") is gone)" \
  || note "(its command pid $(cat "$work/crash") still runs!)"
start=$(date +%s%N)
run "$HL" run -k nightly -- echo "ran at once, although the ttl was an hour"
note "took $(( ($(date +%s%N) - start) / 1000000 )) ms"

say "5. The end state"
status
