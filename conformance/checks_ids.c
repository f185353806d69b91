/* SPDX-License-Identifier: MIT */
/*
 * checks_ids.c - any UTF-8 string of 1..256 bytes is an id, nothing else is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Ids that trip up file names, SQL, URL encodings, key patterns and text
 * comparison; some differ from each other only in case, escaping, trailing
 * space or Unicode normalisation. */
static const char *const unusual_ids[] = {
    "a/b", "a", "b", "/", "//", "/etc/passwd", "..", ".", "../..", "../x", "a/../b", "a/./b",
    "a:b", ":", "::", "%", "%2F", "a%2Fb", "a%2fb", "%25", "%00", "*", "a*", "?", "[a]",
    "{x}", " ", "  ", "a b", " a", "a ", "a+b", "\t", "a\nb", "\r\n", "\x7f",
    "\xc3\xa9",                                 /* é, precomposed */
    "e\xcc\x81",                                /* é, decomposed */
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",     /* 日本語 */
    "\xf0\x9f\x98\x80",                         /* an emoji, 4 bytes */
    "\xef\xbf\xbd",                             /* U+FFFD */
    "\xe2\x80\x8b",                             /* zero-width space */
    "\xc2\xa0",                                 /* no-break space */
    "A", "a.", "a..", "runs", "run", "events", "sessions", "meta", "index", "sqlite_master",
    "sqlite_sequence", "CON", "NUL", "nul", "aux.txt", ".git", ".lock", "~", "~/x", "\\",
    "a\\b", "\\\\server\\share", "\"", "'", "'; DROP TABLE runs; --", "\" OR 1=1 --",
    "acp:run:x", "acp:*", "$", "#", "&", "=", "?a=b&c=d", "@", "!", ",", ";", "|", "`", "<>",
    "..%2F..%2Fetc", "-", "-rf", "0", "00", "1e3",
};

#define N_FIXED (sizeof unusual_ids / sizeof unusual_ids[0])

static char *repeat(t_ctx *c, const char *unit, size_t times, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = t_alloc(c, ul * times + tl + 1);
    for (size_t k = 0; k < times; k++)
        memcpy(s + k * ul, unit, ul);
    memcpy(s + ul * times, tail, tl + 1);
    return s;
}

/* The fixed ids plus long ones (256 bytes, which escaping makes longer). */
static size_t all_unusual_ids(t_ctx *c, const char **ids)
{
    size_t n = 0;
    for (size_t k = 0; k < N_FIXED; k++)
        ids[n++] = unusual_ids[k];
    ids[n++] = repeat(c, "x", 256, "");
    ids[n++] = repeat(c, "%", 256, "");
    ids[n++] = repeat(c, "/", 256, "");
    ids[n++] = repeat(c, ".", 256, "");
    ids[n++] = repeat(c, "\xc3\xa9", 128, "");
    ids[n++] = repeat(c, "\xf0\x9f\x98\x80", 64, "");
    ids[n++] = repeat(c, "x", 255, "");
    return n;
}

#define N_ALL (N_FIXED + 7)

static int check_distinct(t_ctx *c, const char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            CHECK(strcmp(ids[i], ids[j]) != 0, "the check's id list repeats id %zu", i);
    return 0;
}

CONFORMANCE_CHECK(unusual_run_ids_round_trip_and_stay_distinct)
{
    OPEN();
    const char *ids[N_ALL];
    size_t n = all_unusual_ids(c, ids);
    CHECK_RESULT(check_distinct(c, ids, n));
    const char *docs[N_ALL];
    for (size_t k = 0; k < n; k++) {
        docs[k] = t_run_doc(c, ids[k], "ids", NULL, t_time(c, T_BASE_US + (int64_t)k * T_SEC));
        CHECK_OK(acp_run_save(S, docs[k], ACP_STRLEN, ERR));
        char *ev = t_printf(c, "{\"type\":\"t\",\"k\":%zu}", k);
        int64_t seq = 0;
        CHECK_OK(acp_event_add(S, ids[k], ev, ACP_STRLEN, &seq, ERR));
        CHECK(seq == 1, "the first event of run id #%zu %s got sequence %lld", k,
              t_json_str(c, ids[k]), (long long)seq);
    }
    char *json;
    size_t len;
    for (size_t k = 0; k < n; k++) {
        GET_RUN(ids[k], json, len);
        CHECK_SAME(t_printf(c, "run id #%zu %s", k, t_json_str(c, ids[k])), json, len,
                   docs[k], strlen(docs[k]));
        t_release(c, json);
        acp_page *p;
        LIST_EVENTS(p, ids[k], NULL);
        char *ev = t_printf(c, "{\"type\":\"t\",\"k\":%zu}", k);
        CHECK(acp_page_count(p) == 1, "run id #%zu %s has %zu events, expected its 1", k,
              t_json_str(c, ids[k]), acp_page_count(p));
        const char *ej = acp_page_json(p, 0, &len);
        CHECK_SAME(t_printf(c, "the event of run id #%zu %s", k, t_json_str(c, ids[k])), ej,
                   len, ev, strlen(ev));
        t_release(c, p);
    }
    /* Newest first: the reverse of the saving order. */
    const char *newest[N_ALL];
    for (size_t k = 0; k < n; k++)
        newest[k] = ids[n - 1 - k];
    CHECK_LIST("ids", NULL, newest, n);

    for (size_t k = 0; k < n; k += 2)
        CHECK_OK(acp_run_delete(S, ids[k], ERR));
    const char *left[N_ALL];
    size_t nl = 0;
    for (size_t k = n; k-- > 0;)
        if (k % 2 == 1)
            left[nl++] = ids[k];
    for (size_t k = 0; k < n; k++) {
        int64_t events;
        COUNT_EVENTS(ids[k], events);
        if (k % 2 == 0) {
            CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, ids[k], &json, &len, ERR));
            CHECK(events == 0, "deleted run id #%zu %s still has %lld events", k,
                  t_json_str(c, ids[k]), (long long)events);
        } else {
            GET_RUN(ids[k], json, len);
            CHECK_SAME(t_printf(c, "run id #%zu %s after deleting others", k,
                                t_json_str(c, ids[k])),
                       json, len, docs[k], strlen(docs[k]));
            CHECK(events == 1, "run id #%zu %s has %lld events after deleting others", k,
                  t_json_str(c, ids[k]), (long long)events);
        }
    }
    CHECK_LIST(NULL, NULL, left, nl);
    return T_PASS;
}

CONFORMANCE_CHECK(unusual_session_ids_round_trip_and_stay_distinct)
{
    OPEN();
    const char *ids[N_ALL];
    size_t n = all_unusual_ids(c, ids);
    CHECK_RESULT(check_distinct(c, ids, n));
    const char *docs[N_ALL];
    for (size_t k = 0; k < n; k++) {
        docs[k] = t_session_doc(c, ids[k], t_printf(c, "%zu", k));
        CHECK_OK(acp_session_save(S, docs[k], ACP_STRLEN, ERR));
    }
    char *json;
    size_t len;
    for (size_t k = 0; k < n; k++) {
        GET_SESSION(ids[k], json, len);
        CHECK_SAME(t_printf(c, "session id #%zu %s", k, t_json_str(c, ids[k])), json, len,
                   docs[k], strlen(docs[k]));
        t_release(c, json);
    }
    const char *sorted[N_ALL];
    memcpy(sorted, ids, n * sizeof ids[0]);
    qsort(sorted, n, sizeof sorted[0], t_by_bytes);
    CHECK_SESSIONS(NULL, sorted, n, 1000);
    CHECK_SESSIONS(NULL, sorted, n, 7);

    for (size_t k = 0; k < n; k += 2)
        CHECK_OK(acp_session_delete(S, ids[k], ERR));
    for (size_t k = 0; k < n; k++) {
        if (k % 2 == 0) {
            CHECK_STATUS(ACP_NOT_FOUND, acp_session_get(S, ids[k], &json, &len, ERR));
        } else {
            GET_SESSION(ids[k], json, len);
            CHECK_SAME(t_printf(c, "session id #%zu %s after deleting others", k,
                                t_json_str(c, ids[k])),
                       json, len, docs[k], strlen(docs[k]));
            t_release(c, json);
        }
    }
    const char *left[N_ALL];
    size_t nl = 0;
    for (size_t k = 0; k < n; k++)
        if (k % 2 == 1)
            left[nl++] = ids[k];
    qsort(left, nl, sizeof left[0], t_by_bytes);
    CHECK_SESSIONS(NULL, left, nl, 1000);

    /* A run and a session may share an id without touching each other. */
    const char *run = t_run_doc(c, ids[1], "agent", NULL, NULL);
    CHECK_OK(acp_run_save(S, run, ACP_STRLEN, ERR));
    CHECK_OK(acp_session_delete(S, ids[1], ERR));
    GET_RUN(ids[1], json, len);
    CHECK_SAME_STR("a run whose id equals a deleted session's", json, len, run);
    return T_PASS;
}

/* Every call that takes an id refuses this one with INVALID. */
static int refused_everywhere(t_ctx *c, int line, const char *id, const char *why)
{
    char *json;
    size_t len;
    acp_page *p;
    int64_t seq;
    const char *idj = t_json_str(c, id);
    struct {
        const char *what;
        acp_status st;
    } calls[10];
    size_t n = 0;
#define TRY(name_, call)                                                                   \
    do {                                                                                   \
        t_err_reset(c);                                                                    \
        calls[n].what = (name_);                                                           \
        calls[n++].st = (call);                                                            \
    } while (0)
    TRY("acp_run_save", acp_run_save(S, t_run_doc(c, id, "agent", NULL, NULL), ACP_STRLEN, ERR));
    TRY("acp_run_get", acp_run_get(S, id, &json, &len, ERR));
    TRY("acp_run_delete", acp_run_delete(S, id, ERR));
    TRY("acp_event_add", acp_event_add(S, id, "{\"type\":\"t\"}", ACP_STRLEN, &seq, ERR));
    TRY("acp_event_list", acp_event_list(S, id, NULL, &p, ERR));
    TRY("acp_session_save", acp_session_save(S, t_session_doc(c, id, "1"), ACP_STRLEN, ERR));
    TRY("acp_session_get", acp_session_get(S, id, &json, &len, ERR));
    TRY("acp_session_delete", acp_session_delete(S, id, ERR));
#undef TRY
    for (size_t k = 0; k < n; k++) {
        if (calls[k].st == ACP_OK && strcmp(calls[k].what, "acp_run_get") == 0)
            acp_free(json);
        if (calls[k].st == ACP_OK && strcmp(calls[k].what, "acp_session_get") == 0)
            acp_free(json);
        if (calls[k].st == ACP_OK && strcmp(calls[k].what, "acp_event_list") == 0)
            acp_page_free(p);
        if (calls[k].st != ACP_INVALID)
            return t_fail(c, __FILE__, line, "%s with %s id %s returned %s, expected INVALID",
                          calls[k].what, why, idj, acp_status_name(calls[k].st));
    }
    return 0;
}

/* Every call that takes an id accepts this one. */
static int accepted_everywhere(t_ctx *c, const char *id, const char *why)
{
    const char *idj = t_json_str(c, id);
    const char *doc = t_run_doc(c, id, "long", NULL, NULL);
    CHECK_OK(acp_run_save(S, doc, ACP_STRLEN, ERR));
    char *json;
    size_t len;
    GET_RUN(id, json, len);
    CHECK_SAME(t_printf(c, "run with %s id", why), json, len, doc, strlen(doc));
    int64_t seq = 0;
    CHECK_OK(acp_event_add(S, id, "{\"type\":\"t\"}", ACP_STRLEN, &seq, ERR));
    CHECK(seq == 1, "event of %s id %s got sequence %lld", why, idj, (long long)seq);
    const char *ids[] = {id};
    CHECK_LIST("long", NULL, ids, 1);
    CHECK_OK(acp_run_delete(S, id, ERR));
    int64_t n;
    COUNT_EVENTS(id, n);
    CHECK(n == 0, "events of %s id %s survive delete_run", why, idj);
    const char *sdoc = t_session_doc(c, id, "true");
    CHECK_OK(acp_session_save(S, sdoc, ACP_STRLEN, ERR));
    GET_SESSION(id, json, len);
    CHECK_SAME(t_printf(c, "session with %s id", why), json, len, sdoc, strlen(sdoc));
    CHECK_OK(acp_session_delete(S, id, ERR));
    return 0;
}

CONFORMANCE_CHECK(id_length_limits_are_enforced)
{
    OPEN();
    char *a256 = repeat(c, "a", 256, "");
    char *a257 = repeat(c, "a", 257, "");
    char *e256 = repeat(c, "\xc3\xa9", 128, "");
    char *e257 = repeat(c, "\xc3\xa9", 128, "a");
    char *j256 = repeat(c, "\xe6\x97\xa5", 85, "a");       /* 256 bytes, 3-byte chars */
    char *j258 = repeat(c, "\xe6\x97\xa5", 86, "");        /* 258 bytes */
    char *m256 = repeat(c, "\xf0\x9f\x98\x80", 64, "");
    char *m260 = repeat(c, "\xf0\x9f\x98\x80", 65, "");
    CHECK_RESULT(accepted_everywhere(c, "a", "a 1-byte"));
    CHECK_RESULT(accepted_everywhere(c, a256, "a 256-byte ASCII"));
    CHECK_RESULT(accepted_everywhere(c, e256, "a 256-byte two-byte-character"));
    CHECK_RESULT(accepted_everywhere(c, j256, "a 256-byte three-byte-character"));
    CHECK_RESULT(accepted_everywhere(c, m256, "a 256-byte four-byte-character"));
    /* With a 256-byte id stored, its 257-byte extension must not find it. */
    CHECK_OK(acp_run_save(S, t_run_doc(c, a256, "long", NULL, NULL), ACP_STRLEN, ERR));
    CHECK_RESULT(refused_everywhere(c, __LINE__, a257, "a 257-byte"));
    CHECK_RESULT(refused_everywhere(c, __LINE__, e257, "a 257-byte"));
    CHECK_RESULT(refused_everywhere(c, __LINE__, j258, "a 258-byte"));
    CHECK_RESULT(refused_everywhere(c, __LINE__, m260, "a 260-byte"));
    CHECK_RESULT(refused_everywhere(c, __LINE__, repeat(c, "b", 4096, ""), "a 4096-byte"));
    CHECK_RESULT(refused_everywhere(c, __LINE__, "", "an empty"));
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 1, "%lld runs stored, expected only the 256-byte one", (long long)total);
    if (!t_lists_sessions(c))
        return T_PASS;
    acp_page *p;
    LIST_SESSIONS(p, NULL, 1000);
    CHECK(acp_page_count(p) == 0, "%zu sessions stored by refused calls", acp_page_count(p));
    return T_PASS;
}

CONFORMANCE_CHECK(invalid_utf8_ids_are_refused)
{
    OPEN();
    static const struct {
        const char *id;
        const char *why;
    } bad[] = {
        {"\xff", "a 0xff byte"},
        {"run-\x80", "a stray continuation byte"},
        {"\xc0\xaf", "an overlong '/'"},
        {"\xe0\x80\xaf", "a 3-byte overlong '/'"},
        {"\xf0\x80\x80\xaf", "a 4-byte overlong '/'"},
        {"run-\xc3", "a truncated 2-byte sequence"},
        {"run-\xe6\x97", "a truncated 3-byte sequence"},
        {"\xe6\x97" "a", "a 3-byte sequence cut by ASCII"},
        {"\xed\xa0\x80", "a UTF-16 surrogate"},
        {"\xf4\x90\x80\x80", "a code point above U+10FFFF"},
        {"\xf8\x88\x80\x80\x80", "a 5-byte sequence"},
        {"\xfe", "a 0xfe byte"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK_RESULT(refused_everywhere(c, __LINE__, bad[k].id, bad[k].why));
    int64_t total;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 0, "%lld runs stored by refused calls", (long long)total);
    if (!t_lists_sessions(c))
        return T_PASS;
    acp_page *p;
    LIST_SESSIONS(p, NULL, 1000);
    CHECK(acp_page_count(p) == 0, "%zu sessions stored by refused calls", acp_page_count(p));
    return T_PASS;
}
