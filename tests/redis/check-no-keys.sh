#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-no-keys.sh STATE_DIR
# After the redis tests and the conformance suite ran against the server of
# STATE_DIR: the backend never used KEYS (it blocks the server), and the
# server really served the suite (scripts ran), so the check can fail.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
port=$(cat "$1/port")
stats=$(redis-cli -h 127.0.0.1 -p "$port" INFO commandstats | tr -d '\r')
echo "$stats"
if ! grep -q '^cmdstat_evalsha:' <<<"$stats"; then
  echo "check-no-keys.sh: no EVALSHA was counted: the suite did not run against this server" >&2
  exit 1
fi
if grep -q '^cmdstat_keys:' <<<"$stats"; then
  echo "check-no-keys.sh: the KEYS command was used" >&2
  exit 1
fi
echo "no KEYS command was used"
