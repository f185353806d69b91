#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reproduce.sh - the figures of docs/performance.md in one command:
#
#   bench/reproduce.sh [BUILD_DIR] [acp-storage-bench options...]
#
# Configures and builds BUILD_DIR (default ./build-bench) as a release
# build (RelWithDebInfo) when it holds no acp-storage-bench yet.  Starts a
# throwaway PostgreSQL server and a throwaway Redis server on 127.0.0.1
# (random ports, data in a temporary directory, removed afterwards), runs
# acp-storage-bench against memory, sqlite, file, postgres and redis with
# --scale, and leaves the report in bench-results.json and bench-results.txt
# in the current directory.  Extra options go to acp-storage-bench (e.g.
# --repeats 3 --scale-sizes 10000,100000).
#
# Needs the Debian packages postgresql-15 (server programs) and
# redis-server.  As root, PostgreSQL runs as the "postgres" user.
#
# Both servers are set up for throughput, not durability: PostgreSQL with
# synchronous_commit=off, Redis without persistence.  The baselines use the
# same servers, so ratios compare like with like; with synchronous_commit
# on, every write waits for a WAL flush and all ratios move towards 1.
#
# ACP_BENCH_W1_ONLY=1 leaves out --scale: only the W1 table (and the call
# overhead), every backend in one run, in a few minutes.
set -euo pipefail

build=${1:-./build-bench}
if [ $# -gt 0 ]; then shift; fi
bench="$build/bench/acp-storage-bench"
if [ ! -x "$bench" ]; then
  src=$(cd "$(dirname "$0")/.." && pwd)
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 >/dev/null
fi
export ACP_STORAGE_PLUGIN_PATH
ACP_STORAGE_PLUGIN_PATH=$(cd "$build/plugins" && pwd)

# The machine's PG* settings must not reach the throwaway server.
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)

tmp=$(mktemp -d /tmp/acp-bench-srv-XXXXXX)
chmod 0755 "$tmp" # the postgres user must reach its directory inside
pg_bin=""
pg_started=0
redis_pid=""
cleanup() {
  if [ "$pg_started" = 1 ]; then
    as_pg "$pg_bin/pg_ctl" -D "$tmp/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

stores=(--store memory: --store 'sqlite:{dir}/b.db' --store 'file:{dir}/store?sync=none')

for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  if [ -x "$d/initdb" ]; then pg_bin=$d; break; fi
done
if [ -n "$pg_bin" ]; then
  mkdir -p "$tmp/pg"
  [ "$(id -u)" = 0 ] && chown postgres: "$tmp/pg"
  if ! as_pg "$pg_bin/initdb" -D "$tmp/pg/data" -U postgres -A trust -E UTF8 --locale=C \
      >"$tmp/pg/initdb.log" 2>&1; then
    echo "reproduce.sh: initdb failed:" >&2
    cat "$tmp/pg/initdb.log" >&2
    exit 1
  fi
  echo "synchronous_commit = off" >>"$tmp/pg/data/postgresql.conf"
  pg_port=$(free_port)
  if ! as_pg "$pg_bin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 60 \
      -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$tmp/pg" \
      start >/dev/null; then
    echo "reproduce.sh: the PostgreSQL server did not start:" >&2
    cat "$tmp/pg/server.log" >&2
    exit 1
  fi
  pg_started=1
  stores+=(--store "postgres://postgres@127.0.0.1:$pg_port/postgres")
  echo "reproduce.sh: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port" >&2
else
  echo "reproduce.sh: no PostgreSQL server programs (apt-get install postgresql-15): skipping postgres" >&2
fi

if command -v redis-server >/dev/null; then
  redis_port=$(free_port)
  mkdir -p "$tmp/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save '' \
    --appendonly no --daemonize yes --pidfile "$tmp/redis/redis.pid" \
    --logfile "$tmp/redis/redis.log"
  for _ in $(seq 50); do
    [ -s "$tmp/redis/redis.pid" ] && break
    sleep 0.1
  done
  redis_pid=$(cat "$tmp/redis/redis.pid")
  stores+=(--store "redis://127.0.0.1:$redis_port/0")
  echo "reproduce.sh: $(redis-server --version | awk '{print $1, $2, $3}') on 127.0.0.1:$redis_port" >&2
else
  echo "reproduce.sh: no redis-server (apt-get install redis-server): skipping redis" >&2
fi

scale=(--scale)
if [ "${ACP_BENCH_W1_ONLY:-0}" = 1 ]; then scale=(); fi
"$bench" "${stores[@]}" "${scale[@]}" --json bench-results.json "$@" | tee bench-results.txt
