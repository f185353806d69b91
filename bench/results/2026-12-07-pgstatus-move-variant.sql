-- issue 19 item 3 follow-up (branch pgstatus): a move trigger for run_status_counts without a sort (adopted later, commit 0c81aec, in the schema xa here; the plugin's text is in pg_sql.h);
-- measured with pgbench (12 s and 6 s runs, alternated, the plugin's session settings via PGOPTIONS) on 20,000 runs,
-- one status change per transaction: latency average ms, schema 4 (no trigger) / schema 5 as shipped / this variant:
--   0.255/0.406/0.287, 0.200/0.554/0.451, 0.331/4.107/1.150, 0.371/1.065/1.178, 0.309/0.530/0.437, 0.241/0.469/0.290
-- (load average 6 to 8: too noisy to decide in the session; the counters agreed with a recount afterwards)
CREATE OR REPLACE FUNCTION xa.run_status_counts_move() RETURNS trigger LANGUAGE plpgsql AS $f$ DECLARE
 osl smallint := (hashtext(OLD.run_id) & 15); nsl smallint := (hashtext(NEW.run_id) & 15);
 oa text COLLATE "C"; na text COLLATE "C"; ost text COLLATE "C" := OLD.status;
 nst text COLLATE "C" := NEW.status; left_n bigint; BEGIN
 FOR k IN 0..1 LOOP
  oa := CASE WHEN k = 0 THEN '' ELSE OLD.agent_name END;
  na := CASE WHEN k = 0 THEN '' ELSE NEW.agent_name END;
  CONTINUE WHEN oa = na AND ost = nst AND osl = nsl;
  FOR i IN 0..1 LOOP
   IF ((na, nst, nsl) < (oa, ost, osl)) = (i = 0) THEN
    INSERT INTO xa.run_status_counts AS c (kind, agent, status, slot, n) VALUES (k, na, nst, nsl, 1)
     ON CONFLICT (kind, agent, status, slot) DO UPDATE SET n = c.n + 1;
   ELSE
    INSERT INTO xa.run_status_counts AS c (kind, agent, status, slot, n) VALUES (k, oa, ost, osl, -1)
     ON CONFLICT (kind, agent, status, slot) DO UPDATE SET n = c.n - 1 RETURNING n INTO left_n;
    IF left_n = 0 THEN DELETE FROM xa.run_status_counts
     WHERE kind = k AND agent = oa AND status = ost AND slot = osl; END IF;
   END IF;
  END LOOP;
 END LOOP; RETURN NULL; END $f$;
