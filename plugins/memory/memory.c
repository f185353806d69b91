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
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t under -std=c11 */
#define _GNU_SOURCE /* glibc's pthread_rwlockattr_setkind_np: see lock_init */

#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage_plugin.h"
#include "ostree.h"

/* ---- a small hash table ------------------------------------------------ */

/* The head of every stored block: its id and its link in a bucket chain. */
typedef struct node {
    struct node *next;
    uint64_t hash;
    const char *key; /* the id (NUL-terminated for records), inside the block */
    size_t key_len;
} node;

/* Separate chaining over a power-of-two number of buckets. */
typedef struct table {
    node **buckets;
    size_t nbuckets;
    size_t count;
} table;

/* A key to look up, with its hash computed before locking. */
typedef struct hkey {
    const char *key;
    size_t len;
    uint64_t hash;
} hkey;

static int table_init(table *t)
{
    t->nbuckets = 16;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets != NULL;
}

/* The link that points at k's node, or the NULL that ends its chain. */
static node **table_slot(const table *t, const hkey *k)
{
    node **p = &t->buckets[k->hash & (t->nbuckets - 1)];
    while (*p && !((*p)->hash == k->hash && (*p)->key_len == k->len &&
                   memcmp((*p)->key, k->key, k->len) == 0))
        p = &(*p)->next;
    return p;
}

static node *table_find(const table *t, const hkey *k)
{
    return *table_slot(t, k);
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
    node **p = table_slot(t, &(hkey){e->key, e->key_len, e->hash});
    node *old = *p;
    e->next = old ? old->next : NULL;
    *p = e;
    if (!old)
        t->count++;
    return old;
}

/* Unlink and return the node of k, or NULL. */
static node *table_take(table *t, const hkey *k)
{
    node **p = table_slot(t, k);
    node *old = *p;
    if (old) {
        *p = old->next;
        t->count--;
    }
    return old;
}

static void table_free(table *t, void (*destroy)(node *))
{
    for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
        for (node *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            destroy(e);
        }
    }
    free(t->buckets);
}

/* ---- records ------------------------------------------------------------ */

/* A run or a session: this header, then the id and the document (each
 * NUL-terminated), then the index entry (run_index or session_index). */
typedef struct record {
    node n;
    size_t doc_len;
    int64_t created_us; /* runs; 0 for sessions */
    int64_t version;    /* runs; 0 for sessions */
} record;

/* The groups a run is listed in besides "all runs"; each is the node of a
 * table of its own (so an agent and a session of the same name differ).
 * G_STATUS: the runs of one status, for status filters. */
enum { G_AGENT, G_SESSION, G_PAIR, G_STATUS, G_N };

/* Runs sharing an agent, a session, or both, in list order.  The key (the
 * agent, the session, or the pair key) follows the struct. */
typedef struct group {
    node n;
    ost_tree runs;
} group;

/* Tree slots of a run: all runs, then one per group (slot = group + 1). */
enum { T_ALL, T_AGENT, T_SESSION, T_PAIR, T_STATUS, T_N };

/* A run's node in one tree, with the part of the sort key that decides
 * nearly every comparison, so a descent reads one cache line per level. */
typedef struct rslot {
    ost_node n;
    int64_t created_us;
} rslot;

typedef struct run_index {
    rslot s[T_N];
    record *r;
    group *g[G_N]; /* G_SESSION and G_PAIR are NULL: the run has no session */
} run_index;

typedef struct session_index {
    ost_node tn;
    record *r;
} session_index;

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
    table runs, sessions, streams, groups[G_N];
    ost_tree all_runs, all_sessions;
    uint64_t seed; /* the next group tree's seed */
    int64_t delete_mark; /* the highest run version deleted (acp_run_version_next) */
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
static acp_status mem_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call);
static acp_status mem_stats(acp_backend *b, acp_call *call);

static const char *record_doc(const record *r)
{
    return r->n.key + r->n.key_len + 1;
}

/* The index entry behind the document, at the alignment of its struct. */
static size_t record_index_offset(size_t key_len, size_t doc_len)
{
    const size_t a = alignof(run_index) > alignof(session_index) ? alignof(run_index) : alignof(session_index);
    return (sizeof(record) + key_len + 1 + doc_len + 1 + a - 1) / a * a;
}

static void *record_index(const record *r)
{
    return (char *)r + record_index_offset(r->n.key_len, r->doc_len);
}

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

static acp_status emit_record(acp_backend *b, acp_call *call, const record *r)
{
    acp_item it = {.doc = record_doc(r), .doc_len = r->doc_len, .key = r->n.key,
                   .created_us = r->created_us, .version = r->version};
    return emit(b, call, &it);
}

static hkey hkey_of(const acp_backend *b, const char *key, size_t len)
{
    return (hkey){key, len, b->host->hash(key, len)};
}

/* ---- run order and the run trees ---------------------------------------- */

/* A position in list order: newest first, ties by run_id descending. */
typedef struct run_pos {
    int64_t created_us;
    const char *id;
    size_t id_len;
} run_pos;

static run_index *rindex_of(const ost_node *n, int slot)
{
    return (run_index *)((char *)((const rslot *)n - slot) - offsetof(run_index, s));
}

/* < 0 when the run at node n of tree slot comes before position p in list
 * order (acp_run_order_cmp, the one definition of it). */
static int run_pos_cmp(const ost_node *n, int slot, const run_pos *p)
{
    const record *r = rindex_of(n, slot)->r;
    return acp_run_order_cmp(((const rslot *)n)->created_us, r->n.key, r->n.key_len,
                             p->created_us, p->id, p->id_len);
}

/* One comparison per slot: a node knows its tree only by its place. */
static int cmp_all(const ost_node *n, const void *p) { return run_pos_cmp(n, T_ALL, p); }
static int cmp_agent(const ost_node *n, const void *p) { return run_pos_cmp(n, T_AGENT, p); }
static int cmp_session(const ost_node *n, const void *p) { return run_pos_cmp(n, T_SESSION, p); }
static int cmp_pair(const ost_node *n, const void *p) { return run_pos_cmp(n, T_PAIR, p); }
static int cmp_status(const ost_node *n, const void *p) { return run_pos_cmp(n, T_STATUS, p); }
static const ost_cmp slot_cmp[T_N] = {cmp_all, cmp_agent, cmp_session, cmp_pair, cmp_status};

/* The group keys of a run (agent; session and pair when it has a session),
 * hashed before locking.  The pair key is the agent's length, the agent and
 * the session (the length makes it injective); it goes into buf when it
 * fits, else into *heap (freed by the caller).  Non-zero: out of memory. */
static int group_keys(const acp_backend *b, const char *agent, size_t alen, const char *session,
                      size_t slen, hkey k[G_N], char *buf, size_t cap, char **heap)
{
    *heap = NULL;
    k[G_AGENT] = agent ? hkey_of(b, agent, alen) : (hkey){0};
    k[G_SESSION] = session ? hkey_of(b, session, slen) : (hkey){0};
    k[G_PAIR] = (hkey){0};
    k[G_STATUS] = (hkey){0}; /* set by the caller that has a status */
    if (agent && session) {
        uint64_t al = alen;
        size_t len = sizeof al + alen + slen;
        char *p = len <= cap ? buf : (*heap = malloc(len));
        if (!p)
            return -1;
        memcpy(p, &al, sizeof al);
        memcpy(p + sizeof al, agent, alen);
        memcpy(p + sizeof al + alen, session, slen);
        k[G_PAIR] = hkey_of(b, p, len);
    }
    return 0;
}

#define PAIR_BUF 600 /* a pair key of two ids of ACP_ID_MAX bytes fits */

/* The groups of keys k, created when missing (write lock held).  Non-zero:
 * out of memory, and the groups this call created are gone again. */
static int groups_get(acp_backend *b, const hkey k[G_N], group *g[G_N])
{
    group *made[G_N] = {NULL};
    for (int i = 0; i < G_N; i++) {
        g[i] = NULL;
        if (!k[i].key)
            continue;
        g[i] = (group *)table_find(&b->groups[i], &k[i]);
        if (g[i])
            continue;
        group *ng = malloc(sizeof *ng + k[i].len);
        if (!ng) {
            for (int j = 0; j < i; j++) {
                if (made[j])
                    table_take(&b->groups[j], &k[j]);
                free(made[j]);
            }
            return -1;
        }
        memcpy(ng + 1, k[i].key, k[i].len);
        ng->n = (node){.hash = k[i].hash, .key = (const char *)(ng + 1), .key_len = k[i].len};
        ost_init(&ng->runs, b->seed++);
        table_put(&b->groups[i], &ng->n);
        g[i] = made[i] = ng;
    }
    return 0;
}

/* The tree of slot s of a run in groups g. */
static ost_tree *slot_tree(acp_backend *b, group *const g[G_N], int s)
{
    return s == T_ALL ? &b->all_runs : g[s - 1] ? &g[s - 1]->runs : NULL;
}

static void run_link(acp_backend *b, record *r, group *const g[G_N])
{
    run_index *x = record_index(r);
    run_pos p = {r->created_us, r->n.key, r->n.key_len};
    x->r = r;
    memcpy(x->g, g, sizeof x->g);
    for (int s = 0; s < T_N; s++) {
        x->s[s].created_us = r->created_us;
        ost_tree *t = slot_tree(b, g, s);
        if (t)
            ost_insert(t, &x->s[s].n, &p, slot_cmp[s]);
    }
}

static void run_unlink(acp_backend *b, record *r)
{
    run_index *x = record_index(r);
    for (int s = 0; s < T_N; s++) {
        ost_tree *t = slot_tree(b, x->g, s);
        if (t)
            ost_remove(t, &x->s[s].n);
    }
}

/* Move the index entry of old to its replacement r when r keeps old's
 * created_us (a save that changes only the document or the status, the
 * usual case): in O(1) in every tree whose group stays, by a remove and an
 * insert in the tree of a changed group (a new status).  Non-zero when it
 * did; the caller drops the groups old leaves empty. */
static int run_relink(acp_backend *b, record *old, record *r, group *const g[G_N])
{
    run_index *ox = record_index(old), *x = record_index(r);
    if (old->created_us != r->created_us)
        return 0;
    x->r = r;
    memcpy(x->g, g, sizeof x->g);
    run_pos p = {r->created_us, r->n.key, r->n.key_len};
    for (int s = 0; s < T_N; s++) {
        ost_tree *ot = slot_tree(b, ox->g, s), *t = slot_tree(b, g, s);
        x->s[s].created_us = r->created_us;
        if (t && t == ot) {
            ost_replace(t, &ox->s[s].n, &x->s[s].n);
            continue;
        }
        if (ot)
            ost_remove(ot, &ox->s[s].n);
        if (t)
            ost_insert(t, &x->s[s].n, &p, slot_cmp[s]);
    }
    return 1;
}

/* Take the groups of the unlinked run r that no run is in any more out of
 * their tables into dead[] (freed by the caller after unlocking). */
static size_t groups_drop_empty(acp_backend *b, const record *r, group *dead[G_N])
{
    const run_index *x = record_index(r);
    size_t n = 0;
    for (int i = 0; i < G_N; i++) {
        group *g = x->g[i];
        if (g && ost_size(&g->runs) == 0) {
            table_take(&b->groups[i], &(hkey){g->n.key, g->n.key_len, g->n.hash});
            dead[n++] = g;
        }
    }
    return n;
}

static void free_groups(group *dead[G_N], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dead[i]);
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

/* The run tree of the query's filters and its slot; NULL when no run has
 * them (read lock held). */
static const ost_tree *run_set(const acp_backend *b, const acp_run_query *q, const hkey k[G_N],
                               int *slot)
{
    int g = q->agent_name && q->session_id ? G_PAIR
            : q->agent_name                 ? G_AGENT
            : q->session_id                 ? G_SESSION
                                            : -1;
    *slot = g + 1;
    if (g < 0)
        return &b->all_runs;
    const group *grp = (const group *)table_find(&b->groups[g], &k[g]);
    return grp ? &grp->runs : NULL;
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

/* ---- filtered lists and statistics (operations) ------------------------ */

enum {
    STATUS_MAX = 7,  /* the ACP run statuses: no status list is longer */
    LABEL_MAX = 256, /* the longest agent name (ACP_ID_MAX) */
};

/* A run tree cut to a range of ranks [lo, hi): the runs created in the
 * query's time range, after its cursor. */
typedef struct source {
    const ost_tree *t;
    int slot;
    size_t lo, hi;
    const ost_node *at; /* the next node, when walking */
} source;

/* Probe for ost_rank: every node created at or after *us sorts before it.
 * Only the created_us beside each node is read, whatever the slot. */
static int cmp_created_from(const ost_node *n, const void *us)
{
    return ((const rslot *)n)->created_us >= *(const int64_t *)us ? -1 : 1;
}

static source source_of(const ost_tree *t, int slot, const acp_run_query *q)
{
    source s = {t, slot, 0, ost_size(t), NULL};
    if (q->created_until_us != INT64_MAX)
        s.lo = ost_rank(t, &q->created_until_us, cmp_created_from, 0);
    if (q->created_since_us != INT64_MIN)
        s.hi = ost_rank(t, &q->created_since_us, cmp_created_from, 0);
    if (q->has_cursor) {
        run_pos c = {q->cursor_created_us, q->cursor_run_id, strlen(q->cursor_run_id)};
        size_t r = ost_rank(t, &c, slot_cmp[slot], 1);
        s.lo = r > s.lo ? r : s.lo;
    }
    return s;
}

static const record *source_run(const source *s)
{
    return rindex_of(s->at, s->slot)->r;
}

/* 1 when the run at s's head comes before the run at o's in list order. */
static int source_first(const source *s, const source *o)
{
    const record *a = source_run(s), *c = source_run(o);
    return acp_run_order_cmp(a->created_us, a->n.key, a->n.key_len, c->created_us, c->n.key,
                             c->n.key_len) < 0;
}

/* 1 when run r has one of the statuses (groups st[0..n)); always when
 * the filter is applied by the trees themselves (n 0). */
static int status_in(const record *r, const group *const *st, size_t n)
{
    const group *g = ((const run_index *)record_index(r))->g[G_STATUS];
    for (size_t i = 0; i < n; i++)
        if (g == st[i])
            return 1;
    return n == 0;
}

/* A page merged from the sources in list order, skipping offset; when a
 * status filter cannot be answered by the trees (an agent or session is
 * given too), each run's status group is checked against st[0..nst). */
static acp_status emit_merged(acp_backend *b, source *src, size_t n, const acp_run_query *q,
                              const group *const *st, size_t nst, acp_call *call)
{
    int64_t skip = q->offset, left = q->limit;
    if (n == 1 && nst == 0) { /* one tree: the offset is a select by rank */
        size_t avail = src->hi > src->lo ? src->hi - src->lo : 0;
        src->lo = (uint64_t)skip < avail ? src->lo + (size_t)skip : src->hi;
        skip = 0;
    }
    for (size_t i = 0; i < n; i++)
        src[i].at = src[i].lo < src[i].hi ? ost_select(src[i].t, src[i].lo) : NULL;
    acp_status rc = ACP_OK;
    while (left > 0 && rc == ACP_OK) {
        source *best = NULL;
        for (size_t i = 0; i < n; i++)
            if (src[i].at && (!best || source_first(&src[i], best)))
                best = &src[i];
        if (!best)
            break;
        const record *r = source_run(best);
        best->at = ++best->lo < best->hi ? ost_next(best->at) : NULL;
        if (!status_in(r, st, nst))
            continue;
        if (skip > 0)
            skip--;
        else
            rc = emit_record(b, call, r), left--;
    }
    return rc;
}

/* Runs in the time range of source s (from the cursor-free bounds) whose
 * status is among st: a walk, used only when an agent or session narrows
 * the list as well. */
static size_t count_status_in(const source *s, const group *const *st, size_t nst)
{
    size_t n = 0, i = s->lo;
    for (const ost_node *at = i < s->hi ? ost_select(s->t, i) : NULL; at && i < s->hi;
         at = ost_next(at), i++)
        n += status_in(rindex_of(at, s->slot)->r, st, nst);
    return n;
}

/* list_runs with status or time filters.  Without an agent or session,
 * each wanted status has its own tree: the total is a sum of rank
 * differences, O(log n) per status, and a page merges the trees.  With an
 * agent or session, that group's tree is cut to the time range and each
 * run's status is checked (the total walks the range). */
static acp_status mem_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    char buf[PAIR_BUF], *heap;
    hkey k[G_N], sk[STATUS_MAX];
    size_t nst = q->n_statuses < STATUS_MAX ? q->n_statuses : STATUS_MAX;
    if (group_keys(b, q->agent_name, q->agent_name ? strlen(q->agent_name) : 0, q->session_id,
                   q->session_id ? strlen(q->session_id) : 0, k, buf, sizeof buf, &heap) != 0)
        return b->host->error(call, ACP_NOMEM, "out of memory listing runs");
    for (size_t i = 0; i < nst; i++)
        sk[i] = hkey_of(b, q->statuses[i], strlen(q->statuses[i]));
    int grouped = q->agent_name || q->session_id;
    source src[STATUS_MAX];
    const group *st[STATUS_MAX];
    size_t n = 0, nfound = 0;
    acp_status rc = ACP_OK;
    pthread_rwlock_rdlock(&b->lock);
    for (size_t i = 0; i < nst; i++) {
        const group *g = (const group *)table_find(&b->groups[G_STATUS], &sk[i]);
        if (g)
            st[nfound++] = g;
    }
    int slot;
    const ost_tree *t = run_set(b, q, k, &slot);
    if (nst && !grouped) { /* one source per status tree */
        for (size_t i = 0; i < nfound; i++)
            src[n++] = source_of(&st[i]->runs, T_STATUS, q);
    } else if (t && !(nst && nfound == 0)) {
        src[n++] = source_of(t, slot, q);
    }
    size_t nfilter = nst && grouped ? nfound : 0;
    if (q->want_total) {
        acp_run_query whole = *q; /* the total ignores the cursor */
        whole.has_cursor = 0;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            source w = source_of(src[i].t, src[i].slot, &whole);
            total += nfilter ? count_status_in(&w, st, nfilter) : w.hi > w.lo ? w.hi - w.lo : 0;
        }
        b->host->set_total(call, (int64_t)total);
    }
    if (q->limit > 0)
        rc = emit_merged(b, src, n, q, st, nfilter, call);
    pthread_rwlock_unlock(&b->lock);
    free(heap);
    return rc;
}

/* Every node of a table, in bucket order. */
#define TABLE_EACH(t, e)                                                                        \
    for (size_t bi_ = 0; bi_ < (t)->nbuckets; bi_++)                                            \
        for (node *e = (t)->buckets[bi_]; e; e = e->next) /* NOLINT(bugprone-macro-parentheses): e is the name it declares */

/* One figure, with the label given by its length (group keys are not
 * NUL-terminated).  Non-zero: the host is out of memory. */
static int stat_of(acp_backend *b, acp_call *call, int kind, const char *key, size_t len,
                   int64_t v)
{
    char label[LABEL_MAX + 1];
    if (key) {
        len = len < LABEL_MAX ? len : LABEL_MAX;
        memcpy(label, key, len);
        label[len] = '\0';
    }
    return b->host->stat(call, kind, key ? label : NULL, v);
}

/* Figures from the trees and tables: runs, per status and per agent from
 * the group trees' sizes; sessions from their table; events and bytes from
 * the stream and record headers (no document is read). */
static acp_status mem_stats(acp_backend *b, acp_call *call)
{
    if (b->host->size < offsetof(acp_plugin_host, stat) + sizeof b->host->stat || !b->host->stat)
        return ACP_UNSUPPORTED;
    int bad = 0;
    int64_t events = 0, bytes = (int64_t)sizeof *b;
    pthread_rwlock_rdlock(&b->lock);
    bad |= stat_of(b, call, ACP_STAT_RUNS, NULL, 0, (int64_t)ost_size(&b->all_runs));
    TABLE_EACH(&b->groups[G_STATUS], e)
    bad |= stat_of(b, call, ACP_STAT_RUNS_BY_STATUS, e->key, e->key_len,
                   (int64_t)ost_size(&((group *)e)->runs));
    TABLE_EACH(&b->groups[G_AGENT], e)
    bad |= stat_of(b, call, ACP_STAT_RUNS_BY_AGENT, e->key, e->key_len,
                   (int64_t)ost_size(&((group *)e)->runs));
    bad |= stat_of(b, call, ACP_STAT_SESSIONS, NULL, 0, (int64_t)b->sessions.count);
    TABLE_EACH(&b->runs, e)
    bytes += (int64_t)(record_index_offset(e->key_len, ((record *)e)->doc_len) +
                       sizeof(run_index));
    TABLE_EACH(&b->sessions, e)
    bytes += (int64_t)(record_index_offset(e->key_len, ((record *)e)->doc_len) +
                       sizeof(session_index));
    TABLE_EACH(&b->streams, e) {
        const stream *sm = (const stream *)e;
        events += (int64_t)sm->len;
        bytes += (int64_t)(sizeof *sm + e->key_len + sm->cap * sizeof *sm->ev);
        for (size_t i = 0; i < sm->len; i++)
            bytes += (int64_t)sm->ev[i].doc_len + 1;
    }
    pthread_rwlock_unlock(&b->lock);
    bad |= stat_of(b, call, ACP_STAT_EVENTS, NULL, 0, events);
    bad |= stat_of(b, call, ACP_STAT_BYTES, NULL, 0, bytes);
    return bad ? b->host->error(call, ACP_NOMEM, "out of memory reporting figures") : ACP_OK;
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
