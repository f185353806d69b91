#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# archive_cli.sh ACP_STORAGE [--servers PG_STATE S3_STATE]
# `acp-storage archive` on an archive store: --limit, --json, what stays
# where (each tier read on its own), the events of a moved run, and the
# refusal of a store without tiers.  Tiers: sqlite (hot) and file (cold) in
# a temporary folder; with --servers, the seed's durable deployment:
# postgres hot (a fresh schema on the server tests/postgres/pg-server.sh
# started in PG_STATE) and s3 cold (a fresh prefix on the server
# tests/s3/s3-server.sh started in S3_STATE).
set -euo pipefail
cli=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/acp-archive-cli-XXXXXX")
trap 'rm -rf "$dir"' EXIT
hot=sqlite:$dir/hot.db
cold=file:$dir/cold
if [ "${2:-}" = --servers ]; then
  tag="cli$$x$(date +%s)"
  hot="$(cat "$3/uri")?schema=arch_$tag"
  cold="s3://acp-test/$tag?endpoint=$(cat "$4/endpoint")&access_key_id=S3RVER&secret_access_key=S3RVER"
fi
# A child URI goes inside the archive's query: percent-encode it.
enc() {
  local s=${1//%/%25}
  s=${s//:/%3A}; s=${s//\//%2F}; s=${s//\?/%3F}; s=${s//&/%26}; s=${s//=/%3D}
  printf '%s' "$s"
}
store="archive:?hot=$(enc "$hot")&cold=$(enc "$cold")&after=0"
fail() { echo "archive_cli: $*" >&2; exit 1; }
lines() { "$cli" --store "$1" run list --limit 100 --format lines | wc -l; }
for i in 1 2 3 4 5; do
  "$cli" --store "$store" run save --agent a --status completed >/dev/null
done
active=$("$cli" --store "$store" run save --agent a --status in-progress)
done_run=$("$cli" --store "$store" run save --agent a --status completed)
for i in 1 2 3; do
  "$cli" --store "$store" event add "$done_run" "{\"type\":\"message.part\",\"n\":$i}" >/dev/null
done
out=$("$cli" --store "$store" archive --limit 2 --json)
[ "$out" = '{"schema":1,"archived":2,"stopped":false}' ] || fail "--limit 2 --json: $out"
out=$("$cli" --store "$store" archive)
[ "$out" = "archived 4 runs" ] || fail "the rest: $out"
out=$("$cli" --store "$store" archive)
[ "$out" = "archived 0 runs" ] || fail "nothing left: $out"
[ "$(lines "$store")" = 7 ] || fail "the archive store lists 7 runs"
[ "$(lines "$hot")" = 1 ] || fail "the hot tier keeps the active run only"
"$cli" --store "$hot" run get "$active" >/dev/null || fail "the active run is hot"
[ "$(lines "$cold")" = 6 ] || fail "the cold tier has the six finished runs"
# The moved run's events, read through the archive and from the cold tier.
for s in "$store" "$cold"; do
  ev=$("$cli" --store "$s" event list "$done_run" --format lines)
  [ "$(printf '%s\n' "$ev" | grep -c message.part)" = 3 ] || fail "events of $done_run in $s: $ev"
done
"$cli" --store "$store" run get "$done_run" >/dev/null || fail "the moved run reads through the archive"
if "$cli" --store memory: archive 2>"$dir/err"; then fail "memory: has no tiers"; fi
grep -q UNSUPPORTED "$dir/err" || fail "memory: $(cat "$dir/err")"
echo "archive_cli: ok (${hot%%\?*} -> ${cold%%\?*})"
