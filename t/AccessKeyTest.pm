# Shared setup of the access_key TAP tests: where pg_regress is, a started
# throw-away cluster, keys, and the seed definition of docs/reference.md.
package AccessKeyTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(new_cluster create_key $SEED_DEFINITION);

# Cluster->init runs "pg_regress --config-auth"; scripts/run-tests sets
# PG_REGRESS, and without it the one next to the PGXS makefiles is used.
BEGIN
{
	if (!$ENV{PG_REGRESS})
	{
		my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
		my $pgxs = `$pg_config --pgxs`;
		chomp $pgxs;
		$ENV{PG_REGRESS} = "$1/test/regress/pg_regress" if $pgxs =~ m{^(.*)/makefiles/pgxs\.mk$};
	}
}

# The example definition of docs/reference.md (Keen's guide, every option).
our $SEED_DEFINITION = q({
  "name": "Ada Corp dashboard",
  "is_active": true,
  "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema"],
  "options": {
    "writes":        {"autofill": {"customer": {"id": "93iskds39kd93id", "name": "Ada Corp."}}},
    "queries":       {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
    "saved_queries": {"allowed": ["my_saved_query"], "blocked": ["my_sensitive_query"],
                      "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
    "cached_queries":{"allowed": ["my_cached_query"], "blocked": ["my_sensitive_query"]},
    "datasets":      {"operations": ["read", "list", "retrieve"],
                      "allowed": {"my_single_index_dataset": {"index_by": {"customer.id": ["93iskds39kd93id"]}},
                                  "my_other_dataset_unlimited_access": {}},
                      "blocked": ["my_sensitive_dataset"]}
  }
});

# A started cluster in UTC; %init passes options to init (allows_streaming...),
# and $conf, if given, is appended to postgresql.conf before the start.
sub new_cluster
{
	my ($name, $conf, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', "timezone = 'UTC'\n" . ($conf // ''));
	$node->start;
	return $node;
}

# Creates a key as the superuser; returns (id, token).
sub create_key
{
	my ($node, $db, $definition, $expires_at) = @_;
	my $expiry = defined $expires_at ? "'$expires_at'" : 'NULL';
	my $row = $node->safe_psql($db,
		"SELECT id, key FROM access_key.ak_create_key(\$def\$$definition\$def\$, $expiry)");
	return split /\|/, $row;
}

1;
