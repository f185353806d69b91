/* SPDX-License-Identifier: MIT */
/*
 * test_limits.c - bounded input (issue 13 item 8): the document size limit
 * and its option, and run cursors that accept exactly what the core writes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage.h"

static acp_error err;

#define OK(call) cr_assert_eq((call), ACP_OK, "%s: %s", #call, err.message)

static acp_store *open_uri(const char *uri)
{
    acp_store *s = NULL;
    OK(acp_store_open(uri, &s, &err));
    return s;
}

/* A valid run document of exactly len bytes (len >= 80). */
static char *run_doc_of(const char *id, size_t len)
{
    char head[128];
    int h = snprintf(head, sizeof head,
                     "{\"run_id\":\"%s\",\"agent_name\":\"a\",\"status\":\"created\",\"pad\":\"", id);
    char *d = malloc(len + 1);
    cr_assert(d && len > (size_t)h + 2);
    memcpy(d, head, (size_t)h);
    memset(d + h, 'x', len - (size_t)h - 2);
    memcpy(d + len - 2, "\"}", 3);
    return d;
}

Test(limits, default_limit_is_16_mib_and_the_message_names_both_sizes)
{
    cr_assert_eq(ACP_DOCUMENT_MAX_DEFAULT, (size_t)16 * 1024 * 1024);
    acp_store *s = open_uri("memory:");
    cr_expect_eq(acp_store_max_document_bytes(s), ACP_DOCUMENT_MAX_DEFAULT);
    char *at = run_doc_of("at-limit", ACP_DOCUMENT_MAX_DEFAULT);
    OK(acp_run_save(s, at, ACP_DOCUMENT_MAX_DEFAULT, &err));
    char *over = run_doc_of("over-limit", ACP_DOCUMENT_MAX_DEFAULT + 1);
    cr_assert_eq(acp_run_save(s, over, ACP_DOCUMENT_MAX_DEFAULT + 1, &err), ACP_INVALID);
    cr_expect(strstr(err.message, "16777217") && strstr(err.message, "16777216") &&
                  strstr(err.message, "max_document_bytes"),
              "%s", err.message);
    char *json = NULL;
    cr_expect_eq(acp_run_get(s, "over-limit", &json, NULL, &err), ACP_NOT_FOUND);
    /* Whitespace around a document is not part of it. */
    char *padded = malloc(ACP_DOCUMENT_MAX_DEFAULT + 3);
    padded[0] = ' ';
    memcpy(padded + 1, at, ACP_DOCUMENT_MAX_DEFAULT);
    memcpy(padded + 1 + ACP_DOCUMENT_MAX_DEFAULT, "\n", 2);
    OK(acp_run_save(s, padded, ACP_STRLEN, &err));
    free(padded);
    free(at);
    free(over);
    acp_store_close(s);
}

Test(limits, max_document_bytes_bounds_runs_sessions_and_events)
{
    acp_store *s = open_uri("memory:?max_document_bytes=100");
    cr_expect_eq(acp_store_max_document_bytes(s), 100);
    char *run = run_doc_of("r", 100), *big = run_doc_of("r", 101);
    OK(acp_run_save(s, run, 100, &err));
    cr_expect_eq(acp_run_save(s, big, 101, &err), ACP_INVALID);
    cr_expect(strstr(err.message, "run document is 101 bytes") && strstr(err.message, "100 bytes"),
              "%s", err.message);

    char sess[128];
    snprintf(sess, sizeof sess, "{\"id\":\"s\",\"state\":\"%0*d\"}", 100 - 21, 0);
    cr_assert_eq(strlen(sess), 100);
    OK(acp_session_save(s, sess, ACP_STRLEN, &err));
    snprintf(sess, sizeof sess, "{\"id\":\"s\",\"state\":\"%0*d\"}", 101 - 21, 0);
    cr_expect_eq(acp_session_save(s, sess, ACP_STRLEN, &err), ACP_INVALID);
    cr_expect(strstr(err.message, "session document is 101 bytes"), "%s", err.message);

    char ev[128];
    snprintf(ev, sizeof ev, "{\"type\":\"t\",\"x\":\"%0*d\"}", 101 - 19, 0);
    cr_assert_eq(strlen(ev), 101);
    cr_expect_eq(acp_event_add(s, "r", ev, ACP_STRLEN, NULL, &err), ACP_INVALID);
    cr_expect(strstr(err.message, "event document is 101 bytes"), "%s", err.message);
    ev[100] = '\0';
    ev[99] = '}';
    ev[98] = '"';
    OK(acp_event_add(s, "r", ev, ACP_STRLEN, NULL, &err));
    free(run);
    free(big);
    acp_store_close(s);
}

Test(limits, the_option_is_the_cores_and_is_checked)
{
    /* The memory backend takes no options at all: the core takes this one. */
    acp_store *s = open_uri("memory:?max_document_bytes=1073741824");
    cr_expect_eq(acp_store_max_document_bytes(s), (size_t)1 << 30);
    acp_store_close(s);
    const char *bad[] = {"0", "-1", "+5", " 5", "5 ", "05", "1073741825", "abc", "",
                         "99999999999999999999999", "16MiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char uri[96];
        snprintf(uri, sizeof uri, "memory:?max_document_bytes=%s", bad[i]);
        s = NULL;
        cr_expect_eq(acp_store_open(uri, &s, &err), ACP_INVALID, "'%s' accepted", bad[i]);
        acp_store_close(s);
        if (bad[i][0] && bad[i][0] != ' ')
            cr_expect(strstr(err.message, "max_document_bytes"), "%s", err.message);
    }
    /* An unknown option's message lists the core's option too. */
    cr_expect_eq(acp_store_open("memory:?nope=1", &s, &err), ACP_INVALID);
    cr_expect(strstr(err.message, "max_document_bytes"), "%s", err.message);

    acp_config *cfg;
    size_t max = 0;
    OK(acp_config_new(&cfg, &err));
    OK(acp_config_max_document_bytes(cfg, &max, &err));
    cr_expect_eq(max, ACP_DOCUMENT_MAX_DEFAULT);
    OK(acp_config_parse_uri(cfg, "sqlite:/tmp/x.db?max_document_bytes=4096", &err));
    OK(acp_config_max_document_bytes(cfg, &max, &err));
    cr_expect_eq(max, 4096);
    OK(acp_config_set(cfg, "max_document_bytes", "x", &err));
    cr_expect_eq(acp_config_max_document_bytes(cfg, &max, &err), ACP_INVALID);
    cr_expect_eq(acp_config_max_document_bytes(NULL, &max, &err), ACP_INVALID);
    acp_config_free(cfg);
}

static acp_status list_from(acp_store *s, const char *cursor)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.cursor = cursor;
    acp_page *p = NULL;
    acp_status st = acp_run_list(s, &f, &p, &err);
    acp_page_free(p);
    return st;
}

Test(limits, run_cursors_accept_exactly_what_the_core_writes)
{
    acp_store *s = open_uri("memory:");
    OK(acp_run_save(s, "{\"run_id\":\"a\",\"agent_name\":\"x\",\"status\":\"created\"}",
                    ACP_STRLEN, &err));
    OK(acp_run_save(s, "{\"run_id\":\"b\",\"agent_name\":\"x\",\"status\":\"created\"}",
                    ACP_STRLEN, &err));
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1;
    acp_page *p = NULL;
    OK(acp_run_list(s, &f, &p, &err));
    cr_assert_not_null(acp_page_next_cursor(p));
    OK(list_from(s, acp_page_next_cursor(p))); /* what the core wrote */
    acp_page_free(p);

    const char *good[] = {"r1:0:61", "r1:9223372036854775807:61", "r1:-9223372036854775808:61",
                          "r1:-5:61", "r1:1700000000000000:6162"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(list_from(s, good[i]), ACP_OK, "'%s' refused: %s", good[i], err.message);

    const char *bad[] = {"r1:99999999999999999999:61", "r1:9223372036854775808:61",
                         "r1:-9223372036854775809:61", "r1: 1:61", "r1:+1:61", "r1:01:61",
                         "r1:-0:61", "r1:-:61", "r1::61", "r1:1:", "r1:1:6", "r1:1:6G",
                         "r1:1:6A", "r1:1:61 ", " r1:1:61", "r2:1:61", "r1:1", "r1:1:00",
                         "r1:0x1:61", "r1:1e3:61"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(list_from(s, bad[i]), ACP_INVALID, "'%s' accepted", bad[i]);
        cr_expect(strstr(err.message, "is not a run cursor"), "%s", err.message);
    }
    acp_store_close(s);
}
