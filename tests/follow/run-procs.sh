#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-procs.sh PROGRAM BACKEND TOTAL: procs.sh on a fresh file or sqlite
# store in a temporary folder (removed afterwards).
set -euo pipefail
dir=$(mktemp -d /tmp/acp-follow-procs-XXXXXX)
trap 'rm -rf "$dir"' EXIT
case $2 in
  file) uri="file://$dir/store?sync=none" ;;
  sqlite) uri="sqlite://$dir/store.db" ;;
  *) echo "run-procs.sh: unknown backend $2" >&2; exit 2 ;;
esac
"$(dirname "$0")/procs.sh" "$1" "$uri" "$3"
