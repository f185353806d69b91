# SPDX-License-Identifier: MIT
require_relative "test_helper"
require "open3"
require "rbconfig"

class TestErrorsAndLoading < Minitest::Test
  include StoreUri

  NAMES = %w[NOT_FOUND INVALID CONFLICT UNAVAILABLE IO CORRUPT NOMEM UNSUPPORTED LOAD PLUGIN].freeze

  def test_each_status_has_its_class_named_as_the_library_names_it
    (1..10).each do |status|
      e = AcpStorage.error_for(status, "the message")
      assert_kind_of AcpStorage::Error, e
      refute_equal AcpStorage::Error, e.class
      assert_equal status, e.status
      assert_equal "the message", e.message
      assert_equal NAMES[status - 1], e.status_name
      assert_equal AcpStorage::Native.acp_status_name(status), e.status_name
    end
    assert_equal 10, AcpStorage::ERRORS_BY_STATUS.values.uniq.size
    %w[NotFound Invalid Conflict Unavailable IOError Corrupt NoMemory Unsupported LoadError
       PluginError].each { |n| assert AcpStorage.const_get(n) < AcpStorage::Error }
    unknown = AcpStorage.error_for(99, "m")
    assert_equal AcpStorage::Error, unknown.class
    assert_equal 99, unknown.status
  end

  def test_bad_uri_reports_the_library_message_unchanged
    e = assert_raises(AcpStorage::Invalid) { AcpStorage::Store.new("memory:?nosuchoption=1") }
    err = AcpStorage::Native::Err.new
    out = FFI::MemoryPointer.new(:pointer)
    assert_equal 2, AcpStorage::Native.acp_store_open("memory:?nosuchoption=1", out, err)
    assert_equal err[:message].to_ptr.read_string, e.message
  end

  # The gem under test, wherever it was loaded from (installed or lib/).
  GEM_LIB = File.dirname($LOADED_FEATURES.grep(%r{/acp_storage\.rb\z}).first)

  def ruby(code, env)
    Open3.capture3(env, RbConfig.ruby, "-I", GEM_LIB, "-e", code)
  end

  def test_explicit_library_path_is_used_and_a_bad_one_reported
    _out, err, st = ruby("require 'acp_storage'", "ACP_STORAGE_LIBRARY" => "/nonexistent/libacp_storage.so.0")
    refute st.success?
    assert_includes err, "AcpStorage::LoadError"
    assert_includes err, "/nonexistent/libacp_storage.so.0"
  end

  def test_without_the_variable_the_dynamic_loader_finds_the_soname
    lib = ENV.fetch("ACP_STORAGE_LIBRARY")
    out, err, st = ruby("require 'acp_storage'; puts AcpStorage::Native::LIBRARY, AcpStorage.library_version",
                        "ACP_STORAGE_LIBRARY" => nil, "LD_LIBRARY_PATH" => File.dirname(lib))
    assert st.success?, err
    assert_equal ["libacp_storage.so.0", AcpStorage.library_version], out.split("\n")
  end

  def test_plugins_come_from_ACP_STORAGE_PLUGIN_PATH_as_the_library_reads_it
    code = "require 'acp_storage'; begin; AcpStorage::Store.new('memory:'); puts 'OPEN'; " \
           "rescue AcpStorage::LoadError => e; puts 'LOAD ' + e.message; end"
    out, = ruby(code, {})
    assert_equal "OPEN", out.strip
    out, = ruby(code, "ACP_STORAGE_PLUGIN_PATH" => @tmp)
    assert out.start_with?("LOAD"), out
    assert_includes out, @tmp
    dirs = ENV.fetch("ACP_STORAGE_PLUGIN_PATH").split(":").first
    out, err, = ruby("require 'acp_storage'; AcpStorage::Store.open('memory:', plugin_dirs: [#{dirs.dump}]) { |s| puts s.backend }",
                     "ACP_STORAGE_PLUGIN_PATH" => @tmp)
    assert_equal "memory", out.strip, err
  end

  def test_no_uri_means_ACP_STORAGE_URL
    code = "require 'acp_storage'; AcpStorage::Store.open { |s| puts s.backend }"
    assert_equal "memory", ruby(code, "ACP_STORAGE_URL" => "memory:")[0].strip
    _out, err, = ruby(code, "ACP_STORAGE_URL" => nil)
    assert_includes err, "AcpStorage::Invalid"
  end
end
