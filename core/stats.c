/* SPDX-License-Identifier: MIT */
/*
 * stats.c - acp_store_stats(): the figures of a store.  A backend with the
 * stats method reports them from its counters through host->stat; for the
 * others the core walks runs, their event streams and sessions, and marks
 * the result as scanned.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WALK_PAGE 1000

typedef struct stat_entry {
    int kind;
    char *label; /* NULL for kinds without one */
    int64_t value;
} stat_entry;

struct acp_stats {
    stat_entry *v;
    size_t n, cap;
    int scanned;
    /* Open addressing over v: slot holds an index + 1 (0: empty); slots is
     * a power of two at least twice cap.  A store may have many agents. */
    size_t *slot;
    size_t n_slots;
};

static size_t slot_of(const acp_stats *st, int kind, const char *label)
{
    uint64_t h = label ? acp__hash(label, strlen(label)) : 0;
    return (size_t)((h ^ (uint64_t)kind * UINT64_C(0x9e3779b97f4a7c15)) & (st->n_slots - 1));
}

static int same(const stat_entry *e, int kind, const char *label)
{
    return e->kind == kind && (label ? e->label && strcmp(e->label, label) == 0 : !e->label);
}

/* The slot of (kind, label): the one holding it, or the empty one where it
 * would go.  n_slots > 0. */
static size_t probe(const acp_stats *st, int kind, const char *label)
{
    size_t i = slot_of(st, kind, label);
    while (st->slot[i] && !same(&st->v[st->slot[i] - 1], kind, label))
        i = (i + 1) & (st->n_slots - 1);
    return i;
}

static stat_entry *find(const acp_stats *st, int kind, const char *label)
{
    if (!st->n_slots)
        return NULL;
    size_t i = probe(st, kind, label);
    return st->slot[i] ? &st->v[st->slot[i] - 1] : NULL;
}

/* Room for one more figure.  Non-zero: no memory. */
static int grow(acp_stats *st)
{
    if (st->n < st->cap)
        return 0;
    size_t cap = st->cap ? st->cap * 2 : 16;
    size_t *slot = calloc(cap * 2, sizeof *slot);
    stat_entry *v = slot ? realloc(st->v, cap * sizeof *v) : NULL;
    if (!v) { /* nothing changed: the index still fits cap */
        free(slot);
        return -1;
    }
    st->v = v;
    st->cap = cap;
    free(st->slot);
    st->slot = slot;
    st->n_slots = cap * 2;
    for (size_t i = 0; i < st->n; i++)
        st->slot[probe(st, st->v[i].kind, st->v[i].label)] = i + 1;
    return 0;
}

/* Add delta to the figure (kind, label), creating it.  Non-zero: no memory. */
static int add(acp_stats *st, int kind, const char *label, int64_t delta)
{
    stat_entry *e = find(st, kind, label);
    if (e) {
        e->value += delta;
        return 0;
    }
    if (grow(st))
        return -1;
    char *l = label ? strdup(label) : NULL;
    if (label && !l)
        return -1;
    st->v[st->n++] = (stat_entry){kind, l, delta};
    st->slot[probe(st, kind, label)] = st->n;
    return 0;
}

static int labelled(int kind)
{
    return kind == ACP_STAT_RUNS_BY_STATUS || kind == ACP_STAT_RUNS_BY_AGENT;
}

int acp__host_stat(acp_call *call, int kind, const char *label, int64_t value)
{
    if (!call || !call->stats)
        return -1;
    if (kind < ACP_STAT_RUNS || kind > ACP_STAT_SCHEMA_VERSION || value < 0 ||
        !labelled(kind) != !label) {
        if (!call->fault[0])
            snprintf(call->fault, sizeof call->fault,
                     "reported a malformed figure (kind %d, %s label, value %" PRId64 ")", kind,
                     label ? "a" : "no", value);
        return -1;
    }
    return add(call->stats, kind, label, value);
}

/* Count the events of one run, page by page. */
static acp_status count_events(acp_store *s, const char *run_id, acp_stats *st, acp_error *err)
{
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    ef.limit = WALK_PAGE;
    for (;;) {
        acp_page *page;
        acp_status rc = acp_event_list(s, run_id, &ef, &page, err);
        if (rc != ACP_OK)
            return rc;
        int64_t bytes = 0;
        for (size_t i = 0; i < page->n; i++)
            bytes += (int64_t)page->items[i].doc_len;
        size_t n = page->n;
        if (n)
            ef.after_seq = page->items[n - 1].seq;
        acp_page_free(page);
        if (add(st, ACP_STAT_EVENTS, NULL, (int64_t)n) || add(st, ACP_STAT_BYTES, NULL, bytes))
            return acp__error(err, ACP_NOMEM, "out of memory counting events");
        if (n < WALK_PAGE)
            return ACP_OK;
    }
}

/* One run of the walk: its figures and its events. */
static acp_status walk_run(acp_store *s, const acp__item *it, acp_stats *st, acp_error *err)
{
    acp__strbuf b;
    acp__run_fields f;
    int bad = 0;
    if (acp__run_check(it->doc, it->doc_len, &f, &b, NULL, NULL, NULL) == ACP_OK) {
        bad = add(st, ACP_STAT_RUNS_BY_STATUS, f.status, 1) ||
              add(st, ACP_STAT_RUNS_BY_AGENT, f.agent_name, 1);
        acp__strbuf_free(&b);
    }
    if (bad || add(st, ACP_STAT_RUNS, NULL, 1) ||
        add(st, ACP_STAT_BYTES, NULL, (int64_t)it->doc_len))
        return acp__error(err, ACP_NOMEM, "out of memory counting runs");
    return count_events(s, it->key, st, err);
}

static acp_status walk_runs(acp_store *s, acp_stats *st, acp_error *err)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = WALK_PAGE;
    char *cursor = NULL;
    acp_status rc = ACP_OK;
    do {
        acp_page *page;
        f.cursor = cursor;
        if ((rc = acp_run_list(s, &f, &page, err)) != ACP_OK)
            break;
        for (size_t i = 0; i < page->n && rc == ACP_OK; i++)
            rc = walk_run(s, &page->items[i], st, err);
        free(cursor);
        const char *next = acp_page_next_cursor(page);
        cursor = rc == ACP_OK && next ? strdup(next) : NULL;
        if (rc == ACP_OK && next && !cursor)
            rc = acp__error(err, ACP_NOMEM, "out of memory counting runs");
        acp_page_free(page);
    } while (rc == ACP_OK && cursor);
    free(cursor);
    return rc;
}

/* Sessions, when the backend can list them (else the figure is absent). */
static acp_status walk_sessions(acp_store *s, acp_stats *st, acp_error *err)
{
    if (!ACP__HAS(s->desc, list_sessions))
        return ACP_OK;
    char *after = NULL;
    acp_status rc = ACP_OK;
    if (add(st, ACP_STAT_SESSIONS, NULL, 0))
        return acp__error(err, ACP_NOMEM, "out of memory counting sessions");
    do {
        acp_page *page;
        if ((rc = acp_session_list(s, after, WALK_PAGE, &page, err)) != ACP_OK)
            break;
        int64_t bytes = 0;
        for (size_t i = 0; i < page->n; i++)
            bytes += (int64_t)page->items[i].doc_len;
        if (add(st, ACP_STAT_SESSIONS, NULL, (int64_t)page->n) ||
            add(st, ACP_STAT_BYTES, NULL, bytes))
            rc = acp__error(err, ACP_NOMEM, "out of memory counting sessions");
        free(after);
        const char *next = acp_page_next_cursor(page);
        after = rc == ACP_OK && next ? strdup(next) : NULL;
        if (rc == ACP_OK && next && !after)
            rc = acp__error(err, ACP_NOMEM, "out of memory counting sessions");
        acp_page_free(page);
    } while (rc == ACP_OK && after);
    free(after);
    return rc;
}

/* By kind, then label: the same order whatever the backend reported. */
static int entry_cmp(const void *a, const void *b)
{
    const stat_entry *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->label ? x->label : "", y->label ? y->label : "");
}

ACP_API acp_status acp_store_stats(acp_store *s, acp_stats **out, acp_error *err)
{
    if (!s || !out)
        return acp__error(err, ACP_INVALID, "store and out must not be NULL");
    acp_stats *st = calloc(1, sizeof *st);
    if (!st)
        return acp__error(err, ACP_NOMEM, "out of memory gathering statistics");
    acp_status rc;
    if (ACP__HAS(s->desc, stats)) {
        acp_call call;
        acp__call_init(&call, NULL, s->timeout_ms);
        call.stats = st;
        acp__enter(s);
        rc = s->vt->stats(s->backend, &call);
        acp__leave(s);
        rc = acp__call_finish(&call, rc, s->desc->name, "stats", err);
    } else {
        st->scanned = 1;
        /* The totals exist even for an empty store. */
        if (add(st, ACP_STAT_RUNS, NULL, 0) || add(st, ACP_STAT_EVENTS, NULL, 0) ||
            add(st, ACP_STAT_BYTES, NULL, 0))
            rc = acp__error(err, ACP_NOMEM, "out of memory gathering statistics");
        else if ((rc = walk_runs(s, st, err)) == ACP_OK)
            rc = walk_sessions(s, st, err);
    }
    if (rc != ACP_OK) {
        acp_stats_free(st);
        return rc;
    }
    if (st->n > 1) { /* then the index again: the figures moved */
        qsort(st->v, st->n, sizeof *st->v, entry_cmp);
        memset(st->slot, 0, st->n_slots * sizeof *st->slot);
        for (size_t i = 0; i < st->n; i++)
            st->slot[probe(st, st->v[i].kind, st->v[i].label)] = i + 1;
    }
    *out = st;
    return ACP_OK;
}

ACP_API size_t acp_stats_count(const acp_stats *st)
{
    return st ? st->n : 0;
}

ACP_API int acp_stats_get(const acp_stats *st, size_t i, int *kind, const char **label,
                          int64_t *value)
{
    if (!st || i >= st->n)
        return 0;
    if (kind)
        *kind = st->v[i].kind;
    if (label)
        *label = st->v[i].label;
    if (value)
        *value = st->v[i].value;
    return 1;
}

ACP_API int64_t acp_stats_value(const acp_stats *st, int kind, const char *label)
{
    const stat_entry *e = st ? find(st, kind, label) : NULL;
    return e ? e->value : -1;
}

ACP_API int acp_stats_scanned(const acp_stats *st)
{
    return st ? st->scanned : 0;
}

ACP_API const char *acp_stat_name(int kind)
{
    static const char *const names[] = {
        NULL, "runs", "runs_by_status", "runs_by_agent", "sessions", "events", "bytes",
        "schema_version",
    };
    return kind >= ACP_STAT_RUNS && kind <= ACP_STAT_SCHEMA_VERSION ? names[kind] : "unknown";
}

ACP_API void acp_stats_free(acp_stats *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].label);
    free(st->v);
    free(st->slot);
    free(st);
}
