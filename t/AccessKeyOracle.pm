
# An independent model of access_key's filter semantics
# (docs/reference.md#filter-semantics, #ak_permits-rules, #protected-collections,
# #ak_saved_query_resultname-text--jsonb), and a generator of random worlds
# (tenants, events, a second collection, keys) for t/008_isolation_oracle.pl.
#
# Nothing here calls or mirrors the extension's evaluator: every rule below is
# written from the documentation's text.  JSON values are modelled so that
# numbers keep their written form and compare as exact decimals:
#
#   ['s', string]  ['n', number text]  ['b', 0|1]  ['z'] (null)
#   ['a', [elements]]  ['o', [[name, value], ...]]  (names unique)
#
# A filter is {op, path, value} or {op => 'or', operands => [...]}; a regex
# filter also carries perl => the Perl spelling of its pattern.
package AccessKeyOracle;

use strict;
use warnings;
use utf8;

use Exporter 'import';
our @EXPORT_OK = qw(
  S N B Z A O
  to_json json_eq num_cmp parse_ts flatten
  eval_filter visible key_json filter_json key_permits_saved
  generate_world haversine_miles index_world
);

###########################################################################
# JSON model
###########################################################################

sub S { return [ 's', $_[0] ]; }
sub N { return [ 'n', $_[0] ]; }
sub B { return [ 'b', $_[0] ? 1 : 0 ]; }
sub Z { return ['z']; }
sub A { return [ 'a', [ @{ $_[0] } ] ]; }
sub O { return [ 'o', [ @{ $_[0] } ] ]; }

# JSON text.  With $escape, every non-ASCII character is written as a \u
# escape (surrogate pairs above the BMP), so both spellings reach the server.
sub json_string
{
	my ($s, $escape) = @_;
	my $out = '"';
	for my $c (split //, $s)
	{
		my $o = ord $c;
		if    ($c eq '"')  { $out .= '\\"'; }
		elsif ($c eq '\\') { $out .= '\\\\'; }
		elsif ($o == 0x0a) { $out .= '\\n'; }
		elsif ($o == 0x09) { $out .= '\\t'; }
		elsif ($o < 0x20)  { $out .= sprintf('\\u%04x', $o); }
		elsif ($o > 0x7e && $escape)
		{
			if ($o > 0xffff)
			{
				my $v = $o - 0x10000;
				$out .= sprintf('\\u%04x\\u%04X', 0xd800 + ($v >> 10), 0xdc00 + ($v & 0x3ff));
			}
			else { $out .= sprintf('\\u%04x', $o); }
		}
		else { $out .= $c; }
	}
	return $out . '"';
}

sub to_json
{
	my ($v, $escape) = @_;
	my $t = $v->[0];
	return json_string($v->[1], $escape) if $t eq 's';
	return $v->[1] if $t eq 'n';
	return $v->[1] ? 'true' : 'false' if $t eq 'b';
	return 'null' if $t eq 'z';
	return '[' . join(',', map { to_json($_, $escape) } @{ $v->[1] }) . ']' if $t eq 'a';
	return '{' . join(',', map { json_string($_->[0], $escape) . ':' . to_json($_->[1], $escape) } @{ $v->[1] }) . '}'
	  if $t eq 'o';
	die "bad JSON model node $t";
}

###########################################################################
# Numbers: exact decimal comparison (numeric order, 1 = 1.0)
###########################################################################

my %dec_cache;

# number text -> [sign (-1, 0, 1), significant digits, exponent of the last digit]
sub dec_parse
{
	my ($t) = @_;
	return $dec_cache{$t} if $dec_cache{$t};
	$t =~ /\A(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?\z/
	  or die "not a JSON number: $t";
	my ($neg, $int, $frac, $exp) = ($1, $2, $3 // '', $4 // 0);
	my $digits = $int . $frac;
	my $e = $exp - length($frac);
	$digits =~ s/^0+//;
	if ($digits eq '') { return $dec_cache{$t} = [ 0, '', 0 ]; }
	while ($digits =~ s/0$//) { $e++; }
	return $dec_cache{$t} = [ $neg ? -1 : 1, $digits, $e ];
}

sub num_cmp
{
	my ($x, $y) = @_;
	my ($sa, $da, $ea) = @{ dec_parse($x) };
	my ($sb, $db, $eb) = @{ dec_parse($y) };
	return $sa <=> $sb if $sa != $sb;
	return 0 if $sa == 0;
	# magnitude: position of the most significant digit, then the digits
	my $ma = length($da) + $ea;
	my $mb = length($db) + $eb;
	my $c = $ma <=> $mb;
	if ($c == 0)
	{
		my $len = length($da) > length($db) ? length($da) : length($db);
		$c = ($da . ('0' x ($len - length($da)))) cmp($db . ('0' x ($len - length($db))));
	}
	return $sa * $c;
}

sub num_value { return 0 + $_[0]; }    # only for geo distances (doubles)

###########################################################################
# ISO-8601 timestamps, as docs/reference.md defines them
###########################################################################

my %ts_cache;

sub is_leap { my $y = shift; return ($y % 4 == 0 && $y % 100 != 0) || $y % 400 == 0; }

sub days_in_month
{
	my ($y, $m) = @_;
	return (31, is_leap($y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[ $m - 1 ];
}

# days since 1970-01-01 of a proleptic Gregorian date
sub days_from_civil
{
	my ($y, $m, $d) = @_;
	$y -= $m <= 2 ? 1 : 0;
	my $era = int(($y >= 0 ? $y : $y - 399) / 400);
	my $yoe = $y - $era * 400;
	my $doy = int((153 * ($m + ($m > 2 ? -3 : 9)) + 2) / 5) + $d - 1;
	my $doe = $yoe * 365 + int($yoe / 4) - int($yoe / 100) + $doy;
	return $era * 146097 + $doe - 719468;
}

# Microseconds since the epoch (UTC), or undef when the string is not a
# timestamp.  A date alone is its midnight UTC; a time without an offset is
# UTC; second 60 rolls into the next minute; fraction digits beyond
# microseconds are ignored.
sub parse_ts
{
	my ($s) = @_;
	return $ts_cache{$s} if exists $ts_cache{$s};
	my $r;
	if ($s =~ /\A([0-9]{4})-([0-9]{2})-([0-9]{2})
			(?:[Tt\ ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?
				(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\z/x)
	{
		my ($y, $mo, $d, $h, $mi, $sec, $frac, $zone) = ($1, $2, $3, $4 // 0, $5 // 0, $6 // 0, $7 // '', $8 // '');
		my $ok = $mo >= 1 && $mo <= 12 && $d >= 1 && $d <= days_in_month($y, $mo)
		  && $h <= 23 && $mi <= 59 && $sec <= 60;
		my $off = 0;
		if ($ok && $zone =~ /\A([+-])([0-9]{2}):?([0-9]{2})?\z/)
		{
			my ($sign, $oh, $om) = ($1, $2, $3 // 0);
			$ok = $oh <= 23 && $om <= 59;
			$off = ($sign eq '-' ? -1 : 1) * ($oh * 60 + $om) * 60;
		}
		if ($ok)
		{
			my $micro = substr($frac . '000000', 0, 6);
			$r = (((days_from_civil($y, $mo, $d) * 24 + $h) * 60 + $mi) * 60 + $sec - $off) * 1000000 + $micro;
		}
	}
	return $ts_cache{$s} = $r;
}

###########################################################################
# Semantics
###########################################################################

# JSON equality: same type; numbers numerically; arrays in order; objects
# member by member.
sub json_eq
{
	my ($x, $y) = @_;
	my $t = $x->[0];
	return 0 if $t ne $y->[0];
	return $x->[1] eq $y->[1] if $t eq 's';
	return num_cmp($x->[1], $y->[1]) == 0 if $t eq 'n';
	return $x->[1] == $y->[1] if $t eq 'b';
	return 1 if $t eq 'z';
	if ($t eq 'a')
	{
		my ($p, $q) = ($x->[1], $y->[1]);
		return 0 if @$p != @$q;
		for my $i (0 .. $#$p) { return 0 unless json_eq($p->[$i], $q->[$i]); }
		return 1;
	}
	my %other = map { $_->[0] => $_->[1] } @{ $y->[1] };
	return 0 if @{ $x->[1] } != keys %other;
	for my $m (@{ $x->[1] })
	{
		return 0 unless exists $other{ $m->[0] } && json_eq($m->[1], $other{ $m->[0] });
	}
	return 1;
}

# The properties as a map from every dot path (through objects only) to its
# value.  Not an object: every path is missing.  A dot in a path always means
# nesting, so a member whose name contains a dot (which the data may have) is
# at no path, and a joined path names one place.
sub flatten
{
	my ($props) = @_;
	my %flat;
	return \%flat unless defined $props && $props->[0] eq 'o';
	my @todo = ([ '', $props ]);
	while (my $item = shift @todo)
	{
		my ($prefix, $obj) = @$item;
		for my $m (@{ $obj->[1] })
		{
			next if index($m->[0], '.') >= 0;
			my $path = $prefix eq '' ? $m->[0] : "$prefix.$m->[0]";
			$flat{$path} = $m->[1];
			push @todo, [ $path, $m->[1] ] if $m->[1][0] eq 'o';
		}
	}
	return \%flat;
}

# lt/lte/gt/gte: <0, 0, >0, or undef when the two never compare.
sub order_cmp
{
	my ($v, $V) = @_;
	if ($v->[0] eq 'n' && $V->[0] eq 'n') { return num_cmp($v->[1], $V->[1]); }
	if ($v->[0] eq 's' && $V->[0] eq 's')
	{
		my ($a, $b) = (parse_ts($v->[1]), parse_ts($V->[1]));
		return $a <=> $b if defined $a && defined $b;
		return $v->[1] cmp $V->[1];    # code point order = UTF-8 byte order
	}
	return undef;
}

sub contains
{
	my ($v, $V) = @_;
	return index($v->[1], $V->[1]) >= 0 if $v->[0] eq 's' && $V->[0] eq 's';
	if ($v->[0] eq 'a')
	{
		for my $e (@{ $v->[1] }) { return 1 if json_eq($e, $V); }
	}
	return 0;
}

sub point_of
{
	my ($v) = @_;
	if ($v->[0] eq 'o')
	{
		my ($c) = grep { $_->[0] eq 'coordinates' } @{ $v->[1] };
		return undef unless $c;
		$v = $c->[1];
	}
	return undef unless $v->[0] eq 'a' && @{ $v->[1] } == 2;
	my ($lon, $lat) = @{ $v->[1] };
	return undef unless $lon->[0] eq 'n' && $lat->[0] eq 'n';
	return [ $lon->[1], $lat->[1] ];
}

sub in_range
{
	my ($pt) = @_;
	my ($lon, $lat) = @$pt;
	return num_cmp($lon, '-180') >= 0 && num_cmp($lon, '180') <= 0
	  && num_cmp($lat, '-90') >= 0 && num_cmp($lat, '90') <= 0;
}

use constant EARTH_RADIUS_MILES => 3958.7613;
use constant PI => 4 * atan2(1, 1);

sub haversine_miles
{
	my ($lon1, $lat1, $lon2, $lat2) = map { num_value($_) * PI / 180 } @_;
	my $a = sin(($lat2 - $lat1) / 2)**2 + cos($lat1) * cos($lat2) * sin(($lon2 - $lon1) / 2)**2;
	$a = 1 if $a > 1;
	return 2 * EARTH_RADIUS_MILES * atan2(sqrt($a), sqrt(1 - $a));
}

sub within_parts
{
	my ($V) = @_;
	my %m = map { $_->[0] => $_->[1] } @{ $V->[1] };
	return ([ map { $_->[1] } @{ $m{coordinates}[1] } ], $m{max_distance_miles}[1]);
}

my %re_cache;

sub eval_filter
{
	my ($f, $flat) = @_;
	my $op = $f->{op};
	if ($op eq 'or')
	{
		for my $o (@{ $f->{operands} }) { return 1 if eval_filter($o, $flat); }
		return 0;
	}
	my $v = $flat->{ $f->{path} };
	my $V = $f->{value};
	return ($V->[1] ? defined $v : !defined $v) ? 1 : 0 if $op eq 'exists';
	return 0 unless defined $v;    # a missing property matches nothing else
	return json_eq($v, $V) ? 1 : 0 if $op eq 'eq';
	return json_eq($v, $V) ? 0 : 1 if $op eq 'ne';
	if ($op eq 'in')
	{
		for my $e (@{ $V->[1] }) { return 1 if json_eq($v, $e); }
		return 0;
	}
	if ($op =~ /^(lt|lte|gt|gte)$/)
	{
		my $c = order_cmp($v, $V);
		return 0 unless defined $c;
		return ($op eq 'lt' ? $c < 0 : $op eq 'lte' ? $c <= 0 : $op eq 'gt' ? $c > 0 : $c >= 0) ? 1 : 0;
	}
	return contains($v, $V) ? 1 : 0 if $op eq 'contains';
	return contains($v, $V) ? 0 : 1 if $op eq 'not_contains';
	if ($op eq 'regex')
	{
		return 0 unless $v->[0] eq 's';
		my $re = $re_cache{ $f->{perl} } //= qr/(?:$f->{perl})/s;
		return $v->[1] =~ $re ? 1 : 0;
	}
	if ($op eq 'within')
	{
		my $pt = point_of($v);
		return 0 unless $pt && in_range($pt);
		my ($center, $d) = within_parts($V);
		return haversine_miles(@$pt, @$center) <= num_value($d) ? 1 : 0;
	}
	die "unknown operator $op";
}

sub has_action { my ($k, $a) = @_; return scalar grep { $_ eq $a } @{ $k->{permitted} }; }

# docs/reference.md#ak_permits-rules for the saved query's name.
sub key_permits_saved
{
	my ($k, $name) = @_;
	return 0 unless has_action($k, 'saved_queries');
	my $s = $k->{saved} // {};
	return 0 if $s->{blocked} && grep { $_ eq $name } @{ $s->{blocked} };
	return 1 unless $s->{allowed};
	return scalar grep { $_ eq $name } @{ $s->{allowed} };
}

# Whether a key sees a row in a context (#protected-collections): SQL NULL properties never;
# the context's action must be permitted; then every filter of the section.
sub visible
{
	my ($k, $flat, $context) = @_;
	return 0 unless defined $flat;    # SQL NULL properties
	my $filters;
	if ($context eq 'queries')
	{
		return 0 unless has_action($k, 'queries');
		$filters = $k->{qfilters};
	}
	else
	{
		return 0 unless has_action($k, 'saved_queries');
		$filters = $k->{saved} ? $k->{saved}{filters} : undef;
	}
	for my $f (@{ $filters // [] }) { return 0 unless eval_filter($f, $flat); }
	return 1;
}

###########################################################################
# Definitions as JSON
###########################################################################

sub filter_json
{
	my ($f, $esc) = @_;
	if ($f->{op} eq 'or')
	{
		return '{"operator":"or","operands":[' . join(',', map { filter_json($_, $esc) } @{ $f->{operands} }) . ']}';
	}
	return '{"property_name":' . json_string($f->{path}, $esc)
	  . ',"operator":"' . $f->{op}
	  . '","property_value":' . to_json($f->{value}, $esc) . '}';
}

sub filters_json
{
	my ($fs, $esc) = @_;
	return '[' . join(',', map { filter_json($_, $esc) } @$fs) . ']';
}

# $k->{qstyle} says how "no query filters" is spelled: absent section,
# "queries": null, "queries": {}, or "filters": [].
sub key_json
{
	my ($k, $esc) = @_;
	my @opts;
	my $qs = $k->{qstyle} // 'filters';
	if ($qs eq 'null') { push @opts, '"queries":null'; }
	elsif ($qs eq 'empty') { push @opts, '"queries":{}'; }
	elsif ($qs eq 'filters') { push @opts, '"queries":{"filters":' . filters_json($k->{qfilters} // [], $esc) . '}'; }
	if (my $s = $k->{saved})
	{
		my @m;
		push @m, '"allowed":[' . join(',', map { json_string($_) } @{ $s->{allowed} }) . ']' if $s->{allowed};
		push @m, '"blocked":[' . join(',', map { json_string($_) } @{ $s->{blocked} }) . ']' if $s->{blocked};
		push @m, '"filters":' . filters_json($s->{filters}, $esc) if $s->{filters};
		push @opts, '"saved_queries":{' . join(',', @m) . '}';
	}
	return '{"name":' . json_string($k->{name}) . ',"permitted":['
	  . join(',', map { "\"$_\"" } @{ $k->{permitted} }) . '],"options":{' . join(',', @opts) . '}}';
}

###########################################################################
# Generator
###########################################################################

# The event a key's filters are generated around, so that they select some
# rows but not all: a flattened event, or undef.
our $witness;

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

# Weighted choice: pick_w(w1 => v1, w2 => v2, ...)
sub pick_w
{
	my @pairs = @_;
	my $total = 0;
	for (my $i = 0; $i < @pairs; $i += 2) { $total += $pairs[$i]; }
	my $r = rand($total);
	for (my $i = 0; $i < @pairs; $i += 2)
	{
		return $pairs[ $i + 1 ] if ($r -= $pairs[$i]) < 0;
	}
	return $pairs[-1];
}

my @tenant_pool = ('acme', 'globex', 'initech', 'Acme', 'acme ', 'umbrella', 'ünïcødé', '租户一', 'tenant😀',
	'q"uote', 'back\\slash', 'a.b', '$dollar', 'hooli', 'stark', 'wayne', 'oscorp', 'cyberdyne', 'tyrell',
	'soylent', 'wonka', 'vandelay', 'duff', 'krusty', 'monsters', 'gringotts', 'dunder', 'pied', 'sterling',
	'massive', 'aperture', 'black mesa', 'bluth', 'prestige');

my @words = ('alpha', 'beta', 'gamma', 'Alpha', 'alp', 'ha', 'ALPHA', '', ' ', 'a b', 'free', 'pro', 'Pro',
	'enterprise', 'naïve', 'café', "cafe\x{301}", '日本語', '日本', '😀', 'emoji😀x', 'zwj👩‍💻', "rtl\x{5e9}\x{5dc}\x{5d5}\x{5dd}",
	'quote"d', 'back\\slash', "tab\there", "new\nline", "line\x{2028}sep", "bom\x{feff}", 'x.y', '$dollar', '100', '1.0',
	'1', 'true', 'null', '[1]', '{}', 'page/1', '/p/2', 'a+b', 'a*b', '(x)', '[y]', 'z?', 'end$', '^start',
	'Zebra', 'zebra', 'ß', 'SS', 'ÿ', "\x{10ffff}x", '~tilde', '2024-01-01', 'abc123', 'ABC123', '42',
	"ctl\x01x", "del\x7f", "cr\r", "\x{ffff}", "it's", '\\u0041', '$.a', '@', 'a"b\\c');

my @numbers = ('0', '-0', '0.0', '1', '1.0', '1.00', '-1', '2', '2.5', '2.50', '-2.5', '10', '100', '1e2',
	'1E+2', '1.5e1', '15', '0.1', '0.10', '3.14159', '-273.15', '1e-3', '0.001', '123456789', '7', '7.000',
	'9007199254740992', '9007199254740993', '12345678901234567890', '1e20', '-1e20', '0.3',
	'0.30000000000000004', '1.0000000000000000000001', '99.99', '-0.5', '1e400', '-1e-400');

my @ts_dates = ('2024-02-29', '2024-03-01', '2023-12-31', '2024-01-01', '1999-12-31', '2038-01-19');
my @ts_times = ('00:00', '00:00:00', '01:00:00', '12:00:00', '13:00:00', '23:59:59', '23:59:60', '12:30:45.5',
	'12:30:45,500', '12:30:45.123456789', '12:30:45.1234561', '07:00', '19:00:00');
my @ts_zones = ('', '', 'Z', 'z', '+00:00', '+01:00', '+0100', '+01', '-05:00', '-0530', '+05:30', '+23:59', '-11');
my @ts_edge = ('2000-02-29T12:00:00Z', '0001-01-01T00:00:00+23:59', '0001-01-01', '9999-12-31T23:59:60Z', '9999-12-31T23:59:59-23:59',
	'10000-01-01', '2023-02-28T23:59:60', '2024-02-28T23:59:60Z', '1970-01-01T00:00:00Z', '1969-12-31T23:59:59.999999Z',
	'2024-03-01T00:00:00.000000', '2024-03-01T00:00:00,0000001', '2024-03-01 00:00:00.9999999');
my @ts_invalid = ('2024-02-30', '2023-02-29', '2024-1-2', '2024-01-01T24:00:00', '2024-01-01T12:60',
	'2024-01-01T12:00:00+05:', '2024-01-01 ', ' 2024-01-01', '2024-01-01T12', '2024-01-01Z', '20240101',
	'2024-01-01T12:00:00+24:00', '2024-13-01', '2024-01-01T12:00:61', '2024-01-01T12:00:00 Z', 'yesterday',
	'2024-01-01T12:00:00+0560', '2024-02-29X', '2024-01-01T12:30.5', '2024-01-01T12:00:00+5:30',
	"2024-01-01T12:00:00\x{2212}05:00", '2100-02-29', "\x{662}\x{660}\x{662}\x{664}-01-01", '2024-01-01T12:00:00.',
	'2024-01-01TT12:00', '2024-01-01T12:00:00ZZ', "2024-01-01\n");

my @geo_centers = ([ '0', '0' ], [ '-122.4194', '37.7749' ], [ '2.3522', '48.8566' ], [ '179.9', '0.5' ],
	[ '-179.9', '0.5' ], [ '10', '89.9' ], [ '139.6917', '35.6895' ], [ '-74.006', '40.7128' ]);

sub rand_timestamp
{
	return pick(@ts_edge) if chance(0.05);
	return pick(@ts_dates) if chance(0.2);
	return pick(@ts_dates) . pick('T', 'T', 't', ' ') . pick(@ts_times) . pick(@ts_zones);
}

sub rand_ts_string { return chance(0.12) ? pick(@ts_invalid) : rand_timestamp(); }

sub fmt_num
{
	my ($x, $places) = @_;
	my $t = sprintf("%.${places}f", $x);
	$t =~ s/(\.\d*?)0+$/$1/;
	$t =~ s/\.$//;
	$t = '0' if $t eq '-0';
	return $t;
}

# A point near a centre: [lon, lat] or {"type": "Point", "coordinates": [...]}.
sub rand_point
{
	my $c = pick(@geo_centers);
	my $lon = fmt_num($c->[0] + (rand(2) - 1) * pick(0.05, 0.5, 3, 8), 4);
	my $lat = fmt_num($c->[1] + (rand(2) - 1) * pick(0.05, 0.5, 3, 8), 4);
	$lat = '90' if $lat > 90;    # stays a valid latitude near the pole
	$lon = pick('180', '-180') if chance(0.02);
	# sometimes in exponent notation
	($lon, $lat) = map {
		my $t = $_;
		if ($t =~ /^(-?)(\d+)\.(\d+)$/) { my ($s, $d, $e) = ($1, "$2$3", length($3)); $d =~ s/^0+(?=\d)//; $t = "$s${d}e-$e"; }
		$t;
	} ($lon, $lat) if chance(0.1);
	my $pair = A([ N($lon), N($lat) ]);
	return $pair if chance(0.5);
	return O([ shuffled([ 'type', S('Point') ], [ 'coordinates', $pair ], chance(0.3) ? ([ 'name', S(pick(@words)) ]) : ()) ]);
}

sub rand_bad_point
{
	return pick(
		A([ N('1'), N('2'), N('3') ]), A([ N('1') ]), A([ S('1'), S('2') ]), A([ N('200'), N('0') ]),
		A([ N('0'), N('95') ]), A([ N('-180.5'), N('10') ]), O([ [ 'coordinates', O([ [ 'lon', N('1') ], [ 'lat', N('2') ] ]) ] ]),
		O([ [ 'coords', A([ N('0'), N('0') ]) ] ]), S('0,0'), A([ A([ N('0'), N('0') ]) ]),
		O([ [ 'geometry', O([ [ 'coordinates', A([ N('0'), N('0') ]) ] ]) ] ]),
		O([ [ 'coordinates', A([ N('0'), N('0'), N('0') ]) ] ]), O([ [ 'coordinates', A([ N('0'), Z() ]) ] ]),
		O([ [ 'coordinates', O([ [ 'coordinates', A([ N('0'), N('0') ]) ] ]) ] ]), A([ B(1), B(0) ]), A([]));
}

# A property name of the longest allowed length (256 characters).
our $long_name = 'L' . ('ö' x 254) . 'g';

# A nested object six levels deep: deep.l1.l2.l3.l4.l5
sub rand_deep
{
	my $v = rand_scalar();
	for my $l (reverse 1 .. 5)
	{
		return $v if chance(0.1);
		$v = O([ [ "l$l", $v ], chance(0.3) ? ([ 'side', rand_scalar() ]) : () ]);
	}
	return $v;
}

# Values big enough that the properties are compressed or stored out of line.
sub rand_big
{
	return pick_w(
		4 => sub { S(join(' ', map { pick(@words) } 1 .. 400 + rint(1500))) },
		3 => sub { A([ map { chance(0.5) ? N(pick(@numbers)) : S(pick(@words)) } 1 .. 300 + rint(700) ]) },
		2 => sub { O([ map { [ "m$_", rand_scalar() ] } 1 .. 200 + rint(300) ]) })->();
}

sub rand_scalar
{
	return pick_w(
		30 => sub { S(pick(@words)) },
		25 => sub { N(pick(@numbers)) },
		8 => sub { B(chance(0.5)) },
		6 => sub { Z() },
		6 => sub { S(rand_ts_string()) },
		4 => sub { S(pick(@tenant_pool)) })->();
}

sub rand_small_object
{
	my @m;
	for my $name (shuffled('k', 'v', 'n', 'ключ'))
	{
		push @m, [ $name, chance(0.5) ? rand_scalar() : N(pick('1', '1.0', '2')) ] if chance(0.5);
	}
	return O(\@m);
}

sub rand_array
{
	my $n = pick(0, 1, 2, 2, 3, 4);
	return A([ map { pick_w(70 => sub { rand_scalar() }, 10 => sub { A([ rand_scalar(), rand_scalar() ]) },
				8 => sub { rand_small_object() }, 12 => sub { S(pick(@words)) })->() } 1 .. $n ]);
}

sub rand_any
{
	return pick_w(
		55 => sub { rand_scalar() },
		12 => sub { rand_array() },
		8 => sub { rand_small_object() },
		5 => sub { rand_point() })->();
}

# Objects with member order shuffled (jsonb sorts them anyway).
sub obj { return O([ shuffled(grep { defined $_->[1] } @_) ]); }

sub maybe { my ($p, $gen) = @_; return chance($p) ? $gen->() : undef; }

sub gen_props
{
	my ($tenants) = @_;
	return undef if chance(0.01);    # SQL NULL
	if (chance(0.02))
	{
		return pick(A([]), S('not an object'), N('5'), Z(), B(1),
			A([ O([ [ 'customer', O([ [ 'id', S($tenants->[0]) ] ]) ] ]) ]));
	}
	my $tenant = pick(@$tenants);
	my $customer = pick_w(
		92 => sub {
			obj([ 'id', pick_w(90 => sub { S($tenant) }, 3 => sub { N(pick('1', '2', '1.0')) }, 2 => sub { Z() },
						2 => sub { A([ S($tenant) ]) }, 3 => sub { undef })->() ],
				[ 'plan', maybe(0.8, sub { S(pick('free', 'pro', 'Pro', 'enterprise', 'pro ')) }) ],
				[ 'seats', maybe(0.6, sub { N(pick('1', '5', '5.0', '10', '25', '100', '1e2', '0', '-3')) }) ],
				[ 'region', maybe(0.5, sub { S(pick('eu', 'us', 'apac', 'Europe/Paris', 'Ελλάδα', '中国')) }) ]);
		},
		4 => sub { S($tenant) },
		4 => sub { undef })->();
	my $b = pick_w(
		70 => sub {
			obj([ 'c', maybe(0.7, \&rand_any) ],
				[ 'd', maybe(0.5, sub { obj([ 'e', maybe(0.8, \&rand_any) ], [ 'f', maybe(0.3, \&rand_scalar) ]) }) ]);
		},
		10 => sub { A([ obj([ 'c', rand_scalar() ]) ]) },
		10 => sub { rand_scalar() },
		10 => sub { undef })->();
	return obj(
		[ 'customer', $customer ],
		[ 'a', maybe(0.6, \&rand_any) ],
		[ 'b', $b ],
		[ 'n', pick_w(75 => sub { N(pick(@numbers)) }, 10 => sub { S(pick('1', '1.0', '2', '10', '-1')) },
				5 => sub { Z() }, 10 => sub { undef })->() ],
		[ 'price', maybe(0.6, sub { N(fmt_num(rand(200) - 20, pick(0, 1, 2))) }) ],
		[ 'ts', pick_w(70 => sub { S(rand_timestamp()) }, 12 => sub { S(pick(@ts_invalid)) }, 5 => sub { N(pick(@numbers)) },
				13 => sub { undef })->() ],
		[ 'meta', maybe(0.6, sub { obj([ 'created', maybe(0.6, sub { S(rand_ts_string()) }) ],
				[ 'x y', maybe(0.5, sub { S(pick(@words)) }) ]) }) ],
		[ 'tags', pick_w(60 => \&rand_array, 10 => sub { S(pick(@words)) }, 30 => sub { undef })->() ],
		[ 'loc', pick_w(55 => \&rand_point, 15 => \&rand_bad_point, 30 => sub { undef })->() ],
		[ 'geo', maybe(0.3, sub { obj([ 'where', rand_point() ]) }) ],
		[ 'title', maybe(0.6, sub { S(pick(@words) . pick('', ' ', '-') . pick(@words)) }) ],
		[ 'flag', pick_w(60 => sub { B(chance(0.5)) }, 10 => sub { Z() }, 30 => sub { undef })->() ],
		[ '名前', maybe(0.4, sub { S(pick(@words)) }) ],
		[ 'q"uo\\te', maybe(0.3, sub { S(pick(@words)) }) ],
		[ 'sp ace', maybe(0.3, \&rand_scalar) ],
		[ "ctl\tname", maybe(0.2, \&rand_scalar) ],
		[ 'a$b', maybe(0.2, \&rand_scalar) ],
		# a member named with a dot is at no path: "x.y" is x -> y
		[ 'x.y', maybe(0.3, \&rand_scalar) ],
		[ 'x', maybe(0.3, sub { obj([ 'y', maybe(0.7, \&rand_scalar) ], [ 'y.z', maybe(0.3, \&rand_scalar) ]) }) ],
		[ "it's", maybe(0.2, \&rand_scalar) ],
		[ 'deep', maybe(0.25, \&rand_deep) ],
		[ $long_name, maybe(0.1, \&rand_scalar) ],
		[ 'big', maybe(0.03, \&rand_big) ],
		[ 'obj', maybe(0.3, \&rand_small_object) ],
		[ '0', maybe(0.2, \&rand_scalar) ]);
}

# Paths that filters use: every path that occurs, plus some that never do
# (or only through arrays).
my @extra_paths = ('nope', 'customer.nope', 'tags.0', 'b.c.x', 'a.b', 'loc.coordinates', 'customer.id.x', 'ts.t',
	'x.y', 'x.y.z');

# Another spelling of the same number: trailing zeros, an exponent.
sub number_variant
{
	my ($t) = @_;
	return $t if $t =~ /[eE]/;
	return pick("$t.0", "${t}e0", "$t.000", $t =~ /^-?0/ ? () : ("${t}0e-1")) if $t !~ /\./;
	return pick("${t}0", "${t}e0");
}

###########################################################################
# Regular expressions: a subset whose meaning is the same in PostgreSQL's
# ARE and Perl (literals, ., classes, anchors, + * ? {m,n}, groups, |).
###########################################################################

my %re_meta = map { $_ => 1 } split //, '^$.[]()|*+?{}\\';

sub re_lit { my $c = shift; return { lit => $c }; }

sub re_render
{
	my ($alts, $perl) = @_;
	return join '|', map {
		join '', map {
			my $i = $_;
			my $s =
			    $i->{bol}   ? ($perl ? '\\A' : '^')
			  : $i->{eol}   ? ($perl ? '\\z' : '$')
			  : $i->{dot}   ? '.'
			  : $i->{class} ? '[' . ($i->{neg} ? '^' : '') . join('', @{ $i->{class} }) . ']'
			  : $i->{group} ? '(' . re_render($i->{group}, $perl) . ')'
			  : $re_meta{ $i->{lit} } ? "\\$i->{lit}"
			  :                         $i->{lit};
			$s . ($i->{q} // '');
		} @$_
	} @$alts;
}

sub class_char { my $c = shift; return $c =~ /\A[\p{L}\p{N}]\z/ && $c !~ /[\^\-\]\[\\]/; }

sub rand_regex_from
{
	my ($s) = @_;
	my @chars = split //, $s;
	my @seq;
	if (@chars)
	{
		my $start = rint(scalar @chars);
		my $len = 1 + rint(3);
		$len = @chars - $start if $start + $len > @chars;
		@seq = map { re_lit($_) } @chars[ $start .. $start + $len - 1 ];
		# anchors only where they hold for $s, or at random
		unshift @seq, { bol => 1 } if ($start == 0 && chance(0.5)) || chance(0.1);
		push @seq, { eol => 1 } if ($start + $len == @chars && chance(0.5)) || chance(0.1);
	}
	else { @seq = ({ bol => 1 }, { eol => 1 }); }
	for my $i (@seq)
	{
		next unless exists $i->{lit};
		my $r = rand();
		if ($r < 0.15) { $i = { dot => 1 }; }
		elsif ($r < 0.3 && class_char($i->{lit}))
		{
			$i = { class => [ $i->{lit}, pick('a-z', 'A-Z', '0-9', 'x', 'é', '日') ] };
		}
		elsif ($r < 0.35 && class_char($i->{lit})) { $i = { class => [ $i->{lit} ], neg => 1 }; }
		$i->{q} = pick('+', '*', '?', '{1,2}') if chance(0.15);
	}
	my @alts = (\@seq);
	push @alts, [ map { re_lit($_) } split //, pick('zz', 'pro', '日', '😀', '1') ] if chance(0.15);
	if (chance(0.1))    # a group with a quantifier (no anchors inside it)
	{
		my @inner = map { [ grep { !$_->{bol} && !$_->{eol} } @$_ ] } @alts;
		@alts = ([ { group => \@inner, q => pick('+', '*', '?', '') } ]) unless grep { !@$_ } @inner;
	}
	return @alts;
}

my @regex_pool = (
	[ [ { bol => 1 }, { eol => 1 } ] ],
	[ [ { dot => 1 } ] ],
	[ [ { bol => 1 }, { class => ['0-9'], q => '+' }, { eol => 1 } ] ],
	[ [ { class => ['A-Z'] } ] ],
	[ [ { bol => 1 }, { class => [ 'a-z', ' ' ], neg => 1, q => '*' }, { eol => 1 } ] ],
	[ [ re_lit('日') ], [ re_lit('本') ] ],
	[ [ { bol => 1 }, { dot => 1, q => '{2,4}' }, { eol => 1 } ] ],
	[ [ { group => [ [ re_lit('a'), re_lit('b') ], [ re_lit('c'), re_lit('d') ] ], q => '+' } ] ],
	[ [ re_lit('a'), { lit => 'l', q => '?' }, re_lit('p') ] ],
	[ [ re_lit('.') ] ],
	[ [ re_lit('$') ] ],
	[ [ re_lit('"') ] ],
	[ [ re_lit('\\') ] ],
	[ [ { dot => 1 }, re_lit("\n") ] ],
	[ [ re_lit('😀') ] ],
);

###########################################################################
# Filters and keys
###########################################################################

sub observed
{
	my ($w, $path) = @_;
	return $w->{obs}{$path} // [];
}

# A path for an operator: mostly one where the witness has a value the
# operator can match ($fits), sometimes any path, rarely one that never occurs.
sub pick_path
{
	my ($w, $fits) = @_;
	return pick(@extra_paths) if chance(0.04);
	if ($witness && chance(0.8))
	{
		my @p = grep { !/^big\./ && $fits->($witness->{$_}) } sort keys %$witness;
		return pick(@p) if @p;
	}
	return pick(@{ $w->{paths} });
}

# A value from the data at the path (so filters hit), or from the pools.
# A value from the data at the path (so filters hit): mostly the witness's,
# else any row's; undef when none fits.
sub data_value
{
	my ($w, $path, $pred, $no_witness) = @_;
	if (!$no_witness && $witness && exists $witness->{$path} && $pred->($witness->{$path}) && chance(0.8))
	{
		return $witness->{$path};
	}
	my @vals = grep { $pred->($_) } @{ observed($w, $path) };
	return @vals ? $vals[ rint(scalar @vals) ] : undef;
}

sub is_scalar { return $_[0][0] =~ /^[snbz]$/; }

# Points at a path, for keeping every within distance away from the boundary.
sub points_at
{
	my ($w, $path) = @_;
	return $w->{points}{$path} //= [ grep { defined } map { my $p = point_of($_); $p && in_range($p) ? $p : undef } @{ observed($w, $path) } ];
}

sub gen_within
{
	my ($w, $path) = @_;
	for (1 .. 50)
	{
		my $center;
		my $dv = data_value($w, $path, sub { point_of($_[0]) });
		if ($dv && chance(0.8))
		{
			my $p = point_of($dv);
			$center = [ fmt_num($p->[0] + (rand(2) - 1) * 0.5, 4), fmt_num($p->[1] + (rand(2) - 1) * 0.5, 4) ];
		}
		else { $center = pick(@geo_centers); }
		next unless in_range($center);
		my $d = pick('0', fmt_num(rand(pick(5, 50, 300, 1500)), pick(0, 1, 3)));
		my $wp = $witness && $witness->{$path} && point_of($witness->{$path});
		if ($wp && in_range($wp) && chance(0.7))    # far enough to include the witness
		{
			$d = fmt_num(haversine_miles(@$wp, @$center) * (1.05 + rand(2)) + rand(20), pick(0, 1, 3));
		}
		my $ok = 1;
		for my $p (@{ points_at($w, $path) })
		{
			my $dist = haversine_miles(@$p, @$center);
			if (abs($dist - $d) <= 1e-6 * ($d > 1 ? $d : 1)) { $ok = 0; last; }
		}
		next unless $ok;
		return O([ shuffled([ 'coordinates', A([ N($center->[0]), N($center->[1]) ]) ], [ 'max_distance_miles', N($d) ]) ]);
	}
	return O([ [ 'coordinates', A([ N('0'), N('0') ]) ], [ 'max_distance_miles', N('1.5') ] ]);
}

sub gen_regex
{
	my ($w, $path) = @_;
	my @alts;
	my $dv = data_value($w, $path, sub { $_[0][0] eq 's' });
	if ($dv && chance(0.8)) { @alts = rand_regex_from($dv->[1]); }
	else { @alts = @{ pick(@regex_pool) }; }
	return (re_render(\@alts, 0), re_render(\@alts, 1));
}

sub equal_value
{
	my ($w, $path, $no_witness) = @_;
	my $dv = data_value($w, $path, sub { 1 }, $no_witness);
	if ($dv && chance(0.75))
	{
		return N(number_variant($dv->[1])) if $dv->[0] eq 'n' && chance(0.3);
		return $dv;
	}
	return rand_any();
}

sub gen_filter
{
	my ($w, $depth) = @_;
	my $op = pick_w(12 => 'eq', 6 => 'ne', 5 => 'lt', 5 => 'lte', 5 => 'gt', 5 => 'gte', 6 => 'exists', 8 => 'in',
		7 => 'contains', 5 => 'not_contains', 8 => 'regex', 6 => 'within', ($depth < 3 ? (9 => 'or') : ()));
	if ($op eq 'or')
	{
		return { op => 'or', operands => [ map { gen_filter($w, $depth + 1) } 1 .. pick(1, 2, 2, 3) ] };
	}
	my $fits =
	    $op eq 'regex' ? sub { $_[0][0] eq 's' }
	  : $op eq 'contains' ? sub { $_[0][0] eq 's' || $_[0][0] eq 'a' }
	  : $op =~ /^[lg]te?$/ ? sub { $_[0][0] eq 's' || $_[0][0] eq 'n' }
	  : $op eq 'within' ? sub { my $p = point_of($_[0]); $p && in_range($p) }
	  : sub { 1 };
	my $path = pick_path($w, $fits);
	$path = pick('loc', 'geo.where', 'loc', 'a') if $op eq 'within' && !$fits->($witness->{$path} // Z()) && chance(0.85);
	my $f = { op => $op, path => $path };
	if ($op eq 'eq' || $op eq 'ne') { $f->{value} = equal_value($w, $path, $op eq 'ne'); }
	elsif ($op =~ /^[lg]te?$/)
	{
		my $dv = data_value($w, $path, sub { $_[0][0] eq 's' || $_[0][0] eq 'n' });
		$f->{value} = ($dv && chance(0.8)) ? $dv
		  : pick_w(4 => sub { N(pick(@numbers)) }, 3 => sub { S(rand_ts_string()) }, 3 => sub { S(pick(@words)) })->();
	}
	elsif ($op eq 'exists')
	{
		$f->{value} = ($witness && chance(0.8)) ? B(exists $witness->{$path}) : B(chance(0.6));
	}
	elsif ($op eq 'in')
	{
		my $n = pick_w(1 => 0, 10 => 1, 10 => 2, 6 => 3, 3 => 5, 2 => 20 + rint(60));
		$f->{value} = A([ map { equal_value($w, $path) } 1 .. $n ]);
	}
	elsif ($op eq 'contains' || $op eq 'not_contains')
	{
		my $dv = data_value($w, $path, sub { $_[0][0] eq 's' || $_[0][0] eq 'a' }, $op eq 'not_contains');
		if ($dv && chance(0.8))
		{
			if ($dv->[0] eq 's')
			{
				my @c = split //, $dv->[1];
				my $start = rint(@c + 1);
				my $len = chance(0.05) ? 0 : 1 + rint(4);
				$f->{value} = S(join '', grep { defined } @c[ $start .. $start + $len - 1 ]);
			}
			else
			{
				my @el = grep { is_scalar($_) } @{ $dv->[1] };
				$f->{value} = @el ? pick(@el) : rand_scalar();
				$f->{value} = N(number_variant($f->{value}[1])) if $f->{value}[0] eq 'n' && chance(0.3);
			}
		}
		else { $f->{value} = rand_scalar(); }
	}
	elsif ($op eq 'regex')
	{
		my ($pg, $perl) = gen_regex($w, $path);
		$f->{value} = S($pg);
		$f->{perl} = $perl;
	}
	elsif ($op eq 'within') { $f->{value} = gen_within($w, $path); }
	return $f;
}

sub tenant_filter
{
	my ($w) = @_;
	my $t = pick(@{ $w->{tenants} });
	return pick_w(
		80 => sub { +{ op => 'eq', path => 'customer.id', value => S($t) } },
		10 => sub { +{ op => 'in', path => 'customer.id', value => A([ S($t), S(pick(@{ $w->{tenants} })) ]) } },
		10 => sub {
			+{ op => 'or', operands => [ map { +{ op => 'eq', path => 'customer.id', value => S($_) } } $t, pick(@{ $w->{tenants} }) ] }
		})->();
}

# A top-level filter: usually one that the witness passes, so that a key's
# filters together still select some rows.
sub gen_top
{
	my ($w) = @_;
	my $f = gen_filter($w, 0);
	return $f unless $witness && chance(0.9);
	for (1 .. 10)
	{
		return $f if eval_filter($f, $witness);
		$f = gen_filter($w, 0);
	}
	return $f;
}

# A random event that passes the tenant filter (when given).
sub pick_witness
{
	my ($w, $tf) = @_;
	my @rows = grep { $_->{flat} && (!$tf || eval_filter($tf, $_->{flat})) } @{ $w->{events} };
	@rows = grep { $_->{flat} } @{ $w->{events} } unless @rows;
	return @rows ? $rows[ rint(scalar @rows) ]{flat} : undef;
}

sub gen_key
{
	my ($w, $i) = @_;
	my $kind = pick_w(40 => 'tenant', 15 => 'tenant_only', 25 => 'random', 8 => 'open', 7 => 'noquery', 5 => 'saved_only');
	my $k = { name => "oracle key $i", kind => $kind };
	my @perm = ('queries');
	@perm = () if $kind eq 'noquery' || $kind eq 'saved_only';
	push @perm, 'saved_queries' if chance(0.7) || $kind eq 'saved_only';
	push @perm, pick('writes', 'schema', 'cached_queries', 'datasets') if chance(0.3);
	$k->{permitted} = [ shuffled(@perm) ];
	my @q;
	my $tf = tenant_filter($w);
	local $witness = pick_witness($w, $tf);
	if ($kind eq 'tenant' || $kind eq 'tenant_only') { push @q, $tf; }
	if ($kind eq 'tenant') { push @q, gen_top($w) for 1 .. pick(0, 1, 1, 2, 3); }
	if ($kind eq 'random' || $kind eq 'noquery') { push @q, gen_top($w) for 1 .. pick(1, 1, 2, 3, 4, 6 + rint(6)); }
	@q = shuffled(@q);
	$k->{qfilters} = \@q;
	$k->{qstyle} = $kind eq 'open' ? pick('absent', 'null', 'empty', 'filters') : $kind eq 'saved_only' && chance(0.5) ? 'absent' : 'filters';
	if (chance(0.85))
	{
		my $s = {};
		my $acl = pick_w(55 => 'none', 20 => 'allowed', 8 => 'other', 8 => 'blocked', 4 => 'empty', 5 => 'both');
		$s->{allowed} = [ 'oracle_events', 'other_query' ] if $acl eq 'allowed' || $acl eq 'both';
		$s->{allowed} = ['other_query'] if $acl eq 'other';
		$s->{allowed} = [] if $acl eq 'empty';    # allows nothing
		$s->{blocked} = ['oracle_events'] if $acl eq 'blocked' || $acl eq 'both';    # blocked wins
		my $sf = pick_w(30 => 'none', 40 => 'tenant', 30 => 'random');
		my $stf = tenant_filter($w);
		local $witness = pick_witness($w, $sf eq 'tenant' ? $stf : undef);
		if ($sf eq 'tenant') { $s->{filters} = [ shuffled($stf, map { gen_top($w) } 1 .. pick(0, 1, 2)) ]; }
		elsif ($sf eq 'random') { $s->{filters} = [ map { gen_top($w) } 1 .. pick(1, 2, 3) ]; }
		$k->{saved} = $s;
	}
	return $k;
}

###########################################################################
# A world: tenants, events, notes (a second collection whose rows reference
# events), keys
###########################################################################

sub generate_world
{
	my (%p) = @_;
	my $w = { tenants => [ (@tenant_pool)[ 0 .. $p{tenants} - 1 ] ] };
	for my $id (1 .. $p{events})
	{
		push @{ $w->{events} }, { id => $id, props => gen_props($w->{tenants}) };
	}
	for my $id (1 .. $p{notes})
	{
		my $event = $w->{events}[ rint($p{events}) ];
		my $props = gen_props($w->{tenants});
		# most notes belong to their event's tenant
		if ($props && $props->[0] eq 'o' && $event->{props} && chance(0.7))
		{
			my $ef = flatten($event->{props});
			my ($c) = grep { $_->[0] eq 'customer' } @{ $props->[1] };
			if ($c && $c->[1][0] eq 'o' && $ef->{'customer.id'})
			{
				$c->[1] = O([ (grep { $_->[0] ne 'id' } @{ $c->[1][1] }), [ 'id', $ef->{'customer.id'} ] ]);
			}
		}
		push @{ $w->{notes} }, { id => $id, event_id => $event->{id}, props => $props };
	}
	index_world($w);
	$w->{keys} = [ map { gen_key($w, $_) } 0 .. $p{keys} - 1 ];
	return $w;
}

# Flattened properties and the values seen at each path.
sub index_world
{
	my ($w) = @_;
	my %obs;
	for my $row (@{ $w->{events} }, @{ $w->{notes} })
	{
		$row->{flat} = defined $row->{props} ? flatten($row->{props}) : undef;
		next unless $row->{flat};
		for my $path (sort keys %{ $row->{flat} }) { push @{ $obs{$path} }, $row->{flat}{$path}; }
	}
	$w->{obs} = \%obs;
	# the members of a "big" object are too many to pick paths among
	$w->{paths} = [ grep { !/^big\./ } sort keys %obs ];
	delete $w->{points};
}

1;
