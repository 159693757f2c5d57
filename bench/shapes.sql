-- make bench, step 2: the shapes the table compares, one row each (docs/benchmarks.md).
--
-- To add a shape, add a row: the keyed side runs keyed_sql as bench_app presenting the key key_name; the
-- hand-written side runs hand_sql as hand_role (whose own policy on bench_hand applies) with hand_settings set
-- for the transaction; the physical limit runs limit_sql as the table owner (no row-level security: the filter
-- is in its WHERE).  bench/measure.sql times the three alternately and keeps the medians.
--
--   phase         'plain': before the secondary indexes exist; 'indexed': after bench/indexes.sql (a GIN
--                 index and a B-tree on (customer id, id)); 'gin': the GIN index alone
--   setup         statements run once (as a superuser) before the shape is timed
--   before_keyed  statements run untimed as bench_app before each keyed run (the row's key is presented
--                 after them, just before the timed statement)
--   roll_back     run each repetition in a subtransaction and roll it back (writes)
--   requires      a function (regprocedure text) the shape needs; without it the row reports "skipped"
--   target_limit, target_hand   the highest keyed / limit and keyed / hand-written ratios that pass (NULL: none)
\set ON_ERROR_STOP on
CREATE TABLE bench_shapes (
    ord int PRIMARY KEY,
    shape text NOT NULL,
    phase text NOT NULL CHECK (phase IN ('plain', 'indexed', 'gin')),
    key_name text NOT NULL,
    keyed_sql text NOT NULL,
    hand_role name NOT NULL,
    hand_settings jsonb NOT NULL DEFAULT '{}',
    hand_sql text NOT NULL,
    limit_sql text NOT NULL,
    setup text[] NOT NULL DEFAULT '{}',
    before_keyed text[] NOT NULL DEFAULT '{}',
    reps int NOT NULL,
    roll_back boolean NOT NULL DEFAULT false,
    requires text,
    target_limit numeric,
    target_hand numeric
);

INSERT INTO bench_shapes (ord, shape, phase, key_name, keyed_sql, hand_role, hand_settings, hand_sql, limit_sql,
                          reps, target_limit, target_hand)
VALUES
-- Before the secondary indexes: every side scans the table.
(10, 'count(*), seq scan', 'plain', 'customer',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_customer', '{"app.customer_id": "cust42"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42'$$,
    7, 1.10, 1.00),
(20, 'regex on customer.name, seq scan', 'plain', 'regex',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_regex', '{"app.name_pattern": "^Customer 4[0-9]$"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'name' ~ '^Customer 4[0-9]$'$$,
    7, 1.10, 1.00),
-- With a GIN (jsonb_path_ops) index and a B-tree on (customer id, id).
(40, 'count(*), indexed', 'indexed', 'customer',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_customer', '{"app.customer_id": "cust42"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42'$$,
    31, 1.25, 1.00),
(50, 'three filters (eq + gte + in), indexed', 'indexed', 'three',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_three', '{"app.customer_id": "cust42", "app.min_amount": "250", "app.event_types": "purchase,signup"}',
    'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42'
         AND (properties ->> 'amount')::numeric >= 250 AND properties -> 'event' ->> 'type' IN ('purchase', 'signup')$$,
    31, 1.25, 1.00),
(60, 'dashboard: GROUP BY a property, sum', 'indexed', 'customer',
    $$SELECT properties -> 'event' ->> 'type', count(*), sum((properties ->> 'amount')::numeric) FROM bench_keyed GROUP BY 1$$,
    'bench_hand_customer', '{"app.customer_id": "cust42"}',
    $$SELECT properties -> 'event' ->> 'type', count(*), sum((properties ->> 'amount')::numeric) FROM bench_hand GROUP BY 1$$,
    $$SELECT properties -> 'event' ->> 'type', count(*), sum((properties ->> 'amount')::numeric) FROM bench_keyed
      WHERE properties -> 'customer' ->> 'id' = 'cust42' GROUP BY 1$$,
    31, 1.25, 1.00),
(70, 'last 50 events: ORDER BY id DESC LIMIT 50', 'indexed', 'customer',
    'SELECT id, properties FROM bench_keyed ORDER BY id DESC LIMIT 50',
    'bench_hand_customer', '{"app.customer_id": "cust42"}', 'SELECT id, properties FROM bench_hand ORDER BY id DESC LIMIT 50',
    $$SELECT id, properties FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42' ORDER BY id DESC LIMIT 50$$,
    51, 1.25, 1.00),
(80, 'or of two customers, indexed', 'indexed', 'or',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_or', '{"app.customer_ids": "cust42,cust43"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'id' IN ('cust42', 'cust43')$$,
    31, 1.25, 1.00);

-- Writes: 100,000 events, rolled back each time.  The keyed side stamps the key's autofill in its trigger and
-- checks the INSERT policy; the hand-written side checks the customer in WITH CHECK (and, for events without
-- it, adds it in a PL/pgSQL trigger); the limit inserts the same rows into a table without policies.
INSERT INTO bench_shapes (ord, shape, phase, key_name, keyed_sql, hand_role, hand_settings, hand_sql, limit_sql,
                          reps, roll_back, target_limit, target_hand)
VALUES
(30, 'insert 100,000 events that carry the customer', 'plain', 'customer',
    $$INSERT INTO bench_ins_keyed (properties) SELECT jsonb_build_object('customer', jsonb_build_object('id', 'cust42', 'name', 'x'),
         'event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i), 'amount', i) FROM generate_series(1, 100000) AS i$$,
    'bench_hand_customer', '{"app.customer_id": "cust42"}',
    $$INSERT INTO bench_ins_hand (properties) SELECT jsonb_build_object('customer', jsonb_build_object('id', 'cust42', 'name', 'x'),
         'event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i), 'amount', i) FROM generate_series(1, 100000) AS i$$,
    $$INSERT INTO bench_ins_limit (properties) SELECT jsonb_build_object('customer', jsonb_build_object('id', 'cust42', 'name', 'x'),
         'event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i), 'amount', i) FROM generate_series(1, 100000) AS i$$,
    5, true, NULL, 1.05),
(35, 'insert 100,000 events, autofill adds the customer', 'plain', 'customer',
    $$INSERT INTO bench_ins_keyed (properties) SELECT jsonb_build_object('event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i),
         'amount', i) FROM generate_series(1, 100000) AS i$$,
    'bench_hand_customer', '{"app.customer_id": "cust42"}',
    $$INSERT INTO bench_ins_hand_fill (properties) SELECT jsonb_build_object('event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i),
         'amount', i) FROM generate_series(1, 100000) AS i$$,
    $$INSERT INTO bench_ins_limit (properties) SELECT jsonb_build_object('event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i),
         'amount', i, 'customer', jsonb_build_object('id', 'cust42')) FROM generate_series(1, 100000) AS i$$,
    5, true, NULL, 1.00);

-- A prepared statement whose cached plan was made for another key's filters: each keyed run first executes it
-- under the two-customer key, then under the customer key, so it is re-planned (plan_shape.c) every time.
INSERT INTO bench_shapes (ord, shape, phase, key_name, keyed_sql, hand_role, hand_settings, hand_sql, limit_sql,
                          setup, before_keyed, reps, target_limit, target_hand)
VALUES
(90, 'prepared count(*), after a key of another shape', 'indexed', 'customer',
    'EXECUTE bench_count',
    'bench_hand_customer', '{"app.customer_id": "cust42"}', 'EXECUTE bench_count_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42'$$,
    '{"PREPARE bench_count AS SELECT count(*) FROM bench_keyed", "PREPARE bench_count_hand AS SELECT count(*) FROM bench_hand"}',
    $${"SELECT set_config('access_key.key', (SELECT token FROM bench_keys WHERE name = 'or'), true)", "EXECUTE bench_count"}$$,
    31, 1.25, 1.00);

-- The last 50 events again, each side's statement prepared once: execution alone, without planning.
INSERT INTO bench_shapes (ord, shape, phase, key_name, keyed_sql, hand_role, hand_settings, hand_sql, limit_sql,
                          setup, reps, target_limit, target_hand)
VALUES
(75, 'last 50 events, prepared (execution only)', 'indexed', 'customer',
    'EXECUTE bench_last50',
    'bench_hand_customer', '{"app.customer_id": "cust42"}', 'EXECUTE bench_last50_hand',
    'EXECUTE bench_last50_limit',
    $${"PREPARE bench_last50 AS SELECT id, properties FROM bench_keyed ORDER BY id DESC LIMIT 50",
       "PREPARE bench_last50_hand AS SELECT id, properties FROM bench_hand ORDER BY id DESC LIMIT 50",
       "PREPARE bench_last50_limit AS SELECT id, properties FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42' ORDER BY id DESC LIMIT 50"}$$,
    51, 1.25, 1.00);

-- With the GIN index alone (the B-tree dropped): the prefilter keeps the key's most selective terms.  The
-- hand-written policies and the owner's queries use containment (@>), which the index serves.
INSERT INTO bench_shapes (ord, shape, phase, key_name, keyed_sql, hand_role, hand_settings, hand_sql, limit_sql,
                          reps, target_limit, target_hand)
VALUES
(110, 'count(*), GIN index only', 'gin', 'customer',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_gin_customer', '{"app.customer_id": "cust42"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties @> '{"customer": {"id": "cust42"}}'$$,
    31, 1.25, 1.00),
(120, 'three filters, GIN index only', 'gin', 'three',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_gin_three', '{"app.customer_id": "cust42", "app.min_amount": "250", "app.event_types": "purchase,signup"}',
    'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties @> '{"customer": {"id": "cust42"}}'
         AND (properties ->> 'amount')::numeric >= 250 AND properties -> 'event' ->> 'type' IN ('purchase', 'signup')$$,
    31, 1.25, 1.00),
(130, 'or of two customers, GIN index only', 'gin', 'or',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_gin_or', '{"app.customer_ids": "cust42,cust43"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed
      WHERE properties @> '{"customer": {"id": "cust42"}}' OR properties @> '{"customer": {"id": "cust43"}}'$$,
    31, 1.25, 1.00);

-- CHILD KEY (slot): a key derived from the customer key that also filters event.type = purchase.  Its effective
-- filters are the parent's and its own, ANDed; the row runs once access_key.ak_derive_key is installed.
INSERT INTO bench_shapes (ord, shape, phase, key_name, keyed_sql, hand_role, hand_settings, hand_sql, limit_sql,
                          setup, reps, requires, target_limit, target_hand)
VALUES
(100, 'child key (parent: customer; child: event.type), indexed', 'indexed', 'child',
    'SELECT count(*) FROM bench_keyed',
    'bench_hand_child', '{"app.customer_id": "cust42", "app.event_type": "purchase"}', 'SELECT count(*) FROM bench_hand',
    $$SELECT count(*) FROM bench_keyed WHERE properties -> 'customer' ->> 'id' = 'cust42'
         AND properties -> 'event' ->> 'type' = 'purchase'$$,
    $${"SELECT set_config('access_key.key', (SELECT token FROM bench_keys WHERE name = 'parent'), true)",
       "INSERT INTO bench_keys SELECT 'child', key FROM access_key.ak_derive_key('{\"name\": \"child\", \"permitted\": [\"queries\"], \"options\": {\"queries\": {\"filters\": [{\"property_name\": \"event.type\", \"operator\": \"eq\", \"property_value\": \"purchase\"}]}}}') ON CONFLICT DO NOTHING",
       "SELECT set_config('access_key.key', '', true)"}$$,
    31, 'access_key.ak_derive_key(access_key.access_key,timestamptz)', 1.25, 1.00);

-- BATCH INGEST (slot): rows for access_key.ak_record_events go here, with requires naming it.
