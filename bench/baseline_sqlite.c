/* SPDX-License-Identifier: MIT */
/*
 * baseline_sqlite.c - the raw SQLite baseline: the sqlite backend's schema
 * with the baseline's own statements (baseline_sqlite_sql.h), prepared once
 * per connection, with the settings the backend uses: WAL, synchronous=NORMAL
 * (or what the store URI says), busy_timeout 5000 ms (or the URI's),
 * SQLITE_OPEN_NOMUTEX and one connection per thread.  The fields the
 * backend gets from the core are bound directly (a hand-written program
 * has them), so the ratio shows everything the library adds: JSON checks,
 * the core, the plugin table, the connection pool and the document
 * checksums (the baseline stores 0 in the crc column and checks nothing).
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench.h"
#include "baseline_sqlite_sql.h"

typedef struct sqconn {
    sqlite3 *db;
    sqlite3_stmt *st[BSQ_N];
} sqconn;

typedef struct sqbase {
    int n;
    sqconn c[BENCH_MAX_THREADS];
} sqbase;

/* The value of key in a URI query, into out; 0 when absent. */
static int uri_opt(const char *uri, const char *key, char *out, size_t cap)
{
    const char *q = strchr(uri, '?');
    size_t kl = strlen(key);
    while (q) {
        q++;
        if (strncmp(q, key, kl) == 0 && q[kl] == '=') {
            size_t n = strcspn(q + kl + 1, "&#");
            snprintf(out, cap, "%.*s", (int)n, q + kl + 1);
            return 1;
        }
        q = strchr(q, '&');
    }
    return 0;
}

static void close_conn(sqconn *c)
{
    for (int i = 0; i < BSQ_N; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    memset(c, 0, sizeof *c);
}

static int open_conn(sqconn *c, const char *path, const char *uri, int first, char *why,
                     size_t wl)
{
    char v[64], sql[128];
    int rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(c->db, uri_opt(uri, "busy_timeout", v, sizeof v) ? atoi(v) : 5000);
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s",
             uri_opt(uri, "synchronous", v, sizeof v) && strcmp(v, "full") == 0 ? "FULL"
                                                                                 : "NORMAL");
    if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;
    if (uri_opt(uri, "cache_size", v, sizeof v)) {
        snprintf(sql, sizeof sql, "PRAGMA cache_size = %s", v);
        if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
            goto fail;
    }
    if (uri_opt(uri, "mmap_size", v, sizeof v)) {
        snprintf(sql, sizeof sql, "PRAGMA mmap_size = %s", v);
        if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
            goto fail;
    }
    if (first && (rc = baseline_sqlite_create(c->db)) != SQLITE_OK)
        goto fail;
    for (int i = 0; i < BSQ_N; i++)
        if ((rc = sqlite3_prepare_v3(c->db, bsq_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                     &c->st[i], NULL)) != SQLITE_OK)
            goto fail;
    return 0;
fail:
    snprintf(why, wl, "sqlite baseline %s: %s", path,
             c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    close_conn(c);
    return -1;
}

#define CONN(t, tid) (&((sqbase *)(t)->ctx)->c[tid])

static long sq_err(target *t, sqconn *c, const char *op)
{
    return target_fail(t, "%s: %s", op, sqlite3_errmsg(c->db));
}

/* Step a statement of no result and reset it (BEGIN, COMMIT). */
static int exec_st(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The next version of run i, read in the open write transaction:
 * max(stored or delete mark + 1, now), as every versioned backend does. */
static int next_version(sqconn *c, const char *run_id, int len, int64_t *version)
{
    sqlite3_stmt *s = c->st[BSQ_RUN_VERSION];
    sqlite3_bind_text(s, 1, run_id, len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int64_t base = sqlite3_column_type(s, 0) == SQLITE_NULL ? sqlite3_column_int64(s, 1)
                                                               : sqlite3_column_int64(s, 0);
        int64_t now = acp_time_now_us();
        *version = base + 1 > now ? base + 1 : now;
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

static long b_save_run(target *t, int tid, size_t i, int done)
{
    const w1 *w = t->w;
    sqconn *c = CONN(t, tid);
    sqlite3_stmt *s = c->st[BSQ_SAVE_RUN];
    int64_t version = 0;
    int vrc = exec_st(c->st[BSQ_BEGIN_WRITE]);
    if (vrc == SQLITE_OK)
        vrc = next_version(c, w->run_id[i], (int)w->run_id_len[i], &version);
    if (vrc != SQLITE_OK) {
        exec_st(c->st[BSQ_ROLLBACK]);
        return sq_err(t, c, "save_run");
    }
    const char *agent = w->agent_name[w->agent[i]], *sess = w->session_id[w->session[i]];
    sqlite3_bind_text(s, 1, w->run_id[i], (int)w->run_id_len[i], SQLITE_STATIC);
    sqlite3_bind_text(s, 2, agent, (int)strlen(agent), SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sess, (int)strlen(sess), SQLITE_STATIC);
    sqlite3_bind_text(s, 4, done ? "completed" : "in-progress", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, w->created_us[i]);
    if (done)
        sqlite3_bind_int64(s, 6, w->finished_us[i]);
    else
        sqlite3_bind_null(s, 6);
    sqlite3_bind_text(s, 7, done ? w->doc_done[i] : w->doc_new[i],
                      (int)(done ? w->doc_done_len[i] : w->doc_new_len[i]), SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, 0); /* a raw program keeps no checksum */
    sqlite3_bind_int64(s, 9, version);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        rc = exec_st(c->st[BSQ_COMMIT]);
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        exec_st(c->st[BSQ_ROLLBACK]);
        return sq_err(t, c, "save_run");
    }
    return 1;
}

/* Copy column col of the current row, as the API hands back a copy. */
static int copy_col(sqlite3_stmt *s, int col)
{
    const void *p = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    char *c = malloc((size_t)n + 1);
    if (!c || !p) {
        free(c);
        return -1;
    }
    memcpy(c, p, (size_t)n);
    c[n] = '\0';
    free(c);
    return 0;
}

static long get_one(target *t, int tid, int stmt, const char *id, const char *op)
{
    sqconn *c = CONN(t, tid);
    sqlite3_stmt *s = c->st[stmt];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    long r = rc == SQLITE_ROW && copy_col(s, 0) == 0 ? 1 : -1;
    if (r < 0)
        sq_err(t, c, op);
    sqlite3_reset(s);
    return r;
}

static long b_get_run(target *t, int tid, size_t i)
{
    return get_one(t, tid, BSQ_GET_RUN, t->w->run_id[i], "get_run");
}

static long b_add_event(target *t, int tid, size_t r, size_t k)
{
    const w1 *w = t->w;
    sqconn *c = CONN(t, tid);
    sqlite3_stmt *s = c->st[BSQ_ADD_EVENT];
    size_t d = w1_event_index(w, r, k);
    sqlite3_bind_text(s, 1, w->run_id[r], (int)w->run_id_len[r], SQLITE_STATIC);
    sqlite3_bind_text(s, 2, "message.part", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)acp_time_now_us());
    sqlite3_bind_text(s, 4, w->event_doc[d], (int)w->event_doc_len[d], SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, 0);
    int rc = sqlite3_step(s);
    sqlite3_int64 seq = 0;
    if (rc == SQLITE_ROW) {
        seq = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE || seq != (sqlite3_int64)k + 1)
        return sq_err(t, c, "add_event");
    return 1;
}

static long b_get_events(target *t, int tid, size_t r)
{
    sqconn *c = CONN(t, tid);
    sqlite3_stmt *s = c->st[BSQ_GET_EVENTS];
    long n = 0;
    sqlite3_bind_text(s, 1, t->w->run_id[r], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, 0);
    sqlite3_bind_int64(s, 3, 100);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        (void)sqlite3_column_int64(s, 0);
        (void)sqlite3_column_int64(s, 1);
        if (copy_col(s, 2) != 0)
            break;
        n++;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : sq_err(t, c, "get_events");
}

/* As the backend: the total from the counts table and the page from the
 * index, inside one read transaction when both are asked for. */
static long b_list_runs(target *t, int tid, long agent, long session, int64_t offset,
                        int64_t limit, int want_total)
{
    sqconn *c = CONN(t, tid);
    const char *an = agent >= 0 ? t->w->agent_name[agent] : NULL;
    const char *sn = session >= 0 ? t->w->session_id[session] : NULL;
    int filter = (an ? 1 : 0) | (sn ? 2 : 0);
    int both = want_total && limit > 0;
    long n = 0, total = 0;
    int rc = SQLITE_OK;
    if (both && exec_st(c->st[BSQ_BEGIN_READ]) != SQLITE_OK)
        return sq_err(t, c, "list_runs: begin");
    if (want_total) {
        sqlite3_stmt *s = c->st[BSQ_COUNT_RUNS];
        sqlite3_bind_int(s, 1, filter);
        sqlite3_bind_text(s, 2, an ? an : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, sn ? sn : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            total = (long)sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
        sqlite3_reset(s);
    }
    if (rc == SQLITE_OK && limit > 0) {
        sqlite3_stmt *s = c->st[BSQ_LIST_RUNS + filter];
        if (an)
            sqlite3_bind_text(s, 1, an, -1, SQLITE_STATIC);
        if (sn)
            sqlite3_bind_text(s, 2, sn, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, limit);
        sqlite3_bind_int64(s, 4, offset);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            (void)sqlite3_column_text(s, 0);
            (void)sqlite3_column_int64(s, 1);
            if (copy_col(s, 2) != 0)
                break;
            n++;
        }
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(s);
    }
    if (both)
        exec_st(c->st[rc == SQLITE_OK ? BSQ_COMMIT : BSQ_ROLLBACK]);
    return rc == SQLITE_OK ? n + (want_total ? total : 0) : sq_err(t, c, "list_runs");
}

static long b_save_session(target *t, int tid, size_t i)
{
    sqconn *c = CONN(t, tid);
    sqlite3_stmt *s = c->st[BSQ_SAVE_SESSION];
    const char *id = t->w->session_id[i];
    sqlite3_bind_text(s, 1, id, (int)strlen(id), SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->w->session_doc[i], (int)t->w->session_doc_len[i], SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, 0);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 1 : sq_err(t, c, "save_session");
}

static long b_get_session(target *t, int tid, size_t i)
{
    return get_one(t, tid, BSQ_GET_SESSION, t->w->session_id[i], "get_session");
}

static long b_delete_run(target *t, int tid, size_t i)
{
    sqconn *c = CONN(t, tid);
    long gone = 0;
    int rc = exec_st(c->st[BSQ_BEGIN_WRITE]);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *m = c->st[BSQ_MARK_DELETE];
        sqlite3_bind_text(m, 1, t->w->run_id[i], -1, SQLITE_STATIC);
        rc = exec_st(m);
    }
    for (int k = BSQ_DELETE_RUN; rc == SQLITE_OK && k <= BSQ_DELETE_EVENTS; k++) {
        sqlite3_stmt *s = c->st[k];
        sqlite3_bind_text(s, 1, t->w->run_id[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            gone += sqlite3_changes(c->db);
        }
        sqlite3_reset(s);
    }
    if (rc == SQLITE_OK)
        rc = exec_st(c->st[BSQ_COMMIT]);
    if (rc != SQLITE_OK) {
        exec_st(c->st[BSQ_ROLLBACK]);
        return sq_err(t, c, "delete_run");
    }
    return gone > 0 ? 1 : target_fail(t, "delete_run %s: nothing deleted", t->w->run_id[i]);
}

static void b_close(target *t)
{
    sqbase *b = t->ctx;
    for (int i = 0; i < b->n; i++)
        close_conn(&b->c[i]);
    free(b);
    t->ctx = NULL;
}

int baseline_sqlite_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl)
{
    char path[4200];
    memset(t, 0, sizeof *t);
    sqbase *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, wl, "out of memory");
        return -1;
    }
    snprintf(path, sizeof path, "%s/base.db", a->dir);
    int n = a->threads < 1 ? 1 : a->threads;
    for (int i = 0; i < n; i++) {
        if (open_conn(&b->c[i], path, a->store_uri, i == 0, why, wl) != 0) {
            b->n = i;
            t->ctx = b;
            b_close(t);
            return -1;
        }
    }
    b->n = n;
    char v[64];
    snprintf(t->name, sizeof t->name, "sqlite (raw)");
    snprintf(t->detail, sizeof t->detail,
             "SQLite %s, the backend's schema v2, own statements, WAL, synchronous=%s, "
             "busy_timeout=%s, one connection per thread",
             sqlite3_libversion(),
             uri_opt(a->store_uri, "synchronous", v, sizeof v) ? v : "normal",
             uri_opt(a->store_uri, "busy_timeout", v, sizeof v) ? v : "5000");
    t->w = w;
    t->threads = n;
    t->ctx = b;
    t->save_run = b_save_run;
    t->get_run = b_get_run;
    t->add_event = b_add_event;
    t->get_events = b_get_events;
    t->list_runs = b_list_runs;
    t->save_session = b_save_session;
    t->get_session = b_get_session;
    t->delete_run = b_delete_run;
    t->close = b_close;
    return 0;
}
