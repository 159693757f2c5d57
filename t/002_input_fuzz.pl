
# Random-input testing of the access_key type's input function against a live
# server (docs/reference.md#the-access_key-type, §13: bad input never crashes the server).
#
# Definitions are generated in Perl from a fixed seed (AK_FUZZ_SEED overrides
# it): valid ones built from the rules of docs/reference.md#the-access_key-type/§4, ones broken by exactly
# one rule that must be rejected, and ones mutated at random — structurally
# (members dropped, added, renamed, swapped, duplicated; values replaced by
# huge strings, deep nesting, extreme numbers, odd escapes) and as text
# (characters deleted, inserted, replaced, slices duplicated), plus random
# valid UTF-8.  Each is cast to access_key inside an exception block and the
# outcome recorded; every accepted definition must round-trip through text,
# jsonb and binary COPY and keep its meaning.
use strict;
use warnings;
use utf8;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AccessKeyTest;
use Time::HiRes qw(time);


my $seed = $ENV{AK_FUZZ_SEED} // 20251127;
srand($seed);
diag("random seed $seed (set AK_FUZZ_SEED to another value to explore further)");

# SQLSTATEs that bad input may raise: not JSON, invalid definition, stack
# depth, unsupported Unicode escape, program limit -- and 22003, which core
# jsonb input itself raises for a JSON number beyond numeric's range
# ('1e2147483648'::jsonb: "value overflows numeric format").
my %allowed_states = map { $_ => 1 } qw(22P02 22023 54001 22P05 54000 22003);

###########################################################################
# Random helpers
###########################################################################

sub rint { return int(rand($_[0])); }
sub pick { return $_[ rint(scalar @_) ]; }
sub chance { return rand() < $_[0]; }

sub shuffled
{
	my @a = @_;
	for (my $i = $#a; $i > 0; $i--)
	{
		my $j = rint($i + 1);
		@a[ $i, $j ] = @a[ $j, $i ];
	}
	return @a;
}

sub subset { return grep { chance(0.5) } @_; }

my @ascii_chars = map { chr } 0x20 .. 0x7e;
my @wide_chars = (
	(map { chr } 0xe9, 0xfc, 0xdf, 0x3a9, 0x4e2d, 0x6587, 0x1f600, 0x1f468, 0x200d,
		0xfeff, 0x2028, 0xfffd, 0xffff, 0x10ffff),
	"\t", "\n", "\r", "\x01", "\x1f", "\x7f", "\\", '"', '/');

# Text of $min..$max characters (code points), mostly ASCII.
sub rand_text
{
	my ($min, $max) = @_;
	my $len = $min + rint($max - $min + 1);
	return join '', map { chance(0.15) ? pick(@wide_chars) : pick(@ascii_chars) } 1 .. $len;
}

# Any code point but NUL and surrogates, so the result is valid UTF-8 text.
sub rand_code_point
{
	my $r = rand();
	return chr(1 + rint(0x7e)) if $r < 0.6;
	return chr(0x80 + rint(0x780)) if $r < 0.75;
	if ($r < 0.9)
	{
		my $c = 0x800 + rint(0xfffe - 0x800);
		return chr($c >= 0xd800 && $c <= 0xdfff ? $c - 0x800 : $c);
	}
	return chr(0x10000 + rint(0x100000));
}

###########################################################################
# A small JSON model, so structure can be mutated before serializing:
#   ['s', string]  ['n', number text]  ['l', 'true'|'false'|'null']
#   ['a', [elements], tag]  ['o', [[key, value], ...], kind]  ['raw', text]
# Objects carry the kind of definition object they are (undef for user
# data); arrays carry what they hold.
###########################################################################

sub S { return [ 's', $_[0] ]; }
sub N { return [ 'n', $_[0] ]; }
sub B { return [ 'l', $_[0] ? 'true' : 'false' ]; }
sub NUL { return [ 'l', 'null' ]; }
sub A { return [ 'a', $_[0], $_[1] ]; }
sub O { return [ 'o', [ shuffled(@{ $_[0] }) ], $_[1] ]; }
sub RAW { return [ 'raw', $_[0] ]; }

# Serialization knobs, set per document.
our $whitespace_rate = 0;
our $escape_rate = 0;

sub ws
{
	return '' unless $whitespace_rate && chance($whitespace_rate);
	return join '', map { pick(' ', ' ', "\n", "\t", "\r") } 1 .. 1 + rint(3);
}

sub u_escape
{
	my ($cp) = @_;
	my $f = chance(0.5) ? '\\u%04x' : '\\u%04X';
	return sprintf($f, $cp) if $cp <= 0xffff;
	my $v = $cp - 0x10000;
	return sprintf($f, 0xd800 + ($v >> 10)) . sprintf($f, 0xdc00 + ($v & 0x3ff));
}

my %short_escape = (8 => '\\b', 9 => '\\t', 10 => '\\n', 12 => '\\f', 13 => '\\r');

sub enc_str
{
	my ($s) = @_;
	if (length($s) > 4096)
	{
		(my $t = $s) =~ s/(["\\])/\\$1/g;
		$t =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord $1)/ge;
		return "\"$t\"";
	}
	my $out = '"';
	for my $c (split //, $s)
	{
		my $o = ord $c;
		if    ($c eq '"')  { $out .= '\\"'; }
		elsif ($c eq '\\') { $out .= '\\\\'; }
		elsif ($o < 0x20)
		{
			$out .= ($short_escape{$o} && chance(0.5)) ? $short_escape{$o} : sprintf('\\u%04x', $o);
		}
		elsif ($c eq '/' && chance(0.3)) { $out .= '\\/'; }
		elsif ($escape_rate && chance($escape_rate)) { $out .= u_escape($o); }
		else { $out .= $c; }
	}
	return $out . '"';
}

sub enc
{
	my ($v) = @_;
	my $t = $v->[0];
	return enc_str($v->[1]) if $t eq 's';
	return $v->[1] if $t eq 'n' || $t eq 'l' || $t eq 'raw';
	my $sep = sub { ws() . ',' . ws() };
	if ($t eq 'a')
	{
		return '[' . ws() . join($sep->(), map { enc($_) } @{ $v->[1] }) . ws() . ']';
	}
	return '{' . ws()
	  . join($sep->(), map { enc_str($_->[0]) . ws() . ':' . ws() . enc($_->[1]) } @{ $v->[1] })
	  . ws() . '}';
}

sub has_key
{
	my ($obj, $key) = @_;
	return scalar grep { $_->[0] eq $key } @{ $obj->[1] };
}

###########################################################################
# Valid definitions (docs/reference.md#the-access_key-type, docs/reference.md#filters)
###########################################################################

my @actions = qw(writes queries saved_queries cached_queries datasets schema keys);
my @sections = qw(writes queries saved_queries cached_queries datasets schema);
my @operations = qw(read list retrieve);
my @operators = qw(eq ne lt lte gt gte exists in contains not_contains regex within);
my @valid_regexes = ('^abc$', 'a|b', '[0-9]+', '^(foo|bar)', '.*', 'x{2,3}', '\d+',
	'[[:alpha:]]+', 'é+', '^$', '\mword\M', '(?:ab)+c');

sub rand_number
{
	my $r = rint(10);
	return (rint(2000001) - 1000000) if $r < 3;
	return pick('0', '-0', '0.0', '1.0', '0.1', '-0.001', '1e5', '1E-7', '2.5e+3',
		'12345678901234567890123', '-3.14159', '100') if $r < 6;
	return sprintf('%.3f', rand(2000) - 1000) if $r < 8;
	return (chance(0.5) ? '-' : '') . (1 + rint(9)) . 'e' . (rint(41) - 20);
}

sub rand_scalar
{
	my $r = rint(4);
	return S(rand_text(0, 16)) if $r == 0;
	return N(rand_number()) if $r == 1;
	return B(chance(0.5)) if $r == 2;
	return chance(0.5) ? NUL() : S(rand_text(0, 4));
}

# Any JSON value: property values are user data, any keys allowed.
sub rand_json
{
	my ($depth) = @_;
	my $r = rint(10);
	if ($depth > 0 && $r < 2)
	{
		return A([ map { rand_json($depth - 1) } 1 .. rint(4) ]);
	}
	if ($depth > 0 && $r < 4)
	{
		my %seen;
		my @pairs;
		for (1 .. rint(4))
		{
			my $k = rand_text(0, 8);
			next if $seen{$k}++;
			push @pairs, [ $k, rand_json($depth - 1) ];
		}
		return O(\@pairs);
	}
	return rand_scalar();
}

# A property name segment: 1..256 characters, no dot, not starting with '$'.
sub rand_segment
{
	my $s = chance(0.02) ? join('', map { pick('p', 'é', '中', '😀', '_') } 1 .. 256) : rand_text(1, 12);
	$s =~ tr/./_/;
	$s =~ s/^\$/_/;
	return $s;
}

sub rand_path { return join '.', map { rand_segment() } 1 .. 1 + rint(3); }

sub rand_resource_name
{
	my @c = ('a' .. 'z', 'A' .. 'Z', '0' .. '9', '-', '_');
	my $len = chance(0.02) ? 256 : 1 + rint(24);
	return join '', map { pick(@c) } 1 .. $len;
}

sub rand_name_text
{
	return join('', map { pick('n', 'é', '中', '😀', ' ', '"') } 1 .. 256) if chance(0.05);
	return rand_text(1, 1) if chance(0.03);
	return rand_text(1, 40);
}

sub name_list
{
	my %seen;
	my @names = grep { !$seen{$_}++ } map { rand_resource_name() } 1 .. rint(5);
	return A([ map { S($_) } @names ], 'names');
}

sub rand_geo
{
	my $lon = chance(0.1) ? pick('180', '-180', '0') : sprintf('%.4f', rand(360) - 180);
	my $lat = chance(0.1) ? pick('90', '-90', '0') : sprintf('%.4f', rand(180) - 90);
	my $distance = chance(0.1) ? '0' : sprintf('%.2f', 0.5 + rand(500));
	return O([ [ 'coordinates', A([ N($lon), N($lat) ], 'coordinates') ],
			[ 'max_distance_miles', N($distance) ] ], 'within');
}

sub property_value_for
{
	my ($op) = @_;
	return rand_json(2) if $op eq 'eq' || $op eq 'ne';
	if ($op =~ /^[lg]te?$/)
	{
		return N(rand_number()) if chance(0.5);
		return S(chance(0.5) ? sprintf('2024-%02d-%02dT12:00:00Z', 1 + rint(12), 1 + rint(28)) : rand_text(0, 12));
	}
	return B(chance(0.5)) if $op eq 'exists';
	return A([ map { rand_json(1) } 1 .. rint(5) ]) if $op eq 'in';
	return pick(S(rand_text(0, 12)), N(rand_number()), B(chance(0.5))) if $op =~ /contains/;
	return S(pick(@valid_regexes)) if $op eq 'regex';
	return rand_geo() if $op eq 'within';
	die "unknown operator $op";
}

sub leaf_filter
{
	my $op = pick(@operators);
	return O([ [ 'property_name', S(rand_path()) ], [ 'operator', S($op) ],
			[ 'property_value', property_value_for($op) ] ], 'filter');
}

sub or_filter
{
	my (@operands) = @_;
	return O([ [ 'operator', S('or') ], [ 'operands', A(\@operands, 'filters') ] ], 'or');
}

# "or" filters nest at most 16 levels: depth counts from 1.
sub rand_filter
{
	my ($depth) = @_;
	if ($depth < 15 && chance($depth == 1 ? 0.15 : 0.1))
	{
		return or_filter(map { rand_filter($depth + 1) } 1 .. 1 + rint(3));
	}
	return leaf_filter();
}

sub rand_filters
{
	my @filters = map { rand_filter(1) } 1 .. rint(4);
	if (chance(0.03))
	{
		# The deepest chain allowed: 15 nested "or" filters.
		my $f = leaf_filter();
		$f = or_filter($f) for 1 .. 15;
		push @filters, $f;
	}
	return A(\@filters, 'filters');
}

sub rand_autofill
{
	my ($depth) = @_;
	my %seen;
	my @pairs;
	for (1 .. rint(5))
	{
		my $k = rand_segment();
		next if $seen{$k}++;
		my $r = rint(10);
		my $v =
		    ($r < 6) ? rand_scalar()
		  : ($r < 8) ? A([ map { rand_scalar() } 1 .. rint(4) ])
		  : ($depth > 0) ? rand_autofill($depth - 1)
		  : rand_scalar();
		push @pairs, [ $k, $v ];
	}
	return O(\@pairs, 'autofill');
}

sub rand_dataset_entry
{
	return O([], 'dataset_entry') if chance(0.4);
	my %seen;
	my @index;
	for (1 .. 1 + rint(2))
	{
		my $p = rand_path();
		next if $seen{$p}++;
		push @index, [ $p, A([ map { rand_scalar() } 1 .. 1 + rint(3) ], 'index_values') ];
	}
	return O([ [ 'index_by', O(\@index, 'index_by') ] ], 'dataset_entry');
}

sub rand_section
{
	my ($section) = @_;
	my @m;
	if ($section eq 'writes')
	{
		push @m, [ 'autofill', rand_autofill(2) ] if chance(0.8);
	}
	elsif ($section eq 'queries')
	{
		push @m, [ 'filters', rand_filters() ] if chance(0.85);
	}
	elsif ($section eq 'saved_queries' || $section eq 'cached_queries')
	{
		push @m, [ 'allowed', name_list() ] if chance(0.6);
		push @m, [ 'blocked', name_list() ] if chance(0.6);
		push @m, [ 'filters', rand_filters() ] if $section eq 'saved_queries' && chance(0.5);
	}
	elsif ($section eq 'datasets')
	{
		push @m, [ 'operations', A([ map { S($_) } shuffled(subset(@operations)) ], 'operations') ]
		  if chance(0.6);
		if (chance(0.6))
		{
			my %seen;
			my @entries = map { [ $_, rand_dataset_entry() ] }
			  grep { !$seen{$_}++ } map { rand_resource_name() } 1 .. rint(4);
			push @m, [ 'allowed', O(\@entries, 'dataset_allowed') ];
		}
		push @m, [ 'blocked', name_list() ] if chance(0.6);
	}
	return O(\@m, "section:$section");
}

sub rand_definition
{
	my @m = ([ 'name', S(rand_name_text()) ]);
	push @m, [ 'is_active', B(chance(0.5)) ] if chance(0.5);
	push @m, [ 'permitted', A([ map { S($_) } shuffled(subset(@actions)) ], 'actions') ]
	  if chance(0.7);
	if (chance(0.75))
	{
		my @s = map { [ $_, chance(0.1) ? NUL() : rand_section($_) ] } subset(@sections);
		push @m, [ 'options', chance(0.1) ? NUL() : O(\@s, 'options') ];
	}
	return O(\@m, 'top');
}

# The seed example of docs/reference.md.
my $seed_example = $SEED_DEFINITION;

###########################################################################
# Walking a definition: every value slot, object and array
###########################################################################

sub walk
{
	my ($slot, $acc) = @_;
	my $v = $$slot;
	push @{ $acc->{slots} }, $slot;
	if ($v->[0] eq 'a')
	{
		push @{ $acc->{arrays} }, $v;
		walk(\$v->[1][$_], $acc) for 0 .. $#{ $v->[1] };
	}
	elsif ($v->[0] eq 'o')
	{
		push @{ $acc->{objects} }, $v;
		walk(\$_->[1], $acc) for @{ $v->[1] };
	}
	elsif ($v->[0] eq 's')
	{
		push @{ $acc->{strings} }, $slot;
	}
	elsif ($v->[0] eq 'n')
	{
		push @{ $acc->{numbers} }, $slot;
	}
	return $acc;
}

# Takes a reference to the variable holding the document, so that the root
# itself can be replaced.
sub nodes
{
	my ($doc_ref) = @_;
	return walk($doc_ref, { slots => [], arrays => [], objects => [], strings => [], numbers => [] });
}

sub member_slot
{
	my ($obj, $key) = @_;
	for my $pair (@{ $obj->[1] })
	{
		return \$pair->[1] if $pair->[0] eq $key;
	}
	return undef;
}

###########################################################################
# Strict mutations: each breaks exactly one rule of docs/reference.md#the-access_key-type/§4, so the
# result must be rejected with 22023.
###########################################################################

my %required = (
	top => [qw(name)],
	filter => [qw(property_name operator property_value)],
	or => [qw(operator operands)],
	within => [qw(coordinates max_distance_miles)]);
my @definition_kinds = (qw(top options filter or within dataset_entry),
	map { "section:$_" } @sections);
my @unknown_members = ('filter', 'Name', 'NAME', 'permited', 'autofil', 'operand',
	'property_values', 'extra', 'is_Active', 'optionss', 'index', 'coordinate', 'unit',
	'querys', 'Writes', 'name ', 'nämé', '', 'allowed_', '$schema');
my @bad_actions = ('write', 'query', 'Queries', 'saved_query', 'cached', 'key', 'KEYS',
	'admin', 'queries ', '', 'schemas');
my @bad_operators = ('equals', 'EQ', 'eq_', 'neq', 'lesser', 'not_in', 'between', 'OR',
	'or ', '', 'exist', 'contain');
my @bad_operations = ('write', 'Read', 'delete', 'lists', '');
my @bad_paths = ('', 'a..b', '.a', 'a.', '$a', 'a.$b', '.', 'x.' . ('y' x 257), 'z' x 257);
my @bad_regexes = ('(unclosed', 'a{2,1}', '[z-a]', '*', '\\', 'a)', '(?<!', '[[:nope:]]');
my @bad_names = ('bad name', '', 'ü', 'a.b', 'x' x 257, "tab\there", 'semi;colon');

# Required JSON types of definition members, and values of other types.
my %wrong_type_values = (
	name => sub { pick(N('1'), NUL(), A([]), B(1), O([])) },
	is_active => sub { pick(S('true'), N('1'), NUL(), A([]), O([])) },
	permitted => sub { pick(S('queries'), N('0'), O([]), B(0)) },
	options => sub { pick(S('{}'), N('1'), A([]), B(1)) },
	autofill => sub { pick(S('x'), N('1'), A([]), B(1)) },
	filters => sub { pick(S('x'), N('1'), O([]), B(1)) },
	operations => sub { pick(S('read'), N('1'), O([]), B(1)) },
	blocked => sub { pick(S('x'), N('1'), O([]), B(1)) },
	property_name => sub { pick(N('1'), NUL(), A([ S('a') ]), B(1), O([])) },
	operator => sub { pick(N('1'), NUL(), A([ S('eq') ]), B(1), O([])) },
	operands => sub { pick(S('x'), N('1'), O([]), B(1), A([])) },
	coordinates => sub { pick(S('0,0'), N('1'), O([]), A([ N('1') ]), A([ N('1'), N('2'), N('3') ])) },
	max_distance_miles => sub { pick(S('1'), NUL(), A([]), B(1), N('-1')) },
	index_by => sub { pick(S('x'), N('1'), A([]), B(1)) });

sub objects_of_kind
{
	my ($acc, @kinds) = @_;
	my %k = map { $_ => 1 } @kinds;
	return grep { defined $_->[2] && $k{ $_->[2] } } @{ $acc->{objects} };
}

sub arrays_tagged
{
	my ($acc, @tags) = @_;
	my %t = map { $_ => 1 } @tags;
	return grep { defined $_->[2] && $t{ $_->[2] } } @{ $acc->{arrays} };
}

# Each returns a description of what it broke, or undef when the document
# has nothing it applies to.
my %strict_mutations = (
	unknown_member => sub {
		my ($acc) = @_;
		my @o = objects_of_kind($acc, @definition_kinds) or return undef;
		my $obj = pick(@o);
		my $key = pick(@unknown_members);
		splice @{ $obj->[1] }, rint(@{ $obj->[1] } + 1), 0, [ $key, rand_json(1) ];
		return "unknown member \"$key\" in a $obj->[2] object";
	},
	duplicate_member => sub {
		my ($acc) = @_;
		my @o = grep { @{ $_->[1] } } @{ $acc->{objects} } or return undef;
		my $obj = pick(@o);
		my $pair = pick(@{ $obj->[1] });
		my $copy = [ $pair->[0], chance(0.5) ? $pair->[1] : rand_json(1) ];
		splice @{ $obj->[1] }, rint(@{ $obj->[1] } + 1), 0, $copy;
		return "duplicate member \"$pair->[0]\"";
	},
	drop_required => sub {
		my ($acc) = @_;
		my @o = objects_of_kind($acc, keys %required) or return undef;
		my $obj = pick(@o);
		my $key = pick(@{ $required{ $obj->[2] } });
		@{ $obj->[1] } = grep { $_->[0] ne $key } @{ $obj->[1] };
		return "required member \"$key\" dropped from a $obj->[2] object";
	},
	bad_enum => sub {
		my ($acc) = @_;
		my @choices;
		push @choices, map { [ $_, \@bad_actions ] } grep { @{ $_->[1] } } arrays_tagged($acc, 'actions');
		push @choices, map { [ $_, \@bad_operations ] } grep { @{ $_->[1] } } arrays_tagged($acc, 'operations');
		for my $f (objects_of_kind($acc, 'filter', 'or'))
		{
			push @choices, [ $f, \@bad_operators ];
		}
		@choices or return undef;
		my ($node, $bad) = @{ pick(@choices) };
		my $value = pick(@$bad);
		if ($node->[0] eq 'a')
		{
			$node->[1][ rint(scalar @{ $node->[1] }) ] = S($value);
		}
		else
		{
			${ member_slot($node, 'operator') } = S($value);
		}
		return "unknown value \"$value\"";
	},
	bad_name => sub {
		my ($acc) = @_;
		my ($top) = objects_of_kind($acc, 'top') or return undef;
		my $slot = member_slot($top, 'name') or return undef;
		my $n = 257 + rint(20);
		$$slot = pick(S(''), S(join '', map { pick('a', 'é', '中', '😀') } 1 .. $n),
			$wrong_type_values{name}->());
		return 'name empty, too long or not a string';
	},
	duplicate_set_element => sub {
		my ($acc) = @_;
		my @a = grep { @{ $_->[1] } } arrays_tagged($acc, 'actions', 'operations', 'names')
		  or return undef;
		my $arr = pick(@a);
		my $e = pick(@{ $arr->[1] });
		splice @{ $arr->[1] }, rint(@{ $arr->[1] } + 1), 0, S($e->[1]);
		return "\"$e->[1]\" repeated in a set";
	},
	wrong_type => sub {
		my ($acc) = @_;
		my @choices;
		for my $obj (objects_of_kind($acc, @definition_kinds))
		{
			for my $pair (@{ $obj->[1] })
			{
				my $k = $pair->[0];
				push @choices, [ $pair, $k ] if $wrong_type_values{$k};
				push @choices, [ $pair, 'allowed_list' ]
				  if $k eq 'allowed' && $obj->[2] ne 'section:datasets';
				push @choices, [ $pair, 'section' ] if $obj->[2] eq 'options';
			}
		}
		@choices or return undef;
		my ($pair, $what) = @{ pick(@choices) };
		if ($what eq 'allowed_list')
		{
			$pair->[1] = pick(S('x'), N('1'), O([]), B(1), NUL());
		}
		elsif ($what eq 'section')
		{
			$pair->[1] = pick(S('x'), N('1'), A([]), B(1));
		}
		else
		{
			$pair->[1] = $wrong_type_values{$what}->();
		}
		return "member \"$pair->[0]\" of the wrong type";
	},
	too_deep_or => sub {
		my ($acc) = @_;
		my @lists = grep { @{ $_->[1] } } arrays_tagged($acc, 'filters') or return undef;
		my $list = pick(@lists);
		my $i = rint(scalar @{ $list->[1] });
		my $f = $list->[1][$i];
		$f = or_filter($f) for 1 .. 16;
		$list->[1][$i] = $f;
		return '"or" filters nested 17 levels deep';
	},
	bad_path => sub {
		my ($acc) = @_;
		my @f = objects_of_kind($acc, 'filter') or return undef;
		my $p = pick(@bad_paths);
		${ member_slot(pick(@f), 'property_name') } = S($p);
		return "property_name \"$p\"";
	},
	bad_value => sub {
		my ($acc) = @_;
		my @f = objects_of_kind($acc, 'filter') or return undef;
		my $f = pick(@f);
		my ($op, $value) = @{ pick(
			[ 'regex', S(pick(@bad_regexes)) ],
			[ 'within', O([ [ 'coordinates', A([ N('180.5'), N('0') ]) ], [ 'max_distance_miles', N('1') ] ], 'within') ],
			[ 'within', O([ [ 'coordinates', A([ N('0'), N('-90.01') ]) ], [ 'max_distance_miles', N('1') ] ], 'within') ],
			[ 'within', O([ [ 'coordinates', A([ N('1e400'), N('0') ]) ], [ 'max_distance_miles', N('1') ] ], 'within') ],
			[ 'within', O([ [ 'coordinates', A([ N('0'), N('0') ]) ], [ 'max_distance_miles', N('-0.5') ] ], 'within') ],
			[ 'within', A([ N('0'), N('0') ]) ],
			[ 'lt', B(1) ], [ 'gte', A([ N('1') ]) ], [ 'lte', NUL() ], [ 'gt', O([]) ],
			[ 'exists', S('yes') ], [ 'exists', NUL() ],
			[ 'in', S('a') ], [ 'in', O([]) ],
			[ 'contains', O([ [ 'a', N('1') ] ]) ], [ 'not_contains', A([]) ],
			[ 'regex', N('1') ]) };
		${ member_slot($f, 'operator') } = S($op);
		${ member_slot($f, 'property_value') } = $value;
		return "operator \"$op\" with an invalid property_value";
	},
	bad_resource_name => sub {
		my ($acc) = @_;
		my @targets = (arrays_tagged($acc, 'names'), objects_of_kind($acc, 'dataset_allowed'));
		@targets or return undef;
		my $t = pick(@targets);
		my $name = pick(@bad_names);
		if ($t->[0] eq 'a')
		{
			push @{ $t->[1] }, S($name);
		}
		else
		{
			return undef if has_key($t, $name);
			push @{ $t->[1] }, [ $name, O([], 'dataset_entry') ];
		}
		return "invalid resource name \"$name\"";
	},
	bad_autofill_key => sub {
		my ($acc) = @_;
		my @o = objects_of_kind($acc, 'autofill') or return undef;
		my $obj = pick(@o);
		my $key = pick('customer.id', '$id', '', 'a.b.c', 'k' x 257);
		return undef if has_key($obj, $key);
		push @{ $obj->[1] }, [ $key, rand_scalar() ];
		return "autofill property name \"$key\"";
	});
my @strict_names = sort keys %strict_mutations;

###########################################################################
# Random mutations: anything goes, the outcome is unknown.  Each returns
# whether it may have introduced a duplicate member.
###########################################################################

my @vocabulary = (@actions, @sections, @operators, @operations, qw(name is_active permitted
	  options autofill filters allowed blocked operations index_by property_name operator
	  property_value operands coordinates max_distance_miles or), @unknown_members);
my @special_numbers = qw(1e400 -1e400 1e-400 1E+1000 1e1000 1e1001 -1e-1000 1e-1001 -0 0e0
  1e131071 1e131072 -1e-16383 1e-16384 1e-16385
  0.000 1.0e+0 123456789012345678901234567890123456789 1e2147483648 1e-2147483649
  9e999999999999 0.1e-999 -1E308 1.7976931348623157e309 4.9e-325 00 01 .5 1. -  +1 1e 1e+ 0x10
  NaN Infinity -Infinity);
my @special_strings = ('"\u0000"', '"a\u0000b"', '"\ud800"', '"\udc00"', '"\ud800\ud800"',
	'"\uD83D\uDE00"', '"\u00e9"', '"\uFFFF"', '"\uFFFE"', '"\\\\"', '"\/"', '"\x"', '"\u12"',
	'"\uZZZZ"', '"\u00"', '"' . "\x{feff}" . '"', '""', '"\ud83d"', '"\udc00\ud83d"',
	'"\u0041\u0042"', '"\t"', '"tab' . "\t" . 'raw"', '"nl' . "\n" . 'raw"', '"\U00e9"');

sub rand_huge_string
{
	my $len = chance(0.25) ? pick(300_000, 1_048_000, 1_100_000) : pick(257, 1000, 5000, 70_000);
	my $unit = rand_text(1, 8);
	return S(substr($unit x (int($len / length($unit)) + 1), 0, $len));
}

sub wrap_deep
{
	my ($v) = @_;
	my $n = pick(10, 100, 1000, 10_000, 100_000);
	my $inner = enc($v);
	return RAW(chance(0.5) ? ('[' x $n) . $inner . (']' x $n) : ('{"a":' x $n) . $inner . ('}' x $n));
}

# Numbers whose text grows a thousandfold on output.
sub number_bomb
{
	my ($num, $n) = @{ pick([ '1e131071', pick(2, 8, 20) ], [ '-1e131071', 9 ],
			[ '1e-16383', pick(4, 70) ], [ pick('1e1000', '-1e1000', '9.999e999'), pick(10, 500, 1100) ]) };
	return RAW('[' . join(',', ($num) x $n) . ']');
}

my %random_mutations = (
	drop_member => sub {
		my ($acc) = @_;
		my @o = grep { @{ $_->[1] } } @{ $acc->{objects} } or return 0;
		my $obj = pick(@o);
		splice @{ $obj->[1] }, rint(scalar @{ $obj->[1] }), 1;
		return 0;
	},
	add_member => sub {
		my ($acc) = @_;
		my @o = @{ $acc->{objects} } or return 0;
		my $obj = pick(@o);
		my $key = pick(@vocabulary);
		push @{ $obj->[1] }, [ $key, rand_json(2) ];
		return has_key($obj, $key) > 1;
	},
	rename_member => sub {
		my ($acc) = @_;
		my @o = grep { @{ $_->[1] } } @{ $acc->{objects} } or return 0;
		my $obj = pick(@o);
		my $pair = pick(@{ $obj->[1] });
		my $k = $pair->[0];
		my $r = rint(4);
		my $i = rint(length($k) || 1);
		$pair->[0] =
		    ($r == 0 || $k eq '') ? pick(@vocabulary)
		  : $r == 1 ? uc($k)
		  : $r == 2 ? $k . substr($k, -1)
		  : substr($k, 0, $i) . substr($k, $i + 1);
		return has_key($obj, $pair->[0]) > 1;
	},
	swap_members => sub {
		my ($acc) = @_;
		my @o = grep { @{ $_->[1] } >= 2 } @{ $acc->{objects} } or return 0;
		my $obj = pick(@o);
		my ($i, $j) = (rint(scalar @{ $obj->[1] }), rint(scalar @{ $obj->[1] }));
		if (chance(0.5))
		{
			($obj->[1][$i][0], $obj->[1][$j][0]) = ($obj->[1][$j][0], $obj->[1][$i][0]);
		}
		else
		{
			($obj->[1][$i][1], $obj->[1][$j][1]) = ($obj->[1][$j][1], $obj->[1][$i][1]);
		}
		return 0;
	},
	duplicate_member => sub {
		my ($acc) = @_;
		my @o = grep { @{ $_->[1] } } @{ $acc->{objects} } or return 0;
		my $obj = pick(@o);
		push @{ $obj->[1] }, [ pick(@{ $obj->[1] })->[0], rand_json(1) ];
		return 1;
	},
	replace_value => sub {
		my ($acc) = @_;
		my $slot = pick(@{ $acc->{slots} });
		$$slot = rand_json(3);
		return 0;
	},
	deep_nesting => sub {
		my ($acc) = @_;
		my $slot = pick(@{ $acc->{slots} });
		$$slot = wrap_deep($$slot);
		return 0;
	},
	huge_string => sub {
		my ($acc) = @_;
		my @s = @{ $acc->{strings} } ? @{ $acc->{strings} } : @{ $acc->{slots} };
		${ pick(@s) } = rand_huge_string();
		return 0;
	},
	special_number => sub {
		my ($acc) = @_;
		my @s = @{ $acc->{numbers} } && chance(0.5) ? @{ $acc->{numbers} } : @{ $acc->{slots} };
		${ pick(@s) } = RAW(pick(@special_numbers));
		return 0;
	},
	special_string => sub {
		my ($acc) = @_;
		my @s = @{ $acc->{strings} } && chance(0.7) ? @{ $acc->{strings} } : @{ $acc->{slots} };
		${ pick(@s) } = RAW(pick(@special_strings));
		return 0;
	},
	number_bomb => sub {
		my ($acc) = @_;
		${ pick(@{ $acc->{slots} }) } = number_bomb();
		return 0;
	},
	duplicate_element => sub {
		my ($acc) = @_;
		my @a = grep { @{ $_->[1] } } @{ $acc->{arrays} } or return 0;
		my $arr = pick(@a);
		push @{ $arr->[1] }, pick(@{ $arr->[1] });
		return 0;
	},
	delete_element => sub {
		my ($acc) = @_;
		my @a = grep { @{ $_->[1] } } @{ $acc->{arrays} } or return 0;
		my $arr = pick(@a);
		splice @{ $arr->[1] }, rint(scalar @{ $arr->[1] }), 1;
		return 0;
	},
	nest_or => sub {
		my ($acc) = @_;
		my @lists = grep { @{ $_->[1] } } arrays_tagged($acc, 'filters') or return 0;
		my $list = pick(@lists);
		my $i = rint(scalar @{ $list->[1] });
		$list->[1][$i] = or_filter($list->[1][$i]) for 1 .. 10 + rint(10);
		return 0;
	});
my @random_names = sort keys %random_mutations;

###########################################################################
# Text mutations
###########################################################################

my @text_tokens = ('{', '}', '[', ']', '"', ':', ',', '\\', '/', 'u', '0', '1', '9', 'e',
	'E', '.', '-', '+', ' ', "\t", "\n", 'null', 'true', 'false', '"name"', '"operator"',
	'"or"', '[]', '{}', '"\u0000"', '"\ud800"', '1e400', '\u', '\"', '"x":', '""', "\x{e9}",
	"\x{1f600}", "\x{7f}");

sub mutate_text
{
	my ($t) = @_;
	for (1 .. 1 + rint(4))
	{
		my $len = length $t;
		my $pos = rint($len + 1);
		my $r = rint(7);
		if ($r == 0 && $len)
		{
			substr($t, $pos >= $len ? $len - 1 : $pos, 1 + rint(3), '');
		}
		elsif ($r == 1)
		{
			substr($t, $pos, 0, chance(0.7) ? pick(@text_tokens) : rand_code_point());
		}
		elsif ($r == 2 && $len)
		{
			substr($t, $pos >= $len ? $len - 1 : $pos, 1, chance(0.7) ? pick(@text_tokens) : rand_code_point());
		}
		elsif ($r == 3 && $len)
		{
			my $from = rint($len);
			my $slice = substr($t, $from, 1 + rint(40));
			substr($t, rint($len + 1), 0, $slice);
		}
		elsif ($r == 4)
		{
			$t = substr($t, 0, $pos);
		}
		elsif ($r == 5 && $len >= 2)
		{
			my ($i, $j) = (rint($len), rint($len));
			my ($ci, $cj) = (substr($t, $i, 1), substr($t, $j, 1));
			substr($t, $i, 1, $cj);
			substr($t, $j, 1, $ci);
		}
		else
		{
			$t .= pick(@text_tokens);
		}
	}
	return $t;
}

###########################################################################
# The corpus
###########################################################################

# Each case: [class, expect ('accept', 'reject' or 'any'), no_dup, text, note]
my @cases;

sub serialize_with_random_style
{
	my ($doc) = @_;
	local $whitespace_rate = chance(0.3) ? 0.3 : 0;
	local $escape_rate = chance(0.3) ? 0.1 : 0;
	return enc($doc);
}

# Fixed edge cases.
my $deep_or = '{"property_name":"a","operator":"exists","property_value":true}';
$deep_or = qq({"operator":"or","operands":[$deep_or]}) for 1 .. 15;
my $too_deep_or = qq({"operator":"or","operands":[$deep_or]});
my $bomb = join ',', ('1e1000') x 1100;
my $big_bomb = join ',', ('1e131071') x 8;
my $fill_to = sub {
	my ($target) = @_;
	my $prefix = '{"name":"x","options":{"writes":{"autofill":{"a":"';
	my $suffix = '"}}}}';
	return $prefix . ('v' x ($target - length($prefix) - length($suffix))) . $suffix;
};
push @cases,
  [ 'fixed', 'accept', 1, $seed_example, 'seed example of docs/reference.md' ],
  [ 'fixed', 'accept', 1, '{"name":"x"}', 'minimal' ],
  [ 'fixed', 'accept', 1, qq({"name":"x","options":{"queries":{"filters":[$deep_or]}}}), '15 nested or' ],
  [ 'fixed', 'reject', 1, qq({"name":"x","options":{"queries":{"filters":[$too_deep_or]}}}), '16 nested or' ],
  [ 'fixed', 'reject', 1, '', 'empty' ],
  [ 'fixed', 'reject', 1, ' ', 'blank' ],
  [ 'fixed', 'reject', 1, '{}', 'no name' ],
  [ 'fixed', 'reject', 1, 'null', 'null' ],
  [ 'fixed', 'reject', 1, '[]', 'array' ],
  [ 'fixed', 'reject', 1, '"x"', 'string' ],
  [ 'fixed', 'reject', 1, '{"name":"x"} x', 'trailing garbage' ],
  [ 'fixed', 'reject', 1, '{"name":"x"}{"name":"y"}', 'two objects' ],
  [ 'fixed', 'reject', 0, '{"name":"x","name":"x"}', 'duplicate name' ],
  [ 'fixed', 'reject', 0, '{"name":"x","n\u0061me":"y"}', 'duplicate name, escaped' ],
  [ 'fixed', 'reject', 1, "\x{feff}" . '{"name":"x"}', 'byte order mark' ],
  [ 'fixed', 'reject', 1, '{"name":"\u0000"}', 'NUL escape' ],
  [ 'fixed', 'reject', 1, '{"name":"\ud800"}', 'lone surrogate' ],
  [ 'fixed', 'accept', 1, '{"name":"\ud83d\ude00"}', 'surrogate pair' ],
  [ 'fixed', 'any', 1, '{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"eq","property_value":1e400}]}}}', '1e400' ],
  [ 'fixed', 'any', 1, qq({"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"in","property_value":[$bomb]}]}}}), '1100 x 1e1000' ],
  [ 'fixed', 'any', 1, qq({"name":"bomb","options":{"queries":{"filters":[{"property_name":"a","operator":"in","property_value":[$big_bomb]}]}}}), '8 x 1e131071' ],
  [ 'fixed', 'any', 1, '{"name":"x","options":{"writes":{"autofill":{"a":' . ('[' x 100_000) . (']' x 100_000) . '}}}}', 'deep arrays' ],
  [ 'fixed', 'any', 1, ('{"a":' x 50_000) . '1' . ('}' x 50_000), 'deep objects' ],
  [ 'fixed', 'reject', 1, '[' x 1_000_000, 'unterminated deep array' ],
  [ 'fixed', 'any', 1, $fill_to->(1024 * 1024), 'exactly 1 MiB' ],
  [ 'fixed', 'reject', 1, $fill_to->(1024 * 1024 + 1), '1 MiB + 1 byte' ],
  [ 'fixed', 'reject', 1, '{"name":"x","options":{"queries":{"filters":[{"property_name":"a","operator":"regex","property_value":"(a)\\\\2"}]}}}', 'regex back reference to a missing group' ];

my %class_count = (valid => 1000, strict => 1200, structural => 2000, textual => 2000, random => 400);

for (1 .. $class_count{valid})
{
	push @cases, [ 'valid', 'accept', 1, serialize_with_random_style(rand_definition()), 'valid' ];
}

for (1 .. $class_count{strict})
{
	for my $attempt (1 .. 20)
	{
		my $doc = rand_definition();
		my $name = pick(@strict_names);
		my $what = $strict_mutations{$name}->(nodes(\$doc)) // next;
		push @cases, [ 'strict', 'reject', $name ne 'duplicate_member', serialize_with_random_style($doc), "$name: $what" ];
		last;
	}
}

for (1 .. $class_count{structural})
{
	my $doc = rand_definition();
	my $dup = 0;
	my @applied;
	for (1 .. 1 + rint(3))
	{
		my $name = pick(@random_names);
		$dup ||= $random_mutations{$name}->(nodes(\$doc));
		push @applied, $name;
	}
	push @cases, [ 'structural', 'any', !$dup, serialize_with_random_style($doc), join(',', @applied) ];
}

for (1 .. $class_count{textual})
{
	my $text = chance(0.1) ? $seed_example : serialize_with_random_style(rand_definition());
	push @cases, [ 'textual', 'any', 0, mutate_text($text), 'text mutations' ];
}

for (1 .. $class_count{random})
{
	my $text;
	if (chance(0.5))
	{
		$text = join '', map { rand_code_point() } 1 .. rint(200);
	}
	else
	{
		$text = join '', map { chance(0.8) ? pick(@text_tokens) : rand_code_point() } 1 .. rint(100);
	}
	push @cases, [ 'random', 'any', 0, $text, 'random text' ];
}

# Text values cannot hold NUL; nothing above generates one, but be sure.
for my $c (@cases)
{
	die "generated a NUL character: $c->[4]" if $c->[3] =~ /\x00/;
}
my $total = scalar @cases;
note("generated $total definitions");

###########################################################################
# The server
###########################################################################

my $node = PostgreSQL::Test::Cluster->new('input_fuzz');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', "statement_timeout = '120s'\nlog_statement = none\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION access_key');

my $tempdir = PostgreSQL::Test::Utils::tempdir;

# Load the corpus with COPY (text format: escape backslash, tab, newline, CR).
sub copy_field
{
	my ($s) = @_;
	$s =~ s/\\/\\\\/g;
	$s =~ s/\t/\\t/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\r/\\r/g;
	return $s;
}

# Perl's :encoding(UTF-8) layer would replace noncharacters such as U+FFFF
# with "\x{FFFF}"; utf8::encode writes every code point as UTF-8.
sub utf8_bytes
{
	my ($s) = @_;
	utf8::encode($s);
	return $s;
}

open my $fh, '>:raw', "$tempdir/corpus.copy" or die $!;
for my $i (0 .. $#cases)
{
	my ($class, $expect, $no_dup, $text, $what) = @{ $cases[$i] };
	print $fh utf8_bytes(join("\t", $i + 1, $class, $expect, $no_dup ? 't' : 'f', copy_field($what), copy_field($text)) . "\n");
}
close $fh;

$node->safe_psql('postgres', qq{
CREATE TABLE fuzz (id int PRIMARY KEY, class text NOT NULL, expect text NOT NULL,
                   no_dup boolean NOT NULL, mutation text NOT NULL, d text NOT NULL, result text);
COPY fuzz (id, class, expect, no_dup, mutation, d) FROM '$tempdir/corpus.copy';

-- 'ok', or the SQLSTATE, message and detail of the error.
CREATE FUNCTION fuzz_try(d text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    message text;
    detail text;
BEGIN
    PERFORM d::access_key.access_key;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ' ' || message || coalesce(': ' || left(detail, 300), '');
END
\$\$;

-- The same through the cast from jsonb; NULL when d is not jsonb.
CREATE FUNCTION fuzz_try_jsonb(d text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    j jsonb;
BEGIN
    BEGIN
        j := d::jsonb;
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END;
    PERFORM j::access_key.access_key;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
\$\$;

-- NULL when an accepted definition round-trips, else what went wrong.
CREATE FUNCTION fuzz_round_trip(d text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    v access_key.access_key := d::access_key.access_key;
    t text := v::text;
BEGIN
    BEGIN
        IF NOT (t::access_key.access_key OPERATOR(access_key.=) v) THEN
            RETURN 'd::access_key::text::access_key <> d::access_key';
        END IF;
        IF t IS DISTINCT FROM t::access_key.access_key::text THEN
            RETURN 'output is not idempotent';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RETURN 'the output does not read back: ' || SQLSTATE || ' ' || SQLERRM;
    END;
    BEGIN
        IF NOT (v::jsonb::access_key.access_key OPERATOR(access_key.=) v) THEN
            RETURN 'd::access_key::jsonb::access_key <> d::access_key';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RETURN 'the jsonb form does not read back: ' || SQLSTATE || ' ' || SQLERRM;
    END;
    RETURN NULL;
END
\$\$;

CREATE FUNCTION fuzz_sorted(a jsonb) RETURNS text[] LANGUAGE sql AS \$\$
    SELECT array_agg(e ORDER BY e) FROM jsonb_array_elements_text(a) AS e
\$\$;

-- NULL when the accepted value means what the input said (docs/reference.md#the-access_key-type:
-- defaults filled, sets compared as sets, nothing dropped or invented).
CREATE FUNCTION fuzz_meaning(d text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    src jsonb := d::jsonb;
    got jsonb := d::access_key.access_key::jsonb;
    s text;
    m text;
    sv jsonb;
    gv jsonb;
BEGIN
    IF (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(got) AS k)
       IS DISTINCT FROM '{is_active,name,options,permitted}'::text[] THEN
        RETURN 'top-level members ' || (SELECT string_agg(k, ',') FROM jsonb_object_keys(got) AS k);
    END IF;
    IF got->'name' IS DISTINCT FROM src->'name' THEN RETURN 'name'; END IF;
    IF got->'is_active' IS DISTINCT FROM coalesce(src->'is_active', 'true') THEN RETURN 'is_active'; END IF;
    IF fuzz_sorted(got->'permitted') IS DISTINCT FROM fuzz_sorted(coalesce(src->'permitted', '[]')) THEN
        RETURN 'permitted';
    END IF;
    FOREACH s IN ARRAY ARRAY['writes', 'queries', 'saved_queries', 'cached_queries', 'datasets', 'schema'] LOOP
        sv := src->'options'->s;
        gv := got->'options'->s;
        IF sv IS NULL OR sv = 'null' THEN
            IF gv IS NOT NULL THEN RETURN 'options.' || s || ' appeared'; END IF;
            CONTINUE;
        END IF;
        IF gv IS NULL THEN RETURN 'options.' || s || ' dropped'; END IF;
        IF (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(sv) AS k)
           IS DISTINCT FROM (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(gv) AS k) THEN
            RETURN 'options.' || s || ' members';
        END IF;
        FOR m IN SELECT jsonb_object_keys(sv) LOOP
            IF jsonb_typeof(sv->m) = 'array' AND m IN ('allowed', 'blocked', 'operations') THEN
                IF fuzz_sorted(gv->m) IS DISTINCT FROM fuzz_sorted(sv->m) THEN
                    RETURN 'options.' || s || '.' || m;
                END IF;
            ELSIF gv->m IS DISTINCT FROM sv->m THEN
                RETURN 'options.' || s || '.' || m;
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
\$\$;
});

is($node->safe_psql('postgres', 'SELECT count(*) FROM fuzz'), $total, "the $total generated definitions are loaded");

# Runs the casts in batches.  A batch that fails can only have been stopped
# by a crash, a timeout or an error the exception block could not catch: its
# definitions are then retried one by one to name the culprits.
my @culprits;
my $batch_size = 250;
my $started = time();
for (my $lo = 1; $lo <= $total; $lo += $batch_size)
{
	my $hi = $lo + $batch_size - 1;
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"UPDATE fuzz SET result = fuzz_try(d) WHERE id BETWEEN $lo AND $hi");
	next if $ret == 0;
	diag("batch $lo..$hi failed: $stderr");
	for my $id ($lo .. $hi)
	{
		# Restart a server that went down (restart_after_crash is off).
		if ($node->psql('postgres', 'SELECT 1') != 0)
		{
			$node->_update_pid(0);
			$node->start;
		}
		my ($r, $o, $e) = $node->psql('postgres',
			"UPDATE fuzz SET result = fuzz_try(d) WHERE id = $id");
		next if $r == 0;
		push @culprits, $id;
		my $text = $cases[ $id - 1 ][3];
		my $file = "$PostgreSQL::Test::Utils::log_path/002_input_fuzz_culprit_$id.json";
		open my $cfh, '>:raw', $file or die $!;
		print $cfh utf8_bytes($text);
		close $cfh;
		diag("definition $id ($cases[$id - 1][4]) stopped the server or the batch: $e\n"
			  . 'input (first 300 characters): ' . substr($text, 0, 300) . "\nfull input saved in $file");
	}
}
note(sprintf('casts took %.1f s', time() - $started));

is(scalar @culprits, 0, 'no definition crashes the server or escapes the exception block')
  or diag("culprits: @culprits");

# Outcomes.
my $outcomes = $node->safe_psql('postgres', q{
    SELECT class, CASE WHEN result = 'ok' THEN 'ok' ELSE left(result, 5) END AS outcome, count(*)
    FROM fuzz GROUP BY 1, 2 ORDER BY 1, 2});
note("outcomes by class:\n$outcomes");
note("rules broken in the strict class:\n" . $node->safe_psql('postgres', q{
    SELECT split_part(mutation, ':', 1), count(*) FROM fuzz WHERE class = 'strict' GROUP BY 1 ORDER BY 1}));

sub rows_with
{
	my ($sql) = @_;
	my $out = $node->safe_psql('postgres', $sql);
	return $out eq '' ? () : split /\n/, $out;
}

my $allowed_list = join ',', map { "'$_'" } sort keys %allowed_states;
my @unexpected = rows_with(qq{
    SELECT id, class, mutation, result, left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 200) FROM fuzz
    WHERE result IS NULL OR (result <> 'ok' AND left(result, 5) NOT IN ($allowed_list))
    ORDER BY id LIMIT 20});
is(scalar @unexpected, 0,
	'every definition is accepted or rejected with 22P02, 22023, 54001, 22P05, 54000 or 22003')
  or diag(join "\n", @unexpected);

my @wrongly_rejected = rows_with(q{
    SELECT id, class, mutation, result, left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 300) FROM fuzz
    WHERE expect = 'accept' AND result IS DISTINCT FROM 'ok' ORDER BY id LIMIT 20});
is(scalar @wrongly_rejected, 0, 'every valid definition (built from the rules of docs/reference.md, type and filters) is accepted')
  or diag(join "\n", @wrongly_rejected);

my @wrongly_accepted = rows_with(q{
    SELECT id, class, mutation, result, left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 300) FROM fuzz
    WHERE expect = 'reject' AND result = 'ok' ORDER BY id LIMIT 20});
is(scalar @wrongly_accepted, 0, 'every definition that breaks a rule is rejected')
  or diag(join "\n", @wrongly_accepted);

my @strict_not_22023 = rows_with(q{
    SELECT id, mutation, result, left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 300) FROM fuzz
    WHERE class = 'strict' AND result NOT LIKE '22023 %' ORDER BY id LIMIT 20});
is(scalar @strict_not_22023, 0, 'each broken rule in well-formed JSON is reported as 22023')
  or diag(join "\n", @strict_not_22023);

my $counts = $node->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE result = 'ok'), count(*) FILTER (WHERE result <> 'ok'),
           count(*) FILTER (WHERE result = 'ok' AND class IN ('structural', 'textual')),
           string_agg(DISTINCT left(result, 5), ',') FILTER (WHERE result <> 'ok')
    FROM fuzz});
my ($accepted, $rejected, $mutants_accepted, $states) = split /\|/, $counts;
note("accepted $accepted, rejected $rejected ($states); mutants accepted: $mutants_accepted");
ok($accepted >= $total / 10 && $rejected >= $total / 10 && $mutants_accepted >= 50,
	'the corpus exercises both acceptance and rejection');
like($states, qr/22P02/, 'the corpus reaches JSON syntax errors (22P02)');
like($states, qr/22023/, 'the corpus reaches definition errors (22023)');
like($states, qr/54001/, 'the corpus reaches the stack depth limit (54001)');

# Every accepted definition round-trips through its text and jsonb forms.
$started = time();
my @round_trip_failures = rows_with(q{
    SELECT id, class, mutation, fuzz_round_trip(d), length(d), left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 200) FROM fuzz
    WHERE result = 'ok' AND fuzz_round_trip(d) IS NOT NULL ORDER BY id LIMIT 20});
is(scalar @round_trip_failures, 0,
	"every accepted definition round-trips: d::access_key::text::access_key = d::access_key, "
	  . "output is idempotent, and the jsonb cast reads back")
  or diag(join "\n", @round_trip_failures);

# ... keeps its meaning ...
my @meaning_failures = rows_with(q{
    SELECT id, class, mutation, fuzz_meaning(d), left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 200) FROM fuzz
    WHERE result = 'ok' AND fuzz_meaning(d) IS NOT NULL ORDER BY id LIMIT 20});
is(scalar @meaning_failures, 0,
	'every accepted definition keeps the meaning of its input (defaults filled, nothing dropped)')
  or diag(join "\n", @meaning_failures);

# ... and round-trips through binary COPY (access_key_send / access_key_recv),
# one definition at a time so that each failure is named.
$node->safe_psql('postgres', qq{
CREATE TABLE fuzz_binary (v access_key.access_key);
CREATE FUNCTION fuzz_binary_round_trip(fuzz_id int) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    file text := '$tempdir/one.bin';
    copied access_key.access_key;
BEGIN
    EXECUTE format('COPY (SELECT d::access_key.access_key FROM fuzz WHERE id = %s) TO %L WITH (FORMAT binary)',
                   fuzz_id, file);
    DELETE FROM fuzz_binary;
    BEGIN
        EXECUTE format('COPY fuzz_binary FROM %L WITH (FORMAT binary)', file);
    EXCEPTION WHEN OTHERS THEN
        RETURN 'binary COPY does not read back: ' || SQLSTATE || ' ' || SQLERRM;
    END;
    SELECT v INTO copied FROM fuzz_binary;
    IF NOT (copied OPERATOR(access_key.=) (SELECT d::access_key.access_key FROM fuzz WHERE id = fuzz_id)) THEN
        RETURN 'the binary copy differs';
    END IF;
    RETURN NULL;
END
\$\$;
});
my @binary_failures = rows_with(q{
    SELECT id, class, mutation, problem, left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 200)
    FROM fuzz, LATERAL fuzz_binary_round_trip(id) AS problem
    WHERE result = 'ok' AND problem IS NOT NULL ORDER BY id LIMIT 20});
is(scalar @binary_failures, 0,
	'every accepted definition round-trips through binary COPY (send/receive)')
  or diag(join "\n", @binary_failures);

# Every way in validates alike: where the input is JSON without duplicate
# members, the cast from jsonb reaches the same verdict as text input.
my @disagreements = rows_with(q{
    SELECT id, class, mutation, result, fuzz_try_jsonb(d), left(regexp_replace(d, '[[:space:]]+', ' ', 'g'), 200) FROM fuzz
    WHERE no_dup AND octet_length(d) < 1000000 AND fuzz_try_jsonb(d) IS NOT NULL
      AND fuzz_try_jsonb(d) IS DISTINCT FROM CASE WHEN result = 'ok' THEN 'ok' ELSE left(result, 5) END
    ORDER BY id LIMIT 20});
is(scalar @disagreements, 0, 'the cast from jsonb and text input agree on every duplicate-free input')
  or diag(join "\n", @disagreements);
note(sprintf('round-trip checks took %.1f s', time() - $started));

# The server survived it all.
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is alive');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated by exception/, 'no backend was terminated by a signal');
unlike($log, qr/TRAP:|PANIC:/, 'no assertion failure or PANIC in the server log');

$node->stop;
done_testing();
