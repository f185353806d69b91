#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Two versions of the Python binding timed in one process, trial by trial:
the same calls (get_run_json, add_event_json on memory:) through an older
copy of the package (--old, e.g. from `git archive <commit> bindings`) and
through this tree's, alternating, so that the machine's load falls on both
alike.  CPU time of the calling thread, median (min..max) ns per call over
the trials, and the median of the per-trial differences.

    ab.py --old OLD/bindings/python/src [--calls N] [--trials N]
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python", "src"))
import acp_storage  # noqa: E402  this tree's

from overhead import EVENT_JSON, RUN, RUN_JSON  # noqa: E402


def load_old(src):
    spec = importlib.util.spec_from_file_location(
        "acp_storage_old", os.path.join(src, "acp_storage", "__init__.py"),
        submodule_search_locations=[os.path.join(src, "acp_storage")])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["acp_storage_old"] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="src folder holding the older acp_storage")
    ap.add_argument("--calls", type=int, default=50000)
    ap.add_argument("--trials", type=int, default=15)
    a = ap.parse_args()
    old = load_old(a.old)
    rid = RUN["run_id"]
    res = {}
    with old.Store("memory:") as so, acp_storage.Store("memory:") as sn:
        so.save_run_json(RUN_JSON)
        sn.save_run_json(RUN_JSON)
        for op in ("get_run_json", "add_event_json"):
            res[op] = {"old": [], "new": [], "diff": []}
            for t in range(a.trials):
                per = {}
                for side, s in (("old", so), ("new", sn)) if t % 2 == 0 else (("new", sn),
                                                                                  ("old", so)):
                    if op == "get_run_json":
                        fn, args = s.get_run_json, (rid,)
                    else:
                        fn, args = s.add_event_json, (f"ab-{side}-{t}", EVENT_JSON)
                    t0 = time.thread_time_ns()
                    for _ in range(a.calls):
                        fn(*args)
                    per[side] = (time.thread_time_ns() - t0) / a.calls
                for k in ("old", "new"):
                    res[op][k].append(per[k])
                res[op]["diff"].append(per["old"] - per["new"])
    load = open("/proc/loadavg").read().split()[:3]
    print(f"Python {sys.version.split()[0]}, memory:, {a.calls} calls x {a.trials} trials, "
          f"load average {' '.join(load)}; CPU ns per call, median (min..max)")
    for op, r in res.items():
        f = {k: (statistics.median(v), min(v), max(v)) for k, v in r.items()}
        print(f"{op:<16} old {f['old'][0]:6.0f} ({f['old'][1]:.0f}..{f['old'][2]:.0f})  "
              f"new {f['new'][0]:6.0f} ({f['new'][1]:.0f}..{f['new'][2]:.0f})  "
              f"old - new {f['diff'][0]:5.0f} ({f['diff'][1]:.0f}..{f['diff'][2]:.0f})")


if __name__ == "__main__":
    main()
