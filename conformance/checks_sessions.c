/* SPDX-License-Identifier: MIT */
/*
 * checks_sessions.c - sessions: round trips, state values, deletion, listing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int session_round_trip(t_ctx *c, const char *id, const char *doc)
{
    CHECK_OK(acp_session_save(S, doc, ACP_STRLEN, ERR));
    char *json;
    size_t len = 0;
    GET_SESSION(id, json, len);
    CHECK_SAME(t_printf(c, "session \"%s\"", id), json, len, doc, strlen(doc));
    CHECK(json[len] == '\0', "session \"%s\" is not NUL-terminated", id);
    t_release(c, json);
    return 0;
}

/* A session whose history holds n simple_acp messages. */
static char *history_doc(t_ctx *c, const char *id, int n)
{
    size_t cap = 256 + (size_t)n * 200, len = 0;
    char *doc = t_alloc(c, cap);
    len += (size_t)sprintf(doc, "{\"id\":\"%s\",\"history\":[", id);
    for (int k = 0; k < n; k++)
        len += (size_t)sprintf(doc + len,
                               "%s{\"role\":\"%s\",\"parts\":[{\"content_type\":\"text/plain\","
                               "\"content\":\"message %d of the conversation \\u2014 caf\xc3\xa9\"}]}",
                               k ? "," : "", k % 2 ? "agent/echo" : "user", k);
    sprintf(doc + len, "],\"state\":{\"turns\":%d}}", n);
    return doc;
}

CONFORMANCE_CHECK(session_save_get_delete_round_trip)
{
    OPEN();
    static const char *const simple =
        "{\"id\":\"sess-42\",\"history\":[{\"role\":\"user\",\"parts\":[{\"content_type\":"
        "\"text/plain\",\"content\":\"Hi\"}]}],\"state\":{\"count\":2}}";
    static const char *const spec =
        "{\"id\":\"sess-spec\",\"history\":[\"https://agents.example/runs/1/messages/0\","
        "\"https://agents.example/runs/1/messages/1\"],\"state\":\"https://agents.example/state/9\"}";
    static const char *const bare = "{\"id\":\"bare\"}";
    static const char *const extra =
        "{\"history\":[],\"id\":\"extra\",\"unknown\":{\"kept\":[true,null]},\"state\":[1,\"two\"]}";
    CHECK_RESULT(session_round_trip(c, "sess-42", simple));
    CHECK_RESULT(session_round_trip(c, "sess-spec", spec));
    CHECK_RESULT(session_round_trip(c, "bare", bare));
    CHECK_RESULT(session_round_trip(c, "extra", extra));
    /* A server rewrites the whole session as its history grows. */
    static const int sizes[] = {1, 10, 100, 3000};
    for (size_t k = 0; k < 4; k++)
        CHECK_RESULT(session_round_trip(c, "growing", history_doc(c, "growing", sizes[k])));
    CHECK_OK(acp_session_delete(S, "sess-42", ERR));
    char *json;
    size_t len;
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "sess-42", &json, &len, ERR));
    const char *left[] = {"bare", "extra", "growing", "sess-spec"};
    CHECK_SESSIONS(NULL, left, 4, 100);
    return T_PASS;
}

CONFORMANCE_CHECK(get_and_delete_of_unknown_session_are_not_found)
{
    OPEN();
    char *json;
    size_t len;
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "no-such-session", &json, &len, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_delete(S, "no-such-session", ERR));
    CHECK_OK(acp_session_save(S, t_session_doc(c, "sess", "1"), ACP_STRLEN, ERR));
    static const char *const near[] = {"ses", "sess ", "SESS", "sess2", "s*"};
    for (size_t k = 0; k < sizeof near / sizeof near[0]; k++) {
        CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, near[k], &json, &len, ERR));
        CHECK_STATUS(ACP_NOT_FOUND, acp_session_delete(S, near[k], ERR));
    }
    /* A run of that id is not a session. */
    CHECK_OK(acp_run_save(S, t_run_doc(c, "run-only", "agent", "sess", NULL), ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "run-only", &json, &len, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_delete(S, "run-only", ERR));
    CHECK_OK(acp_session_delete(S, "sess", ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_delete(S, "sess", ERR));
    return T_PASS;
}

CONFORMANCE_CHECK(save_session_replaces_the_whole_session)
{
    OPEN();
    static const char *const v1 =
        "{\"id\":\"s\",\"history\":[\"u1\"],\"state\":{\"a\":1},\"extra\":\"only in v1\"}";
    static const char *const v2 = "{\"id\":\"s\",\"history\":[\"u1\",\"u2\"],\"state\":false}";
    CHECK_RESULT(session_round_trip(c, "s", v1));
    CHECK_RESULT(session_round_trip(c, "s", v2));
    CHECK_RESULT(session_round_trip(c, "s", v2));
    CHECK_RESULT(session_round_trip(c, "s", v1));
    const char *ids[] = {"s"};
    CHECK_SESSIONS(NULL, ids, 1, 10);
    return T_PASS;
}

CONFORMANCE_CHECK(session_state_false_zero_empty_null_round_trip)
{
    OPEN();
    static const char *const states[] = {
        "false", "0", "\"\"", "null", "true", "[]", "{}", "0.0", "-0", "1e400",
        "9007199254740993", "\"false\"", "\"0\"", "\"null\"", "\"\\u0000\"", "[false,0,\"\",null]",
        "{\"\":\"\"}", "\"https://agents.example/state/1\"", "-1.5E-10"};
    for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
        char *id = t_printf(c, "state-%02zu", k);
        CHECK_RESULT(session_round_trip(c, id, t_session_doc(c, id, states[k])));
    }
    /* The state alone, without history, and in first place. */
    CHECK_RESULT(session_round_trip(c, "first", "{\"state\":false,\"id\":\"first\"}"));
    CHECK_RESULT(session_round_trip(c, "zero", "{\"id\":\"zero\",\"state\":0}"));
    return T_PASS;
}

CONFORMANCE_CHECK(delete_session_leaves_its_runs_listable)
{
    OPEN();
    CHECK_OK(acp_session_save(S, t_session_doc(c, "sess", "{\"n\":1}"), ACP_STRLEN, ERR));
    const char *r1 = t_run_doc(c, "r1", "agent", "sess", "2025-06-01T12:00:00Z");
    const char *r2 = t_run_doc(c, "r2", "agent", "sess", "2025-06-01T12:00:01Z");
    CHECK_OK(acp_run_save(S, r1, ACP_STRLEN, ERR));
    CHECK_OK(acp_run_save(S, r2, ACP_STRLEN, ERR));
    CHECK_OK(acp_event_add(S, "r1", "{\"type\":\"run.created\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_session_delete(S, "sess", ERR));
    const char *ids[] = {"r2", "r1"};
    CHECK_LIST(NULL, "sess", ids, 2);
    CHECK_LIST("agent", "sess", ids, 2);
    char *json;
    size_t len;
    GET_RUN("r1", json, len);
    CHECK_SAME_STR("run of a deleted session", json, len, r1);
    int64_t n;
    COUNT_EVENTS("r1", n);
    CHECK(n == 1, "the run of a deleted session has %lld events, expected 1", (long long)n);
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "sess", &json, &len, ERR));
    /* Saving the session again does not disturb its runs either. */
    CHECK_OK(acp_session_save(S, t_session_doc(c, "sess", "null"), ACP_STRLEN, ERR));
    CHECK_LIST(NULL, "sess", ids, 2);
    return T_PASS;
}

CONFORMANCE_CHECK(list_sessions_walks_every_session_in_byte_order)
{
    OPEN();
    SKIP_UNLESS_LISTS_SESSIONS();
    const char *ids[] = {"b", "a", "A", "Z", "a ", "aa", "a-", "\xc3\xa9", "e", "z", "~",
                         "\x7f", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "0", "10", "9", " ",
                         "sess-10", "sess-9", "sess-100"};
    size_t n = sizeof ids / sizeof ids[0];
    for (size_t k = 0; k < n; k++)
        CHECK_OK(acp_session_save(S, t_session_doc(c, ids[k], "null"), ACP_STRLEN, ERR));
    const char *sorted[sizeof ids / sizeof ids[0]];
    memcpy(sorted, ids, sizeof ids);
    qsort(sorted, n, sizeof sorted[0], t_by_bytes);
    static const int64_t limits[] = {1, 3, 7, 21, 1000};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++)
        CHECK_SESSIONS(NULL, sorted, n, limits[k]);
    /* Starting after an id that exists, and after one that does not. */
    size_t at_b = 0;
    while (strcmp(sorted[at_b], "b") != 0)
        at_b++;
    CHECK_SESSIONS("b", sorted + at_b + 1, n - at_b - 1, 4);
    CHECK_SESSIONS("ab", sorted + at_b, n - at_b, 4); /* "ab" sorts just before "b" */
    CHECK_SESSIONS("\xf4\x8f\xbf\xbf", sorted, 0, 10);
    /* Documents come back whole. */
    acp_page *p;
    LIST_SESSIONS(p, NULL, 1000);
    for (size_t k = 0; k < acp_page_count(p); k++) {
        size_t len = 0;
        const char *j = acp_page_json(p, k, &len);
        const char *want = t_session_doc(c, sorted[k], "null");
        CHECK_SAME(t_printf(c, "listed session %s", t_json_str(c, sorted[k])), j, len, want,
                   strlen(want));
    }
    return T_PASS;
}

CONFORMANCE_CHECK(list_sessions_refuses_bad_limits)
{
    OPEN();
    SKIP_UNLESS_LISTS_SESSIONS();
    CHECK_OK(acp_session_save(S, t_session_doc(c, "s", "1"), ACP_STRLEN, ERR));
    static const int64_t bad[] = {0, -1, 1001, INT64_MAX, INT64_MIN};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        acp_page *p;
        t_err_reset(c);
        acp_status st = acp_session_list(S, NULL, bad[k], &p, ERR);
        if (st == ACP_OK)
            acp_page_free(p);
        CHECK(st == ACP_INVALID, "list_sessions limit %lld returned %s, expected INVALID",
              (long long)bad[k], acp_status_name(st));
    }
    const char *ids[] = {"s"};
    CHECK_SESSIONS(NULL, ids, 1, 1000);
    return T_PASS;
}

CONFORMANCE_CHECK(invalid_session_documents_are_refused_and_store_nothing)
{
    OPEN();
    const char *keep = t_session_doc(c, "keep", "{\"v\":1}");
    CHECK_OK(acp_session_save(S, keep, ACP_STRLEN, ERR));
    static const struct {
        const char *why;
        const char *text;
    } bad[] = {
        {"not JSON", "id: s1"},
        {"empty text", ""},
        {"an array", "[{\"id\":\"s2\"}]"},
        {"a string", "\"s3\""},
        {"null", "null"},
        {"missing id", "{\"history\":[],\"state\":null}"},
        {"id a number", "{\"id\":4}"},
        {"id null", "{\"id\":null}"},
        {"id an object", "{\"id\":{\"s\":5}}"},
        {"id empty", "{\"id\":\"\"}"},
        {"id with an escaped NUL", "{\"id\":\"s6\\u0000x\"}"},
        {"id invalid UTF-8", "{\"id\":\"s7\xff\"}"},
        {"trailing garbage", "{\"id\":\"s8\"}x"},
        {"two objects", "{\"id\":\"s9\"}{\"id\":\"s10\"}"},
        {"unterminated", "{\"id\":\"s11\""},
        {"trailing comma", "{\"id\":\"s12\",}"},
        {"a bare word as state", "{\"id\":\"s13\",\"state\":undefined}"},
    };
    char *json;
    size_t len;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        t_err_reset(c);
        acp_status st = acp_session_save(S, bad[k].text, strlen(bad[k].text), ERR);
        CHECK(st == ACP_INVALID, "a session document with %s was answered %s, expected INVALID",
              bad[k].why, acp_status_name(st));
    }
    char *id257 = t_alloc(c, 258);
    memset(id257, 's', 257);
    id257[257] = '\0';
    CHECK_STATUS(ACP_INVALID, acp_session_save(S, t_session_doc(c, id257, "1"), ACP_STRLEN, ERR));
    size_t depth = 2000;
    char *deep = t_alloc(c, 2 * depth + 64);
    int n = sprintf(deep, "{\"id\":\"deep\",\"state\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}");
    CHECK_STATUS(ACP_INVALID, acp_session_save(S, deep, ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "deep", &json, &len, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "s6", &json, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_save(S, "{\"id\":\"keep\",\"state\":}", ACP_STRLEN, ERR));
    GET_SESSION("keep", json, len);
    CHECK_SAME_STR("session \"keep\" after refused saves", json, len, keep);
    const char *ids[] = {"keep"};
    CHECK_SESSIONS(NULL, ids, 1, 1000);
    return T_PASS;
}
