/* SPDX-License-Identifier: MIT */
/*
 * checks_runs.c - run documents: round trips, validation, first-save time,
 * snapshots, deletion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

CONFORMANCE_CHECK(get_run_of_unknown_id_is_not_found)
{
    OPEN();
    char *json;
    size_t len;
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "no-such-run", &json, &len, ERR));
    CHECK_OK(acp_run_save(S, t_run_doc(c, "run-1", "agent", NULL, NULL), ACP_STRLEN, ERR));
    /* Only the exact id matches: no prefix, case or whitespace folding. */
    static const char *const near[] = {"run-2", "run-", "run-10", "RUN-1", "run-1 ", " run-1",
                                       "run_1", "run-1\n"};
    for (size_t k = 0; k < sizeof near / sizeof near[0]; k++)
        CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, near[k], &json, &len, ERR));
    GET_RUN("run-1", json, len);
    return T_PASS;
}

/* Save doc, then read it back by id and through list_runs. */
static int round_trip(t_ctx *c, const char *id, const char *doc, size_t doclen)
{
    CHECK_OK(acp_run_save(S, doc, doclen, ERR));
    char *json;
    size_t len = 0;
    GET_RUN(id, json, len);
    CHECK_SAME(t_printf(c, "get_run \"%s\"", id), json, len, doc, doclen);
    CHECK(json[len] == '\0', "get_run \"%s\": the document is not NUL-terminated", id);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    acp_page *p;
    LIST_RUNS(p, &f);
    for (size_t k = 0; k < acp_page_count(p); k++) {
        const char *key = acp_page_key(p, k);
        if (key && strcmp(key, id) == 0) {
            size_t plen = 0;
            const char *pj = acp_page_json(p, k, &plen);
            CHECK_SAME(t_printf(c, "list_runs item \"%s\"", id), pj, plen, doc, doclen);
            CHECK(pj[plen] == '\0', "list_runs item \"%s\" is not NUL-terminated", id);
            t_release(c, p);
            return 0;
        }
    }
    return t_fail(c, __FILE__, __LINE__, "list_runs does not return run \"%s\"", id);
}

CONFORMANCE_CHECK(run_document_round_trips_byte_exact)
{
    OPEN();
    /* Key order, unknown fields, escapes, non-ASCII, nested values: all kept. */
    static const char *const doc1 =
        "{\"status\":\"completed\",\"zeta\":{\"nested\":[1,2,{\"deep\":null}],\"t\":true},"
        "\"run_id\":\"exact-1\",\"output\":[{\"role\":\"agent/weather\",\"parts\":[{"
        "\"content_type\":\"text/plain\",\"content\":\"Sunny, 24\\u00b0C. \\\"Quoted\\\" \\/ "
        "back\\\\slash \\n\\t\\r\\b\\f \\ud83d\\ude00 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
        "\xf0\x9f\x98\x80\",\"content_encoding\":\"plain\"}],"
        "\"created_at\":\"2025-06-01T12:00:02Z\"}],\"agent_name\":\"weather\","
        "\"session_id\":\"sess-42\",\"created_at\":\"2025-06-01T12:00:00Z\","
        "\"finished_at\":\"2025-06-01T12:00:03Z\",\"error\":null,\"empty\":{},\"list\":[],"
        "\"UPPER\":\"case\",\"upper\":\"CASE\"}";
    CHECK_RESULT(round_trip(c, "exact-1", doc1, strlen(doc1)));
    /* The example of acp-model.md, and a failed run with error and await data. */
    static const char *const doc2 =
        "{\"run_id\":\"3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40\",\"agent_name\":\"weather\","
        "\"session_id\":\"sess-42\",\"status\":\"completed\",\"output\":[{\"role\":"
        "\"agent/weather\",\"parts\":[{\"content_type\":\"text/plain\",\"content\":\"Sunny, "
        "24\\u00b0C.\",\"content_encoding\":\"plain\"}],\"created_at\":\"2025-06-01T12:00:02Z\"}],"
        "\"created_at\":\"2025-06-01T12:00:00Z\",\"finished_at\":\"2025-06-01T12:00:03Z\"}";
    CHECK_RESULT(round_trip(c, "3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40", doc2, strlen(doc2)));
    static const char *const doc3 =
        "{\"run_id\":\"exact-3\",\"agent_name\":\"a\",\"status\":\"failed\",\"output\":[],"
        "\"error\":{\"code\":\"server_error\",\"message\":\"timeout\",\"data\":{\"n\":1}},"
        "\"await_request\":{\"type\":\"message\",\"message\":{\"role\":\"agent\",\"parts\":[]}},"
        "\"session_id\":null,\"created_at\":\"2025-06-01T12:00:00.123456+02:00\","
        "\"finished_at\":null}";
    CHECK_RESULT(round_trip(c, "exact-3", doc3, strlen(doc3)));
    return T_PASS;
}

/* A run document of exactly `size` bytes whose content varies with seed. */
static char *big_run_doc(t_ctx *c, const char *id, size_t size, unsigned seed)
{
    char *head = t_printf(c,
                          "{\"run_id\":\"%s\",\"agent_name\":\"big\",\"status\":\"completed\","
                          "\"output\":[{\"role\":\"agent\",\"parts\":[{\"content_type\":"
                          "\"text/plain\",\"content\":\"",
                          id);
    static const char tail[] = "\"}]}],\"created_at\":\"2025-06-01T12:00:00Z\"}";
    size_t hl = strlen(head), tl = strlen(tail);
    char *doc = t_alloc(c, size + 1);
    memcpy(doc, head, hl);
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
                                   ".,;:!?-_()[]{}<>=+*/#@$%^&~'|";
    size_t pos = hl, end = size - tl;
    unsigned x = seed * 2654435761u + 1;
    while (pos < end) {
        x = x * 1103515245u + 12345u;
        unsigned r = (x >> 16) & 0x7fff;
        if (r % 97 == 0 && end - pos >= 2) {
            memcpy(doc + pos, "\xc3\xa9", 2); /* é: multi-byte text */
            pos += 2;
        } else if (r % 89 == 0 && end - pos >= 2) {
            memcpy(doc + pos, "\\n", 2); /* an escape */
            pos += 2;
        } else {
            doc[pos++] = alphabet[r % (sizeof alphabet - 1)];
        }
    }
    memcpy(doc + end, tail, tl + 1);
    return doc;
}

CONFORMANCE_CHECK(run_document_of_one_mib_round_trips_byte_exact)
{
    OPEN();
    const size_t mib = 1024 * 1024;
    char *doc = big_run_doc(c, "big-run", mib, 1);
    CHECK(strlen(doc) == mib, "test document is %zu bytes", strlen(doc));
    CHECK_RESULT(round_trip(c, "big-run", doc, mib));
    char *doc2 = big_run_doc(c, "big-run", mib - 3, 2);
    CHECK_RESULT(round_trip(c, "big-run", doc2, mib - 3));
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 1, "%lld runs after saving one big run twice", (long long)total);
    return T_PASS;
}

CONFORMANCE_CHECK(run_numbers_keep_their_exact_text)
{
    OPEN();
    static const char *const doc =
        "{\"run_id\":\"numbers\",\"agent_name\":\"a\",\"status\":\"created\",\"output\":[],"
        "\"big\":9007199254740993,\"huge\":1e400,\"negzero\":-0,\"negzero2\":-0.0,"
        "\"precise\":0.1000000000000000055511151231257827,\"exp\":1E+2,\"exp2\":1e-7,"
        "\"long\":123456789012345678901234567890,\"tiny\":-1.5e-300,\"trail\":2.50,"
        "\"int64max\":9223372036854775807,\"beyond\":18446744073709551616,"
        "\"list\":[1.0,10,1e2,100E0,0.000001],\"u64\":12345678901234567}";
    CHECK_RESULT(round_trip(c, "numbers", doc, strlen(doc)));
    /* The same numbers inside events and session state. */
    static const char *const ev = "{\"type\":\"generic\",\"generic\":{\"n\":9007199254740993,"
                                  "\"h\":1e400,\"z\":-0,\"p\":0.1000000000000000055511151231257827}}";
    CHECK_OK(acp_event_add(S, "numbers", ev, ACP_STRLEN, NULL, ERR));
    acp_page *p;
    LIST_EVENTS(p, "numbers", NULL);
    CHECK(acp_page_count(p) == 1, "%zu events", acp_page_count(p));
    size_t len = 0;
    const char *got = acp_page_json(p, 0, &len);
    CHECK_SAME_STR("event", got, len, ev);
    static const char *const sess =
        "{\"id\":\"numbers\",\"history\":[],\"state\":[9007199254740993,1e400,-0,1E+2]}";
    CHECK_OK(acp_session_save(S, sess, ACP_STRLEN, ERR));
    char *json;
    GET_SESSION("numbers", json, len);
    CHECK_SAME_STR("session", json, len, sess);
    return T_PASS;
}

/* text without the JSON whitespace outside strings. */
static char *compact(t_ctx *c, const char *text, size_t n, size_t *outlen)
{
    char *out = t_alloc(c, n + 1);
    size_t o = 0;
    int in_str = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = text[k];
        if (in_str) {
            out[o++] = ch;
            if (ch == '\\' && k + 1 < n)
                out[o++] = text[++k];
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
            out[o++] = ch;
        } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

CONFORMANCE_CHECK(run_document_whitespace_is_kept_or_only_removed)
{
    OPEN();
    static const char *const doc =
        "  {\n  \"run_id\" : \"spaced\",\n\t\"agent_name\":\"a b  c\" ,\r\n"
        "  \"status\" :  \"created\",\n  \"output\" : [ ],\n"
        "  \"note\" : \"keep   these  { spaces } \\\" and , this\" ,\n"
        "  \"obj\" : { \"k\" : [ 1 , 2 ] }\n}\n";
    CHECK_OK(acp_run_save(S, doc, ACP_STRLEN, ERR));
    char *json;
    size_t len;
    GET_RUN("spaced", json, len);
    size_t glen, wlen;
    char *g = compact(c, json, len, &glen);
    char *w = compact(c, doc, strlen(doc), &wlen);
    CHECK_SAME("the stored document without whitespace outside strings", g, glen, w, wlen);
    CHECK(len <= strlen(doc), "the stored document (%zu bytes) is longer than the saved one "
                              "(%zu bytes)", len, strlen(doc));
    return T_PASS;
}

CONFORMANCE_CHECK(documents_with_explicit_length_store_only_those_bytes)
{
    OPEN();
    const char *doc = t_run_doc(c, "sized", "agent", NULL, NULL);
    size_t n = strlen(doc);
    /* A buffer with more bytes after the document than the length says. */
    char *buf = t_printf(c, "%sGARBAGE, not part of it", doc);
    CHECK_OK(acp_run_save(S, buf, n, ERR));
    char *json;
    size_t len;
    GET_RUN("sized", json, len);
    CHECK_SAME("run saved with an explicit length", json, len, doc, n);

    const char *sdoc = t_session_doc(c, "sized", "{\"a\":1}");
    char *sbuf = t_printf(c, "%s}}}", sdoc);
    CHECK_OK(acp_session_save(S, sbuf, strlen(sdoc), ERR));
    GET_SESSION("sized", json, len);
    CHECK_SAME("session saved with an explicit length", json, len, sdoc, strlen(sdoc));

    const char *edoc = "{\"type\":\"sized\"}";
    char *ebuf = t_printf(c, "%s[1]", edoc);
    CHECK_OK(acp_event_add(S, "sized", ebuf, strlen(edoc), NULL, ERR));
    acp_page *p;
    LIST_EVENTS(p, "sized", NULL);
    CHECK(acp_page_count(p) == 1, "%zu events", acp_page_count(p));
    const char *ej = acp_page_json(p, 0, &len);
    CHECK_SAME("event added with an explicit length", ej, len, edoc, strlen(edoc));

    /* A NUL inside the length, or a length that cuts the document. */
    const char *doc2 = t_run_doc(c, "nul", "agent", NULL, NULL);
    char *nulbuf = t_alloc(c, strlen(doc2) + 2);
    memcpy(nulbuf, doc2, strlen(doc2) + 1);
    nulbuf[strlen(doc2) + 1] = ' ';
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, nulbuf, strlen(doc2) + 2, ERR));
    char *mid = t_strdup(c, doc2);
    mid[10] = '\0';
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, mid, strlen(doc2), ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, doc2, strlen(doc2) - 1, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, doc2, 0, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "nul", &json, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_add(S, "sized", "{\"type\":\"x\"}\0 ", 14, NULL, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_save(S, "{\"id\":\"nul\"}\0", 13, ERR));
    int64_t events;
    COUNT_EVENTS("sized", events);
    CHECK(events == 1, "%lld events after refused adds, expected 1", (long long)events);
    CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, "nul", &json, &len, ERR));
    return T_PASS;
}

CONFORMANCE_CHECK(save_run_replaces_the_whole_run)
{
    OPEN();
    static const char *const v1 =
        "{\"run_id\":\"up\",\"agent_name\":\"a\",\"status\":\"created\",\"output\":[],"
        "\"extra\":{\"only\":\"in v1\"},\"created_at\":\"2025-06-01T12:00:00Z\"}";
    static const char *const v2 =
        "{\"run_id\":\"up\",\"agent_name\":\"a\",\"status\":\"completed\",\"output\":[{\"role\":"
        "\"agent\",\"parts\":[]}],\"created_at\":\"2025-06-01T12:00:00Z\","
        "\"finished_at\":\"2025-06-01T12:00:05Z\"}";
    CHECK_RESULT(round_trip(c, "up", v1, strlen(v1)));
    CHECK_RESULT(round_trip(c, "up", v2, strlen(v2)));
    CHECK_RESULT(round_trip(c, "up", v2, strlen(v2)));
    CHECK_RESULT(round_trip(c, "up", v1, strlen(v1)));
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 1, "%lld runs after saving one run four times", (long long)total);
    return T_PASS;
}

CONFORMANCE_CHECK(every_run_status_is_accepted)
{
    OPEN();
    static const char *const statuses[] = {"created",   "in-progress", "awaiting", "cancelling",
                                           "cancelled", "completed",   "failed"};
    for (size_t k = 0; k < 7; k++) {
        int terminal = k == 4 || k == 5 || k == 6;
        char *id = t_printf(c, "status-%s", statuses[k]);
        char *doc = t_printf(c,
                             "{\"run_id\":\"%s\",\"agent_name\":\"a\",\"status\":\"%s\","
                             "\"output\":[],\"created_at\":\"2025-06-01T12:00:00Z\"%s}",
                             id, statuses[k],
                             terminal ? ",\"finished_at\":\"2025-06-01T12:01:00Z\"" : "");
        CHECK_RESULT(round_trip(c, id, doc, strlen(doc)));
    }
    /* One run through every status in turn. */
    for (size_t k = 0; k < 7; k++) {
        char *doc = t_printf(c, "{\"run_id\":\"walk\",\"agent_name\":\"a\",\"status\":\"%s\","
                                "\"output\":[]}",
                             statuses[k]);
        CHECK_RESULT(round_trip(c, "walk", doc, strlen(doc)));
    }
    return T_PASS;
}

typedef struct bad_doc {
    const char *why;
    const char *text;
    const char *id; /* the run id it names, to check nothing was stored */
} bad_doc;

CONFORMANCE_CHECK(invalid_run_documents_are_refused_and_store_nothing)
{
    OPEN();
    const char *keep = t_run_doc(c, "keep", "agent", "sess", "2025-06-01T12:00:00Z");
    CHECK_OK(acp_run_save(S, keep, ACP_STRLEN, ERR));
#define RUN_HEAD(id) "{\"run_id\":\"" id "\",\"agent_name\":\"a\",\"status\":\"created\""
    static const bad_doc bad[] = {
        {"not JSON", "run_id: bad-1", "bad-1"},
        {"empty text", "", NULL},
        {"only whitespace", " \n\t ", NULL},
        {"an array", "[" RUN_HEAD("bad-2") "}]", "bad-2"},
        {"a string", "\"bad-3\"", "bad-3"},
        {"null", "null", NULL},
        {"a number", "42", NULL},
        {"true", "true", NULL},
        {"missing run_id", "{\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"missing agent_name", "{\"run_id\":\"bad-4\",\"status\":\"created\"}", "bad-4"},
        {"missing status", "{\"run_id\":\"bad-5\",\"agent_name\":\"a\"}", "bad-5"},
        {"unknown status", "{\"run_id\":\"bad-6\",\"agent_name\":\"a\",\"status\":\"done\"}",
         "bad-6"},
        {"status in the wrong case",
         "{\"run_id\":\"bad-7\",\"agent_name\":\"a\",\"status\":\"Completed\"}", "bad-7"},
        {"status with a space",
         "{\"run_id\":\"bad-8\",\"agent_name\":\"a\",\"status\":\"created \"}", "bad-8"},
        {"created_at not a time", RUN_HEAD("bad-9") ",\"created_at\":\"yesterday\"}", "bad-9"},
        {"created_at without offset", RUN_HEAD("bad-10") ",\"created_at\":\"2025-06-01T12:00:00\"}",
         "bad-10"},
        {"created_at month 13", RUN_HEAD("bad-11") ",\"created_at\":\"2025-13-01T12:00:00Z\"}",
         "bad-11"},
        {"created_at February 30", RUN_HEAD("bad-12") ",\"created_at\":\"2025-02-30T12:00:00Z\"}",
         "bad-12"},
        {"created_at hour 25", RUN_HEAD("bad-13") ",\"created_at\":\"2025-06-01T25:00:00Z\"}",
         "bad-13"},
        {"created_at date only", RUN_HEAD("bad-14") ",\"created_at\":\"2025-06-01\"}", "bad-14"},
        {"created_at empty", RUN_HEAD("bad-15") ",\"created_at\":\"\"}", "bad-15"},
        {"created_at a number", RUN_HEAD("bad-16") ",\"created_at\":1748779200}", "bad-16"},
        {"created_at an object", RUN_HEAD("bad-17") ",\"created_at\":{}}", "bad-17"},
        {"finished_at not a time", RUN_HEAD("bad-18") ",\"finished_at\":\"soon\"}", "bad-18"},
        {"finished_at a number", RUN_HEAD("bad-19") ",\"finished_at\":5}", "bad-19"},
        {"trailing garbage", RUN_HEAD("bad-20") "}x", "bad-20"},
        {"two objects", RUN_HEAD("bad-21") "}{}", "bad-21"},
        {"trailing comma", RUN_HEAD("bad-22") ",}", "bad-22"},
        {"unterminated object", RUN_HEAD("bad-23"), "bad-23"},
        {"unterminated string", "{\"run_id\":\"bad-24", NULL},
        {"single quotes", "{'run_id':'bad-25','agent_name':'a','status':'created'}", "bad-25"},
        {"a comment", RUN_HEAD("bad-26") "/* c */}", "bad-26"},
        {"NaN", RUN_HEAD("bad-27") ",\"x\":NaN}", "bad-27"},
        {"Infinity", RUN_HEAD("bad-28") ",\"x\":Infinity}", "bad-28"},
        {"leading zero number", RUN_HEAD("bad-29") ",\"x\":012}", "bad-29"},
        {"raw control character in a string",
         "{\"run_id\":\"bad-30\",\"agent_name\":\"a\tb\",\"status\":\"created\"}", "bad-30"},
        {"run_id a number", "{\"run_id\":5,\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"run_id null", "{\"run_id\":null,\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"run_id an object", "{\"run_id\":{},\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"run_id an array", "{\"run_id\":[\"bad-31\"],\"agent_name\":\"a\",\"status\":\"created\"}",
         "bad-31"},
        {"run_id empty", "{\"run_id\":\"\",\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"run_id with an escaped NUL",
         "{\"run_id\":\"bad\\u0000-32\",\"agent_name\":\"a\",\"status\":\"created\"}", "bad"},
        {"run_id a lone surrogate",
         "{\"run_id\":\"bad-33\\ud800\",\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"run_id invalid UTF-8",
         "{\"run_id\":\"bad-34\xff\",\"agent_name\":\"a\",\"status\":\"created\"}", NULL},
        {"agent_name a number", "{\"run_id\":\"bad-35\",\"agent_name\":7,\"status\":\"created\"}",
         "bad-35"},
        {"agent_name empty", "{\"run_id\":\"bad-36\",\"agent_name\":\"\",\"status\":\"created\"}",
         "bad-36"},
        {"agent_name null", "{\"run_id\":\"bad-37\",\"agent_name\":null,\"status\":\"created\"}",
         "bad-37"},
        {"status a number", "{\"run_id\":\"bad-38\",\"agent_name\":\"a\",\"status\":1}", "bad-38"},
        {"status null", "{\"run_id\":\"bad-39\",\"agent_name\":\"a\",\"status\":null}", "bad-39"},
        {"session_id a number", RUN_HEAD("bad-40") ",\"session_id\":5}", "bad-40"},
        {"session_id an object", RUN_HEAD("bad-41") ",\"session_id\":{}}", "bad-41"},
        {"session_id true", RUN_HEAD("bad-42") ",\"session_id\":true}", "bad-42"},
    };
#undef RUN_HEAD
    char *json;
    size_t len;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        t_err_reset(c);
        acp_status st = acp_run_save(S, bad[k].text, strlen(bad[k].text), ERR);
        CHECK(st == ACP_INVALID, "a run document with %s was answered %s, expected INVALID: %s",
              bad[k].why, acp_status_name(st), st == ACP_OK ? bad[k].text : c->err.message);
        if (bad[k].id) {
            st = acp_run_get(S, bad[k].id, &json, &len, ERR);
            CHECK(st == ACP_NOT_FOUND, "after refusing a document with %s, get_run \"%s\" is %s",
                  bad[k].why, bad[k].id, acp_status_name(st));
        }
    }

    /* Nesting deeper than any parser should follow. */
    size_t depth = 2000;
    char *deep = t_alloc(c, 2 * depth + 128);
    int n = sprintf(deep, "{\"run_id\":\"bad-deep\",\"agent_name\":\"a\",\"status\":\"created\","
                          "\"x\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}");
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, deep, ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "bad-deep", &json, &len, ERR));
    char *deep2 = t_alloc(c, 8 * depth + 128);
    n = sprintf(deep2, "{\"run_id\":\"bad-deep2\",\"agent_name\":\"a\",\"status\":\"created\"");
    for (size_t k = 0; k < depth; k++) {
        const char *piece = k == 0 ? ",\"x\":{" : "\"x\":{";
        memcpy(deep2 + n, piece, strlen(piece));
        n += (int)strlen(piece);
    }
    for (size_t k = 0; k <= depth; k++)
        deep2[n++] = '}';
    deep2[n] = '\0';
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, deep2, ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "bad-deep2", &json, &len, ERR));

    /* Refused saves do not change an existing run either. */
    static const char *const bad_update =
        "{\"run_id\":\"keep\",\"agent_name\":\"other\",\"status\":\"finished\"}";
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, bad_update, ACP_STRLEN, ERR));
    GET_RUN("keep", json, len);
    CHECK_SAME_STR("run \"keep\" after a refused update", json, len, keep);
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 1, "%lld runs listed after refused saves, expected 1", (long long)total);
    COUNT_RUNS("other", NULL, total);
    CHECK(total == 0, "a refused update moved the run to agent \"other\"");
    return T_PASS;
}

/* created_us of run id as list_runs reports it. */
static int listed_time(t_ctx *c, const char *id, int64_t *us)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    acp_page *p;
    LIST_RUNS(p, &f);
    for (size_t k = 0; k < acp_page_count(p); k++) {
        const char *key = acp_page_key(p, k);
        if (key && strcmp(key, id) == 0) {
            *us = acp_page_time_us(p, k);
            t_release(c, p);
            return 0;
        }
    }
    return t_fail(c, __FILE__, __LINE__, "list_runs does not return run \"%s\"", id);
}

CONFORMANCE_CHECK(run_without_created_at_gets_its_first_save_time)
{
    OPEN();
    const int64_t slack = T_SEC; /* the core and this check read the same clock */
    int64_t before = t_now_us();
    CHECK_OK(acp_run_save(S, t_run_doc(c, "first", "agent", NULL, NULL), ACP_STRLEN, ERR));
    int64_t after = t_now_us();
    int64_t t1;
    CHECK_RESULT(listed_time(c, "first", &t1));
    CHECK(t1 >= before - slack && t1 <= after + slack,
          "run saved without created_at has time %s, but it was saved between %s and %s",
          t_time(c, t1), t_time(c, before), t_time(c, after));

    t_sleep_ms(20);
    CHECK_OK(acp_run_save(S, t_run_doc(c, "second", "agent", NULL, NULL), ACP_STRLEN, ERR));
    int64_t t2;
    CHECK_RESULT(listed_time(c, "second", &t2));
    CHECK(t2 > t1, "a run first saved 20 ms later has time %s, not after %s", t_time(c, t2),
          t_time(c, t1));

    /* Saving "first" again without created_at keeps its first time. */
    t_sleep_ms(20);
    const char *again =
        "{\"run_id\":\"first\",\"agent_name\":\"agent\",\"status\":\"in-progress\",\"output\":[]}";
    CHECK_OK(acp_run_save(S, again, ACP_STRLEN, ERR));
    const char *again2 = "{\"run_id\":\"first\",\"agent_name\":\"agent\",\"status\":\"completed\","
                         "\"output\":[],\"created_at\":null}";
    CHECK_OK(acp_run_save(S, again2, ACP_STRLEN, ERR));
    int64_t t1b;
    CHECK_RESULT(listed_time(c, "first", &t1b));
    CHECK(t1b == t1, "re-saving a run without created_at changed its time from %s to %s",
          t_time(c, t1), t_time(c, t1b));
    const char *ids[] = {"second", "first"};
    CHECK_LIST(NULL, NULL, ids, 2);

    /* created_at null counts as absent. */
    t_sleep_ms(20);
    before = t_now_us();
    CHECK_OK(acp_run_save(S, "{\"run_id\":\"third\",\"agent_name\":\"agent\",\"status\":"
                             "\"created\",\"created_at\":null}",
                          ACP_STRLEN, ERR));
    after = t_now_us();
    int64_t t3;
    CHECK_RESULT(listed_time(c, "third", &t3));
    CHECK(t3 >= before - slack && t3 <= after + slack && t3 > t2,
          "run saved with created_at null has time %s, saved between %s and %s",
          t_time(c, t3), t_time(c, before), t_time(c, after));
    const char *ids3[] = {"third", "second", "first"};
    CHECK_LIST(NULL, NULL, ids3, 3);
    return T_PASS;
}

CONFORMANCE_CHECK(stored_documents_are_snapshots)
{
    OPEN();
    const char *doc = t_run_doc(c, "snap", "agent", "sess", "2025-06-01T12:00:00Z");
    size_t n = strlen(doc);
    char *buf = t_strdup(c, doc);
    CHECK_OK(acp_run_save(S, buf, n, ERR));
    memset(buf, 'x', n); /* the caller reuses its buffer */
    char *json;
    size_t len;
    GET_RUN("snap", json, len);
    CHECK_SAME("run after the saved buffer was overwritten", json, len, doc, n);
    memset(json, 'y', len); /* the caller scribbles on what it read */
    GET_RUN("snap", json, len);
    CHECK_SAME("run after the returned buffer was overwritten", json, len, doc, n);

    const char *sdoc = t_session_doc(c, "snap", "{\"k\":[1,2,3]}");
    char *sbuf = t_strdup(c, sdoc);
    CHECK_OK(acp_session_save(S, sbuf, strlen(sdoc), ERR));
    memset(sbuf, 'x', strlen(sdoc));
    GET_SESSION("snap", json, len);
    CHECK_SAME_STR("session after the saved buffer was overwritten", json, len, sdoc);
    memset(json, 'y', len);
    GET_SESSION("snap", json, len);
    CHECK_SAME_STR("session after the returned buffer was overwritten", json, len, sdoc);

    const char *edoc = "{\"type\":\"message.part\",\"part\":{\"content\":\"snap\"}}";
    char *ebuf = t_strdup(c, edoc);
    CHECK_OK(acp_event_add(S, "snap", ebuf, strlen(edoc), NULL, ERR));
    memset(ebuf, 'x', strlen(edoc));
    acp_page *p;
    LIST_EVENTS(p, "snap", NULL);
    CHECK(acp_page_count(p) == 1, "%zu events", acp_page_count(p));
    const char *ej = acp_page_json(p, 0, &len);
    CHECK_SAME_STR("event after the added buffer was overwritten", ej, len, edoc);

    /* Also the filter strings of a listing are only read during the call. */
    char agent[] = "agent", sess[] = "sess";
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = sess;
    LIST_RUNS(p, &f);
    strcpy(agent, "xxxxx");
    strcpy(sess, "xxxx");
    CHECK(acp_page_count(p) == 1 && strcmp(acp_page_key(p, 0), "snap") == 0,
          "list by agent and session does not return the run");
    return T_PASS;
}

CONFORMANCE_CHECK(escaped_ids_in_documents_are_decoded)
{
    OPEN();
    /* run_id "café/x y" written with escapes. */
    static const char *const doc = "{\"run_id\":\"caf\\u00e9\\/x\\u0020y\",\"agent_name\":"
                                   "\"a\",\"status\":\"created\",\"output\":[]}";
    CHECK_RESULT(round_trip(c, "caf\xc3\xa9/x y", doc, strlen(doc)));
    char *json;
    size_t len;
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "caf\\u00e9\\/x\\u0020y", &json, &len, ERR));
    static const char *const sdoc = "{\"id\":\"s\\u00e9\\\"q\\\\\",\"state\":1}";
    CHECK_OK(acp_session_save(S, sdoc, ACP_STRLEN, ERR));
    GET_SESSION("s\xc3\xa9\"q\\", json, len);
    CHECK_SAME_STR("session saved with an escaped id", json, len, sdoc);
    if (!t_lists_sessions(c))
        return T_PASS;
    acp_page *p;
    LIST_SESSIONS(p, NULL, 10);
    CHECK(acp_page_count(p) == 1 && strcmp(acp_page_key(p, 0), "s\xc3\xa9\"q\\") == 0,
          "list_sessions key is \"%s\", expected the decoded id",
          acp_page_count(p) ? acp_page_key(p, 0) : "(none)");
    return T_PASS;
}

/* ---- deletion ---- */

CONFORMANCE_CHECK(delete_run_removes_the_run_and_its_events)
{
    OPEN();
    CHECK_OK(acp_run_save(S, t_run_doc(c, "gone", "agent", "sess", NULL), ACP_STRLEN, ERR));
    const char *stay = t_run_doc(c, "stays", "agent", "sess", NULL);
    CHECK_OK(acp_run_save(S, stay, ACP_STRLEN, ERR));
    for (int k = 0; k < 5; k++) {
        CHECK_OK(acp_event_add(S, "gone", "{\"type\":\"g\"}", ACP_STRLEN, NULL, ERR));
        CHECK_OK(acp_event_add(S, "stays", "{\"type\":\"s\"}", ACP_STRLEN, NULL, ERR));
    }
    CHECK_OK(acp_run_delete(S, "gone", ERR));
    char *json;
    size_t len;
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "gone", &json, &len, ERR));
    int64_t n;
    COUNT_EVENTS("gone", n);
    CHECK(n == 0, "%lld events of the deleted run remain", (long long)n);
    const char *ids[] = {"stays"};
    CHECK_LIST(NULL, NULL, ids, 1);
    CHECK_LIST("agent", "sess", ids, 1);
    GET_RUN("stays", json, len);
    CHECK_SAME_STR("the other run", json, len, stay);
    COUNT_EVENTS("stays", n);
    CHECK(n == 5, "the other run has %lld events, expected 5", (long long)n);
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "gone", ERR));
    return T_PASS;
}

CONFORMANCE_CHECK(delete_run_removes_events_of_a_run_without_record)
{
    OPEN();
    for (int k = 0; k < 3; k++)
        CHECK_OK(acp_event_add(S, "orphan", "{\"type\":\"o\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_event_add(S, "other", "{\"type\":\"o\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_run_delete(S, "orphan", ERR));
    int64_t n;
    COUNT_EVENTS("orphan", n);
    CHECK(n == 0, "%lld events remain after delete_run", (long long)n);
    COUNT_EVENTS("other", n);
    CHECK(n == 1, "events of another run: %lld, expected 1", (long long)n);
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "orphan", ERR));
    int64_t seq = 0;
    CHECK_OK(acp_event_add(S, "orphan", "{\"type\":\"o\"}", ACP_STRLEN, &seq, ERR));
    CHECK(seq == 1, "the first event after delete_run got sequence %lld", (long long)seq);
    return T_PASS;
}

CONFORMANCE_CHECK(delete_run_of_nothing_is_not_found)
{
    OPEN();
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "never-saved", ERR));
    CHECK_OK(acp_run_save(S, t_run_doc(c, "once", "agent", NULL, NULL), ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "never-saved", ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "onc", ERR));
    CHECK_OK(acp_run_delete(S, "once", ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "once", ERR));
    /* A session of that name is not a run. */
    CHECK_OK(acp_session_save(S, t_session_doc(c, "sess-only", "null"), ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_delete(S, "sess-only", ERR));
    char *json;
    size_t len;
    GET_SESSION("sess-only", json, len);
    return T_PASS;
}

CONFORMANCE_CHECK(run_saved_again_after_delete_starts_fresh)
{
    OPEN();
    CHECK_OK(acp_run_save(S, t_run_doc(c, "phoenix", "agent", "s1", NULL), ACP_STRLEN, ERR));
    int64_t t1;
    CHECK_RESULT(listed_time(c, "phoenix", &t1));
    for (int k = 0; k < 3; k++)
        CHECK_OK(acp_event_add(S, "phoenix", "{\"type\":\"old\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_run_delete(S, "phoenix", ERR));
    t_sleep_ms(20);
    const char *doc2 = t_run_doc(c, "phoenix", "agent2", NULL, NULL);
    CHECK_OK(acp_run_save(S, doc2, ACP_STRLEN, ERR));
    char *json;
    size_t len;
    GET_RUN("phoenix", json, len);
    CHECK_SAME_STR("run saved again after delete", json, len, doc2);
    int64_t t2;
    CHECK_RESULT(listed_time(c, "phoenix", &t2));
    CHECK(t2 > t1, "a run saved again after delete kept its old first-save time %s (now %s)",
          t_time(c, t1), t_time(c, t2));
    int64_t n;
    COUNT_EVENTS("phoenix", n);
    CHECK(n == 0, "%lld old events came back", (long long)n);
    int64_t seq = 0;
    CHECK_OK(acp_event_add(S, "phoenix", "{\"type\":\"new\"}", ACP_STRLEN, &seq, ERR));
    CHECK(seq == 1, "the first event after delete got sequence %lld", (long long)seq);
    const char *none[] = {NULL};
    CHECK_LIST(NULL, "s1", none, 0);
    CHECK_LIST("agent", NULL, none, 0);
    const char *ids[] = {"phoenix"};
    CHECK_LIST("agent2", NULL, ids, 1);
    return T_PASS;
}
