/* SPDX-License-Identifier: MIT */
/*
 * checks_stats.c - statistics against a full walk: whatever a backend
 * counts with (its own counters and indexes, or the core's walk), the
 * figures must be exactly those that listing every run, event and session
 * gives, after random saves, status and agent changes, deletes, events,
 * sessions, and a reopen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* What the walk found: runs per status and per agent (labels kept). */
#define WALK_LABELS 32
typedef struct walk_fig {
    const char *label;
    int64_t n;
} walk_fig;
typedef struct walk {
    int64_t runs, events, sessions; /* sessions -1: not listable */
    walk_fig status[WALK_LABELS], agent[WALK_LABELS];
    size_t n_status, n_agent;
} walk;

static int fig_add(walk_fig *v, size_t *n, const char *label)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v[i].label, label)) {
            v[i].n++;
            return 0;
        }
    if (*n == WALK_LABELS)
        return -1;
    v[(*n)++] = (walk_fig){label, 1};
    return 0;
}

/* The value of a string member of a flat JSON document (our own docs:
 * "name":"value" without escapes). */
static const char *member(t_ctx *c, const char *doc, size_t len, const char *name)
{
    const char *key = t_printf(c, "\"%s\":\"", name);
    char *d = t_alloc(c, len + 1);
    memcpy(d, doc, len);
    d[len] = '\0';
    const char *p = strstr(d, key);
    if (!p)
        return NULL;
    p += strlen(key);
    const char *end = strchr(p, '"');
    return end ? t_printf(c, "%.*s", (int)(end - p), p) : NULL;
}

/* Every run with its events, and every session, page by page. */
static int walk_store(t_ctx *c, walk *w)
{
    memset(w, 0, sizeof *w);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 7; /* several pages */
    const char *cursor = NULL;
    do {
        acp_page *p;
        f.cursor = cursor;
        CHECK_OK(acp_run_list(S, &f, &p, ERR));
        t_keep(c, p, t_free_page);
        for (size_t i = 0; i < acp_page_count(p); i++) {
            size_t len;
            const char *doc = acp_page_json(p, i, &len), *id = acp_page_key(p, i);
            const char *st = member(c, doc, len, "status");
            const char *ag = member(c, doc, len, "agent_name");
            CHECK(st && ag, "run %s: no status or agent in its document", id);
            CHECK(!fig_add(w->status, &w->n_status, st) && !fig_add(w->agent, &w->n_agent, ag),
                  "too many labels");
            w->runs++;
            acp_event_filter ef = ACP_EVENT_FILTER_INIT;
            ef.limit = 5;
            for (;;) {
                acp_page *e;
                CHECK_OK(acp_event_list(S, id, &ef, &e, ERR));
                size_t n = acp_page_count(e);
                if (n)
                    ef.after_seq = acp_page_seq(e, n - 1);
                acp_page_free(e);
                w->events += (int64_t)n;
                if (n < 5)
                    break;
            }
        }
        cursor = acp_page_next_cursor(p);
    } while (cursor);
    if (!t_lists_sessions(c)) {
        w->sessions = -1;
        return 0;
    }
    const char *after = NULL;
    do {
        acp_page *p;
        CHECK_OK(acp_session_list(S, after, 4, &p, ERR));
        t_keep(c, p, t_free_page);
        w->sessions += (int64_t)acp_page_count(p);
        after = acp_page_next_cursor(p);
    } while (after);
    return 0;
}

/* The store's figures equal the walk's: totals, and per status and per
 * agent in both directions (a figure of 0 stands for an absent label). */
static int same_as_walk(t_ctx *c, const char *when)
{
    walk w;
    CHECK_RESULT(walk_store(c, &w));
    acp_stats *st = NULL;
    CHECK_OK(acp_store_stats(S, &st, ERR));
    t_keep(c, st, (void (*)(void *))acp_stats_free);
    CHECK(acp_stats_value(st, ACP_STAT_RUNS, NULL) == w.runs, "%s: runs %lld, the walk %lld",
          when, (long long)acp_stats_value(st, ACP_STAT_RUNS, NULL), (long long)w.runs);
    CHECK(acp_stats_value(st, ACP_STAT_EVENTS, NULL) == w.events,
          "%s: events %lld, the walk %lld", when,
          (long long)acp_stats_value(st, ACP_STAT_EVENTS, NULL), (long long)w.events);
    int64_t sessions = acp_stats_value(st, ACP_STAT_SESSIONS, NULL);
    CHECK(sessions == w.sessions, "%s: sessions %lld, the walk %lld", when, (long long)sessions,
          (long long)w.sessions);
    for (int k = 0; k < 2; k++) {
        int kind = k ? ACP_STAT_RUNS_BY_AGENT : ACP_STAT_RUNS_BY_STATUS;
        const walk_fig *v = k ? w.agent : w.status;
        size_t n = k ? w.n_agent : w.n_status;
        for (size_t i = 0; i < n; i++)
            CHECK(acp_stats_value(st, kind, v[i].label) == v[i].n, "%s: %s %s: %lld, the walk %lld",
                  when, acp_stat_name(kind), v[i].label,
                  (long long)acp_stats_value(st, kind, v[i].label), (long long)v[i].n);
        int fk;
        const char *label;
        int64_t value;
        for (size_t i = 0; acp_stats_get(st, i, &fk, &label, &value); i++) {
            if (fk != kind || value == 0)
                continue;
            int known = 0;
            for (size_t j = 0; j < n; j++)
                known |= !strcmp(v[j].label, label);
            CHECK(known, "%s: %s %s: %lld, the walk has none", when, acp_stat_name(kind), label,
                  (long long)value);
        }
    }
    return 0;
}

/* A small deterministic generator: the same changes in every run. */
static unsigned t_rand(uint32_t *state, unsigned n)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) % n;
}

static const char *const STATS_STATUSES[] = {"created",   "in-progress", "awaiting", "cancelling",
                                             "cancelled", "completed",   "failed"};

CONFORMANCE_CHECK(stats_equal_a_full_walk_after_random_changes)
{
    OPEN();
    enum { IDS = 24, STEPS = 160 };
    int live[IDS] = {0};
    int sessions = t_lists_sessions(c);
    uint32_t rnd = 12345;
#define RND(n) t_rand(&rnd, (n))
    CHECK_RESULT(same_as_walk(c, "empty"));
    for (int step = 0; step < STEPS; step++) {
        unsigned op = RND(10), i = RND(IDS);
        const char *id = t_printf(c, "st-%02u", i);
        if (op < 4) { /* save: a new run, or a new status, agent or session */
            static const char *const agents[] = {"alpha", "beta", "gamma", "delta"};
            const char *sess = RND(3) ? t_printf(c, "ss-%u", RND(3)) : NULL;
            const char *doc = t_printf(
                c, "{\"run_id\":\"%s\",\"agent_name\":\"%s\",%s\"status\":\"%s\",\"output\":[]}",
                id, agents[RND(4)], sess ? t_printf(c, "\"session_id\":\"%s\",", sess) : "",
                STATS_STATUSES[RND(7)]);
            CHECK_OK(acp_run_save(S, doc, ACP_STRLEN, ERR));
            live[i] = 1;
        } else if (op < 7) { /* events of a live run */
            if (!live[i])
                continue;
            for (unsigned n = 1 + RND(4); n > 0; n--)
                CHECK_OK(acp_event_add(S, id, "{\"type\":\"x\"}", ACP_STRLEN, NULL, ERR));
        } else if (op == 7) { /* delete, with its events */
            if (!live[i])
                continue;
            CHECK_OK(acp_run_delete(S, id, ERR));
            live[i] = 0;
        } else if (sessions) { /* save or delete a session */
            const char *sid = t_printf(c, "ss-%u", i % 5);
            if (op == 8)
                CHECK_OK(acp_session_save(S, t_session_doc(c, sid, "{}"), ACP_STRLEN, ERR));
            else
                (void)acp_session_delete(S, sid, ERR);
        }
        if (step % 40 == 39)
            CHECK_RESULT(same_as_walk(c, t_printf(c, "after step %d", step)));
    }
#undef RND
    REOPEN();
    CHECK_RESULT(same_as_walk(c, "reopened"));
    return T_PASS;
}
