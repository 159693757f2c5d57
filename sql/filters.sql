-- Filter semantics (docs/reference.md#filters), through the pure ak_apply_filters.
SET search_path = access_key, public;

CREATE TABLE events (label text PRIMARY KEY, properties jsonb);
INSERT INTO events VALUES
    ('str',        '{"a": "abc", "n": {"b": "x"}}'),
    ('num',        '{"a": 1}'),
    ('num_float',  '{"a": 1.0}'),
    ('num_big',    '{"a": 25}'),
    ('null',       '{"a": null}'),
    ('missing',    '{"z": 1}'),
    ('array',      '{"a": ["abc", 1, null]}'),
    ('object',     '{"a": {"b": 1}}'),
    ('bool',       '{"a": true}'),
    ('ts',         '{"a": "2024-01-02T03:04:05Z"}'),
    ('ts_offset',  '{"a": "2024-01-02T05:04:05+02:00"}'),
    ('geo_sf',     '{"a": [-122.4194, 37.7749]}'),
    ('geo_oak',    '{"a": {"coordinates": [-122.2711, 37.8044]}}'),
    ('geo_nyc',    '{"a": [-74.0060, 40.7128]}'),
    ('nested_arr', '{"a": [{"b": 1}]}'),
    ('not_object', '[1, 2]');

-- Which events one filter (as the only queries filter of a key) matches.
CREATE FUNCTION pg_temp.matching(filter text) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(label, ' ' ORDER BY label), '(none)')
    FROM events
    WHERE ak_apply_filters(format('{"name": "t", "permitted": ["queries"], "options": {"queries": {"filters": [%s]}}}',
                                  filter)::access_key, properties)
$$;

SELECT filter, pg_temp.matching(filter) AS matches
FROM (VALUES
    -- eq: JSON equality, numbers numerically, missing never matches
    ('{"property_name": "a", "operator": "eq", "property_value": "abc"}'),
    ('{"property_name": "a", "operator": "eq", "property_value": 1}'),
    ('{"property_name": "a", "operator": "eq", "property_value": 1.00}'),
    ('{"property_name": "a", "operator": "eq", "property_value": "1"}'),
    ('{"property_name": "a", "operator": "eq", "property_value": null}'),
    ('{"property_name": "a", "operator": "eq", "property_value": true}'),
    ('{"property_name": "a", "operator": "eq", "property_value": ["abc", 1, null]}'),
    ('{"property_name": "a", "operator": "eq", "property_value": {"b": 1.0}}'),
    ('{"property_name": "n.b", "operator": "eq", "property_value": "x"}'),
    ('{"property_name": "a.b", "operator": "eq", "property_value": 1}'),
    -- ne: exists and differs
    ('{"property_name": "a", "operator": "ne", "property_value": "abc"}'),
    ('{"property_name": "a", "operator": "ne", "property_value": null}'),
    -- ordering: numbers, strings bytewise, ISO-8601 in time order, mixed never
    ('{"property_name": "a", "operator": "lt", "property_value": 2}'),
    ('{"property_name": "a", "operator": "lte", "property_value": 1}'),
    ('{"property_name": "a", "operator": "gt", "property_value": 1}'),
    ('{"property_name": "a", "operator": "gte", "property_value": 1.0}'),
    ('{"property_name": "a", "operator": "lt", "property_value": "abd"}'),
    ('{"property_name": "a", "operator": "gt", "property_value": "abc"}'),
    ('{"property_name": "a", "operator": "gte", "property_value": "2024-01-02T05:04:05+02:00"}'),
    ('{"property_name": "a", "operator": "lt", "property_value": "2024-01-02T04:00:00+01:00"}'),
    ('{"property_name": "a", "operator": "gt", "property_value": "2024-01-02"}'),
    ('{"property_name": "a", "operator": "lte", "property_value": "2024-01-02 03:04:05.000"}'),
    -- exists: null is present
    ('{"property_name": "a", "operator": "exists", "property_value": true}'),
    ('{"property_name": "a", "operator": "exists", "property_value": false}'),
    ('{"property_name": "a.b", "operator": "exists", "property_value": true}'),
    -- in
    ('{"property_name": "a", "operator": "in", "property_value": ["abc", 1]}'),
    ('{"property_name": "a", "operator": "in", "property_value": [null, true]}'),
    ('{"property_name": "a", "operator": "in", "property_value": []}'),
    -- contains: substring of a string, element of an array
    ('{"property_name": "a", "operator": "contains", "property_value": "bc"}'),
    ('{"property_name": "a", "operator": "contains", "property_value": "abc"}'),
    ('{"property_name": "a", "operator": "contains", "property_value": 1}'),
    ('{"property_name": "a", "operator": "contains", "property_value": null}'),
    ('{"property_name": "a", "operator": "contains", "property_value": ""}'),
    ('{"property_name": "a", "operator": "not_contains", "property_value": "bc"}'),
    -- regex: strings only, PostgreSQL AREs
    ('{"property_name": "a", "operator": "regex", "property_value": "^a.c$"}'),
    ('{"property_name": "a", "operator": "regex", "property_value": "^2024-01-02T0[35]"}'),
    ('{"property_name": "a", "operator": "regex", "property_value": "1"}'),
    -- within: [lon, lat] or {"coordinates": [lon, lat]}, miles
    ('{"property_name": "a", "operator": "within", "property_value": {"coordinates": [-122.4194, 37.7749], "max_distance_miles": 10}}'),
    ('{"property_name": "a", "operator": "within", "property_value": {"coordinates": [-122.4194, 37.7749], "max_distance_miles": 1}}'),
    ('{"property_name": "a", "operator": "within", "property_value": {"coordinates": [-122.4194, 37.7749], "max_distance_miles": 2600}}'),
    -- or, nested
    ('{"operator": "or", "operands": [{"property_name": "a", "operator": "eq", "property_value": "abc"}, {"property_name": "a", "operator": "eq", "property_value": true}]}'),
    ('{"operator": "or", "operands": [{"operator": "or", "operands": [{"property_name": "a", "operator": "eq", "property_value": 1}]}, {"property_name": "z", "operator": "exists", "property_value": true}]}')
) AS f(filter);

-- Great-circle distance: San Francisco to Oakland is about 8.4 miles.
SELECT pg_temp.matching('{"property_name": "a", "operator": "within", "property_value": {"coordinates": [-122.4194, 37.7749], "max_distance_miles": 8.3}}') AS within_8_3,
       pg_temp.matching('{"property_name": "a", "operator": "within", "property_value": {"coordinates": [-122.4194, 37.7749], "max_distance_miles": 8.5}}') AS within_8_5;

-- A list of filters is ANDed; no filters means every event.
SELECT pg_temp.matching('{"property_name": "a", "operator": "exists", "property_value": true}, {"property_name": "a", "operator": "regex", "property_value": "^[ab]"}') AS and_list;
SELECT count(*) AS no_filters FROM events
WHERE ak_apply_filters('{"name": "t", "permitted": ["queries"]}', properties);

-- Contexts: saved_queries uses its own filters and permission.
CREATE TABLE test_keys (label text, d access_key);
INSERT INTO test_keys VALUES ('both', '{"name": "t", "permitted": ["queries", "saved_queries"],
    "options": {"queries": {"filters": [{"property_name": "a", "operator": "eq", "property_value": "abc"}]},
                "saved_queries": {"filters": [{"property_name": "a", "operator": "eq", "property_value": 1}]}}}'),
    ('saved_only', '{"name": "t", "permitted": ["saved_queries"]}'),
    ('inactive', '{"name": "t", "is_active": false, "permitted": ["queries"]}');
SELECT k.label, c.context,
       coalesce(string_agg(e.label, ' ' ORDER BY e.label) FILTER (WHERE ak_apply_filters(k.d, e.properties, c.context)), '(none)') AS matches
FROM test_keys k, (VALUES ('queries'), ('saved_queries')) AS c(context), events e
GROUP BY k.label, c.context ORDER BY k.label, c.context;
SELECT ak_apply_filters(d, '{}', 'dashboards') FROM test_keys WHERE label = 'both';
SELECT ak_apply_filters(d, NULL) AS null_properties FROM test_keys WHERE label = 'saved_only';

-- Hostile names and values are data: quotes, backslashes, $$, Unicode and
-- regex metacharacters never change what runs.
INSERT INTO events VALUES
    ('hostile', '{"q\"uote": "it''s \\ $$ ) OR true --", "ünï": "ç.*?", "$$": 1}');
SELECT pg_temp.matching('{"property_name": "q\"uote", "operator": "eq", "property_value": "it''s \\ $$ ) OR true --"}') AS quote_eq,
       pg_temp.matching('{"property_name": "ünï", "operator": "eq", "property_value": "ç.*?"}') AS unicode_eq,
       pg_temp.matching('{"property_name": "ünï", "operator": "contains", "property_value": ".*"}') AS metachar_contains,
       pg_temp.matching('{"property_name": "q\"uote", "operator": "regex", "property_value": "\\$\\$ \\)"}') AS regex_escaped;

-- ISO-8601 forms that parse (and compare in time order) and ones that do not (bytewise).
SELECT s, pg_temp.matching(format('{"property_name": "a", "operator": "gte", "property_value": %s}', to_json(s))) AS gte
FROM (VALUES ('2024-01-02T03:04:05.000001Z'), ('2024-01-02t03:04:05z'), ('2024-01-02T03:04'),
             ('2024-02-30'), ('2024-01-02T25:00:00Z'), ('2024-1-2'), ('2024-01-02T08:04:05+05:'),
             ('2024-01-02T08:04:05+0500')) AS t(s);

-- A pathological regex stays interruptible by statement_timeout.
SET statement_timeout = '300ms';
SELECT ak_apply_filters('{"name": "t", "permitted": ["queries"], "options": {"queries": {"filters": [{"property_name": "a", "operator": "regex", "property_value": "^(a*)(a*)\\1\\2\\1\\2b$"}]}}}',
                        jsonb_build_object('a', repeat('a', 3001) || 'b'));
RESET statement_timeout;

DROP TABLE events, test_keys;
