#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pg-server.sh - a throwaway PostgreSQL server for the tests.
#
#   pg-server.sh start   STATE_DIR   initdb a cluster in a new temporary
#                                    directory, start it on 127.0.0.1 on a free
#                                    port, create database "acp" and a role
#                                    with a password; write STATE_DIR/env and
#                                    STATE_DIR/uri
#   pg-server.sh stop    STATE_DIR   stop the server, remove the cluster
#   pg-server.sh env     STATE_DIR   print the environment (for eval)
#   pg-server.sh restart STATE_DIR   restart the server (same port, same data)
#   pg-server.sh down    STATE_DIR   stop the server, keep the data
#   pg-server.sh up      STATE_DIR   start it again after "down"
#
# STATE_DIR/env holds shell assignments:
#   ACP_PG_URI        postgres://postgres@127.0.0.1:PORT/acp (trust authentication)
#   ACP_PG_PORT, ACP_PG_HOST, ACP_PG_SOCKET_DIR, ACP_PG_DATA, ACP_PG_BIN
#   ACP_PG_PW_USER, ACP_PG_PASSWORD   a role that must give its password
#                                     (scram-sha-256 over TCP)
# The server needs the Debian packages postgresql-15 (or "postgresql") and
# its client; as root, it runs as the "postgres" user the package creates
# (PostgreSQL refuses to run as root).
set -euo pipefail

# The machine's PG* settings must not leak into the test server.
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)

usage() {
  echo "usage: $0 start|stop|env|restart|down|up STATE_DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
state=$2

find_bindir() {
  local d
  for d in "${ACP_PG_BINDIR:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

load_state() {
  if [ ! -f "$state/env" ]; then
    echo "pg-server.sh: no server state in $state (run '$0 start $state' first)" >&2
    exit 1
  fi
  # shellcheck disable=SC1091
  . "$state/env"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_start() {
  # -w waits until the server accepts connections.
  as_owner "$ACP_PG_BIN/pg_ctl" -D "$ACP_PG_DATA" -l "$ACP_PG_TMP/server.log" -w -t 60 \
    -o "-p $ACP_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$ACP_PG_TMP" \
    start >/dev/null
}

psql_admin() {
  "$ACP_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$ACP_PG_SOCKET_DIR" -p "$ACP_PG_PORT" \
    -U postgres "$@"
}

start() {
  local bindir
  if ! bindir=$(find_bindir); then
    cat >&2 <<'EOF'
pg-server.sh: PostgreSQL server programs not found (looked for
/usr/lib/postgresql/15/bin/initdb and /usr/lib/postgresql/*/bin/initdb).
Install them: apt-get install postgresql-15 (Debian 12), or set ACP_PG_BINDIR.
EOF
    exit 1
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "pg-server.sh: running as root needs the 'postgres' user (created by the postgresql package)" >&2
    exit 1
  fi
  if [ -f "$state/env" ]; then
    echo "pg-server.sh: $state already holds a server; stopping it first" >&2
    stop || true
  fi
  mkdir -p "$state"
  # Short path: a Unix socket path must fit in 107 bytes.
  local tmp
  tmp=$(mktemp -d /tmp/acp-pg-XXXXXX)
  chmod 0700 "$tmp"
  [ "$(id -u)" = 0 ] && chown postgres: "$tmp"
  ACP_PG_TMP=$tmp
  ACP_PG_BIN=$bindir
  ACP_PG_DATA=$tmp/data
  ACP_PG_SOCKET_DIR=$tmp
  ACP_PG_HOST=127.0.0.1
  ACP_PG_PW_USER=acp_pw
  ACP_PG_PASSWORD="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

  if ! as_owner "$bindir/initdb" -D "$ACP_PG_DATA" -U postgres -A trust -E UTF8 --locale=C \
      --no-sync >"$tmp/initdb.log" 2>&1; then
    echo "pg-server.sh: initdb failed:" >&2
    cat "$tmp/initdb.log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  # A throwaway cluster: durability against power loss does not matter
  # (the server is never killed, only clients are), speed does.
  cat >>"$ACP_PG_DATA/postgresql.conf" <<'EOF'
max_connections = 300
shared_buffers = 64MB
log_min_messages = warning
EOF
  # ACP_PG_DURABLE=1 keeps PostgreSQL's durable defaults, for benchmarks
  # that compare with a deployment as it would run.
  if [ "${ACP_PG_DURABLE:-0}" != 1 ]; then
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' \
      >>"$ACP_PG_DATA/postgresql.conf"
  fi
  cat >"$ACP_PG_DATA/pg_hba.conf" <<'EOF'
local all all                      trust
host  all acp_pw 127.0.0.1/32      scram-sha-256
host  all all    127.0.0.1/32      trust
EOF
  local tries=0
  while :; do
    ACP_PG_PORT=$((20000 + RANDOM % 40000))
    if ! port_in_use "$ACP_PG_PORT" && pg_start; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 8 ]; then
      echo "pg-server.sh: the server did not start; its log:" >&2
      cat "$tmp/server.log" >&2 || true
      rm -rf "$tmp"
      exit 1
    fi
  done
  ACP_PG_URI="postgres://postgres@127.0.0.1:$ACP_PG_PORT/acp"
  {
    for v in ACP_PG_TMP ACP_PG_BIN ACP_PG_DATA ACP_PG_SOCKET_DIR ACP_PG_HOST ACP_PG_PORT \
             ACP_PG_URI ACP_PG_PW_USER ACP_PG_PASSWORD; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$state/env"
  printf '%s\n' "$ACP_PG_URI" >"$state/uri"
  psql_admin -d postgres -c "CREATE DATABASE acp ENCODING 'UTF8' TEMPLATE template0" \
    -c "CREATE ROLE $ACP_PG_PW_USER LOGIN PASSWORD '$ACP_PG_PASSWORD'" \
    -c "GRANT ALL ON DATABASE acp TO $ACP_PG_PW_USER"
  echo "pg-server.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on" \
       "127.0.0.1:$ACP_PG_PORT (data in $ACP_PG_DATA); URI in $state/uri"
}

stop() {
  load_state
  if [ -f "$ACP_PG_DATA/postmaster.pid" ]; then
    as_owner "$ACP_PG_BIN/pg_ctl" -D "$ACP_PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  case "$ACP_PG_TMP" in
    /tmp/acp-pg-*) rm -rf "$ACP_PG_TMP" ;;
  esac
  rm -f "$state/env" "$state/uri"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  env) load_state; cat "$state/env" ;;
  restart)
    load_state
    as_owner "$ACP_PG_BIN/pg_ctl" -D "$ACP_PG_DATA" -l "$ACP_PG_TMP/server.log" -m fast -w -t 60 \
      restart >/dev/null
    ;;
  down)
    load_state
    as_owner "$ACP_PG_BIN/pg_ctl" -D "$ACP_PG_DATA" -m fast -w -t 60 stop >/dev/null
    ;;
  up) load_state; pg_start ;;
  *) usage ;;
esac
