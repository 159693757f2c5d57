
# Cached queries refreshed by pg_cron (docs/reference.md#saved-and-cached-queries): an admin role schedules
# access_key.ak_refresh_cached_queries() with pg_cron, and a key holding the
# cached_queries permission reads, as a non-superuser, the results each cron
# run stored.
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

my $node = PostgreSQL::Test::Cluster->new('pg_cron');
$node->init;
# The cluster listens on a Unix socket only: pg_cron's libpq connections for
# the jobs must use that socket directory (initdb -A trust allows them).
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.host = '@{[ $node->host ]}'
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE EXTENSION access_key');
my $cron_version = $node->safe_psql('postgres',
	q(SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'));
note "pg_cron extension version $cron_version";

# The admin owns the events and holds only the admin functions it needs;
# the application role is neither superuser nor owner, so RLS applies to it.
$node->safe_psql('postgres', q{
    CREATE ROLE regress_ak_admin LOGIN;
    CREATE ROLE regress_ak_app LOGIN;
    GRANT CREATE ON SCHEMA public TO regress_ak_admin;
    GRANT USAGE ON SCHEMA cron TO regress_ak_admin;
    GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name),
        access_key.ak_create_saved_query(text, text, interval),
        access_key.ak_refresh_cached_queries() TO regress_ak_admin;
});

# Runs SQL as a role; returns (exit code, stdout, stderr), with SQLSTATEs in
# error messages.
sub psql_as
{
	my ($role, $sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $stdout, $stderr);
}

my ($ret, $stdout, $stderr) = psql_as('regress_ak_admin', q{
    CREATE TABLE public.events (properties jsonb NOT NULL);
    INSERT INTO public.events
    SELECT jsonb_build_object('customer', jsonb_build_object('id', c), 'n', i)
    FROM (VALUES ('a', 4), ('b', 2)) AS t(c, n), generate_series(1, t.n) AS i;
    SELECT access_key.ak_protect('public.events');
    GRANT SELECT ON public.events TO regress_ak_app;
    SELECT access_key.ak_create_saved_query('events_per_customer',
        'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS events
         FROM public.events GROUP BY 1 ORDER BY 1', '1 second');
});
is($ret, 0, 'the admin role creates, protects and fills the events table and stores a cached query')
  or diag($stderr);

my ($key_id, $token) = split /\|/, $node->safe_psql('postgres', q{
    SELECT id, key FROM access_key.ak_create_key('{"name": "dashboard", "permitted": ["cached_queries"],
        "options": {"cached_queries": {"allowed": ["events_per_customer"]}}}')});
like($token, qr/^ak_[0-9A-Za-z]+$/, 'a key with the cached_queries permission is created');

# Reads the cached query through the key, as the application role: returns
# (exit code, result as JSON text, refreshed_at, stderr).
sub read_with_key
{
	my ($ret, $stdout, $stderr) = psql_as('regress_ak_app', qq{
        BEGIN;
        SELECT access_key.ak_use_key('$token') IS NOT NULL;
        SELECT r -> 'result', r ->> 'refreshed_at'
        FROM access_key.ak_saved_query_result('events_per_customer') AS r;
        COMMIT;});
	my (undef, $row) = split /\n/, $stdout, 2;
	my ($result, $refreshed_at) = split /\|/, ($row // '');
	return ($ret, $result, $refreshed_at, $stderr);
}

# Before any cron run there is nothing to read.
my ($result, $refreshed_at);
($ret, $result, $refreshed_at, $stderr) = read_with_key();
like($stderr, qr/cached query "events_per_customer" has not been computed yet/,
	'before the first cron run the key is told the cached query is not computed yet');

# Schedules the refresh as the admin: pg_cron runs a job as the role that
# scheduled it.  Second-granularity schedules need pg_cron 1.5; with an
# older one the job runs at the start of every minute.
my ($major, $minor) = $cron_version =~ /^(\d+)\.(\d+)/;
my $schedule = ($major > 1 || ($major == 1 && $minor >= 5)) ? '1 seconds' : '* * * * *';
note "scheduling with '$schedule'";
($ret, $stdout, $stderr) = psql_as('regress_ak_admin',
	"SELECT cron.schedule('refresh-cached-queries', '$schedule', 'SELECT access_key.ak_refresh_cached_queries()')");
is($ret, 0, 'the admin role schedules ak_refresh_cached_queries() with pg_cron') or diag($stderr);
my $job_id = $stdout;
is($node->safe_psql('postgres', "SELECT username, database, command FROM cron.job WHERE jobid = $job_id"),
	'regress_ak_admin|postgres|SELECT access_key.ak_refresh_cached_queries()',
	'the job runs as the admin role in the postgres database');

# Waits (within the default TAP timeout) until a cron run has stored a
# result newer than $after, and pg_cron has recorded how that run ended.
sub wait_for_refresh
{
	my ($after) = @_;
	my $condition = defined $after
	  ? "refreshed_at > '$after'::timestamptz"
	  : 'refreshed_at IS NOT NULL';
	my $refreshed = $node->poll_query_until('postgres',
		"SELECT $condition FROM access_key.saved_queries WHERE name = 'events_per_customer'");
	# The job commits the refresh before pg_cron records the run's end.
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM cron.job_run_details WHERE status NOT IN ('succeeded', 'failed')")
	  if $refreshed;
	return $refreshed;
}

ok(wait_for_refresh(undef), 'a pg_cron run refreshes the cached query')
  or diag(scalar $node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));

($ret, $result, my $first_refresh, $stderr) = read_with_key();
is($ret, 0, 'the key reads the cached query as a non-superuser role') or diag($stderr);
is($result, '[{"events": 4, "customer": "a"}, {"events": 2, "customer": "b"}]',
	'the key gets the counts the cron run computed');
# pg_cron stamps a run's start_time only once it has sent the command, so the
# job's transaction may start (and stamp refreshed_at) a little earlier.
is($node->safe_psql('postgres', qq{
    SELECT count(*) FROM cron.job_run_details AS d, access_key.saved_queries AS s
    WHERE d.jobid = $job_id AND d.status = 'succeeded' AND s.name = 'events_per_customer'
      AND s.refreshed_at = '$first_refresh'::timestamptz
      AND s.refreshed_at BETWEEN d.start_time - interval '1 second' AND d.end_time}),
	'1', 'the refreshed_at the key sees is the time of a succeeded cron run');

# Without the key the application role reads nothing.
($ret, $stdout, $stderr) = psql_as('regress_ak_app',
	q(SELECT access_key.ak_saved_query_result('events_per_customer')));
like($stderr, qr/ERROR:\s+42501: permission denied for saved query "events_per_customer"/,
	'without a key the application role cannot read the cached query');

# New events appear in the result only after the next cron run.
($ret, $stdout, $stderr) = psql_as('regress_ak_admin', q{
    INSERT INTO public.events
    SELECT jsonb_build_object('customer', jsonb_build_object('id', c), 'n', i)
    FROM (VALUES ('b', 3), ('c', 5)) AS t(c, n), generate_series(1, t.n) AS i});
is($ret, 0, 'the admin role inserts more events') or diag($stderr);

ok(wait_for_refresh($first_refresh), 'a later pg_cron run refreshes the cached query again');

($ret, $result, my $second_refresh, $stderr) = read_with_key();
is($ret, 0, 'the key reads the refreshed cached query') or diag($stderr);
is($result,
	'[{"events": 4, "customer": "a"}, {"events": 5, "customer": "b"}, {"events": 5, "customer": "c"}]',
	'the refreshed result counts the new events');
is($node->safe_psql('postgres', "SELECT '$second_refresh'::timestamptz > '$first_refresh'::timestamptz"),
	't', 'refreshed_at advanced');

# pg_cron recorded the runs as succeeded, as the admin role, and none failed.
# (A run still in progress is 'running'; those are not counted either way.)
my $runs = $node->safe_psql('postgres', qq{
    SELECT count(*) FILTER (WHERE status = 'succeeded'),
           count(*) FILTER (WHERE status = 'failed'),
           count(*) FILTER (WHERE status = 'succeeded' AND username = 'regress_ak_admin'
                            AND command = 'SELECT access_key.ak_refresh_cached_queries()')
    FROM cron.job_run_details WHERE jobid = $job_id});
my ($succeeded, $failed, $as_admin) = split /\|/, $runs;
cmp_ok($succeeded, '>=', 2, 'cron.job_run_details shows at least two succeeded runs');
is($failed, 0, 'cron.job_run_details shows no failed run')
  or diag(scalar $node->safe_psql('postgres',
	"SELECT status, return_message FROM cron.job_run_details WHERE jobid = $job_id"));
is($as_admin, $succeeded, 'every succeeded run ran the refresh as the admin role');

# Clean up: the admin unschedules its job.
($ret, $stdout, $stderr) = psql_as('regress_ak_admin', "SELECT cron.unschedule($job_id)");
is($stdout, 't', 'the admin role unschedules its job') or diag($stderr);
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '0', 'no job is left scheduled');

$node->stop;
done_testing();
