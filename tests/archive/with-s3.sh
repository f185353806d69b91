#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# with-s3.sh STATE_DIR HOT OPTIONS PROGRAM [ARGS...]
# Run PROGRAM with ACP_TEST_STORE naming an archive whose cold tier is the
# S3 server tests/s3/s3-server.sh started in STATE_DIR (one prefix per
# check: {dir}) and whose hot tier is HOT (percent-encoded, may hold
# {dir}), with OPTIONS appended ("after=0&auto=1").  ACP_ARCHIVE_COLD is the
# cold URI without a prefix, "@ACP_ARCHIVE_COLD@" in ARGS is replaced by it.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 STATE_DIR HOT OPTIONS PROGRAM [ARGS...]" >&2; exit 2; }
state=$1 hot=$2 opts=$3
shift 3
if [ ! -s "$state/endpoint" ]; then
  echo "with-s3.sh: no endpoint in $state/endpoint (did s3_server_start run?)" >&2
  exit 1
fi
endpoint=$(cat "$state/endpoint")
enc_endpoint=${endpoint//:/%3A}
enc_endpoint=${enc_endpoint//\//%2F}
creds="access_key_id%3DS3RVER%26secret_access_key%3DS3RVER"
ACP_ARCHIVE_COLD="s3://acp-test?endpoint=$endpoint&access_key_id=S3RVER&secret_access_key=S3RVER"
ACP_TEST_STORE="archive:?hot=$hot&cold=s3%3A%2F%2Facp-test{dir}%3Fendpoint%3D$enc_endpoint%26$creds&$opts"
export ACP_ARCHIVE_COLD ACP_TEST_STORE
args=()
for a in "$@"; do
  args+=("${a//@ACP_ARCHIVE_COLD@/$ACP_ARCHIVE_COLD}")
done
exec "${args[@]}"
