#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# flip_sweep.sh ACP_STORAGE_BINARY [TRIALS [SEED]] - the class behind the
# sqlite document checksums: a store of 50 runs is written and closed (so
# every document is in the database file), then TRIALS times a copy gets
# one byte changed at a random place inside a random run document, and
#   run get <that run>   must fail with CORRUPT (exit 1, "checksum" named),
#   run list             must fail naming the run,
#   verify               must exit 1 naming the run,
# while every other run stays readable with run get.  Prints the counts;
# exits non-zero if any damaged document was served as OK.
set -euo pipefail
A=$1
TRIALS=${2:-40}
SEED=${3:-1}
PY=$(command -v python3)
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-flip-XXXXXX")
trap 'rm -rf "$T"' EXIT

for i in $(seq -w 1 50); do
    printf '{"run_id":"sweep-%s","agent_name":"a%s","status":"created","note":"document number %s of the sweep"}' \
        "$i" "$((10#$i % 3))" "$i" >"$T/doc"
    "$A" --store "sqlite:$T/base.db" run save "$T/doc" >/dev/null
done

detected=0 listed=0 verified=0 missed=0 others_ok=0 others_bad=0
for t in $(seq 1 "$TRIALS"); do
    cp "$T/base.db" "$T/t.db"
    # Change one byte of one document (never to itself), as a bad sector or
    # an editor would; print the run it belongs to.
    run=$("$PY" - "$T/t.db" "$SEED" "$t" <<'PY'
import random, re, sys
path, seed, trial = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed * 100003 + trial)
data = bytearray(open(path, 'rb').read())
docs = [m for m in re.finditer(rb'\{"run_id":"(sweep-\d+)"[^}]*\}', bytes(data))]
m = rng.choice(docs)
at = rng.randrange(m.start(), m.end())
data[at] ^= rng.randrange(1, 256)
open(path, 'wb').write(data)
print(m.group(1).decode())
PY
)
    S="sqlite:$T/t.db"
    if "$A" --store "$S" run get "$run" >"$T/out" 2>"$T/err"; then
        missed=$((missed + 1))
        echo "trial $t: $run served as OK after a changed byte: $(cat "$T/out")"
    elif grep -q "run $run" "$T/err" && grep -q checksum "$T/err"; then
        detected=$((detected + 1))
    else
        echo "trial $t: run get $run failed without naming it: $(cat "$T/err")"
    fi
    if ! "$A" --store "$S" run list --limit 100 >/dev/null 2>"$T/err" && grep -q "run $run" "$T/err"; then
        listed=$((listed + 1))
    fi
    if ! "$A" --store "$S" verify >"$T/out" 2>&1 && grep -q "$run" "$T/out"; then
        verified=$((verified + 1))
    fi
    other=sweep-$(printf '%02d' $(( (10#${run#sweep-} % 50) + 1 )))
    if "$A" --store "$S" run get "$other" >/dev/null 2>&1; then
        others_ok=$((others_ok + 1))
    else
        others_bad=$((others_bad + 1))
    fi
done
echo "flip_sweep: $TRIALS changed bytes: get CORRUPT naming the run $detected, list $listed, verify $verified, served as OK $missed; another run readable $others_ok, not $others_bad"
[ "$missed" -eq 0 ] && [ "$detected" -eq "$TRIALS" ] && [ "$listed" -eq "$TRIALS" ] &&
    [ "$verified" -eq "$TRIALS" ] && [ "$others_bad" -eq 0 ]
