//! Range tables: the partitions a policy wants around now (or the largest integer key), read
//! from one [`Layout`]. In order: finish interrupted detaches and crashed drops, fill the gaps
//! between the coverage start and the horizon with aligned periods, add a missing catch-all,
//! then remove expired partitions.

use super::layout::Layout;
use super::{action, default_action, describe, Action, ActionKind, FitError, LayoutError, Then};
use crate::catalog::{PartBound, Table};
use crate::key::{instant_of_local, micros_of, Bound, KeyKind};
use crate::name_template::{self, Namer};
use crate::names::QualifiedName;
use crate::policy::{OnExpire, Policy, Start};
use chrono::{DateTime, Utc};
use std::fmt;

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

pub(super) fn plan_range(
    policy: &Policy,
    table: &Table,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, FitError> {
    let layout = Layout::new(policy, table, now)?;
    let ranges = sorted_ranges(table);
    let low = coverage_start(policy, table, &layout, &ranges)?;
    let creates = fill(&layout, gaps(&ranges, low, layout.horizon))?;

    // Interrupted detaches and crashed drops come first: the table is in an intermediate state
    // until they finish.
    let mut actions = unfinished(policy, table, &layout);
    let mut names = Names::new(policy, table, &layout)?;

    // A missing catch-all is added after the new partitions: MySQL/MariaDB cannot ADD a
    // partition above a MAXVALUE one (error 1493), and PostgreSQL attaches them without
    // scanning a DEFAULT partition.
    let add_default = default_action(policy, table)?;
    if let Some(a) = &add_default {
        let name = &a.kind.partition().name;
        if table.partitions.iter().any(|p| &p.name.name == name) {
            return Err(FitError::DefaultNameTaken { name: name.clone() });
        }
    }
    let has_default = table.default_partition().is_some() || add_default.is_some();

    names.taken.extend(
        actions
            .iter()
            .chain(add_default.iter())
            .map(|a: &Action| a.kind.partition().name.clone()),
    );
    for c in &creates {
        let partition = names.name_for(c.from, c.to)?;
        actions.push(create_action(
            policy,
            table,
            &layout,
            *c,
            partition,
            has_default,
        ));
    }
    actions.extend(add_default);
    actions.extend(expiry(policy, table, &layout, has_default));
    Ok(actions)
}

/// The table's range partitions (pending detaches aside), by bounds.
fn sorted_ranges(table: &Table) -> Vec<Run> {
    let mut r: Vec<Run> = table
        .ranges()
        .map(|(from, to, _)| Run { from, to })
        .collect();
    r.sort_by_key(|r| (r.from, r.to));
    r
}

/// Where coverage starts: the earliest of (oldest partition, `start`, the period of the oldest
/// catch-all row, the current period), raised to the start of the cutoff's period.
fn coverage_start(
    policy: &Policy,
    table: &Table,
    layout: &Layout,
    ranges: &[Run],
) -> Result<Bound, FitError> {
    let (kind, axis) = (layout.kind, &layout.axis);
    let out_of_range = || FitError::Layout(LayoutError::OutOfRange);
    let mut low = Bound::At(layout.start);
    if let Some(first) = ranges.first() {
        low = low.min(first.from);
    }
    if let Some(s) = policy.start {
        let c = match s {
            Start::Int(v) => v,
            Start::Local(local) => match kind {
                KeyKind::Timestamptz => instant_of_local(policy.timezone, local)
                    .ok_or(FitError::StartInDstGap)?
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
    if let Some(c) = layout.cutoff {
        let floor = axis.start_of(axis.index_of(c)).ok_or_else(out_of_range)?;
        low = low.max(Bound::At(floor));
    }
    // A period that begins below an integer key type's minimum begins at that minimum.
    if let (Some((min, _)), Bound::At(c)) = (kind.int_range(), low) {
        low = Bound::At(c.max(min));
    }
    Ok(low)
}

/// The runs from `low` to `horizon` no partition covers. Expired partitions hold their ranges
/// until they are removed (after the creates), so the run is laid out around them rather than
/// over them.
fn gaps(ranges: &[Run], low: Bound, horizon: Bound) -> Vec<Run> {
    let mut gaps = Vec::new();
    let mut pos = low;
    for r in ranges {
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
    gaps
}

/// The first period boundary after `x`.
fn next_boundary(layout: &Layout, x: i64) -> Result<Bound, LayoutError> {
    let step = |k: i64| k.checked_add(1).ok_or(LayoutError::OutOfRange);
    let mut k = step(layout.axis.index_of(x))?;
    let mut next = layout.period_start(k)?;
    while next <= Bound::At(x) {
        k = step(k)?;
        next = layout.period_start(k)?;
    }
    Ok(next)
}

/// Fill gaps with aligned periods; the unaligned piece at either end of a gap gets a partition
/// of its own, and a gap that holds no whole period gets one partition covering exactly it.
/// A piece that would expire at once is not created.
fn fill(layout: &Layout, gaps: Vec<Run>) -> Result<Vec<Run>, FitError> {
    let mut creates: Vec<Run> = Vec::new();
    for g in gaps {
        let Bound::At(gc) = g.from else {
            return Err(FitError::GapFromMinvalue);
        };
        // Refuse a gap of more periods than a plan may create before walking it.
        let end = match g.to {
            Bound::At(t) => t,
            _ => layout.kind.int_range().map_or(i64::MAX, |(_, hi)| hi),
        };
        let periods = i128::from(layout.axis.index_of(end)) - i128::from(layout.axis.index_of(gc));
        if periods > super::MAX_CREATES.saturating_sub(creates.len()) as i128 {
            return Err(FitError::TooManyCreates);
        }
        let first = if layout.period_start(layout.axis.index_of(gc))? == g.from {
            g.from
        } else {
            next_boundary(layout, gc)?
        };
        let whole = match first {
            Bound::At(fc) if first < g.to => next_boundary(layout, fc)? <= g.to,
            _ => false,
        };
        let mut pieces = Vec::new();
        if whole {
            let mut x = g.from;
            while x < g.to {
                let Bound::At(xc) = x else { break };
                let end = next_boundary(layout, xc)?.min(g.to);
                pieces.push(Run { from: x, to: end });
                x = end;
                if creates.len() + pieces.len() > super::MAX_CREATES {
                    return Err(FitError::TooManyCreates);
                }
            }
        } else {
            pieces.push(g);
        }
        creates.extend(pieces.into_iter().filter(|p| !layout.expired(p.to)));
    }
    Ok(creates)
}

/// Finalize interrupted `DETACH ... CONCURRENTLY`s, and finish drops or archives a crashed run
/// left after the detach.
fn unfinished(policy: &Policy, table: &Table, layout: &Layout) -> Vec<Action> {
    let mut actions = Vec::new();
    for p in table.partitions.iter().filter(|p| p.detach_pending) {
        let then = match p.bound {
            PartBound::Range { to, .. } if layout.expired(to) => match &policy.on_expire {
                OnExpire::Detach => None,
                OnExpire::Drop => Some(Then::Drop),
                OnExpire::Archive { schema } => Some(Then::Archive {
                    schema: schema.clone(),
                }),
            },
            _ => None,
        };
        actions.push(action(
            table,
            ActionKind::Finalize {
                partition: p.name.clone(),
                then,
            },
            "an earlier DETACH ... CONCURRENTLY was interrupted; finish it".into(),
        ));
    }

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
        actions.push(action(
            table,
            ActionKind::Cleanup {
                partition: p.name.clone(),
                then,
            },
            "an earlier run detached this expired partition but stopped before finishing".into(),
        ));
    }
    actions
}

/// Names for new range partitions, from the policy's template; no name is given twice.
struct Names<'a> {
    namer: Namer,
    layout: &'a Layout,
    schema: String,
    taken: Vec<String>,
}

impl<'a> Names<'a> {
    fn new(policy: &Policy, table: &Table, layout: &'a Layout) -> Result<Names<'a>, FitError> {
        let template = policy
            .name_template
            .as_deref()
            .unwrap_or_else(|| name_template::default_template(layout.interval));
        Ok(Names {
            namer: Namer::new(template, &table.name.name)
                .map_err(|e| FitError::Template(e.to_string()))?,
            layout,
            schema: table.name.schema.clone(),
            taken: table
                .partitions
                .iter()
                .map(|p| p.name.name.clone())
                .collect(),
        })
    }

    fn bound_for_name(&self, b: Bound) -> name_template::From {
        match b {
            Bound::At(c) if self.layout.kind.is_time() => {
                name_template::From::Local(self.layout.axis.local(c))
            }
            Bound::At(c) => name_template::From::Int(c),
            Bound::Min => name_template::From::Min,
            Bound::Max => name_template::From::Max,
        }
    }

    fn name_for(&mut self, from: Bound, to: Bound) -> Result<QualifiedName, FitError> {
        let n = self
            .namer
            .name(self.bound_for_name(from), Some(&self.bound_for_name(to)))
            .map_err(|e| FitError::Template(e.to_string()))?;
        if self.taken.contains(&n) {
            return Err(FitError::RangeNameTaken {
                range: describe(self.layout.kind, from, to),
                name: n,
            });
        }
        self.taken.push(n.clone());
        Ok(QualifiedName::new(self.schema.clone(), n))
    }
}

/// The create for one new range `c`, with why it is wanted.
fn create_action(
    policy: &Policy,
    table: &Table,
    layout: &Layout,
    c: Run,
    partition: QualifiedName,
    has_default: bool,
) -> Action {
    let move_rows = has_default
        && match (table.stats.catch_all_min, table.stats.catch_all_max) {
            (Some(lo), Some(hi)) => Bound::At(hi) >= c.from && Bound::At(lo) < c.to,
            _ => false,
        };
    let what = layout.reference_name();
    let cur_start = Bound::At(layout.start);
    let reason = if c.to <= cur_start {
        "fill a gap in the partition run".to_string()
    } else if c.from <= cur_start {
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
    action(
        table,
        ActionKind::Create {
            partition,
            from: c.from,
            to: c.to,
            move_rows,
        },
        reason,
    )
}

/// Detach, drop or archive (per `on_expire`) every partition that ends at or before the cutoff.
fn expiry(policy: &Policy, table: &Table, layout: &Layout, has_default: bool) -> Vec<Action> {
    let mut expiring: Vec<(Run, &QualifiedName)> = table
        .ranges()
        .filter(|(_, to, _)| layout.expired(*to))
        .map(|(from, to, p)| (Run { from, to }, &p.name))
        .collect();
    expiring.sort_by_key(|(r, _)| (r.from, r.to));
    expiring
        .into_iter()
        .map(|(r, name)| {
            let reason = format!(
                "retain {}: {} ends at or before the cutoff",
                policy.retain.map(|s| s.to_string()).unwrap_or_default(),
                describe(layout.kind, r.from, r.to)
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
            action(table, kind, reason)
        })
        .collect()
}
