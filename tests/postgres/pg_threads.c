/*
 * pg_threads.c - many threads on one postgres store handle with a pool
 * smaller than the number of threads, first with exact bookkeeping, then
 * while the server ends the store's sessions again and again
 * (pg_terminate_backend), which drives the pool's reconnect paths.  A plain
 * C program (no Criterion) so that it also runs under ThreadSanitizer.
 *
 *   ACP_PG_URI=postgres://... pg_threads [threads] [ops-per-thread]
 *
 * Exits 0 when every count is exact, 1 with the reasons on stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "acp_storage.h"

#define MAX_THREADS 32
#define RUNS 20

static acp_store *store;
static const char *base_uri;
static char schema[64], app[64];
static int ops = 200;
static atomic_int failures;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *seen;
static long seen_cap;
static atomic_int stop_kills, kills_over;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "pg_threads: " __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                                       \
        atomic_fetch_add(&failures, 1);                                                            \
    } while (0)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void record_seq(int64_t seq)
{
    pthread_mutex_lock(&seen_lock);
    if (seq < 1 || seq >= seen_cap)
        FAIL("add_event returned sequence %" PRId64 " (out of range)", seq);
    else if (seen[seq]++)
        FAIL("sequence %" PRId64 " returned twice", seq);
    pthread_mutex_unlock(&seen_lock);
}

typedef struct worker {
    int id;
    unsigned rng;
    int live[RUNS];
    int ok, unavailable, ok_late;
} worker;

static unsigned next(worker *w)
{
    w->rng = w->rng * 1103515245u + 12345u;
    return w->rng >> 8;
}

static int save(worker *w, int r, acp_error *e)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"t%d/r%d\",\"agent_name\":\"agent-%d\",\"session_id\":\"s-%d\","
             "\"status\":\"created\",\"output\":[]}",
             w->id, r, w->id, w->id);
    return acp_run_save(store, doc, ACP_STRLEN, e);
}

/* Phase 1: every answer is known exactly. */
static void *exact(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < ops; i++) {
        int r = (int)(next(w) % RUNS);
        char id[32], *json;
        snprintf(id, sizeof id, "t%d/r%d", w->id, r);
        acp_error e;
        acp_status st;
        switch (next(w) % 6) {
        case 0:
            if (save(w, r, &e) != ACP_OK)
                FAIL("save %s: %s", id, e.message);
            w->live[r] = 1;
            break;
        case 1:
            st = acp_run_get(store, id, &json, NULL, &e);
            if (st != (w->live[r] ? ACP_OK : ACP_NOT_FOUND))
                FAIL("get %s: %s (%s)", id, acp_status_name(st), e.message);
            if (st == ACP_OK)
                acp_free(json);
            break;
        case 2:
            st = acp_run_delete(store, id, &e);
            if (st != (w->live[r] ? ACP_OK : ACP_NOT_FOUND))
                FAIL("delete %s: %s (%s)", id, acp_status_name(st), e.message);
            w->live[r] = 0;
            break;
        case 3: {
            int64_t seq;
            if (acp_event_add(store, "shared", "{\"type\":\"generic\"}", ACP_STRLEN, &seq, &e) !=
                ACP_OK)
                FAIL("add_event: %s", e.message);
            else
                record_seq(seq);
            break;
        }
        case 4: {
            acp_run_filter f = ACP_RUN_FILTER_INIT;
            char agent[32];
            snprintf(agent, sizeof agent, "agent-%d", w->id);
            f.agent_name = agent;
            f.limit = 0;
            f.want_total = 1;
            acp_page *p;
            int want = 0;
            for (int k = 0; k < RUNS; k++)
                want += w->live[k];
            if (acp_run_list(store, &f, &p, &e) != ACP_OK) {
                FAIL("list: %s", e.message);
                break;
            }
            if (acp_page_total(p) != want)
                FAIL("list agent-%d: total %" PRId64 ", want %d", w->id, acp_page_total(p), want);
            acp_page_free(p);
            break;
        }
        default: {
            char doc[128], sid[16];
            snprintf(sid, sizeof sid, "s-%d", w->id);
            snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"history\":[],\"state\":%d}", sid, i);
            if (acp_session_save(store, doc, ACP_STRLEN, &e) != ACP_OK) {
                FAIL("save session %s: %s", sid, e.message);
            } else if (acp_session_get(store, sid, &json, NULL, &e) != ACP_OK) {
                FAIL("get session %s: %s", sid, e.message);
            } else {
                if (strcmp(json, doc) != 0)
                    FAIL("session %s: read %s after writing %s", sid, json, doc);
                acp_free(json);
            }
            break;
        }
        }
    }
    return NULL;
}

/* Phase 2: sessions are ended under the threads' feet. */
static void *churn(void *arg)
{
    worker *w = arg;
    char id[32];
    snprintf(id, sizeof id, "t%d/r0", w->id);
    for (int i = 0; i < 10000000; i++) {
        int late = atomic_load(&kills_over);
        if (late && w->ok_late >= 20)
            break;
        acp_error e;
        int64_t seq;
        acp_status st;
        char *json;
        if (i % 2)
            st = acp_event_add(store, "churn", "{\"type\":\"generic\"}", ACP_STRLEN, &seq, &e);
        else if ((st = save(w, 0, &e)) == ACP_OK &&
                 (st = acp_run_get(store, id, &json, NULL, &e)) == ACP_OK)
            acp_free(json);
        if (st == ACP_OK) {
            w->ok++;
            if (late)
                w->ok_late++;
        } else if (st == ACP_UNAVAILABLE && !late) {
            w->unavailable++;
        } else {
            FAIL("%s during %s: %s", acp_status_name(st), late ? "the calm after" : "the kills",
                 e.message);
            if (late)
                break;
        }
    }
    return NULL;
}

static PGconn *admin(void)
{
    PGconn *c = PQconnectdb(base_uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_threads: admin connection: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static void *killer(void *arg)
{
    (void)arg;
    PGconn *c = admin();
    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s'", app);
    int killed = 0;
    while (!atomic_load(&stop_kills)) {
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            killed += atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        sleep_ms(60);
    }
    PQfinish(c);
    if (killed == 0)
        FAIL("the server ended no session of the store: the test did not test anything");
    return NULL;
}

static long sql_long(PGconn *c, const char *fmt, const char *arg)
{
    char q[256];
    snprintf(q, sizeof q, fmt, schema, arg);
    PGresult *r = PQexec(c, q);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

static void start_threads(pthread_t *t, worker *w, int n, void *(*fn)(void *))
{
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].rng = 12345u + (unsigned)i * 7919u;
        if (pthread_create(&t[i], NULL, fn, &w[i]) != 0) {
            fprintf(stderr, "pg_threads: pthread_create failed\n");
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 12;
    ops = argc > 2 ? atoi(argv[2]) : 200;
    base_uri = getenv("ACP_PG_URI");
    if (!base_uri || threads < 1 || threads > MAX_THREADS || ops < 1) {
        fprintf(stderr, "usage: ACP_PG_URI=postgres://... pg_threads [threads 1..%d] [ops]\n",
                MAX_THREADS);
        return 2;
    }
    snprintf(schema, sizeof schema, "tpg_threads_%d", (int)getpid());
    snprintf(app, sizeof app, "pg_threads_%d", (int)getpid());
    char uri[512];
    snprintf(uri, sizeof uri, "%s?schema=%s&pool_size=4&application_name=%s", base_uri, schema,
             app);
    acp_error e;
    if (acp_store_open(uri, &store, &e) != ACP_OK) {
        fprintf(stderr, "pg_threads: open: %s\n", e.message);
        return 1;
    }
    seen_cap = (long)threads * ops + 2;
    seen = calloc((size_t)seen_cap, 1);

    pthread_t t[MAX_THREADS];
    worker w[MAX_THREADS];
    start_threads(t, w, threads, exact);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    long added = 0;
    for (long s = 1; s < seen_cap; s++)
        added += seen[s];
    for (long s = 1; s <= added; s++)
        if (!seen[s])
            FAIL("sequence %ld is missing (%ld events)", s, added);

    pthread_t k;
    pthread_create(&k, NULL, killer, NULL);
    start_threads(t, w, threads, churn);
    sleep_ms(1500);
    atomic_store(&stop_kills, 1);
    pthread_join(k, NULL);
    atomic_store(&kills_over, 1);
    int ok = 0, unavailable = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        unavailable += w[i].unavailable;
        if (w[i].ok_late < 20)
            FAIL("thread %d did not recover after the kills", i);
    }
    PGconn *c = admin();
    long n = sql_long(c, "SELECT count(*) FROM %s.events WHERE run_id = '%s'", "churn");
    long max = sql_long(c, "SELECT coalesce(max(seq), 0) FROM %s.events WHERE run_id = '%s'",
                        "churn");
    if (n != max)
        FAIL("%ld events of run churn, highest sequence %ld: a gap", n, max);
    long shared = sql_long(c, "SELECT count(*) FROM %s.events WHERE run_id = '%s'", "shared");
    if (shared != added)
        FAIL("%ld events of run shared stored, %ld reported", shared, added);
    char q[128];
    snprintf(q, sizeof q, "DROP SCHEMA %s CASCADE", schema);
    PQclear(PQexec(c, q));
    PQfinish(c);
    acp_store_close(store);
    free(seen);
    int f = atomic_load(&failures);
    printf("pg_threads: %d threads, %ld appends exact; under kills %d calls OK, %d UNAVAILABLE; "
           "%d failures\n", threads, added, ok, unavailable, f);
    return f ? 1 : 0;
}
