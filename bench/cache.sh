#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/cache.sh [BUILD_DIR [ARGS...]]
# The cache backend's figures (docs/performance.md, "The cache backend"):
# acp-storage-bench-cache on a throwaway Redis (the front) and a throwaway
# PostgreSQL (the back), both on 127.0.0.1 and removed at the end, started
# with the tests' scripts (Redis without persistence; PostgreSQL with its
# stock durable settings, as a deployment runs it: ACP_PG_DURABLE=0 gives
# the tests' server with fsync and synchronous_commit off instead).
# BUILD_DIR (default ./build-bench) is
# configured and built as a release build if needed; ARGS go to the program
# (--runs N --events E --repeats R).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-./build-bench}
if [ $# -gt 0 ]; then shift; fi
prog="$build/bench/acp-storage-bench-cache"
if [ ! -x "$prog" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACP_STORAGE_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j2 --target acp-storage-bench-cache acp_storage_plugin_cache \
    acp_storage_plugin_redis acp_storage_plugin_postgres >/dev/null
fi
export ACP_STORAGE_PLUGIN_PATH
ACP_STORAGE_PLUGIN_PATH=$(cd "$build/plugins" && pwd)
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)
export ACP_PG_DURABLE=${ACP_PG_DURABLE:-1}
state=$(mktemp -d /tmp/acp-bench-cache-XXXXXX)
cleanup() {
  "$src/tests/redis/redis-server.sh" stop "$state/redis" >/dev/null 2>&1 || true
  "$src/tests/postgres/pg-server.sh" stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
"$src/tests/redis/redis-server.sh" start "$state/redis" >/dev/null
"$src/tests/postgres/pg-server.sh" start "$state/pg" >/dev/null
redis=$(cat "$state/redis/uri")
pg=$(cat "$state/pg/uri")
. "$src/tests/cache/pct.sh"
front="$redis?prefix={id}:"
back="$pg?schema={id}"
echo "front: $front"
echo "back:  $back"
if [ "$ACP_PG_DURABLE" = 1 ]; then echo "back durability: stock (fsync, synchronous_commit on)"; else echo "back durability: off (fsync, synchronous_commit off)"; fi
"$prog" --front "$front" --back "$back" \
  --cache "cache:?front=$(pct_encode "$front")&back=$(pct_encode "$back")" "$@"
