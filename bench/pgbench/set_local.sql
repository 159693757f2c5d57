-- The bare alternative: SET LOCAL of the customer id, read by a hand-written policy (role bench_hand_customer).
\set n random(0, 999)
BEGIN;
SELECT set_config('app.customer_id', customer, true) FROM bench_tokens WHERE n = :n;
SELECT id FROM bench_hand ORDER BY id DESC LIMIT 10;
COMMIT;
