-- Keen definitions as they come (docs/keen-mapping.md#filter-property-types): the
-- optional property_type (and coercion_type, from older Keen Explorers) says
-- how property_value is read.
SET search_path = access_key, public;
CREATE FUNCTION pg_temp.filter(f text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT (('{"name": "t", "permitted": ["queries"], "options": {"queries": {"filters": [' || f || ']}}}')::access_key
            ::jsonb) #> '{options,queries,filters,0}' $$;

-- Each type reads a string from a form as the value it spells.
SELECT pg_temp.filter('{"property_name": "n", "operator": "gt", "property_value": "5", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": "-1.50e2", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "b", "operator": "eq", "property_value": "TRUE", "property_type": "Boolean"}');
SELECT pg_temp.filter('{"property_name": "x", "operator": "eq", "property_value": "null", "property_type": "Null"}');
SELECT pg_temp.filter('{"property_name": "s", "operator": "eq", "property_value": 42, "property_type": "String"}');
SELECT pg_temp.filter('{"property_name": "s", "operator": "eq", "property_value": false, "property_type": "String"}');
SELECT pg_temp.filter('{"property_name": "t", "operator": "gte", "property_value": "2026-01-01T00:00:00Z", "property_type": "Datetime"}');
SELECT pg_temp.filter('{"property_name": "l", "operator": "in", "property_value": ["a", "b"], "property_type": "List"}');
SELECT pg_temp.filter('{"property_name": "g", "operator": "within", "property_value": {"coordinates": [1, 2], "max_distance_miles": 5}, "property_type": "Geo"}');
-- coercion_type is read the same way and kept as property_type; both must agree.
SELECT pg_temp.filter('{"property_name": "n", "operator": "lt", "property_value": "10", "coercion_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "lt", "property_value": "10", "coercion_type": "Number", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "lt", "property_value": "10", "coercion_type": "String", "property_type": "Number"}');

-- What cannot be read as the type is refused, with the path.
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": "five", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": "1.", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": "01", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": "-", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": "1e5x", "property_type": "Number"}');
SELECT pg_temp.filter('{"property_name": "b", "operator": "eq", "property_value": "yes", "property_type": "Boolean"}');
SELECT pg_temp.filter('{"property_name": "t", "operator": "gt", "property_value": "yesterday", "property_type": "Datetime"}');
SELECT pg_temp.filter('{"property_name": "l", "operator": "in", "property_value": "a,b", "property_type": "List"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": 1, "property_type": "Integer"}');
SELECT pg_temp.filter('{"property_name": "n", "operator": "eq", "property_value": 1, "property_type": 3}');
-- The type does not change what the operator takes: a Boolean for "in" is still refused.
SELECT pg_temp.filter('{"property_name": "b", "operator": "in", "property_value": "true", "property_type": "Boolean"}');

-- Evaluation uses the value as read: "5" as a Number matches 7, not "7".
SELECT ak_apply_filters(d, '{"n": 7}') AS number_7, ak_apply_filters(d, '{"n": "7"}') AS string_7
FROM (SELECT '{"name": "t", "permitted": ["queries"], "options": {"queries": {"filters":
    [{"property_name": "n", "operator": "gt", "property_value": "5", "property_type": "Number"}]}}}'::access_key AS d) AS x;
SELECT ak_apply_filters(d, '{"b": true}') AS bool_true, ak_apply_filters(d, '{"b": "true"}') AS string_true
FROM (SELECT '{"name": "t", "permitted": ["queries"], "options": {"queries": {"filters":
    [{"property_name": "b", "operator": "eq", "property_value": "true", "property_type": "Boolean"}]}}}'::access_key AS d) AS x;
-- Equal meaning, equal definitions: the canonical form holds the value as read.
SELECT '{"name": "t", "options": {"queries": {"filters": [{"property_name": "n", "operator": "eq", "property_value": "5", "coercion_type": "Number"}]}}}'::access_key
     = '{"name": "t", "options": {"queries": {"filters": [{"property_name": "n", "operator": "eq", "property_value": 5, "property_type": "Number"}]}}}'::access_key
       AS same_definition;
