//! The plain table as `convert` reads it (one JSON document from the engine's
//! `convert_source` template), and the pure judgement of whether and how it can become the
//! partitioned table its policy describes: the row key the copy orders by and the triggers match
//! on, the key the partitioned table's unique indexes need, the indexes to create, and every
//! reason to refuse, all at once.

use crate::key::KeyKind;
use crate::policy::{Policy, Strategy, MAX_IDENT_BYTES};
use crate::render::Dialect;
use serde::{Deserialize, Serialize};

/// What the server says about the table.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// The server's product, for messages (the PostgreSQL template leaves it out).
    #[serde(default = "postgres_product")]
    pub product: String,
    pub schema: String,
    pub name: String,
    /// `r` a plain table, `p` a partitioned one.
    pub relkind: String,
    /// The server's estimate (-1 when never analyzed).
    pub est_rows: i64,
    pub bytes: i64,
    pub inheritance: bool,
    pub columns: Vec<Column>,
    pub unique_keys: Vec<UniqueKey>,
    pub indexes: Vec<Index>,
    pub exclusion_constraints: Vec<String>,
    pub views: Vec<String>,
    pub foreign_keys: Vec<String>,
    pub sequences: Vec<Sequence>,
    pub grants: Vec<Grant>,
    pub triggers: Vec<String>,
    pub row_security: bool,
    pub persistence: String,
}

fn postgres_product() -> String {
    "PostgreSQL".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub sql_type: String,
    pub not_null: bool,
    pub generated: bool,
    pub identity: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UniqueKey {
    pub name: String,
    pub primary: bool,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    pub method: String,
    /// Each key column or expression, as the server deparses it.
    pub keys: Vec<String>,
    pub include: Vec<String>,
    /// The plain columns among the keys.
    pub columns: Vec<String>,
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub column: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Grant {
    /// `None`: PUBLIC.
    pub grantee: Option<String>,
    pub privilege: String,
    pub grantable: bool,
}

impl Source {
    pub fn is_partitioned(&self) -> bool {
        self.relkind == "p"
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// How the table is converted: decided once from the source and the policy.
#[derive(Debug, Clone)]
pub struct Design {
    /// The unique key over NOT NULL columns that identifies a row (the primary key when there
    /// is one): the copy's order, the triggers' match.
    pub row_key: Vec<String>,
    /// The SQL type of each row key column (to cast a saved key back).
    pub row_key_types: Vec<String>,
    /// `row_key` is the primary key (else a unique index).
    pub primary: bool,
    /// The name of the row key's index (`PRIMARY` on MySQL for the primary key).
    pub row_key_index: String,
    /// The partitioned table's key: the row key, plus the partition key when it is not in it
    /// (PostgreSQL requires every unique index of a partitioned table to hold the partition key).
    pub new_key: Vec<String>,
    pub key_type: String,
    pub key_kind: Option<KeyKind>,
    /// The columns a copy writes (generated columns are computed again).
    pub columns: Vec<String>,
    /// The other indexes, unique ones extended by the partition key.
    pub indexes: Vec<Index>,
    /// What the operator should know (a key extended, an index widened).
    pub notes: Vec<String>,
}

/// Every reason the table cannot be converted, or how it will be.
pub fn design(
    policy: &Policy,
    source: &Source,
    dialect: &dyn Dialect,
) -> Result<Design, Vec<String>> {
    let mut refusals = Vec::new();
    let table = format!("{}.{}", source.schema, source.name);
    if source.is_partitioned() {
        refusals.push(format!("{table} is partitioned already"));
    } else if source.relkind != "r" {
        refusals.push(format!(
            "{table} is not a plain table (relkind {})",
            source.relkind
        ));
    }
    if source.persistence == "t" {
        refusals.push(format!("{table} is a temporary table"));
    }
    if source.inheritance {
        refusals.push(format!(
            "{table} takes part in table inheritance (it has a parent or children)"
        ));
    }
    let key = policy.column.as_str();
    let key_column = source.column(key);
    let (key_type, key_kind) = match key_column {
        None => {
            refusals.push(format!(
                "the policy's partition key `{key}` (at {}) is not a column of {table}",
                policy.key_origins.column
            ));
            (String::new(), None)
        }
        Some(c) => {
            let kind = dialect.key_kind(&c.sql_type);
            if policy.strategy == Strategy::Range && kind.is_none() {
                refusals.push(format!(
                    "range key `{key}` is of type {}, which partctl cannot lay out; use an integer, date or timestamp key",
                    c.sql_type
                ));
            }
            if !c.not_null {
                refusals.push(format!(
                    "the partition key `{key}` may be NULL; make it NOT NULL first (ALTER TABLE ... ALTER COLUMN ... SET NOT NULL): it becomes part of the partitioned table's primary key"
                ));
            }
            if c.generated {
                refusals.push(format!("the partition key `{key}` is a generated column"));
            }
            (c.sql_type.clone(), kind)
        }
    };
    if let Some(sub) = &policy.subpartition {
        if source.column(&sub.column).is_none() {
            refusals.push(format!(
                "the policy's subpartition key `{}` is not a column of {table}",
                sub.column
            ));
        }
    }
    let not_null = |cols: &[String]| {
        cols.iter()
            .all(|c| source.column(c).is_some_and(|c| c.not_null))
    };
    let row_key = source
        .unique_keys
        .iter()
        .find(|k| !k.columns.is_empty() && not_null(&k.columns));
    if row_key.is_none() {
        refusals.push(format!(
            "{table} has no primary key and no unique index over NOT NULL columns: convert copies rows in key order and its triggers find a row by that key"
        ));
    }
    let identity: Vec<&str> = source
        .columns
        .iter()
        .filter(|c| c.identity)
        .map(|c| c.name.as_str())
        .collect();
    if !identity.is_empty() {
        refusals.push(format!(
            "identity column{} {} (the partitioned table would get its own sequence; use a serial/sequence default, whose sequence convert moves)",
            if identity.len() == 1 { "" } else { "s" },
            identity.join(", ")
        ));
    }
    if !source.exclusion_constraints.is_empty() {
        refusals.push(format!(
            "exclusion constraints cannot be carried over: {}",
            source.exclusion_constraints.join(", ")
        ));
    }
    if !source.views.is_empty() {
        refusals.push(format!(
            "views depend on {table} and would keep reading the original after the swap: {} (drop them, convert, create them again)",
            source.views.join(", ")
        ));
    }
    if !source.foreign_keys.is_empty() {
        refusals.push(if source.product == "PostgreSQL" {
            format!(
                "foreign keys involve {table} and would stay with the original: {} (drop them, convert, add them to the partitioned table)",
                source.foreign_keys.join("; ")
            )
        } else {
            format!(
                "foreign keys involve {table}, and {} cannot have foreign keys on or to a partitioned table: {} (drop them to convert)",
                source.product,
                source.foreign_keys.join("; ")
            )
        });
    }
    if !source.triggers.is_empty() {
        refusals.push(format!(
            "triggers on {table} would not fire on the partitioned table: {} (drop them, convert, create them again)",
            source.triggers.join(", ")
        ));
    }
    if source.row_security {
        refusals.push(format!(
            "{table} has row-level security; its policies are not carried over"
        ));
    }
    for suffix in [
        STAGING_SUFFIX,
        UNPARTITIONED_SUFFIX,
        FORWARD_SUFFIX,
        REVERSE_SUFFIX,
    ] {
        let name = format!("{}{suffix}", source.name);
        if name.len() > MAX_IDENT_BYTES {
            refusals.push(format!(
                "`{name}` (a name convert needs) would exceed {MAX_IDENT_BYTES} bytes"
            ));
        }
    }
    let Some(row_key) = row_key.filter(|_| refusals.is_empty()) else {
        return Err(refusals);
    };
    let mut notes = Vec::new();
    let mut new_key = row_key.columns.clone();
    if !new_key.iter().any(|c| c == key) {
        new_key.push(key.to_string());
        notes.push(format!(
            "the {} ({}) becomes ({}) on the partitioned table: {} requires the partition key in every unique index of a partitioned table, so uniqueness is then per ({})",
            if row_key.primary { "primary key".to_string() } else { format!("unique key {}", row_key.name) },
            row_key.columns.join(", "),
            new_key.join(", "),
            source.product,
            new_key.join(", ")
        ));
    }
    let mut indexes = Vec::new();
    for ix in &source.indexes {
        if !row_key.primary && ix.name == row_key.name {
            continue;
        }
        let mut ix = ix.clone();
        if ix.unique && !ix.columns.iter().any(|c| c == key) {
            let quoted = dialect.quote_ident(key).map_err(|e| vec![e.0])?;
            ix.keys.push(quoted);
            notes.push(format!(
                "unique index {} is extended by the partition key `{key}` on the partitioned table ({} requires it)",
                ix.name, source.product
            ));
        }
        indexes.push(ix);
    }
    let row_key_types = row_key
        .columns
        .iter()
        .map(|c| {
            source
                .column(c)
                .map(|c| c.sql_type.clone())
                .unwrap_or_default()
        })
        .collect();
    Ok(Design {
        row_key: row_key.columns.clone(),
        row_key_types,
        primary: row_key.primary,
        row_key_index: row_key.name.clone(),
        new_key,
        key_type,
        key_kind,
        columns: source
            .columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| c.name.clone())
            .collect(),
        indexes,
        notes,
    })
}

/// The partitioned table while it is filled: `<name>_partctl_new`.
pub const STAGING_SUFFIX: &str = "_partctl_new";
/// The original after cutover: `<name>_unpartitioned`.
pub const UNPARTITIONED_SUFFIX: &str = "_unpartitioned";
/// The forward trigger's function (plain -> partitioned): `<name>_partctl_forward`.
pub const FORWARD_SUFFIX: &str = "_partctl_forward";
/// The reverse trigger's function (partitioned -> plain): `<name>_partctl_reverse`.
pub const REVERSE_SUFFIX: &str = "_partctl_reverse";
