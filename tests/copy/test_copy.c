/* SPDX-License-Identifier: MIT */
/*
 * test_copy.c - batched and restoring writes on every backend, and
 * acp_store_copy / export / import / diff: exact copies (documents, creation
 * times, sequences, storage times), conflicts per item, --replace, resume
 * after an interruption, and the round trip memory -> sqlite -> file ->
 * [postgres -> redis ->] memory giving the same dump.  Server backends take
 * part when ACP_PG_URI / ACP_REDIS_URI are set (tests/copy/CMakeLists.txt
 * runs this program a second time under both servers).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"

static char g_dir[256];
static int g_n;

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/acp-copy-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(copy, .init = setup, .fini = teardown, .timeout = 300);

/* A fresh, empty store of the given backend. */
static acp_store *fresh(const char *backend)
{
    char uri[512];
    int n = ++g_n;
    if (strcmp(backend, "memory") == 0)
        snprintf(uri, sizeof uri, "memory:");
    else if (strcmp(backend, "sqlite") == 0)
        snprintf(uri, sizeof uri, "sqlite:%s/s%d.db", g_dir, n);
    else if (strcmp(backend, "file") == 0)
        snprintf(uri, sizeof uri, "file:%s/f%d", g_dir, n);
    else if (strcmp(backend, "postgres") == 0)
        snprintf(uri, sizeof uri, "%s?schema=%s/p%d", getenv("ACP_PG_URI"), g_dir, n);
    else
        snprintf(uri, sizeof uri, "%s?prefix=%s/r%d:", getenv("ACP_REDIS_URI"), g_dir, n);
    acp_store *s;
    acp_error err;
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s: %s", uri, err.message);
    return s;
}

/* The backends to test: the embedded ones, and the servers when given. */
static size_t backends(const char **out)
{
    size_t n = 0;
    out[n++] = "memory";
    out[n++] = "sqlite";
    out[n++] = "file";
    if (getenv("ACP_PG_URI"))
        out[n++] = "postgres";
    if (getenv("ACP_REDIS_URI"))
        out[n++] = "redis";
    return n;
}

static void expect_event(acp_store *s, const char *run, int64_t seq, int64_t stored,
                         const char *doc)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.after_seq = seq - 1;
    f.limit = 1;
    acp_page *p;
    acp_error err;
    cr_assert_eq(acp_event_list(s, run, &f, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 1, "%s: no event %" PRId64, acp_store_backend(s), seq);
    cr_expect_eq(acp_page_seq(p, 0), seq);
    if (stored)
        cr_expect_eq(acp_page_time_us(p, 0), stored, "%s: storage time of event %" PRId64,
                     acp_store_backend(s), seq);
    cr_expect_str_eq(acp_page_json(p, 0, NULL), doc);
    acp_page_free(p);
}

static int64_t event_count(acp_store *s, const char *run)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    acp_page *p;
    acp_error err;
    cr_assert_eq(acp_event_list(s, run, &f, &p, &err), ACP_OK, "%s", err.message);
    int64_t n = (int64_t)acp_page_count(p);
    acp_page_free(p);
    return n;
}

Test(copy, save_many_and_add_many_on_every_backend)
{
    const char *b[5];
    for (size_t k = 0, n = backends(b); k < n; k++) {
        acp_store *s = fresh(b[k]);
        acp_error err;
        const char *runs[] = {
            "{\"run_id\":\"a\",\"agent_name\":\"x\",\"status\":\"created\"}",
            "{\"run_id\":\"b\",\"agent_name\":\"x\",\"status\":\"created\","
            "\"created_at\":\"2025-01-01T00:00:00Z\"}",
            "{\"run_id\":\"a\",\"agent_name\":\"y\",\"status\":\"completed\"}", /* upsert */
        };
        cr_assert_eq(acp_run_save_many(s, runs, NULL, 3, &err), ACP_OK, "%s: %s", b[k],
                     err.message);
        char *doc;
        cr_assert_eq(acp_run_get(s, "a", &doc, NULL, &err), ACP_OK);
        cr_expect_str_eq(doc, runs[2], "%s", b[k]);
        acp_free(doc);
        cr_assert_eq(acp_run_get(s, "b", &doc, NULL, &err), ACP_OK);
        cr_expect_str_eq(doc, runs[1]);
        acp_free(doc);

        const char *evs[] = {"{\"type\":\"a\"}", "{\"type\":\"b\"}", "{\"type\":\"c\"}"};
        int64_t seqs[3];
        cr_assert_eq(acp_event_add_many(s, "a", evs, NULL, 3, seqs, &err), ACP_OK, "%s: %s",
                     b[k], err.message);
        cr_expect(seqs[0] == 1 && seqs[1] == 2 && seqs[2] == 3, "%s", b[k]);
        cr_assert_eq(acp_event_add_many(s, "a", evs, NULL, 2, seqs, &err), ACP_OK);
        cr_expect(seqs[0] == 4 && seqs[1] == 5, "%s: %" PRId64, b[k], seqs[0]);
        int64_t seq;
        cr_assert_eq(acp_event_add(s, "a", evs[2], ACP_STRLEN, &seq, &err), ACP_OK);
        cr_expect_eq(seq, 6, "%s", b[k]);
        expect_event(s, "a", 2, 0, evs[1]);

        /* One bad document: nothing of the batch is stored. */
        const char *bad[] = {"{\"type\":\"ok\"}", "{\"no_type\":1}"};
        cr_expect_eq(acp_event_add_many(s, "z", bad, NULL, 2, NULL, &err), ACP_INVALID);
        cr_expect(strstr(err.message, "batch item 1") != NULL, "%s", err.message);
        cr_expect_eq(event_count(s, "z"), 0);
        const char *badruns[] = {runs[0], "{\"run_id\":\"q\"}"};
        cr_expect_eq(acp_run_save_many(s, badruns, NULL, 2, &err), ACP_INVALID);
        cr_expect_eq(acp_run_get(s, "q", &doc, NULL, &err), ACP_NOT_FOUND);
        acp_store_close(s);
    }
}

Test(copy, restore_keeps_sequences_and_times_and_reports_conflicts)
{
    const char *b[5];
    for (size_t k = 0, n = backends(b); k < n; k++) {
        acp_store *s = fresh(b[k]);
        acp_error err;
        acp_status res[4];
        acp_restore_event ev[] = {
            {"r1", "{\"type\":\"one\"}", ACP_STRLEN, 1, 1000001},
            {"r2", "{\"type\":\"other\"}", ACP_STRLEN, 1, 1000002},
            {"r1", "{\"type\":\"two\"}", ACP_STRLEN, 2, 1000003},
            {"r1", "{\"type\":\"gap\"}", ACP_STRLEN, 4, 1000004},
        };
        cr_assert_eq(acp_event_restore_many(s, ev, 4, res, &err), ACP_OK, "%s: %s", b[k],
                     err.message);
        cr_expect(res[0] == ACP_OK && res[1] == ACP_OK && res[2] == ACP_OK, "%s", b[k]);
        cr_expect_eq(res[3], ACP_CONFLICT, "%s: a gap must conflict", b[k]);
        expect_event(s, "r1", 1, 1000001, "{\"type\":\"one\"}");
        expect_event(s, "r1", 2, 1000003, "{\"type\":\"two\"}");
        expect_event(s, "r2", 1, 1000002, "{\"type\":\"other\"}");
        cr_expect_eq(event_count(s, "r1"), 2, "%s", b[k]);
        /* A sequence taken: conflict, the stored event unchanged. */
        acp_restore_event again = {"r1", "{\"type\":\"new\"}", ACP_STRLEN, 2, 5};
        cr_assert_eq(acp_event_restore_many(s, &again, 1, res, &err), ACP_OK);
        cr_expect_eq(res[0], ACP_CONFLICT, "%s", b[k]);
        expect_event(s, "r1", 2, 1000003, "{\"type\":\"two\"}");
        /* Appends go on after the restored ones. */
        int64_t seq;
        cr_assert_eq(acp_event_add(s, "r1", "{\"type\":\"three\"}", ACP_STRLEN, &seq, &err),
                     ACP_OK);
        cr_expect_eq(seq, 3, "%s", b[k]);
        /* Runs in a row, one of them taken: the others are stored, the
         * taken one conflicts (postgres: the one-statement path gives way). */
        acp_restore_event row[] = {
            {"r3", "{\"type\":\"a\"}", ACP_STRLEN, 1, 7}, {"r3", "{\"type\":\"b\"}", ACP_STRLEN, 2, 8},
            {"r2", "{\"type\":\"c\"}", ACP_STRLEN, 1, 9}, {"r4", "{\"type\":\"d\"}", ACP_STRLEN, 1, 10},
        };
        acp_status rres[4];
        cr_assert_eq(acp_event_restore_many(s, row, 4, rres, &err), ACP_OK, "%s", err.message);
        cr_expect(rres[0] == ACP_OK && rres[1] == ACP_OK && rres[2] == ACP_CONFLICT &&
                      rres[3] == ACP_OK, "%s: %d %d %d %d", b[k], rres[0], rres[1], rres[2],
                  rres[3]);
        expect_event(s, "r3", 2, 8, "{\"type\":\"b\"}");
        expect_event(s, "r4", 1, 10, "{\"type\":\"d\"}");
        expect_event(s, "r2", 1, 1000002, "{\"type\":\"other\"}");
        acp_restore_event zero = {"r1", "{\"type\":\"x\"}", ACP_STRLEN, 0, 5};
        cr_expect_eq(acp_event_restore_many(s, &zero, 1, res, &err), ACP_INVALID);

        /* Runs: the given creation time, also without created_at; an
         * existing run conflicts and stays. */
        acp_restore_run rr[] = {
            {"{\"run_id\":\"r1\",\"agent_name\":\"x\",\"status\":\"created\"}", ACP_STRLEN, 42},
            {"{\"run_id\":\"r2\",\"agent_name\":\"x\",\"status\":\"created\"}", ACP_STRLEN, 43},
        };
        cr_assert_eq(acp_run_restore_many(s, rr, 2, res, &err), ACP_OK, "%s: %s", b[k],
                     err.message);
        cr_expect(res[0] == ACP_OK && res[1] == ACP_OK);
        acp_restore_run other = {"{\"run_id\":\"r1\",\"agent_name\":\"z\",\"status\":\"failed\"}",
                                 ACP_STRLEN, 99};
        cr_assert_eq(acp_run_restore_many(s, &other, 1, res, &err), ACP_OK);
        cr_expect_eq(res[0], ACP_CONFLICT, "%s", b[k]);
        /* A new run and a taken one in one batch: each gets its own answer. */
        acp_restore_run two[] = {
            {"{\"run_id\":\"r9\",\"agent_name\":\"x\",\"status\":\"created\"}", ACP_STRLEN, 1},
            other,
        };
        cr_assert_eq(acp_run_restore_many(s, two, 2, res, &err), ACP_OK, "%s", err.message);
        cr_expect(res[0] == ACP_OK && res[1] == ACP_CONFLICT, "%s", b[k]);
        char *gone;
        cr_assert_eq(acp_run_get(s, "r9", &gone, NULL, &err), ACP_OK, "%s", b[k]);
        acp_free(gone);
        cr_assert_eq(acp_run_delete(s, "r9", &err), ACP_OK);
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        acp_page *p;
        cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK);
        cr_assert_eq(acp_page_count(p), 2);
        cr_expect_str_eq(acp_page_key(p, 0), "r2");
        cr_expect_eq(acp_page_time_us(p, 0), 43, "%s", b[k]);
        cr_expect_eq(acp_page_time_us(p, 1), 42, "%s", b[k]);
        cr_expect_str_eq(acp_page_json(p, 1, NULL), rr[0].json);
        acp_page_free(p);
        acp_store_close(s);
    }
}

/* One restore batch across many runs, as a copy writes it: each run's
 * next sequence is known from the batch's earlier items, also after a
 * conflict, and when a run comes back after another one's events; a
 * conflicting item keeps every other. */
Test(copy, a_restore_batch_across_many_runs_keeps_all_but_the_conflicts)
{
    enum { RUNS = 200, PER = 5 };
    const char *b[5];
    for (size_t k = 0, n = backends(b); k < n; k++) {
        acp_store *s = fresh(b[k]);
        acp_error err;
        acp_status res[RUNS * PER + 4];
        /* r77 already holds sequence 1: its batch items 1..5 conflict at 1
         * only, then go on at 2. */
        acp_restore_event first = {"m77", "{\"type\":\"old\"}", ACP_STRLEN, 1, 5};
        cr_assert_eq(acp_event_restore_many(s, &first, 1, res, &err), ACP_OK, "%s", err.message);
        static char ids[RUNS][16];
        static char docs[RUNS * PER][48];
        acp_restore_event ev[RUNS * PER + 4];
        size_t m = 0;
        for (int r = 0; r < RUNS; r++) {
            snprintf(ids[r], sizeof ids[r], "m%d", r);
            for (int e = 1; e <= PER; e++) {
                snprintf(docs[m], sizeof docs[m], "{\"type\":\"t\",\"n\":%d}", r * 10 + e);
                ev[m] = (acp_restore_event){ids[r], docs[m], ACP_STRLEN, e, 100 + (int64_t)m};
                m++;
            }
        }
        /* m3 again after others: its next is 6; 8 leaves a gap; then 6. */
        ev[m++] = (acp_restore_event){ids[3], "{\"type\":\"gap\"}", ACP_STRLEN, 8, 1};
        ev[m++] = (acp_restore_event){ids[3], "{\"type\":\"six\"}", ACP_STRLEN, 6, 2};
        ev[m++] = (acp_restore_event){ids[3], "{\"type\":\"six again\"}", ACP_STRLEN, 6, 3};
        ev[m++] = (acp_restore_event){ids[3], "{\"type\":\"seven\"}", ACP_STRLEN, 7, 4};
        cr_assert_eq(acp_event_restore_many(s, ev, m, res, &err), ACP_OK, "%s: %s", b[k],
                     err.message);
        size_t conflicts = 0;
        for (size_t i = 0; i < m; i++)
            conflicts += res[i] == ACP_CONFLICT;
        cr_expect_eq(conflicts, 3, "%s: %zu conflicts", b[k], conflicts);
        cr_expect_eq(res[77 * PER], ACP_CONFLICT, "%s: the taken sequence", b[k]);
        cr_expect_eq(res[77 * PER + 1], ACP_OK, "%s: the next one after a conflict", b[k]);
        cr_expect(res[m - 4] == ACP_CONFLICT && res[m - 3] == ACP_OK &&
                      res[m - 2] == ACP_CONFLICT && res[m - 1] == ACP_OK,
                  "%s: %d %d %d %d", b[k], res[m - 4], res[m - 3], res[m - 2], res[m - 1]);
        expect_event(s, "m77", 1, 5, "{\"type\":\"old\"}");
        expect_event(s, "m77", 2, 100 + 77 * PER + 1, docs[77 * PER + 1]);
        expect_event(s, "m199", 5, 100 + 199 * PER + 4, docs[199 * PER + 4]);
        expect_event(s, "m3", 6, 2, "{\"type\":\"six\"}");
        expect_event(s, "m3", 7, 4, "{\"type\":\"seven\"}");
        cr_expect_eq(event_count(s, "m3"), 7, "%s", b[k]);
        cr_expect_eq(event_count(s, "m0"), PER, "%s", b[k]);
        /* Appends in a batch go on from each run's last sequence. */
        const char *more[] = {"{\"type\":\"a\"}", "{\"type\":\"b\"}"};
        int64_t seqs[2];
        cr_assert_eq(acp_event_add_many(s, "m3", more, NULL, 2, seqs, &err), ACP_OK, "%s",
                     err.message);
        cr_expect(seqs[0] == 8 && seqs[1] == 9, "%s: %" PRId64 " %" PRId64, b[k], seqs[0],
                  seqs[1]);
        cr_assert_eq(acp_event_add_many(s, "new", more, NULL, 2, seqs, &err), ACP_OK);
        cr_expect(seqs[0] == 1 && seqs[1] == 2, "%s", b[k]);
        acp_store_close(s);
    }
}

/* ---- copies ---- */

/* A source with what a copy must keep: sessions, runs with and without
 * created_at (ordered by their first save), a document spanning lines,
 * unusual ids, a run with events over several pages and batches, a run
 * without events. */
static void fill(acp_store *s, int runs)
{
    acp_error err;
    cr_assert_eq(acp_session_save(s, "{\"id\":\"s\\\"1\",\"state\":{\"k\": [1, 2]}}", ACP_STRLEN,
                                  &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_session_save(s, "{\"id\":\"s2\"}", ACP_STRLEN, &err), ACP_OK);
    for (int i = 0; i < runs; i++) {
        char doc[256];
        if (i % 3 == 0)
            snprintf(doc, sizeof doc, "{\"run_id\":\"run-%03d\",\n \"agent_name\":\"ag%d\",\n"
                     " \"status\":\"created\"}", i, i % 2);
        else
            snprintf(doc, sizeof doc, "{\"run_id\":\"run-%03d\",\"agent_name\":\"ag%d\","
                     "\"status\":\"completed\",\"session_id\":\"s2\","
                     "\"created_at\":\"2025-0%d-01T00:00:0%d.123456Z\"}", i, i % 2, 1 + i % 9,
                     i % 10);
        cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
        char id[32];
        snprintf(id, sizeof id, "run-%03d", i);
        for (int e = 0; e < i % 4; e++) {
            snprintf(doc, sizeof doc, "{\"type\":\"message.part\",\"n\":%d, \"t\":\"\\u00e9\"}", e);
            cr_assert_eq(acp_event_add(s, id, doc, ACP_STRLEN, NULL, &err), ACP_OK, "%s",
                         err.message);
        }
    }
    /* Many events in one run: pages of 500, batches of 1000. */
    const char *docs[100];
    for (int i = 0; i < 100; i++)
        docs[i] = "{\"type\":\"message.part\",\"part\":{\"content\":\"tok\"}}";
    for (int i = 0; i < 13; i++)
        cr_assert_eq(acp_event_add_many(s, "run-001", docs, NULL, 100, NULL, &err), ACP_OK);
    cr_assert_eq(acp_run_save(s, "{\"run_id\":\"\xc3\xa9 \\\"q\\\"\",\"agent_name\":\"a\","
                                 "\"status\":\"created\"}", ACP_STRLEN, &err), ACP_OK,
                 "%s", err.message);
}

static int64_t differences(acp_store *a, acp_store *b)
{
    acp_diff_counts n;
    acp_error err;
    cr_assert_eq(acp_store_diff(a, b, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    if (!n.differences)
        cr_expect_eq(n.digest[0], n.digest[1]);
    return n.differences;
}

/* The dump of s, without its header line (which names the backend and the
 * time), as a string to free. */
static char *dump_body(acp_store *s)
{
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    acp_error err;
    cr_assert_eq(acp_store_export(s, f, NULL, NULL, NULL, &err), ACP_OK, "%s", err.message);
    fclose(f);
    char *nl = strchr(buf, '\n');
    cr_assert_not_null(nl);
    char *body = strdup(nl + 1);
    free(buf);
    return body;
}

static void copy_ok(acp_store *src, acp_store *dst, unsigned flags, acp_copy_report *r)
{
    acp_error err;
    cr_assert_eq(acp_store_copy(src, dst, flags, NULL, NULL, r, &err), ACP_OK, "%s -> %s: %s",
                 acp_store_backend(src), acp_store_backend(dst), err.message);
}

Test(copy, round_trip_without_servers)
{
    const char *chain[] = {"memory", "sqlite", "file", "memory"};
    acp_store *first = fresh(chain[0]);
    fill(first, 40);
    char *want = dump_body(first);
    acp_store *prev = first;
    for (size_t i = 1; i < sizeof chain / sizeof *chain; i++) {
        acp_store *next = fresh(chain[i]);
        copy_ok(prev, next, 0, NULL);
        cr_expect_eq(differences(prev, next), 0, "%s -> %s", chain[i - 1], chain[i]);
        if (prev != first)
            acp_store_close(prev);
        prev = next;
    }
    char *got = dump_body(prev);
    cr_expect(strcmp(want, got) == 0, "the dump after the round trip differs");
    free(got);
    free(want);
    acp_store_close(prev);
    acp_store_close(first);
}

Test(copy, round_trip_through_servers)
{
    if (!getenv("ACP_PG_URI") || !getenv("ACP_REDIS_URI"))
        cr_skip_test("needs ACP_PG_URI and ACP_REDIS_URI (ctest -R copy_servers)");
    const char *chain[] = {"memory", "sqlite", "file", "postgres", "redis", "memory"};
    acp_store *first = fresh(chain[0]);
    fill(first, 40);
    char *want = dump_body(first);
    acp_store *prev = first;
    for (size_t i = 1; i < sizeof chain / sizeof *chain; i++) {
        acp_store *next = fresh(chain[i]);
        copy_ok(prev, next, 0, NULL);
        cr_expect_eq(differences(prev, next), 0, "%s -> %s", chain[i - 1], chain[i]);
        char *got = dump_body(next);
        cr_expect(strcmp(want, got) == 0, "the dump of %s differs from the first", chain[i]);
        free(got);
        if (prev != first)
            acp_store_close(prev);
        prev = next;
    }
    free(want);
    acp_store_close(prev);
    acp_store_close(first);
}

typedef struct counter {
    int stop_after; /* runs; 0: never */
    int conflicts;
} counter;

static int on_report(void *ctx, const acp_copy_report *r)
{
    counter *c = ctx;
    if (r->item_kind) {
        c->conflicts++;
        return 0;
    }
    return c->stop_after && r->runs >= c->stop_after;
}

Test(copy, conflicts_are_reported_per_item_and_change_nothing)
{
    acp_store *src = fresh("memory"), *dst = fresh("sqlite");
    fill(src, 12);
    acp_copy_report r;
    copy_ok(src, dst, 0, &r);
    cr_expect_eq(r.runs, 13);
    cr_expect_eq(r.sessions, 2);
    cr_expect_eq(r.conflicts, 0);
    char *before = dump_body(dst);
    /* Again: every run and session conflicts; nothing changes. */
    counter c = {0};
    acp_error err;
    cr_expect_eq(acp_store_copy(src, dst, 0, on_report, &c, &r, &err), ACP_CONFLICT);
    cr_expect_eq(r.conflicts, 15);
    cr_expect_eq(c.conflicts, 15);
    char *after = dump_body(dst);
    cr_expect(strcmp(before, after) == 0);
    free(after);
    /* With resume, a finished copy is skipped whole: nothing changes. */
    copy_ok(src, dst, ACP_COPY_RESUME, &r);
    cr_expect_eq(r.skipped, 15);
    after = dump_body(dst);
    cr_expect(strcmp(before, after) == 0);
    free(after);
    free(before);

    /* One run differs in the target: a conflict for it alone, then
     * --replace makes the target equal. */
    cr_assert_eq(acp_run_save(dst, "{\"run_id\":\"run-002\",\"agent_name\":\"other\","
                                   "\"status\":\"failed\"}", ACP_STRLEN, &err), ACP_OK);
    cr_assert_eq(acp_event_add(dst, "run-002", "{\"type\":\"extra\"}", ACP_STRLEN, NULL, &err),
                 ACP_OK);
    cr_expect_eq(differences(src, dst), 2); /* the document, and an event too many */
    c.conflicts = 0;
    cr_expect_eq(acp_store_copy(src, dst, ACP_COPY_RESUME, on_report, &c, &r, &err),
                 ACP_CONFLICT);
    cr_expect_eq(c.conflicts, 1, "only run-002 conflicts");
    copy_ok(src, dst, ACP_COPY_RESUME | ACP_COPY_REPLACE, &r);
    cr_expect_eq(differences(src, dst), 0);
    acp_store_close(src);
    acp_store_close(dst);
}

Test(copy, an_interrupted_copy_resumes_to_exactly_the_source)
{
    const char *b[5];
    for (size_t k = 0, n = backends(b); k < n; k++) {
        acp_store *src = fresh("sqlite"), *dst = fresh(b[k]);
        fill(src, 30);
        counter c = {.stop_after = 7};
        acp_error err;
        acp_copy_report r;
        cr_expect_eq(acp_store_copy(src, dst, 0, on_report, &c, &r, &err), ACP_INVALID);
        cr_expect_gt(differences(src, dst), 0);
        /* A run left half-copied, as a kill would leave it: events, no record. */
        cr_assert_eq(acp_event_add(dst, "run-029", "{\"type\":\"message.part\",\"n\":0, "
                                                  "\"t\":\"\\u00e9\"}", ACP_STRLEN, NULL, &err),
                     ACP_OK);
        copy_ok(src, dst, ACP_COPY_RESUME, &r);
        cr_expect_eq(differences(src, dst), 0, "%s", b[k]);
        copy_ok(src, dst, ACP_COPY_RESUME, &r);
        cr_expect_eq(r.skipped, 33, "%s: a finished copy is skipped whole", b[k]);
        acp_store_close(src);
        acp_store_close(dst);
    }
}

Test(copy, diff_names_each_difference)
{
    acp_store *a = fresh("memory"), *b = fresh("memory");
    fill(a, 6);
    copy_ok(a, b, 0, NULL);
    acp_error err;
    cr_assert_eq(acp_run_save(b, "{\"run_id\":\"run-004\",\"agent_name\":\"ag0\","
                                 "\"status\":\"failed\",\"session_id\":\"s2\","
                                 "\"created_at\":\"2025-05-01T00:00:04.123456Z\"}",
                              ACP_STRLEN, &err), ACP_OK);
    cr_assert_eq(acp_event_add(b, "run-001", "{\"type\":\"x\"}", ACP_STRLEN, NULL, &err), ACP_OK);
    cr_assert_eq(acp_session_delete(b, "s2", &err), ACP_OK);
    acp_diff_counts n;
    cr_assert_eq(acp_store_diff(a, b, NULL, NULL, &n, &err), ACP_OK);
    cr_expect_eq(n.differences, 3);
    cr_expect_eq(n.sessions[0], 2);
    cr_expect_eq(n.sessions[1], 1);
    cr_expect_eq(n.events[1], n.events[0] + 1);
    cr_expect_neq(n.digest[0], n.digest[1]);
    acp_store_close(a);
    acp_store_close(b);
}

Test(copy, export_import_keeps_everything_and_refuses_bad_dumps)
{
    acp_store *src = fresh("sqlite");
    fill(src, 20);
    char path[400];
    snprintf(path, sizeof path, "%s/dump.jsonl", g_dir);
    FILE *f = fopen(path, "w");
    acp_error err;
    acp_copy_report r;
    cr_assert_eq(acp_store_export(src, f, NULL, NULL, &r, &err), ACP_OK, "%s", err.message);
    fclose(f);
    cr_expect_eq(r.runs, 21);
    cr_expect_eq(r.events, 1300 + 30);

    acp_store *dst = fresh("file");
    f = fopen(path, "r");
    cr_assert_eq(acp_store_import(f, dst, 0, NULL, NULL, &r, &err), ACP_OK, "%s", err.message);
    fclose(f);
    cr_expect_eq(differences(src, dst), 0);

    /* Cut short: CORRUPT, with the line; what came before stays; resume
     * from the whole dump ends equal. */
    char *text;
    size_t len;
    f = fopen(path, "r");
    cr_assert_eq(getdelim(&text, &(size_t){0}, '\0', f) > 0, 1);
    fclose(f);
    len = strlen(text);
    acp_store *cut = fresh("memory");
    f = fmemopen(text, len / 2, "r");
    cr_expect_eq(acp_store_import(f, cut, 0, NULL, NULL, &r, &err), ACP_CORRUPT);
    cr_expect(strstr(err.message, "dump line") != NULL, "%s", err.message);
    fclose(f);
    f = fmemopen(text, len, "r");
    cr_assert_eq(acp_store_import(f, cut, ACP_COPY_RESUME, NULL, NULL, &r, &err), ACP_OK, "%s",
                 err.message);
    fclose(f);
    cr_expect_eq(differences(src, cut), 0);

    const char *bad[] = {"", "{\"acp_storage_dump\":2}\n", "[1]\n",
                         "{\"acp_storage_dump\":1}\n{\"seq\":1,\"stored_us\":1,\"doc\":{}}\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        acp_store *m = fresh("memory");
        f = fmemopen((void *)bad[i], strlen(bad[i]) + 1, "r");
        cr_expect_eq(acp_store_import(f, m, 0, NULL, NULL, NULL, &err), ACP_CORRUPT, "dump %zu",
                     i);
        fclose(f);
        acp_store_close(m);
    }
    free(text);
    acp_store_close(src);
    acp_store_close(dst);
    acp_store_close(cut);
}
