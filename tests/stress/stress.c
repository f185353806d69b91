/* SPDX-License-Identifier: MIT */
/*
 * stress.c - many threads doing a random mix of every operation on one store
 * handle; afterwards every count must be exact.  A plain C program (no
 * Criterion) so that it also runs under ThreadSanitizer.
 *
 *   stress <store-uri-template> [threads] [ops-per-thread]
 *
 * "{dir}" in the template is replaced by a fresh temporary directory.
 * Each thread owns its agent, runs and sessions, so the expected state is
 * known exactly; all threads append to one shared run's event stream.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"
#include "uri_template.h"

#define MAX_THREADS 64
#define RUNS_PER_THREAD 40
#define SESSIONS_PER_THREAD 8

static acp_store *store;
static int ops_per_thread = 300;
static atomic_int failures;
static atomic_long shared_events;
static unsigned char *seen_seq; /* seq -> times returned by add_event */
static long seen_cap;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct worker {
    int id;
    unsigned rng;
    int run_live[RUNS_PER_THREAD];
    int session_live[SESSIONS_PER_THREAD];
} worker;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "stress: " __VA_ARGS__);                                                   \
        fputc('\n', stderr);                                                                       \
        atomic_fetch_add(&failures, 1);                                                            \
    } while (0)

static unsigned next(worker *w)
{
    w->rng = w->rng * 1103515245u + 12345u;
    return w->rng >> 8;
}

static void run_id(char *buf, size_t n, int t, int r)
{
    snprintf(buf, n, "t%d/run %d:\xc3\xa9", t, r); /* '/', ' ', ':' and non-ASCII on purpose */
}

static void op(worker *w)
{
    acp_error e;
    char id[64], doc[512];
    int r = (int)(next(w) % RUNS_PER_THREAD), k = (int)(next(w) % SESSIONS_PER_THREAD);
    run_id(id, sizeof id, w->id, r);
    switch (next(w) % 9) {
    case 0:
    case 1: /* save (insert or update) */
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"t%d/run %d:\xc3\xa9\",\"agent_name\":\"agent-%d\",\"session_id\":"
                 "\"s-%d\",\"status\":\"%s\",\"output\":[],\"created_at\":"
                 "\"2025-06-01T12:00:%02d.%06dZ\"}",
                 w->id, r, w->id, w->id, next(w) % 2 ? "created" : "completed", r % 60,
                 (int)(next(w) % 1000000));
        if (acp_run_save(store, doc, ACP_STRLEN, &e) != ACP_OK)
            FAIL("save_run %s: %s", id, e.message);
        else
            w->run_live[r] = 1;
        break;
    case 2: { /* get */
        char *json = NULL;
        acp_status st = acp_run_get(store, id, &json, NULL, &e);
        if ((st == ACP_OK) != w->run_live[r] || (st != ACP_OK && st != ACP_NOT_FOUND))
            FAIL("get_run %s: %s (expected %s)", id, acp_status_name(st),
                 w->run_live[r] ? "OK" : "NOT_FOUND");
        acp_free(json);
        break;
    }
    case 3: { /* delete */
        acp_status st = acp_run_delete(store, id, &e);
        if (st != ACP_OK && st != ACP_NOT_FOUND)
            FAIL("delete_run %s: %s", id, e.message);
        else if ((st == ACP_OK) != w->run_live[r])
            FAIL("delete_run %s: %s but the run was %s", id, acp_status_name(st),
                 w->run_live[r] ? "live" : "absent");
        w->run_live[r] = 0;
        break;
    }
    case 4: { /* list own agent: the total is exact, nobody else writes it */
        char agent[32];
        snprintf(agent, sizeof agent, "agent-%d", w->id);
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.agent_name = agent;
        f.want_total = 1;
        f.limit = 5;
        acp_page *p;
        if (acp_run_list(store, &f, &p, &e) != ACP_OK) {
            FAIL("list_runs: %s", e.message);
            break;
        }
        int64_t live = 0;
        for (int i = 0; i < RUNS_PER_THREAD; i++)
            live += w->run_live[i];
        if (acp_page_total(p) != live)
            FAIL("list_runs agent-%d: total %" PRId64 ", expected %" PRId64, w->id,
                 acp_page_total(p), live);
        acp_page_free(p);
        break;
    }
    case 5:
    case 6: { /* append to the shared stream */
        int64_t seq = 0;
        if (acp_event_add(store, "shared", "{\"type\":\"message.part\",\"part\":{\"content\":\"x\"}}",
                          ACP_STRLEN, &seq, &e) != ACP_OK) {
            FAIL("add_event: %s", e.message);
            break;
        }
        atomic_fetch_add(&shared_events, 1);
        pthread_mutex_lock(&seen_lock);
        if (seq < 1 || seq >= seen_cap)
            FAIL("add_event returned sequence %" PRId64, seq);
        else if (seen_seq[seq]++)
            FAIL("add_event returned sequence %" PRId64 " twice", seq);
        pthread_mutex_unlock(&seen_lock);
        break;
    }
    case 7: { /* sessions */
        char sid[48];
        snprintf(sid, sizeof sid, "sess %d/%d", w->id, k);
        if (next(w) % 2) {
            snprintf(doc, sizeof doc, "{\"id\":\"sess %d/%d\",\"history\":[],\"state\":%u}", w->id, k,
                     next(w) % 100);
            if (acp_session_save(store, doc, ACP_STRLEN, &e) != ACP_OK)
                FAIL("save_session: %s", e.message);
            else
                w->session_live[k] = 1;
        } else {
            acp_status st = acp_session_delete(store, sid, &e);
            if ((st == ACP_OK) != w->session_live[k] || (st != ACP_OK && st != ACP_NOT_FOUND))
                FAIL("delete_session %s: %s", sid, acp_status_name(st));
            w->session_live[k] = 0;
        }
        break;
    }
    default: { /* read the shared stream */
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = 50;
        acp_page *p;
        if (acp_event_list(store, "shared", &f, &p, &e) != ACP_OK) {
            FAIL("get_events: %s", e.message);
            break;
        }
        for (size_t i = 0; i < acp_page_count(p); i++)
            if (acp_page_seq(p, i) != (int64_t)i + 1)
                FAIL("get_events: position %zu has sequence %" PRId64, i, acp_page_seq(p, i));
        acp_page_free(p);
    }
    }
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < ops_per_thread; i++)
        op(w);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stress <store-uri-template> [threads] [ops-per-thread]\n");
        return 2;
    }
    int nthreads = argc > 2 ? atoi(argv[2]) : 16;
    ops_per_thread = argc > 3 ? atoi(argv[3]) : 300;
    if (nthreads < 1 || nthreads > MAX_THREADS || ops_per_thread < 1)
        return 2;
    char dir[] = "/tmp/acp-stress-XXXXXX";
    char *uri = uri_from_template(argv[1], dir, 0);
    acp_error e;
    if (!uri || acp_store_open(uri, &store, &e) != ACP_OK) {
        fprintf(stderr, "stress: cannot open %s: %s\n", argv[1], uri ? e.message : "no memory");
        return 1;
    }
    seen_cap = (long)nthreads * ops_per_thread + 2;
    seen_seq = calloc((size_t)seen_cap, 1);
    worker *w = calloc((size_t)nthreads, sizeof *w);
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        w[i].id = i;
        w[i].rng = 0x9e3779b9u * (unsigned)(i + 1);
        pthread_create(&th[i], NULL, thread_main, &w[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);

    /* Final state: every count exact. */
    long events = atomic_load(&shared_events);
    for (long s = 1; s <= events; s++)
        if (seen_seq[s] != 1)
            FAIL("sequence %ld was returned %d times", s, seen_seq[s]);
    int64_t after = 0, walked = 0;
    for (;;) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = 1000;
        f.after_seq = after;
        acp_page *p;
        if (acp_event_list(store, "shared", &f, &p, &e) != ACP_OK) {
            FAIL("final get_events: %s", e.message);
            break;
        }
        size_t n = acp_page_count(p);
        for (size_t i = 0; i < n; i++)
            if (acp_page_seq(p, i) != ++walked)
                FAIL("final get_events: expected sequence %" PRId64 ", got %" PRId64, walked,
                     acp_page_seq(p, i));
        if (n)
            after = acp_page_seq(p, n - 1);
        acp_page_free(p);
        if (n < 1000)
            break;
    }
    if (walked != events)
        FAIL("shared stream holds %" PRId64 " events, %ld were added", walked, events);
    long sessions = 0, live_sessions = 0, live_runs = 0;
    for (int i = 0; i < nthreads; i++) {
        for (int k = 0; k < SESSIONS_PER_THREAD; k++)
            live_sessions += w[i].session_live[k];
        for (int r = 0; r < RUNS_PER_THREAD; r++)
            live_runs += w[i].run_live[r];
    }
    const char *cursor = NULL;
    char *owned = NULL;
    for (;;) {
        acp_page *p;
        if (acp_session_list(store, cursor, 100, &p, &e) != ACP_OK) {
            FAIL("list_sessions: %s", e.message);
            break;
        }
        sessions += (long)acp_page_count(p);
        free(owned);
        owned = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        cursor = owned;
        acp_page_free(p);
        if (!cursor)
            break;
    }
    free(owned);
    if (sessions != live_sessions)
        FAIL("list_sessions walked %ld sessions, expected %ld", sessions, live_sessions);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p;
    if (acp_run_list(store, &f, &p, &e) != ACP_OK) {
        FAIL("final list_runs: %s", e.message);
    } else {
        if (acp_page_total(p) != live_runs)
            FAIL("store holds %" PRId64 " runs, expected %ld", acp_page_total(p), live_runs);
        acp_page_free(p);
    }
    acp_store_close(store);
    int bad = atomic_load(&failures);
    printf("stress %s: %d threads x %d ops, %ld events, %ld runs, %ld sessions: %s\n", argv[1],
           nthreads, ops_per_thread, events, live_runs, live_sessions, bad ? "FAILED" : "ok");
    if (strstr(argv[1], "{dir}")) {
        char cmd[96];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "stress: could not remove %s\n", dir);
    }
    free(uri);
    free(seen_seq);
    free(w);
    return bad ? 1 : 0;
}
