/* SPDX-License-Identifier: MIT */
/*
 * pg_batch.c - work on many items in one statement: batched and restoring
 * writes (save_runs, add_events: binary arrays unnested in one transaction)
 * and the events of many runs in one query (get_events_of_runs, for copy).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* ---- batched and restoring writes: one transaction per call ---- */

/* Run statement text sql (BEGIN, COMMIT) on r. */
static acp_status exec_text(pg_req *r, const char *sql)
{
    PGresult *res;
    acp_status st = pg_exec_sql(r, sql, &res);
    if (st == ACP_OK)
        PQclear(res);
    return st;
}

#define PG_OID_INT8 20u
#define PG_OID_TEXT 25u

/* A one-dimensional array in PostgreSQL's binary format, built up. */
typedef struct pg_arr {
    char *p;
    size_t len, cap;
    int failed;
} pg_arr;

static void arr_put(pg_arr *a, const void *data, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n)
            cap *= 2;
        char *p = realloc(a->p, cap);
        if (!p) {
            a->failed = 1;
            return;
        }
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->len, data, n);
    a->len += n;
}

static void arr_i32(pg_arr *a, uint32_t v)
{
    char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    arr_put(a, b, 4);
}

/* Header: one dimension of n elements of type oid, from 1; nulls: some
 * element is NULL. */
static void arr_begin_nulls(pg_arr *a, uint32_t oid, size_t n, int nulls)
{
    arr_i32(a, 1);
    arr_i32(a, nulls != 0);
    arr_i32(a, oid);
    arr_i32(a, (uint32_t)n);
    arr_i32(a, 1);
}

static void arr_begin(pg_arr *a, uint32_t oid, size_t n)
{
    arr_begin_nulls(a, oid, n, 0);
}

/* One element; v NULL: SQL NULL. */
static void arr_elem(pg_arr *a, const char *v, size_t n)
{
    arr_i32(a, v ? (uint32_t)n : UINT32_MAX);
    if (v)
        arr_put(a, v, n);
}

/* Run statement stmt with the k arrays as parameters inside a savepoint,
 * keeping its work only when keep(res, n, arg) says so (*kept). */
static acp_status exec_arrays(pg_req *r, int stmt, pg_arr *a, int k, size_t n,
                              int (*keep)(PGresult *res, size_t n, int64_t arg), int64_t arg,
                              int *kept)
{
    acp_status st = ACP_OK;
    const char *v[8];
    int l[8];
    *kept = 0;
    for (int i = 0; i < k; i++) {
        if (a[i].failed || a[i].len > INT_MAX)
            st = pg_fail(r, ACP_NOMEM, "out of memory writing %zu items", n);
        v[i] = a[i].p;
        l[i] = (int)a[i].len;
    }
    PGresult *res = NULL;
    if (st == ACP_OK)
        st = exec_text(r, "SAVEPOINT acp_batch");
    if (st == ACP_OK)
        st = pg_exec(r, stmt, k, v, l, &res);
    if (st == ACP_OK) {
        *kept = keep(res, n, arg);
        PQclear(res);
        st = exec_text(r, *kept ? "RELEASE SAVEPOINT acp_batch"
                                : "ROLLBACK TO SAVEPOINT acp_batch");
    }
    for (int i = 0; i < k; i++)
        free(a[i].p);
    return st;
}

static int all_runs_new(PGresult *res, size_t n, int64_t unused)
{
    (void)unused;
    const char *rows = PQcmdTuples(res);
    return rows && strtoull(rows, NULL, 10) == n;
}

/* Insert-only runs in one statement; *done = 0 when one existed (the
 * savepoint is rolled back: the caller goes run by run). */
static acp_status insert_runs_fast(pg_req *r, const acp_run_record *runs, size_t n,
                                   acp_status *results, int *done)
{
    int nulls_s = 0, nulls_f = 0;
    for (size_t i = 0; i < n; i++) {
        nulls_s |= runs[i].session_id == NULL;
        nulls_f |= runs[i].finished_us == ACP_NO_TIME;
    }
    pg_arr a[7] = {{0}};
    static const uint32_t oid[7] = {PG_OID_TEXT, PG_OID_TEXT, PG_OID_TEXT, PG_OID_TEXT,
                                    PG_OID_INT8, PG_OID_INT8, PG_OID_TEXT};
    for (int k = 0; k < 7; k++)
        arr_begin_nulls(&a[k], oid[k], n, (k == 2 && nulls_s) || (k == 5 && nulls_f));
    for (size_t i = 0; i < n; i++) {
        const acp_run_record *run = &runs[i];
        char created[8], finished[8];
        pg_put_i64(created, run->created_us);
        pg_put_i64(finished, run->finished_us);
        arr_elem(&a[0], run->run_id, run->run_id_len);
        arr_elem(&a[1], run->agent_name, run->agent_name_len);
        arr_elem(&a[2], run->session_id, run->session_id_len);
        arr_elem(&a[3], run->status, strlen(run->status));
        arr_elem(&a[4], created, 8);
        arr_elem(&a[5], run->finished_us == ACP_NO_TIME ? NULL : finished, 8);
        arr_elem(&a[6], run->doc, run->doc_len);
    }
    acp_status st = exec_arrays(r, PG_INSERT_RUNS, a, 7, n, all_runs_new, 0, done);
    for (size_t i = 0; *done && i < n; i++)
        results[i] = ACP_OK;
    return st;
}

static int all_events_stored(PGresult *res, size_t n, int64_t groups)
{
    return PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8 && PQgetlength(res, 0, 1) == 8 &&
           PQgetlength(res, 0, 2) == 8 && pg_get_i64(PQgetvalue(res, 0, 0)) == groups &&
           pg_get_i64(PQgetvalue(res, 0, 1)) == groups &&
           pg_get_i64(PQgetvalue(res, 0, 2)) == (int64_t)n;
}

/* Restore a batch whose runs each come in one row of consecutive
 * sequences with one statement (PG_RESTORE_EVENTS) inside a savepoint.
 * *done = 1 when every run was accepted; else the savepoint is rolled back
 * and the caller goes event by event, which decides each one. */
static acp_status restore_fast(pg_req *r, const acp_event_record *evs, size_t n,
                               const int64_t *seqs, acp_status *results, int *done)
{
    *done = 0;
    int64_t groups = 0;
    for (size_t i = 0; i < n; i++) {
        int same = i && evs[i].run_id_len == evs[i - 1].run_id_len &&
                   memcmp(evs[i].run_id, evs[i - 1].run_id, evs[i].run_id_len) == 0;
        if (same && seqs[i] != seqs[i - 1] + 1)
            return ACP_OK; /* not in a row: event by event */
        groups += !same;
    }
    pg_arr a[5] = {{0}};
    arr_begin(&a[0], PG_OID_TEXT, n);
    arr_begin(&a[1], PG_OID_INT8, n);
    arr_begin(&a[2], PG_OID_INT8, n);
    arr_begin(&a[3], PG_OID_TEXT, n);
    arr_begin(&a[4], PG_OID_TEXT, n);
    for (size_t i = 0; i < n; i++) {
        char seq[8], stored[8];
        pg_put_i64(seq, seqs[i]);
        pg_put_i64(stored, evs[i].stored_us);
        arr_elem(&a[0], evs[i].run_id, evs[i].run_id_len);
        arr_elem(&a[1], seq, 8);
        arr_elem(&a[2], stored, 8);
        arr_elem(&a[3], evs[i].type, strlen(evs[i].type));
        arr_elem(&a[4], evs[i].doc, evs[i].doc_len);
    }
    acp_status st = exec_arrays(r, PG_RESTORE_EVENTS, a, 5, n, all_events_stored, groups, done);
    for (size_t i = 0; *done && i < n; i++)
        results[i] = ACP_OK;
    return st;
}

acp_status pg_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
                        uint32_t flags, acp_status *results, acp_call *call)
{
    int insert_only = (flags & ACP_BATCH_INSERT_ONLY) != 0;
    pg_req r;
    pg_req_init(&r, b, call, "save_runs", "run", n ? runs[0].run_id : "", 0);
    acp_status st = exec_text(&r, "BEGIN");
    int done = 0;
    if (st == ACP_OK && insert_only && n > 1)
        st = insert_runs_fast(&r, runs, n, results, &done);
    for (size_t i = 0; st == ACP_OK && !done && i < n; i++) {
        int ok = 0;
        int64_t version = 0;
        r.id = runs[i].run_id;
        st = pg_exec_save(&r, &runs[i], insert_only ? ACP_RUN_IF_ABSENT : 0, &ok, &version);
        results[i] = ok ? ACP_OK : ACP_CONFLICT;
    }
    if (st == ACP_OK)
        st = exec_text(&r, "COMMIT");
    pg_req_done(&r); /* a connection left inside a transaction is dropped */
    return st;
}

acp_status pg_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                         uint32_t flags, int64_t *seqs, acp_status *results,
                         acp_call *call)
{
    int restore = (flags & ACP_BATCH_RESTORE) != 0, done = 0;
    pg_req r;
    pg_req_init(&r, b, call, "add_events", "run", n ? evs[0].run_id : "", 0);
    acp_status st = exec_text(&r, "BEGIN");
    if (st == ACP_OK && restore && n > 1)
        st = restore_fast(&r, evs, n, seqs, results, &done);
    for (size_t i = 0; st == ACP_OK && !done && i < n; i++) {
        const acp_event_record *ev = &evs[i];
        char stored[8], seq[8];
        pg_put_i64(stored, ev->stored_us);
        pg_put_i64(seq, seqs[i]);
        const char *v[5] = {ev->run_id, ev->type, stored, ev->doc, seq};
        int l[5] = {(int)ev->run_id_len, (int)strlen(ev->type), 8, (int)ev->doc_len, 8};
        PGresult *res;
        r.id = ev->run_id;
        st = pg_exec(&r, restore ? PG_RESTORE_EVENT : PG_ADD_EVENT, restore ? 5 : 4, v, l, &res);
        if (st != ACP_OK)
            break;
        int rows = PQntuples(res);
        if (rows == 1 && PQgetlength(res, 0, 0) == 8)
            seqs[i] = pg_get_i64(PQgetvalue(res, 0, 0));
        else if (rows != 0 || !restore)
            st = pg_fail(&r, ACP_IO, "the event's sequence came back malformed");
        results[i] = rows ? ACP_OK : ACP_CONFLICT;
        PQclear(res);
    }
    if (st == ACP_OK)
        st = exec_text(&r, "COMMIT");
    pg_req_done(&r);
    return st;
}

/* ---- events of many runs (copy) ---- */

/* One statement over an array of the run ids (PG_GET_EVENTS_OF_RUNS). */
acp_status pg_get_events_of_runs(acp_backend *b, const char *const *run_ids, size_t n,
                                 int64_t after_seq, int64_t limit, acp_call *call)
{
    pg_req r;
    pg_req_init(&r, b, call, "get_events_of_runs", "run", run_ids[0], 1);
    pg_arr ids = {0};
    arr_begin(&ids, PG_OID_TEXT, n);
    for (size_t i = 0; i < n; i++)
        arr_elem(&ids, run_ids[i], strlen(run_ids[i]));
    char after[8], lim[8];
    pg_put_i64(after, after_seq);
    pg_put_i64(lim, limit);
    acp_status st = ACP_OK;
    if (ids.failed || ids.len > INT_MAX)
        st = pg_fail(&r, ACP_NOMEM, "out of memory listing the events of %zu runs", n);
    const char *v[3] = {ids.p, after, lim};
    int l[3] = {(int)ids.len, 8, 8};
    PGresult *res;
    if (st == ACP_OK && (st = pg_exec(&r, PG_GET_EVENTS_OF_RUNS, 3, v, l, &res)) == ACP_OK) {
        int rows = PQntuples(res);
        for (int i = 0; i < rows && st == ACP_OK; i++)
            st = pg_emit_row(&r, res, i, 3, PQgetvalue(res, i, 0), -1, 1, 2, -1);
        PQclear(res);
    }
    free(ids.p);
    pg_req_done(&r);
    return st;
}
