#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# with-server.sh STATE_DIR PROGRAM [ARGS...]
# Run PROGRAM against the server pg-server.sh started in STATE_DIR:
#   - ACP_PG_URI is the server's URI (postgres://postgres@127.0.0.1:PORT/acp),
#     and "@ACP_PG_URI@" in ARGS is replaced by it;
#   - ACP_TEST_STORE (for the conformance program) is "$ACP_PG_URI?schema={dir}":
#     the conformance library replaces {dir} by a fresh temporary path per
#     check, and the postgres backend maps any schema= text to a schema of
#     its own ("acp_" + a hash), so every check starts with an empty store.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 STATE_DIR PROGRAM [ARGS...]" >&2; exit 2; }
state=$1
shift
# The machine's PG* settings must not change what the tests connect to.
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)
if [ ! -s "$state/uri" ]; then
  echo "with-server.sh: no server URI in $state/uri (did postgres_server_start run?)" >&2
  exit 1
fi
ACP_PG_URI=$(cat "$state/uri")
ACP_TEST_STORE="$ACP_PG_URI?schema={dir}"
export ACP_PG_URI ACP_TEST_STORE
args=()
for a in "$@"; do
  args+=("${a//@ACP_PG_URI@/$ACP_PG_URI}")
done
exec "${args[@]}"
