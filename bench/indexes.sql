-- make bench, step 4: the indexes a user would build (docs/benchmarks.md).
\set ON_ERROR_STOP on
SET maintenance_work_mem = '512MB';
CREATE INDEX bench_keyed_gin ON bench_keyed USING gin (properties jsonb_path_ops);
CREATE INDEX bench_keyed_customer ON bench_keyed ((properties -> 'customer' ->> 'id'), id);
CREATE INDEX bench_hand_gin ON bench_hand USING gin (properties jsonb_path_ops);
CREATE INDEX bench_hand_customer ON bench_hand ((properties -> 'customer' ->> 'id'), id);
ANALYZE bench_keyed;
ANALYZE bench_hand;
