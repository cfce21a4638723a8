-- Citus only: $1 schemas, $2 names of relations an EXPLAIN read, the shards named in a
-- distributed plan's remote plans included. A shard is `<table>_<shardid>` in its table's
-- schema (names near 63 bytes are shortened by Citus, so a long table matches on its shard id
-- alone); pg_dist_shard maps it to its table. A name that is a relation on the coordinator is
-- that relation. Every relation mapped is returned, leaf partition or not (`leaf`), with the
-- top-most table it belongs to, so that a relation that maps to nothing can be told apart.
WITH r AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS r(schema_name, rel_name)
), local AS (
    SELECT r.schema_name, r.rel_name, c.oid AS relid
      FROM r
      JOIN pg_namespace n ON n.nspname = r.schema_name
      JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.rel_name
), shard AS (
    SELECT r.schema_name, r.rel_name, s.logicalrelid AS relid
      FROM r
      JOIN pg_dist_shard s ON s.shardid::text = substring(r.rel_name FROM '_([0-9]+)$')
      JOIN pg_class c ON c.oid = s.logicalrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = r.schema_name
     WHERE (r.rel_name = c.relname || '_' || s.shardid OR octet_length(c.relname) > 40)
       AND NOT EXISTS (SELECT 1 FROM local l WHERE l.schema_name = r.schema_name AND l.rel_name = r.rel_name)
), mapped AS (
    SELECT * FROM local UNION SELECT * FROM shard
)
SELECT m.schema_name, m.rel_name AS plan_name, c.relname::text AS rel_name,
       (c.relispartition AND c.relkind NOT IN ('p', 'I')) AS leaf,
       rn.nspname::text AS root_schema, rc.relname::text AS root_name
  FROM mapped m
  JOIN pg_class c ON c.oid = m.relid
  JOIN pg_class rc ON rc.oid = coalesce(pg_partition_root(c.oid), c.oid)
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
