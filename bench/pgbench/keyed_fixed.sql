-- The same with one customer's key every time: what a key switch should cost is what this costs.
\set n 42
BEGIN;
SELECT access_key.ak_use_key(token) FROM bench_tokens WHERE n = :n;
SELECT id FROM bench_keyed ORDER BY id DESC LIMIT 10;
COMMIT;
