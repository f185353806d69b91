/* SPDX-License-Identifier: MIT */
/*
 * events_of_runs.c - acp_event_list_runs(): the events of many runs in one
 * call (copy and export read a page of runs' events this way).  The
 * plugin's get_events_of_runs (ABI 1.2) answers in one round trip; without
 * it, a loop over get_events here gives the same page.  Either way the host
 * checks the order of what came back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_RUNS 1000
#define MAX_LIMIT 1000

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static acp_status check_args(const char *const *ids, size_t n, int64_t after_seq, int64_t limit,
                             acp_error *err)
{
    if (!ids || n < 1 || n > MAX_RUNS)
        return acp__error(err, ACP_INVALID, "acp_event_list_runs: 1..%d run ids are needed",
                          MAX_RUNS);
    if (limit < 1 || limit > MAX_LIMIT)
        return acp__error(err, ACP_INVALID, "limit %" PRId64 " is outside 1..%d", limit,
                          MAX_LIMIT);
    if (after_seq < 0)
        return acp__error(err, ACP_INVALID, "after_seq %" PRId64 " is negative", after_seq);
    for (size_t i = 0; i < n; i++) {
        acp_status st = acp__id_check(ids[i], "run_id", err);
        if (st != ACP_OK)
            return st;
    }
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return acp__error(err, ACP_NOMEM, "out of memory listing events");
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    acp_status st = ACP_OK;
    for (size_t i = 1; st == ACP_OK && i < n; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            st = acp__error(err, ACP_INVALID, "run id '%.64s' is given twice", sorted[i]);
    free(sorted);
    return st;
}

/* What a plugin emitted follows the ids' order, each run's sequence order,
 * and after_seq for the first run; else describe the fault in call.fault. */
static void check_order(acp_call *call, const acp_page *p, const char *const *ids, size_t n,
                        int64_t after_seq)
{
    size_t run = 0;
    int64_t last = after_seq;
    for (size_t i = 0; i < p->n; i++) {
        const char *k = p->items[i].key;
        size_t j = run;
        while (k && j < n && strcmp(ids[j], k) != 0)
            j++;
        if (!k || j == n) {
            snprintf(call->fault, sizeof call->fault,
                     "emitted an event of run '%.64s', not a run asked for or out of order",
                     k ? k : "(no key)");
            return;
        }
        if (j != run)
            last = 0;
        if (p->items[i].seq <= last) {
            snprintf(call->fault, sizeof call->fault,
                     "emitted event %" PRId64 " of run '%.64s' after %" PRId64,
                     p->items[i].seq, k, last);
            return;
        }
        run = j;
        last = p->items[i].seq;
    }
}

/* Without the plugin method: get_events run by run into one page. */
static acp_status fallback(acp_store *s, const char *const *ids, size_t n, int64_t after_seq,
                           int64_t limit, acp_page *page, acp_error *err)
{
    for (size_t i = 0; i < n && page->n < (size_t)limit; i++) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = limit - (int64_t)page->n;
        f.after_seq = i == 0 ? after_seq : 0;
        acp_page *one;
        acp_status st = acp_event_list(s, ids[i], &f, &one, err);
        if (st != ACP_OK)
            return st;
        acp_call call;
        acp__call_init(&call, page, s->timeout_ms);
        for (size_t k = 0; st == ACP_OK && k < one->n; k++) {
            const acp__item *o = &one->items[k];
            acp_item it = {.doc = o->doc, .doc_len = o->doc_len, .key = ids[i],
                           .seq = o->seq, .stored_us = o->stored_us};
            if (acp__host.emit(&call, &it) != 0)
                st = acp__error(err, ACP_NOMEM, "out of memory listing events");
        }
        acp_page_free(one);
        if (st != ACP_OK)
            return st;
    }
    return ACP_OK;
}

ACP_API acp_status acp_event_list_runs(acp_store *s, const char *const *run_ids, size_t n,
                                       int64_t after_seq, int64_t limit, acp_page **out,
                                       acp_error *err)
{
    if (!s || !out)
        return acp__error(err, ACP_INVALID, "acp_event_list_runs: store and out must not be NULL");
    acp_status st = check_args(run_ids, n, after_seq, limit, err);
    if (st != ACP_OK)
        return st;
    acp_page *page = acp__page_new((size_t)limit);
    if (!page)
        return acp__error(err, ACP_NOMEM, "out of memory listing events");
    if (ACP__HAS(s->desc, get_events_of_runs)) {
        acp_call call;
        acp__call_init(&call, page, s->timeout_ms);
        acp__store_enter(s);
        st = s->vt->get_events_of_runs(s->backend, run_ids, n, after_seq, limit, &call);
        acp__store_leave(s);
        if (st == ACP_OK && !call.fault[0])
            check_order(&call, page, run_ids, n, after_seq);
        st = acp__call_finish(&call, st, s->desc->name, "get_events_of_runs", err);
    } else {
        st = fallback(s, run_ids, n, after_seq, limit, page, err);
    }
    if (st != ACP_OK) {
        acp_page_free(page);
        return st;
    }
    *out = page;
    return ACP_OK;
}
