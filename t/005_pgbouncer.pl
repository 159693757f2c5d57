
# Keys behind a transaction-pooling connection pooler (docs/reference.md#presenting-a-key, docs/reference.md): with
# PgBouncer in pool_mode = transaction, client connections take turns on a
# single server connection, and a key presented for one transaction
# (ak_use_key(token), SET LOCAL access_key.key, set_config(..., true)) is
# seen by that transaction only, never by the next client's.  A key set for
# the session (ak_use_key(token, false)) does leak to other clients there,
# which is why poolers need the transaction-local forms.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;
use Time::HiRes qw(usleep);


# PgBouncer is the Debian package pgbouncer (scripts/install-deps installs
# it); it lives in /usr/sbin, which the postgres user's PATH may lack.
my ($pgbouncer_bin) =
  grep { -x $_ } ((map { "$_/pgbouncer" } split /:/, $ENV{PATH}), '/usr/sbin/pgbouncer');
plan skip_all => 'pgbouncer is not installed' unless $pgbouncer_bin;

my $node = new_cluster('pooled');

# Events of tenants a (5 rows), b (3) and c (2), and one key per tenant.
$node->safe_psql('postgres', q{
    CREATE EXTENSION access_key;
    CREATE ROLE regress_ak_app LOGIN;
    CREATE TABLE public.events (properties jsonb NOT NULL);
    INSERT INTO public.events
    SELECT jsonb_build_object('customer', jsonb_build_object('id', c), 'n', i)
    FROM (VALUES ('a', 5), ('b', 3), ('c', 2)) AS t(c, n), generate_series(1, t.n) AS i;
    SELECT access_key.ak_protect('public.events');
    GRANT SELECT ON public.events TO regress_ak_app;
    -- numbers the transactions in the order the server runs them
    CREATE SEQUENCE public.tx_order;
    GRANT USAGE ON SEQUENCE public.tx_order TO regress_ak_app;
});

my @tenants = qw(a b c);
my %rows_of = (a => 5, b => 3, c => 2);
my (%token, %key_id);
for my $tenant (@tenants)
{
	($key_id{$tenant}, $token{$tenant}) = split /\|/, $node->safe_psql('postgres', qq{
        SELECT id, key FROM access_key.ak_create_key('{"name": "tenant $tenant", "permitted": ["queries"],
            "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq",
                                                 "property_value": "$tenant"}]}}}')});
}
is(scalar(grep { defined $token{$_} && $token{$_} =~ /^ak_/ } @tenants), 3, 'one key per tenant is created');

# What a transaction of each kind must see: "count|min tenant|max tenant|key id".
my %expected = (none => '0|||');
$expected{$_} = "$rows_of{$_}|$_|$_|$key_id{$_}" for @tenants;
my $probe_sql = q{SELECT 'tx', :'label', count(*), min(properties #>> '{customer,id}'),
    max(properties #>> '{customer,id}'), access_key.ak_current_key_id(), pg_backend_pid(),
    nextval('public.tx_order') FROM public.events;};

# The baseline, connected directly: the app role sees its tenant's rows with a
# key and none without.
is($node->safe_psql('postgres', "BEGIN; SELECT access_key.ak_use_key('$token{b}') IS NOT NULL;
    SELECT count(*), min(properties #>> '{customer,id}'), max(properties #>> '{customer,id}') FROM public.events;
    COMMIT; SELECT count(*) FROM public.events;", extra_params => [ '-U', 'regress_ak_app' ]),
	"t\n3|b|b\n0", 'connected directly, a key shows its tenant\'s rows and no key shows none');

# PgBouncer on loopback, transaction pooling, one server connection for the
# whole pool: every client transaction runs on the same backend.  In
# transaction mode PgBouncer runs no reset query between clients
# (server_reset_query_always = 0), so only the transaction-local forms keep
# keys apart.
my $bouncer_dir = PostgreSQL::Test::Utils::tempdir;
my $bouncer_port = PostgreSQL::Test::Cluster::get_free_port();
my $bouncer_log = "$bouncer_dir/pgbouncer.log";
append_to_file("$bouncer_dir/userlist.txt", qq{"regress_ak_app" ""\n});
append_to_file("$bouncer_dir/pgbouncer.ini", qq{
[databases]
postgres = host=@{[ $node->host ]} port=@{[ $node->port ]} dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $bouncer_dir/userlist.txt
pool_mode = transaction
default_pool_size = 1
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = 1
max_client_conn = 50
server_reset_query_always = 0
ignore_startup_parameters = extra_float_digits
logfile = $bouncer_log
pidfile = $bouncer_dir/pgbouncer.pid
});

my $bouncer = IPC::Run::start([ $pgbouncer_bin, "$bouncer_dir/pgbouncer.ini" ],
	'>', "$bouncer_dir/pgbouncer.stdout", '2>', "$bouncer_dir/pgbouncer.stderr");
# If the script dies, do not leave PgBouncer behind.
END { $bouncer->kill_kill if $bouncer && $bouncer->pumpable; }

my $bouncer_connstr = "host=127.0.0.1 port=$bouncer_port dbname=postgres user=regress_ak_app";
my $bouncer_up = 0;
for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
{
	my ($out, $err);
	IPC::Run::run([ 'psql', '-XAtq', '-d', $bouncer_connstr, '-c', 'SELECT 1' ],
		'>', \$out, '2>', \$err);
	if (defined $out && $out eq "1\n") { $bouncer_up = 1; last; }
	usleep(100_000);
}
ok($bouncer_up, "PgBouncer accepts connections on 127.0.0.1:$bouncer_port")
  or BAIL_OUT('PgBouncer did not start: ' . slurp_file("$bouncer_dir/pgbouncer.stderr"));

# A client connection through PgBouncer: a psql reading queries from stdin.
sub open_client
{
	my %client = (stdin => '', stdout => '', stderr => '', count => 0);
	$client{timer} = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
	$client{run} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $bouncer_connstr, '-f', '-' ],
		'<', \$client{stdin}, '>', \$client{stdout}, '2>', \$client{stderr}, $client{timer});
	return \%client;
}

# Sends SQL to a client and waits for it to be done; returns (stdout, stderr).
sub client_query
{
	my ($client, $sql) = @_;
	my $banner = 'client_query_done_' . ++$client->{count};
	$client->{stdin} .= "$sql\n\\echo $banner\n\\warn $banner\n";
	$client->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	$client->{run}->pump
	  until ($client->{stdout} =~ /^$banner\n/m && $client->{stderr} =~ /^$banner\n/m)
	  || $client->{timer}->is_expired;
	die "client query timed out: $sql" if $client->{timer}->is_expired;
	my ($out, $err) = ($client->{stdout}, $client->{stderr});
	$out =~ s/^$banner\n//m;
	$err =~ s/^$banner\n//m;
	($client->{stdout}, $client->{stderr}) = ('', '');
	chomp $out;
	return ($out, $err);
}

sub close_client
{
	my ($client) = @_;
	$client->{stdin} .= "\\q\n";
	return $client->{run}->finish;
}

# The SQL of one transaction, labelled so its output line can be checked:
# $kind is a tenant or 'none'; $form is how the key is presented (or, for
# 'none', whether the transaction is explicit); $end is COMMIT or ROLLBACK.
sub transaction_sql
{
	my ($label, $kind, $form, $end) = @_;
	my $sql = "\\set label '$label'\n";
	if ($kind eq 'none')
	{
		return $sql . $probe_sql if $form % 2;    # a single-statement transaction
		return $sql . "BEGIN;\n$probe_sql\n$end;";
	}
	my $token = $token{$kind};
	my @present = (
		"SELECT access_key.ak_use_key('$token') AS ignored \\gset",
		"SET LOCAL access_key.key = '$token';",
		"SELECT set_config('access_key.key', '$token', true) AS ignored \\gset");
	return $sql . "BEGIN;\n$present[$form % 3]\n$probe_sql\n$end;";
}

my @kinds = (@tenants, 'none');

# Checks the "tx|label|count|min|max|key id|backend pid|order" lines of a
# batch of transactions against what each kind must see; returns the number
# of mismatches per kind, and records the backend pids and the order in which
# the server ran the transactions.
my (%backend_pids, %server_order);
sub check_lines
{
	my ($output, $kind_of) = @_;
	my %bad = map { $_ => 0 } @kinds;
	my %seen;
	for my $line (split /\n/, $output)
	{
		next unless $line =~ /^tx\|/;
		my (undef, $label, $count, $min, $max, $key, $pid, $order) = split /\|/, $line, -1;
		my $kind = $kind_of->{$label};
		$seen{$label}++;
		$backend_pids{$pid}++;
		$server_order{$order} = $label;
		if ("$count|$min|$max|$key" ne $expected{$kind})
		{
			$bad{$kind}++;
			diag("transaction $label ($kind) saw $count|$min|$max|$key, expected $expected{$kind}");
		}
	}
	for my $label (keys %$kind_of)
	{
		next if $seen{$label};
		$bad{ $kind_of->{$label} }++;
		diag("transaction $label ($kind_of->{$label}) printed nothing");
	}
	return %bad;
}

# Phase 1: four client connections take turns, one transaction each, in
# round robin: each transaction runs on the server connection the previous
# client's transaction (usually for another tenant, or without a key) just
# used.  Every fifth transaction rolls back instead of committing.
my @clients = map { open_client() } 1 .. 4;
my $sequential = 240;
my %kind_of;
my ($output, $errors) = ('', '');
for my $i (0 .. $sequential - 1)
{
	my $kind = $kinds[ ($i + int($i / 4)) % 4 ];
	my $label = "s$i";
	$kind_of{$label} = $kind;
	my ($out, $err) = client_query($clients[ $i % 4 ],
		transaction_sql($label, $kind, $i, $i % 5 == 0 ? 'ROLLBACK' : 'COMMIT'));
	$output .= "$out\n";
	$errors .= $err;
}
is($errors, '', "$sequential round-robin transactions from 4 clients raise no error");
my %bad = check_lines($output, \%kind_of);
for my $kind (@kinds)
{
	my $n = grep { $_ eq $kind } values %kind_of;
	is($bad{$kind}, 0, $kind eq 'none'
		? "all $n round-robin transactions without a key see no rows and no key"
		: "all $n round-robin transactions with tenant $kind\'s key see exactly its $rows_of{$kind} rows");
}

# A transaction that fails after presenting a key: the key goes with the
# aborted transaction, and the next client's transaction has none.
my ($fail_out, $fail_err, $after_out, $after_err) = ('', '', '', '');
for my $i (1 .. 20)
{
	my $tenant = $tenants[ $i % 3 ];
	my ($out, $err) = client_query($clients[0],
		"BEGIN;\nSELECT access_key.ak_use_key('$token{$tenant}') AS ignored \\gset\n"
		  . "SELECT count(*) FROM public.events;\nSELECT 1 / 0;\nROLLBACK;");
	$fail_out .= "$out\n";
	$fail_err .= $err;
	($out, $err) = client_query($clients[ 1 + $i % 3 ],
		"BEGIN;\nSELECT count(*), access_key.ak_current_key_id() IS NULL FROM public.events;\nCOMMIT;");
	$after_out .= "$out\n";
	$after_err .= $err;
}
is(scalar(() = $fail_err =~ /ERROR:\s+22012: division by zero/g), 20,
	'20 keyed transactions fail after presenting their key');
is($fail_out, join('', map { "$rows_of{$tenants[$_ % 3]}\n" } 1 .. 20),
	'each failing transaction saw its tenant\'s rows before failing');
is($after_out . $after_err, "0|t\n" x 20,
	'the next client\'s transaction after each failed one sees no rows and no key');

# Phase 2: four clients at once, each running its transactions as fast as it
# can, so PgBouncer hands the one server connection from client to client
# in whatever order they come.
my @scripts;
my %concurrent_kind_of;
my $per_client = 60;
for my $c (0 .. 3)
{
	my $script = '';
	for my $j (0 .. $per_client - 1)
	{
		my $kind = $kinds[ ($c + $j) % 4 ];
		my $label = "c${c}_$j";
		$concurrent_kind_of{$label} = $kind;
		$script .= transaction_sql($label, $kind, $j + $c, $j % 7 == 3 ? 'ROLLBACK' : 'COMMIT') . "\n";
	}
	push @scripts, $script;
}
# The scripts and outputs are files, so the four psql processes run on their
# own rather than when this script pumps their pipes.
my @runs;
for my $c (0 .. 3)
{
	my $file = "$bouncer_dir/client$c";
	append_to_file("$file.sql", $scripts[$c]);
	push @runs, IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-d', $bouncer_connstr,
		  '-f', "$file.sql" ],
		'>', "$file.out", '2>', "$file.err",
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}
my ($concurrent_output, $concurrent_errors, $all_exited) = ('', '', 1);
for my $c (0 .. 3)
{
	$runs[$c]->finish or $all_exited = 0;
	$concurrent_output .= slurp_file("$bouncer_dir/client$c.out");
	$concurrent_errors .= slurp_file("$bouncer_dir/client$c.err");
}
ok($all_exited, '4 concurrent clients run all their transactions and exit 0')
  or diag($concurrent_errors);
is($concurrent_errors, '', 'the concurrent transactions raise no error');
%bad = check_lines($concurrent_output, \%concurrent_kind_of);
# How many times the server connection went from one client to another in
# this phase: 3 if the clients had merely run one after the other.
my @clients_in_server_order = map { $server_order{$_} =~ /^(c\d+)_/ ? $1 : () }
  sort { $a <=> $b } keys %server_order;
my $hand_overs = grep { $clients_in_server_order[$_] ne $clients_in_server_order[ $_ - 1 ] }
  1 .. $#clients_in_server_order;
note "the server connection went from one client to another $hand_overs times";
cmp_ok($hand_overs, '>=', 10, 'the concurrent clients\' transactions interleave on the server connection');
for my $kind (@kinds)
{
	my $n = grep { $_ eq $kind } values %concurrent_kind_of;
	is($bad{$kind}, 0, $kind eq 'none'
		? "all $n concurrent transactions without a key see no rows and no key"
		: "all $n concurrent transactions with tenant $kind\'s key see exactly its $rows_of{$kind} rows");
}

# All of it ran on one backend: the clients really shared a server connection.
is(join(',', keys %backend_pids), $node->safe_psql('postgres',
	q(SELECT pid FROM pg_stat_activity WHERE usename = 'regress_ak_app')),
	'every transaction of every client ran on the same single server connection');

# Why the transaction-local forms are required: a key set for the session
# stays on the server connection, and PgBouncer hands that connection, key
# included, to the next client.  With one server connection this is certain.
my ($out, $err) = client_query($clients[0], "SELECT access_key.ak_use_key('$token{a}', false);");
is($out, $key_id{a}, 'client 1 presents tenant a\'s key for the session (is_local false)') or diag($err);
($out, $err) = client_query($clients[1],
	q{SELECT count(*), min(properties #>> '{customer,id}'), max(properties #>> '{customer,id}'),
            access_key.ak_current_key_id() FROM public.events;});
is($out, $expected{a},
	'LEAK, as expected: client 2, which never presented a key, sees tenant a\'s rows through the shared server connection');
($out, $err) = client_query($clients[2], "BEGIN;\nSELECT access_key.ak_current_key_id();\nCOMMIT;");
is($out, $key_id{a}, 'LEAK, as expected: so does client 3\'s explicit transaction');

# Clearing the session setting, from any client, ends the leak.
($out, $err) = client_query($clients[3], 'RESET access_key.key;');
is($err, '', 'RESET access_key.key from another client succeeds');
($out, $err) = client_query($clients[1], 'SELECT count(*), access_key.ak_current_key_id() IS NULL FROM public.events;');
is($out, '0|t', 'after RESET the clients see no rows and no key again');

# Clean up: close the clients, stop PgBouncer, and its server connection goes.
my $closed = 1;
close_client($_) or $closed = 0 for @clients;
ok($closed, 'the client connections close cleanly');
$bouncer->signal('TERM');
$bouncer->finish;
ok(!$bouncer->pumpable, 'PgBouncer has stopped');
ok(!-e "$bouncer_dir/pgbouncer.pid", 'PgBouncer removed its pid file');
ok($node->poll_query_until('postgres',
	q(SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'regress_ak_app')),
	'no server connection of the application role is left');

diag("PgBouncer log:\n" . slurp_file($bouncer_log)) unless Test::More->builder->is_passing;

$node->stop;
done_testing();
