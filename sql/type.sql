-- The access_key type (docs/reference.md#the-access_key-type): validation, canonical output, casts, equality.
SET search_path = access_key, public;

-- Reports how a definition fares: 'ok' and its canonical form, or the error.
CREATE FUNCTION pg_temp.check_definition(definition text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    message text;
    detail text;
BEGIN
    RETURN 'ok ' || definition::access_key::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN state || ' ' || message || ': ' || detail;
END
$$;

-- The seed example of docs/reference.md#the-access_key-type round-trips unchanged in meaning.
CREATE TABLE seed (d access_key);
INSERT INTO seed VALUES ('{
  "name": "Ada Corp dashboard",
  "is_active": true,
  "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema"],
  "options": {
    "writes":        {"autofill": {"customer": {"id": "93iskds39kd93id", "name": "Ada Corp."}}},
    "queries":       {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
    "saved_queries": {"allowed": ["my_saved_query"], "blocked": ["my_sensitive_query"],
                      "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
    "cached_queries":{"allowed": ["my_cached_query"], "blocked": ["my_sensitive_query"]},
    "datasets":      {"operations": ["read", "list", "retrieve"],
                      "allowed": {"my_single_index_dataset": {"index_by": {"customer.id": ["93iskds39kd93id"]}},
                                  "my_other_dataset_unlimited_access": {}},
                      "blocked": ["my_sensitive_dataset"]}
  }
}');
SELECT d FROM seed;
-- Same meaning as the JSON it came from, and output parses back to itself.
SELECT d::jsonb = '{
  "name": "Ada Corp dashboard", "is_active": true,
  "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema"],
  "options": {
    "writes": {"autofill": {"customer": {"id": "93iskds39kd93id", "name": "Ada Corp."}}},
    "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
    "saved_queries": {"allowed": ["my_saved_query"], "blocked": ["my_sensitive_query"],
                      "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
    "cached_queries": {"allowed": ["my_cached_query"], "blocked": ["my_sensitive_query"]},
    "datasets": {"operations": ["read", "list", "retrieve"],
                 "allowed": {"my_single_index_dataset": {"index_by": {"customer.id": ["93iskds39kd93id"]}},
                             "my_other_dataset_unlimited_access": {}},
                 "blocked": ["my_sensitive_dataset"]}}}'::jsonb AS same_meaning,
       d::text::access_key = d AS text_round_trip,
       d::jsonb::access_key = d AS jsonb_round_trip
FROM seed;

-- Binary send/receive round trip (COPY BINARY uses access_key_send/recv).
SELECT substr(access_key_send(d), 1, 9) AS send_starts_with_format_byte FROM seed;
\copy seed TO '/tmp/access_key_regress_seed.bin' WITH (FORMAT binary)
CREATE TABLE seed_copy (d access_key);
\copy seed_copy FROM '/tmp/access_key_regress_seed.bin' WITH (FORMAT binary)
SELECT (SELECT d FROM seed) = (SELECT d FROM seed_copy) AS binary_round_trip;

-- Canonical output: defaults filled, fixed member order, no whitespace,
-- sets in a fixed order, null sections dropped; equal meaning prints equally.
SELECT pg_temp.check_definition('{"name":"minimal"}');
SELECT pg_temp.check_definition('{ "options": {"queries": null, "schema": {}}, "permitted": ["schema","queries","writes"], "name": "x" }');
SELECT '{"name":"a","permitted":["queries","writes"]}'::access_key
     = '{"permitted":["writes","queries"],"is_active":true,"name":"a","options":null}'::access_key AS equal_sets,
       '{"name":"a"}'::access_key <> '{"name":"b"}'::access_key AS different_names,
       '{"name":"a","is_active":true}'::access_key = '{"name":"a"}'::access_key AS default_is_active;
SELECT pg_temp.check_definition('{"name":"n","options":{"saved_queries":{"blocked":["z","a","m"],"allowed":["b"]}}}');
SELECT pg_temp.check_definition('{"name":"n","options":{"datasets":{"operations":["retrieve","read"]}}}');
-- Filter order is kept (filters are ANDed; authors choose the order); values print as given.
SELECT pg_temp.check_definition('{"name":"n","options":{"queries":{"filters":[{"property_value":1.0,"operator":"eq","property_name":"b"},{"operator":"or","operands":[{"property_name":"a","operator":"exists","property_value":true}]}]}}}');
-- User data (autofill, values) is printed in jsonb order, even members named like ours.
SELECT pg_temp.check_definition('{"name":"n","options":{"writes":{"autofill":{"permitted":1,"name":{"options":2,"b":3}}}}}');
-- Unicode and escapes survive.
SELECT pg_temp.check_definition('{"name":"caf\u00e9 \"quoted\" \\ tab\t"}');

-- Hashing agrees with equality: DISTINCT, GROUP BY and hash joins work.
CREATE TABLE many (d access_key);
INSERT INTO many VALUES ('{"name":"a","permitted":["queries","writes"]}'), ('{"permitted":["writes","queries"],"name":"a"}'),
                        ('{"name":"b"}'), ('{"name":"b","is_active":true}'), ('{"name":"c"}');
SET enable_sort = off;
SELECT count(*) AS distinct_definitions FROM (SELECT DISTINCT d FROM many) AS t;
SELECT d, count(*) FROM many GROUP BY d ORDER BY d::text;
RESET enable_sort;
SELECT count(*) AS hash_join_matches FROM many a JOIN many b USING (d);
DROP TABLE many;

-- The cast to jsonb shows the defaults; the cast from jsonb validates.
SELECT '{"name":"x"}'::access_key::jsonb;
SELECT '{"name":"x","permitted":["nope"]}'::jsonb::access_key;

-- Every validation rule, one failing input each.
SELECT definition, pg_temp.check_definition(definition) AS result
FROM (VALUES
    -- not JSON (22P02) and not an object
    ('{"name": "x",'),
    ('not json'),
    ('["name"]'),
    ('"name"'),
    -- duplicates anywhere
    ('{"name":"x","name":"y"}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"eq","property_value":1},{"property_name":"a","operator":"eq","operator":"ne","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[]},"queries":null}}'),
    -- top level
    ('{"name":"x","extra":1}'),
    ('{"permitted":[]}'),
    ('{"name":42}'),
    ('{"name":""}'),
    ('{"name":"x","is_active":"yes"}'),
    ('{"name":"x","permitted":"queries"}'),
    ('{"name":"x","permitted":[1]}'),
    ('{"name":"x","permitted":["queries","read"]}'),
    ('{"name":"x","permitted":["queries","queries"]}'),
    ('{"name":"x","options":[]}'),
    ('{"name":"x","options":{"query":{}}}'),
    ('{"name":"x","options":{"queries":[]}}'),
    ('{"name":"x","options":{"schema":{"filters":[]}}}'),
    -- writes
    ('{"name":"x","options":{"writes":{"autofil":{}}}}'),
    ('{"name":"x","options":{"writes":{"autofill":[]}}}'),
    ('{"name":"x","options":{"writes":{"autofill":{"customer.id":"a"}}}}'),
    ('{"name":"x","options":{"writes":{"autofill":{"customer":{"$id":"a"}}}}}'),
    ('{"name":"x","options":{"writes":{"autofill":{"":"a"}}}}'),
    -- queries and filter shapes
    ('{"name":"x","options":{"queries":{"filter":[]}}}'),
    ('{"name":"x","options":{"queries":{"filters":{}}}}'),
    ('{"name":"x","options":{"queries":{"filters":null}}}'),
    ('{"name":"x","options":{"queries":{"filters":["customer.id"]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":1,"property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"equals","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"operator":"eq","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":["a"],"operator":"eq","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a..b","operator":"eq","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a.","operator":"eq","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a.$b","operator":"eq","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"eq"}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"eq","property_values":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"lt","property_value":true}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"gte","property_value":[1]}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"exists","property_value":"yes"}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"in","property_value":"a"}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"contains","property_value":{"a":1}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"not_contains","property_value":[1]}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"regex","property_value":1}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"regex","property_value":"(unclosed"}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"regex","property_value":"a{2,1}"}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":[1,2]}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":[1],"max_distance_miles":1}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":[181,0],"max_distance_miles":1}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":[0,-91],"max_distance_miles":1}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":["0",0],"max_distance_miles":1}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":[0,0]}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":[0,0],"max_distance_miles":-1}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"within","property_value":{"coordinates":[0,0],"max_distance_miles":1,"unit":"km"}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"operator":"or"}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"operator":"or","operands":[]}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"operator":"or","operands":{}}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"operator":"or","property_name":"a","operands":[{"property_name":"a","operator":"exists","property_value":true}]}]}}}'),
    ('{"name":"x","options":{"queries":{"filters":[{"operator":"or","operands":[{"property_name":"a","operator":"exists","property_value":true},{"operator":"or","operands":[{"property_name":"b","operator":"eq"}]}]}]}}}'),
    -- saved_queries, cached_queries
    ('{"name":"x","options":{"saved_queries":{"allowed":"q"}}}'),
    ('{"name":"x","options":{"saved_queries":{"allowed":[1]}}}'),
    ('{"name":"x","options":{"saved_queries":{"allowed":["q","q"]}}}'),
    ('{"name":"x","options":{"saved_queries":{"blocked":["bad name"]}}}'),
    ('{"name":"x","options":{"saved_queries":{"blocked":[""]}}}'),
    ('{"name":"x","options":{"saved_queries":{"filters":[{"property_name":"a","operator":"nope","property_value":1}]}}}'),
    ('{"name":"x","options":{"cached_queries":{"filters":[]}}}'),
    ('{"name":"x","options":{"cached_queries":{"allowed":null}}}'),
    -- datasets
    ('{"name":"x","options":{"datasets":{"operations":["write"]}}}'),
    ('{"name":"x","options":{"datasets":{"operations":["read","read"]}}}'),
    ('{"name":"x","options":{"datasets":{"operations":"read"}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":["d"]}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"d":[]}}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"d":{"index":{}}}}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"d":{"index_by":["customer.id"]}}}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"d":{"index_by":{"customer.id":"a"}}}}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"d":{"index_by":{"customer.id":[{"a":1}]}}}}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"d":{"index_by":{"customer..id":["a"]}}}}}}'),
    ('{"name":"x","options":{"datasets":{"allowed":{"bad name":{}}}}}'),
    ('{"name":"x","options":{"datasets":{"blocked":{"d":{}}}}}')
) AS cases(definition);

-- Limits: names count characters, not bytes; oversized values are refused.
SELECT pg_temp.check_definition(format('{"name":"%s"}', repeat('é', 256))) LIKE 'ok %' AS name_256_characters;
SELECT pg_temp.check_definition(format('{"name":"%s"}', repeat('é', 257)));
SELECT pg_temp.check_definition(format('{"name":"x","options":{"queries":{"filters":[{"property_name":"%s","operator":"exists","property_value":true}]}}}', repeat('p', 257)));
SELECT pg_temp.check_definition(format('{"name":"x","options":{"saved_queries":{"allowed":["%s"]}}}', repeat('q', 257)));
SELECT pg_temp.check_definition(format('{"name":"x","options":{"writes":{"autofill":{"a":"%s"}}}}', repeat('v', 1024 * 1024)));
-- ... also when short input prints long (numbers print in full).
SELECT pg_temp.check_definition('{"name":"bomb","options":{"queries":{"filters":[{"property_name":"a","operator":"in","property_value":[1e131071,1e131071,1e131071,1e131071,1e131071,1e131071,1e131071,1e131071]}]}}}');
SELECT pg_temp.check_definition(format('{"name":"x","options":{"queries":{"filters":[%s{"property_name":"a","operator":"exists","property_value":true}%s]}}}',
    repeat('{"operator":"or","operands":[', 16), repeat(']}', 16)));
SELECT pg_temp.check_definition(format('{"name":"x","options":{"queries":{"filters":[%s{"property_name":"a","operator":"exists","property_value":true}%s]}}}',
    repeat('{"operator":"or","operands":[', 15), repeat(']}', 15))) LIKE 'ok %' AS or_depth_15;
-- Deep JSON nesting is an error, not a crash.
\set VERBOSITY terse
SELECT format('{"name":"x","options":{"writes":{"autofill":{"a":%s1%s}}}}', repeat('[', 100000), repeat(']', 100000))::access_key;
\set VERBOSITY default
-- A wrong type is refused.
SELECT 42::access_key;
SELECT '{"name":"x"}'::json::access_key;

-- Nothing half-written: a failing row leaves the table as it was.
CREATE TABLE definitions (d access_key);
INSERT INTO definitions VALUES ('{"name":"good"}'), ('{"name":"bad","permitted":["nope"]}');
SELECT count(*) FROM definitions;

DROP TABLE seed, seed_copy, definitions;
