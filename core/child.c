/* SPDX-License-Identifier: MIT */
/*
 * child.c - host->child: stores a plugin opens by URI and calls (a cache
 * over a database, an archive behind a live store).  Every operation is the
 * application API's own (acp_run_save, acp_run_list, ...), so a child gets
 * exactly the checks an application's store gets; this file only binds the
 * parent's call (deadline, cancellation, nesting depth: host.c), turns the
 * child's acp_error into the parent call's error with the child's name in
 * front, and hands the results to the plugin's sink.
 *
 * To add an operation (a later ABI minor): append its member to
 * acp_child_ops, write a core_op that runs the core's operation and a
 * child_ member that hands it to child_call, and list it in acp__child_ops
 * below.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct acp_child {
    acp_store *store;
    char *label; /* as given, or NULL: messages then name the backend */
};

/* Record a failure of a child in the parent call, as host->error would:
 * "<label>: <message>", or the child's message as the core wrote it (which
 * starts with the backend's name when the backend failed) when the child
 * has no label.  Returns st. */
static acp_status record(acp_call *call, const char *label, const char *backend, acp_status st,
                         const char *msg)
{
    size_t n = backend ? strlen(backend) : 0;
    char *out = acp__call_message(call, st);
    if (label)
        snprintf(out, sizeof call->message, "%s: %s", label, msg);
    else if (backend && !(strncmp(msg, backend, n) == 0 && msg[n] == ':'))
        snprintf(out, sizeof call->message, "%s: %s", backend, msg);
    else
        snprintf(out, sizeof call->message, "%s", msg);
    return st;
}

static acp_status child_fail(acp_call *call, const acp_child *c, acp_status st,
                             const acp_error *e)
{
    return record(call, c->label, acp_store_backend(c->store), st,
                  e->message[0] ? e->message : acp_status_describe(st));
}

/* Checks shared by every operation, then binds the parent call to the
 * thread.  A parent whose deadline has passed does not call the child at
 * all: the child could not answer in time anyway (a child without a
 * network would otherwise ignore the deadline). */
static acp_status child_begin(acp_child *c, acp_call *call, const char *op,
                              const acp_call **prev)
{
    if (!call)
        return ACP_INVALID; /* nowhere to say why: the parent broke the ABI */
    if (!c)
        return record(call, NULL, NULL, ACP_INVALID, "child store operation on a NULL child");
    if (call->deadline_us && acp__deadline_now_us() >= call->deadline_us) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: the call's deadline passed before %s could start", op,
                 acp_store_backend(c->store));
        return record(call, c->label, acp_store_backend(c->store), ACP_UNAVAILABLE, msg);
    }
    *prev = acp__call_bind(call);
    return ACP_OK;
}

/* Hand every item of page to sink (NULL: to the parent call's results).
 * key, when set, is the key of every item (a get's page keeps none). */
static acp_status deliver(const acp_page *p, const char *key, acp_child_sink sink, void *arg,
                          acp_call *call)
{
    for (size_t i = 0; i < p->n; i++) {
        const acp__item *x = &p->items[i];
        acp_item it = {
            .doc = x->doc,
            .doc_len = x->doc_len,
            .key = key ? key : x->key,
            .created_us = x->created_us,
            .seq = x->seq,
            .stored_us = x->stored_us,
            .version = x->version,
        };
        if (sink ? sink(arg, &it) : acp__host.emit(call, &it))
            return ACP_NOMEM;
    }
    return ACP_OK;
}

/* ---- opening ---- */

static acp_status child_open(const char *label, const char *uri, acp_child **out,
                             acp_call *call)
{
    if (!call)
        return ACP_INVALID;
    if (!uri || !out)
        return record(call, label, NULL, ACP_INVALID, "child open: uri and out must not be NULL");
    if (call->depth >= ACP_CHILD_DEPTH_MAX) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "store composition nested deeper than %d levels (does a child URI name one of "
                 "its parents?)",
                 ACP_CHILD_DEPTH_MAX);
        return record(call, label, NULL, ACP_INVALID, msg);
    }
    acp_error e = {0};
    acp_child *c = calloc(1, sizeof *c);
    acp_config *cfg = NULL;
    acp_status st = ACP_NOMEM;
    if (!c || (label && !(c->label = strdup(label)))) {
        snprintf(e.message, sizeof e.message, "out of memory opening a child store");
        goto fail;
    }
    if ((st = acp_config_new(&cfg, &e)) != ACP_OK ||
        (st = acp_config_parse_uri(cfg, uri, &e)) != ACP_OK)
        goto fail;
    if (call->cfg) { /* opened by the parent's open: search where the parent was found */
        for (size_t i = 0; i < call->cfg->n_dirs; i++)
            if ((st = acp_config_add_plugin_dir(cfg, call->cfg->dirs[i], &e)) != ACP_OK)
                goto fail;
        cfg->timeout_ms = call->cfg->timeout_ms;
    }
    const acp_call *prev = acp__call_bind(call);
    st = acp_store_open_config(cfg, &c->store, &e);
    acp__call_bind(prev);
    if (st != ACP_OK)
        goto fail;
    acp_config_free(cfg);
    *out = c;
    return ACP_OK;
fail:
    if (st == ACP_LOAD)
        call->child_load = 1;
    st = record(call, label, cfg ? cfg->backend : NULL, st,
                e.message[0] ? e.message : acp_status_describe(st));
    acp_config_free(cfg);
    if (c)
        free(c->label);
    free(c);
    return st;
}

static void child_close(acp_child *c)
{
    if (!c)
        return;
    acp_store_close(c->store);
    free(c->label);
    free(c);
}

static const char *child_backend(const acp_child *c)
{
    return c ? acp_store_backend(c->store) : NULL;
}

static const char *child_label(const acp_child *c)
{
    return c ? (c->label ? c->label : acp_store_backend(c->store)) : NULL;
}

static uint64_t child_capabilities(const acp_child *c)
{
    return c ? acp_store_capabilities(c->store) : 0;
}

static size_t child_max_document_bytes(const acp_child *c)
{
    return c ? acp_store_max_document_bytes(c->store) : 0;
}

/* ---- operations ---- */

/* One operation of the core on the child's store: args are the operation's
 * own; *page receives the results of operations that have some. */
typedef acp_status (*core_op)(acp_store *s, const void *args, acp_page **page, acp_error *e);

/* Run fn for the parent call: checks, binding, the child's failure into the
 * parent's error, then the results (key, when set, is the key of every
 * item) and a total (to *total, and with sink NULL to the parent call). */
static acp_status child_call(acp_child *c, acp_call *call, const char *op, core_op fn,
                             const void *args, const char *key, acp_child_sink sink, void *arg,
                             int64_t *total)
{
    const acp_call *prev = NULL;
    acp_status st = child_begin(c, call, op, &prev);
    if (st != ACP_OK)
        return st;
    acp_error e = {0};
    acp_page *page = NULL;
    st = fn(c->store, args, &page, &e);
    acp__call_bind(prev);
    if (st != ACP_OK) {
        acp_page_free(page);
        return child_fail(call, c, st, &e);
    }
    if (page && page->total >= 0) {
        if (total)
            *total = page->total;
        if (!sink)
            acp__host.set_total(call, page->total);
    }
    if (page)
        st = deliver(page, key, sink, arg, call);
    acp_page_free(page);
    return st;
}

typedef struct doc_args {
    const char *id; /* add_event: the run id; deletes: the id */
    const char *doc;
    size_t len;
    int64_t *seq;
    int session;
} doc_args;

static acp_status core_ping(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    (void)args, (void)page;
    return acp_store_ping(s, e);
}

static acp_status core_save(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const doc_args *a = args;
    (void)page;
    return a->session ? acp_session_save(s, a->doc, a->len, e) : acp_run_save(s, a->doc, a->len, e);
}

static acp_status core_delete(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const doc_args *a = args;
    (void)page;
    return a->session ? acp_session_delete(s, a->id, e) : acp_run_delete(s, a->id, e);
}

static acp_status core_add_event(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const doc_args *a = args;
    (void)page;
    return acp_event_add(s, a->id, a->doc, a->len, a->seq, e);
}

/* A get as a page of one (the item keeps no key: child_call gives the id). */
static acp_status core_get(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const doc_args *a = args;
    acp__item item;
    acp_status st = acp__store_get(s, a->session, a->id, &item, e);
    if (st != ACP_OK)
        return st;
    acp_page *p = acp__page_new(1);
    if (!p || !(p->items = malloc(sizeof *p->items))) {
        free(p);
        free(item.doc);
        return acp__error(e, ACP_NOMEM, "out of memory reading '%s'", a->id);
    }
    p->items[0] = item;
    p->n = p->cap = 1;
    *page = p;
    return ACP_OK;
}

static acp_status core_list_runs(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const acp_run_query *q = args;
    if (!q)
        return acp__error(e, ACP_INVALID, "list_runs: the query must not be NULL");
    if (q->has_cursor && !q->cursor_run_id)
        return acp__error(e, ACP_INVALID, "list_runs: has_cursor without cursor_run_id");
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = q->agent_name;
    f.session_id = q->session_id;
    f.limit = q->limit;
    f.offset = q->offset;
    f.want_total = q->want_total;
    /* The run filters (ABI 1.2) travel as an application's would: status
     * names joined by commas, open time ends as ACP_TIME_NONE. */
    char status[128] = "";
    for (size_t i = 0; q->statuses && i < q->n_statuses; i++) {
        size_t n = strlen(status);
        if (!q->statuses[i] ||
            snprintf(status + n, sizeof status - n, "%s%s", i ? "," : "", q->statuses[i]) >=
                (int)(sizeof status - n))
            return acp__error(e, ACP_INVALID, "list_runs: bad status filter");
    }
    f.status = status[0] ? status : NULL;
    f.created_since_us = q->created_since_us;
    f.created_until_us = q->created_until_us == INT64_MAX ? ACP_TIME_NONE : q->created_until_us;
    /* The cursor travels as an application's would: the core parses and
     * checks it once, in one place. */
    char *cursor = NULL;
    if (q->has_cursor &&
        !(f.cursor = cursor = acp__cursor_make(q->cursor_created_us, q->cursor_run_id)))
        return acp__error(e, ACP_NOMEM, "out of memory listing runs");
    acp_status st = acp_run_list(s, &f, page, e);
    free(cursor);
    return st;
}

typedef struct session_list_args {
    const char *after_id;
    int64_t limit;
} session_list_args;

static acp_status core_list_sessions(acp_store *s, const void *args, acp_page **page,
                                     acp_error *e)
{
    const session_list_args *a = args;
    return acp_session_list(s, a->after_id, a->limit, page, e);
}

static acp_status core_get_events(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const acp_event_query *q = args;
    if (!q)
        return acp__error(e, ACP_INVALID, "get_events: the query must not be NULL");
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = q->limit;
    f.offset = q->offset;
    f.after_seq = q->after_seq;
    return acp_event_list(s, q->run_id, &f, page, e);
}

typedef struct wait_args {
    const acp_event_query *q;
    const acp_call *parent;
} wait_args;

/* The wait ends with the parent's: at its deadline (none: none), or when
 * its cancel token fires. */
static acp_status core_wait_events(acp_store *s, const void *args, acp_page **page,
                                   acp_error *e)
{
    const wait_args *a = args;
    if (!a->q || a->q->offset != 0)
        return acp__error(e, ACP_INVALID, "wait_events: the query must be given, with offset 0");
    int64_t ms = -1;
    if (a->parent->deadline_us) {
        ms = (a->parent->deadline_us - acp__deadline_now_us()) / 1000;
        ms = ms > 0 ? ms : 0;
    }
    return acp_event_follow(s, a->q->run_id, a->q->after_seq, a->q->limit, ms,
                            a->parent->cancel, page, e);
}

static acp_status child_ping(acp_child *c, acp_call *call)
{
    return child_call(c, call, "ping", core_ping, NULL, NULL, NULL, NULL, NULL);
}

static acp_status child_save_run(acp_child *c, const char *doc, size_t len, acp_call *call)
{
    doc_args a = {.doc = doc, .len = len};
    return child_call(c, call, "save_run", core_save, &a, NULL, NULL, NULL, NULL);
}

static acp_status child_get_run(acp_child *c, const char *run_id, acp_child_sink sink, void *arg,
                                acp_call *call)
{
    doc_args a = {.id = run_id};
    return child_call(c, call, "get_run", core_get, &a, run_id, sink, arg, NULL);
}

static acp_status child_delete_run(acp_child *c, const char *run_id, acp_call *call)
{
    doc_args a = {.id = run_id};
    return child_call(c, call, "delete_run", core_delete, &a, NULL, NULL, NULL, NULL);
}

static acp_status child_list_runs(acp_child *c, const acp_run_query *q, acp_child_sink sink,
                                  void *arg, int64_t *total, acp_call *call)
{
    return child_call(c, call, "list_runs", core_list_runs, q, NULL, sink, arg, total);
}

static acp_status child_save_session(acp_child *c, const char *doc, size_t len, acp_call *call)
{
    doc_args a = {.doc = doc, .len = len, .session = 1};
    return child_call(c, call, "save_session", core_save, &a, NULL, NULL, NULL, NULL);
}

static acp_status child_get_session(acp_child *c, const char *id, acp_child_sink sink, void *arg,
                                    acp_call *call)
{
    doc_args a = {.id = id, .session = 1};
    return child_call(c, call, "get_session", core_get, &a, id, sink, arg, NULL);
}

static acp_status child_delete_session(acp_child *c, const char *id, acp_call *call)
{
    doc_args a = {.id = id, .session = 1};
    return child_call(c, call, "delete_session", core_delete, &a, NULL, NULL, NULL, NULL);
}

static acp_status child_list_sessions(acp_child *c, const char *after_id, int64_t limit,
                                      acp_child_sink sink, void *arg, acp_call *call)
{
    session_list_args a = {after_id, limit};
    return child_call(c, call, "list_sessions", core_list_sessions, &a, NULL, sink, arg, NULL);
}

static acp_status child_add_event(acp_child *c, const char *run_id, const char *doc, size_t len,
                                  int64_t *seq, acp_call *call)
{
    doc_args a = {.id = run_id, .doc = doc, .len = len, .seq = seq};
    return child_call(c, call, "add_event", core_add_event, &a, NULL, NULL, NULL, NULL);
}

static acp_status child_get_events(acp_child *c, const acp_event_query *q, acp_child_sink sink,
                                   void *arg, acp_call *call)
{
    return child_call(c, call, "get_events", core_get_events, q, NULL, sink, arg, NULL);
}

static acp_status child_wait_events(acp_child *c, const acp_event_query *q, acp_child_sink sink,
                                    void *arg, acp_call *call)
{
    wait_args a = {q, call};
    return child_call(c, call, "wait_events", core_wait_events, &a, NULL, sink, arg, NULL);
}

/* Run versions (acp_child_ops.save_run_v): the record's flags mapped to
 * the application API's versioned saves. */
typedef struct save_v_args {
    const char *doc;
    size_t len;
    uint32_t flags;
    int64_t version, created_us;
    int64_t *new_version;
} save_v_args;

static acp_status core_save_v(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const save_v_args *a = args;
    (void)page;
    if (a->flags & ~(uint32_t)(ACP_RUN_IF_VERSION | ACP_RUN_IF_ABSENT | ACP_RUN_SET_VERSION |
                               ACP_RUN_IF_NEWER))
        return acp__error(e, ACP_INVALID, "child save_run: unknown flags 0x%x",
                          (unsigned)a->flags);
    if ((a->flags & ACP_RUN_SET_VERSION) && a->version < 1)
        return acp__error(e, ACP_INVALID,
                          "child save_run: version %" PRId64 " to restore (versions start at 1)",
                          a->version);
    return acp__run_save_flags(s, a->doc, a->len, a->flags, a->version,
                               a->created_us == ACP_NO_TIME ? ACP_RESTORE_CREATED_FROM_DOC
                                                            : a->created_us,
                               a->new_version, e);
}

static acp_status child_save_run_v(acp_child *c, const char *doc, size_t len, uint32_t flags,
                                   int64_t version, int64_t created_us, int64_t *new_version,
                                   acp_call *call)
{
    save_v_args a = {doc, len, flags, version, created_us, new_version};
    return child_call(c, call, "save_run", core_save_v, &a, NULL, NULL, NULL, NULL);
}

/* Restoring writes (acp_child_ops.restore_runs, restore_events): the
 * records mapped to the application API's batched restores. */
typedef struct restore_args {
    const acp_run_record *runs;
    const acp_event_record *evs;
    const int64_t *seqs;
    size_t n;
    acp_status *results;
} restore_args;

static acp_status core_restore(acp_store *s, const void *args, acp_page **page, acp_error *e)
{
    const restore_args *a = args;
    (void)page;
    if (a->n == 0)
        return ACP_OK;
    if (!a->results || (a->runs ? 0 : !a->evs || !a->seqs))
        return acp__error(e, ACP_INVALID, "child restore: records and results must be given");
    acp_status st;
    if (a->runs) {
        acp_restore_run *v = calloc(a->n, sizeof *v);
        if (!v)
            return acp__error(e, ACP_NOMEM, "out of memory restoring runs");
        for (size_t i = 0; i < a->n; i++)
            v[i] = (acp_restore_run){a->runs[i].doc, a->runs[i].doc_len, a->runs[i].created_us};
        st = acp_run_restore_many(s, v, a->n, a->results, e);
        free(v);
        return st;
    }
    acp_restore_event *v = calloc(a->n, sizeof *v);
    if (!v)
        return acp__error(e, ACP_NOMEM, "out of memory restoring events");
    for (size_t i = 0; i < a->n; i++)
        v[i] = (acp_restore_event){a->evs[i].run_id, a->evs[i].doc, a->evs[i].doc_len, a->seqs[i],
                                   a->evs[i].stored_us};
    st = acp_event_restore_many(s, v, a->n, a->results, e);
    free(v);
    return st;
}

static acp_status child_restore_runs(acp_child *c, const acp_run_record *runs, size_t n,
                                     acp_status *results, acp_call *call)
{
    restore_args a = {.runs = runs, .n = n, .results = results};
    if (!runs && n)
        return record(call, NULL, NULL, ACP_INVALID, "child restore_runs: runs must be given");
    return child_call(c, call, "restore_runs", core_restore, &a, NULL, NULL, NULL, NULL);
}

static acp_status child_restore_events(acp_child *c, const acp_event_record *evs,
                                       const int64_t *seqs, size_t n, acp_status *results,
                                       acp_call *call)
{
    restore_args a = {.evs = evs, .seqs = seqs, .n = n, .results = results};
    return child_call(c, call, "restore_events", core_restore, &a, NULL, NULL, NULL, NULL);
}

const acp_child_ops acp__child_ops = {
    .size = sizeof(acp_child_ops),
    .open = child_open,
    .close = child_close,
    .backend = child_backend,
    .label = child_label,
    .capabilities = child_capabilities,
    .max_document_bytes = child_max_document_bytes,
    .ping = child_ping,
    .save_run = child_save_run,
    .get_run = child_get_run,
    .delete_run = child_delete_run,
    .list_runs = child_list_runs,
    .save_session = child_save_session,
    .get_session = child_get_session,
    .delete_session = child_delete_session,
    .list_sessions = child_list_sessions,
    .add_event = child_add_event,
    .get_events = child_get_events,
    .wait_events = child_wait_events,
    .save_run_v = child_save_run_v,
    .restore_runs = child_restore_runs,
    .restore_events = child_restore_events,
};
