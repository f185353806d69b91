/* SPDX-License-Identifier: MIT */
/*
 * checks_filters.c - what an operator uses: run lists filtered by status
 * and creation time (with totals and cursors), purge and statistics.
 * Expected answers are computed here from the runs each check saved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* One saved run, as the checks know it. */
typedef struct frun {
    const char *id, *agent, *session, *status;
    int64_t created_us, finished_us; /* finished_us 0: none */
} frun;

#define NRUNS 48
static const char *const STATUSES[] = {"created",   "in-progress", "awaiting", "cancelling",
                                       "cancelled", "completed",   "failed"};

static char *run_doc(t_ctx *c, const frun *r)
{
    const char *sess =
        r->session ? t_printf(c, ",\"session_id\":%s", t_json_str(c, r->session)) : "";
    const char *fin =
        r->finished_us ? t_printf(c, ",\"finished_at\":\"%s\"", t_time(c, r->finished_us)) : "";
    return t_printf(c,
                    "{\"run_id\":%s,\"agent_name\":%s%s,\"status\":\"%s\",\"output\":[],"
                    "\"created_at\":\"%s\"%s}",
                    t_json_str(c, r->id), t_json_str(c, r->agent), sess, r->status,
                    t_time(c, r->created_us), fin);
}

/* NRUNS runs over 7 statuses, 3 agents, 2 sessions and 16 instants (so
 * that times tie and ties are broken by id); final runs finished an hour
 * after creation. */
static int fill(t_ctx *c, frun *runs)
{
    for (int i = 0; i < NRUNS; i++) {
        frun *r = &runs[i];
        r->id = t_printf(c, "f-%02d", (i * 29) % NRUNS);
        r->agent = (i % 3 == 0) ? "alpha" : (i % 3 == 1) ? "beta" : "gamma";
        r->session = (i % 4 == 0) ? "s-one" : (i % 4 == 1) ? "s-two" : NULL;
        r->status = STATUSES[(i * 5) % 7];
        r->created_us = T_BASE_US + (i % 16) * T_SEC;
        int final = !strcmp(r->status, "completed") || !strcmp(r->status, "failed") ||
                    !strcmp(r->status, "cancelled");
        r->finished_us = final ? r->created_us + 3600 * T_SEC : 0;
        CHECK_OK(acp_run_save(S, run_doc(c, r), ACP_STRLEN, ERR));
    }
    return 0;
}

static int in_list(const char *list, const char *status)
{
    if (!list)
        return 1;
    size_t n = strlen(status);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, status, n) && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static int matches(const frun *r, const acp_run_filter *f)
{
    return in_list(f->status, r->status) && (!f->agent_name || !strcmp(f->agent_name, r->agent)) &&
           (!f->session_id || (r->session && !strcmp(f->session_id, r->session))) &&
           (f->created_since_us == ACP_TIME_NONE || r->created_us >= f->created_since_us) &&
           (f->created_until_us == ACP_TIME_NONE || r->created_us < f->created_until_us);
}

/* List order: newest first, ties by id descending. */
static int by_list_order(const void *a, const void *b)
{
    const frun *x = *(const frun *const *)a, *y = *(const frun *const *)b;
    if (x->created_us != y->created_us)
        return x->created_us > y->created_us ? -1 : 1;
    return -strcmp(x->id, y->id);
}

/* The ids f should list, in order, into want[]; returns how many. */
static size_t expected(const frun *runs, const acp_run_filter *f, const frun **want)
{
    size_t n = 0;
    for (int i = 0; i < NRUNS; i++)
        if (runs[i].id && matches(&runs[i], f))
            want[n++] = &runs[i];
    qsort(want, n, sizeof *want, by_list_order);
    return n;
}

static const char *describe(t_ctx *c, const acp_run_filter *f)
{
    return t_printf(c, "status=%s agent=%s session=%s since=%lld until=%lld",
                    f->status ? f->status : "(any)", f->agent_name ? f->agent_name : "(any)",
                    f->session_id ? f->session_id : "(any)", (long long)f->created_since_us,
                    (long long)f->created_until_us);
}

/* Walk every page of f (its limit) by cursor, and the same pages by offset,
 * checking each page's keys, its total and the end against the runs. */
static int check_filter(t_ctx *c, const frun *runs, acp_run_filter f)
{
    const frun *want[NRUNS];
    size_t n = expected(runs, &f, want), seen = 0;
    const char *what = describe(c, &f);
    f.want_total = 1;
    for (int by_offset = 0; by_offset < 2; by_offset++) {
        seen = 0;
        f.cursor = NULL;
        f.offset = 0;
        for (int pages = 0;; pages++) {
            CHECK(pages <= NRUNS, "%s: paging does not end", what);
            acp_page *p;
            LIST_RUNS(p, &f);
            CHECK(acp_page_total(p) == (int64_t)n, "%s: total %lld, expected %zu", what,
                  (long long)acp_page_total(p), n);
            size_t k = acp_page_count(p);
            for (size_t i = 0; i < k; i++) {
                CHECK(seen + i < n, "%s: more than the %zu matching runs listed", what, n);
                CHECK(strcmp(acp_page_key(p, i), want[seen + i]->id) == 0,
                      "%s (%s): item %zu is \"%s\", expected \"%s\"", what,
                      by_offset ? "by offset" : "by cursor", seen + i, acp_page_key(p, i),
                      want[seen + i]->id);
            }
            seen += k;
            const char *next = acp_page_next_cursor(p);
            if (by_offset ? k < (size_t)f.limit : !next)
                break;
            if (by_offset)
                f.offset += f.limit;
            else
                f.cursor = t_strdup(c, next);
        }
        CHECK(seen == n, "%s: %zu runs listed, expected %zu", what, seen, n);
    }
    return 0;
}

/* The filters every check below walks. */
static int check_filters(t_ctx *c, const frun *runs, int64_t limit)
{
    static const char *const lists[] = {NULL,        "completed",        "failed,completed",
                                        "awaiting",  "created,in-progress,cancelling",
                                        "cancelled", "created,in-progress,awaiting,cancelling,"
                                                     "cancelled,completed,failed"};
    const int64_t T = T_BASE_US;
    const int64_t ranges[][2] = {{ACP_TIME_NONE, ACP_TIME_NONE}, {T + 5 * T_SEC, ACP_TIME_NONE},
                                 {ACP_TIME_NONE, T + 9 * T_SEC}, {T + 3 * T_SEC, T + 4 * T_SEC},
                                 {T + 2 * T_SEC + 1, T + 12 * T_SEC},
                                 {T + 100 * T_SEC, ACP_TIME_NONE}};
    const char *agents[] = {NULL, "beta"}, *sessions[] = {NULL, "s-one"};
    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++)
        for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++)
            for (size_t g = 0; g < 3; g++) {
                acp_run_filter f = ACP_RUN_FILTER_INIT;
                f.limit = limit;
                f.status = lists[l];
                f.created_since_us = ranges[r][0];
                f.created_until_us = ranges[r][1];
                f.agent_name = g == 1 ? agents[1] : agents[0];
                f.session_id = g == 2 ? sessions[1] : sessions[0];
                CHECK_RESULT(check_filter(c, runs, f));
            }
    return 0;
}

#define SKIP_UNLESS_FILTERS()                                                              \
    SKIP_UNLESS(CAPS() & ACP_CAP_RUN_FILTERS,                                              \
                "the backend does not declare ACP_CAP_RUN_FILTERS (checked: it refuses "   \
                "filtered lists with UNSUPPORTED)")

CONFORMANCE_CHECK(run_filters_without_the_capability_are_unsupported)
{
    OPEN();
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.status = "completed";
    acp_page *p = NULL;
    if (CAPS() & ACP_CAP_RUN_FILTERS) {
        LIST_RUNS(p, &f);
        return T_PASS;
    }
    CHECK_STATUS(ACP_UNSUPPORTED, acp_run_list(S, &f, &p, ERR));
    f.status = NULL;
    f.created_since_us = T_BASE_US;
    CHECK_STATUS(ACP_UNSUPPORTED, acp_run_list(S, &f, &p, ERR));
    /* All seven statuses filter nothing: any backend answers. */
    f.created_since_us = ACP_TIME_NONE;
    f.status = "created,in-progress,awaiting,cancelling,cancelled,completed,failed";
    LIST_RUNS(p, &f);
    return T_PASS;
}

CONFORMANCE_CHECK(run_filters_by_status_and_time_list_totals_and_cursors_exactly)
{
    SKIP_UNLESS_FILTERS();
    OPEN();
    frun runs[NRUNS];
    CHECK_RESULT(fill(c, runs));
    CHECK_RESULT(check_filters(c, runs, 1000));
    CHECK_RESULT(check_filters(c, runs, 4));
    return T_PASS;
}

CONFORMANCE_CHECK(run_filters_follow_status_changes_and_deletes)
{
    SKIP_UNLESS_FILTERS();
    OPEN();
    frun runs[NRUNS];
    CHECK_RESULT(fill(c, runs));
    /* Every third run moves on (a status update keeps its place in time),
     * every seventh is deleted. */
    for (int i = 0; i < NRUNS; i++) {
        if (i % 7 == 3) {
            CHECK_OK(acp_run_delete(S, runs[i].id, ERR));
            runs[i].id = NULL;
        } else if (i % 3 == 0) {
            runs[i].status = STATUSES[(i * 5 + 1) % 7];
            CHECK_OK(acp_run_save(S, run_doc(c, &runs[i]), ACP_STRLEN, ERR));
        }
    }
    CHECK_RESULT(check_filters(c, runs, 5));
    return T_PASS;
}

CONFORMANCE_CHECK(bad_run_filters_are_invalid)
{
    OPEN();
    static const char *const bad[] = {"", "done", "completed,", ",failed", "completed, failed",
                                      "COMPLETED", "completed,,failed"};
    acp_page *p = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.status = bad[i];
        CHECK_STATUS(ACP_INVALID, acp_run_list(S, &f, &p, ERR));
        CHECK(strstr(c->err.message, "status"), "status \"%s\": message \"%s\" does not say why",
              bad[i], c->err.message);
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.created_since_us = T_BASE_US;
    f.created_until_us = T_BASE_US;
    CHECK_STATUS(ACP_INVALID, acp_run_list(S, &f, &p, ERR));
    /* A cursor stays strict under filters. */
    f = (acp_run_filter)ACP_RUN_FILTER_INIT;
    f.status = "completed";
    f.cursor = "r1:01:6162";
    CHECK_STATUS(ACP_INVALID, acp_run_list(S, &f, &p, ERR));
    return T_PASS;
}

/* ---- purge ---- */

typedef struct progress {
    int calls;
    int64_t last;
    int stop_after; /* stop when this many calls were made (0: never) */
} progress;

static int on_progress(void *ctx, int64_t done)
{
    progress *pr = ctx;
    pr->calls++;
    pr->last = done;
    return pr->stop_after && pr->calls >= pr->stop_after;
}

/* Runs purge f would delete, and a check that exactly the others remain,
 * events included. */
static int purge_matches(const frun *r, const char *status, int64_t before, const char *agent)
{
    const char *list = status ? status : "completed,failed,cancelled";
    return r->id && r->finished_us && r->finished_us < before && in_list(list, r->status) &&
           (!agent || !strcmp(agent, r->agent));
}

static int check_remaining(t_ctx *c, frun *runs)
{
    for (int i = 0; i < NRUNS; i++) {
        char *json;
        size_t len;
        int64_t n;
        if (!runs[i].id)
            continue;
        t_err_reset(c);
        acp_status st = acp_run_get(S, runs[i].id, &json, &len, ERR);
        if (st == ACP_OK)
            acp_free(json);
        COUNT_EVENTS(runs[i].id, n);
        CHECK(st == (runs[i].finished_us < 0 ? ACP_NOT_FOUND : ACP_OK),
              "run %s (%s): get gives %s after the purge", runs[i].id, runs[i].status,
              acp_status_name(st));
        CHECK(n == (runs[i].finished_us < 0 ? 0 : 2), "run %s: %lld events after the purge",
              runs[i].id, (long long)n);
    }
    return 0;
}

CONFORMANCE_CHECK(purge_deletes_old_final_runs_with_their_events_in_batches)
{
    OPEN();
    frun runs[NRUNS];
    CHECK_RESULT(fill(c, runs));
    for (int i = 0; i < NRUNS; i++)
        for (int e = 0; e < 2; e++)
            CHECK_OK(acp_event_add(S, runs[i].id, "{\"type\":\"message.part\"}", ACP_STRLEN,
                                   NULL, ERR));
    const int64_t before = T_BASE_US + 3600 * T_SEC + 8 * T_SEC;
    int64_t want = 0, want_beta = 0, count = -1;
    for (int i = 0; i < NRUNS; i++) {
        want += purge_matches(&runs[i], NULL, before, NULL);
        want_beta += purge_matches(&runs[i], "completed", before, "beta");
    }
    CHECK(want > 6 && want_beta > 0, "the fixture should have runs to purge");

    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    f.finished_before_us = before;
    f.dry_run = 1;
    progress pr = {0};
    CHECK_OK(acp_store_purge(S, &f, on_progress, &pr, &count, ERR));
    CHECK(count == want, "dry run counts %lld runs, expected %lld", (long long)count,
          (long long)want);
    CHECK(pr.calls == 1 && pr.last == want, "dry run progress: %d calls, last %lld", pr.calls,
          (long long)pr.last);
    CHECK_RESULT(check_remaining(c, runs)); /* nothing was deleted */

    /* One agent and one status first. */
    f.dry_run = 0;
    f.status = "completed";
    f.agent_name = "beta";
    CHECK_OK(acp_store_purge(S, &f, NULL, NULL, &count, ERR));
    CHECK(count == want_beta, "purge of beta's completed runs deleted %lld, expected %lld",
          (long long)count, (long long)want_beta);
    for (int i = 0; i < NRUNS; i++)
        if (purge_matches(&runs[i], "completed", before, "beta"))
            runs[i].finished_us = -1; /* gone */
    CHECK_RESULT(check_remaining(c, runs));

    /* Then the default statuses in batches of 2, stopped after 2 batches. */
    f.status = NULL;
    f.agent_name = NULL;
    f.batch_size = 2;
    pr = (progress){.stop_after = 2};
    CHECK_OK(acp_store_purge(S, &f, on_progress, &pr, &count, ERR));
    CHECK(pr.calls == 2 && count == pr.last && count >= 2 && count <= 4 * 2,
          "a purge stopped after 2 batches reports %lld runs in %d calls", (long long)count,
          pr.calls);
    /* Run again: it finishes the work. */
    int64_t again = 0;
    CHECK_OK(acp_store_purge(S, &f, NULL, NULL, &again, ERR));
    CHECK(count + again == want - want_beta, "the purges deleted %lld + %lld runs, expected %lld",
          (long long)count, (long long)again, (long long)(want - want_beta));
    for (int i = 0; i < NRUNS; i++)
        if (purge_matches(&runs[i], NULL, before, NULL))
            runs[i].finished_us = -1;
    CHECK_RESULT(check_remaining(c, runs));
    CHECK_OK(acp_store_purge(S, &f, NULL, NULL, &again, ERR));
    CHECK(again == 0, "a third purge deleted %lld runs", (long long)again);
    return T_PASS;
}

CONFORMANCE_CHECK(bad_purge_filters_are_invalid)
{
    OPEN();
    int64_t n = -1;
    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    CHECK_STATUS(ACP_INVALID, acp_store_purge(S, &f, NULL, NULL, &n, ERR)); /* no bound */
    CHECK(n == 0, "a refused purge reports %lld runs", (long long)n);
    f.finished_before_us = T_BASE_US;
    f.batch_size = 0;
    CHECK_STATUS(ACP_INVALID, acp_store_purge(S, &f, NULL, NULL, &n, ERR));
    f.batch_size = 1001;
    CHECK_STATUS(ACP_INVALID, acp_store_purge(S, &f, NULL, NULL, &n, ERR));
    f.batch_size = 10;
    f.status = "completed,finished";
    CHECK_STATUS(ACP_INVALID, acp_store_purge(S, &f, NULL, NULL, &n, ERR));
    CHECK_STATUS(ACP_INVALID, acp_store_purge(NULL, &f, NULL, NULL, &n, ERR));
    return T_PASS;
}

/* ---- statistics ---- */

CONFORMANCE_CHECK(stats_count_runs_by_status_and_agent_sessions_and_events)
{
    OPEN();
    frun runs[NRUNS];
    CHECK_RESULT(fill(c, runs));
    for (int i = 0; i < 5; i++)
        CHECK_OK(acp_event_add(S, runs[i].id, "{\"type\":\"x\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_event_add(S, runs[0].id, "{\"type\":\"y\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_session_save(S, t_session_doc(c, "s-one", "null"), ACP_STRLEN, ERR));
    CHECK_OK(acp_session_save(S, t_session_doc(c, "s-two", "{}"), ACP_STRLEN, ERR));
    acp_stats *st = NULL;
    CHECK_OK(acp_store_stats(S, &st, ERR));
    t_keep(c, st, (void (*)(void *))acp_stats_free);
    CHECK(acp_stats_value(st, ACP_STAT_RUNS, NULL) == NRUNS, "runs: %lld",
          (long long)acp_stats_value(st, ACP_STAT_RUNS, NULL));
    for (size_t s = 0; s < 7; s++) {
        int64_t want = 0;
        for (int i = 0; i < NRUNS; i++)
            want += !strcmp(runs[i].status, STATUSES[s]);
        int64_t got = acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, STATUSES[s]);
        CHECK(got == want || (want == 0 && got == -1), "runs %s: %lld, expected %lld",
              STATUSES[s], (long long)got, (long long)want);
    }
    static const char *const agents[] = {"alpha", "beta", "gamma"};
    for (size_t a = 0; a < 3; a++)
        CHECK(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, agents[a]) == NRUNS / 3,
              "runs of %s: %lld", agents[a],
              (long long)acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, agents[a]));
    CHECK(acp_stats_value(st, ACP_STAT_EVENTS, NULL) == 6, "events: %lld",
          (long long)acp_stats_value(st, ACP_STAT_EVENTS, NULL));
    int64_t sessions = acp_stats_value(st, ACP_STAT_SESSIONS, NULL);
    CHECK(sessions == 2 || (sessions == -1 && !t_lists_sessions(c)), "sessions: %lld",
          (long long)sessions);
    CHECK(acp_stats_value(st, ACP_STAT_BYTES, NULL) > 0, "bytes: %lld",
          (long long)acp_stats_value(st, ACP_STAT_BYTES, NULL));
    /* Every figure is well-formed and named. */
    int kind;
    const char *label;
    int64_t value;
    for (size_t i = 0; acp_stats_get(st, i, &kind, &label, &value); i++)
        CHECK(strcmp(acp_stat_name(kind), "unknown") != 0 && value >= 0,
              "figure %zu: kind %d value %lld", i, kind, (long long)value);
    return T_PASS;
}
