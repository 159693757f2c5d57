-- The autofill trigger attack, as a non-superuser (run by scripts/stress/run
-- on a throw-away cluster where CREATE EXTENSION access_key has run):
--
--   psql -X -f scripts/stress/autofill-attack.sql
--
-- access_key.ak_autofill_trigger() is executable by PUBLIC, and any role may
-- create a temporary table and put a trigger on it.  A role holding a key that
-- permits writes and has an autofill can name, as the "properties column", a
-- column that is not jsonb.  If the trigger takes the column's value for a
-- jsonb without checking the column's type, it reads a bytea as a jsonb
-- container (a forged header: reads past the value) and an int as a pointer
-- (SIGSEGV).  Fixed, each INSERT below ends in a clean error, and
-- valgrind reports nothing in access_key.so.

-- The administrator issues the attacker an ordinary writing key.
CREATE ROLE ak_attacker LOGIN;
SELECT key AS attacker_token FROM access_key.ak_create_key(
    '{"name": "attacker", "permitted": ["writes"],
      "options": {"writes": {"autofill": {"customer": {"id": "attacker"}}}}}') \gset

\connect - ak_attacker
SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser;

-- 1. bytea: a forged jsonb value, "an object of one member whose key is a
--    string of 200 bytes", in 12 bytes: header 0x20000001, the key's entry
--    (length 200), the value's entry (null).  Merging the autofill in copies
--    the key, 200 bytes read past the end of the value, into the row: the
--    INSERT ... RETURNING shows the backend's memory.
BEGIN;
SELECT access_key.ak_use_key(:'attacker_token') IS NOT NULL AS key_presented;
CREATE TEMP TABLE forged_bytea (p bytea);
CREATE TRIGGER forge BEFORE INSERT ON forged_bytea
    FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO forged_bytea VALUES ('\x01000020c800000000000040'::bytea)
    RETURNING octet_length(p) AS bytes_stored, p;
ROLLBACK;

-- 2. The same trigger created by a role that may execute the function (here
--    the superuser): the trigger itself must check the column's type.
\connect - postgres
BEGIN;
SELECT access_key.ak_use_key(:'attacker_token') IS NOT NULL AS key_presented;
CREATE TEMP TABLE forged_by_admin (p bytea);
CREATE TRIGGER forge BEFORE INSERT ON forged_by_admin
    FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO forged_by_admin VALUES ('\x01000020c800000000000040'::bytea)
    RETURNING octet_length(p) AS bytes_stored;
ROLLBACK;
\connect - ak_attacker

-- 3. int: the value itself is taken for a pointer (last: it kills the backend).
BEGIN;
SELECT access_key.ak_use_key(:'attacker_token') IS NOT NULL AS key_presented;
CREATE TEMP TABLE forged_int (p int);
CREATE TRIGGER forge BEFORE INSERT ON forged_int
    FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO forged_int VALUES (42) RETURNING p;
ROLLBACK;

SELECT 'the attack ended without a crash' AS outcome;
