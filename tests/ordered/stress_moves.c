/* SPDX-License-Identifier: MIT */
/*
 * stress_moves.c - writers move runs between agents, sessions and created
 * times while readers page through every filter by cursor and offset; a
 * plain C program (no Criterion) so that it runs under ThreadSanitizer.
 *
 *   stress_moves <store-uri> [writers] [readers] [ops-per-thread]
 *
 * Each writer owns its runs, so after the threads join every list is
 * checked exactly against what the writers last saved.  During the run a
 * reader checks what holds at any instant: every page is in list order,
 * matches its filter, and is no longer than its total allows.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage.h"
#include "run_filter.h"

#define MAX_THREADS 32
#define RUNS_PER_WRITER 50
#define AGENTS 3
#define SESSIONS 4

static acp_store *store;
static int ops = 400;
static atomic_int failures;

typedef struct run_state {
    int live, agent, session, created;
} run_state;

static run_state state[MAX_THREADS][RUNS_PER_WRITER];

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "stress_moves: " __VA_ARGS__);                                             \
        fputc('\n', stderr);                                                                       \
        atomic_fetch_add(&failures, 1);                                                            \
    } while (0)

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* The document of run r of writer w; parse-free checks read the id back. */
static int doc_of(char *buf, size_t n, int w, int r, const run_state *st)
{
    char sess[32] = "null";
    if (st->session >= 0)
        snprintf(sess, sizeof sess, "\"s%d\"", st->session);
    return snprintf(buf, n,
                    "{\"run_id\":\"w%02d-r%03d\",\"agent_name\":\"a%d\",\"session_id\":%s,"
                    "\"status\":\"created\",\"created_at\":\"2025-06-01T12:%02d:%02dZ\"}",
                    w, r, st->agent, sess, st->created / 60, st->created % 60);
}

static void *writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    unsigned s = 7u + (unsigned)w * 7919u;
    char doc[512], id[32];
    for (int i = 0; i < ops; i++) {
        int r = (int)(rnd(&s) % RUNS_PER_WRITER);
        run_state *st = &state[w][r];
        acp_error e;
        if (st->live && rnd(&s) % 5 == 0) {
            snprintf(id, sizeof id, "w%02d-r%03d", w, r);
            if (acp_run_delete(store, id, &e) != ACP_OK)
                FAIL("delete %s: %s", id, e.message);
            st->live = 0;
            continue;
        }
        run_state next = {1, (int)(rnd(&s) % AGENTS), (int)(rnd(&s) % (SESSIONS + 1)) - 1,
                          (int)(rnd(&s) % 30)};
        if (st->live && rnd(&s) % 3 == 0)
            next = *st; /* same place: the in-place update */
        doc_of(doc, sizeof doc, w, r, &next);
        if (acp_run_save(store, doc, strlen(doc), &e) != ACP_OK)
            FAIL("save: %s", e.message);
        *st = next;
    }
    return NULL;
}

/* A page is in list order (time descending, id descending) and matches. */
static void check_page(const acp_page *p, int agent, int session)
{
    char an[16], sn[16];
    snprintf(an, sizeof an, "\"a%d\"", agent);
    snprintf(sn, sizeof sn, "\"s%d\"", session);
    for (size_t k = 0; k < acp_page_count(p); k++) {
        const char *doc = acp_page_json(p, k, NULL);
        if (agent >= 0 && !strstr(doc, an))
            FAIL("a run of another agent in a%d's list: %s", agent, doc);
        if (session >= 0 && !strstr(doc, sn))
            FAIL("a run of another session in s%d's list: %s", session, doc);
        if (k == 0)
            continue;
        int64_t t0 = acp_page_time_us(p, k - 1), t1 = acp_page_time_us(p, k);
        if (t0 < t1 || (t0 == t1 && strcmp(acp_page_key(p, k - 1), acp_page_key(p, k)) <= 0))
            FAIL("out of order: %s then %s", acp_page_key(p, k - 1), acp_page_key(p, k));
    }
}

static acp_page *list(int agent, int session, int64_t limit, int64_t offset, const char *cursor)
{
    char an[16], sn[16];
    acp_run_filter f = run_filter(an, sn, agent, session, limit, offset, cursor);
    acp_page *p = NULL;
    acp_error e;
    if (acp_run_list(store, &f, &p, &e) != ACP_OK)
        FAIL("list: %s", e.message);
    return p;
}

static void *reader(void *arg)
{
    unsigned s = 99u + (unsigned)(intptr_t)arg;
    for (int i = 0; i < ops / 4; i++) {
        int agent = (int)(rnd(&s) % (AGENTS + 1)) - 1, session = (int)(rnd(&s) % (SESSIONS + 1)) - 1;
        char cursor[512] = "";
        for (int page = 0; page < 50; page++) {
            acp_page *p = list(agent, session, 1 + (int64_t)(rnd(&s) % 9), (int64_t)(rnd(&s) % 3),
                               cursor[0] ? cursor : NULL);
            if (!p)
                return NULL;
            check_page(p, agent, session);
            if ((int64_t)acp_page_count(p) > acp_page_total(p))
                FAIL("a page of %zu with a total of %lld", acp_page_count(p),
                     (long long)acp_page_total(p));
            const char *next = acp_page_next_cursor(p);
            int more = next && acp_page_count(p) > 0;
            if (more)
                snprintf(cursor, sizeof cursor, "%s", next);
            acp_page_free(p);
            if (!more)
                break;
        }
    }
    return NULL;
}

/* After the join: every filter lists exactly the live runs that match. */
static void check_final(int nw, int agent, int session)
{
    long want = 0;
    for (int w = 0; w < nw; w++)
        for (int r = 0; r < RUNS_PER_WRITER; r++)
            want += state[w][r].live && (agent < 0 || state[w][r].agent == agent) &&
                    (session < 0 || state[w][r].session == session);
    acp_page *p = list(agent, session, 1000, 0, NULL);
    if (!p)
        return;
    if (acp_page_total(p) != want || (long)acp_page_count(p) != want)
        FAIL("agent %d session %d: total %lld and %zu listed, expected %ld", agent, session,
             (long long)acp_page_total(p), acp_page_count(p), want);
    check_page(p, agent, session);
    acp_page_free(p);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stress_moves <store-uri> [writers] [readers] [ops]\n");
        return 2;
    }
    int nw = argc > 2 ? atoi(argv[2]) : 4, nr = argc > 3 ? atoi(argv[3]) : 4;
    ops = argc > 4 ? atoi(argv[4]) : ops;
    if (nw < 1 || nr < 0 || nw + nr > MAX_THREADS || ops < 1) {
        fprintf(stderr, "stress_moves: bad thread or op counts\n");
        return 2;
    }
    acp_error e;
    if (acp_store_open(argv[1], &store, &e) != ACP_OK) {
        fprintf(stderr, "stress_moves: %s: %s\n", argv[1], e.message);
        return 1;
    }
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < nw + nr; i++)
        pthread_create(&t[i], NULL, i < nw ? writer : reader, (void *)(intptr_t)i);
    for (int i = 0; i < nw + nr; i++)
        pthread_join(t[i], NULL);
    for (int a = -1; a < AGENTS; a++)
        for (int x = -1; x < SESSIONS; x++)
            check_final(nw, a, x);
    acp_store_close(store);
    if (failures) {
        fprintf(stderr, "stress_moves: %d failures\n", failures);
        return 1;
    }
    printf("stress_moves: ok\n");
    return 0;
}
