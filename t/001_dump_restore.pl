
# Keys survive pg_dump/pg_restore (docs/reference.md): the key tables are extension
# configuration tables, so their rows are dumped; tokens are not, because only
# their hashes are ever stored (docs/reference.md#admin-functions).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;

my $node = new_cluster('dump_restore');

$node->safe_psql('postgres', 'CREATE DATABASE source_db');
$node->safe_psql('source_db', 'CREATE EXTENSION access_key');

# The seed example of docs/reference.md, and a minimal key.
my $seed_definition = $SEED_DEFINITION;
my $other_definition = q({"name": "Babbage Ltd", "permitted": ["queries", "writes"]});

my ($active_id, $active_token) = create_key($node, 'source_db', $seed_definition, '2999-01-01 00:00:00+00');
my ($revoked_id, $revoked_token) = create_key($node, 'source_db', $other_definition, undef);
like($active_token, qr/^ak_[0-9A-Za-z]{49}$/, 'ak_create_key returned a token for the active key');
like($revoked_token, qr/^ak_[0-9A-Za-z]{49}$/, 'ak_create_key returned a token for the other key');
isnt($active_token, $revoked_token, 'the two tokens differ');

# A child key (docs/reference.md), inserted directly since only its parent link
# matters here.  The parent is updated afterwards, so its new row version
# follows the child's in the table and in the dump: the self-referencing
# foreign key pg_dump warns about must not stop the restore.
my $child_id = $node->safe_psql('source_db', qq{
    INSERT INTO access_key.keys (definition, parent_id)
    VALUES ('{"name": "Ada child", "permitted": ["queries"]}', '$active_id') RETURNING id});

# A team admin's key (it permits "keys") and a child derived from it with
# ak_derive_key, which records the parent and the hash of the deriving token;
# a collection protected with a time column and a cached query over it (what
# the query reads is recorded).
my ($team_id, $team_token) = create_key($node, 'source_db',
	q({"name": "Team admin", "permitted": ["queries", "keys"],
	   "options": {"queries": {"collections": ["public.timed_events"], "timeframe": {"start": "2024-01-01", "end": "2025-01-01"}}}}),
	undef);
my ($derived_id, $derived_token) = split /\|/, $node->safe_psql('source_db', qq{
    BEGIN;
    SELECT set_config('access_key.key', '$team_token', true) IS NULL;
    SELECT id, key FROM access_key.ak_derive_key('{"name": "Team member", "permitted": ["queries"]}');
    COMMIT;});
$derived_id = (split /\n/, $derived_id)[-1];
$node->safe_psql('source_db', q{
    CREATE TABLE public.timed_events (at timestamptz NOT NULL, properties jsonb NOT NULL);
    INSERT INTO public.timed_events VALUES ('2023-06-01', '{}'), ('2024-06-01', '{}'), ('2024-07-01', '{}');
    SELECT access_key.ak_protect('public.timed_events', 'properties', 'at');
    CREATE ROLE dump_reader;
    GRANT SELECT ON public.timed_events TO dump_reader;
    SELECT access_key.ak_create_saved_query('timed_count', 'SELECT count(*) AS n FROM public.timed_events', '1 hour');});

# A partitioned collection with a time column: a partition made before
# ak_protect, one made after it (protected by the event trigger), one
# detached afterwards (a protected collection of its own), and a dataset over
# it with a refresh rate (computed when stored; what it reads is recorded).
$node->safe_psql('source_db', q{
    CREATE TABLE public.part_events (at timestamptz NOT NULL, properties jsonb NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE public.part_events_2024 PARTITION OF public.part_events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    SELECT access_key.ak_protect('public.part_events', 'properties', 'at');
    CREATE TABLE public.part_events_2025 PARTITION OF public.part_events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    CREATE TABLE public.part_events_2023 PARTITION OF public.part_events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
    INSERT INTO public.part_events
    SELECT d, jsonb_build_object('customer', jsonb_build_object('id', c))
    FROM unnest(ARRAY['ada', 'bob']) AS c,
         unnest(ARRAY['2023-06-01', '2024-06-01', '2025-06-01', '2025-07-01']::timestamptz[]) AS d;
    ALTER TABLE public.part_events DETACH PARTITION public.part_events_2023;
    GRANT SELECT ON public.part_events, public.part_events_2023, public.part_events_2024, public.part_events_2025
        TO dump_reader;
    SELECT access_key.ak_create_dataset('part_counts',
        'SELECT properties #>> ''{customer,id}'' AS "customer.id", count(*) AS n FROM public.part_events GROUP BY 1',
        ARRAY['customer.id'], '1 hour');});
my ($part_id, $part_token) = create_key($node, 'source_db',
	q({"name": "Ada partitions", "permitted": ["queries", "datasets"],
	   "options": {"queries": {"collections": ["public.part_events"],
	                           "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}],
	                           "timeframe": {"start": "2024-01-01", "end": "2025-07-01"}},
	               "datasets": {"allowed": {"part_counts": {"index_by": {"customer.id": ["ada"]}}}}}}),
	undef);
# What protects the tree, as the catalogs show it, and what the key reads.
my $part_protection_sql = q{
    SELECT c.relname, c.relkind, c.relrowsecurity,
           (SELECT string_agg(p.polname || ': ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                              || ' / ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), '; ' ORDER BY p.polname)
            FROM pg_policy AS p WHERE p.polrelid = c.oid),
           (SELECT string_agg(t.tgname || ' ' || t.tgenabled::text || ' ' || encode(t.tgargs, 'escape'), ', ' ORDER BY t.tgname)
            FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
    FROM pg_class AS c WHERE c.relname LIKE 'part_events%' AND c.relkind IN ('r', 'p') ORDER BY 1};
my $part_catalog_sql = q{
    SELECT string_agg(format('%s|%s|%s', collection, properties_column, timestamp_column), ', ' ORDER BY collection::text)
    FROM access_key.collections WHERE collection::text LIKE 'part_events%'
    UNION ALL
    SELECT format('%s|%s|%s|%s|%s', name, index_by, refresh_rate, reads, refreshed_at IS NOT NULL)
    FROM access_key.datasets WHERE name = 'part_counts'
    UNION ALL
    SELECT string_agg(index_values::text || rows::text, ', ' ORDER BY index_values::text)
    FROM access_key.dataset_results WHERE dataset = 'part_counts'};
my $part_read_sql = qq{
    BEGIN;
    SET LOCAL ROLE dump_reader;
    SELECT access_key.ak_use_key('$part_token') IS NOT NULL;
    SELECT tableoid::regclass, at::date FROM public.part_events ORDER BY at;
    SELECT count(*) FROM public.part_events_2025;
    SELECT access_key.ak_dataset_results('part_counts', '{"customer.id": "ada"}') -> 'result';
    SAVEPOINT s;
    SELECT count(*) FROM public.part_events_2023;
    ROLLBACK TO s;
    COMMIT;};
my $source_part_protection = $node->safe_psql('source_db', $part_protection_sql);
my $source_part_catalog = $node->safe_psql('source_db', $part_catalog_sql);
my ($part_ret, $source_part_read, $part_stderr) = $node->psql('source_db', $part_read_sql);
like($source_part_protection, qr/part_events_2025\|r\|t\|access_key_insert.*access_key_select: \(access_key\.ak_filter_row\('part_events'::regclass/,
	'the partition made after ak_protect is protected in the source database');
like($source_part_catalog, qr/part_events\|properties\|at, part_events_2023\|properties\|at\npart_counts\|\{customer\.id\}\|01:00:00\|\{part_events\}\|t/,
	'the source catalogs hold the tree, the detached partition and the dataset with what it reads');
is($source_part_read, "t\npart_events_2024|2024-06-01\npart_events_2025|2025-06-01\n1\n[{\"n\": 3, \"customer.id\": \"ada\"}]",
	'the key reads its rows of the tree in its timeframe, and its dataset values, in the source database');
like($part_stderr, qr/access key does not permit reading collection public\.part_events_2023/,
	'the detached partition is a collection the key may not read');

# An update (so updated_at differs from created_at), then the revoke.
$node->safe_psql('source_db', "SELECT pg_sleep(0.01); SELECT access_key.ak_update_key('$active_id', \$def\$$seed_definition\$def\$)");
$node->safe_psql('source_db', "SELECT access_key.ak_revoke_key('$revoked_id')");

# A key imported from Keen (docs/keen-mapping.md), rotated-out tokens, and an
# expiry change: more rows for the key tables and the audit log.
my $keen_token = '4D9A2F7C1E6B3058D4A9F2C7E1B6A3054F8D2A9C7E4B1F6D3A8C5E2B9F7A4D1C60';
my $keen_id = $node->safe_psql('source_db', qq{
    SELECT access_key.ak_import_keen_key('{"key": "$keen_token", "name": "From Keen",
        "permitted": ["queries"], "project_id": "p1", "created_date": "2019-01-01"}')});
$node->safe_psql('source_db', "SELECT access_key.ak_rotate_key('$active_id', '10 years') IS NOT NULL");
$node->safe_psql('source_db', "SELECT access_key.ak_set_key_expiry('$revoked_id', '2999-06-01 00:00:00+00')");
my $audit_sql = q(SELECT id, at, role, session_role, key_id, parent_id, operation, changes
    FROM access_key.key_audit ORDER BY id);
my $source_audit = $node->safe_psql('source_db', $audit_sql);
like($source_audit, qr/\|import\|.*\|rotate\|.*\|set_expiry\|/s, 'the source audit log has the import, rotation and expiry change');

# Everything an admin can see of the keys, and the raw rows of the key tables.
my $listing_sql = q(
    SELECT id, name, is_active, permitted, created_at, updated_at, expires_at, last_used_at, parent_id
    FROM access_key.ak_list_keys() ORDER BY id);
my $definitions_sql =
  q(SELECT id, access_key.ak_get_key(id) FROM access_key.ak_list_keys() ORDER BY id);
my $keys_table_sql = q(SELECT k::text FROM access_key.keys AS k ORDER BY id);
my $tokens_table_sql = q(
    SELECT encode(token_hash, 'hex'), key_id, created_at, valid_until
    FROM access_key.key_tokens ORDER BY token_hash);

my $source_listing = $node->safe_psql('source_db', $listing_sql);
my $source_definitions = $node->safe_psql('source_db', $definitions_sql);
my $source_keys = $node->safe_psql('source_db', $keys_table_sql);
my $source_tokens = $node->safe_psql('source_db', $tokens_table_sql);

my @listing_rows = split /\n/, $source_listing;
is(scalar @listing_rows, 7, 'the source database lists seven keys (one a child inserted directly, one derived, one imported)');
my ($child_row) = grep { /^\Q$child_id\E\|/ } @listing_rows;
like($child_row, qr/^\Q$child_id\E\|Ada child\|t\|\{queries\}\|.*\|\Q$active_id\E$/,
	'the child key is listed with its parent');
my ($revoked_row) = grep { /^\Q$revoked_id\E\|/ } @listing_rows;
like($revoked_row, qr/^\Q$revoked_id\E\|Babbage Ltd\|f\|\{writes,queries\}\|/,
	'the revoked key is listed as inactive in the source database');
my ($active_row) = grep { /^\Q$active_id\E\|/ } @listing_rows;
like($active_row,
	qr/^\Q$active_id\E\|Ada Corp dashboard\|t\|\{writes,queries,saved_queries,cached_queries,datasets,schema\}\|/,
	'the active key is listed as active in the source database');
my @token_rows = split /\n/, $source_tokens;
is(scalar @token_rows, 7, 'the source database stores seven token hashes (the directly inserted child has none; one rotated out)');

# Dump in custom format (uncompressed, so its bytes can be searched too) and
# in plain format.
my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $custom_dump = "$tempdir/source_db.dump";
my $plain_dump = "$tempdir/source_db.sql";
$node->command_ok([ 'pg_dump', '-Fc', '-Z0', '-f', $custom_dump, '-d', 'source_db' ],
	'pg_dump -Fc succeeds');
$node->command_ok([ 'pg_dump', '-Fp', '-f', $plain_dump, '-d', 'source_db' ],
	'pg_dump -Fp succeeds');

my $plain = slurp_file($plain_dump);
my $custom = slurp_file($custom_dump);

# The rows are in the dump: ids and the hashes of both tokens.
like($plain, qr/COPY access_key\.keys /, 'the plain dump has the rows of access_key.keys');
like($plain, qr/COPY access_key\.key_tokens /, 'the plain dump has the rows of access_key.key_tokens');
for my $row (@token_rows)
{
	my ($hash) = split /\|/, $row;
	like($plain, qr/\\\\x$hash/, "the plain dump holds token hash $hash");
}
like($plain, qr/\Q$active_id\E/, 'the plain dump holds the active key id');
like($plain, qr/\Q$revoked_id\E/, 'the plain dump holds the revoked key id');
my ($keys_copy) = $plain =~ /^(COPY access_key\.keys .*?^\\\.$)/ms;
ok(defined $keys_copy && index($keys_copy, "\n$child_id\t") >= 0
	  && index($keys_copy, "\n$child_id\t") < index($keys_copy, "\n$active_id\t"),
	'the dump lists the child key before its parent');

like($custom, qr/\Q$active_id\E/,
	'the custom-format dump is uncompressed, so searching it means something');

# ... but no token, nor its secret part, nor a long piece of it.
for my $case ([ 'active', $active_token ], [ 'revoked', $revoked_token ])
{
	my ($label, $token) = @$case;
	my $secret = substr($token, 3, 43);
	my $piece = substr($token, 13, 16);
	unlike($plain, qr/\Q$token\E/, "the plain dump does not contain the $label token");
	unlike($plain, qr/\Q$secret\E/, "the plain dump does not contain the $label token's secret");
	unlike($plain, qr/\Q$piece\E/, "the plain dump does not contain a 16-character piece of the $label token");
	unlike($custom, qr/\Q$secret\E/, "the custom-format dump does not contain the $label token's secret");
}

# Restore into a new database.
$node->safe_psql('postgres', 'CREATE DATABASE restored_db');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored_db', $custom_dump ],
	'pg_restore into a new database succeeds');

is($node->safe_psql('restored_db', q(SELECT e.extversion = a.default_version
	FROM pg_extension AS e JOIN pg_available_extensions AS a ON a.name = e.extname
	WHERE e.extname = 'access_key')),
	't', 'the extension is restored at its current version');
is($node->safe_psql('restored_db', $listing_sql), $source_listing,
	'ak_list_keys() in the restored database equals the source');
is($node->safe_psql('restored_db', $definitions_sql), $source_definitions,
	'the restored definitions equal the source');
is($node->safe_psql('restored_db',
	"SELECT access_key.ak_get_key('$active_id') OPERATOR(access_key.=) \$def\$$seed_definition\$def\$::access_key.access_key"),
	't', 'the restored active definition equals the one it was created with');
is($node->safe_psql('restored_db', $keys_table_sql), $source_keys,
	'the rows of access_key.keys are restored unchanged');
is($node->safe_psql('restored_db', $tokens_table_sql), $source_tokens,
	'the rows of access_key.key_tokens are restored unchanged');

# The audit log comes back unchanged, and its numbering goes on after it.
is($node->safe_psql('restored_db', $audit_sql), $source_audit, 'the audit log is restored unchanged');
my $restored_last_audit = $node->safe_psql('restored_db', 'SELECT max(id) FROM access_key.key_audit');
like($plain, qr/COPY access_key\.key_audit_log /, 'the plain dump has the rows of the audit log');
unlike($plain, qr/\Q$keen_token\E/, 'the plain dump does not contain the imported token');

# Runs SQL in the restored database; returns (exit code, stdout, stderr), with
# SQLSTATEs in the error messages.
sub psql_restored
{
	my ($sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('restored_db', $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $stdout, $stderr);
}

# Presents a token in a transaction: its key id, ak_current_key_id(), and
# whether it permits queries.
sub present
{
	my ($token) = @_;
	return psql_restored(
		"BEGIN;
		 SELECT access_key.ak_use_key('$token');
		 SELECT access_key.ak_current_key_id();
		 SELECT access_key.ak_permits('queries');
		 COMMIT;");
}

my ($ret, $stdout, $stderr) = present($active_token);
is($ret, 0, 'the active token is accepted in the restored database');
is($stdout, "$active_id\n$active_id\nt",
	'the active token resolves to the same key id, which permits queries');

($ret, $stdout, $stderr) = present($revoked_token);
isnt($ret, 0, 'the revoked token is refused in the restored database');
like($stderr, qr/ERROR:\s+28000: access key is not valid/,
	'the revoked token raises SQLSTATE 28000');
like($stderr, qr/DETAIL:\s+The key has been revoked\./, 'the detail says the key is revoked');

# The derived key works after the restore, with its parent's collections and
# timeframe (the collection's time column and policy came back), and what the
# cached query reads is restored by name.
my $timed_count = sub {
	my ($token) = @_;
	return psql_restored(
		"BEGIN;
		 SET LOCAL ROLE dump_reader;
		 SELECT access_key.ak_use_key('$token') IS NOT NULL;
		 SELECT count(*) FROM public.timed_events;
		 COMMIT;");
};
($ret, $stdout, $stderr) = $timed_count->($derived_token);
is($stdout, "t\n2", 'the derived key reads its parent\'s timeframe of the restored collection');
is($node->safe_psql('restored_db', q{
    SELECT c.timestamp_column, q.reads::text FROM access_key.collections AS c, access_key.saved_queries AS q
    WHERE c.collection = 'public.timed_events'::regclass AND q.name = 'timed_count'}),
	'at|{timed_events}', 'the time column and what the cached query reads are restored');
is($node->safe_psql('restored_db', "SELECT parent_id, parent_token_hash IS NOT NULL FROM access_key.keys WHERE id = '$derived_id'"),
	"$team_id|t", 'the derived key keeps its parent and deriving token');
$node->safe_psql('restored_db', "SELECT access_key.ak_revoke_key('$team_id')");
($ret, $stdout, $stderr) = $timed_count->($derived_token);
like($stderr, qr/ERROR:\s+28000: .*\n.*DETAIL:\s+A key it was derived from has been revoked\./,
	'revoking the parent in the restored database invalidates the derived key');

# The partitioned collection comes back protected as it was (policies naming
# its root, triggers, the detached partition registered on its own), with the
# dataset, what it reads and its stored rows; the key reads the same rows;
# a partition made after the restore is protected too.
is($node->safe_psql('restored_db', $part_protection_sql), $source_part_protection,
	'the policies and triggers of the partitioned collection are restored unchanged');
is($node->safe_psql('restored_db', $part_catalog_sql), $source_part_catalog,
	'the collections, the dataset, what it reads and its stored rows are restored unchanged');
($part_ret, my $restored_part_read, $part_stderr) = $node->psql('restored_db', $part_read_sql);
is($restored_part_read, $source_part_read, 'the key reads the same rows and dataset values after the restore');
like($part_stderr, qr/access key does not permit reading collection public\.part_events_2023/,
	'the detached partition is still a collection the key may not read');
$node->safe_psql('restored_db', q{
    CREATE TABLE public.part_events_2026 PARTITION OF public.part_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')});
like($node->safe_psql('restored_db', $part_protection_sql),
	qr/part_events_2026\|r\|t\|access_key_insert.*access_key_select: \(access_key\.ak_filter_row\('part_events'::regclass.*access_key_append_only O , access_key_autofill O properties/,
	'a partition made after the restore is protected by the restored event trigger');

# Lifecycle changes still take effect after the restore (the change triggers
# and hashes came back): unrevoke one, revoke the other.
$node->safe_psql('restored_db', "SELECT access_key.ak_unrevoke_key('$revoked_id')");
$node->safe_psql('restored_db', "SELECT access_key.ak_revoke_key('$active_id')");
($ret, $stdout, $stderr) = present($revoked_token);
is($ret, 0, 'after ak_unrevoke_key the other token works in the restored database');
is($stdout, "$revoked_id\n$revoked_id\nt", 'and resolves to its key id');
($ret, $stdout, $stderr) = present($active_token);
like($stderr, qr/ERROR:\s+28000: .*\n.*DETAIL:\s+The key has been revoked\./,
	'after ak_revoke_key the first token gets 28000 "revoked" in the restored database');

# The imported Keen key works in the restored database, and changes made
# there are audited after the restored rows.
($ret, $stdout, $stderr) = present($keen_token);
is($stdout, "$keen_id\n$keen_id\nt", 'the imported Keen token is accepted in the restored database')
  or diag($stderr);
is($node->safe_psql('restored_db', qq{
    SELECT string_agg(operation, ', ' ORDER BY id) FROM access_key.key_audit WHERE id > $restored_last_audit}),
	'revoke, unrevoke, revoke', 'the changes after the restore are audited, numbered after the restored rows');

# New keys can be created in the restored database (the extension's defaults,
# functions and triggers are intact) and the source is unaffected.
is($node->safe_psql('restored_db',
	q(SELECT count(*) FROM access_key.ak_create_key('{"name": "after restore"}'))),
	'1', 'a key can be created in the restored database');
is($node->safe_psql('source_db', $listing_sql), $source_listing,
	'the source database is unchanged');

$node->stop;
done_testing();
