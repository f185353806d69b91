# SPDX-License-Identifier: MIT
require_relative "test_helper"

class TestStore < Minitest::Test
  include StoreUri

  def setup
    super
    @store = AcpStorage::Store.new(store_uri)
  end

  def teardown
    @store.close
    super
  end

  def run_doc(id, agent: "echo", session: nil, created: "2025-06-01T12:00:00Z", **extra)
    d = { "run_id" => id, "agent_name" => agent, "status" => "created", "output" => [],
          "created_at" => created }
    d["session_id"] = session if session
    d.merge(extra.transform_keys(&:to_s))
  end

  def test_run_saved_as_hash_comes_back_equal
    doc = run_doc("r1", session: "s1", output: [{ "role" => "agent/echo", "parts" => [
      { "content_type" => "text/plain", "content" => "Sunny, 24\u00b0C" }] }])
    @store.save_run(doc)
    assert_equal doc, @store.get_run("r1")
  end

  def test_run_saved_as_json_text_comes_back_byte_for_byte
    text = %({ "run_id" : "r2",\n "agent_name":"echo", "status":"completed", "x": 1.50 })
    @store.save_run_json(text)
    assert_equal text, @store.get_run_json("r2")
    assert_equal Encoding::UTF_8, @store.get_run_json("r2").encoding
  end

  # A get copies into the fiber's buffer (16 KiB at first), which grows to
  # fit up to 1 MiB; a bigger document gets a buffer of its own.  Each size
  # twice, then a smaller document: no longer one's tail may show.
  def test_documents_of_every_size_come_back_whole
    [10, 16_000, 17_500, 300_000, 1_200_000, 3_000_000].each do |size|
      text = JSON.generate(run_doc("big", note: "x" * size))
      @store.save_run_json(text)
      assert_equal text, @store.get_run_json("big")
      assert_equal text, @store.get_run_json("big")
      @store.save_session_json(JSON.generate({ "id" => "s-big", "note" => "y" * size }))
      assert_equal "y" * size, @store.get_session("s-big")["note"]
      small = JSON.generate(run_doc("big"))
      @store.save_run_json(small)
      assert_equal small, @store.get_run_json("big")
    end
  end

  def test_unicode_ids_and_content_round_trip
    doc = run_doc("r\u00e9-\u65e5\u672c", agent: "\u00e9cho", note: "\u{1f600}")
    @store.save_run(doc)
    assert_equal doc, @store.get_run("r\u00e9-\u65e5\u672c")
  end

  def test_missing_run_raises_not_found_with_the_library_message
    e = assert_raises(AcpStorage::NotFound) { @store.get_run("nope") }
    assert_kind_of AcpStorage::Error, e
    assert_equal 1, e.status
    assert_equal "NOT_FOUND", e.status_name
    # The library's own words for the same call, unchanged.
    err = AcpStorage::Native::Err.new
    out = FFI::MemoryPointer.new(:pointer)
    len = FFI::MemoryPointer.new(:size_t)
    handle = @store.instance_variable_get(:@handle)
    assert_equal 1, AcpStorage::Native.acp_run_get(handle, "nope", out, len, err)
    assert_equal err[:message].to_ptr.read_string, e.message
    assert_includes e.message, "nope"
  end

  def test_invalid_run_raises_invalid_and_stores_nothing
    e = assert_raises(AcpStorage::Invalid) { @store.save_run("run_id" => "r4", "status" => "created") }
    assert_includes e.message, "agent_name"
    assert_raises(AcpStorage::Invalid) { @store.save_run(run_doc("r4", status: "no-such-status")) }
    assert_raises(AcpStorage::Invalid) { @store.save_run(run_doc("r4", score: Float::NAN)) }
    assert_raises(AcpStorage::Invalid) { @store.save_run_json(%({"run_id": "r4", )) }
    assert_raises(AcpStorage::NotFound) { @store.get_run("r4") }
  end

  def test_nul_in_an_id_is_refused_not_truncated
    @store.save_run(run_doc("ab"))
    assert_raises(AcpStorage::Invalid) { @store.get_run("ab\0cd") }
    assert_raises(AcpStorage::Invalid) { @store.delete_run("ab\0cd") }
    assert_equal "ab", @store.get_run("ab")["run_id"]
  end

  def test_delete_run_removes_it_and_its_events
    @store.save_run(run_doc("r6"))
    @store.add_event("r6", "type" => "run.created")
    assert_nil @store.delete_run("r6")
    assert_raises(AcpStorage::NotFound) { @store.get_run("r6") }
    assert_equal [], @store.each_event("r6").to_a
    assert_raises(AcpStorage::NotFound) { @store.delete_run("r6") }
  end

  def test_list_runs_filters_newest_first_with_total
    6.times do |i|
      @store.save_run(run_doc("r#{i}", agent: i.odd? ? "a" : "b", session: i < 3 ? "s" : nil,
                                       created: "2025-06-01T12:00:0#{i}Z"))
    end
    page = @store.list_runs(agent_name: "a", limit: 2, total: true)
    assert_equal %w[r5 r3], page.map { |r| r["run_id"] }
    assert_equal 3, page.total
    rest = @store.list_runs(agent_name: "a", limit: 2, cursor: page.next_cursor)
    assert_equal %w[r1], rest.map { |r| r["run_id"] }
    assert_nil rest.next_cursor
    assert_nil rest.total
    assert_equal %w[r2 r1 r0], @store.list_runs(session_id: "s").map { |r| r["run_id"] }
    assert_equal %w[r1 r0], @store.list_runs(limit: 2, offset: 4).map { |r| r["run_id"] }
    assert_kind_of String, @store.list_runs_json(limit: 1).items.first
    assert_raises(AcpStorage::Invalid) { @store.list_runs(limit: 5000) }
  end

  def test_each_run_walks_every_page_once_as_an_enumerator
    ids = (0...53).map { |i| format("run-%03d", i) }
    ids.each_with_index do |id, i|
      @store.save_run(run_doc(id, created: format("2025-06-01T12:%02d:%02dZ", i / 60, i % 60)))
    end
    enum = @store.each_run(page_size: 7)
    assert_kind_of Enumerator, enum
    assert_equal ids.reverse, enum.map { |r| r["run_id"] }
    assert_equal ids.reverse.first(3), @store.each_run_json(page_size: 2).first(3).map { |t| JSON.parse(t)["run_id"] }
  end

  def test_sessions_round_trip_and_iterate
    docs = [false, 0, nil, { "count" => 2 }, "x"].each_with_index.map do |v, i|
      { "id" => "s#{i}", "history" => [], "state" => v }
    end
    docs.each { |d| @store.save_session(d) }
    docs.each { |d| assert_equal d, @store.get_session(d["id"]) }
    assert_equal docs.map { |d| d["id"] }, @store.each_session(page_size: 2).map { |s| s["id"] }
    page = @store.list_sessions(after_id: "s1", limit: 2)
    assert_equal %w[s2 s3], page.map { |s| s["id"] }
    assert_equal "s3", page.next_cursor
    @store.delete_session("s0")
    assert_raises(AcpStorage::NotFound) { @store.get_session("s0") }
    assert_raises(AcpStorage::NotFound) { @store.delete_session("s0") }
  end

  def test_events_numbered_from_one_and_iterated_after_seq
    25.times { |i| assert_equal i + 1, @store.add_event("r7", "type" => "message.part", "i" => i) }
    assert_equal 26, @store.add_event_json("r7", %({"type":"run.completed" }))
    evs = @store.each_event("r7", page_size: 4).to_a
    assert_equal (1..26).to_a, evs.map(&:seq)
    assert_equal({ "type" => "message.part", "i" => 3 }, evs[3].event)
    assert(evs.all? { |e| e.time_us.positive? })
    later = @store.each_event_json("r7", after_seq: 24).to_a
    assert_equal [25, 26], later.map(&:seq)
    assert_equal %({"type":"run.completed" }), later.last.event
    assert_equal [3, 4, 5], @store.list_events("r7", limit: 3, offset: 2).map(&:seq)
    assert_equal [], @store.each_event("no-such-run").to_a
    assert_raises(AcpStorage::Invalid) { @store.add_event("r8", "kind" => "x") }
  end

  def test_open_with_a_block_closes_and_closed_store_refuses_calls
    kept = nil
    AcpStorage::Store.open(store_uri) do |s|
      assert s.ping
      kept = s
    end
    assert kept.closed?
    e = assert_raises(AcpStorage::Invalid) { kept.get_run("r") }
    assert_equal "the store is closed", e.message
    kept.close
  end

  def test_store_properties
    assert_includes %w[memory sqlite file postgres redis], @store.backend
    refute_empty @store.backend_version
    assert_kind_of Integer, @store.capabilities
  end

  def test_many_threads_share_one_store
    seqs = Queue.new
    threads = Array.new(8) do |t|
      Thread.new do
        60.times do |i|
          seqs << @store.add_event("shared", "type" => "generic", "t" => t, "i" => i)
          @store.save_run(run_doc("t#{t}-#{i}"))
          assert_equal "t#{t}-#{i}", @store.get_run("t#{t}-#{i}")["run_id"]
          e = assert_raises(AcpStorage::NotFound) { @store.get_run("missing-#{t}") }
          assert_includes e.message, "missing-#{t}" # each thread its own message
        end
      end
    end
    threads.each(&:join)
    got = Array.new(seqs.size) { seqs.pop }.sort
    assert_equal (1..480).to_a, got
    assert_equal got, @store.each_event("shared", page_size: 1000).map(&:seq)
  end

  def test_close_waits_for_calls_in_progress
    s = AcpStorage::Store.new(store_uri)
    go = Queue.new
    threads = Array.new(4) do
      Thread.new do
        go.pop
        n = 0
        loop do
          s.add_event("c", "type" => "x")
          n += 1
        rescue AcpStorage::Invalid => e
          raise unless e.message == "the store is closed"

          break
        end
        n
      end
    end
    4.times { go << true }
    sleep 0.01
    s.close
    threads.each(&:value)
    assert s.closed?
  end

  # Both ways of calling give the same documents, errors and sequence
  # numbers, whichever the backend chose by default.
  def test_calls_holding_or_releasing_the_interpreter_lock_agree
    [true, false].each do |release|
      AcpStorage::Store.open(store_uri, release_gvl: release) do |s|
        assert_equal release, s.releases_gvl?
        text = %({"run_id":"g#{release}","agent_name":"echo","status":"created","x":"\u00e9"})
        s.save_run_json(text)
        assert_equal text, s.get_run_json("g#{release}")
        assert_equal Encoding::UTF_8, s.get_run_json("g#{release}").encoding
        assert_equal [1, 2], [s.add_event_json("g#{release}", %({"type":"a"})),
                              s.add_event("g#{release}", { "type" => "b" })]
        s.save_session({ "id" => "s#{release}" })
        assert_equal({ "id" => "s#{release}" }, s.get_session("s#{release}"))
        assert_raises(AcpStorage::NotFound) { s.get_run_json("missing") }
        assert_raises(AcpStorage::Invalid) { s.get_run_json("ab\0cd") }
        assert_raises(TypeError) { s.get_run_json(42) }
      end
    end
  end

  # Only a backend that answers from this process's memory keeps the lock
  # by default; sqlite, file, postgres and redis calls wait on disk or the
  # network and must let other threads run.
  def test_the_lock_is_kept_by_default_only_for_in_memory_backends
    in_memory = (@store.capabilities & 0b1111) == 1
    assert_equal !in_memory, @store.releases_gvl?
    assert_equal ENV.fetch("ACP_TEST_STORE", "memory:") == "memory:", in_memory
  end

  # The calls through acp_storage_bind.h (get_*_json, add_event_json): the
  # library's messages unchanged, text holding a NUL byte never cut at it,
  # and a document holding one (tests/bind's fixture plugin, whose
  # directory tests/bindings passes in ACP_TEST_BIND_DIR) coming back whole.

  # What acp_event_add itself says for the document with its length.
  def event_add_message(run_id, doc)
    err = AcpStorage::Native::Err.new
    seq = FFI::MemoryPointer.new(:int64)
    handle = @store.instance_variable_get(:@handle)
    refute_equal 0, AcpStorage::Native.acp_event_add(handle, run_id, doc, doc.bytesize, seq, err)
    err[:message].to_ptr.read_string
  end

  def test_event_errors_carry_the_library_message_unchanged
    e = assert_raises(AcpStorage::Invalid) { @store.add_event_json("r9", %({"kind":"x"})) }
    assert_equal event_add_message("r9", %({"kind":"x"})), e.message
    # The next call of the same thread starts clean.
    assert_equal 1, @store.add_event_json("r9", %({"type":"x"}))
  end

  def test_event_text_holding_a_nul_is_not_cut_at_it
    [%({"type":"a"}\0junk), %({"type":"a\0b"})].each do |text|
      e = assert_raises(AcpStorage::Invalid) { @store.add_event_json("r10", text) }
      assert_equal event_add_message("r10", text), e.message
    end
    assert_equal [], @store.each_event_json("r10").to_a
  end

  def test_a_document_holding_a_nul_comes_back_whole
    dir = ENV["ACP_TEST_BIND_DIR"] or skip "ACP_TEST_BIND_DIR not set"
    want = %({"run_id":"nul","id":"nul","x":"a\0b"})
    AcpStorage::Store.open("bindnul:", plugin_dirs: [dir]) do |s|
      assert_equal want, s.get_run_json("nul")
      assert_equal want, s.get_session_json("nul")
      assert_equal Encoding::UTF_8, s.get_run_json("nul").encoding
      assert_raises(AcpStorage::NotFound) { s.get_run_json("other") }
    end
  end
end
