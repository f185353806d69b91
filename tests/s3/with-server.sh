#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# with-server.sh STATE_DIR PROGRAM [ARGS...]
# Run PROGRAM against the server s3-server.sh started in STATE_DIR:
#   - ACP_S3_ENDPOINT is its endpoint (http://127.0.0.1:PORT) and
#     ACP_S3_STATE the state folder (tests restart the server through it);
#   - ACP_S3_URI is "s3://acp-test/PREFIX?endpoint=...&access_key_id=S3RVER&
#     secret_access_key=S3RVER" without a prefix: "@ACP_S3_URI@" in ARGS is
#     replaced by it;
#   - ACP_TEST_STORE (for the conformance program) is the same with the
#     prefix {dir}: the conformance library replaces it by a fresh
#     temporary path per check, so every check starts with an empty prefix.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 STATE_DIR PROGRAM [ARGS...]" >&2; exit 2; }
state=$1
shift
if [ ! -s "$state/endpoint" ]; then
  echo "with-server.sh: no endpoint in $state/endpoint (did s3_server_start run?)" >&2
  exit 1
fi
ACP_S3_STATE=$(cd "$state" && pwd)
ACP_S3_ENDPOINT=$(cat "$state/endpoint")
ACP_S3_URI="s3://acp-test?endpoint=$ACP_S3_ENDPOINT&access_key_id=S3RVER&secret_access_key=S3RVER"
ACP_TEST_STORE="s3://acp-test{dir}?endpoint=$ACP_S3_ENDPOINT&access_key_id=S3RVER&secret_access_key=S3RVER"
export ACP_S3_STATE ACP_S3_ENDPOINT ACP_S3_URI ACP_TEST_STORE
args=()
for a in "$@"; do
  args+=("${a//@ACP_S3_URI@/$ACP_S3_URI}")
done
exec "${args[@]}"
