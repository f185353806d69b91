/* SPDX-License-Identifier: MIT */
/*
 * test_versions.c - run versions where the conformance suite cannot look:
 * plugins without ACP_CAP_VERSIONS (an ABI 1.0 plugin, a 1.2 one that does
 * not declare it), and stores written before versions existed (a sqlite
 * schema 2 store, a file store of FORMAT 1), whose runs read as version 1
 * and go on from there.
 */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"
#include "crc32c.h"

static char g_dir[64];

static void setup(void)
{
    strcpy(g_dir, "/tmp/acp-versions-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(versions, .init = setup, .fini = teardown);

static acp_store *open_uri(const char *uri)
{
    acp_store *s = NULL;
    acp_error e;
    cr_assert_eq(acp_store_open(uri, &s, &e), ACP_OK, "%s: %s", uri, e.message);
    return s;
}

/* A plugin of the loader's fixtures (tests/plugin_host), by name. */
static acp_store *open_fixture(const char *name)
{
    acp_config *cfg;
    acp_error e;
    acp_store *s = NULL;
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_set_backend(cfg, name, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_store_open_config(cfg, &s, &e), ACP_OK, "%s: %s", name, e.message);
    acp_config_free(cfg);
    return s;
}

static const char run_doc[] =
    "{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\",\"n\":1}";

static void expect_no_versions(const char *name)
{
    acp_store *s = open_fixture(name);
    acp_error e;
    cr_expect_eq(acp_store_capabilities(s) & ACP_CAP_VERSIONS, 0);
    int64_t v = -1;
    /* Plain saves and reads work, reporting version 0. */
    cr_assert_eq(acp_run_save_versioned(s, run_doc, ACP_STRLEN, &v, &e), ACP_OK, "%s",
                 e.message);
    cr_expect_eq(v, 0, "%s: a plugin without versions reported version %" PRId64, name, v);
    char *json;
    v = -1;
    cr_assert_eq(acp_run_get_versioned(s, "r1", &json, NULL, &v, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_expect_eq(v, 0);
    acp_page *page;
    cr_assert_eq(acp_run_list(s, NULL, &page, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(page), 1);
    cr_expect_eq(acp_page_version(page, 0), 0);
    acp_page_free(page);
    /* What needs versions is refused, naming the reason; nothing changes. */
    cr_expect_eq(acp_run_save_if(s, run_doc, ACP_STRLEN, 1, NULL, &e), ACP_UNSUPPORTED);
    cr_expect(strstr(e.message, "versions"), "%s", e.message);
    cr_expect_eq(acp_run_save_if(s, run_doc, ACP_STRLEN, ACP_VERSION_ABSENT, NULL, &e),
                 ACP_UNSUPPORTED);
    cr_expect_eq(acp_run_restore(s, run_doc, ACP_STRLEN, 5, ACP_RESTORE_CREATED_FROM_DOC, 0, &e),
                 ACP_UNSUPPORTED);
    acp_store_close(s);
}

Test(versions, plugins_without_versions_report_zero_and_refuse_conditions)
{
    expect_no_versions("older_minor"); /* built against ABI 1.0 */
    expect_no_versions("good");        /* ABI 1.2, without ACP_CAP_VERSIONS */
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql,
                 msg ? msg : "");
    sqlite3_close(db);
}

/* Continue a store of an earlier version: its run reads as version 1, a
 * conditional save on 1 goes through, and delete + re-create continues
 * above. */
static void expect_continues_from_one(acp_store *s)
{
    acp_error e;
    char *json;
    int64_t v = 0, v2 = 0, v3 = 0;
    cr_assert_eq(acp_run_get_versioned(s, "r1", &json, NULL, &v, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_expect_eq(v, 1, "a run stored before versions reads as version %" PRId64, v);
    cr_expect_eq(acp_run_save_if(s, run_doc, ACP_STRLEN, 2, NULL, &e), ACP_CONFLICT);
    cr_assert_eq(acp_run_save_if(s, run_doc, ACP_STRLEN, 1, &v2, &e), ACP_OK, "%s", e.message);
    cr_expect_gt(v2, 1);
    cr_assert_eq(acp_run_delete(s, "r1", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_save_if(s, run_doc, ACP_STRLEN, ACP_VERSION_ABSENT, &v3, &e), ACP_OK,
                 "%s", e.message);
    cr_expect_gt(v3, v2);
}

Test(versions, sqlite_store_of_schema_2_migrates_to_versions)
{
    char path[128], uri[160];
    snprintf(path, sizeof path, "%s/t.db", g_dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    acp_store *s = open_uri(uri);
    acp_error e;
    cr_assert_eq(acp_run_save(s, run_doc, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
    acp_store_close(s);
    /* Back to schema 2: no version column, no marks table (and none of
     * schema 4's status indexes, triggers and counters, nor schema 5's
     * time_counts). */
    sql_exec(path, "DROP TRIGGER runs_time_count_insert; DROP TRIGGER runs_time_count_delete;"
                   "DROP TRIGGER runs_time_count_move; DROP TABLE time_counts;"
                   "DROP INDEX runs_status; DROP INDEX runs_agent_status;"
                   "DROP INDEX runs_finished; DROP TRIGGER runs_count_status_insert;"
                   "DROP TRIGGER runs_count_status_delete; DROP TRIGGER runs_count_status_move;"
                   "DELETE FROM counts WHERE kind IN (4, 5);"
                   "ALTER TABLE runs DROP COLUMN version; DROP TABLE marks;"
                   "PRAGMA user_version = 2");
    s = open_uri(uri);
    expect_continues_from_one(s);
    acp_store_close(s);
}

/* A run file as FORMAT 1 wrote it (plugins/file/fmt.h): no "version". */
static void write_v1_run(const char *store)
{
    char body[512], path[256];
    int n = snprintf(body, sizeof body,
                     "{\"run_id\":\"r1\",\"agent_name\":\"a\",\"session_id\":null,"
                     "\"created_us\":1748779200000000,\"doc_len\":%zu,\"doc\":%s",
                     strlen(run_doc), run_doc);
    uint32_t crc = acp_crc32c(0, body, (size_t)n);
    snprintf(body + n, sizeof body - (size_t)n, ",\"crc\":\"%08x\"}\n", crc);
    snprintf(path, sizeof path, "%s/runs/r1.json", store);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(body, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/FORMAT", store);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"format\":\"acp-storage-file\",\"version\":1}\n", f);
    fclose(f);
}

Test(versions, file_store_of_format_1_is_raised_to_versions)
{
    char store[128], uri[160], path[192];
    snprintf(store, sizeof store, "%s/store", g_dir);
    snprintf(uri, sizeof uri, "file:%s", store);
    acp_store_close(open_uri(uri)); /* creates the layout */
    write_v1_run(store);
    acp_store *s = open_uri(uri);
    /* The FORMAT says the latest (3: versions came with 2, statuses in the
     * index with 3) now: a plugin of FORMAT 1 refuses the store rather than
     * taking the new run files for damaged ones. */
    snprintf(path, sizeof path, "%s/FORMAT", store);
    FILE *f = fopen(path, "r");
    char text[128] = "";
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(text, sizeof text, f));
    fclose(f);
    cr_expect_str_eq(text, "{\"format\":\"acp-storage-file\",\"version\":3}\n");
    expect_continues_from_one(s);
    acp_store_close(s);
}
