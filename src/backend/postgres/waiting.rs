//! `auto_lists`: the values waiting in the catch-alls of list tables, one statement for every
//! table that asks (run only when some policy has `auto_lists`).

use super::error_text;
use crate::catalog::{waiting_limit, CatalogError, StatsNeeded, Table, WaitingValue};
use crate::names::TableRef;
use crate::render::{postgres::POSTGRES, NameCtx, Templates};

/// Fill `stats.waiting` of every table whose policy has `auto_lists` and that has a catch-all.
pub fn read_waiting(
    client: &mut postgres::Client,
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
                "key": t.key.name,
                "default": NameCtx::from(&t.default_partition()?.name),
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
    let sql = Templates::shared(&POSTGRES)
        .text("waiting_values.sql.tera", &ctx)
        .map_err(|e| CatalogError::Query(e.to_string()))?;
    let rows = client.query_typed(&sql, &[]).map_err(|e| {
        CatalogError::Query(format!(
            "reading the values waiting in catch-alls (auto_lists): {}",
            error_text(&e)
        ))
    })?;
    for row in rows {
        let i = usize::try_from(row.get::<_, i32>(0))
            .ok()
            .filter(|i| *i < tables.len())
            .ok_or_else(|| CatalogError::Query("unexpected waiting-values row".into()))?;
        tables[i].stats.waiting.push(WaitingValue {
            value: row.get(1),
            rows: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
        });
    }
    Ok(())
}
