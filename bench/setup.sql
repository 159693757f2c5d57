-- make bench, step 1: the data, the roles, the keys and the hand-written policies (docs/benchmarks.md).
--
-- One table of 1,000,000 events protected by access_key (bench_keyed), the same rows in a table with
-- hand-written policies (bench_hand), and empty copies for the insert shapes.  Customers, event types and
-- amounts are drawn from a hash of the row number, times increase with it, as in an event log.
\set ON_ERROR_STOP on
\if :{?events}
\else
\set events 1000000
\endif
SET client_min_messages = warning;
CREATE EXTENSION access_key;

-- The owner runs the physical limit: its queries bypass row-level security.  Each hand-written policy
-- applies to its own role, so one table serves every hand-written shape.
CREATE ROLE bench_owner LOGIN;
CREATE ROLE bench_app LOGIN;
CREATE ROLE bench_hand_customer LOGIN;
CREATE ROLE bench_hand_three LOGIN;
CREATE ROLE bench_hand_or LOGIN;
CREATE ROLE bench_hand_regex LOGIN;
CREATE ROLE bench_hand_child LOGIN;
CREATE ROLE bench_hand_gin_customer LOGIN;
CREATE ROLE bench_hand_gin_three LOGIN;
CREATE ROLE bench_hand_gin_or LOGIN;
GRANT CREATE ON SCHEMA public TO bench_owner;
GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) TO bench_owner;

SET ROLE bench_owner;
CREATE TABLE bench_keyed (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO bench_keyed (properties)
SELECT jsonb_build_object(
    'customer', jsonb_build_object('id', 'cust' || c, 'name', 'Customer ' || c, 'plan', CASE WHEN c % 3 = 0 THEN 'pro' ELSE 'free' END),
    'event', jsonb_build_object('type', CASE WHEN t < 12 THEN 'pageview' WHEN t < 16 THEN 'click' WHEN t < 19 THEN 'purchase' ELSE 'signup' END,
                                'page', '/page/' || (i % 97), 'referrer', 'https://example.com/' || (i % 13)),
    'amount', (hashint4(i + 2) & 2147483647) % 500,
    'at', to_char(timestamp '2026-01-01' + make_interval(secs => i), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
FROM generate_series(1, :events) AS i,
     LATERAL (SELECT (hashint4(i) & 2147483647) % 1000 AS c, (hashint4(i + 1) & 2147483647) % 20 AS t) AS drawn;
CREATE TABLE bench_hand (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO bench_hand SELECT * FROM bench_keyed;
CREATE TABLE bench_ins_keyed (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
CREATE TABLE bench_ins_hand (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
CREATE TABLE bench_ins_hand_fill (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
CREATE TABLE bench_ins_limit (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
SELECT access_key.ak_protect('bench_keyed') \g /dev/null
SELECT access_key.ak_protect('bench_ins_keyed') \g /dev/null

ALTER TABLE bench_hand ENABLE ROW LEVEL SECURITY;
CREATE POLICY customer ON bench_hand FOR SELECT TO bench_hand_customer
    USING (properties -> 'customer' ->> 'id' = current_setting('app.customer_id'));
CREATE POLICY three ON bench_hand FOR SELECT TO bench_hand_three
    USING (properties -> 'customer' ->> 'id' = current_setting('app.customer_id')
           AND (properties ->> 'amount')::numeric >= current_setting('app.min_amount')::numeric
           AND properties -> 'event' ->> 'type' = ANY (string_to_array(current_setting('app.event_types'), ',')));
CREATE POLICY two_customers ON bench_hand FOR SELECT TO bench_hand_or
    USING (properties -> 'customer' ->> 'id' = ANY (string_to_array(current_setting('app.customer_ids'), ',')));
CREATE POLICY regex ON bench_hand FOR SELECT TO bench_hand_regex
    USING (properties -> 'customer' ->> 'name' ~ current_setting('app.name_pattern'));
CREATE POLICY child ON bench_hand FOR SELECT TO bench_hand_child
    USING (properties -> 'customer' ->> 'id' = current_setting('app.customer_id')
           AND properties -> 'event' ->> 'type' = current_setting('app.event_type'));
-- The same written for a GIN index (containment), as a user with only a GIN index would.
CREATE POLICY gin_customer ON bench_hand FOR SELECT TO bench_hand_gin_customer
    USING (properties @> jsonb_build_object('customer', jsonb_build_object('id', current_setting('app.customer_id'))));
CREATE POLICY gin_three ON bench_hand FOR SELECT TO bench_hand_gin_three
    USING (properties @> jsonb_build_object('customer', jsonb_build_object('id', current_setting('app.customer_id')))
           AND (properties ->> 'amount')::numeric >= current_setting('app.min_amount')::numeric
           AND properties -> 'event' ->> 'type' = ANY (string_to_array(current_setting('app.event_types'), ',')));
CREATE POLICY gin_two_customers ON bench_hand FOR SELECT TO bench_hand_gin_or
    USING (properties @> jsonb_build_object('customer', jsonb_build_object('id', split_part(current_setting('app.customer_ids'), ',', 1)))
           OR properties @> jsonb_build_object('customer', jsonb_build_object('id', split_part(current_setting('app.customer_ids'), ',', 2))));
ALTER TABLE bench_ins_hand ENABLE ROW LEVEL SECURITY;
CREATE POLICY customer ON bench_ins_hand FOR INSERT TO bench_hand_customer
    WITH CHECK (properties -> 'customer' ->> 'id' = current_setting('app.customer_id'));
ALTER TABLE bench_ins_hand_fill ENABLE ROW LEVEL SECURITY;
CREATE POLICY customer ON bench_ins_hand_fill FOR INSERT TO bench_hand_customer
    WITH CHECK (properties -> 'customer' ->> 'id' = current_setting('app.customer_id'));
-- Hand-written autofill, for events that do not carry the customer.
CREATE FUNCTION bench_hand_autofill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.properties := jsonb_set(NEW.properties, '{customer}',
        coalesce(NEW.properties -> 'customer', '{}') || jsonb_build_object('id', current_setting('app.customer_id')));
    RETURN NEW;
END
$$;
CREATE TRIGGER autofill BEFORE INSERT ON bench_ins_hand_fill FOR EACH ROW EXECUTE FUNCTION bench_hand_autofill();

GRANT SELECT, INSERT ON bench_keyed, bench_hand, bench_ins_keyed, bench_ins_hand, bench_ins_hand_fill TO PUBLIC;
GRANT USAGE ON SEQUENCE bench_ins_keyed_id_seq, bench_ins_hand_id_seq, bench_ins_hand_fill_id_seq TO PUBLIC;
RESET ROLE;
VACUUM ANALYZE bench_keyed;
VACUUM ANALYZE bench_hand;

-- The keys of the shapes, and one key per customer (cust0 ... cust999) for the rotating-key runs.
CREATE TABLE bench_keys (name text PRIMARY KEY, token text NOT NULL);
CREATE FUNCTION bench_key(name text, definition text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO bench_keys SELECT name, key FROM access_key.ak_create_key(definition::access_key.access_key)
$$;
SELECT bench_key('customer', '{"name": "customer", "permitted": ["queries", "writes"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "cust42"}]},
                "writes": {"autofill": {"customer": {"id": "cust42"}}}}}');
SELECT bench_key('three', '{"name": "three filters", "permitted": ["queries"], "options": {"queries": {"filters": [
    {"property_name": "customer.id", "operator": "eq", "property_value": "cust42"},
    {"property_name": "amount", "operator": "gte", "property_value": 250},
    {"property_name": "event.type", "operator": "in", "property_value": ["purchase", "signup"]}]}}}');
SELECT bench_key('or', '{"name": "two customers", "permitted": ["queries"], "options": {"queries": {"filters": [
    {"operator": "or", "operands": [{"property_name": "customer.id", "operator": "eq", "property_value": "cust42"},
                                    {"property_name": "customer.id", "operator": "eq", "property_value": "cust43"}]}]}}}');
SELECT bench_key('regex', '{"name": "regex", "permitted": ["queries"], "options": {"queries": {"filters": [
    {"property_name": "customer.name", "operator": "regex", "property_value": "^Customer 4[0-9]$"}]}}}');
-- The parent of the child key (bench/shapes.sql derives the child when ak_derive_key exists).
SELECT bench_key('parent', '{"name": "parent", "permitted": ["queries", "keys"], "options": {"queries": {"filters": [
    {"property_name": "customer.id", "operator": "eq", "property_value": "cust42"}]}}}');

CREATE TABLE bench_tokens (n int PRIMARY KEY, customer text NOT NULL, token text NOT NULL, app_token text NOT NULL);
INSERT INTO bench_tokens
SELECT n, 'cust' || n, k.key, md5('app' || n) || md5('token' || n)
FROM generate_series(0, 999) AS n,
     LATERAL access_key.ak_create_key(format('{"name": "cust%s", "permitted": ["queries"], "options": {"queries": {"filters": [
         {"property_name": "customer.id", "operator": "eq", "property_value": "cust%s"}]}}}', n, n)::access_key.access_key) AS k;
GRANT SELECT ON bench_keys, bench_tokens TO PUBLIC;

-- The hand-rolled alternative to keys: a table of token hashes read by a SECURITY DEFINER function that sets
-- the customer for the transaction.
CREATE TABLE bench_app_tokens (token_hash bytea PRIMARY KEY, customer text NOT NULL);
INSERT INTO bench_app_tokens SELECT sha256(convert_to(app_token, 'UTF8')), customer FROM bench_tokens;
ALTER TABLE bench_app_tokens OWNER TO bench_owner;
CREATE FUNCTION bench_use_token(token text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    SELECT set_config('app.customer_id',
                      (SELECT customer FROM public.bench_app_tokens WHERE token_hash = sha256(convert_to(token, 'UTF8'))),
                      true)
$$;
ALTER FUNCTION bench_use_token(text) OWNER TO bench_owner;
