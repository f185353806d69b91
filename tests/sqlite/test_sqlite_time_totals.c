/* SPDX-License-Identifier: MIT */
/*
 * test_sqlite_time_totals.c - the sqlite backend's totals over creation-time
 * ranges (schema 5, time_counts): after random inserts, batch saves, status
 * and creation-time changes, deletes, purges and restores, every total of
 * acp_run_list equals a brute-force count over a model of the store kept by
 * the test, and time_counts holds exactly what the runs table implies; a
 * version 4 store is migrated in place (backfilled), and migrate=never
 * refuses it naming acp-storage migrate.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "acp_storage.h"
#include "sqlite_sql.h"

#include "sq_test_dir.h"

static char g_uri[700];

static void setup_uri(void)
{
    setup();
    snprintf(g_uri, sizeof g_uri, "sqlite:%s", g_db);
}

TestSuite(sqlite_time, .init = setup_uri, .fini = teardown, .timeout = 240);

/* ---- the model ---- */

enum { RUNS = 240, AGENTS = 3, SESSIONS = 4, NSTATUS = 7 };
static const char *const statuses[NSTATUS] = {"created",   "in-progress", "awaiting", "cancelling",
                                              "cancelled", "completed",   "failed"};

typedef struct mrun {
    int present;
    int agent, session; /* session -1: none */
    int status;
    int64_t created_us, finished_us; /* finished_us INT64_MIN: none */
} mrun;

static mrun g_model[RUNS];
static uint64_t g_rng = 0x243F6A8885A308D3u;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Around one instant on either side of a boundary of every bucket level
 * (2^14 to 2^44 us), so that ranges cut buckets of every level. */
#define T0 (INT64_C(1) << 50)
static int64_t rnd_time(void)
{
    int bits = 8 + (int)(rnd() % 40); /* spreads from 256 us to 2^47 us */
    int64_t off = (int64_t)(rnd() % ((uint64_t)1 << bits));
    return rnd() % 2 ? T0 + off : T0 - off;
}

static int run_doc(char *buf, size_t cap, int r, const mrun *m)
{
    char created[ACP_TIME_BUFSZ], finished[ACP_TIME_BUFSZ + 32] = "", sess[64] = "";
    acp_time_format(m->created_us, created);
    if (m->finished_us != INT64_MIN) {
        char f[ACP_TIME_BUFSZ];
        acp_time_format(m->finished_us, f);
        snprintf(finished, sizeof finished, ",\"finished_at\":\"%s\"", f);
    }
    if (m->session >= 0)
        snprintf(sess, sizeof sess, ",\"session_id\":\"s%d\"", m->session);
    return snprintf(buf, cap,
                    "{\"run_id\":\"run%03d\",\"agent_name\":\"a%d\",\"status\":\"%s\","
                    "\"created_at\":\"%s\"%s%s}",
                    r, m->agent, statuses[m->status], created, finished, sess);
}

/* A new state for run r: random agent, session, status, creation time. */
static mrun rnd_run(void)
{
    mrun m = {1, (int)(rnd() % AGENTS), (int)(rnd() % (SESSIONS + 1)) - 1,
              (int)(rnd() % NSTATUS), rnd_time(), INT64_MIN};
    if (m.status >= 4) /* final: cancelled, completed, failed */
        m.finished_us = m.created_us + (int64_t)(rnd() % 1000000);
    return m;
}

/* ---- operations through the API, mirrored in the model ---- */

static void op_save(acp_store *s, int r, mrun m)
{
    char doc[1024];
    acp_error e = {0};
    run_doc(doc, sizeof doc, r, &m);
    cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &e), ACP_OK, "%s: %s", doc, e.message);
    g_model[r] = m;
}

/* Only the status changes (the creation time and keys stay). */
static void op_status(acp_store *s, int r)
{
    mrun m = g_model[r];
    m.present = 1;
    m.status = (int)(rnd() % NSTATUS);
    m.finished_us = m.status >= 4 ? m.created_us + 5 : INT64_MIN;
    op_save(s, r, m);
}

static void op_save_many(acp_store *s)
{
    enum { B = 17 };
    char docs[B][1024];
    const char *p[B];
    int ids[B];
    mrun ms[B];
    for (int i = 0; i < B; i++) {
        ids[i] = (int)(rnd() % RUNS);
        for (int k = 0; k < i; k++)
            if (ids[k] == ids[i])
                ids[i] = (ids[i] + 1) % RUNS, k = -1; /* distinct ids */
        ms[i] = rnd_run();
        run_doc(docs[i], sizeof docs[i], ids[i], &ms[i]);
        p[i] = docs[i];
    }
    acp_error e = {0};
    cr_assert_eq(acp_run_save_many(s, p, NULL, B, &e), ACP_OK, "%s", e.message);
    for (int i = 0; i < B; i++)
        g_model[ids[i]] = ms[i];
}

static void op_delete(acp_store *s, int r)
{
    char id[16];
    acp_error e = {0};
    snprintf(id, sizeof id, "run%03d", r);
    cr_assert_eq(acp_run_delete(s, id, &e), ACP_OK, "%s", e.message);
    g_model[r].present = 0;
}

/* A restore sets the creation time apart from the document's. */
static void op_restore(acp_store *s, int r)
{
    mrun m = rnd_run();
    char doc[1024];
    acp_error e = {0};
    run_doc(doc, sizeof doc, r, &m);
    m.created_us = rnd_time();
    if (rnd() % 2) {
        cr_assert_eq(acp_run_restore(s, doc, ACP_STRLEN, 1000 + (int64_t)(rnd() % 1000),
                                     m.created_us, 0, &e),
                     ACP_OK, "%s", e.message);
    } else {
        /* Only an absent run is restored (an existing one: CONFLICT). */
        acp_restore_run rr = {doc, ACP_STRLEN, m.created_us};
        acp_status res = ACP_OK;
        cr_assert_eq(acp_run_restore_many(s, &rr, 1, &res, &e), ACP_OK, "%s", e.message);
        cr_assert_eq(res, g_model[r].present ? ACP_CONFLICT : ACP_OK);
        if (res != ACP_OK)
            return;
    }
    g_model[r] = m;
}

/* Purge one final status finished before a random instant, maybe of one
 * agent. */
static void op_purge(acp_store *s)
{
    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    int st = 4 + (int)(rnd() % 3);
    char agent[8];
    f.status = statuses[st];
    f.finished_before_us = rnd_time();
    if (rnd() % 2) {
        int a = (int)(rnd() % AGENTS);
        snprintf(agent, sizeof agent, "a%d", a);
        f.agent_name = agent;
    }
    f.batch_size = 7;
    int64_t n = 0, want = 0;
    acp_error e = {0};
    cr_assert_eq(acp_store_purge(s, &f, NULL, NULL, &n, &e), ACP_OK, "%s", e.message);
    for (int r = 0; r < RUNS; r++) {
        mrun *m = &g_model[r];
        if (m->present && m->status == st && m->finished_us != INT64_MIN &&
            m->finished_us < f.finished_before_us &&
            (!f.agent_name || m->agent == agent[1] - '0')) {
            m->present = 0;
            want++;
        }
    }
    cr_assert_eq(n, want, "purge deleted %lld, the model %lld", (long long)n, (long long)want);
}

/* About half the runs, at random. */
static void fill_half(acp_store *s)
{
    for (int r = 0; r < RUNS; r++)
        if (rnd() % 2)
            op_save(s, r, rnd_run());
}

/* ---- checks ---- */

/* One random filter: its total through the store against the model. */
static void check_one(acp_store *s)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    char status[128] = "", agent[8], session[8];
    int want_status[NSTATUS] = {0}, any_status = 1;
    int agent_i = -1, session_i = -2;
    f.want_total = 1;
    f.limit = 1 + (int64_t)(rnd() % 3);
    if (rnd() % 3) {
        any_status = 0;
        int k = 1 + (int)(rnd() % 3);
        for (int i = 0; i < k; i++) {
            int st = (int)(rnd() % NSTATUS);
            if (want_status[st])
                continue;
            want_status[st] = 1;
            snprintf(status + strlen(status), sizeof status - strlen(status), "%s%s",
                     status[0] ? "," : "", statuses[st]);
        }
        f.status = status;
    }
    if (rnd() % 2) {
        agent_i = (int)(rnd() % AGENTS);
        snprintf(agent, sizeof agent, "a%d", agent_i);
        f.agent_name = agent;
    }
    if (rnd() % 3 == 0) {
        session_i = (int)(rnd() % SESSIONS);
        snprintf(session, sizeof session, "s%d", session_i);
        f.session_id = session;
    }
    /* A range ending on a stored instant (or beside one) half the time. */
    int64_t a = rnd_time(), b = rnd_time();
    if (rnd() % 2) {
        int r = (int)(rnd() % RUNS);
        b = g_model[r].created_us + (int64_t)(rnd() % 2);
    }
    if (a > b) {
        int64_t t = a;
        a = b;
        b = t;
    }
    if (a == b)
        b++;
    int ends = (int)(rnd() % 4); /* 0 both, 1 since only, 2 until only, 3 none */
    if (ends != 2)
        f.created_since_us = a;
    if (ends == 0 || ends == 2)
        f.created_until_us = b;
    int64_t want = 0;
    for (int r = 0; r < RUNS; r++) {
        const mrun *m = &g_model[r];
        want += m->present && (any_status || want_status[m->status]) &&
                (agent_i < 0 || m->agent == agent_i) &&
                (session_i < -1 || m->session == session_i) &&
                (f.created_since_us == ACP_TIME_NONE || m->created_us >= f.created_since_us) &&
                (f.created_until_us == ACP_TIME_NONE || m->created_us < f.created_until_us);
    }
    acp_page *p = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_total(p), want,
                 "total %lld, brute force %lld: status '%s' agent %s session %s since %lld "
                 "until %lld",
                 (long long)acp_page_total(p), (long long)want, status,
                 f.agent_name ? f.agent_name : "-", f.session_id ? f.session_id : "-",
                 (long long)f.created_since_us, (long long)f.created_until_us);
    acp_page_free(p);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* time_counts rows as the runs table implies them (kind, key, level,
 * bucket, status, n), computed here without the plugin's SQL. */
#define ACP_TEST_TIME_COUNTS_OF_RUNS                                                      \
    "WITH l(v) AS (VALUES (0), (1), (2), (3), (4), (5)),"                                \
    " k(kind, key, run_id) AS (SELECT 0, '', run_id FROM runs"                           \
    "  UNION ALL SELECT 1, agent_name, run_id FROM runs"                                 \
    "  UNION ALL SELECT 2, session_id, run_id FROM runs WHERE session_id IS NOT NULL)"   \
    " SELECT k.kind, k.key, l.v, r.created_us / (1 << (14 + 6 * l.v))"                  \
    "  - (r.created_us % (1 << (14 + 6 * l.v)) < 0), r.status, count(*)"                 \
    " FROM k JOIN runs r USING (run_id), l GROUP BY 1, 2, 3, 4, 5"

/* The counters equal a recount, and hold no row at zero. */
static void check_table(void)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    int64_t missing = raw_int(db, "SELECT count(*) FROM (" ACP_TEST_TIME_COUNTS_OF_RUNS
                                  " EXCEPT SELECT * FROM time_counts)");
    int64_t extra = raw_int(db, "SELECT count(*) FROM (SELECT * FROM time_counts EXCEPT SELECT * FROM ("
                                ACP_TEST_TIME_COUNTS_OF_RUNS "))");
    cr_expect_eq(missing, 0, "%lld rows of time_counts differ from a recount",
                 (long long)missing);
    cr_expect_eq(extra, 0, "%lld rows of time_counts are not in a recount", (long long)extra);
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM time_counts WHERE n <= 0"), 0);
    cr_expect_gt(raw_int(db, "SELECT count(*) FROM time_counts"), 0);
    sqlite3_close(db);
}

static void check_many(acp_store *s, int n)
{
    for (int i = 0; i < n; i++)
        check_one(s);
}

/* steps random writes through s (every kind), with a total checked now
 * and then; every 200 steps 40 totals, and time_counts against a recount
 * when the store keeps it (table). */
static void churn(acp_store *s, int steps, int table)
{
    for (int step = 0; step < steps; step++) {
        int r = (int)(rnd() % RUNS);
        switch (rnd() % 8) {
        case 0: op_save(s, r, rnd_run()); break;
        case 1:
        case 2:
            if (g_model[r].present)
                op_status(s, r);
            else
                op_save(s, r, rnd_run());
            break;
        case 3:
            if (g_model[r].present)
                op_delete(s, r);
            break;
        case 4: op_restore(s, r); break;
        case 5: op_save_many(s); break;
        case 6:
            if (step % 5 == 0)
                op_purge(s);
            break;
        default: check_one(s); break;
        }
        if (step % 200 == 199) {
            check_many(s, 40);
            if (table)
                check_table();
        }
    }
}

Test(sqlite_time, range_totals_equal_brute_force_counts_through_every_kind_of_write)
{
    acp_store *s = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_store_open(g_uri, &s, &e), ACP_OK, "%s", e.message);
    fill_half(s);
    check_many(s, 60);
    check_table();
    churn(s, 1200, 1);
    acp_store_close(s);
    cr_assert_eq(acp_store_open(g_uri, &s, &e), ACP_OK, "%s", e.message);
    check_many(s, 100);
    acp_store_close(s);
}

/* ---- migration from version 4 ---- */

static void raw_exec(const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    cr_assert_eq(sqlite3_open(g_db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql,
                 msg ? msg : "");
    sqlite3_close(db);
}

static int collect_step(void *ctx, int64_t from, int64_t to, const char *description,
                        const char *detail)
{
    char *text = ctx;
    (void)detail;
    size_t used = strlen(text);
    snprintf(text + used, 1024 - used, "%lld>%lld:%s;", (long long)from, (long long)to,
             description);
    return 0;
}

/* A store of version 4 holding random runs (the model). */
static void make_version_4_store(void)
{
    acp_store *s = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_store_open(g_uri, &s, &e), ACP_OK, "%s", e.message);
    for (int r = 0; r < RUNS; r++)
        if (rnd() % 4)
            op_save(s, r, rnd_run());
    acp_store_close(s);
    /* Version 4 is version 5 without time_counts and its triggers. */
    raw_exec("BEGIN; DROP TRIGGER runs_time_count_insert; DROP TRIGGER runs_time_count_delete;"
             " DROP TRIGGER runs_time_count_move; DROP TABLE time_counts;"
             " PRAGMA user_version = 4; COMMIT");
}

Test(sqlite_time, a_version_4_store_is_migrated_with_its_time_counts_filled)
{
    acp_store *s = NULL;
    acp_error e = {0};
    make_version_4_store();

    acp_config *cfg = NULL;
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_set_backend(cfg, "sqlite", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_set(cfg, "path", g_db, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_set(cfg, "migrate", "never", &e), ACP_OK, "%s", e.message);
    /* migrate=never refuses and names the command. */
    cr_expect_eq(acp_store_open_config(cfg, &s, &e), ACP_UNSUPPORTED);
    cr_expect(strstr(e.message, "acp-storage migrate"), "%s", e.message);
    cr_expect(strstr(e.message, "schema version 4 is older"), "%s", e.message);
    /* The dry run shows the one step and changes nothing. */
    char text[1024] = "";
    acp_migrate_info info;
    cr_assert_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, collect_step, text, &info, &e),
                 ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, 4);
    cr_expect_eq(info.steps, 1, "%s", text);
    cr_expect(strstr(text, "4>5:") && strstr(text, "time_counts"), "%s", text);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'time_counts'"),
                 0, "a dry run created the table");
    sqlite3_close(db);
    /* Rows written while the store was version 4 are counted too. */
    raw_exec("INSERT INTO runs (run_id, agent_name, session_id, status, created_us, doc)"
             " VALUES ('raw', 'a1', 's2', 'failed', 1125899906842624,"
             " '{\"run_id\":\"raw\",\"agent_name\":\"a1\",\"session_id\":\"s2\","
             "\"status\":\"failed\"}')");
    cr_assert_eq(acp_store_migrate(cfg, 0, NULL, NULL, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.migrated, 1);
    check_table();
    raw_exec("DELETE FROM runs WHERE run_id = 'raw'");
    check_table();
    cr_assert_eq(acp_store_open_config(cfg, &s, &e), ACP_OK, "%s", e.message);
    check_many(s, 200);
    for (int step = 0; step < 200; step++)
        op_status(s, (int)(rnd() % RUNS));
    check_many(s, 100);
    acp_store_close(s);
    check_table();
    acp_config_free(cfg);
}

/* ---- option time_totals ---- */

/* Whether the file holds time_counts, and how many of its triggers on
 * runs. */
static int64_t time_objects(void)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    int64_t n = raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'time_counts'"
                            " OR name LIKE 'runs_time_count_%'");
    cr_expect_eq(raw_int(db, "SELECT user_version FROM pragma_user_version"), 5);
    sqlite3_close(db);
    return n;
}

/* Open the test's store with query options (e.g. "time_totals=false"). */
static acp_store *open_with(const char *options)
{
    char uri[800];
    acp_store *s = NULL;
    acp_error e = {0};
    snprintf(uri, sizeof uri, "%s?%s", g_uri, options);
    cr_assert_eq(acp_store_open(uri, &s, &e), ACP_OK, "%s: %s", uri, e.message);
    return s;
}

Test(sqlite_time, time_totals_false_keeps_no_counters_and_totals_stay_right)
{
    acp_store *s = open_with("time_totals=false");
    cr_expect_eq(time_objects(), 0, "a new store with time_totals=false has time_counts");
    fill_half(s);
    check_many(s, 60);
    churn(s, 800, 0);
    cr_expect_eq(time_objects(), 0);
    acp_store_close(s);
    /* Read-only, a store without the table counts the matches. */
    s = open_with("mode=ro");
    check_many(s, 100);
    acp_store_close(s);
    cr_expect_eq(time_objects(), 0, "mode=ro changed the schema");
}

Test(sqlite_time, toggling_time_totals_adds_and_drops_the_counters_and_totals_stay_right)
{
    acp_store *s = open_with("time_totals=true");
    fill_half(s);
    cr_expect_eq(time_objects(), 4); /* the table and its 3 triggers on runs */
    churn(s, 200, 1);
    acp_store_close(s);

    s = open_with("time_totals=false");
    cr_expect_eq(time_objects(), 0, "time_totals=false left time_counts");
    check_many(s, 60);
    churn(s, 400, 0);
    acp_store_close(s);

    /* Back on: backfilled from the runs written meanwhile. */
    s = open_with("time_totals=true");
    cr_expect_eq(time_objects(), 4, "time_totals=true did not create time_counts");
    check_table();
    check_many(s, 60);
    churn(s, 400, 1);
    acp_store_close(s);

    s = open_with("time_totals=false");
    cr_expect_eq(time_objects(), 0);
    churn(s, 200, 0);
    acp_store_close(s);
}

Test(sqlite_time, a_handle_gives_right_totals_while_another_toggles_time_totals)
{
    acp_store *a = open_with("time_totals=true");
    fill_half(a);
    check_many(a, 40); /* a's connection has read the schema with the table */

    /* b drops the table under a's feet: a must notice, not fail or
     * miscount. */
    acp_store *b = open_with("time_totals=false");
    cr_expect_eq(time_objects(), 0);
    check_many(a, 60);
    churn(a, 200, 0);
    churn(b, 200, 0);
    check_many(a, 60);

    /* c brings it back: a and b (whose option was applied at its open)
     * both keep it exact through the triggers. */
    acp_store *c = open_with("time_totals=true");
    acp_store_close(c);
    cr_expect_eq(time_objects(), 4);
    check_many(a, 60);
    churn(b, 200, 1);
    churn(a, 200, 1);
    check_many(b, 60);
    check_table();
    acp_store_close(b);
    acp_store_close(a);
}

/* What tells whether a step touched the schema or wrote table pages:
 * SQLite raises the schema cookie with every CREATE and DROP (user_version
 * is a field of its own), and the pages of a dropped table go to the
 * freelist (the plugin leaves auto_vacuum off). */
typedef struct file_marks {
    int64_t cookie, freelist, pages;
} file_marks;

static file_marks marks_of_file(void)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    file_marks m = {raw_int(db, "PRAGMA schema_version"), raw_int(db, "PRAGMA freelist_count"),
                    raw_int(db, "PRAGMA page_count")};
    cr_expect_eq(raw_int(db, "PRAGMA auto_vacuum"), 0);
    sqlite3_close(db);
    return m;
}

Test(sqlite_time, migrating_a_version_4_store_with_time_totals_false_creates_no_time_counts)
{
    make_version_4_store();
    raw_exec("VACUUM"); /* an empty freelist, so that a dropped table shows */
    char plain[1024] = "", off[1024] = "";
    acp_migrate_info info;
    acp_error e = {0};
    acp_config *cfg = NULL;
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_set_backend(cfg, "sqlite", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_set(cfg, "path", g_db, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, collect_step, plain, &info, &e),
                 ACP_OK, "%s", e.message);
    cr_expect(strstr(plain, "4>5:create the table time_counts"), "%s", plain);
    /* The dry run says what this option will really do. */
    cr_assert_eq(acp_config_set(cfg, "time_totals", "false", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_store_migrate(cfg, ACP_MIGRATE_DRY_RUN, collect_step, off, &info, &e),
                 ACP_OK, "%s", e.message);
    cr_expect_eq(info.found, 4);
    cr_expect_eq(info.steps, 1, "%s", off);
    cr_expect(strstr(off, "4>5:schema version 5 without the table time_counts") &&
                  strstr(off, "time_totals=false") && !strstr(off, "fill it from"),
              "%s", off);

    file_marks before = marks_of_file();
    cr_assert_eq(before.freelist, 0);
    cr_assert_eq(acp_store_migrate(cfg, 0, NULL, NULL, &info, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(info.migrated, 1);
    file_marks after = marks_of_file();
    cr_expect_eq(time_objects(), 0, "migrate with time_totals=false left time_counts");
    /* Not created and dropped again either: no schema change, no page. */
    cr_expect_eq(after.cookie, before.cookie,
                 "the migration changed the schema (cookie %lld -> %lld): it created and "
                 "dropped time_counts",
                 (long long)before.cookie, (long long)after.cookie);
    cr_expect_eq(after.freelist, 0, "%lld pages freed: a table was filled and dropped",
                 (long long)after.freelist);
    cr_expect_eq(after.pages, before.pages);

    acp_store *s = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &s, &e), ACP_OK, "%s", e.message);
    check_many(s, 100);
    churn(s, 200, 0);
    acp_store_close(s);
    cr_expect_eq(time_objects(), 0);

    /* time_totals=true later creates the table, filled from every run. */
    cr_assert_eq(acp_config_set(cfg, "time_totals", "true", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_store_open_config(cfg, &s, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(time_objects(), 4, "time_totals=true did not create time_counts");
    check_table();
    check_many(s, 100);
    churn(s, 200, 1);
    acp_store_close(s);
    acp_config_free(cfg);
}

Test(sqlite_time, an_open_that_migrates_a_version_4_store_with_time_totals_false_creates_nothing)
{
    make_version_4_store();
    raw_exec("VACUUM");
    file_marks before = marks_of_file();
    acp_store *s = open_with("time_totals=false");
    file_marks after = marks_of_file();
    cr_expect_eq(time_objects(), 0);
    cr_expect_eq(after.cookie, before.cookie, "time_counts was created and dropped");
    cr_expect_eq(after.freelist, 0);
    check_many(s, 100);
    acp_store_close(s);
    s = open_with("time_totals=true");
    check_table();
    check_many(s, 100);
    acp_store_close(s);
}

Test(sqlite_time, a_new_store_with_time_totals_false_never_creates_time_counts)
{
    acp_store *s = open_with("time_totals=false");
    file_marks m = marks_of_file();
    acp_store_close(s);
    cr_expect_eq(time_objects(), 0);
    cr_expect_eq(m.freelist, 0, "%lld pages freed: time_counts was created and dropped",
                 (long long)m.freelist);
}

/* ---- verify recounts time_counts ---- */

#define MAX_SEEN 8

typedef struct seen {
    int n;
    acp_damage d[MAX_SEEN];
    char text[MAX_SEEN][700]; /* location and reason: copies */
} seen;

static int collect_damage(void *ctx, const acp_damage *d)
{
    seen *v = ctx;
    if (v->n < MAX_SEEN) {
        v->d[v->n] = *d;
        snprintf(v->text[v->n], sizeof v->text[0], "%s: %s", d->location ? d->location : "-",
                 d->reason);
    }
    v->n++;
    return 0;
}

/* verify through s: its status, every report in *v. */
static acp_status verify(acp_store *s, seen *v, acp_verify_counts *n)
{
    acp_error e = {0};
    memset(v, 0, sizeof *v);
    acp_status st = acp_store_verify(s, 0, collect_damage, v, n, &e);
    for (int i = 0; i < v->n && i < MAX_SEEN; i++)
        cr_log_info("damage %d: %s", i, v->text[i]);
    return st;
}

/* The report containing both needles, or -1. */
static int find_damage(const seen *v, const char *a, const char *b)
{
    for (int i = 0; i < v->n && i < MAX_SEEN; i++)
        if (strstr(v->text[i], a) && strstr(v->text[i], b))
            return i;
    return -1;
}

/* One stored row of time_counts (where: an SQL condition), as text. */
static void pick_row(const char *where, char *key, size_t key_cap, int64_t *bucket,
                     char *status, size_t status_cap, int64_t *n)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT key, bucket, status, n FROM time_counts WHERE %s ORDER BY bucket LIMIT 1",
             where);
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "no row where %s", where);
    snprintf(key, key_cap, "%s", (const char *)sqlite3_column_text(st, 0));
    *bucket = sqlite3_column_int64(st, 1);
    snprintf(status, status_cap, "%s", (const char *)sqlite3_column_text(st, 2));
    *n = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(sqlite_time, verify_recounts_time_counts_and_reports_changed_missing_and_stray_rows)
{
    acp_store *s = open_with("time_totals=true");
    fill_half(s);
    churn(s, 600, 1); /* saves, status changes, deletes, restores, purges */
    seen v;
    acp_verify_counts n;
    cr_expect_eq(verify(s, &v, &n), ACP_OK);
    cr_expect_eq(v.n, 0, "a store written only through the API has damage");
    acp_store_close(s);

    /* Three rows changed behind the triggers' back. */
    char agent[64], session[64], st_a[32], st_s[32], sql[600];
    int64_t b_a, b_s, n_a, n_s;
    pick_row("kind = 1 AND level = 2", agent, sizeof agent, &b_a, st_a, sizeof st_a, &n_a);
    pick_row("kind = 2 AND level = 5", session, sizeof session, &b_s, st_s, sizeof st_s, &n_s);
    snprintf(sql, sizeof sql,
             "UPDATE time_counts SET n = n + 2 WHERE kind = 1 AND key = '%s' AND level = 2"
             " AND bucket = %lld AND status = '%s';"
             "DELETE FROM time_counts WHERE kind = 2 AND key = '%s' AND level = 5"
             " AND bucket = %lld AND status = '%s';"
             /* level 3, bucket 12345: 1971, where no run of the test falls */
             "INSERT INTO time_counts VALUES (0, '', 3, 12345, 'completed', 4);",
             agent, (long long)b_a, st_a, session, (long long)b_s, st_s);
    raw_exec(sql);

    s = open_with("time_totals=true");
    cr_expect_eq(verify(s, &v, &n), ACP_CORRUPT);
    cr_expect_eq(v.n, 3, "expected exactly the 3 changed rows");
    cr_expect_eq(n.damaged, 3);
    char want[300];
    snprintf(want, sizeof want, "agent '%s', level 2, bucket %lld, status '%s'", agent,
             (long long)b_a, st_a);
    char says[100];
    snprintf(says, sizeof says, "says %lld runs but the runs table holds %lld",
             (long long)(n_a + 2), (long long)n_a);
    cr_expect_geq(find_damage(&v, want, says), 0, "changed row not reported: %s", want);
    snprintf(want, sizeof want, "session '%s', level 5, bucket %lld, status '%s'", session,
             (long long)b_s, st_s);
    snprintf(says, sizeof says, "missing, but the runs table holds %lld", (long long)n_s);
    cr_expect_geq(find_damage(&v, want, says), 0, "missing row not reported: %s", want);
    cr_expect_geq(find_damage(&v, "all runs, level 3, bucket 12345, status 'completed'",
                              "stray row of 4 runs"),
                  0, "stray row not reported");
    for (int i = 0; i < v.n && i < MAX_SEEN; i++) {
        cr_expect_eq(v.d[i].kind, ACP_ITEM_INDEX);
        cr_expect_eq(v.d[i].code, ACP_CORRUPT);
    }
    acp_store_close(s);

    /* Turning the option off and on rebuilds the table: clean again. */
    acp_store_close(open_with("time_totals=false"));
    s = open_with("time_totals=true");
    cr_expect_eq(verify(s, &v, &n), ACP_OK);
    cr_expect_eq(v.n, 0);
    acp_store_close(s);
}

Test(sqlite_time, verify_reports_a_missing_trigger_of_time_counts)
{
    acp_store *s = open_with("time_totals=true");
    for (int r = 0; r < 40; r++)
        op_save(s, r, rnd_run());
    acp_store_close(s);
    raw_exec("DROP TRIGGER runs_time_count_move");
    s = open_with("time_totals=true");
    seen v;
    acp_verify_counts n;
    cr_expect_eq(verify(s, &v, &n), ACP_CORRUPT);
    cr_expect_eq(v.n, 1);
    cr_expect_geq(find_damage(&v, "table time_counts", "runs_time_count_move"), 0);
    acp_store_close(s);
}

Test(sqlite_time, verify_of_a_store_without_time_counts_is_clean)
{
    acp_store *s = open_with("time_totals=false");
    fill_half(s);
    churn(s, 400, 0);
    seen v;
    acp_verify_counts n;
    cr_expect_eq(verify(s, &v, &n), ACP_OK);
    cr_expect_eq(v.n, 0);
    cr_expect_gt(n.runs, 0);
    acp_store_close(s);
    cr_expect_eq(time_objects(), 0);
}
