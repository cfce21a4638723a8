-- The foreign keys that reference the managed tables ($1 schemas, $2 names): each constraint
-- of the referencing table itself (conparentid = 0: not the copies PostgreSQL keeps on its
-- partitions, nor those pointing at the referenced table's partitions; a partition detached
-- earlier holds its own, which is listed), and the referencing column that holds the
-- referenced table's partition key. `ord`: the table's place in the read, from 0.
WITH managed AS (
    SELECT m.ord::int4 - 1 AS ord, cl.oid
      FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m(schema, name, ord)
      JOIN pg_namespace n ON n.nspname = m.schema
      JOIN pg_class cl ON cl.relnamespace = n.oid AND cl.relname = m.name
)
SELECT m.ord, co.conname::text, rn.nspname::text, r.relname::text, ra.attname::text
  FROM managed m
  JOIN pg_partitioned_table pt ON pt.partrelid = m.oid
  JOIN pg_constraint co ON co.contype = 'f' AND co.confrelid = m.oid AND co.conparentid = 0
  JOIN pg_class r ON r.oid = co.conrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
  JOIN LATERAL generate_subscripts(co.confkey, 1) AS k(i) ON co.confkey[k.i] = pt.partattrs[0]
  JOIN pg_attribute ra ON ra.attrelid = co.conrelid AND ra.attnum = co.conkey[k.i]
 ORDER BY 1, 2, 3, 4
