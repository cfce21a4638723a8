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
    /// List tables with `auto_lists`: the values waiting in the catch-all with at least
    /// `min_rows` rows, most rows first, as many as [`waiting_limit`] allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<WaitingValue>,
    /// PostgreSQL: the foreign keys that reference the table (its own, not those of its
    /// partitions), with the oldest referencing keys (see [`ForeignKeyRef`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<ForeignKeyRef>,
}

/// A value of a list key waiting in the catch-all, and its rows (counted exactly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingValue {
    /// The value as the server prints it.
    pub value: String,
    pub rows: u64,
}

/// A foreign key referencing a partitioned table: the constraint, the table that holds it
/// (a partitioned table, a plain table, or a partition detached earlier, which keeps its own
/// copy of the constraint), and that table's column holding the referenced partition key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKeyRef {
    pub constraint: String,
    pub table: QualifiedName,
    pub column: String,
    /// The smallest referencing key values (as coordinates of the referenced table's key),
    /// with the leaf table holding the rows and their count, read up to [`FK_SAMPLE_ROWS`]
    /// rows in key order.
    pub oldest: Vec<ReferencingRows>,
    /// More referencing rows exist beyond `oldest` (their keys are >= the last one's).
    pub truncated: bool,
}

/// Referencing rows with one key value in one leaf table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencingRows {
    pub key: i64,
    pub leaf: QualifiedName,
    pub rows: u64,
}

/// How many referencing rows, oldest first, the reader looks at for each foreign key.
pub const FK_SAMPLE_ROWS: u64 = 10_000;

/// The facts to read about a table beyond its partitions, decided by the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsNeeded {
    pub max_key: bool,
    pub catch_all_range: bool,
    /// `auto_lists` (min_rows, max_partitions): the values waiting in the catch-all.
    pub auto_lists: Option<(u64, u32)>,
}

/// `auto_lists`: how many waiting values to read from `table`'s catch-all: the partitions the
/// cap still allows, and [`WAITING_SLACK`] more (values still waiting at the cap are seen, and
/// refused values do not use up the room), or `None` when the table has no catch-all.
pub fn waiting_limit(table: &Table, max_partitions: u32) -> Option<u32> {
    table.default_partition()?;
    let lists = table
        .partitions
        .iter()
        .filter(|p| matches!(p.bound, PartBound::List { .. }))
        .count();
    let room = (max_partitions as usize).saturating_sub(lists);
    Some(
        u32::try_from(room)
            .unwrap_or(u32::MAX)
            .saturating_add(WAITING_SLACK),
    )
}

/// Values read past the room the cap leaves (see [`waiting_limit`]).
pub const WAITING_SLACK: u32 = 16;

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

/// The table each policy names, as [`TableRead`], moved out of `catalog` (a table two
/// policies name is copied for the first): copying 18,600 partitions and freeing the catalog's
/// would take longer than planning them.
pub fn found_all(policies: &[&crate::policy::Policy], catalog: Catalog) -> Vec<TableRead> {
    let at: Vec<Option<usize>> = policies
        .iter()
        .map(|p| catalog.tables.iter().position(|t| p.table.matches(&t.name)))
        .collect();
    let mut uses = vec![0usize; catalog.tables.len()];
    at.iter().flatten().for_each(|&i| uses[i] += 1);
    let mut tables: Vec<Option<Table>> = catalog.tables.into_iter().map(Some).collect();
    policies
        .iter()
        .zip(at)
        .map(|(p, i)| {
            match i.and_then(|i| {
                uses[i] -= 1;
                match uses[i] {
                    0 => tables[i].take(),
                    _ => tables[i].clone(),
                }
            }) {
                Some(t) => TableRead::Found(Box::new(t)),
                None => not_found(p),
            }
        })
        .collect()
}

fn not_found(policy: &crate::policy::Policy) -> TableRead {
    TableRead::Refused(format!(
        "the table named at {} is not in the database (or is not partitioned)",
        policy.key_origins.name
    ))
}

/// The table a policy names, as [`TableRead`].
pub fn found(policy: &crate::policy::Policy, catalog: &Catalog) -> TableRead {
    match catalog
        .tables
        .iter()
        .find(|t| policy.table.matches(&t.name))
    {
        Some(t) => TableRead::Found(Box::new(t.clone())),
        None => not_found(policy),
    }
}
