//! `show` output: each managed table with its partitions (bounds, estimated rows, size, whether
//! retention expires them) and, for hash tables, the skew of the largest partition.

use super::{human, md, plural, width, Format};
use crate::catalog::{Catalog, PartBound, Partition, Table};
use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::plan::{self, describe};
use crate::policy::{Policy, Strategy};
use chrono::{DateTime, Utc};
use std::io::{self, Write};

/// One managed table as `show` lists it.
pub struct ShowTable<'c> {
    pub table: &'c Table,
    /// Partitions in order (range by lower bound, hash by remainder, others, the catch-all
    /// last), each followed by its sub-partitions.
    pub rows: Vec<ShowRow>,
    /// Hash tables: the largest partition's share of the estimated rows, and whether it is more
    /// than twice the fair share (`None`: no estimates yet, or not a hash table).
    pub skew: Option<(f64, bool)>,
}

/// One line of `show`: a partition (depth 0) or a sub-partition (depth 1).
pub struct ShowRow {
    pub depth: usize,
    pub name: String,
    pub bounds: String,
    /// Negative when the server has no estimate.
    pub est_rows: i64,
    pub bytes: i64,
    /// Retention removes it now (`apply` would detach, drop or archive it).
    pub expired: bool,
}

/// What `show` lists at `now`: every selected policy's table found in `catalog`.
pub fn tables<'c>(
    policies: &[&Policy],
    catalog: &'c Catalog,
    now: DateTime<Utc>,
) -> Vec<ShowTable<'c>> {
    policies
        .iter()
        .filter_map(|p| {
            let t = plan::resolve(p, catalog)?;
            let expiring = plan::expiring(p, t, now);
            Some(ShowTable {
                table: t,
                rows: rows(t, &expiring),
                skew: if t.strategy == Strategy::Hash {
                    hash_skew(t)
                } else {
                    None
                },
            })
        })
        .collect()
}

fn rows(t: &Table, expiring: &[QualifiedName]) -> Vec<ShowRow> {
    let mut parts: Vec<&Partition> = t.partitions.iter().collect();
    parts.sort_by_key(|p| match p.bound {
        PartBound::Range { from, .. } => (0, from, 0),
        PartBound::Hash { remainder, modulus } => {
            (1, Bound::Min, (remainder as u64) << 32 | modulus as u64)
        }
        PartBound::Default => (3, Bound::Max, 0),
        _ => (2, Bound::Max, 0),
    });
    let mut rows = Vec::new();
    for part in parts {
        let (est, bytes) = if part.subpartitions.is_empty() {
            (part.est_rows, part.bytes)
        } else {
            (
                part.subpartitions.iter().map(|s| s.est_rows.max(0)).sum(),
                part.subpartitions.iter().map(|s| s.bytes).sum(),
            )
        };
        let mut bounds = bounds_text(&part.bound, t.key.kind);
        if part.detach_pending {
            bounds.push_str(" (detach pending)");
        }
        rows.push(ShowRow {
            depth: 0,
            name: part.name.name.clone(),
            bounds,
            est_rows: est,
            bytes,
            expired: expiring.contains(&part.name),
        });
        for sp in &part.subpartitions {
            rows.push(ShowRow {
                depth: 1,
                name: sp.name.name.clone(),
                bounds: bounds_text(&sp.bound, None),
                est_rows: sp.est_rows,
                bytes: sp.bytes,
                expired: false,
            });
        }
    }
    rows
}

fn bounds_text(b: &PartBound, kind: Option<KeyKind>) -> String {
    match (b, kind) {
        (PartBound::Range { from, to }, Some(k)) => describe(k, *from, *to),
        (PartBound::Default, _) => "DEFAULT".into(),
        (PartBound::Orphan, _) => "(detached, unfinished)".into(),
        (PartBound::List { values }, _) => format!("IN ({})", values.join(", ")),
        (PartBound::Hash { modulus, remainder }, _) => {
            format!("MODULUS {modulus} REMAINDER {remainder}")
        }
        (PartBound::Other { text }, _) => text.clone(),
        (b, _) => format!("{b:?}"),
    }
}

/// Hash skew: the largest partition's share of the estimated rows, and whether it is more than
/// twice the fair share. `None` when there are no estimates.
fn hash_skew(t: &Table) -> Option<(f64, bool)> {
    let rows: Vec<i64> = t
        .partitions
        .iter()
        .filter(|p| matches!(p.bound, PartBound::Hash { .. }))
        .map(|p| {
            if p.subpartitions.is_empty() {
                p.est_rows
            } else {
                p.subpartitions.iter().map(|s| s.est_rows.max(0)).sum()
            }
        })
        .collect();
    let total: i64 = rows.iter().filter(|r| **r > 0).sum();
    if rows.is_empty() || total <= 0 {
        return None;
    }
    let largest = *rows.iter().max()? as f64 / total as f64;
    Some((largest, largest > 2.0 / rows.len() as f64))
}

/// Print the tables in `format`: JSON is one object `{"tables": [...]}`; text and Markdown a
/// block per table.
pub fn print_show(out: &mut dyn Write, format: Format, tables: &[ShowTable]) -> io::Result<()> {
    if format == Format::Json {
        let v: Vec<serde_json::Value> = tables.iter().map(json).collect();
        return writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"tables": v}))?
        );
    }
    for t in tables {
        text(out, format == Format::Markdown, t)?;
    }
    Ok(())
}

fn json(st: &ShowTable) -> serde_json::Value {
    let (t, rows) = (st.table, &st.rows);
    serde_json::json!({
        "table": t.name.to_string(),
        "strategy": t.strategy,
        "key": t.key.name,
        "key_type": t.key.sql_type,
        "skew": st.skew.map(|(share, flagged)| serde_json::json!({"largest_share": share, "flagged": flagged})),
        "partitions": rows.iter().filter(|r| r.depth == 0).map(|r| serde_json::json!({
            "name": r.name, "bounds": r.bounds, "estimated_rows": r.est_rows, "bytes": r.bytes, "expired": r.expired,
        })).collect::<Vec<_>>(),
        "subpartitions": rows.iter().filter(|r| r.depth == 1).map(|r| serde_json::json!({
            "name": r.name, "bounds": r.bounds, "estimated_rows": r.est_rows, "bytes": r.bytes,
        })).collect::<Vec<_>>(),
    })
}

/// One table as text (an aligned table under a title line) or Markdown (a heading and a table).
fn text(out: &mut dyn Write, md_mode: bool, st: &ShowTable) -> io::Result<()> {
    let (t, rows) = (st.table, &st.rows);
    let top = rows.iter().filter(|r| r.depth == 0).count();
    if md_mode {
        writeln!(
            out,
            "### {} ({} on `{}`, {})\n",
            md(&t.name.to_string()),
            t.strategy.as_str(),
            md(&t.key.name),
            t.key.sql_type
        )?;
        writeln!(
            out,
            "| partition | bounds | est. rows | size | expired |\n|---|---|---:|---:|---|"
        )?;
    } else {
        writeln!(
            out,
            "{} ({} on {}, {}): {} partition{}",
            t.name,
            t.strategy.as_str(),
            t.key.name,
            t.key.sql_type,
            top,
            plural(top)
        )?;
    }
    let label = |r: &ShowRow| {
        if r.depth == 0 {
            r.name.clone()
        } else {
            format!("└ {}", r.name)
        }
    };
    let w = width(rows.iter().map(label));
    let wb = width(rows.iter().map(|r| &r.bounds));
    for r in rows {
        // The server has no estimate until the partition is analysed.
        let est = if r.est_rows < 0 {
            "not analysed".to_string()
        } else {
            r.est_rows.to_string()
        };
        let est_text = if r.est_rows < 0 {
            est.clone()
        } else {
            format!("{est} rows")
        };
        let name = label(r);
        if md_mode {
            writeln!(
                out,
                "| `{}` | {} | {est} | {} | {} |",
                md(&name),
                md(&r.bounds),
                human(r.bytes),
                if r.expired { "yes" } else { "" }
            )?;
        } else {
            writeln!(
                out,
                "  {name:<w$}  {:<wb$}  {est_text:>15}  {:>9}{}",
                r.bounds,
                human(r.bytes),
                if r.expired { "  expired" } else { "" }
            )?;
        }
    }
    let gap = if md_mode { "\n" } else { "  " };
    match st.skew {
        Some((share, flagged)) => writeln!(
            out,
            "{gap}skew: the largest partition holds {:.0}% of the estimated rows{}",
            share * 100.0,
            if flagged {
                " (more than twice its fair share: check the key's distribution)"
            } else {
                ""
            }
        )?,
        None if t.strategy == Strategy::Hash => writeln!(
            out,
            "{gap}skew: unknown (no row estimates yet; run ANALYZE)"
        )?,
        None => {}
    }
    writeln!(out)
}
