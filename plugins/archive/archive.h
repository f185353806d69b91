/* SPDX-License-Identifier: MIT */
/*
 * archive.h - the archive backend's parts: runs move from a hot store to a
 * cold one when they are due.  Where each operation goes (the tier rule)
 * is in archive.c; the merged, deduplicated lists and totals in
 * archive_list.c; moves, the move journal and its recovery in
 * archive_move.c; the URI in archive_conf.c; copies of child items in
 * archive_util.c.  The rules themselves: docs/storage-contract.md,
 * "Archive tiers".
 */
#ifndef ACP_ARCHIVE_H
#define ACP_ARCHIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <acp_storage_plugin.h>

/* Session ids the archive keeps for itself in the hot tier (move
 * journals); applications cannot save, read or list them. */
#define ARCHIVE_RESERVED "acp-archive."
#define ARCHIVE_JOURNAL "acp-archive.journal."

typedef struct archive_conf {
    char *hot, *cold;  /* child URIs, decoded */
    int64_t after_us;  /* a final run is due this long after its last save */
    int auto_on;       /* archive as a side effect of writes */
    int64_t every;     /* ... after every this many writes */
    int64_t batch;     /* runs per automatic pass */
    int recover;       /* finish half moves at open */
} archive_conf;

typedef struct acp_backend {
    const acp_plugin_host *host;
    const acp_child_ops *ops;
    acp_child *hot, *cold;
    archive_conf conf;
    uint64_t hot_caps, cold_caps;
    /* Readers and writers share it; a move holds it alone, so that no call
     * of this handle sees a run between its copy and its removal. */
    pthread_rwlock_t lk;
    pthread_mutex_t pass_mu; /* one archive pass at a time */
    atomic_llong writes;     /* for auto: writes since open */
    atomic_ullong journal_seq;
    char tag[40];            /* this handle's journal id part */
    /* Run ids named by journals not yet finished (a move that failed, or a
     * crashed one left when recover=false): they may be in both tiers.
     * Written under lk held alone, read under lk shared. */
    char **pending;
    size_t n_pending, cap_pending;
} archive;

/* A copy of one run item of a child (owned strings). */
typedef struct arun {
    char *id;
    char *doc;
    size_t len;
    int64_t created_us, version;
} arun;

/* A growing list of run items (a child list's page). */
typedef struct arun_list {
    arun *v;
    size_t n, cap;
} arun_list;

/* ---- archive_util.c ---- */
/* Make room for element n of the array *(T **)v of *cap elements of size
 * bytes (doubling); non-zero when out of memory (the array is kept). */
int archive_grow(void *v, size_t *cap, size_t n, size_t size);
void arun_free(arun *r);
void arun_list_free(arun_list *l);
/* acp_child_sink appending a copy of the item to an arun_list. */
int arun_list_sink(void *arg, const acp_item *it);
/* Fetch run id from tier t: *found 1 with *out filled (to free), 0 when
 * the tier has no such run; another status is the child's failure. */
acp_status archive_get(archive *a, acp_child *t, const char *id, arun *out, int *found,
                       acp_call *call);
/* 1 when the two copies of a run are the same (document, creation time,
 * and version where the cold tier keeps them). */
int archive_same(const archive *a, const arun *h, const arun *c);
/* 1 when run id is named by an unfinished journal. */
int archive_pending(const archive *a, const char *id);
/* Add id to the pending ids; non-zero when out of memory. */
int archive_pending_add(archive *a, const char *id);
void archive_pending_clear(archive *a);

/* ---- archive_conf.c ---- */
extern const char *const archive_variants[];
extern const acp_option_spec archive_options[];
acp_status archive_conf_parse(archive_conf *c, const acp_plugin_host *host,
                              const acp_open_args *args, acp_call *call);
void archive_conf_free(archive_conf *c);

/* ---- archive_list.c ---- */
/* list_runs over both tiers, under lk shared. */
acp_status archive_list_runs(archive *a, const acp_run_query *q, acp_call *call);

/* ---- archive_move.c ---- */
/* One pass: finish the journals left behind, then move up to limit due
 * runs.  *moved: runs moved.  wait 0: return at once (ACP_OK, 0 moved)
 * when another pass is running. */
acp_status archive_pass(archive *a, int64_t limit, int wait, int64_t *moved, acp_call *call);
/* At open: read the journals left by a crash; finish them (recover) or
 * only remember their run ids as pending. */
acp_status archive_recover(archive *a, int finish, acp_call *call);
/* After a write: an automatic pass when configured and due; failures are
 * logged, never returned. */
void archive_after_write(archive *a, acp_call *call);

#endif
