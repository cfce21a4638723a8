-- The names and bounds the bound cache lacks (see catalog.sql's $5 and
-- src/backend/postgres/bound_cache.rs): $1 the partitions' oids. Each row carries the row
-- versions (xmin) of the partition's pg_class row and of its pg_inherits row, so that the
-- reader can tell a partition that changed (or was dropped or detached: no row) since the
-- catalog query saw it, and read again without the cache; and its schema when it is not its
-- table's. Bounds print in UTC (see session.sql); relid 0 as in catalog.sql.
SELECT c.oid, c.xmin::text::int8 AS xmin, i.xmin::text::int8 AS link, c.relname::text AS name,
       pg_get_expr(c.relpartbound, 0) AS bound,
       CASE WHEN c.relnamespace <> p.relnamespace
            THEN (SELECT n.nspname::text FROM pg_namespace n WHERE n.oid = c.relnamespace) END
         AS schema
FROM unnest($1::oid[]) AS w(oid)
JOIN pg_class c ON c.oid = w.oid
JOIN pg_inherits i ON i.inhrelid = c.oid
JOIN pg_class p ON p.oid = i.inhparent
