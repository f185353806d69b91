/* SPDX-License-Identifier: MIT */
/*
 * purge.c - retention: acp_store_purge() deletes runs by status, age and
 * agent in bounded batches.  A backend with purge_runs deletes a batch as
 * one transaction; for the others the core walks list_runs and deletes run
 * by run.  Either way every run is whole or gone at any moment, so a purge
 * stopped by anything can simply be run again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BATCH_MAX 1000

/* The filter, checked, with its statuses parsed. */
typedef struct purge {
    acp_purge_filter f;
    acp__statuses sts;
} purge;

static acp_status purge_check(const acp_purge_filter *filter, purge *p, acp_error *err)
{
    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    acp_status st;
    if (filter && (st = acp__copy_sized(&f, sizeof f, filter, "acp_purge_filter",
                                        "ACP_PURGE_FILTER_INIT", err)) != ACP_OK)
        return st;
    if (f.finished_before_us == ACP_TIME_NONE)
        return acp__error(err, ACP_INVALID,
                          "a purge needs finished_before (runs finished before that instant "
                          "are deleted)");
    if (f.batch_size < 1 || f.batch_size > BATCH_MAX)
        return acp__error(err, ACP_INVALID, "batch size %" PRId64 " is out of range (1..%d)",
                          f.batch_size, BATCH_MAX);
    if (f.agent_name && (st = acp__id_check(f.agent_name, "agent_name filter", err)) != ACP_OK)
        return st;
    if ((st = acp__statuses_parse(f.status ? f.status : "completed,failed,cancelled",
                                  "status filter", &p->sts, err)) != ACP_OK)
        return st;
    p->f = f;
    return ACP_OK;
}

/* The backend's own batched delete, batch after batch until one comes back
 * short (or, counting, once). */
static acp_status purge_native(acp_store *s, const purge *p, acp_purge_progress_fn fn, void *ctx,
                               int64_t *done, acp_error *err)
{
    acp_purge_query q = {
        .statuses = p->sts.names,
        .n_statuses = p->sts.n,
        .finished_before_us = p->f.finished_before_us,
        .agent_name = p->f.agent_name,
        .limit = p->f.batch_size,
        .count_only = p->f.dry_run != 0,
    };
    for (;;) {
        int64_t n = -1;
        acp_call call;
        acp__call_init(&call, NULL, s->timeout_ms);
        acp__enter(s);
        acp_status st = s->vt->purge_runs(s->backend, &q, &n, &call);
        acp__leave(s);
        if (st == ACP_OK && (n < 0 || (!q.count_only && n > q.limit)))
            snprintf(call.fault, sizeof call.fault,
                     "reported %" PRId64 " runs purged (limit %" PRId64 ")", n, q.limit);
        if ((st = acp__call_finish(&call, st, s->desc->name, "purge_runs", err)) != ACP_OK)
            return st;
        *done += n;
        if ((fn && fn(ctx, *done)) || q.count_only || n < q.limit)
            return ACP_OK;
    }
}

/* 1 when the run document doc matches p (status and agent included: the
 * list may have applied neither). */
static int purge_matches(const purge *p, const char *doc, size_t len)
{
    acp__strbuf b;
    acp__run_fields rf;
    if (acp__run_check(doc, len, &rf, &b, NULL, NULL, NULL) != ACP_OK)
        return 0; /* unreadable runs are verify's business, not retention's */
    int match = rf.finished_us != INT64_MIN && rf.finished_us < p->f.finished_before_us &&
                (!p->f.agent_name || strcmp(rf.agent_name, p->f.agent_name) == 0);
    int status = 0;
    for (size_t i = 0; i < p->sts.n; i++)
        status |= strcmp(rf.status, p->sts.names[i]) == 0;
    acp__strbuf_free(&b);
    return match && status;
}

/* The walk for backends without purge_runs: a page of batch_size runs (by
 * status when the backend filters), its matches deleted one by one, then
 * the next page from the cursor.  Deleting behind the cursor moves nothing
 * ahead of it.  fn sees each page that deleted runs (a dry run: the count
 * at the end), as the conformance suite expects of a batch.  max_pages
 * (0: no bound) ends the walk after that many pages, matching or not;
 * *resume: where to start (NULL: the newest run), and on return where a
 * walk that stopped early would go on (NULL when it reached the end). */
static acp_status purge_walk(acp_store *s, const purge *p, acp_purge_progress_fn fn, void *ctx,
                             int64_t *done, char **resume, int max_pages, acp_error *err)
{
    acp_run_filter lf = ACP_RUN_FILTER_INIT;
    lf.agent_name = p->f.agent_name;
    lf.limit = p->f.batch_size;
    lf.status = (s->caps & ACP_CAP_RUN_FILTERS) ? p->f.status : NULL;
    char *cursor = *resume;
    *resume = NULL;
    acp_status st;
    for (int pages = 1;; pages++) {
        acp_page *page;
        lf.cursor = cursor;
        if ((st = acp_run_list(s, &lf, &page, err)) != ACP_OK)
            break;
        int64_t before = *done;
        for (size_t i = 0; i < page->n && st == ACP_OK; i++) {
            const acp__item *it = &page->items[i];
            if (!purge_matches(p, it->doc, it->doc_len))
                continue;
            if (!p->f.dry_run) {
                st = acp_run_delete(s, it->key, err);
                if (st == ACP_NOT_FOUND)
                    st = ACP_OK; /* deleted meanwhile: gone is what was wanted */
            }
            *done += st == ACP_OK;
        }
        free(cursor);
        cursor = NULL;
        const char *next = acp_page_next_cursor(page);
        if (st == ACP_OK && next && !(cursor = strdup(next)))
            st = acp__error(err, ACP_NOMEM, "out of memory purging runs");
        acp_page_free(page);
        int stop = st == ACP_OK && !p->f.dry_run && *done > before && fn && fn(ctx, *done);
        if (st != ACP_OK || !cursor || stop || pages == max_pages)
            break;
    }
    if (st == ACP_OK && p->f.dry_run && fn)
        fn(ctx, *done);
    if (st == ACP_OK)
        *resume = cursor;
    else
        free(cursor);
    return st;
}

acp_status acp__purge_resume(acp_store *s, const acp_purge_filter *filter,
                             acp_purge_progress_fn fn, void *ctx, char **resume, int max_pages,
                             int64_t *count, acp_error *err)
{
    int64_t done = 0;
    if (count)
        *count = 0;
    if (!s)
        return acp__error(err, ACP_INVALID, "store must not be NULL");
    purge p;
    acp_status st = purge_check(filter, &p, err);
    if (st != ACP_OK)
        return st;
    if (ACP__HAS(s->desc, purge_runs))
        st = purge_native(s, &p, fn, ctx, &done, err);
    else
        st = purge_walk(s, &p, fn, ctx, &done, resume, max_pages, err);
    if (count)
        *count = done;
    return st;
}

ACP_API acp_status acp_store_purge(acp_store *s, const acp_purge_filter *filter,
                                   acp_purge_progress_fn fn, void *ctx, int64_t *count,
                                   acp_error *err)
{
    char *resume = NULL;
    acp_status st = acp__purge_resume(s, filter, fn, ctx, &resume, 0, count, err);
    free(resume);
    return st;
}
