/* SPDX-License-Identifier: MIT */
/*
 * checks_events_of_runs.c - the events of many runs in one call
 * (acp_event_list_runs, the plugin's get_events_of_runs): the same events,
 * in the same order, as one acp_event_list per run, whatever the page size
 * and starting point.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

#define NRUNS 6

/* The runs asked for, in an order that is neither sorted nor reversed;
 * "m-none" has no events at all, "m-norec" events but no run record. */
static const char *const run_ids[NRUNS] = {"m-c", "m-a", "m-none", "m-norec", "m-b", "m-d"};
static const int counts[NRUNS] = {3, 5, 0, 2, 1, 7};

typedef struct expect {
    const char *run;
    int64_t seq, stored_us;
    const char *doc;
    size_t len;
} expect;

/* The events the fallback gives: one acp_event_list per run. */
static int expected(t_ctx *c, expect *out, size_t *n)
{
    *n = 0;
    for (int r = 0; r < NRUNS; r++) {
        acp_page *p;
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = 1000;
        LIST_EVENTS(p, run_ids[r], &f);
        CHECK(acp_page_count(p) == (size_t)counts[r], "run %s has %zu events, added %d",
              run_ids[r], acp_page_count(p), counts[r]);
        for (size_t i = 0; i < acp_page_count(p); i++) {
            expect *e = &out[(*n)++];
            e->run = run_ids[r];
            e->seq = acp_page_seq(p, i);
            e->stored_us = acp_page_time_us(p, i);
            e->doc = acp_page_json(p, i, &e->len);
        }
    }
    return 0;
}

/* Page through runs[from..] after `after` with pages of `limit`, and
 * compare every event with want[at..]. */
static int page_through(t_ctx *c, const expect *want, size_t nwant, size_t at, size_t from,
                        int64_t after, int64_t limit)
{
    for (;;) {
        acp_page *p;
        CHECK_OK(acp_event_list_runs(S, run_ids + from, NRUNS - from, after, limit, &p, ERR));
        t_keep(c, p, t_free_page);
        size_t n = acp_page_count(p);
        CHECK(n <= (size_t)limit, "limit %lld gave %zu events", (long long)limit, n);
        for (size_t i = 0; i < n; i++, at++) {
            CHECK(at < nwant, "limit %lld: more events than one list per run gives",
                  (long long)limit);
            const expect *e = &want[at];
            size_t len = 0;
            const char *doc = acp_page_json(p, i, &len);
            const char *key = acp_page_key(p, i);
            CHECK(key && strcmp(key, e->run) == 0 && acp_page_seq(p, i) == e->seq &&
                      acp_page_time_us(p, i) == e->stored_us && len == e->len &&
                      memcmp(doc, e->doc, len) == 0,
                  "limit %lld, event %zu: run %s seq %lld (%.*s), expected run %s seq %lld (%.*s)",
                  (long long)limit, at, key ? key : "(none)", (long long)acp_page_seq(p, i),
                  (int)len, doc ? doc : "", e->run, (long long)e->seq, (int)e->len, e->doc);
        }
        if (n < (size_t)limit)
            break;
        /* A full page: go on from its last event. */
        const char *last = acp_page_key(p, n - 1);
        while (strcmp(run_ids[from], last) != 0)
            from++;
        after = acp_page_seq(p, n - 1);
    }
    CHECK(at == nwant, "limit %lld: %zu events, one list per run gives %zu", (long long)limit,
          at, nwant);
    return 0;
}

CONFORMANCE_CHECK(events_of_many_runs_match_one_list_per_run)
{
    OPEN();
    for (int r = 0; r < NRUNS; r++) {
        if (strcmp(run_ids[r], "m-norec") != 0)
            CHECK_OK(acp_run_save(S, t_run_doc(c, run_ids[r], "agent", NULL, NULL), ACP_STRLEN,
                                  ERR));
        for (int k = 1; k <= counts[r]; k++)
            CHECK_OK(acp_event_add(S, run_ids[r],
                                   t_printf(c, "{\"type\":\"e\",\"run\":\"%s\",\"n\": %d}",
                                            run_ids[r], k),
                                   ACP_STRLEN, NULL, ERR));
    }
    /* Another run's events are never included. */
    CHECK_OK(acp_event_add(S, "m-other", "{\"type\":\"x\"}", ACP_STRLEN, NULL, ERR));
    expect want[32];
    size_t nwant;
    CHECK_RESULT(expected(c, want, &nwant));
    static const int64_t limits[] = {1, 2, 3, 4, 7, 18, 1000};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++)
        CHECK_RESULT(page_through(c, want, nwant, 0, 0, 0, limits[l]));
    /* Starting inside the first run: after its seq 1 (want[1]), after its
     * last (want[3]: the next run's first), after more than it has. */
    CHECK_RESULT(page_through(c, want, nwant, 1, 0, 1, 2));
    CHECK_RESULT(page_through(c, want, nwant, 3, 0, 3, 1000));
    CHECK_RESULT(page_through(c, want, nwant, 3, 0, 99, 4));
    /* From a later run: m-b (index 4) after its first event, then m-d. */
    size_t at_d = nwant - (size_t)counts[5];
    CHECK_RESULT(page_through(c, want, nwant, at_d, 4, 1, 3));
    return T_PASS;
}

CONFORMANCE_CHECK(events_of_many_runs_refuse_bad_arguments)
{
    OPEN();
    acp_page *p = NULL;
    const char *const twice[2] = {"r1", "r1"};
    const char *const bad[2] = {"r1", ""};
    CHECK_STATUS(ACP_INVALID, acp_event_list_runs(S, twice, 2, 0, 10, &p, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list_runs(S, bad, 2, 0, 10, &p, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list_runs(S, run_ids, 0, 0, 10, &p, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list_runs(S, run_ids, 2, 0, 0, &p, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list_runs(S, run_ids, 2, 0, 1001, &p, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list_runs(S, run_ids, 2, -1, 10, &p, ERR));
    CHECK(p == NULL, "a refused call set its page");
    CHECK_OK(acp_event_list_runs(S, run_ids, NRUNS, 0, 1000, &p, ERR));
    t_keep(c, p, t_free_page);
    CHECK(acp_page_count(p) == 0, "an empty store gave %zu events", acp_page_count(p));
    return T_PASS;
}
