# SPDX-License-Identifier: MIT
# acp_storage: ACP runs, sessions and run events in any acp-storage backend,
# over libacp_storage through ruby-ffi (nothing is compiled at install time).
require_relative "acp_storage/version"
require_relative "acp_storage/errors"
require_relative "acp_storage/native"
require_relative "acp_storage/store"
require_relative "acp_storage/server_storage"

module AcpStorage
  # The library version at run time ("0.1.0").
  def self.library_version
    Native.acp_version
  end
end
