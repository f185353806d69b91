/* SPDX-License-Identifier: MIT */
/*
 * mem_filter.c - the memory backend's list_runs with status or time
 * filters: ranks in the run trees, and pages merged from several trees.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t (mem.h) under -std=c11 */

#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* The ACP run statuses: no status list is longer. */
enum { STATUS_MAX = 7 };

/* A run tree cut to a range of ranks [lo, hi): the runs created in the
 * query's time range, after its cursor. */
typedef struct source {
    const ost_tree *t;
    int slot;
    size_t lo, hi;
    const ost_node *at; /* the next node, when walking */
} source;

/* Probe for ost_rank: every node created at or after *us sorts before it.
 * Only the created_us beside each node is read, whatever the slot. */
static int cmp_created_from(const ost_node *n, const void *us)
{
    return ((const rslot *)n)->created_us >= *(const int64_t *)us ? -1 : 1;
}

static source source_of(const ost_tree *t, int slot, const acp_run_query *q)
{
    source s = {t, slot, 0, ost_size(t), NULL};
    if (q->created_until_us != INT64_MAX)
        s.lo = ost_rank(t, &q->created_until_us, cmp_created_from, 0);
    if (q->created_since_us != INT64_MIN)
        s.hi = ost_rank(t, &q->created_since_us, cmp_created_from, 0);
    if (q->has_cursor) {
        run_pos c = {q->cursor_created_us, q->cursor_run_id, strlen(q->cursor_run_id)};
        size_t r = ost_rank(t, &c, slot_cmp[slot], 1);
        s.lo = r > s.lo ? r : s.lo;
    }
    return s;
}

static const record *source_run(const source *s)
{
    return rindex_of(s->at, s->slot)->r;
}

/* 1 when the run at s's head comes before the run at o's in list order. */
static int source_first(const source *s, const source *o)
{
    const record *a = source_run(s), *c = source_run(o);
    return acp_run_order_cmp(a->created_us, a->n.key, a->n.key_len, c->created_us, c->n.key,
                             c->n.key_len) < 0;
}

/* 1 when run r has one of the statuses (groups st[0..n)); always when
 * the filter is applied by the trees themselves (n 0). */
static int status_in(const record *r, const group *const *st, size_t n)
{
    const group *g = ((const run_index *)record_index(r))->g[G_STATUS];
    for (size_t i = 0; i < n; i++)
        if (g == st[i])
            return 1;
    return n == 0;
}

/* A page merged from the sources in list order, skipping offset; when a
 * status filter cannot be answered by the trees (an agent or session is
 * given too), each run's status group is checked against st[0..nst). */
static acp_status emit_merged(acp_backend *b, source *src, size_t n, const acp_run_query *q,
                              const group *const *st, size_t nst, acp_call *call)
{
    int64_t skip = q->offset, left = q->limit;
    if (n == 1 && nst == 0) { /* one tree: the offset is a select by rank */
        size_t avail = src->hi > src->lo ? src->hi - src->lo : 0;
        src->lo = (uint64_t)skip < avail ? src->lo + (size_t)skip : src->hi;
        skip = 0;
    }
    for (size_t i = 0; i < n; i++)
        src[i].at = src[i].lo < src[i].hi ? ost_select(src[i].t, src[i].lo) : NULL;
    acp_status rc = ACP_OK;
    while (left > 0 && rc == ACP_OK) {
        source *best = NULL;
        for (size_t i = 0; i < n; i++)
            if (src[i].at && (!best || source_first(&src[i], best)))
                best = &src[i];
        if (!best)
            break;
        const record *r = source_run(best);
        best->at = ++best->lo < best->hi ? ost_next(best->at) : NULL;
        if (!status_in(r, st, nst))
            continue;
        if (skip > 0)
            skip--;
        else
            rc = emit_record(b, call, r), left--;
    }
    return rc;
}

/* Runs in the time range of source s (from the cursor-free bounds) whose
 * status is among st: a walk, used only when an agent or session narrows
 * the list as well. */
static size_t count_status_in(const source *s, const group *const *st, size_t nst)
{
    size_t n = 0, i = s->lo;
    for (const ost_node *at = i < s->hi ? ost_select(s->t, i) : NULL; at && i < s->hi;
         at = ost_next(at), i++)
        n += status_in(rindex_of(at, s->slot)->r, st, nst);
    return n;
}

/* list_runs with status or time filters.  Without an agent or session,
 * each wanted status has its own tree: the total is a sum of rank
 * differences, O(log n) per status, and a page merges the trees.  With an
 * agent or session, that group's tree is cut to the time range and each
 * run's status is checked (the total walks the range). */
acp_status mem_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    char buf[PAIR_BUF], *heap;
    hkey k[G_N], sk[STATUS_MAX];
    size_t nst = q->n_statuses < STATUS_MAX ? q->n_statuses : STATUS_MAX;
    if (group_keys(b, q->agent_name, q->agent_name ? strlen(q->agent_name) : 0, q->session_id,
                   q->session_id ? strlen(q->session_id) : 0, k, buf, sizeof buf, &heap) != 0)
        return b->host->error(call, ACP_NOMEM, "out of memory listing runs");
    for (size_t i = 0; i < nst; i++)
        sk[i] = hkey_of(b, q->statuses[i], strlen(q->statuses[i]));
    int grouped = q->agent_name || q->session_id;
    source src[STATUS_MAX];
    const group *st[STATUS_MAX];
    size_t n = 0, nfound = 0;
    acp_status rc = ACP_OK;
    pthread_rwlock_rdlock(&b->lock);
    for (size_t i = 0; i < nst; i++) {
        const group *g = (const group *)table_find(&b->groups[G_STATUS], &sk[i]);
        if (g)
            st[nfound++] = g;
    }
    int slot;
    const ost_tree *t = run_set(b, q, k, &slot);
    if (nst && !grouped) { /* one source per status tree */
        for (size_t i = 0; i < nfound; i++)
            src[n++] = source_of(&st[i]->runs, T_STATUS, q);
    } else if (t && !(nst && nfound == 0)) {
        src[n++] = source_of(t, slot, q);
    }
    size_t nfilter = nst && grouped ? nfound : 0;
    if (q->want_total) {
        acp_run_query whole = *q; /* the total ignores the cursor */
        whole.has_cursor = 0;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            source w = source_of(src[i].t, src[i].slot, &whole);
            total += nfilter ? count_status_in(&w, st, nfilter) : w.hi > w.lo ? w.hi - w.lo : 0;
        }
        b->host->set_total(call, (int64_t)total);
    }
    if (q->limit > 0)
        rc = emit_merged(b, src, n, q, st, nfilter, call);
    pthread_rwlock_unlock(&b->lock);
    free(heap);
    return rc;
}
