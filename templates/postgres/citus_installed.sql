-- Whether the database has the Citus extension (its metadata catalog pg_dist_partition).
SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AS citus
