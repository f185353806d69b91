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

/* Counters, readable at any time (get_session CACHE_STATS_ID).  writes:
 * writes that went on to the front after the back; write_back_us and
 * write_front_us: the time those spent in the back, and after it (the
 * front's removal, a suspect token's wait): where a write's time goes. */
typedef struct cache_stats {
    atomic_llong hits, misses, fills, fill_conflicts, front_errors, suspects, generations,
        bypassed, writes, write_back_us, write_front_us;
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
    /* Tests only (ACP_CACHE_TEST_UNSAFE=fill|suspect): fill without the
     * lease, or skip the suspect token, so that tests/cache can show its
     * stale-read counter finds what these steps prevent. */
    int unsafe_fill, unsafe_suspect;
} cache;

/* ---- cache_conf.c ---- */
/* The variants (none) and typed options of the descriptor: the core checks
 * values against them before open. */
extern const char *const cache_variants[];
extern const acp_option_spec cache_options[];
/* Fill c from the open arguments (options front, back, ttl, check_ms,
 * retry_ms, already checked by the core).  INVALID when the URI has a
 * location or lacks front or back; NOMEM. */
acp_status cache_conf_parse(cache_conf *c, const acp_plugin_host *host, const acp_open_args *a,
                            acp_call *call);
void cache_conf_free(cache_conf *c);

/* ---- cache_entry.c ---- */
/* A front entry: a run document the front stores under a key of its own
 * ("r:" + run id for a run, "e:" + run id for a run's events), wrapping
 * what the cache must report.  Kinds: */
#define CACHE_LEASE 'L'  /* nothing yet: a filler holds the lease */
#define CACHE_RUN 'D'    /* the back's run document */
#define CACHE_EVENTS 'E' /* every event of the run, 1..n */
#define CACHE_KEY_MAX 254 /* longer run ids are never cached (keys are 2 + id bytes) */

typedef struct cache_entry {
    char kind;
    uint64_t gen;        /* generation it was written under */
    int64_t version;     /* runs: the back's version; events: their number n */
    int64_t created_us;  /* runs: the back's created_us */
    int64_t filled_us;   /* wall clock when written (ttl) */
    const char *doc;     /* runs: the document; events: "[e1,e2,...]" */
    size_t doc_len;
    /* events only: n pairs "stored_us len" (decode: points into the text) */
    const char *index;
} cache_entry;

/* One event of a list to encode. */
typedef struct cache_event {
    int64_t stored_us;
    const char *doc;
    size_t len;
} cache_event;

/* Build the front document of e under key (for CACHE_EVENTS, from the n =
 * e->version events evs; e->doc ignored) in a malloc'd buffer; NULL when
 * out of memory. */
char *cache_entry_encode(const cache_entry *e, const cache_event *evs, const char *key,
                         size_t *len);
/* Parse a front document written by cache_entry_encode; 0 when it is not
 * one (then treat the entry as a miss). */
int cache_entry_decode(const char *text, size_t len, cache_entry *e);
/* Walk the events of a decoded CACHE_EVENTS entry: event i (1-based) in
 * *ev.  Returns 0 when the index is damaged. */
typedef struct cache_event_iter {
    const char *idx, *end, *body;
    size_t off;
} cache_event_iter;
void cache_events_begin(const cache_entry *e, const char *text_end, cache_event_iter *it);
int cache_events_next(cache_event_iter *it, cache_event *ev);

/* ---- cache_front.c ---- */
/* One item of a child call, copied (doc NUL-terminated, to free). */
typedef struct got {
    char *doc;
    size_t len;
    int64_t created_us, version;
} got;
/* acp_child_sink filling a got. */
int cache_got_sink(void *arg, const acp_item *it);

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
