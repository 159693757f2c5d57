-- Estimates must not tell a key about rows its collections and timeframe keep it from seeing (docs/security.md,
-- "Table-wide statistics").  The support function runs the key's filters over the statistics sample; that sample
-- stands for the rows the key sees only if the key may read the collection and the sampled rows are in its
-- timeframe.  Each pair of child keys below sees no row, yet before the fix their estimates differed: one read
-- that the tenant's events outside the timeframe hold "old" (keen.timestamp, and a time column), the other that
-- the tenant's rows of a collection the key may not read hold "gold".
-- Found by review; fixed in src/planner_support.c (KeyShare: such keys are estimated blind).
SET search_path = access_key, public;
CREATE ROLE regress_scope_owner;
CREATE ROLE regress_scope_app;
GRANT CREATE ON SCHEMA public TO regress_scope_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_scope_owner;
SET ROLE regress_scope_owner;
-- Every row is sampled (fewer than 30,000): the statistics, and so the estimates, are the same on every run.
CREATE TABLE public.scope_events (id serial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO public.scope_events (properties)
SELECT jsonb_build_object('n', (i * 7919) % 10007, 'customer', jsonb_build_object('id', 'other' || i % 50),
                          'keen', jsonb_build_object('timestamp', '2024-06-01T00:00:00Z'), 'secret', 'x')
FROM generate_series(1, 6000) AS i;
INSERT INTO public.scope_events (properties)
SELECT jsonb_build_object('n', (i * 7919) % 10007, 'customer', jsonb_build_object('id', 'acme'),
                          'keen', jsonb_build_object('timestamp', CASE WHEN i <= 8000 THEN '2020-01-01T00:00:00Z'
                                                                       ELSE '2024-06-01T00:00:00Z' END),
                          'secret', CASE WHEN i <= 8000 THEN 'old' ELSE 'new' END)
FROM generate_series(6001, 8010) AS i;
CREATE TABLE public.scope_timed (id serial PRIMARY KEY, at timestamptz NOT NULL, properties jsonb NOT NULL);
INSERT INTO public.scope_timed (at, properties)
SELECT CASE WHEN e.properties->>'secret' = 'old' THEN '2020-01-01' ELSE '2024-06-01' END::timestamptz, e.properties - 'keen'
FROM public.scope_events e;
CREATE TABLE public.scope_other (id serial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO public.scope_other (properties)
SELECT jsonb_build_object('n', (i * 7919) % 10007, 'customer', jsonb_build_object('id', CASE WHEN i % 4 = 0 THEN 'acme' ELSE 'x' || i % 50 END),
                          'plan', CASE WHEN i % 4 = 0 THEN 'gold' ELSE 'free' END)
FROM generate_series(1, 8000) AS i;
SELECT ak_protect('public.scope_events');
SELECT ak_protect('public.scope_timed', 'properties', 'at');
SELECT ak_protect('public.scope_other');
GRANT SELECT ON public.scope_events, public.scope_timed, public.scope_other TO regress_scope_app;
ANALYZE public.scope_events;
ANALYZE public.scope_timed;
ANALYZE public.scope_other;
RESET ROLE;
SELECT key AS parent FROM ak_create_key('{"name": "acme", "permitted": ["queries", "keys"], "options": {"queries": {
    "collections": ["public.scope_events", "public.scope_timed"],
    "timeframe": {"start": "2024-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
    "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "acme"}]}}}') \gset

SET ROLE regress_scope_app;
SELECT ak_use_key(:'parent', false) IS NOT NULL;
CREATE TEMP TABLE probes AS
SELECT t, v, (SELECT key FROM ak_derive_key(jsonb_build_object('name', 'probe ' || v, 'permitted', jsonb_build_array('queries'),
        'options', jsonb_build_object('queries', jsonb_build_object('filters', jsonb_build_array(
            jsonb_build_object('property_name', p, 'operator', 'eq', 'property_value', v)))))::text::access_key)) AS token
FROM (VALUES ('public.scope_events', 'secret', 'old'), ('public.scope_events', 'secret', 'zzz'),
             ('public.scope_timed', 'secret', 'old'), ('public.scope_timed', 'secret', 'zzz'),
             ('public.scope_other', 'plan', 'gold'), ('public.scope_other', 'plan', 'zzz')) AS probe(t, p, v);
CREATE FUNCTION pg_temp.estimate(token text, t text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    PERFORM set_config('access_key.key', token, true);
    EXECUTE format('EXPLAIN (FORMAT JSON) SELECT * FROM %s', t) INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END
$$;
CREATE FUNCTION pg_temp.visible(token text, t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('access_key.key', token, true);
    EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
    RETURN n::text;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN SQLERRM;
END
$$;
BEGIN;
SELECT t, v, pg_temp.visible(token, t) AS visible FROM probes ORDER BY t, v;
SELECT t, count(DISTINCT pg_temp.estimate(token, t)) = 1 AS estimates_tell_nothing FROM probes GROUP BY t ORDER BY t;
COMMIT;
-- The parent's own estimate no longer counts the tenant's 2,000 events before its timeframe.
BEGIN;
SELECT pg_temp.estimate(:'parent', 'public.scope_events') < 1000 AS own_share;
COMMIT;

RESET ROLE;
RESET access_key.key;
DROP OWNED BY regress_scope_app;
DROP TABLE public.scope_events, public.scope_timed, public.scope_other;
REVOKE CREATE ON SCHEMA public FROM regress_scope_owner;
REVOKE EXECUTE ON FUNCTION ak_protect(regclass, name, name) FROM regress_scope_owner;
DROP ROLE regress_scope_app;
DROP ROLE regress_scope_owner;
