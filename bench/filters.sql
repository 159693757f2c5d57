-- Benchmark: keyed access through access_key vs a hand-written RLS policy,
-- same data, same role, same session, timed alternately, medians compared.
-- Run with `make bench` (bench/run starts a throw-away cluster).
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION access_key;
CREATE ROLE bench_app;

\echo building 1,000,000 events for 1,000 customers (twice: keyed and hand-written tables)...
CREATE TABLE bench_keyed (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO bench_keyed (properties)
SELECT jsonb_build_object(
    'customer', jsonb_build_object('id', 'cust' || (i % 1000), 'name', 'Customer ' || (i % 1000),
                                   'plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END),
    'event', jsonb_build_object('type', CASE WHEN i % 5 = 0 THEN 'purchase' ELSE 'pageview' END,
                                'page', '/page/' || (i % 97), 'referrer', 'https://example.com/' || (i % 13)),
    'amount', i % 500,
    'at', to_char(timestamp '2026-01-01' + make_interval(secs => i), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
FROM generate_series(1, 1000000) AS i;
CREATE TABLE bench_hand (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO bench_hand SELECT * FROM bench_keyed;
SELECT setval('bench_hand_id_seq', 1000000) \g /dev/null
VACUUM ANALYZE bench_keyed;
VACUUM ANALYZE bench_hand;

SELECT access_key.ak_protect('bench_keyed');
ALTER TABLE bench_hand ENABLE ROW LEVEL SECURITY;
CREATE POLICY hand_select ON bench_hand FOR SELECT
    USING (properties -> 'customer' ->> 'id' = current_setting('app.customer_id'));
CREATE POLICY hand_insert ON bench_hand FOR INSERT
    WITH CHECK (properties -> 'customer' ->> 'id' = current_setting('app.customer_id'));
GRANT SELECT, INSERT ON bench_keyed, bench_hand TO bench_app;
GRANT USAGE ON SEQUENCE bench_keyed_id_seq, bench_hand_id_seq TO bench_app;

SELECT key AS token FROM access_key.ak_create_key('{"name": "cust42", "permitted": ["queries", "writes"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "cust42"}]},
                "writes": {"autofill": {"customer": {"id": "cust42"}}}}}') \gset

-- Times keyed and hand-written statements alternately; inserts are rolled
-- back (in a subtransaction on both sides) so every repetition sees the same table.
CREATE FUNCTION bench_pair(label text, keyed_sql text, hand_sql text, reps int, roll_back boolean)
RETURNS TABLE ("case" text, keyed_ms numeric, hand_ms numeric, ratio numeric)
LANGUAGE plpgsql AS $$
DECLARE
    k float8[] := '{}';
    h float8[] := '{}';
    t0 timestamptz;
    elapsed float8;
    i int;
    side int;
    stmt text;
BEGIN
    -- round 0 warms up and is not recorded
    FOR i IN 0 .. reps LOOP
        FOR side IN 0 .. 1 LOOP
            stmt := CASE WHEN (side + i) % 2 = 0 THEN keyed_sql ELSE hand_sql END;
            BEGIN
                t0 := clock_timestamp();
                EXECUTE stmt;
                elapsed := 1000 * extract(epoch FROM clock_timestamp() - t0);
                IF roll_back THEN
                    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = elapsed::text;
                END IF;
            EXCEPTION WHEN raise_exception THEN
                elapsed := SQLERRM::float8;
            END;
            CONTINUE WHEN i = 0;
            IF stmt = keyed_sql THEN k := k || elapsed; ELSE h := h || elapsed; END IF;
        END LOOP;
    END LOOP;
    "case" := label;
    keyed_ms := round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(k) x)::numeric, 1);
    hand_ms := round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(h) x)::numeric, 1);
    ratio := round(keyed_ms / hand_ms, 2);
    RETURN NEXT;
END
$$;

SET max_parallel_workers_per_gather = 0;
SET ROLE bench_app;
SET access_key.key = :'token';
SET app.customer_id = 'cust42';

\echo
\echo sanity: both sides see the same 1,000 rows
SELECT (SELECT count(*) FROM bench_keyed) AS keyed_rows, (SELECT count(*) FROM bench_hand) AS hand_rows;

CREATE TEMP TABLE results ("case" text, keyed_ms numeric, hand_ms numeric, ratio numeric, target numeric);

\echo (1) SELECT count(*) by sequential scan
INSERT INTO results SELECT *, 1.15 FROM bench_pair('1 count(*), seq scan',
    'SELECT count(*) FROM bench_keyed', 'SELECT count(*) FROM bench_hand', 7, false);

\echo (3) INSERT 100,000 events (keyed: autofill trigger; hand-written: WITH CHECK)
INSERT INTO results SELECT *, 1.25 FROM bench_pair('3 insert 100k',
    $q$INSERT INTO bench_keyed (properties) SELECT jsonb_build_object('customer', jsonb_build_object('id', 'cust42', 'name', 'x'), 'event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i), 'amount', i) FROM generate_series(1, 100000) AS i$q$,
    $q$INSERT INTO bench_hand (properties) SELECT jsonb_build_object('customer', jsonb_build_object('id', 'cust42', 'name', 'x'), 'event', jsonb_build_object('type', 'pageview', 'page', '/p/' || i), 'amount', i) FROM generate_series(1, 100000) AS i$q$,
    5, true);

RESET ROLE;
\echo building GIN (jsonb_path_ops) indexes...
CREATE INDEX bench_keyed_properties_gin ON bench_keyed USING gin (properties jsonb_path_ops);
CREATE INDEX bench_hand_properties_gin ON bench_hand USING gin (properties jsonb_path_ops);
ANALYZE bench_keyed;
ANALYZE bench_hand;
-- The strong hand-written baseline: a containment policy the GIN index can serve.
CREATE TABLE bench_hand_contains (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO bench_hand_contains SELECT * FROM bench_hand;
CREATE INDEX ON bench_hand_contains USING gin (properties jsonb_path_ops);
VACUUM ANALYZE bench_hand_contains;
ALTER TABLE bench_hand_contains ENABLE ROW LEVEL SECURITY;
CREATE POLICY hand_select ON bench_hand_contains FOR SELECT
    USING (properties @> jsonb_build_object('customer', jsonb_build_object('id', current_setting('app.customer_id'))));
GRANT SELECT ON bench_hand_contains TO bench_app;
SET ROLE bench_app;

\echo
\echo (2) the keyed plan with the GIN index:
EXPLAIN (COSTS OFF) SELECT count(*) FROM bench_keyed;
INSERT INTO results SELECT *, 1.5 FROM bench_pair('2 count(*), GIN; hand: ->> = (seq scan)',
    'SELECT count(*) FROM bench_keyed', 'SELECT count(*) FROM bench_hand', 7, false);
INSERT INTO results SELECT *, 1.5 FROM bench_pair('2 count(*), GIN; hand: @> (index)',
    'SELECT count(*) FROM bench_keyed', 'SELECT count(*) FROM bench_hand_contains', 7, false);

\echo
\echo medians in ms; ratio = keyed / hand-written (lower is better for keyed)
SELECT "case", keyed_ms, hand_ms, ratio, target,
       CASE WHEN ratio <= target THEN 'ok' ELSE 'OVER TARGET' END AS verdict
FROM results ORDER BY "case";
