#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Per-call overhead of the Python binding against the C call, measured in
the same run: acp-storage-bench-calls times acp_run_get and acp_event_add
on the same documents in a store of the same URI, then this script times
the binding's get_run / add_event, as JSON text and as dict.

    overhead.py [--helper PATH] [--uri memory:] [--calls N] [--trials N] [--json]

Overhead = binding ns/call - C ns/call (medians over the trials), both in
CPU time of the calling thread, so that other processes sharing the cores
do not count; the cost of the script's own empty loop is subtracted.  The
library comes from ACP_STORAGE_LIBRARY or the dynamic loader, the plugins
from ACP_STORAGE_PLUGIN_PATH, as for any user of the binding.
docs/performance.md reports the figures.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from acp_storage import Store

# A run as a server stores it after completion, and one streamed part
# (docs/acp-model.md).
RUN = {"run_id": "3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40", "agent_name": "weather",
       "session_id": "sess-42", "status": "completed",
       "output": [{"role": "agent/weather", "parts": [
           {"content_type": "text/plain", "content": "Sunny, 24\u00b0C.",
            "content_encoding": "plain"}], "created_at": "2025-06-01T12:00:02Z"}],
       "created_at": "2025-06-01T12:00:00Z", "finished_at": "2025-06-01T12:00:03Z"}
EVENT = {"type": "message.part", "part": {"content_type": "text/plain", "content": "Sunny"}}
RUN_JSON = json.dumps(RUN, ensure_ascii=False, separators=(",", ":"))
EVENT_JSON = json.dumps(EVENT, separators=(",", ":"))


def c_side(helper, uri, calls, trials):
    out = subprocess.run([helper, uri, RUN_JSON, EVENT_JSON, str(calls), str(trials)],
                         check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines()}


def timed(fn, calls, trials, setup=None):
    per_call = []
    for t in range(trials):
        arg = setup(t) if setup else None
        t0 = time.thread_time_ns()
        for _ in range(calls):
            fn(arg)
        per_call.append((time.thread_time_ns() - t0) / calls)
    return statistics.median(per_call), min(per_call), max(per_call)


def binding_side(uri, calls, trials):
    rid = RUN["run_id"]
    # The loop and the lambda call alone, subtracted from every figure: the
    # C loop has no such cost.
    loop = timed(lambda _: None, calls, trials)[0]
    with Store(uri) as s:
        s.save_run_json(RUN_JSON)
        return loop, {
            ("get_run", "JSON text"): timed(lambda _: s.get_run_json(rid), calls, trials),
            ("get_run", "dict"): timed(lambda _: s.get_run(rid), calls, trials),
            ("add_event", "JSON text"): timed(lambda r: s.add_event_json(r, EVENT_JSON), calls,
                                              trials, setup=lambda t: f"py-json-{t}"),
            ("add_event", "dict"): timed(lambda r: s.add_event(r, EVENT), calls, trials,
                                         setup=lambda t: f"py-dict-{t}"),
        }


def find_helper(given):
    if given:
        return given
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in [shutil.which("acp-storage-bench-calls"),
                 os.path.join(here, "..", "..", "build", "release", "bench", "bindings",
                              "acp-storage-bench-calls")]:
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("overhead.py: acp-storage-bench-calls not found; pass --helper PATH")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--helper", help="path of acp-storage-bench-calls")
    ap.add_argument("--uri", default="memory:")
    ap.add_argument("--calls", type=int, default=200000)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args()
    c = c_side(find_helper(a.helper), a.uri, a.calls, a.trials)
    loop, py = binding_side(a.uri, a.calls, a.trials)
    rows = []
    for (op, form), (med, lo, hi) in py.items():
        med, lo, hi = med - loop, lo - loop, hi - loop
        rows.append({"binding": "python", "op": op, "form": form, "c_ns": c[op],
                     "binding_ns": round(med, 1), "min_ns": round(lo, 1), "max_ns": round(hi, 1),
                     "overhead_ns": round(med - c[op], 1)})
    if a.json:
        print(json.dumps({"uri": a.uri, "calls": a.calls, "trials": a.trials,
                          "loop_ns": round(loop, 1), "rows": rows}, indent=1))
        return
    print(f"Python {sys.version.split()[0]}, {a.uri}, {a.calls} calls x {a.trials} trials "
          f"(median CPU ns per call; the script's own loop, {loop:.0f} ns, subtracted)")
    print(f"{'operation':<22}{'C':>9}{'binding':>10}{'overhead':>10}  under 2 us")
    for r in rows:
        print(f"{r['op'] + ' (' + r['form'] + ')':<22}{r['c_ns']:>9.0f}{r['binding_ns']:>10.0f}"
              f"{r['overhead_ns']:>10.0f}  {'yes' if r['overhead_ns'] < 2000 else 'NO'}")


if __name__ == "__main__":
    main()
