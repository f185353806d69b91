/* SPDX-License-Identifier: MIT */
/*
 * test_follow.c - acp_event_follow on the in-machine backends (memory,
 * file, sqlite): events already there come at once; a wait is woken by an
 * append from another thread, ends empty on its timeout, and ends at once
 * when its cancel token is fired from another thread (or was already).
 * Many processes: procs.sh; the networked backends: their own folders.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

static char tmpdir[] = "/tmp/acp-follow-XXXXXX";

static void setup(void)
{
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect(system(cmd) == 0);
}

TestSuite(follow, .init = setup, .fini = teardown, .timeout = 60);

#define NBACKENDS 3
static void uri_of(int i, char *buf, size_t n)
{
    if (i == 0)
        snprintf(buf, n, "memory:");
    else if (i == 1)
        snprintf(buf, n, "file://%s/files?sync=none", tmpdir);
    else
        snprintf(buf, n, "sqlite://%s/db.sqlite", tmpdir);
}

static acp_store *open_nth(int i)
{
    char uri[256];
    uri_of(i, uri, sizeof uri);
    acp_store *s;
    acp_error err;
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s: %s", uri, err.message);
    cr_assert(acp_store_capabilities(s) & ACP_CAP_FOLLOW, "%s lacks ACP_CAP_FOLLOW", uri);
    return s;
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add(acp_store *s, const char *run, const char *type)
{
    char doc[64];
    snprintf(doc, sizeof doc, "{\"type\":\"%s\"}", type);
    acp_error err;
    cr_assert_eq(acp_event_add(s, run, doc, ACP_STRLEN, NULL, &err), ACP_OK, "%s", err.message);
}

Test(follow, existing_events_come_at_once)
{
    for (int b = 0; b < NBACKENDS; b++) {
        acp_store *s = open_nth(b);
        add(s, "r", "a");
        add(s, "r", "b");
        add(s, "r", "c");
        acp_page *p;
        acp_error err;
        int64_t t0 = ms_now();
        cr_assert_eq(acp_event_follow(s, "r", 1, 10, 5000, NULL, &p, &err), ACP_OK, "%s",
                     err.message);
        cr_expect_lt(ms_now() - t0, 2000, "backend %d waited although events existed", b);
        cr_assert_eq(acp_page_count(p), 2);
        cr_expect_eq(acp_page_seq(p, 0), 2);
        cr_expect_eq(acp_page_seq(p, 1), 3);
        acp_page_free(p);
        /* limit caps the page */
        cr_assert_eq(acp_event_follow(s, "r", 0, 1, 5000, NULL, &p, &err), ACP_OK);
        cr_expect_eq(acp_page_count(p), 1);
        acp_page_free(p);
        acp_store_close(s);
    }
}

Test(follow, timeout_gives_an_empty_page)
{
    for (int b = 0; b < NBACKENDS; b++) {
        acp_store *s = open_nth(b);
        add(s, "r", "a");
        acp_page *p;
        acp_error err;
        int64_t t0 = ms_now();
        cr_assert_eq(acp_event_follow(s, "r", 1, 10, 300, NULL, &p, &err), ACP_OK, "%s",
                     err.message);
        int64_t took = ms_now() - t0;
        cr_expect_eq(acp_page_count(p), 0);
        cr_expect_geq(took, 250, "backend %d returned after %lld ms of a 300 ms wait", b,
                      (long long)took);
        acp_page_free(p);
        /* A run that has no events at all waits the same way. */
        cr_assert_eq(acp_event_follow(s, "nobody", 0, 10, 50, NULL, &p, &err), ACP_OK);
        cr_expect_eq(acp_page_count(p), 0);
        acp_page_free(p);
        acp_store_close(s);
    }
}

typedef struct later {
    acp_store *s;
    acp_cancel *cancel; /* fire this, or else append to run "r" */
    int delay_ms;
} later;

static void *act_later(void *arg)
{
    later *l = arg;
    struct timespec ts = {0, l->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    if (l->cancel)
        acp_cancel_fire(l->cancel);
    else
        acp_event_add(l->s, "r", "{\"type\":\"late\"}", ACP_STRLEN, NULL, NULL);
    return NULL;
}

Test(follow, woken_by_an_append_from_another_thread)
{
    for (int b = 0; b < NBACKENDS; b++) {
        acp_store *s = open_nth(b);
        add(s, "r", "a");
        later l = {s, NULL, 200};
        pthread_t th;
        pthread_create(&th, NULL, act_later, &l);
        acp_page *p;
        acp_error err;
        int64_t t0 = ms_now();
        cr_assert_eq(acp_event_follow(s, "r", 1, 10, 20000, NULL, &p, &err), ACP_OK, "%s",
                     err.message);
        int64_t took = ms_now() - t0;
        pthread_join(th, NULL);
        cr_assert_eq(acp_page_count(p), 1, "backend %d: %zu events after %lld ms", b,
                     acp_page_count(p), (long long)took);
        cr_expect_eq(acp_page_seq(p, 0), 2);
        cr_expect_str_eq(acp_page_json(p, 0, NULL), "{\"type\":\"late\"}");
        cr_expect_lt(took, 10000, "backend %d: woken only after %lld ms", b, (long long)took);
        acp_page_free(p);
        acp_store_close(s);
    }
}

Test(follow, cancelled_from_another_thread)
{
    for (int b = 0; b < NBACKENDS; b++) {
        acp_store *s = open_nth(b);
        acp_cancel *c;
        acp_error err;
        cr_assert_eq(acp_cancel_new(&c, &err), ACP_OK);
        cr_expect_eq(acp_cancel_fired(c), 0);
        later l = {s, c, 200};
        pthread_t th;
        pthread_create(&th, NULL, act_later, &l);
        acp_page *p;
        int64_t t0 = ms_now();
        /* No timeout: only the cancel can end this wait. */
        cr_assert_eq(acp_event_follow(s, "r", 0, 10, -1, c, &p, &err), ACP_OK, "%s",
                     err.message);
        int64_t took = ms_now() - t0;
        pthread_join(th, NULL);
        cr_expect_eq(acp_page_count(p), 0);
        cr_expect_eq(acp_cancel_fired(c), 1);
        cr_expect_lt(took, 10000, "backend %d: cancel took %lld ms", b, (long long)took);
        acp_page_free(p);
        /* Fired already: the next wait returns at once, even with events
         * absent and no timeout. */
        cr_assert_eq(acp_event_follow(s, "r", 0, 10, -1, c, &p, &err), ACP_OK);
        cr_expect_eq(acp_page_count(p), 0);
        acp_page_free(p);
        /* Events present: they are returned even when cancelled. */
        add(s, "r", "a");
        cr_assert_eq(acp_event_follow(s, "r", 0, 10, -1, c, &p, &err), ACP_OK);
        cr_expect_eq(acp_page_count(p), 1);
        acp_page_free(p);
        acp_cancel_free(c);
        acp_store_close(s);
    }
}

Test(follow, bad_arguments_are_refused)
{
    acp_store *s = open_nth(0);
    acp_page *p = NULL;
    acp_error err;
    cr_expect_eq(acp_event_follow(s, "r", -1, 10, 0, NULL, &p, &err), ACP_INVALID);
    cr_expect_eq(acp_event_follow(s, "r", 0, 0, 0, NULL, &p, &err), ACP_INVALID);
    cr_expect_eq(acp_event_follow(s, "r", 0, 1001, 0, NULL, &p, &err), ACP_INVALID);
    cr_expect_eq(acp_event_follow(s, "", 0, 10, 0, NULL, &p, &err), ACP_INVALID);
    cr_expect_eq(acp_event_follow(s, NULL, 0, 10, 0, NULL, &p, &err), ACP_INVALID);
    cr_expect_eq(acp_event_follow(s, "r", 0, 10, 0, NULL, NULL, &err), ACP_INVALID);
    cr_expect_null(p);
    cr_expect_eq(acp_cancel_new(NULL, &err), ACP_INVALID);
    acp_cancel_fire(NULL);
    acp_cancel_free(NULL);
    cr_expect_eq(acp_cancel_fired(NULL), 0);
    acp_store_close(s);
}
