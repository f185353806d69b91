#!/bin/sh
# SPDX-License-Identifier: MIT
# ops_cli.sh BIN PYTHON - acp-storage run list --status/--since/--until,
# purge and stats against memory-less stores (sqlite: the backend's own
# methods; file: its own filtered lists, the core's walk for purge and
# stats; the UNSUPPORTED answer of older plugins is in test_ops.c).
set -u
BIN=$1 PY=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-ops-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export HOME="$T"
unset ACP_STORAGE_URL XDG_DATA_HOME
fails=0

ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; echo "#   out: $(head -c 400 "$T/out")"; echo "#   err: $(head -c 400 "$T/err")"; fails=$((fails + 1)); }
run() { "$BIN" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
expect() { # expect DESCRIPTION RC [PYTHON-EXPR on d = json of stdout]
    if [ "$rc" != "$2" ]; then bad "$1 (exit $rc, expected $2)"; return; fi
    if [ $# -ge 3 ] && ! "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$T/out"; then
        bad "$1 ($3)"; return
    fi
    ok "$1"
}

# 9 runs: run-N created 2026-01-0N, statuses cycling completed, failed,
# in-progress; agents a0/a1; the final ones finished the same day.
save_runs() {
    for i in 1 2 3 4 5 6 7 8 9; do
        case $((i % 3)) in 0) s=completed ;; 1) s=failed ;; *) s=in-progress ;; esac
        fin=""
        [ "$s" != in-progress ] && fin=",\"finished_at\":\"2026-01-0${i}T12:00:00Z\""
        printf '{"run_id":"run-%s","agent_name":"a%s","status":"%s","created_at":"2026-01-0%sT00:00:00Z"%s}\n' \
            "$i" $((i % 2)) "$s" "$i" "$fin" >"$T/doc"
        "$BIN" --store "$1" run save "$T/doc" >/dev/null || { bad "save run-$i in $1"; return 1; }
        "$BIN" --store "$1" event add "run-$i" --type x >/dev/null 2>&1 || true
    done
}

S="sqlite:$T/s.db"
save_runs "$S"

run --store "$S" --json run list --status completed,failed --since 2026-01-03 --until 2026-01-08T00:00:00Z --total
expect "run list by statuses and a time range" 0 \
    "[r['run_id'] for r in d['runs']] == ['run-7','run-6','run-4','run-3'] and d['total'] == 4"
run --store "$S" --json run list --status in-progress --limit 2 --total
expect "run list by one status, a page with the total" 0 \
    "[r['run_id'] for r in d['runs']] == ['run-8','run-5'] and d['total'] == 3 and d['next_cursor']"
cur=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['next_cursor'])" "$T/out")
run --store "$S" --json run list --status in-progress --limit 2 --cursor "$cur"
expect "the cursor goes on under the filter" 0 "[r['run_id'] for r in d['runs']] == ['run-2']"
run --store "$S" --json run list --until 3650d
expect "an age as --until (ten years ago: nothing)" 0 "d['runs'] == []"
run --store "$S" run list --status done
expect "an unknown status is a usage error, as for run save (man page: --status sleeping)" 2
run --store "$S" purge --finished-before 1d --status completed,sleeping
expect "purge: an unknown status is a usage error" 2
run --store "$S" purge --finished-before 1d --status completed,
expect "purge: an empty status is a usage error" 2
run --store "$S" run list --since tomorrow
expect "an unreadable time is a usage error" 2

run --store "$S" --json stats
expect "stats from the sqlite counters" 0 \
    "d['runs'] == 9 and d['runs_by_status'] == {'completed':3,'failed':3,'in-progress':3} and d['runs_by_agent'] == {'a0':4,'a1':5} and not d['scanned'] and d['schema_version'] == 5 and d['bytes'] > 0 and d['plugin_abi']"

run --store "$S" purge --status completed --finished-before 2026-01-06T13:00:00Z
expect "purge needs no --json" 0
grep -q "purged 2 runs" "$T/out" && ok "purge reports its count" || bad "purge reports its count"
run --store "$S" --json purge --finished-before 30d --dry-run
expect "a dry run counts the default statuses" 0 "d['purged'] == 4 and d['dry_run'] and not d['stopped']"
run --store "$S" --json purge --finished-before 30d --agent a1 --batch 1
expect "purge of one agent in batches of one" 0 "d['purged'] == 3"
run --store "$S" --json stats
expect "what is left" 0 "d['runs'] == 4 and d['runs_by_status'] == {'failed':1,'in-progress':3} and d['events'] == 4"
run --store "$S" --json purge --finished-before 1000000000s --dry-run
expect "an age of 10 digits (31 years) is an age" 0 "d['purged'] == 0"
run --store "$S" purge --finished-before 5300w
expect "an age over 100 years is a usage error" 2
grep -q "at most 100 years" "$T/err" && ok "which says the limit" || bad "which says the limit"
run --store "$S" purge --finished-before 30x
expect "an age with an unknown unit is a usage error" 2
run --store "$S" purge --status completed
expect "purge without --finished-before is a usage error" 2
run --store "$S" purge --finished-before 30d --batch 0
expect "a batch of 0 is a usage error" 2

F="file:$T/f"
save_runs "$F"
run --store "$F" --json run list --status completed,failed --since 2026-01-03 --until 2026-01-08T00:00:00Z --total
expect "file: run list by statuses and a time range" 0 \
    "[r['run_id'] for r in d['runs']] == ['run-7','run-6','run-4','run-3'] and d['total'] == 4"
run --store "$F" --json run list --status in-progress --limit 2 --total
expect "file: run list by one status, a page with the total" 0 \
    "[r['run_id'] for r in d['runs']] == ['run-8','run-5'] and d['total'] == 3 and d['next_cursor']"
cur=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['next_cursor'])" "$T/out")
run --store "$F" --json run list --status in-progress --limit 2 --cursor "$cur"
expect "file: the cursor goes on under the filter" 0 "[r['run_id'] for r in d['runs']] == ['run-2']"
run --store "$F" --json run list --status failed --agent a1 --total
expect "file: a status and an agent" 0 "[r['run_id'] for r in d['runs']] == ['run-7','run-1'] and d['total'] == 2"
run --store "$F" --json stats
expect "file: stats from its index" 0 "not d['scanned'] and d['runs'] == 9 and d['events'] == 9 and d['runs_by_status']['failed'] == 3 and d['schema_version'] == 3 and d['bytes'] > 0"
run --store "$F" --json stats
expect "file: statuses and agents in order, as every backend gives them" 0 \
    "list(d['runs_by_status']) == sorted(d['runs_by_status']) and list(d['runs_by_agent']) == ['a0','a1']"
run --store "$F" --json purge --finished-before 2026-01-05
expect "file: purge by walking" 0 "d['purged'] == 3"
run --store "$F" --json stats
expect "file: what is left" 0 "d['runs'] == 6 and d['events'] == 6"

# The help says what migrate does on each backend (redis has layouts).
run help migrate
expect "help migrate" 0
grep -q "redis keep no versioned schema" "$T/out" && bad "help migrate: redis has layouts (docs/migrations.md)" || ok "help migrate: redis has layouts"
grep -q "redis" "$T/out" && ok "help migrate names redis" || bad "help migrate names redis"

# A purge that fails half-way says how many runs it purged, inside its one
# error (a JSON object with --json, nothing else on stderr).
F2="file:$T/f2"
save_runs "$F2"
rm "$T/f2/runs/run-3.json" && mkdir "$T/f2/runs/run-3.json"
run --store "$F2" --json purge --finished-before 2026-02-01 --batch 2
expect "a purge stopped by a damaged run fails" 1
if "$PY" -c "
import json,sys
lines=open(sys.argv[1]).read().splitlines()
ok=len(lines)==1 and '4 runs were purged before the failure' in json.loads(lines[0])['error']['message']
sys.exit(0 if ok else 1)" "$T/err"; then ok "with the count in its one JSON error"; else bad "with the count in its one JSON error"; fi
run --store "$F2" purge --finished-before 2026-02-01 --batch 2
[ "$(wc -l <"$T/err")" = 1 ] && grep -q "^acp-storage: CORRUPT: " "$T/err" && ok "plain: one error line" || bad "plain: one error line"
[ "$fails" -eq 0 ]
