# SPDX-License-Identifier: MIT
require "json"
require "time"

module AcpStorage
  # A storage backend for the simple_acp server gem: a drop-in for its
  # SimpleAcp::Storage::Base interface (get_run, save_run, delete_run,
  # list_runs, get_session, save_session, delete_session, add_event,
  # get_events, close, ping), keeping everything in an acp-storage store.
  #
  #   storage = AcpStorage::ServerStorage.new("sqlite:///var/lib/acp/acp.db")
  #   server = SimpleAcp::Server::Base.new(storage: storage)
  #
  # Model objects are turned into JSON here, not by their own #to_h, which
  # writes times with whole seconds: every Time is written in UTC with as
  # many fraction digits as it has (up to nanoseconds), so a run read back
  # has the same created_at and finished_at, and runs created within one
  # second are listed in their true order.  Documents are read back through
  # the models' from_hash (Run, Session, Events), which parse those times.
  #
  # models: the module holding Run, Session and Events (default
  # SimpleAcp::Models, looked up when first needed).
  class ServerStorage
    attr_reader :store

    def initialize(uri = nil, models: nil, **store_options)
      @models = models
      @store = Store.new(uri, **store_options)
    end

    # The run, or nil when there is none.
    def get_run(run_id)
      models::Run.from_hash(@store.get_run(run_id))
    rescue NotFound
      nil
    end

    def save_run(run)
      @store.save_run(ServerStorage.document(run))
      run
    end

    # Deletes the run and its events; true, or nil when there was neither.
    def delete_run(run_id)
      @store.delete_run(run_id)
      true
    rescue NotFound
      nil
    end

    # {runs:, total:}: runs newest first, total counting every match.  A
    # limit above the library's page size is served by following cursors.
    def list_runs(agent_name: nil, session_id: nil, limit: 10, offset: 0)
      runs = []
      total = nil
      cursor = nil
      loop do
        page = @store.list_runs_json(agent_name: agent_name, session_id: session_id,
                                     limit: [limit - runs.size, PAGE_MAX].min,
                                     offset: cursor ? 0 : offset, cursor: cursor,
                                     total: total.nil?)
        total ||= page.total
        page.items.each { |text| runs << models::Run.from_hash(JSON.parse(text)) }
        break if runs.size >= limit || (cursor = page.next_cursor).nil?
      end
      { runs: runs, total: total }
    end

    # The session, or nil when there is none.
    def get_session(session_id)
      doc = @store.get_session(session_id)
      session = models::Session.from_hash(doc)
      # from_hash reads state with `||`, which turns a stored false into nil.
      session.state = false if doc["state"] == false && session.respond_to?(:state=)
      session
    rescue NotFound
      nil
    end

    def save_session(session)
      @store.save_session(ServerStorage.document(session))
      session
    end

    # Removes only the session (its runs stay); true, or nil when missing.
    def delete_session(session_id)
      @store.delete_session(session_id)
      true
    rescue NotFound
      nil
    end

    # Appends the event to the run's stream (the store numbers it).
    def add_event(run_id, event)
      @store.add_event(run_id, ServerStorage.document(event))
      event
    end

    # The run's events in the order they were added, as model objects.
    def get_events(run_id, limit: 100, offset: 0)
      events = []
      after = nil
      loop do
        page = @store.list_events_json(run_id, limit: [limit - events.size, PAGE_MAX].min,
                                               offset: after ? 0 : offset, after_seq: after || 0)
        page.items.each { |e| events << models::Events.from_hash(JSON.parse(e.event)) }
        break if events.size >= limit || page.next_cursor.nil?

        after = Integer(page.next_cursor, 10)
      end
      events
    end

    def close
      @store.close
    end

    # true when the store answers, false when it does not.
    def ping
      @store.ping
    rescue Error
      false
    end

    # The largest page the library serves in one call.
    PAGE_MAX = 1000

    # A model object (or any value inside one) as plain JSON data.  Model
    # attributes that are nil are left out, as the models' own to_h does;
    # nil inside plain Hashes and Arrays (session state) is kept.
    def self.document(value)
      case value
      when nil, true, false, Integer, Float, String then value
      when Symbol then value.to_s
      when Time then time_text(value)
      when Hash then value.each_with_object({}) { |(k, v), h| h[k.to_s] = document(v) }
      when Array then value.map { |v| document(v) }
      else model_document(value)
      end
    end

    def self.model_document(value)
      attrs = value.class.respond_to?(:attributes) ? value.class.attributes : nil
      if attrs.is_a?(Hash)
        attrs.keys.each_with_object({}) do |name, h|
          v = value.public_send(name)
          h[name.to_s] = document(v) unless v.nil?
        end
      elsif value.respond_to?(:to_h)
        document(value.to_h)
      else
        raise Invalid, "cannot store a #{value.class} as JSON"
      end
    end

    # RFC 3339 in UTC with no digit of the Time's fraction lost (Ruby's
    # clock gives nanoseconds).
    def self.time_text(time)
      ns = time.nsec
      digits = if ns.zero? then 0
               elsif (ns % 1_000_000).zero? then 3
               elsif (ns % 1000).zero? then 6
               else 9
               end
      time.getutc.iso8601(digits)
    end

    private

    def models
      @models ||= begin
        Object.const_get("SimpleAcp::Models")
      rescue NameError
        raise ::ArgumentError, "SimpleAcp::Models is not loaded: require \"simple_acp\" first, " \
                               "or pass models: (a module with Run, Session and Events)"
      end
    end
  end
end
