#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# with-servers.sh STATE_DIR PROGRAM [ARGS...]
# Run PROGRAM against the servers servers.sh started in STATE_DIR:
#   - ACP_TEST_STORE (for the conformance program and acp-storage check) is
#     a cache with the Redis front under key prefix {dir}: and the
#     PostgreSQL back in schema {dir} (the conformance library replaces
#     {dir} per check), the child URIs percent-encoded;
#   - "@CACHE_URI@" in ARGS becomes the same cache with a prefix and schema
#     of this run's own, and "@ACP_TEST_STORE@" the template above.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 STATE_DIR PROGRAM [ARGS...]" >&2; exit 2; }
state=$1
shift
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)
for f in "$state/redis/uri" "$state/pg/uri"; do
  [ -s "$f" ] || { echo "with-servers.sh: no $f (did cache_servers_start run?)" >&2; exit 1; }
done
redis=$(cat "$state/redis/uri")
pg=$(cat "$state/pg/uri")

. "$(dirname "$0")/pct.sh"
cache_of() { # PREFIX_OR_DIR
  printf 'cache:?front=%s&back=%s' "$(pct_encode "$redis?prefix=$1:&command_timeout=2&connect_timeout=2")" \
    "$(pct_encode "$pg?schema=$1")"
}
ACP_TEST_STORE=$(cache_of '{dir}')
run_uri=$(cache_of "cache_$$_$RANDOM")
export ACP_TEST_STORE
# bash 5.2 would put the matched text for each & of the replacement.
shopt -u patsub_replacement 2>/dev/null || true
args=()
ACP_TEST_STORE_ARG=$ACP_TEST_STORE
for a in "$@"; do
  a=${a//@CACHE_URI@/$run_uri}
  args+=("${a//@ACP_TEST_STORE@/$ACP_TEST_STORE_ARG}")
done
exec "${args[@]}"
