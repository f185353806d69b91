#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_test.sh GROUP BIN PLUGINDIR FIXTUREDIR PYTHON
#
# Drives the built acp-storage command and checks its exit codes, stdout,
# stderr and --json output.  GROUP selects a set of cases (one CTest test
# each): usage, memory, sqlite, file, backends, check.  Output is TAP-like;
# the exit status is 0 when every case passed, 1 otherwise, and 77 (skipped)
# when the backend a group needs was not built.
set -u

group=$1 BIN=$2 PLUGINDIR=$3 FIXDIR=$4 PY=$5

T=$(mktemp -d "${TMPDIR:-/tmp}/acp-cli-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
# Never touch the real user's default store, whatever the environment.
mkdir -p "$T/home"
export HOME="$T/home"
unset XDG_DATA_HOME ACP_STORAGE_URL NO_COLOR

npass=0 nfail=0 name=""

# ---- running the command -------------------------------------------------

# run ARGS...: the command with stdin from /dev/null; sets rc, $T/out, $T/err.
run() { "$BIN" "$@" <"$T/null" >"$T/out" 2>"$T/err"; rc=$?; }
# run_in FILE ARGS...: the same with stdin from FILE.
run_in() { local in=$1; shift; "$BIN" "$@" <"$in" >"$T/out" 2>"$T/err"; rc=$?; }
: >"$T/null"

# ---- expectations ----------------------------------------------------------

t() { name=$1; }

check() { # check DESCRIPTION COMMAND...: one TAP line for the current case
  local what=$1; shift
  if "$@"; then
    npass=$((npass + 1)); echo "ok - $name: $what"
  else
    nfail=$((nfail + 1)); echo "not ok - $name: $what (exit $rc)"
    echo "#   stdout: $(head -c 600 "$T/out")"
    echo "#   stderr: $(head -c 600 "$T/err")"
  fi
}

rc_is()     { check "exit $1" test "$rc" = "$1"; }
out_has()   { check "stdout has '$1'" grep -qF -- "$1" "$T/out"; }
not()       { ! "$@"; }
out_lacks() { check "stdout lacks '$1'" not grep -qF -- "$1" "$T/out"; }
err_has()   { check "stderr has '$1'" grep -qF -- "$1" "$T/err"; }
err_lacks() { check "stderr lacks '$1'" not grep -qF -- "$1" "$T/err"; }
out_empty() { check "stdout empty" test ! -s "$T/out"; }
err_empty() { check "stderr empty" test ! -s "$T/err"; }
out_is()    { check "stdout is '$1'" test "$(cat "$T/out")" = "$1"; }
out_lines() { check "$1 lines on stdout" test "$(wc -l <"$T/out")" -eq "$1"; }

# json EXPR: stdout is one JSON document d for which the Python EXPR holds.
json() {
  check "json: $1" "$PY" -c '
import json, sys
d = json.loads(open(sys.argv[1], encoding="utf-8").read())
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/out" "$1" "$PLUGINDIR" "$FIXDIR" "$rc"
}
# lines EXPR: every line of stdout is a JSON document; L is their list.
lines() {
  check "json lines: $1" "$PY" -c '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/out" "$1"
}
# The run ids of the JSON lines on stdout, in order.
ids() { check "run ids are $1" test "$("$PY" -c '
import json, sys
print(" ".join(json.loads(l)["run_id"] for l in open(sys.argv[1]).read().splitlines()))' "$T/out")" = "$1"; }

# json_err_is STATUS: stderr is one JSON error object of that status.
json_err_is() {
  check "json error $1" "$PY" -c '
import json, sys
d = json.loads(open(sys.argv[1], encoding="utf-8").read())
sys.exit(0 if d["schema"] == 1 and d["error"]["status"] == sys.argv[2] else 1)' "$T/err" "$1"
}

need_plugin() { # skip the group when its backend was not built
  if [ ! -e "$PLUGINDIR/libacp_storage_$1.so" ]; then
    echo "SKIP: $PLUGINDIR/libacp_storage_$1.so is not built; the $group cases need it"
    exit 77
  fi
}

# ---- usage: the command line itself -------------------------------------

group_usage() {
  t "--help"; run --help
  rc_is 0; out_has "Usage: acp-storage"; out_has "Exit status"; out_has "run list"
  out_has "ACP_STORAGE_URL"; err_empty

  t "--version"; run --version
  rc_is 0; out_has "acp-storage 0.1.0"; out_has "library 0.1.0"; out_has "plugin ABI 1."
  err_empty
  t "--json --version"; run --json --version
  rc_is 0; json 'd["schema"] == 1 and d["tool"] == "0.1.0" and d["plugin_abi"].startswith("1.")'

  local c
  for c in backends ping check "run save" "run get" "run delete" "run list" "session save" \
           "session get" "session delete" "session list" "event add" "event list"; do
    t "$c --help"
    # shellcheck disable=SC2086 # split the command into its words
    run $c --help
    rc_is 0; out_has "Usage: acp-storage $c"; out_has "Exit status"; err_empty
  done
  t "help wins over a bad option"; run run list --bogus --help
  rc_is 0; out_has "--cursor"
  t "group help"; run run --help
  rc_is 0; out_has "save"; out_has "delete"; err_empty

  t "no command"; run
  rc_is 2; out_empty; err_has "no command given"; err_has "acp-storage help"
  t "unknown command"; run frobnicate
  rc_is 2; out_empty; err_has "unknown command 'frobnicate'"
  t "group without verb"; run run
  rc_is 2; err_has "save, get, delete, list"
  t "unknown verb"; run session frob
  rc_is 2; err_has "unknown command 'session frob'"
  t "unknown option"; run --store memory: run list --bogus
  rc_is 2; out_empty; err_has "unknown option '--bogus'"; err_has "acp-storage help run list"
  t "option of another command"; run --store memory: run get x --filter y
  rc_is 2; err_has "'--filter' does not apply"
  t "missing argument"; run --store memory: run get
  rc_is 2; err_has "missing argument"; err_has "run get RUN_ID"
  t "extra argument"; run --store memory: run get a b
  rc_is 2; err_has "unexpected argument 'b'"
  t "option without value"; run --store memory: run list --limit
  rc_is 2; err_has "'--limit' needs a value"
  t "non-integer limit"; run --store memory: run list --limit ten
  rc_is 2; err_has "needs an integer"
  t "option given twice"; run --store memory: run list --limit 1 --limit=2
  rc_is 2; err_has "given twice"
  t "flag with a value"; run --store memory: run list --all=yes
  rc_is 2; err_has "takes no value"
  t "run save without input"; run --store memory: run save
  rc_is 2; err_has "--agent NAME"
  t "run save with a file and flags"; run --store memory: run save x.json --agent a
  rc_is 2; err_has "not both"
  t "session save without input"; run --store memory: session save
  rc_is 2
  t "event add without event"; run --store memory: event add r1
  rc_is 2
  t "--text without --type"; run --store memory: event add r1 --text hi
  rc_is 2; err_has "--text needs --type"
  t "--text on a type it does not fit"; run --store memory: event add r1 --type generic --text hi
  rc_is 2; err_has "--text fits"
  t "check without a plugin"; run check
  rc_is 2

  # help COMMAND, and "did you mean".
  t "help"; run help
  rc_is 0; out_has "Usage: acp-storage"; out_has "help [COMMAND]"; err_empty
  t "help GROUP"; run help run
  rc_is 0; out_has "save"; out_has "list"; err_empty
  t "help GROUP VERB"; run help event list
  rc_is 0; out_has "Usage: acp-storage event list RUN_ID"; out_has "--format"; err_empty
  t "help of a command without verbs"; run help ping
  rc_is 0; out_has "Usage: acp-storage ping"
  t "help bench"; run help bench
  rc_is 0; out_has "acp-storage bench --help"
  t "bench after a global option"; run --json bench --frob
  rc_is 2; out_empty; err_lacks "did you mean 'bench'"; err_has "'bench' takes no global options"
  json_err_is USAGE
  # An empty name is a usage error (2) on every command and option alike.
  local e
  for e in "run list --agent" "run list --session" "run save --agent a --session" \
           "session list --after" "event add r1 --type" "session save --id" "run list --cursor" \
           "check memory --filter"; do
    t "$e '' is a usage error"
    # shellcheck disable=SC2086 # split the command into its words
    run --store memory: --json $e ''
    rc_is 2; json_err_is USAGE; err_has "needs a non-empty value"; err_lacks "_id"
  done
  t "--json: a failed write of the output is a JSON error"
  "$BIN" --store memory: --json run list <"$T/null" >/dev/full 2>"$T/err"; rc=$?
  rc_is 1; json_err_is IO; err_has "cannot write the output"
  t "ping shows the store as given, not the read-only option it adds"
  run --store memory: ping
  rc_is 0; out_has "ok: memory:"; out_lacks "create=false"
  t "help --help"; run help --help
  rc_is 0; out_has "Usage: acp-storage"; err_empty
  t "help run --help"; run help run -h
  rc_is 0; out_has "save"; err_empty
  t "help --json run"; run help --json run list
  rc_is 0; out_has "Usage: acp-storage run list"; err_empty
  t "help with an unknown option"; run help --frob
  rc_is 2; out_empty; err_has "not the option '--frob'"
  t "help of an unknown command"; run help rnu
  rc_is 2; out_empty; err_has "did you mean 'run'?"
  t "help of an unknown verb"; run help session lsit
  rc_is 2; err_has "did you mean 'session list'?"
  t "mistyped command"; run rnu list
  rc_is 2; err_has "unknown command 'rnu'; did you mean 'run'?"
  t "mistyped verb"; run --store memory: event lits r1
  rc_is 2; err_has "unknown command 'event lits'; did you mean 'event list'?"
  t "mistyped option"; run --store memory: run list --limt 3
  rc_is 2; err_has "unknown option '--limt'; did you mean '--limit'?"
  t "mistyped option with a value"; run --store memory: run list --agnet=x
  rc_is 2; err_has "unknown option '--agnet'; did you mean '--agent'?"
  t "nothing close"; run --store memory: run list --zzzzzz
  rc_is 2; err_has "unknown option '--zzzzzz'"; err_lacks "did you mean"

  # The same kind of mistake, the same exit status: every bad option value
  # is a usage error (2).
  local v
  for v in abc -1 1001 1.5 ""; do
    t "run list --limit '$v'"; run --store memory: run list --limit "$v"
    rc_is 2; out_empty; err_has "option '--limit' needs an integer from 0 to 1000"
  done
  t "negative offset"; run --store memory: run list --offset -1
  rc_is 2; err_has "needs an integer of at least 0"
  t "negative event --after"; run --store memory: event list r1 --after -5
  rc_is 2
  t "unknown --format"; run --store memory: run list --format tabel
  rc_is 2; err_has "did you mean 'table'?"
  t "--json and --format lines"; run --store memory: --json run list --format lines
  rc_is 2; err_has "disagree"
  t "bad --status"; run --store memory: run save --agent a --status sleeping
  rc_is 2; err_has "status 'sleeping' is not one of"; err_lacks "acp_"
  t "empty --agent"; run --store memory: run save --agent ''
  rc_is 2; err_has "option '--agent' needs a non-empty value"; err_lacks "acp_"
  t "--state that is not JSON"; run --store memory: session save --id s --state '{x'
  rc_is 2

  # --json: errors are JSON too, on stderr.
  t "--json usage error"; run --json --store memory: run list --limit x
  rc_is 2; out_empty
  check "stderr is one JSON error" "$PY" -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
e = d["error"]
sys.exit(0 if d["schema"] == 1 and e["status"] == "USAGE" and e["exit"] == 2 and "--limit" in e["message"] and "help run list" in e["hint"] else 1)' "$T/err"
  t "--json store error"; run --store memory: run get nope --json
  rc_is 3; out_empty
  check "stderr is one JSON error" "$PY" -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
sys.exit(0 if d["error"]["status"] == "NOT_FOUND" and d["error"]["exit"] == 3 else 1)' "$T/err"
  t "--format json errors"; run --store memory: run list --format json --cursor junk
  rc_is 4
  check "stderr is one JSON error" "$PY" -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
sys.exit(0 if d["error"]["status"] == "INVALID" and "acp_" not in d["error"]["message"] else 1)' "$T/err"
  t "--json unknown command"; run --json frob
  rc_is 2; err_has '"status":"USAGE"'

  # Where the store comes from, and the mistakes it is named in.
  t "a path for --store"; run --store /tmp/foo.db run get x
  rc_is 4; err_has "'/tmp/foo.db' is a path, not a store URI"; err_has "sqlite:///tmp/foo.db"
  t "a relative path for --store"; run --store data/acp.db run get x
  rc_is 4; err_has "sqlite:data/acp.db"
  t "a directory for --store"; run --store "$T/" run get x
  rc_is 4; err_has "file://$T/"
  t "bad ACP_STORAGE_URL is named"; ACP_STORAGE_URL='no scheme' run run list
  rc_is 4; err_has "ACP_STORAGE_URL: "
  t "ACP_STORAGE_URL with an unknown backend is named"; ACP_STORAGE_URL='nosuchbackend:' run run list
  rc_is 5; err_has "ACP_STORAGE_URL: "
  t "ACP_STORAGE_URL path is named"; ACP_STORAGE_URL=/var/x.db run run list
  rc_is 4; err_has "ACP_STORAGE_URL: '/var/x.db' is a path"
  t "rediss:// says TLS is not supported, and how"; run --store 'rediss://127.0.0.1:6380/0' ping
  rc_is 1; err_has "Redis over TLS is not supported"; err_has "redis://127.0.0.1:PORT"
}

# ---- memory: one invocation per case ------------------------------------

group_memory() {
  need_plugin memory
  local S=(--store memory:)

  t "ping"; run "${S[@]}" ping
  rc_is 0; out_has "ok: memory:"; out_has "(memory "; err_empty
  t "ping --json"; run "${S[@]}" --json ping
  rc_is 0; json 'd["schema"] == 1 and d["ok"] is True and d["backend"] == "memory" and "concurrent" in d["capabilities"]'
  t "--store after the command"; run ping --store memory:
  rc_is 0; out_has "ok: memory:"
  t "ACP_STORAGE_URL"; ACP_STORAGE_URL=memory: run ping
  rc_is 0; out_has "ok: memory:"
  t "--store wins over ACP_STORAGE_URL"; ACP_STORAGE_URL=nosuchbackend: run "${S[@]}" ping
  rc_is 0; out_has "ok: memory:"

  t "unknown run"; run "${S[@]}" run get nope
  rc_is 3; out_empty; err_has "acp-storage: NOT_FOUND: "
  t "unknown session"; run "${S[@]}" session get nope
  rc_is 3; err_has "acp-storage: NOT_FOUND: "
  t "delete unknown run"; run "${S[@]}" run delete nope
  rc_is 3
  t "delete unknown session"; run "${S[@]}" session delete nope
  rc_is 3

  t "run save from a file"
  printf '{"run_id":"r-1","agent_name":"a","status":"created","output":[]}\n' >"$T/r1.json"
  run "${S[@]}" run save "$T/r1.json"
  rc_is 0; out_is "r-1"; err_empty
  t "run save --json"; run "${S[@]}" --json run save "$T/r1.json"
  rc_is 0; json 'd["schema"] == 1 and d["run_id"] == "r-1" and d["version"] > 0'
  t "run save from stdin"; run_in "$T/r1.json" "${S[@]}" run save -
  rc_is 0; out_is "r-1"
  t "run save of a missing file"; run "${S[@]}" run save "$T/missing.json"
  rc_is 1; err_has "acp-storage: IO: "; err_has "missing.json"
  t "run save of an invalid run"
  printf '{"run_id":"r-2","status":"created"}' >"$T/bad.json"
  run "${S[@]}" run save "$T/bad.json"
  rc_is 4; out_empty; err_has "acp-storage: INVALID: "
  t "run save of text that is not JSON"; printf 'hello' >"$T/notjson"
  run "${S[@]}" run save "$T/notjson"
  rc_is 4
  t "run save --agent"
  run "${S[@]}" run save --agent weather --session s9 --status completed --output Sunny --output Warm
  rc_is 0; check "prints a UUID" grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' "$T/out"

  t "run list of an empty store"; run "${S[@]}" run list
  rc_is 0; out_empty; err_empty
  t "run list --json of an empty store"; run "${S[@]}" --json run list --total
  rc_is 0; json 'd == {"schema": 1, "runs": [], "versions": [], "total": 0, "next_cursor": None}'
  t "run list limit out of range"; run "${S[@]}" run list --limit 5000
  rc_is 2; out_empty
  t "run list negative offset"; run "${S[@]}" run list --offset -1
  rc_is 2
  t "run list bad cursor"; run "${S[@]}" run list --cursor garbage
  rc_is 4
  t "session list --json of an empty store"; run "${S[@]}" --json session list
  rc_is 0; json 'd == {"schema": 1, "sessions": [], "next_cursor": None}'
  t "session list limit out of range"; run "${S[@]}" session list --limit 1001
  rc_is 2
  t "session list limit 0"; run "${S[@]}" session list --limit 0
  rc_is 2

  t "event add JSON"; run "${S[@]}" event add r1 '{"type":"generic","generic":{"n":1}}'
  rc_is 0; out_is "1"
  t "event add --json"; run "${S[@]}" --json event add r1 --type run.created
  rc_is 0; json 'd == {"schema": 1, "run_id": "r1", "seq": 1}'
  t "event add from stdin"; printf '{"type":"x"}\n' >"$T/ev.json"
  run_in "$T/ev.json" "${S[@]}" event add r1 -
  rc_is 0; out_is "1"
  t "event add without type"; run "${S[@]}" event add r1 '{"data":1}'
  rc_is 4; out_empty; err_has "INVALID"
  t "event add of an array"; run "${S[@]}" event add r1 '[]'
  rc_is 4
  t "event list of an unknown run"; run "${S[@]}" event list nobody
  rc_is 0; out_empty
  t "event list --json of an unknown run"; run "${S[@]}" --json event list nobody
  rc_is 0; json 'd == {"schema": 1, "run_id": "nobody", "events": [], "next_cursor": None}'
  t "event list limit out of range"; run "${S[@]}" event list r1 --limit 1001
  rc_is 2

  t "session save --id --state"; run "${S[@]}" session save --id s1 --state '{"a":[1,2]}'
  rc_is 0; out_is "s1"
  t "session save --state not JSON"; run "${S[@]}" session save --id s1 --state '{oops'
  rc_is 2; out_empty
  t "session save of a document without id"; printf '{"state":1}' >"$T/s.json"
  run "${S[@]}" session save "$T/s.json"
  rc_is 4

  t "unknown backend"; run --store nosuchbackend: ping
  rc_is 5; out_empty; err_has "acp-storage: LOAD: "
  t "bad store URI"; run --store 'no scheme here' ping
  rc_is 4; err_has "acp-storage: INVALID: "
  t "unknown option of a backend"; run --store 'memory:?bogus_option=1' ping
  rc_is 4
  t "password never printed"; run --store 'nosuchbackend://alice:s3cr3t@127.0.0.1/db' ping
  rc_is 5; err_lacks "s3cr3t"; out_lacks "s3cr3t"

  # Colour only on a terminal, and never with NO_COLOR.
  t "colour on a terminal"
  script -qec "'$BIN' --store memory: ping" /dev/null >"$T/out" 2>"$T/err" </dev/null; rc=$?
  rc_is 0; check "has an escape sequence" grep -q $'\033' "$T/out"
  t "NO_COLOR on a terminal"
  NO_COLOR=1 script -qec "'$BIN' --store memory: ping" /dev/null >"$T/out" 2>"$T/err" </dev/null; rc=$?
  rc_is 0; out_has "ok: memory:"; check "no escape sequence" not grep -q $'\033' "$T/out"
  t "no colour into a pipe"; run "${S[@]}" ping
  check "no escape sequence" not grep -q $'\033' "$T/out"
}

# ---- durable stores: data across invocations ------------------------------

group_persistent() { # URL PATH: the store and where it lives
  local S=(--store "$1")

  # Commands that only read never create the store.
  local c
  for c in ping "run get r1" "run list" "session get s" "session list" "event list r1" \
           "run delete r1" "session delete s" verify "verify --quarantine"; do
    t "$c on a store that does not exist"
    # shellcheck disable=SC2086 # split the command into its words
    run "${S[@]}" $c
    rc_is 3; out_empty; err_has "NOT_FOUND"; err_has "create=false"
    check "nothing created" test ! -e "$2"
  done
  t "--json error of a store that does not exist"; run "${S[@]}" --json run list
  rc_is 3; err_has '"status":"NOT_FOUND"'

  t "event add creates the store"; run "${S[@]}" event add first --type run.created
  rc_is 0; out_is "1"
  check "store created" test -e "$2"
  t "ping"; run "${S[@]}" ping
  rc_is 0; out_has "ok: "; err_empty

  # A pretty-printed run with unknown fields comes back whole on one line.
  cat >"$T/r1.json" <<'EOF'
{
  "run_id": "r1",
  "agent_name": "a",
  "status": "completed",
  "created_at": "2025-01-01T00:00:01Z",
  "output": [],
  "big": 9007199254740993,
  "text": "line\nbreak \"q\" é  spaced  ",
  "extra": { "k": [1, 2.50, -0] }
}
EOF
  t "run save of a pretty-printed run"; run "${S[@]}" run save "$T/r1.json"
  rc_is 0; out_is "r1"
  t "run get prints it on one line"; run "${S[@]}" run get r1
  rc_is 0; out_lines 1
  out_is '{"run_id":"r1","agent_name":"a","status":"completed","created_at":"2025-01-01T00:00:01Z","output":[],"big":9007199254740993,"text":"line\nbreak \"q\" é  spaced  ","extra":{"k":[1,2.50,-0]}}'
  t "run get --json"; run "${S[@]}" --json run get r1
  rc_is 0; json 'd["schema"] == 1 and d["run"]["big"] == 9007199254740993 and d["run"]["text"] == "line\nbreak \"q\" é  spaced  "'

  local id c s
  for id in r2 r3 r4 r5; do
    case $id in
      r2) c=02 s='"s1"' ;;
      r3) c=03 s=null ;;
      r4) c=03 s=null ;;
      r5) c=04 s='"s1"' ;;
    esac
    local agent=a; [ "$id" = r4 ] || [ "$id" = r5 ] && agent=b
    printf '{"run_id":"%s","agent_name":"%s","session_id":%s,"status":"created","output":[],"created_at":"2025-01-01T00:00:%sZ"}' \
      "$id" "$agent" "$s" "$c" >"$T/$id.json"
    t "run save $id"; run "${S[@]}" run save "$T/$id.json"
    rc_is 0
  done

  t "run list: newest first, ties by run_id descending"; run "${S[@]}" run list
  rc_is 0; ids "r5 r4 r3 r2 r1"; err_empty
  t "run list --agent"; run "${S[@]}" run list --agent a
  rc_is 0; ids "r3 r2 r1"
  t "run list --session"; run "${S[@]}" run list --session s1
  rc_is 0; ids "r5 r2"
  t "run list --agent --session"; run "${S[@]}" run list --agent a --session s1
  rc_is 0; ids "r2"
  t "run list --offset"; run "${S[@]}" run list --offset 3
  rc_is 0; ids "r2 r1"
  t "run list --total in plain output"; run "${S[@]}" run list --limit 1 --total
  rc_is 0; ids "r5"; err_has "total: 5"
  t "run list --limit 0 --total --json"; run "${S[@]}" --json run list --limit 0 --total
  rc_is 0; json 'd["runs"] == [] and d["total"] == 5'

  t "run list --json, first page"; run "${S[@]}" --json run list --limit 2
  rc_is 0
  json 'd["schema"] == 1 and [r["run_id"] for r in d["runs"]] == ["r5", "r4"] and d["total"] is None and isinstance(d["next_cursor"], str)'
  local cursor
  cursor=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_cursor"])' "$T/out")
  t "run list --cursor, second page"; run "${S[@]}" run list --limit 2 --cursor "$cursor"
  rc_is 0; ids "r3 r2"
  t "run list --all"; run "${S[@]}" run list --all --limit 2
  rc_is 0; ids "r5 r4 r3 r2 r1"; err_empty
  t "run list --all --json"; run "${S[@]}" --json run list --all --limit 2 --total
  rc_is 0
  json '[r["run_id"] for r in d["runs"]] == ["r5", "r4", "r3", "r2", "r1"] and d["next_cursor"] is None and d["total"] == 5'
  t "run list --all --agent"; run "${S[@]}" run list --all --agent b --limit 1
  rc_is 0; ids "r5 r4"

  # Formats: a table on a terminal, JSON lines into a pipe, --format.
  t "run list in a table on a terminal"
  script -qec "'$BIN' --store '$1' run list --limit 3 2>'$T/err'" /dev/null >"$T/out" </dev/null; rc=$?
  rc_is 0; out_has "RUN ID"; out_has "FINISHED"
  check "a row per run: id, agent, status, created, finished" \
    grep -Eq '^r5 +b +created +2025-01-01T00:00:04Z +-' "$T/out"
  check "three rows and a header" test "$(grep -c . "$T/out")" = 4
  err_has "stopped at a full page (3 runs); more may follow"
  t "--format lines on a terminal"
  script -qec "'$BIN' --store '$1' run list --format lines" /dev/null >"$T/out" </dev/null; rc=$?
  rc_is 0; out_lacks "RUN ID"; out_has '{"run_id":"r5"'
  t "--format table into a pipe"; run "${S[@]}" run list --format table --agent a
  rc_is 0; out_lines 4; out_has "RUN ID"
  check "row of r1" grep -Eq '^r1 +a +completed +2025-01-01T00:00:01Z +-' "$T/out"
  t "--format json is --json"; run "${S[@]}" run list --format json --limit 1
  rc_is 0; json 'd["schema"] == 1 and d["runs"][0]["run_id"] == "r5"'

  # A list that stops at a page says so, with the command that goes on.
  t "run list stops at a page"; run "${S[@]}" run list --limit 2 --offset 1 --total
  rc_is 0; ids "r4 r3"; err_has "total: 5"; err_has "acp-storage: stopped at a full page (2 runs); more may follow. Continue with:"
  local next
  next=$(sed -n 's/^  acp-storage //p' "$T/err")
  check "the continuing command keeps the filters, drops the offset" \
    test "$next" = "--store $1 run list --limit 2 --cursor $(sed -n 's/.*--cursor //p' "$T/err")"
  t "running the continuing command"; eval "run $next"
  rc_is 0; ids "r2 r1"
  t "no note after a page that is not full"; run "${S[@]}" run list --limit 6
  rc_is 0; err_empty
  t "no note with --json (next_cursor is in the object)"; run "${S[@]}" --json run list --limit 1
  rc_is 0; err_empty

  run "${S[@]}" run save --agent builder --status completed --output 'Hello, "world"'
  rc_is 0
  local new_id; new_id=$(cat "$T/out")
  run "${S[@]}" run get "$new_id"
  rc_is 0
  lines 'L[0]["agent_name"] == "builder" and L[0]["status"] == "completed" and L[0]["finished_at"] and L[0]["output"][0]["parts"][0]["content"] == "Hello, \"world\"" and L[0]["output"][0]["role"] == "agent/builder"'
  t "run delete"; run "${S[@]}" run delete "$new_id"
  rc_is 0; out_empty; err_empty
  t "run get after delete"; run "${S[@]}" run get "$new_id"
  rc_is 3
  t "run delete again"; run "${S[@]}" --json run delete "$new_id"
  rc_is 3; out_empty

  # Sessions.
  printf '{"id":"s-a","state":{"n":1},"history":[]}' >"$T/sa.json"
  t "session save from a file"; run "${S[@]}" session save "$T/sa.json"
  rc_is 0; out_is "s-a"
  t "session save --state false"; run "${S[@]}" --json session save --id s-b --state false
  rc_is 0; json 'd == {"schema": 1, "session_id": "s-b"}'
  t "session save --id"; run "${S[@]}" session save --id s-c
  rc_is 0
  t "session get keeps false"; run "${S[@]}" --json session get s-b
  rc_is 0; json 'd["session"]["id"] == "s-b" and d["session"]["state"] is False'
  t "session list"; run "${S[@]}" session list
  rc_is 0; lines '[s["id"] for s in L] == ["s-a", "s-b", "s-c"]'
  t "session list --after"; run "${S[@]}" session list --after s-a
  rc_is 0; lines '[s["id"] for s in L] == ["s-b", "s-c"]'
  t "session list --json --limit"; run "${S[@]}" --json session list --limit 2
  rc_is 0; json '[s["id"] for s in d["sessions"]] == ["s-a", "s-b"] and d["next_cursor"] == "s-b"'
  t "session list stops at a page"; run "${S[@]}" session list --limit 2
  rc_is 0; err_has "full page (2 sessions)"; err_has "session list --limit 2 --after s-b"
  t "session list in a table"; run "${S[@]}" session list --format table
  rc_is 0; out_has "SESSION ID"; check "row of s-a" grep -Eq '^s-a +0$' "$T/out"
  t "session list --all"; run "${S[@]}" session list --all --limit 1
  rc_is 0; lines '[s["id"] for s in L] == ["s-a", "s-b", "s-c"]'; err_empty
  t "session delete"; run "${S[@]}" session delete s-b
  rc_is 0; out_empty
  t "session get after delete"; run "${S[@]}" session get s-b
  rc_is 3
  t "runs stay after their session is deleted"; run "${S[@]}" session delete s1
  rc_is 3
  run "${S[@]}" run list --session s1
  ids "r5 r2"

  # Events.
  t "event add --type"; run "${S[@]}" event add r1 --type run.created
  rc_is 0; out_is "1"
  t "event add --type message.part --text"; run "${S[@]}" event add r1 --type message.part --text hello
  rc_is 0; out_is "2"
  t "event add JSON"; run "${S[@]}" event add r1 '{"type":"generic","generic":{"x":1}}'
  rc_is 0; out_is "3"
  printf '{"type": "run.completed"}\n' >"$T/ev.json"
  t "event add from stdin"; run_in "$T/ev.json" "${S[@]}" event add r1 -
  rc_is 0; out_is "4"
  t "event list"; run "${S[@]}" event list r1
  rc_is 0
  lines '[e["type"] for e in L] == ["run.created", "message.part", "generic", "run.completed"] and L[1]["part"]["content"] == "hello"'
  t "event list in a table: sequence numbers, times, types"
  run "${S[@]}" event list r1 --format table
  rc_is 0; out_has "SEQ"; out_has "STORED"; out_lines 5
  check "row of event 2" grep -Eq '^ +2  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +message\.part$' "$T/out"
  t "event list stops at a page"; run "${S[@]}" event list r1 --limit 2 --offset 1
  rc_is 0; err_has "full page (2 events)"; err_has "event list r1 --limit 2 --after 3"
  t "event list --after"; run "${S[@]}" event list r1 --after 2
  rc_is 0; lines '[e["type"] for e in L] == ["generic", "run.completed"]'
  t "event list --offset --limit"; run "${S[@]}" event list r1 --offset 1 --limit 2
  rc_is 0; lines '[e["type"] for e in L] == ["message.part", "generic"]'
  t "event list --all"; run "${S[@]}" event list r1 --all --limit 1
  rc_is 0; lines '[e["type"] for e in L] == ["run.created", "message.part", "generic", "run.completed"]'
  err_empty
  t "event list --json"; run "${S[@]}" --json event list r1
  rc_is 0
  json 'd["schema"] == 1 and d["run_id"] == "r1" and [e["seq"] for e in d["events"]] == [1, 2, 3, 4] and all(e["stored_at"].endswith("Z") for e in d["events"]) and d["events"][2]["event"] == {"type": "generic", "generic": {"x": 1}} and d["next_cursor"] is None'
  t "event list --json --limit"; run "${S[@]}" --json event list r1 --limit 2
  rc_is 0; json '[e["seq"] for e in d["events"]] == [1, 2] and d["next_cursor"] == "2"'
  t "event list --json --all"; run "${S[@]}" --json event list r1 --all --limit 3
  rc_is 0; json '[e["seq"] for e in d["events"]] == [1, 2, 3, 4] and d["next_cursor"] is None'
  t "run delete takes the events"; run "${S[@]}" run delete r1
  rc_is 0
  run "${S[@]}" event list r1
  rc_is 0; out_empty
  t "events of a run without a record"; run "${S[@]}" event add orphan --type x
  rc_is 0; out_is "1"
  t "run delete of events only"; run "${S[@]}" run delete orphan
  rc_is 0
  run "${S[@]}" run delete orphan
  rc_is 3
}

group_sqlite() {
  need_plugin sqlite
  group_persistent "sqlite:$T/x.db" "$T/x.db"

  # The embedded default store.
  t "default store under HOME"; run run save --agent d1
  rc_is 0
  check "store file created" test -f "$HOME/.local/share/acp-storage/store.db"
  check "directory mode 0700" test "$(stat -c %a "$HOME/.local/share/acp-storage")" = 700
  run ping
  rc_is 0; out_has "ok: sqlite:$HOME/.local/share/acp-storage/store.db"
  run run list
  rc_is 0; lines 'len(L) == 1 and L[0]["agent_name"] == "d1"'
  t "default store under XDG_DATA_HOME, not made by a read"; XDG_DATA_HOME="$T/xdg" run run list
  rc_is 3; out_empty; err_has "the default store is made by the first command that saves"
  check "no store file" test ! -e "$T/xdg/acp-storage"
  t "default store under XDG_DATA_HOME"; XDG_DATA_HOME="$T/xdg" run event add r --type x
  rc_is 0
  check "store file created" test -f "$T/xdg/acp-storage/store.db"
  t "relative XDG_DATA_HOME is ignored"; XDG_DATA_HOME=rel/dir run run list
  rc_is 0; lines 'len(L) == 1'
  check "no relative directory" test ! -e rel/dir
  t "no HOME"; (unset HOME; run ping; exit "$rc"); rc=$?
  rc_is 4
  t "ACP_STORAGE_URL across invocations"
  ACP_STORAGE_URL="sqlite:$T/env.db" run run save --agent e1
  rc_is 0
  ACP_STORAGE_URL="sqlite:$T/env.db" run run list
  lines 'len(L) == 1 and L[0]["agent_name"] == "e1"'
}

group_file() {
  need_plugin file
  group_persistent "file:$T/filestore" "$T/filestore"
}

# ---- backends --------------------------------------------------------------

group_backends() {
  need_plugin memory
  export ACP_STORAGE_PLUGIN_PATH="$PLUGINDIR:$FIXDIR"

  t "backends"; run backends
  rc_is 0; err_empty
  out_has "$PLUGINDIR"; out_has "$FIXDIR"
  out_has "$PLUGINDIR/libacp_storage_memory.so"
  out_has "refused"; out_has "$FIXDIR/libacp_storage_clifuture.so"
  check "memory row shows its capabilities" grep -Eq '^memory +[^ ]+ +1\.[0-9]+ +[a-z,]*concurrent' "$T/out"

  t "bundled plugins carry the project's version"; run --json backends
  local version; version=$("$BIN" --version | sed -n 's/^acp-storage //p')
  check "memory plugin version is $version" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = {b["name"]: b["version"] for b in d["backends"] if b["loaded"] and b["path"].startswith(sys.argv[2])}
sys.exit(0 if v and set(v.values()) == {sys.argv[3]} else 1)' "$T/out" "$PLUGINDIR/" "$version"

  t "backends --json"; run --json backends
  rc_is 0
  json 'd["schema"] == 1 and d["plugin_dirs"][:2] == [sys.argv[3], sys.argv[4]]'
  json '[b for b in d["backends"] if b["name"] == "memory"][0]["loaded"] is True'
  json '"concurrent" in [b for b in d["backends"] if b["name"] == "memory"][0]["capabilities"]'
  # every capability bit has a name: no "0x.." for a flag this tool knows
  json '"run-filters" in [b for b in d["backends"] if b["name"] == "memory"][0]["capabilities"]'
  json 'not any(c.startswith("0x") for b in d["backends"] if b["loaded"] for c in b["capabilities"])'
  json '[b for b in d["backends"] if b["name"] == "memory"][0]["abi"].startswith("1.")'
  json '[b for b in d["backends"] if b["name"] == "clifuture"][0]["loaded"] is False'
  json '[b for b in d["backends"] if b["name"] == "clifuture"][0]["status"] == "LOAD"'
  json '[b for b in d["backends"] if b["name"] == "clifuture"][0]["message"] != ""'
  json '[b for b in d["backends"] if b["name"] == "clifixture"][0]["capabilities"] == []'
  json '[b for b in d["backends"] if b["name"] == "clifixture"][0]["options"] == []'
  json '[o["name"] for o in [b for b in d["backends"] if b["name"] == "clioptions"][0]["options"]] == ["count", "level", "token", "wait"]'

  t "backends NAME: the typed options"; run backends clioptions
  rc_is 0; err_empty
  out_has "clioptions 0.0.2"; out_has "$FIXDIR/libacp_storage_clioptions.so"
  check "count row: integer, default 7, not secret, its doc" grep -Eq '^  count +integer +7 +no +how many$' "$T/out"
  check "level row: enum, default low, its values" grep -Eq '^  level +enum +low +no +how hard [(]low[|]high[)]$' "$T/out"
  check "token row: secret, no default" grep -Eq '^  token +string +- +yes +a secret$' "$T/out"
  check "wait row: no default, no doc" grep -Eq '^  wait +duration +- +no +$' "$T/out"
  out_lacks "libacp_storage_clifixture.so"

  t "backends NAME --json"; run --json backends clioptions
  rc_is 0; err_empty
  json 'd["schema"] == 1 and d["backend"]["name"] == "clioptions" and d["backend"]["loaded"] is True'
  json 'd["backend"]["options"][0] == {"name": "count", "type": "integer", "default": "7", "secret": False, "description": "how many", "values": []}'
  json 'd["backend"]["options"][1]["values"] == ["low", "high"] and d["backend"]["options"][1]["default"] == "low"'
  json 'd["backend"]["options"][2]["secret"] is True and d["backend"]["options"][2]["default"] is None'
  json 'd["backend"]["options"][3] == {"name": "wait", "type": "duration", "default": None, "secret": False, "description": "", "values": []}'

  t "backends NAME without typed options"; run backends memory
  rc_is 0; out_has "memory"; out_has "options       none described"
  t "backends NAME of a refused plugin"; run backends clifuture
  rc_is 5; out_has "refused"
  t "backends with an unknown NAME"; run backends nosuchbackend
  rc_is 5; out_empty; err_has "no backend plugin named 'nosuchbackend'"
  t "backends with two names"; run backends memory clioptions
  rc_is 2
}

# ---- check -----------------------------------------------------------------

group_check() {
  need_plugin memory

  t "check memory, one check"; run check memory --filter store_ping_reports_ok
  rc_is 0; out_has "PASS"; out_has "store_ping_reports_ok"; out_has "1 checks: 1 passed"
  t "check --json"; run --json check memory --filter store_
  rc_is 0
  json 'd["schema"] == 1 and d["backend"] == "memory" and d["plugin_file"] is None and len(d["checks"]) >= 2 and all(c["result"] == "pass" for c in d["checks"]) and d["summary"]["total"] == len(d["checks"]) == d["summary"]["passed"]'
  t "check a plugin file"; run check "$PLUGINDIR/libacp_storage_memory.so" --filter store_ping_reports_ok
  rc_is 0; out_has "memory"; out_has "1 passed"
  t "check a plugin file by a relative path"
  (cd "$PLUGINDIR" && "$BIN" check ./libacp_storage_memory.so --filter store_ping_reports_ok) >"$T/out" 2>"$T/err"; rc=$?
  rc_is 0
  # The whole suite: one row per check, a summary that adds up, and an exit
  # status that follows it (whether memory passes is tests/conformance's
  # business).
  t "check memory, whole suite"; run --json check memory
  json 'len(d["checks"]) == d["summary"]["total"] > 50 and sum(d["summary"][k] for k in ("passed", "failed", "skipped", "crashed", "timed_out")) == d["summary"]["total"]'
  json 'all(c["result"] in ("pass", "fail", "skip") and c["description"] for c in d["checks"])'
  json 'all(c["message"] for c in d["checks"] if c["result"] != "pass")'
  json '(d["summary"]["failed"] + d["summary"]["crashed"] + d["summary"]["timed_out"] == 0) == (int(sys.argv[5]) == 0)'

  t "check an unknown backend"; run check nosuchbackend
  rc_is 5; out_empty; err_has "LOAD"
  t "check a file not named like a plugin"; run check /tmp/foo.so
  rc_is 2
  t "check with a filter matching nothing"; run check memory --filter zzz_no_such_check
  rc_is 2; err_has "no check name contains"
  t "check with a negative timeout"; run check memory --timeout -1
  rc_is 2

  export ACP_STORAGE_PLUGIN_PATH="$PLUGINDIR:$FIXDIR"
  t "check a plugin of another ABI"; run check "$FIXDIR/libacp_storage_clifuture.so"
  rc_is 5; err_has "LOAD"
  t "check reports a pass"; CLI_FIXTURE_PING=ok run check clifixture --filter store_ping_reports_ok
  rc_is 0; out_has "PASS"
  t "check reports a crash"; CLI_FIXTURE_PING=crash run check clifixture --filter store_ping_reports_ok
  rc_is 1; out_has "CRASH"; out_has "1 crashed"
  t "check reports a timeout"
  CLI_FIXTURE_PING=hang run --json check clifixture --filter store_ping_reports_ok --timeout 2
  rc_is 1; json 'd["checks"][0]["result"] == "timeout" and d["summary"]["timed_out"] == 1'
  t "check reports failures"; CLI_FIXTURE_PING=ok run check clifixture
  rc_is 1; out_has "FAIL"
}

case $group in
  usage | memory | sqlite | file | backends | check) "group_$group" ;;
  *) echo "unknown group '$group'" >&2; exit 2 ;;
esac

echo "# $group: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
