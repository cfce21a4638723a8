//! The MySQL/MariaDB catalog reader: one `information_schema.PARTITIONS` query for every managed
//! table (plus one for their columns), then the row facts the plan needs.
//!
//! MySQL range partitions have only an upper bound (`VALUES LESS THAN`); each partition's lower
//! bound is the previous one's upper bound, and the first starts at MINVALUE. A `MAXVALUE`
//! partition is the table's catch-all. Bounds are stored as the partitioning expression sees
//! them; [`KeyExpr`] converts them to and from planner coordinates.

use super::{
    Catalog, Engine, KeyColumn, KeyStats, PartBound, Partition, StatsNeeded, Table,
    CATALOG_FORMAT_VERSION,
};
use crate::key::{micros_of, naive_of, Bound, KeyKind, TimeUnit};
use crate::names::{QualifiedName, TableRef};
use crate::policy::Strategy;
use crate::render::{mysql::MARIADB, NameCtx, Templates};
use chrono::{Datelike, NaiveDate};
use mysql::prelude::Queryable;
use serde::{Deserialize, Serialize};

pub use super::postgres::CatalogError;

/// How a range partition's bound relates to the key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyExpr {
    /// `RANGE(col)`: the column's own (integer) values.
    Column,
    /// `RANGE COLUMNS(col)`: the column's own values (`MAXVALUE` is written in parentheses).
    Columns,
    /// `RANGE(TO_DAYS(col))`: day numbers (TO_DAYS('0001-01-01') = 366).
    ToDays,
    /// `RANGE(UNIX_TIMESTAMP(col))`: seconds since the epoch, UTC.
    UnixTimestamp,
    /// `RANGE(YEAR(col))`: years.
    Year,
}

/// TO_DAYS of 0001-01-01 minus chrono's day number of it.
const TO_DAYS_OFFSET: i64 = 365;

impl KeyExpr {
    pub fn parse(expression: &str) -> Option<(KeyExpr, String)> {
        let e = expression.trim();
        let lower = e.to_ascii_lowercase();
        let inner = |prefix: &str| -> Option<String> {
            if lower.starts_with(prefix) && lower.ends_with(')') {
                Some(e[prefix.len()..e.len() - 1].trim().to_string())
            } else {
                None
            }
        };
        let (expr, col) = if let Some(c) = inner("to_days(") {
            (KeyExpr::ToDays, c)
        } else if let Some(c) = inner("unix_timestamp(") {
            (KeyExpr::UnixTimestamp, c)
        } else if let Some(c) = inner("year(") {
            (KeyExpr::Year, c)
        } else {
            (KeyExpr::Column, e.to_string())
        };
        let col = unquote_ident(&col)?;
        Some((expr, col))
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            KeyExpr::Column => "column",
            KeyExpr::Columns => "columns",
            KeyExpr::ToDays => "to_days",
            KeyExpr::UnixTimestamp => "unix_timestamp",
            KeyExpr::Year => "year",
        }
    }

    /// The coarsest unit bounds must be multiples of.
    pub fn granularity(self) -> Option<TimeUnit> {
        match self {
            KeyExpr::ToDays => Some(TimeUnit::Day),
            KeyExpr::Year => Some(TimeUnit::Year),
            _ => None,
        }
    }

    /// A stored value (a bound, or the expression applied to a row) as a coordinate.
    pub fn decode(self, kind: KeyKind, text: &str) -> Option<i64> {
        let t = text.trim();
        match self {
            KeyExpr::Column | KeyExpr::Columns => kind.parse(t).or_else(|| {
                // MySQL prints DATETIME bounds as '2026-03-10 00:00:00'; timestamps never occur
                // in RANGE COLUMNS.
                KeyKind::Timestamp.parse(t).filter(|_| kind.is_time())
            }),
            KeyExpr::ToDays => {
                let n: i64 = t.parse().ok()?;
                let d =
                    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n - TO_DAYS_OFFSET).ok()?)?;
                Some(micros_of(d.and_hms_opt(0, 0, 0)?))
            }
            KeyExpr::UnixTimestamp => t.parse::<i64>().ok()?.checked_mul(1_000_000),
            KeyExpr::Year => {
                let y: i32 = t.parse().ok()?;
                Some(micros_of(
                    NaiveDate::from_ymd_opt(y, 1, 1)?.and_hms_opt(0, 0, 0)?,
                ))
            }
        }
    }

    /// A coordinate as the value the server stores for a bound, and whether it is a number.
    pub fn encode(self, kind: KeyKind, coord: i64) -> Result<(String, bool), String> {
        match self {
            KeyExpr::Column | KeyExpr::Columns if !kind.is_time() => Ok((coord.to_string(), true)),
            KeyExpr::Column | KeyExpr::Columns if kind == KeyKind::Date => {
                Ok((kind.format(coord), false))
            }
            KeyExpr::Column | KeyExpr::Columns => Ok((KeyKind::Timestamp.format(coord), false)),
            KeyExpr::ToDays => {
                let n = naive_of(coord);
                if n.time() != chrono::NaiveTime::MIN {
                    return Err(format!("bound {n} is not a whole day, as TO_DAYS() needs"));
                }
                Ok((
                    (n.date().num_days_from_ce() as i64 + TO_DAYS_OFFSET).to_string(),
                    true,
                ))
            }
            KeyExpr::UnixTimestamp => {
                if coord % 1_000_000 != 0 {
                    return Err("UNIX_TIMESTAMP() bounds must be whole seconds".into());
                }
                Ok(((coord / 1_000_000).to_string(), true))
            }
            KeyExpr::Year => {
                let n = naive_of(coord);
                if n.ordinal0() != 0 || n.time() != chrono::NaiveTime::MIN {
                    return Err(format!(
                        "bound {n} is not the start of a year, as YEAR() needs"
                    ));
                }
                Ok((n.year().to_string(), true))
            }
        }
    }
}

fn unquote_ident(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some(body) = s.strip_prefix('`').and_then(|b| b.strip_suffix('`')) {
        // A lone backtick inside means several identifiers (`a`,`b`), not one.
        if body.replace("``", "").contains('`') {
            return None;
        }
        Some(body.replace("``", "`"))
    } else if s.contains([',', '(', ')', ' ']) || s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

/// Server flavour and version, from `VERSION()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub engine: Engine,
    pub version: String,
    pub major: u32,
    pub minor: u32,
}

impl Server {
    pub fn from_version(v: &str) -> Server {
        let engine = if v.to_ascii_lowercase().contains("mariadb") {
            Engine::Mariadb
        } else {
            Engine::Mysql
        };
        let mut nums = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let major = nums.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let minor = nums.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Server {
            engine,
            version: v.to_string(),
            major,
            minor,
        }
    }
}

type PartRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

fn q(e: mysql::Error) -> CatalogError {
    CatalogError::Query(e.to_string())
}

/// Read the given tables.
pub fn read(
    conn: &mut mysql::Conn,
    server: &Server,
    wanted: &[(TableRef, StatsNeeded)],
) -> Result<Catalog, CatalogError> {
    let templates = Templates::new(&MARIADB);
    let mut ctx = tera::Context::new();
    ctx.insert("count", &wanted.len());
    let mut params: Vec<mysql::Value> = Vec::new();
    for (t, _) in wanted {
        params.push(t.schema.clone().into());
        params.push(t.name.clone().into());
    }
    let render = |name: &str| {
        templates
            .text(name, &ctx)
            .map_err(|e| CatalogError::Query(e.to_string()))
    };
    let rows: Vec<PartRow> = if wanted.is_empty() {
        vec![]
    } else {
        conn.exec(render("catalog.sql.tera")?, params.clone())
            .map_err(q)?
    };
    let cols: Vec<(String, String, String, String, String)> = if wanted.is_empty() {
        vec![]
    } else {
        conn.exec(render("columns.sql.tera")?, params).map_err(q)?
    };
    let current_db: Option<String> = conn.query_first("SELECT DATABASE()").map_err(q)?.flatten();

    let mut tables = Vec::new();
    for (tref, needed) in wanted {
        let schema = tref
            .schema
            .clone()
            .or_else(|| current_db.clone())
            .unwrap_or_default();
        let name = QualifiedName::new(schema, tref.name.clone());
        let fail = |message: String| CatalogError::Table {
            table: name.to_string(),
            message,
        };
        let mine: Vec<&PartRow> = rows
            .iter()
            .filter(|r| r.0 == name.schema && r.1 == name.name)
            .collect();
        if mine.is_empty() {
            return Err(fail(format!("no such table (policy names `{tref}`)")));
        }
        if mine[0].2.is_none() {
            return Err(fail(
                "the table is not partitioned (add PARTITION BY)".into(),
            ));
        }
        let method = mine[0].4.clone().unwrap_or_default().to_ascii_uppercase();
        let strategy = match method.as_str() {
            "RANGE" | "RANGE COLUMNS" => Strategy::Range,
            "LIST" | "LIST COLUMNS" => Strategy::List,
            "HASH" | "KEY" | "LINEAR HASH" | "LINEAR KEY" => Strategy::Hash,
            other => return Err(fail(format!("unknown partitioning method `{other}`"))),
        };
        let expression = mine[0].6.clone().unwrap_or_default();
        let (expr, key_name) = KeyExpr::parse(&expression).ok_or_else(|| {
            fail(format!(
                "partctl does not understand the partition expression `{expression}`; it reads COLUMNS(col), col, TO_DAYS(col), UNIX_TIMESTAMP(col) and YEAR(col)"
            ))
        })?;
        let expr = if expr == KeyExpr::Column && method.ends_with("COLUMNS") {
            KeyExpr::Columns
        } else {
            expr
        };
        let table_cols: Vec<&(String, String, String, String, String)> = cols
            .iter()
            .filter(|c| c.0 == name.schema && c.1 == name.name)
            .collect();
        let key_col = table_cols
            .iter()
            .find(|c| c.2.eq_ignore_ascii_case(&key_name))
            .ok_or_else(|| fail(format!("partition key column `{key_name}` not found")))?;
        let data_type = key_col.3.to_ascii_lowercase();
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
                "partition expression `{expression}` on a {} column is not one partctl can lay out",
                key_col.4
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
        let hash_count = {
            let mut names: Vec<&String> = mine.iter().filter_map(|r| r.2.as_ref()).collect();
            names.dedup();
            names.len() as u32
        };
        let mut partitions: Vec<Partition> = Vec::new();
        let mut lower = Bound::Min;
        for r in &mine {
            let pname = r.2.clone().unwrap_or_default();
            if let Some(last) = partitions.last_mut() {
                if last.name.name == pname {
                    // Another sub-partition of the same partition.
                    if let Some(sp) = &r.3 {
                        last.subpartitions.push(subpartition(&name, sp, r));
                    }
                    continue;
                }
            }
            let desc = r.7.clone().unwrap_or_default();
            let bound = match strategy {
                Strategy::Range if desc.eq_ignore_ascii_case("MAXVALUE") => PartBound::Default,
                Strategy::Range => {
                    let k = kind.ok_or_else(|| fail("range key of unknown type".into()))?;
                    let to = expr.decode(k, strip_quotes(&desc)).ok_or_else(|| {
                        fail(format!(
                            "cannot read the bound `{desc}` of partition `{pname}`"
                        ))
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
                    values: desc
                        .split(',')
                        .map(|v| strip_quotes(v.trim()).to_string())
                        .collect(),
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
                part.subpartitions.push(subpartition(&name, sp, r));
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
        let mut table = Table {
            name: name.clone(),
            strategy,
            key: KeyColumn {
                name: key_col.2.clone(),
                kind,
                sql_type: key_col.4.clone(),
                expr: Some(expr.sql_name().to_string()),
                granularity: expr.granularity(),
            },
            columns: table_cols.iter().map(|c| c.2.clone()).collect(),
            partitions,
            stats: KeyStats::default(),
        };
        if let Some(kind) = kind {
            if strategy == Strategy::Range {
                table.stats = read_stats(conn, &templates, &table, kind, expr, *needed)?;
            }
        }
        tables.push(table);
    }
    Ok(Catalog {
        format_version: CATALOG_FORMAT_VERSION,
        engine: server.engine,
        server_version: server.version.clone(),
        tables,
    })
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
    let templates = Templates::new(&MARIADB);
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

fn strip_quotes(s: &str) -> &str {
    s.strip_prefix('\'')
        .and_then(|b| b.strip_suffix('\''))
        .unwrap_or(s)
}

fn read_stats(
    conn: &mut mysql::Conn,
    templates: &Templates,
    table: &Table,
    kind: KeyKind,
    expr: KeyExpr,
    needed: StatsNeeded,
) -> Result<KeyStats, CatalogError> {
    let default = table.default_partition().map(|p| &p.name.name);
    let max_key = needed.max_key && !kind.is_time();
    let catch_all = needed.catch_all_range && default.is_some();
    if !max_key && !catch_all {
        return Ok(KeyStats::default());
    }
    let mut ctx = tera::Context::new();
    ctx.insert("table", &NameCtx::from(&table.name));
    ctx.insert("key", &table.key.name);
    ctx.insert("expr", expr.sql_name());
    ctx.insert("max_key", &max_key);
    if catch_all {
        ctx.insert("default", &default);
    } else {
        ctx.insert("default", &Option::<String>::None);
    }
    let sql = templates
        .text("key_stats.sql.tera", &ctx)
        .map_err(|e| CatalogError::Query(e.to_string()))?;
    let fail = |message: String| CatalogError::Table {
        table: table.name.to_string(),
        message,
    };
    let row: Option<(Option<String>, Option<String>, Option<String>)> = conn
        .query_first(sql)
        .map_err(|e| fail(format!("reading key statistics: {e}")))?;
    let (mx, lo, hi) = row.unwrap_or((None, None, None));
    let decode = |v: Option<String>, e: KeyExpr| -> Result<Option<i64>, CatalogError> {
        match v {
            None => Ok(None),
            Some(t) => e
                .decode(kind, &t)
                .map(Some)
                .ok_or_else(|| fail(format!("cannot read key value `{t}`"))),
        }
    };
    Ok(KeyStats {
        max_key: decode(mx, KeyExpr::Column)?,
        catch_all_min: decode(lo, expr)?,
        catch_all_max: decode(hi, expr)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partition_expressions() {
        assert_eq!(
            KeyExpr::parse("to_days(`created`)"),
            Some((KeyExpr::ToDays, "created".into()))
        );
        assert_eq!(
            KeyExpr::parse("UNIX_TIMESTAMP(`ts`)"),
            Some((KeyExpr::UnixTimestamp, "ts".into()))
        );
        assert_eq!(
            KeyExpr::parse("year(`d`)"),
            Some((KeyExpr::Year, "d".into()))
        );
        assert_eq!(
            KeyExpr::parse("`we``ird`"),
            Some((KeyExpr::Column, "we`ird".into()))
        );
        assert_eq!(KeyExpr::parse("id"), Some((KeyExpr::Column, "id".into())));
        assert_eq!(KeyExpr::parse("`a`,`b`"), None);
        assert_eq!(KeyExpr::parse("to_days(`a`) + 1"), None);
    }

    #[test]
    fn to_days_matches_mysql() {
        // SELECT TO_DAYS('1970-01-01') = 719528, TO_DAYS('2026-03-10') = 740050.
        let d = KeyExpr::ToDays.decode(KeyKind::Date, "719528").unwrap();
        assert_eq!(KeyKind::Date.format(d), "1970-01-01");
        let c = KeyKind::Date.parse("2026-03-10").unwrap();
        assert_eq!(
            KeyExpr::ToDays.encode(KeyKind::Date, c).unwrap().0,
            "740050"
        );
        assert!(KeyExpr::ToDays
            .encode(KeyKind::Timestamp, c + 3_600_000_000)
            .is_err());
    }

    #[test]
    fn unix_timestamps_and_years() {
        let c = KeyExpr::UnixTimestamp
            .decode(KeyKind::Timestamptz, "1773100800")
            .unwrap();
        assert_eq!(KeyKind::Timestamptz.format(c), "2026-03-10 00:00:00+00");
        assert_eq!(
            KeyExpr::UnixTimestamp
                .encode(KeyKind::Timestamptz, c)
                .unwrap()
                .0,
            "1773100800"
        );
        let y = KeyExpr::Year.decode(KeyKind::Date, "2027").unwrap();
        assert_eq!(KeyKind::Date.format(y), "2027-01-01");
        assert_eq!(KeyExpr::Year.encode(KeyKind::Date, y).unwrap().0, "2027");
    }

    #[test]
    fn finds_default_list_partitions() {
        let ddl = "PARTITION BY LIST  COLUMNS(`region`)\n(PARTITION `pus` VALUES IN ('US','CA') ENGINE = InnoDB,\n PARTITION `p``def` DEFAULT ENGINE = InnoDB)";
        assert_eq!(default_partitions_in(ddl), vec!["p`def".to_string()]);
    }

    #[test]
    fn server_flavour() {
        let s = Server::from_version("10.11.19-MariaDB-0+deb12u1");
        assert_eq!((s.engine, s.major, s.minor), (Engine::Mariadb, 10, 11));
        let s = Server::from_version("8.0.36");
        assert_eq!((s.engine, s.major, s.minor), (Engine::Mysql, 8, 0));
    }
}
