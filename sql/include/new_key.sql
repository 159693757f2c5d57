-- pg_temp.new_key(definition): creates a key as the current (admin) role and
-- returns its token.
CREATE FUNCTION pg_temp.new_key(definition text) RETURNS text LANGUAGE sql AS
    'SELECT key FROM access_key.ak_create_key(definition::access_key.access_key)';
