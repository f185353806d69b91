/* SPDX-License-Identifier: MIT */
/*
 * baseline_postgres_sql.h - the raw PostgreSQL baseline's schema and
 * statements, written as an application using libpq directly would write
 * them (unqualified names under the connection's search_path), apart from
 * the plugin's private header so that the benchmark depends on no
 * backend's internals.
 *
 * The schema is the postgres backend's schema version 6: the same tables,
 * columns, collations, indexes, and the triggers that keep the per-filter
 * run counters (16 slots per key, hashtext(run_id) & 15), so that an insert
 * pays for them on both sides.  bench_postgres_schema
 * (bench/pg_schema_check.c) fails when the plugin's schema and this one
 * differ: a change to the backend's schema must be followed here.
 */
#ifndef ACP_BENCH_BASELINE_POSTGRES_SQL_H
#define ACP_BENCH_BASELINE_POSTGRES_SQL_H

#include <stddef.h>

#include <libpq-fe.h>

#define BPG_SCHEMA_VERSION 6

/* A run's counter keys (kind, agent, session) as VALUES rows. */
#define BPG_KEYS(R)                                                                         \
    "(0, '', ''), (1, " R ".agent_name, ''), (2, '', " R ".session_id),"                     \
    " (3, " R ".agent_name, " R ".session_id)"

/* Version 6: the counters by creation time (run_time_counts), the log
 * they are folded from (run_time_log) and its trigger, the backend's text
 * (every insert, status change and delete appends to the log on both
 * sides, and one in 256 folds it). */
#define BPG_TIME_COUNTS                                                                     \
    "CREATE TABLE run_time_counts ( kind smallint NOT NULL, agent text COLLATE \"C\" NO"    \
    "T NULL, status text COLLATE \"C\" NOT NULL, level smallint NOT NULL, bucket bigint"    \
    " NOT NULL, n bigint NOT NULL, PRIMARY KEY (status, kind, agent, level, bucket));"      \
    "CREATE TABLE run_time_log ( agent text COLLATE \"C\" NOT NULL, status text COLLATE"    \
    " \"C\" NOT NULL, created_us bigint NOT NULL, d integer NOT NULL);CREATE INDEX run_"    \
    "time_log_by_time ON run_time_log (created_us);CREATE TABLE run_time_fold (one bo"      \
    "olean PRIMARY KEY);INSERT INTO run_time_fold VALUES (true);CREATE FUNCTION run_t"      \
    "ime_fold() RETURNS void LANGUAGE plpgsql SET jit = off AS $f$ DECLARE zk smallin"      \
    "t[]; za text[]; zs text[]; zl smallint[]; zb bigint[]; BEGIN PERFORM FROM run_ti"      \
    "me_fold FOR UPDATE SKIP LOCKED; IF NOT FOUND THEN RETURN; END IF; WITH x AS (DEL"      \
    "ETE FROM run_time_log RETURNING agent, status, created_us, d), g AS (SELECT agen"      \
    "t AS a, status AS s, created_us >> 20 AS b, sum(d) AS n FROM x  GROUP BY 1, 2, 3"      \
    "), k AS ( SELECT v.k, v.a, v.s, l.l::smallint, g.b >> (6 * (l.l - 1)), sum(g.n):"      \
    ":bigint FROM g CROSS JOIN LATERAL (VALUES (0::smallint, ''::text COLLATE \"C\", g."    \
    "s COLLATE \"C\"), (0, '', ''), (1, g.a, g.s), (1, g.a, '')) v (k, a, s) CROSS JOIN"    \
    " generate_series(1, 5) l (l) GROUP BY 1, 2, 3, 4, 5 HAVING sum(g.n) <> 0), u AS "      \
    "(INSERT INTO run_time_counts AS c SELECT * FROM k  ON CONFLICT (status, kind, ag"      \
    "ent, level, bucket) DO UPDATE SET n = c.n + EXCLUDED.n  RETURNING kind, agent, s"      \
    "tatus, level, bucket, n) SELECT array_agg(kind), array_agg(agent), array_agg(sta"      \
    "tus), array_agg(level),  array_agg(bucket) INTO zk, za, zs, zl, zb FROM u WHERE "      \
    "n = 0; IF zk IS NOT NULL THEN DELETE FROM run_time_counts c  USING unnest(zk, za"      \
    ", zs, zl, zb) z (k, a, s, l, b) WHERE c.kind = z.k  AND c.agent = z.a AND c.stat"      \
    "us = z.s AND c.level = z.l AND c.bucket = z.b  AND c.n = 0; END IF; END $f$;CREA"      \
    "TE FUNCTION run_time_log() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF TG_O"      \
    "P = 'INSERT' THEN INSERT INTO run_time_log  VALUES (NEW.agent_name, NEW.status, "      \
    "NEW.created_us, 1); ELSIF TG_OP = 'DELETE' THEN INSERT INTO run_time_log  VALUES"      \
    " (OLD.agent_name, OLD.status, OLD.created_us, -1); ELSE INSERT INTO run_time_log"      \
    " VALUES (OLD.agent_name, OLD.status, OLD.created_us,  -1), (NEW.agent_name, NEW."      \
    "status, NEW.created_us, 1); END IF; IF random() * 256 < 1 THEN PERFORM run_time_"      \
    "fold(); END IF; RETURN NULL; END $f$;CREATE FUNCTION run_time_total(text, text, "      \
    "bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, "      \
    "bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, "      \
    "bigint, bigint, bigint, bigint, integer) RETURNS bigint LANGUAGE plpgsql STABLE "      \
    "SET plan_cache_mode = force_generic_plan AS $f$ DECLARE t bigint; BEGIN IF $27 ="      \
    " 0 THEN SELECT (0 + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind "      \
    "= 0 AND agent = $1::text AND status = $2::text AND level = 1 AND bucket >= $3::b"      \
    "igint AND bucket < $4::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_count"      \
    "s WHERE kind = 0 AND agent = $1::text AND status = $2::text AND level = 1 AND bu"      \
    "cket >= $5::bigint AND bucket < $6::bigint) + (SELECT coalesce(sum(n), 0) FROM r"      \
    "un_time_counts WHERE kind = 0 AND agent = $1::text AND status = $2::text AND lev"      \
    "el = 2 AND bucket >= $7::bigint AND bucket < $8::bigint) + (SELECT coalesce(sum("      \
    "n), 0) FROM run_time_counts WHERE kind = 0 AND agent = $1::text AND status = $2:"      \
    ":text AND level = 2 AND bucket >= $9::bigint AND bucket < $10::bigint) + (SELECT"      \
    " coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND agent = $1::text AN"      \
    "D status = $2::text AND level = 3 AND bucket >= $11::bigint AND bucket < $12::bi"      \
    "gint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND agen"      \
    "t = $1::text AND status = $2::text AND level = 3 AND bucket >= $13::bigint AND b"      \
    "ucket < $14::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE ki"      \
    "nd = 0 AND agent = $1::text AND status = $2::text AND level = 4 AND bucket >= $1"      \
    "5::bigint AND bucket < $16::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_"      \
    "counts WHERE kind = 0 AND agent = $1::text AND status = $2::text AND level = 4 A"      \
    "ND bucket >= $17::bigint AND bucket < $18::bigint) + (SELECT coalesce(sum(n), 0)"      \
    " FROM run_time_counts WHERE kind = 0 AND agent = $1::text AND status = $2::text "      \
    "AND level = 5 AND bucket >= $19::bigint AND bucket < $20::bigint) + (SELECT coal"      \
    "esce(sum(d), 0) FROM run_time_log WHERE created_us >= $21::bigint AND created_us"      \
    " < $22::bigint) + (SELECT count(*) FROM runs WHERE created_us >= $23::bigint AND"      \
    " created_us < $24::bigint) + (SELECT count(*) FROM runs WHERE created_us >= $25:"      \
    ":bigint AND created_us < $26::bigint))::bigint INTO t; ELSIF $27 = 1 THEN SELECT"      \
    " (0 + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 1 AND agent "      \
    "= $1::text AND status = $2::text AND level = 1 AND bucket >= $3::bigint AND buck"      \
    "et < $4::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind ="      \
    " 1 AND agent = $1::text AND status = $2::text AND level = 1 AND bucket >= $5::bi"      \
    "gint AND bucket < $6::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts"      \
    " WHERE kind = 1 AND agent = $1::text AND status = $2::text AND level = 2 AND buc"      \
    "ket >= $7::bigint AND bucket < $8::bigint) + (SELECT coalesce(sum(n), 0) FROM ru"      \
    "n_time_counts WHERE kind = 1 AND agent = $1::text AND status = $2::text AND leve"      \
    "l = 2 AND bucket >= $9::bigint AND bucket < $10::bigint) + (SELECT coalesce(sum("      \
    "n), 0) FROM run_time_counts WHERE kind = 1 AND agent = $1::text AND status = $2:"      \
    ":text AND level = 3 AND bucket >= $11::bigint AND bucket < $12::bigint) + (SELEC"      \
    "T coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 1 AND agent = $1::text A"      \
    "ND status = $2::text AND level = 3 AND bucket >= $13::bigint AND bucket < $14::b"      \
    "igint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 1 AND age"      \
    "nt = $1::text AND status = $2::text AND level = 4 AND bucket >= $15::bigint AND "      \
    "bucket < $16::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE k"      \
    "ind = 1 AND agent = $1::text AND status = $2::text AND level = 4 AND bucket >= $"      \
    "17::bigint AND bucket < $18::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time"      \
    "_counts WHERE kind = 1 AND agent = $1::text AND status = $2::text AND level = 5 "      \
    "AND bucket >= $19::bigint AND bucket < $20::bigint) + (SELECT coalesce(sum(d), 0"      \
    ") FROM run_time_log WHERE created_us >= $21::bigint AND created_us < $22::bigint"      \
    " AND agent = $1::text) + (SELECT count(*) FROM runs WHERE created_us >= $23::big"      \
    "int AND created_us < $24::bigint AND agent_name = $1::text) + (SELECT count(*) F"      \
    "ROM runs WHERE created_us >= $25::bigint AND created_us < $26::bigint AND agent_"      \
    "name = $1::text))::bigint INTO t; ELSIF $27 = 2 THEN SELECT (0 + (SELECT coalesc"      \
    "e(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND agent = $1::text AND status"      \
    " = ANY (string_to_array($2::text COLLATE \"C\", ',')) AND level = 1 AND bucket >= "    \
    "$3::bigint AND bucket < $4::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_"      \
    "counts WHERE kind = 0 AND agent = $1::text AND status = ANY (string_to_array($2:"      \
    ":text COLLATE \"C\", ',')) AND level = 1 AND bucket >= $5::bigint AND bucket < $6:"    \
    ":bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND a"      \
    "gent = $1::text AND status = ANY (string_to_array($2::text COLLATE \"C\", ',')) AN"    \
    "D level = 2 AND bucket >= $7::bigint AND bucket < $8::bigint) + (SELECT coalesce"      \
    "(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND agent = $1::text AND status "      \
    "= ANY (string_to_array($2::text COLLATE \"C\", ',')) AND level = 2 AND bucket >= $"    \
    "9::bigint AND bucket < $10::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_"      \
    "counts WHERE kind = 0 AND agent = $1::text AND status = ANY (string_to_array($2:"      \
    ":text COLLATE \"C\", ',')) AND level = 3 AND bucket >= $11::bigint AND bucket < $1"    \
    "2::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND"      \
    " agent = $1::text AND status = ANY (string_to_array($2::text COLLATE \"C\", ',')) "    \
    "AND level = 3 AND bucket >= $13::bigint AND bucket < $14::bigint) + (SELECT coal"      \
    "esce(sum(n), 0) FROM run_time_counts WHERE kind = 0 AND agent = $1::text AND sta"      \
    "tus = ANY (string_to_array($2::text COLLATE \"C\", ',')) AND level = 4 AND bucket "    \
    ">= $15::bigint AND bucket < $16::bigint) + (SELECT coalesce(sum(n), 0) FROM run_"      \
    "time_counts WHERE kind = 0 AND agent = $1::text AND status = ANY (string_to_arra"      \
    "y($2::text COLLATE \"C\", ',')) AND level = 4 AND bucket >= $17::bigint AND bucket"    \
    " < $18::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = "      \
    "0 AND agent = $1::text AND status = ANY (string_to_array($2::text COLLATE \"C\", '"    \
    ",')) AND level = 5 AND bucket >= $19::bigint AND bucket < $20::bigint) + (SELECT"      \
    " coalesce(sum(d), 0) FROM run_time_log WHERE created_us >= $21::bigint AND creat"      \
    "ed_us < $22::bigint AND status = ANY (string_to_array($2::text COLLATE \"C\", ',')"    \
    ")) + (SELECT count(*) FROM runs WHERE created_us >= $23::bigint AND created_us <"      \
    " $24::bigint AND status = ANY (string_to_array($2::text, ','))) + (SELECT count("      \
    "*) FROM runs WHERE created_us >= $25::bigint AND created_us < $26::bigint AND st"      \
    "atus = ANY (string_to_array($2::text, ','))))::bigint INTO t; ELSE SELECT (0 + ("      \
    "SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 1 AND agent = $1::t"      \
    "ext AND status = ANY (string_to_array($2::text COLLATE \"C\", ',')) AND level = 1 "    \
    "AND bucket >= $3::bigint AND bucket < $4::bigint) + (SELECT coalesce(sum(n), 0) "      \
    "FROM run_time_counts WHERE kind = 1 AND agent = $1::text AND status = ANY (strin"      \
    "g_to_array($2::text COLLATE \"C\", ',')) AND level = 1 AND bucket >= $5::bigint AN"    \
    "D bucket < $6::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE "      \
    "kind = 1 AND agent = $1::text AND status = ANY (string_to_array($2::text COLLATE"      \
    " \"C\", ',')) AND level = 2 AND bucket >= $7::bigint AND bucket < $8::bigint) + (S"    \
    "ELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 1 AND agent = $1::te"      \
    "xt AND status = ANY (string_to_array($2::text COLLATE \"C\", ',')) AND level = 2 A"    \
    "ND bucket >= $9::bigint AND bucket < $10::bigint) + (SELECT coalesce(sum(n), 0) "      \
    "FROM run_time_counts WHERE kind = 1 AND agent = $1::text AND status = ANY (strin"      \
    "g_to_array($2::text COLLATE \"C\", ',')) AND level = 3 AND bucket >= $11::bigint A"    \
    "ND bucket < $12::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts WHER"      \
    "E kind = 1 AND agent = $1::text AND status = ANY (string_to_array($2::text COLLA"      \
    "TE \"C\", ',')) AND level = 3 AND bucket >= $13::bigint AND bucket < $14::bigint) "    \
    "+ (SELECT coalesce(sum(n), 0) FROM run_time_counts WHERE kind = 1 AND agent = $1"      \
    "::text AND status = ANY (string_to_array($2::text COLLATE \"C\", ',')) AND level ="    \
    " 4 AND bucket >= $15::bigint AND bucket < $16::bigint) + (SELECT coalesce(sum(n)"      \
    ", 0) FROM run_time_counts WHERE kind = 1 AND agent = $1::text AND status = ANY ("      \
    "string_to_array($2::text COLLATE \"C\", ',')) AND level = 4 AND bucket >= $17::big"    \
    "int AND bucket < $18::bigint) + (SELECT coalesce(sum(n), 0) FROM run_time_counts"      \
    " WHERE kind = 1 AND agent = $1::text AND status = ANY (string_to_array($2::text "      \
    "COLLATE \"C\", ',')) AND level = 5 AND bucket >= $19::bigint AND bucket < $20::big"    \
    "int) + (SELECT coalesce(sum(d), 0) FROM run_time_log WHERE created_us >= $21::bi"      \
    "gint AND created_us < $22::bigint AND agent = $1::text AND status = ANY (string_"      \
    "to_array($2::text COLLATE \"C\", ','))) + (SELECT count(*) FROM runs WHERE created"    \
    "_us >= $23::bigint AND created_us < $24::bigint AND agent_name = $1::text AND st"      \
    "atus = ANY (string_to_array($2::text, ','))) + (SELECT count(*) FROM runs WHERE "      \
    "created_us >= $25::bigint AND created_us < $26::bigint AND agent_name = $1::text"      \
    " AND status = ANY (string_to_array($2::text, ','))))::bigint INTO t; END IF; RET"      \
    "URN t; END $f$;CREATE FUNCTION run_time_clear() RETURNS trigger LANGUAGE plpgsql"      \
    " AS $f$ BEGIN DELETE FROM run_time_log; DELETE FROM run_time_counts; RETURN NULL"      \
    "; END $f$;CREATE TRIGGER run_time_log_add AFTER INSERT OR DELETE ON runs FOR EAC"      \
    "H ROW EXECUTE FUNCTION run_time_log();CREATE TRIGGER run_time_log_move AFTER UPD"      \
    "ATE OF agent_name, status, created_us ON runs FOR EACH ROW WHEN (OLD.status <> N"      \
    "EW.status OR OLD.agent_name <> NEW.agent_name OR OLD.created_us <> NEW.created_u"      \
    "s) EXECUTE FUNCTION run_time_log();CREATE TRIGGER run_time_clear AFTER TRUNCATE "      \
    "ON runs FOR EACH STATEMENT EXECUTE FUNCTION run_time_clear();"

/* Run versions, as the backend keeps them: a version per run, the delete
 * mark in meta, and the save function that decides, checks and writes
 * under a per-run advisory lock (the backend's own text: the schema check
 * compares functions by signature, and the work must be the same). */
#define BPG_VERSIONS                                                                        \
    "ALTER TABLE runs ADD COLUMN version bigint NOT NULL DEFAULT 1;"                        \
    "INSERT INTO meta VALUES ('run_delete', 0);"                                            \
    "CREATE FUNCTION save_run(p_id text, p_agent text, p_session text, p_status text,"      \
    " p_created bigint, p_finished bigint, p_doc text, p_keep boolean, p_mode text,"        \
    " p_want bigint, OUT o_ok boolean, OUT o_version bigint)"                               \
    " LANGUAGE plpgsql AS $f$ DECLARE stored bigint; base bigint; BEGIN"                    \
    " PERFORM pg_advisory_xact_lock(1094930518, hashtext(p_id));"                           \
    " SELECT r.version INTO stored FROM runs r WHERE r.run_id = p_id;"                      \
    " stored := coalesce(stored, 0); base := stored;"                                       \
    " IF base = 0 THEN SELECT m.value INTO base FROM meta m WHERE m.name = 'run_delete';"   \
    " END IF;"                                                                              \
    " o_version := greatest(base + 1,"                                                      \
    "  (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);"                         \
    " INSERT INTO runs AS r (run_id, agent_name, session_id, status, created_us,"           \
    "  finished_us, doc, version)"                                                          \
    "  VALUES (p_id, p_agent, p_session, p_status, p_created, p_finished, p_doc, o_version)" \
    "  ON CONFLICT (run_id) DO UPDATE SET agent_name = EXCLUDED.agent_name,"                \
    "  session_id = EXCLUDED.session_id, status = EXCLUDED.status,"                         \
    "  finished_us = EXCLUDED.finished_us, doc = EXCLUDED.doc, version = EXCLUDED.version," \
    "  created_us = CASE WHEN p_keep THEN r.created_us ELSE EXCLUDED.created_us END;"       \
    " o_ok := true; END $f$;"

/* Run once in a new schema that is first on the search_path.  The trigger
 * functions name tables unqualified too: they run on the baseline's
 * connections, which all set that search_path. */
#define BPG_SCHEMA                                                                          \
    "CREATE TABLE meta (name text COLLATE \"C\" PRIMARY KEY, value bigint NOT NULL);"       \
    "CREATE TABLE runs (run_id text COLLATE \"C\" PRIMARY KEY,"                            \
    " agent_name text COLLATE \"C\" NOT NULL, session_id text COLLATE \"C\","              \
    " status text NOT NULL, created_us bigint NOT NULL, finished_us bigint,"               \
    " doc text NOT NULL);"                                                                  \
    "CREATE INDEX runs_by_time ON runs (created_us DESC, run_id DESC);"                     \
    "CREATE INDEX runs_by_agent ON runs (agent_name, created_us DESC, run_id DESC);"        \
    "CREATE INDEX runs_by_session ON runs (session_id, created_us DESC, run_id DESC)"       \
    " WHERE session_id IS NOT NULL;"                                                        \
    "CREATE INDEX runs_by_agent_session ON runs"                                            \
    " (agent_name, session_id, created_us DESC, run_id DESC) WHERE session_id IS NOT NULL;" \
    "CREATE TABLE sessions (id text COLLATE \"C\" PRIMARY KEY, doc text NOT NULL);"         \
    "CREATE TABLE events (run_id text COLLATE \"C\" NOT NULL, seq bigint NOT NULL,"        \
    " stored_us bigint NOT NULL, type text NOT NULL, doc text NOT NULL,"                   \
    " PRIMARY KEY (run_id, seq));"                                                          \
    "CREATE TABLE event_seq (run_id text COLLATE \"C\" PRIMARY KEY, last_seq bigint NOT NULL);" \
    "CREATE TABLE run_counts (kind smallint NOT NULL, agent text COLLATE \"C\" NOT NULL,"  \
    " session text COLLATE \"C\" NOT NULL, slot smallint NOT NULL, n bigint NOT NULL,"     \
    " PRIMARY KEY (kind, agent, session, slot));"                                           \
    /* $1 kind, $2 agent, $3 session (NULL: the run has no such key), $4 slot, $5 +-1 */     \
    "CREATE FUNCTION run_counts_step(smallint, text, text, smallint, bigint)"               \
    " RETURNS void LANGUAGE plpgsql AS $f$ DECLARE left_n bigint; BEGIN"                    \
    " IF $3 IS NULL THEN RETURN; END IF;"                                                   \
    " INSERT INTO run_counts AS c VALUES ($1, $2, $3, $4, $5)"                              \
    "  ON CONFLICT (kind, agent, session, slot) DO UPDATE SET n = c.n + EXCLUDED.n"         \
    "  RETURNING n INTO left_n;"                                                            \
    " IF left_n = 0 THEN DELETE FROM run_counts"                                            \
    "  WHERE kind = $1 AND agent = $2 AND session = $3 AND slot = $4; END IF; END $f$;"     \
    /* One upsert per key, as the backend's triggers do; a removal then drops \
     * the counter rows that fell to zero. */                                               \
    "CREATE FUNCTION run_counts_add() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"        \
    " INSERT INTO run_counts AS c SELECT k, a, s, hashtext(NEW.run_id) & 15, 1"             \
    "  FROM (VALUES " BPG_KEYS("NEW") ") v (k, a, s) WHERE s IS NOT NULL"                   \
    "  ON CONFLICT (kind, agent, session, slot) DO UPDATE SET n = c.n + 1;"                 \
    " RETURN NULL; END $f$;"                                                                \
    "CREATE FUNCTION run_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"     \
    " INSERT INTO run_counts AS c SELECT k, a, s, hashtext(OLD.run_id) & 15, -1"            \
    "  FROM (VALUES " BPG_KEYS("OLD") ") v (k, a, s) WHERE s IS NOT NULL"                   \
    "  ON CONFLICT (kind, agent, session, slot) DO UPDATE SET n = c.n - 1;"                 \
    " DELETE FROM run_counts c USING (VALUES " BPG_KEYS("OLD") ") v (k, a, s)"              \
    "  WHERE c.kind = v.k AND c.agent = v.a AND c.session = v.s"                            \
    "  AND c.slot = hashtext(OLD.run_id) & 15 AND c.n = 0;"                                 \
    " RETURN NULL; END $f$;"                                                                \
    /* Not used by the workload (no run changes agent or session). */                       \
    "CREATE FUNCTION run_counts_move() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"       \
    " FOR k IN 0..3 LOOP"                                                                   \
    "  PERFORM run_counts_step(k::smallint, CASE WHEN k IN (0, 2) THEN '' ELSE"             \
    "   OLD.agent_name END, CASE WHEN k < 2 THEN '' ELSE OLD.session_id END,"               \
    "   (hashtext(OLD.run_id) & 15)::smallint, -1);"                                        \
    "  PERFORM run_counts_step(k::smallint, CASE WHEN k IN (0, 2) THEN '' ELSE"             \
    "   NEW.agent_name END, CASE WHEN k < 2 THEN '' ELSE NEW.session_id END,"               \
    "   (hashtext(NEW.run_id) & 15)::smallint, 1);"                                         \
    " END LOOP; RETURN NULL; END $f$;"                                                      \
    "CREATE FUNCTION run_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"      \
    " DELETE FROM run_counts; RETURN NULL; END $f$;"                                        \
    "CREATE TRIGGER run_counts_add AFTER INSERT ON runs"                                    \
    " FOR EACH ROW EXECUTE FUNCTION run_counts_add();"                                      \
    "CREATE TRIGGER run_counts_remove AFTER DELETE ON runs"                                 \
    " FOR EACH ROW EXECUTE FUNCTION run_counts_remove();"                                   \
    "CREATE TRIGGER run_counts_move AFTER UPDATE OF run_id, agent_name, session_id ON runs" \
    " FOR EACH ROW WHEN (OLD.agent_name IS DISTINCT FROM NEW.agent_name"                    \
    " OR OLD.session_id IS DISTINCT FROM NEW.session_id OR OLD.run_id <> NEW.run_id)"      \
    " EXECUTE FUNCTION run_counts_move();"                                                  \
    "CREATE TRIGGER run_counts_clear AFTER TRUNCATE ON runs"                                \
    " FOR EACH STATEMENT EXECUTE FUNCTION run_counts_clear();"                              \
    BPG_VERSIONS                                                                            \
    /* version 4: the status filters' and purge's indexes */                                \
    "CREATE INDEX runs_by_status ON runs (status, created_us DESC, run_id DESC);"           \
    "CREATE INDEX runs_by_agent_status ON runs"                                             \
    " (agent_name, status, created_us DESC, run_id DESC);"                                  \
    "CREATE INDEX runs_finished ON runs (status, finished_us)"                              \
    " WHERE finished_us IS NOT NULL;"                                                       \
    BPG_TIME_COUNTS                                                                         \
    "INSERT INTO meta VALUES ('schema_version', 6);"

/* The statements the workload runs, prepared as "b<number>".  Parameters
 * travel in binary: text as its bytes, bigint as 8 bytes big-endian. */
enum {
    BPG_SAVE_RUN,     /* $1 run_id $2 agent $3 session $4 status $5 created $6 finished $7 doc */
    BPG_GET_RUN,      /* $1 run_id -> doc, created_us */
    BPG_DELETE_SEQ,   /* $1 run_id -> 1 row if the run had events */
    BPG_DELETE_RUN,   /* $1 run_id -> 1 row if the run existed (its events go too) */
    BPG_SAVE_SESSION, /* $1 id $2 doc */
    BPG_GET_SESSION,  /* $1 id -> doc */
    BPG_ADD_EVENT,    /* $1 run_id $2 type $3 stored_us $4 doc -> seq */
    BPG_GET_EVENTS,   /* $1 run_id $2 after_seq $3 offset $4 limit -> seq, stored_us, doc */
    BPG_COUNT_RUNS,   /* + 1 with an agent, + 2 with a session: [agent] [session] -> total */
    BPG_COUNT_RUNS_A,
    BPG_COUNT_RUNS_S,
    BPG_COUNT_RUNS_AS,
    BPG_LIST_RUNS,    /* same filters: [agent] [session] offset limit -> run_id, created_us, doc */
    BPG_LIST_RUNS_A,
    BPG_LIST_RUNS_S,
    BPG_LIST_RUNS_AS,
    BPG_LOCK_RUN,     /* $1 run_id: save_run()'s advisory lock, until commit */
    BPG_N_STATEMENTS
};

static const char *const bpg_sql[BPG_N_STATEMENTS] = {
    [BPG_SAVE_RUN] = "SELECT o_ok, o_version FROM save_run($1::text, $2::text, $3::text,"
                     " $4::text, $5::bigint, $6::bigint, $7::text, false, '-', 0)",
    [BPG_GET_RUN] = "SELECT doc, created_us FROM runs WHERE run_id = $1::text",
    [BPG_DELETE_SEQ] = "DELETE FROM event_seq WHERE run_id = $1::text RETURNING 1",
    [BPG_DELETE_RUN] = "WITH e AS (DELETE FROM events WHERE run_id = $1::text),"
                       " d AS (DELETE FROM runs WHERE run_id = $1::text RETURNING version),"
                       " m AS (UPDATE meta SET value = d.version FROM d"
                       " WHERE name = 'run_delete' AND value < d.version)"
                       " SELECT 1 FROM d",
    [BPG_SAVE_SESSION] = "INSERT INTO sessions VALUES ($1::text, $2::text)"
                         " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
    [BPG_GET_SESSION] = "SELECT doc FROM sessions WHERE id = $1::text",
    /* The sequence row's lock orders the appenders of one run; the notify
     * is what the backend sends for its followers. */
    [BPG_ADD_EVENT] = "WITH s AS (INSERT INTO event_seq AS q VALUES ($1::text, 1)"
                      " ON CONFLICT (run_id) DO UPDATE SET last_seq = q.last_seq + 1"
                      " RETURNING last_seq),"
                      " e AS (INSERT INTO events SELECT $1::text, last_seq, $3::bigint,"
                      " $2::text, $4::text FROM s RETURNING seq)"
                      " SELECT seq, pg_notify('acp_storage_events', $1::text) FROM e",
    [BPG_GET_EVENTS] = "SELECT seq, stored_us, doc FROM events WHERE run_id = $1::text"
                       " AND seq > $2::bigint ORDER BY seq OFFSET $3::bigint LIMIT $4::bigint",
    [BPG_COUNT_RUNS] = "SELECT coalesce(sum(n), 0)::bigint FROM run_counts"
                       " WHERE kind = 0 AND agent = '' AND session = ''",
    [BPG_COUNT_RUNS_A] = "SELECT coalesce(sum(n), 0)::bigint FROM run_counts"
                         " WHERE kind = 1 AND agent = $1::text AND session = ''",
    [BPG_COUNT_RUNS_S] = "SELECT coalesce(sum(n), 0)::bigint FROM run_counts"
                         " WHERE kind = 2 AND agent = '' AND session = $1::text",
    [BPG_COUNT_RUNS_AS] = "SELECT coalesce(sum(n), 0)::bigint FROM run_counts"
                          " WHERE kind = 3 AND agent = $1::text AND session = $2::text",
    [BPG_LIST_RUNS] = "SELECT run_id, created_us, doc FROM runs"
                      " ORDER BY created_us DESC, run_id DESC OFFSET $1::bigint LIMIT $2::bigint",
    [BPG_LIST_RUNS_A] = "SELECT run_id, created_us, doc FROM runs WHERE agent_name = $1::text"
                        " ORDER BY created_us DESC, run_id DESC OFFSET $2::bigint LIMIT $3::bigint",
    [BPG_LIST_RUNS_S] = "SELECT run_id, created_us, doc FROM runs WHERE session_id = $1::text"
                        " ORDER BY created_us DESC, run_id DESC OFFSET $2::bigint LIMIT $3::bigint",
    [BPG_LIST_RUNS_AS] = "SELECT run_id, created_us, doc FROM runs WHERE agent_name = $1::text"
                         " AND session_id = $2::text"
                         " ORDER BY created_us DESC, run_id DESC OFFSET $3::bigint LIMIT $4::bigint",
    [BPG_LOCK_RUN] = "SELECT pg_advisory_xact_lock(1094930518, hashtext($1::text))",
};

/* Create schema qschema (a quoted identifier) on c, put it first on c's
 * search_path and create BPG_SCHEMA in it (baseline_postgres_schema.c).
 * 0, or -1 with why filled. */
int baseline_postgres_create(PGconn *c, const char *qschema, char *why, size_t wl);

#endif /* ACP_BENCH_BASELINE_POSTGRES_SQL_H */
