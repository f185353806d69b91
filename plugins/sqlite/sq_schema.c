/* SPDX-License-Identifier: MIT */
/*
 * sq_schema.c - the SQLite backend's schema: the header check, the
 * migration chain, create or migrate on open, and the migrate method.
 */

#include <assert.h>
#include <stddef.h>
#include <stdio.h>

#include "crc32c.h"
#include "sq.h"

int sq_read_header(sq_conn *c, int *app_id, int *version, int *objects)
{
    sqlite3_stmt *st = c->st[ACP_SQ_HEADER];
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *app_id = sqlite3_column_int(st, 0);
        *version = sqlite3_column_int(st, 1);
        *objects = sqlite3_column_int(st, 2);
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

acp_status sq_check_header(const acp_backend *b, acp_call *call, int app_id, int version,
                           int objects, int *plan)
{
    const acp_plugin_host *h = b->host;

    if (objects == 0) {
        /* An empty file (or none yet): a fresh store. */
        *plan = SQ_CREATE;
        return ACP_OK;
    }
    if (app_id != ACP_SQLITE_APPLICATION_ID)
        return h->error(call, ACP_INVALID,
                        "%s: an SQLite database that is not an acp-storage store "
                        "(application_id %d, %d schema objects); refusing to change it",
                        b->path, app_id, objects);
    if (version > ACP_SQLITE_SCHEMA_VERSION)
        return h->error(call, ACP_UNSUPPORTED,
                        "%s: schema version %d is newer than version %d known to this "
                        "plugin (%s); use a newer libacp_storage_sqlite",
                        b->path, version, ACP_SQLITE_SCHEMA_VERSION, SQ_VERSION);
    if (version < 1)
        return h->error(call, ACP_CORRUPT,
                        "%s: acp-storage store without a schema version (user_version %d)",
                        b->path, version);
    *plan = version == ACP_SQLITE_SCHEMA_VERSION ? SQ_READY : SQ_MIGRATE;
    return ACP_OK;
}

/* The migration chain: row i brings version i to i+1.  Open (migrate=auto)
 * and acp-storage migrate both run these rows, in order, inside one BEGIN
 * IMMEDIATE transaction, so a store is never seen half-migrated; migrate
 * --dry-run lists them (both through sq_migration, which swaps in the step
 * to version 5 of a handle with time_totals=false).  A new schema version
 * appends one row here (and bumps ACP_SQLITE_SCHEMA_VERSION in
 * sqlite_sql.h): nothing else. */
static const struct {
    const char *description; /* one line, for acp-storage migrate */
    const char *sql;
} sq_migrations[] = {
    {"create the tables runs, sessions, events and counts (run totals kept by triggers)",
     ACP_SQLITE_SCHEMA_V1},
    {"add a CRC-32C checksum column to runs, sessions and events; compute it for every "
     "stored row",
     ACP_SQLITE_SCHEMA_V2 ACP_SQLITE_CHECKSUM_V2},
    {"add runs.version (stored runs become version 1) and the table marks (the delete mark "
     "of run versions)",
     ACP_SQLITE_SCHEMA_V3},
    {"create the status indexes runs_status, runs_agent_status and runs_finished; count "
     "runs per status and per agent and status (filters, purge, stats)",
     ACP_SQLITE_SCHEMA_V4},
    {"create the table time_counts (runs per agent, session, status and creation-time "
     "bucket at 6 levels, kept by triggers) and fill it from the stored runs: totals over "
     "time ranges without counting every match",
     ACP_SQLITE_SCHEMA_V5},
};
_Static_assert(sizeof sq_migrations / sizeof sq_migrations[0] == ACP_SQLITE_SCHEMA_VERSION,
               "one migration row per schema version");

/* The step to version 5 of a handle with time_totals=false: the table
 * would only be dropped again by sq_apply_time_totals, after a backfill
 * as long as the whole migration (README.md).  A later open with
 * time_totals=true creates and fills it. */
static const char sq_v5_without_time_counts[] =
    "schema version 5 without the table time_counts (option time_totals=false): nothing to "
    "create or fill; totals over time ranges count the matches, and a later open with "
    "time_totals=true creates and fills it";

/* Row v of sq_migrations as this handle runs and shows it. */
static void sq_migration(const acp_backend *b, int v, const char **description,
                         const char **sql)
{
    *description = sq_migrations[v].description;
    *sql = sq_migrations[v].sql;
    if (v == 4 && !b->time_totals) {
        *description = sq_v5_without_time_counts;
        *sql = NULL;
    }
}

uint32_t sq_crc(const char *key, size_t key_len, const char *doc, size_t doc_len)
{
    uint32_t crc = acp_crc32c(0, key, key_len);
    crc = acp_crc32c(crc, "", 1);
    return acp_crc32c(crc, doc, doc_len);
}

/* acp_crc(key, doc) in SQL, for the migration that adds checksums to the
 * rows of an older store. */
static void sq_sql_crc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *key = (const char *)sqlite3_value_text(argv[0]);
    size_t key_len = (size_t)sqlite3_value_bytes(argv[0]);
    const char *doc = (const char *)sqlite3_value_text(argv[1]);
    size_t doc_len = (size_t)sqlite3_value_bytes(argv[1]);

    (void)argc;
    if (key == NULL || doc == NULL)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_int64(ctx, sq_crc(key, key_len, doc, doc_len));
}

static acp_status sq_create_or_migrate(const acp_backend *b, sq_conn *c, acp_call *call)
{
    int app_id = 0, version = 0, objects = 0, plan = SQ_READY;
    acp_status st;
    char *errmsg = NULL;
    char sql[96];
    int rc;

    rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    if (rc != SQLITE_OK)
        return sq_fail(b, call, c, rc, "open: lock for schema creation", NULL);
    /* Another process may have created or migrated it while we waited. */
    rc = sq_read_header(c, &app_id, &version, &objects);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: read header", NULL);
        goto fail;
    }
    st = sq_check_header(b, call, app_id, version, objects, &plan);
    if (st != ACP_OK)
        goto fail;
    if (plan == SQ_CREATE)
        version = 0;
    /* Only on this connection and only for the migration: the schema never
     * names it, so other tools can still use the store. */
    rc = sqlite3_create_function_v2(c->db, "acp_crc", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                    NULL, sq_sql_crc, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: migration", NULL);
        goto fail;
    }
    for (int v = version; v < ACP_SQLITE_SCHEMA_VERSION; v++) {
        const char *what, *steps;
        sq_migration(b, v, &what, &steps);
        rc = steps ? sqlite3_exec(c->db, steps, NULL, NULL, &errmsg) : SQLITE_OK;
        if (rc != SQLITE_OK) {
            st = b->host->error(call, sq_status(rc) == ACP_PLUGIN ? ACP_CORRUPT : sq_status(rc),
                                "%s: open: schema version %d -> %d failed: %s", b->path,
                                v, v + 1, errmsg ? errmsg : sqlite3_errstr(rc));
            sqlite3_free(errmsg);
            goto fail;
        }
    }
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             ACP_SQLITE_APPLICATION_ID, ACP_SQLITE_SCHEMA_VERSION);
    rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: write schema", NULL);
        goto fail;
    }
    if (plan == SQ_MIGRATE)
        b->host->log(2, SQ_NAME, "%s: schema migrated from version %d to %d", b->path, version,
                     ACP_SQLITE_SCHEMA_VERSION);
    return ACP_OK;
fail:
    sq_rollback(c);
    return st;
}

int sq_time_counts(sq_conn *c)
{
    sqlite3_stmt *s = c->st[ACP_SQ_SCHEMA_COOKIE];
    int rc = sqlite3_step(s);
    int64_t cookie = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;

    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc;
    if (c->tc_known && cookie == c->tc_cookie)
        return SQLITE_OK;
    s = c->st[ACP_SQ_HAS_TIME_COUNTS];
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        c->time_counts = sqlite3_column_int(s, 0) > 0;
        c->tc_cookie = cookie;
        c->tc_known = 1;
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

acp_status sq_apply_time_totals(const acp_backend *b, sq_conn *c, acp_call *call)
{
    int rc = sq_time_counts(c);

    if (rc == SQLITE_OK && c->time_counts == b->time_totals)
        return ACP_OK;
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    /* Another process may have changed it while we waited for the lock. */
    if (rc == SQLITE_OK)
        rc = sq_time_counts(c);
    if (rc == SQLITE_OK && c->time_counts != b->time_totals)
        rc = sqlite3_exec(c->db,
                          b->time_totals ? ACP_SQLITE_TIME_COUNTS_DROP ACP_SQLITE_SCHEMA_V5
                                         : ACP_SQLITE_TIME_COUNTS_DROP,
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK) {
        acp_status st = sq_fail(b, call, c, rc,
                                b->time_totals ? "open: time_totals=true: create time_counts"
                                               : "open: time_totals=false: drop time_counts",
                                NULL);
        sq_rollback(c);
        return st;
    }
    c->tc_known = 0; /* the schema changed: read it again */
    return ACP_OK;
}

/* migrate=never and the schema is not the plugin's: say what to run. */
static acp_status sq_migrate_refused(const acp_backend *b, acp_call *call, int version)
{
    if (version == 0)
        return b->host->error(call, ACP_UNSUPPORTED,
                              "%s: no acp-storage schema yet, and migrate=never does not create "
                              "one: run 'acp-storage migrate' on this store first",
                              b->path);
    return b->host->error(call, ACP_UNSUPPORTED,
                          "%s: schema version %d is older than version %d of this plugin, and "
                          "migrate=never does not migrate it: run 'acp-storage migrate' on this "
                          "store (as a user allowed to change it)",
                          b->path, version, ACP_SQLITE_SCHEMA_VERSION);
}

acp_status sq_open_schema(const acp_backend *b, sq_conn *c, acp_call *call)
{
    int app_id = 0, version = 0, objects = 0, plan = SQ_READY;
    acp_status st;
    int rc;

    rc = sq_read_header(c, &app_id, &version, &objects);
    if (rc != SQLITE_OK)
        return sq_fail(b, call, c, rc, "open: read header", NULL);
    st = sq_check_header(b, call, app_id, version, objects, &plan);
    if (st != ACP_OK)
        return st;
    if (b->migrate == SQ_MIGRATE_INSPECT)
        return ACP_OK; /* sq_migrate decides */
    if (b->migrate == SQ_MIGRATE_NEVER && plan != SQ_READY)
        return sq_migrate_refused(b, call, plan == SQ_CREATE ? 0 : version);
    if (b->readonly) {
        if (plan == SQ_CREATE)
            return b->host->error(call, ACP_INVALID,
                                  "%s: no acp-storage store here, and mode=ro cannot "
                                  "create one",
                                  b->path);
        if (plan == SQ_MIGRATE)
            return b->host->error(call, ACP_UNSUPPORTED,
                                  "%s: schema version %d must be migrated to %d; open it "
                                  "once without mode=ro",
                                  b->path, version, ACP_SQLITE_SCHEMA_VERSION);
        return ACP_OK;
    }

    rc = sq_set_wal(b, c);
    if (rc != SQLITE_OK)
        return sq_fail(b, call, c, rc, "open: set WAL mode", NULL);
    st = plan != SQ_READY ? sq_create_or_migrate(b, c, call) : ACP_OK;
    return st == ACP_OK ? sq_apply_time_totals(b, c, call) : st;
}

/* acp-storage migrate: the version the first connection found, the rows
 * of sq_migrations from there, then (not a dry run) the same migration an
 * open with migrate=auto runs. */
acp_status sq_migrate(acp_backend *b, uint32_t flags, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    int app_id = 0, from = 0, objects = 0, plan = SQ_READY, rc;
    sq_conn *c;
    acp_status st;

    if (h->size < offsetof(acp_plugin_host, migrate_step) + sizeof h->migrate_step)
        return ACP_NOMEM;
    st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    rc = sq_read_header(c, &app_id, &from, &objects);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "migrate: read header", NULL);
    if (st == ACP_OK)
        st = sq_check_header(b, call, app_id, from, objects, &plan);
    if (plan == SQ_CREATE)
        from = 0;
    if (st == ACP_OK && h->migrate_versions(call, from, ACP_SQLITE_SCHEMA_VERSION,
                                            "schema version") != 0)
        st = ACP_NOMEM;
    for (int v = from; st == ACP_OK && v < ACP_SQLITE_SCHEMA_VERSION; v++) {
        const char *what, *steps;
        sq_migration(b, v, &what, &steps);
        if (h->migrate_step(call, v, v + 1, what, steps) != 0)
            st = ACP_NOMEM;
    }
    if (st == ACP_OK && !(flags & ACP_MIGRATE_DRY_RUN) && plan != SQ_READY) {
        if (b->readonly) {
            st = h->error(call, ACP_UNSUPPORTED,
                          "%s: schema version %d must be migrated to %d, and mode=ro changes "
                          "nothing: migrate without mode=ro",
                          b->path, from, ACP_SQLITE_SCHEMA_VERSION);
        } else {
            rc = sq_set_wal(b, c);
            st = rc != SQLITE_OK ? sq_fail(b, call, c, rc, "migrate: set WAL mode", NULL)
                                 : sq_create_or_migrate(b, c, call);
            /* As an open: another process may have migrated the store
             * meanwhile, with the other value of time_totals. */
            if (st == ACP_OK)
                st = sq_apply_time_totals(b, c, call);
        }
    }
    sq_put(b, c);
    return st;
}
