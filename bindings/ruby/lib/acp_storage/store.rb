# SPDX-License-Identifier: MIT
require "json"

module AcpStorage
  # One page of a listing: items, the cursor of the next page (nil when this
  # was the last) and, for runs listed with total: true, the count of every
  # match (else nil).
  Page = Struct.new(:items, :next_cursor, :total) do
    include Enumerable

    def each(&block)
      items.each(&block)
    end
  end

  # An event as the store keeps it: its sequence number in the run (1, 2,
  # ...), the time it was stored (microseconds since the epoch) and the
  # document (a Hash, or the exact JSON text from the *_json methods).
  StoredEvent = Struct.new(:seq, :time_us, :event)

  # One damaged item found by Store#verify: kind ("run", "session", "event",
  # "index", "other"), key (run or session id, or nil), seq (events; else
  # 0), status_name ("CORRUPT", or "IO" when it could not be read),
  # location (where in the store, or nil), reason (one line), moved_to
  # (where quarantine moved it, or nil).
  Damage = Struct.new(:kind, :key, :seq, :status_name, :location, :reason, :moved_to)

  # What Store#verify checked and found; ok is false when anything is
  # damaged, and message is then the library's summary.
  VerifyReport = Struct.new(:ok, :runs, :sessions, :events, :damaged, :quarantined, :items,
                            :message) do
    alias_method :ok?, :ok
  end

  # An open store, named by a URI ("memory:", "sqlite:///var/lib/acp/acp.db",
  # "file:///srv/acp", "postgres://...", "redis://..."); nil means the
  # environment variable ACP_STORAGE_URL.
  #
  # Every method may be called from many threads at once; the interpreter
  # lock is released while the library works, except (by default) for the
  # short calls of a store that answers from memory: see #initialize.  #close waits for calls in
  # progress on other threads; later calls raise Invalid.  Failures raise the
  # AcpStorage::Error subclass of the library's status with the library's
  # message unchanged.  Documents go in as Hashes (or JSON text, *_json) and
  # come out as Hashes with string keys (or the exact JSON text stored).
  #
  # Following a run (being told of new events as they are added) is not
  # offered: the library has no such call yet.  Poll
  # each_event(run_id, after_seq: last_seen) meanwhile.
  class Store
    # Open a store; with a block, yield it and close it afterwards.
    def self.open(uri = nil, **options)
      store = new(uri, **options)
      return store unless block_given?

      begin
        yield store
      ensure
        store.close
      end
    end

    # release_gvl: whether get, save and add_event release the interpreter
    # lock during the library call.  nil (the default) releases it unless
    # the backend keeps its data in this process's memory only and takes
    # concurrent calls (ACP_CAP_CONCURRENT and none of ACP_CAP_DURABLE,
    # _MULTIPROCESS, _NETWORK, as "memory:"): such a call
    # takes about 100 ns, less than releasing and retaking the lock, and
    # other Ruby threads wait that long at most (longer only while another
    # thread's call holds the backend's lock, e.g. a listing of a very
    # large store).  Every other call, and every call on other backends
    # (tens of microseconds to milliseconds), always releases it.
    def initialize(uri = nil, plugin_dirs: [], plugin_file: nil, timeout_ms: nil, release_gvl: nil)
      # Calls in progress, one entry each: Array#push and #pop are atomic
      # under the interpreter lock, and cost far less than a Mutex.
      @calls = []
      out = FFI::MemoryPointer.new(:pointer)
      s = Native::Scratch.current
      st = if plugin_dirs.empty? && plugin_file.nil? && timeout_ms.nil?
             Native.acp_store_open(uri.nil? ? nil : c_str(uri, "uri"), out, s.err)
           else
             open_config(uri, plugin_dirs, plugin_file, timeout_ms, out, s)
           end
      raise error(st, s) unless st.zero?

      @handle = out.read_pointer
      caps = Native.acp_store_capabilities(@handle)
      @hold_gvl = release_gvl.nil? ? (caps & CAPS) == IN_MEMORY : !release_gvl
    end

    # ACP_CAP_* (acp_storage_plugin.h): CONCURRENT, DURABLE, MULTIPROCESS,
    # NETWORK.  A backend with any of the last three may wait on disk, file
    # locks or the network; one without CONCURRENT has every call
    # serialised by the library, behind other threads' slow calls.
    CAPS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3)
    IN_MEMORY = 1 << 0

    # Verify calls in progress in this process (one entry each, as @calls).
    # A backend's own verify may hold its lock while the block waits for the
    # interpreter lock; a call holding the interpreter lock while it waits
    # for that backend lock would never return.  So no call keeps the
    # interpreter lock while any verify runs (checked just before each call;
    # "memory:" has no verify of its own, the library walks it without
    # holding any lock during the block).
    VERIFYING = []

    # Close the store, after any call other threads are making on it
    # returns.  Closing twice is fine.
    def close
      # The handle is taken away before the calls in progress are looked
      # at, and a call registers itself before it reads the handle: so
      # every call either sees nil or is waited for here.
      handle = CLOSE_LOCK.synchronize do
        h = @handle
        @handle = nil
        h
      end
      return nil if handle.nil?

      sleep(0.0005) until @calls.empty?
      Native.acp_store_close(handle)
      nil
    end

    def closed?
      @handle.nil?
    end

    # Whether get, save and add_event release the interpreter lock during
    # the library call (see release_gvl: of #initialize).
    def releases_gvl?
      !@hold_gvl
    end

    # The backend's name ("sqlite"), its version and ACP_CAP_* flags.
    def backend
      with_handle { |h| Native.acp_store_backend(h) }
    end

    def backend_version
      with_handle { |h| Native.acp_store_backend_version(h) }
    end

    def capabilities
      with_handle { |h| Native.acp_store_capabilities(h) }
    end

    # Check the store is healthy; raises Unavailable, IOError or Corrupt.
    def ping
      s = Native::Scratch.current
      check(with_handle { |h| Native.acp_store_ping(h, s.err) }, s)
      true
    end

    # Walk the whole store and check every document, event and index
    # (acp_store_verify).  Every damaged item is in the report's items and
    # is also yielded as it is found; a block returning true stops the walk.
    # quarantine: true moves damaged items aside where the backend can.  The
    # block runs while the backend may hold its locks: it must not call this
    # store.  Raises for failures of the walk itself, not for damage.
    def verify(quarantine: false)
      items = []
      failure = nil
      each = proc do |_ctx, ptr|
        item = Store.damage(Native::Damage.new(ptr))
        items << item
        block_given? && yield(item) ? 1 : 0
      rescue Exception => e # rubocop:disable Lint/RescueException -- raised again after the walk
        failure = e
        1
      end
      counts = Native::VerifyCounts.new
      s = Native::Scratch.current
      flags = quarantine ? Native::VERIFY_QUARANTINE : 0
      VERIFYING.push(nil)
      begin
        st = with_handle { |h| Native.acp_store_verify(h, flags, each, nil, counts, s.err) }
      ensure
        VERIFYING.pop
      end
      raise failure if failure
      raise error(st, s) unless [0, 6].include?(st) # OK, CORRUPT: the walk went through

      VerifyReport.new(st.zero?, counts[:runs], counts[:sessions], counts[:events],
                       counts[:damaged], counts[:quarantined], items,
                       st.zero? ? "" : error(st, s).message)
    end

    KINDS = { 1 => "run", 2 => "session", 3 => "event", 4 => "index", 5 => "other" }.freeze

    # A Damage from the library's struct; fields past its size are absent.
    def self.damage(d)
      text = lambda do |name|
        next nil if d[:size] < Native::Damage.offset_of(name) + FFI::Pointer.size

        p = d[name]
        p.null? ? nil : p.read_string.force_encoding(Encoding::UTF_8)
      end
      status = ERRORS_BY_STATUS[d[:code]]
      Damage.new(KINDS.fetch(d[:kind], "other"), text.call(:key), d[:seq],
                 status ? status::NAME : d[:code].to_s, text.call(:location),
                 text.call(:reason) || "", text.call(:moved_to))
    end

    # ---- runs ----

    # Insert or replace a run given as a Hash.
    def save_run(run)
      save_run_json(dump(run))
    end

    # Insert or replace a run given as JSON text (stored byte for byte).
    def save_run_json(text)
      save(@hold_gvl && VERIFYING.empty? ? :held_run_save : :acp_run_save, text)
    end

    # The run as a Hash; NotFound if none.
    def get_run(run_id)
      JSON.parse(get_run_json(run_id))
    end

    # The run's exact stored JSON text; NotFound if none.
    def get_run_json(run_id)
      fetch(:held_bind_run_get, :acp_bind_run_get, run_id, "run_id")
    end

    # Delete a run and all its events; NotFound if neither existed.
    def delete_run(run_id)
      remove(:acp_run_delete, c_str(run_id, "run_id"))
    end

    # One page of runs, newest first, as JSON text.  cursor is an earlier
    # page's next_cursor; total: true also counts every match.
    def list_runs_json(agent_name: nil, session_id: nil, limit: 10, offset: 0, cursor: nil,
                       total: false)
      keep = [agent_name && c_ptr(agent_name, "agent_name"),
              session_id && c_ptr(session_id, "session_id"), cursor && c_ptr(cursor, "cursor")]
      f = Native::RunFilter.new
      f[:size] = Native::RunFilter.size
      f[:agent_name], f[:session_id], f[:cursor] = keep
      f[:limit] = limit
      f[:offset] = offset
      f[:want_total] = total ? 1 : 0
      read_page(list(:acp_run_list, f.pointer)) { |_page, _i, text| text }
    end

    # As list_runs_json, each run a Hash.
    def list_runs(**filter)
      parsed(list_runs_json(**filter))
    end

    # Every matching run, newest first, walking pages by cursor (each page
    # costs the same at any depth).  An Enumerator without a block.
    def each_run_json(agent_name: nil, session_id: nil, page_size: 100, &block)
      return enum_for(__method__, agent_name: agent_name, session_id: session_id,
                                  page_size: page_size) unless block

      cursor = nil
      loop do
        page = list_runs_json(agent_name: agent_name, session_id: session_id,
                              limit: page_size, cursor: cursor)
        page.items.each(&block)
        break if (cursor = page.next_cursor).nil?
      end
      self
    end

    def each_run(**filter)
      return enum_for(__method__, **filter) unless block_given?

      each_run_json(**filter) { |t| yield JSON.parse(t) }
    end

    # ---- sessions ----

    def save_session(session)
      save_session_json(dump(session))
    end

    def save_session_json(text)
      save(@hold_gvl && VERIFYING.empty? ? :held_session_save : :acp_session_save, text)
    end

    # The session as a Hash; NotFound if none.
    def get_session(session_id)
      JSON.parse(get_session_json(session_id))
    end

    def get_session_json(session_id)
      fetch(:held_bind_session_get, :acp_bind_session_get, session_id, "session_id")
    end

    # Remove the session (its runs stay); NotFound if none.
    def delete_session(session_id)
      remove(:acp_session_delete, c_str(session_id, "session_id"))
    end

    # Sessions with id > after_id, ascending byte-wise; next_cursor is the
    # after_id of the next page.  Unsupported on backends without it.
    def list_sessions_json(after_id: nil, limit: 100)
      after = after_id && c_str(after_id, "after_id")
      read_page(list(:acp_session_list, after, limit)) { |_page, _i, text| text }
    end

    def list_sessions(**options)
      parsed(list_sessions_json(**options))
    end

    # Every session in id order; an Enumerator without a block.
    def each_session_json(page_size: 100, &block)
      return enum_for(__method__, page_size: page_size) unless block

      after = nil
      loop do
        page = list_sessions_json(after_id: after, limit: page_size)
        page.items.each(&block)
        break if (after = page.next_cursor).nil?
      end
      self
    end

    def each_session(**options)
      return enum_for(__method__, **options) unless block_given?

      each_session_json(**options) { |t| yield JSON.parse(t) }
    end

    # ---- events ----

    # Append an event given as a Hash; returns its sequence number (1, 2, ...).
    def add_event(run_id, event)
      add_event_json(run_id, dump(event))
    end

    # Append an event given as JSON text; returns its sequence number.
    def add_event_json(run_id, text)
      id = c_str(run_id, "run_id")
      doc = json_text(text)
      # Text holding a NUL byte goes in with its length (the library then
      # refuses it): through acp_bind_event_add it would be cut at the NUL.
      return add_event_sized(id, doc) if doc.include?(NUL)

      b = Native::Scratch.current.bind
      h = enter
      begin
        seq = if @hold_gvl && VERIFYING.empty?
                Native.held_bind_event_add(h, id, doc, b)
              else
                Native.acp_bind_event_add(h, id, doc, b)
              end
      ensure
        @calls.pop
      end
      return seq unless seq.zero?

      raise bind_error(b)
    end

    # One page of a run's events (StoredEvent, event as JSON text) in
    # sequence order; an unknown run gives an empty page.  next_cursor is
    # the after_seq of the next page, as text.
    def list_events_json(run_id, limit: 100, offset: 0, after_seq: 0)
      id = c_str(run_id, "run_id")
      f = Native::EventFilter.new
      f[:size] = Native::EventFilter.size
      f[:limit] = limit
      f[:offset] = offset
      f[:after_seq] = after_seq
      read_page(list(:acp_event_list, id, f.pointer)) do |page, i, text|
        StoredEvent.new(Native.acp_page_seq(page, i), Native.acp_page_time_us(page, i), text)
      end
    end

    def list_events(run_id, **options)
      page = list_events_json(run_id, **options)
      page.items.each { |e| e.event = JSON.parse(e.event) }
      page
    end

    # Every event of the run after after_seq; an Enumerator without a block.
    def each_event_json(run_id, after_seq: 0, page_size: 100, &block)
      return enum_for(__method__, run_id, after_seq: after_seq, page_size: page_size) unless block

      loop do
        page = list_events_json(run_id, limit: page_size, after_seq: after_seq)
        page.items.each(&block)
        break if page.next_cursor.nil?

        after_seq = Integer(page.next_cursor, 10)
      end
      self
    end

    def each_event(run_id, **options)
      return enum_for(__method__, run_id, **options) unless block_given?

      each_event_json(run_id, **options) do |e|
        e.event = JSON.parse(e.event)
        yield e
      end
    end

    private

    def open_config(uri, plugin_dirs, plugin_file, timeout_ms, out, s)
      uri ||= ENV["ACP_STORAGE_URL"] or
        raise Invalid, "no store URI given and ACP_STORAGE_URL is not set"
      cfg_out = FFI::MemoryPointer.new(:pointer)
      st = Native.acp_config_new(cfg_out, s.err)
      return st unless st.zero?

      cfg = cfg_out.read_pointer
      begin
        st = Native.acp_config_parse_uri(cfg, c_str(uri, "uri"), s.err)
        plugin_dirs.each do |d|
          st = Native.acp_config_add_plugin_dir(cfg, c_str(d, "plugin dir"), s.err) if st.zero?
        end
        if st.zero? && plugin_file
          st = Native.acp_config_set_plugin_file(cfg, c_str(plugin_file, "plugin file"), s.err)
        end
        st = Native.acp_config_set_timeout_ms(cfg, Integer(timeout_ms), s.err) if st.zero? && timeout_ms
        st = Native.acp_store_open_config(cfg, out, s.err) if st.zero?
        st
      ensure
        Native.acp_config_free(cfg)
      end
    end

    # Register the call, so that #close waits for it, and return the handle;
    # the caller pops @calls when the library call returns.
    def enter
      @calls.push(nil)
      h = @handle
      return h if h

      @calls.pop
      raise Invalid, "the store is closed"
    end

    def with_handle
      h = enter
      begin
        yield h
      ensure
        @calls.pop
      end
    end

    # The failure of this fiber's last acp_bind_* call.
    def bind_error(bind)
      AcpStorage.error_for(Native.acp_bind_status(bind),
                           Native.acp_bind_message(bind).force_encoding(Encoding::UTF_8))
    end

    def add_event_sized(id, doc)
      s = Native::Scratch.current
      check(with_handle { |h| Native.acp_event_add(h, id, doc, doc.bytesize, s.seq, s.err_ptr) }, s)
      s.seq.read_int64
    end

    def error(status, scratch)
      msg = scratch.err[:message].to_ptr.read_string.force_encoding(Encoding::UTF_8)
      AcpStorage.error_for(status, msg)
    end

    def check(status, scratch)
      raise error(status, scratch) unless status.zero?
    end

    # The C API takes NUL-terminated ids: an embedded NUL would silently
    # name another record, so it is refused here.
    def c_str(value, what)
      raise TypeError, "#{what} must be a String, not #{value.class}" unless value.is_a?(String)

      value = value.encode(Encoding::UTF_8) unless value.encoding == Encoding::UTF_8
      raise Invalid, "#{what} contains a NUL character" if value.include?(NUL)

      value
    end

    NUL = "\0"
    CLOSE_LOCK = Mutex.new

    def c_ptr(value, what)
      FFI::MemoryPointer.from_string(c_str(value, what))
    end

    def json_text(text)
      raise TypeError, "JSON text must be a String, not #{text.class}" unless text.is_a?(String)

      enc = text.encoding
      enc == Encoding::UTF_8 || enc == Encoding::BINARY ? text : text.encode(Encoding::UTF_8)
    end

    def dump(doc)
      JSON.generate(doc)
    rescue JSON::GeneratorError, Encoding::UndefinedConversionError => e
      raise Invalid, "document is not JSON: #{e.message}"
    end

    def save(fn, text)
      doc = json_text(text)
      s = Native::Scratch.current
      check(with_handle { |h| Native.send(fn, h, doc, doc.bytesize, s.err) }, s)
      nil
    end

    def remove(fn, key)
      s = Native::Scratch.current
      check(with_handle { |h| Native.send(fn, h, key, s.err) }, s)
      nil
    end

    # The busiest path: c_str and with_handle are written out here.  held
    # and fn are acp_bind_*_get: the document comes back as a String, or
    # nil (a failure, or a document holding a NUL byte, read by length).
    def fetch(held, fn, key, what)
      raise TypeError, "#{what} must be a String, not #{key.class}" unless key.is_a?(String)

      key = key.encode(Encoding::UTF_8) unless key.encoding == Encoding::UTF_8
      b = Native::Scratch.current.bind
      @calls.push(nil)
      begin
        h = @handle or raise Invalid, "the store is closed"
        doc = Native.send(@hold_gvl && VERIFYING.empty? ? held : fn, h, key, b)
      rescue ArgumentError
        # ruby-ffi refuses a :string argument with a NUL inside (which would
        # silently name another record); checked here only when it did.
        raise Invalid, "#{what} contains a NUL character" if key.include?(NUL)

        raise
      ensure
        @calls.pop
      end
      return doc.force_encoding(Encoding::UTF_8) if doc

      raise bind_error(b) unless Native.acp_bind_status(b).zero?

      Native.acp_bind_data(b).get_bytes(0, Native.acp_bind_length(b)).force_encoding(Encoding::UTF_8)
    end

    def list(fn, *args)
      s = Native::Scratch.current
      check(with_handle { |h| Native.send(fn, h, *args, s.ptr, s.err) }, s)
      s.ptr.read_pointer
    end

    def read_page(page)
      n = FFI::MemoryPointer.new(:size_t)
      items = Array.new(Native.acp_page_count(page)) do |i|
        p = Native.acp_page_json(page, i, n)
        yield page, i, p.read_string(n.read(:size_t)).force_encoding(Encoding::UTF_8)
      end
      total = Native.acp_page_total(page)
      Page.new(items, Native.acp_page_next_cursor(page), total.negative? ? nil : total)
    ensure
      Native.acp_page_free(page)
    end

    def parsed(page)
      page.items.map! { |t| JSON.parse(t) }
      page
    end
  end
end
