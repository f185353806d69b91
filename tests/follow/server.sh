#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# server.sh postgres|redis PROGRAM SERVERS_DIR STATE_DIR TOTAL ACP_STORAGE
# On a private server of its own (started here, stopped on exit, so that
# restarting it disturbs no other test):
#  1. exactly once, in order, across processes (procs.sh) with TOTAL events;
#  2. 8 follower and 8 writer threads in one process on a pool of 2;
#  3. the server restarted while a follower waits: the follower reconnects
#     and resumes from its last sequence number, with nothing lost or
#     repeated (follow_stress follow fails on a gap, a repeat or disorder);
#  4. `acp-storage event list --follow` while the server is down for 3 s:
#     it keeps waiting, resumes when the server is back, prints every event
#     once and stops after run.completed.
# SERVERS_DIR holds pg-server.sh and redis-server.sh (tests/postgres,
# tests/redis).
set -euo pipefail
backend=$1 prog=$2 servers=$3 state=$4 total=$5 cli=$6
here=$(dirname "$0")
mkdir -p "$state"
case $backend in
  postgres)
    script=$servers/postgres/pg-server.sh
    "$script" start "$state" >/dev/null
    trap '"$script" stop "$state" >/dev/null 2>&1 || true' EXIT
    base=$(cat "$state/uri")
    uri1="$base?schema=follow_procs" uri2="$base?schema=follow_restart"
    restart() { "$script" restart "$state" >/dev/null; }
    down() { "$script" down "$state" >/dev/null; }
    up() { "$script" up "$state" >/dev/null; }
    uri4="$base?schema=follow_cli"
    ;;
  redis)
    script=$servers/redis/redis-server.sh
    # Persistence on: a restart must keep the data for "nothing lost" to mean anything.
    opts=(--appendonly yes --appendfsync always)
    "$script" start "$state" 0 "${opts[@]}" >/dev/null
    trap '"$script" stop "$state" >/dev/null 2>&1 || true' EXIT
    base=$(cat "$state/uri")
    port=$(cat "$state/port")
    uri1="$base?prefix=fp:" uri2="$base?prefix=fr:"
    down() { "$script" stop "$state" >/dev/null; }
    up() { "$script" start "$state" "$port" "${opts[@]}" >/dev/null; }
    restart() { down; up; }
    uri4="$base?prefix=fc:"
    ;;
  *) echo "server.sh: unknown backend $backend" >&2; exit 2 ;;
esac

"$here/procs.sh" "$prog" "$uri1" "$total"

# Threads of one process on a pool of 2 connections: 8 followers must not
# starve 8 writers of connections (postgres lends a sleeping follower's
# connection out of the pool's count; redis followers use their own).
case $backend in
  postgres) uri3="$base?schema=follow_pool&pool_size=2" ;;
  redis) uri3="$base?prefix=fq:&pool_size=2" ;;
esac
"$prog" threads "$uri3" 4 8000 8 8 300

n=2000
"$prog" follow "$uri2" follow-0 "$n" 120 &
follower=$!
"$prog" write "$uri2" 1 $((n / 2)) 1 0
sleep 1 # the follower has caught up and waits
restart
echo "server restarted while the follower waited"
"$prog" write "$uri2" 1 $((n / 2)) 1 1
if wait "$follower"; then
  echo "$backend: follower resumed after the restart: events 1..$n once each, in order"
else
  echo "FAIL: $backend: the follower did not resume correctly after the restart"
  exit 1
fi

out=$(mktemp)
"$cli" --store "$uri4" event add cli-run --type run.created >/dev/null
"$cli" --store "$uri4" --json event list cli-run --follow >"$out" &
clip=$!
sleep 1
down
echo "server down while acp-storage --follow waits"
sleep 3
up
"$cli" --store "$uri4" event add cli-run --type run.in-progress >/dev/null
"$cli" --store "$uri4" event add cli-run --type run.completed >/dev/null
for _ in $(seq 300); do kill -0 "$clip" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$clip" 2>/dev/null; then
  kill "$clip"
  echo "FAIL: $backend: --follow did not stop after run.completed once the server was back"
  exit 1
fi
wait "$clip" || { echo "FAIL: $backend: --follow exited with $?"; exit 1; }
got=$(jq -c '.seq' "$out" | tr -d '\n')
rm -f "$out"
[ "$got" = "123" ] || { echo "FAIL: $backend: --follow printed seqs $got, expected 123"; exit 1; }
echo "$backend: acp-storage --follow waited through the outage and printed events 1..3 once"
