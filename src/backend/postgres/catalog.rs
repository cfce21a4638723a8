//! The PostgreSQL catalog reader: one query for every managed table, then the row facts the
//! plan needs (largest key, what sits in the catch-all), one query per table that needs them.

use super::error_text;
use crate::catalog::{
    Catalog, CatalogError, Engine, KeyColumn, KeyStats, PartBound, Partition, StatsNeeded, Table,
    CATALOG_FORMAT_VERSION,
};
use crate::key::{Bound, KeyKind};
use crate::names::{QualifiedName, TableRef};
use crate::policy::Strategy;
use crate::render::{postgres::POSTGRES, NameCtx, Templates};
use serde::Deserialize;

#[derive(Deserialize)]
struct RawPartition {
    schema: String,
    name: String,
    bound: Option<String>,
    rows: i64,
    bytes: i64,
    pending: bool,
    #[allow(dead_code)]
    relkind: String,
    #[serde(default)]
    subpartitions: Vec<RawSub>,
}

#[derive(Deserialize)]
struct RawSub {
    schema: String,
    name: String,
    bound: Option<String>,
    rows: i64,
    bytes: i64,
}

#[derive(Deserialize)]
struct RawName {
    schema: String,
    name: String,
}

/// Read the given tables. A table that does not exist, or is not partitioned, is an error
/// naming it.
pub fn read(
    client: &mut postgres::Client,
    version: &str,
    wanted: &[(TableRef, StatsNeeded)],
    sizes: bool,
) -> Result<Catalog, CatalogError> {
    let schemas: Vec<Option<String>> = wanted.iter().map(|(t, _)| t.schema.clone()).collect();
    let names: Vec<String> = wanted.iter().map(|(t, _)| t.name.clone()).collect();
    let q = |e: postgres::Error| CatalogError::Query(error_text(&e));
    let rows = client
        .query(
            include_str!("../../../templates/postgres/catalog.sql"),
            &[&schemas, &names, &sizes],
        )
        .map_err(q)?;
    let templates = Templates::new(&POSTGRES);
    let mut tables = Vec::new();
    for (row, (tref, needed)) in rows.iter().zip(wanted) {
        let name = QualifiedName::new(
            row.get::<_, String>("schema_name"),
            row.get::<_, String>("table_name"),
        );
        let fail = |message: String| CatalogError::DoesNotFit {
            table: name.to_string(),
            message,
        };
        if !row.get::<_, bool>("found") {
            return Err(fail(format!("no such table (policy names `{tref}`)")));
        }
        let strategy = match row.get::<_, Option<String>>("strategy").as_deref() {
            Some("r") => Strategy::Range,
            Some("l") => Strategy::List,
            Some("h") => Strategy::Hash,
            _ => {
                return Err(fail(format!(
                    "the table is not partitioned (create it with PARTITION BY, or convert it online: `partctl --table {name} convert`)"
                )))
            }
        };
        if row.get::<_, bool>("key_is_expression") || row.get::<_, i32>("key_count") != 1 {
            return Err(fail(
                "the partition key is an expression or has several columns; partctl manages single-column keys".into(),
            ));
        }
        let key_name: String = row.get("key_column");
        let sql_type: String = row.get("key_type");
        let kind = crate::render::postgres::key_kind(&sql_type);
        let raw: Vec<RawPartition> =
            serde_json::from_value(row.get::<_, serde_json::Value>("partitions"))
                .map_err(|e| fail(format!("unexpected catalog shape: {e}")))?;
        let mut partitions = Vec::new();
        for p in raw {
            let pname = QualifiedName::new(p.schema, p.name);
            let text = p.bound.unwrap_or_default();
            let bound = parse_bound(&text, kind).ok_or_else(|| {
                fail(format!(
                    "cannot read the bound of partition {pname}: `{text}`"
                ))
            })?;
            partitions.push(Partition {
                name: pname,
                bound,
                est_rows: p.rows,
                bytes: p.bytes,
                detach_pending: p.pending,
                subpartitions: p
                    .subpartitions
                    .into_iter()
                    .map(|sp| {
                        let text = sp.bound.unwrap_or_default();
                        Partition {
                            name: QualifiedName::new(sp.schema, sp.name),
                            bound: parse_bound(&text, None).unwrap_or(PartBound::Other { text }),
                            est_rows: sp.rows,
                            bytes: sp.bytes,
                            detach_pending: false,
                            subpartitions: vec![],
                        }
                    })
                    .collect(),
            });
        }
        let orphans: Vec<RawName> =
            serde_json::from_value(row.get::<_, serde_json::Value>("orphans"))
                .map_err(|e| fail(format!("unexpected catalog shape: {e}")))?;
        for o in orphans {
            partitions.push(Partition {
                name: QualifiedName::new(o.schema, o.name),
                bound: PartBound::Orphan,
                est_rows: -1,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            });
        }
        let mut table = Table {
            name,
            strategy,
            key: KeyColumn {
                name: key_name,
                kind,
                sql_type,
                expr: None,
                granularity: None,
            },
            columns: row.get("columns"),
            partitions,
            stats: KeyStats::default(),
        };
        if let Some(kind) = kind {
            table.stats = read_stats(client, &templates, &table, kind, *needed)?;
        }
        table.stats.in_transit =
            serde_json::from_value(row.get::<_, serde_json::Value>("in_transit"))
                .map_err(|e| CatalogError::Query(format!("unexpected catalog shape: {e}")))?;
        tables.push(table);
    }
    Ok(Catalog {
        format_version: CATALOG_FORMAT_VERSION,
        engine: Engine::Postgres,
        server_version: version.to_string(),
        tables,
    })
}

fn read_stats(
    client: &mut postgres::Client,
    templates: &Templates,
    table: &Table,
    kind: KeyKind,
    needed: StatsNeeded,
) -> Result<KeyStats, CatalogError> {
    let default = table.default_partition().map(|p| &p.name);
    let max_key = needed.max_key && !kind.is_time();
    let catch_all = needed.catch_all_range && default.is_some();
    if !max_key && !catch_all {
        return Ok(KeyStats::default());
    }
    let mut ctx = tera::Context::new();
    ctx.insert("table", &NameCtx::from(&table.name));
    ctx.insert("key", &table.key.name);
    ctx.insert("max_key", &max_key);
    ctx.insert("default", &default.filter(|_| catch_all).map(NameCtx::from));
    let sql = templates
        .text("key_stats.sql.tera", &ctx)
        .map_err(|e| CatalogError::Query(e.to_string()))?;
    let row = client
        .query_one(&sql, &[])
        .map_err(|e| CatalogError::Unreadable {
            table: table.name.to_string(),
            message: format!("reading key statistics: {}", error_text(&e)),
        })?;
    let get = |col: &str| -> Result<Option<i64>, CatalogError> {
        match row.get::<_, Option<String>>(col) {
            None => Ok(None),
            Some(text) => kind
                .parse(&text)
                .map(Some)
                .ok_or_else(|| CatalogError::DoesNotFit {
                    table: table.name.to_string(),
                    message: format!("cannot read key value `{text}`"),
                }),
        }
    };
    Ok(KeyStats {
        max_key: get("max_key")?,
        catch_all_min: get("catch_all_min")?,
        catch_all_max: get("catch_all_max")?,
        ..Default::default()
    })
}

/// Parse `pg_get_expr(relpartbound)`: `FOR VALUES FROM (a) TO (b)`, `DEFAULT`, `FOR VALUES IN
/// (...)`, `FOR VALUES WITH (modulus m, remainder r)`.
pub fn parse_bound(text: &str, kind: Option<KeyKind>) -> Option<PartBound> {
    let t = text.trim();
    if t == "DEFAULT" {
        return Some(PartBound::Default);
    }
    if let Some(rest) = t.strip_prefix("FOR VALUES FROM (") {
        let (from, rest) = split_value(rest)?;
        let rest = rest.strip_prefix(") TO (")?;
        let (to, rest) = split_value(rest)?;
        if rest != ")" {
            return None;
        }
        let conv = |v: &str| -> Option<Bound> {
            match v {
                "MINVALUE" => Some(Bound::Min),
                "MAXVALUE" => Some(Bound::Max),
                _ => kind?.parse(v).map(Bound::At),
            }
        };
        return match (kind, conv(&from), conv(&to)) {
            (Some(_), Some(from), Some(to)) => Some(PartBound::Range { from, to }),
            _ => Some(PartBound::Other {
                text: t.to_string(),
            }),
        };
    }
    if let Some(rest) = t.strip_prefix("FOR VALUES IN (") {
        let mut values = Vec::new();
        let mut rest = rest;
        loop {
            let (v, r) = split_value(rest)?;
            values.push(unquote(&v));
            if let Some(r) = r.strip_prefix(", ") {
                rest = r;
            } else if r == ")" {
                break;
            } else {
                return None;
            }
        }
        return Some(PartBound::List { values });
    }
    if let Some(rest) = t.strip_prefix("FOR VALUES WITH (modulus ") {
        let (m, r) = rest.split_once(", remainder ")?;
        let r = r.strip_suffix(')')?;
        return Some(PartBound::Hash {
            modulus: m.trim().parse().ok()?,
            remainder: r.trim().parse().ok()?,
        });
    }
    Some(PartBound::Other {
        text: t.to_string(),
    })
}

/// Split one value off the front: a quoted literal (with '' escapes) or a bare token.
fn split_value(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix('\'') {
        let mut out = String::from("'");
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if body[i + 1..].starts_with('\'') {
                    out.push_str("''");
                    chars.next();
                    continue;
                }
                out.push('\'');
                return Some((out, &body[i + 1..]));
            }
            out.push(c);
        }
        None
    } else {
        let end = s.find([',', ')']).unwrap_or(s.len());
        Some((s[..end].trim().to_string(), &s[end..]))
    }
}

fn unquote(v: &str) -> String {
    v.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("''", "'"))
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bounds_as_postgres_prints_them() {
        let k = Some(KeyKind::Timestamptz);
        assert_eq!(
            parse_bound(
                "FOR VALUES FROM ('2026-03-10 00:00:00+00') TO ('2026-03-11 00:00:00+00')",
                k
            ),
            Some(PartBound::Range {
                from: Bound::At(
                    KeyKind::Timestamptz
                        .parse("2026-03-10 00:00:00+00")
                        .unwrap()
                ),
                to: Bound::At(
                    KeyKind::Timestamptz
                        .parse("2026-03-11 00:00:00+00")
                        .unwrap()
                ),
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('-100')", Some(KeyKind::Int)),
            Some(PartBound::Range {
                from: Bound::Min,
                to: Bound::At(-100)
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (0) TO (100)", Some(KeyKind::BigInt)),
            Some(PartBound::Range {
                from: Bound::At(0),
                to: Bound::At(100)
            })
        );
        assert_eq!(parse_bound("DEFAULT", None), Some(PartBound::Default));
        assert_eq!(
            parse_bound("FOR VALUES IN ('US', 'it''s')", None),
            Some(PartBound::List {
                values: vec!["US".into(), "it's".into()]
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES WITH (modulus 4, remainder 3)", None),
            Some(PartBound::Hash {
                modulus: 4,
                remainder: 3
            })
        );
    }
}
