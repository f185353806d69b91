#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# with-server.sh STATE_DIR PROGRAM [ARGS...]
# Run PROGRAM against the server redis-server.sh started in STATE_DIR:
#   - ACP_REDIS_URI is the server's URI (redis://127.0.0.1:PORT/0), and
#     "@ACP_REDIS_URI@" in ARGS is replaced by it;
#   - ACP_TEST_STORE (for the conformance program) is
#     "$ACP_REDIS_URI?prefix={dir}:": the conformance library replaces {dir}
#     by a fresh temporary path per check, and any text is a valid key
#     prefix, so every check starts with an empty store.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 STATE_DIR PROGRAM [ARGS...]" >&2; exit 2; }
state=$1
shift
if [ ! -s "$state/uri" ]; then
  echo "with-server.sh: no server URI in $state/uri (did redis_server_start run?)" >&2
  exit 1
fi
ACP_REDIS_URI=$(cat "$state/uri")
ACP_TEST_STORE="$ACP_REDIS_URI?prefix={dir}:"
export ACP_REDIS_URI ACP_TEST_STORE
args=()
for a in "$@"; do
  args+=("${a//@ACP_REDIS_URI@/$ACP_REDIS_URI}")
done
exec "${args[@]}"
