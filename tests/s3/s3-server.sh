#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# s3-server.sh start STATE_DIR [PORT]
# s3-server.sh stop STATE_DIR
# s3-server.sh remove STATE_DIR
#
# A throwaway S3 server for the tests (tests/s3/server: @20minutes/s3rver,
# installed by `npm ci` in that folder): bound to 127.0.0.1 only, on PORT or
# (PORT empty or 0) a free port, objects in STATE_DIR/data (a link into
# /dev/shm where that exists), signatures
# checked.  start returns once the server answers and writes
# STATE_DIR/endpoint (http://127.0.0.1:PORT), STATE_DIR/port and
# STATE_DIR/pid; the bucket "acp-test" exists.  A restart on the same PORT
# keeps the data.  stop ends the server of STATE_DIR and is quiet when none
# runs; remove also deletes its objects (the /dev/shm folder included) and
# the state folder: the fixtures' cleanup.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: $0 start STATE_DIR [PORT] | stop STATE_DIR | remove STATE_DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
state=$2
shift 2

alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

stop_server() {
  [ -s "$state/pid" ] || return 0
  local pid
  pid=$(cat "$state/pid")
  if alive "$pid"; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.05
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/pid"
}

case "$cmd" in
start)
  port=${1:-0}
  command -v node >/dev/null || { echo "$0: node not found (Debian: nodejs)" >&2; exit 1; }
  [ -d "$here/server/node_modules/@20minutes/s3rver" ] ||
    { echo "$0: run 'npm ci' in $here/server first" >&2; exit 1; }
  mkdir -p "$state"
  if [ -L "$state" ] || [ ! -O "$state" ]; then
    echo "$0: $state is a link or not owned by $(id -un): refusing to use it" >&2
    exit 1
  fi
  state=$(cd "$state" && pwd)
  # Objects on a tmpfs when there is one: s3rver writes and removes several
  # files per object (a conformance run leaves ~150 MB in thousands of
  # them), and the disk's metadata work slows every request.  STATE_DIR/data
  # links there; a restart reuses the link, so it keeps the data.  A link
  # left dangling (a reboot emptied the tmpfs) is replaced.
  if [ ! -e "$state/data" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    rm -f "$state/data"
    ln -s "$(mktemp -d /dev/shm/acp-s3rver.XXXXXX)" "$state/data"
  fi
  mkdir -p "$state/data"
  stop_server
  # The server outlives this script: it must not hold the caller's pipes.
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then
      eval "exec $fd>&-" 2>/dev/null || true
    fi
  done
  for attempt in $(seq 1 40); do
    : > "$state/server.log"
    (cd "$here/server" && exec node --openssl-legacy-provider serve.js "$state/data" "$port" acp-test acp-other) \
      </dev/null >"$state/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
      alive "$pid" || break
      grep -q '^ready ' "$state/server.log" && break
      sleep 0.05
    done
    if alive "$pid" && grep -q '^ready ' "$state/server.log"; then
      p=$(sed -n 's/^ready //p' "$state/server.log")
      echo "$pid" > "$state/pid"
      echo "$p" > "$state/port"
      echo "http://127.0.0.1:$p" > "$state/endpoint"
      echo "s3rver $pid on 127.0.0.1:$p ($state)"
      exit 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # A fixed port (a restart) may still be held for a moment.
    [ "$port" != 0 ] && sleep 0.25
  done
  echo "$0: the S3 server did not start:" >&2
  cat "$state/server.log" >&2
  exit 1
  ;;
stop)
  stop_server
  ;;
remove)
  stop_server
  # The data link's target only if it is one of ours under /dev/shm.
  if [ -L "$state/data" ]; then
    target=$(readlink "$state/data")
    case "$target" in
    /dev/shm/acp-s3rver.*) [ -O "$target" ] && rm -rf -- "$target" ;;
    esac
  fi
  rm -rf -- "$state"
  ;;
*)
  usage
  ;;
esac
