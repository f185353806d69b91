/* SPDX-License-Identifier: MIT */
/*
 * acp_storage_plugin.h - the plugin ABI of acp-storage.
 *
 * A storage backend is a shared object named libacp_storage_<name>.so that
 * exports exactly one function, acp_storage_<name>_plugin(), returning a
 * descriptor (acp_plugin_descriptor) with a table of methods.  Build it with
 * this header and libc alone: a plugin never links the core library; every
 * service it needs (reporting results, errors, time) comes through the host
 * table handed to its methods.
 *
 * The division of labour: the core validates every argument and document,
 * extracts the indexed fields (ids, agent, session, status, instants),
 * checks limits, offsets and cursors, builds cursors, assigns event storage
 * times and serialises calls into plugins that are not concurrent.  A
 * backend only stores and retrieves what it is given.  Everything a method
 * receives has already been checked; a method never needs to parse JSON.
 *
 * ABI rules (docs/abi-policy.md; docs/plugin-guide.md for authors):
 *  - ACP_PLUGIN_ABI_MAJOR changes only when an existing field or method
 *    changes; plugins of another major are refused.
 *  - Structs only ever grow at their end; each addition bumps the minor.
 *    The host loads a plugin whose minor is <= its own, and calls a method
 *    only if the plugin's vtable_size covers it and the pointer is non-NULL
 *    (otherwise the call reports ACP_UNSUPPORTED).
 *  - Structs the host hands to a plugin (records, queries, the host table)
 *    are always at least as large as the plugin's header knows, because the
 *    host is never older than the plugin.
 *
 * Strings: every id handed to a plugin is NUL-terminated and never contains
 * NUL.  The records (acp_run_record, acp_session_record, acp_event_record)
 * also give the length in bytes of each id and document; ids passed as
 * method arguments or query members carry no length (use strlen).  Take a
 * document's length from its doc_len, never from a terminating NUL.
 * Pointers are valid only for the duration of the call: copy what must be
 * kept.  What the header leaves open (messages with ACP_NOT_FOUND, the
 * "<name>: " prefix, NUL-termination of emitted items, want_total, fork) is
 * answered in docs/plugin-guide.md, installed in share/doc/acp-storage.
 */
#ifndef ACP_STORAGE_PLUGIN_H
#define ACP_STORAGE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* memcmp, strlen: the inline run order below */

#include "acp_storage_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACP_PLUGIN_MAGIC 0x41435053u /* "ACPS" */
#define ACP_PLUGIN_ABI_MAJOR 1
/* History: 1.0 first release; 1.1 appended list_sessions; 1.2 appended
 * verify, wait_events and the host's hash, verify_item, verify_damage,
 * emitted, cancel_fd, cancelled, cancel_watch and cancel_unwatch; run versions
 * (ACP_CAP_VERSIONS, acp_run_record's version and the ACP_RUN_IF_VERSION,
 * IF_ABSENT, SET_VERSION and IF_NEWER flags, acp_item's version, the
 * host's set_version); child (child stores: acp_child_ops); the run order
 * functions; the descriptor's variants and typed options (acp_option_spec);
 * save_runs and add_events (batched and restoring writes, for copy);
 * migrate and the host's migrate_versions and migrate_step; run filters
 * (status, created range), purge_runs, stats and host->stat;
 * get_events_of_runs (events of many runs in one call, for copy); archive
 * tiers (the vtable's capabilities and archive, the child ops restore_runs
 * and restore_events). */
#define ACP_PLUGIN_ABI_MINOR 2

/* Capability flags a plugin declares in its descriptor. */
/* Methods may be entered by many threads at once on one instance.  Without
 * it the host lets one thread at a time into an instance. */
#define ACP_CAP_CONCURRENT (1u << 0)
/* Data survives close and reopen (and process crashes). */
#define ACP_CAP_DURABLE (1u << 1)
/* Several processes may open the same store at once. */
#define ACP_CAP_MULTIPROCESS (1u << 2)
/* The backend talks to a server: calls may report ACP_UNAVAILABLE. */
#define ACP_CAP_NETWORK (1u << 3)
/* The backend implements wait_events: a follower is woken by a native
 * notification (any thread, process or, for networked backends, machine),
 * never by polling.  Declare it together with the method. */
#define ACP_CAP_FOLLOW (1u << 4)
/* ABI 1.2, run versions: every stored run carries a version (int64 >= 1)
 * that grows with each save (rule: acp_run_version_next below), reported
 * in acp_item.version by get_run and list_runs and through
 * host->set_version by save_run; save_run honours the ACP_RUN_IF_* and
 * ACP_RUN_SET_VERSION flags atomically, across threads and processes.  Without it the host refuses conditional saves and
 * restores (ACP_UNSUPPORTED) and reports version 0. */
#define ACP_CAP_VERSIONS (1u << 5)
/* list_runs applies acp_run_query's status and created-range members
 * (ABI 1.2).  Without it the host refuses such lists with ACP_UNSUPPORTED
 * rather than let a plugin that ignores the members answer unfiltered. */
#define ACP_CAP_RUN_FILTERS (1u << 6)

/* "No value" for optional instants (finished_at). */
#define ACP_NO_TIME INT64_MIN

/* Opaque per-call context: carries the result sink, the error buffer and
 * the deadline of one call.  Owned by the host; valid during the call. */
typedef struct acp_call acp_call;

/* A backend instance, defined by the plugin. */
typedef struct acp_backend acp_backend;

/* One key/value option of the store configuration (already checked against
 * the descriptor's typed options, or its option_names).  Values are decoded
 * text; typed options arrive in their canonical spelling (acp_option_spec). */
typedef struct acp_plugin_option {
    const char *key;
    const char *value;
} acp_plugin_option;

/* Everything a plugin's open() needs to know. */
typedef struct acp_open_args {
    const char *uri;       /* the whole configuration URI, as given (may hold
                              a password: never print it; use uri_redacted) */
    const char *uri_redacted; /* same URI with any password replaced by *** */
    const char *scheme;    /* as written: "postgresql", "sqlite+wal", ... */
    const char *variant;   /* text after '+' in the scheme, or "" */
    const char *authority; /* after "//" up to '/', '?', '#'; "" if none */
    const char *path;      /* percent-decoded path: "/abs/x.db", "rel.db", "" */
    const acp_plugin_option *options; /* query parameters and API options */
    size_t n_options;
} acp_open_args;

/* A run to store.  Fields other than doc are derived by the core from doc. */
typedef struct acp_run_record {
    const char *run_id;
    size_t run_id_len;
    const char *agent_name;
    size_t agent_name_len;
    const char *session_id; /* NULL when the run has no session */
    size_t session_id_len;
    const char *status;     /* one of the ACP status names */
    int64_t created_us;     /* microseconds since the Unix epoch, UTC */
    int64_t finished_us;    /* or ACP_NO_TIME */
    uint32_t flags;         /* ACP_RUN_* below */
    const char *doc;        /* the whole run document, exactly as given */
    size_t doc_len;
    /* ---- ABI 1.2: run versions (read only with ACP_CAP_VERSIONS) ---- */
    /* With ACP_RUN_IF_VERSION: the version the run must have; with
     * ACP_RUN_SET_VERSION: the version to store; else 0.  (>= 1 when set.) */
    int64_t version;
} acp_run_record;

/* The document had no created_at: created_us is "now".  If the run already
 * exists, the backend keeps the stored created_us (a run keeps the time of
 * its first save). */
#define ACP_RUN_CREATED_DEFAULT (1u << 0)
/* ABI 1.2, run versions (ACP_CAP_VERSIONS).  A save without any of these
 * flags is an unconditional upsert.  When a condition fails, store nothing,
 * report the stored version (0: no such run) with acp_report_version and
 * return ACP_CONFLICT; the host words the message. */
/* Store only if the run exists at exactly run->version. */
#define ACP_RUN_IF_VERSION (1u << 1)
/* Store only if no run run_id exists. */
#define ACP_RUN_IF_ABSENT (1u << 2)
/* A restore or a cache fill: store the run with exactly run->version and
 * run->created_us (never the stored created_us), whatever version is
 * stored, and leave the delete mark alone.  Never with the two above. */
#define ACP_RUN_SET_VERSION (1u << 3)
/* With ACP_RUN_SET_VERSION: only if no run is stored or the stored version
 * is lower than run->version. */
#define ACP_RUN_IF_NEWER (1u << 4)

/*
 * The version rule, for every backend (docs/storage-contract.md, "Run
 * versions"): a save stores max(base + 1, now_us), where base is the
 * stored version of the run, or, when the run does not exist, the store's
 * delete mark: the highest version delete_run ever removed from this store
 * (0 in a new store; delete_run raises it atomically with the removal).
 * So versions of one run id only grow, also across delete and re-create,
 * whatever the clock does, and are close to the time of the save.  now_us
 * is the backend's clock (the server's, for networked backends).
 *
 * acp_run_version_next applies the rule and the record's condition to
 * what the backend read under its lock (stored: the run's version, 0 when
 * absent; mark: the delete mark): ACP_OK with the version to store in
 * *next, or ACP_CONFLICT (store nothing; report stored).  Backends whose
 * writes are in C call it; the others restate it in their SQL or script,
 * next to a pointer here.
 */
static inline acp_status acp_run_version_next(const acp_run_record *run, int64_t stored,
                                              int64_t mark, int64_t now_us, int64_t *next)
{
    if (run->flags & ACP_RUN_SET_VERSION) {
        if ((run->flags & ACP_RUN_IF_NEWER) && stored >= run->version)
            return ACP_CONFLICT;
        *next = run->version;
        return ACP_OK;
    }
    if (((run->flags & ACP_RUN_IF_VERSION) && stored != run->version) ||
        ((run->flags & ACP_RUN_IF_ABSENT) && stored != 0))
        return ACP_CONFLICT;
    int64_t base = stored > 0 ? stored : mark;
    *next = base + 1 > now_us ? base + 1 : now_us;
    return ACP_OK;
}

/* list_runs arguments, already validated. */
typedef struct acp_run_query {
    const char *agent_name; /* NULL: any agent */
    const char *session_id; /* NULL: any session */
    int64_t limit;          /* 0..1000; 0 only when want_total is set */
    int64_t offset;         /* >= 0; applied after the cursor */
    int want_total;         /* report the number of matches via set_total */
    int has_cursor;         /* return only runs strictly after this position */
    int64_t cursor_created_us;
    const char *cursor_run_id;
    /* ---- ABI 1.2: run filters (ACP_CAP_RUN_FILTERS) ---- */
    /* Only runs whose status is one of statuses[0..n_statuses) (distinct
     * names in the order of the ACP status list); n_statuses 0: any. */
    const char *const *statuses;
    size_t n_statuses;
    /* Only runs with created_since_us <= created_us < created_until_us
     * (INT64_MIN and INT64_MAX when open).  The total counts these too. */
    int64_t created_since_us;
    int64_t created_until_us;
} acp_run_query;

/* purge_runs arguments, already validated. */
typedef struct acp_purge_query {
    const char *const *statuses; /* as acp_run_query; n_statuses >= 1 */
    size_t n_statuses;
    int64_t finished_before_us;  /* only runs with a finished_us < this */
    const char *agent_name;      /* NULL: any agent */
    int64_t limit;               /* 1..1000: delete at most this many */
    int count_only;              /* count every match, delete nothing */
} acp_purge_query;

/* ---- time buckets (issue 19): a header-only helper, not part of the ABI ---- */
/*
 * Totals over a creation-time range without visiting every run: a backend
 * keeps, per filter key, the number of runs in each bucket of created_us at
 * ACP_TIME_BUCKET_LEVELS levels.  The bucket of instant t at level l is
 * floor(t / 2^(14 + 6 l)) (acp_time_bucket; SQL's bigint `t >> shift` is the
 * same arithmetic shift): level 0 buckets are 16.4 ms wide, each level's
 * bucket holds 64 of the level below, level 5's are 2^44 us (203 days).
 *
 * acp_time_buckets_split cuts [since, until) into whole buckets (per level
 * at most two ranges of bucket ids, together at most 126 buckets, except at
 * the top level: one range of any length) and two edges, ranges of instants inside
 * one level-0 bucket each, whose runs the backend counts one by one.  Every
 * instant of [since, until) falls in exactly one of them, and no other
 * instant does, so the total is the sum of the whole buckets' counters plus
 * the runs of the edges.  Pure arithmetic, exact for every int64 range:
 * open ends are INT64_MIN / INT64_MAX (until stays exclusive), negative
 * instants are fine, since >= until is empty (nothing to count).
 */
#define ACP_TIME_BUCKET_LEVELS 6
#define ACP_TIME_BUCKET_SHIFT0 14 /* level 0: 2^14 us */
#define ACP_TIME_BUCKET_STEP 6    /* each level: 2^6 buckets of the level below */

typedef struct acp_time_buckets {
    /* Whole buckets: at level l, the ids lo[l][i] <= id < hi[l][i] for
     * i = 0, 1 (an empty range has lo >= hi). */
    int64_t lo[ACP_TIME_BUCKET_LEVELS][2];
    int64_t hi[ACP_TIME_BUCKET_LEVELS][2];
    /* Edges: the instants head_since <= t < head_until and
     * tail_since <= t < tail_until (each empty when since >= until). */
    int64_t head_since, head_until;
    int64_t tail_since, tail_until;
} acp_time_buckets;

/* floor(v / 2^shift), for any v (a portable arithmetic shift). */
static inline int64_t acp_floor_shift_(int64_t v, int shift)
{
    return v >= 0 ? v >> shift : ~(~v >> shift);
}

/* The bucket of instant t at level (0..ACP_TIME_BUCKET_LEVELS-1). */
static inline int64_t acp_time_bucket(int64_t t, int level)
{
    return acp_floor_shift_(t, ACP_TIME_BUCKET_SHIFT0 + ACP_TIME_BUCKET_STEP * level);
}

/* The first instant of level-0 bucket b (b is a level-0 bucket id, so the
 * product stays inside int64). */
static inline int64_t acp_time_bucket_start0_(int64_t b)
{
    return b * ((int64_t)1 << ACP_TIME_BUCKET_SHIFT0);
}

/* Fills *out for the instants since <= t < until (see above). */
static inline void acp_time_buckets_split(int64_t since, int64_t until, acp_time_buckets *out)
{
    memset(out, 0, sizeof *out);
    if (since >= until)
        return;
    /* Level 0's whole buckets a <= b < z: those starting at or after since
     * and ending at or before until. */
    int64_t bs = acp_time_bucket(since, 0);
    int64_t a = acp_time_bucket_start0_(bs) == since ? bs : bs + 1;
    int64_t z = acp_time_bucket(until, 0);
    if (a >= z) { /* inside one or two level-0 buckets: all edge */
        out->head_since = since;
        out->head_until = until;
        return;
    }
    out->head_since = since;
    out->head_until = acp_time_bucket_start0_(a);
    out->tail_since = acp_time_bucket_start0_(z);
    out->tail_until = until;
    /* Climb: the parents wholly inside [a, z) go one level up; the children
     * before and after them stay at this level. */
    for (int l = 0; l < ACP_TIME_BUCKET_LEVELS; l++) {
        int64_t pa = acp_floor_shift_(a + 63, ACP_TIME_BUCKET_STEP);
        int64_t pz = acp_floor_shift_(z, ACP_TIME_BUCKET_STEP);
        if (l == ACP_TIME_BUCKET_LEVELS - 1 || pa >= pz) {
            out->lo[l][0] = a;
            out->hi[l][0] = z;
            return;
        }
        out->lo[l][0] = a;
        out->hi[l][0] = pa * 64;
        out->lo[l][1] = pz * 64;
        out->hi[l][1] = z;
        a = pa;
        z = pz;
    }
}

/* A session to store. */
typedef struct acp_session_record {
    const char *id;
    size_t id_len;
    const char *doc;
    size_t doc_len;
} acp_session_record;

/* An event to append. */
typedef struct acp_event_record {
    const char *run_id;
    size_t run_id_len;
    const char *type;       /* the event's "type" */
    int64_t stored_us;      /* storage time chosen by the core */
    const char *doc;
    size_t doc_len;
} acp_event_record;

/* get_events arguments, already validated. */
typedef struct acp_event_query {
    const char *run_id;
    int64_t after_seq;      /* only events with seq > after_seq (0: all) */
    int64_t limit;          /* 1..1000 */
    int64_t offset;         /* >= 0, applied after after_seq */
} acp_event_query;

/* One item handed back to the host. Unused fields are zero / NULL. */
typedef struct acp_item {
    const char *doc;        /* the stored document */
    size_t doc_len;
    const char *key;        /* run_id of a run, id of a session */
    int64_t created_us;     /* runs: the indexed created_us */
    int64_t seq;            /* events: sequence number */
    int64_t stored_us;      /* events: storage time */
    /* ---- ABI 1.2: run versions ---- */
    int64_t version;        /* runs, with ACP_CAP_VERSIONS: the stored version */
} acp_item;

/* Services of the host.  Size-prefixed: a plugin may use a member only if
 * host->size covers it (all members of ABI 1.0 are always present). */
typedef struct acp_plugin_host {
    size_t size;
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Hand one result to the host (copied at once).  Returns 0, or non-zero
     * when the host is out of memory or the item breaks the rules of the
     * call (more than asked for, doc NULL with a length, an event out of
     * sequence order; docs/plugin-guide.md): stop and return ACP_NOMEM (a
     * broken rule makes the call fail with ACP_PLUGIN whatever you return). */
    int (*emit)(acp_call *call, const acp_item *item);
    /* Report the number of matches of a list_runs with want_total. */
    void (*set_total)(acp_call *call, int64_t total);
    /* Record the detail message of a failure; returns code so that a method
     * can `return host->error(call, ACP_IO, "...%s", strerror(e));`. */
    acp_status (*error)(acp_call *call, acp_status code, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    /* Milliseconds left before the call should give up, or -1 for none.
     * Networked backends use it for connect and statement timeouts. */
    int64_t (*remaining_ms)(acp_call *call);
    /* Current time in microseconds since the Unix epoch. */
    int64_t (*now_us)(void);
    /* Diagnostics for operators (level 0 error .. 3 debug); never stdout. */
    void (*log)(int level, const char *plugin, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* ---- ABI 1.2 ---- */
    /* Keyed hash (SipHash under a key drawn at random once per process): every hash table over
     * client-chosen ids uses it, so nobody can choose ids that collide.  Not stable across
     * processes: never store it. Thread-safe. */
    uint64_t (*hash)(const void *data, size_t len);
    /* verify only: hand one readable stored item to the host, which checks the document (and
     * that the key matches it). kind: ACP_ITEM_RUN (item.key = run id), ACP_ITEM_SESSION (key =
     * session id), ACP_ITEM_EVENT (key = run id, seq, stored_us). Returns 0 to go on, non-zero to
     * stop (out of memory or the caller stopped): return ACP_NOMEM / stop walking. */
    int (*verify_item)(acp_call *call, int kind, const acp_item *item);
    /* verify only: report one damaged item the backend could not read or that failed its own
     * checks (checksums, framing, index mismatch, stray files). Same return convention.
     * d->size must be set; the host copies nothing after the call returns. */
    int (*verify_damage)(acp_call *call, const acp_damage *d);
    /* wait_events services (docs/plugin-guide.md, "Following a run"). */
    /* Number of items emitted so far in this call.  Lets wait_events run
     * the backend's own get_events and see whether it found anything. */
    int64_t (*emitted)(acp_call *call);
    /* A descriptor that becomes readable when the call is cancelled, for
     * poll() next to the backend's own (inotify, socket); -1 when the call
     * cannot be cancelled.  Owned by the host: never read, write or close it. */
    int (*cancel_fd)(acp_call *call);
    /* 1 once the call is cancelled, else 0.  Thread-safe. */
    int (*cancelled)(acp_call *call);
    /* For waiters on a condition variable: have wake(arg) called (from the
     * cancelling thread, at most once) when the call is cancelled.  One
     * watch per call.  Returns 0 when registered (or when the call has no
     * cancel token: then wake is never called), 1 when the call is already
     * cancelled (nothing registered).  wake must not block for long; it may
     * lock the mutex the waiter waits with. */
    int (*cancel_watch)(acp_call *call, void (*wake)(void *arg), void *arg);
    /* Drop the watch; once it returns, wake is not running and never will.
     * Call it without holding any lock that wake takes. */
    void (*cancel_unwatch)(acp_call *call);
    /* ---- ABI 1.2: run versions ---- */
    /* save_run of an ACP_CAP_VERSIONS backend: report the version the run
     * now has (ACP_OK), or the version found when the condition failed
     * (ACP_CONFLICT; 0: no such run).  Call it once, before returning;
     * acp_report_version below checks the host offers it. */
    void (*set_version)(acp_call *call, int64_t version);

    /* ---- ABI 1.2: child stores (composition) ---- */
    /* Open and call other stores by URI (acp_child_ops below).  Never NULL
     * when host->size covers it. */
    const struct acp_child_ops *child;

    /* ---- ABI 1.2: explicit migrations (migrate) ---- */
    /* migrate only: report the version of the stored schema or layout (0: no store yet) and the
     * latest this plugin knows; what names the kind ("schema version", "format version").  Call
     * it once, before any step.  Returns 0 to go on, non-zero to stop (return ACP_NOMEM). */
    int (*migrate_versions)(acp_call *call, int64_t found, int64_t latest, const char *what);
    /* migrate only: one step from version `from` to `to`, in the order they run: a one-line
     * description and the exact statements or change (detail, NULL if none).  Same return
     * convention; the host copies nothing after the call returns. */
    int (*migrate_step)(acp_call *call, int64_t from, int64_t to, const char *description,
                        const char *detail);
    /* ---- ABI 1.2: operations (stats) ---- */
    /* stats only: report one figure (kind: ACP_STAT_*; label: the status or
     * agent of the "by" kinds, else NULL; copied at once).  Returns 0, or
     * non-zero when out of memory: stop and return ACP_NOMEM. */
    int (*stat)(acp_call *call, int kind, const char *label, int64_t value);
} acp_plugin_host;

/* ---- ABI 1.2: child stores (composition) ----
 *
 * A plugin may keep other stores ("children") and call them: a cache in
 * front of a database, an archive behind a live store, a mirror.  It opens
 * each child by URI through host->child and calls it with the operations of
 * the table below, which mirror the application API.  A child is opened by
 * the core's ordinary open path (plugin search, descriptor checks, option
 * checks) and every call into it passes through the core's checks exactly
 * as an application call does: documents and ids are validated, calls into
 * a child that is not concurrent are serialised, what the child's plugin
 * hands back is checked.  A child URI may itself name a composition; the
 * nesting is limited to ACP_CHILD_DEPTH_MAX levels (deeper: ACP_INVALID
 * "store composition nested deeper than ...", which also stops a URI that
 * names itself).
 *
 * The parent call.  Every operation takes the acp_call of the parent's own
 * method (the one the host handed it; for open, the parent's open call) as
 * its last argument:
 *  - the child call ends no later than the parent's deadline
 *    (host->remaining_ms of the parent), and the child's own timeout still
 *    applies; a parent call that can be cancelled (wait_events) cancels the
 *    child call too;
 *  - a failure (any code but ACP_OK) is recorded in the parent call's error
 *    as host->error would, with a prefix naming the child, e.g.
 *    "back: sqlite: database is locked" (the host then prefixes the parent's
 *    own name: "cache: back: sqlite: database is locked").  A later
 *    host->error on the parent call replaces it; if the parent then
 *    succeeds, it is forgotten.  ACP_LOAD from open (child plugin missing)
 *    may be returned by the parent's open as it is.
 * Results are copies, handed one at a time to a sink the parent supplies:
 *   int sink(void *arg, const acp_item *item)
 * The item lives only during the sink call (copy what you keep).  A run
 * item has doc, doc_len, key (run id), created_us and, from a child with
 * ACP_CAP_VERSIONS, version (else 0); a session item doc, doc_len and key;
 * an event item doc, doc_len, seq and stored_us.  A sink
 * returning non-zero stops the delivery: the operation returns ACP_NOMEM
 * without recording a message (the sink knows why).  sink NULL forwards
 * the items to the parent call's results, exactly as host->emit would (and
 * a list_runs total to host->set_total): a parent that passes a child's
 * answer through needs no code of its own.
 *
 * Threads: a child handle may be used by any number of threads at once
 * (the core serialises a child whose plugin is not concurrent).  Children
 * may be opened in the parent's open or later; close them in the parent's
 * close, after its last call.  A child opened in the parent's open inherits
 * the parent configuration's plugin directories and call timeout.
 *
 * Growing the table (for the authors of later ABI minors): the table is
 * size-prefixed like the host table.  A new operation is appended at the
 * end, in a block naming its feature, implemented in core/child.c by the
 * same pattern (check, bind the parent call, run the core's operation,
 * deliver); a plugin uses it only when ops->size covers it.  Operations
 * that need a new item field append it to acp_item and fill it in
 * core/child.c's delivery. */

/* Deepest nesting of compositions (a store whose child has a child ...). */
#define ACP_CHILD_DEPTH_MAX 8

/* A child store opened by a plugin: opaque, owned by the plugin that opened
 * it until it closes it. */
typedef struct acp_child acp_child;

/* Receives one result of a child operation; 0 to go on, non-zero to stop. */
typedef int (*acp_child_sink)(void *arg, const acp_item *item);

typedef struct acp_child_ops {
    size_t size; /* sizeof(acp_child_ops) of the host */

    /* Open the store uri (a whole store URI, as acp_store_open takes; a
     * secret in it is never printed: messages show it redacted).  label is
     * the child's short name in messages ("front", "back"; NULL: the child's
     * backend name); it is copied.  *out is set on ACP_OK only.  Errors:
     * INVALID (bad URI, option, nesting too deep), LOAD (plugin missing or
     * refused), and whatever the child's open reports (NOT_FOUND with
     * create=false, UNAVAILABLE, IO, ...). */
    acp_status (*open)(const char *label, const char *uri, acp_child **out, acp_call *call);
    /* Close the child and release it.  No call may be running on it.
     * NULL is fine. */
    void (*close)(acp_child *child);
    /* The child's backend name ("sqlite"), its label, its ACP_CAP_* flags
     * and its document size limit (max_document_bytes).  Strings live as
     * long as the child.  Thread-safe. */
    const char *(*backend)(const acp_child *child);
    const char *(*label)(const acp_child *child);
    uint64_t (*capabilities)(const acp_child *child);
    size_t (*max_document_bytes)(const acp_child *child);

    /* The operations of acp_storage.h, applied to the child.  Arguments are
     * checked as the application API checks them (ACP_INVALID otherwise).
     * Documents are JSON text of len bytes (the record's doc and doc_len of
     * the parent's method pass straight through). */
    acp_status (*ping)(acp_child *child, acp_call *call);
    /* acp_run_save: upsert the run; created time and flags are derived from
     * the document, as for any save. */
    acp_status (*save_run)(acp_child *child, const char *doc, size_t len, acp_call *call);
    /* One run item to sink, or ACP_NOT_FOUND. */
    acp_status (*get_run)(acp_child *child, const char *run_id, acp_child_sink sink, void *arg,
                          acp_call *call);
    /* ACP_NOT_FOUND when neither the run nor events existed. */
    acp_status (*delete_run)(acp_child *child, const char *run_id, acp_call *call);
    /* Runs matching q (the parent's list_runs query passes straight
     * through: filter, cursor, offset, limit, want_total) in the run order
     * (acp_run_order_cmp), to sink.  With q->want_total, *total receives the
     * number of matches (total may be NULL; with sink NULL the total goes to
     * host->set_total). */
    acp_status (*list_runs)(acp_child *child, const acp_run_query *q, acp_child_sink sink,
                            void *arg, int64_t *total, acp_call *call);
    acp_status (*save_session)(acp_child *child, const char *doc, size_t len, acp_call *call);
    acp_status (*get_session)(acp_child *child, const char *id, acp_child_sink sink, void *arg,
                              acp_call *call);
    acp_status (*delete_session)(acp_child *child, const char *id, acp_call *call);
    /* Sessions with id > after_id (NULL: from the first), at most limit
     * (1..1000).  ACP_UNSUPPORTED when the child cannot list sessions. */
    acp_status (*list_sessions)(acp_child *child, const char *after_id, int64_t limit,
                                acp_child_sink sink, void *arg, acp_call *call);
    /* acp_event_add: the child assigns the sequence (*seq, may be NULL) and
     * the storage time. */
    acp_status (*add_event)(acp_child *child, const char *run_id, const char *doc, size_t len,
                            int64_t *seq, acp_call *call);
    /* Events of q->run_id after q->after_seq, skipping q->offset, at most
     * q->limit (0..1000), in sequence order, to sink. */
    acp_status (*get_events)(acp_child *child, const acp_event_query *q, acp_child_sink sink,
                             void *arg, acp_call *call);
    /* acp_event_follow on the child (q->offset must be 0, limit 1..1000):
     * waits at most until the parent call's deadline (none: no limit) and
     * ends early when the parent call is cancelled; ACP_OK with nothing
     * delivered then.  ACP_UNSUPPORTED when the child cannot follow
     * (no ACP_CAP_FOLLOW, or not concurrent). */
    acp_status (*wait_events)(acp_child *child, const acp_event_query *q, acp_child_sink sink,
                              void *arg, acp_call *call);

    /* ---- ABI 1.2: run versions of children (for the cache backend) ---- */
    /* Save a run with a condition or a given version, as a backend's
     * save_run receives it: flags ACP_RUN_IF_VERSION (the run must be at
     * version), ACP_RUN_IF_ABSENT (it must not exist), ACP_RUN_SET_VERSION
     * (store exactly version, with created_us, or ACP_NO_TIME: take it from
     * the document as a save does; with ACP_RUN_IF_NEWER only when nothing
     * as new is stored), or 0 (an unconditional save).  *new_version (may
     * be NULL) receives the run's version on ACP_OK, and on ACP_CONFLICT
     * the version found (0: no such run, -1: not reported).  ACP_CONFLICT when
     * the condition failed (nothing stored), ACP_UNSUPPORTED when the child
     * keeps no versions.  Run items delivered by get_run and list_runs
     * carry the child's version in acp_item.version. */
    acp_status (*save_run_v)(acp_child *child, const char *doc, size_t len, uint32_t flags,
                             int64_t version, int64_t created_us, int64_t *new_version,
                             acp_call *call);

    /* ---- ABI 1.2: restoring writes of children (for the archive backend) ---- */
    /* acp_run_restore_many on the child: store each of the n runs (doc,
     * doc_len, created_us of the records; other members ignored) only if it
     * does not exist yet, with its original creation time; results[i] is
     * ACP_OK or ACP_CONFLICT (it exists, left untouched).  Works on children
     * without versions. */
    acp_status (*restore_runs)(acp_child *child, const acp_run_record *runs, size_t n,
                               acp_status *results, acp_call *call);
    /* acp_event_restore_many on the child: event i (run_id, doc, doc_len,
     * stored_us of evs[i]) with the original sequence seqs[i]; stored only
     * when seqs[i] is its run's next sequence (results[i] ACP_OK), else
     * results[i] ACP_CONFLICT and nothing stored. */
    acp_status (*restore_events)(acp_child *child, const acp_event_record *evs,
                                 const int64_t *seqs, size_t n, acp_status *results,
                                 acp_call *call);
} acp_child_ops;

/* host->set_version when the host table has it (a hand-made table of a
 * test may not). */
static inline void acp_report_version(const acp_plugin_host *host, acp_call *call,
                                      int64_t version)
{
    if (host->size >= offsetof(acp_plugin_host, set_version) + sizeof host->set_version &&
        host->set_version)
        host->set_version(call, version);
}

/* The methods of a backend.  Every method returns an acp_status; on failure
 * it should report detail through host->error().  Methods marked optional
 * may be NULL (the host then answers as noted).  Grows only at the end. */
typedef struct acp_backend_vtable {
    /* Called once per process, before the first open, race-free.  Optional. */
    acp_status (*init)(const acp_plugin_host *host, acp_call *call);
    /* Open an instance.  Required. */
    acp_status (*open)(const acp_plugin_host *host, const acp_open_args *args,
                       acp_backend **out, acp_call *call);
    /* Release the instance and everything it holds.  Required. */
    void (*close)(acp_backend *b);
    /* Health check, bounded by remaining_ms.  Optional (NULL: OK). */
    acp_status (*ping)(acp_backend *b, acp_call *call);

    /* Upsert a run.  Required.  With ACP_CAP_VERSIONS: versioned and
     * conditional as acp_run_record describes, atomically. */
    acp_status (*save_run)(acp_backend *b, const acp_run_record *run, acp_call *call);
    /* Emit the run (doc, key, created_us) or return ACP_NOT_FOUND.  Required. */
    acp_status (*get_run)(acp_backend *b, const char *run_id, acp_call *call);
    /* Remove the run and every event of run_id (also when no run record
     * exists).  ACP_NOT_FOUND when neither existed.  Required.  With
     * ACP_CAP_VERSIONS: raise the delete mark to the removed run's version
     * in the same atomic step (see acp_run_version_next). */
    acp_status (*delete_run)(acp_backend *b, const char *run_id, acp_call *call);
    /* Emit matching runs newest first by created_us, ties by run_id
     * descending (byte-wise), after the cursor, skipping offset, at most
     * limit; set_total when asked.  Required. */
    acp_status (*list_runs)(acp_backend *b, const acp_run_query *q, acp_call *call);

    /* Upsert, fetch (emit doc and key, or ACP_NOT_FOUND), delete
     * (ACP_NOT_FOUND if absent) a session.  Required. */
    acp_status (*save_session)(acp_backend *b, const acp_session_record *s, acp_call *call);
    acp_status (*get_session)(acp_backend *b, const char *id, acp_call *call);
    acp_status (*delete_session)(acp_backend *b, const char *id, acp_call *call);

    /* Append an event, assigning the run's next sequence (1, 2, ... without
     * gaps, atomically with the append); store it with ev->stored_us and
     * report the sequence in *seq.  Required. */
    acp_status (*add_event)(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                            acp_call *call);
    /* Emit events (doc, seq, stored_us) in sequence order.  Required. */
    acp_status (*get_events)(acp_backend *b, const acp_event_query *q, acp_call *call);

    /* ---- ABI 1.1 ---- */
    /* Emit up to limit sessions with id > after_id (byte-wise; after_id NULL:
     * from the start), ascending by id.  Optional (NULL: UNSUPPORTED). */
    acp_status (*list_sessions)(acp_backend *b, const char *after_id, int64_t limit,
                                acp_call *call);

    /* ---- ABI 1.2 ---- */
    /* Walk the whole store: hand every readable item to host->verify_item, report every damaged
     * one with host->verify_damage (including what only the backend can see: indexes, counters,
     * stray files). flags: ACP_VERIFY_QUARANTINE moves damaged items aside where the backend can
     * (recoverable; report moved_to) so that the rest serves normally again. Not bounded by the
     * call deadline. Return ACP_OK when the walk completed (damage or not: the host counts the
     * reports), ACP_NOMEM when a host call returned non-zero, another code when the walk itself
     * failed. Optional (NULL: the core walks the store with list_runs, get_events and
     * list_sessions and checks what they return). */
    acp_status (*verify)(acp_backend *b, uint32_t flags, acp_call *call);
    /* Follow a run: as get_events (q->offset is always 0), but when no
     * event after q->after_seq exists yet, wait until one is stored (by any
     * thread or process of any instance) and emit from there; return with
     * nothing emitted when remaining_ms reaches 0 or the call is cancelled
     * (cancel_fd, cancel_watch).  ACP_OK in all three cases; other codes as
     * get_events.  To lose no wake-up: arm the notification first, then run
     * get_events and check host->emitted, then wait.  Native wake-ups only:
     * an idle wait must not poll (docs/plugin-guide.md).  The host calls it
     * only on ACP_CAP_CONCURRENT instances, alongside any other method.
     * Optional (NULL: the host reports ACP_UNSUPPORTED). */
    acp_status (*wait_events)(acp_backend *b, const acp_event_query *q, acp_call *call);

    /* ---- ABI 1.2: batched and restoring writes (copy, export/import) ---- */
    /* Store n runs in one call (one transaction, pipeline or flush where the
     * backend has one), each exactly as save_run would, in array order.
     * flags: ACP_BATCH_INSERT_ONLY stores only runs that do not exist yet;
     * an existing one is left untouched and gets results[i] = ACP_CONFLICT.
     * Otherwise results[i] = ACP_OK.  Return ACP_OK when every item has its
     * result; another code when the call failed as a whole (then results
     * are not read; a backend with transactions has stored none, others
     * may have stored some, as after a crash).  Optional (NULL: the core
     * calls save_run, and get_run for ACP_BATCH_INSERT_ONLY, per run). */
    acp_status (*save_runs)(acp_backend *b, const acp_run_record *runs, size_t n,
                            uint32_t flags, acp_status *results, acp_call *call);
    /* Append n events, possibly of several runs, in array order, in one
     * call.  Without ACP_BATCH_RESTORE, each gets its run's next sequence
     * as add_event would, reported in seqs[i], and results[i] = ACP_OK.
     * With ACP_BATCH_RESTORE, seqs[i] is given (the event's original
     * sequence) and evs[i].stored_us is its original storage time: the
     * event is stored only if seqs[i] is exactly its run's next sequence
     * at that point (results[i] = ACP_OK); otherwise it is not stored and
     * results[i] = ACP_CONFLICT, so sequences stay 1, 2, ... without gaps.
     * A backend that keeps a sequence counter moves it on.  Return codes as
     * save_runs.  Optional (NULL: the core calls add_event per event, and
     * for ACP_BATCH_RESTORE checks with get_events that each sequence is
     * the next one first). */
    acp_status (*add_events)(acp_backend *b, const acp_event_record *evs, size_t n,
                             uint32_t flags, int64_t *seqs, acp_status *results,
                             acp_call *call);

    /* ---- ABI 1.2: explicit migrations ---- */
    /* Report the store's schema version (host->migrate_versions), then every step that would
     * bring it to the latest (host->migrate_step), derived from the same table open() migrates
     * with.  Report every step before performing any; when a host call returns non-zero, change
     * nothing and return ACP_NOMEM.  Without ACP_MIGRATE_DRY_RUN in flags, then perform them (all or nothing where the
     * backend has transactions).  The host calls it only on an instance it opened itself with
     * the option migrate=inspect (the option migrate reaches exactly the plugins with this
     * method, whatever their option_names; its other values are "auto" and "never"):
     * such an open neither migrates nor refuses an older schema (for a dry run the host also
     * passes create=false to backends that take it), and the instance serves migrate and
     * close only.  Not bounded by the call deadline.  ACP_UNSUPPORTED for a
     * store newer than the plugin.  Optional (NULL: the host reports that the backend keeps no
     * versioned schema, nothing to migrate). */
    acp_status (*migrate)(acp_backend *b, uint32_t flags, acp_call *call);
    /* ---- ABI 1.2: operations (retention, statistics) ---- */
    /* Delete up to q->limit matching runs, each with all its events, as one
     * transaction where the backend has them, and report how many in
     * *deleted (fewer than limit: none are left).  With q->count_only,
     * delete nothing and report every match.  Optional (NULL: the host
     * walks list_runs and calls delete_run). */
    acp_status (*purge_runs)(acp_backend *b, const acp_purge_query *q, int64_t *deleted,
                             acp_call *call);
    /* Report figures with host->stat from what the backend keeps (counters,
     * index sizes), without reading every document: ACP_STAT_RUNS,
     * RUNS_BY_STATUS, RUNS_BY_AGENT, SESSIONS, EVENTS, and BYTES and
     * SCHEMA_VERSION where they mean something.  Optional (NULL: the host
     * walks the store and marks the figures as scanned). */
    acp_status (*stats)(acp_backend *b, acp_call *call);
    /* ---- ABI 1.2: events of many runs (copy, export) ---- */
    /* Emit the events of run_ids[0..n-1] (distinct, 1 <= n <= 1000), run by
     * run in array order, each run's in sequence order, with item.key = its
     * run id, seq, stored_us and doc: of run_ids[0] only those with seq >
     * after_seq; at most limit (1..1000) items in all (the host asks again
     * from the last one).  Optional (NULL: the host calls get_events per
     * run). */
    acp_status (*get_events_of_runs)(acp_backend *b, const char *const *run_ids, size_t n,
                                     int64_t after_seq, int64_t limit, acp_call *call);

    /* ---- ABI 1.2: archive tiers ---- */
    /* The capabilities of this instance: a subset of the descriptor's,
     * for compositions whose honest answer depends on their children (an
     * archive over a store without versions keeps none).  The host calls
     * it once, after open, and uses descriptor & result.  Optional (NULL:
     * the descriptor's). */
    uint64_t (*capabilities)(acp_backend *b);
    /* Move up to limit (1..1000) runs that are due from the store's hot
     * tier to its cold tier (docs/storage-contract.md, "Archive tiers"),
     * each with its events, and report how many in *moved (0: none are
     * due now; fewer than limit: the batch ended early, e.g. for the call's
     * deadline, and the host asks again).  A failure leaves every run
     * readable exactly once.  Optional (NULL: ACP_UNSUPPORTED, the store has no
     * tiers). */
    acp_status (*archive)(acp_backend *b, int64_t limit, int64_t *moved, acp_call *call);
} acp_backend_vtable;

/* Flags of save_runs and add_events (ABI 1.2). */
#define ACP_BATCH_INSERT_ONLY (1u << 0)
#define ACP_BATCH_RESTORE (1u << 1)

/* ---- ABI 1.2: typed options and variants ----
 *
 * A descriptor may describe its options (acp_option_spec) and variants
 * instead of listing option names: the core then refuses a bad variant,
 * an unknown key or a bad value before open runs, once for every backend,
 * with a message naming the option, the value and what is accepted; fills
 * in defaults; and hands the plugin each value in one canonical spelling
 * (below), so a plugin reads values with acp_option_text/acp_option_int and
 * never parses or checks them.
 *
 * Canonical values handed to open (acp_open_args.options):
 *   STRING      the text as given;
 *   INTEGER     decimal, e.g. "-12" (given: optional '-', digits);
 *   BOOLEAN     "true" or "false" (given: true/false, 1/0, yes/no, on/off);
 *   ENUM        one of values, as listed;
 *   DURATION    whole milliseconds, decimal (given: a decimal number, with
 *               a fraction if needed, and a unit ms, s, min or h; a bare
 *               number counts in `unit` milliseconds; rounded up to ms);
 *   SIZE        bytes, decimal (given: digits with an optional unit B, KiB,
 *               MiB, GiB (K, M, G alike); a bare number counts in `unit`
 *               bytes).
 * A plugin given a value outside these (a host older than the spec cannot
 * happen: the host is never older) need not check it again. */
typedef enum acp_option_type {
    ACP_OPT_STRING = 1,
    ACP_OPT_INTEGER = 2,
    ACP_OPT_BOOLEAN = 3,
    ACP_OPT_ENUM = 4,
    ACP_OPT_DURATION = 5,
    ACP_OPT_SIZE = 6
} acp_option_type;

/* The value is a secret: never shown in messages or listings. */
#define ACP_OPT_SECRET (1u << 0)

/* One option of a backend.  An array of them ends with an entry whose name
 * is NULL.  An entry named "*" (type STRING) lets every key not listed
 * through unchecked, as text (for backends that hand options to a client
 * library, which then checks them itself); its doc says what they are. */
typedef struct acp_option_spec {
    const char *name;          /* the key; [a-z0-9_] by convention */
    int type;                  /* acp_option_type */
    uint32_t flags;            /* ACP_OPT_SECRET (next to type: no padding) */
    const char *doc;           /* one line for `acp-storage backends NAME` */
    const char *default_value; /* as a user would write it, or NULL: absent
                                  unless given (the plugin knows its default) */
    int64_t min, max;          /* INTEGER: the range; DURATION: in ms; SIZE: in
                                  bytes; STRING: length in bytes (max 0: no
                                  upper bound); both 0: any */
    const char *const *values; /* ENUM: the accepted values, NULL-terminated */
    int64_t unit;              /* DURATION: ms of a bare number (0: 1 ms);
                                  SIZE: bytes of a bare number (0: 1 byte) */
} acp_option_spec;

/* What the entry function returns.  The first three members keep their
 * place in every ABI major so that any host can read and report them. */
typedef struct acp_plugin_descriptor {
    uint32_t magic;           /* ACP_PLUGIN_MAGIC */
    uint16_t abi_major;       /* ACP_PLUGIN_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;       /* ACP_PLUGIN_ABI_MINOR the plugin was built with */
    uint32_t size;            /* sizeof(acp_plugin_descriptor) at build time */
    uint32_t pointer_size;    /* sizeof(void *) */
    const char *name;         /* must equal the name in the file name */
    const char *version;      /* the plugin's own version, free text */
    const char *description;  /* one line */
    uint64_t capabilities;    /* ACP_CAP_* */
    /* NULL-terminated list of accepted option keys; NULL accepts any key
     * (for backends that pass options to a client library).  A backend that
     * creates its store on open lists "create" and, given "create" =
     * "false" (the only other value is "true"), fails open with
     * ACP_NOT_FOUND when the store does not exist; other backends never
     * see the key (acp_config_set in acp_storage.h). */
    const char *const *option_names;
    const acp_backend_vtable *vtable;
    size_t vtable_size;       /* sizeof(acp_backend_vtable) at build time */

    /* ---- ABI 1.2: typed options and variants ---- */
    /* The accepted variants ("wal" for "sqlite+wal:"), NULL-terminated; the
     * plain scheme is always accepted.  {NULL}: none; NULL: any variant
     * reaches open, which checks it (1.0/1.1 behaviour). */
    const char *const *variants;
    /* The options, typed (acp_option_spec).  When set, option_names is not
     * used: the core checks keys and values against these specs.  NULL:
     * option_names as before.  "create" (acp_config_set in acp_storage.h)
     * is accepted on every backend; a spec named "create" (BOOLEAN) asks for
     * it, so that open sees "true" or "false". */
    const acp_option_spec *options;
} acp_plugin_descriptor;

/* The canonical text of option name in args (acp_option_spec), or NULL when
 * it was not given and has no default. */
static inline const char *acp_option_text(const acp_open_args *args, const char *name)
{
    for (size_t i = 0; i < args->n_options; i++)
        if (strcmp(args->options[i].key, name) == 0)
            return args->options[i].value;
    return NULL;
}

/* Option name as a number: INTEGER, DURATION (ms), SIZE (bytes), BOOLEAN
 * (1 or 0), read from its canonical text; fallback when absent. */
static inline int64_t acp_option_int(const acp_open_args *args, const char *name,
                                     int64_t fallback)
{
    const char *v = acp_option_text(args, name);
    if (!v)
        return fallback;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return v[0] == 't';
    int neg = *v == '-';
    uint64_t n = 0;
    for (v += neg; *v >= '0' && *v <= '9'; v++)
        n = n * 10 + (uint64_t)(*v - '0');
    return neg ? (int64_t)(0 - n) : (int64_t)n;
}

/* ---- ABI 1.2: run order and cursors (one definition for every backend) ----
 *
 * The order of list_runs is newest first by created_us, ties by run_id
 * descending, ids compared byte-wise (memcmp order, a proper prefix first);
 * a cursor selects the runs strictly after its (created_us, run_id)
 * position in that order.  Backends that compare in C use these functions;
 * backends that compare in their server express the same rule as
 *   SQL:  ORDER BY created_us DESC, run_id DESC   with ids under a byte-wise
 *         collation (SQLite BINARY, PostgreSQL COLLATE "C"), and the cursor
 *         as  (created_us, run_id) < (cursor_created_us, cursor_run_id)
 *         (plugins/sqlite/sqlite_sql.h, plugins/postgres/pg_sql.h);
 *   Redis: sorted-set members (created as 8 big-endian bytes with the sign
 *         bit flipped) + run id, walked by ZREVRANGEBYLEX from "(" + the
 *         cursor's member (plugins/redis/redis_lua.c).
 * and refer here. */

/* Byte-wise id order: < 0, 0, > 0 as a sorts before, with, after b (memcmp
 * on the common length, then the shorter first). */
static inline int acp_id_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* List order of two runs: < 0 when run a is listed before run b (newer, or
 * as new with a greater id), 0 for the same position, > 0 after. */
static inline int acp_run_order_cmp(int64_t a_created_us, const char *a_id, size_t a_len,
                                    int64_t b_created_us, const char *b_id, size_t b_len)
{
    if (a_created_us != b_created_us)
        return a_created_us > b_created_us ? -1 : 1;
    return acp_id_cmp(b_id, b_len, a_id, a_len);
}

/* 1 when the run (created_us, id) belongs after q's cursor (always 1 when q
 * has none): the runs list_runs may return, before offset and limit. */
static inline int acp_run_after_cursor(const acp_run_query *q, int64_t created_us,
                                       const char *id, size_t len)
{
    if (!q->has_cursor)
        return 1;
    return acp_run_order_cmp(q->cursor_created_us, q->cursor_run_id, strlen(q->cursor_run_id),
                             created_us, id, len) < 0;
}

/* offset + limit of q: how many runs from the start of the list (or the
 * cursor) a backend must walk to fill the page.  Saturates at INT64_MAX
 * instead of overflowing: the offset may be any value up to INT64_MAX. */
static inline int64_t acp_run_window(const acp_run_query *q)
{
    return q->offset > INT64_MAX - q->limit ? INT64_MAX : q->offset + q->limit;
}

#if defined(__GNUC__)
#define ACP_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define ACP_PLUGIN_EXPORT
#endif

/*
 * Define the entry of plugin NAME (a bare identifier matching
 * [a-z0-9_]{1,64}; the file must be libacp_storage_NAME.so).  Fills every
 * version field from this header, so they cannot be wrong:
 *
 *   static const acp_backend_vtable vt = { .open = x_open, ... };
 *   static const char *const opts[] = { "sync", NULL };
 *   ACP_PLUGIN_DEFINE(example, "1.0.0", "An example", ACP_CAP_CONCURRENT, opts, &vt)
 */
#define ACP_PLUGIN_DEFINE(NAME, VERSION, DESCRIPTION, CAPS, OPTION_NAMES, VTABLE)       \
    ACP_PLUGIN_DEFINE_ENTRY_(NAME, VERSION, DESCRIPTION, CAPS, OPTION_NAMES, VTABLE, NULL, NULL)

/*
 * As ACP_PLUGIN_DEFINE, for a plugin that describes its variants and
 * options (ABI 1.2; VARIANTS and OPTIONS as in the descriptor):
 *
 *   static const char *const variants[] = {NULL};
 *   static const acp_option_spec options[] = {
 *       {.name = "sync", .type = ACP_OPT_ENUM, .values = sync_values,
 *        .default_value = "always", .doc = "fsync before acknowledging"},
 *       {.name = NULL}};
 *   ACP_PLUGIN_DEFINE_TYPED(example, "1.0.0", "An example", 0, variants, options, &vt)
 */
#define ACP_PLUGIN_DEFINE_TYPED(NAME, VERSION, DESCRIPTION, CAPS, VARIANTS, OPTIONS, VTABLE)  \
    ACP_PLUGIN_DEFINE_ENTRY_(NAME, VERSION, DESCRIPTION, CAPS, NULL, VTABLE, VARIANTS, OPTIONS)

/* Both of the above.  Designated members: what later ABI minors append to
 * the descriptor stays NULL / 0. */
#define ACP_PLUGIN_DEFINE_ENTRY_(NAME, VERSION, DESCRIPTION, CAPS, OPTION_NAMES, VTABLE,      \
                                 VARIANTS, OPTIONS)                                          \
    ACP_PLUGIN_EXPORT const acp_plugin_descriptor *acp_storage_##NAME##_plugin(void);       \
    const acp_plugin_descriptor *acp_storage_##NAME##_plugin(void)                           \
    {                                                                                        \
        static const acp_plugin_descriptor desc = {                                          \
            .magic = ACP_PLUGIN_MAGIC,                                                       \
            .abi_major = ACP_PLUGIN_ABI_MAJOR,                                               \
            .abi_minor = ACP_PLUGIN_ABI_MINOR,                                               \
            .size = (uint32_t)sizeof(acp_plugin_descriptor),                                 \
            .pointer_size = (uint32_t)sizeof(void *),                                        \
            .name = #NAME,                                                                   \
            .version = (VERSION),                                                            \
            .description = (DESCRIPTION),                                                    \
            .capabilities = (CAPS),                                                          \
            .option_names = (OPTION_NAMES),                                                  \
            .vtable = (VTABLE),                                                              \
            .vtable_size = sizeof(acp_backend_vtable),                                       \
            .variants = (VARIANTS),                                                          \
            .options = (OPTIONS)};                                                           \
        return &desc;                                                                        \
    }

#ifdef __cplusplus
}
#endif
#endif /* ACP_STORAGE_PLUGIN_H */
