-- SPDX-License-Identifier: MIT
-- The postgres schema of version 1 (plugin 1.0), frozen: migrate_pg.sh
-- makes an old store with it.  "@" is the schema.
CREATE TABLE @.meta (name text COLLATE "C" PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE @.runs (run_id text COLLATE "C" PRIMARY KEY, agent_name text COLLATE "C" NOT NULL,
  session_id text COLLATE "C", status text NOT NULL, created_us bigint NOT NULL,
  finished_us bigint, doc text NOT NULL);
CREATE INDEX runs_by_time ON @.runs (created_us DESC, run_id DESC);
CREATE INDEX runs_by_agent ON @.runs (agent_name, created_us DESC, run_id DESC);
CREATE INDEX runs_by_session ON @.runs (session_id, created_us DESC, run_id DESC)
  WHERE session_id IS NOT NULL;
CREATE INDEX runs_by_agent_session ON @.runs (agent_name, session_id, created_us DESC, run_id DESC)
  WHERE session_id IS NOT NULL;
CREATE TABLE @.sessions (id text COLLATE "C" PRIMARY KEY, doc text NOT NULL);
CREATE TABLE @.events (run_id text COLLATE "C" NOT NULL, seq bigint NOT NULL,
  stored_us bigint NOT NULL, type text NOT NULL, doc text NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE @.event_seq (run_id text COLLATE "C" PRIMARY KEY, last_seq bigint NOT NULL);
INSERT INTO @.meta VALUES ('schema_version', 1);
