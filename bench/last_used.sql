-- The cost of recording last_used_at per transaction (docs/benchmarks.md):
-- transactions that present a key (set_config, then a function that consults
-- it, then COMMIT) with recording off (access_key.last_used_interval = 0) and
-- on (60 s), for one key and for 1,000 keys taken in turn by one backend.
-- Run with bench/last_used; prints microseconds per transaction.
CREATE EXTENSION access_key;
CREATE TABLE public.bench_tokens (n int PRIMARY KEY, token text);
INSERT INTO public.bench_tokens
SELECT i, (SELECT key FROM access_key.ak_create_key(
               format('{"name": "bench %s", "permitted": ["queries"]}', i)::access_key.access_key))
FROM generate_series(1, 1000) AS i;
CREATE TABLE public.bench_results (recording boolean, keys int, us_per_transaction float8);

CREATE PROCEDURE public.bench_transactions(keys int, iterations int) LANGUAGE plpgsql AS $$
DECLARE
    tokens text[] := ARRAY(SELECT t.token FROM public.bench_tokens AS t WHERE t.n <= keys ORDER BY t.n);
    started timestamptz := clock_timestamp();
BEGIN
    FOR i IN 1..iterations LOOP
        PERFORM pg_catalog.set_config('access_key.key', tokens[1 + i % keys], true);
        PERFORM access_key.ak_current_key_id();
        COMMIT;
    END LOOP;
    INSERT INTO public.bench_results
    SELECT setting::int > 0, keys, extract(epoch FROM clock_timestamp() - started) * 1e6 / iterations
    FROM pg_catalog.pg_settings WHERE name = 'access_key.last_used_interval';
    COMMIT;
END
$$;

-- Alternating rounds in one backend; medians and minimums.
SELECT format('SET access_key.last_used_interval = %s', s), format('CALL public.bench_transactions(%s, 20000)', k)
FROM generate_series(1, 8) AS r, unnest(ARRAY[1, 1000]) AS k, unnest(ARRAY[0, 60]) AS s
ORDER BY r, k, s \gexec

SELECT keys, recording, round(min(us_per_transaction)::numeric, 2) AS min_us,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us_per_transaction)::numeric, 2) AS median_us
FROM public.bench_results GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FILTER (WHERE last_used_at IS NOT NULL) AS keys_recorded FROM access_key.keys;
