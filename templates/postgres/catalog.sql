-- One round trip for every managed table: $1 schemas (NULL = current_schema()), $2 table names,
-- $3 whether to read partition sizes (`show`, `snapshot`): pg_total_relation_size locks every
-- partition until the end of the transaction, which plan and apply do not need. Bounds are
-- deparsed with relid 0: they hold no column references, and a real relid would lock each
-- partition too.
-- One row per requested table; partitions as a JSON array. Bounds print in UTC (see session.sql).
WITH wanted AS (
    SELECT w.ord, coalesce(w.schema_name, current_schema()) AS schema_name, w.table_name
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema_name, table_name, ord)
)
SELECT
    w.ord::int4 AS ord,
    w.schema_name,
    w.table_name,
    c.oid IS NOT NULL AS found,
    c.relkind::text AS relkind,
    pt.partstrat::text AS strategy,
    pt.partnatts::int4 AS key_count,
    (pt.partexprs IS NOT NULL) AS key_is_expression,
    ka.attname::text AS key_column,
    format_type(ka.atttypid, ka.atttypmod) AS key_type,
    (SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}')
       FROM pg_attribute a
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
    ) AS columns,
    (SELECT coalesce(json_agg(json_build_object(
                'schema', cn.nspname,
                'name', ch.relname,
                'bound', pg_get_expr(ch.relpartbound, 0),
                'rows', ch.reltuples::int8,
                -- NULL when a concurrent run dropped the partition after this snapshot.
                'bytes', CASE WHEN $3 THEN coalesce(pg_total_relation_size(ch.oid), 0) ELSE 0 END,
                'pending', i.inhdetachpending,
                'relkind', ch.relkind,
                -- Composite tables: the sub-partitions of a partition that is itself partitioned.
                'subpartitions', (SELECT coalesce(json_agg(json_build_object(
                        'schema', gn.nspname,
                        'name', gc.relname,
                        'bound', pg_get_expr(gc.relpartbound, 0),
                        'rows', gc.reltuples::int8,
                        'bytes', CASE WHEN $3 THEN coalesce(pg_total_relation_size(gc.oid), 0) ELSE 0 END
                    ) ORDER BY gc.relname), '[]'::json)
                   FROM pg_inherits gi
                   JOIN pg_class gc ON gc.oid = gi.inhrelid
                   JOIN pg_namespace gn ON gn.oid = gc.relnamespace
                  WHERE gi.inhparent = ch.oid)
            ) ORDER BY cn.nspname, ch.relname), '[]'::json)
       FROM pg_inherits i
       JOIN pg_class ch ON ch.oid = i.inhrelid
       JOIN pg_namespace cn ON cn.oid = ch.relnamespace
      WHERE i.inhparent = c.oid
    ) AS partitions,
    -- Tables partctl detached for dropping or archiving and did not finish with (see expire.sql.tera).
    (SELECT coalesce(json_agg(json_build_object('schema', on_.nspname, 'name', oc.relname)), '[]'::json)
       FROM pg_description d
       JOIN pg_class oc ON oc.oid = d.objoid
       JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
      WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 AND NOT oc.relispartition
        AND d.description = 'partctl: detaching from ' || w.schema_name || '.' || w.table_name
    ) AS orphans,
    -- Tables a batched move was filling when it stopped (see create_batched.sql.tera).
    (SELECT coalesce(json_agg(oc.relname::text ORDER BY oc.relname), '[]'::json)
       FROM pg_description d
       JOIN pg_class oc ON oc.oid = d.objoid
      WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 AND NOT oc.relispartition
        AND oc.relnamespace = n.oid
        AND d.description = 'partctl: moving rows for ' || w.schema_name || '.' || w.table_name
    ) AS in_transit
FROM wanted w
LEFT JOIN pg_namespace n ON n.nspname = w.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
LEFT JOIN pg_attribute ka ON ka.attrelid = c.oid AND ka.attnum = pt.partattrs[0]
ORDER BY w.ord
