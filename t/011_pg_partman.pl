
# Partitioned collections managed by pg_partman (docs/scaling.md#partitioned-collections):
# partitions pg_partman creates after ak_protect (run_maintenance attaches
# them) get the collection's policies and triggers, so reading or writing a
# partition directly is as restricted as the parent.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;

# pg_partman is a separate package (postgresql-15-partman, which
# scripts/install-deps installs); without it there is nothing to test.
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
plan skip_all => "pg_partman is not installed ($sharedir/extension/pg_partman.control missing)"
  unless -f "$sharedir/extension/pg_partman.control";

my $node = new_cluster('partman');
$node->safe_psql('postgres', q{
    CREATE SCHEMA partman;
    CREATE EXTENSION pg_partman SCHEMA partman;
    CREATE EXTENSION access_key;
    CREATE ROLE regress_ak_app LOGIN;
    CREATE TABLE public.events (at timestamptz NOT NULL, properties jsonb NOT NULL) PARTITION BY RANGE (at);
    GRANT SELECT, INSERT, UPDATE ON public.events TO regress_ak_app;
});
note 'pg_partman ' . $node->safe_psql('postgres', q(SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'));

# pg_partman 4.x: create_parent(parent, control column, 'native', interval, ...).
$node->safe_psql('postgres', q{
    SELECT partman.create_parent('public.events', 'at', 'native', 'daily',
                                 p_premake := 2, p_start_partition := (now() - interval '2 days')::date::text);
    -- New partitions get the parent's grants, and are made ahead of time
    -- whether or not recent data exists.
    UPDATE partman.part_config SET inherit_privileges = true, infinite_time_partitions = true
    WHERE parent_table = 'public.events';
    INSERT INTO public.events VALUES (now() - interval '1 day', '{"customer": {"id": "a"}}'),
                                     (now() - interval '1 day', '{"customer": {"id": "b"}}');
    SELECT access_key.ak_protect('public.events');
});

# Tables of the tree and whether each is protected: "name|rls|policies|triggers".
my $tree_sql = q{
    SELECT string_agg(format('%s|%s|%s|%s', c.relname, c.relrowsecurity,
               (SELECT string_agg(p.polname, ',' ORDER BY p.polname) FROM pg_policy AS p WHERE p.polrelid = c.oid),
               (SELECT string_agg(t.tgname, ',' ORDER BY t.tgname) FROM pg_trigger AS t
                WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)), E'\n' ORDER BY c.relname)
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.events'::regclass};
my @before = split /\n/, $node->safe_psql('postgres', $tree_sql);
cmp_ok(scalar @before, '>=', 3, 'pg_partman created partitions before ak_protect (' . scalar(@before) . ')');
is(scalar(grep { !/\|t\|access_key_insert,access_key_select\|access_key_append_only,access_key_autofill$/ } @before), 0,
	'ak_protect protected every partition pg_partman had made') or diag(join "\n", @before);

# pg_partman makes more partitions after ak_protect.
$node->safe_psql('postgres', q{
    UPDATE partman.part_config SET premake = 8 WHERE parent_table = 'public.events';
    SELECT partman.run_maintenance('public.events');
});
my @after = split /\n/, $node->safe_psql('postgres', $tree_sql);
cmp_ok(scalar @after, '>', scalar @before, 'run_maintenance created partitions after ak_protect ('
	  . scalar(@after) . ' now)');
is(scalar(grep { !/\|t\|access_key_insert,access_key_select\|access_key_append_only,access_key_autofill$/ } @after), 0,
	'every partition pg_partman made later is protected too') or diag(join "\n", @after);
is($node->safe_psql('postgres', 'SELECT count(*) FROM access_key.collections'), '1',
	'only the partitioned table is registered');

# The newest partition, read and written directly through a key.
my $newest = (sort map { (split /\|/)[0] } grep { /_p\d/ } @after)[-1];
note "newest partition $newest";
my $day = $node->safe_psql('postgres', "SELECT min(at)::date FROM (SELECT lower_bound AS at FROM (
    SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS lower_bound
    FROM pg_class AS c WHERE c.relname = '$newest') AS x) AS y");
my (undef, $token) = create_key($node, 'postgres', q({"name": "a", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"customer": {"id": "a"}}},
                "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "a"}]}}}));
$node->safe_psql('postgres', qq{
    INSERT INTO public.events VALUES ('$day 10:00', '{"customer": {"id": "b"}, "owner": true}')});
my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
    BEGIN;
    SELECT access_key.ak_use_key('$token') IS NOT NULL;
    INSERT INTO public.$newest VALUES ('$day 12:00', '{"customer": {"id": "b"}, "direct": true}');
    SELECT string_agg(properties::text, ';' ORDER BY at) FROM public.$newest;
    UPDATE public.$newest SET properties = '{}';
    COMMIT;}, extra_params => [ '-U', 'regress_ak_app' ]);
my (undef, $rows) = split /\n/, $stdout;
is($rows, '{"direct": true, "customer": {"id": "a"}}',
	'a key reading the new partition directly sees only its rows; a direct insert is autofilled');
like($stderr, qr/access keys cannot update protected collection "\Q$newest\E"/,
	'the new partition is append-only for keys');
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT count(*) FROM public.$newest",
	extra_params => [ '-U', 'regress_ak_app' ]);
is($stdout, '0', 'without a key the new partition shows no rows') or diag($stderr);

# ak_unprotect undoes it on every partition, those pg_partman made later included.
$node->safe_psql('postgres', q(SELECT access_key.ak_unprotect('public.events')));
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.events'::regclass
      AND (c.relrowsecurity OR EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = c.oid)
           OR EXISTS (SELECT FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal))}), '0',
	'ak_unprotect leaves no policy, trigger or RLS on any partition');

$node->stop;
done_testing();
