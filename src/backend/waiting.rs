//! `auto_lists`, both engines: which tables' catch-alls to ask for their waiting values (the
//! context of each dialect's `waiting_values.sql.tera`: one statement for every table that
//! asks), and the rows of its answer recorded on the tables. Each backend runs the statement.

use crate::catalog::{waiting_limit, CatalogError, StatsNeeded, Table, WaitingValue};
use crate::names::TableRef;
use crate::render::{NameCtx, Templates};

/// The statement asking every table whose policy has `auto_lists` and that has a catch-all;
/// `None` when none does. Each entry: `ord` (the table's place), `table`, `default` (the
/// catch-all partition, qualified), `key`, `min_rows`, `limit`. `templates` is called only
/// when some table asks (compiling a dialect's templates costs more than a no-op read).
pub fn statement<'t>(
    templates: impl FnOnce() -> &'t Templates,
    tables: &[Table],
    wanted: &[(TableRef, StatsNeeded)],
) -> Result<Option<String>, CatalogError> {
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
                "default": NameCtx::from(&t.default_partition()?.name),
                "key": t.key.name,
                "min_rows": min_rows,
                "limit": limit,
            }))
        })
        .collect();
    if entries.is_empty() {
        return Ok(None);
    }
    let mut ctx = tera::Context::new();
    ctx.insert("tables", &entries);
    templates()
        .text("waiting_values.sql.tera", &ctx)
        .map(Some)
        .map_err(|e| CatalogError::Query(e.to_string()))
}

/// Record one row of the answer, (ord, value, rows), on its table.
pub fn record(
    tables: &mut [Table],
    ord: i64,
    value: String,
    rows: i64,
) -> Result<(), CatalogError> {
    let table = usize::try_from(ord)
        .ok()
        .and_then(|i| tables.get_mut(i))
        .ok_or_else(|| CatalogError::Query("unexpected waiting-values row".into()))?;
    table.stats.waiting.push(WaitingValue {
        value,
        rows: u64::try_from(rows).unwrap_or(0),
    });
    Ok(())
}
