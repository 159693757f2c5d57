
# Keys work on a streaming hot standby (docs/reference.md): a non-superuser presents a
# token and asks for permissions on the read-only standby, and key changes
# made on the primary reach standby sessions from their next transaction on
# (docs/reference.md#presenting-a-key).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;

my $primary = new_cluster('primary', undef, allows_streaming => 1);
$primary->safe_psql('postgres', 'CREATE EXTENSION access_key');
$primary->safe_psql('postgres', 'CREATE ROLE regress_ak_app LOGIN');

# Creates a key on the primary and returns (id, token).
sub create_key
{
	my ($definition) = @_;
	my $row = $primary->safe_psql('postgres',
		"SELECT id, key FROM access_key.ak_create_key(\$def\$$definition\$def\$)");
	return split /\|/, $row;
}

my $ada_definition = q({"name": "Ada", "permitted": ["queries", "writes", "saved_queries", "datasets"],
  "options": {"saved_queries": {"allowed": ["my_saved_query"], "blocked": ["my_sensitive_query"]},
              "datasets": {"operations": ["read"], "allowed": {"my_dataset": {}}}}});
my $babbage_definition = q({"name": "Babbage", "permitted": ["queries"]});

# One key exists before the base backup, the other is streamed.
my ($ada_id, $ada_token) = create_key($ada_definition);

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my ($babbage_id, $babbage_token) = create_key($babbage_definition);
$primary->wait_for_catchup($standby);

# Runs SQL on the standby as the application role; returns (exit code,
# stdout, stderr), with SQLSTATEs in error messages.
sub standby_app_psql
{
	my ($sql) = @_;
	my ($ret, $stdout, $stderr) = $standby->psql('postgres', $sql,
		extra_params => [ '-U', 'regress_ak_app', '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $stdout, $stderr);
}

my ($ret, $stdout, $stderr) = standby_app_psql(
	q(SELECT current_user, rolsuper, pg_is_in_recovery(), current_setting('transaction_read_only')
	  FROM pg_roles WHERE rolname = current_user));
is($stdout, 'regress_ak_app|f|t|on',
	'the standby session is a non-superuser in a read-only recovery transaction');

# Presenting a valid token on the standby, transaction-local.
($ret, $stdout, $stderr) = standby_app_psql(
	"BEGIN;
	 SELECT access_key.ak_use_key('$ada_token');
	 SELECT access_key.ak_current_key_id();
	 SELECT access_key.ak_permits('queries'), access_key.ak_permits('writes'),
	        access_key.ak_permits('schema'), access_key.ak_permits('cached_queries');
	 SELECT access_key.ak_permits('saved_queries', 'my_saved_query'),
	        access_key.ak_permits('saved_queries', 'my_sensitive_query'),
	        access_key.ak_permits('saved_queries', 'another_query');
	 SELECT access_key.ak_permits('datasets', 'my_dataset', 'read'),
	        access_key.ak_permits('datasets', 'my_dataset', 'retrieve'),
	        access_key.ak_permits('datasets', 'other_dataset', 'read');
	 SELECT access_key.ak_current_key()::jsonb ->> 'name';
	 COMMIT;
	 SELECT access_key.ak_current_key_id() IS NULL;");
is($ret, 0, 'ak_use_key with a valid token succeeds on the standby') or diag($stderr);
is($stdout, join("\n", $ada_id, $ada_id, 't|t|f|f', 't|f|f', 't|f|f', 'Ada', 't'),
	'on the standby ak_use_key returns the key id and ak_permits answers from the key');

# The key streamed after the base backup works too, session-wide.
($ret, $stdout, $stderr) = standby_app_psql(
	"SELECT access_key.ak_use_key('$babbage_token', false);
	 SELECT access_key.ak_permits('queries'), access_key.ak_permits('writes');");
is($ret, 0, 'a key created after the base backup is usable on the standby') or diag($stderr);
is($stdout, "$babbage_id\nt|f", 'and answers for its own permissions');

# No key: nothing is permitted, and that is not an error.
($ret, $stdout, $stderr) = standby_app_psql(q(SELECT access_key.ak_permits('queries')));
is($stdout, 'f', 'without a key ak_permits answers false on the standby');

# An invalid token is refused on the standby as well.
($ret, $stdout, $stderr) = standby_app_psql(
	q(BEGIN; SELECT access_key.ak_use_key('ak_not_a_token'); COMMIT;));
like($stderr, qr/ERROR:\s+28000: access key is not valid/,
	'a malformed token gets 28000 on the standby');

# The standby really is read-only for this role: the admin side is not reachable.
($ret, $stdout, $stderr) = standby_app_psql(
	"SELECT access_key.ak_revoke_key('$ada_id')");
like($stderr, qr/ERROR:\s+42501: permission denied for function ak_revoke_key/,
	'the application role cannot call admin functions on the standby');

# A long-lived standby session presenting the key that is about to be revoked.
my $session = $standby->background_psql('postgres',
	on_error_stop => 0,
	extra_params => [ '-U', 'regress_ak_app', '-v', 'VERBOSITY=verbose' ]);

# Runs a query in the long-lived session; returns (stdout, stderr).
sub session_query
{
	my ($sql) = @_;
	my $out = $session->query($sql);
	my $err = $session->{stderr};
	$session->{stderr} = '';
	return ($out, $err);
}

my ($out, $err) = session_query("SELECT access_key.ak_use_key('$babbage_token', false)");
is($out, $babbage_id, 'the long-lived standby session presents the key') or diag($err);
($out, $err) = session_query(q(SELECT access_key.ak_permits('queries')));
is($out, 't', 'the long-lived standby session is permitted queries before the revoke');

# Revoke on the primary; once replayed, the standby session's next
# transaction sees it.
$primary->safe_psql('postgres', "SELECT access_key.ak_revoke_key('$babbage_id')");
$primary->wait_for_catchup($standby);

($out, $err) = session_query(q(SELECT access_key.ak_permits('queries')));
like($err, qr/ERROR:\s+28000: access key is not valid\nDETAIL:\s+The key has been revoked\./,
	'after the revoke is replayed, the existing standby session gets 28000 "revoked"');

($ret, $stdout, $stderr) = standby_app_psql(
	"BEGIN; SELECT access_key.ak_use_key('$babbage_token'); COMMIT;");
isnt($ret, 0, 'a new standby session cannot present the revoked key');
like($stderr, qr/ERROR:\s+28000: access key is not valid\nDETAIL:\s+The key has been revoked\./,
	'a new standby session gets 28000 "revoked"');

# The other key is unaffected by that revoke.
($ret, $stdout, $stderr) = standby_app_psql(
	"BEGIN; SELECT access_key.ak_use_key('$ada_token'); COMMIT;");
is($stdout, $ada_id, 'the other key still works on the standby after the revoke');

# An update on the primary reaches the same long-lived session.
($out, $err) = session_query("RESET access_key.key; SELECT access_key.ak_use_key('$ada_token', false)");
is($out, $ada_id, 'the long-lived standby session switches to the other key') or diag($err);
($out, $err) = session_query(q(SELECT access_key.ak_permits('writes'), access_key.ak_permits('queries')));
is($out, 't|t', 'it permits writes and queries before the update');
$primary->safe_psql('postgres',
	"SELECT access_key.ak_update_key('$ada_id', '{\"name\": \"Ada\", \"permitted\": [\"queries\"]}')");
$primary->wait_for_catchup($standby);
($out, $err) = session_query(q(SELECT access_key.ak_permits('writes'), access_key.ak_permits('queries')));
is($out, 'f|t', 'after the update is replayed the standby session no longer permits writes') or diag($err);

# Unrevoking on the primary makes the revoked key usable on the standby again.
$primary->safe_psql('postgres', "SELECT access_key.ak_unrevoke_key('$babbage_id')");
$primary->wait_for_catchup($standby);
($ret, $stdout, $stderr) = standby_app_psql(
	"BEGIN; SELECT access_key.ak_use_key('$babbage_token'); SELECT access_key.ak_permits('queries'); COMMIT;");
is($stdout, "$babbage_id\nt", 'after the unrevoke is replayed the key works on the standby again')
  or diag($stderr);

# A delete on the primary: the session presenting that key gets 28000.
$primary->safe_psql('postgres', "SELECT access_key.ak_delete_key('$ada_id')");
$primary->wait_for_catchup($standby);
($out, $err) = session_query(q(SELECT access_key.ak_permits('queries')));
like($err, qr/ERROR:\s+28000: access key is not valid\nDETAIL:\s+No key matches the token/,
	'after the delete is replayed the standby session gets 28000 "no key matches"');

$session->quit;

# last_used_at is not recorded on a hot standby, and presenting a key there
# never fails because of it (docs/reference.md#last-use).  A key used only on
# the standby, in committed and rolled-back transactions:
my ($standby_only_id, $standby_only_token) = create_key(q({"name": "Standby only", "permitted": ["queries"]}));
$primary->wait_for_catchup($standby);
my $standby_log_offset = -s $standby->logfile;
($ret, $stdout, $stderr) = standby_app_psql(
	"BEGIN; SELECT access_key.ak_use_key('$standby_only_token') IS NOT NULL; COMMIT;
	 BEGIN; SELECT access_key.ak_use_key('$standby_only_token') IS NOT NULL; ROLLBACK;
	 SELECT access_key.ak_use_key('$standby_only_token', false) IS NOT NULL;
	 SELECT access_key.ak_permits('queries');");
is($ret, 0, 'presenting a key on the standby raises nothing about last use') or diag($stderr);
is($stdout, "t\nt\nt\nt", 'and every statement answers');
unlike($stderr, qr/WARNING|ERROR/, 'not even a warning');
sleep 1;
is($standby->safe_psql('postgres', "SELECT last_used_at IS NULL FROM access_key.keys WHERE id = '$standby_only_id'"),
	't', 'last_used_at is not recorded for a key used on the standby');
unlike(slurp_file($standby->logfile, $standby_log_offset), qr/ERROR|FATAL|WARNING|key use|last_used recorder/,
	'the standby logs nothing about recording last use');
is($primary->safe_psql('postgres', "SELECT last_used_at IS NULL FROM access_key.keys WHERE id = '$standby_only_id'"),
	't', 'nor does anything reach the primary');

# Nothing was queued either: once promoted, the standby still has no
# last use for that key, and records new uses as a primary does.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby did not finish promotion';
sleep 1;
is($standby->safe_psql('postgres', "SELECT last_used_at IS NULL FROM access_key.keys WHERE id = '$standby_only_id'"),
	't', 'no use noted during recovery is written after promotion');
($ret, $stdout, $stderr) = standby_app_psql(
	"BEGIN; SELECT access_key.ak_use_key('$standby_only_token') IS NOT NULL; COMMIT;");
is($ret, 0, 'the promoted server accepts the key') or diag($stderr);
ok($standby->poll_query_until('postgres',
		"SELECT last_used_at IS NOT NULL FROM access_key.keys WHERE id = '$standby_only_id'"),
	'and records its use');

# Nothing above crashed either server.
is($standby->safe_psql('postgres', 'SELECT 1'), '1', 'the standby is alive');
is($primary->safe_psql('postgres', 'SELECT 1'), '1', 'the primary is alive');

$standby->stop;
$primary->stop;
done_testing();
