/* SPDX-License-Identifier: MIT */
/*
 * mem.h - internals of the memory backend shared by its files, one job each:
 *   memory.c      records, open and close, the methods, following a run
 *   mem_table.c   the hash tables keyed by id
 *   mem_index.c   list order, the run trees and their groups
 *   mem_filter.c  list_runs with status or time filters
 *   mem_stats.c   the stats method
 * memory.c's opening comment describes the layout and the locking.
 */
#ifndef ACP_MEMORY_MEM_H
#define ACP_MEMORY_MEM_H

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "acp_storage_plugin.h"
#include "ostree.h"

/* ---- a small hash table (mem_table.c) ---------------------------------- */

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

/* An empty table; 0 when out of memory. */
int table_init(table *t);
/* The node of k, or NULL. */
node *table_find(const table *t, const hkey *k);
/* Insert e, or put it in place of the node with its key.  Returns the
 * replaced node, which the caller frees once it has unlocked, or NULL. */
node *table_put(table *t, node *e);
/* Unlink and return the node of k, or NULL. */
node *table_take(table *t, const hkey *k);
/* Hand every node to destroy, then free the buckets. */
void table_free(table *t, void (*destroy)(node *));

/* ---- records (memory.c) ------------------------------------------------- */

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

static inline const char *record_doc(const record *r)
{
    return r->n.key + r->n.key_len + 1;
}

/* The index entry behind the document, at the alignment of its struct. */
static inline size_t record_index_offset(size_t key_len, size_t doc_len)
{
    const size_t a = alignof(run_index) > alignof(session_index) ? alignof(run_index) : alignof(session_index);
    return (sizeof(record) + key_len + 1 + doc_len + 1 + a - 1) / a * a;
}

static inline void *record_index(const record *r)
{
    return (char *)r + record_index_offset(r->n.key_len, r->doc_len);
}

static inline hkey hkey_of(const acp_backend *b, const char *key, size_t len)
{
    return (hkey){key, len, b->host->hash(key, len)};
}

/* host->emit copies the item at once, so emitting under the read lock hands
 * the caller a snapshot.  Non-zero means the host ran out of memory.
 * (NOT_FOUND, by contrast, is an answer rather than a failure: methods
 * return it bare, and the core words the message.) */
static inline acp_status emit(acp_backend *b, acp_call *call, const acp_item *it)
{
    if (b->host->emit(call, it) == 0)
        return ACP_OK;
    return b->host->error(call, ACP_NOMEM, "out of memory returning results");
}

static inline acp_status emit_record(acp_backend *b, acp_call *call, const record *r)
{
    acp_item it = {.doc = record_doc(r), .doc_len = r->doc_len, .key = r->n.key,
                   .created_us = r->created_us, .version = r->version};
    return emit(b, call, &it);
}

/* ---- run order and the run trees (mem_index.c) -------------------------- */

/* A position in list order: newest first, ties by run_id descending. */
typedef struct run_pos {
    int64_t created_us;
    const char *id;
    size_t id_len;
} run_pos;

#define PAIR_BUF 600 /* a pair key of two ids of ACP_ID_MAX bytes fits */

static inline run_index *rindex_of(const ost_node *n, int slot)
{
    return (run_index *)((char *)((const rslot *)n - slot) - offsetof(run_index, s));
}

/* One comparison per tree slot (list order, acp_run_order_cmp). */
extern const ost_cmp slot_cmp[T_N];

/* The group keys of a run (agent; session and pair when it has a session),
 * hashed before locking.  The pair key is the agent's length, the agent and
 * the session (the length makes it injective); it goes into buf when it
 * fits, else into *heap (freed by the caller).  Non-zero: out of memory. */
int group_keys(const acp_backend *b, const char *agent, size_t alen, const char *session,
               size_t slen, hkey k[G_N], char *buf, size_t cap, char **heap);
/* The groups of keys k, created when missing (write lock held).  Non-zero:
 * out of memory, and the groups this call created are gone again. */
int groups_get(acp_backend *b, const hkey k[G_N], group *g[G_N]);
/* Put run r into the tree of every slot it has: all runs and groups g. */
void run_link(acp_backend *b, record *r, group *const g[G_N]);
/* Take run r out of every tree it is in. */
void run_unlink(acp_backend *b, record *r);
/* Move the index entry of old to its replacement r when r keeps old's
 * created_us (a save that changes only the document or the status, the
 * usual case): in O(1) in every tree whose group stays, by a remove and an
 * insert in the tree of a changed group (a new status).  Non-zero when it
 * did; the caller drops the groups old leaves empty. */
int run_relink(acp_backend *b, record *old, record *r, group *const g[G_N]);
/* Take the groups of the unlinked run r that no run is in any more out of
 * their tables into dead[] (freed by the caller after unlocking). */
size_t groups_drop_empty(acp_backend *b, const record *r, group *dead[G_N]);
/* Free the n groups groups_drop_empty took out. */
void free_groups(group *dead[G_N], size_t n);
/* The run tree of the query's filters and its slot; NULL when no run has
 * them (read lock held). */
const ost_tree *run_set(const acp_backend *b, const acp_run_query *q, const hkey k[G_N],
                        int *slot);

/* ---- operations ---------------------------------------------------------- */

/* mem_filter.c: list_runs with status or time filters (a list_runs of the
 * memory backend with any of them comes here). */
acp_status mem_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call);
/* mem_stats.c: the stats method. */
acp_status mem_stats(acp_backend *b, acp_call *call);

#endif /* ACP_MEMORY_MEM_H */
