# access_key — Keen-style access keys enforced by row-level security.
#
# `make test` and `make demo` work on a fresh Debian machine: they install what is
# missing (scripts/install-deps), build, install and run on throw-away clusters.

# The PostgreSQL major version, set once: packages, binaries and tests follow it.
PG_MAJOR    ?= 15
export PG_MAJOR

EXTENSION    = access_key
EXTVERSION   = 1.1
MODULE_big   = access_key
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# The install script is edited in one place (access_key.sql); the build copies
# it to the current version's name.  Released scripts — access_key--1.0.sql and
# every upgrade script access_key--A--B.sql — are never edited again.
DATA_built   = $(EXTENSION)--$(EXTVERSION).sql
DATA         = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*.sql))
SHLIB_LINK   = -lsodium
# PGXS tracks no header dependencies: record them, so changing a header rebuilds
# every object that includes it.
PG_CPPFLAGS  = -MMD -MP

TESTS        = $(sort $(wildcard sql/*.sql))
REGRESS      = $(patsubst sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
ISOLATION    = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=$(EXTENSION)
EXTRA_CLEAN  = output_iso results regression.diffs regression.out tmp_check src/*.d

# What `make test` builds with (as pgvector's CI does).
TEST_CFLAGS  = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare -DUSE_ASSERT_CHECKING

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/$(PG_MAJOR)/bin/pg_config) pg_config)
export PG_CONFIG
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# Before the dependencies are installed only the entry points below work.
all:
	@echo "postgresql-server-dev-$(PG_MAJOR) is missing: run 'make deps' (or 'make test')" >&2; exit 1
endif

-include $(OBJS:.o=.d)

$(EXTENSION)--$(EXTVERSION).sql: $(EXTENSION).sql
	cp $< $@

.PHONY: deps test check-fast demo bench stress stress-oracle stress-valgrind check-regress check-isolation

deps:
	@scripts/install-deps

# Builds with warnings as errors, installs, and runs every suite.
test: deps
	$(MAKE) clean
	$(MAKE) PG_CFLAGS="$(TEST_CFLAGS)"
	$(MAKE) install
	@scripts/run-tests

# The quick loop while developing: no clean build, no TAP.
check-fast:
	$(MAKE) PG_CFLAGS="$(TEST_CFLAGS)"
	$(MAKE) install
	@scripts/run-tests regress isolation

demo: deps
	$(MAKE)
	$(MAKE) install
	@scripts/run-demo

# make stress: the two long checks CI does not run (docs/testing.md).
stress: stress-oracle stress-valgrind

# The randomized isolation proof (t/008_isolation_oracle.pl) at a million
# (event, key) pairs instead of make test's 60,000; it prints its counts and
# timings.  AK_ORACLE_SEED picks another world.
AK_ORACLE_CHECKS ?= 1000000
stress-oracle: deps
	$(MAKE) PG_CFLAGS="$(TEST_CFLAGS)"
	$(MAKE) install
	@AK_ORACLE_CHECKS=$(AK_ORACLE_CHECKS) scripts/run-tests tap:008_isolation_oracle

# The suites and the fuzzers with every backend under valgrind, on a cassert,
# USE_VALGRIND build of PostgreSQL made once from Debian's source package
# (scripts/stress/).  About 35 minutes.
# STRESS_SUITES="regress:filters tap:013_sql_fuzz" runs only those suites.
stress-valgrind: deps
	@scripts/stress/run $(STRESS_SUITES)

# Suites, each run against the server named by PG* variables (scripts/run-tests
# provides a throw-away cluster for each).
check-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

check-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

# Keyed access vs hand-written RLS: prints medians and ratios (docs/benchmarks.md).
bench: deps
	$(MAKE)
	$(MAKE) install
	@bench/run
