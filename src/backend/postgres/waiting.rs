//! `auto_lists`: the values waiting in the catch-alls of list tables, one statement for every
//! table that asks (run only when some policy has `auto_lists`; see
//! [`crate::backend::waiting`]).

use super::error_text;
use crate::backend::waiting;
use crate::catalog::{CatalogError, StatsNeeded, Table};
use crate::names::TableRef;
use crate::render::{postgres::POSTGRES, Templates};

/// Fill `stats.waiting` of every table whose policy has `auto_lists` and that has a catch-all.
pub fn read_waiting(
    client: &mut super::client::Client,
    tables: &mut [Table],
    wanted: &[(TableRef, StatsNeeded)],
) -> Result<(), CatalogError> {
    let Some(sql) = waiting::statement(|| Templates::shared(&POSTGRES), tables, wanted)? else {
        return Ok(());
    };
    let rows = client.query_typed(&sql, &[]).map_err(|e| {
        CatalogError::Query(format!(
            "reading the values waiting in catch-alls (auto_lists): {}",
            error_text(&e)
        ))
    })?;
    for row in rows {
        waiting::record(
            tables,
            i64::from(row.get::<_, i32>(0)),
            row.get(1),
            row.get(2),
        )?;
    }
    Ok(())
}
