//! The planner: a pure function of (policies, catalog, now) to actions. No I/O, no clock, no
//! engine: it knows key coordinates and bounds, never SQL.
//!
//! This module holds the actions ([`Action`], [`ActionKind`]), the errors ([`PlanError`],
//! [`FitError`]) and the entry points ([`plan`], [`plan_table`], [`resolve`], [`expiring`]). The
//! work is done per strategy:
//!
//! - [`layout`]: where a range table stands at `now` (current period, horizon, cutoff), shared
//!   with `check` and the verify probe;
//! - `range`: coverage, gaps, creates and expiry of range tables;
//! - `list`, `hash`: list and hash tables;
//! - `simulate`: the catalog after a plan ran.

pub mod auto_lists;
mod coarsen;
pub mod foreign_keys;
mod hash;
pub mod layout;
mod list;
mod range;
mod simulate;

use crate::catalog::{Catalog, Table};
use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::policy::{ListValue, Origin, Policy, Strategy};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use coarsen::coarse_template;
pub use layout::{Layout, LayoutError};
pub use simulate::simulate;

// What the tests (`use super::*`) also read.
#[cfg(test)]
use {crate::catalog::PartBound, crate::key::Axis, crate::policy::Start, std::fmt};

/// What to do to one table. Rendering turns an action into a step with SQL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub table: QualifiedName,
    pub kind: ActionKind,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ActionKind {
    /// A new range partition `[from, to)`. `move_rows`: the catch-all may hold rows in range.
    Create {
        partition: QualifiedName,
        from: Bound,
        to: Bound,
        move_rows: bool,
    },
    /// A new catch-all partition.
    CreateDefault { partition: QualifiedName },
    /// Expired partitions. `has_default`: the table has a catch-all when this runs.
    Detach {
        partition: QualifiedName,
        has_default: bool,
    },
    Drop {
        partition: QualifiedName,
        has_default: bool,
    },
    Archive {
        partition: QualifiedName,
        schema: String,
        has_default: bool,
    },
    /// Finish an interrupted `DETACH ... CONCURRENTLY`, then drop or archive if it expired.
    Finalize {
        partition: QualifiedName,
        then: Option<Then>,
    },
    /// Finish a drop or archive that a crash interrupted after the detach.
    Cleanup {
        partition: QualifiedName,
        then: Then,
    },
    /// A new list partition. `move_rows`: the table has a catch-all that may hold its rows.
    CreateList {
        partition: QualifiedName,
        suffix: String,
        values: Vec<ListValue>,
        move_rows: bool,
    },
    /// A new hash partition (the table had none for this remainder).
    CreateHash {
        partition: QualifiedName,
        modulus: u32,
        remainder: u32,
    },
    /// Hash growth: every partition of a smaller modulus is replaced by the partitions of the
    /// new modulus that cover its remainder class (PostgreSQL: one transaction per old partition;
    /// MySQL: `ADD PARTITION PARTITIONS k`).
    GrowHash {
        partition: QualifiedName,
        from: u32,
        to: u32,
        splits: Vec<HashSplit>,
    },
    /// Fewer hash partitions (MySQL `COALESCE PARTITION`; PostgreSQL refuses).
    ShrinkHash {
        partition: QualifiedName,
        from: u32,
        to: u32,
    },
    /// Rows a stopped batched move left in the labelled table `partition` (not a partition)
    /// go back into the table, and the labelled table is dropped.
    ReturnRows { partition: QualifiedName },
    /// `coarsen`: the contiguous range partitions `parts` are replaced by the one partition
    /// `partition` covering `[from, to)`, their rows copied and checked (see `coarsen.rs`).
    Coarsen {
        partition: QualifiedName,
        from: Bound,
        to: Bound,
        parts: Vec<CoarsePart>,
    },
}

/// One partition a [`ActionKind::Coarsen`] merges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoarsePart {
    pub partition: QualifiedName,
    pub from: Bound,
    pub to: Bound,
}

/// One hash partition to replace by `new` (name, remainder) under modulus `modulus`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HashSplit {
    pub old: QualifiedName,
    pub old_modulus: u32,
    pub old_remainder: u32,
    pub modulus: u32,
    pub new: Vec<(QualifiedName, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Then {
    Drop,
    Archive { schema: String },
}

impl ActionKind {
    pub fn verb(&self) -> &'static str {
        match self {
            ActionKind::Create { .. } | ActionKind::CreateDefault { .. } => "create",
            ActionKind::Detach { .. } => "detach",
            ActionKind::Drop { .. } => "drop",
            ActionKind::Archive { .. } => "archive",
            ActionKind::Finalize { .. } => "finalize",
            ActionKind::Cleanup {
                then: Then::Drop, ..
            } => "drop",
            ActionKind::Cleanup { .. } => "archive",
            ActionKind::CreateList { .. } | ActionKind::CreateHash { .. } => "create",
            ActionKind::GrowHash { .. } => "grow",
            ActionKind::ShrinkHash { .. } => "shrink",
            ActionKind::ReturnRows { .. } => "move_rows",
            ActionKind::Coarsen { .. } => "coarsen",
        }
    }

    /// Retention at work: the action detaches, drops or archives an expired partition.
    pub fn is_expiry(&self) -> bool {
        matches!(
            self,
            ActionKind::Detach { .. } | ActionKind::Drop { .. } | ActionKind::Archive { .. }
        )
    }

    /// The partitions this action detaches, drops, archives or replaces because of their
    /// bounds (what a wrong bound would make it remove), or finishes detaching: see
    /// `Backend::confirm_bounds`.
    pub fn removes(&self) -> Vec<&QualifiedName> {
        match self {
            ActionKind::Detach { partition, .. }
            | ActionKind::Drop { partition, .. }
            | ActionKind::Archive { partition, .. }
            | ActionKind::ShrinkHash { partition, .. }
            | ActionKind::Finalize { partition, .. } => vec![partition],
            ActionKind::GrowHash { splits, .. } => splits.iter().map(|s| &s.old).collect(),
            ActionKind::Coarsen { parts, .. } => parts.iter().map(|p| &p.partition).collect(),
            _ => vec![],
        }
    }

    /// A range create that may take rows from a catch-all (it picks up the rows a stopped run
    /// left in the table's holding table).
    pub fn stages(&self) -> bool {
        matches!(
            self,
            ActionKind::Create {
                move_rows: true,
                ..
            }
        )
    }

    /// The action finishes a detach an earlier run left unfinished.
    pub fn is_interrupted_detach(&self) -> bool {
        matches!(
            self,
            ActionKind::Finalize { .. } | ActionKind::Cleanup { .. }
        )
    }

    pub fn partition(&self) -> &QualifiedName {
        match self {
            ActionKind::Create { partition, .. }
            | ActionKind::CreateDefault { partition }
            | ActionKind::Detach { partition, .. }
            | ActionKind::Drop { partition, .. }
            | ActionKind::Archive { partition, .. }
            | ActionKind::Finalize { partition, .. }
            | ActionKind::Cleanup { partition, .. }
            | ActionKind::CreateList { partition, .. }
            | ActionKind::CreateHash { partition, .. }
            | ActionKind::GrowHash { partition, .. }
            | ActionKind::ShrinkHash { partition, .. }
            | ActionKind::ReturnRows { partition }
            | ActionKind::Coarsen { partition, .. } => partition,
        }
    }
}

/// A policy that cannot be planned against the live table: the policy does not fit the table
/// (strategy or column mismatch, a key or interval it cannot lay out, a name collision, a list
/// or hash change partctl refuses, a table missing from the catalog, a plan the server would
/// refuse). This is a judgement on the policy, not a failure to read the database: `check`
/// reports it as CRITICAL, while read failures are UNKNOWN.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{table}: {message}")]
pub struct PlanError {
    pub table: String,
    pub message: String,
}

impl PlanError {
    /// The error for `table`, with the reason's text as the message.
    pub fn new(table: impl Into<String>, reason: &FitError) -> PlanError {
        PlanError {
            table: table.into(),
            message: reason.to_string(),
        }
    }
}

/// Why a policy does not fit its table (the typed reason behind a [`PlanError`]'s message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("the table named at {origin} is not in the database (or is not partitioned)")]
    MissingTable { origin: Origin },
    #[error("the policy at {origin} says partition_by = \"{}\" on column `{column}`, but the table is partitioned by {} on `{key}`", .strategy.as_str(), .table_strategy.as_str())]
    StrategyMismatch {
        origin: Origin,
        strategy: Strategy,
        column: String,
        table_strategy: Strategy,
        key: String,
    },
    /// The range layout: key kind, interval, granularity, representable periods.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("`start` does not exist in the policy's time zone")]
    StartInDstGap,
    #[error("cannot fill a gap that starts at MINVALUE")]
    GapFromMinvalue,
    /// The name template failed to render a name.
    #[error("{0}")]
    Template(String),
    #[error("the partition for {range} would be named `{name}`, which is already taken; set a name_template that makes names unique")]
    RangeNameTaken { range: String, name: String },
    #[error("the catch-all partition would be named `{name}`, which is already taken")]
    DefaultNameTaken { name: String },
    #[error(
        "the catch-all partition name `{name}` would exceed {} bytes",
        crate::policy::MAX_IDENT_BYTES
    )]
    DefaultNameTooLong { name: String },
    #[error(
        "the partition name `{name}` would exceed {} bytes",
        crate::policy::MAX_IDENT_BYTES
    )]
    NameTooLong { name: String },
    #[error("partition {partition} holds ({}) but the policy's `{suffix}` lists ({}); partctl does not change a list partition in place. Give the new value set a new suffix and move the old partition's values out by hand, or make the policy match the table", .have.join(", "), .want.join(", "))]
    ListChanged {
        partition: QualifiedName,
        have: Vec<String>,
        suffix: String,
        want: Vec<String>,
    },
    #[error("the partition for `{suffix}` would be named `{name}`, which is already taken")]
    ListNameTaken { suffix: String, name: String },
    #[error("the plan would create more than {} partitions; check `start`, `interval` and the keys in the table", MAX_CREATES)]
    TooManyCreates,
    #[error("partition {partition} has hash bound modulus {modulus}, remainder {remainder}, which is not a hash bound (the remainder must be below a positive modulus)")]
    BadHashBound {
        partition: QualifiedName,
        modulus: u32,
        remainder: u32,
    },
    #[error("hash tables need a modulus from 1 to {}", crate::policy::MAX_MODULUS)]
    NoModulus,
    #[error("partition {partition} has modulus {modulus}, which does not divide the policy's modulus {target}; hash growth must go to a multiple")]
    ModulusNotDivisor {
        partition: QualifiedName,
        modulus: u32,
        target: u32,
    },
}

/// The most partitions one plan may create for one range table. Past it the policy (a `start`
/// far back, a tiny interval, keys far apart) is refused rather than planned for hours.
pub const MAX_CREATES: usize = 100_000;

/// Find the catalog table a policy names.
pub fn resolve<'c>(policy: &Policy, catalog: &'c Catalog) -> Option<&'c Table> {
    catalog
        .tables
        .iter()
        .find(|t| policy.table.matches(&t.name))
}

/// Plan every policy. Policies whose table is missing from the catalog are errors.
pub fn plan(
    policies: &[&Policy],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, PlanError> {
    let mut out = Vec::new();
    for p in policies {
        let table = resolve(p, catalog).ok_or_else(|| {
            PlanError::new(
                p.table.to_string(),
                &FitError::MissingTable {
                    origin: p.key_origins.name.clone(),
                },
            )
        })?;
        out.extend(plan_table(p, table, now)?);
    }
    Ok(out)
}

/// The table is partitioned the way the policy says (strategy and column), or the error that
/// names both and points at the key that is wrong.
pub fn check_fit(policy: &Policy, table: &Table) -> Result<(), PlanError> {
    let err = |reason: FitError| PlanError::new(table.name.to_string(), &reason);
    if policy.strategy != table.strategy || policy.column != table.key.name {
        // Point at the key that is wrong.
        let at = if policy.strategy != table.strategy {
            &policy.key_origins.partition_by
        } else {
            &policy.key_origins.column
        };
        return Err(err(FitError::StrategyMismatch {
            origin: at.clone(),
            strategy: policy.strategy,
            column: policy.column.clone(),
            table_strategy: table.strategy,
            key: table.key.name.clone(),
        }));
    }
    Ok(())
}

/// Whether the keys in `table`'s catch-all can change its plan at `now`, when the catch-all
/// holds no key below `floor` (a MAXVALUE partition holds only keys at or above the last range
/// partition's upper bound). The catch-all's smallest and largest key decide what coverage
/// reaches down to, which expired rows get a partition and which creates move rows; none of it
/// matters to a plan without creates. So the table is planned as if the catch-all held a row at
/// `floor`, the most that a catch-all starting there can ask for: when that plans nothing, so
/// do its real keys, and the plan without them is the same (`prop_catch_all_keys_skipped_only_when_they_change_nothing`).
/// `table.stats`' catch-all keys are left as they were.
pub fn catch_all_keys_matter(
    policy: &Policy,
    table: &mut Table,
    now: DateTime<Utc>,
    floor: i64,
) -> bool {
    if table.default_partition().is_none() {
        return false;
    }
    let kept = (table.stats.catch_all_min, table.stats.catch_all_max);
    (table.stats.catch_all_min, table.stats.catch_all_max) = (Some(floor), Some(floor));
    let planned = plan_table(policy, table, now);
    (table.stats.catch_all_min, table.stats.catch_all_max) = kept;
    !matches!(planned, Ok(actions) if actions.is_empty())
}

/// Plan one table.
pub fn plan_table(
    policy: &Policy,
    table: &Table,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, PlanError> {
    check_fit(policy, table)?;
    let err = |reason: FitError| PlanError::new(table.name.to_string(), &reason);
    let mut actions = match policy.strategy {
        Strategy::Range => {
            let mut actions = range::plan_range(policy, table, now).map_err(err)?;
            let merges = coarsen::plan_coarsen(policy, table, now, &actions).map_err(err)?;
            actions.extend(merges);
            actions
        }
        Strategy::List => list::plan_list(policy, table).map_err(err)?,
        Strategy::Hash => hash::plan_hash(policy, table).map_err(err)?,
    };
    // Rows a stopped batched move left in a labelled table that no create of this plan picks
    // up (its partition exists already, or its range left the plan): they go back.
    let creates = |a: &&Action| {
        matches!(
            a.kind,
            ActionKind::Create { .. } | ActionKind::CreateList { .. }
        )
    };
    let stopped = table.stats.in_transit.iter().filter(|name| {
        !actions
            .iter()
            .filter(creates)
            .any(|a| a.kind.partition().name == **name)
    });
    let held = table
        .stats
        .holding
        .iter()
        .filter(|_| !actions.iter().any(|a| a.kind.stages()));
    let left: Vec<String> = stopped.chain(held).cloned().collect();
    for name in left {
        {
            actions.push(action(
                table,
                ActionKind::ReturnRows {
                    partition: QualifiedName::new(table.name.schema.clone(), name.clone()),
                },
                format!("rows a stopped move left in {name} go back into the table"),
            ));
        }
    }
    Ok(actions)
}

/// The partitions a plain table's rows need when `convert` turns it into the partitioned table
/// `table` describes (named as it will be, with no partitions yet): every create the policy
/// wants, as if the rows `key_range` spans (smallest and largest key, as coordinates; `None` for
/// an empty table or a list or hash key) sat in a catch-all. Range rows older than the
/// retention cutoff get one partition below the coverage (the one `apply` expires next, by
/// `on_expire`); nothing is expired here, and no create moves rows. A catch-all comes last when
/// the policy asks for one.
pub fn convert_partitions(
    policy: &Policy,
    table: &Table,
    key_range: Option<(i64, i64)>,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, PlanError> {
    check_fit(policy, table)?;
    let err = |reason: FitError| PlanError::new(table.name.to_string(), &reason);
    let mut actions = match policy.strategy {
        Strategy::Range => {
            let mut seen = table.clone();
            if let Some((lo, hi)) = key_range {
                // The rows stand in a catch-all, so that coverage reaches them and the rows
                // below the cutoff get their partition; it is never created.
                seen.partitions.push(crate::catalog::Partition {
                    name: QualifiedName::new(table.name.schema.clone(), String::new()),
                    bound: crate::catalog::PartBound::Default,
                    est_rows: -1,
                    bytes: 0,
                    detach_pending: false,
                    subpartitions: vec![],
                });
                seen.stats.catch_all_min = Some(lo);
                seen.stats.catch_all_max = Some(hi);
                seen.stats.max_key = Some(hi);
            }
            range::plan_range(policy, &seen, now).map_err(err)?
        }
        Strategy::List => list::plan_list(policy, table).map_err(err)?,
        Strategy::Hash => hash::plan_hash(policy, table).map_err(err)?,
    };
    actions.retain(|a| {
        matches!(
            a.kind,
            ActionKind::Create { .. }
                | ActionKind::CreateList { .. }
                | ActionKind::CreateHash { .. }
                | ActionKind::CreateDefault { .. }
        )
    });
    for a in &mut actions {
        match &mut a.kind {
            ActionKind::Create { move_rows, .. } | ActionKind::CreateList { move_rows, .. } => {
                *move_rows = false
            }
            _ => {}
        }
    }
    if policy.strategy == Strategy::Range && key_range.is_some() {
        actions.extend(default_action(policy, table).map_err(err)?);
    }
    Ok(actions)
}

/// The partitions of `table` that retention removes at `now` (those `apply` would detach, drop
/// or archive); none when the policy cannot be planned against the table.
pub fn expiring(policy: &Policy, table: &Table, now: DateTime<Utc>) -> Vec<QualifiedName> {
    expiring_actions(policy, table, now)
        .into_iter()
        .map(|a| a.kind.partition().clone())
        .collect()
}

/// The expiry actions of `table`'s plan at `now`; none when it cannot be planned.
pub fn expiring_actions(policy: &Policy, table: &Table, now: DateTime<Utc>) -> Vec<Action> {
    plan_table(policy, table, now)
        .map(|actions| actions.into_iter().filter(|a| a.kind.is_expiry()).collect())
        .unwrap_or_default()
}

/// What `auto_lists` plans for a list table (its refusals and the values beyond the cap);
/// `None` when the policy has no `auto_lists` or its `lists` cannot be planned.
pub fn auto_lists_of(policy: &Policy, table: &Table) -> Option<auto_lists::AutoPlan> {
    policy.auto_lists.as_ref()?;
    if check_fit(policy, table).is_err() {
        return None;
    }
    let planned = list::plan_lists(policy, table).ok()?;
    Some(auto_lists::plan_auto(policy, table, &planned))
}

/// An action on `table`.
fn action(table: &Table, kind: ActionKind, reason: String) -> Action {
    Action {
        table: table.name.clone(),
        kind,
        reason,
    }
}

/// A list value as the catalog prints it.
pub fn list_text(v: &ListValue) -> String {
    match v {
        ListValue::Int(i) => i.to_string(),
        ListValue::Str(s) => s.clone(),
    }
}

/// `<table>_<suffix>` in the table's schema (list and hash partitions).
fn partition_name(table: &QualifiedName, suffix: &str) -> Result<QualifiedName, FitError> {
    let name = format!("{}_{suffix}", table.name);
    if name.len() > crate::policy::MAX_IDENT_BYTES {
        return Err(FitError::NameTooLong { name });
    }
    Ok(QualifiedName::new(table.schema.clone(), name))
}

/// `<table>_default`: the catch-all partition.
fn name_default(table: &QualifiedName) -> Result<QualifiedName, FitError> {
    let name = format!("{}_default", table.name);
    if name.len() > crate::policy::MAX_IDENT_BYTES {
        return Err(FitError::DefaultNameTooLong { name });
    }
    Ok(QualifiedName::new(table.schema.clone(), name))
}

/// The catch-all partition `default_partition = true` asks for, when the table has none.
fn default_action(policy: &Policy, table: &Table) -> Result<Option<Action>, FitError> {
    if !policy.default_partition || table.default_partition().is_some() {
        return Ok(None);
    }
    let name = name_default(&table.name)?;
    Ok(Some(action(
        table,
        ActionKind::CreateDefault { partition: name },
        "default_partition = true: keep a catch-all partition".into(),
    )))
}

/// A range for people: `[2026-03-10, 2026-03-11)`.
pub fn describe(kind: KeyKind, from: Bound, to: Bound) -> String {
    let f = |b: Bound| match b {
        Bound::Min => "MINVALUE".to_string(),
        Bound::Max => "MAXVALUE".to_string(),
        Bound::At(c) => kind.format(c),
    };
    format!("[{}, {})", f(from), f(to))
}

#[cfg(test)]
mod auto_fk_tests;
#[cfg(test)]
mod coarsen_tests;
#[cfg(test)]
mod prop_catch_all;
#[cfg(test)]
mod prop_nopanic;
#[cfg(test)]
mod tests;
