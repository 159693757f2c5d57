
# The SQL examples of the documentation run (docs/testing.md#sql-examples-in-the-docs):
# every ```sql block of README.md and docs/*.md runs, in file order, in psql
# as a superuser, on a fresh cluster per file (roles are cluster-wide).
# Markers on the line before a block (an HTML comment, so readers do not
# see it):
#   <!-- not run: why -->           the block is skipped (placeholders, pg_cron, your own roles...)
#   <!-- error: SQLSTATE -->        the block must fail with that SQLSTATE
#   <!-- setup: SQL -->             SQL the reader is assumed to have run (CREATE ROLE app;), run first
# The extension is created first unless the file itself creates it.  A
# failing block is reported as FILE:LINE with psql's output.
use strict;
use warnings;

use File::Basename qw(basename);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;

# Every ```sql block of a Markdown file: [line, marker, sql].
sub sql_blocks
{
	my ($file) = @_;
	my @lines = split /\n/, slurp_file($file), -1;
	my (@blocks, $in, $start, $marker, @sql, $last_comment);
	for my $i (0 .. $#lines)
	{
		my $line = $lines[$i];
		if (!$in && $line =~ /^(\s*)```sql\s*$/)
		{
			($in, $start, @sql) = (length $1, $i + 1);
			$marker = $last_comment;
			next;
		}
		if (defined $in && $in ne '' && $line =~ /^\s*```\s*$/)
		{
			push @blocks, [ $start, $marker, join("\n", @sql) . "\n" ];
			undef $in;
			next;
		}
		if (defined $in && $in ne '')
		{
			push @sql, substr($line, 0, $in) =~ /^\s*$/ ? substr($line, $in) : $line;
			next;
		}
		# The marker is the last HTML comment before the block, blank lines between allowed.
		if ($line =~ /^\s*<!--\s*(.*?)\s*-->\s*$/) { $last_comment = $1; }
		elsif ($line !~ /^\s*$/) { undef $last_comment; }
	}
	return @blocks;
}

my @files = ('README.md', sort glob('docs/*.md'));
my $blocks_run = 0;
for my $file (@files)
{
	my @blocks = sql_blocks($file);
	next unless @blocks;
	my $name = basename($file, '.md') =~ s/\W/_/gr;
	my $node = new_cluster("docs_$name");
	$node->safe_psql('postgres', 'CREATE EXTENSION access_key')
	  unless grep { $_->[2] =~ /CREATE EXTENSION access_key\b/i } @blocks;

	# One psql session per file, blocks in order, so a block can use what an
	# earlier one created or \gset.  Each block is announced on stdout; an
	# expected error is checked through LAST_ERROR_SQLSTATE.
	my $script = "\\set ON_ERROR_STOP 1\n";
	my @run;
	for my $b (@blocks)
	{
		my ($line, $marker, $sql) = @$b;
		if (defined $marker && $marker =~ /(^|;\s*)not run:/)
		{
			note "$file:$line not run ($marker)";
			next;
		}
		my ($setup) = (defined $marker && $marker =~ /(?:^|;\s*)setup:\s*(.*)$/) ? ($1) : ();
		$script .= "$setup\n" if defined $setup;
		my ($expected) = (defined $marker && $marker =~ /(?:^|;\s*)error:\s*([0-9A-Z]{5})/) ? ($1) : ();
		push @run, [ $line, $expected ];
		$script .= "\\echo \@\@block $line\n";
		$script .= $expected
		  ? "\\set ON_ERROR_STOP 0\n\\set LAST_ERROR_SQLSTATE 00000\n$sql\\echo \@\@sqlstate :LAST_ERROR_SQLSTATE\n\\set ON_ERROR_STOP 1\n"
		  : $sql;
	}
	$script .= "\\echo \@\@done\n";
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $script,
		extra_params => [ '-X', '-v', 'VERBOSITY=verbose' ]);
	my ($failed_at) = $stdout =~ /.*\@\@block (\d+)/s;
	my $finished = $stdout =~ /\@\@done/;
	for my $r (@run)
	{
		my ($line, $expected) = @$r;
		if ($expected)
		{
			my ($got) = $stdout =~ /\@\@block $line\n.*?\@\@sqlstate (\S+)/s;
			is($got, $expected, "$file:$line fails with $expected as documented") or diag($stderr);
		}
		elsif (!$finished && defined $failed_at && $failed_at == $line)
		{
			fail("$file:$line runs");
			diag("psql output:\n$stdout\n$stderr");
		}
		elsif (!$finished && (!defined $failed_at || $line > $failed_at))
		{
			fail("$file:$line runs (not reached: an earlier block failed)");
		}
		else
		{
			pass("$file:$line runs");
		}
		$blocks_run++;
	}
	$node->stop;
}
cmp_ok($blocks_run, '>=', 1, "$blocks_run SQL blocks of the docs ran");
done_testing();
