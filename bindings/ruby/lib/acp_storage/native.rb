# SPDX-License-Identifier: MIT
require "ffi"

module AcpStorage
  # The C functions of include/acp_storage.h this gem calls.
  #
  # The library is found the way the acp-storage command finds it: an
  # explicit path in ACP_STORAGE_LIBRARY, else the dynamic loader's search
  # (LD_LIBRARY_PATH, the ld.so cache, the default directories) for the
  # SONAME this gem follows.  Plugins are found by the library itself
  # (ACP_STORAGE_PLUGIN_PATH, then its install directory).  Store calls are
  # attached as blocking, so the interpreter lock is released while the
  # library works; the busiest ones also without releasing it (held_*), for
  # stores that answer from memory (see Store#initialize).
  module Native
    extend FFI::Library

    SONAME = "libacp_storage.so.0"
    ERROR_MESSAGE_MAX = 1024

    # The library actually opened (a path or the SONAME).
    LIBRARY = ENV["ACP_STORAGE_LIBRARY"].to_s.empty? ? SONAME : ENV["ACP_STORAGE_LIBRARY"]
    begin
      ffi_lib LIBRARY
    rescue ::LoadError => e
      raise AcpStorage::LoadError,
            "cannot load libacp_storage (#{LIBRARY}): #{e.message}; set ACP_STORAGE_LIBRARY to " \
            "the library's path or install the library where the dynamic loader looks"
    end

    # struct acp_error
    class Err < FFI::Struct
      layout :code, :int, :message, [:char, ERROR_MESSAGE_MAX]
    end

    # struct acp_run_filter; size lets the library grow it.
    class RunFilter < FFI::Struct
      layout :size, :size_t, :agent_name, :pointer, :session_id, :pointer, :limit, :int64,
             :offset, :int64, :cursor, :pointer, :want_total, :int
    end

    # struct acp_event_filter
    class EventFilter < FFI::Struct
      layout :size, :size_t, :limit, :int64, :offset, :int64, :after_seq, :int64
    end

    # struct acp_damage (acp_storage_status.h); size says which fields the
    # library filled.
    class Damage < FFI::Struct
      layout :size, :size_t, :kind, :int, :key, :pointer, :seq, :int64, :code, :int,
             :location, :pointer, :reason, :pointer, :moved_to, :pointer
    end

    # struct acp_verify_counts
    class VerifyCounts < FFI::Struct
      layout :runs, :int64, :sessions, :int64, :events, :int64, :damaged, :int64,
             :quarantined, :int64
    end

    VERIFY_QUARANTINE = 1

    B = { blocking: true }.freeze

    callback :verify_fn, %i[pointer pointer], :int

    attach_function :acp_status_name, [:int], :string
    attach_function :acp_free, [:pointer], :void
    attach_function :acp_version, [], :string
    attach_function :acp_config_new, %i[pointer pointer], :int
    attach_function :acp_config_free, [:pointer], :void
    attach_function :acp_config_parse_uri, %i[pointer string pointer], :int
    attach_function :acp_config_add_plugin_dir, %i[pointer string pointer], :int
    attach_function :acp_config_set_plugin_file, %i[pointer string pointer], :int
    attach_function :acp_config_set_timeout_ms, %i[pointer int64 pointer], :int
    attach_function :acp_store_open, %i[string pointer pointer], :int, B
    attach_function :acp_store_open_config, %i[pointer pointer pointer], :int, B
    attach_function :acp_store_close, [:pointer], :void, B
    attach_function :acp_store_backend, [:pointer], :string
    attach_function :acp_store_backend_version, [:pointer], :string
    attach_function :acp_store_capabilities, [:pointer], :uint64
    attach_function :acp_store_ping, %i[pointer pointer], :int, B
    attach_function :acp_store_verify, %i[pointer uint verify_fn pointer pointer pointer], :int, B
    attach_function :acp_run_save, %i[pointer buffer_in size_t pointer], :int, B
    attach_function :acp_run_get, %i[pointer string pointer pointer pointer], :int, B
    attach_function :acp_run_delete, %i[pointer string pointer], :int, B
    attach_function :acp_run_list, %i[pointer pointer pointer pointer], :int, B
    attach_function :acp_session_save, %i[pointer buffer_in size_t pointer], :int, B
    attach_function :acp_session_get, %i[pointer string pointer pointer pointer], :int, B
    attach_function :acp_session_delete, %i[pointer string pointer], :int, B
    attach_function :acp_run_get_buf, %i[pointer string pointer size_t pointer pointer], :int, B
    attach_function :acp_session_get_buf, %i[pointer string pointer size_t pointer pointer], :int,
                    B
    attach_function :acp_session_list, %i[pointer string int64 pointer pointer], :int, B
    attach_function :acp_event_add, %i[pointer string buffer_in size_t pointer pointer], :int, B
    attach_function :acp_event_list, %i[pointer string pointer pointer pointer], :int, B
    attach_function :acp_page_count, [:pointer], :size_t
    attach_function :acp_page_json, %i[pointer size_t pointer], :pointer
    attach_function :acp_page_seq, %i[pointer size_t], :int64
    attach_function :acp_page_time_us, %i[pointer size_t], :int64
    attach_function :acp_page_total, [:pointer], :int64
    attach_function :acp_page_next_cursor, [:pointer], :string
    attach_function :acp_page_free, [:pointer], :void

    # Releasing and retaking the interpreter lock costs more than a memory
    # store's whole get (about 100 ns): these keep it, for Store to use
    # where the backend answers from memory.
    attach_function :held_run_save, :acp_run_save, %i[pointer buffer_in size_t pointer], :int
    attach_function :held_session_save, :acp_session_save, %i[pointer buffer_in size_t pointer],
                    :int

    # A get copies into the fiber's acp_bind (acp_storage_bind.h) and
    # returns the document as a String: one foreign call of three arguments
    # and nothing to free; an event add returns the sequence number; the
    # acp_bind keeps the status and the message.
    attach_function :acp_bind_new, [], :pointer
    attach_function :acp_bind_free, [:pointer], :void
    attach_function :acp_bind_run_get, %i[pointer string pointer], :string, B
    attach_function :acp_bind_session_get, %i[pointer string pointer], :string, B
    attach_function :held_bind_run_get, :acp_bind_run_get, %i[pointer string pointer], :string
    attach_function :held_bind_session_get, :acp_bind_session_get, %i[pointer string pointer],
                    :string
    attach_function :acp_bind_event_add, %i[pointer string string pointer], :int64, B
    attach_function :held_bind_event_add, :acp_bind_event_add, %i[pointer string string pointer],
                    :int64
    attach_function :acp_bind_status, [:pointer], :int
    attach_function :acp_bind_message, [:pointer], :string
    attach_function :acp_bind_length, [:pointer], :size_t
    attach_function :acp_bind_data, [:pointer], :pointer

    # Output slots of one fiber, so that concurrent calls never share an
    # acp_error (the library writes it with the interpreter lock released)
    # and calls allocate nothing.
    class Scratch
      attr_reader :err, :err_ptr, :ptr, :seq, :bind

      def initialize
        @err = Err.new
        @err_ptr = @err.pointer # an FFI::Struct argument costs a conversion per call
        @ptr = FFI::MemoryPointer.new(:pointer)
        @seq = FFI::MemoryPointer.new(:int64)
        # Released by the garbage collector with the fiber's Scratch.
        @bind = FFI::AutoPointer.new(Native.acp_bind_new, Native.method(:acp_bind_free))
        raise NoMemoryError, "acp_bind_new: out of memory" if @bind.null?
      end

      def self.current
        Thread.current[:acp_storage_scratch] ||= new
      end
    end
  end
end
