# SPDX-License-Identifier: MIT
"""Store.verify() (acp_store_verify): on the store under test, and on the
core's damaged fixture plugin (tests/core_integrity/fixtures/damaged.c),
whose directory tests/bindings passes in ACP_TEST_DAMAGED_DIR."""
import os

import pytest

from acp_storage import Corrupt, Damage, Store, VerifyReport

DAMAGED_DIR = os.environ.get("ACP_TEST_DAMAGED_DIR")
needs_fixture = pytest.mark.skipif(not DAMAGED_DIR, reason="ACP_TEST_DAMAGED_DIR not set")


def damaged() -> Store:
    return Store("damaged_native:", plugin_dirs=[DAMAGED_DIR])


def test_a_healthy_store_verifies_ok_and_counts_what_it_checked(store):
    for i in range(3):
        store.save_run({"run_id": f"r{i}", "agent_name": "a", "status": "created"})
    store.save_session({"id": "s", "history": [], "state": None})
    for _ in range(4):
        store.add_event("r0", {"type": "generic"})
    report = store.verify()
    assert isinstance(report, VerifyReport)
    assert report.ok and report.items == [] and report.message == ""
    assert (report.runs, report.sessions, report.events, report.damaged) == (3, 1, 4, 0)


@needs_fixture
def test_every_damaged_item_is_reported_with_where_and_why():
    with damaged() as s:
        report = s.verify()
    assert not report.ok
    assert report.damaged == len(report.items) == 6 and report.quarantined == 0
    assert (report.runs, report.sessions, report.events) == (3, 2, 3)
    assert "6 damaged items" in report.message
    assert all(isinstance(d, Damage) and d.reason for d in report.items)
    by = {(d.kind, d.key, d.seq): d for d in report.items}
    assert by[("other", None, 0)].location == "runs/.tmp-1"
    ev3 = by[("event", "r-good", 3)]
    assert ev3.location == "events/r-good.log record 3" and ev3.moved_to is None
    assert {("run", "r-mismatch", 0), ("run", "r-broken", 0), ("session", "s-bad", 0),
            ("event", "r-good", 2)} <= set(by)


@needs_fixture
def test_quarantine_moves_aside_what_the_backend_can():
    with damaged() as s:
        with pytest.raises(Corrupt):
            list(s.events("r-good"))
        report = s.verify(quarantine=True)
        assert report.quarantined == 1
        moved = [d for d in report.items if d.moved_to]
        assert [(d.key, d.seq, d.moved_to) for d in moved] == [
            ("r-good", 3, "quarantine/r-good.log.3")]
        assert len(list(s.events("r-good"))) == 3
        assert s.verify(quarantine=True).damaged == 5


@needs_fixture
def test_the_callback_sees_each_item_and_can_stop_the_walk():
    seen = []
    with damaged() as s:
        report = s.verify(on_damage=lambda d: seen.append(d) or True)
    assert len(seen) == 1 and report.items == seen and report.damaged == 1
    assert "stopped early" in report.message


@needs_fixture
def test_an_exception_in_the_callback_stops_the_walk_and_is_raised():
    class Stop(Exception):
        pass

    def boom(d):
        raise Stop(d.reason)

    with damaged() as s:
        with pytest.raises(Stop):
            s.verify(on_damage=boom)
        assert s.verify().damaged == 6  # the store is still usable
