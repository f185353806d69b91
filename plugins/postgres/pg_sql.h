/* SPDX-License-Identifier: MIT */
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

/* The schema's version.  A store records it in @.meta; a later plugin
 * migrates older versions under the same advisory lock (postgres.c,
 * ensure_schema), and an older plugin refuses a newer store.
 *   1  runs, sessions, events, event_seq
 *   2  run_counts and the triggers that keep it (PG_SQL_COUNTS)
 *   3  run versions: runs.version, the delete mark, save_run (PG_SQL_VERSIONS)
 *   4  status and finished indexes for filters and retention (PG_SQL_OPS)
 *   5  run_status_counts: counts by status (PG_SQL_STATUS_COUNTS)
 *   6  run_time_counts and run_time_log: counts by status and creation
 *      time (PG_SQL_TIME_COUNTS), which replace run_status_counts */
#define PG_SCHEMA_VERSION 6

/* The tables of version 1 (the version row is added by PG_SQL_SCHEMA). */
#define PG_SQL_TABLES                                                                       \
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
    " last_seq bigint NOT NULL);"

/*
 * Version 2: the number of runs per list_runs filter, so that a total is
 * a sum of at most PG_COUNT_SLOTS rows instead of a count(*) over every
 * match.  Key: kind 0 all runs, 1 agent, 2 session, 3 agent and session
 * ('' fills the parts a kind does not use).
 *
 * Each key is spread over 16 slots, the slot of a run being
 * hashtext(run_id) & 15: concurrent writers of different runs mostly
 * update different rows instead of queueing on one "all runs" row (a row
 * lock is held until commit).  A run always lands in the same slot, so
 * no slot goes negative and a slot that falls to zero is deleted: the
 * table holds at most 16 rows per key that has runs.
 *
 * Triggers keep the counts in the transaction of every change to runs,
 * whoever makes it (also an older plugin still running during an
 * upgrade): exact under any number of writers, since each change is an
 * INSERT ... ON CONFLICT DO UPDATE of n, and the row lock orders them.
 * A transaction locks the counter rows of one run in (kind, agent,
 * session, slot) order, so two of them never wait for each other in a
 * cycle.  Only a change of agent, session or run_id fires the update
 * trigger; a status update (the common one) costs nothing.
 *
 * The price: 25-35 us per new run (four upserts), and counter rows are
 * updated in place, so while another session of the database holds an
 * old snapshot (a long transaction) their dead versions cannot be pruned
 * and every save walks them (README.md, Totals).
 */
#define PG_COUNT_SLOTS 16
#define PG_COUNT_MASK "15" /* PG_COUNT_SLOTS - 1 */
#define PG_COUNT_SLOT(run) "(hashtext(" run ".run_id) & " PG_COUNT_MASK ")"
/* The keys of a run's counters as VALUES rows (k, a, s); in key order. */
#define PG_COUNT_KEYS(R)                                                                    \
    "(0, '', ''), (1, " R ".agent_name, ''), (2, '', " R ".session_id),"                     \
    " (3, " R ".agent_name, " R ".session_id)"
#define PG_SQL_COUNTS                                                                       \
    "CREATE TABLE @.run_counts ("                                                           \
    " kind smallint NOT NULL,"                                                              \
    " agent text COLLATE \"C\" NOT NULL,"                                                  \
    " session text COLLATE \"C\" NOT NULL,"                                                \
    " slot smallint NOT NULL,"                                                              \
    " n bigint NOT NULL,"                                                                   \
    " PRIMARY KEY (kind, agent, session, slot));"                                           \
    "CREATE FUNCTION @.run_counts_add() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"      \
    " INSERT INTO @.run_counts AS c (kind, agent, session, slot, n)"                        \
    "  SELECT v.k, v.a, v.s, " PG_COUNT_SLOT("NEW") ", 1"                                    \
    "  FROM (VALUES " PG_COUNT_KEYS("NEW") ") v (k, a, s) WHERE v.s IS NOT NULL"            \
    "  ON CONFLICT (kind, agent, session, slot) DO UPDATE SET n = c.n + 1;"                 \
    " RETURN NULL; END $f$;"                                                                \
    "CREATE FUNCTION @.run_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"   \
    " INSERT INTO @.run_counts AS c (kind, agent, session, slot, n)"                        \
    "  SELECT v.k, v.a, v.s, " PG_COUNT_SLOT("OLD") ", -1"                                   \
    "  FROM (VALUES " PG_COUNT_KEYS("OLD") ") v (k, a, s) WHERE v.s IS NOT NULL"            \
    "  ON CONFLICT (kind, agent, session, slot) DO UPDATE SET n = c.n - 1;"                 \
    PG_COUNT_DROP_ZEROS                                                                     \
    " RETURN NULL; END $f$;"                                                                \
    /* $1 kind, $2 agent, $3 session (NULL: no such key), $4 slot, $5 delta */               \
    "CREATE FUNCTION @.run_counts_step(smallint, text, text, smallint, bigint)"             \
    " RETURNS void LANGUAGE plpgsql AS $f$ DECLARE left_n bigint; BEGIN"                    \
    " IF $3 IS NULL THEN RETURN; END IF;"                                                   \
    " INSERT INTO @.run_counts AS c (kind, agent, session, slot, n)"                        \
    "  VALUES ($1, $2, $3, $4, $5)"                                                         \
    "  ON CONFLICT (kind, agent, session, slot) DO UPDATE SET n = c.n + EXCLUDED.n"         \
    "  RETURNING n INTO left_n;"                                                            \
    " IF left_n = 0 THEN DELETE FROM @.run_counts"                                          \
    "  WHERE kind = $1 AND agent = $2 AND session = $3 AND slot = $4; END IF;"              \
    " END $f$;"                                                                             \
    /* Per kind, the old key -1 and the new one +1, the smaller (key, slot)   \
     * first (byte order): with the kinds in order, every transaction locks    \
     * counter rows in one global order.  The slot moves only when run_id is   \
     * changed (never by the plugin).  No sort in a plan: the plugin's         \
     * sessions price sorts out of reach (PG_SQL_SESSION), which would make    \
     * the planner JIT-compile a 4-row statement. */                                        \
    "CREATE FUNCTION @.run_counts_move() RETURNS trigger LANGUAGE plpgsql AS $f$ DECLARE"   \
    " osl smallint := " PG_COUNT_SLOT("OLD") "; nsl smallint := " PG_COUNT_SLOT("NEW") ";"    \
    " oa text COLLATE \"C\"; os text COLLATE \"C\"; na text COLLATE \"C\";"                  \
    " ns text COLLATE \"C\"; BEGIN"                                                          \
    " FOR k IN 0..3 LOOP"                                                                   \
    "  oa := CASE WHEN k IN (0, 2) THEN '' ELSE OLD.agent_name END;"                        \
    "  na := CASE WHEN k IN (0, 2) THEN '' ELSE NEW.agent_name END;"                        \
    "  os := CASE WHEN k < 2 THEN '' ELSE OLD.session_id END;"                              \
    "  ns := CASE WHEN k < 2 THEN '' ELSE NEW.session_id END;"                              \
    "  CONTINUE WHEN oa = na AND os IS NOT DISTINCT FROM ns AND osl = nsl;"                 \
    "  IF os IS NULL OR (ns IS NOT NULL AND (na, ns, nsl) < (oa, os, osl)) THEN"            \
    "   PERFORM @.run_counts_step(k::smallint, na, ns, nsl, 1);"                            \
    "   PERFORM @.run_counts_step(k::smallint, oa, os, osl, -1);"                           \
    "  ELSE"                                                                                \
    "   PERFORM @.run_counts_step(k::smallint, oa, os, osl, -1);"                           \
    "   PERFORM @.run_counts_step(k::smallint, na, ns, nsl, 1);"                            \
    "  END IF;"                                                                             \
    " END LOOP; RETURN NULL; END $f$;"                                                      \
    "CREATE FUNCTION @.run_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"    \
    " DELETE FROM @.run_counts; RETURN NULL; END $f$;"                                      \
    "CREATE TRIGGER run_counts_add AFTER INSERT ON @.runs"                                  \
    " FOR EACH ROW EXECUTE FUNCTION @.run_counts_add();"                                    \
    "CREATE TRIGGER run_counts_remove AFTER DELETE ON @.runs"                               \
    " FOR EACH ROW EXECUTE FUNCTION @.run_counts_remove();"                                 \
    "CREATE TRIGGER run_counts_move AFTER UPDATE OF run_id, agent_name, session_id"        \
    " ON @.runs FOR EACH ROW WHEN (OLD.agent_name IS DISTINCT FROM NEW.agent_name"          \
    " OR OLD.session_id IS DISTINCT FROM NEW.session_id OR OLD.run_id <> NEW.run_id)"      \
    " EXECUTE FUNCTION @.run_counts_move();"                                                \
    /* row triggers do not see a TRUNCATE (an operator's, not the plugin's) */              \
    "CREATE TRIGGER run_counts_clear AFTER TRUNCATE ON @.runs"                              \
    " FOR EACH STATEMENT EXECUTE FUNCTION @.run_counts_clear();"

/* The rows of OLD's keys that fell to zero (locked already: no new wait). */
#define PG_COUNT_DROP_ZEROS                                                                 \
    " DELETE FROM @.run_counts c USING (VALUES " PG_COUNT_KEYS("OLD") ") v (k, a, s)"       \
    "  WHERE c.kind = v.k AND c.agent = v.a AND c.session = v.s"                            \
    "  AND c.slot = " PG_COUNT_SLOT("OLD") " AND c.n = 0;"

/* The counts of the runs already stored, for the migration from version
 * 1: one pass over runs grouped at the finest key, then rolled up. */
#define PG_SQL_COUNTS_BACKFILL                                                              \
    "INSERT INTO @.run_counts (kind, agent, session, slot, n)"                              \
    " WITH g AS (SELECT agent_name AS a, session_id AS s,"                                  \
    "  hashtext(run_id) & " PG_COUNT_MASK " AS slot, count(*) AS n FROM @.runs"             \
    "  GROUP BY 1, 2, 3)"                                                                   \
    " SELECT 0, '', '', slot, sum(n) FROM g GROUP BY slot"                                  \
    " UNION ALL SELECT 1, a, '', slot, sum(n) FROM g GROUP BY a, slot"                      \
    " UNION ALL SELECT 2, '', s, slot, sum(n) FROM g WHERE s IS NOT NULL GROUP BY s, slot"  \
    " UNION ALL SELECT 3, a, s, slot, n FROM g WHERE s IS NOT NULL;"

/*
 * Version 3: run versions (acp_storage_plugin.h, acp_run_version_next,
 * restated here because the function is the atomic step).  Every run has
 * its version (runs of an older store start at 1); meta 'run_delete' is the
 * delete mark.  save_run() is the only writer of runs: it takes a
 * transaction-level advisory lock named after the run id, which delete_run
 * (postgres.c) takes too, so that each statement after it (a fresh
 * snapshot, READ COMMITTED) sees every earlier save or delete of the run
 * committed: the condition, the version and the write are one step, and a
 * run deleted meanwhile is seen gone together with the raised mark.
 * Different runs whose ids hash alike only wait for each other.  Modes:
 * '-' none, 'v' if the stored version is p_want, 'a' if absent, 's' store
 * p_want, 'n' the same only if the stored one is lower.  Returns (false,
 * stored version) when the condition fails.  Versions come from the
 * server's clock, one clock for every client.
 */
#define PG_RUN_LOCK_KEY "1094930518" /* the first key of the advisory locks: "ACPV" */
#define PG_SQL_VERSIONS                                                                     \
    "ALTER TABLE @.runs ADD COLUMN version bigint NOT NULL DEFAULT 1;"                      \
    "INSERT INTO @.meta VALUES ('run_delete', 0);"                                          \
    "CREATE FUNCTION @.save_run(p_id text, p_agent text, p_session text, p_status text,"    \
    " p_created bigint, p_finished bigint, p_doc text, p_keep boolean, p_mode text,"        \
    " p_want bigint, OUT o_ok boolean, OUT o_version bigint)"                               \
    " LANGUAGE plpgsql AS $f$ DECLARE stored bigint; base bigint; BEGIN"                    \
    " PERFORM pg_advisory_xact_lock(" PG_RUN_LOCK_KEY ", hashtext(p_id));"                  \
    " SELECT r.version INTO stored FROM @.runs r WHERE r.run_id = p_id;"                    \
    " stored := coalesce(stored, 0);"                                                       \
    " IF p_mode IN ('s', 'n') THEN"                                                         \
    "  IF p_mode = 'n' AND stored >= p_want THEN"                                           \
    "   o_ok := false; o_version := stored; RETURN; END IF;"                                \
    "  o_version := p_want;"                                                                \
    " ELSE"                                                                                 \
    "  IF (p_mode = 'v' AND stored <> p_want) OR (p_mode = 'a' AND stored <> 0) THEN"       \
    "   o_ok := false; o_version := stored; RETURN; END IF;"                                \
    "  base := stored;"                                                                     \
    "  IF base = 0 THEN"                                                                    \
    "   SELECT m.value INTO base FROM @.meta m WHERE m.name = 'run_delete'; END IF;"        \
    "  o_version := greatest(base + 1,"                                                     \
    "   (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);"                        \
    " END IF;"                                                                              \
    " INSERT INTO @.runs AS r (run_id, agent_name, session_id, status, created_us,"         \
    "  finished_us, doc, version)"                                                          \
    "  VALUES (p_id, p_agent, p_session, p_status, p_created, p_finished, p_doc, o_version)" \
    "  ON CONFLICT (run_id) DO UPDATE SET agent_name = EXCLUDED.agent_name,"                \
    "  session_id = EXCLUDED.session_id, status = EXCLUDED.status,"                         \
    "  finished_us = EXCLUDED.finished_us, doc = EXCLUDED.doc, version = EXCLUDED.version," \
    "  created_us = CASE WHEN p_keep THEN r.created_us ELSE EXCLUDED.created_us END;"       \
    " o_ok := true; END $f$;"

/* Version 4: list indexes by status (and agent and status) in list order,
 * and one for a purge's "final and finished before" walk. */
#define PG_SQL_OPS                                                                          \
    "CREATE INDEX runs_by_status ON @.runs (status, created_us DESC, run_id DESC);"         \
    "CREATE INDEX runs_by_agent_status ON @.runs"                                           \
    " (agent_name, status, created_us DESC, run_id DESC);"                                  \
    "CREATE INDEX runs_finished ON @.runs (status, finished_us)"                            \
    " WHERE finished_us IS NOT NULL;"
#define PG_SQL_MIGRATE_4 PG_SQL_OPS "UPDATE @.meta SET value = 4 WHERE name = 'schema_version';"

/*
 * Version 5 (replaced by version 6, which drops the table: kept here for
 * the migration chain): totals by status from counters, as run_counts gives totals
 * by agent and session.  A row counts the runs of one key (kind 0 all
 * runs, 1 one agent), one status and one slot (slots as in run_counts).
 * A total by statuses (with or without an agent) sums at most 16 rows per
 * status.  Totals with a creation-time range come from version 6's
 * counters, totals with a session are counted over the runs indexes
 * (pg_ops.c; README.md, "Totals by status").
 *
 * Triggers: an insert upserts its 2 rows, a delete subtracts from them and
 * deletes the rows left at zero; an update that moves a run (status,
 * agent, run_id) moves each key's row from old to new, the smaller key
 * first.  Every transaction locks counter rows in key order, so writers
 * never wait for each other in a cycle.
 */
/* A run's rows (kind, agent, status, slot, delta) as VALUES rows in key
 * order (byte order, as the primary key): R is OLD or NEW, D its delta. */
#define PG_STATUS_KEYS(R, D)                                                                \
    "(0::smallint, ''::text COLLATE \"C\", " R ".status COLLATE \"C\", "                    \
    PG_COUNT_SLOT(R) "::smallint, " D "::bigint),"                                          \
    " (1, " R ".agent_name, " R ".status, " PG_COUNT_SLOT(R) ", " D ")"
#define PG_STATUS_PK "(kind, agent, status, slot)"
#define PG_STATUS_UPSERT " INSERT INTO @.run_status_counts AS c (kind, agent, status, slot, n)"
/* The rows OLD's keys left at zero (locked already: no new wait). */
#define PG_STATUS_DROP_ZEROS                                                                \
    " DELETE FROM @.run_status_counts c USING (VALUES " PG_STATUS_KEYS("OLD", "-1") ")"     \
    "  v (k, a, st, sl, d) WHERE c.kind = v.k AND c.agent = v.a AND c.status = v.st"        \
    "  AND c.slot = v.sl AND c.n = 0;"
#define PG_SQL_STATUS_COUNTS                                                                \
    "CREATE TABLE @.run_status_counts ("                                                    \
    " kind smallint NOT NULL,"                                                              \
    " agent text COLLATE \"C\" NOT NULL,"                                                   \
    " status text COLLATE \"C\" NOT NULL,"                                                  \
    " slot smallint NOT NULL,"                                                              \
    " n bigint NOT NULL,"                                                                   \
    " PRIMARY KEY " PG_STATUS_PK ");"                                                       \
    "CREATE FUNCTION @.run_status_counts_add() RETURNS trigger LANGUAGE plpgsql AS $f$"     \
    " BEGIN" PG_STATUS_UPSERT " VALUES " PG_STATUS_KEYS("NEW", "1")                         \
    "  ON CONFLICT " PG_STATUS_PK " DO UPDATE SET n = c.n + 1;"                             \
    " RETURN NULL; END $f$;"                                                                \
    "CREATE FUNCTION @.run_status_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $f$"  \
    " BEGIN" PG_STATUS_UPSERT " VALUES " PG_STATUS_KEYS("OLD", "-1")                        \
    "  ON CONFLICT " PG_STATUS_PK " DO UPDATE SET n = c.n - 1;"                             \
    PG_STATUS_DROP_ZEROS " RETURN NULL; END $f$;"                                           \
    /* Per key, the old row -1 and the new one +1, the smaller (agent,       \
     * status, slot) first in byte order: with the kinds in order, every      \
     * transaction locks counter rows in key order.  Single-row statements,   \
     * no sort: the plugin's sessions price sorts out of reach (PG_SQL_SESSION). */         \
    "CREATE FUNCTION @.run_status_counts_move() RETURNS trigger LANGUAGE plpgsql AS $f$"   \
    " DECLARE osl smallint := " PG_COUNT_SLOT("OLD") ";"                                    \
    " nsl smallint := " PG_COUNT_SLOT("NEW") ";"                                            \
    " oa text COLLATE \"C\"; na text COLLATE \"C\";"                                        \
    " ost text COLLATE \"C\" := OLD.status; nst text COLLATE \"C\" := NEW.status;"          \
    " left_n bigint; BEGIN"                                                                 \
    " FOR k IN 0..1 LOOP"                                                                   \
    "  oa := CASE WHEN k = 0 THEN '' ELSE OLD.agent_name END;"                              \
    "  na := CASE WHEN k = 0 THEN '' ELSE NEW.agent_name END;"                              \
    "  CONTINUE WHEN oa = na AND ost = nst AND osl = nsl;"                                  \
    "  FOR i IN 0..1 LOOP" /* i = 0: the smaller key */                                     \
    "   IF ((na, nst, nsl) < (oa, ost, osl)) = (i = 0) THEN" PG_STATUS_UPSERT               \
    "    VALUES (k, na, nst, nsl, 1)"                                                       \
    "    ON CONFLICT " PG_STATUS_PK " DO UPDATE SET n = c.n + 1;"                           \
    "   ELSE" PG_STATUS_UPSERT " VALUES (k, oa, ost, osl, -1)"                              \
    "    ON CONFLICT " PG_STATUS_PK " DO UPDATE SET n = c.n - 1 RETURNING n INTO left_n;"   \
    "    IF left_n = 0 THEN DELETE FROM @.run_status_counts"                                \
    "     WHERE kind = k AND agent = oa AND status = ost AND slot = osl; END IF;"           \
    "   END IF;"                                                                            \
    "  END LOOP;"                                                                           \
    " END LOOP; RETURN NULL; END $f$;"                                                      \
    "CREATE FUNCTION @.run_status_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $f$"   \
    " BEGIN DELETE FROM @.run_status_counts; RETURN NULL; END $f$;"                         \
    "CREATE TRIGGER run_status_counts_add AFTER INSERT ON @.runs"                           \
    " FOR EACH ROW EXECUTE FUNCTION @.run_status_counts_add();"                             \
    "CREATE TRIGGER run_status_counts_remove AFTER DELETE ON @.runs"                        \
    " FOR EACH ROW EXECUTE FUNCTION @.run_status_counts_remove();"                          \
    "CREATE TRIGGER run_status_counts_move AFTER UPDATE OF run_id, agent_name, status"      \
    " ON @.runs FOR EACH ROW WHEN (OLD.status <> NEW.status"                                \
    " OR OLD.agent_name <> NEW.agent_name OR OLD.run_id <> NEW.run_id)"                     \
    " EXECUTE FUNCTION @.run_status_counts_move();"                                         \
    "CREATE TRIGGER run_status_counts_clear AFTER TRUNCATE ON @.runs"                       \
    " FOR EACH STATEMENT EXECUTE FUNCTION @.run_status_counts_clear();"

/* The counts of the runs already stored, for the migration from version
 * 4: one pass over runs grouped by agent, status and slot, then rolled up
 * to all runs. */
#define PG_SQL_STATUS_COUNTS_BACKFILL                                                       \
    "INSERT INTO @.run_status_counts (kind, agent, status, slot, n)"                        \
    " WITH g AS (SELECT agent_name AS a, status AS st,"                                     \
    "  hashtext(run_id) & " PG_COUNT_MASK " AS sl, count(*) AS n FROM @.runs"               \
    "  GROUP BY 1, 2, 3)"                                                                   \
    " SELECT 0, '', st, sl, sum(n) FROM g GROUP BY st, sl"                                  \
    " UNION ALL SELECT 1, a, st, sl, n FROM g;"

/*
 * Version 6: totals by status and over creation-time ranges from
 * counters (a total by status is one over all time: the top level's few
 * rows).
 * run_time_counts holds the runs per key (kind 0 all runs, 1 one agent),
 * status ('' for any status), level 1..5 and bucket: the buckets of
 * acp_time_buckets_split (acp_storage_plugin.h; level l covers
 * 2^(14 + 6 l) us, so level 1 is about 1 s and level 5 about 200 days).
 * Level 0 (16 ms) is not kept: a run would cost a row of its own there,
 * and the runs of a range's level-0 buckets are counted with its edges.
 *
 * Writers never touch those rows.  A trigger appends each change of a
 * run's agent, status or creation time to run_time_log (the old values
 * -1, the new ones +1): an insert into a table nobody else updates, so
 * concurrent writers never wait for each other there.  One change in 256,
 * drawn at random (a sequence would need its own grant besides the
 * tables'), folds the log into the counters, in the
 * writer's transaction: the rows it deletes from the log and the counters
 * it adds them to commit together, so every snapshot sees each change
 * exactly once, in the log or in the counters.  One fold at a time (the
 * row of run_time_fold, SKIP LOCKED: a writer that finds a fold running
 * skips it; a later draw folds what is left).  Counter rows that
 * fall to zero are deleted.
 *
 * A total over [since, until) sums the counter rows of the range's whole
 * buckets at levels 1..5 (at most 126 per level and status), the log
 * rows of the same instants (at most a few hundred) and counts the runs
 * of the two edges (each under about 1 s) over the runs indexes: pg_ops.c,
 * cat_time_total.
 */
/* The total of one filter shape: K the counters' kind, ST their status
 * condition, STL / STR the status condition of the log / the runs, AGL /
 * AGR the agent condition of the log / the runs.  $1 agent ('' for none)
 * $2 the statuses joined by ',' ('' for none), $3..$20 the whole buckets
 * (lo, hi) of levels 1, 1, 2, 2, 3, 3, 4, 4, 5, $21 $22 the log's
 * instants [w0, w1), $23..$26 the edges [from, to) x 2 (empty ranges as
 * lo = hi). */
#define PG_TIME_LEG(K, ST, l, lo, hi)                                                       \
    " + (SELECT coalesce(sum(n), 0) FROM @.run_time_counts WHERE kind = " K                \
    " AND agent = $1::text AND status" ST " AND level = " l " AND bucket >= $" lo           \
    "::bigint AND bucket < $" hi "::bigint)"
#define PG_TIME_EDGE(from, to, AGR, STR)                                                    \
    " + (SELECT count(*) FROM @.runs WHERE created_us >= $" from "::bigint"                 \
    " AND created_us < $" to "::bigint" AGR STR ")"
#define PG_TIME_TOTAL_SQL(K, ST, STL, STR, AGL, AGR)                                             \
    "SELECT (0" PG_TIME_LEG(K, ST, "1", "3", "4") PG_TIME_LEG(K, ST, "1", "5", "6")        \
    PG_TIME_LEG(K, ST, "2", "7", "8") PG_TIME_LEG(K, ST, "2", "9", "10")                   \
    PG_TIME_LEG(K, ST, "3", "11", "12") PG_TIME_LEG(K, ST, "3", "13", "14")                \
    PG_TIME_LEG(K, ST, "4", "15", "16") PG_TIME_LEG(K, ST, "4", "17", "18")                \
    PG_TIME_LEG(K, ST, "5", "19", "20")                                                    \
    " + (SELECT coalesce(sum(d), 0) FROM @.run_time_log WHERE created_us >= $21::bigint"   \
    " AND created_us < $22::bigint" AGL STL ")"                                            \
    PG_TIME_EDGE("23", "24", AGR, STR) PG_TIME_EDGE("25", "26", AGR, STR) ")::bigint"
#define PG_TIME_ANY " = $2::text"
/* The same list in the collation of each table's status column: an
 * index is used only for a comparison in its own collation. */
#define PG_TIME_IN_C " = ANY (string_to_array($2::text COLLATE \"C\", ','))"
#define PG_TIME_IN " = ANY (string_to_array($2::text, ','))"
/* The four shapes: 0 neither, 1 an agent, 2 statuses, 3 both. */
#define PG_TIME_TOTAL_0 PG_TIME_TOTAL_SQL("0", PG_TIME_ANY, "", "", "", "")
#define PG_TIME_TOTAL_1                                                                     \
    PG_TIME_TOTAL_SQL("1", PG_TIME_ANY, "", "", " AND agent = $1::text",                    \
                      " AND agent_name = $1::text")
#define PG_TIME_TOTAL_2                                                                     \
    PG_TIME_TOTAL_SQL("0", PG_TIME_IN_C, " AND status" PG_TIME_IN_C, " AND status" PG_TIME_IN, \
                      "", "")
#define PG_TIME_TOTAL_3                                                                     \
    PG_TIME_TOTAL_SQL("1", PG_TIME_IN_C, " AND status" PG_TIME_IN_C, " AND status" PG_TIME_IN, \
                      " AND agent = $1::text", " AND agent_name = $1::text")
#define PG_TIME_FOLD_EVERY "256"
/* The counter rows (kind, agent, status, level, bucket, n) of the
 * grouped changes g (agent a, status s, level-1 bucket b, delta n). */
#define PG_TIME_ROLLUP(g)                                                                   \
    " SELECT v.k, v.a, v.s, l.l::smallint, " g ".b >> (6 * (l.l - 1)), sum(" g ".n)::bigint" \
    " FROM " g " CROSS JOIN LATERAL (VALUES (0::smallint, ''::text COLLATE \"C\","          \
    " " g ".s COLLATE \"C\"), (0, '', ''), (1, " g ".a, " g ".s), (1, " g ".a, ''))"         \
    " v (k, a, s) CROSS JOIN generate_series(1, 5) l (l) GROUP BY 1, 2, 3, 4, 5"
#define PG_TIME_PK "(status, kind, agent, level, bucket)"
#define PG_SQL_TIME_COUNTS                                                                  \
    "CREATE TABLE @.run_time_counts ("                                                      \
    " kind smallint NOT NULL,"                                                              \
    " agent text COLLATE \"C\" NOT NULL,"                                                   \
    " status text COLLATE \"C\" NOT NULL,"                                                  \
    " level smallint NOT NULL,"                                                             \
    " bucket bigint NOT NULL,"                                                              \
    " n bigint NOT NULL,"                                                                   \
    " PRIMARY KEY " PG_TIME_PK ");"                                                         \
    "CREATE TABLE @.run_time_log ("                                                         \
    " agent text COLLATE \"C\" NOT NULL,"                                                   \
    " status text COLLATE \"C\" NOT NULL,"                                                  \
    " created_us bigint NOT NULL,"                                                          \
    " d integer NOT NULL);"                                                                 \
    /* reads and the fold go through it: no sequential scan (PG_SQL_SESSION) */             \
    "CREATE INDEX run_time_log_by_time ON @.run_time_log (created_us);"                     \
    "CREATE TABLE @.run_time_fold (one boolean PRIMARY KEY);"                               \
    "INSERT INTO @.run_time_fold VALUES (true);"                                            \
    /* jit off: a plan the session's settings price high must not be compiled */            \
    "CREATE FUNCTION @.run_time_fold() RETURNS void LANGUAGE plpgsql SET jit = off AS $f$"  \
    " DECLARE zk smallint[]; za text[]; zs text[]; zl smallint[]; zb bigint[]; BEGIN"       \
    " PERFORM FROM @.run_time_fold FOR UPDATE SKIP LOCKED;"                                 \
    " IF NOT FOUND THEN RETURN; END IF;"                                                    \
    " WITH x AS (DELETE FROM @.run_time_log RETURNING agent, status, created_us, d),"        \
    " g AS (SELECT agent AS a, status AS s, created_us >> 20 AS b, sum(d) AS n FROM x"      \
    "  GROUP BY 1, 2, 3),"                                                                  \
    " k AS (" PG_TIME_ROLLUP("g") " HAVING sum(g.n) <> 0),"                                 \
    " u AS (INSERT INTO @.run_time_counts AS c SELECT * FROM k"                             \
    "  ON CONFLICT " PG_TIME_PK " DO UPDATE SET n = c.n + EXCLUDED.n"                       \
    "  RETURNING kind, agent, status, level, bucket, n)"                                    \
    " SELECT array_agg(kind), array_agg(agent), array_agg(status), array_agg(level),"       \
    "  array_agg(bucket) INTO zk, za, zs, zl, zb FROM u WHERE n = 0;"                       \
    " IF zk IS NOT NULL THEN DELETE FROM @.run_time_counts c"                               \
    "  USING unnest(zk, za, zs, zl, zb) z (k, a, s, l, b) WHERE c.kind = z.k"              \
    "  AND c.agent = z.a AND c.status = z.s AND c.level = z.l AND c.bucket = z.b"           \
    "  AND c.n = 0; END IF;"                                                                \
    " END $f$;"                                                                             \
    "CREATE FUNCTION @.run_time_log() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"        \
    " IF TG_OP = 'INSERT' THEN INSERT INTO @.run_time_log"                                  \
    "  VALUES (NEW.agent_name, NEW.status, NEW.created_us, 1);"                             \
    " ELSIF TG_OP = 'DELETE' THEN INSERT INTO @.run_time_log"                               \
    "  VALUES (OLD.agent_name, OLD.status, OLD.created_us, -1);"                            \
    " ELSE INSERT INTO @.run_time_log VALUES (OLD.agent_name, OLD.status, OLD.created_us,"  \
    "  -1), (NEW.agent_name, NEW.status, NEW.created_us, 1);"                               \
    " END IF;"                                                                              \
    " IF random() * " PG_TIME_FOLD_EVERY " < 1 THEN PERFORM @.run_time_fold(); END IF;"     \
    " RETURN NULL; END $f$;"                                                                \
    /* A total over a creation-time range, for pg_ops.c (time_total):      \
     * $27 the filter's shape (1 agent, 2 statuses).  A function so that    \
     * its four statements run with plans made once per session: planning  \
     * them for every call's values cost more than running them.           */ \
    "CREATE FUNCTION @.run_time_total(text, text, bigint, bigint, bigint, bigint, bigint,"  \
    " bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint,"      \
    " bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, integer)"     \
    " RETURNS bigint LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan"      \
    " AS $f$ DECLARE t bigint; BEGIN"                                                       \
    " IF $27 = 0 THEN " PG_TIME_TOTAL_0 " INTO t;"                                          \
    " ELSIF $27 = 1 THEN " PG_TIME_TOTAL_1 " INTO t;"                                       \
    " ELSIF $27 = 2 THEN " PG_TIME_TOTAL_2 " INTO t;"                                       \
    " ELSE " PG_TIME_TOTAL_3 " INTO t;"                                                     \
    " END IF; RETURN t; END $f$;"                                                           \
    "CREATE FUNCTION @.run_time_clear() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"      \
    " DELETE FROM @.run_time_log; DELETE FROM @.run_time_counts; RETURN NULL; END $f$;"     \
    "CREATE TRIGGER run_time_log_add AFTER INSERT OR DELETE ON @.runs"                      \
    " FOR EACH ROW EXECUTE FUNCTION @.run_time_log();"                                      \
    "CREATE TRIGGER run_time_log_move AFTER UPDATE OF agent_name, status, created_us"       \
    " ON @.runs FOR EACH ROW WHEN (OLD.status <> NEW.status"                                \
    " OR OLD.agent_name <> NEW.agent_name OR OLD.created_us <> NEW.created_us)"             \
    " EXECUTE FUNCTION @.run_time_log();"                                                   \
    "CREATE TRIGGER run_time_clear AFTER TRUNCATE ON @.runs"                                \
    " FOR EACH STATEMENT EXECUTE FUNCTION @.run_time_clear();"

/* The counts of the runs already stored, for the migration from version
 * 5: one pass over runs grouped by agent, status and level-1 bucket, then
 * rolled up to every key and level. */
#define PG_SQL_TIME_COUNTS_BACKFILL                                                         \
    "INSERT INTO @.run_time_counts (kind, agent, status, level, bucket, n)"                 \
    " WITH g AS (SELECT agent_name AS a, status AS s, created_us >> 20 AS b,"               \
    "  count(*) AS n FROM @.runs GROUP BY 1, 2, 3)" PG_TIME_ROLLUP("g") ";"

/* A new store, at the current version. */
#define PG_SQL_SCHEMA                                                                       \
    PG_SQL_TABLES PG_SQL_COUNTS PG_SQL_VERSIONS PG_SQL_OPS PG_SQL_TIME_COUNTS               \
    "INSERT INTO @.meta VALUES ('schema_version', 6);"

/* From version 1 to 2, in the transaction holding the advisory lock.  The
 * table lock keeps every writer of runs (an older plugin's too) out until
 * the triggers and the counts they start from are committed together;
 * the plugin's sessions avoid sequential scans and sorts, which are what
 * one pass over every run wants. */
#define PG_SQL_MIGRATE_2                                                                    \
    "LOCK TABLE @.runs IN SHARE ROW EXCLUSIVE MODE;"                                        \
    "SET LOCAL enable_seqscan = on; SET LOCAL enable_sort = on;"                            \
    PG_SQL_COUNTS PG_SQL_COUNTS_BACKFILL                                                    \
    "UPDATE @.meta SET value = 2 WHERE name = 'schema_version';"

/* From version 4 to 5, in the same transaction, as from version 1 to 2:
 * writers wait until the triggers and the counts they start from commit. */
#define PG_SQL_MIGRATE_5                                                                    \
    "LOCK TABLE @.runs IN SHARE ROW EXCLUSIVE MODE;"                                        \
    "SET LOCAL enable_seqscan = on; SET LOCAL enable_sort = on;"                            \
    PG_SQL_STATUS_COUNTS PG_SQL_STATUS_COUNTS_BACKFILL                                      \
    "UPDATE @.meta SET value = 5 WHERE name = 'schema_version';"

/* Version 6 answers totals by status from run_time_counts' top level:
 * run_status_counts goes, with the upserts it cost every new run and
 * status change. */
#define PG_SQL_DROP_STATUS_COUNTS                                                           \
    "DROP TRIGGER run_status_counts_add ON @.runs;"                                         \
    "DROP TRIGGER run_status_counts_remove ON @.runs;"                                      \
    "DROP TRIGGER run_status_counts_move ON @.runs;"                                        \
    "DROP TRIGGER run_status_counts_clear ON @.runs;"                                       \
    "DROP FUNCTION @.run_status_counts_add(), @.run_status_counts_remove(),"                \
    " @.run_status_counts_move(), @.run_status_counts_clear();"                             \
    "DROP TABLE @.run_status_counts;"

/* From version 5 to 6, in the same transaction, as from version 1 to 2. */
#define PG_SQL_MIGRATE_6                                                                    \
    "LOCK TABLE @.runs IN SHARE ROW EXCLUSIVE MODE;"                                        \
    "SET LOCAL enable_seqscan = on; SET LOCAL enable_sort = on;"                            \
    PG_SQL_TIME_COUNTS PG_SQL_TIME_COUNTS_BACKFILL PG_SQL_DROP_STATUS_COUNTS                \
    "UPDATE @.meta SET value = 6 WHERE name = 'schema_version';"

/* From version 2 to 3, in the same transaction. */
#define PG_SQL_MIGRATE_3                                                                    \
    PG_SQL_VERSIONS "UPDATE @.meta SET value = 3 WHERE name = 'schema_version';"

/* The migration chain after creation: each row brings version to - 1 to
 * `to`.  A new store is made at the latest version at once (PG_SQL_SCHEMA);
 * an older one runs the rows above its version in order, in one
 * transaction under the advisory lock (postgres.c, ensure_schema), and
 * acp-storage migrate --dry-run lists the same rows.  A new schema version
 * appends one row here, bumps PG_SCHEMA_VERSION and updates PG_SQL_SCHEMA:
 * nothing else. */
typedef struct pg_step {
    int to;
    const char *description; /* one line, for acp-storage migrate */
    const char *sql;         /* "@" is the schema (pg_sql_expand) */
} pg_step;
static const pg_step pg_migrations[] = {
    {2, "create run_counts and the triggers that keep it; count the runs already stored "
        "(runs is locked against writers until this commits)",
     PG_SQL_MIGRATE_2},
    {3, "add runs.version (stored runs become version 1), the delete mark in meta and the "
        "function save_run (run versions)",
     PG_SQL_MIGRATE_3},
    {4, "create the indexes runs_by_status, runs_by_agent_status and runs_finished (status "
        "filters and purge)",
     PG_SQL_MIGRATE_4},
    {5, "create run_status_counts (runs by agent and status) and the triggers that keep "
        "it; count the runs already stored (runs is locked against writers until this commits)",
     PG_SQL_MIGRATE_5},
    {6, "create run_time_counts and run_time_log (runs by agent, status and creation time) "
        "and the triggers that keep them; count the runs already stored; drop "
        "run_status_counts, whose totals they give (runs is locked against writers until "
        "this commits)",
     PG_SQL_MIGRATE_6},
};
#define PG_N_MIGRATIONS (sizeof pg_migrations / sizeof pg_migrations[0])

/* Settings of every session of the plugin.  Each statement below is
 * written for one index; for the deep pages of a large match the planner's
 * cost model would rather read the whole table and sort it, a cost that
 * grows with the store.  The plugin's sessions run nothing else, so they
 * turn those plans off and always read in index order.  Every write is
 * written for READ COMMITTED (an upsert that found a row locked waits and
 * then updates the committed version), whatever the server's default: a
 * stricter default would fail concurrent writers of one counter row or
 * event sequence with serialization errors. */
#define PG_SQL_SESSION                                                                      \
    "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off;"         \
    "SET default_transaction_isolation = 'read committed';"

/* Statements from this one on are planned with their values at every call
 * (sent unnamed) rather than prepared: a generic plan estimates an agent
 * filter at 1/(number of agents), walks the time index filtering by agent
 * and, for a rarely used agent, ends up reading nearly every run. */
#define PG_FIRST_PLANNED_EACH_TIME PG_LIST_RUNS

/* Statements, by number.  Parameters are sent in binary: text as
 * its bytes, bigint as 8 bytes big-endian. */
enum {
    PG_SAVE_RUN,      /* $1 run_id $2 agent $3 session $4 status $5 created $6 finished $7 doc
                         $8 keep created $9 mode $10 version -> ok, version */
    PG_GET_RUN,       /* $1 run_id -> doc, created_us, version */
    PG_LOCK_RUN,      /* $1 run_id: the advisory lock of save_run(), until commit */
    PG_DELETE_SEQ,    /* $1 run_id -> 1 row if the run had a sequence counter */
    PG_LOCK_SEQ,      /* $1 run_id -> the run's last sequence (0: none), its counter locked */
    PG_DELETE_RUN,    /* $1 run_id -> 1 row if a run record existed (events go too) */
    PG_SAVE_SESSION,  /* $1 id $2 doc */
    PG_GET_SESSION,   /* $1 id -> doc */
    PG_DELETE_SESSION, /* $1 id -> 1 row if it existed */
    PG_LIST_SESSIONS, /* $1 limit -> id, doc */
    PG_LIST_SESSIONS_AFTER, /* $1 after_id $2 limit -> id, doc */
    PG_ADD_EVENT,     /* $1 run_id $2 type $3 stored_us $4 doc -> seq */
    PG_GET_EVENTS,    /* $1 run_id $2 after_seq $3 offset $4 limit -> seq, stored_us, doc */
    /* batched and restoring writes (save_runs, add_events) */
    PG_RESTORE_EVENT, /* $1 run_id $2 type $3 stored_us $4 doc $5 seq -> 1 row if stored */
    PG_INSERT_RUNS,   /* arrays of PG_SAVE_RUN's parameters -> runs stored */
    PG_RESTORE_EVENTS, /* arrays $1 run_id $2 seq $3 stored_us $4 type $5 doc
                        * -> runs in the batch, runs accepted, events stored */
    /* events of many runs (get_events_of_runs): $1 text[] run ids $2 after_seq
     * (of the first) $3 limit -> run_id, seq, stored_us, doc */
    PG_GET_EVENTS_OF_RUNS,
    /* totals: [agent] [session] -> count (a key lookup: prepared) */
    PG_COUNT_RUNS,
    PG_COUNT_RUNS_A,
    PG_COUNT_RUNS_S,
    PG_COUNT_RUNS_AS,
    /* a total over a creation-time range (schema 6): the parameters of
     * @.run_time_total (PG_SQL_TIME_COUNTS) -> count; pg_ops.c, time_total */
    PG_TIME_TOTAL,
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
    PG_N_STATEMENTS
};

#define PG_LIST_COLS "SELECT run_id, created_us, doc, version FROM @.runs"
/* The run order and cursor rule of acp_run_order_cmp (acp_storage_plugin.h). */
#define PG_LIST_ORDER " ORDER BY created_us DESC, run_id DESC"
#define PG_CURSOR(c, i) "(created_us, run_id) < ($" c "::bigint, $" i "::text)"
#define PG_COUNT_SUM "SELECT coalesce(sum(n), 0)::bigint FROM @.run_counts WHERE kind = "
#define PG_PAGE(o, l) " OFFSET $" o "::bigint LIMIT $" l "::bigint"

static const char *const pg_sql[PG_N_STATEMENTS] = {
    [PG_SAVE_RUN] = "SELECT o_ok, o_version FROM @.save_run($1::text, $2::text, $3::text,"
                    " $4::text, $5::bigint, $6::bigint, $7::text, $8::boolean, $9::text,"
                    " $10::bigint)",
    [PG_GET_RUN] = "SELECT doc, created_us, version FROM @.runs WHERE run_id = $1::text",
    [PG_LOCK_RUN] = "SELECT pg_advisory_xact_lock(" PG_RUN_LOCK_KEY ", hashtext($1::text))",
    [PG_DELETE_SEQ] = "DELETE FROM @.event_seq WHERE run_id = $1::text RETURNING 1",
    /* delete_run's first step: take the run's counter row lock, creating the
     * row if need be, which also waits for an appender that is inserting it.
     * Every append of the run then either committed before (so the delete's
     * later statements see its event) or waits for the delete to commit (and
     * starts a new stream at 1).  Without it, an appender committing between
     * the delete's statements left a counter whose events were deleted. */
    [PG_LOCK_SEQ] = "INSERT INTO @.event_seq AS q (run_id, last_seq) VALUES ($1::text, 0)"
                    " ON CONFLICT (run_id) DO UPDATE SET last_seq = q.last_seq"
                    " RETURNING last_seq",
    /* The delete mark rises to the removed run's version. */
    [PG_DELETE_RUN] = "WITH e AS (DELETE FROM @.events WHERE run_id = $1::text),"
                      " d AS (DELETE FROM @.runs WHERE run_id = $1::text RETURNING version),"
                      " m AS (UPDATE @.meta SET value = d.version FROM d"
                      " WHERE name = 'run_delete' AND value < d.version)"
                      " SELECT 1 FROM d",
    [PG_SAVE_SESSION] = "INSERT INTO @.sessions (id, doc) VALUES ($1::text, $2::text)"
                        " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
    [PG_GET_SESSION] = "SELECT doc FROM @.sessions WHERE id = $1::text",
    [PG_DELETE_SESSION] = "DELETE FROM @.sessions WHERE id = $1::text RETURNING 1",
    [PG_LIST_SESSIONS] = "SELECT id, doc FROM @.sessions ORDER BY id LIMIT $1::bigint",
    [PG_LIST_SESSIONS_AFTER] = "SELECT id, doc FROM @.sessions WHERE id > $1::text"
                               " ORDER BY id LIMIT $2::bigint",
    /* One statement, so one transaction: the counter row's lock makes
     * concurrent appenders to one run take turns, and a failed insert
     * rolls the counter back, so sequences have no gaps.  The NOTIFY
     * (payload: the run id) is delivered at commit to the followers that
     * LISTEN (pg_follow.c); the channel is the literal of PG_CHANNEL. */
    [PG_ADD_EVENT] = "WITH s AS (INSERT INTO @.event_seq AS q (run_id, last_seq)"
                     " VALUES ($1::text, 1) ON CONFLICT (run_id)"
                     " DO UPDATE SET last_seq = q.last_seq + 1 RETURNING last_seq),"
                     " e AS (INSERT INTO @.events (run_id, seq, stored_us, type, doc)"
                     " SELECT $1::text, last_seq, $3::bigint, $2::text, $4::text FROM s"
                     " RETURNING seq)"
                     " SELECT seq, pg_notify('acp_storage_events', $1::text) FROM e",
    [PG_GET_EVENTS] = "SELECT seq, stored_us, doc FROM @.events"
                      " WHERE run_id = $1::text AND seq > $2::bigint ORDER BY seq"
                      " OFFSET $3::bigint LIMIT $4::bigint",
    /* The counter moves to $5 only from $5 - 1 (or starts at 1), under its
     * row lock as in PG_ADD_EVENT: an event that is not the run's next is
     * not stored (no row: a conflict), so sequences keep no gaps. */
    [PG_RESTORE_EVENT] = "WITH s AS (INSERT INTO @.event_seq AS q (run_id, last_seq)"
                         " SELECT $1::text, $5::bigint WHERE $5::bigint = 1 OR EXISTS"
                         " (SELECT 1 FROM @.event_seq WHERE run_id = $1::text)"
                         " ON CONFLICT (run_id) DO UPDATE SET last_seq = EXCLUDED.last_seq"
                         " WHERE q.last_seq = EXCLUDED.last_seq - 1 RETURNING last_seq),"
                         " e AS (INSERT INTO @.events (run_id, seq, stored_us, type, doc)"
                         " SELECT $1::text, last_seq, $3::bigint, $2::text, $4::text FROM s"
                         " RETURNING seq)"
                         " SELECT seq, pg_notify('acp_storage_events', $1::text) FROM e",
    /* save_runs with ACP_BATCH_INSERT_ONLY in one statement; the caller
     * rolls back to a savepoint unless every run was new. */
    [PG_INSERT_RUNS] = "INSERT INTO @.runs (run_id, agent_name, session_id, status, created_us,"
                       " finished_us, doc, version) SELECT u.*, greatest((SELECT m.value"
                       " FROM @.meta m WHERE m.name = 'run_delete') + 1,"
                       " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"
                       " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
                       " $5::bigint[], $6::bigint[], $7::text[]) AS u"
                       " ON CONFLICT (run_id) DO NOTHING",
    /* A whole restore batch in one statement, each run's events given in a
     * row with consecutive sequences: a run is accepted when its first
     * sequence is its next one (the counter moves from first - 1 to last
     * under its row lock), and only accepted runs' events are stored.  The
     * caller rolls back to a savepoint unless every run was accepted. */
    [PG_RESTORE_EVENTS] =
        "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[],"
        " $5::text[]) AS v (run_id, seq, stored_us, type, doc)),"
        " f AS (SELECT run_id, min(seq) AS first, max(seq) AS last FROM v GROUP BY run_id),"
        " s AS (INSERT INTO @.event_seq AS q (run_id, last_seq) SELECT run_id, last FROM f"
        " WHERE first = 1 OR EXISTS (SELECT 1 FROM @.event_seq x WHERE x.run_id = f.run_id)"
        " ON CONFLICT (run_id) DO UPDATE SET last_seq = EXCLUDED.last_seq"
        " WHERE q.last_seq = (SELECT g.first - 1 FROM f g WHERE g.run_id = EXCLUDED.run_id)"
        " RETURNING run_id),"
        " e AS (INSERT INTO @.events (run_id, seq, stored_us, type, doc)"
        " SELECT v.run_id, v.seq, v.stored_us, v.type, v.doc FROM v JOIN s USING (run_id)"
        " RETURNING 1)"
        " SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM s), (SELECT count(*) FROM e),"
        " (SELECT count(*) FROM (SELECT pg_notify('acp_storage_events', run_id) FROM s) n)",
    /* Runs in the array's order, each run's events by the primary key. */
    [PG_GET_EVENTS_OF_RUNS] =
        "SELECT e.run_id, e.seq, e.stored_us, e.doc"
        " FROM unnest($1::text[]) WITH ORDINALITY AS u (run_id, ord)"
        " JOIN @.events e ON e.run_id = u.run_id"
        " WHERE u.ord > 1 OR e.seq > $2::bigint ORDER BY u.ord, e.seq LIMIT $3::bigint",
    /* The slots of one key (see PG_SQL_COUNTS): at most 16 rows of the
     * primary key, whatever the number of runs. */
    [PG_COUNT_RUNS] = PG_COUNT_SUM "0 AND agent = '' AND session = ''",
    [PG_COUNT_RUNS_A] = PG_COUNT_SUM "1 AND agent = $1::text AND session = ''",
    [PG_COUNT_RUNS_S] = PG_COUNT_SUM "2 AND agent = '' AND session = $1::text",
    [PG_COUNT_RUNS_AS] = PG_COUNT_SUM "3 AND agent = $1::text AND session = $2::text",
    [PG_TIME_TOTAL] = "SELECT @.run_time_total($1::text, $2::text, $3::bigint, $4::bigint,"
                      " $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bigint, $10::bigint,"
                      " $11::bigint, $12::bigint, $13::bigint, $14::bigint, $15::bigint,"
                      " $16::bigint, $17::bigint, $18::bigint, $19::bigint, $20::bigint,"
                      " $21::bigint, $22::bigint, $23::bigint, $24::bigint, $25::bigint,"
                      " $26::bigint, $27::bigint::integer)",
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
