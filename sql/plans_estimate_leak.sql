-- Estimates must not tell a key about rows it cannot see (docs/security.md, "Table-wide statistics").  The support
-- function runs the key's filters over the statistics sample of the properties column: documents of every tenant.
-- A key that may derive child keys chooses filters of its own (here a regex on a property of other tenants' rows);
-- estimated one by one and multiplied as independent, each is measured against the whole table, and EXPLAIN's row
-- estimate then reads other tenants' values a prefix at a time.  The child keys below see no row either way, so
-- their estimates should not differ.
-- Found by review (the estimates were 98 against 1 rows); fixed in src/selectivity.c, which runs the filters together.
SET search_path = access_key, public;
CREATE ROLE regress_leak_owner;
CREATE ROLE regress_leak_app;
GRANT CREATE ON SCHEMA public TO regress_leak_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_leak_owner;
SET ROLE regress_leak_owner;
CREATE TABLE public.leak_events (id serial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO public.leak_events (properties)
SELECT jsonb_build_object('customer', jsonb_build_object('id', 'other' || i % 50), 'secret', 'pw-' || md5((i % 7)::text))
FROM generate_series(1, 20000) AS i;
INSERT INTO public.leak_events (properties)
SELECT '{"customer": {"id": "acme"}, "secret": "mine"}' FROM generate_series(1, 400);
SELECT ak_protect('public.leak_events');
GRANT SELECT ON public.leak_events TO regress_leak_app;
ANALYZE public.leak_events;
RESET ROLE;
SELECT key AS parent FROM ak_create_key('{"name": "acme", "permitted": ["queries", "keys"], "options": {"queries": {"filters": [
    {"property_name": "customer.id", "operator": "eq", "property_value": "acme"}]}}}') \gset

SET ROLE regress_leak_app;
SELECT ak_use_key(:'parent', false) IS NOT NULL;
-- md5('3') starts with ecc: other tenants' rows hold "pw-ecc...", none holds "pw-ecz".
CREATE TEMP TABLE probes AS
SELECT p, (SELECT key FROM ak_derive_key(jsonb_build_object('name', 'probe ' || p, 'permitted', jsonb_build_array('queries'),
        'options', jsonb_build_object('queries', jsonb_build_object('filters', jsonb_build_array(
            jsonb_build_object('property_name', 'secret', 'operator', 'regex', 'property_value', p)))))::text::access_key)) AS token
FROM unnest(ARRAY['^pw-ecc', '^pw-ecz']) AS p;
CREATE FUNCTION pg_temp.estimate(token text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    PERFORM set_config('access_key.key', token, true);
    EXECUTE 'EXPLAIN (FORMAT JSON) SELECT * FROM public.leak_events' INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END
$$;
CREATE FUNCTION pg_temp.visible(token text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('access_key.key', token, true);
    RETURN (SELECT count(*) FROM public.leak_events);
END
$$;
BEGIN;
SELECT p, pg_temp.visible(token) AS visible FROM probes ORDER BY p;
SELECT count(DISTINCT pg_temp.estimate(token)) = 1 AS estimates_tell_nothing FROM probes;
COMMIT;

RESET ROLE;
RESET access_key.key;
DROP OWNED BY regress_leak_app;
DROP TABLE public.leak_events;
REVOKE CREATE ON SCHEMA public FROM regress_leak_owner;
REVOKE EXECUTE ON FUNCTION ak_protect(regclass, name, name) FROM regress_leak_owner;
DROP ROLE regress_leak_app;
DROP ROLE regress_leak_owner;
