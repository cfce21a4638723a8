//! What the database has: the engine-neutral model the planner reads, and one reader per engine.
//!
//! A [`Catalog`] is plain data (serde), so `snapshot` can write it and `plan --catalog` can plan
//! offline against it.

mod key_expr;

pub use key_expr::{BoundError, KeyExpr};

use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::policy::Strategy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mariadb,
    Mysql,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mariadb => "mariadb",
            Engine::Mysql => "mysql",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    pub format_version: u32,
    pub engine: Engine,
    pub server_version: String,
    pub tables: Vec<Table>,
}

impl Catalog {
    pub fn table(&self, name: &QualifiedName) -> Option<&Table> {
        self.tables.iter().find(|t| &t.name == name)
    }
}

/// A managed partitioned table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: QualifiedName,
    pub strategy: Strategy,
    pub key: KeyColumn,
    /// Columns a row copy must list (generated columns excluded), in table order.
    pub columns: Vec<String>,
    pub partitions: Vec<Partition>,
    /// Facts about the rows, read only when the plan needs them.
    #[serde(default)]
    pub stats: KeyStats,
    /// The table is spread over several servers by the engine (a Citus distributed table,
    /// read from `pg_dist_partition`): its DDL propagates to the nodes holding its shards, its
    /// rows and sizes live there, and some operations differ (no `DETACH ... CONCURRENTLY`).
    /// Only the engine's backend and dialect read it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distributed: bool,
}

impl Table {
    pub fn default_partition(&self) -> Option<&Partition> {
        self.partitions
            .iter()
            .find(|p| p.bound == PartBound::Default)
    }

    /// Attached range partitions as (from, to, partition).
    pub fn ranges(&self) -> impl Iterator<Item = (Bound, Bound, &Partition)> {
        self.partitions.iter().filter_map(|p| match p.bound {
            PartBound::Range { from, to } if !p.detach_pending => Some((from, to, p)),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyColumn {
    pub name: String,
    /// `None` when the key is of a type the planner cannot lay out (e.g. text).
    pub kind: Option<KeyKind>,
    /// The SQL type as the server names it, for messages.
    pub sql_type: String,
    /// How bounds relate to the column when the engine partitions on an expression of it
    /// (MySQL: `to_days`, `unix_timestamp`, `year`, `column`, `columns`). Engine detail: only the
    /// MySQL reader and dialect read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<KeyExpr>,
    /// The coarsest unit bounds can be expressed in (e.g. whole days under TO_DAYS()).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<crate::key::TimeUnit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    pub name: QualifiedName,
    pub bound: PartBound,
    /// Planner estimate (-1 when the server has none).
    pub est_rows: i64,
    pub bytes: i64,
    /// PostgreSQL: `DETACH ... CONCURRENTLY` was interrupted and must be finalized.
    #[serde(default)]
    pub detach_pending: bool,
    #[serde(default)]
    pub subpartitions: Vec<Partition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartBound {
    Range {
        from: Bound,
        to: Bound,
    },
    List {
        values: Vec<String>,
    },
    Hash {
        modulus: u32,
        remainder: u32,
    },
    Default,
    /// No longer attached: partctl detached it to drop or archive it, and was interrupted.
    Orphan,
    /// A bound this version does not interpret, kept verbatim.
    Other {
        text: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyStats {
    /// Largest key in the whole table (integer range keys).
    pub max_key: Option<i64>,
    /// Smallest and largest key in the catch-all partition, when it holds rows.
    pub catch_all_min: Option<i64>,
    pub catch_all_max: Option<i64>,
    /// PostgreSQL: tables a batched move is filling (labelled `partctl: moving rows for
    /// <table>`), not yet attached; a create of the same name resumes the move.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_transit: Vec<String>,
    /// MySQL/MariaDB: the holding table a staged move left (labelled the same way); its rows
    /// belong to the catch-all (`catch_all_min`/`max` include them), and the table's next
    /// create that moves rows picks them up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding: Option<String>,
}

/// The facts to read about a table beyond its partitions, decided by the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsNeeded {
    pub max_key: bool,
    pub catch_all_range: bool,
}

pub const CATALOG_FORMAT_VERSION: u32 = 1;

/// Why a catalog could not be read, in two kinds that monitoring tells apart: the policy does
/// not fit what the database has (`check`: CRITICAL), or the database could not be read
/// (`check`: UNKNOWN).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The whole read failed (a query, the session): nothing was read.
    #[error("reading the catalog: {0}")]
    Query(String),
    /// The table exists as the policy says, but reading it failed (a lock wait that gave up,
    /// a dropped connection).
    #[error("{table}: {message}")]
    Unreadable { table: String, message: String },
    /// The table is not what the policy says: missing, not partitioned, an expression or key
    /// partctl does not lay out, a bound it cannot read.
    #[error("{table}: {message}")]
    DoesNotFit { table: String, message: String },
}

impl CatalogError {
    /// The table the error is about, when it is about one.
    pub fn table(&self) -> Option<&str> {
        match self {
            CatalogError::Query(_) => None,
            CatalogError::Unreadable { table, .. } | CatalogError::DoesNotFit { table, .. } => {
                Some(table)
            }
        }
    }
}

/// What was read of one policy's table.
#[derive(Debug, Clone)]
pub enum TableRead {
    Found(Box<Table>),
    /// The policy does not fit the database (no such table, not partitioned, ...).
    Refused(String),
    /// The table could not be read.
    Unreadable(String),
}

/// The engine and server version of the catalog the tables were read from.
pub type ServerMeta = Option<(Engine, String)>;

/// The table a policy names, as [`TableRead`].
pub fn found(policy: &crate::policy::Policy, catalog: &Catalog) -> TableRead {
    match catalog
        .tables
        .iter()
        .find(|t| policy.table.matches(&t.name))
    {
        Some(t) => TableRead::Found(Box::new(t.clone())),
        None => TableRead::Refused(format!(
            "the table named at {} is not in the database (or is not partitioned)",
            policy.key_origins.name
        )),
    }
}
