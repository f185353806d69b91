/*
 * pg_sql.h - every SQL statement of the postgres backend, in one place so
 * that tests can EXPLAIN exactly what the plugin runs.
 *
 * "@" stands for the store's schema, quoted ("acp"); pg_sql_expand()
 * replaces it.  No other text is ever spliced into SQL: ids and documents
 * travel as parameters.
 *
 * Id columns use COLLATE "C", so ordering and comparison are byte-wise, as
 * the contract requires, whatever the database's default collation.
 * Documents are text columns (not jsonb), so they come back byte for byte.
 */
#ifndef ACP_PG_SQL_H
#define ACP_PG_SQL_H

#include <stdlib.h>
#include <string.h>

/* Version 1 of the schema.  A store records its version in @.meta; a later
 * plugin migrates older versions under the same advisory lock, and an older
 * plugin refuses a newer store. */
#define PG_SCHEMA_VERSION 1

#define PG_SQL_SCHEMA_V1                                                                    \
    "CREATE TABLE @.meta (name text COLLATE \"C\" PRIMARY KEY, value bigint NOT NULL);"     \
    "CREATE TABLE @.runs ("                                                                 \
    " run_id text COLLATE \"C\" PRIMARY KEY,"                                              \
    " agent_name text COLLATE \"C\" NOT NULL,"                                             \
    " session_id text COLLATE \"C\","                                                      \
    " status text NOT NULL,"                                                                \
    " created_us bigint NOT NULL,"                                                          \
    " finished_us bigint,"                                                                  \
    " doc text NOT NULL);"                                                                  \
    /* one index per list_runs filter, each in the list order */                            \
    "CREATE INDEX runs_by_time ON @.runs (created_us DESC, run_id DESC);"                   \
    "CREATE INDEX runs_by_agent ON @.runs (agent_name, created_us DESC, run_id DESC);"      \
    "CREATE INDEX runs_by_session ON @.runs (session_id, created_us DESC, run_id DESC)"     \
    " WHERE session_id IS NOT NULL;"                                                        \
    "CREATE INDEX runs_by_agent_session ON @.runs"                                          \
    " (agent_name, session_id, created_us DESC, run_id DESC) WHERE session_id IS NOT NULL;" \
    "CREATE TABLE @.sessions (id text COLLATE \"C\" PRIMARY KEY, doc text NOT NULL);"       \
    "CREATE TABLE @.events ("                                                               \
    " run_id text COLLATE \"C\" NOT NULL,"                                                 \
    " seq bigint NOT NULL,"                                                                 \
    " stored_us bigint NOT NULL,"                                                           \
    " type text NOT NULL,"                                                                  \
    " doc text NOT NULL,"                                                                   \
    " PRIMARY KEY (run_id, seq));"                                                          \
    /* the last sequence handed out per run: its row lock orders the appenders */           \
    "CREATE TABLE @.event_seq (run_id text COLLATE \"C\" PRIMARY KEY,"                     \
    " last_seq bigint NOT NULL);"                                                           \
    "INSERT INTO @.meta VALUES ('schema_version', 1);"

/* Settings of every session of the plugin.  Each statement below is
 * written for one index; for the deep pages of a large match the planner's
 * cost model would rather read the whole table and sort it, a cost that
 * grows with the store.  The plugin's sessions run nothing else, so they
 * turn those plans off and always read in index order. */
#define PG_SQL_SESSION                                                                      \
    "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off;"

/* Statements from this one on are planned with their values at every call
 * (sent unnamed) rather than prepared: a generic plan estimates an agent
 * filter at 1/(number of agents), walks the time index filtering by agent
 * and, for a rarely used agent, ends up reading nearly every run. */
#define PG_FIRST_PLANNED_EACH_TIME PG_LIST_RUNS

/* Statements, by number.  Parameters are sent in binary: text as
 * its bytes, bigint as 8 bytes big-endian. */
enum {
    PG_SAVE_RUN,      /* $1 run_id $2 agent $3 session $4 status $5 created $6 finished $7 doc */
    PG_SAVE_RUN_KEEP, /* same; keeps a stored created_us (ACP_RUN_CREATED_DEFAULT) */
    PG_GET_RUN,       /* $1 run_id -> doc, created_us */
    PG_DELETE_SEQ,    /* $1 run_id -> 1 row if the run had events */
    PG_DELETE_RUN,    /* $1 run_id -> 1 row if a run record existed (events go too) */
    PG_SAVE_SESSION,  /* $1 id $2 doc */
    PG_GET_SESSION,   /* $1 id -> doc */
    PG_DELETE_SESSION, /* $1 id -> 1 row if it existed */
    PG_LIST_SESSIONS, /* $1 limit -> id, doc */
    PG_LIST_SESSIONS_AFTER, /* $1 after_id $2 limit -> id, doc */
    PG_ADD_EVENT,     /* $1 run_id $2 type $3 stored_us $4 doc -> seq */
    PG_GET_EVENTS,    /* $1 run_id $2 after_seq $3 offset $4 limit -> seq, stored_us, doc */
    /* list_runs: 4 filters (none, agent, session, both) x (offset, cursor);
     * parameters: [agent] [session] [cursor created_us, cursor run_id]
     * offset limit -> run_id, created_us, doc */
    PG_LIST_RUNS,
    PG_LIST_RUNS_A,
    PG_LIST_RUNS_S,
    PG_LIST_RUNS_AS,
    PG_LIST_RUNS_C,
    PG_LIST_RUNS_AC,
    PG_LIST_RUNS_SC,
    PG_LIST_RUNS_ASC,
    /* totals: [agent] [session] -> count */
    PG_COUNT_RUNS,
    PG_COUNT_RUNS_A,
    PG_COUNT_RUNS_S,
    PG_COUNT_RUNS_AS,
    PG_N_STATEMENTS
};

#define PG_RUN_COLS "(run_id, agent_name, session_id, status, created_us, finished_us, doc)"
#define PG_RUN_VALUES "($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::text)"
#define PG_RUN_SET                                                                          \
    " agent_name = EXCLUDED.agent_name, session_id = EXCLUDED.session_id,"                  \
    " status = EXCLUDED.status, finished_us = EXCLUDED.finished_us, doc = EXCLUDED.doc"

#define PG_LIST_COLS "SELECT run_id, created_us, doc FROM @.runs"
#define PG_LIST_ORDER " ORDER BY created_us DESC, run_id DESC"
#define PG_CURSOR(c, i) "(created_us, run_id) < ($" c "::bigint, $" i "::text)"
#define PG_PAGE(o, l) " OFFSET $" o "::bigint LIMIT $" l "::bigint"

static const char *const pg_sql[PG_N_STATEMENTS] = {
    [PG_SAVE_RUN] = "INSERT INTO @.runs AS r " PG_RUN_COLS " VALUES " PG_RUN_VALUES
                    " ON CONFLICT (run_id) DO UPDATE SET" PG_RUN_SET
                    ", created_us = EXCLUDED.created_us",
    [PG_SAVE_RUN_KEEP] = "INSERT INTO @.runs AS r " PG_RUN_COLS " VALUES " PG_RUN_VALUES
                         " ON CONFLICT (run_id) DO UPDATE SET" PG_RUN_SET,
    [PG_GET_RUN] = "SELECT doc, created_us FROM @.runs WHERE run_id = $1::text",
    [PG_DELETE_SEQ] = "DELETE FROM @.event_seq WHERE run_id = $1::text RETURNING 1",
    [PG_DELETE_RUN] = "WITH e AS (DELETE FROM @.events WHERE run_id = $1::text)"
                      " DELETE FROM @.runs WHERE run_id = $1::text RETURNING 1",
    [PG_SAVE_SESSION] = "INSERT INTO @.sessions (id, doc) VALUES ($1::text, $2::text)"
                        " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
    [PG_GET_SESSION] = "SELECT doc FROM @.sessions WHERE id = $1::text",
    [PG_DELETE_SESSION] = "DELETE FROM @.sessions WHERE id = $1::text RETURNING 1",
    [PG_LIST_SESSIONS] = "SELECT id, doc FROM @.sessions ORDER BY id LIMIT $1::bigint",
    [PG_LIST_SESSIONS_AFTER] = "SELECT id, doc FROM @.sessions WHERE id > $1::text"
                               " ORDER BY id LIMIT $2::bigint",
    /* One statement, so one transaction: the counter row's lock makes
     * concurrent appenders to one run take turns, and a failed insert
     * rolls the counter back, so sequences have no gaps. */
    [PG_ADD_EVENT] = "WITH s AS (INSERT INTO @.event_seq AS q (run_id, last_seq)"
                     " VALUES ($1::text, 1) ON CONFLICT (run_id)"
                     " DO UPDATE SET last_seq = q.last_seq + 1 RETURNING last_seq)"
                     " INSERT INTO @.events (run_id, seq, stored_us, type, doc)"
                     " SELECT $1::text, last_seq, $3::bigint, $2::text, $4::text FROM s"
                     " RETURNING seq",
    [PG_GET_EVENTS] = "SELECT seq, stored_us, doc FROM @.events"
                      " WHERE run_id = $1::text AND seq > $2::bigint ORDER BY seq"
                      " OFFSET $3::bigint LIMIT $4::bigint",
    [PG_LIST_RUNS] = PG_LIST_COLS PG_LIST_ORDER PG_PAGE("1", "2"),
    [PG_LIST_RUNS_A] = PG_LIST_COLS " WHERE agent_name = $1::text" PG_LIST_ORDER PG_PAGE("2", "3"),
    [PG_LIST_RUNS_S] = PG_LIST_COLS " WHERE session_id = $1::text" PG_LIST_ORDER PG_PAGE("2", "3"),
    [PG_LIST_RUNS_AS] = PG_LIST_COLS " WHERE agent_name = $1::text AND session_id = $2::text"
                        PG_LIST_ORDER PG_PAGE("3", "4"),
    [PG_LIST_RUNS_C] = PG_LIST_COLS " WHERE " PG_CURSOR("1", "2") PG_LIST_ORDER PG_PAGE("3", "4"),
    [PG_LIST_RUNS_AC] = PG_LIST_COLS " WHERE agent_name = $1::text AND " PG_CURSOR("2", "3")
                        PG_LIST_ORDER PG_PAGE("4", "5"),
    [PG_LIST_RUNS_SC] = PG_LIST_COLS " WHERE session_id = $1::text AND " PG_CURSOR("2", "3")
                        PG_LIST_ORDER PG_PAGE("4", "5"),
    [PG_LIST_RUNS_ASC] = PG_LIST_COLS " WHERE agent_name = $1::text AND session_id = $2::text"
                         " AND " PG_CURSOR("3", "4") PG_LIST_ORDER PG_PAGE("5", "6"),
    [PG_COUNT_RUNS] = "SELECT count(*) FROM @.runs",
    [PG_COUNT_RUNS_A] = "SELECT count(*) FROM @.runs WHERE agent_name = $1::text",
    [PG_COUNT_RUNS_S] = "SELECT count(*) FROM @.runs WHERE session_id = $1::text",
    [PG_COUNT_RUNS_AS] = "SELECT count(*) FROM @.runs"
                         " WHERE agent_name = $1::text AND session_id = $2::text",
};

/* sql with every "@" replaced by qschema (a quoted identifier, which
 * cannot contain "@" itself: see pg_schema_ident).  malloc'ed; NULL when
 * out of memory. */
static inline char *pg_sql_expand(const char *sql, const char *qschema)
{
    size_t n = 1, ql = strlen(qschema);
    for (const char *p = sql; *p; p++)
        n += *p == '@' ? ql : 1;
    char *out = malloc(n), *o = out;
    if (!out)
        return NULL;
    for (const char *p = sql; *p; p++) {
        if (*p == '@') {
            memcpy(o, qschema, ql);
            o += ql;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

#endif /* ACP_PG_SQL_H */
