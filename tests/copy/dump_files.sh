#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dump_files.sh ACP_STORAGE
# Dumps in each file format: export to NAME (plain), NAME.gz and NAME.zst;
# each file is in the format its suffix names (gzip and zstd by their
# magic bytes, and the system's gzip and zstd read them back to the plain
# dump); import of each file, and of each piped through standard input,
# gives a store equal to the source (diff exits 0).  A compressed dump cut
# short, or damaged, fails the import with an error instead of importing a
# part silently as complete.
set -euo pipefail
cli=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/acp-dump-files-XXXXXX")
trap 'rm -rf "$dir"' EXIT
src="sqlite:$dir/src.db"
fail() { echo "dump_files: $*" >&2; exit 1; }

# 200 runs with up to 11 events each, sessions.
bash "$(dirname "$0")/sample_dump.sh" 2 200 12 0 > "$dir/in.jsonl"
"$cli" --store "$src" import "$dir/in.jsonl" >/dev/null

magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }

for suffix in "" .gz .zst; do
  f="$dir/dump.jsonl$suffix"
  "$cli" --store "$src" export -o "$f" >/dev/null
  m=$(magic "$f")
  case "$suffix" in
    .gz) [[ $m == 1f8b* ]] || fail "$f is not gzip (starts with $m)"
         gzip -dc "$f" > "$dir/plain$suffix" ;;
    .zst) [ "$m" = 28b52ffd ] || fail "$f is not zstd (starts with $m)"
          zstd -q -dc "$f" > "$dir/plain$suffix" ;;
    *) [ "$m" = 7b226163 ] || fail "$f is not a plain dump (starts with $m)"
       cp "$f" "$dir/plain$suffix" ;;
  esac
  grep -q '^{"acp_storage_dump":1,' <(head -n 1 "$dir/plain$suffix") || fail "$f: not a dump inside"
  # Everything after the header (which holds the time of the export) is the same in every format.
  tail -n +2 "$dir/plain$suffix" > "$dir/body$suffix"
  cmp -s "$dir/body" "$dir/body$suffix" || fail "$f holds another dump than the plain one"
  n=0
  for how in file pipe; do
    n=$((n + 1))
    tgt="sqlite:$dir/t$suffix-$how.db"
    if [ "$how" = file ]; then
      "$cli" --store "$tgt" import "$f" >/dev/null
    else
      "$cli" --store "$tgt" import - < <(cat "$f") >/dev/null
    fi
    "$cli" diff "$src" "$tgt" >/dev/null || fail "import of $f ($how) differs from the source"
  done
done

# Cut short or damaged: the import fails (and says so), whatever it stored.
for suffix in .gz .zst; do
  f="$dir/dump.jsonl$suffix"
  size=$(stat -c %s "$f")
  head -c $((size / 2)) "$f" > "$dir/cut$suffix"
  if "$cli" --store "sqlite:$dir/cut$suffix.db" import "$dir/cut$suffix" >/dev/null 2>"$dir/err"; then
    fail "import of a $suffix dump cut in half succeeded"
  fi
  grep -q . "$dir/err" || fail "import of a $suffix dump cut in half failed without a message"
  cp "$f" "$dir/bad$suffix"
  printf 'XXXXXXXXXXXXXXXX' | dd of="$dir/bad$suffix" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
  if "$cli" --store "sqlite:$dir/bad$suffix.db" import "$dir/bad$suffix" >/dev/null 2>"$dir/err"; then
    fail "import of a damaged $suffix dump succeeded"
  fi
done
echo "dump_files: plain, gzip and zstd dumps round-trip, by file and by pipe"
