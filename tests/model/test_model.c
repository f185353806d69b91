/* SPDX-License-Identifier: MIT */
/*
 * test_model.c - the typed layer (acp_run, acp_message, acp_session,
 * acp_event), UUIDs and RFC 3339 time, without a store.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "acp_storage.h"

#define SENTINEL_CODE ((acp_status)99)

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static char *run_json(const acp_run *run)
{
    char *json = NULL;
    size_t len = 0;
    acp_error e;
    acp_status st = acp_run_to_json(run, &json, &len, &e);
    cr_assert_eq(st, ACP_OK, "acp_run_to_json: %s", e.message);
    cr_assert_eq(len, strlen(json));
    return json;
}

static char *session_json(const acp_session *s)
{
    char *json = NULL;
    size_t len = 0;
    acp_error e;
    acp_status st = acp_session_to_json(s, &json, &len, &e);
    cr_assert_eq(st, ACP_OK, "acp_session_to_json: %s", e.message);
    cr_assert_eq(len, strlen(json));
    return json;
}

static char *session_state(const acp_session *s)
{
    char *json = NULL;
    size_t len = 0;
    acp_error e;
    acp_status st = acp_session_state_json(s, &json, &len, &e);
    cr_assert_eq(st, ACP_OK, "acp_session_state_json: %s", e.message);
    cr_assert_eq(len, strlen(json));
    return json;
}

static char *event_json(const acp_event *ev)
{
    char *json = NULL;
    size_t len = 0;
    acp_error e;
    acp_status st = acp_event_to_json(ev, &json, &len, &e);
    cr_assert_eq(st, ACP_OK, "acp_event_to_json: %s", e.message);
    cr_assert_eq(len, strlen(json));
    return json;
}

/* Assert st is ACP_INVALID and that e says so with a message. */
static void assert_invalid(acp_status st, const acp_error *e, const char *what)
{
    cr_assert_eq(st, ACP_INVALID, "%s: expected INVALID, got %s", what, acp_status_name(st));
    cr_assert_eq(e->code, ACP_INVALID, "%s: err->code not set", what);
    cr_assert_neq(e->message[0], '\0', "%s: no message", what);
}

static int is_uuid_v4(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* A run with everything the typed layer can set. */
static acp_run *full_run(void)
{
    acp_run *run = NULL;
    acp_message *a = NULL, *b = NULL, *q = NULL;
    acp_error e;
    cr_assert_eq(acp_run_new("weather", &run, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_set_session_id(run, "sess-42", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_new("agent/weather", &a, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_add_text(a, "Sunny, 24\xc2\xb0" "C.", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_new("agent/weather", &b, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_add_text(b, "Details:", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_add_part(b, "image/png", "iVBORw0KGgo=", "base64", "map.png", &e),
                 ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_add_output(run, a, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_add_output(run, b, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_set_error(run, "server_error", "upstream \"timeout\"", &e), ACP_OK,
                 "%s", e.message);
    cr_assert_eq(acp_message_new("agent/weather", &q, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_add_text(q, "Which city?", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_set_await_message(run, q, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_set_status(run, "awaiting", &e), ACP_OK, "%s", e.message);
    acp_message_free(a);
    acp_message_free(b);
    acp_message_free(q);
    return run;
}

static const char example_run[] =
    "{\"run_id\":\"3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40\",\"agent_name\":\"weather\","
    "\"session_id\":\"sess-42\",\"status\":\"completed\",\"output\":[{\"role\":\"agent/weather\","
    "\"parts\":[{\"content_type\":\"text/plain\",\"content\":\"Sunny, 24\\u00b0C.\","
    "\"content_encoding\":\"plain\"}],\"created_at\":\"2025-06-01T12:00:02Z\"}],"
    "\"created_at\":\"2025-06-01T12:00:00Z\",\"finished_at\":\"2025-06-01T12:00:03Z\"}";

/* 2025-06-01T12:00:00Z */
#define T_2025_06_01_12 INT64_C(1748779200000000)

/* ------------------------------------------------------------------ */
/* UUID                                                                 */
/* ------------------------------------------------------------------ */

Test(uuid, is_lower_case_v4_of_36_chars)
{
    for (int i = 0; i < 200; i++) {
        char id[37];
        memset(id, 'X', sizeof id);
        acp_uuid_v4(id);
        cr_assert_eq(id[36], '\0');
        cr_assert(is_uuid_v4(id), "not a lower-case UUID v4: %s", id);
    }
}

Test(uuid, two_calls_differ)
{
    char a[37], b[37];
    acp_uuid_v4(a);
    acp_uuid_v4(b);
    cr_assert_str_neq(a, b);
}

Test(uuid, null_buffer_is_ignored)
{
    acp_uuid_v4(NULL);
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

Test(message, new_has_the_role_and_no_parts)
{
    acp_message *m = NULL;
    cr_assert_eq(acp_message_new("user", &m, NULL), ACP_OK);
    cr_assert_str_eq(acp_message_role(m), "user");
    cr_assert_eq(acp_message_part_count(m), 0);
    cr_assert_null(acp_message_part_content(m, 0));
    acp_message_free(m);
}

Test(message, new_rejects_missing_empty_or_bad_role)
{
    acp_message *m = (acp_message *)&m;
    acp_error e;
    assert_invalid(acp_message_new(NULL, &m, &e), &e, "NULL role");
    assert_invalid(acp_message_new("", &m, &e), &e, "empty role");
    assert_invalid(acp_message_new("agent/\xff", &m, &e), &e, "bad UTF-8 role");
    cr_assert_eq(m, (acp_message *)&m, "out changed on failure");
    assert_invalid(acp_message_new("user", NULL, &e), &e, "NULL out");
}

Test(message, parts_read_back_in_order)
{
    acp_message *m = NULL;
    acp_error e;
    cr_assert_eq(acp_message_new("agent", &m, &e), ACP_OK);
    cr_assert_eq(acp_message_add_text(m, "hello", &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_add_part(m, "image/png", "aGk=", "base64", "pic.png", &e), ACP_OK,
                 "%s", e.message);
    cr_assert_eq(acp_message_add_part(m, NULL, "", NULL, NULL, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_part_count(m), 3);
    cr_assert_str_eq(acp_message_part_content(m, 0), "hello");
    cr_assert_str_eq(acp_message_part_content_type(m, 0), "text/plain");
    cr_assert_str_eq(acp_message_part_content(m, 1), "aGk=");
    cr_assert_str_eq(acp_message_part_content_type(m, 1), "image/png");
    cr_assert_str_eq(acp_message_part_content(m, 2), "");
    cr_assert_str_eq(acp_message_part_content_type(m, 2), "text/plain");
    cr_assert_null(acp_message_part_content(m, 3));
    cr_assert_null(acp_message_part_content_type(m, 3));
    cr_assert_null(acp_message_part_content(m, SIZE_MAX));
    acp_message_free(m);
}

Test(message, add_part_rejects_bad_arguments_and_adds_nothing)
{
    acp_message *m = NULL;
    acp_error e;
    cr_assert_eq(acp_message_new("user", &m, &e), ACP_OK);
    assert_invalid(acp_message_add_part(NULL, NULL, "x", NULL, NULL, &e), &e, "NULL msg");
    assert_invalid(acp_message_add_part(m, NULL, NULL, NULL, NULL, &e), &e, "NULL content");
    assert_invalid(acp_message_add_part(m, NULL, "x", "gzip", NULL, &e), &e, "bad encoding");
    assert_invalid(acp_message_add_part(m, "", "x", NULL, NULL, &e), &e, "empty type");
    assert_invalid(acp_message_add_part(m, NULL, "x", NULL, "", &e), &e, "empty name");
    assert_invalid(acp_message_add_part(m, NULL, "\xc3\x28", NULL, NULL, &e), &e, "bad UTF-8");
    assert_invalid(acp_message_add_part(m, NULL, "\xed\xa0\x80", NULL, NULL, &e), &e,
                   "surrogate");
    assert_invalid(acp_message_add_part(m, NULL, "\xc0\xaf", NULL, NULL, &e), &e, "overlong");
    assert_invalid(acp_message_add_text(m, NULL, &e), &e, "NULL text");
    assert_invalid(acp_message_add_text(NULL, "x", &e), &e, "NULL msg (text)");
    cr_assert_eq(acp_message_part_count(m), 0);
    acp_message_free(m);
}

Test(message, success_leaves_err_untouched)
{
    acp_message *m = NULL;
    acp_error e = {.code = SENTINEL_CODE, .message = "sentinel"};
    cr_assert_eq(acp_message_new("user", &m, &e), ACP_OK);
    cr_assert_eq(acp_message_add_text(m, "x", &e), ACP_OK);
    cr_assert_eq(e.code, SENTINEL_CODE);
    cr_assert_str_eq(e.message, "sentinel");
    acp_message_free(m);
}

Test(message, accessors_on_null_are_safe)
{
    cr_assert_null(acp_message_role(NULL));
    cr_assert_eq(acp_message_part_count(NULL), 0);
    cr_assert_null(acp_message_part_content(NULL, 0));
    cr_assert_null(acp_message_part_content_type(NULL, 0));
    acp_message_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Runs                                                                 */
/* ------------------------------------------------------------------ */

Test(run, new_has_uuid_created_status_now_and_empty_output)
{
    acp_run *run = NULL;
    acp_error e;
    int64_t t0 = acp_time_now_us();
    cr_assert_eq(acp_run_new("weather", &run, &e), ACP_OK, "%s", e.message);
    int64_t t1 = acp_time_now_us();
    cr_assert(is_uuid_v4(acp_run_id(run)), "run id %s", acp_run_id(run));
    cr_assert_str_eq(acp_run_agent_name(run), "weather");
    cr_assert_str_eq(acp_run_status(run), "created");
    cr_assert_null(acp_run_session_id(run));
    cr_assert_eq(acp_run_output_count(run), 0);
    cr_assert_geq(acp_run_created_us(run), t0);
    cr_assert_leq(acp_run_created_us(run), t1);
    cr_assert_eq(acp_run_finished_us(run), INT64_MIN);

    char *json = run_json(run);
    cJSON *doc = cJSON_Parse(json);
    cr_assert_not_null(doc, "%s", json);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(doc, "output");
    cr_assert(cJSON_IsArray(out) && cJSON_GetArraySize(out) == 0, "%s", json);
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(doc, "created_at");
    cr_assert(cJSON_IsString(created), "%s", json);
    /* RFC 3339 UTC with microseconds: 2025-06-01T12:00:00.000000Z */
    const char *c = created->valuestring;
    cr_assert_eq(strlen(c), 27, "%s", c);
    cr_assert(c[4] == '-' && c[10] == 'T' && c[19] == '.' && c[26] == 'Z', "%s", c);
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(doc, "finished_at"));
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(doc, "session_id"));
    cJSON_Delete(doc);
    acp_free(json);

    acp_run *other = NULL;
    cr_assert_eq(acp_run_new("weather", &other, &e), ACP_OK);
    cr_assert_str_neq(acp_run_id(run), acp_run_id(other));
    acp_run_free(other);
    acp_run_free(run);
}

Test(run, new_rejects_bad_arguments)
{
    acp_run *run = (acp_run *)&run;
    acp_error e;
    assert_invalid(acp_run_new(NULL, &run, &e), &e, "NULL agent");
    assert_invalid(acp_run_new("", &run, &e), &e, "empty agent");
    assert_invalid(acp_run_new("\xc3\x28", &run, &e), &e, "bad UTF-8 agent");
    assert_invalid(acp_run_new("weather", NULL, &e), &e, "NULL out");
    cr_assert_eq(run, (acp_run *)&run, "out changed on failure");
}

Test(run, to_json_and_parse_round_trip)
{
    acp_run *run = full_run();
    char *json = run_json(run);

    acp_run *back = NULL;
    acp_error e;
    cr_assert_eq(acp_run_parse(json, ACP_STRLEN, &back, &e), ACP_OK, "%s: %s", json, e.message);
    cr_assert_str_eq(acp_run_id(back), acp_run_id(run));
    cr_assert_str_eq(acp_run_agent_name(back), "weather");
    cr_assert_str_eq(acp_run_session_id(back), "sess-42");
    cr_assert_str_eq(acp_run_status(back), "awaiting");
    cr_assert_eq(acp_run_created_us(back), acp_run_created_us(run));
    cr_assert_eq(acp_run_finished_us(back), INT64_MIN);
    cr_assert_eq(acp_run_output_count(back), 2);

    acp_message *m = NULL;
    cr_assert_eq(acp_run_output_message(back, 0, &m, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_message_role(m), "agent/weather");
    cr_assert_eq(acp_message_part_count(m), 1);
    cr_assert_str_eq(acp_message_part_content(m, 0), "Sunny, 24\xc2\xb0" "C.");
    acp_message_free(m);
    cr_assert_eq(acp_run_output_message(back, 1, &m, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_message_part_count(m), 2);
    cr_assert_str_eq(acp_message_part_content(m, 0), "Details:");
    cr_assert_str_eq(acp_message_part_content(m, 1), "iVBORw0KGgo=");
    cr_assert_str_eq(acp_message_part_content_type(m, 1), "image/png");
    acp_message_free(m);

    /* Parsing and printing again changes nothing. */
    char *again = run_json(back);
    cr_assert_str_eq(again, json);

    /* The members without getters are there, with the right shape. */
    cJSON *doc = cJSON_Parse(json);
    cr_assert_not_null(doc);
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(doc, "error");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(error, "code")->valuestring,
                     "server_error");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(error, "message")->valuestring,
                     "upstream \"timeout\"");
    const cJSON *await = cJSON_GetObjectItemCaseSensitive(doc, "await_request");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(await, "type")->valuestring, "message");
    const cJSON *am = cJSON_GetObjectItemCaseSensitive(await, "message");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(am, "role")->valuestring, "agent/weather");
    const cJSON *part = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(am, "parts"), 0);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(part, "content")->valuestring,
                     "Which city?");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(part, "content_encoding")->valuestring,
                     "plain");
    const cJSON *out1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "output"), 1);
    const cJSON *png = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out1, "parts"), 1);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(png, "content_encoding")->valuestring,
                     "base64");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(png, "name")->valuestring, "map.png");
    cJSON_Delete(doc);

    acp_free(again);
    acp_free(json);
    acp_run_free(back);
    acp_run_free(run);
}

Test(run, to_json_length_may_be_null)
{
    acp_run *run = full_run();
    char *json = NULL;
    cr_assert_eq(acp_run_to_json(run, &json, NULL, NULL), ACP_OK);
    cr_assert_not_null(json);
    acp_free(json);
    acp_run_free(run);
}

Test(run, output_and_await_hold_copies_of_messages)
{
    acp_run *run = NULL;
    acp_message *m = NULL, *got = NULL;
    acp_error e;
    cr_assert_eq(acp_run_new("a", &run, &e), ACP_OK);
    cr_assert_eq(acp_message_new("agent", &m, &e), ACP_OK);
    cr_assert_eq(acp_message_add_text(m, "one", &e), ACP_OK);
    cr_assert_eq(acp_run_add_output(run, m, &e), ACP_OK);
    cr_assert_eq(acp_run_set_await_message(run, m, &e), ACP_OK);
    char *before = run_json(run);
    cr_assert_eq(acp_message_add_text(m, "two", &e), ACP_OK);
    acp_message_free(m);
    char *after = run_json(run);
    cr_assert_str_eq(after, before, "changing the message changed the run");

    cr_assert_eq(acp_run_output_message(run, 0, &got, &e), ACP_OK);
    cr_assert_eq(acp_message_add_text(got, "three", &e), ACP_OK);
    cr_assert_eq(acp_message_part_count(got), 2);
    acp_message_free(got);
    cr_assert_eq(acp_run_output_message(run, 0, &got, &e), ACP_OK);
    cr_assert_eq(acp_message_part_count(got), 1, "changing the copy changed the run");
    acp_message_free(got);

    acp_free(before);
    acp_free(after);
    acp_run_free(run);
}

Test(run, output_message_past_the_end_is_invalid)
{
    acp_run *run = full_run();
    acp_message *m = (acp_message *)&m;
    acp_error e;
    assert_invalid(acp_run_output_message(run, 2, &m, &e), &e, "index 2 of 2");
    assert_invalid(acp_run_output_message(run, SIZE_MAX, &m, &e), &e, "index SIZE_MAX");
    assert_invalid(acp_run_output_message(run, 0, NULL, &e), &e, "NULL out");
    assert_invalid(acp_run_output_message(NULL, 0, &m, &e), &e, "NULL run");
    cr_assert_eq(m, (acp_message *)&m);
    acp_run_free(run);
}

Test(run, entering_a_terminal_status_sets_finished_at)
{
    static const char *const terminal[] = {"completed", "failed", "cancelled"};
    for (size_t i = 0; i < 3; i++) {
        acp_run *run = NULL;
        acp_error e;
        cr_assert_eq(acp_run_new("a", &run, &e), ACP_OK);
        cr_assert_eq(acp_run_set_status(run, "in-progress", &e), ACP_OK, "%s", e.message);
        cr_assert_str_eq(acp_run_status(run), "in-progress");
        cr_assert_eq(acp_run_finished_us(run), INT64_MIN, "non-terminal status set finished_at");
        int64_t t0 = acp_time_now_us();
        cr_assert_eq(acp_run_set_status(run, terminal[i], &e), ACP_OK, "%s", e.message);
        int64_t t1 = acp_time_now_us();
        cr_assert_str_eq(acp_run_status(run), terminal[i]);
        cr_assert_geq(acp_run_finished_us(run), t0, "%s", terminal[i]);
        cr_assert_leq(acp_run_finished_us(run), t1, "%s", terminal[i]);

        /* What a store would get validates and carries the instant. */
        char *json = run_json(run);
        acp_run *back = NULL;
        cr_assert_eq(acp_run_parse(json, ACP_STRLEN, &back, &e), ACP_OK, "%s", e.message);
        cr_assert_eq(acp_run_finished_us(back), acp_run_finished_us(run));
        acp_run_free(back);
        acp_free(json);
        acp_run_free(run);
    }
}

Test(run, repeating_the_terminal_status_keeps_finished_at)
{
    acp_run *run = NULL;
    acp_error e;
    cr_assert_eq(acp_run_parse(example_run, ACP_STRLEN, &run, &e), ACP_OK, "%s", e.message);
    int64_t fin = acp_run_finished_us(run);
    cr_assert_eq(fin, T_2025_06_01_12 + 3000000);
    cr_assert_eq(acp_run_set_status(run, "completed", &e), ACP_OK);
    cr_assert_eq(acp_run_finished_us(run), fin);
    /* A different terminal status is entered anew. */
    cr_assert_eq(acp_run_set_status(run, "failed", &e), ACP_OK);
    cr_assert_gt(acp_run_finished_us(run), fin);
    acp_run_free(run);
}

Test(run, unknown_status_is_invalid_and_changes_nothing)
{
    static const char *const bad[] = {"done", "", "Completed", "in_progress", " created"};
    acp_run *run = full_run();
    acp_error e;
    char *before = run_json(run);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_invalid(acp_run_set_status(run, bad[i], &e), &e, bad[i]);
        char *now = run_json(run);
        cr_assert_str_eq(now, before, "status '%s' changed the run", bad[i]);
        acp_free(now);
    }
    assert_invalid(acp_run_set_status(run, NULL, &e), &e, "NULL status");
    assert_invalid(acp_run_set_status(NULL, "completed", &e), &e, "NULL run");
    cr_assert_str_eq(acp_run_status(run), "awaiting");
    acp_free(before);
    acp_run_free(run);
}

Test(run, session_id_is_set_replaced_and_cleared)
{
    acp_run *run = NULL;
    acp_error e;
    cr_assert_eq(acp_run_new("a", &run, &e), ACP_OK);
    cr_assert_eq(acp_run_set_session_id(run, "sess-1", &e), ACP_OK);
    cr_assert_str_eq(acp_run_session_id(run), "sess-1");
    cr_assert_eq(acp_run_set_session_id(run, "sess/2 \xc3\xa9", &e), ACP_OK);
    cr_assert_str_eq(acp_run_session_id(run), "sess/2 \xc3\xa9");
    char *json = run_json(run);
    cr_assert_not_null(strstr(json, "\"session_id\":\"sess/2 \xc3\xa9\""), "%s", json);
    cr_assert_null(strstr(strstr(json, "session_id") + 1, "session_id"), "twice: %s", json);
    acp_free(json);

    cr_assert_eq(acp_run_set_session_id(run, NULL, &e), ACP_OK);
    cr_assert_null(acp_run_session_id(run));
    json = run_json(run);
    cr_assert_null(strstr(json, "session_id"), "%s", json);
    acp_free(json);
    /* Clearing what is not set is fine too. */
    cr_assert_eq(acp_run_set_session_id(run, NULL, &e), ACP_OK);
    acp_run_free(run);
}

Test(run, bad_session_ids_are_invalid_and_change_nothing)
{
    char long_id[ACP_ID_MAX + 2];
    memset(long_id, 's', sizeof long_id - 1);
    long_id[ACP_ID_MAX + 1] = '\0';
    acp_run *run = full_run();
    acp_error e;
    char *before = run_json(run);
    assert_invalid(acp_run_set_session_id(run, "", &e), &e, "empty id");
    assert_invalid(acp_run_set_session_id(run, long_id, &e), &e, "257 bytes");
    assert_invalid(acp_run_set_session_id(run, "s\xff", &e), &e, "bad UTF-8");
    assert_invalid(acp_run_set_session_id(NULL, "s", &e), &e, "NULL run");
    char *now = run_json(run);
    cr_assert_str_eq(now, before);
    acp_free(now);

    long_id[ACP_ID_MAX] = '\0'; /* 256 bytes is the longest valid id */
    cr_assert_eq(acp_run_set_session_id(run, long_id, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_run_session_id(run), long_id);
    acp_free(before);
    acp_run_free(run);
}

Test(run, error_and_await_reject_bad_arguments)
{
    acp_run *run = full_run();
    acp_error e;
    char *before = run_json(run);
    assert_invalid(acp_run_set_error(NULL, "c", "m", &e), &e, "NULL run");
    assert_invalid(acp_run_set_error(run, NULL, "m", &e), &e, "NULL code");
    assert_invalid(acp_run_set_error(run, "", "m", &e), &e, "empty code");
    assert_invalid(acp_run_set_error(run, "c", NULL, &e), &e, "NULL message");
    assert_invalid(acp_run_set_error(run, "c", "\xff", &e), &e, "bad UTF-8 message");
    assert_invalid(acp_run_set_await_message(run, NULL, &e), &e, "NULL msg");
    assert_invalid(acp_run_set_await_message(NULL, NULL, &e), &e, "NULL run (await)");
    assert_invalid(acp_run_add_output(run, NULL, &e), &e, "NULL msg (output)");
    assert_invalid(acp_run_add_output(NULL, NULL, &e), &e, "NULL run (output)");
    char *now = run_json(run);
    cr_assert_str_eq(now, before);
    acp_free(now);
    acp_free(before);
    acp_run_free(run);
}

Test(run, set_error_replaces_the_previous_error)
{
    acp_run *run = full_run();
    acp_error e;
    cr_assert_eq(acp_run_set_error(run, "not_found", "gone", &e), ACP_OK);
    char *json = run_json(run);
    cr_assert_not_null(strstr(json, "\"error\":{\"code\":\"not_found\",\"message\":\"gone\"}"),
                       "%s", json);
    cr_assert_null(strstr(json, "server_error"), "%s", json);
    acp_free(json);
    acp_run_free(run);
}

Test(run, parse_reads_the_reference_example)
{
    acp_run *run = NULL;
    acp_error e;
    cr_assert_eq(acp_run_parse(example_run, strlen(example_run), &run, &e), ACP_OK, "%s",
                 e.message);
    cr_assert_str_eq(acp_run_id(run), "3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40");
    cr_assert_str_eq(acp_run_agent_name(run), "weather");
    cr_assert_str_eq(acp_run_session_id(run), "sess-42");
    cr_assert_str_eq(acp_run_status(run), "completed");
    cr_assert_eq(acp_run_created_us(run), T_2025_06_01_12);
    cr_assert_eq(acp_run_finished_us(run), T_2025_06_01_12 + 3000000);
    cr_assert_eq(acp_run_output_count(run), 1);
    acp_message *m = NULL;
    cr_assert_eq(acp_run_output_message(run, 0, &m, &e), ACP_OK);
    cr_assert_str_eq(acp_message_part_content(m, 0), "Sunny, 24\xc2\xb0" "C.");
    acp_message_free(m);
    acp_run_free(run);
}

Test(run, parse_takes_offsets_nulls_and_an_explicit_length)
{
    static const char doc[] = "  {\"run_id\":\"run-789\",\"agent_name\":\"echo\",\"status\":"
                              "\"in-progress\",\"session_id\":null,\"finished_at\":null,"
                              "\"created_at\":\"2025-06-01T14:00:00.5+02:00\"}\n"
                              "TRAILING BYTES BEYOND len";
    size_t len = (size_t)(strstr(doc, "TRAILING") - doc);
    acp_run *run = NULL;
    acp_error e;
    cr_assert_eq(acp_run_parse(doc, len, &run, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_run_id(run), "run-789");
    cr_assert_null(acp_run_session_id(run));
    cr_assert_eq(acp_run_finished_us(run), INT64_MIN);
    cr_assert_eq(acp_run_created_us(run), T_2025_06_01_12 + 500000);
    cr_assert_eq(acp_run_output_count(run), 0);
    acp_run_free(run);
    assert_invalid(acp_run_parse(doc, ACP_STRLEN, &run, &e), &e, "trailing bytes");
}

Test(run, parse_rejects_what_save_rejects)
{
    static const char *const bad[] = {
        "",
        "   ",
        "{",
        "[]",
        "\"run\"",
        "{}",
        "{\"agent_name\":\"a\",\"status\":\"created\"}",
        "{\"run_id\":\"\",\"agent_name\":\"a\",\"status\":\"created\"}",
        "{\"run_id\":7,\"agent_name\":\"a\",\"status\":\"created\"}",
        "{\"run_id\":\"r\",\"status\":\"created\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"\",\"status\":\"created\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"done\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\",\"session_id\":7}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\",\"created_at\":\"now\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\",\"finished_at\":5}",
        "{\"run_id\":\"r\\u0000x\",\"agent_name\":\"a\",\"status\":\"created\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"} x",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        acp_run *run = (acp_run *)&run;
        acp_error e;
        assert_invalid(acp_run_parse(bad[i], ACP_STRLEN, &run, &e), &e, bad[i]);
        cr_assert_eq(run, (acp_run *)&run, "out changed for %s", bad[i]);
    }
    /* A NUL inside the given length. */
    static const char nul[] = "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}\0 ";
    acp_run *run = NULL;
    acp_error e;
    assert_invalid(acp_run_parse(nul, sizeof nul - 1, &run, &e), &e, "NUL in text");
    assert_invalid(acp_run_parse(NULL, 0, &run, &e), &e, "NULL json");
    assert_invalid(acp_run_parse(example_run, ACP_STRLEN, NULL, &e), &e, "NULL out");
}

Test(run, parse_keeps_unknown_members_exact)
{
    static const char doc[] =
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"failed\",\"output\":[],"
        "\"error\":{\"code\":\"server_error\",\"message\":\"x\",\"data\":{\"n\":9007199254740993}},"
        "\"x\\u0041\":[1.10,1e400,-0],\"meta\":{\"big\":12345678901234567890}}";
    acp_run *run = NULL;
    acp_error e;
    cr_assert_eq(acp_run_parse(doc, ACP_STRLEN, &run, &e), ACP_OK, "%s", e.message);
    char *json = run_json(run);
    /* Keys are re-printed (decoded); values keep their text. */
    cr_assert_str_eq(json, "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"failed\","
                           "\"output\":[],\"error\":{\"code\":\"server_error\",\"message\":"
                           "\"x\",\"data\":{\"n\":9007199254740993}},\"xA\":[1.10,1e400,-0],"
                           "\"meta\":{\"big\":12345678901234567890}}");
    /* Edits keep them exact too. */
    cr_assert_eq(acp_run_set_session_id(run, "s", &e), ACP_OK);
    cr_assert_eq(acp_run_set_status(run, "failed", &e), ACP_OK);
    acp_free(json);
    json = run_json(run);
    cr_assert_not_null(strstr(json, "\"data\":{\"n\":9007199254740993}"), "%s", json);
    cr_assert_not_null(strstr(json, "\"xA\":[1.10,1e400,-0]"), "%s", json);
    cr_assert_not_null(strstr(json, "\"meta\":{\"big\":12345678901234567890}"), "%s", json);
    acp_free(json);
    acp_run_free(run);
}

Test(run, repeated_indexed_keys_are_refused)
{
    /* A reader that keeps the last occurrence would index another run than
     * the store does: the core refuses the document, and so does parse. */
    static const char *const docs[] = {
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\",\"status\":\"completed\"}",
        "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\",\"session_id\":\"s1\","
        "\"session_id\":\"s2\"}",
        "{\"run_id\":\"r\",\"run_id\":\"q\",\"agent_name\":\"a\",\"status\":\"created\"}",
    };
    acp_run *run = NULL;
    acp_error e;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        assert_invalid(acp_run_parse(docs[i], ACP_STRLEN, &run, &e), &e, docs[i]);
        cr_assert_null(run);
    }
}

Test(run, output_is_created_when_absent_and_refused_when_not_an_array)
{
    acp_message *m = NULL;
    acp_error e;
    cr_assert_eq(acp_message_new("agent", &m, &e), ACP_OK);
    cr_assert_eq(acp_message_add_text(m, "hi", &e), ACP_OK);

    acp_run *run = NULL;
    cr_assert_eq(acp_run_parse("{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}",
                               ACP_STRLEN, &run, &e),
                 ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_output_count(run), 0);
    cr_assert_eq(acp_run_add_output(run, m, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_output_count(run), 1);
    acp_run_free(run);

    cr_assert_eq(acp_run_parse("{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\","
                               "\"output\":{\"role\":\"agent\"}}",
                               ACP_STRLEN, &run, &e),
                 ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_output_count(run), 0);
    char *before = run_json(run);
    assert_invalid(acp_run_add_output(run, m, &e), &e, "output is an object");
    char *now = run_json(run);
    cr_assert_str_eq(now, before);
    acp_free(now);
    acp_free(before);
    acp_run_free(run);

    /* An output entry that is not an object is no message. */
    cr_assert_eq(acp_run_parse("{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\","
                               "\"output\":[\"text\"]}",
                               ACP_STRLEN, &run, &e),
                 ACP_OK, "%s", e.message);
    acp_message *got = (acp_message *)&got;
    assert_invalid(acp_run_output_message(run, 0, &got, &e), &e, "string output entry");
    cr_assert_eq(got, (acp_message *)&got);
    acp_run_free(run);
    acp_message_free(m);
}

Test(run, accessors_on_null_are_safe)
{
    cr_assert_null(acp_run_id(NULL));
    cr_assert_null(acp_run_agent_name(NULL));
    cr_assert_null(acp_run_session_id(NULL));
    cr_assert_null(acp_run_status(NULL));
    cr_assert_eq(acp_run_created_us(NULL), INT64_MIN);
    cr_assert_eq(acp_run_finished_us(NULL), INT64_MIN);
    cr_assert_eq(acp_run_output_count(NULL), 0);
    acp_run_free(NULL);
}

Test(run, to_json_rejects_null_arguments)
{
    acp_run *run = full_run();
    char *json = (char *)&json;
    acp_error e;
    assert_invalid(acp_run_to_json(NULL, &json, NULL, &e), &e, "NULL run");
    assert_invalid(acp_run_to_json(run, NULL, NULL, &e), &e, "NULL json");
    cr_assert_eq(json, (char *)&json);
    /* err may be NULL. */
    cr_assert_eq(acp_run_to_json(NULL, &json, NULL, NULL), ACP_INVALID);
    acp_run_free(run);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

Test(session, new_has_the_id_an_empty_history_and_null_state)
{
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_new("sess-42", &s, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_session_id(s), "sess-42");
    cr_assert_eq(acp_session_history_count(s), 0);
    char *state = session_state(s);
    cr_assert_str_eq(state, "null");
    char *json = session_json(s);
    cr_assert_str_eq(json, "{\"id\":\"sess-42\",\"history\":[],\"state\":null}");
    acp_free(state);
    acp_free(json);
    acp_session_free(s);
}

Test(session, new_rejects_bad_ids)
{
    char long_id[ACP_ID_MAX + 2];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[ACP_ID_MAX + 1] = '\0';
    acp_session *s = (acp_session *)&s;
    acp_error e;
    assert_invalid(acp_session_new(NULL, &s, &e), &e, "NULL id");
    assert_invalid(acp_session_new("", &s, &e), &e, "empty id");
    assert_invalid(acp_session_new(long_id, &s, &e), &e, "257 bytes");
    assert_invalid(acp_session_new("\xe2\x82", &s, &e), &e, "cut UTF-8");
    assert_invalid(acp_session_new("s", NULL, &e), &e, "NULL out");
    cr_assert_eq(s, (acp_session *)&s);
}

Test(session, state_round_trips_exactly_as_text)
{
    static const char *const cases[][2] = {
        {"false", "false"},
        {"0", "0"},
        {"\"\"", "\"\""},
        {"null", "null"},
        {"{\"a\":9007199254740993}", "{\"a\":9007199254740993}"},
        {" \n\t{\"a\": [1.50, 2e3]}\r\n ", "{\"a\": [1.50, 2e3]}"},
        {"-0.0", "-0.0"},
        {"\"https://example.org/state/1\"", "\"https://example.org/state/1\""},
        {"[]", "[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        acp_session *s = NULL, *back = NULL;
        acp_error e;
        cr_assert_eq(acp_session_new("s", &s, &e), ACP_OK);
        cr_assert_eq(acp_session_set_state_json(s, cases[i][0], ACP_STRLEN, &e), ACP_OK,
                     "%s: %s", cases[i][0], e.message);
        char *state = session_state(s);
        cr_assert_str_eq(state, cases[i][1]);
        acp_free(state);

        /* Through the document a store keeps, and back. */
        char *json = session_json(s);
        char expect[256];
        snprintf(expect, sizeof expect, "{\"id\":\"s\",\"history\":[],\"state\":%s}", cases[i][1]);
        cr_assert_str_eq(json, expect);
        cr_assert_eq(acp_session_parse(json, ACP_STRLEN, &back, &e), ACP_OK, "%s", e.message);
        state = session_state(back);
        cr_assert_str_eq(state, cases[i][1]);
        char *again = session_json(back);
        cr_assert_str_eq(again, json);
        acp_free(again);
        acp_free(state);
        acp_free(json);
        acp_session_free(back);
        acp_session_free(s);
    }
}

Test(session, state_honours_the_explicit_length)
{
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_new("s", &s, &e), ACP_OK);
    cr_assert_eq(acp_session_set_state_json(s, "123456", 3, &e), ACP_OK, "%s", e.message);
    char *state = session_state(s);
    cr_assert_str_eq(state, "123");
    acp_free(state);
    acp_session_free(s);
}

Test(session, invalid_state_is_refused_and_the_state_kept)
{
    static const char *const bad[] = {"", "  ", "{", "tru", "1 2", "{\"a\":1}x", "'x'", "[1,]",
                                      "\"\\ud800\"", "{\"a\":\"\\x\"}"};
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_new("s", &s, &e), ACP_OK);
    cr_assert_eq(acp_session_set_state_json(s, "{\"keep\":1}", ACP_STRLEN, &e), ACP_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_invalid(acp_session_set_state_json(s, bad[i], ACP_STRLEN, &e), &e, bad[i]);
        char *state = session_state(s);
        cr_assert_str_eq(state, "{\"keep\":1}", "after %s", bad[i]);
        acp_free(state);
    }
    assert_invalid(acp_session_set_state_json(s, NULL, 0, &e), &e, "NULL json");
    assert_invalid(acp_session_set_state_json(NULL, "1", ACP_STRLEN, &e), &e, "NULL session");
    acp_session_free(s);
}

Test(session, history_takes_messages_and_url_strings_only)
{
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_new("s", &s, &e), ACP_OK);
    cr_assert_eq(acp_session_add_history_json(
                     s, "{\"role\":\"user\",\"parts\":[],\"n\":9007199254740993}", ACP_STRLEN, &e),
                 ACP_OK, "%s", e.message);
    cr_assert_eq(acp_session_add_history_json(s, " \"https://x.example/runs/1\" ", ACP_STRLEN, &e),
                 ACP_OK, "%s", e.message);
    cr_assert_eq(acp_session_history_count(s), 2);
    assert_invalid(acp_session_add_history_json(s, "5", ACP_STRLEN, &e), &e, "number");
    assert_invalid(acp_session_add_history_json(s, "null", ACP_STRLEN, &e), &e, "null");
    assert_invalid(acp_session_add_history_json(s, "[]", ACP_STRLEN, &e), &e, "array");
    assert_invalid(acp_session_add_history_json(s, "{", ACP_STRLEN, &e), &e, "bad JSON");
    assert_invalid(acp_session_add_history_json(s, NULL, 0, &e), &e, "NULL json");
    assert_invalid(acp_session_add_history_json(NULL, "\"u\"", ACP_STRLEN, &e), &e, "NULL s");
    cr_assert_eq(acp_session_history_count(s), 2);
    char *json = session_json(s);
    cr_assert_str_eq(json, "{\"id\":\"s\",\"history\":[{\"role\":\"user\",\"parts\":[],"
                           "\"n\":9007199254740993},\"https://x.example/runs/1\"],"
                           "\"state\":null}");
    acp_free(json);
    acp_session_free(s);
}

Test(session, parse_keeps_state_history_and_unknown_members_exact)
{
    static const char doc[] =
        "{\"id\":\"sess-42\",\"history\":[{\"role\":\"user\",\"parts\":[{\"content\":\"hi\"}],"
        "\"n\":9007199254740993},\"https://x.example/runs/1\"],"
        "\"state\":{\"big\":12345678901234567890,\"f\":1.10},\"extra\":1.000}";
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_parse(doc, ACP_STRLEN, &s, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_session_id(s), "sess-42");
    cr_assert_eq(acp_session_history_count(s), 2);
    char *state = session_state(s);
    cr_assert_str_eq(state, "{\"big\":12345678901234567890,\"f\":1.10}");
    char *json = session_json(s);
    cr_assert_str_eq(json, doc);
    acp_free(json);

    cr_assert_eq(acp_session_add_history_json(s, "\"https://x.example/runs/2\"", ACP_STRLEN, &e),
                 ACP_OK);
    cr_assert_eq(acp_session_history_count(s), 3);
    json = session_json(s);
    cr_assert_not_null(strstr(json, "\"n\":9007199254740993},\"https://x.example/runs/1\","
                                    "\"https://x.example/runs/2\"]"),
                       "%s", json);
    cr_assert_not_null(strstr(json, "\"extra\":1.000"), "%s", json);
    acp_free(json);
    acp_free(state);
    acp_session_free(s);
}

Test(session, parse_of_a_pretty_document_keeps_each_value)
{
    static const char doc[] = "{\n  \"id\" : \"s\",\n  \"state\" : false ,\n"
                              "  \"history\" : [ \"u1\" , {\"role\":\"agent\"} ]\n}\n";
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_parse(doc, ACP_STRLEN, &s, &e), ACP_OK, "%s", e.message);
    char *json = session_json(s);
    cr_assert_str_eq(json,
                     "{\"id\":\"s\",\"state\":false,\"history\":[\"u1\",{\"role\":\"agent\"}]}");
    acp_free(json);
    acp_session_free(s);
}

Test(session, missing_state_reads_as_null_and_missing_history_is_created)
{
    acp_session *s = NULL;
    acp_error e;
    cr_assert_eq(acp_session_parse("{\"id\":\"s\"}", ACP_STRLEN, &s, &e), ACP_OK, "%s",
                 e.message);
    char *state = session_state(s);
    cr_assert_str_eq(state, "null");
    acp_free(state);
    cr_assert_eq(acp_session_history_count(s), 0);
    cr_assert_eq(acp_session_add_history_json(s, "\"u\"", ACP_STRLEN, &e), ACP_OK);
    cr_assert_eq(acp_session_history_count(s), 1);
    acp_session_free(s);

    cr_assert_eq(acp_session_parse("{\"id\":\"s\",\"history\":\"u\"}", ACP_STRLEN, &s, &e), ACP_OK,
                 "%s", e.message);
    assert_invalid(acp_session_add_history_json(s, "\"v\"", ACP_STRLEN, &e), &e,
                   "history not an array");
    acp_session_free(s);
}

Test(session, parse_rejects_invalid_documents)
{
    static const char *const bad[] = {"", "[]", "{}", "{\"id\":5}", "{\"id\":\"\"}",
                                      "{\"id\":\"s\"", "{\"id\":\"s\"} 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        acp_session *s = (acp_session *)&s;
        acp_error e;
        assert_invalid(acp_session_parse(bad[i], ACP_STRLEN, &s, &e), &e, bad[i]);
        cr_assert_eq(s, (acp_session *)&s);
    }
    acp_session *s = NULL;
    acp_error e;
    assert_invalid(acp_session_parse(NULL, 0, &s, &e), &e, "NULL json");
    assert_invalid(acp_session_parse("{\"id\":\"s\"}", ACP_STRLEN, NULL, &e), &e, "NULL out");
}

Test(session, accessors_and_outputs_on_null_are_safe)
{
    char *json = (char *)&json;
    acp_error e;
    cr_assert_null(acp_session_id(NULL));
    cr_assert_eq(acp_session_history_count(NULL), 0);
    assert_invalid(acp_session_state_json(NULL, &json, NULL, &e), &e, "state of NULL");
    assert_invalid(acp_session_to_json(NULL, &json, NULL, &e), &e, "to_json of NULL");
    cr_assert_eq(json, (char *)&json);
    acp_session *s = NULL;
    cr_assert_eq(acp_session_new("s", &s, &e), ACP_OK);
    assert_invalid(acp_session_state_json(s, NULL, NULL, &e), &e, "NULL json (state)");
    assert_invalid(acp_session_to_json(s, NULL, NULL, &e), &e, "NULL json (to_json)");
    acp_session_free(s);
    acp_session_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

Test(event, members_set_from_json_read_back_exactly)
{
    static const char part[] = "{\"content_type\":\"text/plain\",\"content\":\"Sunny\"}";
    acp_event *ev = NULL;
    acp_error e;
    cr_assert_eq(acp_event_new("message.part", &ev, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_event_type(ev), "message.part");
    cr_assert_eq(acp_event_set_json(ev, "part", part, ACP_STRLEN, &e), ACP_OK, "%s", e.message);

    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(acp_event_get_json(ev, "part", &got, &len, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(got, part);
    cr_assert_eq(len, strlen(part));
    acp_free(got);

    char *json = event_json(ev);
    cr_assert_str_eq(json, "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\","
                           "\"content\":\"Sunny\"}}");
    acp_free(json);

    /* Setting again replaces; numbers keep their text. */
    cr_assert_eq(acp_event_set_json(ev, "part", "{\"n\":9007199254740993}", ACP_STRLEN, &e),
                 ACP_OK);
    cr_assert_eq(acp_event_set_json(ev, "seq_hint", " 1.50 ", ACP_STRLEN, &e), ACP_OK);
    json = event_json(ev);
    cr_assert_str_eq(json, "{\"type\":\"message.part\",\"part\":{\"n\":9007199254740993},"
                           "\"seq_hint\":1.50}");
    acp_free(json);

    cr_assert_eq(acp_event_get_json(ev, "type", &got, NULL, &e), ACP_OK);
    cr_assert_str_eq(got, "\"message.part\"");
    acp_free(got);
    acp_event_free(ev);
}

Test(event, missing_member_is_not_found)
{
    acp_event *ev = NULL;
    acp_error e;
    char *got = (char *)&got;
    cr_assert_eq(acp_event_new("generic", &ev, &e), ACP_OK);
    cr_assert_eq(acp_event_get_json(ev, "generic", &got, NULL, &e), ACP_NOT_FOUND);
    cr_assert_eq(e.code, ACP_NOT_FOUND);
    cr_assert_eq(got, (char *)&got);
    /* Keys are case-sensitive. */
    cr_assert_eq(acp_event_set_json(ev, "data", "1", ACP_STRLEN, &e), ACP_OK);
    cr_assert_eq(acp_event_get_json(ev, "Data", &got, NULL, &e), ACP_NOT_FOUND);
    acp_event_free(ev);
}

Test(event, set_json_rejects_type_bad_keys_and_bad_json)
{
    acp_event *ev = NULL;
    acp_error e;
    cr_assert_eq(acp_event_new("run.failed", &ev, &e), ACP_OK);
    char *before = event_json(ev);
    assert_invalid(acp_event_set_json(ev, "type", "\"x\"", ACP_STRLEN, &e), &e, "type key");
    assert_invalid(acp_event_set_json(ev, "", "1", ACP_STRLEN, &e), &e, "empty key");
    assert_invalid(acp_event_set_json(ev, NULL, "1", ACP_STRLEN, &e), &e, "NULL key");
    assert_invalid(acp_event_set_json(ev, "k\xff", "1", ACP_STRLEN, &e), &e, "bad UTF-8 key");
    assert_invalid(acp_event_set_json(ev, "error", "{", ACP_STRLEN, &e), &e, "bad JSON");
    assert_invalid(acp_event_set_json(ev, "error", "1 2", ACP_STRLEN, &e), &e, "two values");
    assert_invalid(acp_event_set_json(ev, "error", NULL, 0, &e), &e, "NULL json");
    assert_invalid(acp_event_set_json(NULL, "error", "1", ACP_STRLEN, &e), &e, "NULL event");
    char *now = event_json(ev);
    cr_assert_str_eq(now, before);
    acp_free(now);
    acp_free(before);
    acp_event_free(ev);
}

Test(event, new_rejects_bad_types)
{
    acp_event *ev = (acp_event *)&ev;
    acp_error e;
    assert_invalid(acp_event_new(NULL, &ev, &e), &e, "NULL type");
    assert_invalid(acp_event_new("", &ev, &e), &e, "empty type");
    assert_invalid(acp_event_new("\xff", &ev, &e), &e, "bad UTF-8 type");
    assert_invalid(acp_event_new("generic", NULL, &e), &e, "NULL out");
    cr_assert_eq(ev, (acp_event *)&ev);
}

Test(event, parse_keeps_the_payload_exact)
{
    static const char doc[] = "{\"type\":\"run.failed\",\"run_id\":\"3f9a\","
                              "\"error\":{\"code\":\"server_error\",\"message\":\"timeout\"},"
                              "\"generic\":{\"n\":9007199254740993,\"x\":[1.0,true,null]}}";
    acp_event *ev = NULL;
    acp_error e;
    cr_assert_eq(acp_event_parse(doc, ACP_STRLEN, &ev, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_event_type(ev), "run.failed");
    char *json = event_json(ev);
    cr_assert_str_eq(json, doc);
    acp_free(json);
    char *got = NULL;
    cr_assert_eq(acp_event_get_json(ev, "generic", &got, NULL, &e), ACP_OK);
    cr_assert_str_eq(got, "{\"n\":9007199254740993,\"x\":[1.0,true,null]}");
    acp_free(got);
    cr_assert_eq(acp_event_get_json(ev, "run_id", &got, NULL, &e), ACP_OK);
    cr_assert_str_eq(got, "\"3f9a\"");
    acp_free(got);
    acp_event_free(ev);
}

Test(event, parse_rejects_what_add_rejects)
{
    static const char *const bad[] = {"",           "[]", "{}", "{\"type\":1}", "{\"type\":\"\"}",
                                      "\"message\"", "{\"type\":\"x\"} {}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        acp_event *ev = (acp_event *)&ev;
        acp_error e;
        assert_invalid(acp_event_parse(bad[i], ACP_STRLEN, &ev, &e), &e, bad[i]);
        cr_assert_eq(ev, (acp_event *)&ev);
    }
    acp_event *ev = NULL;
    acp_error e;
    assert_invalid(acp_event_parse(NULL, 0, &ev, &e), &e, "NULL json");
    assert_invalid(acp_event_parse("{\"type\":\"x\"}", ACP_STRLEN, NULL, &e), &e, "NULL out");
}

Test(event, accessors_and_outputs_on_null_are_safe)
{
    char *json = (char *)&json;
    acp_error e;
    cr_assert_null(acp_event_type(NULL));
    assert_invalid(acp_event_to_json(NULL, &json, NULL, &e), &e, "to_json of NULL");
    assert_invalid(acp_event_get_json(NULL, "k", &json, NULL, &e), &e, "get of NULL");
    acp_event *ev = NULL;
    cr_assert_eq(acp_event_new("generic", &ev, &e), ACP_OK);
    assert_invalid(acp_event_get_json(ev, NULL, &json, NULL, &e), &e, "NULL key");
    assert_invalid(acp_event_get_json(ev, "type", NULL, NULL, &e), &e, "NULL json");
    assert_invalid(acp_event_to_json(ev, NULL, NULL, &e), &e, "NULL json (to_json)");
    cr_assert_eq(json, (char *)&json);
    acp_event_free(ev);
    acp_event_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Time                                                                 */
/* ------------------------------------------------------------------ */

static int64_t parse_ok(const char *text)
{
    int64_t us = 0;
    acp_error e;
    acp_status st = acp_time_parse(text, ACP_STRLEN, &us, &e);
    cr_assert_eq(st, ACP_OK, "%s: %s", text, e.message);
    return us;
}

Test(time, offsets_are_compared_as_instants)
{
    cr_assert_eq(parse_ok("2025-06-01T12:00:00Z"), T_2025_06_01_12);
    cr_assert_eq(parse_ok("2025-06-01T14:00:00+02:00"), T_2025_06_01_12);
    cr_assert_eq(parse_ok("2025-06-01T06:30:00-05:30"), T_2025_06_01_12);
    cr_assert_eq(parse_ok("2025-06-01T12:00:00+00:00"), T_2025_06_01_12);
    cr_assert_eq(parse_ok("2025-06-02T00:00:00+12:00"), T_2025_06_01_12);
    cr_assert_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
}

Test(time, fractions_are_microseconds_and_extra_digits_are_cut)
{
    cr_assert_eq(parse_ok("2025-06-01T12:00:00.5Z"), T_2025_06_01_12 + 500000);
    cr_assert_eq(parse_ok("2025-06-01T12:00:00.123456Z"), T_2025_06_01_12 + 123456);
    cr_assert_eq(parse_ok("2025-06-01T12:00:00.123456789Z"), T_2025_06_01_12 + 123456);
    cr_assert_eq(parse_ok("2025-06-01T12:00:00.000001Z"), T_2025_06_01_12 + 1);
    cr_assert_eq(parse_ok("2025-06-01T14:00:00.25+02:00"), T_2025_06_01_12 + 250000);
}

Test(time, format_is_utc_with_six_digit_fraction)
{
    char buf[ACP_TIME_BUFSZ];
    acp_time_format(T_2025_06_01_12, buf);
    cr_assert_str_eq(buf, "2025-06-01T12:00:00.000000Z");
    acp_time_format(T_2025_06_01_12 + 123456, buf);
    cr_assert_str_eq(buf, "2025-06-01T12:00:00.123456Z");
    acp_time_format(0, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000000Z");
    acp_time_format(-1, buf);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59.999999Z");
    acp_time_format(INT64_C(951782400000000), buf); /* leap day */
    cr_assert_str_eq(buf, "2000-02-29T00:00:00.000000Z");
}

Test(time, format_then_parse_gives_the_same_instant)
{
    const int64_t values[] = {0,
                              1,
                              -1,
                              T_2025_06_01_12 + 999999,
                              INT64_C(951782400000000),
                              INT64_C(253402300799999999), /* 9999-12-31T23:59:59.999999Z */
                              acp_time_now_us()};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[ACP_TIME_BUFSZ];
        acp_time_format(values[i], buf);
        cr_assert_eq(parse_ok(buf), values[i], "%s", buf);
    }
}

Test(time, invalid_text_is_refused)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "2025-06-01",
        "2025-06-01T12:00:00",
        "2025-06-01T12:00Z",
        "2025-13-01T12:00:00Z",
        "2025-00-01T12:00:00Z",
        "2025-02-29T12:00:00Z",
        "2025-04-31T12:00:00Z",
        "2025-06-01T24:00:00Z",
        "2025-06-01T12:60:00Z",
        "2025-06-01T12:00:00.Z",
        "2025-06-01T12:00:00Zjunk",
        "2025-06-01T12:00:00+2:00",
        "2025-06-01T12:00:00+02",
        "2025-06-01T12:00:00+24:00",
        "2025-6-01T12:00:00Z",
        "20250601T120000Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        acp_error e;
        assert_invalid(acp_time_parse(bad[i], ACP_STRLEN, &us, &e), &e, bad[i]);
        cr_assert_eq(us, 42, "output changed for %s", bad[i]);
    }
    int64_t us;
    acp_error e;
    assert_invalid(acp_time_parse(NULL, 0, &us, &e), &e, "NULL text");
    assert_invalid(acp_time_parse("2025-06-01T12:00:00Z", ACP_STRLEN, NULL, &e), &e, "NULL us");
}

Test(time, parse_honours_the_explicit_length)
{
    static const char text[] = "2025-06-01T12:00:00Zxyz";
    int64_t us = 0;
    cr_assert_eq(acp_time_parse(text, 20, &us, NULL), ACP_OK);
    cr_assert_eq(us, T_2025_06_01_12);
    cr_assert_eq(acp_time_parse(text, 19, &us, NULL), ACP_INVALID);
}

/* ------------------------------------------------------------------ */
/* Out of memory: every call that fails leaves its object as it was      */
/* ------------------------------------------------------------------ */
/* cJSON allocates through hooks; the test (an application) installs one
 * that fails from the n-th allocation on, and tries n = 0, 1, 2, ...
 * Each test runs in its own Criterion worker, so the hook stays there. */

static long alloc_budget = -1; /* allocations left before failing; -1: no limit */

static void *budget_malloc(size_t n)
{
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    return malloc(n);
}

static void budget_hooks(void)
{
    cJSON_Hooks hooks = {budget_malloc, free};
    cJSON_InitHooks(&hooks);
}

typedef acp_status (*run_change)(acp_run *run, const acp_message *msg, acp_error *err);

static acp_message *sample_message(void)
{
    acp_message *m = NULL;
    cr_assert_eq(acp_message_new("agent", &m, NULL), ACP_OK);
    cr_assert_eq(acp_message_add_text(m, "hello", NULL), ACP_OK);
    cr_assert_eq(acp_message_add_part(m, "text/csv", "a,b", NULL, "t.csv", NULL), ACP_OK);
    return m;
}

static acp_status change_status(acp_run *run, const acp_message *msg, acp_error *err)
{
    (void)msg;
    return acp_run_set_status(run, "completed", err);
}

static acp_status change_session(acp_run *run, const acp_message *msg, acp_error *err)
{
    (void)msg;
    return acp_run_set_session_id(run, "sess-new", err);
}

static acp_status change_output(acp_run *run, const acp_message *msg, acp_error *err)
{
    return acp_run_add_output(run, msg, err);
}

static acp_status change_error(acp_run *run, const acp_message *msg, acp_error *err)
{
    (void)msg;
    return acp_run_set_error(run, "server_error", "boom", err);
}

static acp_status change_await(acp_run *run, const acp_message *msg, acp_error *err)
{
    return acp_run_set_await_message(run, msg, err);
}

/* Apply change to a fresh run from `doc` under a growing allocation budget
 * until it succeeds; every failure must be NOMEM and leave the run as it
 * was. */
static void run_change_under_nomem(const char *doc, run_change change, const char *name)
{
    budget_hooks();
    acp_run *run = NULL;
    cr_assert_eq(acp_run_parse(doc, ACP_STRLEN, &run, NULL), ACP_OK);
    acp_message *msg = sample_message();
    char *before = run_json(run);
    int failures = 0;
    acp_status st = ACP_NOMEM;
    for (long n = 0; n < 1000 && st != ACP_OK; n++) {
        acp_error e;
        alloc_budget = n;
        st = change(run, msg, &e);
        alloc_budget = -1;
        if (st == ACP_OK)
            break;
        cr_assert_eq(st, ACP_NOMEM, "%s with %ld allocations: %s (%s)", name, n,
                     acp_status_name(st), e.message);
        cr_assert_eq(e.code, ACP_NOMEM);
        failures++;
        char *now = run_json(run);
        cr_assert_str_eq(now, before, "%s failed after %ld allocations and changed the run", name,
                         n);
        acp_free(now);
    }
    cr_assert_eq(st, ACP_OK, "%s never succeeded", name);
    cr_assert_gt(failures, 0, "%s needed no allocation", name);
    char *after = run_json(run);
    cr_assert_str_neq(after, before, "%s changed nothing", name);
    acp_free(after);
    acp_free(before);
    acp_message_free(msg);
    acp_run_free(run);
}

static const char plain_run[] =
    "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"in-progress\"}";

Test(nomem, run_changes_leave_the_run_unchanged)
{
    /* Once on a run without the members (they get added), once on a run
     * that has them (they get replaced). */
    const char *docs[] = {plain_run, NULL};
    acp_run *full = full_run();
    char *full_doc = run_json(full);
    acp_run_free(full);
    docs[1] = full_doc;
    for (size_t i = 0; i < 2; i++) {
        run_change_under_nomem(docs[i], change_status, "set_status");
        run_change_under_nomem(docs[i], change_session, "set_session_id");
        run_change_under_nomem(docs[i], change_output, "add_output");
        run_change_under_nomem(docs[i], change_error, "set_error");
        run_change_under_nomem(docs[i], change_await, "set_await_message");
    }
    acp_free(full_doc);
}

Test(nomem, add_part_leaves_the_message_unchanged)
{
    budget_hooks();
    acp_message *m = sample_message();
    int failures = 0;
    acp_status st = ACP_NOMEM;
    for (long n = 0; n < 1000 && st != ACP_OK; n++) {
        acp_error e;
        alloc_budget = n;
        st = acp_message_add_part(m, "image/png", "aGk=", "base64", "p.png", &e);
        alloc_budget = -1;
        if (st == ACP_OK)
            break;
        cr_assert_eq(st, ACP_NOMEM, "%s", e.message);
        failures++;
        cr_assert_eq(acp_message_part_count(m), 2);
    }
    cr_assert_eq(st, ACP_OK);
    cr_assert_gt(failures, 0);
    cr_assert_eq(acp_message_part_count(m), 3);
    cr_assert_str_eq(acp_message_part_content(m, 2), "aGk=");
    acp_message_free(m);
}

Test(nomem, constructors_and_outputs_report_nomem)
{
    budget_hooks();
    for (int which = 0; which < 7; which++) {
        int failures = 0;
        acp_status st = ACP_NOMEM;
        for (long n = 0; n < 1000 && st != ACP_OK; n++) {
            acp_error e;
            void *obj = NULL;
            char *json = NULL;
            acp_run *run = NULL;
            if (which == 6)
                cr_assert_eq(acp_run_parse(example_run, ACP_STRLEN, &run, NULL), ACP_OK);
            alloc_budget = n;
            switch (which) {
            case 0: st = acp_run_new("a", (acp_run **)&obj, &e); break;
            case 1: st = acp_message_new("user", (acp_message **)&obj, &e); break;
            case 2: st = acp_session_new("s", (acp_session **)&obj, &e); break;
            case 3: st = acp_event_new("generic", (acp_event **)&obj, &e); break;
            case 4: st = acp_run_parse(example_run, ACP_STRLEN, (acp_run **)&obj, &e); break;
            case 5: st = acp_event_parse("{\"type\":\"g\",\"g\":1}", ACP_STRLEN,
                                         (acp_event **)&obj, &e); break;
            default: st = acp_run_to_json(run, &json, NULL, &e); break;
            }
            alloc_budget = -1;
            acp_run_free(run);
            if (st == ACP_OK) {
                switch (which) {
                case 0: case 4: acp_run_free(obj); break;
                case 1: acp_message_free(obj); break;
                case 2: acp_session_free(obj); break;
                case 3: case 5: acp_event_free(obj); break;
                default: acp_free(json); break;
                }
                break;
            }
            /* The parsers build their tree in the pass that checks the
             * text (never with cJSON's parser), so a failure to allocate
             * is told apart from bad text. */
            cr_assert_eq(st, ACP_NOMEM, "case %d: %s", which, acp_status_name(st));
            cr_assert_null(obj, "case %d: out set on failure", which);
            cr_assert_null(json, "case %d: out set on failure", which);
            failures++;
        }
        cr_assert_eq(st, ACP_OK, "case %d never succeeded", which);
        cr_assert_gt(failures, 0, "case %d", which);
    }
}

Test(nomem, session_state_and_history_stay_as_they_were)
{
    budget_hooks();
    acp_session *s = NULL;
    cr_assert_eq(acp_session_new("s", &s, NULL), ACP_OK);
    cr_assert_eq(acp_session_set_state_json(s, "{\"v\":1}", ACP_STRLEN, NULL), ACP_OK);
    for (int which = 0; which < 2; which++) {
        char *before = session_json(s);
        acp_status st = ACP_NOMEM;
        int failures = 0;
        for (long n = 0; n < 1000 && st != ACP_OK; n++) {
            acp_error e;
            alloc_budget = n;
            st = which == 0 ? acp_session_set_state_json(s, "{\"v\":2}", ACP_STRLEN, &e)
                            : acp_session_add_history_json(s, "\"u\"", ACP_STRLEN, &e);
            alloc_budget = -1;
            if (st == ACP_OK)
                break;
            cr_assert(st == ACP_NOMEM || st == ACP_INVALID, "%s", acp_status_name(st));
            failures++;
            char *now = session_json(s);
            cr_assert_str_eq(now, before);
            acp_free(now);
        }
        cr_assert_eq(st, ACP_OK);
        cr_assert_gt(failures, 0);
        acp_free(before);
    }
    char *json = session_json(s);
    cr_assert_str_eq(json, "{\"id\":\"s\",\"history\":[\"u\"],\"state\":{\"v\":2}}");
    acp_free(json);
    acp_session_free(s);
}
