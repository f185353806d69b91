/* SPDX-License-Identifier: MIT */
/*
 * hello.c - the template backend: a complete acp-storage backend ("hello:")
 * in one file, built out of tree against the installed package.  Copy it to
 * start a backend of your own (docs/plugin-guide.md explains every rule it
 * follows).
 *
 * Each open() makes a new, empty store in memory.  It declares no
 * capabilities: not durable, and not concurrent, so the host lets one
 * thread at a time into a store and the code needs no locks.  It takes no
 * options and no variant: "hello+x:" is refused, never quietly treated as
 * "hello:".
 */
#include <stdlib.h>
#include <string.h>

#include "acp_storage_plugin.h"

enum kind { RUN, SESSION, EVENT };

/* A run, a session or an event (id: its run's), in one block with copies of
 * its strings, so that free() releases it all. */
typedef struct rec {
    struct rec *next;
    enum kind kind;
    const char *id;
    const char *agent;   /* runs only */
    const char *session; /* runs only; NULL when the run has none */
    acp_item it;         /* what reads hand back */
} rec;

/* One list per kind, each kept in listing order. */
struct acp_backend {
    const acp_plugin_host *host;
    rec *list[3];
};

/* Runs in list order (acp_run_order_cmp: newest first, ties by run_id
 * descending); sessions by id; events by seq.  strcmp() compares bytes as
 * unsigned char and ids hold no NUL: it is the byte-wise order the contract
 * asks for. */
static int order(const rec *a, const rec *b)
{
    if (a->kind == RUN)
        return acp_run_order_cmp(a->it.created_us, a->id, strlen(a->id), b->it.created_us, b->id,
                                 strlen(b->id));
    int64_t x = a->it.seq, y = b->it.seq; /* sessions: 0 */
    return x != y ? (x > y) - (x < y) : strcmp(a->id, b->id);
}

/* 1 if the filter f (NULL: any) accepts s. */
static int matches(const char *f, const char *s)
{
    return !f || (s && strcmp(f, s) == 0);
}

/* The link to the first record from *p on with this id (NULL: any), or to
 * the list's end. */
static rec **seek(rec **p, const char *id)
{
    while (*p && !matches(id, (*p)->id))
        p = &(*p)->next;
    return p;
}

/* Unlink and free the records of kind k with this id (NULL: all); returns
 * how many went. */
static size_t drop(acp_backend *b, enum kind k, const char *id)
{
    size_t gone = 0;
    for (rec **p = seek(&b->list[k], id); *p; p = seek(p, id)) {
        rec *r = *p;
        *p = r->next;
        free(r);
        gone++;
    }
    return gone;
}

/* Store a record of kind k: it, and copies of s[] (id, doc, agent,
 * session; NULL entries stay NULL), in place of the run or session with
 * that id.  The record is built whole first, so running out of memory
 * changes nothing. */
static acp_status store(acp_backend *b, acp_call *call, enum kind k, acp_item it,
                        const char *const s[4], const size_t len[4])
{
    rec *r = calloc(1, sizeof *r + len[0] + len[1] + len[2] + len[3] + 4);
    if (!r)
        return b->host->error(call, ACP_NOMEM, "out of memory storing %s", s[0]);
    *r = (rec){.kind = k, .it = it};
    const char **dst[4] = {&r->id, &r->it.doc, &r->agent, &r->session};
    char *p = (char *)(r + 1);
    for (int i = 0; i < 4; i++) {
        *dst[i] = s[i] ? memcpy(p, s[i], len[i]) : NULL; /* calloc: a NUL follows */
        p += len[i] + 1;
    }
    r->it.doc_len = len[1];
    r->it.key = k == EVENT ? NULL : r->id; /* events are handed back keyless */
    if (k != EVENT)
        drop(b, k, r->id); /* the run or session it replaces */
    rec **at = &b->list[k];
    while (*at && order(*at, r) < 0)
        at = &(*at)->next;
    r->next = *at;
    *at = r;
    return ACP_OK;
}

static acp_status emit(acp_backend *b, acp_call *call, const rec *r)
{
    if (b->host->emit(call, &r->it) != 0)
        return b->host->error(call, ACP_NOMEM, "out of memory");
    return ACP_OK;
}

/* Emit the records of kind k with this id (NULL: any) and q's agent and
 * session, after the cursor (NULL: from the start), skipping q->offset, at
 * most q->limit; count every match for want_total. */
static acp_status list(acp_backend *b, acp_call *call, enum kind k, const char *id,
                       const rec *cursor, const acp_run_query *q)
{
    int64_t total = 0, pos = 0; /* pos: the place among the matches after the cursor */
    acp_status st = ACP_OK;
    for (const rec *r = b->list[k]; r && st == ACP_OK; r = r->next) {
        if (!matches(id, r->id) || !matches(q->agent_name, r->agent) ||
            !matches(q->session_id, r->session))
            continue;
        total++;
        if ((!cursor || order(r, cursor) > 0) && pos++ >= q->offset &&
            pos - q->offset <= q->limit)
            st = emit(b, call, r);
    }
    if (st == ACP_OK && q->want_total)
        b->host->set_total(call, total);
    return st;
}

static acp_status hello_open(const acp_plugin_host *host, const acp_open_args *args,
                             acp_backend **out, acp_call *call)
{
    /* A variant promises a behaviour: refuse one this backend lacks rather
     * than open a plain store under its name. */
    if (args->variant[0])
        return host->error(call, ACP_INVALID, "unknown variant '+%s' (hello: takes none)",
                           args->variant);
    /* No options, and the location names nothing: always a new store. */
    acp_backend *b = calloc(1, sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "out of memory opening a hello store");
    b->host = host;
    *out = b;
    return ACP_OK;
}

static void hello_close(acp_backend *b)
{
    for (enum kind k = RUN; k <= EVENT; k++)
        drop(b, k, NULL);
    free(b);
}

static acp_status hello_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    /* Saved without created_at: a run keeps the time of its first save. */
    const rec *old = *seek(&b->list[RUN], r->run_id);
    int keep = old && (r->flags & ACP_RUN_CREATED_DEFAULT);
    acp_item it = {.created_us = keep ? old->it.created_us : r->created_us};
    const char *s[4] = {r->run_id, r->doc, r->agent_name, r->session_id};
    size_t len[4] = {r->run_id_len, r->doc_len, r->agent_name_len, r->session_id_len};
    return store(b, call, RUN, it, s, len);
}

/* The host writes the NOT_FOUND message ("run 'x' not found"): none needed. */
static acp_status hello_get_run(acp_backend *b, const char *id, acp_call *call)
{
    const rec *r = *seek(&b->list[RUN], id);
    return r ? emit(b, call, r) : ACP_NOT_FOUND;
}

static acp_status hello_delete_run(acp_backend *b, const char *id, acp_call *call)
{
    (void)call;
    size_t gone = drop(b, RUN, id) + drop(b, EVENT, id); /* also events without a run */
    return gone ? ACP_OK : ACP_NOT_FOUND;
}

static acp_status hello_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    rec cursor = {.kind = RUN, .id = q->cursor_run_id, .it.created_us = q->cursor_created_us};
    return list(b, call, RUN, NULL, q->has_cursor ? &cursor : NULL, q);
}

static acp_status hello_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    const char *str[4] = {s->id, s->doc, NULL, NULL};
    size_t len[4] = {s->id_len, s->doc_len, 0, 0};
    return store(b, call, SESSION, (acp_item){0}, str, len);
}

static acp_status hello_get_session(acp_backend *b, const char *id, acp_call *call)
{
    const rec *s = *seek(&b->list[SESSION], id);
    return s ? emit(b, call, s) : ACP_NOT_FOUND;
}

static acp_status hello_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    (void)call;
    return drop(b, SESSION, id) ? ACP_OK : ACP_NOT_FOUND;
}

static acp_status hello_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                      acp_call *call)
{
    rec cursor = {.kind = SESSION, .id = after_id};
    acp_run_query page = {.limit = limit};
    return list(b, call, SESSION, NULL, after_id ? &cursor : NULL, &page);
}

static acp_status hello_add_event(acp_backend *b, const acp_event_record *e, int64_t *seq,
                                  acp_call *call)
{
    /* A run's events are all in this list: the next is their count + 1. */
    *seq = 1;
    for (const rec *o = b->list[EVENT]; o; o = o->next)
        *seq += strcmp(o->id, e->run_id) == 0;
    acp_item it = {.seq = *seq, .stored_us = e->stored_us};
    const char *s[4] = {e->run_id, e->doc, NULL, NULL};
    size_t len[4] = {e->run_id_len, e->doc_len, 0, 0};
    return store(b, call, EVENT, it, s, len);
}

static acp_status hello_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    rec cursor = {.kind = EVENT, .id = q->run_id, .it.seq = q->after_seq};
    acp_run_query page = {.offset = q->offset, .limit = q->limit};
    return list(b, call, EVENT, q->run_id, &cursor, &page);
}

static const acp_backend_vtable vtable = {
    .open = hello_open,
    .close = hello_close,
    .save_run = hello_save_run,
    .get_run = hello_get_run,
    .delete_run = hello_delete_run,
    .list_runs = hello_list_runs,
    .save_session = hello_save_session,
    .get_session = hello_get_session,
    .delete_session = hello_delete_session,
    .list_sessions = hello_list_sessions,
    .add_event = hello_add_event,
    .get_events = hello_get_events,
};

/* "hello:" takes no options: any key is refused by the core before open. */
static const char *const option_names[] = {NULL};

ACP_PLUGIN_DEFINE(hello, "0.1.0", "In-memory template backend", 0, option_names, &vtable)
