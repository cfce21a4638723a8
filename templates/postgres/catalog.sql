-- One round trip for every managed table (and one more for composite tables' sub-partitions,
-- see below): $1 schemas (NULL = current_schema()), $2 table names, $3 whether to read
-- partition sizes (`show`, `snapshot`): pg_total_relation_size locks every partition until the
-- end of the transaction, which plan and apply do not need. $4, per table:
-- whether the plan needs the catch-all's key range; then the table's row says whether its
-- DEFAULT partition is certainly empty (a plain table with no page on disk: every row, committed or
-- not, lives on a page), so that key_stats.sql.tera need not ask. Bounds are
-- deparsed with relid 0: they hold no column references, and a real relid would lock each
-- partition too. Bounds print in UTC (see session.sql).
--
-- One row per requested table (kind 't'), then its partitions (kind NULL, by schema and name; 'q'
-- for a partition that is itself partitioned, whose sub-partitions subpartitions.sql then reads:
-- composite tables are few, and reading their sub-partitions here cost every run a scan of
-- pg_inherits and a fifth of the planning), tables partctl detached and did not finish with ('o',
-- see expire.sql.tera) and tables a batched move was filling when it stopped ('i', see
-- create_batched.sql.tera). Unordered: the
-- reader sorts by (ord, kind, schema, name), names byte-wise as the `name` type's C collation
-- does. Plain rows and no JSON: each catalog is read once for every table (pg_inherits by its
-- parent index, pg_description once for partctl's labels); the only per-row subquery names the
-- schema of a partition outside its table's.
--
-- $5: the bound cache is in use (see src/backend/postgres/bound_cache.rs): a partition's row
-- carries no name and, for keys of a built-in base type, no bound (deparsing is most of this
-- query's server time, and names are most of what it sends): the reader takes both from its
-- cache by the partition's pg_class row version (oid, xmin), asking bounds.sql for the few it
-- lacks. Bounds of other keys are always deparsed: an enum's labels can change under an
-- unchanged row. Sending the cached (oid, xmin) pairs instead would upload the whole cache (12
-- bytes a partition) with every run. Each partition row carries `age(xmin)` (an int4 from the
-- xid, where xmin::text::int8 cost a tenth of the query) and its table's row the base
-- `age('3'::xid)`: both are (int32) (now - xid) for the statement's one `now`, so the reader
-- recovers xmin = 3 + base - age, modulo 2^32.
-- $6 (only with $5 and without $3): apply's read under its locks. The partitions but the
-- DEFAULT come from pg_inherits alone, each row's xmin being its pg_inherits row's (the cache
-- looks it up by that: see bound_cache.rs), its estimate -1 and its kind from
-- pg_partitioned_table; the DEFAULT, which steps name (rows move out of it), comes from
-- pg_class by pg_partitioned_table.partdefid, with its name, schema, bound and estimate. The
-- parameter is constant-folded when the statement is planned (unnamed, with its values), so
-- each branch not wanted is never planned: no per-partition read of pg_class (its scan, first
-- touch in a new connection and join were about 25 ms of apply's 0.44 s at 18,600
-- partitions; the table rows still look pg_class up by index).
-- A partition row's schema is NULL when it is its table's (a schema rename does not change
-- pg_class rows, so schemas are not cached). Its kind is NULL (unless 'q'), its bytes without
-- $3 and its pending flag when false too: every value the server sends costs it a call of the
-- type's send function, and partitions are most of the rows.
-- The table row's facts come as one json object (`found`, `strategy`, the key, `columns`,
-- `empty`, `referenced`: some foreign key references the table, so that foreign_keys.sql
-- runs only then), so that the 18,600 partition rows of 200 tables x 93 partitions carry 11
-- columns instead of 20 (each column costs the client its decoding, NULL or not).
WITH wanted AS (
    SELECT w.ord, coalesce(w.schema_name, current_schema()) AS schema_name, w.table_name,
           w.catch_all
    FROM unnest($1::text[], $2::text[], $4::bool[])
         WITH ORDINALITY AS w(schema_name, table_name, catch_all, ord)
), tabs AS (
    SELECT w.ord, w.schema_name, w.table_name, w.catch_all, n.oid AS nsp, c.oid AS relid,
           c.relkind, kp.partrelid IS NOT NULL AS partitioned, kp.partdefid, kp.partstrat,
           kp.partnatts, kp.partexprs IS NOT NULL AS key_is_expression, ka.attname AS key_column,
           ka.atttypid, ka.atttypmod,
           coalesce(ty.oid < 16384 AND ty.typtype = 'b' AND ty.typname !~ '^reg', false)
             AS cacheable
    FROM wanted w
    LEFT JOIN pg_namespace n ON n.nspname = w.schema_name
    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name
    LEFT JOIN pg_partitioned_table kp ON kp.partrelid = c.oid
    LEFT JOIN pg_attribute ka ON ka.attrelid = c.oid AND ka.attnum = kp.partattrs[0]
    LEFT JOIN pg_type ty ON ty.oid = ka.atttypid
), cols AS (
    SELECT a.attrelid, array_agg(a.attname::text ORDER BY a.attnum) AS columns
    FROM tabs t
    JOIN pg_attribute a ON a.attrelid = t.relid
    WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
    GROUP BY a.attrelid
), labels AS (
    SELECT d.description, on_.nspname, oc.relname, oc.relnamespace
    FROM pg_description d
    JOIN pg_class oc ON oc.oid = d.objoid
    JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
    WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 AND NOT oc.relispartition
      AND d.description LIKE 'partctl: %'
), refd AS (
    SELECT DISTINCT co.confrelid FROM pg_constraint co
    WHERE co.contype = 'f' AND co.conparentid = 0
)
SELECT t.ord::int4 AS ord, 't' AS kind, t.schema_name AS schema, t.table_name AS name,
       NULL::text AS bound, NULL::int8 AS rows, NULL::int8 AS bytes, NULL::bool AS pending,
       NULL::oid AS part,
       -- The xid base of the partitions' age(xmin).
       age('3'::xid)::int8 AS xmin,
       json_build_object(
         'found', t.relid IS NOT NULL,
         'strategy', t.partstrat::text,
         'key_count', t.partnatts::int4,
         'key_is_expression', t.key_is_expression,
         'key_column', t.key_column::text,
         'key_type', format_type(t.atttypid, t.atttypmod),
         'columns', coalesce(cl.columns, '{}'),
         -- The DEFAULT partition: a plain table with no page.
         'empty', CASE WHEN t.catch_all AND t.partdefid <> 0
                       THEN (SELECT dc.relkind = 'r' AND pg_relation_size(dc.oid) = 0
                             FROM pg_class dc WHERE dc.oid = t.partdefid) END,
         'referenced', rf.confrelid IS NOT NULL) AS facts
FROM tabs t
LEFT JOIN cols cl ON cl.attrelid = t.relid
LEFT JOIN refd rf ON rf.confrelid = t.relid
UNION ALL
SELECT t.ord::int4, CASE WHEN ch.relkind = 'p' THEN 'q' END,
       CASE WHEN ch.relnamespace <> t.nsp
            THEN (SELECT cn.nspname::text FROM pg_namespace cn WHERE cn.oid = ch.relnamespace) END,
       CASE WHEN NOT $5 THEN ch.relname::text END,
       CASE WHEN NOT ($5 AND t.cacheable) THEN pg_get_expr(ch.relpartbound, 0) END,
       ch.reltuples::int8,
       -- NULL when a concurrent run dropped the partition after this snapshot.
       CASE WHEN $3 THEN coalesce(pg_total_relation_size(ch.oid), 0) END,
       nullif(i.inhdetachpending, false), ch.oid, age(ch.xmin)::int8, NULL
FROM tabs t
JOIN pg_inherits i ON i.inhparent = t.relid
JOIN pg_class ch ON ch.oid = i.inhrelid
WHERE t.partitioned AND NOT $6
UNION ALL
-- $6, apply's read under its locks: the partitions but the DEFAULT from pg_inherits alone.
SELECT t.ord::int4, CASE WHEN pp.partrelid IS NOT NULL THEN 'q' END, NULL, NULL,
       CASE WHEN NOT t.cacheable
            THEN (SELECT pg_get_expr(bc.relpartbound, 0) FROM pg_class bc
                  WHERE bc.oid = i.inhrelid) END,
       -1::int8, NULL, nullif(i.inhdetachpending, false), i.inhrelid, age(i.xmin)::int8, NULL
FROM tabs t
JOIN pg_inherits i ON i.inhparent = t.relid
LEFT JOIN pg_partitioned_table pp ON pp.partrelid = i.inhrelid
WHERE t.partitioned AND $6 AND i.inhrelid <> t.partdefid
UNION ALL
-- $6: the DEFAULT partition, the one a step may move rows out of, as it is now.
SELECT t.ord::int4, CASE WHEN dc.relkind = 'p' THEN 'q' END,
       CASE WHEN dc.relnamespace <> t.nsp
            THEN (SELECT cn.nspname::text FROM pg_namespace cn WHERE cn.oid = dc.relnamespace) END,
       dc.relname::text, pg_get_expr(dc.relpartbound, 0), dc.reltuples::int8, NULL,
       nullif(i.inhdetachpending, false), dc.oid, age(i.xmin)::int8, NULL
FROM tabs t
JOIN pg_class dc ON dc.oid = t.partdefid
JOIN pg_inherits i ON i.inhrelid = dc.oid AND i.inhparent = t.relid
WHERE t.partitioned AND $6
UNION ALL
SELECT t.ord::int4, 'o', l.nspname::text, l.relname::text, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL
FROM tabs t
JOIN labels l ON l.description = 'partctl: detaching from ' || t.schema_name || '.' || t.table_name
UNION ALL
SELECT t.ord::int4, 'i', NULL, l.relname::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM tabs t
JOIN labels l ON l.relnamespace = t.nsp
 AND l.description = 'partctl: moving rows for ' || t.schema_name || '.' || t.table_name
