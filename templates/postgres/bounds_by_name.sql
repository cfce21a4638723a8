-- The bounds of named partitions, deparsed now: $1 schemas, $2 names, of partitions of the
-- table $3.$4. Before a step removes partitions, when the catalog read took their names and
-- bounds from the bound cache (see Backend::confirm_bounds). A row per name, in order
-- (`ord`); NULL for one that is gone or is not a partition of that table.
-- Bounds print in UTC (see session.sql); relid 0 as in catalog.sql.
SELECT w.ord::int4 AS ord, pg_get_expr(c.relpartbound, 0) AS bound
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema_name, rel_name, ord)
LEFT JOIN pg_namespace n ON n.nspname = w.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel_name
 AND EXISTS (SELECT FROM pg_inherits i
             JOIN pg_class p ON p.oid = i.inhparent
             JOIN pg_namespace pn ON pn.oid = p.relnamespace
             WHERE i.inhrelid = c.oid AND pn.nspname = $3 AND p.relname = $4)
ORDER BY w.ord
