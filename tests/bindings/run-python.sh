#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-python.sh STATE TESTDIR          pytest on TESTDIR
# run-python.sh STATE --mypy PKG FILE  mypy --strict on the package source
#                                      PKG, then on FILE against the
#                                      installed copy
# with the venv install-python.sh made in STATE (the installed package, not
# the source).
set -euo pipefail
state=$1
py="$state/venv/bin/python"
if [ "$2" = --mypy ]; then
  "$py" -m mypy --strict "$3"
  cd "$state"  # away from the source: the installed copy is what is checked
  exec "$py" -m mypy --strict "$4"
fi
exec "$py" -m pytest -q -p no:cacheprovider "$2"
