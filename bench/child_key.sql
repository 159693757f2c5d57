-- ===========================================================================
-- Benchmark block: child keys (docs/benchmarks.md, "Child keys").
--
-- A child key costs its parent's price per row: its chain of parents is read
-- and combined once, when the key is resolved into the backend's key cache,
-- and the cached entry holds one effective definition.  This block times the
-- same statements under the parent and under its descendants, alternately,
-- medians compared (child / parent), and the one-off resolution after the
-- key cache is emptied.
--
-- Runs after the dashboard table (bench/run), on its cluster: it reuses
-- bench_keyed (1,000,000 events, GIN index), the role bench_app and the
-- "cust42" filter.
-- ===========================================================================
RESET ROLE;
RESET access_key.key;
SET enable_bitmapscan = on;
SET enable_indexscan = on;

-- The parent filters cust42 and may derive keys; "member" is its child with no
-- filter of its own (the same rows), "deep" the 8th generation below it, and
-- "first days" a child that adds a filter of its own (on the "at" time).
SELECT key AS parent_token FROM access_key.ak_create_key('{"name": "cust42 admin", "permitted": ["queries", "keys"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "cust42"}]}}}') \gset
CREATE FUNCTION bench_derive(token text, definition text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    child text;
BEGIN
    PERFORM set_config('access_key.key', token, true);
    SELECT key INTO child FROM access_key.ak_derive_key(definition::access_key.access_key);
    PERFORM set_config('access_key.key', '', true);
    RETURN child;
END
$$;
SELECT bench_derive(:'parent_token', '{"name": "member", "permitted": ["queries", "keys"]}') AS member_token \gset
SELECT bench_derive(:'parent_token', '{"name": "first days", "permitted": ["queries"], "options": {"queries": {"filters":
    [{"property_name": "at", "operator": "lt", "property_value": "2026-01-06T00:00:00Z"}]}}}') AS own_filter_token \gset
CREATE FUNCTION bench_deep(token text, generations int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. generations LOOP
        token := bench_derive(token, format('{"name": "generation %s", "permitted": ["queries", "keys"]}', i));
    END LOOP;
    RETURN token;
END
$$;
SELECT bench_deep(:'member_token', 7) AS deep_token \gset

-- Times stmt under two keys alternately (round 0 warms up and resolves both keys);
-- with invalidate, the key cache is emptied before each timing (a change to
-- the key tables), so the time includes resolving the key and its chain.
CREATE FUNCTION bench_keys(label text, stmt text, parent_token text, child_token text, reps int,
                           invalidate boolean DEFAULT false)
RETURNS TABLE ("case" text, parent_ms numeric, child_ms numeric, ratio numeric,
               parent_min_ms numeric, child_min_ms numeric, min_ratio numeric)
LANGUAGE plpgsql AS $$
DECLARE
    p float8[] := '{}';
    c float8[] := '{}';
    t0 timestamptz;
    elapsed float8;
    token text;
BEGIN
    FOR i IN 0 .. reps LOOP
        FOR side IN 0 .. 1 LOOP
            token := CASE WHEN (side + i) % 2 = 0 THEN parent_token ELSE child_token END;
            IF invalidate THEN
                -- the statement trigger fires for no rows too: every backend's key cache is emptied
                UPDATE access_key.keys SET definition = definition WHERE false;
            END IF;
            PERFORM set_config('access_key.key', token, false);
            t0 := clock_timestamp();
            EXECUTE stmt;
            elapsed := 1000 * extract(epoch FROM clock_timestamp() - t0);
            CONTINUE WHEN i = 0;
            IF token = parent_token THEN p := p || elapsed; ELSE c := c || elapsed; END IF;
        END LOOP;
    END LOOP;
    PERFORM set_config('access_key.key', '', false);
    "case" := label;
    parent_ms := round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(p) x)::numeric, 3);
    child_ms := round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(c) x)::numeric, 3);
    ratio := round(child_ms / nullif(parent_ms, 0), 2);
    -- On a shared machine noise only ever adds time: the fastest runs compare intrinsic cost.
    parent_min_ms := round((SELECT min(x) FROM unnest(p) x)::numeric, 3);
    child_min_ms := round((SELECT min(x) FROM unnest(c) x)::numeric, 3);
    min_ratio := round(child_min_ms / nullif(parent_min_ms, 0), 2);
    RETURN NEXT;
END
$$;
CREATE TEMP TABLE child_results ("case" text, parent_ms numeric, child_ms numeric, ratio numeric,
                                 parent_min_ms numeric, child_min_ms numeric, min_ratio numeric, target numeric);
GRANT SELECT, INSERT ON child_results TO bench_app;

\echo
\echo child keys: resolving a key after the key cache is emptied (once per backend and key)
INSERT INTO child_results SELECT *, NULL FROM bench_keys('resolve: parent vs child (1 ancestor)',
    'SELECT access_key.ak_current_key_id()', :'parent_token', :'member_token', 51, true);
INSERT INTO child_results SELECT *, NULL FROM bench_keys('resolve: parent vs 8th generation',
    'SELECT access_key.ak_current_key_id()', :'parent_token', :'deep_token', 51, true);

SET ROLE bench_app;
\echo child keys: sanity, the parent and its filterless descendants see the same rows
BEGIN;
SET LOCAL access_key.key = :'parent_token';
SELECT count(*) AS parent_rows FROM bench_keyed;
SET LOCAL access_key.key = :'member_token';
SELECT count(*) AS member_rows FROM bench_keyed;
SET LOCAL access_key.key = :'deep_token';
SELECT count(*) AS deep_rows FROM bench_keyed;
SET LOCAL access_key.key = :'own_filter_token';
SELECT count(*) AS own_filter_rows FROM bench_keyed;
COMMIT;

\echo child keys: SELECT count(*) per row, sequential scan
SET enable_bitmapscan = off;
SET enable_indexscan = off;
INSERT INTO child_results SELECT *, 1.10 FROM bench_keys('count(*), seq scan: parent vs child',
    'SELECT count(*) FROM bench_keyed', :'parent_token', :'member_token', 15);
INSERT INTO child_results SELECT *, 1.10 FROM bench_keys('count(*), seq scan: parent vs 8th generation',
    'SELECT count(*) FROM bench_keyed', :'parent_token', :'deep_token', 15);
INSERT INTO child_results SELECT *, NULL FROM bench_keys('count(*), seq scan: parent vs child with its own filter',
    'SELECT count(*) FROM bench_keyed', :'parent_token', :'own_filter_token', 15);
RESET enable_bitmapscan;
RESET enable_indexscan;
\echo child keys: SELECT count(*) through the GIN index
INSERT INTO child_results SELECT *, 1.10 FROM bench_keys('count(*), GIN: parent vs child',
    'SELECT count(*) FROM bench_keyed', :'parent_token', :'member_token', 25);
INSERT INTO child_results SELECT *, 1.10 FROM bench_keys('count(*), GIN: parent vs 8th generation',
    'SELECT count(*) FROM bench_keyed', :'parent_token', :'deep_token', 25);

\echo
\echo child keys: medians and fastest runs in ms; ratio = child / parent (the verdict reads the fastest runs)
SELECT "case", parent_ms, child_ms, ratio, parent_min_ms, child_min_ms, min_ratio, target,
       CASE WHEN target IS NULL THEN '' WHEN min_ratio <= target THEN 'ok' ELSE 'OVER TARGET' END AS verdict
FROM child_results;
RESET ROLE;
