-- make bench, step 3: the timing function (docs/benchmarks.md).
--
-- bench_measure(phase) times every shape of the phase: the keyed side, the hand-written side and the physical
-- limit run in turn, in an order that rotates each repetition, after one untimed round; each run is one
-- statement planned and executed (PL/pgSQL EXECUTE plans every time), timed with clock_timestamp().  The
-- medians go to bench_results, the keyed plan to bench_plans.
\set ON_ERROR_STOP on
CREATE TABLE bench_results (
    ord int PRIMARY KEY,
    shape text NOT NULL,
    keyed_ms numeric,
    hand_ms numeric,
    limit_ms numeric,
    target_limit numeric,
    target_hand numeric,
    note text
);
CREATE TABLE bench_plans (ord int PRIMARY KEY, shape text NOT NULL, plan text NOT NULL);

-- Runs one side of a shape once and returns its time in ms (setup statements untimed).
CREATE FUNCTION bench_run_side(s bench_shapes, side text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    elapsed float8;
    stmt text;
    setting record;
BEGIN
    BEGIN
        IF side = 'keyed' THEN
            SET LOCAL ROLE bench_app;
            FOREACH stmt IN ARRAY s.before_keyed LOOP
                EXECUTE stmt;
            END LOOP;
            PERFORM set_config('access_key.key', (SELECT token FROM bench_keys WHERE name = s.key_name), true);
            stmt := s.keyed_sql;
        ELSIF side = 'hand' THEN
            EXECUTE format('SET LOCAL ROLE %I', s.hand_role);
            FOR setting IN SELECT * FROM jsonb_each_text(s.hand_settings) LOOP
                PERFORM set_config(setting.key, setting.value, true);
            END LOOP;
            stmt := s.hand_sql;
        ELSE
            SET LOCAL ROLE bench_owner;
            stmt := s.limit_sql;
        END IF;
        t0 := clock_timestamp();
        EXECUTE stmt;
        elapsed := 1000 * extract(epoch FROM clock_timestamp() - t0);
        -- Leave nothing behind: the role, the key, the settings and any write go with the subtransaction.
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = elapsed::text;
    EXCEPTION WHEN raise_exception THEN
        elapsed := SQLERRM::float8;
    END;
    RETURN elapsed;
END
$$;

CREATE FUNCTION bench_median(xs float8[]) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY x))::numeric, 3) FROM unnest(xs) AS x
$$;

CREATE FUNCTION bench_measure(which_phase text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s bench_shapes;
    sides constant text[] := '{keyed,hand,limit}';
    times float8[][];
    k float8[];
    h float8[];
    l float8[];
    side text;
    stmt text;
    ms float8;
    plan text;
    line text;
BEGIN
    FOR s IN SELECT * FROM bench_shapes WHERE phase = which_phase ORDER BY ord LOOP
        IF s.requires IS NOT NULL AND to_regprocedure(s.requires) IS NULL THEN
            INSERT INTO bench_results (ord, shape, note)
            VALUES (s.ord, s.shape, format('skipped: %s is not installed', s.requires));
            CONTINUE;
        END IF;
        RAISE NOTICE 'timing: %', s.shape;
        FOREACH stmt IN ARRAY s.setup LOOP
            EXECUTE stmt;
        END LOOP;
        k := '{}';
        h := '{}';
        l := '{}';
        FOR i IN 0 .. s.reps LOOP
            FOR j IN 0 .. 2 LOOP
                side := sides[1 + (i + j) % 3];
                ms := bench_run_side(s, side);
                CONTINUE WHEN i = 0;	-- the warm-up round
                CASE side
                    WHEN 'keyed' THEN k := k || ms;
                    WHEN 'hand' THEN h := h || ms;
                    ELSE l := l || ms;
                END CASE;
            END LOOP;
        END LOOP;
        INSERT INTO bench_results VALUES (s.ord, s.shape, bench_median(k), bench_median(h), bench_median(l),
                                          s.target_limit, s.target_hand, NULL);

        -- The keyed plan, as the keyed side ran it.
        plan := '';
        BEGIN
            SET LOCAL ROLE bench_app;
            FOREACH stmt IN ARRAY s.before_keyed LOOP
                EXECUTE stmt;
            END LOOP;
            PERFORM set_config('access_key.key', (SELECT token FROM bench_keys WHERE name = s.key_name), true);
            FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || s.keyed_sql LOOP
                plan := plan || line || E'\n';
            END LOOP;
            RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'done';
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
        INSERT INTO bench_plans VALUES (s.ord, s.shape, plan);
    END LOOP;
END
$$;
