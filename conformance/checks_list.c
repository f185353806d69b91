/* SPDX-License-Identifier: MIT */
/*
 * checks_list.c - list_runs: order, filters, totals, limits, paging, cursors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int save(t_ctx *c, const char *id, const char *agent, const char *session,
                const char *created)
{
    CHECK_OK(acp_run_save(S, t_run_doc(c, id, agent, session, created), ACP_STRLEN, ERR));
    return 0;
}
#define SAVE(id, agent, session, created) CHECK_RESULT(save(c, (id), (agent), (session), (created)))

CONFORMANCE_CHECK(list_runs_orders_newest_first_with_ties_by_run_id_descending)
{
    OPEN();
    const char *t0 = "2025-06-01T12:00:00Z", *t1 = "2025-06-01T12:00:01Z",
               *t2 = "2025-06-01T12:00:02Z";
    /* Saved in an order that is neither by time nor by id. */
    SAVE("b-mid", "agent", NULL, t1);
    SAVE("z-old", "agent", NULL, t0);
    SAVE("a-mid", "agent", NULL, t1);
    SAVE("0-new", "agent", NULL, t2);
    SAVE("\xc3\xa9-mid", "agent", NULL, t1); /* é sorts after every ASCII byte */
    SAVE("B-mid", "agent", NULL, t1);        /* 'B' < 'a' byte-wise */
    SAVE("a-mid2", "agent", NULL, t1);       /* longer than its prefix "a-mid" */
    SAVE("m-mid", "agent", NULL, t1);
    const char *want[] = {"0-new", "\xc3\xa9-mid", "m-mid", "b-mid", "a-mid2",
                          "a-mid", "B-mid",        "z-old"};
    CHECK_LIST(NULL, NULL, want, 8);
    /* The same order, page by page. */
    for (int64_t off = 0; off < 8; off += 3) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.limit = 3;
        f.offset = off;
        acp_page *p;
        LIST_RUNS(p, &f);
        size_t expect = 8 - off < 3 ? (size_t)(8 - off) : 3;
        CHECK(acp_page_count(p) == expect, "page at offset %lld has %zu runs, expected %zu",
              (long long)off, acp_page_count(p), expect);
        for (size_t k = 0; k < expect; k++)
            CHECK(strcmp(acp_page_key(p, k), want[off + (int64_t)k]) == 0,
                  "offset %lld item %zu is \"%s\", expected \"%s\"", (long long)off, k,
                  acp_page_key(p, k), want[off + (int64_t)k]);
    }
    /* A later save of an older run does not make it newer. */
    SAVE("z-old", "agent", NULL, t0);
    CHECK_LIST(NULL, NULL, want, 8);
    return T_PASS;
}

static int check_times(t_ctx *c, const char *const *ids, const int64_t *us, size_t n)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    acp_page *p;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == n, "%zu runs listed, expected %zu", acp_page_count(p), n);
    for (size_t k = 0; k < n; k++)
        CHECK(acp_page_time_us(p, k) == us[k],
              "run \"%s\" is listed with time %lld us (%s), expected %lld us (%s)", ids[k],
              (long long)acp_page_time_us(p, k), t_time(c, acp_page_time_us(p, k)),
              (long long)us[k], t_time(c, us[k]));
    return 0;
}

CONFORMANCE_CHECK(list_runs_compares_timestamps_as_instants)
{
    OPEN();
    SAVE("utc", "agent", NULL, "2025-06-01T12:00:00Z");
    SAVE("plus2", "agent", NULL, "2025-06-01T14:00:00+02:00"); /* the same instant */
    SAVE("minus5", "agent", NULL, "2025-06-01T07:00:01-05:00");
    SAVE("micro", "agent", NULL, "2025-06-01T12:00:00.000001Z");
    SAVE("nanos", "agent", NULL, "2025-06-01T12:00:00.0000019Z"); /* truncated to 1 us */
    SAVE("half", "agent", NULL, "2025-06-01T12:00:00.5Z");
    SAVE("frac", "agent", NULL, "2025-06-01T13:59:59.999999+01:00");
    SAVE("half-hour", "agent", NULL, "2025-06-01T17:30:00.25+05:30");
    SAVE("old", "agent", NULL, "1969-12-31T23:59:59Z");
    SAVE("epoch", "agent", NULL, "1970-01-01T00:00:00Z");
    SAVE("future", "agent", NULL, "2300-01-01T00:00:00Z");
    SAVE("leap-day", "agent", NULL, "2024-02-29T23:59:59.999999Z");
    /* nanos and micro tie at 12:00:00.000001Z, utc and plus2 at 12:00:00Z:
     * each pair by run_id descending. */
    const char *want_fixed[] = {"future", "frac", "minus5", "half",  "half-hour", "nanos",
                                "micro",  "utc",  "plus2",  "leap-day", "epoch", "old"};
    CHECK_LIST(NULL, NULL, want_fixed, 12);
    const int64_t base = T_BASE_US;
    const int64_t us[] = {INT64_C(10413792000000000),
                          base + 3599 * T_SEC + 999999,
                          base + T_SEC,
                          base + 500000,
                          base + 250000,
                          base + 1,
                          base + 1,
                          base,
                          base,
                          INT64_C(1709251199999999),
                          0,
                          -T_SEC};
    CHECK_RESULT(check_times(c, want_fixed, us, 12));
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_items_carry_document_key_and_time)
{
    OPEN();
    const char *doc1 = t_run_doc(c, "item-1", "agent", "s", "2025-06-01T12:00:00.123456Z");
    const char *doc2 = t_run_doc(c, "item-2", "agent", NULL, "2025-06-01T12:00:01+00:00");
    CHECK_OK(acp_run_save(S, doc1, ACP_STRLEN, ERR));
    CHECK_OK(acp_run_save(S, doc2, ACP_STRLEN, ERR));
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 2, "%zu runs listed, expected 2", acp_page_count(p));
    size_t len = 0;
    const char *j = acp_page_json(p, 0, &len);
    CHECK_SAME_STR("listed run item-2", j, len, doc2);
    j = acp_page_json(p, 1, &len);
    CHECK_SAME_STR("listed run item-1", j, len, doc1);
    CHECK(strcmp(acp_page_key(p, 0), "item-2") == 0 && strcmp(acp_page_key(p, 1), "item-1") == 0,
          "keys are \"%s\", \"%s\"", acp_page_key(p, 0), acp_page_key(p, 1));
    CHECK(acp_page_time_us(p, 0) == T_BASE_US + T_SEC &&
              acp_page_time_us(p, 1) == T_BASE_US + 123456,
          "times are %lld and %lld us", (long long)acp_page_time_us(p, 0),
          (long long)acp_page_time_us(p, 1));
    CHECK(acp_page_seq(p, 0) == 0 && acp_page_seq(p, 1) == 0, "runs carry a sequence number");
    CHECK(acp_page_json(p, 2, &len) == NULL && acp_page_key(p, 2) == NULL,
          "a page returns an item past its end");
    return T_PASS;
}

/* 30 runs: agent alpha/beta/gamma by k%3, session s1/s2/none by (k/3)%3,
 * created one second apart; ids returned newest first. */
static int filter_fixture(t_ctx *c, const char **ids, const char **agents,
                          const char **sessions)
{
    static const char *const ag[] = {"alpha", "beta", "gamma"};
    static const char *const se[] = {"s1", "s2", NULL};
    for (int k = 0; k < 30; k++) {
        int slot = 29 - k;
        ids[slot] = t_printf(c, "run-%02d", k);
        agents[slot] = ag[k % 3];
        sessions[slot] = se[(k / 3) % 3];
        if (k == 29) {
            /* An explicit null session is no session, like an absent one. */
            char *doc = t_printf(c, "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":"
                                    "null,\"status\":\"created\",\"created_at\":\"%s\"}",
                                 ids[slot], agents[slot],
                                 t_time(c, T_BASE_US + k * T_SEC));
            sessions[slot] = NULL;
            CHECK_OK(acp_run_save(S, doc, ACP_STRLEN, ERR));
        } else {
            SAVE(ids[slot], agents[slot], sessions[slot], t_time(c, T_BASE_US + k * T_SEC));
        }
    }
    return 0;
}

/* The ids among ids[0..30) matching agent and session (NULL: any). */
static size_t select_ids(const char **ids, const char **agents, const char **sessions,
                         const char *agent, const char *session, const char **out)
{
    size_t n = 0;
    for (size_t k = 0; k < 30; k++)
        if ((!agent || strcmp(agents[k], agent) == 0) &&
            (!session || (sessions[k] && strcmp(sessions[k], session) == 0)))
            out[n++] = ids[k];
    return n;
}

#define CHECK_SELECTION(agent, session)                                                    \
    do {                                                                                   \
        const char *sel_[30];                                                              \
        size_t nsel_ = select_ids(ids, agents, sessions, (agent), (session), sel_);        \
        CHECK_LIST((agent), (session), sel_, nsel_);                                       \
    } while (0)

CONFORMANCE_CHECK(list_runs_filters_by_agent)
{
    OPEN();
    const char *ids[30], *agents[30], *sessions[30];
    CHECK_RESULT(filter_fixture(c, ids, agents, sessions));
    CHECK_SELECTION("alpha", NULL);
    CHECK_SELECTION("beta", NULL);
    CHECK_SELECTION("gamma", NULL);
    const char *none[] = {NULL};
    CHECK_LIST("alph", NULL, none, 0);
    CHECK_LIST("ALPHA", NULL, none, 0);
    CHECK_LIST("alpha ", NULL, none, 0);
    CHECK_LIST("%", NULL, none, 0);
    CHECK_LIST("*", NULL, none, 0);
    CHECK_LIST("delta", NULL, none, 0);
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_filters_by_session)
{
    OPEN();
    const char *ids[30], *agents[30], *sessions[30];
    CHECK_RESULT(filter_fixture(c, ids, agents, sessions));
    CHECK_SELECTION(NULL, "s1");
    CHECK_SELECTION(NULL, "s2");
    const char *none[] = {NULL};
    CHECK_LIST(NULL, "s", none, 0);
    CHECK_LIST(NULL, "S1", none, 0);
    CHECK_LIST(NULL, "null", none, 0);
    CHECK_LIST(NULL, "%", none, 0);
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_filters_by_agent_and_session_together)
{
    OPEN();
    const char *ids[30], *agents[30], *sessions[30];
    CHECK_RESULT(filter_fixture(c, ids, agents, sessions));
    static const char *const ag[] = {"alpha", "beta", "gamma"};
    static const char *const se[] = {"s1", "s2"};
    for (int a = 0; a < 3; a++)
        for (int s = 0; s < 2; s++)
            CHECK_SELECTION(ag[a], se[s]);
    const char *none[] = {NULL};
    CHECK_LIST("alpha", "s3", none, 0);
    CHECK_LIST("delta", "s1", none, 0);
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_filters_follow_the_current_version)
{
    OPEN();
    const char *none[] = {NULL};
    const char *mover[] = {"mover"};
    const char *t = "2025-06-01T12:00:00Z";
    SAVE("mover", "agent-a", "sess-1", t);
    SAVE("other", "agent-a", "sess-1", "2025-06-01T11:00:00Z");
    const char *both[] = {"mover", "other"};
    CHECK_LIST("agent-a", NULL, both, 2);
    CHECK_LIST(NULL, "sess-1", both, 2);
    SAVE("mover", "agent-b", "sess-2", t);
    const char *other[] = {"other"};
    CHECK_LIST("agent-a", NULL, other, 1);
    CHECK_LIST(NULL, "sess-1", other, 1);
    CHECK_LIST("agent-b", NULL, mover, 1);
    CHECK_LIST(NULL, "sess-2", mover, 1);
    CHECK_LIST("agent-b", "sess-2", mover, 1);
    CHECK_LIST("agent-a", "sess-2", none, 0);
    SAVE("mover", "agent-b", NULL, t); /* leaves its session */
    CHECK_LIST(NULL, "sess-2", none, 0);
    CHECK_LIST("agent-b", NULL, mover, 1);
    SAVE("mover", "agent-a", "sess-1", "2025-06-01T10:00:00Z"); /* back, and older */
    const char *back[] = {"other", "mover"};
    CHECK_LIST("agent-a", "sess-1", back, 2);
    CHECK_LIST("agent-b", NULL, none, 0);
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_total_is_independent_of_paging)
{
    OPEN();
    for (int k = 0; k < 25; k++)
        SAVE(t_printf(c, "t-%02d", k), k % 5 == 0 ? "five" : "rest", NULL,
             t_time(c, T_BASE_US + k * T_SEC));
    static const int64_t pages[][2] = {{1, 0},  {10, 0}, {10, 10}, {10, 20}, {10, 24},
                                       {1000, 0}, {5, 25}, {5, 100}, {3, 2}};
    for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
        for (int filtered = 0; filtered < 2; filtered++) {
            int64_t n = filtered ? 5 : 25;
            acp_run_filter f = ACP_RUN_FILTER_INIT;
            f.agent_name = filtered ? "five" : NULL;
            f.limit = pages[k][0];
            f.offset = pages[k][1];
            f.want_total = 1;
            acp_page *p;
            LIST_RUNS(p, &f);
            int64_t rest = n - f.offset < 0 ? 0 : n - f.offset;
            size_t expect = (size_t)(rest < f.limit ? rest : f.limit);
            CHECK(acp_page_total(p) == n,
                  "limit %lld offset %lld%s: total %lld, expected %lld", (long long)f.limit,
                  (long long)f.offset, filtered ? " agent=five" : "",
                  (long long)acp_page_total(p), (long long)n);
            CHECK(acp_page_count(p) == expect,
                  "limit %lld offset %lld%s: %zu runs, expected %zu", (long long)f.limit,
                  (long long)f.offset, filtered ? " agent=five" : "", acp_page_count(p), expect);
            t_release(c, p);
        }
    }
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_total_is_only_reported_when_asked)
{
    OPEN();
    for (int k = 0; k < 3; k++)
        SAVE(t_printf(c, "r%d", k), "agent", NULL, NULL);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p;
    LIST_RUNS(p, &f);
    CHECK(acp_page_total(p) == -1, "total without want_total is %lld, expected -1",
          (long long)acp_page_total(p));
    CHECK(acp_page_count(p) == 3, "%zu runs, expected 3", acp_page_count(p));
    f.want_total = 1;
    LIST_RUNS(p, &f);
    CHECK(acp_page_total(p) == 3, "total with want_total is %lld, expected 3",
          (long long)acp_page_total(p));
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_limit_zero_returns_only_the_total)
{
    OPEN();
    for (int k = 0; k < 12; k++)
        SAVE(t_printf(c, "z%02d", k), k < 4 ? "four" : "eight", NULL, NULL);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 0 && acp_page_total(p) == 12,
          "limit 0: %zu runs and total %lld, expected none and 12", acp_page_count(p),
          (long long)acp_page_total(p));
    f.agent_name = "four";
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 0 && acp_page_total(p) == 4,
          "limit 0 agent=four: %zu runs and total %lld, expected none and 4", acp_page_count(p),
          (long long)acp_page_total(p));
    f.offset = 2;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 0 && acp_page_total(p) == 4,
          "limit 0 offset 2: %zu runs and total %lld, expected none and 4", acp_page_count(p),
          (long long)acp_page_total(p));
    f.want_total = 0;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 0, "limit 0 without total: %zu runs", acp_page_count(p));
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_refuses_bad_limits_and_offsets)
{
    OPEN();
    SAVE("only", "agent", NULL, NULL);
    static const int64_t bad_limits[] = {1001, -1, 100000, INT64_MAX, INT64_MIN};
    acp_page *p;
    for (size_t k = 0; k < sizeof bad_limits / sizeof bad_limits[0]; k++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.limit = bad_limits[k];
        t_err_reset(c);
        acp_status st = acp_run_list(S, &f, &p, ERR);
        if (st == ACP_OK)
            acp_page_free(p);
        CHECK(st == ACP_INVALID, "list_runs limit %lld returned %s, expected INVALID",
              (long long)bad_limits[k], acp_status_name(st));
    }
    static const int64_t bad_offsets[] = {-1, INT64_MIN};
    for (size_t k = 0; k < 2; k++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.offset = bad_offsets[k];
        t_err_reset(c);
        acp_status st = acp_run_list(S, &f, &p, ERR);
        if (st == ACP_OK)
            acp_page_free(p);
        CHECK(st == ACP_INVALID, "list_runs offset %lld returned %s, expected INVALID",
              (long long)bad_offsets[k], acp_status_name(st));
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 1, "limit 1000: %zu runs", acp_page_count(p));
    f.limit = 1;
    f.offset = INT64_MAX;
    f.want_total = 1;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 0 && acp_page_total(p) == 1,
          "offset INT64_MAX: %zu runs, total %lld", acp_page_count(p),
          (long long)acp_page_total(p));
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_offset_past_the_end_is_empty)
{
    OPEN();
    for (int k = 0; k < 5; k++)
        SAVE(t_printf(c, "e%d", k), "agent", NULL, NULL);
    static const int64_t offsets[] = {5, 6, 1000, 1000000};
    for (size_t k = 0; k < 4; k++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.offset = offsets[k];
        f.want_total = 1;
        acp_page *p;
        LIST_RUNS(p, &f);
        CHECK(acp_page_count(p) == 0 && acp_page_total(p) == 5,
              "offset %lld of 5 runs: %zu runs, total %lld", (long long)offsets[k],
              acp_page_count(p), (long long)acp_page_total(p));
        CHECK(acp_page_next_cursor(p) == NULL, "an empty page has a next cursor");
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.offset = 4;
    acp_page *p;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 1 && strcmp(acp_page_key(p, 0), "e0") == 0,
          "offset 4 of 5 runs does not return the oldest one");
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_defaults_apply_without_filter)
{
    OPEN();
    const char *ids[15];
    for (int k = 0; k < 15; k++) {
        ids[14 - k] = t_printf(c, "d%02d", k);
        SAVE(ids[14 - k], "agent", NULL, t_time(c, T_BASE_US + k * T_SEC));
    }
    acp_page *p;
    LIST_RUNS(p, NULL);
    CHECK(acp_page_count(p) == 10, "list_runs without filter returned %zu runs, expected 10",
          acp_page_count(p));
    for (size_t k = 0; k < 10; k++)
        CHECK(strcmp(acp_page_key(p, k), ids[k]) == 0, "item %zu is \"%s\", expected \"%s\"", k,
              acp_page_key(p, k), ids[k]);
    CHECK(acp_page_total(p) == -1, "list_runs without filter reports total %lld",
          (long long)acp_page_total(p));
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *q;
    LIST_RUNS(q, &f);
    CHECK(acp_page_count(q) == 10, "ACP_RUN_FILTER_INIT returned %zu runs, expected 10",
          acp_page_count(q));
    for (size_t k = 0; k < 10; k++)
        CHECK(strcmp(acp_page_key(q, k), ids[k]) == 0, "item %zu is \"%s\", expected \"%s\"", k,
              acp_page_key(q, k), ids[k]);
    return T_PASS;
}

/* 250 runs, with up to 7 sharing each created_at, ids in scrambled order,
 * agent "even"/"odd"; the expected order (newest first) goes to want. */
enum { N_PAGED = 250 };

typedef struct paged_run {
    const char *id;
    int64_t us;
    int odd;
} paged_run;

static int paged_cmp(const void *a, const void *b)
{
    const paged_run *x = a, *y = b;
    if (x->us != y->us)
        return x->us < y->us ? 1 : -1;
    return -strcmp(x->id, y->id);
}

static int paged_fixture(t_ctx *c, paged_run *runs)
{
    for (int k = 0; k < N_PAGED; k++) {
        unsigned h = (unsigned)k * 2654435761u;
        runs[k].id = t_printf(c, "p-%08x-%d", h, k);
        runs[k].us = T_BASE_US + (k / 7) * T_SEC;
        runs[k].odd = k % 2;
        SAVE(runs[k].id, runs[k].odd ? "odd" : "even", NULL, t_time(c, runs[k].us));
    }
    qsort(runs, N_PAGED, sizeof runs[0], paged_cmp);
    return 0;
}

/* Page through with offsets; the keys go to out (n of them). */
static int walk_offsets(t_ctx *c, const char *agent, int64_t limit, const char **out,
                        size_t max, size_t *n)
{
    *n = 0;
    for (int64_t off = 0;; off += limit) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.agent_name = agent;
        f.limit = limit;
        f.offset = off;
        acp_page *p;
        LIST_RUNS(p, &f);
        size_t count = acp_page_count(p);
        for (size_t k = 0; k < count; k++) {
            CHECK(*n < max, "offset paging returned more than %zu runs", max);
            out[(*n)++] = t_strdup(c, acp_page_key(p, k));
        }
        t_release(c, p);
        if (count < (size_t)limit)
            return 0;
    }
}

/* Page through with cursors (and a constant extra offset per page). */
static int walk_cursor(t_ctx *c, const char *agent, int64_t limit, const char **out,
                       size_t max, size_t *n)
{
    *n = 0;
    const char *cursor = NULL;
    for (int pages = 0;; pages++) {
        CHECK(pages <= (int)max + 1, "cursor paging does not end");
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.agent_name = agent;
        f.limit = limit;
        f.cursor = cursor;
        acp_page *p;
        LIST_RUNS(p, &f);
        size_t count = acp_page_count(p);
        for (size_t k = 0; k < count; k++) {
            CHECK(*n < max, "cursor paging returned more than %zu runs", max);
            out[(*n)++] = t_strdup(c, acp_page_key(p, k));
        }
        const char *next = acp_page_next_cursor(p);
        if (count < (size_t)limit)
            CHECK(next == NULL, "a short page (%zu of %lld runs) has a next cursor", count,
                  (long long)limit);
        if (count == 0 || next == NULL) {
            t_release(c, p);
            return 0;
        }
        cursor = t_strdup(c, next);
        t_release(c, p);
    }
}

static int compare_walk(t_ctx *c, int line, const char *how, const char **got, size_t n,
                        const paged_run *runs, int only_odd)
{
    size_t w = 0;
    for (size_t k = 0; k < N_PAGED; k++) {
        if (only_odd && !runs[k].odd)
            continue;
        if (w >= n)
            return t_fail(c, __FILE__, line, "%s stopped after %zu runs; \"%s\" is missing",
                          how, n, runs[k].id);
        if (strcmp(got[w], runs[k].id) != 0)
            return t_fail(c, __FILE__, line, "%s: item %zu is \"%s\", expected \"%s\"", how, w,
                          got[w], runs[k].id);
        w++;
    }
    if (w != n)
        return t_fail(c, __FILE__, line, "%s returned %zu runs, expected %zu", how, n, w);
    return 0;
}

CONFORMANCE_CHECK(list_runs_pages_every_run_exactly_once)
{
    OPEN();
    paged_run runs[N_PAGED];
    CHECK_RESULT(paged_fixture(c, runs));
    const char *got[N_PAGED + 1];
    size_t n;
    static const int64_t limits[] = {7, 1, 10, 250, 1000};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        CHECK_RESULT(walk_offsets(c, NULL, limits[k], got, N_PAGED, &n));
        CHECK_RESULT(compare_walk(c, __LINE__, t_printf(c, "offset paging by %lld",
                                                        (long long)limits[k]),
                                  got, n, runs, 0));
    }
    CHECK_RESULT(walk_offsets(c, "odd", 6, got, N_PAGED, &n));
    CHECK_RESULT(compare_walk(c, __LINE__, "offset paging by 6 of agent odd", got, n, runs, 1));
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_cursor_pages_every_run_exactly_once)
{
    OPEN();
    paged_run runs[N_PAGED];
    CHECK_RESULT(paged_fixture(c, runs));
    const char *got[N_PAGED + 1];
    size_t n;
    static const int64_t limits[] = {7, 1, 10, 250, 1000};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        CHECK_RESULT(walk_cursor(c, NULL, limits[k], got, N_PAGED, &n));
        CHECK_RESULT(compare_walk(c, __LINE__, t_printf(c, "cursor paging by %lld",
                                                        (long long)limits[k]),
                                  got, n, runs, 0));
    }
    CHECK_RESULT(walk_cursor(c, "odd", 6, got, N_PAGED, &n));
    CHECK_RESULT(compare_walk(c, __LINE__, "cursor paging by 6 of agent odd", got, n, runs, 1));

    /* The offset applies after the cursor. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 20;
    acp_page *p;
    LIST_RUNS(p, &f);
    const char *next = acp_page_next_cursor(p);
    CHECK(next != NULL, "a full first page of 20 out of 250 runs has no next cursor");
    f.cursor = t_strdup(c, next);
    f.offset = 3;
    f.limit = 5;
    LIST_RUNS(p, &f);
    CHECK(acp_page_count(p) == 5, "cursor + offset 3: %zu runs, expected 5", acp_page_count(p));
    for (size_t k = 0; k < 5; k++)
        CHECK(strcmp(acp_page_key(p, k), runs[23 + k].id) == 0,
              "cursor + offset 3: item %zu is \"%s\", expected \"%s\"", k, acp_page_key(p, k),
              runs[23 + k].id);
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_cursor_survives_changes_before_it)
{
    OPEN();
    const char *ids[12];
    for (int k = 0; k < 12; k++) {
        ids[11 - k] = t_printf(c, "c%02d", k);
        SAVE(ids[11 - k], "agent", NULL, t_time(c, T_BASE_US + k * T_SEC));
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 5;
    acp_page *p;
    LIST_RUNS(p, &f);
    const char *next = acp_page_next_cursor(p);
    CHECK(next != NULL, "a full first page of 5 out of 12 runs has no next cursor");
    f.cursor = t_strdup(c, next);
    /* The last run seen goes away, a newer run arrives: the next page stays. */
    CHECK_OK(acp_run_delete(S, ids[4], ERR));
    CHECK_OK(acp_run_delete(S, ids[3], ERR));
    SAVE("newest", "agent", NULL, t_time(c, T_BASE_US + 100 * T_SEC));
    /* And a run placed after the cursor shows up on it. */
    SAVE("c04b", "agent", NULL, t_time(c, T_BASE_US + 7 * T_SEC)); /* same time as c07 */
    LIST_RUNS(p, &f);
    /* The cursor is c07 (now deleted); c04b ties with it in time and sorts
     * after "c07" by run_id descending, so it comes first after the cursor. */
    const char *want2[] = {"c04b", "c06", "c05", "c04", "c03"};
    CHECK(acp_page_count(p) == 5, "page after the cursor has %zu runs, expected 5",
          acp_page_count(p));
    for (size_t k = 0; k < 5; k++)
        CHECK(strcmp(acp_page_key(p, k), want2[k]) == 0,
              "page after the cursor: item %zu is \"%s\", expected \"%s\"", k,
              acp_page_key(p, k), want2[k]);
    return T_PASS;
}

CONFORMANCE_CHECK(list_runs_refuses_bad_cursor_text)
{
    OPEN();
    for (int k = 0; k < 3; k++)
        SAVE(t_printf(c, "bc%d", k), "agent", NULL, NULL);
    const char *bad[] = {"", "x", "not-a-cursor", "%%%%", "////", "{}", "0", "-1",
                         "\xff\xfe", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                         NULL};
    char *longc = t_alloc(c, 5001);
    memset(longc, 'Q', 5000);
    longc[5000] = '\0';
    bad[sizeof bad / sizeof bad[0] - 1] = longc;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.cursor = bad[k];
        acp_page *p;
        t_err_reset(c);
        acp_status st = acp_run_list(S, &f, &p, ERR);
        if (st == ACP_OK)
            acp_page_free(p);
        CHECK(st == ACP_INVALID, "list_runs with cursor %.60s returned %s, expected INVALID",
              t_json_str(c, bad[k]), acp_status_name(st));
    }
    return T_PASS;
}
