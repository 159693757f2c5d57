
# Crash safety (SPEC §5, §9, §10, §13): the postmaster is killed with SIGKILL
# while sessions create, update, revoke, unrevoke and delete keys, refresh
# cached queries and a dataset, and change the tables those read.  After
# crash recovery every acknowledged change is there, no uncommitted one is,
# no stored result is half-written or from a state that never committed, and
# every surviving token still validates.
#
# How it avoids passing vacuously or flakily:
# - Each load client is a psql running a generated script.  It prints marker
#   lines on stderr (unbuffered): "B n" before BEGIN, "C n" just before
#   COMMIT, "A n" once COMMIT returned, "R n" after a deliberate ROLLBACK.
#   A transaction with "A" must be there after the crash; one with "C" but
#   no "A" is in doubt and may be there or not, but as a whole (a transaction
#   touching several keys is all there or all absent); anything else must be
#   absent.  A client only touches its own keys, so its history is a
#   sequence and the expected state of every key is exact.
# - Two sessions hold transactions open at the kill (key changes for the
#   whole round; table changes, saved-query and dataset changes and
#   refreshes just before the kill); they check inside the transaction that
#   their changes are made, and afterwards that none survived.
# - Cached results and datasets are self-checking: every row carries the
#   version of the source table it was computed from, and each committed
#   version's row count, sum and checksum are recorded in the same
#   transaction that made it.  A stored result must match its version
#   exactly, and its (refreshed_at, version) pair must be one that a
#   refreshing or updating transaction saw in its own writes just before
#   COMMIT.  One client keeps updating q3_groups between two variants while
#   two refresh it (and both refresh the dataset): the stored result must
#   always be the variant of the stored query.
# - Each round waits for a minimum number of acknowledged operations of each
#   kind before killing, checks in the server log that crash recovery ran,
#   and every load client must still have been running at the kill.
# - Rounds alternate how the server dies: the postmaster alone (its backends
#   notice and exit at their next wait, possibly after acknowledging a
#   COMMIT, which then must survive), or the postmaster and every backend at
#   once.
# - After each recovery: amcheck on the extension's tables, TOAST and
#   indexes (the key lookups read the primary key indexes directly); every
#   table is WAL-logged; no token outlives its key.  Tokens made before a
#   crash validate in new sessions after it, so nothing a token's hash
#   depends on lives only in memory.  Per-backend key caches die with their
#   sessions by design; at the end a session of the recovered server still
#   sees key changes at its next transaction (the invalidation triggers).
#
# scripts/run-tests tap:007_crash_recovery runs it (about 20 seconds);
# AK_CRASH_SEED=n picks other scripts and kill delays.
use strict;
use warnings;

use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;
use Time::HiRes qw(usleep time);

# The old server's processes are found through /proc (see server_pids).
plan skip_all => 'this test finds server processes through /proc/<pid>/cwd (Linux)'
  unless -r "/proc/$$/cwd";

# The scripts and the kill delays are drawn from this seed; timing still
# varies from run to run, which the checks allow for by construction.
my $seed = $ENV{AK_CRASH_SEED} // 7007;
srand($seed);
note "random seed $seed (AK_CRASH_SEED=n repeats another)";

# Each round kills the server one way; see the header.
my @rounds = ('postmaster', 'every process', 'postmaster');

# Minimum acknowledged work of each round before the kill.
my %minimum = (key_txns => 150, key_txns_per_client => 30, refreshes => 6, query_updates => 6,
	dataset_refreshes => 2, source_changes => 20, checkpoints => 1);

my $node = PostgreSQL::Test::Cluster->new('crash');
# Data checksums: a torn or garbled page fails to read instead of passing.
$node->init(extra => ['--data-checksums']);
$node->append_conf('postgresql.conf', q{
timezone = 'UTC'
log_statement = 'none'
max_connections = 40
# Vacuum the churned tables while the load runs, so crashes can hit it too.
autovacuum_naptime = 1s
autovacuum_vacuum_threshold = 50
autovacuum_vacuum_scale_factor = 0
autovacuum_analyze_threshold = 50
autovacuum_analyze_scale_factor = 0
});
$node->start;
my $datadir = abs_path($node->data_dir);
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $admin_connstr = $node->connstr('postgres') . ' user=regress_ak_admin';
my $psql_bin = $node->installed_command('psql');

# Runs SQL as a role; returns (exit code, stdout, stderr).
sub psql_as
{
	my ($role, $sql) = @_;
	return $node->psql('postgres', $sql,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1' ]);
}

# Runs SQL as a role and returns its output; dies on any error.
sub safe_psql_as
{
	my ($role, $sql) = @_;
	my ($ret, $stdout, $stderr) = psql_as($role, $sql);
	die "psql as $role failed: $stderr" if $ret != 0;
	return $stdout;
}

########################################################################
# Setup: an admin role (not a superuser) that owns the source tables and
# holds the admin functions, and an application role for keyed sessions.
########################################################################

$node->safe_psql('postgres', q{
    CREATE EXTENSION access_key;
    CREATE EXTENSION amcheck;
    CREATE ROLE regress_ak_admin LOGIN;
    CREATE ROLE regress_ak_app LOGIN;
    GRANT CREATE ON SCHEMA public TO regress_ak_admin;
    GRANT EXECUTE ON FUNCTION
        access_key.ak_create_key(access_key.access_key, timestamptz),
        access_key.ak_get_key(uuid),
        access_key.ak_list_keys(text),
        access_key.ak_update_key(uuid, access_key.access_key),
        access_key.ak_revoke_key(uuid),
        access_key.ak_unrevoke_key(uuid),
        access_key.ak_delete_key(uuid),
        access_key.ak_create_saved_query(text, text, interval),
        access_key.ak_update_saved_query(text, text, interval),
        access_key.ak_refresh_cached_queries(),
        access_key.ak_create_dataset(text, text, text[]),
        access_key.ak_refresh_dataset(text)
    TO regress_ak_admin;

    -- The definition a key of this test has for a name "c<client>-k<n>-v<version>"
    -- and an is_active: the test's clients write the same JSON literally.
    CREATE FUNCTION public.def_for(name text, active boolean) RETURNS access_key.access_key
        LANGUAGE sql IMMUTABLE AS $$
        SELECT (CASE WHEN substring(name FROM '-v([0-9]+)$')::integer % 2 = 0 THEN
            jsonb_build_object('name', name, 'is_active', active,
                'permitted', jsonb_build_array('queries', 'cached_queries'),
                'options', jsonb_build_object(
                    'queries', jsonb_build_object('filters', jsonb_build_array(f)),
                    'cached_queries', jsonb_build_object('allowed', jsonb_build_array('q2_rows', 'q3_groups'))))
        ELSE
            jsonb_build_object('name', name, 'is_active', active,
                'permitted', jsonb_build_array('writes', 'queries'),
                'options', jsonb_build_object(
                    'writes', jsonb_build_object('autofill', jsonb_build_object('customer',
                        jsonb_build_object('id', regexp_replace(name, '-v[0-9]+$', '')))),
                    'queries', jsonb_build_object('filters', jsonb_build_array(f))))
        END)::access_key.access_key
        FROM (SELECT jsonb_build_object('property_name', 'customer.id', 'operator', 'eq',
                                        'property_value', regexp_replace(name, '-v[0-9]+$', '')) AS f) AS x
    $$;

    -- Presents a token as the calling role, in the caller's transaction, and
    -- says what happened: "ok <id> <name> <permits queries>" or "<SQLSTATE> <detail>".
    CREATE FUNCTION public.try_token(token text) RETURNS text
        LANGUAGE plpgsql AS $$
    DECLARE
        kid uuid;
        why text;
    BEGIN
        kid := access_key.ak_use_key(token);
        IF access_key.ak_current_key_id() IS DISTINCT FROM kid THEN
            RETURN 'current key id differs';
        END IF;
        RETURN format('ok %s %s %s', kid, access_key.ak_current_key()::jsonb ->> 'name',
                      access_key.ak_permits('queries'));  -- t for every key of this test
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
        RETURN SQLSTATE || ' ' || why;
    END
    $$;
});

# The source of the cached queries and the dataset: rows whose values one
# session keeps moving around (their sum stays 0), deleting and adding rows.
# Every change bumps src_meta.version and records that version's row count,
# sum and checksum in src_history, in the same transaction.
safe_psql_as('regress_ak_admin', q{
    CREATE TABLE public.src (id integer PRIMARY KEY, grp integer NOT NULL, v bigint NOT NULL);
    CREATE TABLE public.src_meta (version integer NOT NULL);
    CREATE TABLE public.src_history (version integer PRIMARY KEY, n bigint NOT NULL,
                                     vsum bigint NOT NULL, checksum bigint NOT NULL);
    INSERT INTO public.src SELECT i, i % 17, 0 FROM generate_series(1, 1500) AS i;
    INSERT INTO public.src_meta VALUES (0);
    INSERT INTO public.src_history
        SELECT 0, count(*), sum(v), sum(hashtext(id || ':' || v)::bigint) FROM public.src;

    CREATE FUNCTION public.src_step(uncommitted_marker boolean DEFAULT false) RETURNS integer
        LANGUAGE plpgsql AS $$
    DECLARE
        ver integer;
        top integer;
        a integer;
        b integer;
        d bigint;
    BEGIN
        -- Serializes every writer of src: whoever holds this row owns the table.
        UPDATE public.src_meta SET version = version + 1 RETURNING version INTO ver;
        SELECT max(id) INTO top FROM public.src WHERE id < 1000000;
        FOR i IN 1 .. 6 LOOP
            SELECT id INTO a FROM public.src WHERE id >= floor(random() * top) ORDER BY id LIMIT 1;
            SELECT id INTO b FROM public.src WHERE id >= floor(random() * top) ORDER BY id LIMIT 1;
            d := floor(random() * 1000) + 1;
            UPDATE public.src SET v = v + d WHERE id = a;
            UPDATE public.src SET v = v - d WHERE id = b;
        END LOOP;
        IF random() < 0.5 THEN
            SELECT id INTO a FROM public.src WHERE id >= floor(random() * top) ORDER BY id LIMIT 1;
            SELECT id INTO b FROM public.src WHERE id >= floor(random() * top) AND id <> a ORDER BY id LIMIT 1;
            IF b IS NOT NULL THEN
                UPDATE public.src SET v = v + (SELECT s.v FROM public.src AS s WHERE s.id = a) WHERE id = b;
                DELETE FROM public.src WHERE id = a;
            END IF;
        END IF;
        IF random() < 0.5 THEN
            INSERT INTO public.src VALUES (top + 1, (top + 1) % 17, 0);
        END IF;
        IF uncommitted_marker THEN
            -- Rows that only a transaction that never commits adds.
            INSERT INTO public.src SELECT 1000000 + g, -1, 0 FROM generate_series(1, 50) AS g;
        END IF;
        INSERT INTO public.src_history
            SELECT ver, count(*), sum(v), sum(hashtext(id || ':' || v)::bigint) FROM public.src;
        RETURN ver;
    END
    $$;
});

# Cached queries (names sort in the order the refresh locks them; see the
# open transaction below) and datasets, all self-checking through "version".
my %saved_query = (
	q1_open => q{SELECT 'A' AS variant, count(*) AS n, max(m.version) AS version
                 FROM public.src AS s CROSS JOIN public.src_meta AS m},
	q2_rows => q{SELECT s.id, s.grp, s.v, md5(s.id || ':' || s.v) AS pad, m.version,
                        count(*) OVER () AS total, sum(s.v) OVER () AS vsum
                 FROM public.src AS s CROSS JOIN public.src_meta AS m ORDER BY s.id},
	q3_groups => q{SELECT 'A' AS variant, s.grp, count(*) AS n, sum(s.v) AS v,
                          sum(hashtext(s.id || ':' || s.v)::bigint) AS checksum, m.version
                   FROM public.src AS s CROSS JOIN public.src_meta AS m
                   GROUP BY s.grp, m.version ORDER BY s.grp});
my %refresh_rate = (q1_open => '1 year', q2_rows => '1 microsecond', q3_groups => '1 microsecond');
my $q1_variant_b = $saved_query{q1_open} =~ s/'A' AS variant/'B' AS variant/r;
my %q3_variant = map { $_ => $saved_query{q3_groups} =~ s/'A' AS variant/'$_' AS variant/r } qw(A B);
my %dataset = (
	ds_grp => q{SELECT s.grp, s.id, s.v, m.version FROM public.src AS s CROSS JOIN public.src_meta AS m},
	ds_open => q{SELECT s.grp, count(*) AS n, m.version
                 FROM public.src AS s CROSS JOIN public.src_meta AS m GROUP BY s.grp, m.version});

# Dollar-quotes a string for SQL.
sub dq { return '$q$' . $_[0] . '$q$'; }

safe_psql_as('regress_ak_admin', join "\n",
	(map { "SELECT access_key.ak_create_saved_query('$_', @{[ dq($saved_query{$_}) ]}, '$refresh_rate{$_}');" }
	  sort keys %saved_query),
	(map { "SELECT access_key.ak_create_dataset('$_', @{[ dq($dataset{$_}) ]}, ARRAY['grp']);" }
	  sort keys %dataset),
	'SELECT access_key.ak_refresh_cached_queries();',
	"SELECT access_key.ak_refresh_dataset('ds_grp');",
	"SELECT access_key.ak_refresh_dataset('ds_open');");

# What checks a stored q2_rows result: "" when it is exactly the rows of the
# committed version it names, else what is wrong.
$node->safe_psql('postgres', q{
    CREATE FUNCTION public.rows_problems(result jsonb) RETURNS text
        LANGUAGE sql STABLE AS $$
        WITH agg AS (
            SELECT count(*) AS len, count(DISTINCT e ->> 'version') AS versions,
                   min((e ->> 'version')::integer) AS version,
                   count(*) FILTER (WHERE (e ->> 'total')::bigint <> jsonb_array_length(result)) AS bad_total,
                   count(*) FILTER (WHERE e ->> 'pad' IS DISTINCT FROM md5((e ->> 'id') || ':' || (e ->> 'v'))) AS bad_pad,
                   count(DISTINCT e ->> 'id') AS ids,
                   sum((e ->> 'v')::bigint) AS vsum,
                   count(DISTINCT e ->> 'vsum') AS vsums, min((e ->> 'vsum')::bigint) AS embedded_vsum,
                   sum(hashtext((e ->> 'id') || ':' || (e ->> 'v'))::bigint) AS checksum,
                   count(*) FILTER (WHERE (e ->> 'id')::integer >= 1000000 OR (e ->> 'grp')::integer < 0) AS markers
            FROM jsonb_array_elements(result) AS e)
        SELECT concat_ws(', ',
            CASE WHEN result IS NULL THEN 'no result' END,
            CASE WHEN a.versions <> 1 THEN a.versions || ' versions' END,
            CASE WHEN h.version IS NULL THEN 'version ' || a.version || ' never committed' END,
            CASE WHEN a.len <> h.n OR a.ids <> h.n THEN a.len || ' rows, ' || a.ids || ' ids, committed ' || h.n END,
            CASE WHEN a.bad_total > 0 THEN a.bad_total || ' rows with a wrong total' END,
            CASE WHEN a.bad_pad > 0 THEN a.bad_pad || ' rows with a wrong pad' END,
            CASE WHEN a.vsum <> h.vsum OR a.vsums <> 1 OR a.embedded_vsum <> a.vsum THEN 'sums differ' END,
            CASE WHEN a.checksum <> h.checksum THEN 'checksum differs' END,
            CASE WHEN a.markers > 0 THEN a.markers || ' uncommitted rows' END)
        FROM agg AS a LEFT JOIN public.src_history AS h ON h.version = a.version
    $$;

    -- The same for q3_groups (per group sums) and for ds_grp (rows stored
    -- per group in access_key.dataset_results).
    CREATE FUNCTION public.groups_problems(result jsonb) RETURNS text
        LANGUAGE sql STABLE AS $$
        WITH agg AS (
            SELECT count(DISTINCT e ->> 'version') AS versions, min((e ->> 'version')::integer) AS version,
                   sum((e ->> 'n')::bigint) AS n, sum((e ->> 'v')::bigint) AS vsum,
                   sum((e ->> 'checksum')::bigint) AS checksum,
                   count(*) FILTER (WHERE (e ->> 'grp')::integer < 0) AS markers
            FROM jsonb_array_elements(result) AS e)
        SELECT concat_ws(', ',
            CASE WHEN result IS NULL THEN 'no result' END,
            CASE WHEN a.versions <> 1 THEN a.versions || ' versions' END,
            CASE WHEN h.version IS NULL THEN 'version ' || a.version || ' never committed' END,
            CASE WHEN a.n <> h.n THEN a.n || ' rows counted, committed ' || h.n END,
            CASE WHEN a.vsum <> h.vsum THEN 'sums differ' END,
            CASE WHEN a.checksum <> h.checksum THEN 'checksum differs' END,
            CASE WHEN a.markers > 0 THEN 'an uncommitted group' END)
        FROM agg AS a LEFT JOIN public.src_history AS h ON h.version = a.version
    $$;

    CREATE FUNCTION public.dataset_problems() RETURNS text
        LANGUAGE sql STABLE AS $$
        WITH agg AS (
            SELECT count(*) AS len, count(DISTINCT e ->> 'version') AS versions,
                   min((e ->> 'version')::integer) AS version, count(DISTINCT e ->> 'id') AS ids,
                   sum((e ->> 'v')::bigint) AS vsum,
                   sum(hashtext((e ->> 'id') || ':' || (e ->> 'v'))::bigint) AS checksum,
                   count(*) FILTER (WHERE (e ->> 'grp') IS DISTINCT FROM (r.index_values ->> 'grp')) AS misfiled,
                   count(*) FILTER (WHERE (e ->> 'grp')::integer < 0) AS markers
            FROM access_key.dataset_results AS r, jsonb_array_elements(r.rows) AS e
            WHERE r.dataset = 'ds_grp')
        SELECT concat_ws(', ',
            CASE WHEN a.len = 0 THEN 'no rows' END,
            CASE WHEN a.versions <> 1 THEN a.versions || ' versions' END,
            CASE WHEN h.version IS NULL THEN 'version ' || a.version || ' never committed' END,
            CASE WHEN a.len <> h.n OR a.ids <> h.n THEN a.len || ' rows, ' || a.ids || ' ids, committed ' || h.n END,
            CASE WHEN a.vsum <> h.vsum THEN 'sums differ' END,
            CASE WHEN a.checksum <> h.checksum THEN 'checksum differs' END,
            CASE WHEN a.misfiled > 0 THEN a.misfiled || ' rows under the wrong group' END,
            CASE WHEN a.markers > 0 THEN a.markers || ' uncommitted rows' END)
        FROM agg AS a LEFT JOIN public.src_history AS h ON h.version = a.version
    $$;
});

# The (refreshed_at, version) pair of each stored result, as an admin reads
# it: "<refreshed_at>@<version>".  The load's refreshers print the same.
my $pairs_sql = q{
    SELECT string_agg(q.name || '=' || (r ->> 'refreshed_at') || '@' || coalesce(r -> 'result' -> 0 ->> 'version', 'none'),
                      ',' ORDER BY q.name) AS pairs
    FROM unnest(ARRAY['q2_rows', 'q3_groups']) AS q(name), access_key.ak_saved_query_result(q.name) AS r};
my $dataset_pair_sql = q{
    SELECT (d ->> 'refreshed_at') || '@' || coalesce((
        SELECT r -> 'result' -> 0 ->> 'version'
        FROM generate_series(0, 16) AS g, access_key.ak_dataset_results('ds_grp', jsonb_build_object('grp', g)) AS r
        WHERE jsonb_array_length(r -> 'result') > 0 LIMIT 1), 'none') AS pair
    FROM access_key.ak_dataset_definition('ds_grp') AS d};

# What must never change in a committed saved query or dataset row except
# through a committed refresh: everything but result/refreshed_at of the
# ones the load refreshes, and everything of q1_open and ds_open.
my $stored_definitions_sql = q{
    SELECT string_agg(format('%s|%s|%s|%s|%s|%s', name,
                             CASE WHEN name = 'q3_groups' THEN 'variant A or B' ELSE md5(query) END,
                             refresh_rate, owner::text, CASE WHEN name <> 'q3_groups' THEN updated_at END,
                             CASE WHEN name = 'q1_open' THEN md5(result::text) || '|' || refreshed_at END),
                      E'\n' ORDER BY name) FROM access_key.saved_queries};
my $dataset_definitions_sql = q{
    SELECT string_agg(format('%s|%s|%s|%s|%s', d.name, md5(d.query), d.index_by, d.updated_at,
                             CASE WHEN d.name = 'ds_open' THEN d.refreshed_at || '|' ||
                                 (SELECT md5(string_agg(r.index_values::text || r.rows::text, ',' ORDER BY r.index_values::text))
                                  FROM access_key.dataset_results AS r WHERE r.dataset = d.name) END),
                      E'\n' ORDER BY d.name) FROM access_key.datasets AS d};
my $stored_definitions = $node->safe_psql('postgres', $stored_definitions_sql);
my $dataset_definitions = $node->safe_psql('postgres', $dataset_definitions_sql);
is($node->safe_psql('postgres', q{
    SELECT public.rows_problems(result) FROM access_key.saved_queries WHERE name = 'q2_rows'
    UNION ALL SELECT public.groups_problems(result) FROM access_key.saved_queries WHERE name = 'q3_groups'
    UNION ALL SELECT public.dataset_problems()}), "\n\n",
	'the self-checks accept the results computed at setup');
cmp_ok($node->safe_psql('postgres', q{
    SELECT pg_column_size(result) FROM access_key.saved_queries WHERE name = 'q2_rows'}), '>', 32768,
	'the q2_rows result is large enough to span many TOAST chunks');

########################################################################
# The model of the keys: what must be in access_key.keys.
########################################################################

# "client:n" => {client, idx, id, token, ver, active, exists, expires}
my %key;
my %next_idx;
# Keys created only by the open transactions, which never commit.
my @ghosts;

sub key_name { my ($k, $ver) = @_; return "c$k->{client}-k$k->{idx}-v" . ($ver // $k->{ver}); }

# The definition the clients write, as literal JSON (public.def_for builds the same).
sub def_json
{
	my ($client, $idx, $ver, $active) = @_;
	my $customer = "c$client-k$idx";
	my $name = "$customer-v$ver";
	my $is_active = $active ? 'true' : 'false';
	my $filter = qq({"property_name": "customer.id", "operator": "eq", "property_value": "$customer"});
	return $ver % 2 == 0
	  ? qq({"name": "$name", "is_active": $is_active, "permitted": ["queries", "cached_queries"], )
	  . qq("options": {"queries": {"filters": [$filter]}, "cached_queries": {"allowed": ["q2_rows", "q3_groups"]}}})
	  : qq({"name": "$name", "is_active": $is_active, "permitted": ["writes", "queries"], )
	  . qq("options": {"writes": {"autofill": {"customer": {"id": "$customer"}}}, "queries": {"filters": [$filter]}}});
}

sub state_of { my ($k) = @_; return { exists => $k->{exists}, ver => $k->{ver}, active => $k->{active} }; }

sub state_text
{
	my ($s) = @_;
	return 'absent' unless $s && $s->{exists};
	return "v$s->{ver} " . ($s->{active} ? 'active' : 'revoked');
}

# The script of one key client for one round: $ntx transactions of one to
# three key operations on the client's own keys, mostly committed, some
# rolled back.  Returns the script and, per transaction, the state of each
# key it touches before and after it.
sub key_client_script
{
	my ($client, $ntx) = @_;
	my %sim = map { $_ => { %{ $key{$_} } } } grep { $key{$_}{client} eq $client && $key{$_}{exists} } keys %key;
	# Every key the script knows, in a fixed order, to draw live ones from.
	my @order = sort keys %sim;
	my $live = @order;
	my (@txns, @sql);
	for my $t (1 .. $ntx)
	{
		my $end = rand() < 0.08 ? 'ROLLBACK' : 'COMMIT';
		my (%before, @ops);
		push @sql, "\\warn B $t", 'BEGIN;';
		for (1 .. (1, 1, 1, 1, 2, 2, 3)[ int rand 7 ])
		{
			my $r = rand();
			my $op = $live < 4 || $r < 0.3 ? 'create' : $r < 0.6 ? 'update' : $r < 0.82 ? 'toggle' : 'delete';
			if ($op eq 'create')
			{
				my $idx = $next_idx{$client}++;
				my $kk = "$client:$idx";
				my $k = $sim{$kk} = { client => $client, idx => $idx, var => "c${client}k$idx", ver => 0,
					active => (rand() < 0.9 ? 1 : 0), exists => 0, expires => (rand() < 0.2 ? 1 : 0) };
				push @order, $kk;
				$before{$kk} = state_of($k);
				$k->{exists} = 1;
				$live++;
				push @sql,
				  "SELECT id AS $k->{var}_id, key AS $k->{var}_tok FROM access_key.ak_create_key('"
				  . def_json($client, $idx, 0, $k->{active}) . "'"
				  . ($k->{expires} ? ", '2999-01-01 00:00:00+00'" : '') . ') \\gset',
				  "\\warn K $t $idx :$k->{var}_id :$k->{var}_tok";
				push @ops, 'create';
				next;
			}
			my $kk;
			do { $kk = $order[ int rand @order ] } until $sim{$kk}{exists};
			my $k = $sim{$kk};
			$before{$kk} //= state_of($k);
			my $ref = defined $k->{id} ? "'$k->{id}'" : ":'$k->{var}_id'";
			if ($op eq 'update')
			{
				$k->{ver}++;
				push @sql, "SELECT access_key.ak_update_key($ref, '" . def_json($client, $k->{idx}, $k->{ver}, $k->{active}) . "');";
			}
			elsif ($op eq 'toggle')
			{
				$op = $k->{active} ? 'revoke' : 'unrevoke';
				$k->{active} = $k->{active} ? 0 : 1;
				push @sql, "SELECT access_key.ak_${op}_key($ref);";
			}
			else
			{
				$k->{exists} = 0;
				$live--;
				push @sql, "SELECT access_key.ak_delete_key($ref);";
			}
			push @ops, $op;
		}
		# A short pause inside the transaction: most kills then find each key
		# client with uncommitted changes, and the refreshers get some CPU.
		push @sql, 'SELECT pg_sleep(0.004);';
		my %after = map { $_ => state_of($sim{$_}) } keys %before;
		$txns[$t] = { before => \%before, after => \%after, end => $end, ops => \@ops };
		if ($end eq 'COMMIT')
		{
			push @sql, "\\warn C $t", 'COMMIT;', "\\warn A $t";
		}
		else
		{
			push @sql, 'ROLLBACK;', "\\warn R $t";
			# Back to the states before it; its new keys never existed.
			for my $kk (sort keys %before)
			{
				$live += $before{$kk}{exists} - $sim{$kk}{exists};
				@{ $sim{$kk} }{qw(exists ver active)} = @{ $before{$kk} }{qw(exists ver active)};
			}
		}
	}
	push @sql, '\\warn END';
	return (join("\n", @sql) . "\n", \@txns, \%sim);
}


# The state of a key in access_key.keys, as read into %$db.
sub db_state
{
	my ($db, $id) = @_;
	return { exists => 0 } unless defined $id && $db->{$id};
	return { exists => 1, ver => $db->{$id}{ver}, active => $db->{$id}{active} };
}

sub same_state { return state_text($_[0]) eq state_text($_[1]); }

# Every key in access_key.keys: id => {name, ver, active, def_ok, expires, tokens}.
sub read_db_keys
{
	my %db;
	for my $row (split /\n/, $node->safe_psql('postgres', q{
        SELECT k.id, k.definition::jsonb ->> 'name', k.definition::jsonb ->> 'is_active',
               k.definition OPERATOR(access_key.=) public.def_for(k.definition::jsonb ->> 'name',
                                                                (k.definition::jsonb ->> 'is_active')::boolean),
               CASE WHEN k.expires_at IS NULL THEN 0 WHEN k.expires_at = '2999-01-01 00:00:00+00' THEN 1 ELSE -1 END,
               (SELECT count(*) FROM access_key.key_tokens AS t WHERE t.key_id = k.id)
        FROM access_key.keys AS k}))
	{
		my ($id, $name, $active, $def_ok, $expires, $tokens) = split /\|/, $row;
		my ($ver) = $name =~ /-v(\d+)$/;
		$db{$id} = { name => $name, ver => $ver, active => ($active eq 'true' ? 1 : 0),
			def_ok => $def_ok, expires => $expires, tokens => $tokens };
	}
	return \%db;
}

########################################################################
# Load clients: psql processes running generated scripts.
########################################################################

sub start_client
{
	my ($name, $connstr, $script) = @_;
	my $file = "$tmp/$name.sql";
	my $err = "$tmp/$name.err";
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh $script;
	close $fh;
	unlink $err;
	my $h = IPC::Run::start(
		[ $psql_bin, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		  '-d', $connstr, '-f', $file ],
		'<', '/dev/null', '>', '/dev/null', '2>', $err,
		IPC::Run::timeout(10 * $PostgreSQL::Test::Utils::timeout_default));
	return { name => $name, harness => $h, err => $err };
}

sub client_lines
{
	my ($client) = @_;
	return () unless -e $client->{err};
	return split /\n/, slurp_file($client->{err});
}

# How many lines of a client's stderr match.
sub count_lines
{
	my ($client, $re) = @_;
	return scalar grep { /$re/ } client_lines($client);
}

# Whether a client's psql is still running (not exited, not a zombie).
sub client_running
{
	my ($client) = @_;
	my $pid = $client->{harness}{KIDS}[0]{PID};
	open my $fh, '<', "/proc/$pid/stat" or return 0;
	my $stat = <$fh>;
	close $fh;
	return defined $stat && $stat =~ /^.*\) (\S) / && $1 ne 'Z';
}

# Lines a client printed that are neither markers nor the lost connection.
sub unexpected_lines
{
	my ($client) = @_;
	return grep {
		!/^(?:[BCAKR] \d+|END)\b/
		  && !/FATAL:\s+57P01: terminating connection due to unexpected postmaster exit/
		  && !/server closed the connection unexpectedly/
		  && !/This probably means the server terminated abnormally/
		  && !/before or while processing the request/
		  && !/connection to server was lost/
		  && !/could not (?:receive|send) data (?:from|to) server/
		  && !/no connection to the server/
		  && !/^LOCATION:\s/
	} client_lines($client);
}

# Acknowledged refreshes of a kind ("cq": cached queries, "ds": the dataset).
sub count_refreshes
{
	my ($refreshers, $kind) = @_;
	my $n = 0;
	for my $r (@$refreshers)
	{
		my (%kind_of, %acked);
		for (client_lines($r))
		{
			$kind_of{$1} = $2 if /^C (\d+) (cq|ds) /;
			$acked{$1} = 1 if /^A (\d+)$/;
		}
		$n += grep { ($kind_of{$_} // '') eq $kind } keys %acked;
	}
	return $n;
}

# Processes of the server: every PostgreSQL process runs in the data directory.
sub server_pids
{
	my @pids;
	opendir my $dh, '/proc' or die "cannot read /proc: $!";
	for my $pid (grep { /^\d+$/ } readdir $dh)
	{
		my $cwd = readlink "/proc/$pid/cwd";
		push @pids, $pid if defined $cwd && $cwd eq $datadir;
	}
	closedir $dh;
	return @pids;
}

########################################################################
# The rounds.
########################################################################

my %cq_before = map { $_ => 1 } split /,/, safe_psql_as('regress_ak_admin', $pairs_sql);
my $ds_before = safe_psql_as('regress_ak_admin', $dataset_pair_sql);
my %total;
my $round = 0;
for my $kill_mode (@rounds)
{
	$round++;
	my $round_started = time;

	# Keys the open transaction changes: committed now, before the load.
	my %open_keys;
	for my $role (qw(update revoke unrevoke delete))
	{
		my $idx = $next_idx{9}++;
		my $active = $role eq 'unrevoke' ? 0 : 1;
		my ($id, $token) = split /\|/, safe_psql_as('regress_ak_admin',
			"SELECT id, key FROM access_key.ak_create_key('" . def_json(9, $idx, 0, $active) . "')");
		$open_keys{$role} = $key{"9:$idx"} = { client => 9, idx => $idx, id => $id, token => $token,
			ver => 0, active => $active, exists => 1, ever => 1, expires => 0 };
	}

	# A transaction that stays open for the whole round: it creates a key,
	# updates, revokes, unrevokes and deletes committed ones, and sees its
	# own changes.
	my $open_keys_session = $node->background_psql('postgres',
		extra_params => [ '-U', 'regress_ak_admin' ]);
	my $open_idx = $next_idx{9}++;
	my @open_out = split /\n/, $open_keys_session->query_safe(join "\n",
		'BEGIN;',
		"SELECT id || ' ' || key FROM access_key.ak_create_key('" . def_json(9, $open_idx, 0, 1) . "');",
		"SELECT access_key.ak_update_key('$open_keys{update}{id}', '" . def_json(9, $open_keys{update}{idx}, 1, 1) . "');",
		"SELECT access_key.ak_revoke_key('$open_keys{revoke}{id}');",
		"SELECT access_key.ak_unrevoke_key('$open_keys{unrevoke}{id}');",
		"SELECT access_key.ak_delete_key('$open_keys{delete}{id}');",
		'SELECT string_agg(d ->> \'name\' || \' \' || (d ->> \'is_active\'), \',\' ORDER BY o) FROM '
		  . "unnest(ARRAY['$open_keys{update}{id}', '$open_keys{revoke}{id}', '$open_keys{unrevoke}{id}']::uuid[])"
		  . ' WITH ORDINALITY AS u(k, o), LATERAL (SELECT access_key.ak_get_key(u.k)::jsonb AS d) AS x;',
		"SELECT count(*) FROM access_key.ak_list_keys() WHERE id = '$open_keys{delete}{id}';");
	my ($open_id, $open_token) = split / /, $open_out[0];
	push @ghosts, { id => $open_id, token => $open_token, why => "the key the open transaction of round $round created" };
	is("$open_out[-2] $open_out[-1]",
		join(',', key_name($open_keys{update}, 1) . ' true', key_name($open_keys{revoke}) . ' false',
			key_name($open_keys{unrevoke}) . ' true') . ' 0',
		"round $round: the open transaction sees its own key changes");

	# The load.
	my (@key_clients, %key_txns, %key_sim);
	for my $c (1 .. 3)
	{
		my ($script, $txns, $sim) = key_client_script($c, 6000);
		($key_txns{$c}, $key_sim{$c}) = ($txns, $sim);
		push @key_clients, start_client("r${round}_keys$c", $admin_connstr, $script);
		$key_clients[-1]{client} = $c;
	}
	my @refreshers;
	for my $r (1 .. 2)
	{
		my @sql;
		for my $n (1 .. 3000)
		{
			# Both refresh the dataset too: the second waits for the first.
			if ($n % 3 == $r)
			{
				push @sql, "\\warn B $n", 'BEGIN;',
				  q{SELECT access_key.ak_refresh_dataset('ds_grp') AS groups \gset},
				  "$dataset_pair_sql \\gset dataset_",
				  "\\warn C $n ds :groups :dataset_pair", 'COMMIT;', "\\warn A $n";
			}
			else
			{
				push @sql, "\\warn B $n", 'BEGIN;',
				  q{SELECT access_key.ak_refresh_cached_queries() AS refreshed \gset},
				  "$pairs_sql \\gset cached_",
				  "\\warn C $n cq :refreshed :cached_pairs", 'COMMIT;', "\\warn A $n";
			}
		}
		push @refreshers, start_client("r${round}_refresh$r", $admin_connstr, join("\n", @sql, '\warn END', ''));
	}
	# Updates q3_groups between its two variants; each update computes
	# the result, which the pairs it prints name like a refresh's.
	my $updater = start_client("r${round}_update", $admin_connstr,
		join("\n", (map { ("\\warn B $_", 'BEGIN;',
			"SELECT access_key.ak_update_saved_query('q3_groups', @{[ dq($q3_variant{ $_ % 2 ? 'B' : 'A' }) ]}, '1 microsecond');",
			"$pairs_sql \\gset cached_", "\\warn C $_ cq 0 :cached_pairs", 'COMMIT;', "\\warn A $_") } 1 .. 3000),
			'\warn END', ''));
	my $changer = start_client("r${round}_source", $admin_connstr,
		join("\n", (map { ("\\warn B $_", 'BEGIN;', 'SELECT public.src_step() AS ver \gset',
			"\\warn C $_ :ver", 'COMMIT;', "\\warn A $_") } 1 .. 6000), '\warn END', ''));
	# Checkpoints now and then, so recovery starts from a recent one and
	# replays full-page images of the pages changed since.
	my $checkpointer = start_client("r${round}_checkpoint", $node->connstr('postgres'),
		join("\n", (map { ('SELECT pg_sleep(0.3);', 'CHECKPOINT;', "\\warn A $_") } 1 .. 600), '\warn END', ''));
	my @all_clients = (@key_clients, @refreshers, $updater, $changer, $checkpointer);

	# Waits until the load has done enough of everything.
	my (%done, $enough);
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my @per_client = sort { $a <=> $b } map { count_lines($_, qr/^A /) } @key_clients;
		%done = (key_txns => eval { my $s = 0; $s += $_ for @per_client; $s },
			key_txns_per_client => $per_client[0],
			refreshes => count_refreshes(\@refreshers, 'cq'),
			query_updates => count_lines($updater, qr/^A /),
			dataset_refreshes => count_refreshes(\@refreshers, 'ds'),
			source_changes => count_lines($changer, qr/^A /),
			checkpoints => count_lines($checkpointer, qr/^A /));
		$enough = !grep { $done{$_} < $minimum{$_} } keys %minimum;
		last if $enough || grep { !client_running($_) } @all_clients;
		usleep(50_000);
	}
	ok($enough, "round $round: the load did enough before the kill ("
		  . join(', ', map { "$_ $done{$_}" } sort keys %done) . ')')
	  or diag(join ', ', map { "$_ needs $minimum{$_}" } sort keys %minimum);

	# Just before the kill, a second open transaction takes the source table
	# and changes it (adding rows nobody else adds), updates two cached
	# queries (which computes them from its own change), creates a saved
	# query and a dataset, refreshes the cached queries still due and the
	# other dataset, and checks it sees all that.  It updates
	# q1_open and q2_rows first: refreshes lock saved queries in name order,
	# so the refreshers wait for it rather than deadlock with it.
	my $open_store_session = $node->background_psql('postgres',
		extra_params => [ '-U', 'regress_ak_admin' ]);
	my @open_store = grep { $_ ne '' } split /\n/, $open_store_session->query_safe(join "\n",
		'BEGIN;',
		'SELECT public.src_step(true);',
		"SELECT access_key.ak_update_saved_query('q1_open', @{[ dq($q1_variant_b) ]}, '1 year');",
		"SELECT access_key.ak_update_saved_query('q2_rows', @{[ dq($saved_query{q2_rows}) ]}, '1 microsecond');",
		"SELECT access_key.ak_create_saved_query('qx_round$round', 'SELECT 1 AS x', '1 minute');",
		'SELECT access_key.ak_refresh_cached_queries() >= 0;',  # the updates above computed q1_open and q2_rows
		"SELECT access_key.ak_refresh_dataset('ds_open') > 0;",
		"SELECT access_key.ak_create_dataset('dsx_round$round', 'SELECT 1 AS grp', ARRAY['grp']);",
		"SELECT access_key.ak_saved_query_result('q1_open') -> 'result' -> 0 ->> 'variant';",
		q{SELECT (r -> 'result' -> 0 ->> 'version') || ' ' || (SELECT count(*) FROM jsonb_array_elements(r -> 'result') AS e
                                                          WHERE (e ->> 'id')::integer >= 1000000)
          FROM access_key.ak_saved_query_result('q2_rows') AS r;},
		$pairs_sql . ';');
	my ($open_version, $open_refreshed, $open_ds, $open_variant, $open_q2, $open_pairs) = @open_store;
	is("$open_refreshed $open_ds $open_variant $open_q2", "t t B $open_version 50",
		"round $round: the second open transaction sees its own source change, query updates and refreshes");
	my ($open_q2_pair) = $open_pairs =~ /(q2_rows=[^,]+)/;

	# Kill while the load runs.
	usleep(50_000 + int rand 250_000);
	my $log_offset = -s $node->logfile;
	my @running = grep { client_running($_) && !count_lines($_, qr/^END$/) } @all_clients;
	my ($postmaster_pid) = split /\n/, slurp_file("$datadir/postmaster.pid");
	$node->kill9;
	kill 'KILL', server_pids() if $kill_mode eq 'every process';
	is(scalar @running, scalar @all_clients, "round $round: every load client was running at the kill ($kill_mode)");

	# Every process of the old server must be gone before a new one starts:
	# the new postmaster refuses while one is attached to the old shared
	# memory, or while the old postmaster's pid exists (even as a zombie,
	# which some init processes take a few seconds to reap).
	my $gone = 0;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		if (!server_pids() && !kill(0, $postmaster_pid)) { $gone = 1; last; }
		usleep(100_000);
	}
	ok($gone, "round $round: every server process exited after the kill");
	for my $client (@all_clients)
	{
		eval { $client->{harness}->finish; 1 } or $client->{harness}->kill_kill;
	}
	eval { $open_keys_session->quit; 1 };
	eval { $open_store_session->quit; 1 };
	$node->start;
	like(substr(slurp_file($node->logfile), $log_offset),
		qr/database system was not properly shut down; automatic recovery in progress/,
		"round $round: the restart ran crash recovery");

	for my $client (@all_clients)
	{
		is(join("\n", unexpected_lines($client)), '', "round $round: $client->{name} printed no error but the lost connection");
	}

	##################################################################
	# Keys: replay each client's history into the model, then compare.
	##################################################################

	my $db = read_db_keys();
	my %count = map { $_ => 0 } qw(acked in_doubt in_doubt_committed in_progress rolled_back
	  create update revoke unrevoke delete);
	my @key_problems;
	for my $client (@key_clients)
	{
		my $c = $client->{client};
		my $txns = $key_txns{$c};
		my %status;
		for (client_lines($client))
		{
			if (/^K (\d+) (\d+) (\S+) (\S+)$/)
			{
				# A key the script created, with the id and token it printed.
				my $sim = $key_sim{$c}{"$c:$2"};
				$key{"$c:$2"} = { client => $c, idx => $2, id => $3, token => $4, ver => 0,
					active => 0, exists => 0, ever => 0, expires => $sim->{expires} };
			}
			elsif (/^([BCAR]) (\d+)$/)
			{
				$status{$2} = $1;
			}
		}
		for my $t (sort { $a <=> $b } keys %status)
		{
			my ($tx, $st) = ($txns->[$t], $status{$t});
			# Rolled back, or in progress at the kill: none of it may be there,
			# which the comparison of every key below checks.
			if ($tx->{end} eq 'ROLLBACK' || $st eq 'B')
			{
				$count{ $st eq 'R' ? 'rolled_back' : 'in_progress' }++;
				next;
			}
			my $outcome = 'after';
			if ($st eq 'C')
			{
				# In doubt: all of it or none of it.
				$count{in_doubt}++;
				my @touched = sort keys %{ $tx->{before} };
				my $all_after = !grep { !same_state(db_state($db, $key{$_}{id}), $tx->{after}{$_}) } @touched;
				my $all_before = !grep { !same_state(db_state($db, $key{$_}{id}), $tx->{before}{$_}) } @touched;
				if ($all_after) { $count{in_doubt_committed}++; }
				else
				{
					$outcome = 'before';
					push @key_problems, "client $c transaction $t (in doubt) is partly there: "
					  . join(', ', map { "$_ is " . state_text(db_state($db, $key{$_}{id})) . ' (before '
						  . state_text($tx->{before}{$_}) . ', after ' . state_text($tx->{after}{$_}) . ')' } @touched)
					  unless $all_before;
				}
			}
			else
			{
				$count{acked}++;
				$count{$_}++ for @{ $tx->{ops} };
			}
			for my $kk (keys %{ $tx->{$outcome} })
			{
				@{ $key{$kk} }{qw(exists ver active)} = @{ $tx->{$outcome}{$kk} }{qw(exists ver active)};
				$key{$kk}{ever} ||= $key{$kk}{exists};
			}
		}
	}
	for my $kk (sort keys %key)
	{
		my $k = $key{$kk};
		my ($want, $have) = (state_of($k), db_state($db, $k->{id}));
		push @key_problems, "key " . key_name($k) . " ($k->{id}) is " . state_text($have) . ', expected ' . state_text($want)
		  unless same_state($have, $want);
		next unless $have->{exists};
		push @key_problems, "key $k->{id}'s definition is not the one written" unless $db->{ $k->{id} }{def_ok} eq 't';
		push @key_problems, "key $k->{id} has $db->{$k->{id}}{tokens} tokens" unless $db->{ $k->{id} }{tokens} == 1;
		push @key_problems, "key $k->{id} lost or gained its expiry" unless $db->{ $k->{id} }{expires} == $k->{expires};
	}
	my %known = map { $_->{id} => 1 } values %key;
	push @key_problems, map { "key $_ ($db->{$_}{name}) was created by no transaction that committed or may have" }
	  grep { !$known{$_} } sort keys %$db;
	push @key_problems, map { "$_->{why} exists" } grep { $db->{ $_->{id} } } @ghosts;
	is(join("\n", @key_problems), '', "round $round: every key is as its acknowledged history says");
	my @live = grep { $_->{exists} } values %key;
	is(scalar(keys %$db), scalar(@live), "round $round: access_key.keys holds exactly the expected keys");
	is($node->safe_psql('postgres', q{
        SELECT count(*) FROM access_key.key_tokens AS t
        WHERE NOT EXISTS (SELECT FROM access_key.keys AS k WHERE k.id = t.key_id)}),
		'0', "round $round: no token outlived its key");
	is(join(', ', map { state_text(db_state($db, $open_keys{$_}{id})) } qw(update revoke unrevoke delete)),
		'v0 active, v0 active, v0 revoked, v0 active',
		"round $round: none of the open transaction's key changes survived");

	##################################################################
	# Tokens: every token ever handed out, presented by the application role.
	##################################################################

	my @tokens = ((map { [ $key{$_}, 'key' ] } sort keys %key), (map { [ $_, 'ghost' ] } @ghosts));
	my $values = join ",\n", map { "($_, '$tokens[$_][0]{token}')" } 0 .. $#tokens;
	my ($ret, $out, $err) = psql_as('regress_ak_app', qq{
        BEGIN;
        SELECT t.i || ' ' || public.try_token(t.token) FROM (VALUES $values) AS t(i, token) ORDER BY t.i;
        COMMIT;});
	is($ret, 0, "round $round: the application role presents every token") or diag($err);
	my @answers = split /\n/, $out;
	my (@token_problems, %tally);
	for my $i (0 .. $#tokens)
	{
		my ($k, $kind) = @{ $tokens[$i] };
		my ($answer, $expected, $label) = ($answers[$i] // '');
		$answer =~ s/^$i //;
		if ($kind eq 'key' && $k->{exists})
		{
			($expected, $label) = $k->{active}
			  ? ("ok $k->{id} " . key_name($k) . ' t', 'valid')
			  : ('28000 The key has been revoked.', 'revoked');
		}
		else
		{
			$expected = '28000 No key matches the token; it may have been deleted.';
			$label = $kind eq 'key' && $k->{ever} ? 'deleted' : 'never committed';
		}
		$tally{$label}++;
		push @token_problems, 'token of ' . ($kind eq 'key' ? key_name($k) : $k->{why}) . ": $answer; expected $expected"
		  unless $answer eq $expected;
	}
	is(join("\n", @token_problems), '', "round $round: every token validates exactly when its key exists and is active");

	# The plain form an application uses, one transaction per token.
	my @valid = grep { $_->{exists} && $_->{active} } map { $key{$_} } sort keys %key;
	($ret, $out, $err) = psql_as('regress_ak_app',
		join '', map { "BEGIN;\nSELECT access_key.ak_use_key('$_->{token}');\nCOMMIT;\n" } @valid);
	is($out, join("\n", map { $_->{id} } @valid),
		"round $round: each active token works in a transaction of its own") or diag($err);

	##################################################################
	# Cached queries, datasets and their source.
	##################################################################

	my (%cq_written, %ds_written);
	for my $r (@refreshers, $updater)
	{
		for (client_lines($r))
		{
			if (/^C \d+ cq \d+ (\S+)$/) { $cq_written{$_} = 1 for split /,/, $1; }
			elsif (/^C \d+ ds \d+ (\S+)$/) { $ds_written{$1} = 1; }
		}
	}
	my %refreshes = (cq => count_refreshes(\@refreshers, 'cq'), ds => count_refreshes(\@refreshers, 'ds'));
	my $pairs_now = safe_psql_as('regress_ak_admin', $pairs_sql);
	is(join(',', grep { !$cq_written{$_} && !$cq_before{$_} } split /,/, $pairs_now), '',
		"round $round: each cached result is one a refreshing transaction wrote ($pairs_now)");
	isnt($pairs_now =~ /(q2_rows=[^,]+)/ ? $1 : '', $open_q2_pair, "round $round: the open transaction's q2_rows refresh is gone");
	%cq_before = map { $_ => 1 } split /,/, $pairs_now;
	my $ds_now = safe_psql_as('regress_ak_admin', $dataset_pair_sql);
	ok($ds_written{$ds_now} || $ds_now eq $ds_before,
		"round $round: the ds_grp results are those a refreshing transaction wrote ($ds_now)");
	$ds_before = $ds_now;

	is($node->safe_psql('postgres', q{
        SELECT public.rows_problems(result) FROM access_key.saved_queries WHERE name = 'q2_rows'
        UNION ALL SELECT public.groups_problems(result) FROM access_key.saved_queries WHERE name = 'q3_groups'
        UNION ALL SELECT public.dataset_problems()}), "\n\n",
		"round $round: q2_rows, q3_groups and ds_grp each hold exactly the rows of one committed version");
	is($node->safe_psql('postgres', q{
        SELECT (SELECT string_agg(DISTINCT e ->> 'variant', ',') FROM jsonb_array_elements(result) AS e)
               || ' ' || substring(query FROM '''(\w)'' AS variant')
        FROM access_key.saved_queries WHERE name = 'q3_groups'}) =~ /^(\w) \1$/ ? 'same' : 'differ', 'same',
		"round $round: the stored q3_groups result is of the variant its stored query is");
	is($node->safe_psql('postgres', q{
        SELECT count(*) FROM access_key.saved_queries
        WHERE (result IS NULL) <> (refreshed_at IS NULL) OR (refresh_rate IS NOT NULL AND result IS NULL)}),
		'0', "round $round: every cached query has both a result and a refreshed_at");
	is($node->safe_psql('postgres', $stored_definitions_sql), $stored_definitions,
		"round $round: saved queries are as created (the open transaction's updates, new query and q1_open refresh are gone)");
	is($node->safe_psql('postgres', $dataset_definitions_sql), $dataset_definitions,
		"round $round: datasets are as created (the open transaction's new dataset and ds_open refresh are gone)");

	# A key reads the same stored result as the admin.
	my ($reader) = grep { $_->{exists} && $_->{active} && $_->{ver} % 2 == 0 } map { $key{$_} } sort keys %key;
	($ret, $out, $err) = psql_as('regress_ak_app', qq{
        BEGIN;
        SELECT access_key.ak_use_key('$reader->{token}') IS NOT NULL;
        SELECT md5(access_key.ak_saved_query_result('q3_groups')::text);
        COMMIT;});
	is($out, "t\n" . safe_psql_as('regress_ak_admin', q{SELECT md5(access_key.ak_saved_query_result('q3_groups')::text)}),
		"round $round: a key reads the same cached result as the admin") or diag($err);

	# The source: at the last acknowledged change, or the one in doubt after it.
	my (%src_status, %src_version);
	for (client_lines($changer))
	{
		$src_status{$1} = 'A' if /^A (\d+)$/;
		if (/^C (\d+) (\d+)$/) { $src_version{$1} = $2; $src_status{$1} //= 'C'; }
	}
	my @acked = grep { $src_status{$_} eq 'A' } sort { $a <=> $b } keys %src_status;
	my ($src_in_doubt) = grep { $src_status{$_} eq 'C' } keys %src_status;
	my @allowed = ($src_version{ $acked[-1] }, defined $src_in_doubt ? $src_version{$src_in_doubt} : ());
	my $src_now = $node->safe_psql('postgres', 'SELECT version FROM public.src_meta');
	ok((grep { $_ == $src_now } @allowed),
		"round $round: the source table is at version $src_now, one of " . join(' or ', @allowed));
	is($node->safe_psql('postgres', q{
        SELECT (SELECT count(*) FROM public.src_history) = (SELECT version + 1 FROM public.src_meta),
               (SELECT count(*) FROM public.src WHERE id >= 1000000 OR grp < 0),
               (SELECT ROW(count(*), sum(v)::bigint, sum(hashtext(id || ':' || v)::bigint)::bigint) FROM public.src)
               = (SELECT ROW(n, vsum, checksum) FROM public.src_history WHERE version = (SELECT version FROM public.src_meta))}),
		't|0|t', "round $round: the source table matches its history and has no uncommitted rows");

	##################################################################
	# The storage itself.
	##################################################################

	my $extension_rels = q{
        WITH rels AS (
            SELECT c.oid FROM pg_class AS c WHERE c.relnamespace = 'access_key'::regnamespace AND c.relkind = 'r'
            UNION ALL
            SELECT c.reltoastrelid FROM pg_class AS c
            WHERE c.relnamespace = 'access_key'::regnamespace AND c.relkind = 'r' AND c.reltoastrelid <> 0)};
	is($node->safe_psql('postgres', q{
        SELECT string_agg(c.relname, ', ') FROM pg_class AS c
        WHERE c.relnamespace = 'access_key'::regnamespace AND c.relpersistence <> 'p'}),
		'', "round $round: every table and index of the extension is WAL-logged");
	is($node->safe_psql('postgres', "$extension_rels
        SELECT count(*) FROM rels, verify_heapam(rels.oid, check_toast => true)"),
		'0', "round $round: amcheck finds the extension's tables and their TOAST intact");
	is($node->safe_psql('postgres', "$extension_rels
        SELECT count(*) FILTER (WHERE ok IS NOT NULL) = count(*) AND count(*) >= 8
        FROM rels JOIN pg_index AS i ON i.indrelid = rels.oid
             JOIN pg_class AS ic ON ic.oid = i.indexrelid
             JOIN pg_am AS am ON am.oid = ic.relam AND am.amname = 'btree',
             LATERAL (SELECT bt_index_parent_check(i.indexrelid, true)::text AS ok) AS c"),
		't', "round $round: amcheck finds each B-tree index of the extension and its TOAST consistent with its table");

	note sprintf("round %d (kill %s, %.1fs): key transactions acknowledged %d (creates %d, updates %d, revokes %d,"
		  . " unrevokes %d, deletes %d), in doubt %d (%d committed), in progress at the kill %d, rolled back %d;"
		  . " acknowledged cached-query refreshes %d, dataset refreshes %d, source changes %d%s, checkpoints %d;"
		  . " keys verified %d (%d live), tokens tried %d (%s)",
		$round, $kill_mode, time - $round_started, @count{qw(acked create update revoke unrevoke delete in_doubt
		  in_doubt_committed in_progress rolled_back)}, $refreshes{cq}, $refreshes{ds}, scalar(@acked),
		defined $src_in_doubt ? ' (+1 in doubt)' : '', count_lines($checkpointer, qr/^A /),
		scalar(keys %key), scalar(@live), scalar(@tokens), join(', ', map { "$_ $tally{$_}" } sort keys %tally));
	$total{$_} += $count{$_} for keys %count;
	$total{refreshes} += $refreshes{cq};
	$total{dataset_refreshes} += $refreshes{ds};
	$total{source_changes} += @acked;
}

note "all rounds: key transactions acknowledged $total{acked}, in doubt $total{in_doubt}"
  . " ($total{in_doubt_committed} committed), in progress at a kill $total{in_progress},"
  . " rolled back $total{rolled_back}; cached-query refreshes $total{refreshes},"
  . " dataset refreshes $total{dataset_refreshes}, source changes $total{source_changes}";

########################################################################
# The recovered server still tells sessions about key changes.
########################################################################

is($node->safe_psql('postgres', q{
    SELECT string_agg(tgname || ' ' || tgenabled::text, ', ' ORDER BY tgname) FROM pg_trigger
    WHERE tgrelid IN ('access_key.keys'::regclass, 'access_key.key_tokens'::regclass) AND NOT tgisinternal}),
	'key_tokens_changed A, keys_changed A', 'the cache invalidation triggers are still enabled always');

is($node->safe_psql('postgres', q{
    SELECT count(*) FROM pg_class AS t
    WHERE t.relnamespace = 'access_key'::regnamespace AND t.relkind = 'r'
      AND t.oid <> ALL ((SELECT e.extconfig FROM pg_extension AS e WHERE e.extname = 'access_key')::oid[])}),
	'0', 'every extension table is still marked for pg_dump');

my ($watched) = grep { $_->{exists} && $_->{active} } map { $key{$_} } sort keys %key;
my $app = $node->background_psql('postgres', on_error_stop => 0,
	extra_params => [ '-U', 'regress_ak_app', '-v', 'VERBOSITY=verbose' ]);
is($app->query("SELECT access_key.ak_use_key('$watched->{token}', false) = '$watched->{id}'; SELECT access_key.ak_permits('queries')"),
	"t\nt", 'a session of the recovered server presents a surviving key for the session');
safe_psql_as('regress_ak_admin', "SELECT access_key.ak_revoke_key('$watched->{id}')");
$app->query(q{SELECT access_key.ak_permits('queries')});
like($app->{stderr}, qr/28000: access key is not valid\nDETAIL:\s+The key has been revoked/,
	'it sees a revoke at its next transaction');
$app->{stderr} = '';
safe_psql_as('regress_ak_admin', "SELECT access_key.ak_unrevoke_key('$watched->{id}')");
is($app->query(q{SELECT access_key.ak_permits('queries')}), 't', 'and the unrevoke');
$app->quit;

$node->stop;
done_testing();
