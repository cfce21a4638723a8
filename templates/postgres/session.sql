-- Every partctl session, in one round trip after connecting: bounds are read and written in
-- UTC and ISO format; standard_conforming_strings on (the dialect's literals rely on it); no
-- JIT (partctl's catalog queries are large and short: with 18,600 partitions, 0.7 s of JIT
-- for a query that runs in 0.1 s). Then the facts the session needs: the server's version,
-- the schema an unqualified table name means (NULL when no schema on the search_path
-- exists), and whether the database has the Citus extension (its metadata catalog
-- pg_dist_partition). set_config, not SET: one statement for all of it.
SELECT set_config('TimeZone', 'UTC', false),
       set_config('DateStyle', 'ISO, YMD', false),
       set_config('IntervalStyle', 'postgres', false),
       set_config('standard_conforming_strings', 'on', false),
       set_config('jit', 'off', false),
       current_setting('server_version'),
       current_schema()::text,
       to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AS citus
