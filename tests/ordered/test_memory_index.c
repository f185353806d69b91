/* SPDX-License-Identifier: MIT */
/*
 * test_memory_index.c - the memory backend's ordered indexes against a
 * model: random saves that move runs between agents, sessions and created
 * times (with and without created_at), deletes, then every filter listed
 * whole, by random offset pages and by cursor walks, with totals; and
 * sessions saved, deleted and listed page by page.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage.h"
#include "run_filter.h"

#define RUNS 400
#define AGENTS 4
#define SESSIONS 5 /* session -1: none */
#define SESS_IDS 300

typedef struct mrun {
    int in, agent, session, created;
} mrun;

static mrun model[RUNS];
static uint64_t rng = 99;
static int rnd(int n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng >> 33) % (uint64_t)n);
}

static void save_run(acp_store *s, int i, int agent, int session, int created)
{
    char doc[512], sess[64] = "null", at[64] = "";
    if (session >= 0)
        snprintf(sess, sizeof sess, "\"s%d\"", session);
    if (created >= 0)
        snprintf(at, sizeof at, ",\"created_at\":\"2025-06-01T12:00:%02dZ\"", created);
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"r%03d\",\"agent_name\":\"a%d\",\"session_id\":%s,"
             "\"status\":\"created\"%s}",
             i, agent, sess, at);
    acp_error e;
    cr_assert_eq(acp_run_save(s, doc, strlen(doc), &e), ACP_OK, "%s", e.message);
}

/* The model's matches of a filter (agent/session -1: any), in list order. */
static int before(int a, int b)
{
    if (model[a].created != model[b].created)
        return model[a].created > model[b].created;
    return a > b; /* ids r000..r399 compare like their numbers */
}

static size_t matches(int agent, int session, int *out)
{
    size_t n = 0;
    for (int i = 0; i < RUNS; i++) {
        if (!model[i].in || (agent >= 0 && model[i].agent != agent) ||
            (session >= 0 && model[i].session != session))
            continue;
        size_t k = n++;
        while (k > 0 && before(i, out[k - 1])) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = i;
    }
    return n;
}

static acp_page *list(acp_store *s, int agent, int session, int64_t limit, int64_t offset,
                      const char *cursor)
{
    char an[16], sn[16];
    acp_run_filter f = run_filter(an, sn, agent, session, limit, offset, cursor);
    acp_page *p;
    acp_error e;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    return p;
}

static void expect_page(const acp_page *p, const int *want, size_t n, const char *what)
{
    cr_assert_eq(acp_page_count(p), n, "%s: %zu runs, expected %zu", what, acp_page_count(p), n);
    for (size_t k = 0; k < n; k++) {
        char id[16];
        snprintf(id, sizeof id, "r%03d", want[k]);
        cr_assert_str_eq(acp_page_key(p, k), id, "%s: item %zu", what, k);
    }
}

static void check_filter(acp_store *s, int agent, int session)
{
    static int want[RUNS];
    size_t n = matches(agent, session, want);
    char what[64];
    snprintf(what, sizeof what, "agent %d session %d", agent, session);
    acp_page *p = list(s, agent, session, 1000, 0, NULL);
    cr_assert_eq(acp_page_total(p), (int64_t)n, "%s: total", what);
    expect_page(p, want, n, what);
    acp_page_free(p);
    /* Pages at random offsets. */
    for (int k = 0; k < 4; k++) {
        int64_t off = rnd((int)n + 3), lim = 1 + rnd(9);
        p = list(s, agent, session, lim, off, NULL);
        size_t got = (size_t)off >= n ? 0 : n - (size_t)off < (size_t)lim ? n - (size_t)off : (size_t)lim;
        expect_page(p, want + (off < (int64_t)n ? off : 0), got, what);
        acp_page_free(p);
    }
    /* A cursor walk, pages of 7, with a small offset after the first. */
    size_t at = 0;
    char *cursor = NULL;
    for (;;) {
        int64_t off = cursor ? rnd(2) : 0;
        p = list(s, agent, session, 7, off, cursor);
        at += (size_t)off;
        size_t got = at >= n ? 0 : n - at < 7 ? n - at : 7;
        expect_page(p, want + (at < n ? at : 0), got, what);
        at += got;
        free(cursor);
        cursor = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!cursor || got == 0)
            break;
    }
    free(cursor);
}

Test(memory_index, lists_follow_moves_and_deletes)
{
    acp_store *s;
    acp_error e;
    cr_assert_eq(acp_store_open("memory:", &s, &e), ACP_OK, "%s", e.message);
    for (int round = 0; round < 25; round++) {
        for (int o = 0; o < 150; o++) {
            int i = rnd(RUNS);
            if (model[i].in && rnd(5) == 0) {
                char id[16];
                snprintf(id, sizeof id, "r%03d", i);
                cr_assert_eq(acp_run_delete(s, id, &e), ACP_OK, "%s", e.message);
                model[i].in = 0;
                continue;
            }
            if (model[i].in && rnd(4) == 0) { /* the same place in every list */
                save_run(s, i, model[i].agent, model[i].session, model[i].created);
                continue;
            }
            int agent = rnd(AGENTS), session = rnd(SESSIONS + 1) - 1;
            /* Without created_at an existing run keeps its time. */
            int keep = model[i].in && rnd(4) == 0;
            int created = keep ? -1 : rnd(20); /* few instants: many ties */
            save_run(s, i, agent, session, created);
            model[i] = (mrun){1, agent, session, keep ? model[i].created : created};
        }
        check_filter(s, -1, -1);
        for (int a = 0; a < AGENTS; a++)
            check_filter(s, a, -1);
        for (int x = 0; x < SESSIONS; x++)
            check_filter(s, -1, x);
        check_filter(s, rnd(AGENTS), rnd(SESSIONS));
        check_filter(s, AGENTS, -1);        /* an agent with no runs */
        check_filter(s, 0, SESSIONS);       /* a session with no runs */
    }
    acp_store_close(s);
}

Test(memory_index, sessions_list_in_id_order)
{
    static int in[SESS_IDS];
    acp_store *s;
    acp_error e;
    cr_assert_eq(acp_store_open("memory:", &s, &e), ACP_OK, "%s", e.message);
    for (int round = 0; round < 10; round++) {
        for (int o = 0; o < 200; o++) {
            int i = rnd(SESS_IDS);
            char doc[64], id[16];
            snprintf(id, sizeof id, "s%03d", i);
            if (in[i] && rnd(3) == 0) {
                cr_assert_eq(acp_session_delete(s, id, &e), ACP_OK, "%s", e.message);
                in[i] = 0;
            } else {
                snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"n\":%d}", id, o);
                cr_assert_eq(acp_session_save(s, doc, strlen(doc), &e), ACP_OK, "%s", e.message);
                in[i] = 1;
            }
        }
        /* Walk by after_id in pages of 1..13, from the start or a random id. */
        int from = rnd(2) ? -1 : rnd(SESS_IDS);
        char after[16];
        if (from >= 0)
            snprintf(after, sizeof after, "s%03d", from);
        int next = from + 1;
        for (;;) {
            int64_t lim = 1 + rnd(13);
            acp_page *p;
            cr_assert_eq(acp_session_list(s, from >= 0 || next > 0 ? after : NULL, lim, &p, &e),
                         ACP_OK, "%s", e.message);
            size_t k = 0;
            for (; next < SESS_IDS && k < (size_t)lim; next++) {
                if (!in[next])
                    continue;
                char id[16];
                snprintf(id, sizeof id, "s%03d", next);
                cr_assert_lt(k, acp_page_count(p), "session %s missing", id);
                cr_assert_str_eq(acp_page_key(p, k), id);
                snprintf(after, sizeof after, "%s", id);
                k++;
            }
            cr_assert_eq(acp_page_count(p), k, "sessions listed after the last one");
            acp_page_free(p);
            if (k == 0)
                break;
        }
    }
    acp_store_close(s);
}
