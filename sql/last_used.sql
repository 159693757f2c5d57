-- keys.last_used_at (docs/reference.md#last-use): recorded by a background
-- worker after the using transaction ends, whether it committed, rolled back
-- or was read-only; at most once per key per backend per interval, batched;
-- handed over when a backend exits.
SET search_path = access_key, public;
CREATE ROLE regress_ak_app;

-- Waits (up to 10 s) until a query returns true.  Each loop runs the query
-- with a fresh snapshot, so the worker's commits become visible.
CREATE FUNCTION public.regress_ak_wait_for(condition text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE condition INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;

SELECT id AS a, key AS a_token FROM ak_create_key('{"name": "A", "permitted": ["queries"]}') \gset
SELECT id AS b, key AS b_token FROM ak_create_key('{"name": "B", "permitted": ["queries"]}') \gset
SELECT id AS c, key AS c_token FROM ak_create_key('{"name": "C", "permitted": ["queries"]}') \gset
SELECT id AS d, key AS d_token FROM ak_create_key('{"name": "D", "permitted": ["queries"]}') \gset
SELECT id AS e, key AS e_token FROM ak_create_key('{"name": "E", "permitted": ["queries"]}') \gset
SELECT id AS f, key AS f_token FROM ak_create_key('{"name": "F", "permitted": ["queries"]}') \gset
SELECT id AS g, key AS g_token FROM ak_create_key('{"name": "G", "permitted": ["queries"]}') \gset
SELECT id AS h, key AS h_token FROM ak_create_key('{"name": "H", "permitted": ["queries"]}') \gset
SELECT count(*) AS never_used FROM keys WHERE last_used_at IS NULL;

-- A backend's first use is recorded right after its transaction ends, with
-- the transaction's start time.
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'a_token') IS NOT NULL AS presenting, now() AS a_first_use \gset
SELECT :'presenting';
COMMIT;
RESET ROLE;
SELECT regress_ak_wait_for(format('SELECT last_used_at = %L FROM access_key.keys WHERE id = %L',
                                  :'a_first_use', :'a')) AS first_use_recorded;
SELECT xmin AS a_version FROM keys WHERE id = :'a' \gset

-- Within the interval (60 s) the same backend writes nothing more: twenty
-- transactions presenting A leave its row alone.
SET ROLE regress_ak_app;
SELECT ak_use_key(:'a_token', false) IS NOT NULL AS presenting_for_the_session;
SELECT format('DO $$BEGIN PERFORM access_key.ak_permits(%L); END$$', 'queries') FROM generate_series(1, 19) \gexec
SELECT ak_permits('queries') AS last_of_twenty, now() AS a_last_use \gset
RESET access_key.key;
-- A rolled-back transaction, and a read-only one: neither fails, neither loses the use.
BEGIN;
SELECT ak_use_key(:'b_token') IS NOT NULL AS presenting, now() AS b_use \gset
ROLLBACK;
BEGIN READ ONLY;
SELECT ak_use_key(:'c_token') IS NOT NULL AS presenting, now() AS c_use \gset
SELECT ak_permits('queries') AS read_only_use;
COMMIT;
-- An invalid key is no use: revoked, it is not recorded.
RESET ROLE;
SELECT ak_revoke_key(:'h');
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'h_token');
ROLLBACK;
RESET ROLE;
SELECT pg_sleep(0.3);
SELECT xmin = :'a_version' AS a_not_written_again, last_used_at = :'a_first_use' AS a_still_first_use
FROM keys WHERE id = :'a';
SELECT count(*) AS b_c_pending FROM keys WHERE id IN (:'b', :'c') AND last_used_at IS NULL;

-- Once the interval has passed, the next transaction end hands everything
-- over in one batch: one worker transaction writes A (its latest use), B and C.
SET access_key.last_used_interval = '1s';
SELECT pg_sleep(1.05);
SELECT regress_ak_wait_for(format('SELECT count(*) = 3 FROM access_key.keys WHERE (id, last_used_at) IN ((%L, %L), (%L, %L), (%L, %L))',
                                  :'a', :'a_last_use', :'b', :'b_use', :'c', :'c_use')) AS batch_recorded;
SELECT count(DISTINCT xmin::text) AS writing_transactions, bool_and(xmin <> :'a_version') AS all_written
FROM keys WHERE id IN (:'a', :'b', :'c');
SELECT last_used_at IS NULL AS revoked_key_not_recorded FROM keys WHERE id = :'h';
RESET access_key.last_used_interval;

-- last_used_at never moves back: a later time already stored stays.
UPDATE keys SET last_used_at = '2999-01-01 00:00:00+00' WHERE id = :'g';

-- A backend that exits hands over what it noted in its last interval.
\c
SET search_path = access_key, public;
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'d_token') IS NOT NULL AS presenting, now() AS d_use \gset
COMMIT;
BEGIN;
SELECT ak_use_key(:'e_token') IS NOT NULL AS presenting, now() AS e_use \gset
SELECT ak_use_key(:'g_token') IS NOT NULL AS presenting;
COMMIT;
RESET ROLE;
SELECT regress_ak_wait_for(format('SELECT last_used_at = %L FROM access_key.keys WHERE id = %L', :'d_use', :'d')) AS d_recorded;
SELECT pg_sleep(0.3);
SELECT last_used_at IS NULL AS e_waits_for_the_interval FROM keys WHERE id = :'e';
\c
SET search_path = access_key, public;
SELECT regress_ak_wait_for(format('SELECT last_used_at = %L FROM access_key.keys WHERE id = %L', :'e_use', :'e')) AS e_recorded_at_exit;
SELECT last_used_at FROM keys WHERE id = :'g';

-- An interval of 0 turns recording off; only superusers may change it.
SET access_key.last_used_interval = 0;
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'f_token') IS NOT NULL AS presenting;
COMMIT;
SET access_key.last_used_interval = 60;
\echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT pg_sleep(0.3);
SELECT last_used_at IS NULL AS f_not_recorded FROM keys WHERE id = :'f';

-- ak_list_keys shows it.
SELECT name, last_used_at IS NOT NULL AS used FROM ak_list_keys() ORDER BY name;

-- Clean up.
DELETE FROM keys;
DROP FUNCTION public.regress_ak_wait_for(text);
DROP ROLE regress_ak_app;
