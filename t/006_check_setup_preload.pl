
# ak_check_setup's findings about preloaded libraries (SPEC §15), which the
# regress suite cannot reach because they need shared_preload_libraries: on
# PostgreSQL 15, pg_stat_statements stores SET statements as written and
# auto_explain logs a query's text, so a token written as a literal ends up in
# pg_stat_statements (readable by every session of the same role) and in the
# server log.  This shows each leak, that ak_check_setup reports it, and that
# the fix it prints stops it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = "$1/test/regress/pg_regress" if $pgxs =~ m{^(.*)/makefiles/pgxs\.mk$};
}

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_stat_statements, auto_explain'
auto_explain.log_min_duration = 0
log_min_error_statement = panic
log_statement = none
});
$node->start;

$node->safe_psql('postgres', q{
    CREATE EXTENSION access_key;
    CREATE EXTENSION pg_stat_statements;
    CREATE ROLE regress_ak_app LOGIN;
    CREATE TABLE public.events (properties jsonb NOT NULL);
    SELECT access_key.ak_protect('public.events');
    CREATE INDEX ON public.events USING gin (properties jsonb_path_ops);
    GRANT SELECT ON public.events TO regress_ak_app;
    REVOKE TEMPORARY ON DATABASE postgres FROM PUBLIC;
});
my $token = $node->safe_psql('postgres', q{
    SELECT key FROM access_key.ak_create_key('{"name": "t", "permitted": ["queries"]}')});
like($token, qr/^ak_\w{49}$/, 'a key is created');

my $findings_sql = q{SELECT severity || ' | ' || object FROM access_key.ak_check_setup('regress_ak_app') ORDER BY 1};
# (pg_stat_statements' views are readable by PUBLIC, and reported like any table.)
is($node->safe_psql('postgres', $findings_sql),
	"warning | setting auto_explain.log_min_duration\nwarning | setting pg_stat_statements.track_utility\n"
	  . "warning | view public.pg_stat_statements\nwarning | view public.pg_stat_statements_info",
	'ak_check_setup reports auto_explain and pg_stat_statements');

my @app = (extra_params => [ '-U', 'regress_ak_app' ]);

# Presents the token as literals, each way, in a session of the app role.
sub present_literally
{
	$node->safe_psql('postgres', qq{
        BEGIN; SET LOCAL access_key.key = '$token'; SELECT count(*) FROM public.events; COMMIT;
        BEGIN; SELECT access_key.ak_use_key('$token') IS NOT NULL; COMMIT;}, @app);
}

# pg_stat_statements: the SET is stored with the token; another session of
# the same role reads it.  ak_use_key('...') is normalized to $1.
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
my $log_offset = -s $node->logfile;
present_literally();
my $stored = $node->safe_psql('postgres',
	q{SELECT query FROM pg_stat_statements WHERE query ~ 'access_key' ORDER BY query}, @app);
like($stored, qr/SET LOCAL access_key\.key = '\Q$token\E'/,
	'pg_stat_statements keeps SET access_key.key with the token, readable by the same role');
like($stored, qr/ak_use_key\(\$1\)/, 'pg_stat_statements normalizes ak_use_key(\'...\') to $1');

# auto_explain: the query text with the literal is logged; SET is not explained.
my $log = substr(slurp_file($node->logfile), $log_offset);
like($log, qr/Query Text: SELECT access_key\.ak_use_key\('\Q$token\E'\)/,
	'auto_explain logs a query that names the token');
unlike($log, qr/Query Text: SET/, 'auto_explain does not log SET statements');

# The fixes ak_check_setup prints, run as printed.
my $fixes = $node->safe_psql('postgres',
	q{SELECT string_agg(fix, ' ' ORDER BY object) FROM access_key.ak_check_setup('regress_ak_app')});
is($fixes, 'ALTER ROLE regress_ak_app SET auto_explain.log_min_duration = -1; '
	  . 'ALTER ROLE regress_ak_app SET pg_stat_statements.track_utility = off; '
	  . 'REVOKE SELECT ON TABLE public.pg_stat_statements FROM PUBLIC; '
	  . 'REVOKE SELECT ON TABLE public.pg_stat_statements_info FROM PUBLIC;',
	'the fixes are role settings and revokes');
$node->safe_psql('postgres', $fixes);
is($node->safe_psql('postgres', $findings_sql), '', 'after the fixes nothing is reported');

$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
$log_offset = -s $node->logfile;
present_literally();
$log = substr(slurp_file($node->logfile), $log_offset);
unlike($log, qr/\Q$token\E/, 'with auto_explain.log_min_duration = -1 for the role, the token is not logged');
unlike($node->safe_psql('postgres', 'SELECT string_agg(query, E\'\\n\') FROM pg_stat_statements'),
	qr/\Q$token\E/, 'with track_utility off for the role, the token is not stored');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM public.pg_stat_statements', @app);
like($err, qr/permission denied for view pg_stat_statements/, 'and the app role no longer reads pg_stat_statements');

$node->stop;
done_testing();
