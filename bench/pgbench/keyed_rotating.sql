-- A transaction per request, each presenting one of 1,000 customers' keys, one small query.
\set n random(0, 999)
BEGIN;
SELECT access_key.ak_use_key(token) FROM bench_tokens WHERE n = :n;
SELECT id FROM bench_keyed ORDER BY id DESC LIMIT 10;
COMMIT;
