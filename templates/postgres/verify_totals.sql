-- $1 schemas, $2 names of partitioned tables: how many leaf partitions each has.
SELECT w.schema_name, w.table_name,
       (SELECT count(*) FROM pg_partition_tree(c.oid) t WHERE t.isleaf)::int8 AS leaves
  FROM unnest($1::text[], $2::text[]) AS w(schema_name, table_name)
  JOIN pg_namespace n ON n.nspname = w.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name
