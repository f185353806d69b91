/* SPDX-License-Identifier: MIT */
/*
 * test_compose.c - child stores (host->child, plugin ABI 1.2) seen from an
 * application: the test plugin "passthrough" (passthrough.c) keeps one
 * child, opened by URI.  How a child's failure reads in the parent's error,
 * that the parent's deadline and cancel token bound the child's call, that
 * nesting is limited, and that results keep every field on the way through.
 * (That every operation behaves is the conformance suite's job:
 * conformance_passthrough_*.)
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

static acp_store *open_ok(const char *uri)
{
    acp_store *s = NULL;
    acp_error e = {0};
    acp_status st = acp_store_open(uri, &s, &e);
    cr_assert_eq(st, ACP_OK, "open %s: %s", uri, e.message);
    return s;
}

static acp_status open_fail(const char *uri, acp_error *e)
{
    acp_store *s = NULL;
    acp_status st = acp_store_open(uri, &s, e);
    cr_assert_neq(st, ACP_OK, "open %s should fail", uri);
    cr_assert_null(s);
    return st;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(compose, results_keep_their_fields)
{
    acp_store *s = open_ok("passthrough:?child=memory:");
    acp_error e = {0};
    const char *run = "{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\","
                      "\"created_at\":\"2025-06-01T12:00:00Z\"}";
    cr_assert_eq(acp_run_save(s, run, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
    int64_t seq = 0;
    cr_assert_eq(acp_event_add(s, "r1", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e), ACP_OK);
    cr_assert_eq(seq, 1);
    acp_page *p = NULL;
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(p), 1);
    cr_assert_str_eq(acp_page_key(p, 0), "r1");
    cr_assert_eq(acp_page_time_us(p, 0), 1748779200000000LL); /* created_us came through */
    cr_assert_eq(acp_page_total(p), 1);
    acp_page_free(p);
    cr_assert_eq(acp_event_list(s, "r1", NULL, &p, &e), ACP_OK);
    cr_assert_eq(acp_page_seq(p, 0), 1);
    cr_assert_gt(acp_page_time_us(p, 0), 0); /* stored_us came through */
    acp_page_free(p);
    cr_assert_str_eq(acp_store_backend(s), "passthrough");
    acp_store_close(s);
}

Test(compose, missing_child_plugin_names_the_child)
{
    acp_error e = {0};
    acp_status st = open_fail("passthrough:?child=nosuchbackend:&label=back", &e);
    cr_assert_eq(st, ACP_LOAD, "%s: %s", acp_status_name(st), e.message);
    cr_assert(strncmp(e.message, "passthrough: back: ", 19) == 0, "%s", e.message);
    cr_assert(strstr(e.message, "nosuchbackend"), "%s", e.message);
}

Test(compose, bad_child_option_is_refused_by_the_core)
{
    acp_error e = {0};
    acp_status st = open_fail("passthrough:?child=memory:%3Fbogus%3D1", &e);
    cr_assert_eq(st, ACP_INVALID, "%s", e.message);
    cr_assert(strncmp(e.message, "passthrough: child: ", 20) == 0, "%s", e.message);
    cr_assert(strstr(e.message, "bogus"), "%s", e.message);
}

Test(compose, invalid_document_is_refused_for_the_child)
{
    /* The parent's own checks run first; a child sees the core's checks
     * too, so a document the child's core refuses never reaches it. */
    acp_store *s = open_ok("passthrough:?child=memory:%3Fmax_document_bytes%3D40");
    acp_error e = {0};
    const char *run = "{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\"}";
    acp_status st = acp_run_save(s, run, ACP_STRLEN, &e);
    cr_assert_eq(st, ACP_INVALID, "%s", e.message);
    cr_assert(strncmp(e.message, "passthrough: child: ", 20) == 0, "%s", e.message);
    cr_assert(strstr(e.message, "max_document_bytes"), "%s", e.message);
    char *doc = NULL;
    cr_assert_eq(acp_run_get(s, "r1", &doc, NULL, &e), ACP_NOT_FOUND);
    acp_store_close(s);
}

Test(compose, failure_of_a_grandchild_reads_as_a_path)
{
    /* passthrough -> passthrough (a probe: its ping fails). */
    acp_store *s = open_ok("passthrough:?label=front&child=passthrough:");
    acp_error e = {0};
    acp_status st = acp_store_ping(s, &e);
    cr_assert_eq(st, ACP_UNAVAILABLE, "%s", e.message);
    cr_assert(strncmp(e.message, "passthrough: front: passthrough: probe: remaining_ms=", 53) == 0,
              "%s", e.message);
    acp_store_close(s);
}

/* remaining_ms the probe saw, from its message. */
static long long probe_remaining(const acp_error *e)
{
    const char *p = strstr(e->message, "remaining_ms=");
    cr_assert(p, "%s", e->message);
    return atoll(p + 13);
}

static acp_status ping_with_timeout(const char *uri, int64_t timeout_ms, acp_error *e)
{
    acp_config *cfg = NULL;
    cr_assert_eq(acp_config_new(&cfg, e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri, e), ACP_OK, "%s", e->message);
    cr_assert_eq(acp_config_set_timeout_ms(cfg, timeout_ms, e), ACP_OK);
    acp_store *s = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &s, e), ACP_OK, "%s", e->message);
    acp_config_free(cfg);
    acp_status st = acp_store_ping(s, e);
    acp_store_close(s);
    return st;
}

Test(compose, the_parent_deadline_bounds_the_child)
{
    acp_error e = {0};
    /* Control: the child (same 2000 ms timeout, inherited) has most of its
     * own time when the parent spends none. */
    cr_assert_eq(ping_with_timeout("passthrough:?child=passthrough:", 2000, &e), ACP_UNAVAILABLE);
    cr_assert_gt(probe_remaining(&e), 1000, "%s", e.message);
    /* The parent spends 1500 of its 2000 ms first: the child gets what is
     * left of the parent's, not a fresh 2000 of its own. */
    cr_assert_eq(ping_with_timeout("passthrough:?delay_ms=1500&child=passthrough:", 2000, &e),
                 ACP_UNAVAILABLE);
    cr_assert_leq(probe_remaining(&e), 500, "%s", e.message);
}

Test(compose, a_child_is_not_called_after_the_parent_deadline)
{
    acp_error e = {0};
    acp_status st = ping_with_timeout("passthrough:?delay_ms=600&child=passthrough:", 300, &e);
    cr_assert_eq(st, ACP_UNAVAILABLE, "%s", e.message);
    cr_assert(strstr(e.message, "deadline passed"), "%s", e.message);
    cr_assert_null(strstr(e.message, "remaining_ms"), "the child ran: %s", e.message);
}

static void *fire_later(void *arg)
{
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    acp_cancel_fire(arg);
    return NULL;
}

Test(compose, cancelling_the_parent_ends_the_child_wait)
{
    acp_store *s = open_ok("passthrough:?child=memory:");
    cr_assert(acp_store_capabilities(s) & ACP_CAP_FOLLOW);
    acp_error e = {0};
    acp_cancel *c = NULL;
    cr_assert_eq(acp_cancel_new(&c, &e), ACP_OK);
    pthread_t th;
    pthread_create(&th, NULL, fire_later, c);
    double t0 = now_s();
    acp_page *p = NULL;
    acp_status st = acp_event_follow(s, "r1", 0, 10, -1, c, &p, &e);
    double took = now_s() - t0;
    pthread_join(th, NULL);
    cr_assert_eq(st, ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(p), 0);
    cr_assert(acp_cancel_fired(c));
    cr_assert_lt(took, 20.0, "the child's wait outlived the cancel (%.1f s)", took);
    acp_page_free(p);
    acp_cancel_free(c);
    acp_store_close(s);
}

Test(compose, a_follow_through_a_child_sees_new_events)
{
    acp_store *s = open_ok("passthrough:?child=memory:");
    acp_error e = {0};
    acp_page *p = NULL;
    /* A timeout with nothing to see: empty, on time. */
    double t0 = now_s();
    cr_assert_eq(acp_event_follow(s, "r1", 0, 10, 100, NULL, &p, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(p), 0);
    cr_assert_lt(now_s() - t0, 20.0);
    acp_page_free(p);
    cr_assert_eq(acp_event_add(s, "r1", "{\"type\":\"x\"}", ACP_STRLEN, NULL, &e), ACP_OK);
    cr_assert_eq(acp_event_follow(s, "r1", 0, 10, 1000, NULL, &p, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(p), 1);
    cr_assert_eq(acp_page_seq(p, 0), 1);
    acp_page_free(p);
    acp_store_close(s);
}

/* "passthrough:?child=" levels deep over memory:, each level's URI
 * percent-encoded into the next. */
static char *nested_uri(int levels)
{
    char *uri = strdup("memory:");
    for (int i = 0; i < levels; i++) {
        size_t n = strlen(uri);
        char *next = malloc(32 + 3 * n);
        char *o = next + sprintf(next, "passthrough:?child=");
        for (size_t k = 0; k < n; k++) {
            unsigned char ch = (unsigned char)uri[k];
            if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == ':')
                *o++ = (char)ch;
            else
                o += sprintf(o, "%%%02X", ch);
        }
        *o = '\0';
        free(uri);
        uri = next;
    }
    return uri;
}

Test(compose, nesting_is_limited)
{
    char *ok = nested_uri(ACP_CHILD_DEPTH_MAX);
    acp_store *s = open_ok(ok);
    acp_error e = {0};
    cr_assert_eq(acp_run_save(s, "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}",
                              ACP_STRLEN, &e),
                 ACP_OK, "%s", e.message);
    acp_store_close(s);
    free(ok);
    char *deep = nested_uri(ACP_CHILD_DEPTH_MAX + 1);
    acp_status st = open_fail(deep, &e);
    cr_assert_eq(st, ACP_INVALID, "%s", e.message);
    cr_assert(strstr(e.message, "nested deeper than 8 levels"), "%s", e.message);
    free(deep);
}
