/* SPDX-License-Identifier: MIT */
/*
 * checks_basic.c - lifecycle and error reporting.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

CONFORMANCE_CHECK(store_ping_reports_ok)
{
    OPEN();
    int64_t t0 = t_now_us();
    CHECK_OK(acp_store_ping(S, ERR));
    CHECK_OK(acp_run_save(S, t_run_doc(c, "ping-run", "agent", NULL, NULL), ACP_STRLEN, ERR));
    CHECK_OK(acp_store_ping(S, ERR));
    int64_t took = t_now_us() - t0;
    CHECK(took < 5 * T_SEC, "two pings and a save took %lld ms on a healthy store",
          (long long)(took / 1000));
    return T_PASS;
}

CONFORMANCE_CHECK(store_reports_its_backend_name_and_version)
{
    OPEN();
    /* The scheme names the plugin: "name" or "name+variant". */
    char want[80];
    size_t n = strcspn(c->uri, ":+");
    CHECK(n > 0 && n < sizeof want, "cannot read the scheme of \"%s\"", c->uri);
    memcpy(want, c->uri, n);
    want[n] = '\0';
    if (strcmp(want, "postgresql") == 0)
        strcpy(want, "postgres");
    const char *name = acp_store_backend(S);
    CHECK(name && strcmp(name, want) == 0, "acp_store_backend is \"%s\", expected \"%s\"",
          name ? name : "(NULL)", want);
    const char *version = acp_store_backend_version(S);
    CHECK(version && version[0], "acp_store_backend_version is %s",
          version ? "empty" : "NULL");
    return T_PASS;
}

/* Open descriptors of this process, or -1 without /proc. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory itself */
}

/* Open, write, read, close: one cycle of use. */
static int use_and_close(t_ctx *c, int round)
{
    OPEN();
    char *id = t_printf(c, "fd-run-%d", round);
    CHECK_OK(acp_run_save(S, t_run_doc(c, id, "agent", "fd-session", NULL), ACP_STRLEN, ERR));
    CHECK_OK(acp_event_add(S, id, "{\"type\":\"fd\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_session_save(S, t_session_doc(c, "fd-session", "1"), ACP_STRLEN, ERR));
    char *json;
    size_t len;
    GET_RUN(id, json, len);
    acp_page *p;
    LIST_EVENTS(p, id, NULL);
    LIST_RUNS(p, NULL);
    if (t_lists_sessions(c))
        LIST_SESSIONS(p, NULL, 10);
    CHECK_OK(acp_store_ping(S, ERR));
    /* Pages are the application's; release them before the store. */
    while (c->n_keep > 0) {
        t_keep_item *k = &c->keep[--c->n_keep];
        k->release(k->ptr);
    }
    t_close(c, S);
    S = NULL;
    return 0;
}

CONFORMANCE_CHECK(store_close_releases_file_descriptors)
{
    SKIP_UNLESS(count_fds() >= 0, "/proc/self/fd cannot be read on this system");
    /* The first open may load the plugin and set up process-wide state. */
    CHECK_RESULT(use_and_close(c, 0));
    int before = count_fds();
    for (int round = 1; round <= 10; round++)
        CHECK_RESULT(use_and_close(c, round));
    int after = count_fds();
    CHECK(after <= before,
          "%d file descriptors were open before 10 open/use/close cycles and %d after",
          before, after);
    return T_PASS;
}

CONFORMANCE_CHECK(null_arguments_give_invalid_not_crashes)
{
    OPEN();
    const char *doc = t_run_doc(c, "x", "agent", NULL, NULL);
    CHECK_OK(acp_run_save(S, doc, ACP_STRLEN, ERR));
    CHECK_OK(acp_session_save(S, t_session_doc(c, "s", "null"), ACP_STRLEN, ERR));
    char *json;
    size_t len;
    int64_t seq;
    acp_page *page;

    CHECK_STATUS(ACP_INVALID, acp_store_ping(NULL, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_save(NULL, doc, ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, NULL, ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, NULL, 10, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_get(NULL, "x", &json, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_get(S, NULL, &json, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_get(S, "x", NULL, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_delete(NULL, "x", ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_delete(S, NULL, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_list(NULL, NULL, &page, ERR));
    CHECK_STATUS(ACP_INVALID, acp_run_list(S, NULL, NULL, ERR));

    CHECK_STATUS(ACP_INVALID, acp_session_save(NULL, "{\"id\":\"s2\"}", ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_save(S, NULL, ACP_STRLEN, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_get(NULL, "s", &json, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_get(S, NULL, &json, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_get(S, "s", NULL, &len, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_delete(NULL, "s", ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_delete(S, NULL, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_list(NULL, NULL, 10, &page, ERR));
    CHECK_STATUS(ACP_INVALID, acp_session_list(S, NULL, 10, NULL, ERR));

    const char *ev = "{\"type\":\"t\"}";
    CHECK_STATUS(ACP_INVALID, acp_event_add(NULL, "r", ev, ACP_STRLEN, &seq, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_add(S, NULL, ev, ACP_STRLEN, &seq, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_add(S, "r", NULL, ACP_STRLEN, &seq, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_add(S, "r", NULL, 12, &seq, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list(NULL, "r", NULL, &page, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list(S, NULL, NULL, &page, ERR));
    CHECK_STATUS(ACP_INVALID, acp_event_list(S, "r", NULL, NULL, ERR));

    /* Optional outputs may be NULL; a NULL acp_error is fine on failure. */
    CHECK_OK(acp_event_add(S, "r", ev, ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_run_get(S, "x", &json, NULL, ERR));
    acp_free(json);
    CHECK_OK(acp_session_get(S, "s", &json, NULL, ERR));
    acp_free(json);
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "missing", &json, NULL, NULL));
    CHECK_STATUS(ACP_INVALID, acp_run_save(S, "{", ACP_STRLEN, NULL));
    CHECK_STATUS(ACP_INVALID, acp_run_get(S, NULL, &json, NULL, NULL));

    /* Nothing was stored by the refused calls. */
    int64_t total, events;
    COUNT_RUNS(NULL, NULL, total);
    CHECK(total == 1, "%lld runs stored, expected only the one saved", (long long)total);
    COUNT_EVENTS("r", events);
    CHECK(events == 1, "%lld events stored, expected only the one added", (long long)events);
    if (!t_lists_sessions(c))
        return T_PASS;
    LIST_SESSIONS(page, NULL, 1000);
    CHECK(acp_page_count(page) == 1, "%zu sessions stored, expected only the one saved",
          acp_page_count(page));
    return T_PASS;
}

/* Expect call (made with &e) to fail with want, filling e. */
static int expect_failure(t_ctx *c, int line, const char *call, acp_status got,
                          acp_status want, const acp_error *e)
{
    if (got != want)
        return t_fail(c, __FILE__, line, "%s returned %s, expected %s (%s)", call,
                      acp_status_name(got), acp_status_name(want), e->message);
    if (e->code != want)
        return t_fail(c, __FILE__, line, "%s returned %s but set acp_error.code to %d (%s)",
                      call, acp_status_name(got), (int)e->code, acp_status_name(e->code));
    if (e->message[0] == '\0' || strcmp(e->message, "untouched") == 0)
        return t_fail(c, __FILE__, line, "%s returned %s without an acp_error message", call,
                      acp_status_name(got));
    if (!memchr(e->message, '\0', sizeof e->message))
        return t_fail(c, __FILE__, line, "%s left acp_error.message unterminated", call);
    return 0;
}

#define RESET_E()                                                                          \
    do {                                                                                   \
        e.code = ACP_CONFLICT;                                                             \
        strcpy(e.message, "untouched");                                                    \
    } while (0)
#define EXPECT_FAIL(want, call)                                                            \
    do {                                                                                   \
        RESET_E();                                                                         \
        acp_status s_ = (call);                                                            \
        CHECK_RESULT(expect_failure(c, __LINE__, #call, s_, (want), &e));                  \
    } while (0)
#define EXPECT_UNTOUCHED(call)                                                             \
    do {                                                                                   \
        RESET_E();                                                                         \
        acp_status s_ = (call);                                                            \
        CHECK(s_ == ACP_OK, "%s returned %s: %s", #call, acp_status_name(s_), e.message);  \
        CHECK(e.code == ACP_CONFLICT && strcmp(e.message, "untouched") == 0,               \
              "%s succeeded but changed acp_error to %d \"%s\"", #call, (int)e.code,       \
              e.message);                                                                  \
    } while (0)

CONFORMANCE_CHECK(failures_fill_the_error_and_leave_outputs_untouched)
{
    OPEN();
    acp_error e;
    static char marker;
    char *json = &marker;
    size_t len = 777;
    int64_t seq = 4242;
    acp_page *page = (acp_page *)&marker;

    EXPECT_UNTOUCHED(acp_run_save(S, t_run_doc(c, "r", "agent", NULL, NULL), ACP_STRLEN, &e));
    EXPECT_UNTOUCHED(acp_run_get(S, "r", &json, &len, &e));
    acp_free(json);
    json = &marker;
    len = 777;
    EXPECT_UNTOUCHED(acp_event_add(S, "r", "{\"type\":\"t\"}", ACP_STRLEN, &seq, &e));
    seq = 4242;
    EXPECT_UNTOUCHED(acp_run_list(S, NULL, &page, &e));
    acp_page_free(page);
    page = (acp_page *)&marker;

    EXPECT_FAIL(ACP_NOT_FOUND, acp_run_get(S, "missing-run", &json, &len, &e));
    CHECK(json == &marker && len == 777, "a failed acp_run_get changed its outputs");
    EXPECT_FAIL(ACP_NOT_FOUND, acp_run_delete(S, "missing-run", &e));
    EXPECT_FAIL(ACP_INVALID, acp_run_save(S, "{\"run_id\":", ACP_STRLEN, &e));
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = -1;
    EXPECT_FAIL(ACP_INVALID, acp_run_list(S, &f, &page, &e));
    CHECK(page == (acp_page *)&marker, "a failed acp_run_list changed its output");
    EXPECT_FAIL(ACP_INVALID, acp_event_add(S, "r", "{\"type\":5}", ACP_STRLEN, &seq, &e));
    CHECK(seq == 4242, "a failed acp_event_add set the sequence to %lld", (long long)seq);
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    ef.limit = -1;
    EXPECT_FAIL(ACP_INVALID, acp_event_list(S, "r", &ef, &page, &e));
    CHECK(page == (acp_page *)&marker, "a failed acp_event_list changed its output");
    EXPECT_FAIL(ACP_NOT_FOUND, acp_session_get(S, "missing-session", &json, &len, &e));
    CHECK(json == &marker && len == 777, "a failed acp_session_get changed its outputs");
    EXPECT_FAIL(ACP_NOT_FOUND, acp_session_delete(S, "missing-session", &e));
    EXPECT_FAIL(ACP_INVALID, acp_session_save(S, "[]", ACP_STRLEN, &e));
    EXPECT_FAIL(ACP_INVALID, acp_session_list(S, NULL, 0, &page, &e));
    CHECK(page == (acp_page *)&marker, "a failed acp_session_list changed its output");
    return T_PASS;
}

typedef struct err_thread {
    acp_store *store;
    int index;
    t_thread_fail *fail;
} err_thread;

static void *err_thread_main(void *arg)
{
    err_thread *a = arg;
    for (int i = 0; i < 200 && !t_thread_failed(a->fail); i++) {
        acp_error e;
        char id[64], doc[160];
        snprintf(id, sizeof id, "ghost-%d-%d", a->index, i);
        if (i % 2 == 0) {
            char *json = NULL;
            acp_status st = acp_run_get(a->store, id, &json, NULL, &e);
            if (st != ACP_NOT_FOUND || e.code != ACP_NOT_FOUND) {
                t_thread_failf(a->fail, "thread %d: get_run \"%s\" gave %s (%s)", a->index, id,
                               acp_status_name(st), e.message);
            } else if (!strstr(e.message, id) || strstr(e.message, "bogus-")) {
                t_thread_failf(a->fail,
                               "thread %d: the NOT_FOUND message for \"%s\" does not name "
                               "that id (or is another thread's): \"%s\"",
                               a->index, id, e.message);
            }
        } else {
            snprintf(doc, sizeof doc,
                     "{\"run_id\":\"bad-%d-%d\",\"agent_name\":\"a\",\"status\":\"bogus-%d\"}",
                     a->index, i, a->index);
            acp_status st = acp_run_save(a->store, doc, ACP_STRLEN, &e);
            if (st != ACP_INVALID || e.code != ACP_INVALID || e.message[0] == '\0')
                t_thread_failf(a->fail, "thread %d: invalid save gave %s (%s)", a->index,
                               acp_status_name(st), e.message);
            else if (strstr(e.message, "ghost-"))
                t_thread_failf(a->fail,
                               "thread %d: the INVALID message is another thread's: \"%s\"",
                               a->index, e.message);
        }
    }
    return NULL;
}

CONFORMANCE_CHECK(error_messages_stay_with_the_calling_thread)
{
    OPEN();
    enum { N = 8 };
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    err_thread args[N];
    for (int k = 0; k < N; k++)
        args[k] = (err_thread){S, k, &fail};
    int rc = t_threads(N, err_thread_main, args, sizeof args[0]);
    int failed = fail.failed;
    char msg[sizeof fail.msg];
    memcpy(msg, fail.msg, sizeof msg);
    t_thread_fail_destroy(&fail);
    CHECK(rc == 0, "cannot start threads: %s", strerror(rc));
    CHECK(!failed, "%s", msg);
    return T_PASS;
}
