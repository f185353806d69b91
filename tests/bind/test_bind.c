/* SPDX-License-Identifier: MIT */
/*
 * test_bind.c - acp_storage_bind.h: gets return the stored document whole
 * (every size the context's buffer must grow for, and smaller ones after),
 * a document holding a NUL comes back as NULL with its length and bytes,
 * event adds return the sequence number, and failures keep the status and
 * the very message of the acp_storage.h call.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "acp_storage.h"
#include "acp_storage_bind.h"

#define OK(call) cr_assert_eq((call), ACP_OK, "%s", err.message)

static const char RUN[] = "{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\"}";

static acp_store *memory(void)
{
    acp_store *s = NULL;
    acp_error err;
    OK(acp_store_open("memory:", &s, &err));
    return s;
}

/* A run document of exactly n bytes (n >= 80). */
static char *run_of(size_t n)
{
    static const char head[] = "{\"run_id\":\"big\",\"agent_name\":\"a\",\"status\":\"created\","
                               "\"note\":\"";
    char *doc = malloc(n + 1);
    cr_assert_not_null(doc);
    memcpy(doc, head, sizeof head - 1);
    memset(doc + sizeof head - 1, 'x', n - (sizeof head - 1) - 2);
    memcpy(doc + n - 2, "\"}", 3);
    return doc;
}

Test(bind, run_and_session_come_back_with_their_length)
{
    acp_store *s = memory();
    acp_error err;
    acp_bind *b = acp_bind_new();
    cr_assert_not_null(b);
    OK(acp_run_save(s, RUN, ACP_STRLEN, &err));
    OK(acp_session_save(s, "{\"id\":\"s1\",\"history\":[]}", ACP_STRLEN, &err));
    const char *doc = acp_bind_run_get(s, "r1", b);
    cr_assert_not_null(doc, "%s", acp_bind_message(b));
    cr_expect_str_eq(doc, RUN);
    cr_expect_eq(acp_bind_status(b), ACP_OK);
    cr_expect_eq(acp_bind_length(b), strlen(RUN));
    cr_expect_eq(acp_bind_data(b), doc);
    cr_expect_str_eq(acp_bind_message(b), "");
    doc = acp_bind_session_get(s, "s1", b);
    cr_assert_not_null(doc);
    cr_expect_str_eq(doc, "{\"id\":\"s1\",\"history\":[]}");
    acp_bind_free(b);
    acp_store_close(s);
}

Test(bind, every_size_comes_back_whole_and_a_smaller_one_after_it)
{
    /* 16 KiB at first, grown to fit; kept up to 1 MiB, dropped after a
     * bigger one.  Each size twice, then a small one. */
    static const size_t sizes[] = {100, 16383, 16384, 17500, 300000, 1200000, 3000000, 200};
    acp_store *s = memory();
    acp_error err;
    acp_bind *b = acp_bind_new();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *want = run_of(sizes[i]);
        OK(acp_run_save(s, want, ACP_STRLEN, &err));
        for (int twice = 0; twice < 2; twice++) {
            const char *doc = acp_bind_run_get(s, "big", b);
            cr_assert_not_null(doc, "size %zu: %s", sizes[i], acp_bind_message(b));
            cr_assert_eq(acp_bind_length(b), sizes[i]);
            cr_assert_eq(strlen(doc), sizes[i], "size %zu: no longer tail kept", sizes[i]);
            cr_assert_eq(memcmp(doc, want, sizes[i]), 0, "size %zu", sizes[i]);
        }
        OK(acp_run_save(s, RUN, ACP_STRLEN, &err));
        cr_assert_str_eq(acp_bind_run_get(s, "r1", b), RUN);
        free(want);
    }
    acp_bind_free(b);
    acp_store_close(s);
}

Test(bind, failures_keep_the_status_and_the_library_message)
{
    acp_store *s = memory();
    acp_error err, want;
    acp_bind *b = acp_bind_new();
    OK(acp_run_save(s, RUN, ACP_STRLEN, &err));
    cr_assert_not_null(acp_bind_run_get(s, "r1", b));

    char *doc;
    size_t len;
    cr_assert_eq(acp_run_get(s, "nope", &doc, &len, &want), ACP_NOT_FOUND);
    cr_expect_null(acp_bind_run_get(s, "nope", b));
    cr_expect_eq(acp_bind_status(b), ACP_NOT_FOUND);
    cr_expect_str_eq(acp_bind_message(b), want.message);
    cr_expect_null(acp_bind_data(b), "no document after a failure");
    cr_expect_eq(acp_bind_length(b), 0);

    cr_assert_eq(acp_session_get(s, "", &doc, &len, &want), ACP_INVALID);
    cr_expect_null(acp_bind_session_get(s, "", b));
    cr_expect_eq(acp_bind_status(b), ACP_INVALID);
    cr_expect_str_eq(acp_bind_message(b), want.message);

    static const char untyped[] = "{\"kind\":\"x\"}";
    cr_assert_eq(acp_event_add(s, "r1", untyped, ACP_STRLEN, NULL, &want), ACP_INVALID);
    cr_expect_eq(acp_bind_event_add(s, "r1", untyped, b), 0);
    cr_expect_eq(acp_bind_status(b), ACP_INVALID);
    cr_expect_str_eq(acp_bind_message(b), want.message);

    /* A success clears the last failure. */
    cr_expect_eq(acp_bind_event_add(s, "r1", "{\"type\":\"a\"}", b), 1);
    cr_expect_eq(acp_bind_status(b), ACP_OK);
    cr_expect_str_eq(acp_bind_message(b), "");
    acp_bind_free(b);
    acp_store_close(s);
}

Test(bind, event_adds_return_their_sequence_numbers)
{
    acp_store *s = memory();
    acp_error err;
    acp_bind *b = acp_bind_new();
    cr_expect_eq(acp_bind_event_add(s, "r1", "{\"type\":\"a\"}", b), 1);
    cr_expect_eq(acp_bind_event_add(s, "r1", "{\"type\":\"b\"}", b), 2);
    cr_expect_eq(acp_bind_event_add(s, "r2", "{\"type\":\"c\"}", b), 1);
    acp_page *p = NULL;
    OK(acp_event_list(s, "r1", NULL, &p, &err));
    cr_assert_eq(acp_page_count(p), 2);
    size_t n;
    const char *second = acp_page_json(p, 1, &n);
    cr_expect_eq(n, strlen("{\"type\":\"b\"}"));
    cr_expect_eq(memcmp(second, "{\"type\":\"b\"}", n), 0);
    acp_page_free(p);
    acp_bind_free(b);
    acp_store_close(s);
}

Test(bind, a_document_holding_a_nul_is_read_by_its_length)
{
    acp_config *cfg = NULL;
    acp_store *s = NULL;
    acp_error err;
    OK(acp_config_new(&cfg, &err));
    OK(acp_config_set_backend(cfg, "bindnul", &err));
    OK(acp_config_add_plugin_dir(cfg, ACP_BIND_FIXTURE_DIR, &err));
    OK(acp_store_open_config(cfg, &s, &err));
    acp_config_free(cfg);
    static const char want[] = "{\"run_id\":\"nul\",\"id\":\"nul\",\"x\":\"a\0b\"}";
    acp_bind *b = acp_bind_new();
    cr_expect_null(acp_bind_run_get(s, "nul", b));
    cr_expect_eq(acp_bind_status(b), ACP_OK);
    cr_assert_eq(acp_bind_length(b), sizeof want - 1);
    cr_assert_not_null(acp_bind_data(b));
    cr_expect_eq(memcmp(acp_bind_data(b), want, sizeof want - 1), 0);
    cr_expect_null(acp_bind_session_get(s, "nul", b));
    cr_expect_eq(acp_bind_status(b), ACP_OK);
    cr_expect_eq(acp_bind_length(b), sizeof want - 1);
    acp_bind_free(b);
    acp_store_close(s);
}

Test(bind, a_null_context_is_refused_without_a_crash)
{
    acp_store *s = memory();
    cr_expect_null(acp_bind_run_get(s, "r1", NULL));
    cr_expect_null(acp_bind_session_get(s, "r1", NULL));
    cr_expect_eq(acp_bind_event_add(s, "r1", "{\"type\":\"a\"}", NULL), 0);
    acp_bind_free(NULL);
    acp_store_close(s);
}
