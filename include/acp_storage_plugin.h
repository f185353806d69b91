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

#include "acp_storage_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACP_PLUGIN_MAGIC 0x41435053u /* "ACPS" */
#define ACP_PLUGIN_ABI_MAJOR 1
/* History: 1.0 first release; 1.1 appended list_sessions; 1.2 appended
 * verify, wait_events and the host's hash, verify_item, verify_damage,
 * emitted, cancel_fd, cancelled, cancel_watch and cancel_unwatch; then
 * save_runs and add_events (batched and restoring writes, for copy). */
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

/* "No value" for optional instants (finished_at). */
#define ACP_NO_TIME INT64_MIN

/* Opaque per-call context: carries the result sink, the error buffer and
 * the deadline of one call.  Owned by the host; valid during the call. */
typedef struct acp_call acp_call;

/* A backend instance, defined by the plugin. */
typedef struct acp_backend acp_backend;

/* One key/value option of the store configuration (already checked against
 * the descriptor's option_names).  Values are decoded text. */
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
} acp_run_record;

/* The document had no created_at: created_us is "now".  If the run already
 * exists, the backend keeps the stored created_us (a run keeps the time of
 * its first save). */
#define ACP_RUN_CREATED_DEFAULT (1u << 0)

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
} acp_run_query;

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
} acp_plugin_host;

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

    /* Upsert a run.  Required. */
    acp_status (*save_run)(acp_backend *b, const acp_run_record *run, acp_call *call);
    /* Emit the run (doc, key, created_us) or return ACP_NOT_FOUND.  Required. */
    acp_status (*get_run)(acp_backend *b, const char *run_id, acp_call *call);
    /* Remove the run and every event of run_id (also when no run record
     * exists).  ACP_NOT_FOUND when neither existed.  Required. */
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
} acp_backend_vtable;

/* Flags of save_runs and add_events (ABI 1.2). */
#define ACP_BATCH_INSERT_ONLY (1u << 0)
#define ACP_BATCH_RESTORE (1u << 1)

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
} acp_plugin_descriptor;

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
    ACP_PLUGIN_EXPORT const acp_plugin_descriptor *acp_storage_##NAME##_plugin(void);   \
    const acp_plugin_descriptor *acp_storage_##NAME##_plugin(void)                       \
    {                                                                                    \
        static const acp_plugin_descriptor desc = {                                      \
            ACP_PLUGIN_MAGIC,         ACP_PLUGIN_ABI_MAJOR,                              \
            ACP_PLUGIN_ABI_MINOR,     (uint32_t)sizeof(acp_plugin_descriptor),           \
            (uint32_t)sizeof(void *), #NAME,                                             \
            (VERSION),                (DESCRIPTION),                                     \
            (CAPS),                   (OPTION_NAMES),                                    \
            (VTABLE),                 sizeof(acp_backend_vtable)};                       \
        return &desc;                                                                    \
    }

#ifdef __cplusplus
}
#endif
#endif /* ACP_STORAGE_PLUGIN_H */
