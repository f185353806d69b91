#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""N calls of one binding call (for counting instructions under callgrind,
which the machine's load cannot change): count.py OP N, OP one of
get_run_json, add_event_json.  Run it with two values of N and divide the
difference of the counts by the difference of N: the setup cancels out.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python3 count.py get_run_json 2000
"""
import sys

from acp_storage import Store
from overhead import EVENT_JSON, RUN, RUN_JSON

op, n = sys.argv[1], int(sys.argv[2])
with Store("memory:") as s:
    s.save_run_json(RUN_JSON)
    rid = RUN["run_id"]
    if op == "get_run_json":
        for _ in range(n):
            s.get_run_json(rid)
    else:
        for _ in range(n):
            s.add_event_json("count", EVENT_JSON)
