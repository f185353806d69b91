# SPDX-License-Identifier: MIT
# The store under test comes from ACP_TEST_STORE, a URI template in which
# "{dir}" becomes a fresh directory per test (the convention of the C
# conformance suite and of tests/postgres|redis/with-server.sh, which give
# postgres a schema and redis a key prefix of their own per {dir}).
require "minitest/autorun"
require "tmpdir"
require "securerandom"
require "acp_storage"

module StoreUri
  def setup
    super
    @tmp = Dir.mktmpdir("acp-rb-")
  end

  def teardown
    FileUtils.rm_rf(@tmp)
    super
  end

  def store_uri
    dir = File.join(@tmp, SecureRandom.hex(6))
    Dir.mkdir(dir)
    ENV.fetch("ACP_TEST_STORE", "memory:").gsub("{dir}", dir)
  end
end
