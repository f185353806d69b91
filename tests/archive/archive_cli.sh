#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# archive_cli.sh ACP_STORAGE - `acp-storage archive` on an archive store over
# sqlite (hot) and file (cold): --limit, --json, what stays where, and the
# refusal of a store without tiers.
set -euo pipefail
cli=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/acp-archive-cli-XXXXXX")
trap 'rm -rf "$dir"' EXIT
store="archive:?hot=sqlite%3A$dir%2Fhot.db&cold=file%3A$dir%2Fcold&after=0"
fail() { echo "archive_cli: $*" >&2; exit 1; }
for i in 1 2 3 4 5; do
  "$cli" --store "$store" run save --agent a --status completed >/dev/null
done
active=$("$cli" --store "$store" run save --agent a --status in-progress)
out=$("$cli" --store "$store" archive --limit 2 --json)
[ "$out" = '{"schema":1,"archived":2,"stopped":false}' ] || fail "--limit 2 --json: $out"
out=$("$cli" --store "$store" archive)
[ "$out" = "archived 3 runs" ] || fail "the rest: $out"
out=$("$cli" --store "$store" archive)
[ "$out" = "archived 0 runs" ] || fail "nothing left: $out"
[ "$("$cli" --store "$store" run list --limit 100 --format lines | wc -l)" = 6 ] ||
  fail "the archive store lists 6 runs"
[ "$("$cli" --store "sqlite:$dir/hot.db" run list --limit 100 --format lines | wc -l)" = 1 ] ||
  fail "the hot tier keeps the active run only"
"$cli" --store "sqlite:$dir/hot.db" run get "$active" >/dev/null || fail "the active run is hot"
[ "$("$cli" --store "file:$dir/cold" run list --limit 100 --format lines | wc -l)" = 5 ] ||
  fail "the cold tier has the five finished runs"
if "$cli" --store memory: archive 2>"$dir/err"; then fail "memory: has no tiers"; fi
grep -q UNSUPPORTED "$dir/err" || fail "memory: $(cat "$dir/err")"
echo "archive_cli: ok"
