/* SPDX-License-Identifier: MIT */
/*
 * pg_threads.c - many threads on one postgres store handle with a pool
 * smaller than the number of threads, first with exact bookkeeping, then
 * saving, moving and deleting runs of a few shared agents and sessions
 * (every thread updates the same counter rows: the totals must come out
 * exact and no save may fail), then while the server ends the store's
 * sessions again and again (pg_terminate_backend), which drives the pool's
 * reconnect paths.  A plain C program (no Criterion) so that it also runs
 * under ThreadSanitizer.
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
/* The counting phase: runs per thread, shared agents and sessions. */
#define CRUNS 16
#define CAGENTS 3
#define CSESSIONS 3

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
    /* counting phase: agent of each run (-1: none stored), session (-1: none) */
    int agent[CRUNS], session[CRUNS];
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

/* Phase 2: every thread saves, moves and deletes runs of its own among
 * the same few agents and sessions, so all of them update the same
 * counter rows.  Each knows where its runs are; main() adds them up. */
static void *counting(void *arg)
{
    worker *w = arg;
    for (int k = 0; k < CRUNS; k++)
        w->agent[k] = w->session[k] = -1;
    for (int i = 0; i < ops; i++) {
        int k = (int)(next(w) % CRUNS), what = (int)(next(w) % 4);
        char id[32], doc[256];
        snprintf(id, sizeof id, "c%d/r%d", w->id, k);
        acp_error e;
        acp_status st;
        if (what == 0 && w->agent[k] >= 0) {
            if ((st = acp_run_delete(store, id, &e)) != ACP_OK)
                FAIL("counting: delete %s: %s (%s)", id, acp_status_name(st), e.message);
            w->agent[k] = -1;
            continue;
        }
        int a = (int)(next(w) % CAGENTS), s = (int)(next(w) % (CSESSIONS + 1)) - 1;
        char sess[32] = "";
        if (s >= 0)
            snprintf(sess, sizeof sess, "\"session_id\":\"cs%d\",", s);
        snprintf(doc, sizeof doc, "{\"run_id\":\"%s\",\"agent_name\":\"ca%d\",%s"
                 "\"status\":\"%s\"}", id, a, sess, what == 1 ? "completed" : "created");
        if ((st = acp_run_save(store, doc, ACP_STRLEN, &e)) != ACP_OK) {
            FAIL("counting: save %s: %s (%s)", id, acp_status_name(st), e.message);
            continue;
        }
        w->agent[k] = a;
        w->session[k] = s;
    }
    return NULL;
}

/* The store's total for a filter. */
static int64_t total_of(const char *agent, const char *session)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p;
    acp_error e;
    if (acp_run_list(store, &f, &p, &e) != ACP_OK) {
        FAIL("list %s %s: %s", agent ? agent : "-", session ? session : "-", e.message);
        return -1;
    }
    int64_t n = acp_page_total(p);
    acp_page_free(p);
    return n;
}

/* Every filter of the counting phase against what the threads did. */
static void check_counting(const worker *w, int threads, int64_t phase1_live)
{
    int64_t want[CAGENTS + 1][CSESSIONS + 1] = {{0}}; /* [agent or CAGENTS: any][session or
                                                        * CSESSIONS: any] */
    for (int t = 0; t < threads; t++) {
        for (int k = 0; k < CRUNS; k++) {
            int a = w[t].agent[k], s = w[t].session[k];
            if (a < 0)
                continue;
            want[CAGENTS][CSESSIONS]++;
            want[a][CSESSIONS]++;
            if (s >= 0) {
                want[CAGENTS][s]++;
                want[a][s]++;
            }
        }
    }
    for (int a = 0; a <= CAGENTS; a++) {
        for (int s = 0; s <= CSESSIONS; s++) {
            char an[16], sn[16];
            snprintf(an, sizeof an, "ca%d", a);
            snprintf(sn, sizeof sn, "cs%d", s);
            const char *ap = a < CAGENTS ? an : NULL, *sp = s < CSESSIONS ? sn : NULL;
            int64_t got = total_of(ap, sp);
            if (!ap && !sp)
                want[a][s] += phase1_live; /* the whole store holds phase 1's runs too */
            if (got != want[a][s])
                FAIL("counting: total for agent %s session %s is %" PRId64 ", want %" PRId64,
                     ap ? ap : "-", sp ? sp : "-", got, want[a][s]);
        }
    }
}

/* Phase 3: sessions are ended under the threads' feet. */
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

/* Server notices ("drop cascades to ...") are not for the test log. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *admin(void)
{
    PGconn *c = PQconnectdb(base_uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_threads: admin connection: %s", PQerrorMessage(c));
        exit(1);
    }
    PQsetNoticeProcessor(c, quiet, NULL);
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

    int64_t live = 0;
    for (int i = 0; i < threads; i++)
        for (int r = 0; r < RUNS; r++)
            live += w[i].live[r];
    start_threads(t, w, threads, counting);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    check_counting(w, threads, live);

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
    /* Sessions ended mid-save roll back their counts with their runs. */
    long stored = sql_long(c, "SELECT count(*) FROM %s.runs%s", "");
    if (total_of(NULL, NULL) != stored)
        FAIL("after the kills: total %" PRId64 ", %ld runs stored", total_of(NULL, NULL), stored);
    for (int i = 0; i < threads; i++) {
        char agent[32];
        snprintf(agent, sizeof agent, "agent-%d", i);
        long n = sql_long(c, "SELECT count(*) FROM %s.runs WHERE agent_name = '%s'", agent);
        if (total_of(agent, NULL) != n)
            FAIL("after the kills: total for %s %" PRId64 ", %ld runs stored", agent,
                 total_of(agent, NULL), n);
    }
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
    printf("pg_threads: %d threads, %ld appends exact; totals exact after %d shared-counter "
           "operations; under kills %d calls OK, %d UNAVAILABLE; %d failures\n", threads, added,
           threads * ops, ok, unavailable, f);
    return f ? 1 : 0;
}
