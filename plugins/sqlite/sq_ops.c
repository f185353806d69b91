/* SPDX-License-Identifier: MIT */
/*
 * sq_ops.c - the SQLite backend's operations: list_runs with status or
 * time filters, purge_runs, stats.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sq.h"

/* SQL text built piece by piece into a fixed buffer (every statement of
 * this section fits: at most seven legs of a few hundred bytes). */
typedef struct sq_text {
    char s[6144];
    size_t len;
} sq_text;

static void sq_cat(sq_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sq_cat(sq_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, sizeof t->s - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof t->s ? t->len + (size_t)n : sizeof t->s - 1;
}

/* The terms every filtered statement shares (not the status). */
static void sq_cat_range(sq_text *t, const acp_run_query *q, int cursor)
{
    if (q->agent_name)
        sq_cat(t, " AND agent_name = :agent");
    if (q->session_id)
        sq_cat(t, " AND session_id = :session");
    if (q->created_since_us != INT64_MIN)
        sq_cat(t, " AND created_us >= :since");
    if (q->created_until_us != INT64_MAX)
        sq_cat(t, " AND created_us < :until");
    if (cursor && q->has_cursor)
        sq_cat(t, " AND (created_us, run_id) < (:cus, :cid)");
}

/* " IN (:st0, :st1, ...)" for the query's statuses. */
static void sq_cat_statuses(sq_text *t, size_t n)
{
    sq_cat(t, " IN (");
    for (size_t i = 0; i < n; i++)
        sq_cat(t, "%s:st%zu", i ? ", " : "", i);
    sq_cat(t, ")");
}

/* What the named parameters of this section stand for. */
typedef struct sq_params {
    const acp_run_query *q;        /* lists, or NULL */
    const acp_purge_query *p;      /* purges, or NULL */
} sq_params;

/* Bind every parameter of s by its name. */
static int sq_bind_named(sqlite3_stmt *s, const sq_params *v)
{
    const acp_run_query *q = v->q;
    const acp_purge_query *p = v->p;
    const char *const *st = q ? q->statuses : p->statuses;
    const char *agent = q ? q->agent_name : p->agent_name;
    int rc = SQLITE_OK;
    for (int i = 1; rc == SQLITE_OK && i <= sqlite3_bind_parameter_count(s); i++) {
        const char *n = sqlite3_bind_parameter_name(s, i) + 1; /* after ':' */
        if (!strncmp(n, "st", 2))
            rc = sqlite3_bind_text(s, i, st[strtoul(n + 2, NULL, 10)], -1, SQLITE_STATIC);
        else if (!strcmp(n, "agent"))
            rc = sqlite3_bind_text(s, i, agent, -1, SQLITE_STATIC);
        else if (!strcmp(n, "agent0"))
            rc = sqlite3_bind_text(s, i, agent ? agent : "", -1, SQLITE_STATIC);
        else if (!strcmp(n, "kind"))
            rc = sqlite3_bind_int(s, i, agent ? 5 : 4);
        else if (q && !strcmp(n, "tkey")) /* time_counts' key: session, agent or '' */
            rc = sqlite3_bind_text(s, i, q->session_id   ? q->session_id
                                         : q->agent_name ? q->agent_name
                                                         : "",
                                   -1, SQLITE_STATIC);
        else if (q && !strcmp(n, "session"))
            rc = sqlite3_bind_text(s, i, q->session_id, -1, SQLITE_STATIC);
        else if (q && !strcmp(n, "since"))
            rc = sqlite3_bind_int64(s, i, q->created_since_us);
        else if (q && !strcmp(n, "until"))
            rc = sqlite3_bind_int64(s, i, q->created_until_us);
        else if (q && !strcmp(n, "cus"))
            rc = sqlite3_bind_int64(s, i, q->cursor_created_us);
        else if (q && !strcmp(n, "cid"))
            rc = sqlite3_bind_text(s, i, q->cursor_run_id, -1, SQLITE_STATIC);
        else if (q && !strcmp(n, "n")) /* each leg's share: the whole window */
            rc = sqlite3_bind_int64(s, i, acp_run_window(q));
        else if (!strcmp(n, "lim"))
            rc = sqlite3_bind_int64(s, i, q ? q->limit : p->limit);
        else if (q && !strcmp(n, "off"))
            rc = sqlite3_bind_int64(s, i, q->offset);
        else if (!q && !strcmp(n, "before")) /* exactly one of q, p is set */
            rc = sqlite3_bind_int64(s, i, p->finished_before_us);
        else
            rc = SQLITE_RANGE;
    }
    return rc;
}

/* Prepare t and bind it.  *s is NULL when preparing failed. */
static int sq_prepare_named(sq_conn *c, const sq_text *t, const sq_params *v, sqlite3_stmt **s)
{
    int rc = sqlite3_prepare_v2(c->db, t->s, (int)t->len, s, NULL);
    return rc == SQLITE_OK ? sq_bind_named(*s, v) : rc;
}

/* The page: one leg per status, each walking its index (runs_status, or
 * runs_agent_status with an agent) backwards from the cursor and the end
 * of the time range, merged in list order.  Without statuses, one leg on
 * the list indexes of the other filters. */
static void sq_page_sql(sq_text *t, const acp_run_query *q)
{
    size_t legs = q->n_statuses ? q->n_statuses : 1;
    for (size_t i = 0; i < legs; i++) {
        sq_cat(t, legs > 1 ? "%sSELECT * FROM (" : "%s", i ? " UNION ALL " : "");
        sq_cat(t, ACP_SQ_RUNS_SELECT " WHERE 1");
        if (q->n_statuses)
            sq_cat(t, " AND status = :st%zu", i);
        sq_cat_range(t, q, 1);
        sq_cat(t, " ORDER BY created_us DESC, run_id DESC");
        sq_cat(t, legs > 1 ? " LIMIT :n)" : "");
    }
    sq_cat(t, legs > 1 ? " ORDER BY 3 DESC, 1 DESC LIMIT :lim OFFSET :off"
                       : " LIMIT :lim OFFSET :off");
}

/* A count of the runs created in [since, until) (an edge of a time range
 * total), with the query's other filters. */
static void sq_cat_edge(sq_text *t, const acp_run_query *q, int64_t since, int64_t until)
{
    if (since >= until)
        return;
    sq_cat(t, " + (SELECT count(*) FROM runs WHERE created_us >= %lld AND created_us < %lld",
           (long long)since, (long long)until);
    if (q->n_statuses) {
        sq_cat(t, " AND status");
        sq_cat_statuses(t, q->n_statuses);
    }
    if (q->agent_name)
        sq_cat(t, " AND agent_name = :agent");
    if (q->session_id)
        sq_cat(t, " AND session_id = :session");
    sq_cat(t, ")");
}

/* A total over a time range from time_counts (schema 5): the whole
 * buckets of acp_time_buckets_split, level by level, in the rows of the
 * query's agent or session (kind 1 or 2, key :tkey) or of all runs (kind
 * 0), plus a count of the runs of the two level-0 edges.  O(log n): at
 * most 126 buckets of a few statuses each and two edges of 16 ms. */
static void sq_total_time_sql(sq_text *t, const acp_run_query *q)
{
    acp_time_buckets tb;
    acp_time_buckets_split(q->created_since_us, q->created_until_us, &tb);
    int kind = q->session_id ? 2 : q->agent_name ? 1 : 0;
    sq_cat(t, "SELECT 0");
    for (int l = 0; l < ACP_TIME_BUCKET_LEVELS; l++)
        for (int i = 0; i < 2; i++) {
            if (tb.lo[l][i] >= tb.hi[l][i])
                continue;
            sq_cat(t, " + (SELECT coalesce(sum(n), 0) FROM time_counts WHERE kind = %d"
                      " AND key = :tkey AND level = %d AND bucket >= %lld AND bucket < %lld",
                   kind, l, (long long)tb.lo[l][i], (long long)tb.hi[l][i]);
            if (q->n_statuses) {
                sq_cat(t, " AND status");
                sq_cat_statuses(t, q->n_statuses);
            }
            sq_cat(t, ")");
        }
    sq_cat_edge(t, q, tb.head_since, tb.head_until);
    sq_cat_edge(t, q, tb.tail_since, tb.tail_until);
}

static int sq_ranged(const acp_run_query *q)
{
    return q->created_since_us != INT64_MIN || q->created_until_us != INT64_MAX;
}

/* The total: the status counters when only statuses (and an agent)
 * narrow the list, the time counters when a time range does and the
 * store keeps them (time_counts: option time_totals; not when both an
 * agent and a session are given: time_counts has no rows for the pair,
 * and a count over the pair's index range is bounded by the session's
 * runs), else a count over the range of an index. */
static void sq_total_sql(sq_text *t, const acp_run_query *q, int time_counts)
{
    int ranged = sq_ranged(q);
    if (q->n_statuses && !q->session_id && !ranged) {
        sq_cat(t, "SELECT coalesce(sum(n), 0) FROM counts WHERE kind = :kind"
                  " AND agent = :agent0 AND session");
        sq_cat_statuses(t, q->n_statuses);
        return;
    }
    if (ranged && time_counts && !(q->agent_name && q->session_id)) {
        sq_total_time_sql(t, q);
        return;
    }
    sq_cat(t, "SELECT count(*) FROM runs WHERE 1");
    if (q->n_statuses) {
        sq_cat(t, " AND status");
        sq_cat_statuses(t, q->n_statuses);
    }
    sq_cat_range(t, q, 0);
}

acp_status sq_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    sq_params v = {q, NULL};
    sq_text t = {.len = 0};
    sqlite3_stmt *s = NULL;
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    /* The total and the page come from one snapshot. */
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN_READ]);
    /* Whether time_counts exists, in this snapshot: another process may
     * have added or dropped it since the last look. */
    if (rc == SQLITE_OK && q->want_total && sq_ranged(q))
        rc = sq_time_counts(c);
    if (rc == SQLITE_OK && q->want_total) {
        sq_total_sql(&t, q, c->time_counts);
        rc = sq_prepare_named(c, &t, &v, &s);
        if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            b->host->set_total(call, sqlite3_column_int64(s, 0));
            rc = SQLITE_OK;
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "list_runs", NULL);
    } else if (q->limit > 0) {
        t.len = 0;
        sq_page_sql(&t, q);
        rc = sq_prepare_named(c, &t, &v, &s);
        st = sq_emit_rows(b, c, s, s ? rc : SQLITE_NOMEM, SQ_RUN, NULL, 0, call, NULL);
        sqlite3_finalize(s);
    }
    if (st == ACP_OK && (rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT])) != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "list_runs", NULL);
    sq_put(b, c); /* rolls back after a failure */
    return st;
}

/* The matches of a purge, by runs_finished. */
static void sq_purge_sql(sq_text *t, const acp_purge_query *p, const char *what)
{
    sq_cat(t, "SELECT %s FROM runs WHERE status", what);
    sq_cat_statuses(t, p->n_statuses);
    sq_cat(t, " AND finished_us < :before");
    if (p->agent_name)
        sq_cat(t, " AND agent_name = :agent");
}

/* Delete the runs ids[0..n) and their events inside the open transaction. */
static int sq_delete_ids(sq_conn *c, char **ids, int64_t n)
{
    int rc = SQLITE_OK;
    for (int64_t k = 0; rc == SQLITE_OK && k < n; k++)
        rc = sq_delete_one(c, ids[k], NULL);
    return rc;
}

/* One batch in one IMMEDIATE transaction: the ids first (at most limit),
 * then each run and its events. */
acp_status sq_purge_runs(acp_backend *b, const acp_purge_query *p, int64_t *deleted,
                         acp_call *call)
{
    sq_params v = {NULL, p};
    sq_text t = {.len = 0};
    sqlite3_stmt *s = NULL;
    sq_conn *c;
    char **ids = NULL;
    int64_t n = 0;
    acp_status st = p->count_only ? sq_get(b, call, &c) : sq_get_rw(b, call, "purge", &c);
    if (st != ACP_OK)
        return st;
    sq_purge_sql(&t, p, p->count_only ? "count(*)" : "run_id");
    if (!p->count_only)
        sq_cat(&t, " LIMIT :lim");
    int rc = p->count_only ? SQLITE_OK : sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    if (rc == SQLITE_OK)
        rc = sq_prepare_named(c, &t, &v, &s);
    if (rc == SQLITE_OK && !p->count_only && !(ids = calloc((size_t)p->limit, sizeof *ids)))
        rc = SQLITE_NOMEM;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        if (p->count_only)
            n = sqlite3_column_int64(s, 0);
        else if (n < p->limit && !(ids[n++] = strdup((const char *)sqlite3_column_text(s, 0))))
            rc = SQLITE_NOMEM;
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        rc = p->count_only ? SQLITE_OK : sq_delete_ids(c, ids, n);
    if (rc == SQLITE_OK && !p->count_only)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "purge", NULL);
    sq_put(b, c); /* rolls back after a failure */
    for (int64_t k = 0; ids && k < n; k++)
        free(ids[k]);
    free(ids);
    if (st == ACP_OK)
        *deleted = n;
    return st;
}

/* Figures from the counters (runs, per status, per agent), the sizes of
 * the sessions and events tables' b-trees, the file's pages and the
 * schema version. */
acp_status sq_stats(acp_backend *b, acp_call *call)
{
    static const char counters[] = "SELECT kind, agent, session, n FROM counts"
                                   " WHERE kind IN (0, 1, 4)";
    static const char sizes[] =
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events),"
        " (SELECT page_count FROM pragma_page_count) * (SELECT page_size FROM pragma_page_size),"
        " (SELECT user_version FROM pragma_user_version)";
    static const int size_kinds[] = {ACP_STAT_SESSIONS, ACP_STAT_EVENTS, ACP_STAT_BYTES,
                                     ACP_STAT_SCHEMA_VERSION};
    const acp_plugin_host *h = b->host;
    if (h->size < offsetof(acp_plugin_host, stat) + sizeof h->stat || !h->stat)
        return ACP_UNSUPPORTED;
    sqlite3_stmt *s = NULL;
    sq_conn *c;
    int bad = 0, runs = 0;
    acp_status st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN_READ]);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(c->db, counters, -1, &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(s, 0);
        int64_t n = sqlite3_column_int64(s, 3);
        rc = SQLITE_OK;
        runs |= kind == 0;
        bad |= h->stat(call,
                       kind == 0   ? ACP_STAT_RUNS
                       : kind == 1 ? ACP_STAT_RUNS_BY_AGENT
                                   : ACP_STAT_RUNS_BY_STATUS,
                       kind == 0 ? NULL : (const char *)sqlite3_column_text(s, kind == 1 ? 1 : 2),
                       n);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (rc == SQLITE_DONE)
        rc = sqlite3_prepare_v2(c->db, sizes, -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        for (int i = 0; i < 4; i++)
            bad |= h->stat(call, size_kinds[i], NULL, sqlite3_column_int64(s, i));
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_OK && !runs) /* the all-runs counter row is gone at zero */
        bad |= h->stat(call, ACP_STAT_RUNS, NULL, 0);
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "stats", NULL);
    else if (bad)
        st = sq_nomem(b, call, "stats");
    sq_put(b, c);
    return st;
}
