#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer harnesses with clang and run each for a while.
#
#   fuzz/run.sh <seconds> [--merge] [harness...]
#
#   <seconds>   how long to run each harness (CI: about 60)
#   --merge     afterwards, add the new inputs that reach new code to the
#               checked-in corpus (fuzz/corpus/<harness>/); without it the
#               corpus is only read
#   harness     fuzz_uri, fuzz_document, fuzz_file_reader (default: all)
#
# The build goes to build/libfuzzer (CC=clang, -DACP_STORAGE_FUZZ=ON; not
# build/fuzz, which is where a plain `cmake -B build` puts this folder).
# New inputs collect in build/libfuzzer/fuzz/work/<harness>/; a crash, leak,
# timeout or broken invariant is written to
# build/libfuzzer/fuzz/artifacts/<harness>/ and makes the script exit 1
# after the other harnesses have run.  Reproduce one with:
#   build/libfuzzer/fuzz/<harness> <artifact file>
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

usage() {
  sed -n '2,18p' "$self" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in '' | *[!0-9]*) usage ;; esac
merge=0
harnesses=()
for arg in "$@"; do
  case $arg in
    --merge) merge=1 ;;
    fuzz_uri | fuzz_document | fuzz_file_reader) harnesses+=("$arg") ;;
    *) usage ;;
  esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_uri fuzz_document fuzz_file_reader)

build=build/libfuzzer
if ! command -v clang >/dev/null; then
  echo "fuzz/run.sh: clang is needed (apt-get install clang)" >&2
  exit 2
fi
# Only the harnesses are built: they carry their own instrumented copies of
# the core and of the plugins they load.
CC=clang cmake -S . -B "$build" -DACP_STORAGE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=OFF -DACP_STORAGE_BUILD_POSTGRES=OFF -DACP_STORAGE_BUILD_REDIS=OFF \
  -DACP_STORAGE_BUILD_TOOLS=OFF >/dev/null
if ! grep -q '^CMAKE_C_COMPILER:FILEPATH=.*clang' "$build/CMakeCache.txt"; then
  echo "fuzz/run.sh: $build was configured with another compiler; remove it first" >&2
  exit 2
fi
cmake --build "$build" -j2 --target "${harnesses[@]}"

failed=()
for h in "${harnesses[@]}"; do
  bin=$build/fuzz/$h
  corpus=fuzz/corpus/$h
  work=$build/fuzz/work/$h
  artifacts=$build/fuzz/artifacts/$h
  mkdir -p "$work" "$artifacts"
  dict=()
  [ -f "fuzz/dict/$h.dict" ] && dict=(-dict="fuzz/dict/$h.dict")
  echo "==== $h: ${secs}s ===="
  # New inputs go to the first directory ($work); the corpus is only read.
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "${dict[@]}" "$work" "$corpus"; then
    failed+=("$h")
  fi
  if [ "$merge" = 1 ]; then
    before=$(find "$corpus" -type f | wc -l)
    "$bin" -merge=1 "${dict[@]}" "$corpus" "$work" 2>/dev/null
    after=$(find "$corpus" -type f | wc -l)
    echo "$h: merged $((after - before)) new input(s) into $corpus"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: findings in: ${failed[*]} (see $build/fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz/run.sh: no findings"
