/* SPDX-License-Identifier: MIT */
/*
 * outage.c - writers that keep writing while the server dies and comes back.
 *
 *   outage <store-uri> <control-dir> [threads [timeout-ms [outages]]]
 *
 * Threads save runs and append events (to a stream of their own and to one
 * they share) on one store handle, and remember every write the store
 * acknowledged.  outage.sh, which starts this program, takes the server
 * away `outages` times (default 2): it freezes and kills it, or just kills
 * it (SIGKILL), keeps it down and starts it again on the same data.  Each
 * time N = 1, 2, ... is told through files in the control directory:
 *   ready-N      written here once writes flow (N = 1: every thread has
 *                had writes acknowledged; later: writes are back)
 *   outage-N     written by the script just before it stops the server
 *   restarted-N  written by the script once the server accepts connections
 * Checked:
 *   - a call fails only while the server is away (from outage-N until a
 *     few seconds after restarted-N), and then only with UNAVAILABLE,
 *     never IO or CORRUPT; and some calls do fail each time (or the server
 *     was not really away);
 *   - every call returns within the store's timeout (plus scheduling slack),
 *     also while the server is frozen and while it is gone;
 *   - writes succeed again after the restart on the same handle, without
 *     reopening the store;
 *   - afterwards (read through a new handle) no acknowledged write is
 *     lost: each run holds its last acknowledged version or a later one
 *     that was attempted, each acknowledged event sits at the sequence it
 *     was given, every stream is 1..n without gaps, and no event appears
 *     twice (a failed append may or may not have been applied, once).
 * Plain C (no Criterion), so that it also runs under ThreadSanitizer.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"

#define MAX_THREADS 8
#define RUNS_PER_THREAD 4
/* Calls may take the store's timeout plus this much scheduling and
 * sanitizer overhead before they count as unbounded. */
#define SLACK_MS 1500
/* After "restarted", calls may still fail this long (pooled connections
 * being replaced); afterwards a failure is an error. */
#define GRACE_MS 5000
#define ACKS_BEFORE_READY 20
#define RUN_ON_AFTER_RECOVERY_MS 1000

typedef struct ack {
    int64_t seq, i;
} ack;

typedef struct acks {
    ack *v;
    size_t n, cap;
} acks;

typedef struct writer {
    int t;
    pthread_t th;
    /* Owned by the writer thread until it is joined. */
    int64_t acked_v[RUNS_PER_THREAD], tried_v[RUNS_PER_THREAD];
    acks own, shared;
    int64_t tried;
    /* Read by the main thread while the writer runs. */
    _Atomic int64_t oks, last_ok_ms, errors;
} writer;

static acp_store *store;
static const char *ctl;
static int64_t timeout_ms;
static int nthreads;
static writer writers[MAX_THREADS];
static atomic_int phase; /* 0 before the outage, 1 outage, 2 restarted */
static _Atomic int64_t outage_ms, restarted_ms, max_call_ms, ping_errors;
static atomic_int stop, failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (atomic_fetch_add(&failures, 1) < 40) {                                                 \
            fprintf(stderr, "outage: FAILED: " __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int ctl_exists(const char *name, int n)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s-%d", ctl, name, n);
    return stat(path, &st) == 0;
}

static const char *phase_name(int p)
{
    return p == 0 ? "before the outage" : p == 1 ? "during the outage" : "after the restart";
}

/* Judge one call that started at t0.  Returns 1 when it succeeded. */
static int judge(const char *what, acp_status st, const acp_error *e, int64_t t0,
                 _Atomic int64_t *errors)
{
    int64_t t1 = now_ms(), took = t1 - t0;
    int64_t prev = atomic_load(&max_call_ms);
    while (took > prev && !atomic_compare_exchange_weak(&max_call_ms, &prev, took))
        ;
    if (timeout_ms > 0 && took > timeout_ms + SLACK_MS)
        FAIL("%s took %" PRId64 " ms %s (store timeout %" PRId64 " ms): %s", what, took,
             phase_name(atomic_load(&phase)), timeout_ms, st == ACP_OK ? "OK" : e->message);
    if (st == ACP_OK)
        return 1;
    int p = atomic_load(&phase);
    atomic_fetch_add(errors, 1);
    if (st != ACP_UNAVAILABLE)
        FAIL("%s %s: %s (%s), expected UNAVAILABLE", what, phase_name(p), acp_status_name(st),
             e->message);
    else if (p == 0)
        FAIL("%s failed before the server was touched: %s", what, e->message);
    else if (p == 2 && t1 > atomic_load(&restarted_ms) + GRACE_MS)
        FAIL("%s still fails %" PRId64 " ms after the server came back: %s", what,
             t1 - atomic_load(&restarted_ms), e->message);
    return 0;
}

static void push(acks *a, int64_t seq, int64_t i)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        ack *v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            FAIL("out of memory recording acknowledgements");
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].seq = seq;
    a->v[a->n++].i = i;
}

static void run_id(char *out, size_t n, int t, int r)
{
    snprintf(out, n, "outage-t%d-r%d", t, r);
}

static void run_doc(char *out, size_t n, int t, int r, int64_t v)
{
    char id[64];
    run_id(id, sizeof id, t, r);
    snprintf(out, n,
             "{\"run_id\":\"%s\",\"agent_name\":\"outage-%d\",\"status\":\"in-progress\","
             "\"created_at\":\"2025-06-01T12:00:0%d.000000Z\",\"v\":%" PRId64 "}",
             id, t, r, v);
}

static void event_doc(char *out, size_t n, int t, int64_t i)
{
    snprintf(out, n, "{\"type\":\"w\",\"t\":%d,\"i\":%" PRId64 "}", t, i);
}

static void *write_loop(void *arg)
{
    writer *w = arg;
    char doc[512], own_id[64];
    snprintf(own_id, sizeof own_id, "outage-t%d-events", w->t);
    for (int64_t i = 1; !atomic_load(&stop); i++) {
        acp_error e;
        int failed = 0;
        int r = (int)(i % RUNS_PER_THREAD);
        w->tried = i;

        run_doc(doc, sizeof doc, w->t, r, i);
        w->tried_v[r] = i;
        int64_t t0 = now_ms();
        acp_status st = acp_run_save(store, doc, ACP_STRLEN, &e);
        if (judge("save_run", st, &e, t0, &w->errors))
            w->acked_v[r] = i;
        else
            failed = 1;

        event_doc(doc, sizeof doc, w->t, i);
        int64_t seq = 0;
        t0 = now_ms();
        st = acp_event_add(store, own_id, doc, ACP_STRLEN, &seq, &e);
        if (judge("add_event (own stream)", st, &e, t0, &w->errors))
            push(&w->own, seq, i);
        else
            failed = 1;

        t0 = now_ms();
        st = acp_event_add(store, "outage-shared", doc, ACP_STRLEN, &seq, &e);
        if (judge("add_event (shared stream)", st, &e, t0, &w->errors))
            push(&w->shared, seq, i);
        else
            failed = 1;

        if (failed) {
            sleep_ms(20); /* the server is away: do not spin */
        } else {
            atomic_fetch_add(&w->oks, 1);
            atomic_store(&w->last_ok_ms, now_ms());
        }
    }
    return NULL;
}

/* ping must answer, healthy or UNAVAILABLE, within the timeout too. */
static int64_t total_errors(void)
{
    int64_t n = 0;
    for (int t = 0; t < nthreads; t++)
        n += atomic_load(&writers[t].errors);
    return n;
}

static void *ping_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        acp_error e;
        int64_t t0 = now_ms();
        acp_status st = acp_store_ping(store, &e);
        judge("ping", st, &e, t0, &ping_errors);
        sleep_ms(100);
    }
    return NULL;
}

/* ---- after the outage ---- */

/* Every event of run_id, checked to be 1..n; returns n, docs in *out. */
static size_t read_stream(acp_store *s, const char *run, char ***out)
{
    size_t n = 0, cap = 1024;
    char **docs = malloc(cap * sizeof *docs);
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    if (!docs) {
        FAIL("out of memory");
        return 0;
    }
    for (;;) {
        acp_page *p;
        acp_error e;
        acp_status st = acp_event_list(s, run, &f, &p, &e);
        if (st != ACP_OK) {
            FAIL("get_events %s after the restart: %s: %s", run, acp_status_name(st), e.message);
            break;
        }
        size_t c = acp_page_count(p);
        for (size_t k = 0; k < c; k++) {
            if (acp_page_seq(p, k) != (int64_t)n + 1) {
                FAIL("stream %s: sequence %" PRId64 " where %zu was due (a gap or a repeat)", run,
                     acp_page_seq(p, k), n + 1);
                c = 0;
                break;
            }
            if (n == cap) {
                char **d = realloc(docs, 2 * cap * sizeof *d);
                if (!d) {
                    FAIL("out of memory");
                    c = 0;
                    break;
                }
                docs = d;
                cap *= 2;
            }
            size_t len;
            const char *j = acp_page_json(p, k, &len);
            docs[n] = malloc(len + 1);
            if (docs[n]) {
                memcpy(docs[n], j, len);
                docs[n][len] = '\0';
            }
            n++;
        }
        acp_page_free(p);
        if (c < (size_t)f.limit)
            break;
        f.after_seq = (int64_t)n;
    }
    *out = docs;
    return n;
}

static void free_stream(char **docs, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(docs[k]);
    free(docs);
}

/* Parse an event this program wrote; 0 when the text is not one of ours
 * byte for byte. */
static int parse_event(const char *doc, int *t, int64_t *i)
{
    char again[128];
    if (!doc || sscanf(doc, "{\"type\":\"w\",\"t\":%d,\"i\":%" SCNd64 "}", t, i) != 2)
        return 0;
    event_doc(again, sizeof again, *t, *i);
    return strcmp(again, doc) == 0 && *t >= 0 && *t < nthreads;
}

/* One stream: every acknowledged (seq, i) of the writers in it is there,
 * and nothing appears twice or was never attempted. */
static void check_stream(acp_store *s, const char *run, int only_t)
{
    char **docs;
    size_t n = read_stream(s, run, &docs);
    unsigned char *seen[MAX_THREADS] = {0};
    for (int t = 0; t < nthreads; t++) {
        seen[t] = calloc((size_t)writers[t].tried + 2, 1);
        if (!seen[t])
            FAIL("out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        int t;
        int64_t i;
        if (!parse_event(docs[k], &t, &i) || (only_t >= 0 && t != only_t)) {
            FAIL("stream %s, event %zu: %s is not an event this stream was given", run, k + 1,
                 docs[k] ? docs[k] : "(no memory)");
            continue;
        }
        if (i < 1 || i > writers[t].tried || !seen[t]) {
            FAIL("stream %s, event %zu: %s was never attempted", run, k + 1, docs[k]);
            continue;
        }
        if (seen[t][i]++)
            FAIL("stream %s, event %zu: %s is there twice", run, k + 1, docs[k]);
    }
    for (int t = 0; t < nthreads; t++) {
        if (only_t >= 0 && t != only_t)
            continue;
        const acks *a = only_t >= 0 ? &writers[t].own : &writers[t].shared;
        for (size_t k = 0; k < a->n; k++) {
            int64_t seq = a->v[k].seq;
            int tt;
            int64_t i;
            if (seq < 1 || (size_t)seq > n) {
                FAIL("stream %s: acknowledged event %s i=%" PRId64 " (sequence %" PRId64
                     ") is lost: the stream has %zu events",
                     run, only_t >= 0 ? "own" : "shared", a->v[k].i, seq, n);
                continue;
            }
            if (!parse_event(docs[seq - 1], &tt, &i) || tt != t || i != a->v[k].i)
                FAIL("stream %s: sequence %" PRId64 " was acknowledged for thread %d i=%" PRId64
                     " but holds %s",
                     run, seq, t, a->v[k].i, docs[seq - 1] ? docs[seq - 1] : "?");
        }
        free(seen[t]);
        seen[t] = NULL;
    }
    for (int t = 0; t < nthreads; t++)
        free(seen[t]);
    free_stream(docs, n);
}

static void check_runs(acp_store *s, const writer *w)
{
    for (int r = 0; r < RUNS_PER_THREAD; r++) {
        char id[64], want[512];
        char *json = NULL;
        size_t len = 0;
        acp_error e;
        run_id(id, sizeof id, w->t, r);
        acp_status st = acp_run_get(s, id, &json, &len, &e);
        if (st == ACP_NOT_FOUND && w->acked_v[r] == 0)
            continue;
        if (st != ACP_OK) {
            FAIL("get_run %s after the restart: %s (%s); version %" PRId64
                 " was acknowledged",
                 id, acp_status_name(st), e.message, w->acked_v[r]);
            continue;
        }
        const char *v = strstr(json, "\"v\":");
        int64_t got = v ? strtoll(v + 4, NULL, 10) : -1;
        run_doc(want, sizeof want, w->t, r, got);
        if (got < w->acked_v[r] || got > w->tried_v[r])
            FAIL("run %s holds version %" PRId64 "; acknowledged %" PRId64
                 ", last attempted %" PRId64,
                 id, got, w->acked_v[r], w->tried_v[r]);
        else if (len != strlen(want) || memcmp(json, want, len) != 0)
            FAIL("run %s came back as %.*s", id, (int)len, json);
        acp_free(json);
    }
}

static void write_ctl(const char *name, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%d", ctl, name, n);
    FILE *f = fopen(path, "w");
    if (!f || fclose(f) != 0)
        FAIL("cannot write %s", path);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: %s STORE-URI CONTROL-DIR [THREADS [TIMEOUT-MS [OUTAGES]]]\n",
                argv[0]);
        return 2;
    }
    const char *uri = argv[1];
    ctl = argv[2];
    nthreads = argc > 3 ? atoi(argv[3]) : 4;
    timeout_ms = argc > 4 ? atoll(argv[4]) : 2000;
    int outages = argc > 5 ? atoi(argv[5]) : 2;
    if (nthreads < 1 || nthreads > MAX_THREADS || timeout_ms < 1 || outages < 1) {
        fprintf(stderr, "outage: threads must be 1..%d, the timeout and outages positive\n",
                MAX_THREADS);
        return 2;
    }

    acp_error e;
    acp_config *cfg = NULL;
    if (acp_config_new(&cfg, &e) != ACP_OK || acp_config_parse_uri(cfg, uri, &e) != ACP_OK ||
        acp_config_set_timeout_ms(cfg, timeout_ms, &e) != ACP_OK ||
        acp_store_open_config(cfg, &store, &e) != ACP_OK) {
        fprintf(stderr, "outage: cannot open %s: %s\n", uri, e.message);
        acp_config_free(cfg);
        return 1;
    }

    pthread_t pinger;
    for (int t = 0; t < nthreads; t++) {
        writers[t].t = t;
        if (pthread_create(&writers[t].th, NULL, write_loop, &writers[t]) != 0) {
            fprintf(stderr, "outage: cannot start a thread\n");
            return 1;
        }
    }
    if (pthread_create(&pinger, NULL, ping_loop, NULL) != 0) {
        fprintf(stderr, "outage: cannot start a thread\n");
        return 1;
    }

    /* Ready once every writer has had writes acknowledged; then follow the
     * script's phases, each outage until writes are back for every thread. */
    int64_t start = now_ms(), recovered_ms = 0, errors_before = 0, phase_start = start;
    int ready = 0, n = 1, done = 0;
    while (!done) {
        int64_t t = now_ms();
        int p = atomic_load(&phase);
        if (!ready) {
            int all = 1;
            for (int k = 0; k < nthreads; k++)
                all &= atomic_load(&writers[k].oks) >= ACKS_BEFORE_READY;
            if (all) {
                write_ctl("ready", n);
                ready = 1;
                printf("outage: %d writers running; ready after %" PRId64 " ms\n", nthreads,
                       t - start);
                fflush(stdout);
            } else if (t - start > 60000) {
                FAIL("writes were not acknowledged within 60 s before the outage");
                break;
            }
        }
        if (p == 0 && ctl_exists("outage", n)) {
            atomic_store(&outage_ms, t);
            errors_before = total_errors();
            atomic_store(&phase, 1);
        } else if (p == 1 && ctl_exists("restarted", n)) {
            atomic_store(&restarted_ms, t);
            atomic_store(&phase, 2);
            printf("outage %d: server back after %" PRId64 " ms\n", n,
                   t - atomic_load(&outage_ms));
            fflush(stdout);
        } else if (p == 0 && ready && t - phase_start > 120000) {
            FAIL("the script never started outage %d", n);
            break;
        } else if (p == 1 && t - atomic_load(&outage_ms) > 120000) {
            FAIL("the server did not come back within 120 s");
            break;
        } else if (p == 2 && !recovered_ms) {
            int all = 1;
            for (int k = 0; k < nthreads; k++)
                all &= atomic_load(&writers[k].last_ok_ms) > atomic_load(&restarted_ms);
            if (all) {
                recovered_ms = t;
                int64_t failed = total_errors() - errors_before;
                printf("outage %d: %" PRId64 " calls failed; every writer succeeded again %" PRId64
                       " ms after the restart\n",
                       n, failed, t - atomic_load(&restarted_ms));
                fflush(stdout);
                if (failed == 0)
                    FAIL("no write failed in outage %d: was the server really away?", n);
            } else if (t - atomic_load(&restarted_ms) > GRACE_MS) {
                FAIL("writes did not succeed again within %d ms of restart %d", GRACE_MS, n);
                break;
            }
        } else if (p == 2 && t - recovered_ms > RUN_ON_AFTER_RECOVERY_MS) {
            if (n == outages) {
                done = 1;
            } else {
                /* Back to normal: the next failure counts against the next
                 * outage only once the script announces it. */
                n++;
                recovered_ms = 0;
                phase_start = t;
                atomic_store(&phase, 0);
                write_ctl("ready", n);
            }
        }
        sleep_ms(5);
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < nthreads; t++)
        pthread_join(writers[t].th, NULL);
    pthread_join(pinger, NULL);

    long long errors = 0, oks = 0, acked_events = 0;
    for (int t = 0; t < nthreads; t++) {
        errors += atomic_load(&writers[t].errors);
        oks += atomic_load(&writers[t].oks);
        acked_events += (long long)(writers[t].own.n + writers[t].shared.n);
    }
    printf("outage: %lld rounds acknowledged, %lld events acknowledged, %lld failed calls, "
           "%lld failed pings, slowest call %lld ms\n",
           oks, acked_events, errors, (long long)atomic_load(&ping_errors),
           (long long)atomic_load(&max_call_ms));
    /* The same handle writes again ... */
    if (done) {
        char doc[512];
        run_doc(doc, sizeof doc, 0, 0, writers[0].tried + 1);
        if (acp_run_save(store, doc, ACP_STRLEN, &e) != ACP_OK)
            FAIL("save_run on the old handle after the restart: %s", e.message);
        else
            writers[0].acked_v[0] = writers[0].tried_v[0] = writers[0].tried + 1;
    }
    /* ... and a new one reads everything acknowledged. */
    acp_store *check = NULL;
    if (done && acp_store_open_config(cfg, &check, &e) != ACP_OK)
        FAIL("cannot open %s again: %s", uri, e.message);
    if (check) {
        for (int t = 0; t < nthreads; t++) {
            char own[64];
            snprintf(own, sizeof own, "outage-t%d-events", t);
            check_runs(check, &writers[t]);
            check_stream(check, own, t);
        }
        check_stream(check, "outage-shared", -1);
        acp_store_close(check);
    }
    acp_store_close(store);
    acp_config_free(cfg);
    for (int t = 0; t < nthreads; t++) {
        free(writers[t].own.v);
        free(writers[t].shared.v);
    }
    int f = atomic_load(&failures);
    printf("outage: %s (%d failures)\n", f ? "FAILED" : "passed", f);
    return f ? 1 : 0;
}
