
# Cached results that refresh themselves (docs/operations.md): cached queries
# and datasets are computed when stored, and pg_cron runs ak_refresh_due()
# through the job ak_schedule_refresh() creates.  The pg_cron setup is read
# from docs/operations.md and run as written there: the postgresql.conf lines
# and the SQL blocks marked "t/004_pg_cron.pl: ...".
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;

# pg_cron is a separate package (postgresql-15-cron, which scripts/install-deps
# installs); without it there is nothing to test.
my $sharedir = `pg_config --sharedir`;
my $pkglibdir = `pg_config --pkglibdir`;
chomp($sharedir, $pkglibdir);
plan skip_all => "pg_cron is not installed ($sharedir/extension/pg_cron.control or $pkglibdir/pg_cron.so missing)"
  unless -f "$sharedir/extension/pg_cron.control" && -f "$pkglibdir/pg_cron.so";

# The block of docs/operations.md after the marker "<!-- t/004_pg_cron.pl: $label".
sub doc_block
{
	my ($label) = @_;
	my $doc = slurp_file('docs/operations.md');
	$doc =~ /<!-- t\/004_pg_cron\.pl: \Q$label\E[^\n]*-->\s*```\w*\n(.*?)^\s*```/ms
	  or die "docs/operations.md has no block marked \"t/004_pg_cron.pl: $label\"";
	return $1 =~ s/^ {3}//mgr;
}

my $node = new_cluster('pg_cron');
$node->safe_psql('postgres', q{
    CREATE EXTENSION access_key;
    CREATE ROLE analytics_admin LOGIN;
    CREATE ROLE regress_ak_app LOGIN;
    GRANT CREATE ON SCHEMA public TO analytics_admin;
    GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name),
        access_key.ak_create_saved_query(text, text, interval),
        access_key.ak_create_dataset(text, text, text[], interval) TO analytics_admin;
    CREATE DATABASE otherdb;
});
$node->safe_psql('otherdb', 'CREATE EXTENSION access_key');

# Runs SQL as a role; returns (exit code, stdout, stderr), with SQLSTATEs in
# error messages.
sub psql_as
{
	my ($role, $sql, $db) = @_;
	return $node->psql($db // 'postgres', $sql,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1' ]);
}

# Before pg_cron is loaded: 0A000, and a hint naming every step.
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT access_key.ak_schedule_refresh()',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/ERROR:\s+0A000: pg_cron is not installed/, 'without pg_cron: 0A000');
like($stderr, qr/HINT:.*postgresql-\d+-cron.*shared_preload_libraries = 'pg_cron'.*cron\.database_name = 'postgres'.*restart.*CREATE EXTENSION pg_cron.*GRANT USAGE ON SCHEMA cron/,
	'the hint says how to install and preload pg_cron');

# Step 2 and 3 of docs/operations.md.  The test cluster listens on a Unix
# socket only: pg_cron's connections must use its directory.
my $conf = doc_block('postgresql.conf');
like($conf, qr/shared_preload_libraries = 'pg_cron'/, 'the documented postgresql.conf lines preload pg_cron');
$node->append_conf('postgresql.conf', $conf . "cron.host = '@{[ $node->host ]}'\n");
$node->restart;

($ret, $stdout, $stderr) = psql_as('analytics_admin', 'SELECT access_key.ak_schedule_refresh()');
like($stderr, qr/ERROR:\s+42501: permission denied for function ak_schedule_refresh/,
	'before the documented grants the admin may not schedule');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT access_key.ak_schedule_refresh()',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/ERROR:\s+0A000: extension "pg_cron" is not installed in database "postgres".*HINT:.*CREATE EXTENSION pg_cron/s,
	'pg_cron loaded but not created: 0A000 with a hint');
($ret, $stdout, $stderr) = $node->psql('otherdb', 'SELECT access_key.ak_schedule_refresh()',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/ERROR:\s+0A000: pg_cron runs its jobs from database "postgres", not "otherdb".*HINT:.*cron\.schedule_in_database\('access_key refresh otherdb'/s,
	'another database than cron.database_name: 0A000 with the schedule_in_database call');

# Step 4, as a superuser.
my $superuser_sql = doc_block('as a superuser');
like($superuser_sql, qr/CREATE EXTENSION pg_cron/, 'the documented superuser step creates pg_cron');
$node->safe_psql('postgres', $superuser_sql);
my $cron_version = $node->safe_psql('postgres', q(SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'));
note "pg_cron extension version $cron_version";

($ret, $stdout, $stderr) = psql_as('analytics_admin', q{
    CREATE TABLE public.events (properties jsonb NOT NULL);
    INSERT INTO public.events
    SELECT jsonb_build_object('customer', jsonb_build_object('id', c), 'n', i)
    FROM (VALUES ('a', 4), ('b', 2)) AS t(c, n), generate_series(1, t.n) AS i;
    SELECT access_key.ak_protect('public.events');
    GRANT SELECT ON public.events TO regress_ak_app;
    SELECT access_key.ak_create_saved_query('events_per_customer',
        'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS events
         FROM public.events GROUP BY 1 ORDER BY 1', '1 second');
    SELECT access_key.ak_create_dataset('events_by_customer',
        'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS events FROM public.events GROUP BY 1',
        ARRAY['customer'], '1 second');
});
is($ret, 0, 'the admin creates, protects and fills the events and stores a cached query and a dataset')
  or diag($stderr);

my (undef, $token) = create_key($node, 'postgres', q({"name": "dashboard", "permitted": ["cached_queries", "datasets"],
    "options": {"cached_queries": {"allowed": ["events_per_customer"]}}}));

# Reads the cached query and dataset through the key, as the application
# role: (exit code, cached result, its refreshed_at, dataset result for b, stderr).
sub read_with_key
{
	my ($ret, $stdout, $stderr) = psql_as('regress_ak_app', qq{
        BEGIN;
        SELECT access_key.ak_use_key('$token') IS NOT NULL;
        SELECT r -> 'result', r ->> 'refreshed_at', access_key.ak_dataset_results('events_by_customer', '{"customer": "b"}') -> 'result'
        FROM access_key.ak_saved_query_result('events_per_customer') AS r;
        COMMIT;});
	my (undef, $row) = split /\n/, $stdout, 2;
	my ($result, $refreshed_at, $dataset) = split /\|/, ($row // '');
	return ($ret, $result, $refreshed_at, $dataset, $stderr);
}

# Computed when stored: the key reads results before any cron run.
my ($result, $first_refresh, $dataset);
($ret, $result, $first_refresh, $dataset, $stderr) = read_with_key();
is($ret, 0, 'the key reads the cached query and dataset before any cron run') or diag($stderr);
is($result, '[{"events": 4, "customer": "a"}, {"events": 2, "customer": "b"}]', 'the result computed when stored');
is($dataset, '[{"events": 2, "customer": "b"}]', 'the dataset rows computed when stored');

# Step 5, as the admin.
my $admin_sql = doc_block('as the admin');
like($admin_sql, qr/ak_schedule_refresh/, 'the documented admin step schedules the refresh');
($ret, my $job_id, $stderr) = psql_as('analytics_admin', $admin_sql);
is($ret, 0, 'the admin schedules the refresh as documented') or diag($stderr);
is($node->safe_psql('postgres', "SELECT jobname, schedule, username, database, command FROM cron.job WHERE jobid = $job_id"),
	'access_key refresh postgres|* * * * *|analytics_admin|postgres|SELECT access_key.ak_refresh_due()',
	'one job per database, run as the admin, runs ak_refresh_due()');

# Scheduling again replaces the job.
($ret, $stdout, $stderr) = psql_as('analytics_admin', q(SELECT access_key.ak_schedule_refresh('*/2 * * * *')));
is($stdout, $job_id, 'scheduling again keeps the job id') or diag($stderr);
is($node->safe_psql('postgres', 'SELECT count(*), min(schedule) FROM cron.job'), '1|*/2 * * * *',
	'scheduling again replaces the schedule of the one job');
psql_as('analytics_admin', q(SELECT access_key.ak_schedule_refresh()));

# New events appear in the results after a cron run.
$node->safe_psql('postgres', q{
    INSERT INTO public.events
    SELECT jsonb_build_object('customer', jsonb_build_object('id', c), 'n', i)
    FROM (VALUES ('b', 3), ('c', 5)) AS t(c, n), generate_series(1, t.n) AS i});
ok($node->poll_query_until('postgres', qq{
    SELECT (SELECT refreshed_at > '$first_refresh' FROM access_key.saved_queries WHERE name = 'events_per_customer')
       AND (SELECT refreshed_at > '$first_refresh' FROM access_key.datasets WHERE name = 'events_by_customer')}),
	'a pg_cron run refreshes the cached query and the dataset')
  or diag(scalar $node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM cron.job_run_details WHERE status NOT IN ('succeeded', 'failed')");

($ret, $result, my $second_refresh, $dataset, $stderr) = read_with_key();
is($ret, 0, 'the key reads the refreshed results') or diag($stderr);
is($result,
	'[{"events": 4, "customer": "a"}, {"events": 5, "customer": "b"}, {"events": 5, "customer": "c"}]',
	'the refreshed cached query counts the new events');
is($dataset, '[{"events": 5, "customer": "b"}]', 'the refreshed dataset counts the new events');

my ($succeeded, $failed, $as_admin) = split /\|/, $node->safe_psql('postgres', qq{
    SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'),
           count(*) FILTER (WHERE status = 'succeeded' AND username = 'analytics_admin')
    FROM cron.job_run_details WHERE jobid = $job_id});
cmp_ok($succeeded, '>=', 1, 'cron.job_run_details shows a succeeded run');
is($failed, 0, 'no run failed');
is($as_admin, $succeeded, 'every run ran as the admin');

# Unscheduling removes the job; a second time there is none.
($ret, $stdout, $stderr) = psql_as('analytics_admin', 'SELECT access_key.ak_unschedule_refresh()');
is($stdout, 't', 'ak_unschedule_refresh removes the job') or diag($stderr);
($ret, $stdout, $stderr) = psql_as('analytics_admin', 'SELECT access_key.ak_unschedule_refresh()');
is($stdout, 'f', 'a second ak_unschedule_refresh finds none') or diag($stderr);
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '0', 'no job is left scheduled');

# A role that may not run ak_refresh_due may not schedule it.
$node->safe_psql('postgres', q{
    CREATE ROLE regress_ak_scheduler LOGIN;
    GRANT USAGE ON SCHEMA cron TO regress_ak_scheduler;
    GRANT EXECUTE ON FUNCTION access_key.ak_schedule_refresh(text) TO regress_ak_scheduler;});
($ret, $stdout, $stderr) = psql_as('regress_ak_scheduler', 'SELECT access_key.ak_schedule_refresh()');
like($stderr, qr/ERROR:\s+42501: permission denied to schedule the refresh/,
	'scheduling a job that could not run ak_refresh_due is refused');

$node->stop;
done_testing();
