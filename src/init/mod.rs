//! `init`: policies for the partitioned tables a database already has, inferred from what the
//! catalog says (and from pg_partman's `part_config` when it is installed), so that adopting
//! partctl starts from a plan with nothing to do.
//!
//! Reading goes through [`Backend`]; everything else is pure: [`draft`] turns one [`Table`]
//! (and its pg_partman row) into a `[[table]]` block. What the catalog cannot tell (how long
//! partitions are kept, the time zone of a naive key, a name pattern nobody follows) is written
//! as a commented line with the reason, never guessed; a table whose required keys cannot be
//! inferred is written commented out whole, headed by why.

mod infer;
mod toml_out;

#[cfg(test)]
mod tests;

pub use infer::{draft, partman_span, Draft};

use crate::backend::{Backend, DbError, PartmanConfig};
use crate::catalog::{CatalogError, Engine};
use crate::names::TableRef;
use chrono::{DateTime, Utc};

/// Why `init` could not run at all (a table it cannot describe is a commented block instead).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("--table {0}: the database has no partitioned table of that name")]
    NoSuchTable(String),
    #[error("the database has no partitioned table")]
    Empty,
}

/// The policies of one schema (PostgreSQL) or database (MySQL/MariaDB): a policy file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    pub schema: String,
    pub text: String,
}

/// Read the database's partitioned tables (those `only` names, when given: `schema.table` or
/// `table`) and write a policy for each, grouped by schema, in name order.
pub fn generate(
    backend: &mut dyn Backend,
    only: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<SchemaFile>, InitError> {
    let all = backend.partitioned_tables()?;
    let mut tables: Vec<TableRef> = Vec::new();
    for name in only {
        let found: Vec<&TableRef> = all
            .iter()
            .filter(|t| t.to_string() == *name || t.name == *name)
            .collect();
        if found.is_empty() {
            return Err(InitError::NoSuchTable(name.clone()));
        }
        for t in found {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
    }
    if only.is_empty() {
        tables = all;
    }
    if tables.is_empty() {
        return Err(InitError::Empty);
    }
    let partman = backend.partman_config()?;
    let engine = backend.engine();
    let mut files: Vec<SchemaFile> = Vec::new();
    for t in &tables {
        let block = match backend.read_named(std::slice::from_ref(t)) {
            Ok(cat) => match cat.tables.first() {
                Some(table) => {
                    let pm = partman_row(&partman, &table.name.to_string());
                    toml_out::block(&draft(table, engine, pm, now))
                }
                None => toml_out::unreadable(&t.to_string(), "not found when read"),
            },
            Err(e) => toml_out::unreadable(&t.to_string(), &e.to_string()),
        };
        let schema = t.schema.clone().unwrap_or_default();
        match files.iter_mut().find(|f| f.schema == schema) {
            Some(f) => {
                f.text.push('\n');
                f.text.push_str(&block);
            }
            None => files.push(SchemaFile {
                text: toml_out::header(&schema, engine, now, !partman.is_empty()) + &block,
                schema,
            }),
        }
    }
    Ok(files)
}

/// pg_partman's row for a table (`parent_table` is `schema.table`).
fn partman_row<'a>(rows: &'a [PartmanConfig], table: &str) -> Option<&'a PartmanConfig> {
    rows.iter().find(|r| r.parent_table == table)
}

/// For messages: the engine's word for a schema.
pub fn schema_word(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "schema",
        Engine::Mysql | Engine::Mariadb => "database",
    }
}
