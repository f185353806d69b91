\timing on
BEGIN;
ALTER TABLE m1.runs DISABLE TRIGGER USER;
INSERT INTO m1.runs (run_id, agent_name, session_id, status, created_us, finished_us, doc)
SELECT md5('run' || n), 'agent-' || (hashint4(n) & 2147483647) % 10, 'sess-' || lpad(((hashint4(n + 7) & 2147483647) % 1000)::text, 4, '0'),
  (ARRAY['completed','completed','completed','completed','completed','completed','in-progress','in-progress','failed','cancelled'])[1 + n % 10],
  1748779200000000 + n::bigint * 1000 + (hashint4(n + 13) & 2147483647) % 1000,
  CASE WHEN n % 10 IN (6, 7) THEN NULL ELSE 1748779200000000 + n::bigint * 1000 + 1000000 END,
  '{"run_id":"' || md5('run' || n) || '","agent_name":"agent-' || (hashint4(n) & 2147483647) % 10 || '","status":"' || (ARRAY['completed','completed','completed','completed','completed','completed','in-progress','in-progress','failed','cancelled'])[1 + n % 10] || '","output":[' || repeat('{"role":"agent","parts":[{"content_type":"text/plain","content":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}', 1) || ']}'
FROM generate_series(0, 999999) n;
DELETE FROM m1.run_counts; DELETE FROM m1.run_buckets;
SET LOCAL enable_seqscan = on; SET LOCAL enable_sort = on;
\i /tmp/pgc_backfill.sql
ALTER TABLE m1.runs ENABLE TRIGGER USER;
COMMIT;
ANALYZE m1.runs; ANALYZE m1.run_buckets;
SELECT count(*), pg_size_pretty(pg_total_relation_size('m1.run_buckets')) FROM m1.run_buckets;
