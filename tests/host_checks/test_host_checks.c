/* SPDX-License-Identifier: MIT */
/*
 * The host checks what plugins hand back (issue 14, item 3): each lie of
 * the liar fixture becomes ACP_PLUGIN naming the backend and the method,
 * and an honest plugin passes the same calls.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "acp_storage.h"

static acp_store *open_liar(const char *lie)
{
    char uri[64];
    acp_config *cfg;
    acp_store *s = NULL;
    acp_error err;
    snprintf(uri, sizeof uri, "liar:%s", lie);
    cr_assert_eq(acp_config_new(&cfg, &err), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_store_open_config(cfg, &s, &err), ACP_OK, "%s", err.message);
    acp_config_free(cfg);
    return s;
}

/* The call failed with ACP_PLUGIN, a message naming method and saying why. */
static void expect_fault(acp_status st, const acp_error *err, const char *method, const char *why)
{
    cr_assert_eq(st, ACP_PLUGIN, "status %s: %s", acp_status_name(st), err->message);
    cr_assert(strncmp(err->message, "liar: ", 6) == 0, "message: %s", err->message);
    cr_assert(strstr(err->message, method), "no '%s' in: %s", method, err->message);
    cr_assert(strstr(err->message, why), "no '%s' in: %s", why, err->message);
}

static acp_status list_runs(acp_store *s, int64_t limit, int want_total, acp_page **page,
                            acp_error *err)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = limit;
    f.want_total = want_total;
    *page = NULL;
    return acp_run_list(s, &f, page, err);
}

static acp_status list_events(acp_store *s, int64_t after, acp_page **page, acp_error *err)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.after_seq = after;
    *page = NULL;
    return acp_event_list(s, "r", &f, page, err);
}

Test(host_checks, honest_plugin_passes)
{
    acp_store *s = open_liar("honest");
    acp_page *p;
    acp_error err;
    char *json;
    cr_assert_eq(list_runs(s, 3, 1, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 3);
    cr_assert_eq(acp_page_total(p), 10);
    acp_page_free(p);
    cr_assert_eq(list_events(s, 4, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 3);
    cr_assert_eq(acp_page_seq(p, 0), 5);
    acp_page_free(p);
    cr_assert_eq(acp_session_list(s, NULL, 10, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 4);
    acp_page_free(p);
    cr_assert_eq(acp_run_get(s, "r", &json, NULL, &err), ACP_OK, "%s", err.message);
    acp_free(json);
    acp_store_close(s);
}

Test(host_checks, more_items_than_the_limit)
{
    acp_store *s = open_liar("over_limit");
    acp_page *p;
    acp_error err;
    expect_fault(list_runs(s, 3, 0, &p, &err), &err, "list_runs", "more than the 3 items");
    cr_assert_null(p);
    acp_store_close(s);
}

Test(host_checks, a_get_that_emits_twice)
{
    acp_store *s = open_liar("get_twice");
    acp_error err;
    char *json = NULL;
    expect_fault(acp_run_get(s, "r", &json, NULL, &err), &err, "get_run", "more than the 1 item");
    cr_assert_null(json);
    acp_store_close(s);
}

Test(host_checks, want_total_without_set_total)
{
    acp_store *s = open_liar("no_total");
    acp_page *p;
    acp_error err;
    expect_fault(list_runs(s, 3, 1, &p, &err), &err, "list_runs", "never called set_total");
    /* a total of limit 0 asks only for the total */
    expect_fault(list_runs(s, 0, 1, &p, &err), &err, "list_runs", "never called set_total");
    /* not asked: no total is fine */
    cr_assert_eq(list_runs(s, 3, 0, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_total(p), -1);
    acp_page_free(p);
    acp_store_close(s);
}

Test(host_checks, negative_total)
{
    acp_store *s = open_liar("negative_total");
    acp_page *p;
    acp_error err;
    expect_fault(list_runs(s, 3, 1, &p, &err), &err, "list_runs", "negative total");
    acp_store_close(s);
}

Test(host_checks, event_with_sequence_zero)
{
    acp_store *s = open_liar("seq_zero");
    acp_page *p;
    acp_error err;
    expect_fault(list_events(s, 0, &p, &err), &err, "get_events", "sequence 0");
    cr_assert_null(p);
    acp_store_close(s);
}

Test(host_checks, events_out_of_order)
{
    acp_store *s = open_liar("seq_order");
    acp_page *p;
    acp_error err;
    expect_fault(list_events(s, 0, &p, &err), &err, "get_events", "emitted event 2 after event 3");
    acp_store_close(s);
}

Test(host_checks, event_repeated)
{
    acp_store *s = open_liar("seq_repeat");
    acp_page *p;
    acp_error err;
    expect_fault(list_events(s, 7, &p, &err), &err, "get_events", "emitted event 9 after event 9");
    acp_store_close(s);
}

Test(host_checks, event_not_after_after_seq)
{
    acp_store *s = open_liar("seq_not_after");
    acp_page *p;
    acp_error err;
    expect_fault(list_events(s, 5, &p, &err), &err, "get_events",
                 "emitted event 5 for a query after sequence 5");
    acp_store_close(s);
}

Test(host_checks, run_repeated_in_a_page)
{
    acp_store *s = open_liar("repeated_run");
    acp_page *p;
    acp_error err;
    expect_fault(list_runs(s, 5, 0, &p, &err), &err, "list_runs", "run 'r9' twice");
    cr_assert_null(p);
    acp_store_close(s);
}

Test(host_checks, session_repeated_in_a_page)
{
    acp_store *s = open_liar("repeated_session");
    acp_page *p;
    acp_error err;
    expect_fault(acp_session_list(s, NULL, 10, &p, &err), &err, "list_sessions",
                 "session 's0' twice");
    acp_store_close(s);
}

Test(host_checks, no_document_but_a_length)
{
    acp_store *s = open_liar("null_doc");
    acp_error err;
    char *json = NULL;
    expect_fault(acp_run_get(s, "r", &json, NULL, &err), &err, "get_run",
                 "no document but a length");
    cr_assert_null(json);
    acp_store_close(s);
}

/* The store hands plugins NUL-terminated documents: the caller's own text
 * when it is a C string (ACP_STRLEN) with nothing trimmed from its end, a
 * copy otherwise (trailing whitespace, or a counted length inside a larger
 * buffer, whose next byte is not a NUL). */
Test(host_checks, saved_documents_are_nul_terminated)
{
    acp_store *s = open_liar("honest");
    acp_error err;
    static const char run[] = "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}";
    char buf[256];
    snprintf(buf, sizeof buf, " %s\n\t", run);
    cr_assert_eq(acp_run_save(s, run, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_run_save(s, buf, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
    snprintf(buf, sizeof buf, "%sXYZ", run);
    cr_assert_eq(acp_run_save(s, buf, sizeof run - 1, &err), ACP_OK, "%s", err.message);
    snprintf(buf, sizeof buf, "{\"id\":\"s\"}  {garbage");
    cr_assert_eq(acp_session_save(s, buf, 12, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_session_save(s, "{\"id\":\"s\"}", ACP_STRLEN, &err), ACP_OK, "%s",
                 err.message);
    snprintf(buf, sizeof buf, "{\"type\":\"t\"}\n");
    cr_assert_eq(acp_event_add(s, "r", buf, ACP_STRLEN, NULL, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_event_add(s, "r", buf, 12, NULL, &err), ACP_OK, "%s", err.message);
    acp_store_close(s);
}

/* limit 0 asks for no item (with want_total: only the total); one item is
 * already one too many. */
Test(host_checks, limit_zero)
{
    acp_store *s = open_liar("honest");
    acp_page *p;
    acp_error err;
    cr_assert_eq(list_runs(s, 0, 1, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 0);
    cr_assert_eq(acp_page_total(p), 10);
    acp_page_free(p);
    acp_store_close(s);
    s = open_liar("over_limit");
    expect_fault(list_runs(s, 0, 1, &p, &err), &err, "list_runs", "more than the 0 items");
    cr_assert_null(p);
    /* limit 0 without want_total does not call the plugin */
    cr_assert_eq(list_runs(s, 0, 0, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 0);
    acp_page_free(p);
    acp_store_close(s);
}
