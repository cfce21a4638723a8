-- $1 schemas, $2 names of relations an EXPLAIN read: the leaf partitions among them, each with
-- the top-most partitioned table it belongs to.
SELECT r.schema_name, r.rel_name, rn.nspname::text AS root_schema, rc.relname::text AS root_name
  FROM unnest($1::text[], $2::text[]) AS r(schema_name, rel_name)
  JOIN pg_namespace n ON n.nspname = r.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.rel_name
  JOIN pg_class rc ON rc.oid = pg_partition_root(c.oid)
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE c.relispartition AND c.relkind NOT IN ('p', 'I')
