#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-procs.sh PROGRAM BACKEND TOTAL: procs.sh on a fresh file or sqlite
# store in a temporary folder (removed afterwards).
set -euo pipefail
dir=$(mktemp -d /tmp/acp-follow-procs-XXXXXX)
trap 'rm -rf "$dir"' EXIT
case $2 in
  file) uri="file://$dir/store?sync=none" ;;
  # Writer processes take turns at SQLite's one write lock; this test is
  # about every event reaching every follower once, not about waits, and a
  # turn came later than the 5 s default under ASan on a loaded machine.
  sqlite) uri="sqlite://$dir/store.db?busy_timeout=60000" ;;
  *) echo "run-procs.sh: unknown backend $2" >&2; exit 2 ;;
esac
"$(dirname "$0")/procs.sh" "$1" "$uri" "$3"
