#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-ruby.sh STATE TESTDIR: the minitest files of TESTDIR against the gem
# install-ruby.sh installed in STATE.
set -euo pipefail
state=$1 tests=$2
export GEM_HOME="$state/gems" GEM_PATH
GEM_PATH=$(cat "$state/gem_path")
exec ruby -I "$tests" -e 'ARGV.each { |f| require f }' "$tests"/test_*.rb
