/*
 * memory.c - the in-memory backend ("memory:").
 *
 * A complete acp-storage backend in one file, written to be copied: every
 * method of acp_backend_vtable, safe for many threads at once, built from
 * the plugin header and libc alone.  Each open() makes a fresh, empty store
 * that lives until close(); any path in "memory:<path>" is ignored.
 *
 * Layout: three hash tables keyed by id -- runs, sessions and event streams.
 * Events live apart from run records because a run id may have events and
 * no record.  Every run and session is ONE malloc'd block holding its struct
 * and copies of all its strings, so a save either builds the whole new
 * record or fails before touching the store: no partial records, and nothing
 * a caller does to its buffers afterwards changes what is stored.  Records
 * keep a ready acp_item, so reads hand it to host->emit as it is.
 *
 * Concurrency: one rwlock per instance.  Reads share it; writes take it
 * alone, which also makes add_event's "next sequence, then append" atomic.
 * Allocation happens before locking and freeing after unlocking where it
 * can, to keep the exclusive sections short.  Lock calls are unchecked: no
 * method locks twice and glibc's reader limit is far beyond any thread
 * count, so they cannot fail here.  Every wait is bounded: nothing blocks
 * (no I/O, no callbacks into the application) while the lock is held, each
 * section is bounded by the size of the store, and writers are preferred
 * (lock_init) so a steady stream of readers cannot hold a writer off.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t under -std=c11 */
#define _GNU_SOURCE /* glibc's pthread_rwlockattr_setkind_np: see lock_init */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage_plugin.h"

/* ---- a small hash table ------------------------------------------------ */

/* The head of every stored record: its id and its link in a bucket chain. */
typedef struct node {
    struct node *next;
    uint64_t hash;
    const char *key; /* the id, NUL-terminated, inside the record's block */
    size_t key_len;
} node;

/* Separate chaining over a power-of-two number of buckets.  Ids are chosen
 * by clients, so they are hashed with the host's keyed hash (SipHash under
 * a per-process random key): an unkeyed hash would let a client pick ids
 * that all land in one bucket and turn every lookup into a list walk. */
typedef uint64_t (*hash_fn)(const void *data, size_t len);

typedef struct table {
    node **buckets;
    size_t nbuckets;
    size_t count;
    hash_fn hash;
} table;

/* Byte-wise id order, a proper prefix first: the order of memcmp, of SQL's
 * BINARY collation, and so of every other backend. */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

static int table_init(table *t, hash_fn hash)
{
    t->hash = hash;
    t->nbuckets = 16;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets != NULL;
}

/* The link that points at key's node, or the NULL that ends its chain. */
static node **table_slot(const table *t, const char *key, size_t len, uint64_t hash)
{
    node **p = &t->buckets[hash & (t->nbuckets - 1)];
    while (*p && !((*p)->hash == hash && key_cmp((*p)->key, (*p)->key_len, key, len) == 0))
        p = &(*p)->next;
    return p;
}

static node *table_find(const table *t, const char *key)
{
    size_t len = strlen(key);
    return *table_slot(t, key, len, t->hash(key, len));
}

/* Double the buckets once chains average one node.  Growing is only an
 * optimisation: when calloc fails the chains just get longer, so inserting
 * never fails and never leaves the table half-changed. */
static void table_grow(table *t)
{
    if (t->count < t->nbuckets)
        return;
    size_t n = t->nbuckets * 2;
    node **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (node *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Insert e, or put it in place of the node with its key.  Returns the
 * replaced node, which the caller frees once it has unlocked, or NULL. */
static node *table_put(table *t, node *e)
{
    table_grow(t);
    node **p = table_slot(t, e->key, e->key_len, e->hash);
    node *old = *p;
    e->next = old ? old->next : NULL;
    *p = e;
    if (!old)
        t->count++;
    return old;
}

/* Unlink and return the node of key, or NULL. */
static node *table_take(table *t, const char *key)
{
    size_t len = strlen(key);
    node **p = table_slot(t, key, len, t->hash(key, len));
    node *old = *p;
    if (old) {
        *p = old->next;
        t->count--;
    }
    return old;
}

static void table_free(table *t, void (*destroy)(node *))
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (node *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            destroy(e);
        }
    }
    free(t->buckets);
}

/* ---- records ------------------------------------------------------------ */

typedef struct run {
    node n;
    acp_item item; /* doc, key (= n.key) and created_us, as get/list emit it */
    const char *agent;
    size_t agent_len;
    const char *session; /* NULL: the run has no session */
    size_t session_len;
} run;

typedef struct session {
    node n;
    acp_item item; /* doc and key */
} session;

/* The events of one run id.  ev[i] is sequence i + 1, so sequences have no
 * gaps or duplicates by construction; each ev[i].doc is its own block. */
typedef struct stream {
    node n;
    acp_item *ev;
    size_t len, cap;
} stream;

struct acp_backend {
    const acp_plugin_host *host;
    pthread_rwlock_t lock;
    table runs, sessions, streams;
    /* Following (mem_wait_events, at the end): every append bumps fgen and
     * wakes the waiters on fcv, under fmu. */
    pthread_mutex_t fmu;
    pthread_cond_t fcv;
    uint64_t fgen;
};
static int follow_init(acp_backend *b);
static void follow_destroy(acp_backend *b);
static void follow_notify(acp_backend *b);
static acp_status mem_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call);

/* Copy len bytes of s and a NUL to *dst, advance *dst past them, and
 * return the copy: records are laid out by successive calls. */
static const char *stash(char **dst, const char *s, size_t len)
{
    char *copy = *dst;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *dst += len + 1;
    return copy;
}

/* Hashing here, before the caller locks, keeps it out of the write lock. */
static void node_init(node *e, char **dst, const char *key, size_t len, hash_fn hash)
{
    e->next = NULL;
    e->key = stash(dst, key, len);
    e->key_len = len;
    e->hash = hash(key, len);
}

static run *run_new(const acp_run_record *rec, hash_fn hash)
{
    size_t sess = rec->session_id ? rec->session_id_len + 1 : 0;
    run *r = malloc(sizeof *r + rec->run_id_len + 1 + rec->agent_name_len + 1 + sess +
                    rec->doc_len + 1);
    if (!r)
        return NULL;
    char *p = (char *)(r + 1);
    node_init(&r->n, &p, rec->run_id, rec->run_id_len, hash);
    r->item = (acp_item){.doc = stash(&p, rec->doc, rec->doc_len), .doc_len = rec->doc_len,
                         .key = r->n.key, .created_us = rec->created_us};
    r->agent = stash(&p, rec->agent_name, rec->agent_name_len);
    r->agent_len = rec->agent_name_len;
    r->session = rec->session_id ? stash(&p, rec->session_id, rec->session_id_len) : NULL;
    r->session_len = rec->session_id ? rec->session_id_len : 0;
    return r;
}

static session *session_new(const acp_session_record *rec, hash_fn hash)
{
    session *s = malloc(sizeof *s + rec->id_len + 1 + rec->doc_len + 1);
    if (!s)
        return NULL;
    char *p = (char *)(s + 1);
    node_init(&s->n, &p, rec->id, rec->id_len, hash);
    s->item = (acp_item){.doc = stash(&p, rec->doc, rec->doc_len), .doc_len = rec->doc_len,
                         .key = s->n.key};
    return s;
}

/* Runs and sessions are single blocks; a stream also owns its events. */
static void free_block(node *e) { free(e); }

static void free_stream(node *e)
{
    stream *s = (stream *)e;
    for (size_t i = 0; i < s->len; i++)
        free((char *)s->ev[i].doc); /* malloc'd by add_event */
    free(s->ev);
    free(s);
}

/* host->emit copies the item at once, so emitting under the read lock hands
 * the caller a snapshot.  Non-zero means the host ran out of memory.
 * (NOT_FOUND, by contrast, is an answer rather than a failure: methods
 * return it bare, and the core words the message.) */
static acp_status emit(acp_backend *b, acp_call *call, const acp_item *it)
{
    if (b->host->emit(call, it) == 0)
        return ACP_OK;
    return b->host->error(call, ACP_NOMEM, "out of memory returning results");
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
    /* No options, and the path names nothing: a new store each time.  A
     * variant ("memory+x:") would promise something this backend lacks. */
    if (args->variant[0])
        return host->error(call, ACP_INVALID, "unknown variant '+%s' (memory: takes none)",
                           args->variant);
    acp_backend *b = calloc(1, sizeof *b);
    if (b && table_init(&b->runs, host->hash) && table_init(&b->sessions, host->hash) &&
        table_init(&b->streams, host->hash) &&
        lock_init(&b->lock) == 0 && follow_init(b) == 0) {
        b->host = host;
        *out = b;
        return ACP_OK;
    }
    if (b) { /* calloc zeroed the bucket pointers that were never set */
        free(b->runs.buckets);
        free(b->sessions.buckets);
        free(b->streams.buckets);
        free(b);
    }
    return host->error(call, ACP_NOMEM, "out of memory opening a memory store");
}

static void mem_close(acp_backend *b)
{
    table_free(&b->runs, free_block);
    table_free(&b->sessions, free_block);
    table_free(&b->streams, free_stream);
    pthread_rwlock_destroy(&b->lock);
    follow_destroy(b);
    free(b);
}

/* ---- runs --------------------------------------------------------------- */

static acp_status mem_save_run(acp_backend *b, const acp_run_record *rec, acp_call *call)
{
    run *r = run_new(rec, b->runs.hash);
    if (!r)
        return b->host->error(call, ACP_NOMEM, "out of memory saving run '%s'", rec->run_id);
    pthread_rwlock_wrlock(&b->lock);
    run *old = (run *)table_put(&b->runs, &r->n);
    /* No created_at in the document: a run keeps the time of its first save.
     * Still under the write lock, so no reader sees the interim value. */
    if (old && (rec->flags & ACP_RUN_CREATED_DEFAULT))
        r->item.created_us = old->item.created_us;
    pthread_rwlock_unlock(&b->lock);
    free(old);
    return ACP_OK;
}

static acp_status mem_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    pthread_rwlock_rdlock(&b->lock);
    const run *r = (const run *)table_find(&b->runs, run_id);
    acp_status st = r ? emit(b, call, &r->item) : ACP_NOT_FOUND;
    pthread_rwlock_unlock(&b->lock);
    return st;
}

static acp_status mem_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    (void)call; /* nothing here can fail; NOT_FOUND needs no message */
    pthread_rwlock_wrlock(&b->lock);
    node *r = table_take(&b->runs, run_id);
    node *s = table_take(&b->streams, run_id); /* so a later add_event starts at 1 */
    pthread_rwlock_unlock(&b->lock);
    if (!r && !s)
        return ACP_NOT_FOUND;
    free(r);
    if (s)
        free_stream(s);
    return ACP_OK;
}

/* Listing order, < 0 when run a comes before run b: newest first, ties by
 * run_id descending.  The cursor test uses it too, so they cannot disagree. */
static int run_order(int64_t a_us, const char *a, size_t alen, int64_t b_us, const char *b,
                     size_t blen)
{
    if (a_us != b_us)
        return a_us > b_us ? -1 : 1;
    return key_cmp(b, blen, a, alen);
}

static int newest_first(const void *pa, const void *pb)
{
    const run *a = *(run *const *)pa, *b = *(run *const *)pb;
    return run_order(a->item.created_us, a->n.key, a->n.key_len, b->item.created_us,
                     b->n.key, b->n.key_len);
}

/* Scan every run, sort the matches after the cursor, emit one page: O(n log
 * n) a call, some 35 ms for 100k matching runs.  That suits a store that
 * lives in one process, and spares every save and delete the upkeep of a
 * second, sorted index. */
static acp_status mem_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    size_t alen = q->agent_name ? strlen(q->agent_name) : 0;
    size_t slen = q->session_id ? strlen(q->session_id) : 0;
    size_t clen = q->has_cursor ? strlen(q->cursor_run_id) : 0;
    acp_status st = ACP_OK;

    pthread_rwlock_rdlock(&b->lock);
    run **hits = malloc((b->runs.count + 1) * sizeof *hits); /* +1: never malloc(0) */
    if (!hits) {
        pthread_rwlock_unlock(&b->lock);
        return b->host->error(call, ACP_NOMEM, "out of memory listing runs");
    }
    size_t n = 0;
    int64_t total = 0;
    for (size_t i = 0; i < b->runs.nbuckets; i++) {
        for (node *e = b->runs.buckets[i]; e; e = e->next) {
            run *r = (run *)e;
            if (q->agent_name && key_cmp(r->agent, r->agent_len, q->agent_name, alen) != 0)
                continue;
            if (q->session_id && (!r->session || key_cmp(r->session, r->session_len,
                                                         q->session_id, slen) != 0))
                continue;
            total++; /* every match of the filters, whatever the page and cursor */
            if (q->has_cursor && run_order(r->item.created_us, e->key, e->key_len,
                                           q->cursor_created_us, q->cursor_run_id, clen) <= 0)
                continue; /* at or before the cursor */
            hits[n++] = r;
        }
    }
    if (q->want_total)
        b->host->set_total(call, total);
    if (q->limit > 0)
        qsort(hits, n, sizeof *hits, newest_first);
    /* The offset counts from the cursor, not from the newest run. */
    size_t i = (uint64_t)q->offset < n ? (size_t)q->offset : n;
    for (int64_t left = q->limit; i < n && left > 0 && st == ACP_OK; i++, left--)
        st = emit(b, call, &hits[i]->item);
    pthread_rwlock_unlock(&b->lock);
    free(hits);
    return st;
}

/* ---- sessions ----------------------------------------------------------- */

static acp_status mem_save_session(acp_backend *b, const acp_session_record *rec,
                                   acp_call *call)
{
    session *s = session_new(rec, b->sessions.hash);
    if (!s)
        return b->host->error(call, ACP_NOMEM, "out of memory saving session '%s'", rec->id);
    pthread_rwlock_wrlock(&b->lock);
    node *old = table_put(&b->sessions, &s->n);
    pthread_rwlock_unlock(&b->lock);
    free(old);
    return ACP_OK;
}

static acp_status mem_get_session(acp_backend *b, const char *id, acp_call *call)
{
    pthread_rwlock_rdlock(&b->lock);
    const session *s = (const session *)table_find(&b->sessions, id);
    acp_status st = s ? emit(b, call, &s->item) : ACP_NOT_FOUND;
    pthread_rwlock_unlock(&b->lock);
    return st;
}

static acp_status mem_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    (void)call; /* as in delete_run */
    pthread_rwlock_wrlock(&b->lock);
    node *old = table_take(&b->sessions, id);
    pthread_rwlock_unlock(&b->lock);
    if (!old)
        return ACP_NOT_FOUND;
    free(old); /* runs keep their session_id: nothing else changes */
    return ACP_OK;
}

static int by_id(const void *pa, const void *pb)
{
    const node *a = *(node *const *)pa, *b = *(node *const *)pb;
    return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* Like list_runs: scan, sort what follows after_id, emit the first limit.
 * O(n log n) a page suits the export-style walks this method serves. */
static acp_status mem_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                    acp_call *call)
{
    size_t alen = after_id ? strlen(after_id) : 0;
    acp_status st = ACP_OK;

    pthread_rwlock_rdlock(&b->lock);
    node **hits = malloc((b->sessions.count + 1) * sizeof *hits);
    if (!hits) {
        pthread_rwlock_unlock(&b->lock);
        return b->host->error(call, ACP_NOMEM, "out of memory listing sessions");
    }
    size_t n = 0;
    for (size_t i = 0; i < b->sessions.nbuckets; i++)
        for (node *e = b->sessions.buckets[i]; e; e = e->next)
            if (!after_id || key_cmp(e->key, e->key_len, after_id, alen) > 0)
                hits[n++] = e;
    qsort(hits, n, sizeof *hits, by_id);
    for (size_t i = 0; i < n && (int64_t)i < limit && st == ACP_OK; i++)
        st = emit(b, call, &((session *)hits[i])->item);
    pthread_rwlock_unlock(&b->lock);
    free(hits);
    return st;
}

/* ---- events ------------------------------------------------------------- */

static acp_status mem_add_event(acp_backend *b, const acp_event_record *rec, int64_t *seq,
                                acp_call *call)
{
    char *doc = malloc(rec->doc_len + 1);
    if (!doc)
        goto nomem;
    memcpy(doc, rec->doc, rec->doc_len);
    doc[rec->doc_len] = '\0';

    /* All of the rest holds the write lock: the next sequence is the
     * stream's length, and no other append can come in between. */
    pthread_rwlock_wrlock(&b->lock);
    stream *s = (stream *)table_find(&b->streams, rec->run_id), *fresh = NULL;
    if (!s) {
        s = fresh = malloc(sizeof *fresh + rec->run_id_len + 1);
        if (!fresh)
            goto unlock_nomem;
        char *p = (char *)(fresh + 1);
        node_init(&fresh->n, &p, rec->run_id, rec->run_id_len, b->streams.hash);
        fresh->ev = NULL;
        fresh->len = fresh->cap = 0;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        acp_item *ev = realloc(s->ev, cap * sizeof *ev);
        if (!ev) { /* s->ev is untouched: the stream is exactly as before */
            free(fresh);
            goto unlock_nomem;
        }
        s->ev = ev;
        s->cap = cap;
    }
    if (fresh)
        table_put(&b->streams, &fresh->n);
    *seq = (int64_t)s->len + 1;
    s->ev[s->len++] = (acp_item){.doc = doc, .doc_len = rec->doc_len, .seq = *seq,
                                 .stored_us = rec->stored_us};
    pthread_rwlock_unlock(&b->lock);
    follow_notify(b);
    return ACP_OK;

unlock_nomem:
    pthread_rwlock_unlock(&b->lock);
    free(doc);
nomem:
    return b->host->error(call, ACP_NOMEM, "out of memory adding an event to run '%s'",
                          rec->run_id);
}

static acp_status mem_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    acp_status st = ACP_OK;
    pthread_rwlock_rdlock(&b->lock);
    const stream *s = (const stream *)table_find(&b->streams, q->run_id);
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

/* ---- the descriptor ----------------------------------------------------- */

static const acp_backend_vtable vtable = {
    /* init and ping are optional and left NULL: there is no process-wide
     * setup, and memory is always reachable, so the host's answer (OK) is
     * the right one. */
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
};

static const char *const option_names[] = {NULL}; /* "memory:" takes no options */

ACP_PLUGIN_DEFINE(memory, ACP_STORAGE_PLUGIN_VERSION, "In-process store; data lives until close",
                  ACP_CAP_CONCURRENT | ACP_CAP_FOLLOW, option_names, &vtable)

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
