/* SPDX-License-Identifier: MIT */
/*
 * checks_threads.c - one handle used by many threads at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Copy a thread failure into the check's result (and free the record). */
static int thread_result(t_ctx *c, int line, int rc, t_thread_fail *fail)
{
    int failed = fail->failed;
    char msg[sizeof fail->msg];
    memcpy(msg, fail->msg, sizeof msg);
    t_thread_fail_destroy(fail);
    if (rc != 0)
        return t_fail(c, __FILE__, line, "cannot start threads: %s", strerror(rc));
    if (failed)
        return t_fail(c, __FILE__, line, "%s", msg);
    return 0;
}

/* ---- 8 x 1000 add_event on one run ---- */

enum { ADD_THREADS = 8, ADD_EACH = 1000 };

typedef struct add_arg {
    acp_store *store;
    int t;
    int64_t *seqs; /* ADD_EACH, this thread's results */
    t_thread_fail *fail;
} add_arg;

static void *add_main(void *p)
{
    add_arg *a = p;
    for (int i = 0; i < ADD_EACH && !t_thread_failed(a->fail); i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"type\":\"load\",\"t\":%d,\"i\":%d}", a->t, i);
        acp_error e;
        int64_t seq = 0;
        acp_status st = acp_event_add(a->store, "hot-run", doc, ACP_STRLEN, &seq, &e);
        if (st != ACP_OK) {
            t_thread_failf(a->fail, "thread %d add_event %d: %s: %s", a->t, i,
                           acp_status_name(st), e.message);
            return NULL;
        }
        a->seqs[i] = seq;
    }
    return NULL;
}

CONFORMANCE_CHECK(concurrent_add_event_gives_every_sequence_once)
{
    OPEN();
    enum { TOTAL = ADD_THREADS * ADD_EACH };
    int64_t *seqs = t_alloc(c, sizeof(int64_t) * TOTAL);
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    add_arg args[ADD_THREADS];
    for (int t = 0; t < ADD_THREADS; t++)
        args[t] = (add_arg){S, t, seqs + t * ADD_EACH, &fail};
    int rc = t_threads(ADD_THREADS, add_main, args, sizeof args[0]);
    CHECK_RESULT(thread_result(c, __LINE__, rc, &fail));

    /* Each sequence 1..TOTAL returned exactly once, increasing per thread. */
    int *owner = t_alloc(c, sizeof(int) * (TOTAL + 1));
    memset(owner, 0xff, sizeof(int) * (TOTAL + 1));
    for (int t = 0; t < ADD_THREADS; t++)
        for (int i = 0; i < ADD_EACH; i++) {
            int64_t s = seqs[t * ADD_EACH + i];
            CHECK(s >= 1 && s <= TOTAL, "thread %d got sequence %lld, outside 1..%d", t,
                  (long long)s, TOTAL);
            CHECK(owner[s] < 0, "sequence %lld was returned twice (events %d and %d)",
                  (long long)s, owner[s], t * ADD_EACH + i);
            owner[s] = t * ADD_EACH + i;
            CHECK(i == 0 || s > seqs[t * ADD_EACH + i - 1],
                  "thread %d: its event %d got sequence %lld after %lld", t, i, (long long)s,
                  (long long)seqs[t * ADD_EACH + i - 1]);
        }
    /* get_events returns 1..TOTAL in order, each the document that got it. */
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    int64_t expect = 1;
    for (;;) {
        acp_page *p;
        LIST_EVENTS(p, "hot-run", &f);
        size_t n = acp_page_count(p);
        for (size_t k = 0; k < n; k++, expect++) {
            CHECK(acp_page_seq(p, k) == expect, "get_events: sequence %lld where %lld was due",
                  (long long)acp_page_seq(p, k), (long long)expect);
            int who = owner[expect];
            char want[64];
            snprintf(want, sizeof want, "{\"type\":\"load\",\"t\":%d,\"i\":%d}", who / ADD_EACH,
                     who % ADD_EACH);
            size_t len = 0;
            const char *j = acp_page_json(p, k, &len);
            CHECK_SAME(t_printf(c, "event %lld", (long long)expect), j, len, want, strlen(want));
        }
        f.after_seq = expect - 1;
        t_release(c, p);
        if (n < (size_t)f.limit)
            break;
    }
    CHECK(expect - 1 == TOTAL, "get_events returned %lld events, expected %d",
          (long long)expect - 1, TOTAL);
    return T_PASS;
}

/* ---- 16 threads saving the same new run ---- */

enum { FIRST_THREADS = 16, FIRST_ROUNDS = 20 };

/* A reusable start line: every thread of a round waits until all arrived.
 * Unlike pthread_barrier_t it can be broken, so that threads already
 * waiting get out when another one could not be started. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n, arrived, generation, broken;
} gate;

/* 0 when everyone arrived, -1 when the gate was broken. */
static int gate_wait(gate *g)
{
    pthread_mutex_lock(&g->lock);
    int gen = g->generation;
    if (++g->arrived == g->n) {
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cond);
    } else {
        while (gen == g->generation && !g->broken)
            pthread_cond_wait(&g->cond, &g->lock);
    }
    int broken = g->broken;
    pthread_mutex_unlock(&g->lock);
    return broken ? -1 : 0;
}

typedef struct first_arg {
    acp_store *store;
    int t;
    gate *start;
    t_thread_fail *fail;
} first_arg;

static void first_doc(char *buf, size_t n, int round, int t)
{
    snprintf(buf, n, "{\"run_id\":\"contended-%d\",\"agent_name\":\"agent\",\"status\":"
                     "\"created\",\"output\":[],\"writer\":%d}",
             round, t);
}

static void first_session(char *buf, size_t n, int round, int t)
{
    snprintf(buf, n, "{\"id\":\"contended-%d\",\"history\":[],\"state\":%d}", round, t);
}

static void *first_main(void *p)
{
    first_arg *a = p;
    for (int round = 0; round < FIRST_ROUNDS; round++) {
        char doc[200];
        acp_error e;
        /* All threads start each round together, to collide on the insert. */
        if (gate_wait(a->start) != 0)
            return NULL;
        first_doc(doc, sizeof doc, round, a->t);
        acp_status st = acp_run_save(a->store, doc, ACP_STRLEN, &e);
        if (st != ACP_OK)
            t_thread_failf(a->fail, "thread %d, first save of contended-%d: %s: %s", a->t,
                           round, acp_status_name(st), e.message);
        first_session(doc, sizeof doc, round, a->t);
        st = acp_session_save(a->store, doc, ACP_STRLEN, &e);
        if (st != ACP_OK)
            t_thread_failf(a->fail, "thread %d, first save of session contended-%d: %s: %s",
                           a->t, round, acp_status_name(st), e.message);
    }
    return NULL;
}

CONFORMANCE_CHECK(concurrent_first_save_of_one_run_gives_one_record)
{
    OPEN();
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    gate start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, FIRST_THREADS, 0, 0, 0};
    first_arg args[FIRST_THREADS];
    pthread_t th[FIRST_THREADS];
    int started = 0, rc = 0;
    for (; started < FIRST_THREADS; started++) {
        args[started] = (first_arg){S, started, &start, &fail};
        rc = pthread_create(&th[started], NULL, first_main, &args[started]);
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        pthread_mutex_lock(&start.lock);
        start.broken = 1;
        pthread_cond_broadcast(&start.cond);
        pthread_mutex_unlock(&start.lock);
    }
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&start.lock);
    pthread_cond_destroy(&start.cond);
    CHECK_RESULT(thread_result(c, __LINE__, rc, &fail));

    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == FIRST_ROUNDS, "%lld runs listed after %d contended first saves of %d runs",
          (long long)total, FIRST_THREADS, FIRST_ROUNDS);
    COUNT_RUNS("agent", NULL, total);
    CHECK(total == FIRST_ROUNDS, "%lld runs of the agent, expected %d", (long long)total,
          FIRST_ROUNDS);
    const char *sess[FIRST_ROUNDS];
    for (int round = 0; round < FIRST_ROUNDS; round++) {
        char *id = t_printf(c, "contended-%d", round);
        char *json;
        size_t len;
        GET_RUN(id, json, len);
        int match = 0;
        for (int t = 0; t < FIRST_THREADS && !match; t++) {
            char want[200];
            first_doc(want, sizeof want, round, t);
            match = len == strlen(want) && memcmp(json, want, len) == 0;
        }
        CHECK(match, "run %s is none of the documents saved: %.*s", id, (int)len, json);
        GET_SESSION(id, json, len);
        match = 0;
        for (int t = 0; t < FIRST_THREADS && !match; t++) {
            char want[200];
            first_session(want, sizeof want, round, t);
            match = len == strlen(want) && memcmp(json, want, len) == 0;
        }
        CHECK(match, "session %s is none of the documents saved: %.*s", id, (int)len, json);
        sess[round] = id;
    }
    qsort(sess, FIRST_ROUNDS, sizeof sess[0], t_by_bytes);
    CHECK_SESSIONS(NULL, sess, FIRST_ROUNDS, 1000);
    return T_PASS;
}

/* ---- mixed operations ---- */

enum { MIX_THREADS = 8, MIX_OPS = 200 };

typedef struct mix_arg {
    acp_store *store;
    int t;
    int64_t shared_seqs[MIX_OPS];
    int n_shared;
    t_thread_fail *fail;
} mix_arg;

static void mix_run_doc(char *buf, size_t n, int t, int i)
{
    snprintf(buf, n, "{\"run_id\":\"mix-%d-%d\",\"agent_name\":\"agent-%d\",\"session_id\":"
                     "\"sess-%d\",\"status\":\"created\",\"output\":[],\"created_at\":"
                     "\"2025-06-01T12:%02d:%02d.%06dZ\"}",
             t, i, t % 2, t, i / 60, i % 60, t);
}

#define MIX_FAIL(what)                                                                     \
    do {                                                                                   \
        t_thread_failf(a->fail, "thread %d op %d: %s: %s: %s", a->t, i, (what),            \
                       acp_status_name(st), e.message);                                    \
        return NULL;                                                                       \
    } while (0)

static void *mix_main(void *p)
{
    mix_arg *a = p;
    int own_events = 0;
    char doc[300], id[64];
    for (int i = 0; i < MIX_OPS && !t_thread_failed(a->fail); i++) {
        acp_error e;
        acp_status st = ACP_OK;
        switch (i % 5) {
        case 0: /* save a run */
            mix_run_doc(doc, sizeof doc, a->t, i);
            if ((st = acp_run_save(a->store, doc, ACP_STRLEN, &e)) != ACP_OK)
                MIX_FAIL("save_run");
            break;
        case 1: { /* append to this thread's own run: sequences are ours alone */
            int64_t seq = 0;
            snprintf(id, sizeof id, "mix-events-%d", a->t);
            snprintf(doc, sizeof doc, "{\"type\":\"own\",\"i\":%d}", i);
            if ((st = acp_event_add(a->store, id, doc, ACP_STRLEN, &seq, &e)) != ACP_OK)
                MIX_FAIL("add_event (own run)");
            if (seq != ++own_events) {
                t_thread_failf(a->fail, "thread %d: event %d of its own run got sequence %lld",
                               a->t, own_events, (long long)seq);
                return NULL;
            }
            break;
        }
        case 2: { /* append to the run every thread appends to */
            int64_t seq = 0;
            snprintf(doc, sizeof doc, "{\"type\":\"shared\",\"t\":%d,\"i\":%d}", a->t, i);
            if ((st = acp_event_add(a->store, "mix-shared", doc, ACP_STRLEN, &seq, &e)) != ACP_OK)
                MIX_FAIL("add_event (shared run)");
            a->shared_seqs[a->n_shared++] = seq;
            break;
        }
        case 3: { /* read back the run saved three operations ago, and list */
            char *json = NULL;
            size_t len = 0;
            snprintf(id, sizeof id, "mix-%d-%d", a->t, i - 3);
            if ((st = acp_run_get(a->store, id, &json, &len, &e)) != ACP_OK)
                MIX_FAIL("get_run");
            mix_run_doc(doc, sizeof doc, a->t, i - 3);
            int same = len == strlen(doc) && memcmp(json, doc, len) == 0;
            acp_free(json);
            if (!same) {
                t_thread_failf(a->fail, "thread %d: run %s read back differently", a->t, id);
                return NULL;
            }
            acp_run_filter f = ACP_RUN_FILTER_INIT;
            f.agent_name = a->t % 2 ? "agent-1" : "agent-0";
            f.want_total = 1;
            acp_page *page = NULL;
            if ((st = acp_run_list(a->store, &f, &page, &e)) != ACP_OK)
                MIX_FAIL("list_runs");
            acp_page_free(page);
            break;
        }
        case 4: /* every other time delete the run saved four operations ago,
                   else save a session */
            if ((i / 5) % 2 == 1) {
                snprintf(id, sizeof id, "mix-%d-%d", a->t, i - 4);
                if ((st = acp_run_delete(a->store, id, &e)) != ACP_OK)
                    MIX_FAIL("delete_run");
            } else {
                snprintf(doc, sizeof doc, "{\"id\":\"mix-sess-%d-%03d\",\"state\":%d}", a->t, i,
                         i);
                if ((st = acp_session_save(a->store, doc, ACP_STRLEN, &e)) != ACP_OK)
                    MIX_FAIL("save_session");
            }
            break;
        }
    }
    return NULL;
}

CONFORMANCE_CHECK(concurrent_mixed_operations_keep_exact_counts)
{
    OPEN();
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    mix_arg *args = t_alloc(c, sizeof(mix_arg) * MIX_THREADS);
    for (int t = 0; t < MIX_THREADS; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].store = S;
        args[t].t = t;
        args[t].fail = &fail;
    }
    int rc = t_threads(MIX_THREADS, mix_main, args, sizeof args[0]);
    CHECK_RESULT(thread_result(c, __LINE__, rc, &fail));

    /* Per thread: 40 runs saved, 20 deleted; 40 own events; 40 shared
     * events; 20 sessions. */
    const int per = MIX_OPS / 5;
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == MIX_THREADS * per / 2, "%lld runs, expected %d", (long long)total,
          MIX_THREADS * per / 2);
    COUNT_RUNS("agent-0", NULL, total);
    CHECK(total == MIX_THREADS / 2 * per / 2, "%lld runs of agent-0, expected %d",
          (long long)total, MIX_THREADS / 2 * per / 2);
    for (int t = 0; t < MIX_THREADS; t++) {
        char *sess = t_printf(c, "sess-%d", t);
        COUNT_RUNS(NULL, sess, total);
        CHECK(total == per / 2, "%lld runs of %s, expected %d", (long long)total, sess, per / 2);
        int64_t n;
        COUNT_EVENTS(t_printf(c, "mix-events-%d", t), n);
        CHECK(n == per, "thread %d's run has %lld events, expected %d", t, (long long)n, per);
        for (int i = 0; i < MIX_OPS; i += 5) {
            char *id = t_printf(c, "mix-%d-%d", t, i);
            char *json;
            size_t len;
            if ((i / 5) % 2 == 0) {
                GET_RUN(id, json, len);
                t_release(c, json);
            } else {
                CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, id, &json, &len, ERR));
            }
        }
    }
    int64_t shared;
    COUNT_EVENTS("mix-shared", shared);
    CHECK(shared == MIX_THREADS * per, "the shared run has %lld events, expected %d",
          (long long)shared, MIX_THREADS * per);
    char *seen = t_alloc(c, (size_t)shared + 1);
    memset(seen, 0, (size_t)shared + 1);
    for (int t = 0; t < MIX_THREADS; t++)
        for (int k = 0; k < args[t].n_shared; k++) {
            int64_t s = args[t].shared_seqs[k];
            CHECK(s >= 1 && s <= shared && !seen[s],
                  "shared run: sequence %lld returned twice or out of range", (long long)s);
            seen[s] = 1;
        }
    const char **sess = t_alloc(c, sizeof(char *) * MIX_THREADS * per / 2);
    size_t ns = 0;
    for (int t = 0; t < MIX_THREADS; t++)
        for (int i = 4; i < MIX_OPS; i += 5)
            if ((i / 5) % 2 == 0)
                sess[ns++] = t_printf(c, "mix-sess-%d-%03d", t, i);
    qsort(sess, ns, sizeof sess[0], t_by_bytes);
    CHECK_SESSIONS(NULL, sess, ns, 1000);
    return T_PASS;
}

/* ---- readers racing a writer ---- */

enum { RACE_READERS = 3, RACE_WRITES = 150 };

typedef struct race_shared {
    acp_store *store;
    const char *docs[2];
    size_t lens[2];
    int done; /* set by the writer; read under the fail lock */
    t_thread_fail *fail;
} race_shared;

static int race_done(race_shared *r)
{
    pthread_mutex_lock(&r->fail->lock);
    int d = r->done || r->fail->failed;
    pthread_mutex_unlock(&r->fail->lock);
    return d;
}

static void *race_writer(void *p)
{
    race_shared *r = p;
    for (int k = 0; k < RACE_WRITES && !t_thread_failed(r->fail); k++) {
        acp_error e;
        acp_status st = acp_run_save(r->store, r->docs[k % 2], r->lens[k % 2], &e);
        if (st != ACP_OK)
            t_thread_failf(r->fail, "writer save %d: %s: %s", k, acp_status_name(st), e.message);
    }
    pthread_mutex_lock(&r->fail->lock);
    r->done = 1;
    pthread_mutex_unlock(&r->fail->lock);
    return NULL;
}

static int race_is_whole(race_shared *r, const char *json, size_t len)
{
    for (int v = 0; v < 2; v++)
        if (len == r->lens[v] && memcmp(json, r->docs[v], len) == 0)
            return 1;
    return 0;
}

static void *race_reader(void *p)
{
    race_shared *r = p;
    int reads = 0;
    while (!race_done(r) || reads < 3) {
        acp_error e;
        char *json = NULL;
        size_t len = 0;
        acp_status st = acp_run_get(r->store, "raced", &json, &len, &e);
        if (st != ACP_OK) {
            t_thread_failf(r->fail, "reader get_run: %s: %s", acp_status_name(st), e.message);
            return NULL;
        }
        int whole = race_is_whole(r, json, len);
        acp_free(json);
        if (!whole) {
            t_thread_failf(r->fail, "a reader saw a run of %zu bytes that is neither version "
                                    "(%zu or %zu bytes)", len, r->lens[0], r->lens[1]);
            return NULL;
        }
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        acp_page *page = NULL;
        st = acp_run_list(r->store, &f, &page, &e);
        if (st != ACP_OK) {
            t_thread_failf(r->fail, "reader list_runs: %s: %s", acp_status_name(st), e.message);
            return NULL;
        }
        const char *pj = acp_page_count(page) == 1 ? acp_page_json(page, 0, &len) : NULL;
        whole = pj && race_is_whole(r, pj, len);
        acp_page_free(page);
        if (!whole) {
            t_thread_failf(r->fail, "a reader listed something other than one whole version");
            return NULL;
        }
        reads++;
    }
    return NULL;
}

typedef struct race_arg {
    race_shared *shared;
    int writer;
} race_arg;

static void *race_entry(void *p)
{
    race_arg *a = p;
    return a->writer ? race_writer(a->shared) : race_reader(a->shared);
}

/* A run document padded to about size bytes with fill. */
static char *race_doc(t_ctx *c, size_t size, char fill, const char *status)
{
    char *pad = t_alloc(c, size + 1);
    memset(pad, fill, size);
    pad[size] = '\0';
    return t_printf(c, "{\"run_id\":\"raced\",\"agent_name\":\"agent\",\"status\":\"%s\","
                       "\"output\":[],\"pad\":\"%s\",\"created_at\":\"2025-06-01T12:00:00Z\"}",
                    status, pad);
}

CONFORMANCE_CHECK(readers_never_see_half_a_save)
{
    OPEN();
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    race_shared r;
    memset(&r, 0, sizeof r);
    r.store = S;
    r.fail = &fail;
    r.docs[0] = race_doc(c, 64 * 1024, 'a', "in-progress");
    r.docs[1] = race_doc(c, 100 * 1024, 'b', "completed");
    r.lens[0] = strlen(r.docs[0]);
    r.lens[1] = strlen(r.docs[1]);
    CHECK_OK(acp_run_save(S, r.docs[0], r.lens[0], ERR));
    race_arg args[1 + RACE_READERS];
    for (int k = 0; k <= RACE_READERS; k++)
        args[k] = (race_arg){&r, k == 0};
    int rc = t_threads(1 + RACE_READERS, race_entry, args, sizeof args[0]);
    CHECK_RESULT(thread_result(c, __LINE__, rc, &fail));
    return T_PASS;
}
