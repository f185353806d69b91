/*
 * hello.c - a complete acp-storage backend ("hello:") in one file, built out of tree against
 * the installed package.  Each open() makes a new, empty store in memory.  It does not
 * declare ACP_CAP_CONCURRENT, so the host lets one thread at a time into a store: no locks.
 */
#include <stdlib.h>
#include <string.h>

#include "acp_storage_plugin.h"

/* A run, a session (key: its id) or an event (key: its run_id).  The strings are copies in
 * one block that starts at key, so free(key) releases them all. */
typedef struct rec {
    char *key, *doc, *agent, *session; /* agent and session: runs only; session may be NULL */
    size_t key_len, doc_len;
    int64_t created_us, seq, stored_us;
} rec;
typedef struct vec {
    rec *v;
    size_t n, cap;
} vec;
/* Plain arrays searched linearly and kept in listing order: runs newest first, sessions by
 * id, events as appended (so in sequence order per run). */
struct acp_backend {
    const acp_plugin_host *h;
    vec runs, sessions, events;
};

/* A record holding copies of key, doc, agent, session (NULL stays NULL); key NULL: no memory. */
static rec make(const char *const s[4], const size_t len[4])
{
    rec r = {.key_len = len[0], .doc_len = len[1]};
    char **dst[4] = {&r.key, &r.doc, &r.agent, &r.session};
    char *p = malloc(len[0] + len[1] + len[2] + len[3] + 4);
    for (int i = 0; p && i < 4; i++) {
        if (!s[i])
            continue;
        *dst[i] = memcpy(p, s[i], len[i]);
        p[len[i]] = '\0';
        p += len[i] + 1;
    }
    return r;
}
/* Byte-wise, a proper prefix first: the id order of every backend. */
static int key_cmp(const rec *a, const char *b, size_t blen)
{
    int c = memcmp(a->key, b, a->key_len < blen ? a->key_len : blen);
    return c ? c : (a->key_len > blen) - (a->key_len < blen);
}
static int by_id(const rec *a, const rec *b) { return key_cmp(a, b->key, b->key_len); }
static int newest_first(const rec *a, const rec *b)
{
    if (a->created_us != b->created_us)
        return a->created_us > b->created_us ? -1 : 1;
    return by_id(b, a); /* ties: run_id descending */
}
static rec *find(vec *v, const char *key)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].key, key) == 0) /* ids never contain NUL */
            return &v->v[i];
    return NULL;
}
/* Remove every record keyed id (NULL: all), keeping the order; returns how many went. */
static size_t drop(vec *v, const char *id)
{
    size_t kept = 0, before = v->n;
    for (size_t i = 0; i < before; i++) {
        if (!id || strcmp(v->v[i].key, id) == 0)
            free(v->v[i].key);
        else
            v->v[kept++] = v->v[i];
    }
    v->n = kept;
    return before - kept;
}
/* Put r (from make()) in its place by cmp, instead of the record with its key; cmp NULL:
 * append.  Out of memory: free r and change nothing. */
static acp_status put(acp_backend *b, vec *v, rec r, int (*cmp)(const rec *, const rec *),
                      acp_call *call)
{
    rec *grown = r.key && v->n == v->cap ? realloc(v->v, (v->cap * 2 + 16) * sizeof *grown) : NULL;
    if (grown) {
        v->v = grown;
        v->cap = v->cap * 2 + 16;
    }
    if (!r.key || v->n == v->cap) {
        free(r.key);
        return b->h->error(call, ACP_NOMEM, "out of memory storing a record");
    }
    if (cmp)
        drop(v, r.key);
    size_t i = v->n++;
    for (; cmp && i > 0 && cmp(&r, &v->v[i - 1]) < 0; i--) /* insertion: shift later ones up */
        v->v[i] = v->v[i - 1];
    v->v[i] = r;
    return ACP_OK;
}
static acp_status emit(acp_backend *b, acp_call *call, const rec *r, const char *key)
{
    acp_item it = {r->doc, r->doc_len, key, r->created_us, r->seq, r->stored_us};
    return b->h->emit(call, &it) ? b->h->error(call, ACP_NOMEM, "out of memory") : ACP_OK;
}
/* Whether the next record a listing selects is on the page (offset, then limit). */
static int on_page(int64_t *pos, int64_t offset, int64_t limit)
{
    int64_t p = (*pos)++;
    return p >= offset && p - offset < limit;
}

static acp_status h_open(const acp_plugin_host *h, const acp_open_args *args, acp_backend **out,
                         acp_call *call)
{
    (void)args; /* no options, and the location names nothing: always a new store */
    if (!(*out = calloc(1, sizeof **out)))
        return h->error(call, ACP_NOMEM, "out of memory opening a hello store");
    (*out)->h = h;
    return ACP_OK;
}
static void h_close(acp_backend *b)
{
    vec *all[] = {&b->runs, &b->sessions, &b->events};
    for (int i = 0; i < 3; i++) {
        drop(all[i], NULL);
        free(all[i]->v);
    }
    free(b);
}
static acp_status h_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    rec *old = find(&b->runs, r->run_id);
    rec n = make((const char *[4]){r->run_id, r->doc, r->agent_name, r->session_id},
                 (size_t[4]){r->run_id_len, r->doc_len, r->agent_name_len, r->session_id_len});
    /* Without created_at in the document a run keeps the time of its first save. */
    n.created_us = old && (r->flags & ACP_RUN_CREATED_DEFAULT) ? old->created_us : r->created_us;
    return put(b, &b->runs, n, newest_first, call);
}
static acp_status h_get_run(acp_backend *b, const char *id, acp_call *call)
{
    rec *r = find(&b->runs, id);
    return r ? emit(b, call, r, r->key) : b->h->error(call, ACP_NOT_FOUND, "no run %s", id);
}
static acp_status h_delete_run(acp_backend *b, const char *id, acp_call *call)
{
    size_t gone = drop(&b->runs, id) + drop(&b->events, id); /* also events without a run */
    return gone ? ACP_OK : b->h->error(call, ACP_NOT_FOUND, "no run %s", id);
}
static acp_status h_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    rec cursor = {.key = (char *)q->cursor_run_id, .created_us = q->cursor_created_us};
    cursor.key_len = q->has_cursor ? strlen(q->cursor_run_id) : 0;
    int64_t total = 0, pos = 0; /* total: every match, whatever the cursor and page */
    acp_status st = ACP_OK;
    for (size_t i = 0; i < b->runs.n && st == ACP_OK; i++) {
        const rec *r = &b->runs.v[i];
        if ((q->agent_name && strcmp(r->agent, q->agent_name) != 0) ||
            (q->session_id && (!r->session || strcmp(r->session, q->session_id) != 0)))
            continue;
        total++;
        if ((!q->has_cursor || newest_first(r, &cursor) > 0) && /* strictly after it */
            on_page(&pos, q->offset, q->limit))
            st = emit(b, call, r, r->key);
    }
    if (st == ACP_OK && q->want_total)
        b->h->set_total(call, total);
    return st;
}
static acp_status h_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    rec n = make((const char *[4]){s->id, s->doc}, (size_t[4]){s->id_len, s->doc_len});
    return put(b, &b->sessions, n, by_id, call);
}
static acp_status h_get_session(acp_backend *b, const char *id, acp_call *call)
{
    rec *s = find(&b->sessions, id);
    return s ? emit(b, call, s, s->key) : b->h->error(call, ACP_NOT_FOUND, "no session %s", id);
}
static acp_status h_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    return drop(&b->sessions, id) ? ACP_OK : b->h->error(call, ACP_NOT_FOUND, "no session %s", id);
}
static acp_status h_list_sessions(acp_backend *b, const char *after, int64_t limit,
                                  acp_call *call)
{
    int64_t pos = 0;
    acp_status st = ACP_OK;
    for (size_t i = 0; i < b->sessions.n && st == ACP_OK; i++) {
        const rec *s = &b->sessions.v[i];
        if ((!after || key_cmp(s, after, strlen(after)) > 0) && on_page(&pos, 0, limit))
            st = emit(b, call, s, s->key);
    }
    return st;
}
static acp_status h_add_event(acp_backend *b, const acp_event_record *e, int64_t *seq,
                              acp_call *call)
{
    rec n = make((const char *[4]){e->run_id, e->doc}, (size_t[4]){e->run_id_len, e->doc_len});
    n.seq = 1;
    n.stored_us = e->stored_us;
    for (size_t i = b->events.n; i-- > 0;)
        if (strcmp(b->events.v[i].key, e->run_id) == 0) { /* the run's newest event */
            n.seq = b->events.v[i].seq + 1;
            break;
        }
    *seq = n.seq; /* the host reads it only when the call succeeds */
    return put(b, &b->events, n, NULL, call);
}
static acp_status h_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    int64_t pos = 0;
    acp_status st = ACP_OK;
    for (size_t i = 0; i < b->events.n && st == ACP_OK; i++) {
        const rec *e = &b->events.v[i];
        if (strcmp(e->key, q->run_id) == 0 && e->seq > q->after_seq &&
            on_page(&pos, q->offset, q->limit))
            st = emit(b, call, e, NULL); /* events have no key */
    }
    return st;
}

static const acp_backend_vtable vtable = {
    .open = h_open, .close = h_close, .save_run = h_save_run, .get_run = h_get_run,
    .delete_run = h_delete_run, .list_runs = h_list_runs, .save_session = h_save_session,
    .get_session = h_get_session, .delete_session = h_delete_session,
    .list_sessions = h_list_sessions, .add_event = h_add_event, .get_events = h_get_events};
static const char *const option_names[] = {NULL}; /* "hello:" takes no options */

/* Capabilities 0: not concurrent (the host serialises calls into a store), not durable. */
ACP_PLUGIN_DEFINE(hello, "0.1.0", "Example backend: in memory, a new store per open", 0,
                  option_names, &vtable)
