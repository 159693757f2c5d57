-- The hand-rolled API key: a SECURITY DEFINER function looks the token's hash up and sets the customer id.
\set n random(0, 999)
BEGIN;
SELECT bench_use_token(app_token) FROM bench_tokens WHERE n = :n;
SELECT id FROM bench_hand ORDER BY id DESC LIMIT 10;
COMMIT;
