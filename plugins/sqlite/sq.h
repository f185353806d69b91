/* SPDX-License-Identifier: MIT */
/*
 * sq.h - internals of the SQLite backend shared by its files, one job each:
 *   sqlite.c     options, open, close, ping, the vtable
 *   sq_conn.c    errors and the pool of connections with their statements
 *   sq_schema.c  header check, migration chain, the migrate method
 *   sq_crud.c    runs, sessions and events: get, save, delete, list
 *   sq_verify.c  verify
 *   sq_ops.c     filtered lists, purge, stats
 *   sq_batch.c   batched and restoring writes
 * The statements and the schema are in sqlite_sql.h; follow.c, readonly.c
 * and errno_vfs.c have their own headers.
 */
#ifndef ACP_SQLITE_SQ_H
#define ACP_SQLITE_SQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "acp_storage_plugin.h"
#include "readonly.h"
#include "sqlite_sql.h"

#define SQ_NAME "sqlite"
#define SQ_VERSION ACP_STORAGE_PLUGIN_VERSION

/* One connection and its statements; used by one thread at a time. */
typedef struct sq_conn {
    sqlite3 *db;
    struct sq_conn *next; /* in the idle list */
    sqlite3_stmt *st[ACP_SQ_N];
    /* The lock wait of the current operation (sq_arm): its end on the
     * monotonic clock, how long it was, and whether the call's deadline
     * (rather than busy_timeout) set it. */
    int64_t give_up_ms;
    int64_t wait_ms;
    int by_deadline;
    /* Whether the store keeps time_counts (option time_totals), as read
     * under schema cookie tc_cookie (tc_known: read at all); another
     * process may add or drop the table at any time (sq_time_counts). */
    int time_counts;
    int tc_known;
    int64_t tc_cookie;
} sq_conn;

struct acp_backend {
    const acp_plugin_host *host;
    char *path;      /* as configured, for messages */
    char *open_path; /* what sqlite3_open_v2 receives (read-write) */
    int readonly;
    int no_create; /* create=false */
    int migrate;   /* SQ_MIGRATE_AUTO, _NEVER or _INSPECT (option migrate) */
    int time_totals; /* option time_totals: keep time_counts */
    sq_ro ro;        /* mode=ro: how the store is opened (readonly.h) */
    int busy_ms;
    int sync_full;
    int has_cache_size;
    long long cache_size;
    int has_mmap_size;
    long long mmap_size;
    pthread_mutex_t mu; /* guards idle */
    sq_conn *idle;
};

/* Option migrate (the core's, handed to plugins with a migrate method):
 * auto (migrate on open), never (refuse an older schema: acp-storage migrate
 * changes it), inspect (only from the core, for its migrate call: open any
 * older schema as it is). */
enum { SQ_MIGRATE_AUTO, SQ_MIGRATE_NEVER, SQ_MIGRATE_INSPECT };

/* What the header says must happen before the schema can be used. */
enum { SQ_READY, SQ_CREATE, SQ_MIGRATE };

/* What a row of a document statement is (sqlite_sql.h, ACP_SQ_COL_*): the
 * item kinds of verify. */
enum { SQ_RUN = ACP_ITEM_RUN, SQ_SESSION = ACP_ITEM_SESSION, SQ_EVENT = ACP_ITEM_EVENT };

/* sq_conn.c */
/* The acp_status of an SQLite result code (OK for ROW and DONE). */
acp_status sq_status(int rc);
/* Report a failure of SQLite: the path, what was being done, SQLite's own
 * message, and the OS reason or the busy timeout when they explain it.
 * db may be NULL (then only rc describes the failure). */
acp_status sq_fail(const acp_backend *b, acp_call *call, const sq_conn *c, int rc,
                   const char *what, const char *id);
/* Report "out of memory" while doing what; returns ACP_NOMEM (its
 * constant, not host->error's result, so that an analyser sees it is never
 * ACP_OK). */
acp_status sq_nomem(const acp_backend *b, acp_call *call, const char *what);
/* Finalize c's statements and close it (c may be NULL). */
void sq_conn_free(sq_conn *c);
/* Step one statement of no result (BEGIN, COMMIT, ...) and reset it. */
int sq_exec_stmt(sqlite3_stmt *st);
/* Roll back an open transaction after a failure; keeps the first error. */
void sq_rollback(sq_conn *c);
/* WAL is a property of the file: set it once, outside a transaction.  The
 * switch upgrades a read lock to an exclusive one, and SQLite does not call
 * the busy handler for an upgrade: while another process is creating the
 * same store, wait here, within the operation's wait (sq_arm). */
int sq_set_wal(const acp_backend *b, sq_conn *c);
/* Open one connection with every statement prepared; the first of a
 * handle (first != 0) also checks, creates or migrates the schema. */
acp_status sq_conn_open(const acp_backend *b, int first, acp_call *call, sq_conn **out);
/* Take an idle connection, or open one more: the pool grows to the number
 * of threads inside the backend at once. */
acp_status sq_get(acp_backend *b, acp_call *call, sq_conn **out);
/* Hand c back to the pool, rolling back a transaction a failure left open. */
void sq_put(acp_backend *b, sq_conn *c);

/* sq_schema.c */
/* Read (application_id, user_version, number of schema objects). */
int sq_read_header(sq_conn *c, int *app_id, int *version, int *objects);
/* What the header read by sq_read_header means: *plan is SQ_READY,
 * SQ_CREATE or SQ_MIGRATE; a file that is not an acp-storage store, or a
 * newer schema, is refused with the reason. */
acp_status sq_check_header(const acp_backend *b, acp_call *call, int app_id, int version,
                           int objects, int *plan);
/* The checksum of a stored document: CRC-32C of its key, a NUL byte and
 * the document (sqlite_sql.h, version 2).  The key makes a row that was
 * moved to another key as damaged as a changed document. */
uint32_t sq_crc(const char *key, size_t key_len, const char *doc, size_t doc_len);
/* First connection of a handle: check the file, switch it to WAL, create
 * or migrate the schema. */
acp_status sq_open_schema(const acp_backend *b, sq_conn *c, acp_call *call);
/* Whether the store has time_counts now, into c->time_counts: the schema
 * cookie is read every time, the schema itself only when the cookie
 * changed.  Inside a read transaction, the answer holds for the rest of
 * it.  Returns an SQLite result code. */
int sq_time_counts(sq_conn *c);
/* A writable open or migrate: add time_counts (backfilled) or drop it, as
 * option time_totals says, in one IMMEDIATE transaction; nothing when the
 * store already agrees. */
acp_status sq_apply_time_totals(const acp_backend *b, sq_conn *c, acp_call *call);
/* The migrate method. */
acp_status sq_migrate(acp_backend *b, uint32_t flags, acp_call *call);

/* sq_crud.c (the methods of the vtable, and helpers of verify, ops, batch) */
/* verify: report one damaged item.  Returns non-zero when the host says
 * stop. */
int sq_report(const acp_backend *b, acp_call *call, int kind, const char *key,
              int64_t seq, acp_status code, const char *location, const char *reason);
/* Step s, whose parameters are bound (rc: the result of binding them), to
 * its end and hand every row to the host as one item of kind; then reset
 * it.  A row that fails its checksum ends the call with CORRUPT naming it:
 * a page never skips an item silently.  id names the call's subject in
 * messages (NULL for a list).  *rows, when not NULL, receives the number of
 * rows handed on.
 *
 * verify: every row goes to host->verify_item instead (events with their
 * run id as key), and a damaged row, or a table SQLite finds damaged, to
 * host->verify_damage; the walk goes on past them.  ACP_NOMEM when the
 * host says stop. */
acp_status sq_emit_rows(acp_backend *b, sq_conn *c, sqlite3_stmt *s, int rc, int kind,
                        const char *id, int verify, acp_call *call, int64_t *rows);
/* One row of a document statement as an item of kind (*key: the row's
 * key, the run id for events, which the item does not carry).  Returns -1
 * when SQLite ran out of memory for a column, 1 when the row fails its
 * checksum (reason: why), else 0. */
int sq_row_item(sqlite3_stmt *s, int kind, acp_item *it, const char **key, char *reason,
                size_t reason_size);
/* A damaged row met by a read (what: the method) as CORRUPT, naming it. */
acp_status sq_damaged(const acp_backend *b, acp_call *call, const char *what, int kind,
                      const char *key, const acp_item *it, const char *reason);
/* A connection for a write, or the refusal of a mode=ro handle. */
acp_status sq_get_rw(acp_backend *b, acp_call *call, const char *what, sq_conn **out);
/* Bind the document of the row with key to parameter i and its checksum
 * to parameter i + 1 (every write statement numbers them so). */
int sq_bind_doc(sqlite3_stmt *s, int i, const char *key, size_t key_len, const char *doc,
                size_t len);
/* Bind the run's columns to ACP_SQ_SAVE_RUN or ACP_SQ_INSERT_RUN (their
 * parameters ?1..?10). */
int sq_bind_run(sqlite3_stmt *s, const acp_run_record *r, int64_t version);
/* The run's stored version (0: absent) and the delete mark, inside the
 * save's write transaction. */
int sq_read_version(sq_conn *c, const acp_run_record *r, int64_t *stored, int64_t *mark);
/* Delete run id and its events inside the open write transaction, raising
 * the delete mark to its version first (sqlite_sql.h, version 3): the one
 * way a run leaves the store, for delete_run and purges.  *gone (may be
 * NULL) grows by the rows removed. */
int sq_delete_one(sq_conn *c, const char *id, long long *gone);
/* The methods of the vtable (sq_list_runs: a page without filters). */
acp_status sq_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call);
acp_status sq_get_run(acp_backend *b, const char *run_id, acp_call *call);
acp_status sq_save_run(acp_backend *b, const acp_run_record *r, acp_call *call);
acp_status sq_delete_run(acp_backend *b, const char *run_id, acp_call *call);
acp_status sq_save_session(acp_backend *b, const acp_session_record *r, acp_call *call);
acp_status sq_get_session(acp_backend *b, const char *id, acp_call *call);
acp_status sq_delete_session(acp_backend *b, const char *id, acp_call *call);
acp_status sq_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                            acp_call *call);
acp_status sq_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                        acp_call *call);
acp_status sq_get_events(acp_backend *b, const acp_event_query *q, acp_call *call);
/* get_events_of_runs (sq_events_of_runs.c). */
acp_status sq_get_events_of_runs(acp_backend *b, const char *const *run_ids, size_t n,
                                 int64_t after_seq, int64_t limit, acp_call *call);
acp_status sq_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call);

/* sq_verify.c: the verify method. */
acp_status sq_verify(acp_backend *b, uint32_t flags, acp_call *call);

/* sq_ops.c */
/* list_runs with a status or time filter (sqlite.c chooses it);
 * then the methods purge_runs and stats. */
acp_status sq_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call);
acp_status sq_purge_runs(acp_backend *b, const acp_purge_query *p, int64_t *deleted,
                         acp_call *call);
acp_status sq_stats(acp_backend *b, acp_call *call);

/* sq_batch.c: the methods save_runs and add_events. */
acp_status sq_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
                        uint32_t flags, acp_status *results, acp_call *call);
acp_status sq_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                         uint32_t flags, int64_t *seqs, acp_status *results,
                         acp_call *call);

#endif /* ACP_SQLITE_SQ_H */
