/* SPDX-License-Identifier: MIT */
/*
 * test_verify.c - acp_store_verify(): the damaged fixture (fixtures/
 * damaged.c) through its own verify and through the core's generic walk,
 * and clean memory and sqlite stores through the generic walk.
 */
#define _DEFAULT_SOURCE

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"

static acp_error err;

#define OK(call) cr_assert_eq((call), ACP_OK, "%s: %s", #call, err.message)

static acp_store *open_fixture(const char *name)
{
    acp_config *cfg = NULL;
    acp_store *s = NULL;
    OK(acp_config_new(&cfg, &err));
    OK(acp_config_set_backend(cfg, name, &err));
    OK(acp_config_add_plugin_dir(cfg, ACP_CI_FIXTURE_DIR, &err));
    OK(acp_store_open_config(cfg, &s, &err));
    acp_config_free(cfg);
    return s;
}

/* What the callback saw, one line per damaged item. */
typedef struct seen {
    char lines[16][512];
    int n;
    int stop_after; /* 0: never stop */
} seen;

static int collect(void *ctx, const acp_damage *d)
{
    seen *s = ctx;
    cr_assert_geq(d->size, sizeof(acp_damage));
    cr_assert(d->reason && d->reason[0], "a damage report without a reason");
    if (s->n < 16)
        snprintf(s->lines[s->n], sizeof s->lines[0], "%d|%s|%lld|%s|%s|%s|%s", d->kind,
                 d->key ? d->key : "-", (long long)d->seq, acp_status_name(d->code),
                 d->location ? d->location : "-", d->moved_to ? d->moved_to : "-", d->reason);
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

/* The line of the report about kind/key/seq, or NULL. */
static const char *find(const seen *s, int kind, const char *key, long long seq)
{
    char head[300];
    snprintf(head, sizeof head, "%d|%s|%lld|", kind, key ? key : "-", seq);
    for (int i = 0; i < s->n && i < 16; i++)
        if (strncmp(s->lines[i], head, strlen(head)) == 0)
            return s->lines[i];
    return NULL;
}

#define EXPECT_REPORT(s, kind, key, seq, text)                                                    \
    do {                                                                                          \
        const char *l_ = find((s), (kind), (key), (seq));                                         \
        cr_expect(l_ != NULL, "no report about %d %s %lld", (kind), (key) ? (key) : "-",          \
                  (long long)(seq));                                                              \
        if (l_)                                                                                   \
            cr_expect(strstr(l_, (text)) != NULL, "report '%s' lacks '%s'", l_, (text));          \
    } while (0)

static void expect_common_damage(const seen *s)
{
    EXPECT_REPORT(s, ACP_ITEM_RUN, "r-mismatch", 0, "document's id is 'other'");
    EXPECT_REPORT(s, ACP_ITEM_RUN, "r-broken", 0, "not valid JSON");
    EXPECT_REPORT(s, ACP_ITEM_EVENT, "r-good", 2, "\"type\"");
    EXPECT_REPORT(s, ACP_ITEM_EVENT, "r-good", 3, "checksum mismatch");
    EXPECT_REPORT(s, ACP_ITEM_SESSION, "s-bad", 0, "JSON object");
    cr_expect(find(s, ACP_ITEM_RUN, "r-good", 0) == NULL, "r-good reported: it is fine");
    cr_expect(find(s, ACP_ITEM_SESSION, "s-good", 0) == NULL, "s-good reported: it is fine");
    cr_expect(find(s, ACP_ITEM_EVENT, "r-good", 1) == NULL, "event 1 reported: it is fine");
    cr_expect(find(s, ACP_ITEM_EVENT, "r-good", 4) == NULL, "event 4 reported: it is fine");
}

/* Verify the damaged fixture without quarantine: CORRUPT, `damaged` items
 * reported and counted, every readable item checked, and the damage both
 * walks can see reported. */
static void walk_damaged_fixture(acp_store *s, seen *got, int damaged)
{
    acp_verify_counts c;
    memset(&c, 0xff, sizeof c);
    acp_status st = acp_store_verify(s, 0, collect, got, &c, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_expect_eq(got->n, damaged);
    cr_expect_eq(c.damaged, damaged);
    cr_expect_eq(c.quarantined, 0);
    cr_expect_eq(c.runs, 3);
    cr_expect_eq(c.sessions, 2);
    cr_expect_eq(c.events, 3, "events checked: %lld", (long long)c.events);
    expect_common_damage(got);
}

Test(verify, native_verify_reports_every_damaged_item)
{
    acp_store *s = open_fixture("damaged_native");
    seen got = {0};
    walk_damaged_fixture(s, &got, 6);
    cr_expect(strstr(err.message, "6 damaged items") != NULL, "%s", err.message);
    /* What only the backend sees, with where it is. */
    EXPECT_REPORT(&got, ACP_ITEM_OTHER, NULL, 0, "runs/.tmp-1");
    EXPECT_REPORT(&got, ACP_ITEM_EVENT, "r-good", 3, "events/r-good.log record 3");
    acp_store_close(s);
}

Test(verify, quarantine_moves_what_the_backend_can_and_counts_it)
{
    acp_store *s = open_fixture("damaged_native");
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    acp_page *page = NULL;
    cr_assert_eq(acp_event_list(s, "r-good", &f, &page, &err), ACP_CORRUPT,
                 "the unreadable event must fail the page before quarantine");

    seen got = {0};
    acp_verify_counts c;
    cr_assert_eq(acp_store_verify(s, ACP_VERIFY_QUARANTINE, collect, &got, &c, &err),
                 ACP_CORRUPT);
    cr_expect_eq(c.damaged, 6);
    cr_expect_eq(c.quarantined, 1);
    EXPECT_REPORT(&got, ACP_ITEM_EVENT, "r-good", 3, "quarantine/r-good.log.3");

    /* Moved aside: the run's events read again, and a second walk finds
     * only what could not be moved. */
    OK(acp_event_list(s, "r-good", &f, &page, &err));
    cr_expect_eq(acp_page_count(page), 3);
    acp_page_free(page);
    memset(&got, 0, sizeof got);
    cr_assert_eq(acp_store_verify(s, ACP_VERIFY_QUARANTINE, collect, &got, &c, &err),
                 ACP_CORRUPT);
    cr_expect_eq(c.damaged, 5);
    cr_expect_eq(c.quarantined, 0);
    acp_store_close(s);
}

Test(verify, generic_walk_checks_what_list_and_get_return)
{
    acp_store *s = open_fixture("damaged_generic");
    seen got = {0};
    walk_damaged_fixture(s, &got, 5);
    acp_verify_counts c;
    /* The unreadable event is narrowed down to its number, and the
     * reason carries no "damaged_generic: " prefix. */
    const char *l = find(&got, ACP_ITEM_EVENT, "r-good", 3);
    cr_expect(l && !strstr(l, "damaged_generic:"), "%s", l ? l : "(none)");
    /* Quarantine is the backend's to do: the generic walk moves nothing. */
    cr_assert_eq(acp_store_verify(s, ACP_VERIFY_QUARANTINE, NULL, NULL, &c, &err), ACP_CORRUPT);
    cr_expect_eq(c.quarantined, 0);
    cr_expect_eq(c.damaged, 5);
    acp_store_close(s);
}

Test(verify, the_callback_can_stop_the_walk)
{
    const char *names[] = {"damaged_native", "damaged_generic"};
    for (int i = 0; i < 2; i++) {
        acp_store *s = open_fixture(names[i]);
        seen got = {.stop_after = 1};
        acp_verify_counts c;
        cr_expect_eq(acp_store_verify(s, 0, collect, &got, &c, &err), ACP_CORRUPT, "%s",
                     names[i]);
        cr_expect_eq(got.n, 1, "%s: the walk went on after the callback said stop", names[i]);
        cr_expect_eq(c.damaged, 1);
        cr_expect(strstr(err.message, "stopped early") != NULL, "%s", err.message);
        acp_store_close(s);
    }
}

Test(verify, bad_arguments_are_invalid)
{
    acp_store *s = open_fixture("damaged_native");
    cr_expect_eq(acp_store_verify(NULL, 0, NULL, NULL, NULL, &err), ACP_INVALID);
    cr_expect_eq(acp_store_verify(s, 0x80, NULL, NULL, NULL, &err), ACP_INVALID);
    acp_store_close(s);
}

/* A clean store of every kind of item, walked by the generic walk (or the
 * backend's own), gives OK and counts every item. */
static void fill_and_verify(const char *uri)
{
    acp_store *s = NULL;
    OK(acp_store_open(uri, &s, &err));
    char doc[256];
    /* More than one page of runs and of one run's events. */
    for (int i = 0; i < 1203; i++) {
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"run-%04d\",\"agent_name\":\"a\",\"status\":\"created\","
                 "\"created_at\":\"2025-01-01T00:00:%02dZ\"}",
                 i, i % 60);
        OK(acp_run_save(s, doc, ACP_STRLEN, &err));
    }
    for (int i = 0; i < 1005; i++)
        OK(acp_event_add(s, "run-0007", "{\"type\":\"message.part\"}", ACP_STRLEN, NULL, &err));
    OK(acp_event_add(s, "run-0008", "{\"type\":\"run.created\"}", ACP_STRLEN, NULL, &err));
    for (int i = 0; i < 3; i++) {
        snprintf(doc, sizeof doc, "{\"id\":\"sess-%d\",\"history\":[]}", i);
        OK(acp_session_save(s, doc, ACP_STRLEN, &err));
    }
    seen got = {0};
    acp_verify_counts c;
    acp_status st = acp_store_verify(s, 0, collect, &got, &c, &err);
    cr_expect_eq(st, ACP_OK, "%s: %s: %s", uri, acp_status_name(st), err.message);
    cr_expect_eq(got.n, 0, "%s: %s", uri, got.lines[0]);
    cr_expect_eq(c.runs, 1203, "%s: %lld runs", uri, (long long)c.runs);
    cr_expect_eq(c.events, 1006, "%s: %lld events", uri, (long long)c.events);
    cr_expect_eq(c.sessions, 3, "%s: %lld sessions", uri, (long long)c.sessions);
    cr_expect_eq(c.damaged, 0);
    acp_store_close(s);
}

Test(verify, clean_memory_store_is_ok_with_every_item_counted)
{
    fill_and_verify("memory:");
}

#ifdef ACP_CI_WITH_SQLITE
Test(verify, clean_sqlite_store_is_ok_with_every_item_counted)
{
    char dir[] = "/tmp/acp-ci-XXXXXX";
    cr_assert(mkdtemp(dir));
    char uri[128];
    snprintf(uri, sizeof uri, "sqlite:%s/v.db", dir);
    fill_and_verify(uri);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
#endif

/* Issue 13 item 10: the host names the backend once, whether or not the
 * plugin's message names it already. */
Test(messages, each_prefix_is_said_once)
{
    acp_store *s = open_fixture("damaged_native");
    cr_assert_eq(acp_run_save(s, "{\"run_id\":\"x\",\"agent_name\":\"a\",\"status\":\"created\"}",
                              ACP_STRLEN, &err),
                 ACP_UNSUPPORTED);
    cr_expect_str_eq(err.message, "damaged_native: the damaged fixture is read-only");
    cr_assert_eq(acp_run_delete(s, "x", &err), ACP_UNSUPPORTED);
    cr_expect_str_eq(err.message, "damaged_native: deleting is not possible here");
    acp_store_close(s);
    s = NULL;
    cr_assert_eq(acp_store_open("memory+x:", &s, &err), ACP_INVALID);
    cr_expect(!strstr(err.message, "memory: memory"), "%s", err.message);
    cr_expect(strncmp(err.message, "memory: ", 8) == 0, "%s", err.message);
}
