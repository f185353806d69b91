/* SPDX-License-Identifier: MIT */
/*
 * store.c - the application API of a store: every contract rule that does
 * not depend on how data is kept lives here, once, for every backend.
 * Each operation checks its arguments, derives what the backend indexes,
 * enters the plugin (one thread at a time unless it is concurrent) and
 * turns its answer into a status and a message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_LIMIT 1000
#define RUN_LIMIT_DEFAULT 10
#define EVENT_LIMIT_DEFAULT 100

static void enter(acp_store *s)
{
    if (s->serial)
        pthread_mutex_lock(&s->mu);
}

static void leave(acp_store *s)
{
    if (s->serial)
        pthread_mutex_unlock(&s->mu);
}

void acp__enter(acp_store *s) { enter(s); }
void acp__leave(acp_store *s) { leave(s); }

/* ---- opening ---- */

acp_status acp__store_open(const acp_config *cfg, unsigned for_migrate, acp_store **out,
                           acp_error *err)
{
    acp__plugin *p;
    acp_status st = acp__plugin_get(cfg, &p, err);
    if (st != ACP_OK)
        return st;
    const acp_plugin_descriptor *d = p->desc;
    size_t max_doc;
    acp__open_opts opts;
    int64_t retain_us;
    if ((st = acp_config_max_document_bytes(cfg, &max_doc, err)) != ACP_OK ||
        (st = acp__retain_option(cfg, &retain_us, err)) != ACP_OK ||
        (st = acp__open_opts_make(cfg, d, for_migrate, &opts, err)) != ACP_OK)
        return st;

    acp_store *s = calloc(1, sizeof *s);
    char *uri = acp__config_uri(cfg, 0), *red = acp__config_uri(cfg, 1);
    if (!s || !uri || !red) {
        st = acp__error(err, ACP_NOMEM, "out of memory opening a store");
        goto done;
    }
    acp_open_args args = {
        .uri = uri,
        .uri_redacted = red,
        .scheme = cfg->scheme ? cfg->scheme : d->name,
        .variant = cfg->variant ? cfg->variant : "",
        .authority = cfg->authority ? cfg->authority : "",
        .path = cfg->path ? cfg->path : "",
        .options = opts.v,
        .n_options = opts.n,
    };
    acp_call call;
    acp__call_init(&call, NULL, cfg->timeout_ms);
    call.cfg = cfg; /* children opened by this open inherit its plugin directories */
    st = d->vtable->open(&acp__host, &args, &s->backend, &call);
    if (st != ACP_OK) {
        st = acp__call_finish(&call, st, d->name, "open", err);
        goto done;
    }
    s->plugin = p;
    s->desc = d;
    s->vt = d->vtable;
    /* A composition may keep less than its descriptor allows (archive
     * tiers: the intersection of its children's). */
    s->caps = d->capabilities;
    if (ACP__HAS(d, capabilities))
        s->caps &= d->vtable->capabilities(s->backend);
    s->serial = !(s->caps & ACP_CAP_CONCURRENT);
    s->timeout_ms = cfg->timeout_ms;
    s->max_doc = max_doc;
    /* acp_run_record, acp_item and the host table have the members of
     * versions from ABI 1.2 on; an older plugin cannot declare the flag. */
    s->versions = (s->caps & ACP_CAP_VERSIONS) && d->abi_minor >= 2;
    s->retain_us = retain_us;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    s = NULL;
done:
    if (st != ACP_OK && err)
        acp__config_scrub(cfg, err->message, sizeof err->message);
    free(s);
    free(uri);
    free(red);
    acp__open_opts_free(&opts);
    return st;
}

ACP_API acp_status acp_store_open_config(const acp_config *cfg, acp_store **out, acp_error *err)
{
    if (!cfg || !out)
        return acp__error(err, ACP_INVALID, "acp_store_open_config: arguments must not be NULL");
    return acp__store_open(cfg, 0, out, err);
}

ACP_API acp_status acp_store_open(const char *uri, acp_store **out, acp_error *err)
{
    if (!out)
        return acp__error(err, ACP_INVALID, "acp_store_open: out must not be NULL");
    if (!uri)
        uri = getenv("ACP_STORAGE_URL");
    if (!uri || !uri[0])
        return acp__error(err, ACP_INVALID,
                          "no store given and ACP_STORAGE_URL is not set: name one, e.g. "
                          "sqlite:///var/lib/acp/acp.db, file:///srv/acp or memory:");
    acp_config *cfg;
    acp_status st = acp_config_new(&cfg, err);
    if (st != ACP_OK)
        return st;
    if ((st = acp_config_parse_uri(cfg, uri, err)) == ACP_OK)
        st = acp_store_open_config(cfg, out, err);
    acp_config_free(cfg);
    return st;
}

ACP_API void acp_store_close(acp_store *s)
{
    if (!s)
        return;
    s->vt->close(s->backend);
    pthread_mutex_destroy(&s->mu);
    free(s->retain_cursor);
    free(s);
}

ACP_API const char *acp_store_backend(const acp_store *s)
{
    return s ? s->desc->name : NULL;
}

ACP_API const char *acp_store_backend_version(const acp_store *s)
{
    return s ? s->desc->version : NULL;
}

ACP_API size_t acp_store_max_document_bytes(const acp_store *s)
{
    return s ? s->max_doc : 0;
}

ACP_API uint64_t acp_store_capabilities(const acp_store *s)
{
    return s ? s->caps : 0;
}

#define NEED(cond, what)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return acp__error(err, ACP_INVALID, "%s: %s", __func__, what);                         \
    } while (0)

ACP_API acp_status acp_store_ping(acp_store *s, acp_error *err)
{
    NEED(s, "store must not be NULL");
    if (!ACP__HAS(s->desc, ping))
        return ACP_OK; /* a backend without a ping has nothing that can be down */
    acp_call call;
    acp__call_init(&call, NULL, s->timeout_ms);
    enter(s);
    acp_status st = s->vt->ping(s->backend, &call);
    leave(s);
    return acp__call_finish(&call, st, s->desc->name, "ping", err);
}

/* ---- documents in ---- */

/* Trim surrounding JSON whitespace: it carries no data, and a document read
 * from a file usually ends with a newline.  Then hold the document to the
 * store's size limit, before anything parses it.  *nul_at_len is set to 1
 * when json[*len] is known to be a NUL the caller owns: the text came as a
 * C string (ACP_STRLEN) and nothing was trimmed from its end. */
static acp_status take_text(const acp_store *s, const char *what, const char **json, size_t *len,
                            int *nul_at_len, acp_error *err)
{
    int c_string = *len == ACP_STRLEN;
    size_t n = c_string ? strlen(*json) : *len;
    const char *end = *json + n;
    acp__json_trim(json, &n);
    *len = n;
    *nul_at_len = c_string && *json + n == end;
    return acp__doc_size_check(s, what, n, err);
}

/* The document handed to the plugin, which is promised a NUL-terminated
 * one: the caller's own text when it already ends in a NUL at len (no copy
 * on the common path); else a NUL-terminated copy, since json[len] of a
 * counted buffer may not even be readable.  The call is synchronous, so the
 * caller's text cannot change under the plugin (unless the caller races
 * with itself).  *copy receives what to free, or NULL. */
static const char *plugin_text(const char *json, size_t len, int nul_at_len, char **copy)
{
    *copy = NULL;
    if (nul_at_len)
        return json;
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, json, len);
        c[len] = '\0';
    }
    *copy = c;
    return c;
}

/* What a run save asks beyond the document: its condition, or the exact
 * version and creation time of a restore (acp_run_restore). */
typedef struct run_write {
    uint32_t flags;     /* ACP_RUN_IF_VERSION, IF_ABSENT, SET_VERSION, IF_NEWER */
    int64_t version;    /* the expected or the restored version, else 0 */
    int64_t created_us; /* a restore's creation time, or ACP_RESTORE_CREATED_FROM_DOC */
    int64_t found;      /* out: on CONFLICT, the version the plugin found (0: none, -1: not said) */
} run_write;

/* The message of a failed condition, worded once for every backend from
 * what the plugin found (found: the stored version, 0: no such run, -1:
 * not reported). */
static acp_status version_conflict(const acp_store *s, const char *run_id, const run_write *w,
                                   int64_t found, acp_error *err)
{
    char now[48];
    if (found < 0)
        snprintf(now, sizeof now, "another writer changed it");
    else if (found == 0)
        snprintf(now, sizeof now, "it does not exist");
    else
        snprintf(now, sizeof now, "it is at version %" PRId64, found);
    if (w->flags & ACP_RUN_IF_NEWER)
        return acp__error(err, ACP_CONFLICT, "%s: run '%s' not restored at version %" PRId64
                          ": %s (not older)", s->desc->name, run_id, w->version, now);
    if (w->flags & ACP_RUN_IF_ABSENT)
        return acp__error(err, ACP_CONFLICT, "%s: run '%s' expected not to exist, but %s",
                          s->desc->name, run_id, now);
    return acp__error(err, ACP_CONFLICT, "%s: run '%s' expected at version %" PRId64 ", but %s",
                      s->desc->name, run_id, w->version, now);
}

static acp_status run_save(acp_store *s, const char *json, size_t len, run_write *w,
                           int64_t *version, acp_error *err)
{
    NEED(s && json, "store and json must not be NULL");
    if (w->flags && !s->versions)
        return acp__error(err, ACP_UNSUPPORTED, "%s: this backend keeps no run versions, so it "
                          "cannot save conditionally or restore a version", s->desc->name);
    int nul_at_len;
    acp_status st = take_text(s, "run", &json, &len, &nul_at_len, err);
    acp__strbuf b;
    acp__run_fields f;
    if (st != ACP_OK || (st = acp__run_check(json, len, &f, &b, NULL, NULL, err)) != ACP_OK)
        return st;
    char *copy;
    const char *doc = plugin_text(json, len, nul_at_len, &copy);
    if (!doc) {
        st = acp__error(err, ACP_NOMEM, "out of memory saving run '%s'", f.run_id);
        acp__strbuf_free(&b);
        return st;
    }
    int given_created = w->created_us != ACP_RESTORE_CREATED_FROM_DOC;
    acp_run_record r = {
        .run_id = f.run_id,
        .run_id_len = strlen(f.run_id),
        .agent_name = f.agent_name,
        .agent_name_len = strlen(f.agent_name),
        .session_id = f.session_id,
        .session_id_len = f.session_id ? strlen(f.session_id) : 0,
        .status = f.status,
        .created_us = given_created ? w->created_us
                      : f.has_created ? f.created_us : acp_time_now_us(),
        .finished_us = f.finished_us == INT64_MIN ? ACP_NO_TIME : f.finished_us,
        .flags = w->flags | (given_created || f.has_created ? 0 : ACP_RUN_CREATED_DEFAULT),
        .doc = doc,
        .doc_len = len,
        .version = w->version,
    };
    acp_call call;
    acp__call_init(&call, NULL, s->timeout_ms);
    enter(s);
    st = s->vt->save_run(s->backend, &r, &call);
    leave(s);
    w->found = call.version;
    if (st == ACP_CONFLICT && s->versions && !call.fault[0])
        st = version_conflict(s, f.run_id, w, call.version, err);
    else
        st = acp__call_finish(&call, st, s->desc->name, "save_run", err);
    if (st == ACP_OK && s->versions && call.version < 1)
        st = acp__error(err, ACP_PLUGIN, "%s: save_run reported version %" PRId64 " (a backend "
                        "with versions reports the stored version, >= 1)", s->desc->name,
                        call.version);
    if (st == ACP_OK && version)
        *version = s->versions ? call.version : 0;
    free(copy);
    acp__strbuf_free(&b);
    if (st == ACP_OK && s->retain_us)
        acp__retain_tick(s);
    return st;
}

acp_status acp__run_save_flags(acp_store *s, const char *json, size_t len, uint32_t flags,
                               int64_t version, int64_t created_us, int64_t *out, acp_error *err)
{
    run_write w = {flags, version, created_us, -1};
    acp_status st = run_save(s, json, len, &w, out, err);
    if (st == ACP_CONFLICT && out)
        *out = w.found;
    return st;
}

ACP_API acp_status acp_run_save(acp_store *s, const char *json, size_t len, acp_error *err)
{
    run_write w = {0, 0, ACP_RESTORE_CREATED_FROM_DOC, -1};
    return run_save(s, json, len, &w, NULL, err);
}

ACP_API acp_status acp_run_save_versioned(acp_store *s, const char *json, size_t len,
                                          int64_t *version, acp_error *err)
{
    run_write w = {0, 0, ACP_RESTORE_CREATED_FROM_DOC, -1};
    return run_save(s, json, len, &w, version, err);
}

ACP_API acp_status acp_run_save_if(acp_store *s, const char *json, size_t len,
                                   int64_t expect_version, int64_t *version, acp_error *err)
{
    if (expect_version < 0)
        return acp__error(err, ACP_INVALID, "acp_run_save_if: expect_version %" PRId64 " is "
                          "negative (ACP_VERSION_ABSENT, or a version >= 1)", expect_version);
    run_write w = {expect_version == ACP_VERSION_ABSENT ? ACP_RUN_IF_ABSENT : ACP_RUN_IF_VERSION,
                   expect_version, ACP_RESTORE_CREATED_FROM_DOC, -1};
    return run_save(s, json, len, &w, version, err);
}

ACP_API acp_status acp_run_restore(acp_store *s, const char *json, size_t len, int64_t version,
                                   int64_t created_us, unsigned flags, acp_error *err)
{
    if (version < 1 || version > ACP_VERSION_MAX)
        return acp__error(err, ACP_INVALID, "acp_run_restore: version %" PRId64 " is outside "
                          "1..%" PRId64, version, (int64_t)ACP_VERSION_MAX);
    if (flags & ~ACP_RESTORE_IF_NEWER)
        return acp__error(err, ACP_INVALID, "acp_run_restore: unknown flags 0x%x", flags);
    run_write w = {ACP_RUN_SET_VERSION | (flags & ACP_RESTORE_IF_NEWER ? ACP_RUN_IF_NEWER : 0),
                   version, created_us, -1};
    return run_save(s, json, len, &w, NULL, err);
}

ACP_API acp_status acp_session_save(acp_store *s, const char *json, size_t len, acp_error *err)
{
    NEED(s && json, "store and json must not be NULL");
    int nul_at_len;
    acp_status st = take_text(s, "session", &json, &len, &nul_at_len, err);
    acp__strbuf b;
    const char *id;
    if (st != ACP_OK || (st = acp__session_check(json, len, &id, &b, NULL, NULL, err)) != ACP_OK)
        return st;
    char *copy;
    const char *doc = plugin_text(json, len, nul_at_len, &copy);
    if (!doc) {
        st = acp__error(err, ACP_NOMEM, "out of memory saving session '%s'", id);
        acp__strbuf_free(&b);
        return st;
    }
    acp_session_record r = {.id = id, .id_len = strlen(id), .doc = doc, .doc_len = len};
    acp_call call;
    acp__call_init(&call, NULL, s->timeout_ms);
    enter(s);
    st = s->vt->save_session(s->backend, &r, &call);
    leave(s);
    st = acp__call_finish(&call, st, s->desc->name, "save_session", err);
    free(copy);
    acp__strbuf_free(&b);
    return st;
}

ACP_API acp_status acp_event_add(acp_store *s, const char *run_id, const char *json, size_t len,
                                 int64_t *seq, acp_error *err)
{
    NEED(s && json, "store and json must not be NULL");
    int nul_at_len;
    acp_status st = acp__id_check(run_id, "run_id", err);
    if (st != ACP_OK || (st = take_text(s, "event", &json, &len, &nul_at_len, err)) != ACP_OK)
        return st;
    acp__strbuf b;
    const char *type;
    if ((st = acp__event_check(json, len, &type, &b, NULL, NULL, err)) != ACP_OK)
        return st;
    char *copy;
    const char *doc = plugin_text(json, len, nul_at_len, &copy);
    if (!doc) {
        acp__strbuf_free(&b);
        return acp__error(err, ACP_NOMEM, "out of memory adding an event to run '%s'", run_id);
    }
    acp_event_record r = {
        .run_id = run_id,
        .run_id_len = strlen(run_id),
        .type = type,
        .stored_us = acp_time_now_us(),
        .doc = doc,
        .doc_len = len,
    };
    int64_t n = 0;
    acp_call call;
    acp__call_init(&call, NULL, s->timeout_ms);
    enter(s);
    st = s->vt->add_event(s->backend, &r, &n, &call);
    leave(s);
    st = acp__call_finish(&call, st, s->desc->name, "add_event", err);
    if (st == ACP_OK && n < 1)
        st = acp__error(err, ACP_PLUGIN, "%s: add_event reported sequence %" PRId64
                        " (sequences start at 1)", s->desc->name, n);
    if (st == ACP_OK && seq)
        *seq = n;
    free(copy);
    acp__strbuf_free(&b);
    return st;
}

/* ---- single documents out ---- */

typedef acp_status (*get_fn)(acp_backend *, const char *, acp_call *);

static acp_status get_one(acp_store *s, get_fn fn, const char *op, const char *what,
                          const char *id, acp__item *out, acp_error *err)
{
    /* One item, so the page lives on the stack: a get costs one allocation,
     * the document handed to the caller. */
    acp__item item = {0};
    acp_page page = {.items = &item, .cap = 1, .max = 1, .total = -1, .keyless = 1};
    acp_call call;
    acp__call_init(&call, &page, s->timeout_ms);
    call.item_versions = s->versions;
    enter(s);
    acp_status st = fn(s->backend, id, &call);
    leave(s);
    if (st == ACP_NOT_FOUND && !call.fault[0])
        st = acp__error(err, ACP_NOT_FOUND, "%s '%s' not found", what, id);
    else if (st == ACP_OK && page.n == 0 && !call.fault[0])
        st = acp__error(err, ACP_PLUGIN, "%s: %s reported success but returned no document",
                        s->desc->name, op);
    else
        st = acp__call_finish(&call, st, s->desc->name, op, err);
    if (st == ACP_OK)
        *out = item; /* the caller now owns the block */
    else if (page.n)
        free(item.doc);
    return st;
}

acp_status acp__store_get(acp_store *s, int session, const char *id, acp__item *item,
                          acp_error *err)
{
    acp_status st = acp__id_check(id, session ? "session id" : "run_id", err);
    if (st != ACP_OK)
        return st;
    return session ? get_one(s, s->vt->get_session, "get_session", "session", id, item, err)
                   : get_one(s, s->vt->get_run, "get_run", "run", id, item, err);
}

static acp_status get_doc(acp_store *s, int session, const char *id, char **json, size_t *len,
                          int64_t *version, acp_error *err)
{
    acp__item item;
    acp_status st = acp__store_get(s, session, id, &item, err);
    if (st == ACP_OK) {
        *json = item.doc;
        if (len)
            *len = item.doc_len;
        if (version)
            *version = item.version;
    }
    return st;
}

ACP_API acp_status acp_run_get(acp_store *s, const char *run_id, char **json, size_t *len,
                               acp_error *err)
{
    NEED(s && json, "store and json must not be NULL");
    return get_doc(s, 0, run_id, json, len, NULL, err);
}

ACP_API acp_status acp_run_get_versioned(acp_store *s, const char *run_id, char **json,
                                         size_t *len, int64_t *version, acp_error *err)
{
    NEED(s && json, "store and json must not be NULL");
    return get_doc(s, 0, run_id, json, len, version, err);
}

typedef acp_status (*get_api_fn)(acp_store *, const char *, char **, size_t *, acp_error *);

/* acp_*_get_buf: the get's copy handed over into the caller's buffer
 * (arguments checked by the caller, whose name the message carries). */
static acp_status get_buf(acp_store *s, get_api_fn get, const char *id, char *buf, size_t cap,
                          size_t *len, acp_error *err)
{
    char *doc = NULL;
    size_t n = 0;
    acp_status st = get(s, id, &doc, &n, err);
    if (st != ACP_OK)
        return st;
    *len = n;
    if (n < cap) {
        memcpy(buf, doc, n);
        buf[n] = '\0';
    }
    free(doc);
    return ACP_OK;
}

ACP_API acp_status acp_run_get_buf(acp_store *s, const char *run_id, char *buf, size_t cap,
                                   size_t *len, acp_error *err)
{
    NEED(s && len && (buf || cap == 0), "store and len must not be NULL, nor buf with a size");
    return get_buf(s, acp_run_get, run_id, buf, cap, len, err);
}

ACP_API acp_status acp_session_get_buf(acp_store *s, const char *id, char *buf, size_t cap,
                                       size_t *len, acp_error *err)
{
    NEED(s && len && (buf || cap == 0), "store and len must not be NULL, nor buf with a size");
    return get_buf(s, acp_session_get, id, buf, cap, len, err);
}

ACP_API acp_status acp_session_get(acp_store *s, const char *id, char **json, size_t *len,
                                   acp_error *err)
{
    NEED(s && json, "store and json must not be NULL");
    return get_doc(s, 1, id, json, len, NULL, err);
}

static acp_status delete_one(acp_store *s, get_fn fn, const char *op, const char *what,
                             const char *id, acp_error *err)
{
    acp_call call;
    acp__call_init(&call, NULL, s->timeout_ms);
    enter(s);
    acp_status st = fn(s->backend, id, &call);
    leave(s);
    if (st == ACP_NOT_FOUND)
        return acp__error(err, ACP_NOT_FOUND, "%s '%s' not found", what, id);
    return acp__call_finish(&call, st, s->desc->name, op, err);
}

ACP_API acp_status acp_run_delete(acp_store *s, const char *run_id, acp_error *err)
{
    NEED(s, "store must not be NULL");
    acp_status st = acp__id_check(run_id, "run_id", err);
    return st != ACP_OK ? st : delete_one(s, s->vt->delete_run, "delete_run", "run", run_id, err);
}

ACP_API acp_status acp_session_delete(acp_store *s, const char *id, acp_error *err)
{
    NEED(s, "store must not be NULL");
    acp_status st = acp__id_check(id, "session id", err);
    return st != ACP_OK ? st
                        : delete_one(s, s->vt->delete_session, "delete_session", "session", id,
                                     err);
}

/* ---- lists ---- */

static acp_status check_window(int64_t limit, int64_t offset, acp_error *err)
{
    if (limit < 0 || limit > MAX_LIMIT)
        return acp__error(err, ACP_INVALID, "limit %" PRId64 " is out of range (0..%d)", limit,
                          MAX_LIMIT);
    if (offset < 0)
        return acp__error(err, ACP_INVALID, "offset %" PRId64 " is negative", offset);
    return ACP_OK;
}

/* Copy a caller's versioned struct: fields it does not know keep their
 * defaults, so an application built against an older header still works.
 * A larger (newer) struct is accepted only when the fields this library
 * does not know are zero: a request it cannot honour is refused, not
 * silently narrowed.  Errors: INVALID naming the struct. */
static acp_status copy_sized(void *dst, size_t dst_size, const void *src, const char *name,
                             const char *init, acp_error *err)
{
    size_t n;
    memcpy(&n, src, sizeof n);
    if (n < sizeof(size_t) || n > 4096)
        return acp__error(err, ACP_INVALID, "%s.size is not set (use %s)", name, init);
    for (size_t i = dst_size; i < n; i++)
        if (((const unsigned char *)src)[i])
            return acp__error(err, ACP_INVALID,
                              "%s has a field this library does not know set (byte %zu of %zu; "
                              "this library knows %zu): build against this library's header",
                              name, i, n, dst_size);
    memcpy(dst, src, n < dst_size ? n : dst_size);
    memcpy(dst, &dst_size, sizeof dst_size);
    return ACP_OK;
}

acp_status acp__copy_sized(void *dst, size_t dst_size, const void *src, const char *name,
                           const char *init, acp_error *err)
{
    return copy_sized(dst, dst_size, src, name, init, err);
}

/* The index of an item whose key an earlier item of the page has, or 0
 * (item 0 can repeat nothing).  A table of 64-bit hashes on the stack:
 * a page holds at most MAX_LIMIT items. */
static size_t page_repeated_key(const acp_page *p)
{
    enum { SLOTS = 2048 }; /* a power of two, at least 2 * MAX_LIMIT */
    _Static_assert(SLOTS >= 2 * MAX_LIMIT, "page_repeated_key needs room for a full page");
    uint16_t slot[SLOTS]; /* item index + 1, 0: empty */
    size_t mask = 1;
    while (mask < 2 * p->n)
        mask <<= 1;
    memset(slot, 0, mask * sizeof slot[0]);
    mask--;
    for (size_t i = 0; i < p->n; i++) {
        const char *k = p->items[i].key;
        if (!k)
            continue;
        uint64_t h = 1469598103934665603u; /* FNV-1a */
        for (const unsigned char *c = (const unsigned char *)k; *c; c++)
            h = (h ^ *c) * 1099511628211u;
        size_t j = (size_t)(h ^ h >> 32) & mask;
        for (; slot[j]; j = (j + 1) & mask)
            if (strcmp(p->items[slot[j] - 1].key, k) == 0)
                return i;
        slot[j] = (uint16_t)(i + 1);
    }
    return 0;
}

/* Run cursors: "r1:<created_us>:<run_id in hex>".  Opaque to callers, but
 * printable, so a command line can carry it. */
static const char HEX[] = "0123456789abcdef";

/* Built on every full page: a table lookup per nibble, not a sprintf per byte. */
char *acp__cursor_make(int64_t created_us, const char *run_id)
{
    size_t n = strlen(run_id);
    char *c = malloc(32 + 2 * n + 1);
    if (!c)
        return NULL;
    char *p = c + sprintf(c, "r1:%" PRId64 ":", created_us);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)run_id[i];
        *p++ = HEX[b >> 4];
        *p++ = HEX[b & 15];
    }
    *p = '\0';
    return c;
}

/* The decimal int64 exactly as "%" PRId64 prints it: an optional '-', no
 * '+', no space, no leading zero, no "-0", in range.  Returns the end, or
 * NULL. */
static const char *cursor_int(const char *p, int64_t *out)
{
    int neg = *p == '-';
    p += neg;
    if (*p < '0' || *p > '9' || (*p == '0' && (neg || (p[1] >= '0' && p[1] <= '9'))))
        return NULL;
    /* Accumulate negatively: INT64_MIN has no positive counterpart. */
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (v < (INT64_MIN + d) / 10)
            return NULL;
        v = v * 10 - d;
    }
    if (!neg && v == INT64_MIN)
        return NULL;
    *out = neg ? v : -v;
    return p;
}

static acp_status cursor_parse(const char *c, int64_t *created_us, char *run_id, acp_error *err)
{
    const char *end;
    if (strncmp(c, "r1:", 3) != 0 || !(end = cursor_int(c + 3, created_us)) || *end != ':')
        goto bad;
    const char *h = end + 1;
    size_t n = strlen(h);
    if (n == 0 || n % 2 || n / 2 > ACP_ID_MAX)
        goto bad;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = acp__hex_digit(h[2 * i]), lo = acp__hex_digit(h[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        run_id[i] = (char)(hi << 4 | lo);
    }
    run_id[n / 2] = '\0';
    /* Lower-case hex only, as cursor_make writes it: one spelling per
     * position, whatever the digit decoder above accepts. */
    if (strpbrk(h, "ABCDEF") || acp__id_check(run_id, "cursor run_id", NULL) != ACP_OK)
        goto bad;
    return ACP_OK;
bad:
    return acp__error(err, ACP_INVALID,
                      "'%.80s' is not a run cursor (use the next_cursor of an earlier page)",
                      c);
}

/* The status and time filters: valid, and applied by the backend (a
 * plugin without ACP_CAP_RUN_FILTERS may ignore the query members, so its
 * answer would be unfiltered: refuse instead).  All seven statuses filter
 * nothing, so they need no capability. */
static acp_status run_filters_check(const acp_store *s, const acp_run_filter *f,
                                    acp__statuses *sts, acp_error *err)
{
    acp_status st;
    if (f->status && (st = acp__statuses_parse(f->status, "status filter", sts, err)) != ACP_OK)
        return st;
    if (sts->n == ACP__N_STATUSES)
        sts->n = 0;
    int64_t since = f->created_since_us, until = f->created_until_us;
    if (since != ACP_TIME_NONE && until != ACP_TIME_NONE && since >= until)
        return acp__error(err, ACP_INVALID,
                          "created time range is empty (since %" PRId64 " us is not before "
                          "until %" PRId64 " us)", since, until);
    if ((sts->n || since != ACP_TIME_NONE || until != ACP_TIME_NONE) &&
        !(s->caps & ACP_CAP_RUN_FILTERS))
        return acp__error(err, ACP_UNSUPPORTED,
                          "%s: this backend cannot filter runs by status or creation time "
                          "(plugin %s lacks ACP_CAP_RUN_FILTERS)", s->desc->name,
                          s->desc->version);
    return ACP_OK;
}

ACP_API acp_status acp_run_list(acp_store *s, const acp_run_filter *filter, acp_page **out,
                                acp_error *err)
{
    NEED(s && out, "store and out must not be NULL");
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_status st;
    if ((filter && (st = copy_sized(&f, sizeof f, filter, "acp_run_filter", "ACP_RUN_FILTER_INIT",
                                    err)) != ACP_OK) ||
        (st = check_window(f.limit, f.offset, err)) != ACP_OK)
        return st;
    if (f.agent_name && (st = acp__id_check(f.agent_name, "agent_name filter", err)) != ACP_OK)
        return st;
    if (f.session_id && (st = acp__id_check(f.session_id, "session_id filter", err)) != ACP_OK)
        return st;
    char cursor_id[ACP_ID_MAX + 1];
    int64_t cursor_us = 0;
    acp__statuses sts = {.n = 0};
    if ((f.cursor && (st = cursor_parse(f.cursor, &cursor_us, cursor_id, err)) != ACP_OK) ||
        (st = run_filters_check(s, &f, &sts, err)) != ACP_OK)
        return st;
    acp_run_query q = {
        .agent_name = f.agent_name,
        .session_id = f.session_id,
        .limit = f.limit,
        .offset = f.offset,
        .want_total = f.want_total != 0,
        .statuses = sts.n ? sts.names : NULL,
        .n_statuses = sts.n,
        .created_since_us = f.created_since_us,
        .created_until_us = f.created_until_us == ACP_TIME_NONE ? INT64_MAX : f.created_until_us,
    };
    if (f.cursor) {
        q.has_cursor = 1;
        q.cursor_created_us = cursor_us;
        q.cursor_run_id = cursor_id;
    }
    acp_page *page = acp__page_new((size_t)f.limit);
    if (!page)
        return acp__error(err, ACP_NOMEM, "out of memory listing runs");
    if (f.limit > 0 || q.want_total) {
        acp_call call;
        acp__call_init(&call, page, s->timeout_ms);
        call.item_versions = s->versions;
        enter(s);
        st = s->vt->list_runs(s->backend, &q, &call);
        leave(s);
        if (st == ACP_OK && q.want_total && page->total < 0 && !call.fault[0])
            snprintf(call.fault, sizeof call.fault, "was asked for the total but never called "
                     "set_total");
        size_t rep = st == ACP_OK && !call.fault[0] ? page_repeated_key(page) : 0;
        if (rep)
            snprintf(call.fault, sizeof call.fault, "emitted run '%.64s' twice in one page",
                     page->items[rep].key);
        if ((st = acp__call_finish(&call, st, s->desc->name, "list_runs", err)) != ACP_OK) {
            acp_page_free(page);
            return st;
        }
    }
    if (!q.want_total)
        page->total = -1;
    if (f.limit > 0 && page->n == (size_t)f.limit) {
        const acp__item *last = &page->items[page->n - 1];
        int keyless = last->key == NULL;
        if (keyless || !(page->next_cursor = acp__cursor_make(last->created_us, last->key))) {
            acp_page_free(page); /* last pointed into it: decide before, report after */
            return acp__error(err, keyless ? ACP_PLUGIN : ACP_NOMEM,
                              keyless ? "list_runs returned a run without its key"
                                      : "out of memory listing runs");
        }
    }
    *out = page;
    return ACP_OK;
}

ACP_API acp_status acp_session_list(acp_store *s, const char *after_id, int64_t limit,
                                    acp_page **out, acp_error *err)
{
    NEED(s && out, "store and out must not be NULL");
    if (limit < 1 || limit > MAX_LIMIT)
        return acp__error(err, ACP_INVALID, "limit %" PRId64 " is out of range (1..%d)", limit,
                          MAX_LIMIT);
    acp_status st;
    if (after_id && (st = acp__id_check(after_id, "after_id", err)) != ACP_OK)
        return st;
    if (!ACP__HAS(s->desc, list_sessions))
        return acp__error(err, ACP_UNSUPPORTED, "%s: this backend cannot list sessions",
                          s->desc->name);
    acp_page *page = acp__page_new((size_t)limit);
    if (!page)
        return acp__error(err, ACP_NOMEM, "out of memory listing sessions");
    acp_call call;
    acp__call_init(&call, page, s->timeout_ms);
    enter(s);
    st = s->vt->list_sessions(s->backend, after_id, limit, &call);
    leave(s);
    size_t rep = st == ACP_OK && !call.fault[0] ? page_repeated_key(page) : 0;
    if (rep)
        snprintf(call.fault, sizeof call.fault, "emitted session '%.64s' twice in one page",
                 page->items[rep].key);
    if ((st = acp__call_finish(&call, st, s->desc->name, "list_sessions", err)) != ACP_OK) {
        acp_page_free(page);
        return st;
    }
    if (page->n == (size_t)limit) {
        const char *k = page->items[page->n - 1].key;
        int keyless = k == NULL;
        if (keyless || !(page->next_cursor = strdup(k))) {
            acp_page_free(page);
            return acp__error(err, keyless ? ACP_PLUGIN : ACP_NOMEM,
                              keyless ? "list_sessions returned a session without its id"
                                      : "out of memory listing sessions");
        }
    }
    *out = page;
    return ACP_OK;
}

ACP_API acp_status acp_event_list(acp_store *s, const char *run_id, const acp_event_filter *filter,
                                  acp_page **out, acp_error *err)
{
    NEED(s && out, "store and out must not be NULL");
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    acp_status st;
    if (filter && (st = copy_sized(&f, sizeof f, filter, "acp_event_filter",
                                   "ACP_EVENT_FILTER_INIT", err)) != ACP_OK)
        return st;
    st = acp__id_check(run_id, "run_id", err);
    if (st != ACP_OK || (st = check_window(f.limit, f.offset, err)) != ACP_OK)
        return st;
    if (f.after_seq < 0)
        return acp__error(err, ACP_INVALID, "after_seq %" PRId64 " is negative", f.after_seq);
    acp_page *page = acp__page_new((size_t)f.limit);
    if (!page)
        return acp__error(err, ACP_NOMEM, "out of memory listing events");
    page->events = 1;
    page->last_seq = f.after_seq;
    if (f.limit > 0) {
        acp_event_query q = {
            .run_id = run_id, .after_seq = f.after_seq, .limit = f.limit, .offset = f.offset};
        acp_call call;
        acp__call_init(&call, page, s->timeout_ms);
        enter(s);
        st = s->vt->get_events(s->backend, &q, &call);
        leave(s);
        if ((st = acp__call_finish(&call, st, s->desc->name, "get_events", err)) != ACP_OK) {
            acp_page_free(page);
            return st;
        }
    }
    if (f.limit > 0 && page->n == (size_t)f.limit) {
        if (!(page->next_cursor = malloc(24))) {
            acp_page_free(page);
            return acp__error(err, ACP_NOMEM, "out of memory listing events");
        }
        snprintf(page->next_cursor, 24, "%" PRId64, page->items[page->n - 1].seq);
    }
    *out = page;
    return ACP_OK;
}

/* ---- pages ---- */

ACP_API size_t acp_page_count(const acp_page *p)
{
    return p ? p->n : 0;
}

ACP_API const char *acp_page_json(const acp_page *p, size_t i, size_t *len)
{
    if (!p || i >= p->n)
        return NULL;
    if (len)
        *len = p->items[i].doc_len;
    return p->items[i].doc;
}

ACP_API const char *acp_page_key(const acp_page *p, size_t i)
{
    return p && i < p->n ? p->items[i].key : NULL;
}

ACP_API int64_t acp_page_seq(const acp_page *p, size_t i)
{
    return p && i < p->n ? p->items[i].seq : 0;
}

ACP_API int64_t acp_page_time_us(const acp_page *p, size_t i)
{
    if (!p || i >= p->n)
        return 0;
    return p->items[i].seq ? p->items[i].stored_us : p->items[i].created_us;
}

ACP_API int64_t acp_page_version(const acp_page *p, size_t i)
{
    return p && i < p->n ? p->items[i].version : 0;
}

ACP_API int64_t acp_page_total(const acp_page *p)
{
    return p ? p->total : -1;
}

ACP_API const char *acp_page_next_cursor(const acp_page *p)
{
    return p ? p->next_cursor : NULL;
}

ACP_API void acp_page_free(acp_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].doc);
    free(p->items);
    free(p->next_cursor);
    free(p);
}
