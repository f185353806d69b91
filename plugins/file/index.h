/* SPDX-License-Identifier: MIT */
/*
 * index.h - the in-memory index of the file backend: every run's agent,
 * session, status and creation time, and every session id, kept in order
 * so that list_runs and list_sessions cost O(log n + page) and totals
 * O(1) (O(log n) per status with status filters or a time range).
 *
 * It is rebuilt from index.log on open and kept current by replaying the
 * records other processes append (see ilog.c).  Not thread-safe: the
 * caller holds its lock.
 */
#ifndef ACP_FILE_INDEX_H
#define ACP_FILE_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* A node of an order-statistic treap. */
typedef struct tnode {
    struct tnode *l, *r;
    uint32_t pri, cnt;
    const struct tkey *key;
} tnode;

/* Sort key: runs order by (created_us, id) descending, sessions by id. */
typedef struct tkey {
    int64_t created_us;
    const char *id;
    size_t id_len;
} tkey;

/* A hash table link; the key lives in the entry that embeds the link. */
typedef struct hlink {
    struct hlink *next;
    uint64_t hash;
    const char *key;
    size_t key_len;
} hlink;

typedef struct hmap {
    hlink **b;
    size_t nb, n;
    /* The host's keyed hash: ids are chosen by clients, who must not be
     * able to pick ids that collide (and turn lookups linear). */
    uint64_t (*hash)(const void *data, size_t len);
} hmap;

/* 0, or -1 when out of memory. */
int hmap_init(hmap *m, uint64_t (*hash)(const void *data, size_t len));
hlink *hmap_get(const hmap *m, const char *key, size_t len);
void hmap_add(hmap *m, hlink *l); /* l->key and key_len set, not present */
void hmap_del(hmap *m, hlink *l);

/* A set of runs sharing an agent, a session, a status, or some of these
 * (the group kinds G_*). */
typedef struct igroup {
    hlink link;
    tnode *root;
    char *text; /* its one value (agent, session or status); for a kind of
                 * several values, the last of them (see index.c) */
    size_t text_len;
} igroup;

/* Group kinds: each has a table of groups, and a tree slot in every run
 * that belongs to one (slot 1 + kind).  The status kinds answer status
 * filters (alone, with an agent, a session, or both) with the same ranks
 * as the others; a run whose status is not known (an index.log record of
 * FORMAT 2, until the open-time check re-reads its file) is in none. */
enum {
    G_AGENT,
    G_SESSION,
    G_PAIR, /* agent + session */
    G_STATUS,
    G_AGENT_STATUS,
    G_SESSION_STATUS,
    G_PAIR_STATUS,
    G_N
};

/* Tree slots of a run: all runs, then one per group kind. */
enum { T_ALL, T_NSLOTS = 1 + G_N };
#define T_OF(kind) (1 + (kind))

typedef struct irun {
    hlink link;        /* keyed by file name */
    tkey key;          /* created_us and id */
    igroup *g[G_N];    /* its groups; NULL where it has no session or no
                        * known status */
    uint64_t ino;      /* inode of the run file this entry describes */
    uint32_t rec_len;  /* bytes of its record in index.log */
    uint32_t mark;     /* scratch for the open-time check */
    tnode tn[T_NSLOTS];
    /* followed by name and id, NUL-terminated */
} irun;

typedef struct isession {
    hlink link;
    tkey key;
    uint64_t ino;
    uint32_t rec_len;
    uint32_t mark;
    tnode tn;
} isession;

typedef struct findex {
    hmap runs, sessions;
    hmap groups[G_N];
    tnode *all_runs, *all_sessions;
    uint64_t rng;
    uint64_t live_bytes; /* index.log bytes a compacted log would need */
} findex;

/* hash: as for hmap_init.  0, or -1 when out of memory. */
int idx_init(findex *ix, uint64_t (*hash)(const void *data, size_t len));
void idx_free(findex *ix);

static inline const char *irun_name(const irun *r)
{
    return (const char *)(r + 1);
}
static inline const char *isession_name(const isession *s)
{
    return (const char *)(s + 1);
}

irun *idx_run(const findex *ix, const char *name, size_t name_len);
isession *idx_session(const findex *ix, const char *name, size_t name_len);

/* What an index entry of a run says (index.log's run record): session and
 * status NULL when it has none / when it is not known. */
typedef struct irun_fields {
    const char *id, *agent, *session, *status;
    size_t id_len, agent_len, session_len, status_len;
    int64_t created_us;
    uint64_t ino;
    uint32_t rec_len;
} irun_fields;

/* Insert or replace (-1: out of memory, index unchanged). */
int idx_put_run(findex *ix, const char *name, size_t name_len, const irun_fields *f);
void idx_del_run(findex *ix, const char *name, size_t name_len);
int idx_put_session(findex *ix, const char *name, size_t name_len, const char *id,
                    size_t id_len, uint64_t ino, uint32_t rec_len);
void idx_del_session(findex *ix, const char *name, size_t name_len);

/*
 * One change to the index, built in advance: preparing it allocates every
 * block that applying it needs (the entry, and its agent, session and pair
 * groups in case the index has none yet), so that idx_commit() cannot fail.
 * A save or delete prepares its change before it touches the disk, and
 * after that point nothing can make it report out of memory.
 */
enum { IDX_NONE, IDX_PUT_RUN, IDX_DEL_RUN, IDX_PUT_SESSION, IDX_DEL_SESSION };
typedef struct idx_change {
    int kind;           /* IDX_*; IDX_NONE: nothing (an empty change) */
    irun *run;          /* IDX_PUT_RUN: the new entry, linked by idx_commit */
    isession *session;  /* IDX_PUT_SESSION */
    igroup *spare[G_N]; /* IDX_PUT_RUN: a block for each of its groups */
    const char *name;   /* IDX_DEL_*: the caller's, until idx_commit */
    size_t name_len;
} idx_change;

/* 0, or -1 when out of memory (c is then empty). */
int idx_prepare_run(idx_change *c, const char *name, size_t name_len, const irun_fields *f);
int idx_prepare_session(idx_change *c, const char *name, size_t name_len, const char *id,
                        size_t id_len, uint64_t ino, uint32_t rec_len);
/* kind: IDX_DEL_RUN or IDX_DEL_SESSION; allocates nothing. */
void idx_prepare_del(idx_change *c, int kind, const char *name, size_t name_len);
/* Apply c (cannot fail) and empty it; blocks it did not need are freed. */
void idx_commit(findex *ix, idx_change *c);
/* Free what c holds without applying it (an empty c is fine). */
void idx_change_free(idx_change *c);

/* The tree of the runs matching agent, session and status (each NULL:
 * any), in list order, and the slot its nodes use; *set is NULL when
 * nothing matches.  Returns -1 when out of memory. */
int idx_run_set(const findex *ix, const char *agent, size_t agent_len, const char *session,
                size_t session_len, const char *status, size_t status_len, tnode **set,
                int *slot);
/* Number of nodes of a run tree created at or after us: in list order,
 * those come first (the rank where a time range ends or starts). */
size_t idx_rank_time(const tnode *t, int64_t us);
/* Number of nodes of t strictly before position k in t's order (k NULL:
 * 0), or before-or-at k when inclusive. */
size_t idx_rank(const tnode *t, const tkey *k, int desc, int inclusive);
/* The i-th node of t (0-based), or NULL. */
const tnode *idx_select(const tnode *t, size_t i);
size_t idx_size(const tnode *t);

static inline irun *irun_of(const tnode *n, int slot)
{
    return (irun *)((char *)(n - slot) - offsetof(irun, tn));
}
static inline isession *isession_of(const tnode *n)
{
    return (isession *)((char *)n - offsetof(isession, tn));
}

/* Visit every entry (for compaction and the open-time check); stops when
 * fn returns non-zero and returns that value. */
int idx_each_run(const findex *ix, int (*fn)(irun *r, void *arg), void *arg);
int idx_each_session(const findex *ix, int (*fn)(isession *s, void *arg), void *arg);

#endif /* ACP_FILE_INDEX_H */
