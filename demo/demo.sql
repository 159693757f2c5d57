-- access_key demo: one analytics database, three customers, one key each
-- (plus a few special keys), and what every key can and cannot see and do.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION access_key;

-- The SaaS team's roles: an admin who manages keys, and the role the
-- customer-facing API connects as (it owns nothing and holds no admin rights).
CREATE ROLE demo_admin;
CREATE ROLE demo_api;
GRANT EXECUTE ON FUNCTION access_key.ak_create_key(access_key.access_key, timestamptz),
    access_key.ak_list_keys(text), access_key.ak_revoke_key(uuid),
    access_key.ak_update_key(uuid, access_key.access_key),
    access_key.ak_create_saved_query(text, text, interval), access_key.ak_refresh_cached_queries(),
    access_key.ak_create_dataset(text, text, text[]), access_key.ak_refresh_dataset(text) TO demo_admin;

-- One events table for every customer, protected by access_key.
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    properties jsonb NOT NULL
);
INSERT INTO events (properties, received_at)
SELECT jsonb_build_object(
           'customer', jsonb_build_object('id', c.id, 'name', c.name),
           'user', jsonb_build_object('id', 'u' || (i % 17), 'country', (ARRAY['FR', 'DE', 'US', 'JP', 'BR'])[1 + i % 5]),
           'event', (ARRAY['signup', 'pageview', 'pageview', 'purchase'])[1 + i % 4],
           'amount', CASE WHEN i % 4 = 3 THEN 10 + i % 90 END),
       timestamptz '2026-11-01' + make_interval(mins => i)
FROM generate_series(1, 30000) AS i
JOIN (VALUES (0, 'ada', 'Ada Corp'), (1, 'babbage', 'Babbage Ltd'), (2, 'curie', 'Curie SA')) AS c(n, id, name)
  ON i % 3 = c.n;
CREATE INDEX events_properties_idx ON events USING gin (properties jsonb_path_ops);
CREATE INDEX events_received_at_idx ON events (received_at);
ANALYZE events;
-- received_at is each event's time: keys limited to a timeframe compare it (through its index).
SELECT access_key.ak_protect('events', 'properties', 'received_at') \g /dev/null
GRANT SELECT, INSERT, UPDATE, DELETE ON events TO demo_api;
GRANT USAGE ON SEQUENCE events_id_seq TO demo_api;

\echo
\echo '== The admin creates one key per customer at onboarding (tokens are shown once; only hashes are stored)'
SET ROLE demo_admin;
CREATE TEMP TABLE demo_keys (label text, id uuid, token text);
INSERT INTO demo_keys SELECT 'Ada dashboard', id, key FROM access_key.ak_create_key('{
  "name": "Ada Corp dashboard",
  "permitted": ["queries", "writes", "saved_queries", "cached_queries", "datasets"],
  "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]},
              "writes":  {"autofill": {"customer": {"id": "ada", "name": "Ada Corp"}}},
              "saved_queries": {"allowed": ["purchases_by_country"],
                                "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]},
              "cached_queries": {"allowed": ["platform_totals"]},
              "datasets": {"operations": ["read", "list", "retrieve"],
                           "allowed": {"revenue_by_customer": {"index_by": {"customer.id": ["ada"]}}}}}}');
INSERT INTO demo_keys SELECT 'Babbage read-only', id, key FROM access_key.ak_create_key('{
  "name": "Babbage Ltd analysts", "permitted": ["queries"],
  "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "babbage"}]}}}');
INSERT INTO demo_keys SELECT 'Curie purchases in FR', id, key FROM access_key.ak_create_key('{
  "name": "Curie SA, French sales team", "permitted": ["queries"],
  "options": {"queries": {"filters": [
      {"property_name": "customer.id", "operator": "eq", "property_value": "curie"},
      {"property_name": "event", "operator": "eq", "property_value": "purchase"},
      {"property_name": "user.country", "operator": "in", "property_value": ["FR"]}]}}}');
INSERT INTO demo_keys SELECT 'Ingest-only collector', id, key FROM access_key.ak_create_key('{
  "name": "Babbage event collector", "permitted": ["writes"],
  "options": {"writes": {"autofill": {"customer": {"id": "babbage", "name": "Babbage Ltd"}}}}}');
INSERT INTO demo_keys SELECT 'Revoked (Ada, old)', id, key FROM access_key.ak_create_key('{
  "name": "Ada Corp old key", "permitted": ["queries"],
  "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]}}}');
SELECT access_key.ak_revoke_key(id) FROM demo_keys WHERE label = 'Revoked (Ada, old)' \g /dev/null
SELECT name, is_active, permitted FROM access_key.ak_list_keys();
RESET ROLE;
GRANT SELECT ON demo_keys TO demo_api;

-- Runs one statement as the API role presenting a key; reports the result or the refusal.
CREATE FUNCTION demo_try(token text, statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
    n bigint;
BEGIN
    PERFORM access_key.ak_use_key(token);
    IF statement ~* '^\s*select' OR statement ~* 'returning' THEN
        EXECUTE statement INTO result;
        RETURN coalesce(result, 'ok (no rows)');
    END IF;
    EXECUTE statement;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN format('ok, %s row(s)', n);
EXCEPTION WHEN OTHERS THEN
    RETURN 'REFUSED ' || SQLSTATE || ': ' || SQLERRM;
END
$$;

SET ROLE demo_api;
\echo
\echo '== Without a key the API role sees nothing'
SELECT count(*) AS events_visible_without_key FROM events;

\echo
\echo '== What each key SEES: SELECT customer, event, count(*) FROM events GROUP BY ...  (no WHERE clause)'
SELECT k.label,
       demo_try(k.token, $q$SELECT string_agg(format('%s/%s: %s', c, e, n), ', ' ORDER BY c, e)
                           FROM (SELECT properties #>> '{customer,id}' AS c, properties ->> 'event' AS e, count(*) AS n
                                 FROM events GROUP BY 1, 2) AS t$q$) AS sees
FROM demo_keys k ORDER BY k.label;

\echo
\echo '== What each key may DO (ak_permits)'
SELECT k.label,
       demo_try(k.token, $q$SELECT format('queries=%s writes=%s schema=%s',
                           access_key.ak_permits('queries'), access_key.ak_permits('writes'), access_key.ak_permits('schema'))$q$) AS permits
FROM demo_keys k ORDER BY k.label;

\echo
\echo '== Each key writes an event that claims to come from customer "curie"'
SELECT k.label,
       demo_try(k.token, format($q$INSERT INTO events (properties)
                           VALUES ('{"customer": {"id": "curie"}, "event": "signup", "user": {"id": "written by %s"}}')$q$,
                           k.label)) AS writes
FROM demo_keys k ORDER BY k.label;
RESET ROLE;
\echo '   ... and what was stored: autofill stamped the real customer over the forged one'
SELECT properties #>> '{user,id}' AS "user", properties -> 'customer' AS customer
FROM events WHERE properties #>> '{user,id}' LIKE 'written by %' ORDER BY id;
SET ROLE demo_api;

\echo
\echo '== Changing or deleting events, and managing keys, is never possible with a key'
SELECT k.label,
       demo_try(k.token, 'UPDATE events SET properties = ''{}'' RETURNING 1') AS "update",
       demo_try(k.token, 'DELETE FROM events RETURNING 1') AS "delete",
       demo_try(k.token, $q$SELECT key FROM access_key.ak_create_key('{"name": "mine"}')$q$) AS create_key
FROM demo_keys k WHERE k.label = 'Ada dashboard';

\echo
\echo '== The index still serves the key''s filter (EXPLAIN for the Ada key)'
BEGIN;
SELECT access_key.ak_use_key(token) IS NOT NULL AS presenting FROM demo_keys WHERE label = 'Ada dashboard' \g /dev/null
EXPLAIN (COSTS OFF) SELECT count(*) FROM events;
COMMIT;
RESET ROLE;

\echo
\echo '== Saved queries, a cached query and a dataset, stored by the admin'
GRANT SELECT ON events TO demo_admin;
ALTER TABLE events OWNER TO demo_admin;   -- the admin owns the data, so it precomputes across tenants
SET ROLE demo_admin;
SELECT access_key.ak_create_saved_query('purchases_by_country',
    'SELECT properties #>> ''{user,country}'' AS country, count(*) AS purchases, sum((properties ->> ''amount'')::int) AS amount
     FROM events WHERE properties ->> ''event'' = ''purchase'' GROUP BY 1 ORDER BY 1') \g /dev/null
SELECT access_key.ak_create_saved_query('platform_totals',
    'SELECT count(DISTINCT properties #>> ''{customer,id}'') AS customers, count(*) AS events FROM events', '5 minutes') \g /dev/null
SELECT access_key.ak_create_dataset('revenue_by_customer',
    'SELECT properties #>> ''{customer,id}'' AS "customer.id", sum((properties ->> ''amount'')::int) AS revenue
     FROM events WHERE properties ->> ''event'' = ''purchase'' GROUP BY 1', ARRAY['customer.id']) \g /dev/null
SELECT access_key.ak_refresh_cached_queries() AS cached_queries_refreshed,
       access_key.ak_refresh_dataset('revenue_by_customer') AS dataset_index_values;
RESET ROLE;
SET ROLE demo_api;
\echo '   ... what the Ada key gets from them (its saved_queries filter keeps it to its own events)'
SELECT demo_try(token, $q$SELECT (access_key.ak_saved_query_result('purchases_by_country') -> 'result')::text$q$) AS purchases_by_country,
       demo_try(token, $q$SELECT (access_key.ak_saved_query_result('platform_totals') -> 'result')::text$q$) AS platform_totals_cached,
       demo_try(token, $q$SELECT (access_key.ak_dataset_results('revenue_by_customer', '{"customer.id": "ada"}') -> 'result')::text$q$) AS own_revenue
FROM demo_keys WHERE label = 'Ada dashboard';
\echo '   ... and what it is refused'
SELECT demo_try(a.token, $q$SELECT (access_key.ak_dataset_results('revenue_by_customer', '{"customer.id": "babbage"}') -> 'result')::text$q$) AS ada_asks_for_babbage_revenue,
       demo_try(b.token, $q$SELECT (access_key.ak_saved_query_result('purchases_by_country') -> 'result')::text$q$) AS babbage_key_asks_saved_query
FROM demo_keys AS a, demo_keys AS b WHERE a.label = 'Ada dashboard' AND b.label = 'Babbage read-only';
RESET ROLE;

\echo
\echo '== The admin narrows the Babbage key to purchases; the change applies from the next transaction'
SET ROLE demo_admin;
SELECT access_key.ak_update_key(id, '{
  "name": "Babbage Ltd analysts", "permitted": ["queries"],
  "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "babbage"},
                                      {"property_name": "event", "operator": "eq", "property_value": "purchase"}]}}}') IS NOT NULL AS updated
FROM demo_keys WHERE label = 'Babbage read-only';
RESET ROLE;
SET ROLE demo_api;
SELECT k.label,
       demo_try(k.token, $q$SELECT string_agg(format('%s/%s: %s', c, e, n), ', ' ORDER BY c, e)
                           FROM (SELECT properties #>> '{customer,id}' AS c, properties ->> 'event' AS e, count(*) AS n
                                 FROM events GROUP BY 1, 2) AS t$q$) AS now_sees
FROM demo_keys k WHERE k.label = 'Babbage read-only';
RESET ROLE;

\echo
\echo '== A customer admin hands out a narrower key, without the SaaS team'
\echo '   The SaaS admin gives Ada''s admin a key that may derive keys ("keys"), limited to Ada''s events'
SET ROLE demo_admin;
INSERT INTO demo_keys SELECT 'Ada admin', id, key FROM access_key.ak_create_key('{
  "name": "Ada Corp customer admin", "permitted": ["queries", "saved_queries", "keys"],
  "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}],
                          "collections": ["public.events"]},
              "saved_queries": {"allowed": ["purchases_by_country"],
                                "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]}}}');
RESET ROLE;
SET ROLE demo_api;
\echo '   Ada''s admin, in the application, derives a key for a French analyst: purchases of French users, 5-7 November'
SELECT demo_try(token, $q$SELECT key FROM access_key.ak_derive_key('{"name": "Ada Corp, French analyst",
    "permitted": ["queries"],
    "options": {"queries": {"filters": [{"property_name": "user.country", "operator": "eq", "property_value": "FR"},
                                        {"property_name": "event", "operator": "eq", "property_value": "purchase"}],
                            "timeframe": {"start": "2026-11-05T00:00:00Z", "end": "2026-11-08T00:00:00Z"}}}}')$q$) AS analyst
FROM demo_keys WHERE label = 'Ada admin' \gset
\echo '   ... asking for more than its own key has is refused when the key is made'
SELECT demo_try(token, $q$SELECT key FROM access_key.ak_derive_key('{"name": "sneaky", "permitted": ["queries", "writes"]}')$q$) AS asks_for_writes,
       demo_try(token, $q$SELECT key FROM access_key.ak_derive_key('{"name": "sneaky", "permitted": ["queries"],
           "options": {"queries": {"collections": ["public.events", "public.other_events"]}}}')$q$) AS asks_for_another_collection
FROM demo_keys WHERE label = 'Ada admin';
RESET ROLE;
INSERT INTO demo_keys VALUES ('Ada French analyst (derived)', NULL, :'analyst');
SET ROLE demo_api;
\echo '   What the parent and the derived key SEE (the child''s filters are ANDed with the parent''s; its timeframe applies)'
SELECT k.label,
       demo_try(k.token, $q$SELECT string_agg(format('%s/%s: %s from %s to %s', c, u, n, first_day, last_day), '; ' ORDER BY c, u)
                           FROM (SELECT properties #>> '{customer,id}' AS c, properties #>> '{user,country}' AS u, count(*) AS n,
                                        to_char(min(received_at), 'MM-DD') AS first_day, to_char(max(received_at), 'MM-DD') AS last_day
                                 FROM events WHERE properties ->> 'event' = 'purchase' GROUP BY 1, 2) AS t$q$) AS sees_purchases
FROM demo_keys k WHERE k.label IN ('Ada admin', 'Ada French analyst (derived)') ORDER BY k.label;
\echo '   The derived key cannot write (its parent cannot), nor manage keys'
SELECT demo_try(token, 'INSERT INTO events (properties) VALUES (''{}'') RETURNING 1') AS "insert",
       demo_try(token, $q$SELECT access_key.ak_revoke_key(id)::text FROM demo_keys WHERE label = 'Ada admin'$q$) AS revoke_parent
FROM demo_keys WHERE label = 'Ada French analyst (derived)';
RESET ROLE;

\echo
\echo '== Revoking the customer admin''s key revokes every key derived from it, from the next transaction on'
SET ROLE demo_admin;
SELECT access_key.ak_revoke_key(id) FROM demo_keys WHERE label = 'Ada admin' \g /dev/null
SELECT name, is_active, parent_id IS NOT NULL AS derived FROM access_key.ak_list_keys() WHERE name LIKE 'Ada Corp%' ORDER BY created_at;
RESET ROLE;
SET ROLE demo_api;
SELECT demo_try(token, 'SELECT count(*) FROM events') AS derived_key_now
FROM demo_keys WHERE label = 'Ada French analyst (derived)';
RESET ROLE;
