/* SPDX-License-Identifier: MIT */
/*
 * test_archive.c - the archive backend over sqlite (hot) and file (cold):
 * moves keep versions, creation times, sequences, storage times and
 * documents byte for byte; archived runs take writes in their tier; lists
 * merge both tiers in order with cursors and totals, a run in both tiers (a
 * crashed move, built by hand here) shown once, and the next open or pass
 * finishes it.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h" /* ACP_CAP_* */

static char g_dir[256];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/acp-archive-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(archive, .init = setup, .fini = teardown, .timeout = 300);

static acp_store *open_uri(const char *fmt, ...)
{
    char uri[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(uri, sizeof uri, fmt, ap);
    va_end(ap);
    acp_store *s;
    acp_error err;
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s: %s", uri, err.message);
    return s;
}

static acp_store *open_archive(const char *extra)
{
    return open_uri("archive:?hot=sqlite%%3A%s%%2Fhot.db&cold=file%%3A%s%%2Fcold&after=0%s",
                    g_dir, g_dir, extra);
}

static acp_store *open_hot(void)
{
    return open_uri("sqlite:%s/hot.db", g_dir);
}

static acp_store *open_cold(void)
{
    return open_uri("file:%s/cold", g_dir);
}

/* Run id with created_at second sec and a status. */
static void save_run(acp_store *s, const char *id, const char *status, int sec)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"ag\",\"status\":\"%s\","
             "\"created_at\":\"2025-01-01T00:00:%02dZ\"}",
             id, status, sec);
    acp_error err;
    cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s: %s", id, err.message);
}

static void add_events(acp_store *s, const char *id, int n)
{
    for (int i = 0; i < n; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"type\":\"message.part\",\"n\":%d,\"of\":\"%s\"}", i, id);
        acp_error err;
        cr_assert_eq(acp_event_add(s, id, doc, ACP_STRLEN, NULL, &err), ACP_OK, "%s",
                     err.message);
    }
}

/* Everything a store holds of one run, as text: version, created, doc,
 * then every event's seq, storage time and doc. */
static char *snapshot(acp_store *s, const char *id)
{
    char *json;
    size_t len;
    int64_t v;
    acp_error err;
    if (acp_run_get_versioned(s, id, &json, &len, &v, &err) != ACP_OK)
        return NULL;
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    fprintf(f, "v=%" PRId64 " %.*s\n", v, (int)len, json);
    free(json);
    acp_page *p;
    cr_assert_eq(acp_run_list(s, NULL, &p, &err), ACP_OK, "%s", err.message);
    for (size_t i = 0; i < acp_page_count(p); i++)
        if (strcmp(acp_page_key(p, i), id) == 0)
            fprintf(f, "created=%" PRId64 "\n", acp_page_time_us(p, i));
    acp_page_free(p);
    cr_assert_eq(acp_event_list(s, id, NULL, &p, &err), ACP_OK, "%s", err.message);
    for (size_t i = 0; i < acp_page_count(p); i++) {
        size_t n;
        const char *d = acp_page_json(p, i, &n);
        fprintf(f, "%" PRId64 " %" PRId64 " %.*s\n", acp_page_seq(p, i), acp_page_time_us(p, i),
                (int)n, d);
    }
    acp_page_free(p);
    fclose(f);
    return out;
}

/* Every run id of a store, page by page (limit per page) through cursors;
 * checks the total of each page against the count. */
static size_t list_all(acp_store *s, int64_t limit, char ids[][32], size_t max)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = limit;
    f.want_total = 1;
    char *cursor = NULL;
    size_t n = 0;
    int64_t total = -1;
    for (;;) {
        acp_page *p;
        acp_error err;
        f.cursor = cursor;
        cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK, "%s", err.message);
        if (total < 0)
            total = acp_page_total(p);
        cr_assert_eq(acp_page_total(p), total);
        for (size_t i = 0; i < acp_page_count(p); i++) {
            cr_assert_lt(n, max);
            snprintf(ids[n++], 32, "%s", acp_page_key(p, i));
        }
        free(cursor);
        cursor = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!cursor)
            break;
    }
    cr_assert_eq((int64_t)n, total, "listed %zu runs, total %" PRId64, n, total);
    return n;
}

static void expect_ids(acp_store *s, const char *const *want, size_t n)
{
    for (int64_t limit = 1; limit <= 4; limit++) {
        char ids[64][32];
        size_t got = list_all(s, limit, ids, 64);
        cr_assert_eq(got, n, "limit %" PRId64 ": %zu runs listed, %zu expected", limit, got, n);
        for (size_t i = 0; i < n; i++)
            cr_assert_str_eq(ids[i], want[i], "limit %" PRId64 ", position %zu", limit, i);
    }
}

static int has_run(acp_store *s, const char *id)
{
    char *json;
    size_t len;
    acp_error err;
    acp_status st = acp_run_get(s, id, &json, &len, &err);
    cr_assert(st == ACP_OK || st == ACP_NOT_FOUND, "%s", err.message);
    if (st == ACP_OK)
        free(json);
    return st == ACP_OK;
}

/* Runs r1..r6, created 1..6 s (r4 and r5 at the same time: ties by id),
 * the odd ones final. */
static const char *const all_ids[] = {"r6", "r5", "r4", "r3", "r2", "r1"};

static void fill(acp_store *s)
{
    const char *st[] = {"completed", "awaiting", "failed", "created", "cancelled", "in-progress"};
    int sec[] = {1, 2, 3, 5, 5, 6};
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof id, "r%d", i + 1);
        save_run(s, id, st[i], sec[i]);
        add_events(s, id, 3 + i);
    }
}

Test(archive, moves_keep_everything_and_lists_stay_whole)
{
    acp_store *s = open_archive("");
    fill(s);
    char *before[6];
    for (int i = 0; i < 6; i++)
        cr_assert_not_null(before[i] = snapshot(s, all_ids[5 - i]));
    expect_ids(s, all_ids, 6);
    int64_t n = -1;
    acp_error err;
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(n, 3, "%" PRId64 " runs moved", n);
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(n, 0);
    expect_ids(s, all_ids, 6);
    for (int i = 0; i < 6; i++) {
        char *now = snapshot(s, all_ids[5 - i]);
        cr_assert_str_eq(now, before[i]);
        free(now);
    }
    acp_store_close(s);
    acp_store *hot = open_hot(), *cold = open_cold();
    for (int i = 0; i < 6; i++) {
        const char *id = all_ids[5 - i];
        int final = i % 2 == 0;
        cr_assert_eq(has_run(hot, id), !final, "%s in hot", id);
        cr_assert_eq(has_run(cold, id), final, "%s in cold", id);
        char *copy = snapshot(final ? cold : hot, id);
        cr_assert_str_eq(copy, before[i], "%s moved byte for byte", id);
        free(copy);
        free(before[i]);
    }
    acp_store_close(hot);
    acp_store_close(cold);
}

Test(archive, archived_runs_take_writes_in_their_tier)
{
    acp_store *s = open_archive("");
    fill(s);
    int64_t n, v0, v1, seq;
    acp_error err;
    cr_assert_eq(acp_store_archive(s, 1, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(n, 1);
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(n, 2);
    char *json;
    size_t len;
    cr_assert_eq(acp_run_get_versioned(s, "r1", &json, &len, &v0, &err), ACP_OK);
    free(json);
    cr_assert_eq(acp_event_add(s, "r1", "{\"type\":\"late\"}", ACP_STRLEN, &seq, &err), ACP_OK,
                 "%s", err.message);
    cr_assert_eq(seq, 4, "the archived run's sequence goes on: %" PRId64, seq);
    const char *doc = "{\"run_id\":\"r1\",\"agent_name\":\"ag\",\"status\":\"completed\","
                      "\"created_at\":\"2025-01-01T00:00:01Z\",\"output\":[]}";
    cr_assert_eq(acp_run_save_if(s, doc, ACP_STRLEN, v0, &v1, &err), ACP_OK, "%s", err.message);
    cr_assert_gt(v1, v0);
    cr_assert_eq(acp_run_save_if(s, doc, ACP_STRLEN, v0, NULL, &err), ACP_CONFLICT);
    acp_store_close(s);
    acp_store *hot = open_hot(), *cold = open_cold();
    cr_assert(!has_run(hot, "r1"));
    cr_assert_eq(acp_run_get_versioned(cold, "r1", &json, &len, &n, &err), ACP_OK);
    cr_assert_eq(n, v1);
    cr_assert(strstr(json, "\"output\"") != NULL);
    free(json);
    acp_page *p;
    cr_assert_eq(acp_event_list(hot, "r1", NULL, &p, &err), ACP_OK);
    cr_assert_eq(acp_page_count(p), 0);
    acp_page_free(p);
    cr_assert_eq(acp_event_list(cold, "r1", NULL, &p, &err), ACP_OK);
    cr_assert_eq(acp_page_count(p), 4);
    acp_page_free(p);
    acp_store_close(hot);
    acp_store_close(cold);
    s = open_archive("");
    cr_assert_eq(acp_run_delete(s, "r1", &err), ACP_OK, "%s", err.message);
    cr_assert(!has_run(s, "r1"));
    cr_assert_eq(acp_run_delete(s, "r1", &err), ACP_NOT_FOUND);
    acp_store_close(s);
}

/* A crash after a move stored the run record in the cold tier (x), and
 * one in the middle of its events (y): built by hand, with the journal the
 * move would have left. */
static void half_moves(void)
{
    acp_store *s = open_archive("");
    fill(s);
    save_run(s, "x", "completed", 4);
    add_events(s, "x", 3);
    save_run(s, "y", "failed", 4);
    add_events(s, "y", 3);
    acp_store_close(s);
    acp_store *hot = open_hot(), *cold = open_cold();
    acp_error err;
    char *json;
    size_t len;
    int64_t v;
    cr_assert_eq(acp_run_get_versioned(hot, "x", &json, &len, &v, &err), ACP_OK);
    acp_page *p;
    cr_assert_eq(acp_event_list(hot, "x", NULL, &p, &err), ACP_OK);
    acp_restore_event ev[3];
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        const char *d = acp_page_json(p, i, &n);
        ev[i] = (acp_restore_event){"x", d, n, acp_page_seq(p, i), acp_page_time_us(p, i)};
    }
    acp_status res[3];
    cr_assert_eq(acp_event_restore_many(cold, ev, 3, res, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_run_restore(cold, json, len, v, 4000000 + 1735689600000000LL, 0, &err),
                 ACP_OK, "%s", err.message);
    acp_page_free(p);
    free(json);
    cr_assert_eq(acp_event_list(hot, "y", NULL, &p, &err), ACP_OK);
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        const char *d = acp_page_json(p, i, &n);
        ev[i] = (acp_restore_event){"y", d, n, acp_page_seq(p, i), acp_page_time_us(p, i)};
    }
    cr_assert_eq(acp_event_restore_many(cold, ev, 2, res, &err), ACP_OK, "%s", err.message);
    acp_page_free(p);
    /* "x" and "y" in hex */
    const char *j = "{\"id\":\"acp-archive.journal.t.1\",\"state\":{\"runs\":\"78,79\"}}";
    cr_assert_eq(acp_session_save(hot, j, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
    acp_store_close(hot);
    acp_store_close(cold);
}

static const char *const with_xy[] = {"r6", "r5", "r4", "y", "x", "r3", "r2", "r1"};

Test(archive, a_half_move_is_seen_once_then_finished)
{
    half_moves();
    char *snap_x, *snap_y;
    {
        acp_store *hot = open_hot();
        snap_x = snapshot(hot, "x");
        snap_y = snapshot(hot, "y");
        acp_store_close(hot);
    }
    /* Before recovery: x is in both tiers, seen once, the total counts it
     * once; the journal is not a session of the store. */
    acp_store *s = open_archive("&recover=false");
    expect_ids(s, with_xy, 8);
    acp_page *p;
    acp_error err;
    cr_assert_eq(acp_session_list(s, NULL, 100, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 0);
    acp_page_free(p);
    cr_assert_eq(acp_session_save(s, "{\"id\":\"acp-archive.mine\"}", ACP_STRLEN, &err),
                 ACP_INVALID);
    char *sx = snapshot(s, "x"), *sy = snapshot(s, "y");
    cr_assert_str_eq(sx, snap_x);
    cr_assert_str_eq(sy, snap_y);
    free(sx);
    free(sy);
    acp_store_close(s);
    /* Open finishes x (its cold copy is whole) and leaves y in hot. */
    s = open_archive("");
    expect_ids(s, with_xy, 8);
    acp_store_close(s);
    acp_store *hot = open_hot(), *cold = open_cold();
    cr_assert(!has_run(hot, "x"));
    cr_assert(has_run(cold, "x"));
    cr_assert(has_run(hot, "y"));
    cr_assert(!has_run(cold, "y"));
    cr_assert_eq(acp_session_list(hot, NULL, 100, &p, &err), ACP_OK);
    cr_assert_eq(acp_page_count(p), 0, "the journal is gone");
    acp_page_free(p);
    sx = snapshot(cold, "x");
    cr_assert_str_eq(sx, snap_x);
    free(sx);
    acp_store_close(hot);
    acp_store_close(cold);
    /* The next pass moves y, resuming after the two events already there. */
    s = open_archive("");
    int64_t n;
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(n, 4, "r1, r3, r5 and y: %" PRId64, n);
    expect_ids(s, with_xy, 8);
    acp_store_close(s);
    cold = open_cold();
    sy = snapshot(cold, "y");
    cr_assert_str_eq(sy, snap_y);
    free(sy);
    acp_store_close(cold);
    free(snap_x);
    free(snap_y);
}

Test(archive, runs_not_due_stay_and_other_stores_refuse)
{
    acp_store *s = open_uri("archive:?hot=memory:&cold=memory:&after=3600");
    fill(s);
    int64_t n = -1;
    acp_error err;
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(n, 0);
    uint64_t caps = acp_store_capabilities(s);
    cr_assert(caps & ACP_CAP_VERSIONS);
    cr_assert(caps & ACP_CAP_RUN_FILTERS);
    cr_assert(!(caps & ACP_CAP_DURABLE), "memory tiers are not durable");
    acp_store_close(s);
    s = open_archive("");
    caps = acp_store_capabilities(s);
    cr_assert(caps & ACP_CAP_DURABLE);
    cr_assert(caps & ACP_CAP_RUN_FILTERS, "file tiers both filter by status");
    acp_store_close(s);
    /* A tier that cannot filter (a cache) takes the capability away. */
    s = open_uri("archive:?hot=memory:&cold=cache%%3A%%3Ffront%%3Dmemory%%3A%%26back%%3Dmemory%%3A&after=3600");
    caps = acp_store_capabilities(s);
    cr_assert(caps & ACP_CAP_VERSIONS);
    cr_assert(!(caps & ACP_CAP_RUN_FILTERS), "the cache tier cannot filter by status");
    acp_store_close(s);
    s = open_uri("memory:");
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_UNSUPPORTED);
    cr_assert(strstr(err.message, "archive") != NULL, "%s", err.message);
    acp_store_close(s);
    cr_assert_eq(acp_store_open("archive:?hot=memory:", &s, &err), ACP_INVALID);
    cr_assert(strstr(err.message, "cold") != NULL, "%s", err.message);
}

static int stop_at_once(void *ctx, int64_t moved)
{
    *(int64_t *)ctx = moved;
    return 1;
}

Test(archive, the_progress_callback_stops_after_a_batch)
{
    acp_store *s = open_uri("archive:?hot=memory:&cold=memory:&after=0");
    for (int i = 0; i < 150; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%03d", i);
        save_run(s, id, "completed", 1 + i % 50);
    }
    int64_t seen = 0, n = 0;
    acp_error err;
    cr_assert_eq(acp_store_archive(s, 0, stop_at_once, &seen, &n, &err), ACP_OK, "%s",
                 err.message);
    cr_assert_eq(n, 100);
    cr_assert_eq(seen, 100);
    cr_assert_eq(acp_store_archive(s, 0, NULL, NULL, &n, &err), ACP_OK);
    cr_assert_eq(n, 50);
    char ids[200][32];
    cr_assert_eq(list_all(s, 7, ids, 200), 150);
    acp_store_close(s);
}
