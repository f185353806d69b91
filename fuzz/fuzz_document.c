/* SPDX-License-Identifier: MIT */
/*
 * fuzz_document.c - document checking and indexing: acp_run_save,
 * acp_session_save and acp_event_add into a fresh memory: store.
 *
 * Input: byte 0 picks the document (run, session, event); byte 1 holds
 * flags (bit 0: pass ACP_STRLEN instead of the length); byte 2 is the
 * length of the run id an event is added to, which follows; the rest is
 * the document.
 *
 * Invariants:
 *  - a save answers OK or INVALID (with a message), nothing else;
 *  - OK: reading back by the id the document holds returns exactly the
 *    bytes given (minus surrounding whitespace, which the core trims), and
 *    the typed layer (acp_*_parse) accepts the same document and reads the
 *    same id; what its *_to_json makes of it saves again;
 *  - INVALID: nothing was stored (the store is empty), and the typed layer
 *    refuses the document too;
 *  - cJSON, given a document the core accepted, parses it and finds the
 *    same id (the core decodes indexed strings itself, without cJSON);
 *  - the typed layer builds its tree with its own scanner, not cJSON's
 *    parser: what its *_to_json writes is, to cJSON, the same value as
 *    the document it parsed.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "acp_storage.h"
#include "fuzz_common.h"

#ifndef ACP_FUZZ_PLUGIN_DIR
#error "ACP_FUZZ_PLUGIN_DIR must name the directory of libacp_storage_memory.so"
#endif

#define MAX_INPUT 65536

enum { K_RUN, K_SESSION, K_EVENT };

static acp_config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    acp_error e;
    if (acp_config_new(&cfg, &e) != ACP_OK || acp_config_parse_uri(cfg, "memory:", &e) != ACP_OK ||
        acp_config_add_plugin_dir(cfg, ACP_FUZZ_PLUGIN_DIR, &e) != ACP_OK) {
        fprintf(stderr, "fuzz_document: %s\n", e.message);
        abort();
    }
    /* Load the plugin now, so that libFuzzer sees its coverage from the
     * start. */
    acp_store *s;
    if (acp_store_open_config(cfg, &s, &e) != ACP_OK) {
        fprintf(stderr, "fuzz_document: %s\n", e.message);
        abort();
    }
    acp_store_close(s);
    return 0;
}

/* The text the core keeps: surrounding JSON whitespace removed. */
static void trimmed(const char *s, size_t n, const char **out, size_t *out_len)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    *out = s;
    *out_len = n;
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    return a && alen == blen && memcmp(a, b, alen) == 0;
}

/* The string member `name` as cJSON reads it, or NULL. */
static const char *cjson_str(const cJSON *root, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void check_cjson_id(const char *text, size_t len, const char *member, const char *id)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    FUZZ_CHECK(root, "cJSON refuses a document the core accepted: %.*s", (int)len, text);
    const char *cid = cjson_str(root, member);
    FUZZ_CHECK(cid && strcmp(cid, id) == 0, "the core reads %s \"%s\", cJSON \"%s\"", member, id,
               cid ? cid : "(none)");
    cJSON_Delete(root);
}

/* cJSON reads the typed layer's output as the same value as its input:
 * both print the same (printing, not cJSON_Compare, so that numbers too
 * large for a double, which cJSON prints as null, compare equal). */
static void check_same_value(const char *doc, size_t dlen, const char *json, size_t jlen)
{
    cJSON *a = cJSON_ParseWithLength(doc, dlen), *b = cJSON_ParseWithLength(json, jlen);
    char *pa = a ? cJSON_PrintUnformatted(a) : NULL, *pb = b ? cJSON_PrintUnformatted(b) : NULL;
    FUZZ_CHECK(pa && pb && strcmp(pa, pb) == 0, "the typed layer changed the value:\n  %.*s\n  %s",
               (int)dlen, doc, json);
    cJSON_free(pa);
    cJSON_free(pb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static int64_t runs_total(acp_store *s)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p = NULL;
    f.want_total = 1;
    FUZZ_CHECK(acp_run_list(s, &f, &p, NULL) == ACP_OK, "list_runs");
    int64_t n = acp_page_total(p);
    acp_page_free(p);
    return n;
}

static size_t sessions_count(acp_store *s)
{
    acp_page *p = NULL;
    FUZZ_CHECK(acp_session_list(s, NULL, 10, &p, NULL) == ACP_OK, "list_sessions");
    size_t n = acp_page_count(p);
    acp_page_free(p);
    return n;
}

static void fuzz_run(acp_store *s, const char *text, size_t len, const char *doc, size_t dlen)
{
    acp_error e = {0};
    acp_status st = acp_run_save(s, text, len, &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_INVALID, "run_save: %s (%s)", acp_status_name(st),
               e.message);
    acp_run *run = NULL;
    acp_error pe = {0};
    acp_status pst = acp_run_parse(doc, dlen, &run, &pe);
    FUZZ_CHECK(pst == st, "run_save says %s (%s), run_parse %s (%s)", acp_status_name(st),
               e.message, acp_status_name(pst), pe.message);
    if (st != ACP_OK) {
        FUZZ_CHECK(e.message[0], "INVALID without a message");
        FUZZ_CHECK(runs_total(s) == 0, "a refused run was stored");
        return;
    }
    const char *id = acp_run_id(run);
    char *got = NULL;
    size_t glen = 0;
    st = acp_run_get(s, id, &got, &glen, &e);
    FUZZ_CHECK(st == ACP_OK && same(got, glen, doc, dlen),
               "get_run \"%s\": %s, %zu bytes back for %zu saved", id, acp_status_name(st), glen,
               dlen);
    acp_free(got);
    FUZZ_CHECK(runs_total(s) == 1, "one save, %lld runs", (long long)runs_total(s));
    check_cjson_id(doc, dlen, "run_id", id);

    /* What the typed layer writes is a run too, with the same fields. */
    char *json = NULL;
    size_t jlen = 0;
    st = acp_run_to_json(run, &json, &jlen, &e);
    FUZZ_CHECK(st == ACP_OK, "run_to_json: %s", e.message);
    check_same_value(doc, dlen, json, jlen);
    st = acp_run_save(s, json, jlen, &e);
    FUZZ_CHECK(st == ACP_OK, "run_to_json wrote a run the store refuses: %s\n  %s", e.message,
               json);
    acp_run *again = NULL;
    FUZZ_CHECK(acp_run_parse(json, jlen, &again, &e) == ACP_OK, "reparse: %s", e.message);
    FUZZ_CHECK(strcmp(acp_run_id(again), id) == 0 &&
                   strcmp(acp_run_agent_name(again), acp_run_agent_name(run)) == 0 &&
                   strcmp(acp_run_status(again), acp_run_status(run)) == 0 &&
                   acp_run_created_us(again) == acp_run_created_us(run) &&
                   acp_run_finished_us(again) == acp_run_finished_us(run) &&
                   acp_run_output_count(again) == acp_run_output_count(run),
               "run_to_json changed an indexed field:\n  %.*s\n  %s", (int)dlen, doc, json);
    const char *s1 = acp_run_session_id(run), *s2 = acp_run_session_id(again);
    FUZZ_CHECK((!s1 && !s2) || (s1 && s2 && !strcmp(s1, s2)), "session_id changed");
    acp_run_free(again);
    acp_free(json);
    acp_run_free(run);
}

static void fuzz_session(acp_store *s, const char *text, size_t len, const char *doc,
                         size_t dlen)
{
    acp_error e = {0};
    acp_status st = acp_session_save(s, text, len, &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_INVALID, "session_save: %s (%s)", acp_status_name(st),
               e.message);
    acp_session *ses = NULL;
    acp_error pe = {0};
    acp_status pst = acp_session_parse(doc, dlen, &ses, &pe);
    FUZZ_CHECK(pst == st, "session_save says %s (%s), session_parse %s (%s)",
               acp_status_name(st), e.message, acp_status_name(pst), pe.message);
    if (st != ACP_OK) {
        FUZZ_CHECK(e.message[0], "INVALID without a message");
        FUZZ_CHECK(sessions_count(s) == 0, "a refused session was stored");
        return;
    }
    const char *id = acp_session_id(ses);
    char *got = NULL;
    size_t glen = 0;
    st = acp_session_get(s, id, &got, &glen, &e);
    FUZZ_CHECK(st == ACP_OK && same(got, glen, doc, dlen), "get_session \"%s\": %s", id,
               acp_status_name(st));
    acp_free(got);
    FUZZ_CHECK(sessions_count(s) == 1, "one save, %zu sessions", sessions_count(s));
    check_cjson_id(doc, dlen, "id", id);

    char *json = NULL;
    size_t jlen = 0;
    FUZZ_CHECK(acp_session_to_json(ses, &json, &jlen, &e) == ACP_OK, "session_to_json: %s",
               e.message);
    check_same_value(doc, dlen, json, jlen);
    st = acp_session_save(s, json, jlen, &e);
    FUZZ_CHECK(st == ACP_OK, "session_to_json wrote a session the store refuses: %s\n  %s",
               e.message, json);
    acp_session *again = NULL;
    FUZZ_CHECK(acp_session_parse(json, jlen, &again, &e) == ACP_OK, "reparse: %s", e.message);
    FUZZ_CHECK(strcmp(acp_session_id(again), id) == 0 &&
                   acp_session_history_count(again) == acp_session_history_count(ses),
               "session_to_json changed the id or the history");
    acp_session_free(again);
    acp_free(json);
    acp_session_free(ses);
}

static void fuzz_event(acp_store *s, const char *run_id, const char *text, size_t len,
                       const char *doc, size_t dlen)
{
    acp_error e = {0};
    int64_t seq = 0;
    acp_status st = acp_event_add(s, run_id, text, len, &seq, &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_INVALID, "event_add: %s (%s)", acp_status_name(st),
               e.message);
    int id_ok = acp_run_get(s, run_id, &(char *){NULL}, NULL, NULL) != ACP_INVALID;
    acp_event *ev = NULL;
    acp_error pe = {0};
    acp_status pst = acp_event_parse(doc, dlen, &ev, &pe);
    if (id_ok)
        FUZZ_CHECK(pst == st, "event_add says %s (%s), event_parse %s (%s)", acp_status_name(st),
                   e.message, acp_status_name(pst), pe.message);
    else
        FUZZ_CHECK(st == ACP_INVALID, "an invalid run id was accepted");
    acp_page *p = NULL;
    if (st != ACP_OK) {
        FUZZ_CHECK(e.message[0], "INVALID without a message");
        if (id_ok) {
            FUZZ_CHECK(acp_event_list(s, run_id, NULL, &p, NULL) == ACP_OK, "event_list");
            FUZZ_CHECK(acp_page_count(p) == 0, "a refused event was stored");
            acp_page_free(p);
        }
        acp_event_free(ev);
        return;
    }
    FUZZ_CHECK(seq == 1, "first event got sequence %lld", (long long)seq);
    FUZZ_CHECK(acp_event_list(s, run_id, NULL, &p, &e) == ACP_OK, "event_list: %s", e.message);
    size_t glen = 0;
    const char *got = acp_page_json(p, 0, &glen);
    FUZZ_CHECK(acp_page_count(p) == 1 && same(got, glen, doc, dlen) && acp_page_seq(p, 0) == 1,
               "event_list returned %zu events, not the one saved", acp_page_count(p));
    acp_page_free(p);
    check_cjson_id(doc, dlen, "type", acp_event_type(ev));

    char *json = NULL;
    size_t jlen = 0;
    FUZZ_CHECK(acp_event_to_json(ev, &json, &jlen, &e) == ACP_OK, "event_to_json: %s", e.message);
    check_same_value(doc, dlen, json, jlen);
    st = acp_event_add(s, run_id, json, jlen, &seq, &e);
    FUZZ_CHECK(st == ACP_OK && seq == 2, "event_to_json wrote an event the store refuses: %s\n  %s",
               e.message, json);
    acp_free(json);
    acp_event_free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > MAX_INPUT)
        return 0;
    int kind = data[0] % 3, use_strlen = data[1] & 1;
    size_t idlen = data[2];
    if (idlen > size - 3)
        return 0;
    char run_id[256];
    memcpy(run_id, data + 3, idlen);
    run_id[idlen] = '\0'; /* an embedded NUL just ends the id early */
    size_t len = size - 3 - idlen;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data + 3 + idlen, len);
    text[len] = '\0';
    size_t pass_len = use_strlen ? ACP_STRLEN : len;
    const char *doc;
    size_t dlen;
    trimmed(text, use_strlen ? strlen(text) : len, &doc, &dlen);

    acp_store *s;
    acp_error e;
    FUZZ_CHECK(acp_store_open_config(cfg, &s, &e) == ACP_OK, "open memory: %s", e.message);
    if (kind == K_RUN)
        fuzz_run(s, text, pass_len, doc, dlen);
    else if (kind == K_SESSION)
        fuzz_session(s, text, pass_len, doc, dlen);
    else
        fuzz_event(s, run_id, text, pass_len, doc, dlen);
    acp_store_close(s);
    free(text);
    return 0;
}
