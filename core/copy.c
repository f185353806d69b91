/* SPDX-License-Identifier: MIT */
/*
 * copy.c - acp_store_copy(): a store walked page by page (by cursor; runs
 * and events read ahead in copy_read.c) into another, written in batches
 * (acp_event_restore_many, then acp_run_restore_many), so that memory stays
 * bounded whatever the size.
 *
 * Resume rests on one order: a run's events are stored before its run
 * record.  A run record in the target therefore means the run is complete;
 * events without a run record are a run left half-copied, which a resumed
 * copy deletes and copies again.  Sessions are single documents, upserted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"

/* Sessions per page read from the source, and bounds of one written batch:
 * run records, events (or bytes of events, whichever comes first).  Each
 * batch is one transaction or script in the target, so the bounds are set
 * for few of them (about 1000 runs' events) at a few MiB of memory. */
#define PAGE 500
#define BATCH_ITEMS 1000
#define BATCH_EVENTS 10000
#define BATCH_BYTES ((size_t)8 << 20)

void acp__copy_init(acp__copy *c, acp_copy_fn fn, void *ctx)
{
    memset(c, 0, sizeof *c);
    c->rep.runs_total = c->rep.sessions_total = -1;
    c->fn = fn;
    c->ctx = ctx;
}

acp_status acp__copy_progress(acp__copy *c, acp_error *err)
{
    if (c->fn && c->fn(c->ctx, &c->rep) != 0)
        return acp__error(err, ACP_INVALID, "copy stopped by the caller");
    return ACP_OK;
}

acp_status acp__copy_item(acp__copy *c, const char *kind, const char *id, acp_status st,
                          const char *msg, acp_error *err)
{
    c->rep.conflicts++;
    c->rep.item_kind = kind;
    c->rep.item_id = id;
    c->rep.item_status = st;
    c->rep.item_message = msg;
    acp_status r = acp__copy_progress(c, err);
    c->rep.item_kind = c->rep.item_id = c->rep.item_message = NULL;
    c->rep.item_status = ACP_OK;
    return r;
}

/* ---- the store as a source ---- */

static acp_status walk_sessions(acp_store *src, const acp__sink *k, acp__copy *c, int count,
                                acp_error *err)
{
    if (!ACP__HAS(src->desc, list_sessions))
        return ACP_OK; /* a backend that cannot list sessions has none to copy */
    char *after = NULL;
    acp_status st = ACP_OK;
    int64_t n = 0;
    for (;;) {
        acp_page *p;
        if ((st = acp_session_list(src, after, PAGE, &p, err)) != ACP_OK)
            break;
        for (size_t i = 0; !count && st == ACP_OK && i < acp_page_count(p); i++) {
            size_t len;
            const char *doc = acp_page_json(p, i, &len);
            st = k->session(k->self, acp_page_key(p, i), doc, len, err);
            c->rep.sessions++;
        }
        n += (int64_t)acp_page_count(p);
        free(after);
        after = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        int more = acp_page_next_cursor(p) != NULL;
        acp_page_free(p);
        if (st != ACP_OK || !more)
            break;
        if (!after) {
            st = acp__error(err, ACP_NOMEM, "out of memory listing sessions");
            break;
        }
    }
    free(after);
    if (count && st == ACP_OK)
        c->rep.sessions_total = n;
    return st;
}

acp_status acp__walk_store(acp_store *src, const acp__sink *k, acp__copy *c, acp_error *err)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p;
    acp_status st = acp_run_list(src, &f, &p, err);
    if (st != ACP_OK)
        return st;
    c->rep.runs_total = acp_page_total(p);
    acp_page_free(p);
    if ((st = walk_sessions(src, k, c, 1, err)) != ACP_OK ||
        (st = k->begin(k->self, acp_store_backend(src), c->rep.sessions_total,
                       c->rep.runs_total, err)) != ACP_OK ||
        (st = walk_sessions(src, k, c, 0, err)) != ACP_OK)
        return st;
    st = acp__walk_runs(src, k, c, err);
    return st == ACP_OK ? k->end(k->self, err) : st;
}

/* ---- the store as a sink ---- */

enum { RUN_COPY, RUN_SKIP, RUN_CONFLICT };

typedef struct pend_run {
    char *id;     /* the run id, then its document */
    char *doc;
    size_t len;
    int64_t created_us;
    int state;
} pend_run;

typedef struct store_sink {
    acp_store *dst;
    unsigned flags;
    acp__copy *c;
    int fast; /* the target was empty and this is no resume: no look before writing */
    pend_run *runs; /* records not written yet; the last is the run being read */
    size_t nrun, caprun;
    acp_restore_event *ev; /* events not written yet */
    size_t *ev_run;        /* each one's index in runs */
    size_t nev, capev, bytes;
} store_sink;

static void pend_free(pend_run *r)
{
    free(r->id);
}

/* Report run r as not copied. */
static acp_status run_conflict(store_sink *s, pend_run *r, const char *why, acp_error *err)
{
    if (r->state == RUN_CONFLICT)
        return ACP_OK;
    r->state = RUN_CONFLICT;
    return acp__copy_item(s->c, "run", r->id, ACP_CONFLICT, why, err);
}

/* Write the buffered events, then the records of the runs before `keep`
 * (all with keep = nrun). */
static acp_status flush(store_sink *s, size_t keep, acp_error *err)
{
    acp_status st = ACP_OK;
    if (s->nev) {
        acp_status *res = malloc(s->nev * sizeof *res);
        if (!res)
            return acp__error(err, ACP_NOMEM, "out of memory copying events");
        st = acp_event_restore_many(s->dst, s->ev, s->nev, res, err);
        for (size_t i = 0; st == ACP_OK && i < s->nev; i++)
            if (res[i] == ACP_CONFLICT)
                st = run_conflict(s, &s->runs[s->ev_run[i]],
                                  "an event with this sequence exists in the target", err);
        free(res);
        for (size_t i = 0; i < s->nev; i++)
            free((char *)s->ev[i].json);
        s->nev = s->bytes = 0;
        if (st != ACP_OK)
            return st;
    }
    size_t n = 0;
    acp_restore_run *rr = malloc((keep ? keep : 1) * sizeof *rr);
    acp_status *res = malloc((keep ? keep : 1) * sizeof *res);
    size_t *which = malloc((keep ? keep : 1) * sizeof *which);
    if (!rr || !res || !which)
        st = acp__error(err, ACP_NOMEM, "out of memory copying runs");
    for (size_t i = 0; st == ACP_OK && i < keep; i++)
        if (s->runs[i].state == RUN_COPY) {
            rr[n] = (acp_restore_run){s->runs[i].doc, s->runs[i].len, s->runs[i].created_us};
            which[n++] = i;
        }
    if (st == ACP_OK && n)
        st = acp_run_restore_many(s->dst, rr, n, res, err);
    for (size_t i = 0; st == ACP_OK && i < n; i++)
        if (res[i] == ACP_CONFLICT)
            st = run_conflict(s, &s->runs[which[i]], "the run exists in the target", err);
    free(rr);
    free(res);
    free(which);
    if (st != ACP_OK)
        return st;
    for (size_t i = 0; i < keep; i++)
        pend_free(&s->runs[i]);
    if (s->nrun > keep)
        memmove(s->runs, s->runs + keep, (s->nrun - keep) * sizeof *s->runs);
    s->nrun -= keep;
    return ACP_OK;
}

static acp_status sink_begin(void *self, const char *backend, int64_t sessions, int64_t runs,
                             acp_error *err)
{
    (void)backend;
    store_sink *s = self;
    s->c->rep.sessions_total = sessions;
    s->c->rep.runs_total = runs;
    if (s->flags & ACP_COPY_RESUME)
        return ACP_OK;
    /* An empty target cannot conflict: write without looking first. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1;
    acp_page *p;
    acp_status st = acp_run_list(s->dst, &f, &p, err);
    if (st != ACP_OK)
        return st;
    s->fast = acp_page_count(p) == 0;
    acp_page_free(p);
    if (s->fast && ACP__HAS(s->dst->desc, list_sessions)) {
        if ((st = acp_session_list(s->dst, NULL, 1, &p, err)) != ACP_OK)
            return st;
        s->fast = acp_page_count(p) == 0;
        acp_page_free(p);
    }
    return ACP_OK;
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static acp_status sink_session(void *self, const char *id, const char *doc, size_t len,
                               acp_error *err)
{
    store_sink *s = self;
    if (!s->fast) {
        char *old;
        size_t olen;
        acp_status st = acp_session_get(s->dst, id, &old, &olen, err);
        if (st != ACP_OK && st != ACP_NOT_FOUND)
            return st;
        if (st == ACP_OK) {
            int eq = same(old, olen, doc, len);
            acp_free(old);
            if (eq && (s->flags & ACP_COPY_RESUME)) {
                s->c->rep.skipped++;
                return ACP_OK;
            }
            if (!(s->flags & ACP_COPY_REPLACE))
                return acp__copy_item(s->c, "session", id, ACP_CONFLICT,
                                      "the session exists in the target", err);
        }
    }
    return acp_session_save(s->dst, doc, len, err);
}

/* Before a run is written into a target that may hold it: skip it, report
 * a conflict, or clear what a replaced or half-copied run left. */
static acp_status run_look(store_sink *s, pend_run *r, acp_error *err)
{
    char *old;
    size_t olen;
    acp_status st = acp_run_get(s->dst, r->id, &old, &olen, err);
    if (st != ACP_OK && st != ACP_NOT_FOUND)
        return st;
    int resume = (s->flags & ACP_COPY_RESUME) != 0, replace = (s->flags & ACP_COPY_REPLACE) != 0;
    if (st == ACP_OK) {
        int eq = same(old, olen, r->doc, r->len);
        acp_free(old);
        if (eq && resume) {
            r->state = RUN_SKIP; /* its record is written after its events: complete */
            s->c->rep.skipped++;
            return ACP_OK;
        }
        if (!replace)
            return run_conflict(s, r, "the run exists in the target", err);
    } else if (!resume && !replace) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = 1;
        acp_page *p;
        if ((st = acp_event_list(s->dst, r->id, &f, &p, err)) != ACP_OK)
            return st;
        size_t n = acp_page_count(p);
        acp_page_free(p);
        return n ? run_conflict(s, r, "the target has events for this run id", err) : ACP_OK;
    }
    /* Replaced, or perhaps half-copied before: start the run afresh. */
    st = acp_run_delete(s->dst, r->id, err);
    return st == ACP_NOT_FOUND ? ACP_OK : st;
}

static acp_status sink_run(void *self, const char *id, int64_t created_us, const char *doc,
                           size_t len, acp_error *err)
{
    store_sink *s = self;
    acp_status st;
    if (s->nrun >= BATCH_ITEMS && (st = flush(s, s->nrun, err)) != ACP_OK)
        return st;
    if (s->nrun == s->caprun) {
        size_t cap = s->caprun ? s->caprun * 2 : 64;
        pend_run *r = realloc(s->runs, cap * sizeof *r);
        if (!r)
            return acp__error(err, ACP_NOMEM, "out of memory copying runs");
        s->runs = r;
        s->caprun = cap;
    }
    size_t il = strlen(id);
    char *block = malloc(il + 1 + len + 1);
    if (!block)
        return acp__error(err, ACP_NOMEM, "out of memory copying run '%s'", id);
    memcpy(block, id, il + 1);
    memcpy(block + il + 1, doc, len);
    block[il + 1 + len] = '\0';
    pend_run *r = &s->runs[s->nrun++];
    *r = (pend_run){.id = block, .doc = block + il + 1, .len = len, .created_us = created_us};
    return s->fast ? ACP_OK : run_look(s, r, err);
}

static acp_status sink_event(void *self, int64_t seq, int64_t stored_us, const char *doc,
                             size_t len, acp_error *err)
{
    store_sink *s = self;
    if (!s->nrun)
        return acp__error(err, ACP_INVALID, "an event before any run");
    pend_run *r = &s->runs[s->nrun - 1];
    if (r->state != RUN_COPY)
        return ACP_OK;
    acp_status st;
    if ((s->nev >= BATCH_EVENTS || s->bytes + len > BATCH_BYTES) &&
        (st = flush(s, s->nrun - 1, err)) != ACP_OK)
        return st;
    r = &s->runs[s->nrun - 1];
    if (s->nev == s->capev) {
        size_t cap = s->capev ? s->capev * 2 : 256;
        acp_restore_event *e = realloc(s->ev, cap * sizeof *e);
        if (e)
            s->ev = e;
        size_t *w = e ? realloc(s->ev_run, cap * sizeof *w) : NULL;
        if (!w)
            return acp__error(err, ACP_NOMEM, "out of memory copying events");
        s->ev_run = w;
        s->capev = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return acp__error(err, ACP_NOMEM, "out of memory copying events");
    memcpy(copy, doc, len);
    copy[len] = '\0';
    acp_restore_event *e = &s->ev[s->nev];
    e->run_id = r->id;
    e->json = copy;
    e->len = len;
    e->seq = seq;
    e->stored_us = stored_us;
    s->ev_run[s->nev++] = s->nrun - 1;
    s->bytes += len;
    return ACP_OK;
}

static acp_status sink_end(void *self, acp_error *err)
{
    store_sink *s = self;
    return flush(s, s->nrun, err);
}

acp_status acp__store_sink_new(acp_store *dst, unsigned flags, acp__copy *c, acp__sink *out,
                               acp_error *err)
{
    store_sink *s = calloc(1, sizeof *s);
    if (!s)
        return acp__error(err, ACP_NOMEM, "out of memory starting a copy");
    s->dst = dst;
    s->flags = flags;
    s->c = c;
    out->self = s;
    out->begin = sink_begin;
    out->session = sink_session;
    out->run = sink_run;
    out->event = sink_event;
    out->end = sink_end;
    return ACP_OK;
}

void acp__store_sink_free(acp__sink *k)
{
    store_sink *s = k->self;
    if (!s)
        return;
    for (size_t i = 0; i < s->nev; i++)
        free((char *)s->ev[i].json);
    for (size_t i = 0; i < s->nrun; i++)
        pend_free(&s->runs[i]);
    free(s->ev);
    free(s->ev_run);
    free(s->runs);
    free(s);
    k->self = NULL;
}

acp_status acp__copy_outcome(acp__copy *c, acp_status st, acp_copy_report *report,
                             acp_error *err)
{
    if (st == ACP_OK && c->rep.conflicts)
        st = acp__error(err, ACP_CONFLICT, "%" PRId64 " item%s not copied (conflicts)",
                        c->rep.conflicts, c->rep.conflicts == 1 ? "" : "s");
    if (report)
        *report = c->rep;
    return st;
}

ACP_API acp_status acp_store_copy(acp_store *src, acp_store *dst, unsigned flags,
                                  acp_copy_fn fn, void *ctx, acp_copy_report *report,
                                  acp_error *err)
{
    if (!src || !dst || src == dst)
        return acp__error(err, ACP_INVALID, "acp_store_copy: two different stores are needed");
    if (flags & ~(ACP_COPY_RESUME | ACP_COPY_REPLACE))
        return acp__error(err, ACP_INVALID, "acp_store_copy: unknown flags 0x%x", flags);
    acp__copy c;
    acp__copy_init(&c, fn, ctx);
    acp__sink k;
    acp_status st = acp__store_sink_new(dst, flags, &c, &k, err);
    if (st == ACP_OK) {
        st = acp__walk_store(src, &k, &c, err);
        acp__store_sink_free(&k);
    }
    return acp__copy_outcome(&c, st, report, err);
}
