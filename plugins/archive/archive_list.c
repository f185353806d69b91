/* SPDX-License-Identifier: MIT */
/*
 * archive_list.c - list_runs over both tiers as one store.  Each tier
 * lists with the caller's filter and cursor; the two streams, each in the
 * run order, are merged by acp_run_order_cmp, and offset and limit apply
 * to the merge.  A run is shown once: a cold item at the same position as
 * a hot one, or a pending run (a failed or crashed move) that the hot tier
 * still holds, is the hot one's copy and is dropped.  The total is
 * hot + cold - overlap, where the overlap is the pending runs held by both
 * tiers that match the filter (without pending runs, none: moves of this
 * handle are never seen half done).
 */
#include <stdlib.h>
#include <string.h>

#include "archive.h"

/* One tier's stream of runs, read page by page after its own cursor. */
typedef struct tier_it {
    archive *a;
    acp_child *t;
    acp_run_query q; /* the caller's filter and cursor */
    int64_t chunk;
    char *cursor_id; /* after the last item read (owned), or NULL: q's own */
    int64_t cursor_created;
    arun_list page;
    size_t i;
    int done;
    int64_t total;
} tier_it;

static acp_status it_fill(tier_it *it, int want_total, acp_call *call)
{
    arun_list_free(&it->page);
    it->i = 0;
    acp_run_query q = it->q;
    q.offset = 0;
    q.limit = it->chunk;
    q.want_total = want_total;
    if (it->cursor_id) {
        q.has_cursor = 1;
        q.cursor_created_us = it->cursor_created;
        q.cursor_run_id = it->cursor_id;
    }
    acp_status st = it->a->ops->list_runs(it->t, &q, arun_list_sink, &it->page,
                                          want_total ? &it->total : NULL, call);
    if (st == ACP_NOMEM && !it->page.n)
        return it->a->host->error(call, ACP_NOMEM, "out of memory listing runs");
    if (st != ACP_OK)
        return st;
    if ((int64_t)it->page.n < it->chunk)
        it->done = 1;
    if (it->page.n) {
        const arun *last = &it->page.v[it->page.n - 1];
        char *id = strdup(last->id);
        if (!id)
            return it->a->host->error(call, ACP_NOMEM, "out of memory listing runs");
        free(it->cursor_id);
        it->cursor_id = id;
        it->cursor_created = last->created_us;
    }
    return ACP_OK;
}

/* The next run of the stream, or NULL at its end (*st: a failure). */
static const arun *it_head(tier_it *it, acp_status *st, acp_call *call)
{
    if (it->i == it->page.n) {
        if (it->done)
            return NULL;
        if ((*st = it_fill(it, 0, call)) != ACP_OK || it->page.n == 0)
            return NULL;
    }
    return &it->page.v[it->i];
}

static void it_free(tier_it *it)
{
    arun_list_free(&it->page);
    free(it->cursor_id);
}

/* 1 in *match when run h of the hot tier matches q's filter (not its
 * cursor): walk the hot list from just before h's position to it. */
static acp_status hot_matches(archive *a, const acp_run_query *q, const arun *h, int *match,
                              acp_call *call)
{
    tier_it it = {.a = a, .t = a->hot, .q = *q, .chunk = 100, .total = -1};
    it.q.has_cursor = 0;
    if (h->created_us != INT64_MAX) {
        if (!(it.cursor_id = strdup(h->id)))
            return a->host->error(call, ACP_NOMEM, "out of memory");
        it.cursor_created = h->created_us + 1;
    }
    acp_status st = ACP_OK;
    const arun *r;
    *match = 0;
    while ((r = it_head(&it, &st, call)) && r->created_us >= h->created_us) {
        if (strcmp(r->id, h->id) == 0) {
            *match = 1;
            break;
        }
        it.i++;
    }
    it_free(&it);
    return st;
}

/* The pending runs in both tiers that match q's filter. */
static acp_status overlap(archive *a, const acp_run_query *q, int64_t *n, acp_call *call)
{
    *n = 0;
    for (size_t i = 0; i < a->n_pending; i++) {
        arun h, c;
        int fh = 0, fc = 0, m = 0;
        acp_status st = archive_get(a, a->hot, a->pending[i], &h, &fh, call);
        if (st == ACP_OK && fh)
            st = archive_get(a, a->cold, a->pending[i], &c, &fc, call);
        if (st == ACP_OK && fh && fc) {
            arun_free(&c);
            st = hot_matches(a, q, &h, &m, call);
        }
        if (fh)
            arun_free(&h);
        if (st != ACP_OK)
            return st;
        *n += m;
    }
    return ACP_OK;
}

/* A cold run a pending move left in the hot tier too: the hot copy is the
 * one shown. */
static acp_status cold_shadowed(archive *a, const arun *c, int *shadowed, acp_call *call)
{
    *shadowed = 0;
    if (!archive_pending(a, c->id))
        return ACP_OK;
    arun h;
    acp_status st = archive_get(a, a->hot, c->id, &h, shadowed, call);
    if (*shadowed)
        arun_free(&h);
    return st;
}

static acp_status merge(archive *a, const acp_run_query *q, tier_it *hot, tier_it *cold,
                        acp_call *call)
{
    int64_t skip = q->offset, left = q->limit;
    acp_status st = ACP_OK;
    while (left > 0) {
        const arun *h = it_head(hot, &st, call);
        if (st != ACP_OK)
            return st;
        const arun *c = it_head(cold, &st, call);
        if (st != ACP_OK)
            return st;
        if (!h && !c)
            break;
        int from_cold = !h;
        if (h && c) {
            int cmp = acp_run_order_cmp(h->created_us, h->id, strlen(h->id), c->created_us,
                                        c->id, strlen(c->id));
            if (cmp == 0) /* the same run in both: the hot copy */
                cold->i++;
            from_cold = cmp > 0;
        }
        const arun *r = from_cold ? c : h;
        if (from_cold) {
            int shadowed;
            if ((st = cold_shadowed(a, c, &shadowed, call)) != ACP_OK)
                return st;
            cold->i++;
            if (shadowed)
                continue;
        } else {
            hot->i++;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        acp_item it = {.doc = r->doc, .doc_len = r->len, .key = r->id,
                       .created_us = r->created_us, .version = r->version};
        if (a->host->emit(call, &it))
            return ACP_NOMEM;
        left--;
    }
    return ACP_OK;
}

acp_status archive_list_runs(archive *a, const acp_run_query *q, acp_call *call)
{
    /* offset + limit, at most a page */
    int64_t window = acp_run_window(q);
    int64_t chunk = q->limit == 0 ? 0 : window > 1000 ? 1000 : window;
    tier_it hot = {.a = a, .t = a->hot, .q = *q, .chunk = chunk, .total = -1};
    tier_it cold = {.a = a, .t = a->cold, .q = *q, .chunk = chunk, .total = -1};
    acp_status st = ACP_OK;
    if (q->limit == 0) /* a total alone */
        hot.done = cold.done = 1;
    if (q->want_total || q->limit > 0) {
        if ((st = it_fill(&hot, q->want_total, call)) == ACP_OK)
            st = it_fill(&cold, q->want_total, call);
        if (q->limit == 0)
            hot.done = cold.done = 1;
    }
    if (st == ACP_OK)
        st = merge(a, q, &hot, &cold, call);
    int64_t both = 0;
    if (st == ACP_OK && q->want_total && (st = overlap(a, q, &both, call)) == ACP_OK)
        a->host->set_total(call, hot.total + cold.total - both);
    it_free(&hot);
    it_free(&cold);
    return st;
}
