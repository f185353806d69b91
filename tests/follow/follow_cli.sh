#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# follow_cli.sh ACP_STORAGE: `event list RUN --follow` prints events as
# another process stores them, in order, with --json one object per line
# with its seq; --after skips; it stops after the run's terminal event, and
# on SIGINT (Ctrl-C) with status 0.
set -uo pipefail
cli=$1
dir=$(mktemp -d /tmp/acp-follow-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for store in "sqlite://$dir/s.db" "file://$dir/files"; do
  export ACP_STORAGE_URL=$store
  "$cli" event add r1 --type run.created >/dev/null || fail "$store: add"
  "$cli" --json event list r1 --follow >"$dir/all" 2>"$dir/err" &
  all=$!
  "$cli" --json event list r1 --follow --after 2 >"$dir/after" 2>>"$dir/err" &
  after=$!
  "$cli" event list r1 --follow >"$dir/plain" 2>>"$dir/err" &
  plain=$!
  sleep 0.5
  "$cli" event add r1 --type run.in-progress >/dev/null
  "$cli" event add r1 '{"type":"message.part","part":{"content":"hi"}}' >/dev/null
  sleep 0.3
  "$cli" event add r1 --type run.completed >/dev/null
  # Each follower must end by itself after run.completed.
  for p in $all $after $plain; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { kill "$p"; fail "$store: --follow did not stop after run.completed"; }
    wait "$p" || fail "$store: --follow exited with $? ($(cat "$dir/err"))"
  done
  [ "$(jq -c '[.seq, .event.type]' "$dir/all" | tr -d '\n')" = \
    '[1,"run.created"][2,"run.in-progress"][3,"message.part"][4,"run.completed"]' ] ||
    fail "$store: --json output: $(cat "$dir/all")"
  [ "$(jq -c '.seq' "$dir/after" | tr -d '\n')" = "34" ] ||
    fail "$store: --after 2 output: $(cat "$dir/after")"
  [ "$(jq -r '.type' "$dir/plain" | tr '\n' ' ')" = \
    "run.created run.in-progress message.part run.completed " ] ||
    fail "$store: plain output: $(cat "$dir/plain")"

  # Ctrl-C while waiting: ends at once, status 0, nothing more printed.
  "$cli" event list r2 --follow >"$dir/int" 2>"$dir/err" &
  p=$!
  sleep 0.5
  kill -INT "$p"
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && { kill -9 "$p"; fail "$store: SIGINT did not stop --follow"; }
  wait "$p" || fail "$store: --follow exited $? on SIGINT: $(cat "$dir/err")"
  [ -s "$dir/int" ] && fail "$store: printed $(cat "$dir/int") for a run without events"
done

# A backend without follow, or a bad --after, is a clear error.
"$cli" --store memory: event list r1 --follow --after -1 2>"$dir/err" && fail "--after -1 accepted"
grep -q after "$dir/err" || fail "--after -1: $(cat "$dir/err")"
"$cli" --store memory: event list r1 --follow --all 2>"$dir/err" && fail "--follow --all accepted"
grep -q -- "--offset or --all" "$dir/err" || fail "--follow --all: $(cat "$dir/err")"
echo "ok: --follow on sqlite and file"
