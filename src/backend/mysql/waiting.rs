//! `auto_lists`: the values waiting in the DEFAULT partitions of list tables, one statement
//! for every table that asks (run only when some policy has `auto_lists`; see
//! [`crate::backend::waiting`]).

use crate::backend::waiting;
use crate::catalog::{CatalogError, StatsNeeded, Table};
use crate::names::TableRef;
use crate::render::Templates;
use mysql::prelude::Queryable;

/// Fill `stats.waiting` of every table whose policy has `auto_lists` and that has a DEFAULT
/// partition.
pub fn read_waiting(
    conn: &mut mysql::Conn,
    templates: fn() -> &'static Templates,
    tables: &mut [Table],
    wanted: &[(TableRef, StatsNeeded)],
) -> Result<(), CatalogError> {
    let Some(sql) = waiting::statement(templates, tables, wanted)? else {
        return Ok(());
    };
    let rows: Vec<(i64, Option<String>, i64)> = conn.query(sql).map_err(|e| {
        CatalogError::Query(format!(
            "reading the values waiting in DEFAULT partitions (auto_lists): {}",
            super::error_text(&e)
        ))
    })?;
    for (ord, value, n) in rows {
        waiting::record(tables, ord, value.unwrap_or_default(), n)?;
    }
    Ok(())
}
