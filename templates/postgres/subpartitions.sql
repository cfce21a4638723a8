-- The sub-partitions of the partitions that are themselves partitioned (composite tables),
-- read only when the catalog query marked some (kind 'q', see catalog.sql): $1 those
-- partitions' oids, $2 the `ord` of each one's table, $3 whether to read sizes (as in
-- catalog.sql). Rows in catalog.sql's shape, kind 's', `part` naming their partition's oid.
-- Bounds print in UTC (see session.sql); relid 0 as in catalog.sql.
SELECT p.ord, 's' AS kind, gn.nspname::text AS schema, gc.relname::text AS name,
       pg_get_expr(gc.relpartbound, 0) AS bound, gc.reltuples::int8 AS rows,
       CASE WHEN $3 THEN coalesce(pg_total_relation_size(gc.oid), 0) ELSE 0 END AS bytes,
       NULL::bool AS pending, p.part, NULL::int8 AS xmin, NULL::json AS facts
FROM unnest($1::oid[], $2::int4[]) AS p(part, ord)
JOIN pg_inherits gi ON gi.inhparent = p.part
JOIN pg_class gc ON gc.oid = gi.inhrelid
JOIN pg_namespace gn ON gn.oid = gc.relnamespace
