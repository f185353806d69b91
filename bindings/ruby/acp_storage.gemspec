# SPDX-License-Identifier: MIT
require_relative "lib/acp_storage/version"

Gem::Specification.new do |s|
  s.name = "acp_storage"
  s.version = AcpStorage::VERSION
  s.summary = "Ruby binding of libacp_storage: ACP runs, sessions and events in any storage backend"
  s.description = "AcpStorage::Store over the installed libacp_storage through ruby-ffi (no " \
                  "compiler at install time), and AcpStorage::ServerStorage, a drop-in storage " \
                  "backend for the simple_acp server."
  s.license = "MIT"
  s.authors = ["acp-storage"]
  s.files = Dir["lib/**/*.rb"] + ["README.md"]
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 2.7"
  s.add_runtime_dependency "ffi", ">= 1.15"
end
