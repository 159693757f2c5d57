
# A randomized isolation proof: random tenants, events with random nested
# properties, a second protected collection whose rows reference the events,
# and keys with random filters over every operator.  An oracle written from
# the documented semantics (docs/reference.md#filter-semantics, #protected-collections,
# #ak_saved_query_resultname-text--jsonb, #ak_permits-rules; t/AccessKeyOracle.pm,
# which never calls the extension's evaluator) decides which rows each key may
# see, and every key must see exactly those rows through every SQL path:
#
#   plain      SELECT id FROM events
#   view       a security_invoker view over events
#   prepared   one PREPAREd statement (forced generic plan, built with an index
#              scan, re-planned when a key of another filter shape runs it)
#              EXECUTEd under each key in turn
#   plpgsql    a PL/pgSQL function (its cached plan reused across keys)
#   cursor     DECLARE / FETCH ALL
#   copy       COPY (SELECT id FROM events) TO STDOUT
#   join       notes LEFT JOIN events: both protected, both decided by the oracle
#   parallel   forced parallel query (EXPLAIN must show a Gather)
#   index      sequential scans off, so the GIN prefilter or a B-tree or hash
#              condition on a filtered path answers
#   saved      a live saved query, ak_saved_query_result, with
#              options.saved_queries.filters in the saved_queries context
#   switch     another key presented first in the same transaction
#   savepoint  another key presented in a savepoint that is rolled back
#   leak       the rows a cheap, not leakproof function in WHERE is shown
#
# Sessions run as a non-superuser application role that does not own the
# tables, and present keys with SET LOCAL, ak_use_key, set_config, or
# ak_use_key(token, false) for the session (reset after the transaction).
# A key without "queries" must be refused with 42501 on every path (the policy's
# ak_filter_row), and a key the saved query's name is not permitted to must
# get 42501 from ak_saved_query_result.
#
# Scale: AK_ORACLE_CHECKS (default 60000) is the number of (event, key) pairs;
# AK_ORACLE_SCALE multiplies the default.  AK_ORACLE_SEED sets the seed.
# On a disagreement the test fails with a shrunk reproduction.
# AK_ORACLE_INJECT=oracle|path plants a fault (in the oracle, or in one path's
# results) to show what a failure report looks like.
use strict;
use warnings;
use utf8;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
# Perl's lax "utf8" encoding, not the strict "UTF-8", which would replace
# noncharacters such as U+FFFF and U+10FFFF that the data contains on purpose.
use Encode qw(encode_utf8 decode_utf8);
use POSIX qw(ceil);
use Storable qw(dclone);

use AccessKeyTest;
use AccessKeyOracle qw(
  to_json flatten eval_filter visible key_json filter_json key_permits_saved generate_world);

# The TAP framework ties the output handles, so text is encoded by hand.
sub udiag { diag(encode_utf8(join('', @_))); }

my $t_start = time;
my $seed = $ENV{AK_ORACLE_SEED} // 20251128;
my $target = $ENV{AK_ORACLE_CHECKS} // int(60000 * ($ENV{AK_ORACLE_SCALE} // 1));
my $nkeys = int(sqrt($target / 8));
$nkeys = 60 if $nkeys < 60;
my $nevents = ceil($target / $nkeys);
my $nnotes = ceil($nevents / 2);
my $ntenants = 8 + int($nkeys / 50);
$ntenants = 30 if $ntenants > 30;
my $inject = $ENV{AK_ORACLE_INJECT} // '';
my $saved_name = 'oracle_events';

diag("seed $seed (AK_ORACLE_SEED), $nevents events, $nnotes notes, $nkeys keys, $ntenants tenants "
	  . "(AK_ORACLE_CHECKS=$target)");

srand($seed);
my $t0 = time;
my $world = generate_world(tenants => $ntenants, events => $nevents, notes => $nnotes, keys => $nkeys);
note(sprintf('generated the world in %.1fs', time - $t0));

if ($inject eq 'oracle')
{
	# A planted oracle fault: "ne" behaves as "eq" for strings.
	no warnings 'redefine';
	my $orig = \&AccessKeyOracle::eval_filter;
	*AccessKeyOracle::eval_filter = sub {
		my ($f, $flat) = @_;
		if ($f->{op} eq 'ne' && $f->{value}[0] eq 's')
		{
			return $orig->({ %$f, op => 'eq' }, $flat);
		}
		return $orig->(@_);
	};
}

###########################################################################
# The cluster
###########################################################################

# The default collation is ICU's en-US where available (PostgreSQL 15 and
# later built with ICU), so a comparison that used the collation instead of
# bytes ("Zebra" < "alpha" bytewise, not linguistically) would show.
my ($initdb_major) = `initdb --version` =~ /(\d+)(?:\.\d+)?/;
my $icu = $initdb_major >= 15 && `pg_config --configure` =~ /--with-icu/;
my $node = new_cluster('isolation_oracle', qq{
log_statement = none
max_worker_processes = 8
max_parallel_workers = 4
max_parallel_workers_per_gather = 2
}, extra => [ '--encoding=UTF8', '--locale=C', $icu ? ('--locale-provider=icu', '--icu-locale=en-US') : () ]);

my $version_num = $node->safe_psql('postgres', 'SHOW server_version_num');
my $force_parallel = $version_num >= 160000 ? 'debug_parallel_query' : 'force_parallel_mode';

$node->safe_psql('postgres', q{
CREATE ROLE oracle_owner;
CREATE ROLE oracle_app LOGIN;
});

# Runs a script as a role; dies with psql's stderr on any error.
sub run_sql
{
	my ($db, $sql, $user, $on_error_stop) = @_;
	my ($out, $err) = ('', '');
	my %conn = $user ? (connstr => $node->connstr($db) . " user=$user") : ();
	my $rc = $node->psql($db, encode_utf8($sql), stdout => \$out, stderr => \$err,
		on_error_stop => $on_error_stop // 1, %conn);
	die "psql failed (exit $rc) in $db as " . ($user // 'superuser') . ":\n" . decode_utf8($err) if $rc != 0;
	return wantarray ? (decode_utf8($out), decode_utf8($err)) : decode_utf8($out);
}

sub dollar
{
	my ($text) = @_;
	die "text contains the quote tag: $text" if $text =~ /\$ak\$/;
	return "\$ak\$$text\$ak\$";
}

sub copy_text
{
	my ($props, $escape) = @_;
	return '\N' unless defined $props;
	(my $t = to_json($props, $escape)) =~ s/\\/\\\\/g;
	return $t;
}

my $db_counter = 0;

# Creates a database holding the world: both collections, protected by their
# owner, a view, the helper functions, the saved query and the keys.  Returns
# the keys' tokens.
sub materialize
{
	my ($w, $db) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	my $sql = qq{
CREATE EXTENSION access_key;
GRANT CREATE ON SCHEMA public TO oracle_owner;
GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) TO oracle_owner;
SET ROLE oracle_owner;
CREATE TABLE public.events (id bigint PRIMARY KEY, properties jsonb);
CREATE TABLE public.notes (id bigint PRIMARY KEY, event_id bigint NOT NULL, payload jsonb);
COPY public.events (id, properties) FROM STDIN;
};
	$sql .= join('', map { "$_->{id}\t" . copy_text($_->{props}, $_->{id} % 3 == 0) . "\n" } @{ $w->{events} }) . "\\.\n";
	$sql .= "COPY public.notes (id, event_id, payload) FROM STDIN;\n";
	$sql .= join('', map { "$_->{id}\t$_->{event_id}\t" . copy_text($_->{props}, $_->{id} % 3 == 1) . "\n" } @{ $w->{notes} })
	  . "\\.\n";
	$sql .= q{
CREATE INDEX events_properties_idx ON public.events USING gin (properties jsonb_path_ops);
-- B-tree and hash indexes on filtered paths: keyed plans add conditions on them (docs/reference.md#plans)
CREATE INDEX events_customer_idx ON public.events ((properties -> 'customer' ->> 'id'), id);
CREATE INDEX events_customer_json_idx ON public.events USING hash ((properties -> 'customer' -> 'id'));
CREATE INDEX events_ts_idx ON public.events ((properties ->> 'ts') COLLATE "C");
CREATE INDEX notes_payload_idx ON public.notes USING gin (payload jsonb_path_ops);
CREATE INDEX notes_event_id_idx ON public.notes (event_id);
SELECT access_key.ak_protect('public.events');
-- the second collection keeps its events in a column of another name
SELECT access_key.ak_protect('public.notes', 'payload');
CREATE VIEW public.events_v WITH (security_invoker = true) AS SELECT id, properties FROM public.events;
CREATE FUNCTION public.oracle_ids() RETURNS SETOF bigint LANGUAGE plpgsql STABLE AS $f$
BEGIN
    RETURN QUERY SELECT id FROM public.events;
END
$f$;
-- A cheap, not leakproof function in the user's WHERE clause: it records the
-- rows it is shown, which must be only the rows the key may see.
CREATE FUNCTION public.oracle_leak(event_id bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $f$
BEGIN
    INSERT INTO pg_temp.oracle_leaked VALUES (event_id);
    RETURN true;
END
$f$;
GRANT SELECT ON public.events, public.notes, public.events_v TO oracle_app;
ANALYZE public.events;
ANALYZE public.notes;
RESET ROLE;
};
	$sql .= "SELECT access_key.ak_create_saved_query('$saved_name', 'SELECT id FROM public.events');\n";
	for my $i (0 .. $#{ $w->{keys} })
	{
		$sql .= "SELECT 'K|$i|' || key FROM access_key.ak_create_key("
		  . dollar(key_json($w->{keys}[$i], $i % 4 == 1)) . "::access_key.access_key);\n";
	}
	my $out = run_sql($db, $sql);
	my @tokens;
	for my $line (split /\n/, $out)
	{
		$tokens[$1] = $2 if $line =~ /^K\|(\d+)\|(ak_\w+)$/;
	}
	die "missing tokens" if grep { !defined $tokens[$_] } 0 .. $#{ $w->{keys} };
	return \@tokens;
}

###########################################################################
# The paths
###########################################################################

my @all_paths = qw(plain view prepared plpgsql cursor copy join parallel index saved switch savepoint leak);
my $join_sql = 'SELECT n.id, e.id FROM public.notes n LEFT JOIN public.events e ON e.id = n.event_id;';

sub present
{
	my ($token, $how) = @_;
	return "SET LOCAL access_key.key = '$token';\n" if $how == 0;
	return "SELECT access_key.ak_use_key('$token') AS key_id \\gset\n" if $how == 1;
	return "SELECT set_config('access_key.key', '$token', true) AS shown \\gset\n" if $how == 2;
	# for the session (reset after the transaction)
	return "SELECT access_key.ak_use_key('$token', false) AS key_id \\gset\n";
}

# (settings, query, explainable query) of a path for the key at position $i.
sub path_sql
{
	my ($path, $i) = @_;
	# each statement is followed by its SQLSTATE, so a refusal is seen where it happens
	my $st = sub { return join('', map { "$_\n\\echo \@\@sqlstate :SQLSTATE\n" } @_); };
	return ('', $st->('SELECT id FROM public.events;'), 'SELECT id FROM public.events') if $path eq 'plain';
	return ('', $st->('SELECT id FROM public.events_v;'), 'SELECT id FROM public.events_v') if $path eq 'view';
	return ("SET LOCAL enable_seqscan = off;\n", $st->('EXECUTE oracle_prep(0);'), 'EXECUTE oracle_prep(0)')
	  if $path eq 'prepared';
	return ('', $st->('SELECT * FROM public.oracle_ids();'), undef) if $path eq 'plpgsql';
	return ('', $st->('DECLARE oracle_cur CURSOR FOR SELECT id FROM public.events;', 'FETCH ALL FROM oracle_cur;'), undef)
	  if $path eq 'cursor';
	# psql sets no SQLSTATE for an error raised once COPY has started sending rows (a refusal is raised at the
	# first row); with VERBOSITY sqlstate its message line carries the code, which run_paths reads from stderr
	return ('', "\\set VERBOSITY sqlstate\nCOPY (SELECT id FROM public.events) TO STDOUT;\n\\set VERBOSITY default\n"
		  . "\\echo \@\@sqlstate :SQLSTATE\n", undef)
	  if $path eq 'copy';
	if ($path eq 'join')
	{
		my @set = ('', "SET LOCAL enable_hashjoin = off;\nSET LOCAL enable_mergejoin = off;\n",
			"SET LOCAL enable_seqscan = off;\n");
		(my $q = $join_sql) =~ s/;$//;
		return ($set[ $i % 3 ], $st->($join_sql), $q);
	}
	if ($path eq 'parallel')
	{
		my $set = "SET LOCAL $force_parallel = on;\nSET LOCAL parallel_setup_cost = 0;\nSET LOCAL parallel_tuple_cost = 0;\n"
		  . "SET LOCAL min_parallel_table_scan_size = 0;\nSET LOCAL min_parallel_index_scan_size = 0;\n"
		  . "SET LOCAL max_parallel_workers_per_gather = 2;\n";
		# a parallel sequential scan, with the leader only gathering; or a
		# (parallel) bitmap heap scan on the GIN index
		$set .= $i % 2 ? "SET LOCAL enable_seqscan = off;\n"
		  : "SET LOCAL enable_bitmapscan = off;\nSET LOCAL enable_indexscan = off;\nSET LOCAL parallel_leader_participation = off;\n";
		return ($set, $st->('SELECT id FROM public.events;'), 'SELECT id FROM public.events');
	}
	return ("SET LOCAL enable_seqscan = off;\n", $st->('SELECT id FROM public.events;'), 'SELECT id FROM public.events')
	  if $path eq 'index';
	if ($path eq 'saved')
	{
		# the result's rows, or a row saying what is wrong with its shape
		return ('', $st->("SELECT CASE WHEN jsonb_typeof(r->'refreshed_at') = 'null' THEN e->>'id'"
				  . " ELSE 'refreshed_at is ' || (r->'refreshed_at')::text END"
				  . " FROM (SELECT access_key.ak_saved_query_result('$saved_name') AS r) AS s,"
				  . " jsonb_array_elements(r->'result') AS e;"), undef);
	}
	return ('', $st->('SELECT id FROM public.events;'), undef) if $path eq 'switch' || $path eq 'savepoint';
	if ($path eq 'leak')
	{
		return ("TRUNCATE pg_temp.oracle_leaked;\n",
			$st->('SELECT count(*) AS leak_rows FROM public.events WHERE public.oracle_leak(id) \gset',
				'SELECT id FROM pg_temp.oracle_leaked;'),
			'SELECT count(*) FROM public.events WHERE public.oracle_leak(id)');
	}
	die "unknown path $path";
}

# Runs every key through the given paths in one application session.
# Returns {path => {key index => [rows]}} and {path => [EXPLAIN texts]}.
sub run_paths
{
	my ($w, $db, $tokens, $paths, $explain_keys) = @_;
	my $sql = "SET plan_cache_mode = force_generic_plan;\nCREATE TEMP TABLE oracle_leaked (id bigint);\n"
	  . "PREPARE oracle_prep(bigint) AS SELECT id FROM public.events WHERE id <> \$1;\n";
	my @order = 0 .. $#{ $w->{keys} };
	my %copy_line;
	for my $pi (0 .. $#$paths)
	{
		my $path = $paths->[$pi];
		# each path visits the keys in its own order
		my @ks = map { $order[ ($_ * 7 + $pi * 13) % @order ] } 0 .. $#order;
		@ks = @order if @order % 7 == 0;
		my $n = 0;
		for my $k (@ks)
		{
			my ($set, $query, $explain) = path_sql($path, $k);
			my $how = ($k + $pi) % 4;
			my $reads = grep { $_ eq 'queries' } @{ $w->{keys}[$k]{permitted} };
			# the other key is the next one that may read (one that may not would abort the transaction)
			my ($o) = grep { my $j = $_; grep { $_ eq 'queries' } @{ $w->{keys}[$j]{permitted} } }
			  map { ($k + $_) % @$tokens } 1 .. scalar @$tokens;
			my $other = $tokens->[ $o // $k ];
			$sql .= "BEGIN;\n";
			if ($path eq 'switch')
			{
				# another key first, in the same transaction: its rows are read, then replaced
				$sql .= present($other, ($k + 1) % 3) . "SELECT count(*) AS other_rows FROM public.events \\gset\n";
			}
			$sql .= present($tokens->[$k], $how);
			if ($path eq 'savepoint')
			{
				# another key inside a savepoint that is rolled back: the first key is back
				$sql .= "SAVEPOINT oracle_sp;\n" . present($other, $k % 3)
				  . "SELECT count(*) AS other_rows FROM public.events \\gset\nROLLBACK TO SAVEPOINT oracle_sp;\n";
			}
			$sql .= $set;
			if ($explain && $reads && $n++ < $explain_keys)
			{
				my $opts = $path eq 'parallel' ? 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF' : 'COSTS OFF';
				$sql .= "\\echo \@\@explain $path $k\nEXPLAIN ($opts) $explain;\n\\echo \@\@end\n";
			}
			# the COPY statement's line: after the block's marker and the VERBOSITY setting
			$copy_line{ ($sql =~ tr/\n//) + 3 } = $k if $path eq 'copy';
			$sql .= "\\echo \@\@ $path $k\n$query\\echo \@\@end\nCOMMIT;\n";
			$sql .= "RESET access_key.key;\n" if $how == 3;
		}
	}
	# Without ON_ERROR_STOP: a refusal is recorded by the statement's SQLSTATE,
	# and the transaction it aborted ends with the COMMIT (a rollback).
	my ($out, $err) = run_sql($db, $sql, 'oracle_app', 0);
	my (%seen, %plans, @junk);
	my ($block, $cur);
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^\@\@(explain)? (\w+) (\d+)$/)
		{
			$block = { rows => [], state => '00000' };
			$cur = $block->{rows};
			if ($1) { push @{ $plans{$2} }, $cur; }
			else { $seen{$2}{$3} = $block; }
			next;
		}
		if ($line eq '@@end') { undef $cur; next; }
		if ($cur && $line =~ /^\@\@sqlstate (\w+)$/)
		{
			$block->{state} = $1 if $block->{state} eq '00000';    # the first refusal counts
			next;
		}
		if ($cur) { push @$cur, $line; }
		else { push @junk, $line; }
	}
	while ($err =~ /^psql:<stdin>:(\d+): ERROR:\s+([0-9A-Z]{5})$/mg)
	{
		my ($line, $state) = ($1, $2);
		next unless exists $copy_line{$line} && $seen{copy}{ $copy_line{$line} };
		my $blk = $seen{copy}{ $copy_line{$line} };
		$blk->{state} = $state if $blk->{state} eq '00000';
	}
	$seen{_stderr} = $err;
	die "unexpected output outside the markers:\n" . join("\n", @junk[ 0 .. ($#junk > 9 ? 9 : $#junk) ]) if @junk;
	if ($inject eq 'path' && $seen{cursor})    # a planted fault: the cursor loses the largest id
	{
		for my $blk (values %{ $seen{cursor} })
		{
			my @s = sort { $a <=> $b } @{ $blk->{rows} };
			pop @s if @s >= 3;
			@{ $blk->{rows} } = @s;
		}
	}
	return (\%seen, { map { $_ => [ map { join("\n", @$_) } @{ $plans{$_} } ] } keys %plans });
}

###########################################################################
# The oracle's answers, and comparison
###########################################################################

# Expected rows of one path for one key, as a set of output lines.
sub expected_rows
{
	my ($w, $path, $k) = @_;
	my $kind = $path eq 'saved' || $path eq 'join' ? $path : 'events';
	return $w->{cache}{$kind}{$k} //= compute_expected($w, $kind, $k);
}

sub compute_expected
{
	my ($w, $path, $k) = @_;
	my $key = $w->{keys}[$k];
	my %exp;
	if ($path eq 'saved')
	{
		return { error => '42501' } unless key_permits_saved($key, $saved_name);
		for my $e (@{ $w->{events} }) { $exp{ $e->{id} } = 1 if visible($key, $e->{flat}, 'saved_queries'); }
		return \%exp;
	}
	if (!grep { $_ eq 'queries' } @{ $key->{permitted} })
	{
		# refused at the first row the scan examines; a table with no row to
		# examine (only in shrunk worlds) may also give no rows
		my $rows = $path eq 'join' ? $w->{notes} : $w->{events};
		return { error => '42501', lenient => !grep { defined $_->{props} } @$rows };
	}
	my %ev = map { $_->{id} => visible($key, $_->{flat}, 'queries') } @{ $w->{events} };
	if ($path eq 'join')
	{
		for my $n (@{ $w->{notes} })
		{
			next unless visible($key, $n->{flat}, 'queries');
			$exp{ "$n->{id}|" . ($ev{ $n->{event_id} } ? $n->{event_id} : '') } = 1;
		}
		return \%exp;
	}
	$ev{$_} and $exp{$_} = 1 for keys %ev;
	return \%exp;
}

# Differences of one path for one key: [row, expected, got] with rows named
# "event N", "note N" (join) or "access" (a refusal expected or seen).
sub differences
{
	my ($w, $path, $k, $block) = @_;
	my $exp = expected_rows($w, $path, $k);
	my ($rows, $state) = ($block->{rows}, $block->{state});
	my %got;
	my @diff;
	if ($exp->{error})
	{
		return [] if $state eq $exp->{error} || ($exp->{lenient} && $state eq '00000' && !@$rows);
		return [ [ 'access', "error $exp->{error}", $state eq '00000' ? scalar(@$rows) . ' rows' : "error $state" ] ];
	}
	return [ [ 'access', 'rows', "error $state" ] ] if $state ne '00000';
	for my $r (@$rows)
	{
		push @diff, [ "duplicate row $r", 'once', 'twice' ] if $got{$r}++;
	}
	if ($path eq 'join')
	{
		my (%e, %g);
		for (keys %$exp) { my ($n, $ev) = split /\|/, $_, -1; $e{$n} = $ev; }
		for (keys %got) { my ($n, $ev) = split /\|/, $_, -1; $g{$n} = $ev; }
		for my $n (sort { $a <=> $b } keys %{ { %e, %g } })
		{
			my ($x, $y) = ($e{$n}, $g{$n});
			next if defined $x && defined $y && $x eq $y;
			push @diff, [ "note $n", defined $x ? "visible, event '$x'" : 'hidden', defined $y ? "visible, event '$y'" : 'hidden' ];
		}
		return \@diff;
	}
	for my $id (sort { $a <=> $b } keys %{ { %$exp, %got } })
	{
		push @diff, [ "event $id", $exp->{$id} ? 'visible' : 'hidden', $got{$id} ? 'visible' : 'hidden' ]
		  if !$exp->{$id} != !$got{$id};
	}
	return \@diff;
}

###########################################################################
# Shrinking a disagreement to a minimal reproduction
###########################################################################

# Every way to make a filter list one step smaller: drop a filter, replace an
# "or" by one of its operands, or shrink an "or"'s operands.
sub filter_list_variants
{
	my ($list) = @_;
	my @v;
	for my $i (0 .. $#$list)
	{
		push @v, [ @{$list}[ grep { $_ != $i } 0 .. $#$list ] ];
	}
	for my $i (0 .. $#$list)
	{
		my $f = $list->[$i];
		next unless $f->{op} eq 'or';
		for my $o (@{ $f->{operands} })
		{
			my @l = @$list;
			$l[$i] = $o;
			push @v, \@l;
		}
		for my $ops (filter_list_variants($f->{operands}))
		{
			next unless @$ops;
			my @l = @$list;
			$l[$i] = { op => 'or', operands => $ops };
			push @v, \@l;
		}
	}
	return @v;
}

# Every way to make a JSON value one step smaller: drop an object member or
# array element, or shrink one of them.
sub value_variants
{
	my ($v) = @_;
	return () unless $v->[0] eq 'o' || $v->[0] eq 'a';
	my @items = @{ $v->[1] };
	my @out;
	for my $i (0 .. $#items)
	{
		push @out, [ $v->[0], [ @items[ grep { $_ != $i } 0 .. $#items ] ] ];
	}
	for my $i (0 .. $#items)
	{
		my $inner = $v->[0] eq 'o' ? $items[$i][1] : $items[$i];
		for my $s (value_variants($inner))
		{
			my @c = @items;
			$c[$i] = $v->[0] eq 'o' ? [ $items[$i][0], $s ] : $s;
			push @out, [ $v->[0], \@c ];
		}
	}
	return @out;
}

# A key that keeps only what the context needs, with the given filters.
sub key_with_filters
{
	my ($key, $context, $filters) = @_;
	my $k = dclone($key);
	if ($context eq 'queries')
	{
		$k->{qfilters} = $filters;
		$k->{qstyle} = 'filters';
		delete $k->{saved};
		$k->{permitted} = [ grep { $_ eq 'queries' } @{ $k->{permitted} } ];
	}
	else
	{
		$k->{saved}{filters} = $filters;
		delete $k->{saved}{$_} for qw(allowed blocked);
		$k->{qfilters} = [];
		$k->{qstyle} = 'absent';
		$k->{permitted} = [ grep { $_ eq 'saved_queries' } @{ $k->{permitted} } ];
	}
	return $k;
}

my $pure_db;

# ak_apply_filters(definition, properties, context) for many cases in one
# session: the extension's pure verdict, used only to shrink and report.
sub pure_verdicts
{
	my ($cases) = @_;
	$pure_db //= do { my $d = 'oracle_pure'; $node->safe_psql('postgres', "CREATE DATABASE $d");
		$node->safe_psql($d, 'CREATE EXTENSION access_key'); $d };
	my $sql = '';
	for my $i (0 .. $#$cases)
	{
		my ($key, $props, $context) = @{ $cases->[$i] };
		my $p = defined $props ? dollar(to_json($props)) . '::jsonb' : 'NULL::jsonb';
		$sql .= "SELECT '$i|' || coalesce(access_key.ak_apply_filters(" . dollar(key_json($key)) . "::access_key.access_key, $p, '$context')::text, 'null');\n";
	}
	my %v;
	for (split /\n/, run_sql($pure_db, $sql)) { $v{$1} = $2 if /^(\d+)\|(\w+)$/; }
	return [ map { $v{$_} // 'error' } 0 .. $#$cases ];
}

sub oracle_verdict
{
	my ($key, $props, $context) = @_;
	return visible($key, defined $props ? flatten($props) : undef, $context) ? 'true' : 'false';
}

# Shrinks a (key, properties) pair on which ak_apply_filters and the oracle
# disagree, one batch of one-step-smaller candidates per round.
sub shrink_pure
{
	my ($key, $props, $context) = @_;
	my $filters = $context eq 'queries' ? $key->{qfilters} : ($key->{saved}{filters} // []);
	my $state = [ key_with_filters($key, $context, $filters), $props ];
	my $disagree = sub { my ($s, $v) = @_; return oracle_verdict($s->[0], $s->[1], $context) ne $v; };
	my $v = pure_verdicts([ [ @$state, $context ] ])->[0];
	return undef unless $disagree->($state, $v);
	for my $round (1 .. 60)
	{
		my $fl = $context eq 'queries' ? $state->[0]{qfilters} : $state->[0]{saved}{filters};
		my @cands = map { [ key_with_filters($state->[0], $context, $_), $state->[1] ] } filter_list_variants($fl);
		push @cands, map { [ $state->[0], $_ ] } value_variants($state->[1]) if defined $state->[1];
		last unless @cands;
		my $vs = pure_verdicts([ map { [ @$_, $context ] } @cands ]);
		my ($i) = grep { $vs->[$_] ne 'error' && $disagree->($cands[$_], $vs->[$_]) } 0 .. $#cands;
		last unless defined $i;
		$state = $cands[$i];
	}
	my $final = pure_verdicts([ [ @$state, $context ] ])->[0];
	return { key => $state->[0], props => $state->[1], context => $context,
		oracle => oracle_verdict($state->[0], $state->[1], $context), extension => $final };
}

# Whether a world still shows a difference on the path (for path-level shrinking).
sub path_fails
{
	my ($w, $path) = @_;
	AccessKeyOracle::index_world($w);
	$w->{cache} = {};
	my $db = 'oracle_repro_' . ++$db_counter;
	my $tokens = materialize($w, $db);
	my ($seen) = run_paths($w, $db, $tokens, [$path], 0);
	$node->safe_psql('postgres', qq{DROP DATABASE "$db"});
	my @d;
	for my $k (0 .. $#{ $w->{keys} })
	{
		push @d, map { [ $k, @$_ ] } @{ differences($w, $path, $k, $seen->{$path}{$k} // { rows => [], state => 'missing' }) };
	}
	return @d ? \@d : undef;
}

# Shrinks a path-level disagreement (the pure evaluator agrees with the
# oracle): fewer keys, fewer rows, fewer filters, each step rerun on a fresh
# database, in rounds until nothing more can go (or the budget is spent).
sub shrink_path
{
	my ($path, $k, $diff) = @_;
	my $budget = 120;
	my $w = { tenants => $world->{tenants}, events => dclone($world->{events}), notes => dclone($world->{notes}),
		keys => [ dclone($world->{keys}[$k]) ] };
	my $d;
	my $try = sub {
		my ($cand) = @_;
		return 0 if $budget-- <= 0;
		my $r = path_fails($cand, $path) or return 0;
		($w, $d) = ($cand, $r);
		return 1;
	};
	unless ($try->($w))
	{
		# needs other keys to show (a cache or plan shared between keys)
		$w = { tenants => $world->{tenants}, events => dclone($world->{events}), notes => dclone($world->{notes}),
			keys => dclone($world->{keys}) };
		$try->($w) or return { world => $w, diffs => [ map { [ $k, @$_ ] } @$diff ], note => 'not reproduced on a fresh database' };
	}
	# keeps the given events and notes, and the events those notes reference
	my $keep_rows = sub {
		my ($ev, $nt) = @_;
		my %e = map { $_ => 1 } @$ev;
		my %n = map { $_ => 1 } @$nt;
		$e{ $_->{event_id} } = 1 for grep { $n{ $_->{id} } } @{ $w->{notes} };
		return { %$w, events => [ grep { $e{ $_->{id} } } @{ $w->{events} } ],
			notes => [ grep { $n{ $_->{id} } } @{ $w->{notes} } ] };
	};
	$try->({ %$w, notes => [] }) if @{ $w->{notes} };
	my @ev = map { /^event (\d+)/ ? $1 : () } map { $_->[1] } @$d;
	my @nt = map { /^note (\d+)/ ? $1 : () } map { $_->[1] } @$d;
	$try->($keep_rows->(\@ev, \@nt)) if @ev + @nt;
	my $context = $path eq 'saved' ? 'saved_queries' : 'queries';
	for my $round (1 .. 20)
	{
		my $before = $budget;
		my $progress = 0;
		# halves of the rows
		my @e = map { $_->{id} } @{ $w->{events} };
		my @n = map { $_->{id} } @{ $w->{notes} };
		if (@e + @n > 8)
		{
			for my $half (0, 1)
			{
				my @ke = $half ? @e[ int(@e / 2) .. $#e ] : @e[ 0 .. int(@e / 2) - 1 ];
				my @kn = $half ? @n[ int(@n / 2) .. $#n ] : @n[ 0 .. int(@n / 2) - 1 ];
				if ($try->($keep_rows->(\@ke, \@kn))) { $progress = 1; last; }
			}
		}
		# one filter step of the one key
		if (!$progress && @{ $w->{keys} } == 1)
		{
			my $key = $w->{keys}[0];
			my $fl = $context eq 'queries' ? $key->{qfilters} : ($key->{saved}{filters} // []);
			for my $v (filter_list_variants($fl))
			{
				my $nk = dclone($key);
				if ($context eq 'queries') { $nk->{qfilters} = $v; $nk->{qstyle} = 'filters'; }
				else { $nk->{saved}{filters} = $v; }
				if ($try->({ %$w, keys => [$nk] })) { $progress = 1; last; }
			}
		}
		# single rows, when few are left
		if (!$progress && @{ $w->{events} } + @{ $w->{notes} } <= 40)
		{
			for my $kind ('notes', 'events')
			{
				for my $row (reverse @{ $w->{$kind} })
				{
					my $cand = { %$w, $kind => [ grep { $_ != $row } @{ $w->{$kind} } ] };
					# notes of a dropped event go too
					$cand->{notes} = [ grep { $_->{event_id} != $row->{id} } @{ $w->{notes} } ] if $kind eq 'events';
					$progress = 1 if $try->($cand);
				}
			}
		}
		# the key's other sections and permissions
		if (!$progress && @{ $w->{keys} } == 1)
		{
			my $key = $w->{keys}[0];
			my @cands;
			if ($context eq 'queries' && $key->{saved}) { my $nk = dclone($key); delete $nk->{saved}; push @cands, $nk; }
			if ($context ne 'queries' && @{ $key->{qfilters} // [] }) { my $nk = dclone($key); $nk->{qfilters} = []; push @cands, $nk; }
			for my $p (@{ $key->{permitted} })
			{
				next if $p eq $context;
				my $nk = dclone($key);
				$nk->{permitted} = [ grep { $_ ne $p } @{ $key->{permitted} } ];
				push @cands, $nk;
			}
			for my $nk (@cands) { if ($try->({ %$w, keys => [$nk] })) { $progress = 1; last; } }
		}
		# properties, when few rows are left: empty them, or drop one member
		if (!$progress && @{ $w->{events} } + @{ $w->{notes} } <= 6)
		{
			ROW: for my $kind ('events', 'notes')
			{
				for my $i (0 .. $#{ $w->{$kind} })
				{
					my $row = $w->{$kind}[$i];
					next unless defined $row->{props} && $row->{props}[0] eq 'o' && @{ $row->{props}[1] };
					my @members = @{ $row->{props}[1] };
					for my $props (['o', []], map { my $j = $_; [ 'o', [ @members[ grep { $_ != $j } 0 .. $#members ] ] ] } 0 .. $#members)
					{
						my @rows = @{ $w->{$kind} };
						$rows[$i] = { %$row, props => $props };
						if ($try->({ %$w, $kind => \@rows })) { $progress = 1; last ROW; }
					}
				}
			}
		}
		last unless $progress;
	}
	return { world => $w, diffs => $d, ($budget <= 0 ? (note => 'shrinking stopped at its budget') : ()) };
}

sub describe_world
{
	my ($w) = @_;
	my $s = '';
	for my $i (0 .. $#{ $w->{keys} }) { $s .= "  key $i: " . key_json($w->{keys}[$i]) . "\n"; }
	for my $e (@{ $w->{events} }) { $s .= "  event $e->{id}: " . (defined $e->{props} ? to_json($e->{props}) : 'SQL NULL') . "\n"; }
	for my $n (@{ $w->{notes} })
	{
		$s .= "  note $n->{id} (event $n->{event_id}): " . (defined $n->{props} ? to_json($n->{props}) : 'SQL NULL') . "\n";
	}
	return $s;
}

# Explains every difference found: evaluator-level ones shrunk with the pure
# function, then the first path-level one shrunk by rerunning the path.
sub investigate
{
	my ($diffs) = @_;
	my %events = map { $_->{id} => $_ } @{ $world->{events} };
	my %notes = map { $_->{id} => $_ } @{ $world->{notes} };
	my (@cases, %case_seen);
	for my $d (@$diffs)
	{
		my ($path, $k, $row) = @$d;
		my $context = $path eq 'saved' ? 'saved_queries' : 'queries';
		my @rows;
		push @rows, [ 'event', $events{$1} ] if $row =~ /^event (\d+)$/;
		push @rows, [ 'note', $notes{$1} ], [ 'event', $events{ $notes{$1}{event_id} } ] if $row =~ /^note (\d+)$/;
		for my $tr (@rows)
		{
			my ($type, $r) = @$tr;
			next if $case_seen{"$k|$type $r->{id}|$context"}++;
			push @cases, [ $world->{keys}[$k], $r->{props}, $context, $k, "$type $r->{id}", $path ];
		}
		last if @cases >= 40;
	}
	my $vs = @cases ? pure_verdicts([ map { [ @{$_}[ 0 .. 2 ] ] } @cases ]) : [];
	my (@reports, %shrunk);
	for my $i (0 .. $#cases)
	{
		my ($key, $props, $context, $k, $row, $path) = @{ $cases[$i] };
		next if oracle_verdict($key, $props, $context) eq $vs->[$i];
		my $r = shrink_pure($key, $props, $context) or next;
		my $sig = key_json($r->{key});
		next if $shrunk{$sig}++;
		push @reports, "EVALUATOR disagreement (seen on path $path, key $k, $row); minimal reproduction:\n"
		  . "  key definition: " . key_json($r->{key}) . "\n"
		  . "  event properties: " . (defined $r->{props} ? to_json($r->{props}) : 'SQL NULL') . "\n"
		  . "  context: $r->{context}\n"
		  . "  oracle: $r->{oracle}   extension (ak_apply_filters): $r->{extension}\n"
		  . "  SELECT access_key.ak_apply_filters(" . dollar(key_json($r->{key})) . "::access_key.access_key, "
		  . (defined $r->{props} ? dollar(to_json($r->{props})) : 'NULL') . "::jsonb, '$r->{context}');\n";
		last if @reports >= 5;
	}
	if (!@reports && @$diffs)
	{
		my ($path, $k) = @{ $diffs->[0] };
		my @same = map { [ @{$_}[ 2 .. 4 ] ] } grep { $_->[0] eq $path && $_->[1] == $k } @$diffs;
		my $r = shrink_path($path, $k, \@same);
		push @reports, "PATH disagreement on path '$path' (the pure evaluator agrees with the oracle)"
		  . ($r->{note} ? " ($r->{note})" : '') . "; minimal reproduction:\n"
		  . "  path SQL (in one transaction per key, after presenting the key): "
		  . join(' ', map { s/\\echo [^\n]*\n//gr =~ s/\n/ /gr } grep { defined } (path_sql($path, 0))[ 0, 1 ]) . "\n"
		  . describe_world($r->{world})
		  . join('', map { "  key $_->[0], $_->[1]: oracle $_->[2], $path path $_->[3]\n" } @{ $r->{diffs} });
	}
	return @reports;
}

###########################################################################
# The run
###########################################################################

$t0 = time;
my $tokens = materialize($world, 'oracle');
my $t_setup = time - $t0;

$t0 = time;
my ($seen, $plans) = run_paths($world, 'oracle', $tokens, \@all_paths, 3);
my $t_run = time - $t0;

$t0 = time;
my (@diffs, %checks, %path_diffs);
my $E = @{ $world->{events} };
my $Nn = @{ $world->{notes} };
for my $path (@all_paths)
{
	for my $k (0 .. $#{ $world->{keys} })
	{
		my $block = $seen->{$path}{$k};
		if (!$block)
		{
			push @diffs, [ $path, $k, 'output', 'rows', 'nothing' ];
			next;
		}
		my $d = differences($world, $path, $k, $block);
		$checks{$path} += $path eq 'join' ? $Nn : $E;
		$path_diffs{$path} += @$d;
		push @diffs, map { [ $path, $k, @$_ ] } @$d;
	}
}
my $t_oracle = time - $t0;

# How often rows are visible, and how often each operator matches.
my ($vis, $svis, $nsaved, $empty, $full, $refused) = (0, 0, 0, 0, 0, 0);
my (%op_n, %op_hit);
$world->{keys}[$_]{index} = $_ for 0 .. $#{ $world->{keys} };
for my $key (@{ $world->{keys} })
{
	my $exp = expected_rows($world, 'plain', $key->{index});
	$refused++ if $exp->{error};
	my $c = $exp->{error} ? 0 : keys %$exp;
	$vis += $c;
	$empty++ if $c == 0;
	$full++ if $c == $E;
	if (key_permits_saved($key, $saved_name))
	{
		$nsaved++;
		$svis += keys %{ expected_rows($world, 'saved', $key->{index}) };
	}
	for my $f (@{ $key->{qfilters} }, @{ $key->{saved} ? $key->{saved}{filters} // [] : [] })
	{
		for my $e (@{ $world->{events} }[ 0 .. ($E > 500 ? 499 : $E - 1) ])
		{
			next unless $e->{flat};
			$op_n{ $f->{op} }++;
			$op_hit{ $f->{op} } += eval_filter($f, $e->{flat});
		}
	}
}
my $K = @{ $world->{keys} };
my $pairs = $E * $K;
my $total_checks = 0;
$total_checks += $_ for values %checks;
diag(sprintf('%d (event, key) pairs and %d (note, key) pairs; %d path checks over %d paths (%s)',
		$pairs, $Nn * $K, $total_checks, scalar @all_paths, join(', ', map { "$_ $checks{$_}" } @all_paths)));
diag(sprintf('mean visible fraction: queries %.3f (of %d keys, %d are refused for lack of "queries", %d others see nothing, '
		  . '%d see every event), saved query %.3f over the %d keys that may run it',
		$vis / $pairs, $K, $refused, $empty - $refused, $full, $nsaved ? $svis / ($nsaved * $E) : 0, $nsaved));
note('operator match rates over (event, filter): '
	  . join(', ', map { sprintf('%s %.2f', $_, $op_hit{$_} / $op_n{$_}) } sort keys %op_n));
diag(sprintf('timings: setup %.1fs, paths %.1fs, oracle %.1fs', $t_setup, $t_run, $t_oracle));

cmp_ok($pairs, '>=', 20000, 'at least 20,000 (event, key) pairs') unless $ENV{AK_ORACLE_CHECKS} || $ENV{AK_ORACLE_SCALE};
for my $path (@all_paths)
{
	is($path_diffs{$path} // 0, 0, "path $path: every key sees exactly the oracle's rows ($checks{$path} checks)");
}

# The plans did what the paths are for.
my $gather = grep { /Gather/ } @{ $plans->{parallel} // [] };
ok($gather, "forced parallel query planned a Gather ($gather of " . scalar(@{ $plans->{parallel} // [] }) . ' plans)');
my $launched = grep { /Parallel Seq Scan/ && /Workers Launched: [1-9]/ } @{ $plans->{parallel} // [] };
ok($launched, 'a parallel sequential scan ran in launched workers');
# An index condition from the key: the GIN prefilter, or a B-tree or hash condition on a filtered path
# compared with a value computed for the key that runs the plan.
my $key_cond = qr/Index Cond: .*(?:ak_index_prefilter|ak_filter_texts?|ak_filter_jsonbs?|ak_filter_text_(?:lower|upper))\(/;
my $indexed = grep { /$key_cond/ } @{ $plans->{index} // [] };
ok($indexed, 'with sequential scans off, an index condition from the key is used')
  or diag(join("\n---\n", @{ $plans->{index} // [] }));
my $generic = grep { /$key_cond/ } @{ $plans->{prepared} // [] };
ok($generic, 'the prepared statement\'s generic plan has an index condition from the key')
  or diag(join("\n---\n", @{ $plans->{prepared} // [] }));
note("plans for path $_:\n" . join("\n---\n", @{ $plans->{$_} })) for sort keys %$plans;

if (@diffs)
{
	diag(scalar(@diffs) . ' differences; the first ones:');
	diag("  path $_->[0], key $_->[1], $_->[2]: oracle $_->[3], extension $_->[4]") for @diffs[ 0 .. ($#diffs > 19 ? 19 : $#diffs) ];
	my %seen_err;
	my @errors = grep { /ERROR/ && !$seen_err{$_}++ } split /\n/, $seen->{_stderr} // '';
	udiag("errors the application session got (first distinct ones):\n", join("\n", @errors[ 0 .. ($#errors > 9 ? 9 : $#errors) ]))
	  if @errors;
	my @reports = investigate(\@diffs);
	udiag($_) for @reports;
	fail('the disagreements above have a minimal reproduction') unless @reports;
}

diag(sprintf('total %.1fs (seed %s)', time - $t_start, $seed));
$node->stop;
done_testing();
