/* SPDX-License-Identifier: MIT */
/*
 * cache.c - libacp_storage_cache.so: a store made of two stores.
 *
 *   cache:?front=URI&back=URI&ttl=SECONDS
 *
 * The back is the store of record; the front (any store that keeps run
 * versions, e.g. redis) answers get_run when it holds a trusted copy.  The
 * protocol (docs/storage-contract.md, "Caches: no stale reads"):
 *
 *  get_run  front hit (data of the current generation, within ttl) -> done;
 *           else take a lease (conditional save of a marker expecting the
 *           entry's front version), read the back, store what it read
 *           expecting the lease's front version: a write in between changed
 *           that version, so a fill of an old read is refused.
 *  save_run take a lease (unconditional), write the back, store the new
 *           version under the lease, or delete the entry if the lease was
 *           lost.
 *  delete   delete the back, then the front entry.
 * A write that cannot reach the front marks the front suspect in the back
 * and waits for every process to notice (cache_front.c).  Lists, totals,
 * sessions and events come from the back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

#ifndef ACP_STORAGE_PLUGIN_VERSION
#define ACP_STORAGE_PLUGIN_VERSION "0"
#endif

/* ---- results of child calls ---- */

typedef struct got {
    char *doc;
    size_t len;
    int64_t created_us, version;
} got;

static int got_sink(void *arg, const acp_item *it)
{
    got *g = arg;
    free(g->doc);
    if (!(g->doc = malloc(it->doc_len + 1)))
        return 1;
    memcpy(g->doc, it->doc, it->doc_len);
    g->doc[it->doc_len] = 0;
    g->len = it->doc_len;
    g->created_us = it->created_us;
    g->version = it->version;
    return 0;
}

static acp_status emit_run(cache *c, acp_call *call, const char *id, const char *doc, size_t len,
                           int64_t created_us, int64_t version)
{
    acp_item it = {0};
    it.doc = doc;
    it.doc_len = len;
    it.key = id;
    it.created_us = created_us;
    it.version = version;
    return c->host->emit(call, &it) ? ACP_NOMEM : ACP_OK;
}

static int64_t wall_us(cache *c)
{
    return c->host->now_us();
}

/* Store entry e for run id in the front, expecting front version expect;
 * *fv receives the new front version.  ACP_CONFLICT when the entry changed. */
static acp_status front_put(cache *c, const char *id, const cache_entry *e, int64_t expect,
                            int64_t *fv, acp_call *call)
{
    size_t len;
    char *doc = cache_entry_encode(e, id, &len);
    if (!doc)
        return ACP_NOMEM;
    acp_status st = c->ops->save_run_if(c->front, doc, len, expect, fv, call);
    free(doc);
    return st;
}

static acp_status take_lease(cache *c, const char *id, int64_t expect, int64_t *fv,
                             acp_call *call)
{
    cache_entry lease = {0};
    lease.gen = cache_generation(c);
    lease.filled_us = wall_us(c);
    return front_put(c, id, &lease, expect, fv, call);
}

/* ---- open, close, ping ---- */

static acp_status cache_open(const acp_plugin_host *host, const acp_open_args *args,
                             acp_backend **out, acp_call *call)
{
    if (host->size < offsetof(acp_plugin_host, child) + sizeof host->child || !host->child)
        return host->error(call, ACP_UNSUPPORTED, "the host cannot open child stores (ABI 1.2)");
    cache *c = calloc(1, sizeof *c);
    if (!c)
        return host->error(call, ACP_NOMEM, "out of memory");
    c->host = host;
    c->ops = host->child;
    acp_status st = cache_conf_parse(&c->conf, host, args, call);
    if (st == ACP_OK)
        st = c->ops->open("back", c->conf.back, &c->back, call);
    if (st == ACP_OK)
        st = c->ops->open("front", c->conf.front, &c->front, call);
    if (st == ACP_OK && !(c->ops->capabilities(c->front) & ACP_CAP_VERSIONS))
        st = host->error(call, ACP_INVALID,
                         "the front store (%s) keeps no run versions: a cache needs them to "
                         "refuse stale fills", c->ops->backend(c->front));
    if (st == ACP_OK && !(c->ops->capabilities(c->back) & ACP_CAP_VERSIONS))
        st = host->error(call, ACP_INVALID,
                         "the back store (%s) keeps no run versions: a cache needs them",
                         c->ops->backend(c->back));
    if (st != ACP_OK) {
        c->ops->close(c->front);
        c->ops->close(c->back);
        cache_conf_free(&c->conf);
        free(c);
        return st;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->refresh_mu, NULL);
    *out = c;
    return ACP_OK;
}

static void cache_close(acp_backend *b)
{
    cache *c = b;
    c->ops->close(c->front);
    c->ops->close(c->back);
    cache_conf_free(&c->conf);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->refresh_mu);
    free(c);
}

/* The back answers for the store; the front's health only shows in the
 * counters (get_session "acp-cache.stats"). */
static acp_status cache_ping(acp_backend *b, acp_call *call)
{
    cache *c = b;
    acp_status st = c->ops->ping(c->back, call);
    if (st == ACP_OK && cache_front_usable(c, call)) {
        acp_status fs = c->ops->ping(c->front, call);
        if (!cache_front_failed(c, fs, "answering ping", NULL))
            cache_front_ok(c);
    }
    return st;
}

/* ---- runs ---- */

static acp_status cache_get_run(acp_backend *b, const char *id, acp_call *call)
{
    cache *c = b;
    got f = {0}, bk = {0};
    int use = cache_front_usable(c, call);
    int64_t expect = ACP_VERSION_ABSENT, lease = 0;
    acp_status st;
    if (use) {
        st = c->ops->get_run(c->front, id, got_sink, &f, call);
        if (st == ACP_OK) {
            cache_entry e;
            expect = f.version;
            if (cache_entry_decode(f.doc, f.len, &e) && e.data && e.gen == cache_generation(c) &&
                (!c->conf.ttl_us || wall_us(c) - e.filled_us <= c->conf.ttl_us)) {
                atomic_fetch_add(&c->st.hits, 1);
                st = emit_run(c, call, id, e.doc, e.doc_len, e.created_us, e.version);
                free(f.doc);
                return st;
            }
        } else if (cache_front_failed(c, st, "reading", id))
            use = 0;
        free(f.doc);
    }
    atomic_fetch_add(use ? &c->st.misses : &c->st.bypassed, 1);
    if (use) {
        st = take_lease(c, id, expect, &lease, call);
        if (st != ACP_OK) {
            if (st == ACP_CONFLICT) /* another caller holds or just filled it */
                atomic_fetch_add(&c->st.fill_conflicts, 1);
            cache_front_failed(c, st, "taking a lease", id);
            use = 0;
        }
    }
    st = c->ops->get_run(c->back, id, got_sink, &bk, call);
    if (st == ACP_OK) {
        if (use) {
            cache_entry e = {1, cache_generation(c), bk.version, bk.created_us, wall_us(c),
                             bk.doc, bk.len};
            acp_status fs = front_put(c, id, &e, lease, &lease, call);
            if (fs == ACP_OK)
                atomic_fetch_add(&c->st.fills, 1);
            else if (fs == ACP_CONFLICT)
                atomic_fetch_add(&c->st.fill_conflicts, 1);
            else
                cache_front_failed(c, fs, "filling", id);
        }
        st = emit_run(c, call, id, bk.doc, bk.len, bk.created_us, bk.version);
    }
    free(bk.doc);
    return st;
}

/* After the back acknowledged a write of run id (or failed in a way that
 * may have applied it): make sure the front serves nothing older.  e: the
 * new entry to store under the lease (NULL: just remove the entry). */
static acp_status invalidate(cache *c, const char *id, int used, int64_t lease,
                             const cache_entry *e, acp_call *call)
{
    if (used) {
        acp_status st = ACP_CONFLICT;
        int64_t fv;
        if (e)
            st = front_put(c, id, e, lease, &fv, call);
        if (st == ACP_OK)
            return ACP_OK;
        if (st != ACP_CONFLICT)
            cache_front_failed(c, st, "storing a saved run", id);
        st = c->ops->delete_run(c->front, id, call);
        if (!cache_front_failed(c, st, "removing a changed run", id))
            return ACP_OK;
    }
    return cache_suspect(c, call);
}

static acp_status cache_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    cache *c = b;
    int64_t lease = 0, version = 0;
    int use = cache_front_usable(c, call);
    if (use) {
        acp_status ls = take_lease(c, r->run_id, ACP_VERSION_ANY, &lease, call);
        if (cache_front_failed(c, ls, "taking a lease", r->run_id))
            use = 0;
    }
    acp_status st;
    if (r->flags & ACP_RUN_SET_VERSION)
        st = c->ops->restore_run(c->back, r->doc, r->doc_len, r->version, r->created_us,
                                 (r->flags & ACP_RUN_IF_NEWER) ? ACP_RESTORE_IF_NEWER : 0u,
                                 &version, call);
    else
        st = c->ops->save_run_if(c->back, r->doc, r->doc_len, r->expect_version, &version, call);
    if (st == ACP_OK || (st != ACP_CONFLICT && st != ACP_INVALID)) {
        /* Written, or perhaps written (a timeout after the commit). */
        cache_entry e = {1, cache_generation(c), version, r->created_us, wall_us(c), r->doc,
                         r->doc_len};
        /* A save without created_at keeps the stored time, which only the
         * back knows: remove the entry instead of writing it. */
        int known = st == ACP_OK && !(r->flags & (ACP_RUN_CREATED_DEFAULT | ACP_RUN_SET_VERSION));
        acp_status is = invalidate(c, r->run_id, use, lease, known ? &e : NULL, call);
        if (st == ACP_OK && is != ACP_OK)
            return is;
    }
    if (st == ACP_OK || st == ACP_CONFLICT)
        c->host->set_version(call, version);
    return st;
}

static acp_status cache_delete_run(acp_backend *b, const char *id, acp_call *call)
{
    cache *c = b;
    int use = cache_front_usable(c, call);
    acp_status st = c->ops->delete_run(c->back, id, call);
    if (st != ACP_NOT_FOUND && st != ACP_INVALID) {
        acp_status is = invalidate(c, id, use, 0, NULL, call);
        if (st == ACP_OK && is != ACP_OK)
            return is;
    }
    return st;
}

static acp_status cache_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    cache *c = b;
    return c->ops->list_runs(c->back, q, NULL, NULL, NULL, call);
}

/* ---- sessions: the back's, less the cache's own ---- */

static int reserved(const char *id)
{
    return strcmp(id, CACHE_GEN_ID) == 0 || strcmp(id, CACHE_SUSPECT_ID) == 0 ||
           strcmp(id, CACHE_STATS_ID) == 0;
}

static acp_status stats(cache *c, acp_call *call)
{
    char doc[512];
    int64_t now = cache_mono_us();
    pthread_mutex_lock(&c->mu);
    int down = now < c->down_until || c->down;
    pthread_mutex_unlock(&c->mu);
    int n = snprintf(doc, sizeof doc,
                     "{\"id\":\"" CACHE_STATS_ID "\",\"front\":\"%s\",\"hits\":%lld,"
                     "\"misses\":%lld,\"bypassed\":%lld,\"fills\":%lld,\"fill_conflicts\":%lld,"
                     "\"front_errors\":%lld,\"suspects\":%lld,\"generations\":%lld}",
                     down ? "down" : "up", (long long)atomic_load(&c->st.hits),
                     (long long)atomic_load(&c->st.misses), (long long)atomic_load(&c->st.bypassed),
                     (long long)atomic_load(&c->st.fills),
                     (long long)atomic_load(&c->st.fill_conflicts),
                     (long long)atomic_load(&c->st.front_errors),
                     (long long)atomic_load(&c->st.suspects),
                     (long long)atomic_load(&c->st.generations));
    acp_item it = {0};
    it.doc = doc;
    it.doc_len = (size_t)n;
    it.key = CACHE_STATS_ID;
    return c->host->emit(call, &it) ? ACP_NOMEM : ACP_OK;
}

static acp_status cache_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    cache *c = b;
    if (reserved(s->id))
        return c->host->error(call, ACP_INVALID, "session id '%s' is the cache's own", s->id);
    return c->ops->save_session(c->back, s->doc, s->doc_len, call);
}

static acp_status cache_get_session(acp_backend *b, const char *id, acp_call *call)
{
    cache *c = b;
    if (strcmp(id, CACHE_STATS_ID) == 0)
        return stats(c, call);
    if (reserved(id))
        return ACP_NOT_FOUND;
    return c->ops->get_session(c->back, id, NULL, NULL, call);
}

static acp_status cache_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    cache *c = b;
    if (reserved(id))
        return c->host->error(call, ACP_INVALID, "session id '%s' is the cache's own", id);
    return c->ops->delete_session(c->back, id, call);
}

typedef struct sess_walk {
    cache *c;
    acp_call *call;
    int64_t emitted, seen;
    char last[257];
} sess_walk;

static int sess_sink(void *arg, const acp_item *it)
{
    sess_walk *w = arg;
    w->seen++;
    snprintf(w->last, sizeof w->last, "%s", it->key);
    if (reserved(it->key))
        return 0;
    w->emitted++;
    return w->c->host->emit(w->call, it);
}

static acp_status cache_list_sessions(acp_backend *b, const char *after, int64_t limit,
                                      acp_call *call)
{
    cache *c = b;
    sess_walk w = {c, call, 0, 0, ""};
    const char *from = after;
    for (;;) {
        int64_t want = limit - w.emitted;
        w.seen = 0;
        acp_status st = c->ops->list_sessions(c->back, from, want, sess_sink, &w, call);
        if (st != ACP_OK)
            return st;
        /* A full page that held one of the cache's own: fetch the rest. */
        if (w.emitted >= limit || w.seen < want)
            return ACP_OK;
        from = w.last;
    }
}

/* ---- events: the back's ---- */

static acp_status cache_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                                  acp_call *call)
{
    cache *c = b;
    return c->ops->add_event(c->back, ev->run_id, ev->doc, ev->doc_len, seq, call);
}

static acp_status cache_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    cache *c = b;
    return c->ops->get_events(c->back, q, NULL, NULL, call);
}

static acp_status cache_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    cache *c = b;
    return c->ops->wait_events(c->back, q, NULL, NULL, call);
}

static const acp_backend_vtable vtable = {
    .open = cache_open,
    .close = cache_close,
    .ping = cache_ping,
    .save_run = cache_save_run,
    .get_run = cache_get_run,
    .delete_run = cache_delete_run,
    .list_runs = cache_list_runs,
    .save_session = cache_save_session,
    .get_session = cache_get_session,
    .delete_session = cache_delete_session,
    .add_event = cache_add_event,
    .get_events = cache_get_events,
    .list_sessions = cache_list_sessions,
    .wait_events = cache_wait_events,
};

static const char *const option_names[] = {"front", "back", "ttl", "check_ms", "retry_ms", NULL};

ACP_PLUGIN_DEFINE(cache, ACP_STORAGE_PLUGIN_VERSION,
                  "A store before a store: reads from the front, the back is the truth",
                  ACP_CAP_CONCURRENT | ACP_CAP_FOLLOW | ACP_CAP_VERSIONS, option_names, &vtable)
