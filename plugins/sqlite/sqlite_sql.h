/* SPDX-License-Identifier: MIT */
/*
 * sqlite_sql.h - the schema and every statement of the sqlite backend.
 *
 * Kept apart from sqlite.c so that tests/sqlite can run EXPLAIN QUERY PLAN
 * on exactly the text the plugin prepares.
 */
#ifndef ACP_SQLITE_SQL_H
#define ACP_SQLITE_SQL_H

/* PRAGMA application_id of an acp-storage database ("ACPS"). */
#define ACP_SQLITE_APPLICATION_ID 0x41435053
/* PRAGMA user_version of the schema below. */
#define ACP_SQLITE_SCHEMA_VERSION 5

/*
 * Version 1.  Ids are TEXT with the default BINARY collation: memcmp order,
 * a shorter prefix first, as the contract orders run ids.
 *
 * Each index of runs ends with (created_us, run_id) after its equality
 * columns, so every list_runs variant walks one index backwards with no sort
 * step and the keyset cursor is a range on it.  The session indexes are
 * partial: runs without a session do not pay for them, and `session_id = ?`
 * implies the index condition.
 *
 * counts keeps the number of runs per filter (kind 0 all, 1 agent, 2
 * session, 3 agent and session; '' fills unused parts), maintained by
 * triggers inside the statement that changes runs, so a total is one lookup
 * and can never drift from the table.  Rows that fall to zero are removed.
 */
#define ACP_SQLITE_SCHEMA_V1                                                              \
    "CREATE TABLE runs ("                                                                \
    " run_id TEXT NOT NULL PRIMARY KEY,"                                                 \
    " agent_name TEXT NOT NULL,"                                                         \
    " session_id TEXT,"                                                                  \
    " status TEXT NOT NULL,"                                                             \
    " created_us INTEGER NOT NULL,"                                                      \
    " finished_us INTEGER,"                                                              \
    " doc TEXT NOT NULL);"                                                               \
    "CREATE INDEX runs_created ON runs (created_us, run_id);"                            \
    "CREATE INDEX runs_agent ON runs (agent_name, created_us, run_id);"                  \
    "CREATE INDEX runs_session ON runs (session_id, created_us, run_id)"                 \
    " WHERE session_id IS NOT NULL;"                                                     \
    "CREATE INDEX runs_agent_session ON runs (agent_name, session_id, created_us, run_id)" \
    " WHERE session_id IS NOT NULL;"                                                     \
    "CREATE TABLE sessions ("                                                            \
    " id TEXT NOT NULL PRIMARY KEY,"                                                     \
    " doc TEXT NOT NULL);"                                                               \
    "CREATE TABLE events ("                                                              \
    " run_id TEXT NOT NULL,"                                                             \
    " seq INTEGER NOT NULL,"                                                             \
    " type TEXT NOT NULL,"                                                               \
    " stored_us INTEGER NOT NULL,"                                                       \
    " doc TEXT NOT NULL,"                                                                \
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"                                         \
    "CREATE TABLE counts ("                                                              \
    " kind INTEGER NOT NULL,"                                                            \
    " agent TEXT NOT NULL,"                                                              \
    " session TEXT NOT NULL,"                                                            \
    " n INTEGER NOT NULL,"                                                               \
    " PRIMARY KEY (kind, agent, session)) WITHOUT ROWID;"                                \
    "CREATE TRIGGER counts_zero AFTER UPDATE OF n ON counts WHEN new.n = 0 BEGIN"        \
    " DELETE FROM counts WHERE kind = new.kind AND agent = new.agent"                    \
    "  AND session = new.session;"                                                       \
    "END;"                                                                               \
    "CREATE TRIGGER runs_count_insert AFTER INSERT ON runs BEGIN"                        \
    ACP_SQLITE_COUNT_ALL("+")                                                            \
    ACP_SQLITE_COUNT_KEYS("new", "+")                                                    \
    "END;"                                                                               \
    "CREATE TRIGGER runs_count_delete AFTER DELETE ON runs BEGIN"                        \
    ACP_SQLITE_COUNT_ALL("-")                                                            \
    ACP_SQLITE_COUNT_KEYS("old", "-")                                                    \
    "END;"                                                                               \
    "CREATE TRIGGER runs_count_move AFTER UPDATE OF agent_name, session_id ON runs"      \
    " WHEN old.agent_name IS NOT new.agent_name OR old.session_id IS NOT new.session_id" \
    " BEGIN"                                                                             \
    ACP_SQLITE_COUNT_KEYS("old", "-")                                                    \
    ACP_SQLITE_COUNT_KEYS("new", "+")                                                    \
    "END;"

/*
 * Version 2: every document row carries crc, the CRC-32C of its key (run id,
 * or session id), one NUL byte, and its document, computed by the plugin
 * when it writes the row and checked on every read, so that a changed byte
 * reads as CORRUPT instead of as a document.  (Version 1 rows get theirs
 * from ACP_SQLITE_CHECKSUM_V2 when the store is migrated.)
 */
#define ACP_SQLITE_SCHEMA_V2                                                              \
    "ALTER TABLE runs ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"                        \
    "ALTER TABLE sessions ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"                    \
    "ALTER TABLE events ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"
/* Checksums for the rows a version 1 store holds: acp_crc(key, doc) is an
 * SQL function the plugin defines on the connection that migrates. */
#define ACP_SQLITE_CHECKSUM_V2                                                            \
    "UPDATE runs SET crc = acp_crc(run_id, doc);"                                        \
    "UPDATE sessions SET crc = acp_crc(id, doc);"                                        \
    "UPDATE events SET crc = acp_crc(run_id, doc);"

/*
 * Version 3: run versions (acp_storage_plugin.h, acp_run_version_next).
 * Every run carries its version (runs of an older store start at 1), and
 * marks keeps the store's delete mark: the highest version delete_run
 * removed, raised in the transaction of the delete and read in the
 * transaction of each save, so a re-created run continues above it.
 */
#define ACP_SQLITE_SCHEMA_V3                                                              \
    "ALTER TABLE runs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"                    \
    "CREATE TABLE marks (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL)"        \
    " WITHOUT ROWID;"                                                                    \
    "INSERT INTO marks VALUES ('run_delete', 0);"

/*
 * Version 4: operator filters (status, creation time) and retention.
 * runs_status and runs_agent_status end with (created_us, run_id) like the
 * other list indexes, so a page by status (and agent) walks one index
 * backwards; runs_finished lets a purge find old final runs without
 * reading the others.  counts gains kind 4 (runs per status) and kind 5
 * (per agent and status), with the status in the session column, kept by
 * their own triggers so that a status total is a lookup too.
 */
#define ACP_SQLITE_SCHEMA_V4                                                              \
    "CREATE INDEX runs_status ON runs (status, created_us, run_id);"                     \
    "CREATE INDEX runs_agent_status ON runs (agent_name, status, created_us, run_id);"   \
    "CREATE INDEX runs_finished ON runs (status, finished_us)"                           \
    " WHERE finished_us IS NOT NULL;"                                                    \
    "INSERT INTO counts SELECT 4, '', status, count(*) FROM runs GROUP BY status;"       \
    "INSERT INTO counts SELECT 5, agent_name, status, count(*) FROM runs"                \
    " GROUP BY agent_name, status;"                                                      \
    "CREATE TRIGGER runs_count_status_insert AFTER INSERT ON runs BEGIN"                 \
    ACP_SQLITE_COUNT_STATUS("new", "+")                                                  \
    "END;"                                                                               \
    "CREATE TRIGGER runs_count_status_delete AFTER DELETE ON runs BEGIN"                 \
    ACP_SQLITE_COUNT_STATUS("old", "-")                                                  \
    "END;"                                                                               \
    "CREATE TRIGGER runs_count_status_move AFTER UPDATE OF agent_name, status ON runs"   \
    " WHEN old.agent_name IS NOT new.agent_name OR old.status IS NOT new.status BEGIN"   \
    ACP_SQLITE_COUNT_STATUS("old", "-")                                                  \
    ACP_SQLITE_COUNT_STATUS("new", "+")                                                  \
    "END;"
#define ACP_SQLITE_COUNT_STATUS(R, OP)                                                    \
    " INSERT INTO counts SELECT 4, '', " R ".status, " OP "1 WHERE 1"                    \
    "  ON CONFLICT (kind, agent, session) DO UPDATE SET n = n " OP " 1;"                 \
    " INSERT INTO counts SELECT 5, " R ".agent_name, " R ".status, " OP "1 WHERE 1"      \
    "  ON CONFLICT (kind, agent, session) DO UPDATE SET n = n " OP " 1;"

/*
 * Version 5: totals over creation-time ranges in O(log) (issue 19).
 * time_counts holds the number of runs per (kind, key, level, bucket,
 * status): kind 0 all runs (key ''), 1 an agent, 2 a session; bucket =
 * created_us >> (14 + 6 * level) for levels 0..5 (acp_time_bucket in
 * acp_storage_plugin.h; SQLite's >> is the same arithmetic shift).  A
 * range total sums the whole buckets acp_time_buckets_split names and
 * counts the runs of its two level-0 edges (sq_ops.c).  The status is the
 * last key column: a total without statuses sums every status of a bucket
 * range in one index walk.  Kept by triggers like counts, rows that fall
 * to zero removed; one INSERT per trigger writes all 18 rows (3 kinds x 6
 * levels; 12 for a run without a session).
 */
#define ACP_SQLITE_SCHEMA_V5                                                              \
    "CREATE TABLE time_counts ("                                                         \
    " kind INTEGER NOT NULL,"                                                            \
    " key TEXT NOT NULL,"                                                                \
    " level INTEGER NOT NULL,"                                                           \
    " bucket INTEGER NOT NULL,"                                                          \
    " status TEXT NOT NULL,"                                                             \
    " n INTEGER NOT NULL,"                                                               \
    " PRIMARY KEY (kind, key, level, bucket, status)) WITHOUT ROWID;"                    \
    ACP_SQLITE_TIME_BACKFILL("0", "''", "1")                                             \
    ACP_SQLITE_TIME_BACKFILL("1", "agent_name", "1")                                     \
    ACP_SQLITE_TIME_BACKFILL("2", "session_id", "session_id IS NOT NULL")                \
    "CREATE TRIGGER time_counts_zero AFTER UPDATE OF n ON time_counts WHEN new.n = 0"    \
    " BEGIN DELETE FROM time_counts WHERE kind = new.kind AND key = new.key"             \
    "  AND level = new.level AND bucket = new.bucket AND status = new.status;"           \
    "END;"                                                                               \
    "CREATE TRIGGER runs_time_count_insert AFTER INSERT ON runs BEGIN"                   \
    ACP_SQLITE_COUNT_TIME("new", "+")                                                    \
    "END;"                                                                               \
    "CREATE TRIGGER runs_time_count_delete AFTER DELETE ON runs BEGIN"                   \
    ACP_SQLITE_COUNT_TIME("old", "-")                                                    \
    "END;"                                                                               \
    "CREATE TRIGGER runs_time_count_move"                                                \
    " AFTER UPDATE OF agent_name, session_id, status, created_us ON runs"                \
    " WHEN old.agent_name IS NOT new.agent_name OR old.session_id IS NOT new.session_id" \
    "  OR old.status IS NOT new.status OR old.created_us IS NOT new.created_us BEGIN"    \
    ACP_SQLITE_COUNT_TIME("old", "-")                                                    \
    ACP_SQLITE_COUNT_TIME("new", "+")                                                    \
    "END;"
/* Option time_totals=false: the store keeps no time_counts (writes keep
 * the schema 4 cost; range totals count matches).  The table and its
 * triggers go together in one transaction, so that whenever the table
 * exists it is exact; ACP_SQLITE_SCHEMA_V5 brings them back, backfilled.
 * The schema version stays 5 either way (sq_schema.c). */
#define ACP_SQLITE_TIME_COUNTS_DROP                                                       \
    "DROP TRIGGER IF EXISTS runs_time_count_insert;"                                     \
    "DROP TRIGGER IF EXISTS runs_time_count_delete;"                                     \
    "DROP TRIGGER IF EXISTS runs_time_count_move;"                                       \
    "DROP TABLE IF EXISTS time_counts;"
/* The rows of time_counts for the runs a store already holds, kind K
 * keyed by column KEY, for the runs where WHERE holds. */
#define ACP_SQLITE_TIME_BACKFILL(K, KEY, WHERE)                                           \
    "INSERT INTO time_counts SELECT " K ", " KEY ", l.column1,"                          \
    " created_us >> (14 + 6 * l.column1), status, count(*)"                              \
    " FROM runs, (VALUES (0), (1), (2), (3), (4), (5)) l WHERE " WHERE                   \
    " GROUP BY 2, 3, 4, 5;"
/* Add (OP "+") or remove (OP "-") run R in its 12 or 18 time_counts rows. */
#define ACP_SQLITE_COUNT_TIME(R, OP)                                                      \
    " INSERT INTO time_counts SELECT k.column1, k.column2, l.column1,"                   \
    "  " R ".created_us >> (14 + 6 * l.column1), " R ".status, " OP "1"                  \
    "  FROM (VALUES (0, ''), (1, " R ".agent_name), (2, " R ".session_id)) k,"           \
    "  (VALUES (0), (1), (2), (3), (4), (5)) l WHERE k.column2 IS NOT NULL"              \
    "  ON CONFLICT (kind, key, level, bucket, status) DO UPDATE SET n = n " OP " 1;"

/* Add (OP "+") or remove (OP "-") one run in the total, and run R ("new"
 * or "old") in the three keyed counters that concern it.  A removal always
 * finds its row.  ("WHERE 1" keeps ON CONFLICT from parsing as a join.) */
#define ACP_SQLITE_COUNT_ALL(OP)                                                          \
    " INSERT INTO counts SELECT 0, '', '', " OP "1 WHERE 1"                              \
    "  ON CONFLICT (kind, agent, session) DO UPDATE SET n = n " OP " 1;"
#define ACP_SQLITE_COUNT_KEYS(R, OP)                                                      \
    " INSERT INTO counts SELECT 1, " R ".agent_name, '', " OP "1 WHERE 1"                \
    "  ON CONFLICT (kind, agent, session) DO UPDATE SET n = n " OP " 1;"                 \
    " INSERT INTO counts SELECT 2, '', " R ".session_id, " OP "1"                        \
    "  WHERE " R ".session_id IS NOT NULL"                                               \
    "  ON CONFLICT (kind, agent, session) DO UPDATE SET n = n " OP " 1;"                 \
    " INSERT INTO counts SELECT 3, " R ".agent_name, " R ".session_id, " OP "1"          \
    "  WHERE " R ".session_id IS NOT NULL"                                               \
    "  ON CONFLICT (kind, agent, session) DO UPDATE SET n = n " OP " 1;"

/* verify: every row of each document table (ACP_SQ_COL_* columns), and
 * every counter that differs from what the runs table holds, as (kind,
 * agent, session, stored n, actual n).  Prepared only for the walk. */
#define ACP_SQ_VERIFY_RUNS "SELECT run_id, 0, created_us, doc, crc, version FROM runs"
#define ACP_SQ_VERIFY_SESSIONS "SELECT id, 0, 0, doc, crc FROM sessions"
#define ACP_SQ_VERIFY_EVENTS "SELECT run_id, seq, stored_us, doc, crc FROM events"
#define ACP_SQ_VERIFY_COUNTS                                                              \
    "WITH actual (kind, agent, session, n) AS ("                                         \
    " SELECT 0, '', '', count(*) FROM runs"                                              \
    " UNION ALL SELECT 1, agent_name, '', count(*) FROM runs GROUP BY agent_name"        \
    " UNION ALL SELECT 2, '', session_id, count(*) FROM runs"                            \
    "  WHERE session_id IS NOT NULL GROUP BY session_id"                                 \
    " UNION ALL SELECT 3, agent_name, session_id, count(*) FROM runs"                    \
    "  WHERE session_id IS NOT NULL GROUP BY agent_name, session_id"                     \
    " UNION ALL SELECT 4, '', status, count(*) FROM runs GROUP BY status"                \
    " UNION ALL SELECT 5, agent_name, status, count(*) FROM runs"                        \
    "  GROUP BY agent_name, status)"                                                     \
    " SELECT a.kind, a.agent, a.session, coalesce(c.n, 0), a.n FROM actual a"            \
    " LEFT JOIN counts c ON c.kind = a.kind AND c.agent = a.agent"                       \
    "  AND c.session = a.session"                                                        \
    " WHERE a.n > 0 AND c.n IS NOT a.n"                                                  \
    " UNION ALL SELECT c.kind, c.agent, c.session, c.n, 0 FROM counts c"                 \
    " WHERE NOT EXISTS (SELECT 1 FROM actual a WHERE a.kind = c.kind"                    \
    "  AND a.agent = c.agent AND a.session = c.session AND a.n > 0)"
/* verify, when the store keeps time_counts: every row that differs from a
 * recount of the runs, as (kind, key, level, bucket, status, stored n,
 * actual n), stored n NULL for a missing row, actual n NULL for a row no
 * run falls in (also one left at zero).  One sort of the stored rows and
 * one row per run, kind and level (bounded memory: SQLite's sorter spills
 * to temporary files), so the stored rows are never compared one by one. */
#define ACP_SQ_VERIFY_TIME_COUNTS                                                         \
    "WITH l(v) AS (VALUES (0), (1), (2), (3), (4), (5)),"                                \
    " k(kind, key, created_us, status) AS ("                                             \
    "  SELECT 0, '', created_us, status FROM runs"                                       \
    "  UNION ALL SELECT 1, agent_name, created_us, status FROM runs"                     \
    "  UNION ALL SELECT 2, session_id, created_us, status FROM runs"                     \
    "  WHERE session_id IS NOT NULL),"                                                   \
    " b(kind, key, level, bucket, status, stored, actual) AS ("                          \
    "  SELECT kind, key, level, bucket, status, n, NULL FROM time_counts"                \
    "  UNION ALL SELECT k.kind, k.key, l.v, k.created_us >> (14 + 6 * l.v), k.status,"   \
    "  NULL, 1 FROM k, l)"                                                               \
    " SELECT kind, key, level, bucket, status, sum(stored), sum(actual) FROM b"          \
    " GROUP BY kind, key, level, bucket, status"                                         \
    " HAVING sum(stored) IS NOT sum(actual)"
/* verify: the triggers that keep time_counts, when the table exists; one
 * missing means the table drifts from the runs from the next write on. */
#define ACP_SQ_VERIFY_TIME_TRIGGERS                                                       \
    "SELECT t.column1 FROM (VALUES ('runs_time_count_insert'),"                          \
    " ('runs_time_count_delete'), ('runs_time_count_move'), ('time_counts_zero')) t"     \
    " WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'trigger'"              \
    "  AND name = t.column1)"

/* Every statement a connection prepares once and reuses. */
enum acp_sqlite_stmt {
    ACP_SQ_BEGIN,
    ACP_SQ_BEGIN_READ,
    ACP_SQ_COMMIT,
    ACP_SQ_ROLLBACK,
    ACP_SQ_HEADER,
    ACP_SQ_SAVE_RUN,
    ACP_SQ_GET_RUN,
    ACP_SQ_DELETE_RUN,
    ACP_SQ_DELETE_EVENTS,
    /* The eight list_runs variants, indexed by ACP_SQ_LIST_RUNS + filter
     * bits: 1 agent, 2 session, 4 cursor. */
    ACP_SQ_LIST_RUNS,
    ACP_SQ_LIST_RUNS_LAST = ACP_SQ_LIST_RUNS + 7,
    ACP_SQ_COUNT_RUNS,
    ACP_SQ_SAVE_SESSION,
    ACP_SQ_GET_SESSION,
    ACP_SQ_DELETE_SESSION,
    ACP_SQ_LIST_SESSIONS,
    ACP_SQ_LIST_SESSIONS_AFTER,
    ACP_SQ_ADD_EVENT,
    ACP_SQ_GET_EVENTS,
    /* run versions (version 3) */
    ACP_SQ_RUN_VERSION,
    ACP_SQ_MARK_DELETE,
    /* batched and restoring writes (save_runs, add_events) */
    ACP_SQ_INSERT_RUN,
    ACP_SQ_LAST_SEQ,
    ACP_SQ_INSERT_EVENT,
    /* whether time_counts exists (option time_totals), and the schema
     * cookie that says when to look again */
    ACP_SQ_SCHEMA_COOKIE,
    ACP_SQ_HAS_TIME_COUNTS,
    ACP_SQ_N
};

/* list_runs parameters, the same numbers in every variant: ?1 agent,
 * ?2 session, ?3 cursor created_us, ?4 cursor run_id, ?5 limit, ?6 offset. */
/* Every statement that reads documents returns the same columns, so that
 * one loop in sqlite.c turns rows into items: key (run or session id; the
 * run id of an event), seq (events), instant (created_us of a run, stored_us
 * of an event), doc, crc. */
enum { ACP_SQ_COL_KEY, ACP_SQ_COL_SEQ, ACP_SQ_COL_TIME, ACP_SQ_COL_DOC, ACP_SQ_COL_CRC,
       ACP_SQ_COL_VERSION /* runs only */ };
#define ACP_SQ_RUNS_SELECT "SELECT run_id, 0, created_us, doc, crc, version FROM runs"
/* The run order and cursor rule of acp_run_order_cmp (acp_storage_plugin.h). */
#define ACP_SQ_RUNS_ORDER " ORDER BY created_us DESC, run_id DESC LIMIT ?5 OFFSET ?6"
#define ACP_SQ_RUNS_CURSOR "(created_us, run_id) < (?3, ?4)"
#define ACP_SQ_SESSIONS_SELECT "SELECT id, 0, 0, doc, crc FROM sessions"

/* The text of every statement, indexed by enum acp_sqlite_stmt. */
static const char *const acp_sqlite_sql[ACP_SQ_N] = {
    [ACP_SQ_BEGIN] = "BEGIN IMMEDIATE",
    [ACP_SQ_BEGIN_READ] = "BEGIN",
    [ACP_SQ_COMMIT] = "COMMIT",
    [ACP_SQ_ROLLBACK] = "ROLLBACK",
    [ACP_SQ_HEADER] = "SELECT (SELECT application_id FROM pragma_application_id),"
                      " (SELECT user_version FROM pragma_user_version),"
                      " (SELECT count(*) FROM sqlite_schema)",
    /* ?7: 1 keeps the stored created_us of an existing run
     * (ACP_RUN_CREATED_DEFAULT); ?9 crc; ?10 the version, decided in C
     * after ACP_SQ_RUN_VERSION in the same write transaction. */
    [ACP_SQ_SAVE_RUN] =
        "INSERT INTO runs (run_id, agent_name, session_id, status, created_us,"
        " finished_us, doc, crc, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, ?10)"
        " ON CONFLICT (run_id) DO UPDATE SET agent_name = excluded.agent_name,"
        " session_id = excluded.session_id, status = excluded.status,"
        " created_us = CASE WHEN ?7 THEN runs.created_us ELSE excluded.created_us END,"
        " finished_us = excluded.finished_us, doc = excluded.doc, crc = excluded.crc,"
        " version = excluded.version",
    [ACP_SQ_GET_RUN] = ACP_SQ_RUNS_SELECT " WHERE run_id = ?1",
    [ACP_SQ_DELETE_RUN] = "DELETE FROM runs WHERE run_id = ?1",
    [ACP_SQ_DELETE_EVENTS] = "DELETE FROM events WHERE run_id = ?1",
    [ACP_SQ_LIST_RUNS + 0] = ACP_SQ_RUNS_SELECT ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 1] = ACP_SQ_RUNS_SELECT " WHERE agent_name = ?1" ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 2] = ACP_SQ_RUNS_SELECT " WHERE session_id = ?2" ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 3] =
        ACP_SQ_RUNS_SELECT " WHERE agent_name = ?1 AND session_id = ?2" ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 4] = ACP_SQ_RUNS_SELECT " WHERE " ACP_SQ_RUNS_CURSOR ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 5] = ACP_SQ_RUNS_SELECT
        " WHERE agent_name = ?1 AND " ACP_SQ_RUNS_CURSOR ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 6] = ACP_SQ_RUNS_SELECT
        " WHERE session_id = ?2 AND " ACP_SQ_RUNS_CURSOR ACP_SQ_RUNS_ORDER,
    [ACP_SQ_LIST_RUNS + 7] = ACP_SQ_RUNS_SELECT
        " WHERE agent_name = ?1 AND session_id = ?2 AND " ACP_SQ_RUNS_CURSOR ACP_SQ_RUNS_ORDER,
    /* ?1 kind, ?2 agent or '', ?3 session or ''. */
    [ACP_SQ_COUNT_RUNS] = "SELECT n FROM counts WHERE kind = ?1 AND agent = ?2 AND session = ?3",
    [ACP_SQ_SAVE_SESSION] = "INSERT INTO sessions (id, doc, crc) VALUES (?1, ?2, ?3)"
                            " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc,"
                            " crc = excluded.crc",
    [ACP_SQ_GET_SESSION] = ACP_SQ_SESSIONS_SELECT " WHERE id = ?1",
    [ACP_SQ_DELETE_SESSION] = "DELETE FROM sessions WHERE id = ?1",
    [ACP_SQ_LIST_SESSIONS] = ACP_SQ_SESSIONS_SELECT " ORDER BY id LIMIT ?2",
    [ACP_SQ_LIST_SESSIONS_AFTER] =
        ACP_SQ_SESSIONS_SELECT " WHERE id > ?1 ORDER BY id LIMIT ?2",
    /* One statement: it takes the write lock before it reads max(seq), so
     * the next sequence is assigned and stored atomically (see sqlite.c). */
    [ACP_SQ_ADD_EVENT] = "INSERT INTO events (run_id, seq, type, stored_us, doc, crc)"
                         " SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5"
                         " FROM events WHERE run_id = ?1 RETURNING seq",
    [ACP_SQ_GET_EVENTS] = "SELECT run_id, seq, stored_us, doc, crc FROM events"
                          " WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3 OFFSET ?4",
    /* The run's version (NULL: absent) and the delete mark. */
    [ACP_SQ_RUN_VERSION] = "SELECT (SELECT version FROM runs WHERE run_id = ?1),"
                           " (SELECT value FROM marks WHERE name = 'run_delete')",
    /* Before the run's row goes: raise the delete mark to its version. */
    [ACP_SQ_MARK_DELETE] = "UPDATE marks SET value = (SELECT version FROM runs WHERE run_id = ?1)"
                           " WHERE name = 'run_delete'"
                           " AND value < (SELECT version FROM runs WHERE run_id = ?1)",
    /* save_runs with ACP_BATCH_INSERT_ONLY: parameters as ACP_SQ_SAVE_RUN
     * (?7 unused); no row changed means the run exists. */
    [ACP_SQ_INSERT_RUN] =
        "INSERT INTO runs (run_id, agent_name, session_id, status, created_us,"
        " finished_us, doc, crc, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, ?10)"
        " ON CONFLICT (run_id) DO NOTHING",
    /* add_events: a run's last sequence, read once per run of a batch (the
     * batch holds the write lock); then each event is a plain insert with
     * its sequence decided in C.  (INSERT ... SELECT from events itself
     * makes SQLite copy the SELECT into a temporary table per row.) */
    [ACP_SQ_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM events WHERE run_id = ?1",
    [ACP_SQ_INSERT_EVENT] = "INSERT INTO events (run_id, seq, type, stored_us, doc, crc)"
                            " VALUES (?1, ?6, ?2, ?3, ?4, ?5)",
    [ACP_SQ_SCHEMA_COOKIE] = "PRAGMA schema_version",
    [ACP_SQ_HAS_TIME_COUNTS] =
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'time_counts'",
};

#endif /* ACP_SQLITE_SQL_H */
