#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install_test.sh BUILD_DIR PREFIX
#
# Installs the build into a scratch DESTDIR and checks what a packager
# gets: the license and changelog, every man page (and that man renders
# each without a warning), the completion of bash, zsh and fish, the
# license in the pkg-config file and the CMake package, and no benchmark
# program unless asked for.  Then the uninstall target must remove every
# installed file.
set -u
build=$1 prefix=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
D=$T/dest
nfail=0
expect() { # expect DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else echo "not ok - $what"; nfail=$((nfail + 1)); fi
}

DESTDIR=$D cmake --install "$build" >"$T/install.log" 2>&1
expect "cmake --install succeeds" test $? = 0
P=$D$prefix
share=$P/share
for f in doc/acp-storage/LICENSE doc/acp-storage/CHANGELOG.md \
         man/man1/acp-storage.1 man/man1/acp-storage-bench.1 man/man3/acp_storage.3 \
         man/man7/acp-storage-uris.7 bash-completion/completions/acp-storage \
         zsh/vendor-completions/_acp-storage fish/vendor_completions.d/acp-storage.fish; do
  expect "installs share/$f" test -s "$share/$f"
done
expect "LICENSE is MIT" grep -q "^MIT License" "$share/doc/acp-storage/LICENSE"
if command -v man >/dev/null; then
  for m in "$share"/man/man*/*; do
    MANWIDTH=80 man --warnings -l "$m" >/dev/null 2>"$T/man.err"
    expect "man renders $(basename "$m") without warnings" test ! -s "$T/man.err"
  done
fi
pc=$(find "$P" -name acp_storage.pc | head -1)
expect "pkg-config file names the license" grep -qx "License: MIT" "$pc"
cfg=$(find "$P" -name acp_storageConfig.cmake | head -1)
expect "CMake package names the license" grep -q 'set(acp_storage_LICENSE "MIT")' "$cfg"
if grep -q "^ACP_STORAGE_INSTALL_BENCH:BOOL=ON" "$build/CMakeCache.txt"; then
  expect "benchmark installed when asked" test -x "$P/bin/acp-storage-bench"
else
  expect "benchmark not installed by default" test ! -e "$P/bin/acp-storage-bench"
fi
expect "install manifest written" test -s "$build/install_manifest.txt"

DESTDIR=$D cmake --build "$build" --target uninstall >"$T/uninstall.log" 2>&1
expect "uninstall target succeeds" test $? = 0
left=$(find "$D" -type f -o -type l | head -5)
expect "uninstall leaves no file behind (${left:-none})" test -z "$left"
if [ "$nfail" != 0 ]; then sed 's/^/#   /' "$T/install.log" "$T/uninstall.log" | tail -40; fi
exit "$nfail"
