/* SPDX-License-Identifier: MIT */
/*
 * baseline_sqlite_sql.h - the raw SQLite baseline's schema and statements,
 * written as an application using SQLite directly would write them, apart
 * from the plugin's private header so that the benchmark depends on no
 * backend's internals.
 *
 * The schema is the sqlite backend's schema version 5 (same tables, columns,
 * indexes, counting triggers, application_id and user_version), so that both
 * sides do the same work on the same layout.  bench_sqlite_schema
 * (bench/schema_check.c) fails when the plugin's schema and this one differ:
 * a change to the backend's schema must be followed here.
 */
#ifndef ACP_BENCH_BASELINE_SQLITE_SQL_H
#define ACP_BENCH_BASELINE_SQLITE_SQL_H

#include <sqlite3.h>

/* PRAGMA application_id ("ACPS") and user_version of an acp-storage store. */
#define BSQ_APPLICATION_ID 0x41435053
#define BSQ_SCHEMA_VERSION 5

/* One counter row per filter of list_runs (kind 0 all, 1 agent, 2 session,
 * 3 both; '' in the unused parts), kept by triggers, so that a total is one
 * lookup.  D is +1 or -1, R the row (new or old). */
#define BSQ_COUNT(D, R)                                                                   \
    " INSERT INTO counts VALUES (1, " R ".agent_name, '', " D ")"                        \
    "  ON CONFLICT DO UPDATE SET n = n + excluded.n;"                                    \
    " INSERT INTO counts SELECT 2, '', " R ".session_id, " D                             \
    "  WHERE " R ".session_id IS NOT NULL ON CONFLICT DO UPDATE SET n = n + excluded.n;" \
    " INSERT INTO counts SELECT 3, " R ".agent_name, " R ".session_id, " D               \
    "  WHERE " R ".session_id IS NOT NULL ON CONFLICT DO UPDATE SET n = n + excluded.n;"
/* Version 4: runs per status (kind 4) and per agent and status (kind 5),
 * the status in the session column. */
#define BSQ_COUNT_STATUS(D, R)                                                            \
    " INSERT INTO counts VALUES (4, '', " R ".status, " D ")"                             \
    "  ON CONFLICT DO UPDATE SET n = n + excluded.n;"                                    \
    " INSERT INTO counts VALUES (5, " R ".agent_name, " R ".status, " D ")"              \
    "  ON CONFLICT DO UPDATE SET n = n + excluded.n;"
/* Version 5: runs per (kind 0 all / 1 agent / 2 session, key, level 0..5,
 * bucket = created_us >> (14 + 6 level), status), for time-range totals. */
#define BSQ_COUNT_TIME(D, R)                                                              \
    " INSERT INTO time_counts SELECT k.column1, k.column2, l.column1,"                   \
    "  " R ".created_us >> (14 + 6 * l.column1), " R ".status, " D                       \
    "  FROM (VALUES (0, ''), (1, " R ".agent_name), (2, " R ".session_id)) k,"           \
    "  (VALUES (0), (1), (2), (3), (4), (5)) l WHERE k.column2 IS NOT NULL"              \
    "  ON CONFLICT DO UPDATE SET n = n + excluded.n;"
#define BSQ_COUNT_ALL(D)                                                                  \
    " INSERT INTO counts VALUES (0, '', '', " D ")"                                      \
    "  ON CONFLICT DO UPDATE SET n = n + excluded.n;"

/* Run inside one write transaction, once, on a new file. */
#define BSQ_SCHEMA                                                                        \
    "CREATE TABLE runs (run_id TEXT NOT NULL PRIMARY KEY, agent_name TEXT NOT NULL,"     \
    " session_id TEXT, status TEXT NOT NULL, created_us INTEGER NOT NULL,"               \
    " finished_us INTEGER, doc TEXT NOT NULL, crc INTEGER NOT NULL DEFAULT 0,"           \
    " version INTEGER NOT NULL DEFAULT 1);"                                              \
    "CREATE TABLE marks (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL)"        \
    " WITHOUT ROWID;"                                                                    \
    "INSERT INTO marks VALUES ('run_delete', 0);"                                        \
    "CREATE INDEX runs_created ON runs (created_us, run_id);"                            \
    "CREATE INDEX runs_agent ON runs (agent_name, created_us, run_id);"                  \
    "CREATE INDEX runs_session ON runs (session_id, created_us, run_id)"                 \
    " WHERE session_id IS NOT NULL;"                                                     \
    "CREATE INDEX runs_agent_session ON runs (agent_name, session_id, created_us, run_id)" \
    " WHERE session_id IS NOT NULL;"                                                     \
    "CREATE TABLE sessions (id TEXT NOT NULL PRIMARY KEY, doc TEXT NOT NULL,"            \
    " crc INTEGER NOT NULL DEFAULT 0);"                                                  \
    "CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL," \
    " stored_us INTEGER NOT NULL, doc TEXT NOT NULL, crc INTEGER NOT NULL DEFAULT 0,"    \
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"                                         \
    "CREATE TABLE counts (kind INTEGER NOT NULL, agent TEXT NOT NULL,"                   \
    " session TEXT NOT NULL, n INTEGER NOT NULL,"                                        \
    " PRIMARY KEY (kind, agent, session)) WITHOUT ROWID;"                                \
    "CREATE TRIGGER counts_zero AFTER UPDATE OF n ON counts WHEN new.n = 0 BEGIN"        \
    " DELETE FROM counts WHERE kind = new.kind AND agent = new.agent"                    \
    " AND session = new.session; END;"                                                   \
    "CREATE TRIGGER runs_count_insert AFTER INSERT ON runs BEGIN"                        \
    BSQ_COUNT_ALL("1") BSQ_COUNT("1", "new") " END;"                                     \
    "CREATE TRIGGER runs_count_delete AFTER DELETE ON runs BEGIN"                        \
    BSQ_COUNT_ALL("-1") BSQ_COUNT("-1", "old") " END;"                                   \
    "CREATE TRIGGER runs_count_move AFTER UPDATE OF agent_name, session_id ON runs"      \
    " WHEN old.agent_name IS NOT new.agent_name OR old.session_id IS NOT new.session_id" \
    " BEGIN" BSQ_COUNT("-1", "old") BSQ_COUNT("1", "new") " END;"                      \
    "CREATE INDEX runs_status ON runs (status, created_us, run_id);"                     \
    "CREATE INDEX runs_agent_status ON runs (agent_name, status, created_us, run_id);"   \
    "CREATE INDEX runs_finished ON runs (status, finished_us)"                           \
    " WHERE finished_us IS NOT NULL;"                                                    \
    "CREATE TRIGGER runs_count_status_insert AFTER INSERT ON runs BEGIN"                 \
    BSQ_COUNT_STATUS("1", "new") " END;"                                                 \
    "CREATE TRIGGER runs_count_status_delete AFTER DELETE ON runs BEGIN"                 \
    BSQ_COUNT_STATUS("-1", "old") " END;"                                                \
    "CREATE TRIGGER runs_count_status_move AFTER UPDATE OF agent_name, status ON runs"   \
    " WHEN old.agent_name IS NOT new.agent_name OR old.status IS NOT new.status BEGIN"   \
    BSQ_COUNT_STATUS("-1", "old") BSQ_COUNT_STATUS("1", "new") " END;"                 \
    "CREATE TABLE time_counts (kind INTEGER NOT NULL, key TEXT NOT NULL,"                \
    " level INTEGER NOT NULL, bucket INTEGER NOT NULL, status TEXT NOT NULL,"            \
    " n INTEGER NOT NULL, PRIMARY KEY (kind, key, level, bucket, status)) WITHOUT ROWID;" \
    "CREATE TRIGGER time_counts_zero AFTER UPDATE OF n ON time_counts WHEN new.n = 0"    \
    " BEGIN DELETE FROM time_counts WHERE kind = new.kind AND key = new.key"             \
    " AND level = new.level AND bucket = new.bucket AND status = new.status; END;"       \
    "CREATE TRIGGER runs_time_count_insert AFTER INSERT ON runs BEGIN"                   \
    BSQ_COUNT_TIME("1", "new") " END;"                                                   \
    "CREATE TRIGGER runs_time_count_delete AFTER DELETE ON runs BEGIN"                   \
    BSQ_COUNT_TIME("-1", "old") " END;"                                                  \
    "CREATE TRIGGER runs_time_count_move"                                                \
    " AFTER UPDATE OF agent_name, session_id, status, created_us ON runs"                \
    " WHEN old.agent_name IS NOT new.agent_name OR old.session_id IS NOT new.session_id" \
    " OR old.status IS NOT new.status OR old.created_us IS NOT new.created_us"           \
    " BEGIN" BSQ_COUNT_TIME("-1", "old") BSQ_COUNT_TIME("1", "new") " END;"

/*
 * Create the baseline's schema on db, an empty database: WAL, BSQ_SCHEMA,
 * application_id and user_version, in one write transaction.  Returns an
 * SQLite result code (sqlite3_errmsg(db) tells why); on failure the
 * transaction may be left open: the caller closes db, which rolls it back.  Defined in baseline_sqlite_schema.c.
 */
int baseline_sqlite_create(sqlite3 *db);

/* The statements the baseline prepares on each connection. */
enum bsq_stmt {
    BSQ_SAVE_RUN,
    BSQ_GET_RUN,
    BSQ_DELETE_RUN,
    BSQ_DELETE_EVENTS,
    BSQ_LIST_RUNS, /* + 1 agent, + 2 session, + 3 both */
    BSQ_LIST_RUNS_LAST = BSQ_LIST_RUNS + 3,
    BSQ_COUNT_RUNS,
    BSQ_SAVE_SESSION,
    BSQ_GET_SESSION,
    BSQ_ADD_EVENT,
    BSQ_GET_EVENTS,
    BSQ_BEGIN_WRITE,
    BSQ_BEGIN_READ,
    BSQ_COMMIT,
    BSQ_ROLLBACK,
    BSQ_RUN_VERSION,
    BSQ_MARK_DELETE,
    BSQ_N
};

/* List runs newest first: ?1 agent, ?2 session, ?3 limit, ?4 offset. */
#define BSQ_RUNS_PAGE " ORDER BY created_us DESC, run_id DESC LIMIT ?3 OFFSET ?4"

static const char *const bsq_sql[BSQ_N] = {
    /* ?1 run_id, ?2 agent, ?3 session, ?4 status, ?5 created_us,
     * ?6 finished_us, ?7 doc, ?8 crc, ?9 version (after BSQ_RUN_VERSION, in
     * one write transaction, as the backend does). */
    [BSQ_SAVE_RUN] = "INSERT INTO runs (run_id, agent_name, session_id, status, created_us,"
                     " finished_us, doc, crc, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                     " ON CONFLICT (run_id) DO UPDATE SET (agent_name, session_id, status,"
                     " created_us, finished_us, doc, crc, version) = (?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                     " ?9)",
    [BSQ_GET_RUN] = "SELECT doc FROM runs WHERE run_id = ?1",
    [BSQ_DELETE_RUN] = "DELETE FROM runs WHERE run_id = ?1",
    [BSQ_DELETE_EVENTS] = "DELETE FROM events WHERE run_id = ?1",
    [BSQ_LIST_RUNS + 0] = "SELECT run_id, created_us, doc FROM runs" BSQ_RUNS_PAGE,
    [BSQ_LIST_RUNS + 1] =
        "SELECT run_id, created_us, doc FROM runs WHERE agent_name = ?1" BSQ_RUNS_PAGE,
    [BSQ_LIST_RUNS + 2] =
        "SELECT run_id, created_us, doc FROM runs WHERE session_id = ?2" BSQ_RUNS_PAGE,
    [BSQ_LIST_RUNS + 3] = "SELECT run_id, created_us, doc FROM runs"
                          " WHERE agent_name = ?1 AND session_id = ?2" BSQ_RUNS_PAGE,
    /* ?1 kind, ?2 agent or '', ?3 session or ''. */
    [BSQ_COUNT_RUNS] = "SELECT n FROM counts WHERE kind = ?1 AND agent = ?2 AND session = ?3",
    [BSQ_SAVE_SESSION] = "INSERT INTO sessions (id, doc, crc) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, crc = excluded.crc",
    [BSQ_GET_SESSION] = "SELECT doc FROM sessions WHERE id = ?1",
    /* The next sequence number and the row in one statement. */
    [BSQ_ADD_EVENT] = "INSERT INTO events (run_id, seq, type, stored_us, doc, crc)"
                      " SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5"
                      " FROM events WHERE run_id = ?1 RETURNING seq",
    /* ?1 run_id, ?2 after seq, ?3 limit. */
    [BSQ_GET_EVENTS] = "SELECT seq, stored_us, doc FROM events WHERE run_id = ?1 AND seq > ?2"
                       " ORDER BY seq LIMIT ?3",
    [BSQ_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [BSQ_BEGIN_READ] = "BEGIN",
    [BSQ_COMMIT] = "COMMIT",
    [BSQ_ROLLBACK] = "ROLLBACK",
    /* Run versions: the run's version and the delete mark; raising the mark
     * before a delete. */
    [BSQ_RUN_VERSION] = "SELECT (SELECT version FROM runs WHERE run_id = ?1),"
                        " (SELECT value FROM marks WHERE name = 'run_delete')",
    [BSQ_MARK_DELETE] = "UPDATE marks SET value = (SELECT version FROM runs WHERE run_id = ?1)"
                        " WHERE name = 'run_delete'"
                        " AND value < (SELECT version FROM runs WHERE run_id = ?1)",
};

#endif /* ACP_BENCH_BASELINE_SQLITE_SQL_H */
