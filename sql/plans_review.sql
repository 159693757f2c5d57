-- Adversarial review of plans (docs/reference.md#plans): an index condition the planned policy call trusts must
-- select exactly the rows the skipped filter accepts, and must never drop a row the key may see.
SET search_path = access_key, public;
CREATE ROLE regress_review_owner;
CREATE ROLE regress_review_app;
GRANT CREATE ON SCHEMA public TO regress_review_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_review_owner;

SET ROLE regress_review_owner;
CREATE TABLE public.review_events (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO public.review_events (properties)
SELECT jsonb_build_object('customer', jsonb_build_object('id', 'c' || i % 100), 'items', jsonb_build_object('0', 'c' || i % 100))
FROM generate_series(1, 2000) AS i;
INSERT INTO public.review_events (properties) VALUES
    ('{"customer": {"id": "acme"}, "secret": "acme''s own row"}'),
    ('{"customer": {"id": "ACME"}, "secret": "another tenant''s row"}'),
    ('{"items": {"0": "acme"}, "secret": "items is an object: acme''s own row"}'),
    ('{"items": ["acme"], "secret": "items is an array: no items.0 property"}');
SELECT ak_protect('public.review_events');
GRANT SELECT ON public.review_events TO regress_review_app;
RESET ROLE;

CREATE TABLE pg_temp.review_keys (name text PRIMARY KEY, definition access_key, token text);
INSERT INTO pg_temp.review_keys (name, definition)
VALUES ('acme', '{"name": "acme", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "eq", "property_value": "acme"}]}}}'),
       ('items', '{"name": "items", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "items.0", "operator": "eq", "property_value": "acme"}]}}}');
UPDATE pg_temp.review_keys SET token = (SELECT key FROM ak_create_key(definition));
GRANT SELECT ON pg_temp.review_keys TO regress_review_app;

-- What each key may see, counted by the pure filter (the owner's view).
SELECT k.name, e.properties ->> 'secret' AS secret
FROM pg_temp.review_keys AS k JOIN public.review_events AS e ON ak_apply_filters(k.definition, e.properties)
WHERE e.properties ? 'secret' ORDER BY 1, 2;

-- The rows a key sees through the planner, the index forced.
CREATE FUNCTION pg_temp.keyed_secrets(key_name text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('access_key.key', (SELECT token FROM pg_temp.review_keys WHERE name = key_name), true);
    PERFORM set_config('enable_seqscan', 'off', true);
    RETURN QUERY SELECT properties ->> 'secret' FROM public.review_events WHERE properties ? 'secret' ORDER BY 1;
END
$$;

-- An index under a nondeterministic collation: its = matches 'ACME' for 'acme'.  No condition is added for it,
-- so the policy call checks the filter and the key sees its own row only.
SET ROLE regress_review_owner;
CREATE COLLATION public.review_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE INDEX review_events_customer_ci ON public.review_events ((properties -> 'customer' ->> 'id') COLLATE public.review_ci);
CREATE INDEX review_events_customer_ci_hash ON public.review_events USING hash ((properties -> 'customer' ->> 'id') COLLATE public.review_ci);
ANALYZE public.review_events;
RESET ROLE;
SET ROLE regress_review_app;
BEGIN; SELECT * FROM pg_temp.keyed_secrets('acme'); COMMIT;
RESET ROLE;

-- #> and #>> index arrays by a numeric step ({"items": ["acme"]} #>> '{items,0}' is 'acme'); a filter's path
-- steps through objects only.  Such an index gives no condition.
SET ROLE regress_review_owner;
CREATE INDEX review_events_items ON public.review_events ((properties #>> '{items,0}'));
CREATE INDEX review_events_items_json ON public.review_events USING hash (jsonb_extract_path(properties, 'items', '0'));
ANALYZE public.review_events;
RESET ROLE;
SET ROLE regress_review_app;
BEGIN; SELECT * FROM pg_temp.keyed_secrets('items'); COMMIT;
RESET ROLE;

DEALLOCATE ALL;
DROP OWNED BY regress_review_app;
DROP TABLE public.review_events;
DROP COLLATION public.review_ci;
REVOKE CREATE ON SCHEMA public FROM regress_review_owner;
REVOKE EXECUTE ON FUNCTION ak_protect(regclass, name, name) FROM regress_review_owner;
DROP ROLE regress_review_app;
DROP ROLE regress_review_owner;
