#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# outage.sh postgres|redis SERVER-SCRIPT PROGRAM [THREADS [TIMEOUT-MS [OUTAGES]]]
#
# Starts a server of its own (SERVER-SCRIPT is tests/postgres/pg-server.sh
# or tests/redis/redis-server.sh) in a new temporary directory, with every
# acknowledged write made durable against a kill of the server:
#   postgres  synchronous_commit = on (pg-server.sh turns it off for speed;
#             fsync stays off: a killed process loses nothing the kernel has)
#   redis     appendonly yes, appendfsync always
# runs PROGRAM (outage.c) against it, and while PROGRAM writes, OUTAGES
# times (default 2):
#   1. (odd outages) freezes the server (SIGSTOP to the server and every
#      process it started) for FREEZE seconds: calls in flight must give up
#      within their timeout; (even outages) no freeze: connections break
#      in the middle of calls;
#   2. kills it (SIGKILL, the postmaster / redis-server first; it is
#      stopped for the instant it takes to list the processes it started);
#   3. keeps it down DOWN seconds;
#   4. starts it again on the same data directory and port.
# PROGRAM learns the phases through files in a control directory, checks
# what it saw, and its exit status is this script's.  The server is removed
# at the end, also on failure.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 postgres|redis SERVER-SCRIPT PROGRAM [THREADS [TIMEOUT-MS]]" >&2; exit 2; }
kind=$1
server_script=$2
program=$3
threads=${4:-4}
timeout_ms=${5:-2000}
outages=${6:-2}
FREEZE=${ACP_OUTAGE_FREEZE:-3}
DOWN=${ACP_OUTAGE_DOWN:-2}

work=$(mktemp -d /tmp/acp-outage-XXXXXX)
ctl=$work/ctl
mkdir -p "$ctl"
prog_pid=

log() { echo "outage.sh: $*"; }

alive() { # a live process, not a zombie
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

cleanup() {
  local rc=$?
  if [ -n "$prog_pid" ] && alive "$prog_pid"; then
    kill -KILL "$prog_pid" 2>/dev/null || true
  fi
  # A frozen server cannot stop: wake it first.
  for p in $(server_pids 2>/dev/null); do kill -CONT "$p" 2>/dev/null || true; done
  case "$kind" in
    postgres) [ -f "$work/pg/env" ] && "$server_script" stop "$work/pg" >/dev/null 2>&1 || true ;;
    redis) "$server_script" stop "$work/redis" >/dev/null 2>&1 || true ;;
  esac
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The server's processes: the main one first, then what it started.
server_pids() {
  local main
  case "$kind" in
    postgres)
      [ -f "$work/pg/env" ] || return 0
      . "$work/pg/env"
      [ -s "$ACP_PG_DATA/postmaster.pid" ] || return 0
      main=$(head -n1 "$ACP_PG_DATA/postmaster.pid")
      ;;
    redis)
      [ -s "$work/redis/pid" ] || return 0
      main=$(cat "$work/redis/pid")
      ;;
  esac
  alive "$main" || return 0
  echo "$main"
  local stat line rest p
  for stat in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$stat" || continue
    rest=${line##*) } # "STATE PPID ...", after the command name
    set -- $rest
    [ "${2:-}" = "$main" ] && { p=${stat#/proc/}; echo "${p%/stat}"; }
  done
  return 0
}

server_log() {
  case "$kind" in
    postgres) . "$work/pg/env"; tail -n 30 "$ACP_PG_TMP/server.log" 2>/dev/null || true ;;
    redis) tail -n 30 "$work/redis/redis.log" 2>/dev/null || true ;;
  esac
}

case "$kind" in
  postgres)
    "$server_script" start "$work/pg" >/dev/null
    . "$work/pg/env"
    # Acknowledged commits must be in the WAL the kernel holds.
    "$ACP_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$ACP_PG_SOCKET_DIR" -p "$ACP_PG_PORT" \
      -U postgres -d postgres -c "ALTER SYSTEM SET synchronous_commit = on" \
      -c "SELECT pg_reload_conf()" >/dev/null
    sc=$("$ACP_PG_BIN/psql" -X -At -h "$ACP_PG_SOCKET_DIR" -p "$ACP_PG_PORT" -U postgres \
           -d acp -c "SHOW synchronous_commit")
    [ "$sc" = on ] || { echo "outage.sh: synchronous_commit is '$sc', not on" >&2; exit 1; }
    uri="$ACP_PG_URI?schema=outage"
    ;;
  redis)
    "$server_script" start "$work/redis" 0 --appendonly yes --appendfsync always >/dev/null
    port=$(cat "$work/redis/port")
    uri="redis://127.0.0.1:$port/0?prefix=outage:"
    ;;
  *)
    echo "outage.sh: unknown server kind '$kind'" >&2
    exit 2
    ;;
esac
log "$kind server up ($uri)"

"$program" "$uri" "$ctl" "$threads" "$timeout_ms" "$outages" &
prog_pid=$!

wait_for() { # FILE SECONDS: wait for the program to write FILE
  local i
  for i in $(seq 1 $(($2 * 20))); do
    [ -e "$ctl/$1" ] && return 0
    alive "$prog_pid" || return 1
    sleep 0.05
  done
  return 1
}

one_outage() { # N
  local n=$1 pids p left main
  if ! wait_for "ready-$n" 60; then
    log "the program did not get ready for outage $n"
    return 1
  fi
  sleep 0.5 # writes in full flow
  touch "$ctl/outage-$n"
  sleep 0.3 # the program has seen the file before anything happens
  pids=$(server_pids)
  [ -n "$pids" ] || { log "no server process found"; return 1; }
  # Stop the main process first, so that it starts nothing more, then
  # list what it started.
  main=${pids%%[[:space:]]*}
  kill -STOP "$main"
  pids=$(server_pids)
  if [ $((n % 2)) = 1 ] && [ "$FREEZE" != 0 ]; then
    log "outage $n: freezing the server (pids $(echo $pids)) for ${FREEZE}s"
    for p in $pids; do kill -STOP "$p" 2>/dev/null || true; done
    sleep "$FREEZE"
  fi
  log "outage $n: killing the server (SIGKILL)"
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    left=
    for p in $pids; do alive "$p" && left=1; done
    [ -z "$left" ] && break
    sleep 0.05
  done
  [ -z "$left" ] || { log "the server survived SIGKILL"; return 1; }

  sleep "$DOWN"
  log "outage $n: starting the server again on the same data"
  case "$kind" in
    postgres)
      # A killed postmaster leaves postmaster.pid behind; PostgreSQL
      # removes it itself unless the pid is still taken (by a zombie that
      # nobody reaped): then it is safe to remove, the process being dead.
      main=$(head -n1 "$ACP_PG_DATA/postmaster.pid" 2>/dev/null || true)
      if [ -n "$main" ] && [ -e "/proc/$main" ]; then
        rm -f "$ACP_PG_DATA/postmaster.pid"
      fi
      "$server_script" up "$work/pg" || return 1
      ;;
    redis)
      "$server_script" start "$work/redis" "$port" --appendonly yes --appendfsync always \
        >/dev/null || return 1
      ;;
  esac
  touch "$ctl/restarted-$n"
}

ok=1
for n in $(seq 1 "$outages"); do
  one_outage "$n" || { ok=; break; }
done
if [ -z "$ok" ]; then
  kill -TERM "$prog_pid" 2>/dev/null || true
fi

set +e
wait "$prog_pid"
rc=$?
set -e
prog_pid=
[ -n "$ok" ] || rc=1
if [ "$rc" -ne 0 ]; then
  log "the program failed ($rc); the server's log ends with:"
  server_log
fi
exit "$rc"
