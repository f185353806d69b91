#!/bin/sh
# SPDX-License-Identifier: MIT
# diagnostics.sh BIN SHADOW_DIR CRASH_DIR PLUGIN_DIR PYTHON EXIT_DIR HANG_DIR SPAWN_DIR
#
# What `backends` and `check` tell about the plugins and the search path.
#
# A plugin that crashes while loading (SIGSEGV in its entry function or in
# init) is reported by `acp-storage backends` (text and --json) and
# `acp-storage check FILE.so`, and never hides the healthy plugins: the
# crash_init in CRASH_DIR is also shadowed by a good crash_init in
# SHADOW_DIR, searched first.
set -u
BIN=$1 SHADOW=$2 CRASH=$3 PLUGINS=$4 PY=$5 EXIT_DIR=$6 HANG_DIR=$7 SPAWN_DIR=$8
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-crash-probe.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export ACP_STORAGE_PLUGIN_PATH="$SHADOW:$CRASH:$PLUGINS"
fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; sed 's/^/#   /' "$T/out" "$T/err" | head -40; fails=$((fails + 1)); }
not_grep() { ! grep -q "$@"; }
expect() { # expect DESCRIPTION COMMAND...
  d=$1; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}

"$BIN" backends >"$T/out" 2>"$T/err"; rc=$?
expect "backends exits 0 despite crashing plugins" test "$rc" = 0
expect "backends lists the healthy memory backend" grep -q '^memory ' "$T/out"
expect "backends reports the crash in the entry function" \
  grep -q 'crashed: .*SIGSEGV' "$T/out"
expect "backends names both crashing files" \
  test "$(grep -c 'crashed: crashed while loading' "$T/out")" = 2
expect "the shadowed crashing copy is marked shadowed" grep -q 'shadowed:' "$T/out"

"$BIN" --json backends >"$T/out" 2>"$T/err"; rc=$?
expect "backends --json exits 0" test "$rc" = 0
expect "backends --json reports each plugin as it is" "$PY" - "$T/out" "$SHADOW" "$CRASH" <<'PYEOF'
import json, sys, signal
d = json.load(open(sys.argv[1]))
shadow, crash = sys.argv[2], sys.argv[3]
by = {b["path"]: b for b in d["backends"]}
good = by[shadow + "/libacp_storage_crash_init.so"]
assert good["loaded"] and not good["crashed"] and good["signal"] is None, good
for n in ("crash_entry", "crash_init"):
    b = by["%s/libacp_storage_%s.so" % (crash, n)]
    assert not b["loaded"] and b["crashed"] and b["signal"] == signal.SIGSEGV, b
    assert "SIGSEGV" in b["message"], b
assert by[crash + "/libacp_storage_crash_init.so"]["shadowed"]
assert any(b["name"] == "memory" and b["loaded"] for b in d["backends"])
PYEOF

for n in crash_entry crash_init; do
  "$BIN" check "$CRASH/libacp_storage_$n.so" --filter ping >"$T/out" 2>"$T/err"; rc=$?
  expect "check $n.so exits 1" test "$rc" = 1
  expect "check $n.so reports CRASH" grep -q '^CRASH' "$T/out"
  expect "check $n.so says the plugin crashed" grep -q 'crashed' "$T/err"
  "$BIN" --json check "$CRASH/libacp_storage_$n.so" --filter ping >"$T/out" 2>"$T/err"
  expect "check --json $n.so counts the crash" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["summary"]["crashed"] >= 1 and d["summary"]["passed"] == 0, d["summary"]
' "$T/out"
done

# A plugin calling exit(3) in init: reported, not taken for the command's
# own exit code 3 (NOT_FOUND) with nothing printed.
"$BIN" check "$EXIT_DIR/libacp_storage_exit_init.so" --filter ping >"$T/out" 2>"$T/err"; rc=$?
expect "check exit_init.so exits 1" test "$rc" = 1
expect "check exit_init.so says the plugin ended the process" \
  grep -q 'ended the process (exit status 3)' "$T/err"
expect "check exit_init.so reports CRASH" grep -q '^CRASH' "$T/out"

# A plugin whose init never returns: the preflight obeys --timeout.
"$BIN" check "$HANG_DIR/libacp_storage_hang_init.so" --filter ping --timeout 2 \
  >"$T/out" 2>"$T/err" &
cpid=$!
( sleep 30 && kill "$cpid" ) 2>/dev/null &
wpid=$!
wait "$cpid"; rc=$?
kill "$wpid" 2>/dev/null
expect "check hang_init.so --timeout 2 ends with exit 1" test "$rc" = 1
expect "check hang_init.so says the plugin hangs" grep -q 'did not finish loading' "$T/err"

# A plugin whose init leaves a helper process holding the probe's pipe is
# listed as loaded, without waiting for the probe's 30 s limit.
start=$(date +%s)
ACP_STORAGE_PLUGIN_PATH="$SPAWN_DIR" "$BIN" backends >"$T/out" 2>"$T/err"; rc=$?
took=$(($(date +%s) - start))
expect "backends with a helper-spawning plugin exits 0" test "$rc" = 0
expect "the helper-spawning plugin is listed as loaded" grep -q '^spawn_init  *fixture' "$T/out"
expect "backends does not wait for the helper (took ${took} s)" test "$took" -lt 20
"$BIN" check "$SPAWN_DIR/libacp_storage_spawn_init.so" --filter ping --timeout 20 \
  >"$T/out" 2>"$T/err"; rc=$?
expect "check of the helper-spawning plugin passes, not timing out" test "$rc" = 0

# ---- search path honesty ----
export ACP_STORAGE_PLUGIN_PATH="$PLUGINS:rel/plugins::$SHADOW"
"$BIN" backends >"$T/out" 2>"$T/err"; rc=$?
expect "backends shows the ignored relative entry and why" \
  grep -q "ignored ACP_STORAGE_PLUGIN_PATH entry 'rel/plugins': relative" "$T/out"
expect "backends does not call used entries ignored" \
  test "$(grep -c 'ignored ACP_STORAGE_PLUGIN_PATH' "$T/out")" = 1
"$BIN" --json backends >"$T/out" 2>"$T/err"
expect "backends --json lists the ignored entry" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [e["entry"] for e in d["ignored_path_entries"]] == ["rel/plugins"], d["ignored_path_entries"]
assert "relative" in d["ignored_path_entries"][0]["reason"]
' "$T/out"
"$BIN" check no_such_backend >"$T/out" 2>"$T/err"; rc=$?
expect "the LOAD hint names the ignored entry" grep -q "'rel/plugins' was ignored" "$T/err"
expect "the LOAD hint does not ask to add a directory" not_grep "install the plugin" "$T/err"

# A file in the current directory needs a path.
mkdir "$T/cwd" && cp "$SHADOW/libacp_storage_crash_init.so" "$T/cwd/"
(cd "$T/cwd" && "$BIN" check libacp_storage_crash_init.so) >"$T/out" 2>"$T/err"; rc=$?
expect "check FILE.so without a path is a usage error" test "$rc" = 2
expect "check FILE.so without a path says to write ./FILE.so" \
  grep -qF "./libacp_storage_crash_init.so" "$T/err"
(cd "$T/cwd" && "$BIN" check ./libacp_storage_crash_init.so --filter ping) >"$T/out" 2>"$T/err"
rc=$?
expect "check ./FILE.so runs" test "$rc" = 0

# A store without {dir}: warned before the checks run.
"$BIN" check memory --filter ping --store memory: >"$T/out" 2>"$T/err"
expect "check --store without {dir} warns" grep -q "warning: the store has no {dir}" "$T/err"

echo "# $fails failed"
test "$fails" = 0
