/* SPDX-License-Identifier: MIT */
/*
 * query.c - list_runs queries over the index (query.h): the trees a
 * query reads, cut by rank to its time range and cursor, their total and
 * their merged page.
 */
#include "query.h"

#include <string.h>

/* Cut tree t to q's time range and the position after (or q's cursor). */
static iq_source source_of(const tnode *t, int slot, const acp_run_query *q, const tkey *after)
{
    iq_source s = {t, slot, 0, 0, idx_size(t)};
    /* Runs created at or after until come first in list order: skip them;
     * the range ends where runs created before since begin. */
    if (q->created_until_us != INT64_MAX)
        s.tlo = idx_rank_time(t, q->created_until_us);
    if (q->created_since_us != INT64_MIN)
        s.hi = idx_rank_time(t, q->created_since_us);
    if (s.tlo > s.hi)
        s.tlo = s.hi;
    s.lo = s.tlo;
    tkey cur = {q->cursor_created_us, q->cursor_run_id,
                q->has_cursor ? strlen(q->cursor_run_id) : 0};
    const tkey *from = after ? after : q->has_cursor ? &cur : NULL;
    if (from) {
        size_t r = idx_rank(t, from, 1, 1);
        s.lo = r > s.lo ? (r < s.hi ? r : s.hi) : s.lo;
    }
    return s;
}

int iq_init(iquery *iq, const findex *ix, const acp_run_query *q, const tkey *after)
{
    const char *agent = q->agent_name, *session = q->session_id;
    size_t alen = agent ? strlen(agent) : 0, slen = session ? strlen(session) : 0;
    iq->n = 0;
    if (q->n_statuses > IQ_MAX_SOURCES)
        return -2;
    /* No status filter: one tree (all runs, agent, session or both). */
    size_t nq = q->n_statuses ? q->n_statuses : 1;
    for (size_t i = 0; i < nq; i++) {
        const char *st = q->n_statuses ? q->statuses[i] : NULL;
        tnode *t;
        int slot;
        if (idx_run_set(ix, agent, alen, session, slen, st, st ? strlen(st) : 0, &t, &slot) !=
            0)
            return -1;
        if (t) /* no such group: no runs */
            iq->src[iq->n++] = source_of(t, slot, q, after);
    }
    return 0;
}

size_t iq_total(const iquery *iq)
{
    size_t total = 0;
    for (size_t i = 0; i < iq->n; i++)
        total += iq->src[i].hi - iq->src[i].tlo;
    return total;
}

static irun *source_head(const iq_source *s)
{
    return irun_of(idx_select(s->t, s->lo), s->slot);
}

size_t iq_page(iquery *iq, size_t skip, irun **out, size_t want)
{
    if (iq->n == 1) { /* the skip is a rank */
        iq_source *s = &iq->src[0];
        size_t avail = s->hi - s->lo;
        s->lo += skip < avail ? skip : avail;
        skip = 0;
    }
    /* Each source's next run, kept between steps: one select per run. */
    irun *head[IQ_MAX_SOURCES];
    for (size_t i = 0; i < iq->n; i++)
        head[i] = iq->src[i].lo < iq->src[i].hi ? source_head(&iq->src[i]) : NULL;
    size_t got = 0;
    while (got < want) {
        size_t best = iq->n;
        for (size_t i = 0; i < iq->n; i++) {
            if (!head[i])
                continue;
            if (best == iq->n ||
                acp_run_order_cmp(head[i]->key.created_us, head[i]->key.id, head[i]->key.id_len,
                                  head[best]->key.created_us, head[best]->key.id,
                                  head[best]->key.id_len) < 0)
                best = i;
        }
        if (best == iq->n)
            break;
        irun *r = head[best];
        iq_source *s = &iq->src[best];
        head[best] = ++s->lo < s->hi ? source_head(s) : NULL;
        if (skip > 0)
            skip--;
        else
            out[got++] = r;
    }
    return got;
}
