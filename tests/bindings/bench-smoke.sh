#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-smoke.sh STATE HELPER BENCHDIR
# Runs bench/bindings/overhead.py and overhead.rb at a tiny scale with the
# bindings installed in STATE (install-python.sh, install-ruby.sh), so that
# the scripts never rot.  Checks that each reports the four rows with
# numbers; asserts nothing about speed.
set -euo pipefail
state=$1 helper=$2 bench=$3
py="$state/python/venv/bin/python"
export GEM_HOME="$state/ruby/gems" GEM_PATH
GEM_PATH=$(cat "$state/ruby/gem_path")
check() {
  "$py" -c '
import json, sys
r = json.load(sys.stdin)
rows = r["rows"]
assert len(rows) == 4, rows
assert {(x["op"], x["form"] in ("JSON text",)) for x in rows} == {
    ("get_run", True), ("get_run", False), ("add_event", True), ("add_event", False)}, rows
for x in rows:
    assert x["c_ns"] > 0 and x["binding_ns"] > 0, x
    assert abs(x["binding_ns"] - x["c_ns"] - x["overhead_ns"]) < 0.2, x
print(sys.argv[1], "ok:", ", ".join("%s (%s) %.0f ns" % (x["op"], x["form"], x["overhead_ns"]) for x in rows))
' "$1"
}
"$py" "$bench/overhead.py" --helper "$helper" --calls 300 --trials 2 --json | check python
ruby "$bench/overhead.rb" --helper "$helper" --calls 300 --trials 2 --json | check ruby
