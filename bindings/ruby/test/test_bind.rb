# SPDX-License-Identifier: MIT
# The calls through acp_storage_bind.h (get_*_json, add_event_json): the
# library's messages unchanged, text holding a NUL byte never cut at it, and
# a document holding one (tests/bind's fixture plugin, whose directory
# tests/bindings passes in ACP_TEST_BIND_DIR) coming back whole.
require_relative "test_helper"

class TestBind < Minitest::Test
  include StoreUri

  def setup
    super
    @store = AcpStorage::Store.new(store_uri)
  end

  def teardown
    @store.close
    super
  end

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
