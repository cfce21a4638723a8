//! The planner: a pure function of (policies, catalog, now) to actions. No I/O, no clock, no
//! engine: it knows key coordinates and bounds, never SQL.

use crate::catalog::{Catalog, PartBound, Table};
use crate::key::{instant_of_local, micros_of, Axis, Bound, KeyKind, Span, TimeUnit};
use crate::name_template::{self, Namer};
use crate::names::QualifiedName;
use crate::policy::{ListValue, OnExpire, Policy, Start, Strategy};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;

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
        }
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
            | ActionKind::ShrinkHash { partition, .. } => partition,
        }
    }
}

/// A policy that cannot be planned against the live table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{table}: {message}")]
pub struct PlanError {
    pub table: String,
    pub message: String,
}

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
        let table = resolve(p, catalog).ok_or_else(|| PlanError {
            table: p.table.to_string(),
            message: format!(
                "the table named at {} is not in the database (or is not partitioned)",
                p.origin
            ),
        })?;
        out.extend(plan_table(p, table, now)?);
    }
    Ok(out)
}

/// Plan one table.
pub fn plan_table(
    policy: &Policy,
    table: &Table,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, PlanError> {
    let err = |message: String| PlanError {
        table: table.name.to_string(),
        message,
    };
    if policy.strategy != table.strategy || policy.column != table.key.name {
        return Err(err(format!(
            "the policy at {} says partition_by = \"{}\" on column `{}`, but the table is partitioned by {} on `{}`",
            policy.origin,
            policy.strategy.as_str(),
            policy.column,
            table.strategy.as_str(),
            table.key.name
        )));
    }
    match policy.strategy {
        Strategy::Range => plan_range(policy, table, now).map_err(err),
        Strategy::List => plan_list(policy, table).map_err(err),
        Strategy::Hash => plan_hash(policy, table).map_err(err),
    }
}

/// `[from, to)` half-open interval on bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    from: Bound,
    to: Bound,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}, {:?})", self.from, self.to)
    }
}

fn plan_range(policy: &Policy, table: &Table, now: DateTime<Utc>) -> Result<Vec<Action>, String> {
    let kind = table.key.kind.ok_or_else(|| {
        format!(
            "range key `{}` is of type {}, which partctl cannot lay out; use an integer, date or timestamp key",
            table.key.name, table.key.sql_type
        )
    })?;
    let interval = policy.interval.ok_or("range tables need an interval")?;
    let tz = policy.timezone;
    let axis = Axis::new(kind, interval, tz)?;
    if let (Some(g), Span::Time { n, unit }) = (table.key.granularity, interval) {
        let whole_years = g == TimeUnit::Year && unit == TimeUnit::Month && n % 12 == 0;
        if unit < g && !whole_years {
            return Err(format!(
                "the table's partition bounds can only fall on whole {}s (its partition expression), but interval is \"{interval}\"",
                g.name()
            ));
        }
    }
    let out_of_range = || "the partition bounds fall outside the key's range".to_string();

    // 1. The current period.
    let reference = if kind.is_time() {
        kind.now_coord(now, tz)
    } else {
        table
            .stats
            .max_key
            .into_iter()
            .chain(table.stats.catch_all_max)
            .max()
            .unwrap_or(0)
    };
    let cur = axis.index_of(reference);
    let cur_start = axis.start_of(cur).ok_or_else(out_of_range)?;

    // 2. The horizon: premake periods after the current one.
    let horizon = period_start(&axis, cur + policy.premake as i64 + 1, kind)?;

    // 3. The cutoff.
    let cutoff = match policy.retain {
        None => None,
        Some(r) => Some(axis.minus(reference, r)?),
    };
    let expired = |to: Bound| -> bool {
        match (cutoff, to) {
            (Some(c), Bound::At(t)) => t <= c && t <= cur_start,
            (Some(_), Bound::Min) => true,
            _ => false,
        }
    };

    // 4. Coverage: from the earliest of (oldest partition, start, oldest catch-all row, the
    // current period), raised to the start of the cutoff's period, up to the horizon.
    let ranges: Vec<Run> = {
        let mut r: Vec<Run> = table
            .ranges()
            .map(|(from, to, _)| Run { from, to })
            .collect();
        r.sort_by_key(|r| (r.from, r.to));
        r
    };
    let mut low = Bound::At(cur_start);
    if let Some(first) = ranges.first() {
        low = low.min(first.from);
    }
    if let Some(s) = policy.start {
        let c = match s {
            Start::Int(v) => v,
            Start::Local(local) => match kind {
                KeyKind::Timestamptz => instant_of_local(tz, local)
                    .ok_or("`start` does not exist in the policy's time zone")?
                    .timestamp_micros(),
                _ => micros_of(local),
            },
        };
        low = low.min(Bound::At(c));
    }
    if let Some(m) = table.stats.catch_all_min {
        low = low.min(Bound::At(
            axis.start_of(axis.index_of(m)).ok_or_else(out_of_range)?,
        ));
    }
    if let Some(c) = cutoff {
        let floor = axis.start_of(axis.index_of(c)).ok_or_else(out_of_range)?;
        low = low.max(Bound::At(floor));
    }
    // A period that begins below an integer key type's minimum begins at that minimum.
    if let (Some((min, _)), Bound::At(c)) = (kind.int_range(), low) {
        low = Bound::At(c.max(min));
    }

    // Expired partitions hold their ranges until they are removed (after the creates), so the
    // run is laid out around them rather than over them.
    let mut gaps = Vec::new();
    let mut pos = low;
    for r in &ranges {
        if r.to <= pos {
            continue;
        }
        if r.from >= horizon {
            break;
        }
        if r.from > pos {
            gaps.push(Run {
                from: pos,
                to: r.from,
            });
        }
        pos = pos.max(r.to);
    }
    if pos < horizon {
        gaps.push(Run {
            from: pos,
            to: horizon,
        });
    }

    // The first period boundary after `x`.
    let next_boundary = |x: i64| -> Result<Bound, String> {
        let mut k = axis.index_of(x) + 1;
        let mut next = period_start(&axis, k, kind)?;
        while next <= Bound::At(x) {
            k += 1;
            next = period_start(&axis, k, kind)?;
        }
        Ok(next)
    };
    // Fill gaps with aligned periods; the unaligned piece at either end of a gap gets a partition
    // of its own, and a gap that holds no whole period gets one partition covering exactly it.
    // A piece that would expire at once is not created.
    let mut creates: Vec<Run> = Vec::new();
    for g in gaps {
        let Bound::At(gc) = g.from else {
            return Err("cannot fill a gap that starts at MINVALUE".into());
        };
        let first = if period_start(&axis, axis.index_of(gc), kind)? == g.from {
            g.from
        } else {
            next_boundary(gc)?
        };
        let whole = match first {
            Bound::At(fc) if first < g.to => next_boundary(fc)? <= g.to,
            _ => false,
        };
        let mut pieces = Vec::new();
        if whole {
            let mut x = g.from;
            while x < g.to {
                let Bound::At(xc) = x else { break };
                let end = next_boundary(xc)?.min(g.to);
                pieces.push(Run { from: x, to: end });
                x = end;
            }
        } else {
            pieces.push(g);
        }
        creates.extend(pieces.into_iter().filter(|p| !expired(p.to)));
    }

    // Names.
    let template = policy
        .name_template
        .as_deref()
        .unwrap_or_else(|| name_template::default_template(interval));
    let namer = Namer::new(template, &table.name.name)?;
    let bound_for_name = |b: Bound| -> name_template::From {
        match b {
            Bound::At(c) if kind.is_time() => name_template::From::Local(axis.local(c)),
            Bound::At(c) => name_template::From::Int(c),
            Bound::Min => name_template::From::Min,
            Bound::Max => name_template::From::Max,
        }
    };
    let mut actions = Vec::new();
    let act = |kind: ActionKind, reason: String| Action {
        table: table.name.clone(),
        kind,
        reason,
    };

    // Interrupted detaches come first: the table is in an intermediate state until they finish.
    for p in table.partitions.iter().filter(|p| p.detach_pending) {
        let then = match p.bound {
            PartBound::Range { to, .. } if expired(to) => match &policy.on_expire {
                OnExpire::Detach => None,
                OnExpire::Drop => Some(Then::Drop),
                OnExpire::Archive { schema } => Some(Then::Archive {
                    schema: schema.clone(),
                }),
            },
            _ => None,
        };
        actions.push(act(
            ActionKind::Finalize {
                partition: p.name.clone(),
                then,
            },
            "an earlier DETACH ... CONCURRENTLY was interrupted; finish it".into(),
        ));
    }

    // Partitions a crashed run detached but did not get to drop or archive.
    for p in table
        .partitions
        .iter()
        .filter(|p| p.bound == PartBound::Orphan)
    {
        let then = match &policy.on_expire {
            OnExpire::Detach => continue,
            OnExpire::Drop => Then::Drop,
            OnExpire::Archive { schema } => Then::Archive {
                schema: schema.clone(),
            },
        };
        actions.push(act(
            ActionKind::Cleanup {
                partition: p.name.clone(),
                then,
            },
            "an earlier run detached this expired partition but stopped before finishing".into(),
        ));
    }

    let mut has_default = table.default_partition().is_some();
    // A missing catch-all is added after the new partitions: MySQL/MariaDB cannot ADD a
    // partition above a MAXVALUE one (error 1493), and PostgreSQL attaches them without
    // scanning a DEFAULT partition.
    let mut add_default = None;
    if policy.default_partition && !has_default {
        let name = name_default(&table.name)?;
        if table.partitions.iter().any(|p| p.name.name == name.name) {
            return Err(format!(
                "the catch-all partition would be named `{}`, which is already taken",
                name.name
            ));
        }
        add_default = Some(act(
            ActionKind::CreateDefault { partition: name },
            "default_partition = true: keep a catch-all partition".into(),
        ));
        has_default = true;
    }

    let mut taken: Vec<String> = table
        .partitions
        .iter()
        .map(|p| p.name.name.clone())
        .collect();
    taken.extend(
        actions
            .iter()
            .chain(add_default.iter())
            .map(|a: &Action| a.kind.partition().name.clone()),
    );
    let mut name_for = |from: Bound, to: Bound| -> Result<QualifiedName, String> {
        let n = namer.name(bound_for_name(from), Some(&bound_for_name(to)))?;
        if taken.contains(&n) {
            return Err(format!(
                "the partition for {} would be named `{n}`, which is already taken; set a name_template that makes names unique",
                describe(kind, from, to)
            ));
        }
        taken.push(n.clone());
        Ok(QualifiedName::new(table.name.schema.clone(), n))
    };

    for c in &creates {
        let partition = name_for(c.from, c.to)?;
        let move_rows = has_default
            && match (table.stats.catch_all_min, table.stats.catch_all_max) {
                (Some(lo), Some(hi)) => Bound::At(hi) >= c.from && Bound::At(lo) < c.to,
                _ => false,
            };
        let what = if kind.is_time() { "now" } else { "max(key)" };
        let reason = if c.to <= Bound::At(cur_start) {
            "fill a gap in the partition run".to_string()
        } else if c.from <= Bound::At(cur_start) {
            format!("the current period (holding {what})")
        } else {
            format!(
                "premake: keep {} partition{} ahead of {what}",
                policy.premake,
                if policy.premake == 1 { "" } else { "s" },
            )
        };
        let reason = if move_rows {
            format!("{reason}; move its rows out of the catch-all")
        } else {
            reason
        };
        actions.push(act(
            ActionKind::Create {
                partition,
                from: c.from,
                to: c.to,
                move_rows,
            },
            reason,
        ));
    }
    actions.extend(add_default);

    let mut expiring: Vec<(Run, &QualifiedName)> = table
        .ranges()
        .filter(|(_, to, _)| expired(*to))
        .map(|(from, to, p)| (Run { from, to }, &p.name))
        .collect();
    expiring.sort_by_key(|(r, _)| (r.from, r.to));
    for (r, name) in expiring {
        let reason = format!(
            "retain {}: {} ends at or before the cutoff",
            policy.retain.map(|s| s.to_string()).unwrap_or_default(),
            describe(kind, r.from, r.to)
        );
        let partition = name.clone();
        let kind = match &policy.on_expire {
            OnExpire::Detach => ActionKind::Detach {
                partition,
                has_default,
            },
            OnExpire::Drop => ActionKind::Drop {
                partition,
                has_default,
            },
            OnExpire::Archive { schema } => ActionKind::Archive {
                partition,
                schema: schema.clone(),
                has_default,
            },
        };
        actions.push(act(kind, reason));
    }
    Ok(actions)
}

/// A list value as the catalog prints it.
pub fn list_text(v: &ListValue) -> String {
    match v {
        ListValue::Int(i) => i.to_string(),
        ListValue::Str(s) => s.clone(),
    }
}

fn partition_name(table: &QualifiedName, suffix: &str) -> Result<QualifiedName, String> {
    let name = format!("{}_{suffix}", table.name);
    if name.len() > crate::policy::MAX_IDENT_BYTES {
        return Err(format!(
            "the partition name `{name}` would exceed {} bytes",
            crate::policy::MAX_IDENT_BYTES
        ));
    }
    Ok(QualifiedName::new(table.schema.clone(), name))
}

/// List tables: one partition per `lists` entry, matched by its exact value set. A partition
/// holding some of an entry's values but not exactly them is refused: changing a list partition
/// in place is not row-safe.
fn plan_list(policy: &Policy, table: &Table) -> Result<Vec<Action>, String> {
    let mut actions = Vec::new();
    let act = |kind: ActionKind, reason: String| Action {
        table: table.name.clone(),
        kind,
        reason,
    };
    let mut has_default = table.default_partition().is_some();
    if policy.default_partition && !has_default {
        actions.push(act(
            ActionKind::CreateDefault {
                partition: name_default(&table.name)?,
            },
            "default_partition = true: keep a catch-all partition".into(),
        ));
        has_default = true;
    }
    let existing: Vec<(&crate::catalog::Partition, Vec<&String>)> = table
        .partitions
        .iter()
        .filter_map(|p| match &p.bound {
            PartBound::List { values } => Some((p, values.iter().collect())),
            _ => None,
        })
        .collect();
    for (suffix, values) in &policy.lists {
        let mut want: Vec<String> = values.iter().map(list_text).collect();
        want.sort();
        let mut exact = false;
        for (p, have) in &existing {
            let mut have: Vec<String> = have.iter().map(|s| s.to_string()).collect();
            have.sort();
            if have == want {
                exact = true;
                break;
            }
            let shared: Vec<&String> = want.iter().filter(|v| have.contains(v)).collect();
            if !shared.is_empty() {
                return Err(format!(
                    "partition {} holds ({}) but the policy's `{suffix}` lists ({}); partctl does not change a list partition in place. Give the new value set a new suffix and move the old partition's values out by hand, or make the policy match the table",
                    p.name,
                    have.join(", "),
                    want.join(", ")
                ));
            }
        }
        if exact {
            continue;
        }
        let partition = partition_name(&table.name, suffix)?;
        if table.partitions.iter().any(|p| p.name == partition) {
            return Err(format!(
                "the partition for `{suffix}` would be named `{}`, which is already taken",
                partition.name
            ));
        }
        actions.push(act(
            ActionKind::CreateList {
                partition,
                suffix: suffix.clone(),
                values: values.clone(),
                move_rows: has_default,
            },
            format!(
                "lists.{suffix}: ({}){}",
                want.join(", "),
                if has_default {
                    "; move its rows out of the catch-all"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(actions)
}

/// Hash tables: every remainder of `modulus` covered. Partitions of a smaller modulus that
/// divides it are replaced (growth); a larger modulus means shrinking.
fn plan_hash(policy: &Policy, table: &Table) -> Result<Vec<Action>, String> {
    let n = policy.modulus.ok_or("hash tables need a modulus")?;
    let hashed: Vec<(&crate::catalog::Partition, u32, u32)> = table
        .partitions
        .iter()
        .filter_map(|p| match p.bound {
            PartBound::Hash { modulus, remainder } => Some((p, modulus, remainder)),
            _ => None,
        })
        .collect();
    let act = |kind: ActionKind, reason: String| Action {
        table: table.name.clone(),
        kind,
        reason,
    };
    let name_for = |m: u32, r: u32| partition_name(&table.name, &format!("m{m}_r{r}"));
    if hashed.is_empty() {
        return (0..n)
            .map(|r| {
                Ok(act(
                    ActionKind::CreateHash {
                        partition: name_for(n, r)?,
                        modulus: n,
                        remainder: r,
                    },
                    format!("modulus = {n}: remainder {r} has no partition"),
                ))
            })
            .collect();
    }
    let largest = hashed.iter().map(|h| h.1).max().unwrap_or(n);
    if largest > n {
        return Ok(vec![act(
            ActionKind::ShrinkHash {
                partition: table.name.clone(),
                from: largest,
                to: n,
            },
            format!("modulus = {n}: the table has modulus {largest}; shrink"),
        )]);
    }
    if let Some((p, m, _)) = hashed.iter().find(|h| n % h.1 != 0) {
        return Err(format!(
            "partition {} has modulus {m}, which does not divide the policy's modulus {n}; hash growth must go to a multiple",
            p.name
        ));
    }
    let mut splits = Vec::new();
    for (p, m, r) in hashed.iter().filter(|h| h.1 < n) {
        let new = (0..n / m)
            .map(|k| {
                let rr = r + k * m;
                name_for(n, rr).map(|q| (q, rr))
            })
            .collect::<Result<Vec<_>, _>>()?;
        splits.push(HashSplit {
            old: p.name.clone(),
            old_modulus: *m,
            old_remainder: *r,
            modulus: n,
            new,
        });
    }
    let mut actions = Vec::new();
    let smallest = hashed.iter().map(|h| h.1).min().unwrap_or(n);
    if !splits.is_empty() {
        actions.push(act(
            ActionKind::GrowHash {
                partition: table.name.clone(),
                from: smallest,
                to: n,
                splits: splits.clone(),
            },
            format!("modulus = {n}: grow from {smallest}, rows kept and counted"),
        ));
    }
    // Remainders no partition covers (after the splits).
    for r in 0..n {
        let covered = hashed.iter().any(|(_, m, q)| r % m == *q);
        if !covered {
            actions.push(act(
                ActionKind::CreateHash {
                    partition: name_for(n, r)?,
                    modulus: n,
                    remainder: r,
                },
                format!("modulus = {n}: remainder {r} has no partition"),
            ));
        }
    }
    Ok(actions)
}

/// Start of period `k`, as a bound; integers past the key type's range become MAXVALUE/MINVALUE.
fn period_start(axis: &Axis, k: i64, kind: KeyKind) -> Result<Bound, String> {
    let c = axis
        .start_of(k)
        .ok_or("the partition bounds fall outside the key's range")?;
    if let Some((lo, hi)) = kind.int_range() {
        if c > hi {
            return Ok(Bound::Max);
        }
        if c < lo {
            return Ok(Bound::Min);
        }
    }
    Ok(Bound::At(c))
}

fn name_default(table: &QualifiedName) -> Result<QualifiedName, String> {
    let name = format!("{}_default", table.name);
    if name.len() > crate::policy::MAX_IDENT_BYTES {
        return Err(format!(
            "the catch-all partition name `{name}` would exceed {} bytes",
            crate::policy::MAX_IDENT_BYTES
        ));
    }
    Ok(QualifiedName::new(table.schema.clone(), name))
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

fn new_partition(name: &QualifiedName, bound: PartBound) -> crate::catalog::Partition {
    crate::catalog::Partition {
        name: name.clone(),
        bound,
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    }
}

/// What the catalog would look like after the actions ran (for tests and `--dry-run` checks).
pub fn simulate(table: &Table, actions: &[Action]) -> Table {
    let mut t = table.clone();
    for a in actions {
        match &a.kind {
            ActionKind::Create {
                partition,
                from,
                to,
                ..
            } => t.partitions.push(crate::catalog::Partition {
                name: partition.clone(),
                bound: PartBound::Range {
                    from: *from,
                    to: *to,
                },
                est_rows: 0,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            }),
            ActionKind::CreateList {
                partition, values, ..
            } => t.partitions.push(new_partition(
                partition,
                PartBound::List {
                    values: values.iter().map(list_text).collect(),
                },
            )),
            ActionKind::CreateHash {
                partition,
                modulus,
                remainder,
            } => t.partitions.push(new_partition(
                partition,
                PartBound::Hash {
                    modulus: *modulus,
                    remainder: *remainder,
                },
            )),
            ActionKind::GrowHash { splits, .. } => {
                for sp in splits {
                    t.partitions.retain(|p| p.name != sp.old);
                    for (name, r) in &sp.new {
                        t.partitions.push(new_partition(
                            name,
                            PartBound::Hash {
                                modulus: sp.modulus,
                                remainder: *r,
                            },
                        ));
                    }
                }
            }
            ActionKind::ShrinkHash { to, .. } => {
                t.partitions.retain(
                    |p| !matches!(p.bound, PartBound::Hash { remainder, .. } if remainder >= *to),
                );
                for p in &mut t.partitions {
                    if let PartBound::Hash { modulus, .. } = &mut p.bound {
                        *modulus = *to;
                    }
                }
            }
            ActionKind::CreateDefault { partition } => {
                t.partitions.push(crate::catalog::Partition {
                    name: partition.clone(),
                    bound: PartBound::Default,
                    est_rows: 0,
                    bytes: 0,
                    detach_pending: false,
                    subpartitions: vec![],
                })
            }
            ActionKind::Detach { partition, .. }
            | ActionKind::Drop { partition, .. }
            | ActionKind::Archive { partition, .. }
            | ActionKind::Finalize { partition, .. }
            | ActionKind::Cleanup { partition, .. } => {
                t.partitions.retain(|p| &p.name != partition)
            }
        }
    }
    t
}

#[cfg(test)]
mod tests;
