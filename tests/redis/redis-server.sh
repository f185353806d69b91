#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# redis-server.sh start STATE_DIR [PORT [REDIS-SERVER-OPTIONS...]]
# redis-server.sh stop STATE_DIR
#
# A throwaway Redis server for the tests: bound to 127.0.0.1 only, on PORT
# or (PORT empty or 0) a free port, data and log in STATE_DIR, no
# persistence.  start returns once the server accepts connections and
# writes STATE_DIR/uri (redis://127.0.0.1:PORT/0), STATE_DIR/port and
# STATE_DIR/pid; extra options go to redis-server as given (e.g.
# --requirepass x, --unixsocket STATE_DIR/redis.sock).  stop ends the
# server of STATE_DIR (also a stopped one) and is quiet when none runs; it
# also ends and removes the servers of STATE_DIR/private-*, which tests
# start for themselves, in case a test died before stopping its own.
set -euo pipefail

usage() { echo "usage: $0 start STATE_DIR [PORT [OPTIONS...]] | stop STATE_DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
state=$2
shift 2

alive() { # a live process, not a zombie
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

stop_server() { # [DIR]
  local dir=${1:-$state} pid
  [ -s "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if alive "$pid"; then
    kill -CONT "$pid" 2>/dev/null || true # a test may have stopped it
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$dir/pid"
}

case "$cmd" in
start)
  port=${1:-0}
  [ $# -gt 0 ] && shift
  command -v redis-server >/dev/null || { echo "$0: redis-server not found (Debian: apt-get install redis-server)" >&2; exit 1; }
  mkdir -p "$state"
  # The folder may be a short one in /tmp (see CMakeLists.txt): it must be
  # this user's own real folder, not one someone else prepared.
  if [ -L "$state" ] || [ ! -O "$state" ]; then
    echo "$0: $state is a link or not owned by $(id -un): refusing to use it" >&2
    exit 1
  fi
  chmod 700 "$state"
  state=$(cd "$state" && pwd)
  stop_server
  # The server outlives this script: it must not hold descriptors the
  # caller inherited to us (a test runner's pipes and sockets).
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then
      eval "exec $fd>&-" 2>/dev/null || true
    fi
  done
  for attempt in $(seq 1 40); do
    p=$port
    if [ "$p" = 0 ]; then
      p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    fi
    : > "$state/redis.log"
    redis-server --bind 127.0.0.1 --port "$p" --dir "$state" --save '' --appendonly no \
      --daemonize no --logfile "$state/redis.log" --protected-mode yes "$@" \
      </dev/null >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
      alive "$pid" || break
      grep -q 'Ready to accept connections' "$state/redis.log" && break
      sleep 0.05
    done
    if alive "$pid" && grep -q 'Ready to accept connections' "$state/redis.log"; then
      echo "$pid" > "$state/pid"
      echo "$p" > "$state/port"
      echo "redis://127.0.0.1:$p/0" > "$state/uri"
      echo "redis-server $pid on 127.0.0.1:$p ($state)"
      exit 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$port" != 0 ]; then
      # A fixed port (a restart) may still be held for a moment.
      sleep 0.25
      [ "$attempt" -lt 20 ] && continue
      echo "$0: redis-server did not start on port $p:" >&2
      cat "$state/redis.log" >&2
      exit 1
    fi
  done
  echo "$0: redis-server did not start (no free port found?):" >&2
  cat "$state/redis.log" >&2
  exit 1
  ;;
stop)
  for private in "$state"/private-*; do
    [ -d "$private" ] || continue
    stop_server "$private"
    rm -rf "$private"
  done
  stop_server
  ;;
*)
  usage
  ;;
esac
