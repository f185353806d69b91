#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# servers.sh start|stop STATE_DIR
# One throwaway Redis (the front) and one PostgreSQL (the back) for the
# cache's tests, with the scripts of tests/redis and tests/postgres, in
# STATE_DIR/redis and STATE_DIR/pg.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")
mkdir -p "$2"
case "$1" in
start)
  "$tests/redis/redis-server.sh" start "$2/redis"
  "$tests/postgres/pg-server.sh" start "$2/pg"
  ;;
stop)
  "$tests/redis/redis-server.sh" stop "$2/redis" || true
  "$tests/postgres/pg-server.sh" stop "$2/pg" || true
  ;;
*) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
