#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# front-restart.sh STATE_DIR CACHE_RACE [--expect-stale]
# The front is never a point of failure, and a front that comes back never
# serves what changed while it was away: cache_race (4 processes racing
# saves, conditional saves, deletes, events and reads, counting stale reads
# and errors) runs through a cache whose front is a Redis server of this
# test's own, while the test
#   1. pauses the server (SIGSTOP: calls time out) and resumes it,
#   2. stops it (SIGTERM) and starts it again on the same port,
#   3. kills it (SIGKILL) and starts it again,
# each time with its data kept (appendonly, fsync always): entries written
# before an outage come back, so a cache that trusted them would serve runs
# changed meanwhile.  It passes when no call failed, no read was stale, and
# the cache's counters show front failures and suspect tokens.  With
# --expect-stale (and ACP_CACHE_TEST_UNSAFE=suspect in the environment,
# which skips the suspect tokens) it passes only if stale reads were seen.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 STATE_DIR CACHE_RACE [--expect-stale]" >&2; exit 2; }
state=$1
race=$2
expect=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
server="$here/../redis/redis-server.sh"
rm -rf "$state"
mkdir -p "$state"
state=$(cd "$state" && pwd)
front="$state/front"
opts=(--appendonly yes --appendfsync always)
cleanup() { "$server" stop "$front" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$server" start "$front" 0 "${opts[@]}"
port=$(cat "$front/port")

. "$here/pct.sh"
uri="cache:?front=$(pct_encode "redis://127.0.0.1:$port/0?prefix=fr:&command_timeout=0.3&connect_timeout=0.3")"
uri+="&back=$(pct_encode "sqlite:$state/back.db")&check_ms=300&retry_ms=300"

"$race" "$uri" 4 26 24 $expect >"$state/race.out" 2>"$state/race.err" &
racer=$!

step() { echo "front-restart: $(date +%T) $*"; }
sleep 4
pid=$(cat "$front/pid")
step "pause the front (SIGSTOP) for 2 s"
kill -STOP "$pid"
sleep 2
kill -CONT "$pid"
sleep 4
step "stop the front (SIGTERM), restart it 2 s later with its data"
"$server" stop "$front" >/dev/null
sleep 2
"$server" start "$front" "$port" "${opts[@]}"
sleep 4
step "kill the front (SIGKILL), restart it 2 s later with its data"
kill -KILL "$(cat "$front/pid")"
sleep 2
"$server" start "$front" "$port" "${opts[@]}"
rc=0
wait "$racer" || rc=$?
cat "$state/race.out"
head -n 20 "$state/race.err" >&2
if [ -n "$expect" ]; then
  exit "$rc"
fi
[ "$rc" -eq 0 ] || { echo "front-restart: cache_race failed (status $rc)" >&2; exit 1; }
stats=$(grep 'stats' "$state/race.out" || true)
errors=$(sed -n 's/.*"front_errors":\([0-9]*\).*/\1/p' <<<"$stats")
suspects=$(sed -n 's/.*"suspects":\([0-9]*\).*/\1/p' <<<"$stats")
if [ "${errors:-0}" -eq 0 ] || [ "${suspects:-0}" -eq 0 ]; then
  echo "front-restart: the outages did not show in the counters ($stats)" >&2
  exit 1
fi
echo "front-restart: ok: no failed call, no stale read; $errors front failures, $suspects suspect tokens"
