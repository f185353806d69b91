# SPDX-License-Identifier: MIT
"""The Python binding against the store named by ACP_TEST_STORE."""
import ctypes
import json
import os
import threading

import pytest

import acp_storage
from acp_storage import (AcpStorageError, Invalid, NotFound, Store, StoredEvent,
                         StoredEventJSON)


def run(run_id, agent="echo", session=None, created="2025-06-01T12:00:00Z", **extra):
    doc = {"run_id": run_id, "agent_name": agent, "status": "created", "output": [],
           "created_at": created}
    if session is not None:
        doc["session_id"] = session
    doc.update(extra)
    return doc


def test_run_saved_as_dict_comes_back_equal(store):
    doc = run("r1", session="s1", output=[{"role": "agent/echo", "parts": [
        {"content_type": "text/plain", "content": "Sunny, 24\u00b0C"}]}])
    store.save_run(doc)
    assert store.get_run("r1") == doc


def test_run_saved_as_json_text_comes_back_byte_for_byte(store):
    text = '{ "run_id" : "r2",\n "agent_name":"echo", "status":"completed", "x": 1.50 }'
    store.save_run_json(text)
    assert store.get_run_json("r2") == text
    store.save_run_json(text.replace("r2", "r3").encode())
    assert store.get_run_json("r3") == text.replace("r2", "r3")


@pytest.mark.parametrize("size", [10, 16000, 17500, 300000, 1_200_000, 3_000_000])
def test_documents_of_every_size_come_back_whole(store, size):
    # A get copies into the thread's acp_bind buffer (16 KiB at first),
    # which grows to fit and is kept up to 1 MiB (see tests/bind).  Each
    # size twice, and a smaller one after it: the buffer must not keep a
    # longer document's tail.
    text = json.dumps(run("big", note="x" * size), separators=(",", ":"))
    store.save_run_json(text)
    assert store.get_run_json("big") == text
    assert store.get_run_json("big") == text
    store.save_session_json(json.dumps({"id": "s-big", "note": "y" * size}))
    assert store.get_session("s-big")["note"] == "y" * size
    small = json.dumps(run("big"), separators=(",", ":"))
    store.save_run_json(small)
    assert store.get_run_json("big") == small


def test_unicode_ids_and_content_round_trip(store):
    doc = run("r\u00e9-\u65e5\u672c", agent="\u00e9cho", note="\U0001f600")
    store.save_run(doc)
    assert store.get_run("r\u00e9-\u65e5\u672c") == doc


def test_missing_run_raises_not_found_with_the_library_message(store):
    with pytest.raises(NotFound) as e:
        store.get_run("nope")
    assert isinstance(e.value, AcpStorageError) and isinstance(e.value, LookupError)
    assert e.value.status == 1 and e.value.status_name == "NOT_FOUND"
    assert str(e.value) == library_message(store, b"nope")


def library_message(store, run_id):
    """What the C library itself says for the same call (messages must pass
    through the binding unchanged)."""
    lib = acp_storage.library()
    err = acp_storage._lib.AcpError()
    out, n = ctypes.c_char_p(), ctypes.c_size_t()
    st = lib.acp_run_get(store._handle, run_id, ctypes.byref(out), ctypes.byref(n),
                         ctypes.byref(err))
    assert st != 0
    return err.message.decode()


def test_invalid_run_raises_invalid_and_stores_nothing(store):
    with pytest.raises(Invalid) as e:
        store.save_run({"run_id": "r4", "status": "created"})
    assert "agent_name" in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(Invalid):
        store.save_run(run("r4", status="no-such-status"))
    with pytest.raises(NotFound):
        store.get_run("r4")


def test_document_that_is_not_json_is_invalid(store):
    with pytest.raises(Invalid):
        store.save_run(run("r5", score=float("nan")))
    with pytest.raises(Invalid):
        store.save_run({"run_id": "r5", "agent_name": "a", "status": "created", "o": object()})
    with pytest.raises(Invalid):
        store.save_run_json('{"run_id": "r5", ')


def test_nul_in_an_id_is_refused_not_truncated(store):
    store.save_run(run("ab"))
    with pytest.raises(Invalid):
        store.get_run("ab\0cd")
    with pytest.raises(Invalid):
        store.delete_run("ab\0cd")
    assert store.get_run("ab")["run_id"] == "ab"


def test_delete_run_removes_it_and_its_events(store):
    store.save_run(run("r6"))
    store.add_event("r6", {"type": "run.created"})
    store.delete_run("r6")
    with pytest.raises(NotFound):
        store.get_run("r6")
    assert list(store.events("r6")) == []
    with pytest.raises(NotFound):
        store.delete_run("r6")


def test_list_runs_filters_newest_first_with_total(store):
    for i in range(6):
        store.save_run(run(f"r{i}", agent="a" if i % 2 else "b", session="s" if i < 3 else None,
                           created=f"2025-06-01T12:00:0{i}Z"))
    page = store.list_runs(agent_name="a", limit=2, total=True)
    assert [r["run_id"] for r in page] == ["r5", "r3"]
    assert page.total == 3 and page.next_cursor is not None
    rest = store.list_runs(agent_name="a", limit=2, cursor=page.next_cursor)
    assert [r["run_id"] for r in rest] == ["r1"] and rest.next_cursor is None
    assert rest.total is None
    assert [r["run_id"] for r in store.list_runs(session_id="s", limit=10)] == ["r2", "r1", "r0"]
    assert [r["run_id"] for r in store.list_runs(limit=2, offset=4)] == ["r1", "r0"]
    raw = store.list_runs_json(limit=1)
    assert isinstance(raw.items[0], str) and json.loads(raw.items[0])["run_id"] == "r5"


def test_runs_iterator_walks_every_page_once(store):
    ids = {f"run-{i:03d}" for i in range(53)}
    for i, rid in enumerate(sorted(ids)):
        store.save_run(run(rid, created=f"2025-06-01T12:{i // 60:02d}:{i % 60:02d}Z"))
    seen = [r["run_id"] for r in store.runs(page_size=7)]
    assert len(seen) == 53 and set(seen) == ids
    assert seen == sorted(ids, reverse=True)
    assert [json.loads(t)["run_id"] for t in store.runs_json(page_size=50)] == seen


def test_bad_limit_is_the_library_s_invalid(store):
    with pytest.raises(Invalid):
        store.list_runs(limit=5000)
    with pytest.raises(Invalid):
        store.list_events("r", limit=-1)


def test_sessions_round_trip_and_iterate(store):
    docs = [{"id": f"s{i}", "history": [], "state": v}
            for i, v in enumerate([False, 0, None, {"count": 2}, "x"])]
    for d in docs:
        store.save_session(d)
    for d in docs:
        got = store.get_session(d["id"])
        assert got == d and type(got["state"]) is type(d["state"])
    assert [s["id"] for s in store.sessions(page_size=2)] == [d["id"] for d in docs]
    page = store.list_sessions(after_id="s1", limit=2)
    assert [s["id"] for s in page] == ["s2", "s3"] and page.next_cursor == "s3"
    store.save_session_json('{"id":"s9",  "state":null}')
    assert store.get_session_json("s9") == '{"id":"s9",  "state":null}'
    store.delete_session("s0")
    with pytest.raises(NotFound):
        store.get_session("s0")
    with pytest.raises(NotFound):
        store.delete_session("s0")


def test_events_numbered_from_one_and_iterated_after_seq(store):
    for i in range(25):
        assert store.add_event("r7", {"type": "message.part", "i": i}) == i + 1
    assert store.add_event_json("r7", '{"type":"run.completed" }') == 26
    evs = list(store.events("r7", page_size=4))
    assert [e.seq for e in evs] == list(range(1, 27))
    assert isinstance(evs[0], StoredEvent) and evs[3].event == {"type": "message.part", "i": 3}
    assert all(e.time_us > 0 for e in evs)
    later = list(store.events_json("r7", after_seq=24))
    assert [e.seq for e in later] == [25, 26] and isinstance(later[1], StoredEventJSON)
    assert later[1].json == '{"type":"run.completed" }'
    page = store.list_events("r7", limit=3, offset=2)
    assert [e.seq for e in page] == [3, 4, 5]
    assert list(store.events("no-such-run")) == []


def test_event_without_type_is_invalid_and_not_added(store):
    with pytest.raises(Invalid):
        store.add_event("r8", {"kind": "x"})
    assert store.add_event("r8", {"type": "x"}) == 1


def test_context_manager_closes_and_closed_store_refuses_calls(uri):
    with Store(uri) as s:
        s.ping()
        assert not s.closed
    assert s.closed
    with pytest.raises(Invalid):
        s.get_run("r")
    s.close()  # twice is fine


def test_store_properties(store):
    assert store.backend in {"memory", "sqlite", "file", "postgres", "redis"}
    assert store.backend_version
    assert isinstance(store.capabilities, int)
    assert acp_storage.version() == acp_storage.library().acp_version().decode()


def test_many_threads_share_one_store(store):
    n_threads, per = 8, 60
    seqs, errors = [], []
    lock = threading.Lock()

    def work(t):
        try:
            mine = []
            for i in range(per):
                mine.append(store.add_event("shared", {"type": "generic", "t": t, "i": i}))
                store.save_run(run(f"t{t}-{i}"))
                assert store.get_run(f"t{t}-{i}")["run_id"] == f"t{t}-{i}"
                try:
                    store.get_run(f"missing-{t}")
                except NotFound as e:
                    assert f"missing-{t}" in str(e)  # each thread its own message
            with lock:
                seqs.extend(mine)
        except Exception as e:  # reported below: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(seqs) == list(range(1, n_threads * per + 1))
    assert [e.seq for e in store.events("shared", page_size=1000)] == sorted(seqs)


def test_close_waits_for_calls_in_progress(uri):
    s = Store(uri)
    started, errors, counts = threading.Barrier(5), [], []

    def work():
        n = 0
        started.wait()
        while True:
            try:
                s.add_event("c", {"type": "x"})
                n += 1
            except Invalid as e:
                if str(e) != "the store is closed":
                    errors.append(e)
                break
            except Exception as e:
                errors.append(e)
                break
        counts.append(n)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    s.close()  # while four threads are calling: must neither crash nor hang
    for t in threads:
        t.join()
    assert errors == [] and len(counts) == 4 and s.closed


def test_library_calls_release_the_interpreter_lock():
    # ctypes.CDLL (unlike PyDLL) drops the GIL around every foreign call.
    lib = acp_storage.library()
    assert isinstance(lib, ctypes.CDLL) and not isinstance(lib, ctypes.PyDLL)


@pytest.mark.parametrize("release", [True, False])
def test_calls_keeping_or_releasing_the_interpreter_lock_agree(uri, release):
    # Both ways of calling give the same documents, errors and sequence
    # numbers, whichever the backend chose by default.
    with Store(uri, release_gil=release) as s:
        assert s.releases_gil is release
        text = '{"run_id":"g1","agent_name":"echo","status":"created","x":"\u00e9"}'
        s.save_run_json(text)
        assert s.get_run_json("g1") == text
        assert [s.add_event_json("g1", '{"type":"a"}'), s.add_event("g1", {"type": "b"})] == [1, 2]
        s.save_session({"id": "s1"})
        assert s.get_session("s1") == {"id": "s1"}
        with pytest.raises(NotFound):
            s.get_run_json("missing")
        with pytest.raises(Invalid):
            s.get_run_json("ab\0cd")


def test_the_lock_is_released_by_default_and_kept_only_on_request_in_memory(store):
    # By default every call releases the lock; release_gil=False keeps it only
    # where a call never waits on disk or the network (an in-memory store).
    assert store.releases_gil is True
    with Store("memory:", release_gil=False) as held:
        assert held.releases_gil is False


def event_add_message(store, run_id, doc):
    """What acp_event_add itself says for the document with its length."""
    lib = acp_storage.library()
    err = acp_storage._lib.AcpError()
    st = lib.acp_event_add(store._handle, run_id, doc, len(doc), None, ctypes.byref(err))
    assert st != 0
    return err.message.decode()


def test_event_errors_carry_the_library_message_unchanged(store):
    with pytest.raises(Invalid) as e:
        store.add_event_json("r9", '{"kind":"x"}')
    assert str(e.value) == event_add_message(store, b"r9", b'{"kind":"x"}')
    # The next call on the same thread starts clean.
    assert store.add_event_json("r9", '{"type":"x"}') == 1


@pytest.mark.parametrize("text", ['{"type":"a"}\0junk', '{"type":"a\0b"}'])
def test_event_text_holding_a_nul_is_not_cut_at_it(store, text):
    # The NUL-terminated fast path would store '{"type":"a"}' from the
    # first: such text goes in with its length, and the library refuses it.
    with pytest.raises(Invalid) as e:
        store.add_event_json("r10", text)
    assert str(e.value) == event_add_message(store, b"r10", text.encode())
    assert list(store.events_json("r10")) == []


def test_each_thread_keeps_its_own_call_context(store):
    # Threads that come and go each make their context (and release it when
    # they end); the errors and documents they see are their own.
    store.save_run(run("ctx"))
    seen, errors = [], []

    def work(t):
        try:
            assert store.get_run("ctx")["run_id"] == "ctx"
            with pytest.raises(NotFound) as e:
                store.get_run_json(f"missing-{t}")
            assert f"missing-{t}" in str(e.value)
            seen.append(store.add_event_json(f"ctx-{t}", '{"type":"x"}'))
        except BaseException as e:  # reported below
            errors.append(e)

    for batch in range(5):
        threads = [threading.Thread(target=work, args=(batch * 10 + t,)) for t in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and seen == [1] * 50


BIND_DIR = os.environ.get("ACP_TEST_BIND_DIR")


@pytest.mark.skipif(not BIND_DIR, reason="ACP_TEST_BIND_DIR not set")
def test_a_document_holding_a_nul_comes_back_whole():
    # tests/bind/fixtures/nuldoc.c hands back such a document (no save
    # can store one: a NUL is not JSON); it must not be cut at the NUL.
    want = '{"run_id":"nul","id":"nul","x":"a\0b"}'
    with Store("bindnul:", plugin_dirs=[BIND_DIR]) as s:
        assert s.get_run_json("nul") == want
        assert s.get_session_json("nul") == want
        with pytest.raises(NotFound):
            s.get_run_json("other")
