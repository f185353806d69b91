/* SPDX-License-Identifier: MIT */
/*
 * checks_events.c - event streams: sequences, order, limits, cursors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char *event_doc(t_ctx *c, const char *type, int n)
{
    return t_printf(c, "{\"type\":\"%s\",\"n\":%d}", type, n);
}

static int add(t_ctx *c, const char *run_id, const char *doc, int64_t want_seq)
{
    int64_t seq = -7;
    CHECK_OK(acp_event_add(S, run_id, doc, ACP_STRLEN, &seq, ERR));
    CHECK(seq == want_seq, "add_event on \"%s\" returned sequence %lld, expected %lld", run_id,
          (long long)seq, (long long)want_seq);
    return 0;
}
#define ADD(run_id, doc, want) CHECK_RESULT(add(c, (run_id), (doc), (want)))

/* The events of page p are exactly first..first+count-1 of type "e". */
static int check_event_page(t_ctx *c, int line, acp_page *p, int64_t first, size_t count,
                            const char *what)
{
    if (acp_page_count(p) != count)
        return t_fail(c, __FILE__, line, "%s: %zu events, expected %zu", what,
                      acp_page_count(p), count);
    for (size_t k = 0; k < count; k++) {
        int64_t seq = first + (int64_t)k;
        if (acp_page_seq(p, k) != seq)
            return t_fail(c, __FILE__, line, "%s: item %zu has sequence %lld, expected %lld",
                          what, k, (long long)acp_page_seq(p, k), (long long)seq);
        size_t len = 0;
        const char *j = acp_page_json(p, k, &len);
        char want[64];
        snprintf(want, sizeof want, "{\"type\":\"e\",\"n\":%lld}", (long long)seq);
        if (!j || len != strlen(want) || memcmp(j, want, len) != 0)
            return t_fail(c, __FILE__, line, "%s: event %lld is %.*s, expected %s", what,
                          (long long)seq, j ? (int)len : 4, j ? j : "NULL", want);
    }
    return 0;
}
#define CHECK_EVENT_PAGE(p, first, count, what)                                            \
    CHECK_RESULT(check_event_page(c, __LINE__, (p), (first), (count), (what)))

/* Add events {"type":"e","n":seq} for seq 1..n to run_id. */
static int fill(t_ctx *c, const char *run_id, int n)
{
    for (int k = 1; k <= n; k++) {
        char doc[48];
        snprintf(doc, sizeof doc, "{\"type\":\"e\",\"n\":%d}", k);
        int64_t seq = 0;
        CHECK_OK(acp_event_add(S, run_id, doc, ACP_STRLEN, &seq, ERR));
        CHECK(seq == k, "event %d of \"%s\" got sequence %lld", k, run_id, (long long)seq);
    }
    return 0;
}

CONFORMANCE_CHECK(add_event_numbers_events_from_one_without_gaps)
{
    OPEN();
    CHECK_OK(acp_run_save(S, t_run_doc(c, "numbered", "agent", NULL, NULL), ACP_STRLEN, ERR));
    for (int k = 1; k <= 20; k++)
        ADD("numbered", event_doc(c, "e", k), k);
    CHECK_OK(acp_event_add(S, "numbered", "{\"type\":\"e\",\"n\":21}", ACP_STRLEN, NULL, ERR));
    ADD("numbered", "{\"type\":\"e\",\"n\":22}", 22);
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    acp_page *p;
    LIST_EVENTS(p, "numbered", &f);
    CHECK_EVENT_PAGE(p, 1, 22, "events of \"numbered\"");
    /* Saving the run again does not touch its events. */
    CHECK_OK(acp_run_save(S, t_run_doc(c, "numbered", "agent", NULL, NULL), ACP_STRLEN, ERR));
    ADD("numbered", "{\"type\":\"e\",\"n\":23}", 23);
    return T_PASS;
}

CONFORMANCE_CHECK(event_sequences_are_per_run)
{
    OPEN();
    ADD("run-a", "{\"type\":\"e\",\"n\":1}", 1);
    ADD("run-b", "{\"type\":\"e\",\"n\":1}", 1);
    ADD("run-a", "{\"type\":\"e\",\"n\":2}", 2);
    ADD("run-a", "{\"type\":\"e\",\"n\":3}", 3);
    ADD("run-b", "{\"type\":\"e\",\"n\":2}", 2);
    ADD("run-a/", "{\"type\":\"e\",\"n\":1}", 1);
    ADD("run-", "{\"type\":\"e\",\"n\":1}", 1);
    acp_page *p;
    LIST_EVENTS(p, "run-a", NULL);
    CHECK_EVENT_PAGE(p, 1, 3, "events of run-a");
    LIST_EVENTS(p, "run-b", NULL);
    CHECK_EVENT_PAGE(p, 1, 2, "events of run-b");
    LIST_EVENTS(p, "run-a/", NULL);
    CHECK_EVENT_PAGE(p, 1, 1, "events of run-a/");
    LIST_EVENTS(p, "run-", NULL);
    CHECK_EVENT_PAGE(p, 1, 1, "events of run-");
    LIST_EVENTS(p, "run", NULL);
    CHECK_EVENT_PAGE(p, 1, 0, "events of run");
    return T_PASS;
}

CONFORMANCE_CHECK(get_events_returns_events_in_order_byte_exact)
{
    OPEN();
    static const char *const docs[] = {
        "{\"type\":\"run.created\",\"run\":{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":"
        "\"created\",\"output\":[]}}",
        "{\"type\":\"run.in-progress\",\"run\":{\"run_id\":\"r\"}}",
        "{\"type\":\"message.created\",\"message\":{\"role\":\"agent\",\"parts\":[]}}",
        "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\",\"content\":"
        "\"Sunny \\u00b0 caf\xc3\xa9 \\\"q\\\"\"}}",
        "{\"type\":\"message.completed\",\"message\":{\"role\":\"agent\",\"parts\":[{"
        "\"content\":\"Sunny\"}]}}",
        "{\"type\":\"generic\",\"generic\":{\"n\":9007199254740993,\"x\":1e400}}",
        "{\"data\":{\"k\":[]},\"type\":\"generic\"}",
        "{\"type\":\"error\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}",
        "{\"type\":\"some.future.type\",\"whatever\":[1,{\"a\":null}]}",
        "{\"type\":\"\\u0072un.failed\",\"run_id\":\"r\",\"error\":{\"code\":\"x\"}}",
        "{\"type\":\"run.completed\",\"run\":{\"run_id\":\"r\",\"status\":\"completed\"}}",
    };
    size_t n = sizeof docs / sizeof docs[0];
    for (size_t k = 0; k < n; k++)
        ADD("r", docs[k], (int64_t)k + 1);
    acp_page *p;
    LIST_EVENTS(p, "r", NULL);
    CHECK(acp_page_count(p) == n, "%zu events, expected %zu", acp_page_count(p), n);
    for (size_t k = 0; k < n; k++) {
        size_t len = 0;
        const char *j = acp_page_json(p, k, &len);
        CHECK_SAME(t_printf(c, "event %zu", k + 1), j, len, docs[k], strlen(docs[k]));
        CHECK(j[len] == '\0', "event %zu is not NUL-terminated", k + 1);
        CHECK(acp_page_seq(p, k) == (int64_t)k + 1, "event %zu has sequence %lld", k + 1,
              (long long)acp_page_seq(p, k));
        CHECK(acp_page_key(p, k) == NULL, "event %zu has a key \"%s\"", k + 1,
              acp_page_key(p, k));
    }
    CHECK(acp_page_next_cursor(p) == NULL, "the only page of events has a next cursor \"%s\"",
          acp_page_next_cursor(p));
    return T_PASS;
}

CONFORMANCE_CHECK(get_events_defaults_to_one_hundred)
{
    OPEN();
    CHECK_RESULT(fill(c, "many", 150));
    acp_page *p;
    LIST_EVENTS(p, "many", NULL);
    CHECK_EVENT_PAGE(p, 1, 100, "get_events without filter");
    const char *next = acp_page_next_cursor(p);
    CHECK(next && strcmp(next, "100") == 0, "next cursor of the first 100 events is %s, "
                                            "expected \"100\"", next ? next : "NULL");
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    LIST_EVENTS(p, "many", &f);
    CHECK_EVENT_PAGE(p, 1, 100, "get_events with ACP_EVENT_FILTER_INIT");
    f.offset = 120;
    LIST_EVENTS(p, "many", &f);
    CHECK_EVENT_PAGE(p, 121, 30, "get_events offset 120");
    CHECK(acp_page_next_cursor(p) == NULL, "the last page of events has a next cursor");
    return T_PASS;
}

CONFORMANCE_CHECK(get_events_limit_zero_returns_none)
{
    OPEN();
    CHECK_RESULT(fill(c, "r", 5));
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 0;
    acp_page *p;
    LIST_EVENTS(p, "r", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "get_events limit 0");
    f.offset = 2;
    f.after_seq = 1;
    LIST_EVENTS(p, "r", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "get_events limit 0 offset 2 after 1");
    LIST_EVENTS(p, "unknown", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "get_events limit 0 of an unknown run");
    return T_PASS;
}

CONFORMANCE_CHECK(get_events_refuses_bad_limits_and_offsets)
{
    OPEN();
    CHECK_RESULT(fill(c, "r", 3));
    static const int64_t bad_limits[] = {1001, -1, 100000, INT64_MAX, INT64_MIN};
    acp_page *p;
    for (size_t k = 0; k < sizeof bad_limits / sizeof bad_limits[0]; k++) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = bad_limits[k];
        t_err_reset(c);
        acp_status st = acp_event_list(S, "r", &f, &p, ERR);
        if (st == ACP_OK)
            acp_page_free(p);
        CHECK(st == ACP_INVALID, "get_events limit %lld returned %s, expected INVALID",
              (long long)bad_limits[k], acp_status_name(st));
    }
    static const int64_t bad_offsets[] = {-1, INT64_MIN};
    for (size_t k = 0; k < 2; k++) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.offset = bad_offsets[k];
        t_err_reset(c);
        acp_status st = acp_event_list(S, "r", &f, &p, ERR);
        if (st == ACP_OK)
            acp_page_free(p);
        CHECK(st == ACP_INVALID, "get_events offset %lld returned %s, expected INVALID",
              (long long)bad_offsets[k], acp_status_name(st));
    }
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    LIST_EVENTS(p, "r", &f);
    CHECK_EVENT_PAGE(p, 1, 3, "get_events limit 1000");
    f.offset = INT64_MAX;
    LIST_EVENTS(p, "r", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "get_events offset INT64_MAX");
    f.offset = 0;
    f.after_seq = INT64_MAX;
    LIST_EVENTS(p, "r", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "get_events after INT64_MAX");
    return T_PASS;
}

CONFORMANCE_CHECK(get_events_of_unknown_run_is_empty)
{
    OPEN();
    CHECK_RESULT(fill(c, "known", 2));
    CHECK_OK(acp_run_save(S, t_run_doc(c, "no-events", "agent", NULL, NULL), ACP_STRLEN, ERR));
    acp_page *p;
    LIST_EVENTS(p, "unknown", NULL);
    CHECK_EVENT_PAGE(p, 1, 0, "events of an unknown run");
    CHECK(acp_page_next_cursor(p) == NULL, "an empty page of events has a next cursor");
    LIST_EVENTS(p, "no-events", NULL);
    CHECK_EVENT_PAGE(p, 1, 0, "events of a run without events");
    LIST_EVENTS(p, "know", NULL);
    CHECK_EVENT_PAGE(p, 1, 0, "events of a prefix of a run id");
    return T_PASS;
}

CONFORMANCE_CHECK(events_for_a_run_without_record_are_allowed)
{
    OPEN();
    CHECK_RESULT(fill(c, "recordless", 4));
    acp_page *p;
    LIST_EVENTS(p, "recordless", NULL);
    CHECK_EVENT_PAGE(p, 1, 4, "events of a run without record");
    char *json;
    size_t len;
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "recordless", &json, &len, ERR));
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 0, "adding events created %lld runs", (long long)total);
    /* A run record saved later sees the events already there. */
    CHECK_OK(acp_run_save(S, t_run_doc(c, "recordless", "agent", NULL, NULL), ACP_STRLEN, ERR));
    ADD("recordless", "{\"type\":\"e\",\"n\":5}", 5);
    LIST_EVENTS(p, "recordless", NULL);
    CHECK_EVENT_PAGE(p, 1, 5, "events after the run record was saved");
    return T_PASS;
}

CONFORMANCE_CHECK(invalid_events_are_refused_and_store_nothing)
{
    OPEN();
    CHECK_RESULT(fill(c, "r", 2));
    static const struct {
        const char *why;
        const char *text;
    } bad[] = {
        {"not JSON", "type: e"},
        {"empty text", ""},
        {"an array", "[{\"type\":\"e\"}]"},
        {"a string", "\"e\""},
        {"null", "null"},
        {"a number", "1"},
        {"no type", "{\"n\":3}"},
        {"an empty object", "{}"},
        {"type a number", "{\"type\":5}"},
        {"type null", "{\"type\":null}"},
        {"type an object", "{\"type\":{\"name\":\"e\"}}"},
        {"type an array", "{\"type\":[\"e\"]}"},
        {"type true", "{\"type\":true}"},
        {"Type in the wrong case", "{\"Type\":\"e\"}"},
        {"trailing garbage", "{\"type\":\"e\"}x"},
        {"two objects", "{\"type\":\"e\"}{\"type\":\"e\"}"},
        {"unterminated", "{\"type\":\"e\""},
        {"trailing comma", "{\"type\":\"e\",}"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t seq = -7;
        t_err_reset(c);
        acp_status st = acp_event_add(S, "r", bad[k].text, strlen(bad[k].text), &seq, ERR);
        CHECK(st == ACP_INVALID, "an event with %s was answered %s, expected INVALID", bad[k].why,
              acp_status_name(st));
        CHECK(seq == -7, "a refused event (%s) set the sequence to %lld", bad[k].why,
              (long long)seq);
        /* Also on a run id that has nothing yet. */
        t_err_reset(c);
        st = acp_event_add(S, "fresh", bad[k].text, strlen(bad[k].text), NULL, ERR);
        CHECK(st == ACP_INVALID, "an event with %s was answered %s, expected INVALID", bad[k].why,
              acp_status_name(st));
    }
    size_t depth = 2000;
    char *deep = t_alloc(c, 2 * depth + 64);
    int n = sprintf(deep, "{\"type\":\"e\",\"x\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}");
    CHECK_STATUS(ACP_INVALID, acp_event_add(S, "r", deep, ACP_STRLEN, NULL, ERR));
    /* No gap: the refused events used no sequence number. */
    ADD("r", "{\"type\":\"e\",\"n\":3}", 3);
    acp_page *p;
    LIST_EVENTS(p, "r", NULL);
    CHECK_EVENT_PAGE(p, 1, 3, "events after refused adds");
    LIST_EVENTS(p, "fresh", NULL);
    CHECK_EVENT_PAGE(p, 1, 0, "events of a run that only had refused adds");
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "fresh", ERR));
    return T_PASS;
}

CONFORMANCE_CHECK(event_storage_time_is_now)
{
    OPEN();
    const int64_t slack = T_SEC; /* the core and this check read the same clock */
    int64_t before = t_now_us();
    CHECK_RESULT(fill(c, "timed", 3));
    int64_t after = t_now_us();
    acp_page *p;
    LIST_EVENTS(p, "timed", NULL);
    CHECK(acp_page_count(p) == 3, "%zu events", acp_page_count(p));
    int64_t prev = 0;
    for (size_t k = 0; k < 3; k++) {
        int64_t t = acp_page_time_us(p, k);
        CHECK(t >= before - slack && t <= after + slack,
              "event %zu was stored between %s and %s but carries time %s", k + 1,
              t_time(c, before), t_time(c, after), t_time(c, t));
        CHECK(k == 0 || t >= prev - slack, "event %zu is timed %s, long before event %zu (%s)",
              k + 1, t_time(c, t), k, t_time(c, prev));
        prev = t;
    }
    /* The time is the storage time, whatever the document says. */
    CHECK_OK(acp_event_add(S, "timed", "{\"type\":\"e\",\"time\":\"2001-01-01T00:00:00Z\","
                                       "\"created_at\":\"2001-01-01T00:00:00Z\"}",
                           ACP_STRLEN, NULL, ERR));
    after = t_now_us();
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.after_seq = 3;
    LIST_EVENTS(p, "timed", &f);
    CHECK(acp_page_count(p) == 1, "%zu events after 3", acp_page_count(p));
    int64_t t = acp_page_time_us(p, 0);
    CHECK(t >= before - slack && t <= after + slack, "event 4 carries time %s, not now",
          t_time(c, t));
    return T_PASS;
}

CONFORMANCE_CHECK(ten_thousand_events_page_with_offset_and_after_seq)
{
    OPEN();
    enum { N = 10000 };
    CHECK_RESULT(fill(c, "stream", N));
    /* limit/offset, with several page sizes. */
    static const int64_t limits[] = {1000, 333, 100};
    for (size_t li = 0; li < 3; li++) {
        int64_t limit = limits[li], next = 1;
        for (int64_t off = 0; off < N + limit; off += limit) {
            acp_event_filter f = ACP_EVENT_FILTER_INIT;
            f.limit = limit;
            f.offset = off;
            acp_page *p;
            LIST_EVENTS(p, "stream", &f);
            int64_t expect = N - off < 0 ? 0 : (N - off < limit ? N - off : limit);
            CHECK_EVENT_PAGE(p, next, (size_t)expect,
                             t_printf(c, "limit %lld offset %lld", (long long)limit,
                                      (long long)off));
            next += expect;
            t_release(c, p);
        }
        CHECK(next == N + 1, "offset paging by %lld saw %lld events", (long long)limit,
              (long long)next - 1);
    }
    /* The after_seq cursor, resuming from the page's next cursor. */
    static const int64_t climits[] = {777, 1000, 1};
    for (size_t li = 0; li < 3; li++) {
        int64_t limit = climits[li], after = 0;
        int pages = 0;
        for (;;) {
            acp_event_filter f = ACP_EVENT_FILTER_INIT;
            f.limit = limit;
            f.after_seq = after;
            acp_page *p;
            LIST_EVENTS(p, "stream", &f);
            int64_t expect = N - after < limit ? N - after : limit;
            CHECK_EVENT_PAGE(p, after + 1, (size_t)expect,
                             t_printf(c, "limit %lld after %lld", (long long)limit,
                                      (long long)after));
            const char *next = acp_page_next_cursor(p);
            if (after + expect == N) {
                /* The page that reaches the end may or may not know it;
                 * the one after it must be empty without a cursor. */
                if (next) {
                    CHECK(strtoll(next, NULL, 10) == N, "next cursor \"%s\" at the end", next);
                    after = N;
                    t_release(c, p);
                    continue;
                }
                t_release(c, p);
                break;
            }
            if (expect == 0) {
                CHECK(next == NULL, "an empty page of events has next cursor \"%s\"", next);
                t_release(c, p);
                break;
            }
            CHECK(next != NULL, "a full page of events (limit %lld after %lld) has no next "
                                "cursor", (long long)limit, (long long)after);
            char *end;
            long long nv = strtoll(next, &end, 10);
            CHECK(*end == '\0' && nv == after + expect,
                  "next cursor of events after %lld is \"%s\", expected \"%lld\"",
                  (long long)after, next, (long long)(after + expect));
            after = nv;
            t_release(c, p);
            pages++;
            CHECK(pages <= N + 1, "after_seq paging does not end");
        }
    }
    /* after_seq and offset together: the offset counts after the cursor. */
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.after_seq = 5000;
    f.offset = 10;
    f.limit = 5;
    acp_page *p;
    LIST_EVENTS(p, "stream", &f);
    CHECK_EVENT_PAGE(p, 5011, 5, "after 5000 offset 10 limit 5");
    f.after_seq = 9999;
    f.offset = 0;
    LIST_EVENTS(p, "stream", &f);
    CHECK_EVENT_PAGE(p, 10000, 1, "after 9999");
    f.after_seq = N;
    LIST_EVENTS(p, "stream", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "after the last event");
    f.after_seq = N + 50;
    LIST_EVENTS(p, "stream", &f);
    CHECK_EVENT_PAGE(p, 1, 0, "after a sequence past the end");
    return T_PASS;
}
