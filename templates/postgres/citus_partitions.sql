-- Citus only: $1 schemas, $2 names of partitions of distributed tables, $3 whether to read
-- sizes. Their rows and bytes live in the shards on the workers, not in the coordinator's
-- pg_class: the size summed over the shards (citus_total_relation_size), and the estimated
-- rows summed over each shard's own pg_class.reltuples (-1 when no shard was ever analyzed).
-- The shard name Citus substitutes for %s is quoted and schema-qualified.
SELECT w.schema_name, w.rel_name,
       CASE WHEN $3 THEN citus_total_relation_size(c.oid) ELSE 0 END::int8 AS bytes,
       (SELECT CASE WHEN bool_and(r.success) AND max(CASE WHEN r.success THEN r.result::float8 END) >= 0
                    THEN sum(CASE WHEN r.success THEN greatest(r.result::float8, 0) END)
                    ELSE -1 END::int8
          FROM run_command_on_shards(c.oid::regclass,
               $cmd$SELECT reltuples FROM pg_class WHERE oid = $partctl$%s$partctl$::regclass$cmd$) r
       ) AS rows
  FROM unnest($1::text[], $2::text[]) AS w(schema_name, rel_name)
  JOIN pg_namespace n ON n.nspname = w.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel_name
 WHERE EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
