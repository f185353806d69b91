/* SPDX-License-Identifier: MIT */
/*
 * batch.c - many writes in one call: acp_run_save_many, acp_event_add_many
 * and the restoring variants used by copy and import.  Every document is
 * checked before the plugin sees any; the plugin's save_runs/add_events
 * (ABI 1.2) store the batch in one transaction, pipeline or flush, and a
 * plugin without them is served by a loop over save_run/add_event here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A checked batch: the records handed to the plugin and, per record, the
 * one block holding its NUL-terminated strings. */
typedef struct batch {
    acp_run_record *runs;
    acp_event_record *evs;
    char **blocks;
    size_t n;
} batch;

static void batch_free(batch *b)
{
    for (size_t i = 0; b->blocks && i < b->n; i++)
        free(b->blocks[i]);
    free(b->blocks);
    free(b->runs);
    free(b->evs);
}

/* Prefix the message of a failed item with its place in the batch. */
static acp_status item_failed(acp_error *err, acp_status st, size_t i)
{
    if (err) {
        char pre[48];
        size_t n = (size_t)snprintf(pre, sizeof pre, "batch item %zu: ", i);
        size_t len = strlen(err->message);
        if (len + n >= sizeof err->message)
            len = sizeof err->message - n - 1;
        memmove(err->message + n, err->message, len);
        memcpy(err->message, pre, n);
        err->message[n + len] = '\0';
    }
    return st;
}

/* Trimmed text of one document held to the size limit. */
static acp_status take(const acp_store *s, const char *what, const char **json, size_t *len,
                       acp_error *err)
{
    if (!*json)
        return acp__error(err, ACP_INVALID, "%s document must not be NULL", what);
    if (*len == ACP_STRLEN)
        *len = strlen(*json);
    acp__json_trim(json, len);
    return acp__doc_size_check(s, what, *len, err);
}

/* Append text[0..n) and a NUL at *at. */
static const char *put(char **at, const char *text, size_t n)
{
    char *p = *at;
    memcpy(p, text, n);
    p[n] = '\0';
    *at = p + n + 1;
    return p;
}

static acp_status run_record(acp_store *s, const char *json, size_t len, int64_t created_us,
                             acp_run_record *r, char **block, acp_error *err)
{
    acp__strbuf b;
    acp__run_fields f;
    acp_status st = take(s, "run", &json, &len, err);
    if (st != ACP_OK || (st = acp__run_check(json, len, &f, &b, NULL, NULL, err)) != ACP_OK)
        return st;
    size_t il = strlen(f.run_id), al = strlen(f.agent_name), sl = f.session_id ? strlen(f.session_id) : 0,
           tl = strlen(f.status);
    char *at = *block = malloc(il + al + sl + tl + len + 5);
    if (!at) {
        acp__strbuf_free(&b);
        return acp__error(err, ACP_NOMEM, "out of memory saving runs");
    }
    *r = (acp_run_record){
        .run_id = put(&at, f.run_id, il),
        .run_id_len = il,
        .agent_name = put(&at, f.agent_name, al),
        .agent_name_len = al,
        .session_id = f.session_id ? put(&at, f.session_id, sl) : NULL,
        .session_id_len = sl,
        .status = put(&at, f.status, tl),
        .finished_us = f.finished_us == INT64_MIN ? ACP_NO_TIME : f.finished_us,
        .doc = put(&at, json, len),
        .doc_len = len,
    };
    if (created_us != INT64_MIN)
        r->created_us = created_us; /* restored: the source's order, with or without created_at */
    else if (f.has_created)
        r->created_us = f.created_us;
    else {
        r->created_us = acp_time_now_us();
        r->flags = ACP_RUN_CREATED_DEFAULT;
    }
    acp__strbuf_free(&b);
    return ACP_OK;
}

static acp_status event_record(acp_store *s, const char *run_id, const char *json, size_t len,
                               int64_t stored_us, acp_event_record *r, char **block,
                               acp_error *err)
{
    acp__strbuf b;
    const char *type;
    acp_status st = acp__id_check(run_id, "run_id", err);
    if (st != ACP_OK || (st = take(s, "event", &json, &len, err)) != ACP_OK ||
        (st = acp__event_check(json, len, &type, &b, NULL, NULL, err)) != ACP_OK)
        return st;
    size_t il = strlen(run_id), tl = strlen(type);
    char *at = *block = malloc(il + tl + len + 3);
    if (!at) {
        acp__strbuf_free(&b);
        return acp__error(err, ACP_NOMEM, "out of memory adding events");
    }
    *r = (acp_event_record){
        .run_id = put(&at, run_id, il),
        .run_id_len = il,
        .type = put(&at, type, tl),
        .stored_us = stored_us,
        .doc = put(&at, json, len),
        .doc_len = len,
    };
    acp__strbuf_free(&b);
    return ACP_OK;
}

static acp_status batch_new(batch *b, size_t n, int events, acp_error *err)
{
    *b = (batch){.n = n};
    b->blocks = calloc(n ? n : 1, sizeof *b->blocks);
    if (events)
        b->evs = calloc(n ? n : 1, sizeof *b->evs);
    else
        b->runs = calloc(n ? n : 1, sizeof *b->runs);
    if (!b->blocks || (!b->evs && !b->runs)) {
        batch_free(b);
        return acp__error(err, ACP_NOMEM, "out of memory for a batch of %zu", n);
    }
    return ACP_OK;
}

/* The plugin's per-item results must be OK, or CONFLICT where the flags
 * allow one. */
static acp_status check_results(const acp_store *s, const char *op, const acp_status *res,
                                size_t n, int conflict_ok, acp_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (res[i] != ACP_OK && !(conflict_ok && res[i] == ACP_CONFLICT))
            return acp__error(err, ACP_PLUGIN, "%s: %s gave item %zu the result %d (only OK%s)",
                              s->desc->name, op, i, (int)res[i],
                              conflict_ok ? " or CONFLICT" : "");
    return ACP_OK;
}

/* ---- dispatch: the plugin's method, or a loop over single writes ---- */

static acp_status save_runs(acp_store *s, const acp_run_record *r, size_t n, uint32_t flags,
                            acp_status *res, acp_error *err)
{
    acp_call call;
    acp_status st;
    if (ACP__HAS(s->desc, save_runs)) {
        for (size_t i = 0; i < n; i++)
            res[i] = (acp_status)-1; /* a result the plugin must overwrite */
        acp__call_init(&call, NULL, s->timeout_ms);
        acp__store_enter(s);
        st = s->vt->save_runs(s->backend, r, n, flags, res, &call);
        acp__store_leave(s);
        if ((st = acp__call_finish(&call, st, s->desc->name, "save_runs", err)) != ACP_OK)
            return st;
        return check_results(s, "save_runs", res, n, (flags & ACP_BATCH_INSERT_ONLY) != 0, err);
    }
    for (size_t i = 0; i < n; i++) {
        res[i] = ACP_OK;
        if (flags & ACP_BATCH_INSERT_ONLY) {
            char *doc;
            st = acp_run_get(s, r[i].run_id, &doc, NULL, err);
            if (st == ACP_OK) {
                free(doc);
                res[i] = ACP_CONFLICT;
                continue;
            }
            if (st != ACP_NOT_FOUND)
                return st;
        }
        acp__call_init(&call, NULL, s->timeout_ms);
        acp__store_enter(s);
        st = s->vt->save_run(s->backend, &r[i], &call);
        acp__store_leave(s);
        if ((st = acp__call_finish(&call, st, s->desc->name, "save_run", err)) != ACP_OK)
            return st;
    }
    return ACP_OK;
}

/* Fallback restore: is seq the next sequence of run_id?  (Event seq - 1
 * exists, or seq is 1, and no event seq exists.) */
static acp_status is_next(acp_store *s, const char *run_id, int64_t seq, int *next,
                          acp_error *err)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 2;
    f.after_seq = seq > 1 ? seq - 2 : 0;
    acp_page *p;
    acp_status st = acp_event_list(s, run_id, &f, &p, err);
    if (st != ACP_OK)
        return st;
    size_t k = acp_page_count(p);
    *next = seq > 1 ? k == 1 && acp_page_seq(p, 0) == seq - 1 : k == 0;
    acp_page_free(p);
    return ACP_OK;
}

static acp_status add_events(acp_store *s, const acp_event_record *e, size_t n, uint32_t flags,
                             int64_t *seqs, acp_status *res, acp_error *err)
{
    acp_call call;
    acp_status st;
    int restore = (flags & ACP_BATCH_RESTORE) != 0;
    if (ACP__HAS(s->desc, add_events)) {
        for (size_t i = 0; i < n; i++)
            res[i] = (acp_status)-1;
        acp__call_init(&call, NULL, s->timeout_ms);
        acp__store_enter(s);
        st = s->vt->add_events(s->backend, e, n, flags, seqs, res, &call);
        acp__store_leave(s);
        if ((st = acp__call_finish(&call, st, s->desc->name, "add_events", err)) != ACP_OK ||
            (st = check_results(s, "add_events", res, n, restore, err)) != ACP_OK)
            return st;
        for (size_t i = 0; !restore && i < n; i++)
            if (seqs[i] < 1)
                return acp__error(err, ACP_PLUGIN, "%s: add_events reported sequence %" PRId64
                                  " for item %zu (sequences start at 1)", s->desc->name,
                                  seqs[i], i);
        return ACP_OK;
    }
    for (size_t i = 0; i < n; i++) {
        res[i] = ACP_OK;
        /* The previous item stored this run's seq - 1: no need to look. */
        int next = i > 0 && res[i - 1] == ACP_OK && seqs[i - 1] == seqs[i] - 1 &&
                   strcmp(e[i - 1].run_id, e[i].run_id) == 0;
        if (restore && !next) {
            if ((st = is_next(s, e[i].run_id, seqs[i], &next, err)) != ACP_OK)
                return st;
            if (!next) {
                res[i] = ACP_CONFLICT;
                continue;
            }
        }
        int64_t got = 0;
        acp__call_init(&call, NULL, s->timeout_ms);
        acp__store_enter(s);
        st = s->vt->add_event(s->backend, &e[i], &got, &call);
        acp__store_leave(s);
        if ((st = acp__call_finish(&call, st, s->desc->name, "add_event", err)) != ACP_OK)
            return st;
        if (restore && got != seqs[i])
            return acp__error(err, ACP_CONFLICT, "run '%s': event %" PRId64 " was stored as %"
                              PRId64 " (another writer appended meanwhile)", e[i].run_id,
                              seqs[i], got);
        if (got < 1)
            return acp__error(err, ACP_PLUGIN, "%s: add_event reported sequence %" PRId64
                              " (sequences start at 1)", s->desc->name, got);
        seqs[i] = got;
    }
    return ACP_OK;
}

/* ---- the public calls ---- */

#define NEED(cond, what)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return acp__error(err, ACP_INVALID, "%s: %s", __func__, what);                         \
    } while (0)

/* Check and record runs: documents json[i] (len[i], or all C strings when
 * len is NULL) with the creation times they give, or restored runs rr. */
static acp_status runs_batch(acp_store *s, size_t n, const char *const *json, const size_t *len,
                             const acp_restore_run *rr, batch *b, acp_error *err)
{
    acp_status st = batch_new(b, n, 0, err);
    for (size_t i = 0; st == ACP_OK && i < n; i++) {
        if (rr)
            st = run_record(s, rr[i].json, rr[i].len, rr[i].created_us, &b->runs[i],
                            &b->blocks[i], err);
        else if (json)
            st = run_record(s, json[i], len ? len[i] : ACP_STRLEN, INT64_MIN, &b->runs[i],
                            &b->blocks[i], err);
        if (st != ACP_OK) {
            batch_free(b);
            return item_failed(err, st, i);
        }
    }
    return st;
}

ACP_API acp_status acp_run_save_many(acp_store *s, const char *const *json, const size_t *len,
                                     size_t n, acp_error *err)
{
    NEED(s && (json || n == 0), "store and json must not be NULL");
    batch b;
    acp_status st = runs_batch(s, n, json, len, NULL, &b, err);
    if (st != ACP_OK)
        return st;
    acp_status *res = malloc((n ? n : 1) * sizeof *res);
    st = res ? save_runs(s, b.runs, n, 0, res, err)
             : acp__error(err, ACP_NOMEM, "out of memory saving runs");
    free(res);
    batch_free(&b);
    return st;
}

ACP_API acp_status acp_run_restore_many(acp_store *s, const acp_restore_run *runs, size_t n,
                                        acp_status *results, acp_error *err)
{
    NEED(s && (runs || n == 0) && (results || n == 0), "store, runs and results must not be NULL");
    batch b;
    acp_status st = runs_batch(s, n, NULL, NULL, runs, &b, err);
    if (st != ACP_OK)
        return st;
    st = save_runs(s, b.runs, n, ACP_BATCH_INSERT_ONLY, results, err);
    batch_free(&b);
    return st;
}

/* Check and record events: of run_id (json, len), or restored ones (re). */
static acp_status events_batch(acp_store *s, size_t n, const char *run_id,
                               const char *const *json, const size_t *len,
                               const acp_restore_event *re, batch *b, int64_t *seqs,
                               acp_error *err)
{
    acp_status st = batch_new(b, n, 1, err);
    int64_t now = acp_time_now_us();
    for (size_t i = 0; st == ACP_OK && i < n; i++) {
        if (re && re[i].seq < 1)
            st = acp__error(err, ACP_INVALID, "sequence %" PRId64 " (sequences start at 1)",
                            re[i].seq);
        else if (re)
            st = event_record(s, re[i].run_id, re[i].json, re[i].len, re[i].stored_us,
                              &b->evs[i], &b->blocks[i], err);
        else
            st = event_record(s, run_id, json[i], len ? len[i] : ACP_STRLEN, now, &b->evs[i],
                              &b->blocks[i], err);
        if (st != ACP_OK) {
            batch_free(b);
            return item_failed(err, st, i);
        }
        seqs[i] = re ? re[i].seq : 0;
    }
    return st;
}

/* Events through the dispatch, with scratch results and sequences. */
static acp_status events_call(acp_store *s, size_t n, const char *run_id,
                              const char *const *json, const size_t *len,
                              const acp_restore_event *re, int64_t *seqs_out,
                              acp_status *results, acp_error *err)
{
    int64_t *seqs = malloc((n ? n : 1) * sizeof *seqs);
    acp_status *res = results ? results : malloc((n ? n : 1) * sizeof *res);
    acp_status st;
    batch b;
    if (!seqs || !res)
        st = acp__error(err, ACP_NOMEM, "out of memory adding events");
    else if ((st = events_batch(s, n, run_id, json, len, re, &b, seqs, err)) == ACP_OK) {
        st = add_events(s, b.evs, n, re ? ACP_BATCH_RESTORE : 0, seqs, res, err);
        batch_free(&b);
    }
    if (st == ACP_OK && seqs_out)
        memcpy(seqs_out, seqs, n * sizeof *seqs);
    free(seqs);
    if (res != results)
        free(res);
    return st;
}

ACP_API acp_status acp_event_add_many(acp_store *s, const char *run_id, const char *const *json,
                                      const size_t *len, size_t n, int64_t *seqs,
                                      acp_error *err)
{
    NEED(s && (json || n == 0), "store and json must not be NULL");
    return events_call(s, n, run_id, json, len, NULL, seqs, NULL, err);
}

ACP_API acp_status acp_event_restore_many(acp_store *s, const acp_restore_event *events,
                                          size_t n, acp_status *results, acp_error *err)
{
    NEED(s && (events || n == 0) && (results || n == 0),
         "store, events and results must not be NULL");
    return events_call(s, n, NULL, NULL, NULL, events, NULL, results, err);
}
