#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install-python.sh PYTHON SOURCE STATE
# Install the Python binding the way a user does, offline, with Debian's
# packaging tools: a venv that sees the system's site-packages (pytest,
# setuptools, wheel, pip) and `pip install --no-build-isolation --no-index`
# of a copy of SOURCE (pip builds in the tree it is given: the copy keeps
# build/ and *.egg-info out of the source).  STATE/venv/bin/python then
# imports the installed package.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 PYTHON SOURCE STATE" >&2; exit 2; }
python=$1 src=$2 state=$3
rm -rf "$state"
mkdir -p "$state"
cp -r "$src" "$state/src"
rm -rf "$state/src/tests" "$state/src/build" "$state/src"/*.egg-info
"$python" -m venv --system-site-packages --without-pip "$state/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$state/venv/bin/python" -m pip install --no-build-isolation --no-index --no-deps \
  --quiet "$state/src"
cd "$state"
# From outside any source tree: the installed copy, with its type marker.
"$state/venv/bin/python" - <<'PY'
import importlib.resources, os, sys, acp_storage
where = os.path.dirname(acp_storage.__file__)
assert where.startswith(sys.prefix), f"imported {where}, not the venv's copy"
assert importlib.resources.files("acp_storage").joinpath("py.typed").is_file(), "py.typed missing"
print("installed", acp_storage.__version__, "in", where)
PY
