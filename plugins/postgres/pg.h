/* SPDX-License-Identifier: MIT */
/*
 * pg.h - internals of the postgres backend shared by its two files:
 * pg_conn.c (connection pool, bounded round trips, error mapping) and
 * postgres.c (options, schema, the methods of the vtable).
 */
#ifndef ACP_PG_H
#define ACP_PG_H

#include <pthread.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "acp_storage_plugin.h"
#include "pg_sql.h"

#define PG_NAME "postgres"
/* Most options a URI may carry (each libpq one is copied: key and value). */
#define PG_MAX_OPTIONS 60

/* One pooled connection. */
typedef struct pg_conn {
    PGconn *pg;
    uint32_t prepared;     /* bit i: statement i is prepared on this connection */
    struct pg_conn *next;  /* in the idle list */
} pg_conn;

struct acp_backend {
    const acp_plugin_host *host;
    char *uri_redacted;    /* for messages: never holds a password */
    char qschema[72];      /* the schema as a quoted identifier: "acp" */
    char *sql[PG_N_STATEMENTS]; /* pg_sql with the schema filled in */

    /* libpq connection parameters, NULL-terminated, ready for
     * PQconnectdbParams(expand_dbname = 1); the value of connect_timeout
     * (slot ct_slot) is rewritten per connection attempt. */
    const char **kw;
    const char **val;
    int ct_slot;
    int64_t connect_timeout_s; /* the operator's, or -1 */
    char *owned[2 * PG_MAX_OPTIONS + 2]; /* strings kw/val point to that we allocated */
    size_t n_owned;

    /* Strings scrubbed from every libpq message, longest first (passwords
     * as written in the URI and decoded). */
    char *secrets[4];
    size_t n_secrets;

    int64_t statement_timeout_ms; /* -1: the server's setting */
    int migrate;           /* PG_MIGRATE_AUTO, _NEVER or _INSPECT (option migrate) */

    /* The pool: idle connections (LIFO), how many exist, the cap. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pg_conn *idle;
    int n_conns;
    int pool_size;
    unsigned fork_gen;     /* pg_fork_gen when the pool was last used */
};

/* Option migrate: auto (create or migrate on open), never (refuse a
 * missing or older schema: acp-storage migrate changes it), inspect (only
 * from the core, for its migrate call: touch no schema on open). */
enum { PG_MIGRATE_AUTO, PG_MIGRATE_NEVER, PG_MIGRATE_INSPECT };

/* One method call: which store, which host call, what it is doing (for
 * messages), its deadline and the connection it holds. */
typedef struct pg_req {
    acp_backend *b;
    acp_call *call;
    const char *op;        /* "save_run" */
    const char *kind;      /* "run", "session" or NULL: what id names */
    const char *id;
    int64_t deadline_ms;   /* CLOCK_MONOTONIC ms, or -1 for none */
    pg_conn *conn;
    int may_retry;         /* the statement may run twice (idempotent, or read) */
} pg_req;

/* Incremented in a child after fork(): connections of the parent must
 * never be used (or closed politely) by the child. */
extern volatile unsigned pg_fork_gen;

int64_t pg_mono_ms(void);

/* Start a call: deadline from host->remaining_ms. */
void pg_req_init(pg_req *r, acp_backend *b, acp_call *call, const char *op, const char *kind,
                 const char *id, int may_retry);
/* Give the connection back to the pool (or drop it if it is broken). */
void pg_req_done(pg_req *r);

/* Run prepared statement `stmt` (preparing it on this connection first if
 * needed) with n binary parameters (vals[i] NULL: SQL NULL) and binary
 * results.  On ACP_OK *out holds a PGresult to PQclear; on failure the
 * error has been reported and *out is NULL.  Takes a connection from the
 * pool if the request holds none.  A connection found dead before use is
 * replaced; a request that may_retry is retried once on a fresh
 * connection after a lost connection. */
acp_status pg_exec(pg_req *r, int stmt, int n, const char *const *vals, const int *lens,
                   PGresult **out);
/* Run SQL text without parameters (BEGIN, COMMIT, DDL), text results. */
acp_status pg_exec_sql(pg_req *r, const char *sql, PGresult **out);
/* Run SQL text (the schema already filled in) with at most
 * PG_MAX_PARAMS binary parameters and binary results, planned for its
 * values (pg_ops.c builds its statements per call). */
#define PG_MAX_PARAMS 96
acp_status pg_exec_params(pg_req *r, const char *sql, int n, const char *const *vals,
                          const int *lens, PGresult **out);

/* Remove one run with its events and counter inside the caller's
 * transaction, in delete_run's lock order (postgres.c): save_run()'s lock,
 * then still (may be NULL: a purge's "does the run still match", *yes 0
 * leaves it alone), then the counter row's lock, the counter, the events
 * and the run (the delete mark rises).  *had_events, *had_run: what
 * existed. */
typedef acp_status (*pg_still_fn)(pg_req *r, const char *run_id, const void *arg, int *yes);
acp_status pg_delete_one(pg_req *r, const char *run_id, pg_still_fn still, const void *arg,
                         int *had_events, int *had_run);

/* pg_ops.c: list_runs with status or time filters, purge_runs, stats. */
acp_status pg_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call);
acp_status pg_purge_runs(acp_backend *b, const acp_purge_query *q, int64_t *deleted,
                         acp_call *call);
acp_status pg_stats(acp_backend *b, acp_call *call);

/* pg_batch.c: many items in one statement (batched and restoring writes,
 * the events of many runs). */
acp_status pg_save_runs(acp_backend *b, const acp_run_record *runs, size_t n, uint32_t flags,
                        acp_status *results, acp_call *call);
acp_status pg_add_events(acp_backend *b, const acp_event_record *evs, size_t n, uint32_t flags,
                         int64_t *seqs, acp_status *results, acp_call *call);
acp_status pg_get_events_of_runs(acp_backend *b, const char *const *run_ids, size_t n,
                                 int64_t after_seq, int64_t limit, acp_call *call);
/* One call of save_run() (postgres.c) for run on r, with the record's flags
 * plus extra (ACP_RUN_IF_ABSENT for an insert-only batch): *ok 1 when
 * stored, 0 when the condition failed; *version the new or stored one. */
acp_status pg_exec_save(pg_req *r, const acp_run_record *run, uint32_t extra, int *ok,
                        int64_t *version);
/* Emit row i of res (postgres.c): doc in column dc, key, bigint columns
 * (-1: none). */
acp_status pg_emit_row(pg_req *r, PGresult *res, int i, int dc, const char *key,
                       int created_col, int seq_col, int stored_col, int version_col);

/* Report a failure of the request: "<uri>: <op> <kind> '<id>': <text>",
 * with the store's redacted URI. */
acp_status pg_fail(pg_req *r, acp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Big-endian bigint as sent and received in binary format. */
static inline void pg_put_i64(char out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = (char)(u & 0xff);
}

static inline int64_t pg_get_i64(const char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | (unsigned char)p[i];
    return (int64_t)u;
}

/* get_events (postgres.c) on r's connection (taken from the pool if r
 * holds none). */
acp_status pg_get_events_req(pg_req *r, const acp_event_query *q);
/* wait_events (pg_follow.c): LISTEN on the channel PG_CHANNEL, which
 * add_event notifies with the run id in the same transaction. */
acp_status pg_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call);
#define PG_CHANNEL "acp_storage_events"
/* pg_conn.c, for pg_follow.c: take a held connection out of the pool's
 * count while it sleeps (lend 1), and back before using it (lend 0). */
void pg_pool_lend(acp_backend *b, int lend);

/* Release every connection of the pool (close()). */
void pg_pool_destroy(acp_backend *b);
/* Copy of msg with every secret replaced by "***" and line breaks joined,
 * into buf. */
void pg_scrub(const acp_backend *b, const char *msg, char *buf, size_t bufsz);

#endif /* ACP_PG_H */
