/* SPDX-License-Identifier: MIT */
/*
 * baseline_postgres.c - the raw PostgreSQL baseline: the postgres
 * backend's schema (with the triggers that keep its run counters, so an
 * insert pays for them on both sides) with statements of its own
 * (baseline_postgres_sql.h; bench_postgres_schema checks that the schemas
 * stay alike), prepared
 * once per connection and run with PQexecPrepared, binary parameters and
 * results, one connection per thread, and the session settings the
 * backend makes (statement_timeout, client_connection_check_interval).
 * It lives in a schema of its own on the store's server.  Built only when
 * libpq is found (ACP_BENCH_HAVE_PQ).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef ACP_BENCH_HAVE_PQ

#include <libpq-fe.h>

#include "baseline_postgres_sql.h"

typedef struct pgbase {
    int n;
    PGconn *c[BENCH_MAX_THREADS];
    char qschema[128];
} pgbase;

/* The store URI without the backend's own options: what libpq gets. */
static char *conninfo(const char *uri)
{
    static const char *const own[] = {"schema", "pool_size", "statement_timeout"};
    char *out = malloc(strlen(uri) + 1), *o = out;
    if (!out)
        return NULL;
    const char *q = strchr(uri, '?');
    size_t head = q ? (size_t)(q - uri) : strlen(uri);
    memcpy(o, uri, head);
    o += head;
    char sep = '?';
    /* postgres:// and postgresql:// are both libpq URIs; a +variant is not. */
    while (q && *q) {
        const char *item = q + 1, *end = item + strcspn(item, "&");
        int skip = 0;
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) {
            size_t kl = strlen(own[k]);
            if (strncmp(item, own[k], kl) == 0 && item[kl] == '=')
                skip = 1;
        }
        if (!skip && end > item) {
            *o++ = sep;
            sep = '&';
            memcpy(o, item, (size_t)(end - item));
            o += end - item;
        }
        q = *end ? end : NULL;
    }
    *o = '\0';
    return out;
}

/* Server notices ("drop cascades to ...") are not for the terminal. */
static void no_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_to(const char *uri, char *why, size_t wl)
{
    char *ci = conninfo(uri);
    PGconn *c = ci ? PQconnectdb(ci) : NULL;
    free(ci);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(why, wl, "postgres baseline: cannot connect: %s",
                 c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, no_notice, NULL);
    return c;
}

static int run_sql(PGconn *c, const char *sql, char *why, size_t wl)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(why, wl, "postgres baseline: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static const int binary[8] = {1, 1, 1, 1, 1, 1, 1, 1};

static void put_i64(char out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = (char)(u & 0xff);
}

static int64_t get_i64(const char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | (unsigned char)p[i];
    return (int64_t)u;
}

#define CONN(t, tid) (((pgbase *)(t)->ctx)->c[tid])

/* Run prepared statement stmt; on success the result (to PQclear). */
static PGresult *exec_st(target *t, int tid, int stmt, int n, const char *const *v,
                         const int *l)
{
    char name[16];
    snprintf(name, sizeof name, "b%d", stmt);
    PGresult *r = PQexecPrepared(CONN(t, tid), name, n, v, l, binary, 1);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        target_fail(t, "statement %d: %s", stmt, PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Copy a value out, as the API hands back a copy. */
static void copy_value(const PGresult *r, int row, int col)
{
    int n = PQgetlength(r, row, col);
    char *c = malloc((size_t)n + 1);
    if (c) {
        memcpy(c, PQgetvalue(r, row, col), (size_t)n);
        c[n] = '\0';
    }
    free(c);
}

static long p_save_run(target *t, int tid, size_t i, int done)
{
    const w1 *w = t->w;
    char created[8], finished[8];
    put_i64(created, w->created_us[i]);
    put_i64(finished, w->finished_us[i]);
    const char *agent = w->agent_name[w->agent[i]], *sess = w->session_id[w->session[i]];
    const char *status = done ? "completed" : "in-progress";
    const char *v[7] = {w->run_id[i], agent, sess, status, created, done ? finished : NULL,
                        done ? w->doc_done[i] : w->doc_new[i]};
    int l[7] = {(int)w->run_id_len[i], (int)strlen(agent), (int)strlen(sess),
                (int)strlen(status), 8, 8, (int)(done ? w->doc_done_len[i] : w->doc_new_len[i])};
    PGresult *r = exec_st(t, tid, BPG_SAVE_RUN, 7, v, l);
    PQclear(r);
    return r ? 1 : -1;
}

static long get_one(target *t, int tid, int stmt, const char *id)
{
    const char *v[1] = {id};
    int l[1] = {(int)strlen(id)};
    PGresult *r = exec_st(t, tid, stmt, 1, v, l);
    if (!r)
        return -1;
    long n = PQntuples(r);
    if (n == 1)
        copy_value(r, 0, 0);
    PQclear(r);
    return n == 1 ? 1 : target_fail(t, "%s: not found", id);
}

static long p_get_run(target *t, int tid, size_t i)
{
    return get_one(t, tid, BPG_GET_RUN, t->w->run_id[i]);
}

static long p_add_event(target *t, int tid, size_t r, size_t k)
{
    const w1 *w = t->w;
    size_t d = w1_event_index(w, r, k);
    char stored[8];
    put_i64(stored, acp_time_now_us());
    const char *v[4] = {w->run_id[r], "message.part", stored, w->event_doc[d]};
    int l[4] = {(int)w->run_id_len[r], 12, 8, (int)w->event_doc_len[d]};
    PGresult *res = exec_st(t, tid, BPG_ADD_EVENT, 4, v, l);
    if (!res)
        return -1;
    int ok = PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8 &&
             get_i64(PQgetvalue(res, 0, 0)) == (int64_t)k + 1;
    PQclear(res);
    return ok ? 1 : target_fail(t, "add_event %s: wrong sequence", w->run_id[r]);
}

static long p_get_events(target *t, int tid, size_t r)
{
    char after[8], off[8], lim[8];
    put_i64(after, 0);
    put_i64(off, 0);
    put_i64(lim, 100);
    const char *v[4] = {t->w->run_id[r], after, off, lim};
    int l[4] = {(int)t->w->run_id_len[r], 8, 8, 8};
    PGresult *res = exec_st(t, tid, BPG_GET_EVENTS, 4, v, l);
    if (!res)
        return -1;
    long n = PQntuples(res);
    for (long i = 0; i < n; i++) {
        (void)get_i64(PQgetvalue(res, (int)i, 0));
        (void)get_i64(PQgetvalue(res, (int)i, 1));
        copy_value(res, (int)i, 2);
    }
    PQclear(res);
    return n;
}

/* As the backend: a count, then the page. */
static long p_list_runs(target *t, int tid, long agent, long session, int64_t offset,
                        int64_t limit, int want_total)
{
    const char *v[6];
    int l[6], n = 0, which = (agent >= 0 ? 1 : 0) | (session >= 0 ? 2 : 0);
    long total = 0, got = 0;
    char off[8], lim[8];
    if (agent >= 0) {
        v[n] = t->w->agent_name[agent];
        l[n] = (int)strlen(v[n]);
        n++;
    }
    if (session >= 0) {
        v[n] = t->w->session_id[session];
        l[n] = (int)strlen(v[n]);
        n++;
    }
    if (want_total) {
        PGresult *r = exec_st(t, tid, BPG_COUNT_RUNS + which, n, v, l);
        if (!r)
            return -1;
        total = (long)get_i64(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (limit > 0) {
        put_i64(off, offset);
        put_i64(lim, limit);
        v[n] = off;
        l[n++] = 8;
        v[n] = lim;
        l[n++] = 8;
        PGresult *r = exec_st(t, tid, BPG_LIST_RUNS + which, n, v, l);
        if (!r)
            return -1;
        got = PQntuples(r);
        for (long i = 0; i < got; i++) {
            (void)get_i64(PQgetvalue(r, (int)i, 1));
            copy_value(r, (int)i, 2);
        }
        PQclear(r);
    }
    return got + (want_total ? total : 0);
}

static long p_save_session(target *t, int tid, size_t s)
{
    const char *v[2] = {t->w->session_id[s], t->w->session_doc[s]};
    int l[2] = {(int)strlen(v[0]), (int)t->w->session_doc_len[s]};
    PGresult *r = exec_st(t, tid, BPG_SAVE_SESSION, 2, v, l);
    PQclear(r);
    return r ? 1 : -1;
}

static long p_get_session(target *t, int tid, size_t s)
{
    return get_one(t, tid, BPG_GET_SESSION, t->w->session_id[s]);
}

static long p_delete_run(target *t, int tid, size_t i)
{
    const char *v[1] = {t->w->run_id[i]};
    int l[1] = {(int)t->w->run_id_len[i]};
    char why[256];
    long rows = 0;
    if (run_sql(CONN(t, tid), "BEGIN", why, sizeof why) != 0)
        return target_fail(t, "%s", why);
    PGresult *r = exec_st(t, tid, BPG_LOCK_RUN, 1, v, l);
    if (r) {
        PQclear(r);
        r = exec_st(t, tid, BPG_DELETE_SEQ, 1, v, l);
    }
    if (r) {
        rows += PQntuples(r);
        PQclear(r);
        r = exec_st(t, tid, BPG_DELETE_RUN, 1, v, l);
    }
    if (r) {
        rows += PQntuples(r);
        PQclear(r);
    }
    if (run_sql(CONN(t, tid), r ? "COMMIT" : "ROLLBACK", why, sizeof why) != 0 || !r)
        return target_fail(t, "delete_run: %s", why);
    return rows > 0 ? 1 : target_fail(t, "delete_run %s: nothing deleted", v[0]);
}

static void p_close(target *t)
{
    pgbase *b = t->ctx;
    if (b && b->n > 0) {
        char sql[200], why[256];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", b->qschema);
        run_sql(b->c[0], sql, why, sizeof why);
    }
    for (int i = 0; b && i < b->n; i++)
        PQfinish(b->c[i]);
    free(b);
    t->ctx = NULL;
}

int baseline_postgres_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl)
{
    memset(t, 0, sizeof *t);
    pgbase *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, wl, "out of memory");
        return -1;
    }
    t->ctx = b;
    snprintf(b->qschema, sizeof b->qschema, "\"acpbase_%s\"", a->unique);
    int n = a->threads < 1 ? 1 : a->threads;
    for (int i = 0; i < n; i++) {
        if (!(b->c[i] = connect_to(a->store_uri, why, wl))) {
            p_close(t);
            return -1;
        }
        b->n = i + 1;
        /* The session settings the backend makes on each connection, and
         * the baseline's schema first on the search_path. */
        char setup[300];
        snprintf(setup, sizeof setup, "SET statement_timeout = 30000;%sSET search_path = %s",
                 PQserverVersion(b->c[i]) >= 140000 ? "SET client_connection_check_interval = 1000;"
                                                    : "",
                 b->qschema);
        if ((i == 0 && baseline_postgres_create(b->c[0], b->qschema, why, wl) != 0) ||
            run_sql(b->c[i], setup, why, wl) != 0) {
            p_close(t);
            return -1;
        }
        for (int s = 0; s < BPG_N_STATEMENTS; s++) {
            char name[16];
            snprintf(name, sizeof name, "b%d", s);
            PGresult *r = PQprepare(b->c[i], name, bpg_sql[s], 0, NULL);
            int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok)
                snprintf(why, wl, "postgres baseline: prepare %d: %s", s,
                         r ? PQresultErrorMessage(r) : "out of memory");
            PQclear(r);
            if (!ok) {
                p_close(t);
                return -1;
            }
        }
    }
    snprintf(t->name, sizeof t->name, "postgres (raw)");
    snprintf(t->detail, sizeof t->detail,
             "libpq %d, the backend's schema, own statements, PQexecPrepared with binary "
             "parameters, one connection per thread, server %d",
             PQlibVersion(), PQserverVersion(b->c[0]));
    t->w = w;
    t->threads = n;
    t->save_run = p_save_run;
    t->get_run = p_get_run;
    t->add_event = p_add_event;
    t->get_events = p_get_events;
    t->list_runs = p_list_runs;
    t->save_session = p_save_session;
    t->get_session = p_get_session;
    t->delete_run = p_delete_run;
    t->close = p_close;
    return 0;
}

void baseline_postgres_drop_schema(const char *store_uri, const char *schema)
{
    char why[256], sql[300];
    PGconn *c = connect_to(store_uri, why, sizeof why);
    if (!c)
        return;
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
    run_sql(c, sql, why, sizeof why);
    PQfinish(c);
}

int baseline_postgres_built(void)
{
    return 1;
}

#else /* !ACP_BENCH_HAVE_PQ */

int baseline_postgres_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl)
{
    (void)t;
    (void)w;
    (void)a;
    snprintf(why, wl, "this acp-storage-bench was built without libpq");
    return 1;
}

void baseline_postgres_drop_schema(const char *store_uri, const char *schema)
{
    (void)store_uri;
    (void)schema;
}

int baseline_postgres_built(void)
{
    return 0;
}

#endif
