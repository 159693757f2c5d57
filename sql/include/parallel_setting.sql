-- :parallel_setting names the setting that forces parallel plans for
-- testing: force_parallel_mode up to PostgreSQL 15, debug_parallel_query from 16.
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000
            THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END AS parallel_setting \gset
