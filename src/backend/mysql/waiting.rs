//! `auto_lists`: the values waiting in the DEFAULT partitions of list tables, one statement
//! for every table that asks (run only when some policy has `auto_lists`).

use crate::catalog::{waiting_limit, CatalogError, StatsNeeded, Table, WaitingValue};
use crate::names::TableRef;
use crate::render::{NameCtx, Templates};
use mysql::prelude::Queryable;

/// Fill `stats.waiting` of every table whose policy has `auto_lists` and that has a DEFAULT
/// partition.
pub fn read_waiting(
    conn: &mut mysql::Conn,
    templates: &Templates,
    tables: &mut [Table],
    wanted: &[(TableRef, StatsNeeded)],
) -> Result<(), CatalogError> {
    let entries: Vec<_> = tables
        .iter()
        .zip(wanted)
        .enumerate()
        .filter_map(|(i, (t, (_, needed)))| {
            let (min_rows, max) = needed.auto_lists?;
            let limit = waiting_limit(t, max)?;
            Some(serde_json::json!({
                "ord": i,
                "table": NameCtx::from(&t.name),
                "key": t.key.name,
                "default": t.default_partition()?.name.name,
                "min_rows": min_rows,
                "limit": limit,
            }))
        })
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let mut ctx = tera::Context::new();
    ctx.insert("tables", &entries);
    let sql = templates
        .text("waiting_values.sql.tera", &ctx)
        .map_err(|e| CatalogError::Query(e.to_string()))?;
    let rows: Vec<(i64, Option<String>, i64)> = conn.query(sql).map_err(|e| {
        CatalogError::Query(format!(
            "reading the values waiting in DEFAULT partitions (auto_lists): {}",
            super::error_text(&e)
        ))
    })?;
    for (ord, value, n) in rows {
        let i = usize::try_from(ord)
            .ok()
            .filter(|i| *i < tables.len())
            .ok_or_else(|| CatalogError::Query("unexpected waiting-values row".into()))?;
        tables[i].stats.waiting.push(WaitingValue {
            value: value.unwrap_or_default(),
            rows: u64::try_from(n).unwrap_or(0),
        });
    }
    Ok(())
}
