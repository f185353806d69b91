# SPDX-License-Identifier: MIT
# Store#verify (acp_store_verify): on the store under test, and on the
# core's damaged fixture plugin (tests/core_integrity/fixtures/damaged.c),
# whose directory tests/bindings passes in ACP_TEST_DAMAGED_DIR.
require_relative "test_helper"

class TestVerify < Minitest::Test
  include StoreUri

  def damaged(&block)
    dir = ENV["ACP_TEST_DAMAGED_DIR"] or skip "ACP_TEST_DAMAGED_DIR not set"
    AcpStorage::Store.open("damaged_native:", plugin_dirs: [dir], &block)
  end

  def test_a_healthy_store_verifies_ok_and_counts_what_it_checked
    AcpStorage::Store.open(store_uri) do |s|
      3.times { |i| s.save_run("run_id" => "r#{i}", "agent_name" => "a", "status" => "created") }
      s.save_session("id" => "s", "history" => [])
      4.times { s.add_event("r0", "type" => "generic") }
      r = s.verify
      assert r.ok?
      assert_equal [3, 1, 4, 0, []], [r.runs, r.sessions, r.events, r.damaged, r.items]
      assert_equal "", r.message
    end
  end

  def test_every_damaged_item_is_reported_with_where_and_why
    r = damaged(&:verify)
    refute r.ok?
    assert_equal [6, 6, 0], [r.damaged, r.items.size, r.quarantined]
    assert_equal [3, 2, 3], [r.runs, r.sessions, r.events]
    assert_includes r.message, "6 damaged items"
    by = r.items.to_h { |d| [[d.kind, d.key, d.seq], d] }
    assert_equal "runs/.tmp-1", by[["other", nil, 0]].location
    assert_equal "events/r-good.log record 3", by[["event", "r-good", 3]].location
    [["run", "r-mismatch", 0], ["run", "r-broken", 0], ["session", "s-bad", 0],
     ["event", "r-good", 2]].each { |k| assert by.key?(k), k.inspect }
    assert(r.items.all? { |d| !d.reason.empty? && d.status_name == "CORRUPT" })
  end

  def test_quarantine_moves_aside_what_the_backend_can
    damaged do |s|
      assert_raises(AcpStorage::Corrupt) { s.each_event("r-good").to_a }
      r = s.verify(quarantine: true)
      assert_equal 1, r.quarantined
      assert_equal [["r-good", 3, "quarantine/r-good.log.3"]],
                   r.items.select(&:moved_to).map { |d| [d.key, d.seq, d.moved_to] }
      assert_equal 3, s.each_event("r-good").count
      assert_equal 5, s.verify(quarantine: true).damaged
    end
  end

  def test_the_block_sees_each_item_and_can_stop_the_walk
    seen = []
    r = damaged { |s| s.verify { |d| seen << d; true } }
    assert_equal 1, seen.size
    assert_equal seen, r.items
    assert_includes r.message, "stopped early"
  end

  def test_an_exception_in_the_block_stops_the_walk_and_is_raised
    damaged do |s|
      assert_raises(ArgumentError) { s.verify { |d| raise ArgumentError, d.reason } }
      assert_equal 6, s.verify.damaged
    end
  end
end
