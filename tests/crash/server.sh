#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# server.sh - throwaway servers with durable settings for the crash tests.
#
#   server.sh postgres|redis start STATE_DIR   start a server; write STATE_DIR/uri
#   server.sh postgres|redis crash STATE_DIR   crash it (no clean shutdown) and
#                                              start it again on the same data
#   server.sh postgres|redis settle STATE_DIR  wait until the server has no
#                                              client sessions left
#   server.sh postgres|redis stop  STATE_DIR   stop it and remove its data
#   server.sh postgres|redis run   STATE_DIR PROGRAM [ARGS...]
#                                  run PROGRAM with "@URI@" in ARGS replaced by
#                                  the server's URI, "@CRASH@" and "@SETTLE@"
#                                  by the crash and settle commands
#
# Why settle: a statement a killed client had sent goes on running in the
# server, and may commit after the client died (PostgreSQL notices the
# dead client only when it answers).  The crash test waits for that before
# it reads the store, since otherwise such a write could land after the
# check that found it missing.
#
# postgres: tests/postgres/pg-server.sh starts the cluster; then fsync,
#   synchronous_commit and full_page_writes are switched on (the shared test
#   server runs without them), and a crash is an immediate stop: the server
#   quits without a checkpoint, and the next start runs crash recovery.
# redis: redis-server on 127.0.0.1 with appendonly yes and appendfsync
#   always, data in STATE_DIR/data; a crash is SIGKILL.
set -euo pipefail

usage() {
  echo "usage: $0 postgres|redis start|crash|settle|stop STATE_DIR | $0 postgres|redis run STATE_DIR PROGRAM [ARGS...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
kind=$1
cmd=$2
state=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
pg_script="$here/../postgres/pg-server.sh"

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

alive() { # a live process, not a zombie
  [ -r "/proc/$1/status" ] && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

pg_env() {
  # shellcheck disable=SC1090
  . <("$pg_script" env "$state")
}

pg_start() {
  "$pg_script" start "$state"
  pg_env
  cat >>"$ACP_PG_DATA/postgresql.conf" <<'EOF'
# crash tests: durable settings
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
  "$pg_script" restart "$state"
  local show
  show=$("$ACP_PG_BIN/psql" -X -At -h "$ACP_PG_SOCKET_DIR" -p "$ACP_PG_PORT" -U postgres -d acp \
    -c "SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit') || ' ' || current_setting('full_page_writes')")
  if [ "$show" != "on on on" ]; then
    echo "server.sh: PostgreSQL durable settings not in effect (fsync, synchronous_commit, full_page_writes: $show)" >&2
    exit 1
  fi
  echo "server.sh: PostgreSQL with fsync, synchronous_commit and full_page_writes on"
}

pg_crash() {
  pg_env
  as_owner "$ACP_PG_BIN/pg_ctl" -D "$ACP_PG_DATA" -m immediate -w stop >/dev/null
  "$pg_script" up "$state"
}

pg_settle() {
  pg_env
  local n
  for _ in $(seq 1 600); do
    n=$("$ACP_PG_BIN/psql" -X -At -h "$ACP_PG_SOCKET_DIR" -p "$ACP_PG_PORT" -U postgres -d postgres \
      -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
    [ "$n" = 0 ] && return 0
    sleep 0.02
  done
  echo "server.sh: PostgreSQL still has $n client sessions after 12 s" >&2
  exit 1
}

redis_settle() {
  local port n
  port=$(cat "$state/port")
  for _ in $(seq 1 600); do
    # CLIENT LIST shows one line per connection, this one included.
    n=$(redis-cli -h 127.0.0.1 -p "$port" CLIENT LIST | grep -c '^id=')
    [ "$n" = 1 ] && return 0
    sleep 0.02
  done
  echo "server.sh: redis still has $((n - 1)) other clients after 12 s" >&2
  exit 1
}

# The server outlives this script: it must not keep the test runner's
# descriptors (its pipes) open.
close_fds() {
  local fd
  for fd in "/proc/$$/fd/"*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then
      eval "exec $fd>&-" 2>/dev/null || true
    fi
  done
}

redis_launch() { # PORT
  : >"$state/redis.log"
  redis-server --bind 127.0.0.1 --port "$1" --dir "$state/data" --save '' \
    --appendonly yes --appendfsync always --daemonize no --protected-mode yes \
    --logfile "$state/redis.log" </dev/null >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do
    alive "$pid" || break
    if grep -q 'Ready to accept connections' "$state/redis.log"; then
      echo "$pid" >"$state/pid"
      return 0
    fi
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

redis_start() {
  command -v redis-server >/dev/null || { echo "server.sh: redis-server not found (Debian: apt-get install redis-server)" >&2; exit 1; }
  redis_stop
  mkdir -p "$state/data"
  close_fds
  for _ in $(seq 1 40); do
    local port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if redis_launch "$port"; then
      echo "$port" >"$state/port"
      echo "redis://127.0.0.1:$port/0" >"$state/uri"
      echo "server.sh: redis-server on 127.0.0.1:$port, appendonly yes, appendfsync always ($state)"
      return 0
    fi
  done
  echo "server.sh: redis-server did not start:" >&2
  cat "$state/redis.log" >&2
  exit 1
}

redis_crash() {
  local pid port
  pid=$(cat "$state/pid")
  port=$(cat "$state/port")
  kill -KILL "$pid"
  while alive "$pid"; do sleep 0.02; done
  close_fds
  # The port may be held for a moment after the kill.
  for _ in $(seq 1 40); do
    redis_launch "$port" && return 0
    sleep 0.25
  done
  echo "server.sh: redis-server did not restart on port $port:" >&2
  cat "$state/redis.log" >&2
  exit 1
}

redis_stop() {
  if [ -s "$state/pid" ]; then
    local pid
    pid=$(cat "$state/pid")
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$state/pid" "$state/port" "$state/uri" "$state/data"
}

run() {
  [ $# -ge 1 ] || usage
  if [ ! -s "$state/uri" ]; then
    echo "server.sh: no server URI in $state/uri (did the ${kind} start fixture run?)" >&2
    exit 1
  fi
  local uri crash settle args=() a
  uri=$(cat "$state/uri")
  crash="'$here/server.sh' $kind crash '$state'"
  settle="'$here/server.sh' $kind settle '$state'"
  for a in "$@"; do
    a=${a//@URI@/$uri}
    a=${a//@SETTLE@/$settle}
    args+=("${a//@CRASH@/$crash}")
  done
  exec "${args[@]}"
}

# The machine's PG* settings must not change what the tests connect to.
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)

case "$kind:$cmd" in
  postgres:start) mkdir -p "$state"; pg_start ;;
  postgres:crash) pg_crash ;;
  postgres:settle) pg_settle ;;
  postgres:stop) if [ -f "$state/env" ]; then "$pg_script" stop "$state"; fi ;;
  postgres:run) run "$@" ;;
  redis:start) mkdir -p "$state"; state=$(cd "$state" && pwd); redis_start ;;
  redis:crash) redis_crash ;;
  redis:settle) redis_settle ;;
  redis:stop) redis_stop ;;
  redis:run) run "$@" ;;
  *) usage ;;
esac
