//! The MySQL/MariaDB catalog reader: one statement for every managed table (their partitions
//! and holding tables from `information_schema`), the key columns' types from the metadata of
//! a prepared statement, then the row facts the plan needs.
//!
//! MySQL range partitions have only an upper bound (`VALUES LESS THAN`); each partition's lower
//! bound is the previous one's upper bound, and the first starts at MINVALUE. A `MAXVALUE`
//! partition is the table's catch-all. Bounds are stored as the partitioning expression sees
//! them; [`KeyExpr`] converts them to and from planner coordinates.

use crate::catalog::{
    Catalog, CatalogError, KeyColumn, KeyExpr, KeyStats, PartBound, Partition, StatsNeeded, Table,
    CATALOG_FORMAT_VERSION,
};
use crate::key::{Bound, KeyKind};
use crate::names::{QualifiedName, TableRef};
use crate::policy::Strategy;
use crate::render::{
    moving_marker,
    mysql::{holding_table, Server, MARIADB},
    NameCtx, Templates,
};
use mysql::prelude::Queryable;

/// A row of `information_schema.PARTITIONS` as the catalog statement returns it: the table's
/// group (its schema: an index into the statement's groups), table, partition, sub-partition,
/// method, sub-method, expression (method and expression on the first partition's rows only),
/// description, rows, bytes, ordinal, sub-ordinal.
type PartRow = (
    usize,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// A catalog value as text: matched directly (the generic `FromValue` conversion cost more
/// than decoding the row, at 4,650 rows).
fn text_of(v: mysql::Value) -> Result<Option<String>, CatalogError> {
    match v {
        mysql::Value::NULL => Ok(None),
        mysql::Value::Bytes(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| CatalogError::Query("unexpected catalog shape: not UTF-8".into())),
        other => Err(CatalogError::Query(format!(
            "unexpected catalog shape: {other:?} for a text"
        ))),
    }
}

/// A catalog value as a number (see [`text_of`]).
fn int_of(v: mysql::Value) -> Result<Option<i64>, CatalogError> {
    match v {
        mysql::Value::NULL => Ok(None),
        mysql::Value::Int(i) => Ok(Some(i)),
        mysql::Value::UInt(u) => i64::try_from(u)
            .map(Some)
            .map_err(|_| CatalogError::Query(format!("unexpected catalog shape: {u}"))),
        mysql::Value::Bytes(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| CatalogError::Query("unexpected catalog shape: not a number".into())),
        other => Err(CatalogError::Query(format!(
            "unexpected catalog shape: {other:?} for a number"
        ))),
    }
}

/// The catalog reader's own templates, each compiled once per process when first used:
/// compiling only these (not every template of the dialect, as [`Templates::shared`] does),
/// and only when rendered, keeps a no-op plan from parsing templates it never renders.
macro_rules! catalog_template {
    ($fn:ident, $name:literal) => {
        fn $fn() -> &'static Templates {
            static T: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
            T.get_or_init(|| {
                Templates::from_list(
                    &MARIADB,
                    &[(
                        $name,
                        include_str!(concat!("../../../templates/mysql/", $name)),
                    )],
                )
            })
        }
    };
}
catalog_template!(catalog_statement, "catalog.sql.tera");
catalog_template!(key_stats_statement, "key_stats.sql.tera");
catalog_template!(key_types_statement, "key_types.sql.tera");
catalog_template!(waiting_statement, "waiting_values.sql.tera");

fn q(e: mysql::Error) -> CatalogError {
    CatalogError::Query(super::error_text(&e))
}

/// Read the given tables: their partitions in one query, their columns in another, then the
/// row facts the plans need in one more. `database`: the connection's database, for
/// unqualified names.
pub fn read(
    conn: &mut mysql::Conn,
    server: &Server,
    database: Option<&str>,
    wanted: &[(TableRef, StatsNeeded)],
    sizes: bool,
    catch_all_matters: &dyn Fn(usize, &mut Table, i64) -> bool,
) -> Result<Catalog, CatalogError> {
    // Tables grouped by schema (in order of first appearance): a group per `TABLE_SCHEMA = ?`.
    // An unqualified name means the connection's database (NULL when it has none: no
    // table matches), bound as a value: with `COALESCE(?, DATABASE())` MariaDB 10.11 took
    // about 8 ms more to read information_schema.PARTITIONS at 50 tables x 93 partitions.
    let mut groups: Vec<(Option<String>, Vec<String>)> = Vec::new();
    let mut group_of: Vec<usize> = Vec::with_capacity(wanted.len());
    for (t, _) in wanted {
        let schema = t.schema.clone().or_else(|| database.map(str::to_string));
        match groups.iter().position(|g| g.0 == schema) {
            Some(g) => {
                groups[g].1.push(t.name.clone());
                group_of.push(g);
            }
            None => {
                group_of.push(groups.len());
                groups.push((schema, vec![t.name.clone()]));
            }
        }
    }
    let mut ctx = tera::Context::new();
    ctx.insert("sizes", &sizes);
    ctx.insert(
        "groups",
        &groups.iter().map(|g| g.1.len()).collect::<Vec<_>>(),
    );
    let render = |name: &str| {
        catalog_statement()
            .text(name, &ctx)
            .map_err(|e| CatalogError::Query(e.to_string()))
    };
    // Per group: the schema, the names and the names of their holding tables.
    let mut params: Vec<mysql::Value> = Vec::new();
    for (schema, names) in &groups {
        params.push(schema.clone().into());
        params.extend(names.iter().map(|n| n.clone().into()));
        params.extend(names.iter().map(|n| {
            holding_table(&QualifiedName::new(String::new(), n.clone()))
                .name
                .into()
        }));
    }
    // Each row is taken apart as it arrives (collecting the rows first kept 4,650 of them, a
    // few MB, alive at once).
    let mut rows: Vec<PartRow> = Vec::new();
    let mut answer = match wanted.is_empty() {
        true => None,
        false => Some(
            conn.exec_iter(render("catalog.sql.tera")?, params)
                .map_err(q)?,
        ),
    };
    for r in answer.iter_mut().flatten() {
        let [g, table, part, sub, method, sub_method, expression, desc, est, bytes, ord, sub_ord]: [mysql::Value; 12] =
            r.map_err(q)?.unwrap().try_into().map_err(|v: Vec<mysql::Value>| {
                CatalogError::Query(format!("unexpected catalog shape: {} columns", v.len()))
            })?;
        let group = int_of(g)?
            .and_then(|g| usize::try_from(g).ok())
            .filter(|g| *g < groups.len())
            .ok_or_else(|| CatalogError::Query("unexpected catalog shape: no group".into()))?;
        rows.push((
            group,
            text_of(table)?.unwrap_or_default(),
            text_of(part)?,
            text_of(sub)?,
            text_of(method)?,
            text_of(sub_method)?,
            text_of(expression)?,
            text_of(desc)?,
            int_of(est)?,
            int_of(bytes)?,
            int_of(ord)?,
            int_of(sub_ord)?,
        ));
    }
    drop(answer);
    // Each table's run, by position and sub-position.
    let runs = table_runs(&mut rows);
    let current_db: Option<String> = database.map(str::to_string);

    // First each table's partition rows, method and key column; then the key columns' types,
    // for every table at once; then the tables.
    struct Found<'r> {
        name: QualifiedName,
        group: usize,
        mine: &'r [PartRow],
        strategy: Strategy,
        expression: &'r str,
        expr: KeyExpr,
        key_name: String,
    }
    let mut found = Vec::with_capacity(wanted.len());
    for ((tref, _), &group) in wanted.iter().zip(&group_of) {
        let schema = tref
            .schema
            .clone()
            .or_else(|| current_db.clone())
            .unwrap_or_default();
        let name = QualifiedName::new(schema, tref.name.clone());
        let fail = |message: String| CatalogError::DoesNotFit {
            table: name.to_string(),
            message,
        };
        // The table's rows: its run.
        let Ok(run) = runs.binary_search_by(|r| {
            (rows[r.start].0, rows[r.start].1.as_str()).cmp(&(group, name.name.as_str()))
        }) else {
            return Err(fail(format!("no such table (policy names `{tref}`)")));
        };
        let mine = &rows[runs[run].clone()];
        if mine[0].2.is_none() {
            return Err(fail(
                "the table is not partitioned (add PARTITION BY)".into(),
            ));
        }
        let method = mine[0]
            .4
            .as_deref()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let strategy = match method.as_str() {
            "RANGE" | "RANGE COLUMNS" => Strategy::Range,
            "LIST" | "LIST COLUMNS" => Strategy::List,
            "HASH" | "KEY" | "LINEAR HASH" | "LINEAR KEY" => Strategy::Hash,
            other => return Err(fail(format!("unknown partitioning method `{other}`"))),
        };
        let expression = mine[0].6.as_deref().unwrap_or_default();
        let (expr, key_name) = KeyExpr::parse(expression).ok_or_else(|| {
            fail(format!(
                "partctl does not understand the partition expression `{expression}`; it reads COLUMNS(col), col, TO_DAYS(col), UNIX_TIMESTAMP(col) and YEAR(col)"
            ))
        })?;
        let expr = if expr == KeyExpr::Column && method.ends_with("COLUMNS") {
            KeyExpr::Columns
        } else {
            expr
        };
        found.push(Found {
            name,
            group,
            mine,
            strategy,
            expression,
            expr,
            key_name,
        });
    }
    let types = key_types(
        conn,
        &found
            .iter()
            .map(|f| (&f.name, f.key_name.as_str()))
            .collect::<Vec<_>>(),
    )?;

    let mut tables = Vec::new();
    let mut asks = Vec::new();
    for (i, (f, ((_, needed), (data_type, sql_type)))) in
        found.into_iter().zip(wanted.iter().zip(types)).enumerate()
    {
        let Found {
            name,
            group,
            mine,
            strategy,
            expression,
            expr,
            key_name,
        } = f;
        let fail = |message: String| CatalogError::DoesNotFit {
            table: name.to_string(),
            message,
        };
        let kind = match (data_type.as_str(), expr) {
            ("tinyint" | "smallint", KeyExpr::Column | KeyExpr::Columns) => Some(KeyKind::SmallInt),
            ("mediumint" | "int", KeyExpr::Column | KeyExpr::Columns) => Some(KeyKind::Int),
            ("bigint", KeyExpr::Column | KeyExpr::Columns) => Some(KeyKind::BigInt),
            ("date", KeyExpr::Columns | KeyExpr::ToDays | KeyExpr::Year) => Some(KeyKind::Date),
            ("datetime", KeyExpr::Columns | KeyExpr::ToDays | KeyExpr::Year) => {
                Some(KeyKind::Timestamp)
            }
            ("timestamp", KeyExpr::UnixTimestamp) => Some(KeyKind::Timestamptz),
            _ if strategy == Strategy::Range => {
                return Err(fail(format!(
                "partition expression `{expression}` on a {sql_type} column is not one partctl can lay out"
            )))
            }
            _ => None,
        };
        // information_schema shows a LIST table's DEFAULT partition as MAXVALUE (or 0); only
        // SHOW CREATE TABLE tells.
        let list_defaults = if strategy == Strategy::List {
            list_default_partitions(conn, &name)?
        } else {
            vec![]
        };
        let partitions =
            read_partitions(&name, mine, strategy, kind, expr, &list_defaults).map_err(fail)?;
        let mut table = Table {
            name: name.clone(),
            strategy,
            key: KeyColumn {
                name: key_name.clone(),
                kind,
                sql_type,
                expr: Some(expr),
                granularity: expr.granularity(),
            },
            columns: vec![key_name],
            partitions,
            stats: KeyStats::default(),
            distributed: false,
        };
        // A table named like its holding table is one when it carries the label.
        let holding = holding_table(&table.name);
        let labelled = runs
            .binary_search_by(|r| {
                (rows[r.start].0, rows[r.start].1.as_str()).cmp(&(group, holding.name.as_str()))
            })
            .is_ok()
            && holding_label(conn, &holding)? == Some(moving_marker(&table.name));
        // The catch-all's keys, unless no plan can use them: a MAXVALUE catch-all holds no key
        // below the last range partition's upper bound. Integer keys read the table's largest
        // key, which the plan needs first, and rows a stopped staged move left are read always.
        let mut needed = *needed;
        if needed.catch_all_range
            && table.default_partition().is_some()
            && !labelled
            && !(needed.max_key && kind.is_some_and(|k| !k.is_time()))
        {
            let floor = table
                .ranges()
                .filter_map(|(_, to, _)| match to {
                    Bound::At(c) => Some(c),
                    _ => None,
                })
                .max();
            needed.catch_all_range = floor.is_none_or(|f| catch_all_matters(i, &mut table, f));
        }
        asks.push(
            kind.filter(|_| strategy == Strategy::Range)
                .and_then(|kind| {
                    stats_ask(&table, kind, expr, needed, labelled.then_some(holding))
                }),
        );
        tables.push(table);
    }
    read_all_stats(conn, &mut tables, &asks)?;
    super::waiting::read_waiting(conn, waiting_statement, &mut tables, wanted)?;
    Ok(Catalog {
        format_version: CATALOG_FORMAT_VERSION,
        engine: server.engine,
        server_version: server.version.clone(),
        tables,
    })
}

/// Index the partition rows by table: information_schema answers with each table's rows
/// together, so the rows are cut into runs of one table each, and only the runs are sorted
/// (by group and table) and each run put in partition order when it is not; sorting all the
/// rows by their names cost more than the rest of reading them. Should a table's rows come in
/// two runs, every row is sorted instead.
fn table_runs(rows: &mut [PartRow]) -> Vec<std::ops::Range<usize>> {
    fn key(r: &PartRow) -> (usize, &str) {
        (r.0, r.1.as_str())
    }
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || key(&rows[i]) != key(&rows[start]) {
            runs.push(start..i);
            start = i;
        }
    }
    runs.sort_by(|a, b| key(&rows[a.start]).cmp(&key(&rows[b.start])));
    if runs
        .windows(2)
        .any(|w| key(&rows[w[0].start]) == key(&rows[w[1].start]))
    {
        rows.sort_by(|a, b| (a.0, &a.1, a.10, a.11).cmp(&(b.0, &b.1, b.10, b.11)));
        return table_runs(rows);
    }
    for r in &runs {
        let run = &mut rows[r.clone()];
        if !run.is_sorted_by_key(|r| (r.10, r.11)) {
            run.sort_by_key(|r| (r.10, r.11));
        }
    }
    runs
}

/// Tables a key-types statement names at most (see key_types.sql.tera).
const KEY_TYPES_CHUNK: usize = 100;

/// The types of the key columns `keys` (table, column), each as (data type, column type) the
/// way information_schema.COLUMNS spells them (`int`, `int unsigned`; without display widths),
/// from the column definitions of a statement that is prepared and closed, never executed.
/// When a statement fails, its tables are asked one at a time, so that the error names its
/// table.
fn key_types(
    conn: &mut mysql::Conn,
    keys: &[(&QualifiedName, &str)],
) -> Result<Vec<(String, String)>, CatalogError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(KEY_TYPES_CHUNK) {
        let prepare = |conn: &mut mysql::Conn, which: &[(&QualifiedName, &str)]| {
            let mut ctx = tera::Context::new();
            let entries: Vec<_> = which
                .iter()
                .map(|(t, k)| serde_json::json!({"table": NameCtx::from(*t), "key": k}))
                .collect();
            ctx.insert("tables", &entries);
            let sql = key_types_statement()
                .text("key_types.sql.tera", &ctx)
                .map_err(|e| CatalogError::Query(e.to_string()))?;
            let stmt = conn.prep(sql);
            Ok(stmt.map(|stmt| {
                let types: Vec<_> = stmt.columns().iter().map(column_type).collect();
                let _ = conn.close(stmt);
                types
            }))
        };
        let unreadable =
            |one: &(&QualifiedName, &str), e: &mysql::Error| CatalogError::Unreadable {
                table: one.0.to_string(),
                message: format!(
                    "reading the type of key column `{}`: {}",
                    one.1,
                    super::error_text(e)
                ),
            };
        match prepare(conn, chunk)? {
            Ok(types) if types.len() == chunk.len() => out.extend(types),
            Ok(_) => return Err(CatalogError::Query("unexpected key types shape".into())),
            Err(e) if chunk.len() == 1 => return Err(unreadable(&chunk[0], &e)),
            Err(_) => {
                for one in chunk {
                    let types = prepare(conn, std::slice::from_ref(one))?
                        .map_err(|e| unreadable(one, &e))?;
                    out.extend(types);
                }
            }
        }
    }
    Ok(out)
}

/// A result column's type as information_schema.COLUMNS names it: (DATA_TYPE, COLUMN_TYPE
/// without display widths or lengths).
fn column_type(c: &mysql::Column) -> (String, String) {
    use mysql::consts::{ColumnFlags, ColumnType as T};
    let flags = c.flags();
    let binary = c.character_set() == 63;
    let data_type = match c.column_type() {
        T::MYSQL_TYPE_TINY => "tinyint",
        T::MYSQL_TYPE_SHORT => "smallint",
        T::MYSQL_TYPE_INT24 => "mediumint",
        T::MYSQL_TYPE_LONG => "int",
        T::MYSQL_TYPE_LONGLONG => "bigint",
        T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE => "date",
        T::MYSQL_TYPE_DATETIME | T::MYSQL_TYPE_DATETIME2 => "datetime",
        T::MYSQL_TYPE_TIMESTAMP | T::MYSQL_TYPE_TIMESTAMP2 => "timestamp",
        T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2 => "time",
        T::MYSQL_TYPE_YEAR => "year",
        T::MYSQL_TYPE_DECIMAL | T::MYSQL_TYPE_NEWDECIMAL => "decimal",
        T::MYSQL_TYPE_FLOAT => "float",
        T::MYSQL_TYPE_DOUBLE => "double",
        T::MYSQL_TYPE_BIT => "bit",
        T::MYSQL_TYPE_JSON => "json",
        _ if flags.contains(ColumnFlags::ENUM_FLAG) => "enum",
        _ if flags.contains(ColumnFlags::SET_FLAG) => "set",
        T::MYSQL_TYPE_STRING if binary => "binary",
        T::MYSQL_TYPE_STRING => "char",
        T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_VAR_STRING if binary => "varbinary",
        T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_VAR_STRING => "varchar",
        T::MYSQL_TYPE_TINY_BLOB
        | T::MYSQL_TYPE_MEDIUM_BLOB
        | T::MYSQL_TYPE_LONG_BLOB
        | T::MYSQL_TYPE_BLOB
            if binary =>
        {
            "blob"
        }
        T::MYSQL_TYPE_TINY_BLOB
        | T::MYSQL_TYPE_MEDIUM_BLOB
        | T::MYSQL_TYPE_LONG_BLOB
        | T::MYSQL_TYPE_BLOB => "text",
        _ => "unknown",
    };
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG)
        && matches!(
            data_type,
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "bigint"
                | "decimal"
                | "float"
                | "double"
        );
    let column_type = match unsigned {
        true => format!("{data_type} unsigned"),
        false => data_type.to_string(),
    };
    (data_type.to_string(), column_type)
}

/// The label (`TABLE_COMMENT`) of `holding`, a table named like a holding table.
fn holding_label(
    conn: &mut mysql::Conn,
    holding: &QualifiedName,
) -> Result<Option<String>, CatalogError> {
    conn.exec_first(
        include_str!("../../../templates/mysql/holding_label.sql"),
        (&holding.schema, &holding.name),
    )
    .map_err(q)
}

/// A table's partitions from its `information_schema.PARTITIONS` rows (sub-partitions folded
/// into their partition; MySQL range partitions take their lower bound from the previous one).
fn read_partitions(
    name: &QualifiedName,
    mine: &[PartRow],
    strategy: Strategy,
    kind: Option<KeyKind>,
    expr: KeyExpr,
    list_defaults: &[String],
) -> Result<Vec<Partition>, String> {
    let hash_count = {
        let mut names: Vec<&String> = mine.iter().filter_map(|r| r.2.as_ref()).collect();
        names.dedup();
        names.len() as u32
    };
    let mut partitions: Vec<Partition> = Vec::new();
    let mut lower = Bound::Min;
    for r in mine {
        let pname = r.2.clone().unwrap_or_default();
        if let Some(last) = partitions.last_mut() {
            if last.name.name == pname {
                // Another sub-partition of the same partition.
                if let Some(sp) = &r.3 {
                    last.subpartitions.push(subpartition(name, sp, r));
                }
                continue;
            }
        }
        let desc = r.7.as_deref().unwrap_or_default();
        let bound = match strategy {
            Strategy::Range if desc.eq_ignore_ascii_case("MAXVALUE") => PartBound::Default,
            Strategy::Range => {
                let k = kind.ok_or_else(|| "range key of unknown type".to_string())?;
                let to = expr.decode(k, strip_quotes(desc)).ok_or_else(|| {
                    format!("cannot read the bound `{desc}` of partition `{pname}`")
                })?;
                let b = PartBound::Range {
                    from: lower,
                    to: Bound::At(to),
                };
                lower = Bound::At(to);
                b
            }
            Strategy::List if list_defaults.contains(&pname) => PartBound::Default,
            Strategy::List => PartBound::List {
                values: list_values(desc),
            },
            Strategy::Hash => PartBound::Hash {
                modulus: hash_count,
                remainder: partitions.len() as u32,
            },
        };
        let mut part = Partition {
            name: QualifiedName::new(name.schema.clone(), pname),
            bound,
            est_rows: r.8.unwrap_or(-1),
            bytes: r.9.unwrap_or(0),
            detach_pending: false,
            subpartitions: vec![],
        };
        if let Some(sp) = &r.3 {
            part.subpartitions.push(subpartition(name, sp, r));
            // A partition's size is the sum of its sub-partitions'.
            part.est_rows = 0;
            part.bytes = 0;
        }
        partitions.push(part);
    }
    for p in &mut partitions {
        if !p.subpartitions.is_empty() {
            p.est_rows = p.subpartitions.iter().map(|s| s.est_rows.max(0)).sum();
            p.bytes = p.subpartitions.iter().map(|s| s.bytes).sum();
        }
    }
    Ok(partitions)
}

fn subpartition(table: &QualifiedName, name: &str, r: &PartRow) -> Partition {
    Partition {
        name: QualifiedName::new(table.schema.clone(), name),
        bound: PartBound::Other {
            text: r.5.clone().unwrap_or_default(),
        },
        est_rows: r.8.unwrap_or(-1),
        bytes: r.9.unwrap_or(0),
        detach_pending: false,
        subpartitions: vec![],
    }
}

/// Names of `PARTITION <name> DEFAULT` clauses in `SHOW CREATE TABLE`.
fn list_default_partitions(
    conn: &mut mysql::Conn,
    table: &QualifiedName,
) -> Result<Vec<String>, CatalogError> {
    let templates = Templates::shared(&MARIADB);
    let mut ctx = tera::Context::new();
    ctx.insert("table", &NameCtx::from(table));
    let sql = templates
        .text("show_create.sql.tera", &ctx)
        .map_err(|e| CatalogError::Query(e.to_string()))?;
    let row: Option<(String, String)> = conn.query_first(sql).map_err(q)?;
    Ok(row
        .map(|(_, ddl)| default_partitions_in(&ddl))
        .unwrap_or_default())
}

fn default_partitions_in(ddl: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = ddl;
    while let Some(i) = rest.find("PARTITION `") {
        let after = &rest[i + "PARTITION `".len()..];
        // The identifier ends at a backtick that is not doubled.
        let mut end = None;
        let b = after.as_bytes();
        let mut k = 0;
        while k < b.len() {
            if b[k] == b'`' {
                if b.get(k + 1) == Some(&b'`') {
                    k += 2;
                    continue;
                }
                end = Some(k);
                break;
            }
            k += 1;
        }
        let Some(end) = end else { break };
        let name = after[..end].replace("``", "`");
        let tail = &after[end + 1..];
        if tail.trim_start().starts_with("DEFAULT") {
            out.push(name);
        }
        rest = tail;
    }
    out
}

/// The values of a LIST partition's `PARTITION_DESCRIPTION`, as the server prints it: numbers
/// and `NULL` bare, strings as SQL literals (`'a,b','it''s','back\\slash'`, possibly after a
/// `_charset` introducer), separated by commas. Commas and quotes inside a literal are part of
/// the value, so the description is read literal by literal, never split on ','.
pub(crate) fn list_values(desc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = desc.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut bare = String::new();
        let mut value = None;
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            chars.next();
            // A quote after nothing but a `_charset` introducer opens a literal.
            if c == '\'' && (bare.is_empty() || bare.starts_with('_')) {
                value = Some(literal_body(&mut chars));
                bare.clear();
                continue;
            }
            bare.push(c);
        }
        chars.next(); // the ',' (or the end)
        out.push(value.unwrap_or_else(|| bare.trim().to_string()));
    }
    out
}

/// The rest of a single-quoted literal after its opening quote: `''` is a quote; a backslash
/// escapes the next character as MySQL reads it (`\n`, `\t`, `\0`...; `\%` and `\_` keep
/// their backslash).
fn literal_body(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut v = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.next_if_eq(&'\'').is_some() => v.push('\''),
            '\'' => break,
            '\\' => match chars.next() {
                Some('0') => v.push('\0'),
                Some('n') => v.push('\n'),
                Some('r') => v.push('\r'),
                Some('t') => v.push('\t'),
                Some('b') => v.push('\u{8}'),
                Some('Z') => v.push('\u{1a}'),
                Some(e @ ('%' | '_')) => {
                    v.push('\\');
                    v.push(e);
                }
                Some(e) => v.push(e),
                None => v.push('\\'),
            },
            c => v.push(c),
        }
    }
    v
}

fn strip_quotes(s: &str) -> &str {
    s.strip_prefix('\'')
        .and_then(|b| b.strip_suffix('\''))
        .unwrap_or(s)
}

/// What a table's statistics row asks: (key kind, key expression, max_key, catch-all
/// partition, the holding table a stopped staged move left), or nothing.
type Ask = (
    KeyKind,
    KeyExpr,
    bool,
    Option<String>,
    Option<QualifiedName>,
);

fn stats_ask(
    table: &Table,
    kind: KeyKind,
    expr: KeyExpr,
    needed: StatsNeeded,
    holding: Option<QualifiedName>,
) -> Option<Ask> {
    let default = table.default_partition().map(|p| p.name.name.clone());
    let max_key = needed.max_key && !kind.is_time();
    let catch_all = needed.catch_all_range && default.is_some();
    // Rows a stopped staged move left in its holding table still belong to the catch-all.
    let holding = holding.filter(|_| catch_all);
    (max_key || catch_all).then(|| (kind, expr, max_key, default.filter(|_| catch_all), holding))
}

/// The row facts of every table that asks, in one statement (a row per table); when it fails,
/// each table is asked on its own, so that the error names its table.
fn read_all_stats(
    conn: &mut mysql::Conn,
    tables: &mut [Table],
    asks: &[Option<Ask>],
) -> Result<(), CatalogError> {
    let asked: Vec<usize> = (0..asks.len()).filter(|i| asks[*i].is_some()).collect();
    if asked.is_empty() {
        return Ok(());
    }
    let render = |which: &[usize]| {
        let entries: Vec<_> = which
            .iter()
            .map(|i| {
                let (_, expr, max_key, default, holding) = asks[*i].as_ref().expect("asked");
                serde_json::json!({
                    "ord": i,
                    "table": NameCtx::from(&tables[*i].name),
                    "key": tables[*i].key.name,
                    "expr": expr.sql_name(),
                    "max_key": max_key,
                    "default": default,
                    "holding": holding.as_ref().map(NameCtx::from),
                })
            })
            .collect();
        let mut ctx = tera::Context::new();
        ctx.insert("tables", &entries);
        key_stats_statement()
            .text("key_stats.sql.tera", &ctx)
            .map_err(|e| CatalogError::Query(e.to_string()))
    };
    type StatsRow = (
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let unreadable = |i: usize, e: &mysql::Error| CatalogError::Unreadable {
        table: tables[i].name.to_string(),
        message: format!("reading key statistics: {}", super::error_text(e)),
    };
    let rows: Vec<StatsRow> = match conn.query(render(&asked)?) {
        Ok(rows) => rows,
        Err(_) if asked.len() > 1 => {
            let mut rows = Vec::new();
            for i in &asked {
                let one: Vec<StatsRow> = conn
                    .query(render(std::slice::from_ref(i))?)
                    .map_err(|e| unreadable(*i, &e))?;
                rows.extend(one);
            }
            rows
        }
        Err(e) => return Err(unreadable(asked[0], &e)),
    };
    let merge = |a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64| match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (x, y) => x.or(y),
    };
    for (ord, mx, lo, hi, held_lo, held_hi) in rows {
        let i = usize::try_from(ord)
            .ok()
            .filter(|i| *i < tables.len() && asks[*i].is_some())
            .ok_or_else(|| CatalogError::Query("unexpected key statistics row".into()))?;
        let (kind, expr, _, _, holding) = asks[i].as_ref().expect("asked");
        let table = &tables[i];
        let decode = |v: Option<String>, e: KeyExpr| -> Result<Option<i64>, CatalogError> {
            match v {
                None => Ok(None),
                Some(t) => e
                    .decode(*kind, &t)
                    .map(Some)
                    .ok_or_else(|| CatalogError::DoesNotFit {
                        table: table.name.to_string(),
                        message: format!("cannot read key value `{t}`"),
                    }),
            }
        };
        let stats = KeyStats {
            max_key: decode(mx, KeyExpr::Column)?,
            catch_all_min: merge(decode(lo, *expr)?, decode(held_lo, *expr)?, i64::min),
            catch_all_max: merge(decode(hi, *expr)?, decode(held_hi, *expr)?, i64::max),
            in_transit: vec![],
            holding: holding.as_ref().map(|h| h.name.clone()),
            ..KeyStats::default()
        };
        tables[i].stats = stats;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_descriptions_as_mariadb_prints_them() {
        // As MariaDB 10.11 prints them (tests/kinds.rs:
        // maria_list_values_with_commas_and_quotes_round_trip).
        assert_eq!(list_values("'a,b','c, d'"), ["a,b", "c, d"]);
        assert_eq!(
            list_values("'it''s','''''','x'''',y'"),
            ["it's", "''", "x'',y"]
        );
        assert_eq!(
            list_values(r"'back\\slash','\\''','tab	x'"),
            [r"back\slash", r"\'", "tab\tx"]
        );
        assert_eq!(list_values("1,2, -3"), ["1", "2", "-3"]);
        assert_eq!(list_values("_utf8mb4'US', _utf8mb4'C,A'"), ["US", "C,A"]);
        assert_eq!(list_values("NULL,'x'"), ["NULL", "x"]);
        assert_eq!(list_values("''"), [""]);
        assert_eq!(list_values(r"'a\nb','\%'"), ["a\nb", r"\%"]);
    }

    proptest::proptest! {
        /// Any string the MySQL dialect quotes (what `VALUES IN (...)` carries) reads back as
        /// itself from a description made of such literals.
        #[test]
        fn prop_list_literals_round_trip(
            values in proptest::collection::vec("[^\\x00]{0,12}|[',\\\\ %_]{0,8}", 1..6)
        ) {
            use crate::render::Dialect;
            let d = crate::render::mysql::mariadb("10.11.6-MariaDB");
            let desc = values
                .iter()
                .map(|v| d.quote_literal(v).unwrap())
                .collect::<Vec<_>>()
                .join(",");
            proptest::prop_assert_eq!(list_values(&desc), values);
        }
    }

    #[test]
    fn finds_default_list_partitions() {
        let ddl = "PARTITION BY LIST  COLUMNS(`region`)\n(PARTITION `pus` VALUES IN ('US','CA') ENGINE = InnoDB,\n PARTITION `p``def` DEFAULT ENGINE = InnoDB)";
        assert_eq!(default_partitions_in(ddl), vec!["p`def".to_string()]);
    }
}
