#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sample_dump.sh SESSIONS RUNS MOD BIG
# Print a dump (docs/dump-format.md) for the tests of tests/copy: SESSIONS
# sessions; RUNS runs r1..rRUNS, run r having r % MOD events; then, when BIG
# is above 0, a run "big" with BIG events.
set -euo pipefail
sessions=$1 runs=$2 mod=$3 big=$4
echo "{\"acp_storage_dump\":1,\"source\":\"test\",\"counts\":{\"sessions\":$sessions,\"runs\":$((runs + (big > 0)))}}"
for s in $(seq 1 "$sessions"); do echo "{\"session\":\"s$s\",\"doc\":{\"id\":\"s$s\",\"state\":$s}}"; done
ev=0
for r in $(seq 1 "$runs"); do
  echo "{\"run\":\"r$r\",\"created_us\":$((1700000000000000 + r)),\"doc\":{\"run_id\":\"r$r\",\"agent_name\":\"a$((r % 3))\",\"status\":\"completed\"}}"
  for e in $(seq 1 $((r % mod))); do
    echo "{\"seq\":$e,\"stored_us\":$((1700000000000000 + r * 100 + e)),\"doc\":{\"type\":\"message.part\",\"n\":$e}}"
    ev=$((ev + 1))
  done
done
if [ "$big" -gt 0 ]; then
  echo '{"run":"big","created_us":1600000000000000,"doc":{"run_id":"big","agent_name":"x","status":"created"}}'
  for e in $(seq 1 "$big"); do
    echo "{\"seq\":$e,\"stored_us\":$((1600000000000000 + e)),\"doc\":{\"type\":\"message.part\",\"n\":$e}}"
  done
fi
echo "{\"end\":{\"sessions\":$sessions,\"runs\":$((runs + (big > 0))),\"events\":$((ev + big))}}"
