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
 *  writes   write the back, then remove the front's entries of the run
 *           (which makes every lease taken before fail).
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

/* Conditions of a front save: none, the entry must not exist, or (>= 1)
 * the front version it must have. */
#define EXPECT_ANY (-1)
#define EXPECT_ABSENT 0

/* ---- keys, results of child calls ---- */

/* The front key of run id: "r:" or "e:" + id; 0 when the id is too long to
 * be cached (then the back answers alone). */
static int front_key(char *out, char kind, const char *id)
{
    size_t n = strlen(id);
    if (n > CACHE_KEY_MAX)
        return 0;
    out[0] = kind;
    out[1] = ':';
    memcpy(out + 2, id, n + 1);
    return 1;
}

static int64_t wall_us(cache *c)
{
    return c->host->now_us();
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

/* Emit the events of q from a complete list of a run's events 1..n. */
typedef struct ev_list {
    cache_event *ev;
    int64_t n, cap;
} ev_list;

static acp_status emit_events(cache *c, acp_call *call, const acp_event_query *q,
                              const cache_event *ev, int64_t n)
{
    int64_t skip = q->offset, sent = 0;
    for (int64_t i = q->after_seq; i < n && sent < q->limit; i++) {
        if (skip > 0) {
            skip--;
            continue;
        }
        acp_item it = {0};
        it.doc = ev[i].doc;
        it.doc_len = ev[i].len;
        it.seq = i + 1;
        it.stored_us = ev[i].stored_us;
        if (c->host->emit(call, &it))
            return ACP_NOMEM;
        sent++;
    }
    return ACP_OK;
}

/* ---- the front: look up, lease, fill ---- */

/* What a front lookup found.  The sink serves a hit at once (the item is
 * valid only during the sink), so a hit costs no copy of its own. */
typedef struct look {
    cache *c;
    acp_call *call;
    const char *id;              /* the run id, for the items */
    const acp_event_query *q;    /* events: the caller's query */
    int served;                  /* a hit was emitted (status in st) */
    int too_many;                /* events: the front says "ask the back" */
    acp_status st;
    int64_t fv;                  /* the entry's front version (a miss) */
} look;

static int trusted(const look *l, const cache_entry *e)
{
    cache *c = l->c;
    return e->gen == cache_generation(c) &&
           (!c->conf.ttl_us || wall_us(c) - e->filled_us <= c->conf.ttl_us);
}

static int look_sink(void *arg, const acp_item *it)
{
    look *l = arg;
    cache_entry e;
    l->fv = it->version;
    if (!cache_entry_decode(it->doc, it->doc_len, &e) || !trusted(l, &e))
        return 0;
    if (e.kind == CACHE_RUN) {
        l->served = 1;
        l->st = emit_run(l->c, l->call, l->id, e.doc, e.doc_len, e.created_us, e.version);
    } else if (e.kind == CACHE_EVENTS && e.version < 0) {
        l->too_many = 1;
    } else if (e.kind == CACHE_EVENTS) {
        /* The index was checked by decode: walk it to the page. */
        cache_event_iter iter;
        cache_event ev;
        int64_t skip = l->q->offset, sent = 0;
        cache_events_begin(&e, it->doc + it->doc_len, &iter);
        l->st = ACP_OK;
        for (int64_t i = 1; i <= e.version && sent < l->q->limit; i++) {
            if (!cache_events_next(&iter, &ev))
                break;
            if (i <= l->q->after_seq || (skip > 0 && skip-- > 0))
                continue;
            acp_item x = {0};
            x.doc = ev.doc;
            x.doc_len = ev.len;
            x.seq = i;
            x.stored_us = ev.stored_us;
            if (l->c->host->emit(l->call, &x)) {
                l->st = ACP_NOMEM;
                break;
            }
            sent++;
        }
        l->served = 1;
    }
    return 0;
}

/* Look key up; 1 when served (l->st says how), else 0 with l->fv set to
 * the entry's front version (EXPECT_ABSENT when none) and *use
 * cleared when the front failed. */
static int front_lookup(cache *c, const char *key, look *l, int *use, acp_call *call)
{
    l->fv = EXPECT_ABSENT;
    acp_status st = c->ops->get_run(c->front, key, look_sink, l, call);
    if (l->served && st == ACP_OK)
        atomic_fetch_add(&c->st.hits, 1);
    if (l->served)
        return 1;
    if (st == ACP_NOT_FOUND)
        l->fv = EXPECT_ABSENT;
    else if (st != ACP_OK && cache_front_failed(c, st, "reading", l->id))
        *use = 0;
    return 0;
}

/* Store entry e under key, expecting front version expect (EXPECT_ANY:
 * none); *fv receives the new front version. */
static acp_status front_put(cache *c, const char *key, const cache_entry *e,
                            const cache_event *evs, int64_t expect, int64_t *fv, acp_call *call)
{
    size_t len;
    char *doc = cache_entry_encode(e, evs, key, &len);
    if (!doc)
        return ACP_NOMEM;
    uint32_t flags = expect == EXPECT_ANY ? 0u
                     : expect == EXPECT_ABSENT ? ACP_RUN_IF_ABSENT : ACP_RUN_IF_VERSION;
    acp_status st = c->ops->save_run_v(c->front, doc, len, flags, expect, ACP_NO_TIME, fv, call);
    free(doc);
    return st;
}

/* A miss: take the lease on key (expecting the version the lookup saw).
 * 1 with *lease set when held; 0 when another caller changed the entry
 * first or the front failed (*use cleared): read the back, fill nothing. */
static int take_lease(cache *c, const char *key, int64_t expect, int64_t *lease, int *use,
                      const char *id, acp_call *call)
{
    cache_entry e = {CACHE_LEASE, cache_generation(c), 0, 0, wall_us(c), NULL, 0, NULL};
    acp_status st = front_put(c, key, &e, NULL, expect, lease, call);
    if (st == ACP_OK)
        return 1;
    if (st == ACP_CONFLICT)
        atomic_fetch_add(&c->st.fill_conflicts, 1);
    else if (cache_front_failed(c, st, "taking a lease", id))
        *use = 0;
    return 0;
}

/* Fill key under the lease: refused (CONFLICT) when anything changed the
 * entry since the lease was taken. */
static void fill(cache *c, const char *key, const cache_entry *e, const cache_event *evs,
                 int64_t lease, const char *id, acp_call *call)
{
    int64_t fv;
    acp_status st = front_put(c, key, e, evs, c->unsafe_fill ? EXPECT_ANY : lease, &fv, call);
    if (st == ACP_OK)
        atomic_fetch_add(&c->st.fills, 1);
    else if (st == ACP_CONFLICT)
        atomic_fetch_add(&c->st.fill_conflicts, 1);
    else
        cache_front_failed(c, st, "filling", id);
}

/* After the back acknowledged a write of run id (or failed in a way that
 * may have applied it), begun at back_t0 (cache_mono_us): remove the run's
 * entries keys from the front.  A removal changes the entry's front
 * version, so every fill under a lease taken before it fails; a fill under
 * a lease taken after it read the back after the write.  (Writing the new
 * version instead would race with deletes: a late write of a version the
 * back has deleted since would land in an empty front.)  When the front
 * cannot be reached, the back is told (cache_suspect).  The times of both
 * steps go to the counters. */
static acp_status invalidate(cache *c, int64_t back_t0, const char *const keys[2],
                             const char *id, acp_call *call)
{
    int64_t t1 = cache_mono_us();
    int use = cache_front_usable(c, call);
    for (int i = 0; use && i < 2 && keys[i]; i++) {
        acp_status st = c->ops->delete_run(c->front, keys[i], call);
        if (cache_front_failed(c, st, "removing a changed run", id))
            use = 0;
    }
    acp_status st = use ? ACP_OK : cache_suspect(c, call);
    atomic_fetch_add(&c->st.writes, 1);
    atomic_fetch_add(&c->st.write_back_us, t1 - back_t0);
    atomic_fetch_add(&c->st.write_front_us, cache_mono_us() - t1);
    return st;
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
    const char *unsafe = secure_getenv("ACP_CACHE_TEST_UNSAFE");
    c->unsafe_fill = unsafe && strcmp(unsafe, "fill") == 0;
    c->unsafe_suspect = unsafe && strcmp(unsafe, "suspect") == 0;
    if (unsafe)
        host->log(1, "cache", "ACP_CACHE_TEST_UNSAFE=%.16s: this store may serve stale runs "
                              "(a switch for tests only)", unsafe);
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
 * counters (get_session "acp-cache.stats") and the log. */
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
    char key[CACHE_KEY_MAX + 3];
    look l = {c, call, id, NULL, 0, 0, ACP_OK, 0};
    int64_t lease = 0;
    int use = front_key(key, 'r', id) && cache_front_usable(c, call);
    if (use && front_lookup(c, key, &l, &use, call))
        return l.st;
    atomic_fetch_add(use ? &c->st.misses : &c->st.bypassed, 1);
    use = use && take_lease(c, key, l.fv, &lease, &use, id, call);
    got bk = {0};
    acp_status st = c->ops->get_run(c->back, id, cache_got_sink, &bk, call);
    if (st == ACP_OK) {
        if (use) {
            cache_entry e = {CACHE_RUN, cache_generation(c), bk.version, bk.created_us,
                             wall_us(c), bk.doc, bk.len, NULL};
            fill(c, key, &e, NULL, lease, id, call);
        }
        st = emit_run(c, call, id, bk.doc, bk.len, bk.created_us, bk.version);
    }
    free(bk.doc);
    return st;
}

static acp_status cache_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    cache *c = b;
    char rkey[CACHE_KEY_MAX + 3];
    int64_t version = 0;
    int keyed = front_key(rkey, 'r', r->run_id);
    uint32_t flags = r->flags & (ACP_RUN_IF_VERSION | ACP_RUN_IF_ABSENT | ACP_RUN_SET_VERSION |
                                 ACP_RUN_IF_NEWER);
    int64_t t0 = cache_mono_us();
    acp_status st = c->ops->save_run_v(c->back, r->doc, r->doc_len, flags, r->version,
                                       (flags & ACP_RUN_SET_VERSION) ? r->created_us : ACP_NO_TIME,
                                       &version, call);
    if (keyed && st != ACP_INVALID) {
        /* Written, or perhaps written (a timeout after the commit); or a
         * CONFLICT: the back holds a version the caller did not expect,
         * which the front may not know (a writer that stopped between the
         * back's commit and the front's removal), and a caller that reads
         * again to retry must get the back's. */
        const char *keys[2] = {rkey, NULL};
        acp_status is = invalidate(c, t0, keys, r->run_id, call);
        if (st == ACP_OK && is != ACP_OK)
            return is;
    }
    if (st == ACP_OK || (st == ACP_CONFLICT && version >= 0))
        acp_report_version(c->host, call, version);
    return st;
}

static acp_status cache_delete_run(acp_backend *b, const char *id, acp_call *call)
{
    cache *c = b;
    char rkey[CACHE_KEY_MAX + 3], ekey[CACHE_KEY_MAX + 3];
    int64_t t0 = cache_mono_us();
    acp_status st = c->ops->delete_run(c->back, id, call);
    /* Also after NOT_FOUND: another delete may have removed the run from the
     * back and not yet from the front, and this answer says it is gone. */
    if (front_key(rkey, 'r', id) && front_key(ekey, 'e', id) && st != ACP_INVALID) {
        const char *keys[2] = {rkey, ekey};
        acp_status is = invalidate(c, t0, keys, id, call);
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
    char doc[640];
    int64_t now = cache_mono_us();
    pthread_mutex_lock(&c->mu);
    int down = now < c->down_until || c->down;
    pthread_mutex_unlock(&c->mu);
    int n = snprintf(doc, sizeof doc,
                     "{\"id\":\"" CACHE_STATS_ID "\",\"front\":\"%s\",\"hits\":%lld,"
                     "\"misses\":%lld,\"bypassed\":%lld,\"fills\":%lld,\"fill_conflicts\":%lld,"
                     "\"front_errors\":%lld,\"suspects\":%lld,\"generations\":%lld,"
                     "\"writes\":%lld,\"write_back_us\":%lld,\"write_front_us\":%lld}",
                     down ? "down" : "up", (long long)atomic_load(&c->st.hits),
                     (long long)atomic_load(&c->st.misses), (long long)atomic_load(&c->st.bypassed),
                     (long long)atomic_load(&c->st.fills),
                     (long long)atomic_load(&c->st.fill_conflicts),
                     (long long)atomic_load(&c->st.front_errors),
                     (long long)atomic_load(&c->st.suspects),
                     (long long)atomic_load(&c->st.generations),
                     (long long)atomic_load(&c->st.writes),
                     (long long)atomic_load(&c->st.write_back_us),
                     (long long)atomic_load(&c->st.write_front_us));
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

/* ---- events: the front holds all of a run's events, or none ---- */

/* Runs with more events than one back page are not kept in the front. */
#define EVENTS_MAX 1000

static int ev_sink(void *arg, const acp_item *it)
{
    ev_list *l = arg;
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 16;
        cache_event *ev = realloc(l->ev, (size_t)cap * sizeof *ev);
        if (!ev)
            return 1;
        l->ev = ev;
        l->cap = cap;
    }
    char *d = malloc(it->doc_len ? it->doc_len : 1);
    if (!d)
        return 1;
    memcpy(d, it->doc, it->doc_len);
    cache_event *ev = &l->ev[l->n++];
    ev->stored_us = it->stored_us;
    ev->doc = d;
    ev->len = it->doc_len;
    return 0;
}

static void ev_free(ev_list *l)
{
    for (int64_t i = 0; i < l->n; i++)
        free((char *)l->ev[i].doc);
    free(l->ev);
}

static acp_status cache_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                                  acp_call *call)
{
    cache *c = b;
    char ekey[CACHE_KEY_MAX + 3];
    int64_t t0 = cache_mono_us();
    acp_status st = c->ops->add_event(c->back, ev->run_id, ev->doc, ev->doc_len, seq, call);
    if (front_key(ekey, 'e', ev->run_id) && st != ACP_INVALID) {
        const char *keys[2] = {ekey, NULL};
        acp_status is = invalidate(c, t0, keys, ev->run_id, call);
        if (st == ACP_OK && is != ACP_OK)
            return is;
    }
    return st;
}

static acp_status cache_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    cache *c = b;
    char key[CACHE_KEY_MAX + 3];
    look l = {c, call, q->run_id, q, 0, 0, ACP_OK, 0};
    int64_t lease = 0;
    int use = front_key(key, 'e', q->run_id) && cache_front_usable(c, call);
    if (use && front_lookup(c, key, &l, &use, call))
        return l.st;
    if (l.too_many) { /* known to be too long for the front */
        atomic_fetch_add(&c->st.hits, 1);
        return c->ops->get_events(c->back, q, NULL, NULL, call);
    }
    atomic_fetch_add(use ? &c->st.misses : &c->st.bypassed, 1);
    use = use && take_lease(c, key, l.fv, &lease, &use, q->run_id, call);
    if (!use)
        return c->ops->get_events(c->back, q, NULL, NULL, call);
    /* Read the whole stream, keep it in the front, answer from it. */
    acp_event_query all = {q->run_id, 0, EVENTS_MAX, 0};
    ev_list evs = {NULL, 0, 0};
    acp_status st = c->ops->get_events(c->back, &all, ev_sink, &evs, call);
    if (st == ACP_OK) {
        cache_entry e = {CACHE_EVENTS, cache_generation(c), evs.n, 0, wall_us(c), NULL, 0, NULL};
        if (evs.n == EVENTS_MAX)
            e.version = -1;
        fill(c, key, &e, evs.ev, lease, q->run_id, call);
        st = evs.n == EVENTS_MAX ? c->ops->get_events(c->back, q, NULL, NULL, call)
                                 : emit_events(c, call, q, evs.ev, evs.n);
    } else if (st == ACP_NOMEM)
        st = c->host->error(call, ACP_NOMEM, "out of memory");
    ev_free(&evs);
    return st;
}

/* Followers wait on the back, which stores the events. */
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

ACP_PLUGIN_DEFINE_TYPED(cache, ACP_STORAGE_PLUGIN_VERSION,
                        "A store before a store: reads from the front, the back is the truth",
                        ACP_CAP_CONCURRENT | ACP_CAP_FOLLOW | ACP_CAP_VERSIONS, cache_variants,
                        cache_options, &vtable)
