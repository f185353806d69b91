/* SPDX-License-Identifier: MIT */
/*
 * test_migrate.c - explicit migrations through the library: the option
 * migrate=never refuses an older (or missing) schema and changes nothing,
 * acp_store_migrate() reports the versions and the steps of the backend's
 * table (a dry run changes nothing) and then migrates; backends without a
 * versioned schema have nothing to migrate.  The postgres side is
 * migrate_pg.sh.
 */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage.h"
#include "sqlite_sql.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static char dir[] = "/tmp/acp-migrate-XXXXXX";
static char db_path[128];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/acp.db", dir);
}

static void teardown(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(migrate, .init = setup, .fini = teardown);

/* Run SQL on the database file directly; returns the first column of the
 * last row of the last statement (or -1). */
static long long sql(const char *text)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    const char *tail = text;
    long long v = -1;
    while (tail && *tail) {
        cr_assert_eq(sqlite3_prepare_v2(db, tail, -1, &st, &tail), SQLITE_OK, "%s: %s", tail,
                     sqlite3_errmsg(db));
        if (!st)
            break;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        cr_assert_eq(rc, SQLITE_DONE, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* A store as version 1 of the plugin wrote it, with one run. */
static void make_version_1(void)
{
    sql("PRAGMA journal_mode = WAL; BEGIN;" ACP_SQLITE_SCHEMA_V1
        "PRAGMA application_id = " STR(ACP_SQLITE_APPLICATION_ID) ";"
        "PRAGMA user_version = 1;"
        "INSERT INTO runs VALUES ('r1', 'a', NULL, 'created', 5, NULL,"
        " '{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\"}');"
        "COMMIT");
}

static acp_config *config(const char *backend, const char *path, const char *migrate)
{
    acp_config *cfg;
    acp_error e;
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_set_backend(cfg, backend, &e), ACP_OK, "%s", e.message);
    if (path)
        cr_assert_eq(acp_config_set(cfg, "path", path, &e), ACP_OK, "%s", e.message);
    if (migrate)
        cr_assert_eq(acp_config_set(cfg, "migrate", migrate, &e), ACP_OK, "%s", e.message);
    return cfg;
}

/* The steps a migrate call reported, as "from>to:description;" text. */
typedef struct steps {
    char text[2048];
    int n, stop_at;
    int details;
} steps;

static int collect(void *ctx, int64_t from, int64_t to, const char *description,
                   const char *detail)
{
    steps *s = ctx;
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used, "%lld>%lld:%s;", (long long)from,
             (long long)to, description);
    s->details += detail && detail[0];
    return ++s->n == s->stop_at;
}

static acp_status open_status(const acp_config *cfg, acp_error *e)
{
    acp_store *s;
    acp_status st = acp_store_open_config(cfg, &s, e);
    if (st == ACP_OK)
        acp_store_close(s);
    return st;
}

/* Opening cfg fails with code, and the message holds text. */
static void open_fails(const acp_config *cfg, acp_status code, const char *text)
{
    acp_error e;
    cr_expect_eq(open_status(cfg, &e), code, "%s", e.message);
    cr_expect(strstr(e.message, text), "no '%s' in: %s", text, e.message);
}

Test(migrate, never_refuses_an_older_sqlite_schema_and_changes_nothing)
{
    make_version_1();
    acp_config *cfg = config("sqlite", db_path, "never");
    open_fails(cfg, ACP_UNSUPPORTED, "acp-storage migrate");
    open_fails(cfg, ACP_UNSUPPORTED, "schema version 1 is older");
    cr_expect_eq(sql("PRAGMA user_version"), 1, "the refusal changed the schema");
    cr_expect_eq(sql("SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'crc'"), 0);
    acp_config_free(cfg);
}

Test(migrate, dry_run_lists_the_steps_of_the_table_and_changes_nothing)
{
    make_version_1();
    acp_config *cfg = config("sqlite", db_path, "never");
    steps s = {.stop_at = -1};
    acp_migrate_info info;
    acp_error e;
    cr_assert_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, collect, &s, &info, &e), ACP_OK,
                 "%s", e.message);
    cr_expect_eq(info.found, 1);
    cr_expect_eq(info.latest, ACP_SQLITE_SCHEMA_VERSION);
    cr_expect_str_eq(info.what, "schema version");
    /* One step per version above 1, in order, each with its statements. */
    cr_expect_eq(s.n, ACP_SQLITE_SCHEMA_VERSION - 1, "%s", s.text);
    cr_expect_eq(info.steps, s.n);
    cr_expect_eq(s.details, s.n);
    cr_expect_eq(strncmp(s.text, "1>2:", 4), 0, "%s", s.text);
    cr_expect_eq(info.migrated, 0);
    cr_expect_eq(sql("PRAGMA user_version"), 1, "a dry run changed the schema");
    acp_config_free(cfg);
}

Test(migrate, migrate_brings_the_store_to_the_latest_version_then_never_opens_it)
{
    make_version_1();
    acp_config *cfg = config("sqlite", db_path, "never");
    acp_migrate_info info;
    acp_error e;
    cr_assert_eq(acp_store_migrate(cfg, 0, NULL, NULL, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, 1);
    cr_expect_eq(info.migrated, 1);
    cr_expect_eq(sql("PRAGMA user_version"), ACP_SQLITE_SCHEMA_VERSION);

    acp_store *s;
    cr_assert_eq(acp_store_open_config(cfg, &s, &e), ACP_OK, "%s", e.message);
    char *json;
    cr_expect_eq(acp_run_get(s, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    acp_store_close(s);

    /* Again: up to date, no step. */
    steps st = {.stop_at = -1};
    cr_assert_eq(acp_store_migrate(cfg, 0, collect, &st, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, ACP_SQLITE_SCHEMA_VERSION);
    cr_expect_eq(st.n, 0);
    cr_expect_eq(info.migrated, 0);
    acp_config_free(cfg);
}

Test(migrate, a_caller_that_stops_the_report_migrates_nothing)
{
    make_version_1();
    acp_config *cfg = config("sqlite", db_path, NULL);
    steps s = {.stop_at = 1};
    acp_migrate_info info;
    acp_error e;
    cr_expect_eq(acp_store_migrate(cfg, 0, collect, &s, &info, &e), ACP_INVALID);
    cr_expect(strstr(e.message, "stopped by the caller; nothing migrated"), "%s", e.message);
    cr_expect_eq(info.steps, 1);
    cr_expect_eq(info.migrated, 0);
    cr_expect_eq(sql("PRAGMA user_version"), 1, "migrated although the caller stopped");
    acp_config_free(cfg);
}

Test(migrate, never_does_not_create_a_store_and_a_dry_run_creates_nothing)
{
    acp_config *cfg = config("sqlite", db_path, "never");
    open_fails(cfg, ACP_NOT_FOUND, "migrate=never");
    acp_error e;
    cr_expect_neq(access(db_path, F_OK), 0, "migrate=never created the file");
    cr_expect_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, NULL, NULL, NULL, &e), ACP_NOT_FOUND);
    cr_expect_neq(access(db_path, F_OK), 0, "a dry run created the file");

    /* migrate creates it, from version 0, with every step of the table. */
    steps s = {.stop_at = -1};
    acp_migrate_info info;
    cr_assert_eq(acp_store_migrate(cfg, 0, collect, &s, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, 0);
    cr_expect_eq(s.n, ACP_SQLITE_SCHEMA_VERSION, "%s", s.text);
    cr_expect_eq(open_status(cfg, &e), ACP_OK, "%s", e.message);
    acp_config_free(cfg);
}

Test(migrate, an_empty_file_is_not_given_a_schema_under_never)
{
    FILE *f = fopen(db_path, "w");
    cr_assert_not_null(f);
    fclose(f);
    acp_config *cfg = config("sqlite", db_path, "never");
    open_fails(cfg, ACP_UNSUPPORTED, "acp-storage migrate");
    struct stat st;
    cr_expect_eq(stat(db_path, &st), 0);
    cr_expect_eq(st.st_size, 0, "the refusal wrote to the file");
    acp_config_free(cfg);
}

Test(migrate, a_newer_store_is_refused_by_migrate_too)
{
    make_version_1();
    sql("PRAGMA user_version = 99");
    acp_config *cfg = config("sqlite", db_path, NULL);
    acp_error e;
    cr_expect_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, NULL, NULL, NULL, &e),
                 ACP_UNSUPPORTED);
    cr_expect(strstr(e.message, "newer"), "%s", e.message);
    cr_expect_eq(sql("PRAGMA user_version"), 99);
    acp_config_free(cfg);
}

Test(migrate, mode_ro_shows_but_does_not_migrate)
{
    make_version_1();
    acp_config *cfg = config("sqlite", db_path, NULL);
    acp_error e;
    cr_assert_eq(acp_config_set(cfg, "mode", "ro", &e), ACP_OK);
    acp_migrate_info info;
    cr_expect_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, NULL, NULL, &info, &e), ACP_OK, "%s",
                 e.message);
    cr_expect_eq(info.found, 1);
    cr_expect_eq(acp_store_migrate(cfg, 0, NULL, NULL, NULL, &e), ACP_UNSUPPORTED);
    cr_expect(strstr(e.message, "mode=ro"), "%s", e.message);
    cr_expect_eq(sql("PRAGMA user_version"), 1);
    acp_config_free(cfg);
}

Test(migrate, the_option_takes_auto_or_never)
{
    acp_config *cfg = config("sqlite", db_path, "sometimes");
    open_fails(cfg, ACP_INVALID, "migrate=sometimes");
    acp_error e;
    acp_config_free(cfg);
    /* Backends without a versioned schema take and ignore it. */
    cfg = config("memory", NULL, "never");
    cr_expect_eq(open_status(cfg, &e), ACP_OK, "%s", e.message);
    acp_config_free(cfg);
}

Test(migrate, memory_has_nothing_to_migrate_and_file_reports_its_format)
{
    acp_config *cfg = config("memory", NULL, NULL);
    steps s = {.stop_at = -1};
    acp_migrate_info info;
    acp_error e;
    cr_assert_eq(acp_store_migrate(cfg, 0, collect, &s, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, -1);
    cr_expect_eq(info.latest, -1);
    cr_expect_eq(s.n, 0);
    acp_config_free(cfg);

    char fdir[160], format[200];
    snprintf(fdir, sizeof fdir, "%s/files", dir);
    cfg = config("file", fdir, "never");
    cr_expect_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, NULL, NULL, &info, &e),
                 ACP_NOT_FOUND, "a dry run created a file store");
    cr_assert_eq(acp_store_migrate(cfg, 0, collect, &s, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, info.latest, "a new file store is not at the latest format");
    cr_expect_str_eq(info.what, "format version");
    cr_expect_eq(s.n, 0);
    cr_expect_eq(open_status(cfg, &e), ACP_OK, "%s", e.message);

    /* A store of format 1: never refuses it, a dry run lists the raise,
     * migrate raises it. */
    snprintf(format, sizeof format, "%s/FORMAT", fdir);
    FILE *f = fopen(format, "w");
    cr_assert_not_null(f);
    fputs("{\"format\":\"acp-storage-file\",\"version\":1}\n", f);
    fclose(f);
    open_fails(cfg, ACP_UNSUPPORTED, "acp-storage migrate");
    cr_assert_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, collect, &s, &info, &e), ACP_OK,
                 "%s", e.message);
    cr_expect_eq(info.found, 1);
    cr_expect_eq(s.n, info.latest - 1, "%s", s.text);
    open_fails(cfg, ACP_UNSUPPORTED, "format 1 is older");
    cr_assert_eq(acp_store_migrate(cfg, 0, NULL, NULL, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.migrated, 1);
    cr_expect_eq(open_status(cfg, &e), ACP_OK, "%s", e.message);
    acp_config_free(cfg);
}
