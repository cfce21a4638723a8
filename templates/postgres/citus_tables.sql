-- Citus only: $1 schemas, $2 names of the managed tables; those that Citus distributes (they
-- are in its metadata, pg_dist_partition: hash-distributed, reference or Citus-managed local).
SELECT w.schema_name, w.table_name
  FROM unnest($1::text[], $2::text[]) AS w(schema_name, table_name)
  JOIN pg_namespace n ON n.nspname = w.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name
 WHERE EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
