#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# migrate_pg.sh ACP_STORAGE STATE_DIR
# Explicit migrations against the postgres test server (pg-server.sh's
# STATE_DIR): an application role without the right to change the schema
# cannot open an older store (with migrate=auto the migration fails on
# permissions; with migrate=never the open says to run acp-storage migrate
# and tries nothing), an administrator's `acp-storage migrate --dry-run`
# lists the steps and changes nothing, `acp-storage migrate` migrates, and
# the application then works with migrate=never.
set -euo pipefail
cli=$1
state=$2
here=$(cd "$(dirname "$0")" && pwd)
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)
# shellcheck disable=SC1091
. "$state/env"
fail() { echo "FAIL: $*" >&2; exit 1; }
psql_admin() {
  "$ACP_PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h "$ACP_PG_HOST" -p "$ACP_PG_PORT" \
    -U postgres acp "$@"
}
id=$$_$RANDOM
s=mig_$id
fresh=mig_fresh_$id
app=mig_app_$id
admin_uri="postgres://postgres@$ACP_PG_HOST:$ACP_PG_PORT/acp"
app_uri="postgres://$app@$ACP_PG_HOST:$ACP_PG_PORT/acp"
cleanup() {
  psql_admin -c "DROP SCHEMA IF EXISTS $s CASCADE" -c "DROP SCHEMA IF EXISTS $fresh CASCADE" \
    -c "DROP OWNED BY $app" -c "DROP ROLE IF EXISTS $app" >/dev/null 2>&1 || true
}
trap cleanup EXIT
version() { psql_admin -c "SELECT value FROM $1.meta WHERE name = 'schema_version'"; }

# A version 1 store with one run, and an application role that may read
# and write its tables but not create anything in its schema.
psql_admin -c "CREATE SCHEMA $s" >/dev/null
sed "s/@/$s/g" "$here/pg_v1.sql" | psql_admin >/dev/null
psql_admin -c "INSERT INTO $s.runs VALUES ('r1', 'a', NULL, 'created', 5, NULL,
  '{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\"}')" >/dev/null
psql_admin -c "CREATE ROLE $app LOGIN" -c "GRANT USAGE ON SCHEMA $s TO $app" \
  -c "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA $s TO $app" >/dev/null
[ "$(psql_admin -c "SELECT has_schema_privilege('$app', '$s', 'CREATE')")" = f ] ||
  fail "the application role may create in the schema"

# 1. migrate=auto as the application role: the migration itself is refused.
if out=$("$cli" --store "$app_uri?schema=$s" ping 2>&1); then
  fail "an open that must migrate succeeded for a role without CREATE: $out"
fi
grep -qi "permission denied" <<<"$out" || fail "no permission error: $out"
[ "$(version "$s")" = 1 ] || fail "the failed migration changed the version"

# 2. migrate=never: refused before any DDL, naming the command to run.
if out=$("$cli" --store "$app_uri?schema=$s&migrate=never" run get r1 2>&1); then
  fail "migrate=never opened an older schema: $out"
fi
grep -q "UNSUPPORTED" <<<"$out" || fail "not UNSUPPORTED: $out"
grep -q "acp-storage migrate" <<<"$out" || fail "the message does not name acp-storage migrate: $out"
grep -qi "permission denied" <<<"$out" && fail "migrate=never still tried to migrate: $out"
[ "$(version "$s")" = 1 ] || fail "migrate=never changed the version"

# 3. The administrator's dry run lists the steps from the table, changes nothing.
out=$("$cli" --store "$admin_uri?schema=$s" migrate --dry-run --statements) || fail "dry run: $out"
grep -q "schema version 1, latest" <<<"$out" || fail "no versions: $out"
grep -q "  1 -> 2: " <<<"$out" || fail "no step 1 -> 2: $out"
grep -q "CREATE TABLE \"$s\".run_counts" <<<"$out" || fail "no statements: $out"
grep -q "dry run: nothing changed" <<<"$out" || fail "$out"
[ "$(version "$s")" = 1 ] || fail "the dry run changed the version"
json=$("$cli" --store "$admin_uri?schema=$s" migrate --dry-run --json)
grep -q '"found":1,' <<<"$json" || fail "json: $json"
grep -q '"migrated":false' <<<"$json" || fail "json: $json"

# 4. The administrator migrates.
out=$("$cli" --store "$admin_uri?schema=$s" migrate) || fail "migrate: $out"
grep -q "migrated from schema version 1 to" <<<"$out" || fail "$out"
latest=$(version "$s")
[ "$latest" -gt 1 ] || fail "still version $latest"
out=$("$cli" --store "$admin_uri?schema=$s" migrate) || fail "$out"
grep -q "up to date" <<<"$out" || fail "second migrate: $out"

# 5. The application, given the rights on the new tables, works with migrate=never.
psql_admin -c "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA $s TO $app" >/dev/null
out=$("$cli" --store "$app_uri?schema=$s&migrate=never" run get r1) || fail "after migrate: $out"
grep -q '"r1"' <<<"$out" || fail "$out"
"$cli" --store "$app_uri?schema=$s&migrate=never" run save --agent b >/dev/null ||
  fail "cannot write after migrate"

# 6. A schema that holds no store: never does not create it; a dry run
#    lists the creation and creates nothing; migrate creates it.
if out=$("$cli" --store "$admin_uri?schema=$fresh&migrate=never" ping 2>&1); then
  fail "migrate=never created a store: $out"
fi
grep -q "holds no store" <<<"$out" || fail "$out"
out=$("$cli" --store "$admin_uri?schema=$fresh" migrate --dry-run) || fail "$out"
grep -q "schema version 0, latest $latest" <<<"$out" || fail "$out"
grep -q "0 -> $latest: create schema" <<<"$out" || fail "$out"
[ "$(psql_admin -c "SELECT count(*) FROM pg_namespace WHERE nspname = '$fresh'")" = 0 ] ||
  fail "the dry run created the schema"
"$cli" --store "$admin_uri?schema=$fresh" migrate >/dev/null || fail "migrate did not create"
[ "$(version "$fresh")" = "$latest" ] || fail "created at another version"
"$cli" --store "$admin_uri?schema=$fresh&migrate=never" ping >/dev/null || fail "cannot open it"
echo "migrate_pg: all checks passed"
