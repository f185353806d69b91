#!/bin/sh
# SPDX-License-Identifier: MIT
# acp-storage verify: what it prints and its exit status, on the damaged
# fixture stores (their own verify and the core's walk), on clean memory
# and sqlite stores, on a sqlite store damaged behind the library's back,
# and bounded input (run save /dev/zero fails cleanly).
# Usage: verify_cli.sh ACP_STORAGE FIXTURE_DIR PYTHON3 [SQLITE3]
set -u
A=$1
FIX=$2
PY=$3
SQLITE=${4:-}
export ACP_STORAGE_PLUGIN_PATH="$ACP_STORAGE_PLUGIN_PATH:$FIX"
unset ACP_STORAGE_URL
T=$(mktemp -d /tmp/acp-verify-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# expect STATUS NAME COMMAND...: run, keep stdout in $T/out and stderr in $T/err.
expect() {
    want=$1 name=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "$name: exit $got, want $want; stdout: $(head -c 600 "$T/out"); stderr: $(cat "$T/err")"
}

has() { # has NAME FILE TEXT
    grep -qF -- "$3" "$2" || fail "$1: no '$3' in: $(head -c 800 "$2")"
}

expect 1 "native verify" "$A" --store damaged_native: verify
has "native verify" "$T/out" "damaged run 'r-mismatch'"
has "native verify" "$T/out" "damaged event 3 of run 'r-good' at events/r-good.log record 3: checksum mismatch"
has "native verify" "$T/out" "damaged other at runs/.tmp-1"
has "native verify" "$T/out" "6 damaged, 0 moved aside"
has "native verify" "$T/err" "CORRUPT"
[ "$(grep -c '^damaged ' "$T/out")" -eq 6 ] || fail "native verify: not 6 damage lines"

expect 1 "quarantine" "$A" --store damaged_native: verify --quarantine
has "quarantine" "$T/out" "(moved to quarantine/r-good.log.3)"
has "quarantine" "$T/out" "6 damaged, 1 moved aside"

expect 1 "generic verify" "$A" --store damaged_generic: verify --json
"$PY" - "$T/out" <<'PYEOF' || fail "generic verify --json: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["ok"] is False and d["status"] == "CORRUPT", d
assert d["damaged_count"] == 5 == len(d["damaged"]), d
assert d["checked"] == {"runs": 3, "sessions": 2, "events": 3}, d["checked"]
keys = sorted((x["kind"], x["key"], x["seq"]) for x in d["damaged"])
assert keys == [("event", "r-good", 2), ("event", "r-good", 3), ("run", "r-broken", 0),
                ("run", "r-mismatch", 0), ("session", "s-bad", 0)], keys
PYEOF

expect 0 "clean memory" "$A" --store memory: verify
has "clean memory" "$T/out" "no damage"
expect 0 "clean memory json" "$A" --store memory: verify --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is True and d["damaged"]==[]' "$T/out" ||
    fail "clean memory --json: $(cat "$T/out")"

expect 2 "extra argument" "$A" --store memory: verify extra
expect 2 "unknown option" "$A" --store memory: verify --fix

S="sqlite:$T/v.db"
for i in 1 2 3; do
    expect 0 "save r$i" "$A" --store "$S" run save --agent a --status created
done
printf '{"run_id":"r1","agent_name":"a","status":"created"}' >"$T/r1.json"
expect 0 "save r1" "$A" --store "$S" run save "$T/r1.json"
expect 0 "event" "$A" --store "$S" event add r1 --type run.created
expect 0 "session" "$A" --store "$S" session save --id s1
expect 0 "clean sqlite" "$A" --store "$S" verify
has "clean sqlite" "$T/out" "checked 4 runs, 1 sessions, 1 events"
if [ -n "$SQLITE" ]; then
    # Another program changes a stored document: the next verify sees it.
    "$SQLITE" "$T/v.db" "UPDATE runs SET doc = '{\"run_id\":\"other\",\"agent_name\":\"a\",\"status\":\"created\"}' WHERE run_id = 'r1'" ||
        fail "sqlite3 update"
    expect 1 "damaged sqlite" "$A" --store "$S" verify
    has "damaged sqlite" "$T/out" "r1"
fi

# Bounded input: an endless document is refused at the limit, not read
# until memory runs out (ulimit -v makes an unbounded read fail loudly;
# sanitizer builds reserve terabytes of shadow memory, so there the exit
# status and message alone show the bound).
vlimit="ulimit -v 400000;"
[ -n "${ACP_CI_SANITIZED:-}" ] && vlimit=""
expect 4 "run save /dev/zero" sh -c "$vlimit exec \"$A\" --store memory: run save /dev/zero"
has "run save /dev/zero" "$T/err" "16777216"
head -c 2000 /dev/zero | tr '\0' ' ' >"$T/small"
printf '{"run_id":"big","agent_name":"a","status":"created","x":"%0300d"}' 0 >>"$T/small"
expect 4 "stdin over a small limit" sh -c "exec \"$A\" --store 'memory:?max_document_bytes=256' run save - <\"$T/small\""
has "stdin over a small limit" "$T/err" "256"
expect 0 "stdin under the default" sh -c "exec \"$A\" --store memory: run save - <\"$T/small\""

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "verify_cli: all passed"
