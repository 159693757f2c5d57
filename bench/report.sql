-- make bench, last step: the report (docs/benchmarks.md).
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo Medians in ms of the same statement: keyed (bench_app presenting the key), hand-written policy,
\echo physical limit (the table owner, filter in WHERE, same indexes).  Ratios: keyed / limit, keyed / hand.
SELECT shape,
       keyed_ms AS keyed, hand_ms AS hand, limit_ms AS "limit",
       round(keyed_ms / nullif(limit_ms, 0), 2) AS "vs limit", target_limit AS target,
       round(keyed_ms / nullif(hand_ms, 0), 2) AS "vs hand", target_hand AS target,
       CASE WHEN note IS NOT NULL THEN note
            WHEN (target_limit IS NULL OR keyed_ms / nullif(limit_ms, 0) <= target_limit)
             AND (target_hand IS NULL OR keyed_ms / nullif(hand_ms, 0) <= target_hand) THEN 'pass'
            ELSE 'MISSED' END AS pass
FROM bench_results ORDER BY ord;

\echo
\echo Rotating keys, one small query per transaction (pgbench -M prepared, 1,000 customers), median TPS of the runs.
\echo keyed/SET LOCAL: target >= 1.00.  (One key: the same customer each time, whose rows stay in the CPU caches.)
WITH medians AS (
    SELECT script, clients, percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps
    FROM bench_tps GROUP BY script, clients)
SELECT clients,
       round(max(tps) FILTER (WHERE script = 'keyed_rotating')) AS "keyed, rotating",
       round(max(tps) FILTER (WHERE script = 'keyed_fixed')) AS "keyed, one key",
       round(max(tps) FILTER (WHERE script = 'set_local')) AS "SET LOCAL",
       round(max(tps) FILTER (WHERE script = 'definer')) AS "SECURITY DEFINER lookup",
       round((max(tps) FILTER (WHERE script = 'keyed_rotating') / max(tps) FILTER (WHERE script = 'set_local'))::numeric, 2)
           AS "keyed/SET LOCAL",
       round((max(tps) FILTER (WHERE script = 'keyed_rotating') / max(tps) FILTER (WHERE script = 'definer'))::numeric, 2)
           AS "keyed/DEFINER",
       CASE WHEN max(tps) FILTER (WHERE script = 'keyed_rotating') >= max(tps) FILTER (WHERE script = 'set_local')
            THEN 'pass' ELSE 'MISSED' END AS pass
FROM medians GROUP BY clients ORDER BY clients;

\echo
\echo Presenting a key (ak_use_key, then a filter lookup), microseconds, by keys stored.
\echo Not cached: each presentation reads the key store.  Target: 1,000,000 / 100 <= 1.2.
SELECT presenting,
       max(us) FILTER (WHERE stored < 1000) AS "100 keys",
       max(us) FILTER (WHERE stored BETWEEN 1000 AND 100000) AS "10,000 keys",
       max(us) FILTER (WHERE stored > 100000) AS "1,000,000 keys",
       round(max(us) FILTER (WHERE stored > 100000) / max(us) FILTER (WHERE stored < 1000), 2) AS "1M / 100"
FROM bench_key_costs GROUP BY presenting ORDER BY min(us);

\echo
\echo Backend memory after presenting and using 10,000 distinct keys (key_cache_size = 10000).  Target: key cache <= 64 MB.
SELECT keys_presented, pg_size_pretty(key_cache_bytes) AS "key cache", pg_size_pretty(key_cache_bytes / keys_presented) AS "per key",
       pg_size_pretty(backend_bytes) AS "whole backend",
       CASE WHEN key_cache_bytes <= 64 * 1024 * 1024 THEN 'pass' ELSE 'MISSED' END AS pass
FROM bench_key_memory;

\echo
\echo The keyed plans
SELECT format(E'-- %s\n%s', shape, plan) AS " " FROM bench_plans ORDER BY ord;
