#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packager_configure.sh SOURCE_DIR
#
# A packager's build: a plain release configuration on a machine with the
# client libraries but without the PostgreSQL and Redis server programs.
# It must configure, say why the server suites are left out, register none
# of them (only one skipped test each that carries the reason), and build
# neither the benchmark nor the fuzz harnesses.  The servers are hidden in a
# private mount namespace (unshare); without one the test is skipped (77).
set -u
src=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-packager.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/empty"

if ! unshare -rm true 2>/dev/null; then
  echo "SKIP: no user mount namespace (unshare -rm) to hide the servers in"
  exit 77
fi

# Hide every PostgreSQL server build and redis-server: an empty directory
# over /usr/lib/postgresql, /dev/null (not executable) over the programs.
hide='set -e
[ -d /usr/lib/postgresql ] && mount --bind "$1/empty" /usr/lib/postgresql
for p in $(type -P -a redis-server redis-cli); do mount --bind /dev/null "$p"; done
shift
exec "$@"'
unshare -rm bash -c "$hide" bash "$T" env -u ACP_PG_BINDIR \
  cmake -S "$src" -B "$T/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$T/log" 2>&1
rc=$?
fail=0
expect() { # expect DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fail=1; fi
}
not_grep() { ! grep -qE "$1" "$2"; }
expect "configures (exit $rc)" test "$rc" = 0
expect "says why postgres is skipped" grep -q "postgres server suites skipped: no PostgreSQL server programs" "$T/log"
expect "says why redis is skipped" grep -q "redis server suites skipped: no redis-server" "$T/log"
(cd "$T/build" && ctest -N) >"$T/tests" 2>&1
expect "registers the skip markers" grep -q "postgres_server_suites" "$T/tests"
grep -E "Test +#" "$T/tests" | grep -vE "_server_suites$" >"$T/others"
expect "registers no server test" not_grep "postgres|redis" "$T/others"
expect "registers no bench or fuzz test" not_grep "bench_smoke|fuzz_" "$T/others"
(cd "$T/build" && ctest -R redis_server_suites) >"$T/skip" 2>&1
expect "the marker test is skipped, not failed" grep -q "Skipped" "$T/skip"
expect "the marker test prints the reason" grep -q "no redis-server" "$T/build/Testing/Temporary/LastTest.log"
expect "no bench target" not_grep "acp-storage-bench" "$T/build/Makefile"
if [ "$fail" != 0 ]; then
  echo "# configure log:"; sed 's/^/#   /' "$T/log"
fi
exit "$fail"
