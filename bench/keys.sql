-- make bench, step 6 (in its own database, so that the key store holds only these keys): the cost of
-- presenting a key with 100, 10,000 and 1,000,000 keys stored, and the backend memory after presenting
-- 10,000 distinct keys (docs/benchmarks.md).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION access_key;
CREATE TABLE bench_key_tokens (n int PRIMARY KEY, token text NOT NULL);
CREATE TABLE bench_key_costs (stored bigint, presenting text, us numeric, PRIMARY KEY (stored, presenting));
CREATE TABLE bench_key_memory (keys_presented int, key_cache_bytes bigint, backend_bytes bigint);

-- Real keys n in [from_n, to_n], one customer each, tokens kept.
CREATE FUNCTION bench_make_keys(from_n int, to_n int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO bench_key_tokens
    SELECT n, k.key FROM generate_series(from_n, to_n) AS n,
        LATERAL access_key.ak_create_key(format('{"name": "customer %s", "permitted": ["queries"], "options": {"queries": {"filters": [
            {"property_name": "customer.id", "operator": "eq", "property_value": "cust%s"}]}}}', n, n)::access_key.access_key) AS k
$$;

-- Microseconds per presentation (ak_use_key, then a filter lookup that uses the key), median over rounds of
-- presenting every token of the array in turn; round 0 warms up.
CREATE FUNCTION bench_present(tokens text[], rounds int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    times float8[] := '{}';
    t0 timestamptz;
    token text;
BEGIN
    FOR r IN 0 .. rounds LOOP
        t0 := clock_timestamp();
        FOREACH token IN ARRAY tokens LOOP
            PERFORM access_key.ak_use_key(token);
            PERFORM access_key.ak_filter_values('customer.id');
        END LOOP;
        CONTINUE WHEN r = 0;
        times := times || (1e6 * extract(epoch FROM clock_timestamp() - t0) / array_length(tokens, 1));
    END LOOP;
    RETURN round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) AS x)::numeric, 2);
END
$$;

-- The three ways of presenting a key, with the key store as it is now: a different key each time, none cached
-- (the cache holds one key, so each is read from the key store); a different key each time, all in the
-- backend's key cache; the same key each time.  (A smaller key_cache_size evicts at the next miss: the uncached
-- case comes first.)
CREATE FUNCTION bench_present_costs() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stored bigint := (SELECT count(*) FROM access_key.keys);
    pool text[] := (SELECT array_agg(token ORDER BY n) FROM bench_key_tokens WHERE n < 100);
BEGIN
    PERFORM set_config('access_key.key_cache_size', '1', true);
    INSERT INTO bench_key_costs VALUES (stored, 'another key, not cached', bench_present(pool, 50));
    PERFORM set_config('access_key.key_cache_size', '1000', true);
    INSERT INTO bench_key_costs VALUES (stored, 'another key, cached', bench_present(pool, 50));
    INSERT INTO bench_key_costs VALUES (stored, 'the same key', bench_present(array_fill(pool[1], ARRAY[100]), 50));
END
$$;

SELECT bench_make_keys(0, 99) \g /dev/null
BEGIN;
SELECT bench_present_costs() \g /dev/null
COMMIT;

SELECT bench_make_keys(100, 9999) \g /dev/null
VACUUM ANALYZE access_key.keys;
VACUUM ANALYZE access_key.key_tokens;
BEGIN;
SELECT bench_present_costs() \g /dev/null
COMMIT;

-- Memory: 10,000 distinct keys presented and used, all kept (key_cache_size = 10000).
BEGIN;
SET LOCAL access_key.key_cache_size = 10000;
SELECT bench_present((SELECT array_agg(token ORDER BY n) FROM bench_key_tokens), 0) \g /dev/null
INSERT INTO bench_key_memory
SELECT 10000,
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts
        WHERE name = 'access_key key cache' OR parent = 'access_key key cache'),
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts);
COMMIT;

-- Up to 1,000,000 keys: the rest are stored directly, with tokens nobody holds.
WITH filler AS (
    INSERT INTO access_key.keys (definition)
    SELECT '{"name": "filler", "permitted": ["queries"], "options": {"queries": {"filters": [
               {"property_name": "customer.id", "operator": "eq", "property_value": "filler"}]}}}'::access_key.access_key
    FROM generate_series(1, 1000000 - (SELECT count(*) FROM access_key.keys))
    RETURNING id)
INSERT INTO access_key.key_tokens (token_hash, key_id) SELECT sha256(convert_to(id::text, 'UTF8')), id FROM filler;
VACUUM ANALYZE access_key.keys;
VACUUM ANALYZE access_key.key_tokens;
BEGIN;
SELECT bench_present_costs() \g /dev/null
COMMIT;
