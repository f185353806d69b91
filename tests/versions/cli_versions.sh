#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_versions.sh BIN PYTHON URI: the version bits of the acp-storage
# command against store URI ("{dir}" becomes a temporary directory):
# run save --if-version / --if-absent (exit 7 on a conflict), the version
# in run get --json, run list --json ("versions") and the table column,
# and documents printed exactly as stored.
set -u
BIN=$1 PY=$2 URI=$3
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-cli-versions.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
S=(--store "${URI//\{dir\}/$T}")
fails=0
ok()   { echo "ok - $1"; }
bad()  { echo "not ok - $1"; fails=$((fails + 1)); }
expect() { # expect DESCRIPTION WANTED_EXIT ARGS...: run, compare the exit status
  local what=$1 want=$2; shift 2
  "$BIN" "${S[@]}" "$@" >"$T/out" 2>"$T/err"; rc=$?
  if [ "$rc" = "$want" ]; then ok "$what"; else
    bad "$what (exit $rc, wanted $want)"; sed 's/^/#   /' "$T/out" "$T/err"; fi
}
py() { "$PY" -c "$1" "$T/out"; }
version_of_get() { py 'import json,sys; print(json.load(open(sys.argv[1]))["version"])'; }

DOC='{"run_id":"r1","agent_name":"a","status":"created","n":1}'
printf '%s\n' "$DOC" >"$T/r1.json"

expect "if-absent creates the run" 0 --json run save "$T/r1.json" --if-absent
v1=$(py 'import json,sys; d=json.load(open(sys.argv[1])); assert d["run_id"]=="r1"; print(d["version"])') \
  && [ "$v1" -gt 0 ] && ok "save --json reports version $v1" || bad "save --json reports a version"
expect "if-absent again is a conflict" 7 run save "$T/r1.json" --if-absent
grep -q "expected not to exist" "$T/err" && grep -q "$v1" "$T/err" \
  && ok "the conflict names the version" || bad "the conflict names the version"
expect "get --json" 0 --json run get r1
[ "$(version_of_get)" = "$v1" ] && ok "get --json reports version $v1" || bad "get --json version"
py 'import json,sys; d=json.load(open(sys.argv[1])); assert d["run"]=={"run_id":"r1","agent_name":"a","status":"created","n":1}' \
  && ok "get --json keeps the document apart" || bad "get --json document"
expect "plain get" 0 run get r1
[ "$(cat "$T/out")" = "$DOC" ] && ok "plain get prints the stored bytes" || bad "plain get bytes"
expect "if-version with the current version" 0 run save "$T/r1.json" --if-version "$v1"
expect "if-version with the old version" 7 run save "$T/r1.json" --if-version "$v1"
expect "get after" 0 --json run get r1
v2=$(version_of_get)
[ "$v2" -gt "$v1" ] && ok "the version grew ($v1 -> $v2)" || bad "the version grew"
expect "list --json" 0 --json run list
py "import json,sys; d=json.load(open(sys.argv[1])); assert d['versions']==[$v2] and d['runs'][0]['n']==1" \
  && ok "list --json has versions beside runs" || bad "list --json versions"
expect "list table" 0 run list --format table
head -1 "$T/out" | grep -q 'VERSION$' && grep -q " $v2\$" "$T/out" \
  && ok "the table has a VERSION column" || bad "table VERSION column"
expect "list lines" 0 run list --format lines
[ "$(cat "$T/out")" = "$DOC" ] && ok "JSON lines are the stored documents" || bad "lines"
expect "if-version 0 is a usage error" 2 run save "$T/r1.json" --if-version 0
expect "both conditions are a usage error" 2 run save "$T/r1.json" --if-version 3 --if-absent
printf '%s\n' '{"run_id":"r2","agent_name":"a","status":"created"}' >"$T/r2.json"
expect "if-version on a missing run" 7 run save "$T/r2.json" --if-version 3
grep -q "does not exist" "$T/err" && ok "the conflict says the run does not exist" \
  || bad "the conflict says the run does not exist"
expect "nothing was stored" 3 run get r2

[ "$fails" = 0 ]
