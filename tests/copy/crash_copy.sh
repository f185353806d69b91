#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# crash_copy.sh ACP_STORAGE [KILLS]
# kill -9 `acp-storage copy --resume` and `acp-storage import --resume` at
# random instants spread over a whole copy, KILLS times each, into a sqlite
# and a file store.  After every kill the target may lack runs, but every
# run it lists must be complete (diff may only say "only in the first
# store" of whole runs and sessions).  The last resume must end with exactly
# the source (diff exits 0), and one more resume must change nothing.
set -euo pipefail
cli=$1
kills=${2:-40}
dir=$(mktemp -d "${TMPDIR:-/tmp}/acp-crash-copy-XXXXXX")
trap 'rm -rf "$dir"' EXIT
src="sqlite:$dir/src.db"

# The source: 300 runs with up to 9 events, one run with 2500, sessions.
bash "$(dirname "$0")/sample_dump.sh" 3 300 10 2500 > "$dir/src.jsonl"
"$cli" --store "$src" import "$dir/src.jsonl" >/dev/null
"$cli" --store "$src" export -o "$dir/src.jsonl.gz" >/dev/null

now_ms() { date +%s%3N; }

# A target may lack whole runs and sessions, nothing else.
check_partial() {
  local out
  out=$("$cli" diff "$src" "$1" || true)
  if grep -v -E '^(run|session) .*: only in the first store$|^(first|second): |^[0-9]+ differences?$' \
       <<<"$out" | grep -q .; then
    echo "crash_copy: after a kill, $1 holds a partial or wrong item:" >&2
    grep -v -E '^(run|session) .*: only in the first store$|^(first|second): |^[0-9]+ differences?$' \
      <<<"$out" | head -20 >&2
    exit 1
  fi
}

body() { "$cli" --store "$1" export | tail -n +2; }

for target in sqlite file; do
  for mode in copy import; do
    tgt="$target:$dir/$mode-$target"
    [ "$target" = sqlite ] && tgt="$tgt.db"
    if [ "$mode" = copy ]; then
      cmd=("$cli" copy --from "$src" --to "$tgt" --resume)
    else
      cmd=("$cli" --store "$tgt" import "$dir/src.jsonl.gz" --resume)
    fi
    # How long a whole run takes, into a scratch target: kills land anywhere in it.
    t0=$(now_ms)
    if [ "$mode" = copy ]; then
      "$cli" copy --from "$src" --to "$target:$dir/scratch-$mode-$target" >/dev/null
    else
      "$cli" --store "$target:$dir/scratch-$mode-$target" import "$dir/src.jsonl.gz" >/dev/null
    fi
    span=$(( $(now_ms) - t0 + 20 ))
    for i in $(seq 1 "$kills"); do
      "${cmd[@]}" >/dev/null 2>&1 &
      pid=$!
      delay=$(( RANDOM % span ))
      sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      check_partial "$tgt"
    done
    "${cmd[@]}" >/dev/null
    "$cli" diff "$src" "$tgt" >/dev/null || { echo "crash_copy: $mode into $target differs" >&2;
      "$cli" diff "$src" "$tgt" | head -20 >&2; exit 1; }
    before=$(body "$tgt")
    "${cmd[@]}" >/dev/null
    [ "$before" = "$(body "$tgt")" ] || { echo "crash_copy: a finished $mode changed $tgt" >&2; exit 1; }
    echo "$mode into $target: $kills kills (up to ${span} ms), resumed to the source exactly"
  done
done
