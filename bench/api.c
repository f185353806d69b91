/* SPDX-License-Identifier: MIT */
/*
 * api.c - the target that goes through the public API: acp_store_open() of
 * any store URI, then acp_run_save(), acp_run_get(), ... exactly as an
 * application calls them (each result copied out and freed).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define STORE(t) ((acp_store *)(t)->ctx)

static long fail_err(target *t, const char *op, const char *id, const acp_error *e)
{
    return target_fail(t, "%s %s: %s: %s", op, id ? id : "", acp_status_name(e->code),
                       e->message);
}

static long api_save_run(target *t, int tid, size_t i, int done)
{
    (void)tid;
    const w1 *w = t->w;
    acp_error e;
    if (acp_run_save(STORE(t), done ? w->doc_done[i] : w->doc_new[i],
                     done ? w->doc_done_len[i] : w->doc_new_len[i], &e) != ACP_OK)
        return fail_err(t, "save_run", w->run_id[i], &e);
    return 1;
}

static long api_get_run(target *t, int tid, size_t i)
{
    (void)tid;
    char *json;
    size_t len;
    acp_error e;
    if (acp_run_get(STORE(t), t->w->run_id[i], &json, &len, &e) != ACP_OK)
        return fail_err(t, "get_run", t->w->run_id[i], &e);
    acp_free(json);
    return 1;
}

static long api_add_event(target *t, int tid, size_t r, size_t k)
{
    (void)tid;
    const w1 *w = t->w;
    size_t d = w1_event_index(w, r, k);
    int64_t seq = 0;
    acp_error e;
    if (acp_event_add(STORE(t), w->run_id[r], w->event_doc[d], w->event_doc_len[d], &seq, &e) !=
        ACP_OK)
        return fail_err(t, "add_event", w->run_id[r], &e);
    /* One thread appends all events of a run, in order. */
    if (seq != (int64_t)k + 1)
        return target_fail(t, "add_event %s: sequence %" PRId64 ", expected %zu", w->run_id[r],
                           seq, k + 1);
    return 1;
}

static long api_get_events(target *t, int tid, size_t r)
{
    (void)tid;
    acp_page *p;
    acp_error e;
    if (acp_event_list(STORE(t), t->w->run_id[r], NULL, &p, &e) != ACP_OK)
        return fail_err(t, "get_events", t->w->run_id[r], &e);
    long n = (long)acp_page_count(p);
    acp_page_free(p);
    return n;
}

static long api_list_runs(target *t, int tid, long agent, long session, int64_t offset,
                          int64_t limit, int want_total)
{
    (void)tid;
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent >= 0 ? t->w->agent_name[agent] : NULL;
    f.session_id = session >= 0 ? t->w->session_id[session] : NULL;
    f.offset = offset;
    f.limit = limit;
    f.want_total = want_total;
    acp_page *p;
    acp_error e;
    if (acp_run_list(STORE(t), &f, &p, &e) != ACP_OK)
        return fail_err(t, "list_runs", f.agent_name ? f.agent_name : f.session_id, &e);
    long n = (long)acp_page_count(p) + (want_total ? (long)acp_page_total(p) : 0);
    acp_page_free(p);
    return n;
}

static long api_save_session(target *t, int tid, size_t s)
{
    (void)tid;
    acp_error e;
    if (acp_session_save(STORE(t), t->w->session_doc[s], t->w->session_doc_len[s], &e) != ACP_OK)
        return fail_err(t, "save_session", t->w->session_id[s], &e);
    return 1;
}

static long api_get_session(target *t, int tid, size_t s)
{
    (void)tid;
    char *json;
    acp_error e;
    if (acp_session_get(STORE(t), t->w->session_id[s], &json, NULL, &e) != ACP_OK)
        return fail_err(t, "get_session", t->w->session_id[s], &e);
    acp_free(json);
    return 1;
}

static long api_delete_run(target *t, int tid, size_t i)
{
    (void)tid;
    acp_error e;
    if (acp_run_delete(STORE(t), t->w->run_id[i], &e) != ACP_OK)
        return fail_err(t, "delete_run", t->w->run_id[i], &e);
    return 1;
}

static void api_close(target *t)
{
    acp_store_close(STORE(t));
    t->ctx = NULL;
}

acp_store *api_store(target *t)
{
    return STORE(t);
}

int api_open(target *t, const w1 *w, const char *uri, int threads, char *why, size_t whylen)
{
    acp_store *s;
    acp_error e;
    memset(t, 0, sizeof *t);
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        snprintf(why, whylen, "cannot open %s: %s: %s", uri, acp_status_name(e.code), e.message);
        return -1;
    }
    snprintf(t->name, sizeof t->name, "%s", acp_store_backend(s));
    snprintf(t->detail, sizeof t->detail, "%s %s through the acp_storage API",
             acp_store_backend(s), acp_store_backend_version(s));
    t->w = w;
    t->threads = threads;
    t->ctx = s;
    t->save_run = api_save_run;
    t->get_run = api_get_run;
    t->add_event = api_add_event;
    t->get_events = api_get_events;
    t->list_runs = api_list_runs;
    t->save_session = api_save_session;
    t->get_session = api_get_session;
    t->delete_run = api_delete_run;
    t->close = api_close;
    return 0;
}
