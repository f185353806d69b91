# SPDX-License-Identifier: MIT
require_relative "test_helper"
require_relative "stand_in_models"

# ServerStorage against stand-in models that follow the documented
# interface of the simple_acp gem (stand_in_models.rb).
class TestServerStorage < Minitest::Test
  include StoreUri
  M = StandIn::Models

  def setup
    super
    @storage = AcpStorage::ServerStorage.new(store_uri, models: M)
  end

  def teardown
    @storage.close
    super
  end

  def agent_message(text, at: Time.now)
    M::Message.new(role: "agent/echo", created_at: at,
                   parts: [M::MessagePart.new(content_type: "text/plain", content: text)])
  end

  def test_run_round_trips_with_nanosecond_times
    created = Time.at(1_748_779_200, 123_456_789, :nsec)
    run = M::Run.new(agent_name: "echo", session_id: "s1", created_at: created)
    run.complete!([agent_message("Sunny", at: Time.at(1_748_779_201, 5, :nsec))])
    assert_same run, @storage.save_run(run)
    back = @storage.get_run(run.run_id)
    assert_kind_of M::Run, back
    assert_equal created, back.created_at
    assert_equal 123_456_789, back.created_at.nsec
    assert_equal run.finished_at, back.finished_at
    assert_equal run.output, back.output
    assert_equal 5, back.output.first.created_at.nsec
    assert_equal run, back
    # The gem's own to_h would have written whole seconds:
    refute_equal created, Time.parse(run.to_h[:created_at])
  end

  def test_stored_times_are_rfc3339_utc_with_every_digit
    run = M::Run.new(agent_name: "echo", created_at: Time.at(1_748_779_200, 250_000_000, :nsec).localtime("+02:00"))
    @storage.save_run(run)
    assert_equal "2025-06-01T12:00:00.250Z", @storage.store.get_run(run.run_id)["created_at"]
  end

  def test_runs_within_one_second_list_in_their_true_order
    base = Time.at(1_748_779_200)
    runs = (0...5).map { |i| M::Run.new(agent_name: "echo", created_at: base + Rational(i, 1000)) }
    runs.shuffle.each { |r| @storage.save_run(r) }
    listed = @storage.list_runs(limit: 5)[:runs]
    assert_equal runs.reverse.map(&:run_id), listed.map(&:run_id)
  end

  def test_missing_things_are_nil
    assert_nil @storage.get_run("nope")
    assert_nil @storage.get_session("nope")
    assert_nil @storage.delete_run("nope")
    assert_nil @storage.delete_session("nope")
    assert_equal [], @storage.get_events("nope")
  end

  def test_list_runs_filters_pages_and_counts
    base = Time.at(1_748_779_200)
    runs = (0...12).map do |i|
      M::Run.new(agent_name: i.even? ? "a" : "b", session_id: i < 4 ? "s" : nil, created_at: base + i)
    end
    runs.each { |r| @storage.save_run(r) }
    res = @storage.list_runs(agent_name: "a", limit: 2, offset: 1)
    assert_equal [runs[8], runs[6]].map(&:run_id), res[:runs].map(&:run_id)
    assert_equal 6, res[:total]
    res = @storage.list_runs(session_id: "s")
    assert_equal [3, 2, 1, 0].map { |i| runs[i].run_id }, res[:runs].map(&:run_id)
    assert_equal 4, res[:total]
    res = @storage.list_runs
    assert_equal 10, res[:runs].size
    assert_equal 12, res[:total]
    assert_equal({ runs: [], total: 12 }, @storage.list_runs(limit: 0))
  end

  def test_list_runs_beyond_one_library_page_follows_cursors
    base = Time.at(1_748_779_200)
    1005.times { |i| @storage.store.save_run("run_id" => format("r%04d", i), "agent_name" => "a", "status" => "created",
                                             "created_at" => (base + i).utc.iso8601) }
    res = @storage.list_runs(limit: 1003, offset: 1)
    assert_equal 1003, res[:runs].size
    assert_equal 1005, res[:total]
    assert_equal format("r%04d", 1003), res[:runs].first.run_id
    assert_equal "r0001", res[:runs].last.run_id
  end

  def test_delete_run_removes_its_events
    run = M::Run.new(agent_name: "echo")
    @storage.save_run(run)
    @storage.add_event(run.run_id, M::RunInProgressEvent.new(run_id: run.run_id))
    assert_equal true, @storage.delete_run(run.run_id)
    assert_nil @storage.get_run(run.run_id)
    assert_equal [], @storage.get_events(run.run_id)
  end

  def test_sessions_round_trip_including_false_and_zero_state
    [false, 0, { "count" => 2 }, [1, nil], "x", nil].each_with_index do |state, i|
      s = M::Session.new(id: "sess-#{i}", state: state, history: [agent_message("hi #{i}")])
      assert_same s, @storage.save_session(s)
      back = @storage.get_session("sess-#{i}")
      assert_kind_of M::Session, back
      state.nil? ? assert_nil(back.state) : assert_equal(state, back.state)
      assert_equal s.history, back.history
    end
    assert_equal true, @storage.delete_session("sess-0")
    assert_nil @storage.get_session("sess-0")
  end

  def test_events_come_back_as_models_in_order_with_limit_and_offset
    run = M::Run.new(agent_name: "echo")
    part = M::MessagePart.new(content_type: "text/plain", content: "Sunny")
    events = [M::RunCreatedEvent.new(run: run), M::RunInProgressEvent.new(run_id: run.run_id),
              M::MessagePartEvent.new(part: part),
              M::MessageCompletedEvent.new(message: agent_message("Sunny")),
              M::RunFailedEvent.new(run_id: run.run_id, error: M::Error.new(code: "server_error", message: "timeout")),
              M::GenericEvent.new(data: { "k" => [1, 2] })]
    events.each { |e| assert_same e, @storage.add_event(run.run_id, e) }
    back = @storage.get_events(run.run_id)
    assert_equal events.map(&:class), back.map(&:class)
    assert_equal events, back
    assert_equal run.created_at, back.first.run.created_at
    assert_equal events[2..3], @storage.get_events(run.run_id, limit: 2, offset: 2)
  end

  def test_get_events_beyond_one_library_page
    1003.times { |i| @storage.store.add_event("r", "type" => "generic", "data" => i) }
    evs = @storage.get_events("r", limit: 1002, offset: 1)
    assert_equal (1..1002).to_a, evs.map(&:data)
  end

  def test_ping_and_close
    assert_equal true, @storage.ping
    @storage.close
    assert_equal false, @storage.ping
  end

  def test_implements_every_method_of_the_storage_interface
    { get_run: [:req], save_run: [:req], delete_run: [:req], get_session: [:req],
      save_session: [:req], delete_session: [:req], add_event: %i[req req], close: [], ping: [] }.each do |m, kinds|
      assert_equal kinds, @storage.method(m).parameters.map(&:first), m
    end
    assert_equal %i[agent_name session_id limit offset].map { |k| [:key, k] },
                 @storage.method(:list_runs).parameters
    assert_equal [%i[req run_id], %i[key limit], %i[key offset]], @storage.method(:get_events).parameters
  end

  def test_default_models_are_the_gems
    storage = AcpStorage::ServerStorage.new("memory:")
    storage.store.save_run("run_id" => "x", "agent_name" => "a", "status" => "created")
    e = assert_raises(ArgumentError) { storage.get_run("x") }
    assert_includes e.message, "SimpleAcp::Models"
  ensure
    storage&.close
  end
end
