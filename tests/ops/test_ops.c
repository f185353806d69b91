/* SPDX-License-Identifier: MIT */
/*
 * test_ops.c - operations through the library, where the conformance
 * suite cannot look: plugins built for older ABI minors refuse filtered
 * lists, the core's purge and stats fallbacks against the backends' own
 * methods, batches and stopping, and the SQLite migration to schema 4
 * filling the status counters of an existing store.
 */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"
#ifdef ACP_OPS_SQLITE
#include <sqlite3.h>
#endif

#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */
#define HOUR INT64_C(3600000000)

static acp_store *open_uri(const char *uri)
{
    acp_store *s = NULL;
    acp_error err;
    acp_status st = acp_store_open(uri, &s, &err);
    cr_assert_eq(st, ACP_OK, "open %s: %s", uri, err.message);
    return s;
}

/* Run i of n: status by i % 3 (completed, failed, in-progress), agent by
 * i % 2, created T0 + i hours, finished an hour later unless in progress. */
static const char *status_of(int i)
{
    static const char *const s[] = {"completed", "failed", "in-progress"};
    return s[i % 3];
}

static void fill(acp_store *s, int n, int events)
{
    for (int i = 0; i < n; i++) {
        char doc[512], created[ACP_TIME_BUFSZ], finished[ACP_TIME_BUFSZ], id[32];
        acp_time_format(T0 + i * HOUR, created);
        acp_time_format(T0 + (i + 1) * HOUR, finished);
        snprintf(id, sizeof id, "run-%04d", i);
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"%s\",\"agent_name\":\"agent-%d\",\"status\":\"%s\","
                 "\"created_at\":\"%s\"%s%s%s}",
                 id, i % 2, status_of(i), created, i % 3 == 2 ? "" : ",\"finished_at\":\"",
                 i % 3 == 2 ? "" : finished, i % 3 == 2 ? "" : "\"");
        acp_error err;
        cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
        for (int e = 0; e < events; e++)
            cr_assert_eq(acp_event_add(s, id, "{\"type\":\"x\"}", ACP_STRLEN, NULL, &err),
                         ACP_OK);
    }
}

/* ---- older plugins ---- */

Test(ops, plugins_of_older_abi_minors_refuse_filtered_lists)
{
    char paths[] = ACP_OPS_OLD_PLUGINS;
    for (char *so = strtok(paths, ":"); so; so = strtok(NULL, ":")) {
        acp_config *cfg;
        acp_store *s;
        acp_error err;
        cr_assert_eq(acp_config_new(&cfg, &err), ACP_OK);
        cr_assert_eq(acp_config_set_plugin_file(cfg, so, &err), ACP_OK, "%s", err.message);
        cr_assert_eq(acp_store_open_config(cfg, &s, &err), ACP_OK, "%s: %s", so, err.message);
        acp_config_free(cfg);
        cr_assert_eq(acp_store_capabilities(s) & ACP_CAP_RUN_FILTERS, 0);
        fill(s, 6, 0);
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        acp_page *p = NULL;
        f.status = "completed";
        cr_expect_eq(acp_run_list(s, &f, &p, &err), ACP_UNSUPPORTED, "%s", so);
        cr_expect(strstr(err.message, "ACP_CAP_RUN_FILTERS"), "%s", err.message);
        f.status = NULL;
        f.created_until_us = T0 + 3 * HOUR;
        cr_expect_eq(acp_run_list(s, &f, &p, &err), ACP_UNSUPPORTED, "%s", so);
        cr_expect_null(p, "no page on a refusal");
        /* Purge and stats still work, by walking. */
        acp_stats *st;
        cr_assert_eq(acp_store_stats(s, &st, &err), ACP_OK, "%s", err.message);
        cr_expect_eq(acp_stats_scanned(st), 1);
        cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), 6);
        cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "failed"), 2);
        acp_stats_free(st);
        acp_purge_filter pf = ACP_PURGE_FILTER_INIT;
        pf.finished_before_us = T0 + 100 * HOUR;
        int64_t n = 0;
        cr_expect_eq(acp_store_purge(s, &pf, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
        cr_expect_eq(n, 4, "%s purged %lld", so, (long long)n);
        acp_store_close(s);
    }
}

/* ---- purge: batches, progress, stopping ---- */

typedef struct calls {
    int n;
    int64_t seen[64];
    int stop_at; /* stop on this call (1-based), 0: never */
} calls;

static int record(void *ctx, int64_t done)
{
    calls *c = ctx;
    if (c->n < 64)
        c->seen[c->n] = done;
    c->n++;
    return c->stop_at && c->n >= c->stop_at;
}

static void purge_in_batches(const char *uri, int native)
{
    acp_store *s = open_uri(uri);
    fill(s, 30, 2); /* 20 finished: completed and failed */
    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    f.finished_before_us = T0 + 100 * HOUR;
    f.batch_size = 3;
    calls c = {.stop_at = 3};
    int64_t n = 0;
    acp_error err;
    cr_assert_eq(acp_store_purge(s, &f, record, &c, &n, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(c.n, 3, "%s: stopped on the third call", uri);
    cr_expect_eq(n, c.seen[2]);
    if (native) /* one batch of exactly batch_size runs per call */
        cr_expect(c.seen[0] == 3 && c.seen[1] == 6 && n == 9, "%s: %lld %lld %lld", uri,
                  (long long)c.seen[0], (long long)c.seen[1], (long long)n);
    else /* a page of batch_size runs per call, some of them not matching */
        cr_expect(n >= 3 && n <= 9, "%s: %lld", uri, (long long)n);
    /* Run again without a stop: the rest, counted in increasing steps. */
    calls rest = {0};
    int64_t m = 0;
    cr_assert_eq(acp_store_purge(s, &f, record, &rest, &m, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(n + m, 20, "%s: %lld + %lld", uri, (long long)n, (long long)m);
    for (int i = 1; i < rest.n && i < 64; i++)
        cr_expect_gt(rest.seen[i], rest.seen[i - 1]);
    acp_stats *st;
    cr_assert_eq(acp_store_stats(s, &st, &err), ACP_OK);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), 10);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), 20, "%s: the purged runs' events "
                 "are gone", uri);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "completed"), -1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "in-progress"), 10);
    acp_stats_free(st);
    acp_store_close(s);
}

Test(ops, purge_by_the_core_walk_stops_and_resumes)
{
    purge_in_batches("memory:", 0);
}

/* A run finished now (so no purge of 1h or more takes it), saved after
 * fill()'s runs and so listed before them. */
static void save_recent(acp_store *s, int i, const char *status)
{
    char doc[256], fin[ACP_TIME_BUFSZ];
    acp_time_format(acp_time_now_us(), fin);
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"recent-%05d\",\"agent_name\":\"agent-0\",\"status\":\"%s\","
             "\"finished_at\":\"%s\"}",
             i, status, fin);
    acp_error err;
    cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
}

/* Many agents: every figure found by its label, and walked in order.  (The
 * library once searched its figures one by one, quadratic in the agents:
 * 5.8 s for 40,000; that cost is measured outside the tests.) */
Test(ops, stats_of_many_agents_are_each_found_and_in_order)
{
    acp_store *s = open_uri("memory:");
    acp_error err;
    enum { AGENTS = 3000 };
    for (int i = 0; i < AGENTS; i++) {
        char doc[160];
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"r%d\",\"agent_name\":\"agent-%05d\",\"status\":\"%s\"}", i,
                 i % (AGENTS / 2), i % 2 ? "completed" : "failed");
        cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
    }
    acp_stats *st;
    cr_assert_eq(acp_store_stats(s, &st, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), AGENTS);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "failed"), AGENTS / 2);
    for (int i = 0; i < AGENTS / 2; i += 7) {
        char agent[32];
        snprintf(agent, sizeof agent, "agent-%05d", i);
        cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, agent), 2, "%s", agent);
    }
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "agent-99999"), -1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "agent-00001"), -1);
    int kind, prev_kind = 0, agents = 0;
    const char *label, *prev = NULL;
    int64_t v;
    for (size_t i = 0; acp_stats_get(st, i, &kind, &label, &v); i++) {
        cr_assert_geq(kind, prev_kind);
        if (kind == prev_kind && label && prev)
            cr_assert_lt(strcmp(prev, label), 0, "%s then %s", prev, label);
        agents += kind == ACP_STAT_RUNS_BY_AGENT;
        prev_kind = kind, prev = label;
    }
    cr_expect_eq(agents, AGENTS / 2);
    acp_stats_free(st);
    acp_store_close(s);
}

#ifdef ACP_OPS_SQLITE
static char dir[] = "/tmp/acp-ops-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(ops, purge_by_sqlite_batches_stops_and_resumes, .init = make_dir, .fini = remove_dir)
{
    char uri[128];
    snprintf(uri, sizeof uri, "sqlite:%s/ops.db", dir);
    purge_in_batches(uri, 1);
}

/* Turn a schema 4 store back into what schema 3 had (no status indexes,
 * triggers or counters), with SQLite itself. */
static void downgrade_to_v3(const char *path)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db,
                          "BEGIN; DROP INDEX runs_status; DROP INDEX runs_agent_status;"
                          " DROP INDEX runs_finished; DROP TRIGGER runs_count_status_insert;"
                          " DROP TRIGGER runs_count_status_delete;"
                          " DROP TRIGGER runs_count_status_move;"
                          " DELETE FROM counts WHERE kind IN (4, 5);"
                          /* and schema 5's time_counts */
                          " DROP TRIGGER runs_time_count_insert;"
                          " DROP TRIGGER runs_time_count_delete;"
                          " DROP TRIGGER runs_time_count_move; DROP TABLE time_counts;"
                          " PRAGMA user_version = 3; COMMIT;",
                          NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}

Test(ops, sqlite_migration_to_schema_4_counts_the_existing_runs, .init = make_dir,
     .fini = remove_dir)
{
    char uri[160], path[128];
    snprintf(path, sizeof path, "%s/old.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    acp_store *s = open_uri(uri);
    fill(s, 12, 0);
    acp_store_close(s);
    downgrade_to_v3(path);

    s = open_uri(uri);
    acp_stats *st;
    acp_error err;
    cr_assert_eq(acp_store_stats(s, &st, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(acp_stats_scanned(st), 0);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SCHEMA_VERSION, NULL), 5); /* the latest */
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "completed"), 4);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "agent-1"), 6);
    acp_stats_free(st);
    /* The totals of status lists come from the filled counters. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.status = "failed,in-progress";
    f.agent_name = "agent-0";
    f.want_total = 1;
    acp_page *p;
    cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(acp_page_total(p), 4); /* i = 2, 4, 8, 10 */
    cr_expect_str_eq(acp_page_key(p, 0), "run-0010");
    acp_page_free(p);
    /* verify finds the new counters consistent, also after changes. */
    fill(s, 3, 0);
    cr_expect_eq(acp_run_delete(s, "run-0004", &err), ACP_OK);
    acp_verify_counts vc;
    cr_expect_eq(acp_store_verify(s, 0, NULL, NULL, &vc, &err), ACP_OK, "%s", err.message);
    acp_store_close(s);
}
#endif

/* ---- stats ---- */

Test(ops, stats_say_whether_they_were_scanned)
{
    acp_store *s = open_uri("memory:");
    fill(s, 9, 1);
    acp_stats *st;
    acp_error err;
    cr_assert_eq(acp_store_stats(s, &st, &err), ACP_OK);
    cr_expect_eq(acp_stats_scanned(st), 0, "memory answers from its trees");
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), 9);
    cr_expect_gt(acp_stats_value(st, ACP_STAT_BYTES, NULL), 9 * 100);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SCHEMA_VERSION, NULL), -1);
    int kind = 0;
    const char *label = "x";
    int64_t v = 7;
    cr_expect_eq(acp_stats_get(st, acp_stats_count(st), &kind, &label, &v), 0);
    cr_expect(kind == 0 && v == 7, "outputs untouched past the end");
    cr_expect_str_eq(acp_stat_name(ACP_STAT_RUNS_BY_AGENT), "runs_by_agent");
    cr_expect_str_eq(acp_stat_name(99), "unknown");
    acp_stats_free(st);
    cr_expect_eq(acp_store_stats(NULL, &st, &err), ACP_INVALID);
    acp_store_close(s);
}

/* ---- filters from an older header ---- */

Test(ops, a_run_filter_of_the_older_layout_lists_unfiltered)
{
    /* An application built before the filters passes the smaller struct:
     * the new members take their defaults. */
    struct old_filter {
        size_t size;
        const char *agent_name, *session_id;
        int64_t limit, offset;
        const char *cursor;
        int want_total;
    } old = {sizeof old, NULL, NULL, 100, 0, NULL, 1};
    acp_store *s = open_uri("memory:");
    fill(s, 7, 0);
    acp_page *p;
    acp_error err;
    cr_assert_eq(acp_run_list(s, (const acp_run_filter *)(const void *)&old, &p, &err), ACP_OK,
                 "%s", err.message);
    cr_expect_eq(acp_page_total(p), 7);
    acp_page_free(p);
    acp_store_close(s);
}

/* ---- automatic retention ---- */

Test(ops, retain_option_purges_old_final_runs_on_writes)
{
    acp_store *s = open_uri("memory:?retain=1h");
    acp_error err;
    /* The first save starts a purge: run-0000 (completed, finished long
     * ago) goes at once; the purge keeps in-progress and recent runs. */
    fill(s, 3, 1);
    char *json;
    cr_expect_eq(acp_run_get(s, "run-0000", &json, NULL, &err), ACP_NOT_FOUND);
    cr_assert_eq(acp_run_get(s, "run-0002", &json, NULL, &err), ACP_OK);
    acp_free(json);
    /* Within the minute no other purge starts. */
    cr_assert_eq(acp_run_get(s, "run-0001", &json, NULL, &err), ACP_OK);
    acp_free(json);
    acp_store_close(s);

    static const char *const bad[] = {"memory:?retain=0d", "memory:?retain=abc",
                                      "memory:?retain=30", "memory:?retain=30x",
                                      "memory:?retain=-1d", "memory:?retain=99999999999w"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(acp_store_open(bad[i], &s, &err), ACP_INVALID, "%s", bad[i]);
        cr_expect(strstr(err.message, "retain"), "%s: %s", bad[i], err.message);
    }
    int64_t us;
    cr_expect_eq(acp_duration_parse("30d", &us, &err), ACP_OK);
    cr_expect_eq(us, INT64_C(30) * 86400 * 1000000);
    cr_expect_eq(acp_duration_parse("d", &us, &err), ACP_INVALID);
    cr_expect_eq(acp_duration_parse("12h ", &us, &err), ACP_INVALID);
}

/* A backend without purge_runs (file) is walked newest first: one
 * automatic purge looks at 10 batches of 100 runs at most, so a save never
 * walks a whole store, and the next one, a minute later, goes on where it
 * stopped, so old runs behind many recent ones are still reached.  Waits a
 * minute (the interval of automatic purges). */
Test(ops, retain_walk_is_bounded_and_goes_on_where_it_stopped, .timeout = 240)
{
    char d[] = "/tmp/acp-ops-retain-XXXXXX", uri[128], cmd[160];
    cr_assert_not_null(mkdtemp(d));
    snprintf(uri, sizeof uri, "file:%s/store", d);
    acp_store *s = open_uri(uri);
    fill(s, 3, 0);                  /* run-0000 completed, run-0001 failed: old */
    for (int i = 0; i < 1100; i++) /* recent, and listed before them */
        save_recent(s, i, i % 2 ? "completed" : "failed");
    acp_store_close(s);
    snprintf(uri, sizeof uri, "file:%s/store?retain=1h", d);
    s = open_uri(uri);
    acp_error err;
    char *json;
    save_recent(s, 5000, "in-progress"); /* the first purge: 1000 runs looked at */
    cr_expect_eq(acp_run_get(s, "run-0000", &json, NULL, &err), ACP_OK,
                 "one automatic purge walked past 1000 runs");
    acp_free(json);
    sleep(61);
    save_recent(s, 5001, "in-progress"); /* the next: goes on after those 1000 */
    cr_expect_eq(acp_run_get(s, "run-0000", &json, NULL, &err), ACP_NOT_FOUND,
                 "the next automatic purge started again from the newest run");
    cr_expect_eq(acp_run_get(s, "run-0001", &json, NULL, &err), ACP_NOT_FOUND);
    cr_expect_eq(acp_run_get(s, "recent-00001", &json, NULL, &err), ACP_OK);
    acp_free(json);
    acp_store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_expect_eq(system(cmd), 0);
}
