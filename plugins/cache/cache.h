/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the cache backend's parts: one store (the front) before another
 * (the back).  The protocol that keeps reads fresh is in cache.c and
 * docs/storage-contract.md ("Caches: no stale reads"); trust in the front
 * (generations, suspect tokens, outages) in cache_front.c; the front's entry
 * format in cache_entry.c; the URI in cache_conf.c.
 */
#ifndef ACP_CACHE_H
#define ACP_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <acp_storage_plugin.h>

/* Session ids the cache keeps for itself: the generation record in the
 * front, the suspect token in the back, and the statistics it answers to
 * get_session.  Applications cannot save or delete them through the cache,
 * and list_sessions does not show them. */
#define CACHE_GEN_ID "acp-cache.generation"
#define CACHE_SUSPECT_ID "acp-cache.suspect"
#define CACHE_STATS_ID "acp-cache.stats"

typedef struct cache_conf {
    char *front;       /* child URIs, decoded */
    char *back;
    int64_t ttl_us;    /* 0: entries do not expire */
    int64_t check_us;  /* trust in the generation lasts this long */
    int64_t retry_us;  /* after a front failure, leave the front alone this long */
} cache_conf;

/* Counters, readable at any time (get_session CACHE_STATS_ID). */
typedef struct cache_stats {
    atomic_llong hits, misses, fills, fill_conflicts, front_errors, suspects, generations,
        bypassed;
} cache_stats;

typedef struct acp_backend {
    const acp_plugin_host *host;
    const acp_child_ops *ops;
    acp_child *front, *back;
    cache_conf conf;
    cache_stats st;
    /* Trust in the front (cache_front.c), under mu. */
    pthread_mutex_t mu;
    pthread_mutex_t refresh_mu; /* one refresh at a time */
    uint64_t gen;          /* generation read from the front */
    int64_t gen_checked;   /* monotonic us when that refresh began; 0: never */
    int64_t down_until;    /* monotonic us: the front is not used before */
    int down;              /* a failure was logged and not yet followed by a success */
} cache;

/* ---- cache_conf.c ---- */
/* Fill c from the open arguments (options front, back, ttl, check_ms,
 * retry_ms).  INVALID with a message naming the option. */
acp_status cache_conf_parse(cache_conf *c, const acp_plugin_host *host, const acp_open_args *a,
                            acp_call *call);
void cache_conf_free(cache_conf *c);

/* ---- cache_entry.c ---- */
/* A front entry: a run document the front stores under the run's own id,
 * wrapping either nothing (a lease) or the back's document with what the
 * cache must report with it. */
typedef struct cache_entry {
    int data;            /* 1: holds a document; 0: a lease */
    uint64_t gen;        /* generation it was written under */
    int64_t version;     /* the back's version of the document */
    int64_t created_us;  /* the back's created_us */
    int64_t filled_us;   /* wall clock when written (ttl) */
    const char *doc;     /* points into the parsed text */
    size_t doc_len;
} cache_entry;

/* Build the front document of e for run_id (doc ignored for a lease) in a
 * malloc'd buffer; NULL when out of memory. */
char *cache_entry_encode(const cache_entry *e, const char *run_id, size_t *len);
/* Parse a front document written by cache_entry_encode; 0 when it is not
 * one (then treat the entry as a miss). */
int cache_entry_decode(const char *text, size_t len, cache_entry *e);

/* ---- cache_front.c ---- */
int64_t cache_mono_us(void);
/* 1 when the front may be used by this call: not resting after a failure,
 * and the generation is known and fresh (refreshed here when not).  0: go
 * to the back alone. */
int cache_front_usable(cache *c, acp_call *call);
/* Whether st from a front call is a failure of the front (not an answer
 * such as NOT_FOUND or CONFLICT); a failure is counted, logged once per
 * outage and rests the front for retry_ms.  Returns 1 for a failure. */
int cache_front_failed(cache *c, acp_status st, const char *what, const char *run_id);
/* The front answered: end an outage's warning state. */
void cache_front_ok(cache *c);
/* A write was acknowledged by the back but could not invalidate the
 * front: store a fresh suspect token in the back, then wait check_ms
 * (+10 %, bounded by the call's deadline).  The back's error when the token
 * could not be stored. */
acp_status cache_suspect(cache *c, acp_call *call);
/* The generation to stamp on entries written now. */
uint64_t cache_generation(cache *c);

#endif
