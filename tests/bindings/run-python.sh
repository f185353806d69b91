#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-python.sh STATE TESTDIR: pytest on TESTDIR with the venv
# install-python.sh made in STATE (the installed package, not the source).
set -euo pipefail
state=$1 tests=$2
exec "$state/venv/bin/python" -m pytest -q -p no:cacheprovider "$tests"
