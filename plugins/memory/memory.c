/* SPDX-License-Identifier: MIT */
/*
 * memory.c - the in-memory backend ("memory:").
 *
 * A complete acp-storage backend, written to be copied: every method of
 * acp_backend_vtable, safe for many threads at once, built from the plugin
 * header, libc and the shared ordered index (../common/ostree.h) alone.
 * Each open() makes a fresh, empty store that lives until close(); any path
 * in "memory:<path>" is ignored.
 *
 * Layout: hash tables keyed by id (host->hash, so ids cannot be chosen to
 * collide) -- runs, sessions and event streams; events live apart from run
 * records because a run id may have events and no record.  Every run and
 * session is ONE malloc'd block: a small header with what a get touches
 * (chain link, hash, lengths, created_us), the id and the document right
 * behind it, so a get reads a few adjacent cache lines and hands the
 * document to host->emit as one contiguous copy; the index entry (tree
 * nodes, groups) comes last, where only lists and writes look.  A save
 * builds the whole new block or fails before touching the store: no partial
 * records, and nothing a caller does to its buffers afterwards changes
 * what is stored.
 *
 * Lists: ordered indexes (order-statistic trees) in list order -- all runs,
 * and one per agent, per session and per agent+session pair -- so a page
 * costs O(log n + page) at any offset or cursor and a total O(1).  A save
 * that changes a run's agent, session or created time moves it by taking
 * the old block out of its trees and putting the new one into its own; a
 * save that changes none of them (a status update) swaps the new block
 * into the old one's tree nodes in O(1).
 * Sessions have one tree by id for list_sessions.
 *
 * Concurrency: one rwlock per instance.  Reads share it; writes take it
 * alone, which also makes add_event's "next sequence, then append" atomic.
 * Allocation happens before locking and freeing after unlocking where it
 * can, to keep the exclusive sections short.  Lock calls are unchecked: no
 * method locks twice and glibc's reader limit is far beyond any thread
 * count, so they cannot fail here.
 *
 * Files (listed in mem.h): this one holds the records, open and close, the
 * methods and following a run; the hash tables (mem_table.c), the run
 * trees (mem_index.c), the filtered lists (mem_filter.c) and the figures
 * (mem_stats.c) have their own.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t under -std=c11 */
#define _GNU_SOURCE /* glibc's pthread_rwlockattr_setkind_np: see lock_init */

#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"

/* ---- records ------------------------------------------------------------ */

static int follow_init(acp_backend *b);
static void follow_destroy(acp_backend *b);
static void follow_notify(acp_backend *b);
static acp_status mem_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call);

/* One block for the record and its index entry of index_size bytes. */
static record *record_new(const acp_plugin_host *host, const char *id, size_t id_len,
                          const char *doc, size_t doc_len, int64_t created_us,
                          size_t index_size)
{
    record *r = malloc(record_index_offset(id_len, doc_len) + index_size);
    if (!r)
        return NULL;
    char *key = (char *)(r + 1);
    memcpy(key, id, id_len);
    key[id_len] = '\0';
    memcpy(key + id_len + 1, doc, doc_len);
    key[id_len + 1 + doc_len] = '\0';
    r->n = (node){.hash = host->hash(id, id_len), .key = key, .key_len = id_len};
    r->doc_len = doc_len;
    r->created_us = created_us;
    r->version = 0;
    return r;
}

/* Blocks with nothing else to free. */
static void free_block(node *e) { free(e); }

static void free_stream(node *e)
{
    stream *s = (stream *)e;
    for (size_t i = 0; i < s->len; i++)
        free((char *)s->ev[i].doc); /* malloc'd by add_event */
    free(s->ev);
    free(s);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* glibc prefers readers by default: overlapping readers could then keep a
 * writer waiting for as long as they keep coming.  Writer preference is
 * safe here because no method takes the lock twice. */
static int lock_init(pthread_rwlock_t *lock)
{
#if defined(__GLIBC__)
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0)
        return -1;
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc;
#else
    return pthread_rwlock_init(lock, NULL);
#endif
}

static acp_status mem_open(const acp_plugin_host *host, const acp_open_args *args,
                           acp_backend **out, acp_call *call)
{
    /* No options, and the path names nothing: a new store each time (the
     * core refuses variants and options: the descriptor lists none). */
    (void)args;
    /* A host of ABI 1.2 or later always has hash; a hand-made host table
     * (a test, a benchmark) might not. */
    if (host->size < offsetof(acp_plugin_host, hash) + sizeof host->hash || !host->hash)
        return host->error(call, ACP_PLUGIN, "the host offers no hash (ABI 1.2)");
    acp_backend *b = calloc(1, sizeof *b);
    int ok = b && table_init(&b->runs) && table_init(&b->sessions) && table_init(&b->streams);
    for (int i = 0; ok && i < G_N; i++)
        ok = table_init(&b->groups[i]);
    if (ok && lock_init(&b->lock) == 0 && follow_init(b) == 0) {
        b->host = host;
        /* Priorities need only be independent of the keys. */
        b->seed = (uint64_t)host->now_us() ^ (uint64_t)(uintptr_t)b;
        ost_init(&b->all_runs, b->seed++);
        ost_init(&b->all_sessions, b->seed++);
        *out = b;
        return ACP_OK;
    }
    if (b) { /* calloc zeroed the bucket pointers that were never set */
        free(b->runs.buckets);
        free(b->sessions.buckets);
        free(b->streams.buckets);
        for (int i = 0; i < G_N; i++)
            free(b->groups[i].buckets);
        free(b);
    }
    return host->error(call, ACP_NOMEM, "out of memory opening a memory store");
}

static void mem_close(acp_backend *b)
{
    table_free(&b->runs, free_block);
    table_free(&b->sessions, free_block);
    table_free(&b->streams, free_stream);
    for (int i = 0; i < G_N; i++)
        table_free(&b->groups[i], free_block);
    pthread_rwlock_destroy(&b->lock);
    follow_destroy(b);
    free(b);
}

/* ---- runs --------------------------------------------------------------- */

/* Store a run; with insert_only, an existing run is left alone and *exists
 * set (decided under the same write lock as the insert). */
static acp_status mem_put_run(acp_backend *b, const acp_run_record *rec, int insert_only,
                              int *exists, acp_call *call)
{
    char buf[PAIR_BUF], *heap;
    hkey k[G_N];
    record *r = record_new(b->host, rec->run_id, rec->run_id_len, rec->doc, rec->doc_len,
                           rec->created_us, sizeof(run_index));
    if (!r || group_keys(b, rec->agent_name, rec->agent_name_len, rec->session_id,
                         rec->session_id_len, k, buf, sizeof buf, &heap) != 0) {
        free(r);
        goto nomem;
    }
    k[G_STATUS] = hkey_of(b, rec->status, strlen(rec->status));
    group *g[G_N], *dead[G_N];
    size_t ndead = 0;
    pthread_rwlock_wrlock(&b->lock);
    *exists = 0;
    const record *cur = (const record *)table_find(&b->runs, &(hkey){r->n.key, r->n.key_len,
                                                                      r->n.hash});
    if (insert_only && cur) {
        pthread_rwlock_unlock(&b->lock);
        *exists = 1;
        free(r);
        free(heap);
        return ACP_OK;
    }
    /* The condition and the version, decided under the write lock that
     * the replacement happens under: atomic against every other writer. */
    int64_t stored = cur ? cur->version : 0;
    if (acp_run_version_next(rec, stored, b->delete_mark, b->host->now_us(), &r->version) !=
        ACP_OK) {
        pthread_rwlock_unlock(&b->lock);
        free(r);
        free(heap);
        acp_report_version(b->host, call, stored);
        return ACP_CONFLICT;
    }
    if (groups_get(b, k, g) != 0) {
        pthread_rwlock_unlock(&b->lock);
        free(r);
        free(heap);
        goto nomem;
    }
    record *old = (record *)table_put(&b->runs, &r->n);
    /* No created_at in the document: a run keeps the time of its first save.
     * Still under the write lock, so no reader sees the interim value. */
    if (old && (rec->flags & ACP_RUN_CREATED_DEFAULT))
        r->created_us = old->created_us;
    int64_t version = r->version;
    if (!old || !run_relink(b, old, r, g)) {
        if (old)
            run_unlink(b, old);
        run_link(b, r, g);
    }
    if (old)
        ndead = groups_drop_empty(b, old, dead);
    pthread_rwlock_unlock(&b->lock);
    free(old);
    free_groups(dead, ndead);
    free(heap);
    acp_report_version(b->host, call, version);
    return ACP_OK;
nomem:
    return b->host->error(call, ACP_NOMEM, "out of memory saving run '%s'", rec->run_id);
}

static acp_status mem_save_run(acp_backend *b, const acp_run_record *rec, acp_call *call)
{
    int exists;
    return mem_put_run(b, rec, 0, &exists, call);
}

static acp_status mem_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    hkey k = hkey_of(b, run_id, strlen(run_id));
    pthread_rwlock_rdlock(&b->lock);
    const record *r = (const record *)table_find(&b->runs, &k);
    acp_status st = r ? emit_record(b, call, r) : ACP_NOT_FOUND;
    pthread_rwlock_unlock(&b->lock);
    return st;
}

static acp_status mem_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    (void)call; /* nothing here can fail; NOT_FOUND needs no message */
    hkey k = hkey_of(b, run_id, strlen(run_id));
    group *dead[G_N];
    size_t ndead = 0;
    pthread_rwlock_wrlock(&b->lock);
    record *r = (record *)table_take(&b->runs, &k);
    if (r) {
        run_unlink(b, r);
        ndead = groups_drop_empty(b, r, dead);
        if (r->version > b->delete_mark)
            b->delete_mark = r->version;
    }
    node *s = table_take(&b->streams, &k); /* so a later add_event starts at 1 */
    pthread_rwlock_unlock(&b->lock);
    if (!r && !s)
        return ACP_NOT_FOUND;
    free(r);
    free_groups(dead, ndead);
    if (s)
        free_stream(s);
    return ACP_OK;
}
/* One page from the tree of the filters: the cursor's rank, plus the
 * offset, is where the page starts; the tree's size is the total. */
static acp_status mem_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    if (q->n_statuses || q->created_since_us != INT64_MIN || q->created_until_us != INT64_MAX)
        return mem_list_filtered(b, q, call);
    char buf[PAIR_BUF], *heap;
    hkey k[G_N];
    if (group_keys(b, q->agent_name, q->agent_name ? strlen(q->agent_name) : 0, q->session_id,
                   q->session_id ? strlen(q->session_id) : 0, k, buf, sizeof buf, &heap) != 0)
        return b->host->error(call, ACP_NOMEM, "out of memory listing runs");
    acp_status st = ACP_OK;
    int slot;
    pthread_rwlock_rdlock(&b->lock);
    const ost_tree *t = run_set(b, q, k, &slot);
    size_t total = t ? ost_size(t) : 0;
    if (q->want_total)
        b->host->set_total(call, (int64_t)total);
    if (t && q->limit > 0) {
        size_t start = 0;
        if (q->has_cursor) {
            run_pos c = {q->cursor_created_us, q->cursor_run_id, strlen(q->cursor_run_id)};
            start = ost_rank(t, &c, slot_cmp[slot], 1); /* runs at or before the cursor */
        }
        /* The offset counts from the cursor; compare before adding. */
        const ost_node *n = (uint64_t)q->offset < total - start
                                ? ost_select(t, start + (size_t)q->offset)
                                : NULL;
        for (int64_t left = q->limit; n && left > 0 && st == ACP_OK; n = ost_next(n), left--)
            st = emit_record(b, call, rindex_of(n, slot)->r);
    }
    pthread_rwlock_unlock(&b->lock);
    free(heap);
    return st;
}

/* ---- sessions ----------------------------------------------------------- */

/* Session order: ascending by id. */
static int cmp_session_id(const ost_node *n, const void *key)
{
    const record *s = ((const session_index *)((const char *)n - offsetof(session_index, tn)))->r;
    const hkey *k = key;
    return acp_id_cmp(s->n.key, s->n.key_len, k->key, k->len);
}

static acp_status mem_save_session(acp_backend *b, const acp_session_record *rec,
                                   acp_call *call)
{
    record *s = record_new(b->host, rec->id, rec->id_len, rec->doc, rec->doc_len, 0,
                           sizeof(session_index));
    if (!s)
        return b->host->error(call, ACP_NOMEM, "out of memory saving session '%s'", rec->id);
    session_index *x = record_index(s);
    x->r = s;
    pthread_rwlock_wrlock(&b->lock);
    record *old = (record *)table_put(&b->sessions, &s->n);
    if (old)
        ost_remove(&b->all_sessions, &((session_index *)record_index(old))->tn);
    ost_insert(&b->all_sessions, &x->tn, &(hkey){s->n.key, s->n.key_len, 0}, cmp_session_id);
    pthread_rwlock_unlock(&b->lock);
    free(old);
    return ACP_OK;
}

static acp_status mem_get_session(acp_backend *b, const char *id, acp_call *call)
{
    hkey k = hkey_of(b, id, strlen(id));
    pthread_rwlock_rdlock(&b->lock);
    const record *s = (const record *)table_find(&b->sessions, &k);
    acp_status st = s ? emit_record(b, call, s) : ACP_NOT_FOUND;
    pthread_rwlock_unlock(&b->lock);
    return st;
}

static acp_status mem_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    (void)call; /* as in delete_run */
    hkey k = hkey_of(b, id, strlen(id));
    pthread_rwlock_wrlock(&b->lock);
    record *old = (record *)table_take(&b->sessions, &k);
    if (old)
        ost_remove(&b->all_sessions, &((session_index *)record_index(old))->tn);
    pthread_rwlock_unlock(&b->lock);
    if (!old)
        return ACP_NOT_FOUND;
    free(old); /* runs keep their session_id: nothing else changes */
    return ACP_OK;
}

/* The sessions after after_id in id order: its rank, then the tree in order. */
static acp_status mem_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                    acp_call *call)
{
    hkey after = {after_id, after_id ? strlen(after_id) : 0, 0};
    acp_status st = ACP_OK;
    pthread_rwlock_rdlock(&b->lock);
    size_t start = after_id ? ost_rank(&b->all_sessions, &after, cmp_session_id, 1) : 0;
    const ost_node *n = ost_select(&b->all_sessions, start);
    for (int64_t left = limit; n && left > 0 && st == ACP_OK; n = ost_next(n), left--)
        st = emit_record(b, call, ((const session_index *)((const char *)n - offsetof(session_index, tn)))->r);
    pthread_rwlock_unlock(&b->lock);
    return st;
}

/* ---- events ------------------------------------------------------------- */

/* Append rec (its document already copied into doc, which the stream takes
 * on success) under the write lock.  want 0: the next sequence, into *seq;
 * else only if want is the next one (returns 1 otherwise: a conflict).
 * -1: out of memory, nothing changed. */
static int stream_append(acp_backend *b, const acp_event_record *rec, char *doc, int64_t want,
                         int64_t *seq)
{
    hkey k = hkey_of(b, rec->run_id, rec->run_id_len);
    stream *s = (stream *)table_find(&b->streams, &k), *fresh = NULL;
    if (want && want != (s ? (int64_t)s->len : 0) + 1)
        return 1;
    if (!s) {
        s = fresh = malloc(sizeof *fresh + rec->run_id_len + 1);
        if (!fresh)
            return -1;
        char *key = (char *)(fresh + 1);
        memcpy(key, rec->run_id, rec->run_id_len + 1);
        fresh->n = (node){.hash = k.hash, .key = key, .key_len = k.len};
        fresh->ev = NULL;
        fresh->len = fresh->cap = 0;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        acp_item *ev = realloc(s->ev, cap * sizeof *ev);
        if (!ev) { /* s->ev is untouched: the stream is exactly as before */
            free(fresh);
            return -1;
        }
        s->ev = ev;
        s->cap = cap;
    }
    if (fresh)
        table_put(&b->streams, &fresh->n);
    *seq = (int64_t)s->len + 1;
    s->ev[s->len++] = (acp_item){.doc = doc, .doc_len = rec->doc_len, .seq = *seq,
                                 .stored_us = rec->stored_us};
    return 0;
}

static char *doc_copy(const acp_event_record *rec)
{
    char *doc = malloc(rec->doc_len + 1);
    if (doc) {
        memcpy(doc, rec->doc, rec->doc_len);
        doc[rec->doc_len] = '\0';
    }
    return doc;
}

static acp_status mem_add_event(acp_backend *b, const acp_event_record *rec, int64_t *seq,
                                acp_call *call)
{
    char *doc = doc_copy(rec);
    /* The write lock makes "next sequence, then append" atomic. */
    pthread_rwlock_wrlock(&b->lock);
    int rc = doc ? stream_append(b, rec, doc, 0, seq) : -1;
    pthread_rwlock_unlock(&b->lock);
    if (rc != 0) {
        free(doc);
        return b->host->error(call, ACP_NOMEM, "out of memory adding an event to run '%s'",
                              rec->run_id);
    }
    follow_notify(b);
    return ACP_OK;
}

/* ---- batched writes ---------------------------------------------------- */

static acp_status mem_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
                                uint32_t flags, acp_status *results, acp_call *call)
{
    for (size_t i = 0; i < n; i++) {
        int exists = 0;
        acp_status st = mem_put_run(b, &runs[i], (flags & ACP_BATCH_INSERT_ONLY) != 0, &exists,
                                    call);
        if (st != ACP_OK)
            return st;
        results[i] = exists ? ACP_CONFLICT : ACP_OK;
    }
    return ACP_OK;
}

static acp_status mem_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                                 uint32_t flags, int64_t *seqs, acp_status *results,
                                 acp_call *call)
{
    int restore = (flags & ACP_BATCH_RESTORE) != 0, rc = 0;
    size_t i = 0;
    pthread_rwlock_wrlock(&b->lock); /* one lock for the batch: appended together */
    for (; rc >= 0 && i < n; i++) {
        char *doc = doc_copy(&evs[i]);
        rc = doc ? stream_append(b, &evs[i], doc, restore ? seqs[i] : 0, &seqs[i]) : -1;
        if (rc != 0)
            free(doc);
        results[i] = rc == 1 ? ACP_CONFLICT : ACP_OK;
    }
    pthread_rwlock_unlock(&b->lock);
    if (i)
        follow_notify(b);
    if (rc < 0) /* those before are stored, as after single appends */
        return b->host->error(call, ACP_NOMEM, "out of memory adding events to run '%s'",
                              evs[i - 1].run_id);
    return ACP_OK;
}

static acp_status mem_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    hkey k = hkey_of(b, q->run_id, strlen(q->run_id));
    acp_status st = ACP_OK;
    pthread_rwlock_rdlock(&b->lock);
    const stream *s = (const stream *)table_find(&b->streams, &k);
    size_t len = s ? s->len : 0; /* an unknown run has no events: an empty page */
    /* Sequence after_seq sits at index after_seq - 1, so the page starts at
     * index after_seq + offset.  Compare before adding: no overflow. */
    uint64_t start = q->after_seq > 0 ? (uint64_t)q->after_seq : 0;
    if (start < len && (uint64_t)q->offset < len - start) {
        size_t i = (size_t)(start + (uint64_t)q->offset);
        for (int64_t left = q->limit; i < len && left > 0 && st == ACP_OK; i++, left--)
            st = emit(b, call, &s->ev[i]);
    }
    pthread_rwlock_unlock(&b->lock);
    return st;
}

/* Events of many runs in one call (copy): one lock, the runs in order. */
static acp_status mem_get_events_of_runs(acp_backend *b, const char *const *run_ids, size_t n,
                                         int64_t after_seq, int64_t limit, acp_call *call)
{
    acp_status st = ACP_OK;
    pthread_rwlock_rdlock(&b->lock);
    for (size_t r = 0; r < n && limit > 0 && st == ACP_OK; r++) {
        hkey k = hkey_of(b, run_ids[r], strlen(run_ids[r]));
        const stream *s = (const stream *)table_find(&b->streams, &k);
        size_t i = r == 0 && after_seq > 0 ? (size_t)after_seq : 0; /* seq i + 1 at index i */
        for (; s && i < s->len && limit > 0 && st == ACP_OK; i++, limit--) {
            acp_item it = s->ev[i];
            it.key = run_ids[r];
            st = emit(b, call, &it);
        }
    }
    pthread_rwlock_unlock(&b->lock);
    return st;
}

/* ---- the descriptor ----------------------------------------------------- */

static const acp_backend_vtable vtable = {
    /* init and ping are optional and left NULL: there is no process-wide
     * setup, and memory is always reachable, so the host's answer (OK) is
     * the right one.  verify is left NULL too: nothing here can be damaged
     * apart from the documents, which the core's own walk checks. */
    .open = mem_open,
    .close = mem_close,
    .save_run = mem_save_run,
    .get_run = mem_get_run,
    .delete_run = mem_delete_run,
    .list_runs = mem_list_runs,
    .save_session = mem_save_session,
    .get_session = mem_get_session,
    .delete_session = mem_delete_session,
    .add_event = mem_add_event,
    .get_events = mem_get_events,
    .list_sessions = mem_list_sessions, /* ABI 1.1 */
    .wait_events = mem_wait_events,     /* ABI 1.2 */
    .stats = mem_stats,                 /* ABI 1.2: operations */
    .save_runs = mem_save_runs,         /* ABI 1.2: batched writes */
    .add_events = mem_add_events,
    .get_events_of_runs = mem_get_events_of_runs, /* ABI 1.2: events of many runs */
};

/* "memory:" takes no variant and no options. */
static const char *const variants[] = {NULL};
static const acp_option_spec options[] = {{.name = NULL}};

ACP_PLUGIN_DEFINE_TYPED(memory, ACP_STORAGE_PLUGIN_VERSION,
                        "In-process store; data lives until close",
                        ACP_CAP_CONCURRENT | ACP_CAP_FOLLOW | ACP_CAP_VERSIONS |
                            ACP_CAP_RUN_FILTERS,
                        variants, options, &vtable)

/* ---- following a run ---------------------------------------------------- */

static int follow_init(acp_backend *b)
{
    /* Timed waits on the monotonic clock: a wall-clock step must not
     * stretch or cut a follower's timeout. */
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&b->fcv, &a);
    pthread_condattr_destroy(&a);
    if (rc == 0 && (rc = pthread_mutex_init(&b->fmu, NULL)) != 0)
        pthread_cond_destroy(&b->fcv);
    return rc;
}

static void follow_destroy(acp_backend *b)
{
    pthread_cond_destroy(&b->fcv);
    pthread_mutex_destroy(&b->fmu);
}

static void follow_notify(acp_backend *b)
{
    pthread_mutex_lock(&b->fmu);
    b->fgen++;
    pthread_cond_broadcast(&b->fcv);
    pthread_mutex_unlock(&b->fmu);
}

/* host->cancel_watch's wake: the generation moves on, so the waiter
 * re-checks, and sees the call cancelled. */
static void follow_wake(void *arg)
{
    follow_notify(arg);
}

static acp_status mem_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    /* Already cancelled: nothing registered, and the loop stops after one
     * look (events that exist are returned even then). */
    h->cancel_watch(call, follow_wake, b);
    acp_status st = ACP_OK;
    for (;;) {
        /* Read the generation before looking: an append after the look
         * moves it on, so the wait below cannot miss it. */
        pthread_mutex_lock(&b->fmu);
        uint64_t gen = b->fgen;
        pthread_mutex_unlock(&b->fmu);
        if ((st = mem_get_events(b, q, call)) != ACP_OK || h->emitted(call) > 0)
            break;
        int64_t left = h->remaining_ms(call);
        if (left == 0 || h->cancelled(call))
            break;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        if (left > 0) {
            until.tv_sec += (time_t)(left / 1000);
            until.tv_nsec += (long)(left % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
        }
        pthread_mutex_lock(&b->fmu);
        while (b->fgen == gen && !h->cancelled(call)) {
            if (left < 0)
                pthread_cond_wait(&b->fcv, &b->fmu);
            else if (pthread_cond_timedwait(&b->fcv, &b->fmu, &until) != 0)
                break;
        }
        pthread_mutex_unlock(&b->fmu);
    }
    h->cancel_unwatch(call);
    return st;
}
