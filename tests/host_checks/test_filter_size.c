/* SPDX-License-Identifier: MIT */
/*
 * Versioned filter structs (issue 14, item 7): a struct from a newer header
 * is accepted when the fields this library does not know are zero, and
 * refused, naming the struct, when one is set; an older (smaller) one
 * keeps the defaults for what it lacks.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "acp_storage.h"

/* A filter as a newer header might declare it: one more field at the end. */
struct newer_run_filter {
    acp_run_filter known;
    int64_t future;
};

struct newer_event_filter {
    acp_event_filter known;
    int64_t future;
};

static acp_store *open_memory(void)
{
    acp_store *s;
    acp_error err;
    cr_assert_eq(acp_store_open("memory:", &s, &err), ACP_OK, "%s", err.message);
    return s;
}

/* acp_run_list with a newer-header filter whose unknown field is future. */
static acp_status list_with_newer_run_filter(acp_store *s, int64_t future, acp_error *err)
{
    struct newer_run_filter f;
    memset(&f, 0, sizeof f);
    f.known = (acp_run_filter)ACP_RUN_FILTER_INIT;
    f.known.size = sizeof f;
    f.future = future;
    acp_page *p = NULL;
    acp_status st = acp_run_list(s, &f.known, &p, err);
    cr_assert((st == ACP_OK) == (p != NULL), "a page exactly on success");
    acp_page_free(p);
    return st;
}

/* The same for acp_event_list. */
static acp_status list_with_newer_event_filter(acp_store *s, int64_t future, acp_error *err)
{
    struct newer_event_filter f;
    memset(&f, 0, sizeof f);
    f.known = (acp_event_filter)ACP_EVENT_FILTER_INIT;
    f.known.size = sizeof f;
    f.future = future;
    acp_page *p = NULL;
    acp_status st = acp_event_list(s, "r", &f.known, &p, err);
    cr_assert((st == ACP_OK) == (p != NULL), "a page exactly on success");
    acp_page_free(p);
    return st;
}

Test(filter_size, newer_filters_with_zero_extra_are_accepted)
{
    acp_store *s = open_memory();
    acp_error err;
    cr_assert_eq(list_with_newer_run_filter(s, 0, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(list_with_newer_event_filter(s, 0, &err), ACP_OK, "%s", err.message);
    acp_store_close(s);
}

Test(filter_size, newer_filters_with_an_unknown_field_set_are_refused)
{
    acp_store *s = open_memory();
    acp_error err;
    cr_assert_eq(list_with_newer_run_filter(s, 1, &err), ACP_INVALID);
    cr_assert(strstr(err.message, "acp_run_filter"), "%s", err.message);
    cr_assert(strstr(err.message, "does not know"), "%s", err.message);
    cr_assert_eq(list_with_newer_event_filter(s, -1, &err), ACP_INVALID);
    cr_assert(strstr(err.message, "acp_event_filter"), "%s", err.message);
    acp_store_close(s);
}

Test(filter_size, older_filter_keeps_defaults)
{
    acp_store *s = open_memory();
    acp_error err;
    acp_page *p;
    for (int i = 0; i < 12; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"run_id\":\"r%d\",\"agent_name\":\"a\",\"status\":\"created\"}", i);
        cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
    }
    /* Only size and agent_name: an application built when the struct ended there. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.size = offsetof(acp_run_filter, agent_name) + sizeof f.agent_name;
    f.limit = 999; /* beyond the old size: must not be read */
    cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 10); /* the default limit */
    acp_page_free(p);
    acp_store_close(s);
}

Test(filter_size, unset_size_is_refused)
{
    acp_store *s = open_memory();
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.size = 0;
    acp_page *p = NULL;
    acp_error err;
    cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_INVALID);
    cr_assert(strstr(err.message, "ACP_RUN_FILTER_INIT"), "%s", err.message);
    acp_store_close(s);
}
