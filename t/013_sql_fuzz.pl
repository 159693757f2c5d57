
# SQL-level fuzzing of every access_key function a non-superuser may call.
#
# The functions are not listed here: they are read from pg_proc (members of
# extension access_key that a fresh role may EXECUTE, through PUBLIC), so a
# function added later is fuzzed too.  Each is called, as that role, many
# times with random arguments: values of the declared types (NULLs, empty and
# huge strings, deep JSON, Unicode, odd numerics, random definitions, real,
# damaged and random tokens), and values of other types, passed bare (an
# implicit cast, or a clean "function does not exist") or through a cast
# (unknown-typed literals, varchar and name for text, json for jsonb, jsonb
# for access_key, integers for regclass, ...).  Calls run in several shapes:
# positional and named arguments, fewer arguments (defaults), results cast to
# text (output functions), repeated within one query, over the rows of a
# protected collection, with and without a key presented.  Trigger functions
# are fuzzed the way a role can reach them: a trigger with random arguments
# on a temporary table with random column types, then INSERT, UPDATE, DELETE
# and TRUNCATE.  access_key_recv is reached through \copy in binary format.
#
# Every call must end in success or a clean SQL error; a crashed backend
# fails the test, with the statement that crashed it.  The seed is fixed
# (AK_SQL_FUZZ_SEED overrides it) and printed; AK_SQL_FUZZ_CALLS sets how
# many calls are made.  `make stress` runs it with the server under valgrind.
use strict;
use warnings;
use utf8;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);

if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = "$1/test/regress/pg_regress" if $pgxs =~ m{^(.*)/makefiles/pgxs\.mk$};
}

# Statements hold Unicode: diag() them as UTF-8 bytes (the test's output
# handles are tied by PostgreSQL::Test::Utils, so binmode cannot be used).
sub utf8_diag
{
	my $s = join '', @_;
	utf8::encode($s) if utf8::is_utf8($s);
	diag($s);
}

my $seed = $ENV{AK_SQL_FUZZ_SEED} // 20251128;
my $n_calls = $ENV{AK_SQL_FUZZ_CALLS} // 10000;
srand($seed);
diag("random seed $seed (set AK_SQL_FUZZ_SEED to another value to explore further); "
	  . "$n_calls calls (AK_SQL_FUZZ_CALLS)");

###########################################################################
# Random helpers
###########################################################################

sub rint { return int(rand($_[0])); }
sub pick { return $_[ rint(scalar @_) ]; }
sub chance { return rand() < $_[0]; }

# An SQL string literal (standard_conforming_strings is on).
sub lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

my @ascii = map { chr } 0x20 .. 0x7e;
my @odd_chars = ((map { chr } 0xe9, 0xdf, 0x3a9, 0x4e2d, 0x1f600, 0x200d, 0xfeff, 0x2028, 0xfffd,
		0xffff, 0x10ffff, 0x7f, 0x1, 0x1f), "\t", "\n", "\r", '\\', '"', "'", '.', '$', '%', '{', '}');

sub rand_text
{
	my ($min, $max) = @_;
	my $len = $min + rint($max - $min + 1);
	return join '', map { chance(0.15) ? pick(@odd_chars) : pick(@ascii) } 1 .. $len;
}

my @actions = qw(writes queries saved_queries cached_queries datasets schema keys);
my @bad_actions = ('', 'Queries', 'query', 'write', 'admin', 'keys ', 'écrire', 'saved_queries;');
my @operations = qw(read list retrieve);
my @operators = qw(eq ne lt lte gt gte exists in contains not_contains regex within);

###########################################################################
# JSON values and definitions
###########################################################################

my $json = JSON::PP->new->allow_nonref->canonical(0);

sub rand_number
{
	return pick(0, -1, 1, 2147483647, -2147483648, 9007199254740993, 1.5, -0.0001,
		'1e308', '-1e308', '1e-320', '12345678901234567890.123456789', '0.1e1', '1E+2')
	  if chance(0.5);
	return rint(2000001) - 1000000;
}

# A Perl structure for JSON::PP; numbers given as text go in raw below.
sub rand_json
{
	my ($depth) = @_;
	my $r = rint(12);
	if ($depth > 0 && $r < 3)
	{
		return [ map { rand_json($depth - 1) } 1 .. rint(5) ];
	}
	if ($depth > 0 && $r < 6)
	{
		my %o;
		$o{ pick('customer', 'id', 'page', 'amount', 'customer.id', '', rand_text(0, 10)) } = rand_json($depth - 1)
		  for 1 .. rint(5);
		return \%o;
	}
	return rand_text(0, 20) if $r < 8;
	return 0 + rand_number() if $r < 10;
	return pick(JSON::PP::true, JSON::PP::false, undef);
}

sub json_text
{
	my $r = rint(20);
	return '{}' if $r == 0;
	return '[]' if $r == 1;
	return pick('null', 'true', '"x"', '0', '-0', '1e1000', '-1e-1000', '"\u0000"', '"\ud800"',
		'{"a": 1, "a": 2}', '[1, 2', '{"customer": {"id": "acme"}}', '', ' ', 'NaN', '"é😀"',
		'{"customer": {"id": ["acme"]}}', '{"customer": "acme"}', '{"coordinates": [200, 100]}')
	  if $r <= 4;
	if ($r == 5)
	{
		my $n = pick(10, 100, 1000, 5000);
		return pick('[' x $n . ']' x $n, '{"a":' x $n . '1' . '}' x $n, '[' x $n);
	}
	if ($r == 6)
	{
		# An event shaped like the protected collection's rows.
		return $json->encode({ customer => { id => pick('acme', 'globex', 'initech', rand_text(0, 5)),
					plan => pick('pro', 'free') }, page => '/p/' . rint(7), amount => 0 + rand_number() });
	}
	return $json->encode(rand_json(1 + rint(4)));
}

sub rand_path
{
	return pick('customer.id', 'customer.plan', 'page', 'amount', 'customer', 'a.b.c', '',
		'.', 'customer..id', '$.customer', 'x' x 300, rand_text(1, 20));
}

sub property_value
{
	my ($op) = @_;
	return $json->encode(rand_json(2)) if $op eq 'eq' || $op eq 'ne';
	return pick(rand_number(), '"2024-01-01T00:00:00Z"', '"b"') if $op =~ /^[lg]te?$/;
	return pick('true', 'false') if $op eq 'exists';
	return '[' . join(',', map { $json->encode(rand_json(1)) } 1 .. rint(5)) . ']' if $op eq 'in';
	return pick('"a"', '1', 'true') if $op =~ /contains/;
	return $json->encode(pick('^acme$', 'a|b', '[0-9]+', '(a+)+$', '\\d', '[[:alpha:]]')) if $op eq 'regex';
	return sprintf('{"coordinates": [%s, %s], "max_distance_miles": %s}',
		pick(0, 180, -180, 12.5, 181), pick(0, 90, -90, 45.5, 91), pick(0, 1, 500.5, -1));
}

sub rand_filter
{
	my ($depth) = @_;
	if ($depth < 4 && chance(0.15))
	{
		return sprintf('{"operator": "or", "operands": [%s]}',
			join(',', map { rand_filter($depth + 1) } 1 .. 1 + rint(3)));
	}
	my $op = pick(@operators);
	return sprintf('{"property_name": %s, "operator": "%s", "property_value": %s}',
		$json->encode(rand_path()), $op, property_value($op));
}

sub names_list
{
	return '[' . join(',', map { $json->encode(pick('per_customer', 'totals', 'pages', 'revenue',
					'daily', 'x', rand_text(1, 8))) } 1 .. rint(4)) . ']';
}

# A definition built from the rules (mostly valid), sometimes damaged.
sub rand_definition
{
	my @members = ('"name": ' . $json->encode(pick('fuzz', rand_text(1, 30))));
	push @members, '"is_active": ' . pick('true', 'false') if chance(0.3);
	my %seen;
	my @permitted = grep { !$seen{$_}++ } map { pick(@actions) } 1 .. rint(6);
	push @members, '"permitted": [' . join(',', map { "\"$_\"" } @permitted) . ']';
	my @sections;
	push @sections, '"writes": {"autofill": ' . pick('{"customer": {"id": "acme"}}', '{}',
		$json->encode({ rand_text(1, 6) => rand_json(2), customer => { id => rand_text(0, 6) } })) . '}'
	  if chance(0.4);
	push @sections, '"queries": {"filters": [' . join(',', map { rand_filter(1) } 1 .. rint(4)) . ']}'
	  if chance(0.6);
	push @sections, '"saved_queries": {"allowed": ' . names_list() . ', "blocked": ' . names_list()
	  . ', "filters": [' . join(',', map { rand_filter(1) } 1 .. rint(2)) . ']}'
	  if chance(0.3);
	push @sections, '"cached_queries": {"allowed": ' . names_list() . '}' if chance(0.2);
	push @sections, '"datasets": {"operations": ["' . join('","', grep { chance(0.6) } @operations)
	  . '"], "allowed": {"revenue": {"index_by": {"customer.id": ["acme"]}}, "daily": {}}, "blocked": '
	  . names_list() . '}'
	  if chance(0.3);
	push @sections, '"schema": {}' if chance(0.1);
	push @members, '"options": {' . join(',', @sections) . '}' if @sections || chance(0.3);
	my $d = '{' . join(', ', @members) . '}';
	if (chance(0.15))
	{
		# Damage it: drop, duplicate or replace a slice, or append junk.
		my $at = rint(length $d);
		my $r = rint(4);
		substr($d, $at, rint(10), '') if $r == 0;
		substr($d, $at, 0, substr($d, rint(length $d), rint(20))) if $r == 1;
		substr($d, $at, 1, pick('"', '{', ']', ',', '\\', 'é', ' ')) if $r == 2;
		$d .= pick(',', '}', ' ', 'null') if $r == 3;
	}
	return $d;
}

###########################################################################
# The server and what the fuzzed role works with
###########################################################################

my $node = PostgreSQL::Test::Cluster->new('sql_fuzz');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', "log_statement = none\nmax_stack_depth = '2MB'\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION access_key;
-- The fuzzed role: fresh, no grants; its functions are read from pg_proc now.
CREATE ROLE ak_fuzzer LOGIN;
CREATE TABLE fuzz_functions AS
SELECT p.oid::regprocedure::text AS signature, p.proname::text AS name,
       p.pronargs AS nargs, p.pronargdefaults AS ndefaults, p.proretset AS retset,
       format_type(p.prorettype, NULL) AS rettype,
       (SELECT string_agg(format_type(t, NULL), '|' ORDER BY i)
        FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(t, i)) AS argtypes,
       (SELECT string_agg(coalesce(n, ''), '|' ORDER BY i)
        FROM unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY AS u(n, m, i)
        WHERE n IS NOT NULL AND coalesce(m, 'i') IN ('i', 'b', 'v')) AS argnames
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'access_key'
WHERE has_function_privilege('ak_fuzzer', p.oid, 'EXECUTE')
ORDER BY 1;
});

my @functions;
for my $line (split /\n/, $node->safe_psql('postgres',
	q{SELECT signature, name, nargs, ndefaults, retset, rettype, coalesce(argtypes, ''), coalesce(argnames, '')
      FROM fuzz_functions}))
{
	# The signature holds no "|"; the type and name lists use it as separator.
	my @f = split /\|/, $line, -1;
	my ($sig, $name, $nargs, $ndefaults, $retset, $rettype) = splice(@f, 0, 6);
	@f = ('') if !@f;
	my @types = $nargs > 0 ? @f[ 0 .. $nargs - 1 ] : ();
	my @names = $nargs > 0 && @f >= 2 * $nargs ? @f[ $nargs .. 2 * $nargs - 1 ] : ();
	push @functions, { sig => $sig, name => $name, nargs => $nargs, ndefaults => $ndefaults,
		retset => $retset eq 't', rettype => $rettype, types => \@types,
		names => (scalar @names == $nargs ? \@names : []) };
}
note(scalar(@functions) . " functions of access_key are executable by PUBLIC:\n"
	  . join("\n", map { "  $_->{sig} -> $_->{rettype}" } @functions));
ok(scalar(grep { $_->{name} eq 'ak_use_key' } @functions), 'ak_use_key is among the functions a fresh role may call');
ok(!scalar(grep { $_->{name} eq 'ak_create_key' } @functions), 'ak_create_key is not');

# Collections, saved queries, datasets and keys, set up by the administrator.
$node->safe_psql('postgres', q{
CREATE ROLE ak_owner;
GRANT CREATE ON SCHEMA public TO ak_owner;
-- By name, whatever their signatures are in this version.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc AS p
             WHERE p.pronamespace = 'access_key'::regnamespace
               AND p.proname IN ('ak_protect', 'ak_create_saved_query', 'ak_refresh_cached_queries',
                                 'ak_create_dataset', 'ak_refresh_dataset') LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ak_owner', f);
    END LOOP;
END
$$;
SET ROLE ak_owner;
CREATE TABLE public.events (id bigserial PRIMARY KEY, properties jsonb NOT NULL DEFAULT '{}');
INSERT INTO public.events (properties)
SELECT jsonb_build_object('customer', jsonb_build_object('id', (ARRAY['acme', 'globex', 'initech'])[1 + i % 3],
                                                         'plan', CASE WHEN i % 2 = 0 THEN 'pro' ELSE 'free' END),
                          'page', '/p/' || (i % 7), 'amount', i, 'at', '2024-01-' || lpad((1 + i % 28)::text, 2, '0'),
                          'coordinates', jsonb_build_array(i % 180, i % 90))
FROM generate_series(1, 300) AS i;
CREATE INDEX events_properties_idx ON public.events USING gin (properties jsonb_path_ops);
SELECT access_key.ak_protect('public.events');
CREATE TABLE public.logs (payload jsonb, note text);
INSERT INTO public.logs VALUES ('{"customer": {"id": "acme"}, "level": "info"}', 'a'), ('[1, 2]', 'b'), ('7', 'c'), (NULL, 'd');
SELECT access_key.ak_protect('public.logs', 'payload');
CREATE TABLE public.purchases (customer_id text, amount numeric);
INSERT INTO public.purchases VALUES ('acme', 10), ('acme', 5), ('globex', 3);
SELECT access_key.ak_create_saved_query('per_customer',
    'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS events FROM public.events GROUP BY 1 ORDER BY 1');
SELECT access_key.ak_create_saved_query('pages', 'SELECT properties ->> ''page'' AS page FROM public.events LIMIT 5');
SELECT access_key.ak_create_saved_query('totals', 'SELECT count(*) AS total FROM public.events', '1 hour');
SELECT access_key.ak_refresh_cached_queries();
SELECT access_key.ak_create_dataset('revenue',
    'SELECT customer_id AS "customer.id", sum(amount) AS revenue FROM public.purchases GROUP BY 1', ARRAY['customer.id']);
SELECT access_key.ak_create_dataset('daily', 'SELECT customer_id AS c, amount FROM public.purchases', ARRAY['c']);
SELECT access_key.ak_refresh_dataset('revenue');
SELECT access_key.ak_refresh_dataset('daily');
GRANT SELECT, INSERT ON public.events, public.logs TO ak_fuzzer;
GRANT USAGE ON SEQUENCE public.events_id_seq TO ak_fuzzer;
RESET ROLE;

CREATE SCHEMA fuzz;
GRANT USAGE ON SCHEMA fuzz TO ak_fuzzer;
-- Runs statements as the caller; 'ok', or the SQLSTATE of the error.
CREATE FUNCTION fuzz.try(VARIADIC statements text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY statements LOOP
        EXECUTE s;
    END LOOP;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
});

my @fixed_definitions = (
	'{"name": "writer", "permitted": ["writes", "queries"], "options": {"writes": {"autofill": {"customer": {"id": "acme", "name": "Acme"}}}, "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "acme"}]}}}',
	'{"name": "writer without autofill", "permitted": ["writes"]}',
	'{"name": "filters", "permitted": ["queries", "saved_queries", "schema"], "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "in", "property_value": ["acme", "globex"]}, {"operator": "or", "operands": [{"property_name": "amount", "operator": "gt", "property_value": 10}, {"property_name": "page", "operator": "regex", "property_value": "^/p/[0-3]"}]}, {"property_name": "coordinates", "operator": "within", "property_value": {"coordinates": [10, 10], "max_distance_miles": 5000}}]}}}',
	'{"name": "saved", "permitted": ["saved_queries", "cached_queries"], "options": {"saved_queries": {"allowed": ["per_customer", "pages"], "blocked": ["totals"], "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "globex"}]}, "cached_queries": {"allowed": ["totals"]}}}',
	'{"name": "datasets", "permitted": ["datasets"], "options": {"datasets": {"operations": ["read", "list", "retrieve"], "allowed": {"revenue": {"index_by": {"customer.id": ["acme"]}}, "daily": {}}}}}',
	'{"name": "everything", "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema", "keys"]}',
	'{"name": "inactive", "is_active": false, "permitted": ["queries", "writes"], "options": {"writes": {"autofill": {"x": 1}}}}',
	'{"name": "nothing"}',
	'{"name": "revoked", "permitted": ["queries"]}',
	'{"name": "deleted", "permitted": ["queries"]}');
my @definitions = @fixed_definitions;
push @definitions, rand_definition() for 1 .. 12;

my (@tokens, @key_ids, @valid_definitions);
for my $d (@definitions)
{
	my ($ret, $out) = $node->psql('postgres',
		'SELECT id || \'|\' || key FROM access_key.ak_create_key(' . lit($d) . ')');
	next if $ret != 0;
	my ($id, $token) = split /\|/, $out;
	push @key_ids, $id;
	push @tokens, $token;
	push @valid_definitions, $d;
	if ($d =~ /"name": "revoked"/) { $node->safe_psql('postgres', "SELECT access_key.ak_revoke_key('$id')"); }
	if ($d =~ /"name": "deleted"/) { $node->safe_psql('postgres', "SELECT access_key.ak_delete_key('$id')"); }
}
note(scalar(@tokens) . ' keys created (' . (scalar(@definitions) - scalar(@tokens)) . ' random definitions were invalid)');
ok(scalar(@tokens) >= scalar(@fixed_definitions), 'the fixed keys are created');
my $writer_token = $tokens[0];

sub rand_token
{
	my $r = rint(10);
	return pick(@tokens) if $r < 5;
	my $t = pick(@tokens);
	if ($r == 5) { substr($t, rint(length $t), 1, pick('0', 'a', 'Z', '_', 'é')); return $t; }
	return substr($t, 0, rint(length $t)) if $r == 6;
	return $t . pick('', ' ', "\n", 'x', $t) if $r == 7;
	return pick('', ' ', 'ak_', 'null', 'x' x 100000, rand_text(0, 60), "\x{1f600}" x 10);
}

###########################################################################
# Values
###########################################################################

# An SQL expression of concrete type $type (a name format_type prints).
sub typed_value
{
	my ($type, $hint) = @_;
	$hint //= '';
	return 'NULL::' . $type if chance(0.05);
	if ($type eq 'text' || $type eq 'cstring' || $type eq 'name' || $type eq 'character varying'
		|| $type eq 'character')
	{
		my $cast = $type eq 'character' ? 'char(' . (1 + rint(10)) . ')' : $type;
		# Huge strings are built by the server.
		return "repeat(" . lit(pick('x', 'é', '😀', '.', 'customer.')) . ', ' . pick(1000, 100000, 1000000) . ")::$cast"
		  if chance(0.03) && $type ne 'cstring';
		return lit(text_value($hint)) . "::$cast";
	}
	return lit(json_text()) . '::jsonb' if $type eq 'jsonb' && chance(0.7);
	return pick("jsonb_build_object('customer', jsonb_build_object('id', 'acme'))",
		"repeat('[', 3000)::text || repeat(']', 3000)", "to_jsonb(" . lit(rand_text(0, 20)) . '::text)',
		"(SELECT properties FROM public.events ORDER BY id LIMIT 1 OFFSET " . rint(300) . ')',
		"jsonb_build_object(" . lit(rand_text(0, 10)) . ", repeat('x', 100000))",
		"('{\"a\": ' || repeat('[', 200) || repeat(']', 200) || '}')")
	  . '::jsonb'
	  if $type eq 'jsonb';
	return lit(json_text()) . '::json' if $type eq 'json';
	return lit(chance(0.8) ? pick(@valid_definitions) : rand_definition()) . '::access_key.access_key'
	  if $type eq 'access_key.access_key';
	return pick(map({ lit($_) . '::uuid' } @key_ids), 'gen_random_uuid()', lit('00000000-0000-0000-0000-000000000000') . '::uuid')
	  if $type eq 'uuid';
	return pick('true', 'false') if $type eq 'boolean';
	return pick(0, 1, -1, 2147483647, -2147483647, 7, 1000) . '::integer' if $type eq 'integer';
	return pick('0', '9223372036854775807', '-9223372036854775808', '42') . '::bigint' if $type eq 'bigint';
	return pick("'NaN'", "'Infinity'", "'-Infinity'", '1e1000', '-0.0', '0.000000000000000000001', '42')
	  . '::numeric' if $type eq 'numeric';
	return pick("'NaN'", "'Infinity'", '1e308', '-0', '2.5') . '::double precision'
	  if $type eq 'double precision';
	return pick(lit('events'), lit('public.events'), lit('public.logs'), lit('pg_class'), lit('access_key.keys'),
		lit('fuzz_temp'), '0', '1259', '4294967295', lit('"EVENTS"'), lit('no_such_table'), lit('pg_temp.x'))
	  . '::regclass' if $type eq 'regclass';
	return pick('0', '1259', '4294967295') . '::oid' if $type eq 'oid';
	return pick(lit('1 hour'), lit('0 seconds'), lit('-5 years'), lit('178000000 years'), lit('1 microsecond'))
	  . '::interval' if $type eq 'interval';
	return pick('now()', lit('infinity') . '::timestamptz', lit('-infinity') . '::timestamptz',
		lit('2000-01-01') . '::timestamptz') if $type eq 'timestamp with time zone';
	return 'ARRAY[' . join(',', map { lit(text_value('')) } 1 .. rint(4)) . ']::text[]' if $type eq 'text[]';
	return lit('\\x' . join('', map { sprintf('%02x', rint(256)) } 1 .. rint(40))) . '::bytea'
	  if $type eq 'bytea';
	return lit(pick('a', 'z', '')) . '::"char"' if $type eq '"char"';
	return 'ROW(1, ' . lit(rand_text(0, 5)) . ')' if $type eq 'record';
	return 'NULL::' . $type;    # internal, trigger and other types without values
}

# Text, shaped by the parameter's name.
sub text_value
{
	my ($hint) = @_;
	return rand_token() if $hint =~ /^key$/ && chance(0.8);
	return pick(@actions, @bad_actions) if $hint eq 'action' && chance(0.8);
	return pick(@operations, 'READ', 'write', '') if $hint eq 'operation' && chance(0.8);
	return pick('per_customer', 'pages', 'totals', 'revenue', 'daily', 'my_sensitive_query', 'x' x 300, '')
	  if ($hint eq 'name' || $hint eq 'resource') && chance(0.7);
	return pick('queries', 'saved_queries', 'cached_queries', 'writes', 'Queries', '')
	  if $hint eq 'context' && chance(0.8);
	return rand_path() if ($hint eq 'path' || $hint eq 'property_name') && chance(0.8);
	return pick(@definitions) if chance(0.05);
	return json_text() if chance(0.1);
	my $r = rint(10);
	return '' if $r == 0;
	return rand_text(0, 5) if $r < 4;
	return rand_text(5, 200) if $r < 8;
	return pick('ak_create_key', 'access_key.key', "'; DROP TABLE public.events; --", '%s%n', '\\x00',
		join('', map { chr(0x80 + rint(0x7ff)) } 1 .. 50)) if $r == 8;
	return rand_text(1000, 20000);
}

# Types that an argument of declared type $type may be given instead; each
# is tried bare (implicit casts apply, or a clean "function does not exist")
# or cast explicitly.
my @other_types = ('text', 'character varying', 'name', 'character', 'integer', 'bigint', 'numeric',
	'double precision', 'boolean', 'jsonb', 'json', 'bytea', 'uuid', 'regclass', 'oid', 'text[]',
	'access_key.access_key', 'interval', 'timestamp with time zone', '"char"', 'cstring', 'record');

sub arg_value
{
	my ($type, $hint) = @_;
	my $r = rand();
	return 'NULL' if $r < 0.05;
	if ($r < 0.22)
	{
		# An unknown-typed literal: the declared type's input function reads it.
		my $text = $type eq 'access_key.access_key' ? (chance(0.7) ? pick(@valid_definitions) : rand_definition())
		  : $type =~ /json/ ? json_text()
		  : $type eq 'regclass' ? pick('events', 'public.logs', 'pg_class', 'nope', '', '1259')
		  : $type eq 'boolean' ? pick('t', 'yes', 'off', 'maybe', '')
		  : text_value($hint);
		return lit($text);
	}
	if ($r < 0.85 || $type eq 'internal')
	{
		return typed_value($type, $hint);
	}
	# Another type: bare (implicit cast, or an error) or cast explicitly (or
	# through text, an I/O conversion).
	my $other = pick(@other_types);
	my $v = typed_value($other, $hint);
	my $s = rint(4);
	return $v if $s == 0;
	return "CAST($v AS $type)" if $s == 1;
	return "($v)::text::$type" if $s == 2 && $type ne 'cstring';
	return "(($v)::text)";
}

###########################################################################
# Statements
###########################################################################

my %called;

sub call_expr
{
	my ($f) = @_;
	my $n = $f->{nargs};
	my $k = $n;
	if ($f->{ndefaults} > 0 && chance(0.4)) { $k = $n - rint($f->{ndefaults} + 1); }
	elsif (chance(0.03)) { $k = $n + pick(-1, 1); $k = 0 if $k < 0; }
	my @args;
	my $named = @{ $f->{names} } && chance(0.15);
	for my $i (0 .. $k - 1)
	{
		my $type = $f->{types}[$i] // pick(@other_types);
		my $hint = $f->{names}[$i] // '';
		my $v = arg_value($type, $hint);
		push @args, ($named && $hint ne '') ? "$hint => $v" : $v;
	}
	@args = reverse @args if $named && chance(0.5);
	return "access_key.$f->{name}(" . join(', ', @args) . ')';
}

# One fuzzed call of $f, as an SQL statement for fuzz.try.
sub call_statement
{
	my ($f) = @_;
	$called{ $f->{sig} }++;
	my $e = call_expr($f);
	if ($f->{retset})
	{
		return pick("SELECT * FROM $e", "SELECT count(*) FROM $e", "SELECT $e LIMIT 3");
	}
	my $r = rint(10);
	return "SELECT ($e)::text" if $r < 3 && $f->{rettype} ne 'internal' && $f->{rettype} ne 'cstring';
	return "SELECT count(*) FROM generate_series(1, " . (2 + rint(30)) . ") WHERE $e IS NOT NULL" if $r == 3;
	if ($r == 4 && grep { $_ eq 'jsonb' } @{ $f->{types} })
	{
		# Over the rows of a protected collection (row-level security applies).
		my @args = map { $_ eq 'jsonb' && chance(0.8) ? 'properties' : arg_value($_, '') } @{ $f->{types} };
		return "SELECT count(*) FROM public.events WHERE access_key.$f->{name}(" . join(', ', @args)
		  . ") IS NOT NULL" . (chance(0.5) ? " AND properties @> '{\"customer\": {\"id\": \"acme\"}}'" : '');
	}
	if ($r == 5 && $f->{name} =~ /^access_key_(eq|ne)$/)
	{
		my $op = $1 eq 'eq' ? '=' : '<>';
		return 'SELECT ' . arg_value('access_key.access_key', '') . " OPERATOR(access_key.$op) "
		  . arg_value('access_key.access_key', '');
	}
	return "SELECT $e";
}

my @column_types = ('jsonb', 'json', 'bytea', 'integer', 'bigint', 'text', 'access_key.access_key', 'jsonb[]',
	'numeric', 'boolean', 'uuid', 'name', 'character varying(3)', 'double precision');

sub column_value
{
	my ($type) = @_;
	return 'NULL' if chance(0.15);
	return 'DEFAULT' if chance(0.05);
	if ($type eq 'bytea' && chance(0.5))
	{
		# Bytes that look like a jsonb container: an object or array header
		# with a count, then some entries.
		my $header = pick(0x20000000, 0x40000000, 0x10000000) | rint(pick(3, 100, 0x0fffffff));
		my $hex = join '', map { sprintf('%02x', $_) } unpack('C*', pack('V', $header));
		$hex .= join '', map { sprintf('%02x', rint(256)) } 1 .. rint(24);
		return lit("\\x$hex") . '::bytea';
	}
	return lit(json_text()) . '::jsonb' if $type eq 'jsonb[]' && 0;
	return 'ARRAY[' . lit(json_text()) . '::jsonb]' if $type eq 'jsonb[]';
	return 'left(' . lit(rand_text(0, 10)) . ', 3)' if $type =~ /^character varying/;
	return typed_value($type, '');
}

# A temporary table with a trigger calling $f with random arguments, and
# statements that fire it: the way a role without any grant reaches a
# trigger function.
my $temp_serial = 0;
sub trigger_statements
{
	my ($f) = @_;
	$called{ $f->{sig} }++;
	my $t = 'fuzz_temp_' . ++$temp_serial;
	my @cols = map { [ pick('p', 'properties', 'payload', "c$_", 'P', 'ünï', 'x y'), pick(@column_types) ] } 1 .. 1 + rint(3);
	my %seen;
	@cols = grep { !$seen{ $_->[0] }++ } @cols;
	my @targs = map {
		lit(chance(0.6) ? pick(map { $_->[0] } @cols)
			: pick('properties', 'nope', '', 'ctid', 'xmin', 'tableoid', 'x' x 100, rand_text(0, 8)))
	} 1 .. pick(1, 1, 1, 0, 2);
	my $when = pick('BEFORE', 'BEFORE', 'AFTER');
	my $events = pick('INSERT', 'INSERT', 'INSERT', 'INSERT', 'UPDATE', 'DELETE', 'INSERT OR UPDATE OR DELETE', 'TRUNCATE');
	my $level = ($events eq 'TRUNCATE' || chance(0.15)) ? 'STATEMENT' : 'ROW';
	my @s;
	push @s, "SELECT set_config('access_key.key', " . lit(chance(0.75) ? $writer_token : rand_token()) . ', true)'
	  if chance(0.8);
	push @s, "CREATE TEMP TABLE $t (" . join(', ', map { "\"$_->[0]\" $_->[1]" } @cols) . ')';
	push @s, "CREATE TRIGGER fuzz $when $events ON $t FOR EACH $level EXECUTE FUNCTION access_key.$f->{name}("
	  . join(', ', @targs) . ')';
	for (1 .. 1 + rint(3))
	{
		my $r = rint(6);
		if ($r < 3)
		{
			my @rows = map { '(' . join(', ', map { column_value($_->[1]) } @cols) . ')' } 1 .. 1 + rint(3);
			push @s, "INSERT INTO $t VALUES " . join(', ', @rows) . (chance(0.5) ? ' RETURNING *' : '');
		}
		elsif ($r == 3) { push @s, "UPDATE $t SET \"$cols[0][0]\" = \"$cols[0][0]\""; }
		elsif ($r == 4) { push @s, "DELETE FROM $t"; }
		else { push @s, "TRUNCATE $t"; }
	}
	push @s, "SELECT * FROM $t";
	push @s, "DROP TABLE $t";
	return @s;
}

# Statements that change what the session presents or touch the collections.
sub session_statements
{
	my $r = rint(10);
	return 'SELECT access_key.ak_use_key(' . lit(rand_token()) . ', ' . pick('false', 'true') . ')' if $r < 3;
	return 'SET access_key.key = ' . lit(rand_token()) if $r == 3;
	return 'RESET access_key.key' if $r == 4;
	return 'SET access_key.schema_sample_rows = ' . pick(1, 2, 1000, 10000000, 0, -1) if $r == 5;
	return 'SET access_key.context = ' . pick(lit('saved_queries'), lit('queries'), lit('nope')) if $r == 6;
	return 'INSERT INTO public.' . pick('events (properties)', 'logs (payload)') . ' VALUES (' . lit(json_text()) . ')'
	  if $r == 7;
	return 'SELECT count(*) FROM public.events WHERE properties @> ' . lit(json_text()) . '::jsonb' if $r == 8;
	return 'SELECT count(*), sum(length(payload::text)) FROM public.logs';
}

###########################################################################
# Running
###########################################################################

my @callable = grep { $_->{rettype} ne 'trigger' } @functions;
my @triggers = grep { $_->{rettype} eq 'trigger' } @functions;
my (%outcomes, %states_by_function, %examples, @crashes, @uncaught, $calls_made);
my $started = time();

sub dollar_quote
{
	my ($s) = @_;
	my $tag = 'f';
	$tag .= pick('a' .. 'z') while index($s, "\$$tag\$") >= 0;
	return "\$$tag\$$s\$$tag\$";
}

sub server_alive
{
	my ($ret) = $node->psql('postgres', 'SELECT 1');
	return $ret == 0;
}

# After a crash the postmaster shuts down (restart_after_crash is off in TAP
# clusters), slowly under valgrind: wait for it to go, then start it again.
sub recover_server
{
	my $pidfile = $node->data_dir . '/postmaster.pid';
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		return if server_alive();
		last if !-e $pidfile;
		Time::HiRes::sleep(0.1);
	}
	$node->_update_pid(0);
	$node->start;
}

# Runs a script as ak_fuzzer, from a file: psql stops reading when the server
# crashes, and a script on its standard input would then break the pipe.
my $tempdir = PostgreSQL::Test::Utils::tempdir;
sub psql_script
{
	my ($script) = @_;
	my $file = "$tempdir/batch.sql";
	open my $fh, '>:raw', $file or die $!;
	utf8::encode($script);
	print $fh $script;
	close $fh;
	return $node->psql('postgres', '', on_error_stop => 0, extra_params => [ '-U', 'ak_fuzzer', '-f', $file ]);
}

# Runs [label, [statements]] items as ak_fuzzer, one psql session per batch.
sub run_batch
{
	my (@items) = @_;
	while (@items)
	{
		my $script = '';
		for my $i (0 .. $#items)
		{
			$script .= "SELECT $i, fuzz.try(" . join(', ', map { dollar_quote($_) } @{ $items[$i][1] }) . ");\n";
		}
		my ($ret, $out, $err) = psql_script($script);
		utf8::decode($out);
		utf8::decode($err);
		my %done;
		for my $line (split /\n/, $out)
		{
			next unless $line =~ /^(\d+)\|(\w+)$/;
			$done{$1} = $2;
		}
		my $crashed = $err =~ /server closed the connection unexpectedly|connection to server was lost|terminating connection because of crash/;
		my $first_missing;
		for my $i (0 .. $#items)
		{
			my $label = $items[$i][0];
			if (defined $done{$i})
			{
				$calls_made++;
				$outcomes{ $done{$i} }++;
				$states_by_function{$label}{ $done{$i} }++;
				push @{ $examples{ $done{$i} } }, join('; ', @{ $items[$i][1] })
				  if ($examples{ $done{$i} } // [])->@* < 5 && $done{$i} ne 'ok';
				next;
			}
			$first_missing //= $i;
			last if $crashed;
			# Not caught by fuzz.try (query_canceled, assert_failure) but the
			# session lived on.
			$calls_made++;
			push @uncaught, "$label: " . join('; ', @{ $items[$i][1] });
		}
		last unless $crashed;
		my $culprit = $items[$first_missing // 0];
		push @crashes, "$culprit->[0]: " . join(";\n    ", @{ $culprit->[1] });
		utf8_diag("the server crashed on ($culprit->[0]):\n    " . join(";\n    ", @{ $culprit->[1] })
			  . "\npsql said: $err");
		$calls_made++;
		recover_server();
		splice(@items, 0, ($first_missing // 0) + 1);
	}
}

my $batch_size = 100;
my @batch;
for my $n (1 .. $n_calls)
{
	my $r = rand();
	if ($r < 0.08)
	{
		push @batch, [ 'session', [ session_statements() ] ];
	}
	elsif ($r < 0.16 && @triggers)
	{
		my $f = pick(@triggers);
		push @batch, [ $f->{sig}, [ trigger_statements($f) ] ];
	}
	else
	{
		my $f = pick(@callable);
		my @pre = chance(0.4)
		  ? ("SELECT set_config('access_key.key', " . lit(chance(0.85) ? pick(@tokens) : rand_token()) . ', true)')
		  : ();
		push @batch, [ $f->{sig}, [ @pre, call_statement($f) ] ];
	}
	if (@batch >= $batch_size || $n == $n_calls)
	{
		run_batch(@batch);
		@batch = ();
		note(sprintf('%d calls made, %.0f s', $n, time() - $started)) if $n % 1000 == 0;
	}
}

# access_key_recv, through binary COPY from the client: a format byte, then
# definition text, random JSON or random bytes.
my $recv_calls = $ENV{AK_SQL_FUZZ_RECV} // 150;
my $copy_script = "CREATE TEMP TABLE fuzz_binary (v access_key.access_key);\n";
for my $i (1 .. $recv_calls)
{
	my $payload;
	my $r = rint(10);
	if ($r < 5) { $payload = pick(@valid_definitions, rand_definition()); utf8::encode($payload); }
	elsif ($r < 7) { $payload = json_text(); utf8::encode($payload); }
	elsif ($r < 9) { $payload = join '', map { chr(rint(256)) } 1 .. rint(64); }
	else { $payload = ''; }
	my $version = chance(0.85) ? 1 : pick(0, 2, 255);
	my $field = $r == 9 && chance(0.5) ? '' : chr($version) . $payload;
	my $file = "$tempdir/recv_$i.bin";
	open my $fh, '>:raw', $file or die $!;
	print $fh "PGCOPY\n\377\r\n\0", pack('N', 0), pack('N', 0), pack('n', 1), pack('N', length $field), $field,
	  pack('n', 0xffff);
	close $fh;
	$copy_script .= "\\copy fuzz_binary from '$file' with (format binary)\n";
}
$copy_script .= "SELECT 'accepted', count(*), sum(length(v::text)) FROM fuzz_binary;\n";
{
	my ($ret, $out, $err) = psql_script($copy_script);
	my $crashed = $err =~ /server closed the connection unexpectedly|connection to server was lost/;
	my ($accepted) = $out =~ /^accepted\|(\d+)\|/m;
	my $rejected = () = $err =~ /ERROR:/g;
	$calls_made += $recv_calls;
	$outcomes{ok} += $accepted // 0;
	$outcomes{'binary COPY rejected'} += $rejected;
	$called{'access_key.access_key_recv(internal)'} += $recv_calls;
	note("binary COPY: $recv_calls payloads, " . ($accepted // '?') . " accepted, $rejected rejected");
	if ($crashed)
	{
		push @crashes, "binary COPY into access_key (access_key_recv): $err";
		diag("the server crashed during binary COPY: $err");
		recover_server();
	}
}

my $elapsed = time() - $started;
my $errors = 0;
$errors += $outcomes{$_} for grep { $_ ne 'ok' } keys %outcomes;
diag(sprintf('SQL fuzz: %d calls to %d functions in %.0f s (seed %d): %d succeeded, %d clean errors, '
		  . '%d not caught by an exception block, %d crashed the server',
		$calls_made, scalar(keys %called), $elapsed, $seed, $outcomes{ok} // 0, $errors, scalar @uncaught,
		scalar @crashes));
note('outcomes: ' . join(', ', map { "$_ $outcomes{$_}" } sort keys %outcomes));
note("per function:\n" . join("\n", map {
	my $s = $states_by_function{$_};
	"  $_: " . join(', ', map { "$_ $s->{$_}" } sort keys %$s)
} sort keys %states_by_function));

is(scalar @crashes, 0, 'no call crashes the server') or utf8_diag("crashes:\n" . join("\n", @crashes));
my @not_called = grep { !$called{ $_->{sig} } } @functions;
is(scalar @not_called, 0, 'every function a non-superuser may call was called')
  or diag('not called: ' . join(', ', map { $_->{sig} } @not_called));
ok($calls_made >= $n_calls, "$calls_made calls were made");
is(scalar @uncaught, 0, 'every error is one an exception block catches')
  or utf8_diag(join "\n", @uncaught[ 0 .. ($#uncaught < 9 ? $#uncaught : 9) ]);
# XX000 is what elog(ERROR) raises: an error that the code did not expect.
is($outcomes{XX000} // 0, 0, 'no internal error (XX000)')
  or utf8_diag('functions that raised XX000: ' . join(', ', grep { $states_by_function{$_}{XX000} } sort keys %states_by_function)
	  . "\nfor example:\n" . join("\n", map { substr($_, 0, 600) } @{ $examples{XX000} }));

ok(server_alive(), 'the server is alive');
my $log = slurp_file($node->logfile);
my @signals = grep { /terminated by signal|was terminated by exception/ } split /\n/, $log;
is(scalar @signals, 0, 'no backend was terminated by a signal') or diag(join "\n", @signals);
my @traps = grep { /TRAP:|PANIC:/ } split /\n/, $log;
is(scalar @traps, 0, 'no assertion failure or PANIC in the server log') or diag(join "\n", @traps);

$node->stop('immediate');
done_testing();
