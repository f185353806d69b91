#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# procs.sh PROGRAM URI TOTAL [SECONDS]
# Exactly once, in order, across processes: 8 followers (2 per run, 4 runs)
# in 8 processes follow while 2 writer processes of 4 threads each append
# TOTAL events (TOTAL/2 each).  Fails if any process fails.
set -uo pipefail
prog=$1 uri=$2 total=$3 seconds=${4:-300}
runs=4
per_run=$((total / runs))
pids=()
for f in 0 1 2 3 4 5 6 7; do
  "$prog" follow "$uri" "follow-$((f % runs))" "$per_run" "$seconds" &
  pids+=($!)
done
"$prog" write "$uri" "$runs" $((total / 2)) 4 0 &
w0=$!
"$prog" write "$uri" "$runs" $((total / 2)) 4 1 &
w1=$!
rc=0
wait "$w0" || { echo "writer process 0 failed"; rc=1; }
wait "$w1" || { echo "writer process 1 failed"; rc=1; }
for p in "${pids[@]}"; do
  wait "$p" || { echo "follower process $p failed"; rc=1; }
done
[ "$rc" = 0 ] && echo "$uri: $total events from 2 writer processes x 4 threads; 8 follower processes saw every event once, in order"
exit "$rc"
