#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install-ruby.sh SOURCE STATE
# Build the gem from a copy of SOURCE and install it offline into
# STATE/gems, its ffi dependency met by Debian's ruby-ffi; tests then run
# with GEM_HOME=STATE/gems and require the installed gem.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SOURCE STATE" >&2; exit 2; }
src=$1 state=$2
rm -rf "$state"
mkdir -p "$state"
cp -r "$src" "$state/src"
cd "$state/src"
gem build --silent acp_storage.gemspec
system_path=$(gem env gempath)
GEM_HOME="$state/gems" GEM_PATH="$state/gems:$system_path" \
  gem install --local --no-document --quiet acp_storage-*.gem
cd "$state"
GEM_HOME="$state/gems" GEM_PATH="$state/gems:$system_path" ruby -e '
  require "acp_storage"
  where = $LOADED_FEATURES.grep(%r{/acp_storage\.rb\z}).first
  abort "loaded #{where}, not the installed gem" unless where.start_with?(ENV["GEM_HOME"])
  puts "installed acp_storage #{AcpStorage::VERSION} in #{File.dirname(where)}"'
echo "$state/gems:$system_path" > "$state/gem_path"
