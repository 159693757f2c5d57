-- ak_permits (docs/reference.md#ak_permits-rules): the pure variant on definitions, then the session variant.
SET search_path = access_key, public;

CREATE TABLE definitions (label text PRIMARY KEY, d access_key);
INSERT INTO definitions VALUES
    ('everything', '{"name": "e", "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema", "keys"]}'),
    ('nothing', '{"name": "n"}'),
    ('inactive', '{"name": "i", "is_active": false, "permitted": ["queries", "saved_queries"]}'),
    ('lists', '{"name": "l", "permitted": ["saved_queries", "cached_queries", "datasets"],
                "options": {"saved_queries": {"allowed": ["q1", "q2"], "blocked": ["q2"]},
                            "cached_queries": {"blocked": ["c_secret"]},
                            "datasets": {"operations": ["read", "retrieve"],
                                         "allowed": {"d1": {}, "d2": {"index_by": {"customer.id": ["a"]}}},
                                         "blocked": ["d2"]}}}'),
    ('lists_not_permitted', '{"name": "l", "permitted": [],
                "options": {"saved_queries": {"allowed": ["q1"]}}}'),
    ('empty_allowed', '{"name": "ea", "permitted": ["saved_queries"], "options": {"saved_queries": {"allowed": []}}}');

-- Without a resource: is the action in permitted (and the key active)?
SELECT label, action, ak_permits(d, action) AS permits
FROM definitions, unnest(ARRAY['writes', 'queries', 'saved_queries', 'cached_queries', 'datasets', 'schema', 'keys']) AS action
WHERE label IN ('everything', 'nothing', 'inactive')
ORDER BY label, action;

-- With a resource: blocked wins, then allowed must list it, else everything is allowed.
SELECT label, action, resource, ak_permits(d, action, resource) AS permits
FROM definitions,
     (VALUES ('saved_queries', 'q1'),       -- allowed
             ('saved_queries', 'q2'),       -- allowed and blocked: blocked wins
             ('saved_queries', 'q3'),       -- not in allowed
             ('cached_queries', 'c_any'),   -- no allowed list: allowed
             ('cached_queries', 'c_secret'),-- blocked
             ('datasets', 'd1'),            -- allowed ({} entry)
             ('datasets', 'd2'),            -- allowed but blocked
             ('datasets', 'd3')             -- not in allowed
     ) AS r(action, resource)
WHERE label IN ('lists', 'everything', 'lists_not_permitted', 'inactive')
ORDER BY label, action, resource;
SELECT ak_permits(d, 'saved_queries', 'q1') AS empty_allowed_list_allows_nothing
FROM definitions WHERE label = 'empty_allowed';

-- Dataset operations must be listed when operations is present.
SELECT label, operation, ak_permits(d, 'datasets', NULL, operation) AS without_resource,
       ak_permits(d, 'datasets', 'd1', operation) AS on_d1
FROM definitions, unnest(ARRAY['read', 'list', 'retrieve']) AS operation
WHERE label IN ('lists', 'everything')
ORDER BY label, operation;

-- Bad arguments are errors whatever the key.
SELECT ak_permits(d, 'query') FROM definitions WHERE label = 'everything';
\echo SQLSTATE :SQLSTATE
SELECT ak_permits(d, 'queries', 'some_collection') FROM definitions WHERE label = 'everything';
SELECT ak_permits(d, 'saved_queries', 'q1', 'read') FROM definitions WHERE label = 'everything';
SELECT ak_permits(d, 'datasets', 'd1', 'write') FROM definitions WHERE label = 'everything';
SELECT ak_permits(d, 'query') FROM definitions WHERE label = 'nothing';
\echo SQLSTATE :SQLSTATE
SELECT ak_permits(NULL::access_key, 'queries') IS NULL AS null_definition,
       ak_permits(d, NULL) IS NULL AS null_action
FROM definitions WHERE label = 'everything';

-- The session variant: the same rules for the presented key, false without one.
CREATE ROLE regress_ak_app;
GRANT SELECT ON definitions TO regress_ak_app;
SELECT key AS lists_token FROM ak_create_key((SELECT d FROM definitions WHERE label = 'lists')) \gset
SET ROLE regress_ak_app;
SELECT ak_permits('saved_queries') AS no_key, ak_permits('saved_queries', 'q1') AS no_key_resource,
       ak_permits('datasets', 'd1', 'read') AS no_key_operation;
SELECT ak_permits('query');
\echo SQLSTATE :SQLSTATE
BEGIN;
SELECT ak_use_key(:'lists_token') IS NOT NULL AS presenting;
SELECT ak_permits('queries') AS queries, ak_permits('saved_queries') AS saved_queries,
       ak_permits('saved_queries', 'q1') AS q1, ak_permits('saved_queries', 'q2') AS q2,
       ak_permits('saved_queries', 'q3') AS q3, ak_permits('cached_queries', 'c_any') AS c_any,
       ak_permits('datasets', 'd1', 'read') AS d1_read, ak_permits('datasets', 'd1', 'list') AS d1_list,
       ak_permits('datasets', 'd2', 'read') AS d2_read;
-- Agrees with the pure variant on every case.
SELECT count(*) AS disagreements
FROM definitions, unnest(ARRAY['saved_queries', 'cached_queries', 'datasets']) AS action,
     unnest(ARRAY['q1', 'q2', 'q3', 'c_any', 'c_secret', 'd1', 'd2', 'd3']) AS resource
WHERE label = 'lists' AND ak_permits(d, action, resource) IS DISTINCT FROM ak_permits(action, resource);
ROLLBACK;
RESET ROLE;

DELETE FROM access_key.keys;
DROP TABLE definitions;
DROP ROLE regress_ak_app;
