-- Datasets (docs/reference.md#datasets), as non-superuser roles.
SET search_path = access_key, public;
CREATE ROLE regress_ak_owner;
CREATE ROLE regress_ak_app;
GRANT CREATE ON SCHEMA public TO regress_ak_owner;
GRANT EXECUTE ON FUNCTION ak_create_dataset(text, text, text[]), ak_refresh_dataset(text),
    ak_delete_dataset(text) TO regress_ak_owner;

SET ROLE regress_ak_owner;
CREATE TABLE public.purchases (customer_id text, region text, amount numeric, at date);
INSERT INTO public.purchases VALUES
    ('acme', 'eu', 10, '2026-11-01'), ('acme', 'eu', 5, '2026-11-02'), ('acme', 'us', 7, '2026-11-02'),
    ('globex', 'eu', 3, '2026-11-01'), ('globex', 'us', 8, '2026-11-03'), ('initech', 'us', 1, '2026-11-03');

-- The query must return a column named after each index_by property.
SELECT ak_create_dataset('revenue_by_customer',
    'SELECT customer_id AS "customer.id", region AS "region", sum(amount) AS revenue
     FROM purchases GROUP BY 1, 2 ORDER BY 1, 2', ARRAY['customer.id', 'region']);
SELECT ak_create_dataset('daily_by_customer',
    'SELECT customer_id AS "customer.id", at AS day, sum(amount) AS revenue FROM purchases GROUP BY 1, 2',
    ARRAY['customer.id']);
SELECT ak_create_dataset('my_sensitive_dataset', 'SELECT customer_id AS c, amount FROM purchases', ARRAY['c']);
SELECT ak_create_dataset('revenue_by_customer', 'SELECT 1 AS c', ARRAY['c']);
SELECT ak_create_dataset('x', 'SELECT customer_id FROM purchases', ARRAY['customer.id']);
SELECT ak_create_dataset('x', 'SELECT customer_id AS c FROM purchases', ARRAY[]::text[]);
SELECT ak_create_dataset('x', 'SELECT customer_id AS c FROM purchases', ARRAY['c', 'c']);
SELECT ak_create_dataset('x', 'SELECT customer_id AS "a..b" FROM purchases', ARRAY['a..b']);
SELECT ak_create_dataset('x', 'UPDATE purchases SET amount = 0', ARRAY['c']);
SELECT ak_create_dataset('bad name', 'SELECT 1 AS c', ARRAY['c']);
SELECT ak_create_dataset('x', 'SELECT 1 AS c', NULL);

-- Retrieval never re-runs the query: results are stored per index value.
SELECT ak_refresh_dataset('revenue_by_customer') AS index_values_stored;
SELECT ak_refresh_dataset('daily_by_customer') AS index_values_stored;
SELECT ak_refresh_dataset('no_such_dataset');
RESET ROLE;
SELECT dataset, index_values, jsonb_array_length(rows) AS rows
FROM access_key.dataset_results ORDER BY 1, 2::text;

CREATE FUNCTION pg_temp.new_key(definition text) RETURNS text LANGUAGE sql AS
    'SELECT key FROM access_key.ak_create_key(definition::access_key.access_key)';
-- acme's key: only its own index values, on two datasets, without "list".
SELECT pg_temp.new_key('{"name": "acme", "permitted": ["datasets"],
    "options": {"datasets": {"operations": ["read", "retrieve"],
        "allowed": {"revenue_by_customer": {"index_by": {"customer.id": ["acme"]}},
                    "daily_by_customer": {"index_by": {"customer.id": ["acme"]}}}}}}') AS k_acme \gset
-- A partner: any dataset but the sensitive one, any index value, every operation.
SELECT pg_temp.new_key('{"name": "partner", "permitted": ["datasets"],
    "options": {"datasets": {"blocked": ["my_sensitive_dataset"]}}}') AS k_partner \gset
-- Listed both allowed and blocked: blocked wins.
SELECT pg_temp.new_key('{"name": "both", "permitted": ["datasets"],
    "options": {"datasets": {"allowed": {"my_sensitive_dataset": {}}, "blocked": ["my_sensitive_dataset"]}}}') AS k_both \gset
SELECT pg_temp.new_key('{"name": "no datasets", "permitted": ["queries"]}') AS k_none \gset
-- A restriction on a property the dataset is not indexed by (a typo) fails closed.
SELECT pg_temp.new_key('{"name": "typo", "permitted": ["datasets"],
    "options": {"datasets": {"allowed": {"daily_by_customer": {"index_by": {"customer_id": ["acme"]}}}}}}') AS k_typo \gset

SET ROLE regress_ak_app;
CREATE FUNCTION pg_temp.try(token text, call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result jsonb;
BEGIN
    PERFORM access_key.ak_use_key(token);
    EXECUTE 'SELECT ' || call INTO result;
    RETURN (result - 'refreshed_at')::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT k.label, c.call, pg_temp.try(k.token, c.call) AS outcome
FROM (VALUES ('acme', :'k_acme'), ('partner', :'k_partner'), ('both', :'k_both'), ('none', :'k_none')) AS k(label, token),
     (VALUES ($$ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "eu"}')$$),
             ($$ak_dataset_results('revenue_by_customer', '{"customer.id": "globex", "region": "eu"}')$$),
             ($$ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "mars"}')$$),
             ($$ak_dataset_results('revenue_by_customer', '{"customer.id": "acme"}')$$),
             ($$ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "eu", "extra": 1}')$$),
             ($$ak_dataset_results('revenue_by_customer', '["acme"]')$$),
             ($$ak_dataset_results('daily_by_customer', '{"customer.id": "acme"}')$$),
             ($$ak_dataset_results('my_sensitive_dataset', '{"c": "acme"}')$$),
             ($$ak_dataset_results('no_such_dataset', '{}')$$),
             ($$ak_dataset_definition('revenue_by_customer') - 'query'$$)
     ) AS c(call)
ORDER BY k.label, c.call;

BEGIN; SELECT ak_use_key(:'k_typo') IS NOT NULL;
SELECT ak_dataset_results('daily_by_customer', '{"customer.id": "globex"}');
ROLLBACK;

-- Listing needs the "list" operation.
BEGIN; SELECT ak_use_key(:'k_acme') IS NOT NULL; SELECT * FROM ak_list_datasets(); ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_partner') IS NOT NULL; SELECT * FROM ak_list_datasets(); ROLLBACK;
SELECT count(*) AS listed_without_key FROM ak_list_datasets();
SELECT ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "eu"}');
-- Numbers compare as JSON numbers, strings as strings.
BEGIN; SELECT ak_use_key(:'k_partner') IS NOT NULL;
SELECT ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "us"}') -> 'result' AS acme_us;
ROLLBACK;
RESET ROLE;

-- An admin reads everything without a key; before the first refresh is an error.
SET ROLE regress_ak_owner;
SELECT * FROM ak_list_datasets();
SELECT ak_dataset_definition('daily_by_customer') - 'refreshed_at';
SELECT ak_dataset_results('my_sensitive_dataset', '{"c": "acme"}') -> 'result' AS computed_when_created;
-- A refresh replaces the stored rows as a whole.
INSERT INTO public.purchases VALUES ('acme', 'eu', 100, '2026-11-04');
SELECT ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "eu"}') -> 'result' AS before_refresh;
SELECT ak_refresh_dataset('revenue_by_customer');
SELECT ak_dataset_results('revenue_by_customer', '{"customer.id": "acme", "region": "eu"}') -> 'result' AS after_refresh;
-- Deleting a dataset deletes its rows.
SELECT ak_delete_dataset('daily_by_customer');
SELECT ak_delete_dataset('daily_by_customer');
SELECT 'daily_by_customer' IN (SELECT * FROM ak_list_datasets()) AS still_listed;
RESET ROLE;
SELECT count(*) AS stored_rows_of_deleted FROM access_key.dataset_results WHERE dataset = 'daily_by_customer';

-- Plain roles have no admin functions; keys cannot use them either.
SET ROLE regress_ak_app;
SELECT ak_refresh_dataset('revenue_by_customer');
RESET ROLE;
SET ROLE regress_ak_owner;
BEGIN; SELECT ak_use_key(:'k_partner') IS NOT NULL; SELECT ak_refresh_dataset('revenue_by_customer'); ROLLBACK;
RESET ROLE;

-- Clean up.
DROP TABLE public.purchases;
DELETE FROM access_key.datasets;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ak_owner;
DROP OWNED BY regress_ak_owner, regress_ak_app;
DROP ROLE regress_ak_owner, regress_ak_app;
