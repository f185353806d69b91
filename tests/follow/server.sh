#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# server.sh postgres|redis PROGRAM SERVERS_DIR STATE_DIR TOTAL
# On a private server of its own (started here, stopped on exit, so that
# restarting it disturbs no other test):
#  1. exactly once, in order, across processes (procs.sh) with TOTAL events;
#  2. 8 follower and 8 writer threads in one process on a pool of 2;
#  3. the server restarted while a follower waits: the follower reconnects
#     and resumes from its last sequence number, with nothing lost or
#     repeated (follow_stress follow fails on a gap, a repeat or disorder).
# SERVERS_DIR holds pg-server.sh and redis-server.sh (tests/postgres,
# tests/redis).
set -euo pipefail
backend=$1 prog=$2 servers=$3 state=$4 total=$5
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
    restart() { "$script" stop "$state" >/dev/null; "$script" start "$state" "$port" "${opts[@]}" >/dev/null; }
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
