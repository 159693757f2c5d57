-- Benchmark: batch ingest through ak_record_events, against the physical
-- limit (a multi-row INSERT by the owner into a table with no policy and no
-- trigger) and against a keyed multi-row INSERT (the same events, the same
-- key, RLS and autofill).  100,000 events in 200 batches of 500; each run is
-- rolled back, sides alternate, medians are compared.
-- Run by bench/run after the dashboard table, on its cluster.  Prints
-- "case", keyed_ms (the measured side), hand_ms (the baseline), ratio,
-- target, verdict.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS access_key;
DROP ROLE IF EXISTS bench_ingest_app;
CREATE ROLE bench_ingest_app;

CREATE TABLE bench_ingest_raw (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
CREATE TABLE bench_ingest_keyed (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
SELECT access_key.ak_protect('bench_ingest_keyed') \g /dev/null
GRANT SELECT, INSERT ON bench_ingest_keyed TO bench_ingest_app;
GRANT USAGE ON SEQUENCE bench_ingest_keyed_id_seq TO bench_ingest_app;
SELECT key AS ingest_token FROM access_key.ak_create_key('{"name": "cust42", "permitted": ["queries", "writes"],
    "options": {"writes": {"autofill": {"customer": {"id": "cust42"}}}}}') \gset

\echo building 100,000 events in 200 batches of 500...
CREATE TABLE bench_ingest_batches (n int PRIMARY KEY, batch jsonb NOT NULL, body jsonb NOT NULL);
INSERT INTO bench_ingest_batches
SELECT b, batch, jsonb_build_object('bench_ingest_keyed', batch)
FROM (SELECT b, jsonb_agg(jsonb_build_object(
          'customer', jsonb_build_object('id', 'cust42', 'name', 'Customer 42'),
          'event', jsonb_build_object('type', CASE WHEN i % 5 = 0 THEN 'purchase' ELSE 'pageview' END,
                                      'page', '/page/' || (i % 97)),
          'amount', i % 500,
          'at', to_char(timestamp '2026-01-01' + make_interval(secs => i), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) AS batch
      FROM generate_series(0, 99999) AS i, LATERAL (SELECT i / 500 AS b) AS x GROUP BY b) AS g;
GRANT SELECT ON bench_ingest_batches TO bench_ingest_app;

-- One run of a side: every batch, one statement each; returns ms.  Rolled
-- back by raising, so every run starts from the same empty tables.
CREATE FUNCTION bench_ingest_run(side text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    t0 timestamptz;
    ok bigint := 0;
BEGIN
    t0 := clock_timestamp();
    BEGIN
        FOR r IN SELECT batch, body FROM bench_ingest_batches ORDER BY n LOOP
            IF side = 'owner' THEN
                INSERT INTO bench_ingest_raw (properties) SELECT jsonb_array_elements(r.batch);
            ELSIF side = 'keyed' THEN
                INSERT INTO bench_ingest_keyed (properties) SELECT jsonb_array_elements(r.batch);
            ELSE
                ok := ok + jsonb_array_length(access_key.ak_record_events(r.body) -> 'bench_ingest_keyed');
            END IF;
        END LOOP;
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = (1000 * extract(epoch FROM clock_timestamp() - t0))::text;
    EXCEPTION WHEN raise_exception THEN
        RETURN SQLERRM::float8;
    END;
END
$$;

-- Times the sides alternately (round 0 warms up); the owner side runs
-- without a key and without the application role.
CREATE FUNCTION bench_ingest(reps int) RETURNS TABLE (side text, ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
    sides text[] := ARRAY['record_events', 'keyed', 'owner'];
    times float8[] := ARRAY[[0, 0, 0]];
    s int;
    elapsed float8;
    token text := current_setting('bench.token');
BEGIN
    CREATE TEMP TABLE bench_ingest_times (side text, ms float8) ON COMMIT DROP;
    FOR i IN 0 .. reps LOOP
        FOR k IN 0 .. 2 LOOP
            s := (i + k) % 3 + 1;
            IF sides[s] = 'owner' THEN
                elapsed := bench_ingest_run('owner');
            ELSE
                PERFORM set_config('role', 'bench_ingest_app', true);
                PERFORM set_config('access_key.key', token, true);
                elapsed := bench_ingest_run(sides[s]);
                PERFORM set_config('access_key.key', '', true);
                PERFORM set_config('role', 'none', true);
            END IF;
            CONTINUE WHEN i = 0;
            INSERT INTO bench_ingest_times VALUES (sides[s], elapsed);
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT t.side, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms)::numeric, 1)
                 FROM bench_ingest_times AS t GROUP BY t.side;
END
$$;

SET max_parallel_workers_per_gather = 0;
SELECT set_config('bench.token', :'ingest_token', false) \g /dev/null

\echo sanity: ak_record_events inserts every event of a batch, autofilled, as the key
BEGIN;
SET LOCAL ROLE bench_ingest_app;
SET LOCAL access_key.key = :'ingest_token';
SELECT count(*) FILTER (WHERE (o ->> 'success')::boolean) AS succeeded
FROM jsonb_array_elements(access_key.ak_record_events((SELECT body FROM bench_ingest_batches WHERE n = 0))
                          -> 'bench_ingest_keyed') AS o;
ROLLBACK;

\echo (4) ingest 100,000 events in batches of 500
BEGIN;
CREATE TEMP TABLE ingest_medians AS SELECT * FROM bench_ingest(5);
COMMIT;
SELECT "case", keyed_ms, hand_ms, ratio, target,
       CASE WHEN ratio <= target THEN 'ok' ELSE 'OVER TARGET' END AS verdict
FROM (SELECT c."case", r.ms AS keyed_ms, b.ms AS hand_ms, round(r.ms / b.ms, 2) AS ratio, c.target
      FROM (VALUES ('4 ingest 100k: ak_record_events vs owner INSERT, no policy', 'owner', 1.5),
                   ('4 ingest 100k: ak_record_events vs keyed INSERT', 'keyed', 1.15)) AS c("case", baseline, target),
           ingest_medians AS r, ingest_medians AS b
      WHERE r.side = 'record_events' AND b.side = c.baseline) AS x;
