/* SPDX-License-Identifier: MIT */
/*
 * checks_versions.c - run versions and conditional saves (ACP_CAP_VERSIONS;
 * docs/storage-contract.md, "Run versions").  Skipped for backends that do
 * not declare the capability.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define SKIP_UNLESS_VERSIONS()                                                             \
    SKIP_UNLESS(CAPS() & ACP_CAP_VERSIONS, "the backend does not declare VERSIONS")

/* A run document with a counter in it. */
static char *counter_doc(t_ctx *c, const char *id, int64_t count)
{
    return t_printf(c, "{\"run_id\":%s,\"agent_name\":\"counter\",\"status\":\"in-progress\","
                       "\"count\":%" PRId64 "}",
                    t_json_str(c, id), count);
}

/* The counter of a document counter_doc() made, or -1. */
static int64_t counter_of(const char *doc)
{
    const char *p = strstr(doc, "\"count\":");
    return p ? strtoll(p + 8, NULL, 10) : -1;
}

/* The version of run id as get reports it (0 when absent). */
static int version_of(t_ctx *c, const char *file, int line, const char *id, int64_t *version)
{
    char *json = NULL;
    t_err_reset(c);
    acp_status st = acp_run_get_versioned(S, id, &json, NULL, version, ERR);
    if (st == ACP_NOT_FOUND) {
        *version = 0;
        return 0;
    }
    if (st != ACP_OK)
        return t_fail_status(c, file, line, "acp_run_get_versioned", st, ACP_OK);
    acp_free(json);
    return 0;
}
#define VERSION_OF(id, v) CHECK_RESULT(version_of(c, __FILE__, __LINE__, (id), &(v)))

CONFORMANCE_CHECK(run_versions_grow_with_every_save)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    int64_t last = 0;
    for (int i = 0; i < 20; i++) {
        int64_t v = 0;
        CHECK_OK(acp_run_save_versioned(S, counter_doc(c, "v-grow", i), ACP_STRLEN, &v, ERR));
        CHECK(v > last, "save %d reported version %" PRId64 " after %" PRId64, i, v, last);
        int64_t got;
        VERSION_OF("v-grow", got);
        CHECK(got == v, "get reports version %" PRId64 ", the save reported %" PRId64, got, v);
        last = v;
    }
    /* The plain save moves the version too. */
    CHECK_OK(acp_run_save(S, counter_doc(c, "v-grow", 99), ACP_STRLEN, ERR));
    int64_t got;
    VERSION_OF("v-grow", got);
    CHECK(got > last, "acp_run_save left the version at %" PRId64, got);
    /* Versions are per run: another run's saves do not disturb this one's
     * order, and every run's version is >= 1. */
    int64_t other;
    CHECK_OK(acp_run_save_versioned(S, counter_doc(c, "v-other", 0), ACP_STRLEN, &other, ERR));
    CHECK(other >= 1, "a new run got version %" PRId64, other);
    return T_PASS;
}

CONFORMANCE_CHECK(conditional_save_conflicts_when_another_writer_came_first)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    int64_t v1 = 0, v2 = 0;
    CHECK_OK(acp_run_save_versioned(S, counter_doc(c, "v-cas", 1), ACP_STRLEN, &v1, ERR));
    CHECK_OK(acp_run_save_if(S, counter_doc(c, "v-cas", 2), ACP_STRLEN, v1, &v2, ERR));
    CHECK(v2 > v1, "the conditional save reported version %" PRId64 " after %" PRId64, v2, v1);

    /* A writer still holding v1 loses, and stores nothing. */
    int64_t untouched = -7;
    CHECK_STATUS(ACP_CONFLICT, acp_run_save_if(S, counter_doc(c, "v-cas", 3), ACP_STRLEN, v1,
                                               &untouched, ERR));
    CHECK(untouched == -7, "a failed save set *version");
    char want1[32], want2[32];
    snprintf(want1, sizeof want1, "%" PRId64, v1);
    snprintf(want2, sizeof want2, "%" PRId64, v2);
    CHECK(strstr(c->err.message, want1) && strstr(c->err.message, want2),
          "the CONFLICT message names neither the expected (%s) nor the actual (%s) version: %s",
          want1, want2, c->err.message);
    char *json;
    size_t len;
    GET_RUN("v-cas", json, len);
    CHECK(counter_of(json) == 2, "after a refused save the run holds count %" PRId64,
          counter_of(json));
    int64_t now;
    VERSION_OF("v-cas", now);
    CHECK(now == v2, "a refused save moved the version from %" PRId64 " to %" PRId64, v2, now);

    /* A version that the run never had, higher or lower, is refused too. */
    CHECK_STATUS(ACP_CONFLICT,
                 acp_run_save_if(S, counter_doc(c, "v-cas", 4), ACP_STRLEN, v2 + 1000, NULL, ERR));
    /* Expecting a version of a run that does not exist: CONFLICT, nothing stored. */
    CHECK_STATUS(ACP_CONFLICT,
                 acp_run_save_if(S, counter_doc(c, "v-none", 1), ACP_STRLEN, 1, NULL, ERR));
    CHECK(strstr(c->err.message, "not exist"), "the message does not say the run is absent: %s",
          c->err.message);
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "v-none", &json, &len, ERR));
    /* A negative expectation is a caller's mistake. */
    CHECK_STATUS(ACP_INVALID,
                 acp_run_save_if(S, counter_doc(c, "v-cas", 5), ACP_STRLEN, -1, NULL, ERR));
    return T_PASS;
}

CONFORMANCE_CHECK(save_if_absent_creates_only_once)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    int64_t v = 0;
    CHECK_OK(acp_run_save_if(S, counter_doc(c, "v-once", 1), ACP_STRLEN, ACP_VERSION_ABSENT, &v,
                             ERR));
    CHECK(v >= 1, "the created run reported version %" PRId64, v);
    CHECK_STATUS(ACP_CONFLICT, acp_run_save_if(S, counter_doc(c, "v-once", 2), ACP_STRLEN,
                                               ACP_VERSION_ABSENT, NULL, ERR));
    char want[32];
    snprintf(want, sizeof want, "%" PRId64, v);
    CHECK(strstr(c->err.message, want), "the CONFLICT message does not name version %s: %s",
          want, c->err.message);
    char *json;
    size_t len;
    GET_RUN("v-once", json, len);
    CHECK(counter_of(json) == 1, "if-absent replaced an existing run");
    static const char *const ids[] = {"v-once"};
    CHECK_LIST("counter", NULL, ids, 1);
    return T_PASS;
}

CONFORMANCE_CHECK(recreated_run_versions_exceed_the_deleted_ones)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    for (int round = 0; round < 5; round++) {
        /* Saves in a burst may run ahead of the clock; a delete and an
         * immediate re-create must still continue above them. */
        int64_t last = 0;
        for (int i = 0; i < 10; i++)
            CHECK_OK(acp_run_save_versioned(S, counter_doc(c, "v-again", i), ACP_STRLEN, &last,
                                            ERR));
        CHECK_OK(acp_run_delete(S, "v-again", ERR));
        int64_t gone;
        VERSION_OF("v-again", gone);
        CHECK(gone == 0, "a deleted run still reports version %" PRId64, gone);
        int64_t v = 0;
        if (round % 2)
            CHECK_OK(acp_run_save_if(S, counter_doc(c, "v-again", 0), ACP_STRLEN,
                                     ACP_VERSION_ABSENT, &v, ERR));
        else
            CHECK_OK(acp_run_save_versioned(S, counter_doc(c, "v-again", 0), ACP_STRLEN, &v,
                                            ERR));
        CHECK(v > last, "round %d: the re-created run got version %" PRId64
              ", not above %" PRId64 " it had before the delete", round, v, last);
        CHECK_OK(acp_run_delete(S, "v-again", ERR));
    }
    return T_PASS;
}

/* A purge removes runs as delete_run does: the delete mark rises with
 * them, so a purged run saved again continues above its old versions. */
CONFORMANCE_CHECK(purged_run_versions_stay_below_a_recreated_run)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    const char *doc = "{\"run_id\":\"v-purged\",\"agent_name\":\"purger\","
                      "\"status\":\"completed\",\"created_at\":\"2020-01-01T00:00:00Z\","
                      "\"finished_at\":\"2020-01-01T00:01:00Z\"}";
    /* A version far ahead of the clock (as a restore from a store whose
     * runs saw many saves can leave it): only the mark can carry it. */
    int64_t last = acp_time_now_us() + (int64_t)1000000 * 86400 * 365;
    CHECK_OK(acp_run_restore(S, doc, ACP_STRLEN, last, 1577836800000000, 0, ERR));
    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    f.finished_before_us = acp_time_now_us();
    f.agent_name = "purger";
    int64_t count = 0;
    CHECK_OK(acp_store_purge(S, &f, NULL, NULL, &count, ERR));
    CHECK(count == 1, "the purge deleted %lld runs, expected 1", (long long)count);
    int64_t gone;
    VERSION_OF("v-purged", gone);
    CHECK(gone == 0, "a purged run still reports version %" PRId64, gone);
    int64_t v = 0;
    CHECK_OK(acp_run_save_versioned(S, doc, ACP_STRLEN, &v, ERR));
    CHECK(v > last, "the run saved again after a purge got version %" PRId64
          ", not above %" PRId64 " it had before", v, last);
    CHECK_OK(acp_run_delete(S, "v-purged", ERR));
    return T_PASS;
}

CONFORMANCE_CHECK(list_and_get_report_run_versions)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    enum { N = 6 };
    int64_t saved[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "v-list-%d", i);
        for (int k = 0; k <= i; k++)
            CHECK_OK(acp_run_save_versioned(S, counter_doc(c, id, k), ACP_STRLEN, &saved[i], ERR));
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "counter";
    f.limit = 100;
    acp_page *page;
    LIST_RUNS(page, &f);
    CHECK(acp_page_count(page) == N, "listed %zu runs, saved %d", acp_page_count(page), N);
    for (size_t j = 0; j < acp_page_count(page); j++) {
        const char *key = acp_page_key(page, j);
        int i = atoi(key + strlen("v-list-"));
        CHECK(acp_page_version(page, j) == saved[i],
              "list reports version %" PRId64 " for %s, its last save reported %" PRId64,
              acp_page_version(page, j), key, saved[i]);
        int64_t got;
        VERSION_OF(key, got);
        CHECK(got == saved[i], "get reports version %" PRId64 " for %s, saved %" PRId64, got, key,
              saved[i]);
    }
    /* Sessions and events carry none. */
    CHECK_OK(acp_event_add(S, "v-list-0", "{\"type\":\"x\"}", ACP_STRLEN, NULL, ERR));
    LIST_EVENTS(page, "v-list-0", NULL);
    CHECK(acp_page_count(page) == 1 && acp_page_version(page, 0) == 0,
          "an event reports version %" PRId64, acp_page_version(page, 0));
    return T_PASS;
}

CONFORMANCE_CHECK(restore_stores_the_given_version_and_time)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    const int64_t created = T_BASE_US + 123456;
    /* The document has no created_at: the restore's time is what counts. */
    CHECK_OK(acp_run_restore(S, counter_doc(c, "v-rest", 1), ACP_STRLEN, 1000, created, 0, ERR));
    int64_t v;
    VERSION_OF("v-rest", v);
    CHECK(v == 1000, "restored at version 1000, get reports %" PRId64, v);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "counter";
    acp_page *page;
    LIST_RUNS(page, &f);
    CHECK(acp_page_count(page) == 1 && acp_page_time_us(page, 0) == created &&
              acp_page_version(page, 0) == 1000,
          "list reports time %" PRId64 " version %" PRId64 ", restored %" PRId64 " and 1000",
          acp_page_time_us(page, 0), acp_page_version(page, 0), created);

    /* If-newer: an older or equal version is refused, a newer one taken. */
    CHECK_STATUS(ACP_CONFLICT, acp_run_restore(S, counter_doc(c, "v-rest", 2), ACP_STRLEN, 999,
                                               created, ACP_RESTORE_IF_NEWER, ERR));
    CHECK(strstr(c->err.message, "1000") && strstr(c->err.message, "999"),
          "the CONFLICT message names neither version: %s", c->err.message);
    CHECK_STATUS(ACP_CONFLICT, acp_run_restore(S, counter_doc(c, "v-rest", 2), ACP_STRLEN, 1000,
                                               created, ACP_RESTORE_IF_NEWER, ERR));
    char *json;
    size_t len;
    GET_RUN("v-rest", json, len);
    CHECK(counter_of(json) == 1, "a refused restore changed the run");
    CHECK_OK(acp_run_restore(S, counter_doc(c, "v-rest", 3), ACP_STRLEN, 1001, created,
                             ACP_RESTORE_IF_NEWER, ERR));
    /* Without if-newer a restore may go back (an import replaying a copy). */
    CHECK_OK(acp_run_restore(S, counter_doc(c, "v-rest", 4), ACP_STRLEN, 500, created, 0, ERR));
    VERSION_OF("v-rest", v);
    CHECK(v == 500, "restored at version 500, get reports %" PRId64, v);
    /* An ordinary save continues above the restored version. */
    int64_t next;
    CHECK_OK(acp_run_save_versioned(S, counter_doc(c, "v-rest", 5), ACP_STRLEN, &next, ERR));
    CHECK(next > 500, "a save after a restore at 500 got version %" PRId64, next);
    /* If-newer into an absent run stores it. */
    CHECK_OK(acp_run_restore(S, counter_doc(c, "v-rest-new", 1), ACP_STRLEN, 7,
                             ACP_RESTORE_CREATED_FROM_DOC, ACP_RESTORE_IF_NEWER, ERR));
    VERSION_OF("v-rest-new", v);
    CHECK(v == 7, "restored at version 7 into an absent run, get reports %" PRId64, v);
    /* Bad arguments. */
    CHECK_STATUS(ACP_INVALID, acp_run_restore(S, counter_doc(c, "v-rest", 6), ACP_STRLEN, 0,
                                              created, 0, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_restore(S, counter_doc(c, "v-rest", 6), ACP_STRLEN, 9,
                                              created, 0x80, ERR));
    return T_PASS;
}

/* ---- threads incrementing one counter by conditional saves ---- */

enum { INC_THREADS = 8, INC_EACH = 50 };

typedef struct inc_arg {
    acp_store *store;
    int t;
    int64_t conflicts;
    t_thread_fail *fail;
} inc_arg;

static void *inc_main(void *p)
{
    inc_arg *a = p;
    for (int i = 0; i < INC_EACH && !t_thread_failed(a->fail);) {
        acp_error e;
        char *json = NULL;
        int64_t v = 0;
        acp_status st = acp_run_get_versioned(a->store, "v-counter", &json, NULL, &v, &e);
        if (st != ACP_OK) {
            t_thread_failf(a->fail, "thread %d get: %s: %s", a->t, acp_status_name(st),
                           e.message);
            return NULL;
        }
        int64_t n = counter_of(json);
        acp_free(json);
        char doc[160];
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"v-counter\",\"agent_name\":\"counter\",\"status\":\"in-progress\","
                 "\"count\":%" PRId64 "}", n + 1);
        st = acp_run_save_if(a->store, doc, ACP_STRLEN, v, NULL, &e);
        if (st == ACP_OK) {
            i++;
        } else if (st == ACP_CONFLICT) {
            a->conflicts++;
        } else {
            t_thread_failf(a->fail, "thread %d save_if: %s: %s", a->t, acp_status_name(st),
                           e.message);
            return NULL;
        }
    }
    return NULL;
}

CONFORMANCE_CHECK(threads_incrementing_by_conditional_saves_lose_no_update)
{
    OPEN();
    SKIP_UNLESS_VERSIONS();
    CHECK_OK(acp_run_save_if(S, counter_doc(c, "v-counter", 0), ACP_STRLEN, ACP_VERSION_ABSENT,
                             NULL, ERR));
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    inc_arg args[INC_THREADS];
    for (int t = 0; t < INC_THREADS; t++)
        args[t] = (inc_arg){S, t, 0, &fail};
    int rc = t_threads(INC_THREADS, inc_main, args, sizeof args[0]);
    int failed = fail.failed;
    char msg[sizeof fail.msg];
    memcpy(msg, fail.msg, sizeof msg);
    t_thread_fail_destroy(&fail);
    CHECK(rc == 0, "cannot start threads: %s", strerror(rc));
    CHECK(!failed, "%s", msg);
    char *json;
    size_t len;
    GET_RUN("v-counter", json, len);
    CHECK(counter_of(json) == INC_THREADS * INC_EACH,
          "%d threads x %d increments left the counter at %" PRId64, INC_THREADS, INC_EACH,
          counter_of(json));
    return T_PASS;
}
