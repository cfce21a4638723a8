-- The bounds of named partitions, deparsed now: $1 schemas, $2 names. Before a step removes
-- partitions, when the catalog read took their bounds from the bound cache (see
-- Backend::confirm_bounds). A row per name, in order (`ord`); NULL for one that is gone.
-- Bounds print in UTC (see session.sql); relid 0 as in catalog.sql.
SELECT w.ord::int4 AS ord, pg_get_expr(c.relpartbound, 0) AS bound
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema_name, rel_name, ord)
LEFT JOIN pg_namespace n ON n.nspname = w.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel_name
ORDER BY w.ord
