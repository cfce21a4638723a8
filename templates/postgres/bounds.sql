-- The names and bounds the bound cache lacks (see catalog.sql's $5 and
-- src/backend/postgres/bound_cache.rs): $1 the partitions' oids. Each row carries the
-- pg_class row version's xmin, so that the reader can tell a partition that changed (or was
-- dropped: no row) since the catalog query saw it, and read again without the cache. Bounds
-- print in UTC (see session.sql); relid 0 as in catalog.sql.
SELECT c.oid, c.xmin::text::int8 AS xmin, c.relname::text AS name,
       pg_get_expr(c.relpartbound, 0) AS bound
FROM unnest($1::oid[]) AS w(oid)
JOIN pg_class c ON c.oid = w.oid
