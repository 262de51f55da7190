#!/bin/bash
# A contender that follows cronlock's locking algorithm, with redis-cli, for the interoperability
# tests (written for these tests from cronlock's documented behaviour, not taken from it):
#   SETNX key <now+RELEASE+1>; if that fails, GET the deadline: held while it is not in the past;
#   an expired one is taken with GETSET, unless GETSET returns a deadline still in the future;
#   after the command: GETSET key <start+GRACE+1> and EXPIREAT the same.
# usage: cronlock_peer.sh PORT KEY GRACE RELEASE COMMAND [ARGS...]
# Exit codes as cronlock: 200 not acquired, otherwise COMMAND's.
set -u
port=$1 key=$2 grace=$3 release=$4
shift 4
cli() { redis-cli -p "$port" "$@"; }

start=$(date +%s)
expire_min=$((start + grace + 1))
expire_max=$((start + release + 1))
if [ "$(cli SETNX "$key" "$expire_max")" != 1 ]; then
  deadline=$(cli GET "$key")
  if [ -n "$deadline" ] && [ $((deadline - $(date +%s))) -ge 0 ]; then
    exit 200
  fi
  previous=$(cli GETSET "$key" "$expire_max")
  if [ -n "$previous" ] && [ $((previous - $(date +%s))) -gt 0 ]; then
    exit 200
  fi
fi
"$@"
code=$?
cli GETSET "$key" "$expire_min" >/dev/null
cli EXPIREAT "$key" "$expire_min" >/dev/null
exit $code
