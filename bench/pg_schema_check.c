/* SPDX-License-Identifier: MIT */
/*
 * pg_schema_check.c - the bench_postgres_schema test: the raw PostgreSQL
 * baseline must keep the postgres backend's schema, or the benchmark
 * compares unlike layouts.  The baseline has its own statements
 * (baseline_postgres_sql.h) and shares no code with the plugin, so a schema
 * change in the plugin is caught here: a store the plugin creates (through
 * the public API) and the schema the baseline creates, side by side on the
 * test server, must describe alike (columns with types, NOT NULL, defaults
 * and collations; index definitions; trigger definitions; functions and
 * their arguments; meta rows), and their counting triggers must leave the
 * same run_counts after the same inserts, updates and deletes.
 *
 *   bench-pg-schema-check <postgres URI>   (tests/postgres/with-server.sh)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "acp_storage.h"
#include "baseline_postgres_sql.h"
#include "schema_diff.h"

#define PLUGIN "bpgchk_plugin"
#define BASE "bpgchk_base"

/* One line per object, sorted, with the schema's name taken out; $1 the
 * schema. */
static const char describe_sql[] =
    "SELECT 'column ' || table_name || '.' || lpad(ordinal_position::text, 3, '0') || ' '"
    " || column_name || ' type=' || data_type || ' null=' || is_nullable || ' collation='"
    " || coalesce(collation_name, '-') || ' default=' || coalesce(column_default, '-')"
    " FROM information_schema.columns WHERE table_schema = $1"
    " UNION ALL SELECT 'index ' || indexname || ' ' || replace(indexdef, $1 || '.', '')"
    " FROM pg_indexes WHERE schemaname = $1"
    " UNION ALL SELECT 'trigger ' || t.tgname || ' '"
    " || replace(pg_get_triggerdef(t.oid), $1 || '.', '') FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND NOT t.tgisinternal"
    " UNION ALL SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)"
    " || ') returns ' || p.prorettype::regtype::text || ' ' || l.lanname FROM pg_proc p"
    " JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang"
    " WHERE n.nspname = $1"
    " UNION ALL SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
    " ORDER BY 1";

static PGconn *conn;

/* Run sql; 0, or -1 with the error printed. */
static int run(const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* The rows of sql (one column), as malloc'd lines; NULL on error. */
static char *lines(const char *sql, const char *param)
{
    PGresult *r = PQexecParams(conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s\n", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    size_t len = 0;
    for (int i = 0; i < PQntuples(r); i++)
        len += (size_t)PQgetlength(r, i, 0) + 1;
    char *out = malloc(len + 1), *o = out;
    for (int i = 0; out && i < PQntuples(r); i++)
        o += sprintf(o, "%s\n", PQgetvalue(r, i, 0));
    if (out)
        *o = '\0';
    PQclear(r);
    return out;
}

/* The same changes to runs in a schema; its run_counts afterwards.  The
 * search_path is the schema, as on the baseline's connections. */
static char *counts_after_changes(const char *schema)
{
    char sql[1600];
    snprintf(sql, sizeof sql,
             "SET search_path = %s;"
             "INSERT INTO %s.runs SELECT 'r' || i, 'agent' || (i %% 3),"
             " CASE WHEN i %% 4 = 0 THEN NULL ELSE 's' || (i %% 5) END, 'completed', i, i, '{}'"
             " FROM generate_series(1, 60) i;"
             "DELETE FROM %s.runs WHERE run_id IN ('r1', 'r8', 'r13', 'r40');"
             "UPDATE %s.runs SET agent_name = 'other' WHERE run_id IN ('r2', 'r3');"
             "UPDATE %s.runs SET session_id = NULL WHERE run_id = 'r5';"
             "UPDATE %s.runs SET session_id = 'snew' WHERE run_id = 'r12';"
             "UPDATE %s.runs SET run_id = 'r7b' WHERE run_id = 'r7';",
             schema, schema, schema, schema, schema, schema, schema);
    if (run(sql) != 0)
        return NULL;
    snprintf(sql, sizeof sql,
             "SELECT kind || ' ' || agent || ' ' || session || ' ' || slot || ' ' || n"
             " FROM %s.run_counts ORDER BY 1", schema);
    return lines(sql, NULL);
}

/* The comparison must see a change the baseline could miss. */
static int detects(const char *plugin, const char *change)
{
    char *d = NULL;
    int ok = run("BEGIN") == 0 && run(change) == 0 &&
             (d = lines(describe_sql, BASE)) != NULL && !schema_diff_same("", plugin, d, 0);
    if (!ok)
        fprintf(stderr, "FAIL: the comparison does not notice \"%s\"\n", change);
    free(d);
    run("ROLLBACK");
    return ok;
}

static void drop_both(void)
{
    run("SET client_min_messages = warning;"
        "DROP SCHEMA IF EXISTS " PLUGIN " CASCADE; DROP SCHEMA IF EXISTS " BASE " CASCADE");
}

int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) > 3000) {
        fprintf(stderr, "usage: %s <postgres URI>\n", argv[0]);
        return 2;
    }
    conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect: %s", PQerrorMessage(conn));
        return 1;
    }
    drop_both();

    /* The plugin creates its schema when it opens a new store. */
    char uri[3100], why[512];
    acp_store *store;
    acp_error e;
    snprintf(uri, sizeof uri, "%s?schema=" PLUGIN, argv[1]);
    if (acp_store_open(uri, &store, &e) != ACP_OK) {
        fprintf(stderr, "cannot open %s: %s: %s\n", uri, acp_status_name(e.code), e.message);
        return 1;
    }
    acp_store_close(store);
    if (baseline_postgres_create(conn, "\"" BASE "\"", why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    run("RESET search_path");

    char *p = lines(describe_sql, PLUGIN), *b = lines(describe_sql, BASE);
    int ok = schema_diff_same("the schemas", p, b, 1);
    char *pm = lines("SELECT name || '=' || value FROM " PLUGIN ".meta ORDER BY 1", NULL);
    char *bm = lines("SELECT name || '=' || value FROM " BASE ".meta ORDER BY 1", NULL);
    ok &= schema_diff_same("the meta rows", pm, bm, 1);
    if (!ok)
        fprintf(stderr, "FAIL: the raw PostgreSQL baseline (bench/baseline_postgres_sql.h) no "
                        "longer has the postgres backend's schema; follow the backend's change "
                        "there\n");
    if (ok && !(strstr(p, "index runs_by_agent_session ") && strstr(p, "trigger run_counts_move ") &&
                strstr(p, "function run_counts_add() ") &&
                strstr(p, "trigger run_time_log_move ") && !strstr(p, "run_status_counts") &&
                strstr(pm, "schema_version=6"))) {
        fprintf(stderr, "FAIL: the description misses objects:\n%s", p);
        ok = 0;
    }
    if (ok) {
        ok &= detects(p, "DROP INDEX " BASE ".runs_by_session");
        ok &= detects(p, "ALTER TABLE " BASE ".events ADD COLUMN extra text");
        ok &= detects(p, "ALTER TABLE " BASE ".events ALTER COLUMN type TYPE text"
                         " COLLATE \"C\"");
        ok &= detects(p, "DROP TRIGGER run_counts_move ON " BASE ".runs");
    }
    /* The triggers' bodies, by what they do. */
    char *pc = ok ? counts_after_changes(PLUGIN) : NULL;
    char *bc = ok ? counts_after_changes(BASE) : NULL;
    if (ok && (!pc || !*pc || !schema_diff_same("run_counts after the same changes", pc, bc, 1))) {
        fprintf(stderr, "FAIL: the baseline's counting triggers no longer count as the "
                        "backend's do\n");
        ok = 0;
    }
    if (ok) {
        size_t n = 0;
        for (const char *c = p; *c; c++)
            n += *c == '\n';
        printf("bench_postgres_schema: the baseline has the backend's schema (%zu lines)\n", n);
    }
    drop_both();
    free(p);
    free(b);
    free(pm);
    free(bm);
    free(pc);
    free(bc);
    PQfinish(conn);
    return ok ? 0 : 1;
}
