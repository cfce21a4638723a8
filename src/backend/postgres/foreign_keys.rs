//! The foreign keys that reference managed tables, and their oldest referencing rows, so that
//! the planner can order retention across tables and refuse what the server would refuse.
//! One small query for the constraints; a second one only when some managed table is
//! referenced.

use super::error_text;
use crate::catalog::{CatalogError, ForeignKeyRef, ReferencingRows, Table, FK_SAMPLE_ROWS};
use crate::names::QualifiedName;
use crate::render::{postgres::POSTGRES, NameCtx, Templates};

/// Fill `stats.referenced_by` of every table some foreign key references.
pub fn read_foreign_keys(
    client: &mut super::client::Client,
    tables: &mut [Table],
) -> Result<(), CatalogError> {
    if tables.is_empty() {
        return Ok(());
    }
    let q = |e: tokio_postgres::Error| {
        CatalogError::Query(format!("reading foreign keys: {}", error_text(&e)))
    };
    let (schemas, names): (Vec<&str>, Vec<&str>) = tables
        .iter()
        .map(|t| (t.name.schema.as_str(), t.name.name.as_str()))
        .unzip();
    let rows = client
        .query(
            include_str!("../../../templates/postgres/foreign_keys.sql"),
            &[&schemas, &names],
        )
        .map_err(q)?;
    // (table index, the foreign key)
    let mut found: Vec<(usize, ForeignKeyRef)> = Vec::new();
    for row in rows {
        let Some(i) = usize::try_from(row.get::<_, i32>(0))
            .ok()
            .filter(|i| *i < tables.len())
        else {
            continue;
        };
        found.push((
            i,
            ForeignKeyRef {
                constraint: row.get(1),
                table: QualifiedName::new(row.get::<_, String>(2), row.get::<_, String>(3)),
                column: row.get(4),
                oldest: vec![],
                truncated: false,
            },
        ));
    }
    if found.is_empty() {
        return Ok(());
    }
    let entries: Vec<_> = found
        .iter()
        .enumerate()
        .map(|(k, (_, f))| {
            serde_json::json!({
                "fk": k,
                "table": NameCtx::from(&f.table),
                "column": f.column,
            })
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("fks", &entries);
    ctx.insert("limit", &FK_SAMPLE_ROWS);
    let sql = Templates::shared(&POSTGRES)
        .text("referencing_rows.sql.tera", &ctx)
        .map_err(|e| CatalogError::Query(e.to_string()))?;
    let rows = client.query_typed(&sql, &[]).map_err(q)?;
    let mut seen = vec![0u64; found.len()];
    for row in rows {
        let Some(k) = usize::try_from(row.get::<_, i32>(0))
            .ok()
            .filter(|k| *k < found.len())
        else {
            continue;
        };
        let (i, fk) = &mut found[k];
        let table = &tables[*i];
        let text: String = row.get(1);
        let key = table
            .key
            .kind
            .and_then(|kind| kind.parse(&text))
            .ok_or_else(|| CatalogError::DoesNotFit {
                table: table.name.to_string(),
                message: format!(
                    "cannot read key value `{text}` of {}.{} (foreign key {})",
                    fk.table, fk.column, fk.constraint
                ),
            })?;
        let n = u64::try_from(row.get::<_, i64>(4)).unwrap_or(0);
        seen[k] += n;
        fk.oldest.push(ReferencingRows {
            key,
            leaf: QualifiedName::new(row.get::<_, String>(2), row.get::<_, String>(3)),
            rows: n,
        });
    }
    for (k, (i, mut fk)) in found.into_iter().enumerate() {
        fk.truncated = seen[k] >= FK_SAMPLE_ROWS;
        fk.oldest
            .sort_by(|a, b| (a.key, &a.leaf).cmp(&(b.key, &b.leaf)));
        tables[i].stats.referenced_by.push(fk);
    }
    Ok(())
}
