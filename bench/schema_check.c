/* SPDX-License-Identifier: MIT */
/*
 * schema_check.c - the bench_sqlite_schema test: the raw SQLite baseline
 * must keep the sqlite backend's schema, or the benchmark compares unlike
 * layouts.  The baseline has its own statements (baseline_sqlite_sql.h) and
 * shares no code with the plugin, so a schema change in the plugin is caught
 * here: a store created by the plugin (through the public API) and a
 * database created by the baseline must describe alike: tables (columns,
 * types, NOT NULL, defaults, keys, WITHOUT ROWID), indexes (columns, order,
 * collation, uniqueness, partial WHERE), triggers (table and event; their
 * bodies are checked by behaviour: bench_smoke compares list_runs totals)
 * and application_id, user_version, journal_mode.
 *
 *   bench-schema-check <scratch directory>
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "acp_storage.h"
#include "baseline_sqlite_sql.h"
#include "schema_diff.h"

/* One description line per row, sorted, so that two schemas compare as text. */
static const char describe_sql[] =
    "SELECT 'pragma application_id=' || (SELECT application_id FROM pragma_application_id)"
    " || ' user_version=' || (SELECT user_version FROM pragma_user_version)"
    " || ' journal_mode=' || (SELECT journal_mode FROM pragma_journal_mode), NULL"
    " UNION ALL SELECT 'table ' || m.name || ' without_rowid=' || l.wr || ' strict=' || l.strict,"
    "  NULL FROM sqlite_master m JOIN pragma_table_list l ON l.name = m.name"
    "  AND l.schema = 'main' WHERE m.type = 'table'"
    " UNION ALL SELECT 'column ' || m.name || '.' || printf('%03d', c.cid) || ' ' || c.name"
    "  || ' type=' || c.type || ' notnull=' || c.\"notnull\" || ' default='"
    "  || coalesce(c.dflt_value, 'NULL') || ' pk=' || c.pk || ' hidden=' || c.hidden, NULL"
    "  FROM sqlite_master m, pragma_table_xinfo(m.name) c WHERE m.type = 'table'"
    " UNION ALL SELECT 'index ' || m.name || ' on ' || m.tbl_name || ' unique=' || l.\"unique\""
    "  || ' origin=' || l.origin || ' partial=' || l.partial, NULL"
    "  FROM sqlite_master m JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name"
    "  WHERE m.type = 'index'"
    " UNION ALL SELECT 'index ' || m.name || ' key ' || x.seqno || ' '"
    "  || coalesce(x.name, '<expression>') || ' desc=' || x.\"desc\" || ' coll=' || x.coll, NULL"
    "  FROM sqlite_master m, pragma_index_xinfo(m.name) x WHERE m.type = 'index' AND x.key"
    /* The WHERE of a partial index, normalised in C (second column). */
    " UNION ALL SELECT 'index ' || m.name || ' ', substr(m.sql, instr(upper(m.sql),"
    "  ' WHERE ')) FROM sqlite_master m WHERE m.type = 'index' AND instr(upper(m.sql), ' WHERE ')"
    /* A trigger's head: when it fires, on which table, under which WHEN. */
    " UNION ALL SELECT 'trigger ' || m.name || ' on ' || m.tbl_name || ' ', substr(m.sql, 1,"
    "  instr(upper(m.sql), ' BEGIN') - 1) FROM sqlite_master m WHERE m.type = 'trigger'"
    " UNION ALL SELECT 'other ' || m.type || ' ' || m.name, NULL FROM sqlite_master m"
    "  WHERE m.type NOT IN ('table', 'index', 'trigger')"
    " ORDER BY 1";

/* Append text to *buf, lower-cased with its whitespace runs made one space
 * and none next to a parenthesis or before a comma. */
static void append_norm(char **buf, size_t *len, const char *text)
{
    size_t n = strlen(text);
    char *b = realloc(*buf, *len + n + 2);
    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    *buf = b;
    int space = 0;
    for (const char *p = text; *p; p++) {
        if (isspace((unsigned char)*p)) {
            space = 1;
            continue;
        }
        char prev = *len ? b[*len - 1] : '(';
        if (space && prev != '(' && prev != ' ' && *p != ')' && *p != ',')
            b[(*len)++] = ' ';
        space = 0;
        b[(*len)++] = (char)tolower((unsigned char)*p);
    }
    b[*len] = '\0';
}

/* The description of db, a malloc'd string of lines; NULL on error. */
static char *describe(sqlite3 *db)
{
    sqlite3_stmt *s;
    char *out = NULL;
    size_t len = 0;
    if (sqlite3_prepare_v2(db, describe_sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "describe: %s\n", sqlite3_errmsg(db));
        return NULL;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        append_norm(&out, &len, (const char *)sqlite3_column_text(s, 0));
        if (sqlite3_column_type(s, 1) != SQLITE_NULL)
            append_norm(&out, &len, (const char *)sqlite3_column_text(s, 1));
        append_norm(&out, &len, "");
        out[len++] = '\n';
        out[len] = '\0';
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "describe: %s\n", sqlite3_errmsg(db));
        free(out);
        out = NULL;
    }
    sqlite3_finalize(s);
    return out;
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* The comparison must see a change the baseline could miss: one changed
 * object in the baseline's database must make the descriptions differ. */
static int detects(const char *path, const char *plugin, const char *change)
{
    sqlite3 *db = open_db(path);
    char *d = NULL;
    int ok = db && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(db, change, NULL, NULL, NULL) == SQLITE_OK &&
             (d = describe(db)) != NULL && !schema_diff_same("the schemas", plugin, d, 0);
    if (!ok)
        fprintf(stderr, "FAIL: the comparison does not notice \"%s\"\n", change);
    free(d);
    if (db)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return ok;
}

int main(int argc, char **argv)
{
    char uri[4220], plugin_db[4200], base_db[4200];
    if (argc != 2 || strlen(argv[1]) > 4000) {
        fprintf(stderr, "usage: %s <scratch directory>\n", argv[0]);
        return 2;
    }
    snprintf(plugin_db, sizeof plugin_db, "%s/plugin.db", argv[1]);
    snprintf(base_db, sizeof base_db, "%s/base.db", argv[1]);
    mkdir(argv[1], 0777); /* when it exists already, the files are replaced */
    remove(plugin_db);
    remove(base_db);

    /* The plugin creates its schema when it opens a new store. */
    acp_store *store;
    acp_error e;
    snprintf(uri, sizeof uri, "sqlite:%s", plugin_db);
    if (acp_store_open(uri, &store, &e) != ACP_OK) {
        fprintf(stderr, "cannot open %s: %s: %s\n", uri, acp_status_name(e.code), e.message);
        return 1;
    }
    acp_store_close(store);

    sqlite3 *pdb = open_db(plugin_db), *bdb = open_db(base_db);
    if (!pdb || !bdb)
        return 1;
    if (baseline_sqlite_create(bdb) != SQLITE_OK) {
        fprintf(stderr, "baseline schema: %s\n", sqlite3_errmsg(bdb));
        return 1;
    }
    char *p = describe(pdb), *b = describe(bdb);
    sqlite3_close(pdb);
    sqlite3_close(bdb);
    if (!p || !b)
        return 1;
    if (!schema_diff_same("the schemas", p, b, 1)) {
        fprintf(stderr, "FAIL: the raw SQLite baseline (bench/baseline_sqlite_sql.h) no longer "
                        "has the sqlite backend's schema; follow the backend's change there\n");
        return 1;
    }
    int ok = strstr(p, "table runs ") && strstr(p, "index runs_agent_session ") &&
             strstr(p, "trigger runs_count_move ");
    if (!ok)
        fprintf(stderr, "FAIL: the description misses objects:\n%s", p);
    ok &= detects(base_db, p, "DROP INDEX runs_session");
    ok &= detects(base_db, p, "ALTER TABLE events ADD COLUMN extra TEXT");
    ok &= detects(base_db, p, "DROP TRIGGER runs_count_move;"
                              "CREATE TRIGGER runs_count_move AFTER UPDATE OF agent_name ON runs"
                              " BEGIN SELECT 1; END");
    ok &= detects(base_db, p, "PRAGMA user_version = 99");
    if (ok) {
        size_t lines = 0;
        for (const char *c = p; *c; c++)
            lines += *c == '\n';
        printf("bench_sqlite_schema: the baseline has the backend's schema (%zu lines)\n", lines);
    }
    free(p);
    free(b);
    return ok ? 0 : 1;
}
