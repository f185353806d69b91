/* SPDX-License-Identifier: MIT */
/*
 * pg_ops.c - what operators use on the postgres backend: list_runs with
 * status and creation-time filters, purge_runs (one transaction per batch)
 * and stats.  Statements are built per call from a few fixed pieces (no
 * value is ever spliced in: ids, statuses and instants travel as binary
 * parameters) and planned with their values, except the total over a
 * time range, a call of the schema's run_time_total().
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* SQL text and its parameters, built piece by piece. */
typedef struct pg_stmt {
    char sql[6144];
    size_t len;
    const char *vals[PG_MAX_PARAMS];
    int lens[PG_MAX_PARAMS];
    char ints[PG_MAX_PARAMS][8]; /* bigint parameters, big-endian */
    int n;
    int overflow; /* a parameter past PG_MAX_PARAMS was asked for */
} pg_stmt;

static void stmt_reset(pg_stmt *s)
{
    s->len = 0;
    s->n = 0;
    s->overflow = 0;
}

static void cat(pg_stmt *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cat(pg_stmt *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->sql + s->len, sizeof s->sql - s->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        s->len = s->len + (size_t)n < sizeof s->sql ? s->len + (size_t)n : sizeof s->sql - 1;
}

/* Add a text or bigint parameter; returns its number ($n). */
static int text_param(pg_stmt *s, const char *v)
{
    if (s->n == PG_MAX_PARAMS) {
        s->overflow = 1;
        return s->n;
    }
    s->vals[s->n] = v;
    s->lens[s->n] = (int)strlen(v);
    return ++s->n;
}

static int int_param(pg_stmt *s, int64_t v)
{
    if (s->n == PG_MAX_PARAMS) {
        s->overflow = 1;
        return s->n;
    }
    pg_put_i64(s->ints[s->n], v);
    s->vals[s->n] = s->ints[s->n];
    s->lens[s->n] = 8;
    return ++s->n;
}

/* " IN ($i::text, ...)" for the statuses. */
static void cat_statuses(pg_stmt *s, const char *const *st, size_t n)
{
    cat(s, " IN (");
    for (size_t i = 0; i < n; i++)
        cat(s, "%s$%d::text", i ? ", " : "", text_param(s, st[i]));
    cat(s, ")");
}

/* The terms every filtered statement shares (not the status). */
static void cat_range(pg_stmt *s, const acp_run_query *q, int cursor)
{
    if (q->agent_name)
        cat(s, " AND agent_name = $%d::text", text_param(s, q->agent_name));
    if (q->session_id)
        cat(s, " AND session_id = $%d::text", text_param(s, q->session_id));
    if (q->created_since_us != INT64_MIN)
        cat(s, " AND created_us >= $%d::bigint", int_param(s, q->created_since_us));
    if (q->created_until_us != INT64_MAX)
        cat(s, " AND created_us < $%d::bigint", int_param(s, q->created_until_us));
    if (cursor && q->has_cursor) {
        int c = int_param(s, q->cursor_created_us);
        cat(s, " AND (created_us, run_id) < ($%d::bigint, $%d::text)", c,
            text_param(s, q->cursor_run_id));
    }
}

/* Run s in r's store: the schema goes in for "@". */
static acp_status run(pg_req *r, const pg_stmt *s, PGresult **res)
{
    if (s->overflow || s->len + 1 >= sizeof s->sql)
        return pg_fail(r, ACP_INVALID, "the filter needs a statement larger than this backend builds");
    char *sql = pg_sql_expand(s->sql, r->b->qschema);
    if (!sql)
        return pg_fail(r, ACP_NOMEM, "out of memory");
    acp_status st = pg_exec_params(r, sql, s->n, s->vals, s->lens, res);
    free(sql);
    return st;
}

/* One bigint from the first row of res. */
static acp_status scalar(pg_req *r, PGresult *res, int64_t *v)
{
    if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 8)
        return pg_fail(r, ACP_IO, "a count came back malformed");
    *v = pg_get_i64(PQgetvalue(res, 0, 0));
    return ACP_OK;
}

/*
 * The total of a filter without a session (statuses, an agent, a
 * creation-time range: all time when it has none), from run_time_counts
 * and run_time_log (pg_sql.h, schema version 6): acp_time_buckets_split
 * names the range's whole buckets; those of
 * levels 1..5 (contiguous, [w0, w1)) are the sum of their counter rows
 * plus the log rows of the same instants, and the rest of the range (the
 * edges with level 0's whole buckets, each under about 1 s) is counted
 * over the runs indexes.  One statement (@.run_time_total): one
 * snapshot sees each change in the log or in the counters, never both.
 */
/* pg_sql.h's run_time_counts uses these levels (level 1: >> 20, 5 the top) */
_Static_assert(ACP_TIME_BUCKET_LEVELS == 6, "levels 1..5 above level 0");
_Static_assert(ACP_TIME_BUCKET_SHIFT0 + ACP_TIME_BUCKET_STEP == 20, "level 1: >> 20");
_Static_assert(ACP_TIME_BUCKET_STEP == 6, "each level: >> 6 more");

/* run_time_total()'s arguments for q: the statuses joined by ',' in
 * statuses (ACP status names have no comma) and the 24 bigints in nums.
 * Returns 0, or -1 when the statuses do not fit. */
typedef struct time_args {
    char statuses[256];
    size_t len;
    int64_t nums[24];
    int64_t shape; /* 1 an agent, 2 statuses */
} time_args;

static int time_args_of(const acp_run_query *q, time_args *t)
{
    acp_time_buckets tb;
    acp_time_buckets_split(q->created_since_us, q->created_until_us, &tb);
    t->len = 0;
    t->statuses[0] = '\0';
    for (size_t i = 0; i < q->n_statuses; i++) {
        int n = snprintf(t->statuses + t->len, sizeof t->statuses - t->len, "%s%s", i ? "," : "",
                         q->statuses[i]);
        if (n < 0 || (size_t)n >= sizeof t->statuses - t->len)
            return -1;
        t->len += (size_t)n;
    }
    int64_t w0 = INT64_MAX, w1 = INT64_MIN;
    int k = 0;
    for (int lv = 1; lv < ACP_TIME_BUCKET_LEVELS; lv++) {
        for (int i = 0; i < (lv < ACP_TIME_BUCKET_LEVELS - 1 ? 2 : 1); i++) {
            int64_t lo = tb.lo[lv][i], hi = tb.hi[lv][i];
            if (lo < hi) {
                /* whole buckets lie inside [since, until): no overflow */
                int64_t width = INT64_C(1)
                                << (ACP_TIME_BUCKET_SHIFT0 + ACP_TIME_BUCKET_STEP * lv);
                w0 = lo * width < w0 ? lo * width : w0;
                w1 = hi * width > w1 ? hi * width : w1;
            } else {
                lo = hi = 0;
            }
            t->nums[k++] = lo;
            t->nums[k++] = hi;
        }
    }
    if (w0 >= w1) { /* no whole bucket above level 0: all of it is edge */
        int64_t rest[6] = {0, 0, q->created_since_us, q->created_until_us, 0, 0};
        memcpy(t->nums + k, rest, sizeof rest);
    } else {
        int64_t rest[6] = {w0, w1, q->created_since_us, w0, w1, q->created_until_us};
        memcpy(t->nums + k, rest, sizeof rest);
    }
    t->shape = (q->agent_name ? 1 : 0) | (q->n_statuses ? 2 : 0);
    return 0;
}

/* run_time_total()'s 27 arguments as s's parameters; returns the number
 * of the first.  The same for the prepared PG_TIME_TOTAL and the page's
 * statement (cat_time_total). */
static int time_params(pg_stmt *s, const acp_run_query *q, const time_args *t)
{
    int first = text_param(s, q->agent_name ? q->agent_name : "");
    text_param(s, t->statuses);
    for (int i = 0; i < 24; i++)
        int_param(s, t->nums[i]);
    int_param(s, t->shape);
    return first;
}

/* " @.run_time_total($a, ..., $z)" with t's values as s's parameters. */
static void cat_time_total(pg_stmt *s, const acp_run_query *q, const time_args *t)
{
    int p = time_params(s, q, t);
    cat(s, "@.run_time_total($%d::text, $%d::text", p, p + 1);
    for (int i = 0; i < 24; i++)
        cat(s, ", $%d::bigint", p + 2 + i);
    cat(s, ", $%d::bigint::integer)", p + 26);
}

static acp_status time_total(pg_req *r, const acp_run_query *q, int64_t *total)
{
    time_args t;
    if (time_args_of(q, &t) != 0)
        return pg_fail(r, ACP_INVALID, "too many statuses in one filter");
    pg_stmt s = {.len = 0, .n = 0};
    time_params(&s, q, &t);
    PGresult *res;
    acp_status st = pg_exec(r, PG_TIME_TOTAL, s.n, s.vals, s.lens, &res);
    if (st == ACP_OK) {
        st = scalar(r, res, total);
        PQclear(res);
    }
    return st;
}

/* The page: one leg per status, each reading runs_by_status (or
 * runs_by_agent_status) in list order from the cursor and the end of the
 * time range, at most offset + limit rows, merged in list order.  The
 * total sums time counters (time_total), or with a session counts the
 * same index ranges. */
/* The page's statement: one leg per status, merged in list order; with
 * t, its first column is the total (run_time_total), so that the page and
 * its total are one statement: one snapshot, one round trip. */
static void cat_page(pg_stmt *s, const acp_run_query *q, const time_args *t)
{
    size_t legs = q->n_statuses ? q->n_statuses : 1;
    stmt_reset(s);
    int window = int_param(s, acp_run_window(q));
    cat(s, "SELECT ");
    if (t) {
        cat(s, "(SELECT ");
        cat_time_total(s, q, t);
        cat(s, "), ");
    }
    cat(s, "run_id, created_us, doc, version FROM (");
    for (size_t i = 0; i < legs; i++) {
        cat(s, "%s(SELECT run_id, created_us, doc, version FROM @.runs WHERE true",
            i ? " UNION ALL " : "");
        if (q->n_statuses)
            cat(s, " AND status = $%d::text", text_param(s, q->statuses[i]));
        cat_range(s, q, 1);
        cat(s, " ORDER BY created_us DESC, run_id DESC LIMIT $%d::bigint)", window);
    }
    int off = int_param(s, q->offset);
    cat(s, ") u ORDER BY created_us DESC, run_id DESC OFFSET $%d::bigint LIMIT $%d::bigint", off,
        int_param(s, q->limit));
}

/* Hand back the page's rows, whose run_id is column first. */
static acp_status emit_page(pg_req *r, PGresult *res, int first)
{
    acp_status st = ACP_OK;
    for (int i = 0; i < PQntuples(res) && st == ACP_OK; i++)
        st = pg_emit_row(r, res, i, first + 2, PQgetvalue(res, i, first), first + 1, -1, -1,
                         first + 3);
    return st;
}

/* A page with its total, without a session, in one statement (cat_page).
 * *done is 0 when the page came back empty: no row carried the total. */
static acp_status page_with_total(pg_req *r, const acp_run_query *q, int *done)
{
    time_args t;
    *done = 0;
    if (time_args_of(q, &t) != 0)
        return pg_fail(r, ACP_INVALID, "too many statuses in one filter");
    pg_stmt s;
    cat_page(&s, q, &t);
    PGresult *res = NULL;
    acp_status st = run(r, &s, &res);
    if (st != ACP_OK || PQntuples(res) == 0) {
        PQclear(res);
        return st;
    }
    if (PQgetlength(res, 0, 0) != 8) {
        PQclear(res);
        return pg_fail(r, ACP_IO, "a count came back malformed");
    }
    r->b->host->set_total(r->call, pg_get_i64(PQgetvalue(res, 0, 0)));
    st = emit_page(r, res, 1);
    PQclear(res);
    *done = 1;
    return st;
}

acp_status pg_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    pg_req r;
    pg_req_init(&r, b, call, "list_runs", NULL, NULL, 1);
    PGresult *res = NULL;
    acp_status st = ACP_OK;
    pg_stmt s;
    int both = q->want_total && q->limit > 0;
    if (both && !q->session_id) {
        int done = 0;
        st = page_with_total(&r, q, &done);
        if (st != ACP_OK || done) {
            pg_req_done(&r);
            return st;
        }
        /* an empty page: the total alone, below (the same snapshot as a
         * second look at the page) */
    }
    /* The total and the page see one snapshot. */
    if (both && (st = pg_exec_sql(&r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                  &res)) == ACP_OK)
        PQclear(res);
    if (st == ACP_OK && q->want_total) {
        int64_t total = 0;
        if (!q->session_id) {
            st = time_total(&r, q, &total);
        } else {
            /* counted over the index ranges of the page (pg_sql.h: no
             * session counters by status or time) */
            stmt_reset(&s);
            cat(&s, "SELECT count(*)::bigint FROM @.runs WHERE true");
            if (q->n_statuses) {
                cat(&s, " AND status");
                cat_statuses(&s, q->statuses, q->n_statuses);
            }
            cat_range(&s, q, 0);
            if ((st = run(&r, &s, &res)) == ACP_OK) {
                st = scalar(&r, res, &total);
                PQclear(res);
            }
        }
        if (st == ACP_OK)
            b->host->set_total(call, total);
    }
    if (st == ACP_OK && q->limit > 0) {
        cat_page(&s, q, NULL);
        if ((st = run(&r, &s, &res)) == ACP_OK) {
            st = emit_page(&r, res, 0);
            PQclear(res);
        }
    }
    if (both && st == ACP_OK && (st = pg_exec_sql(&r, "COMMIT", &res)) == ACP_OK)
        PQclear(res);
    pg_req_done(&r); /* a connection left inside a transaction is dropped */
    return st;
}

/* " FROM @.runs WHERE status IN (...) AND finished_us < $ [AND agent]":
 * the purge's match. */
static void cat_purged(pg_stmt *s, const acp_purge_query *q)
{
    cat(s, " FROM @.runs WHERE status");
    cat_statuses(s, q->statuses, q->n_statuses);
    cat(s, " AND finished_us < $%d::bigint", int_param(s, q->finished_before_us));
    if (q->agent_name)
        cat(s, " AND agent_name = $%d::text", text_param(s, q->agent_name));
}

/* pg_delete_one's check, under the run's save lock: a save since the batch
 * was chosen may have made the run match no more. */
static acp_status still_purged(pg_req *r, const char *run_id, const void *arg, int *yes)
{
    pg_stmt s = {.len = 0, .n = 0};
    cat(&s, "SELECT 1");
    cat_purged(&s, arg);
    cat(&s, " AND run_id = $%d::text", text_param(&s, run_id));
    PGresult *res = NULL;
    acp_status st = run(r, &s, &res);
    if (st == ACP_OK) {
        *yes = PQntuples(res) > 0;
        PQclear(res);
    }
    return st;
}

/* One batch, one transaction: the matching runs (by runs_finished), then
 * each removed as delete_run removes one (pg_delete_one: the same locks in
 * the same order, so an append or a save racing the purge is serialized
 * with it exactly as with delete_run).  The batch is taken in run_id order
 * so that purges running at once lock runs in one order. */
acp_status pg_purge_runs(acp_backend *b, const acp_purge_query *q, int64_t *deleted,
                         acp_call *call)
{
    pg_req r;
    pg_req_init(&r, b, call, "purge", NULL, NULL, q->count_only);
    pg_stmt s = {.len = 0, .n = 0};
    cat(&s, q->count_only ? "SELECT count(*)::bigint" : "SELECT run_id FROM (SELECT run_id");
    cat_purged(&s, q);
    if (!q->count_only)
        cat(&s, " LIMIT $%d::bigint) m ORDER BY run_id", int_param(&s, q->limit));
    PGresult *res = NULL, *ids = NULL;
    acp_status st = ACP_OK;
    *deleted = 0;
    if (q->count_only) {
        if ((st = run(&r, &s, &res)) == ACP_OK) {
            st = scalar(&r, res, deleted);
            PQclear(res);
        }
        pg_req_done(&r);
        return st;
    }
    if ((st = pg_exec_sql(&r, "BEGIN", &res)) == ACP_OK) {
        PQclear(res);
        st = run(&r, &s, &ids);
    }
    for (int i = 0; st == ACP_OK && i < PQntuples(ids); i++) {
        int had_events, had_run;
        st = pg_delete_one(&r, PQgetvalue(ids, i, 0), still_purged, q, &had_events,
                           &had_run);
        *deleted += had_run;
    }
    if (st == ACP_OK && (st = pg_exec_sql(&r, "COMMIT", &res)) == ACP_OK)
        PQclear(res);
    if (st != ACP_OK)
        *deleted = 0;
    PQclear(ids);
    pg_req_done(&r); /* a connection left inside a transaction is dropped */
    return st;
}

/* Figures: runs and runs by agent from the counters (PG_SQL_COUNTS);
 * runs by status from the time counters (schema 6); events
 * from the per-run sequence counters (a run's last sequence is its number
 * of events); sessions counted; the size of the schema's tables with their
 * indexes and TOAST; the schema version. */
acp_status pg_stats(acp_backend *b, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    if (h->size < offsetof(acp_plugin_host, stat) + sizeof h->stat || !h->stat)
        return ACP_UNSUPPORTED;
    pg_req r;
    pg_req_init(&r, b, call, "stats", NULL, NULL, 1);
    pg_stmt s = {.len = 0, .n = 0};
    /* The schema's name without its quotes. */
    char name[72];
    snprintf(name, sizeof name, "%.*s", (int)strlen(b->qschema) - 2, b->qschema + 1);
    cat(&s, "SELECT 1, NULL::text, coalesce(sum(n), 0)::bigint FROM @.run_counts WHERE kind = 0"
            " UNION ALL SELECT 3, agent, sum(n)::bigint FROM @.run_counts WHERE kind = 1"
            "  GROUP BY agent"
            /* every status's all-time rows: the top level's and the log's */
            " UNION ALL SELECT 2, status, sum(n)::bigint FROM (SELECT status, n"
            "  FROM @.run_time_counts WHERE status > '' AND kind = 0 AND level = 5"
            "  UNION ALL SELECT status, d FROM @.run_time_log) t"
            "  GROUP BY status HAVING sum(n) > 0"
            " UNION ALL SELECT 4, NULL, count(*)::bigint FROM @.sessions"
            " UNION ALL SELECT 5, NULL, coalesce(sum(last_seq), 0)::bigint FROM @.event_seq"
            " UNION ALL SELECT 6, NULL, (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)"
            "  FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace"
            "  WHERE ns.nspname = $%d::text AND c.relkind = 'r')::bigint"
            " UNION ALL SELECT 7, NULL, value FROM @.meta WHERE name = 'schema_version'",
        text_param(&s, name));
    PGresult *res = NULL;
    acp_status st = run(&r, &s, &res);
    if (st == ACP_OK) {
        int bad = 0;
        for (int i = 0; i < PQntuples(res) && !bad; i++) {
            if (PQgetlength(res, i, 0) != 4 || PQgetlength(res, i, 2) != 8) {
                st = pg_fail(&r, ACP_IO, "a figure came back malformed");
                break;
            }
            const unsigned char *k = (const unsigned char *)PQgetvalue(res, i, 0);
            int kind = (int)((uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | k[2] << 8 | k[3]);
            bad = h->stat(call, kind, PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1),
                          pg_get_i64(PQgetvalue(res, i, 2)));
        }
        PQclear(res);
        if (st == ACP_OK && bad)
            st = pg_fail(&r, ACP_NOMEM, "out of memory reporting figures");
    }
    pg_req_done(&r);
    return st;
}
