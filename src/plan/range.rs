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
    let drains = drains(table, &layout, &ranges, low)?;
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
    // The drains come first: they lie below every other create, and on MySQL/MariaDB a new
    // partition can only be split off the bottom of the MAXVALUE catch-all in key order.
    let mut drained = Vec::new();
    for d in &drains {
        let partition = names.drain_name(d.from, d.to)?;
        actions.push(drain_action(policy, table, &layout, *d, partition.clone()));
        drained.push((*d, partition));
    }
    for c in &creates {
        let partition = names.name_for(c.from, c.to)?;
        actions.push(create_action(policy, table, &layout, *c, partition));
    }
    actions.extend(add_default);
    actions.extend(expiry(policy, table, &layout, has_default, &drained));
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

/// The catch-all's rows older than the retention cutoff get a destination too: partitions that
/// take them out of the catch-all and then expire at once, by `on_expire` (detach keeps them as
/// tables, archive moves them, drop deletes them).
///
/// The rule: rows below the coverage start `low` (which, when such rows exist, is the start of
/// the cutoff's period; see [`coverage_start`]) go into ONE partition per stretch that no
/// partition covers, from the start of the period holding the oldest catch-all row up to `low`
/// (or up to the next existing partition). Usually that is a single partition,
/// `[period of catch_all_min, low)`. One wide partition rather than one per period because each
/// create reads the whole catch-all (PostgreSQL scans it to move rows and to attach;
/// MySQL/MariaDB copies it in REORGANIZE PARTITION), and the partition is gone in the same run
/// anyway; `detach` and `archive` leave one table holding exactly the old rows.
///
/// It starts at the oldest catch-all row's period, so no row lies below its lower bound: on
/// MySQL/MariaDB, where the first partition takes every smaller key, it still holds exactly what
/// its bounds (and its name, see [`Names::drain_name`]) say. Stretches that hold none of the
/// catch-all's key range are skipped. Without `retain` nothing is expired and the coverage
/// reaches down to the oldest catch-all row, so there are no drains.
fn drains(
    table: &Table,
    layout: &Layout,
    ranges: &[Run],
    low: Bound,
) -> Result<Vec<Run>, FitError> {
    if layout.cutoff.is_none() || table.default_partition().is_none() {
        return Ok(vec![]);
    }
    let (Some(lo), Some(hi)) = (table.stats.catch_all_min, table.stats.catch_all_max) else {
        return Ok(vec![]);
    };
    if Bound::At(lo) >= low {
        return Ok(vec![]);
    }
    let axis = &layout.axis;
    let mut from = axis
        .start_of(axis.index_of(lo))
        .ok_or(FitError::Layout(LayoutError::OutOfRange))?;
    // A period that begins below an integer key type's minimum begins at that minimum.
    if let Some((min, _)) = layout.kind.int_range() {
        from = from.max(min);
    }
    Ok(gaps(ranges, Bound::At(from), low)
        .into_iter()
        .filter(|g| g.from <= Bound::At(hi) && Bound::At(lo) < g.to && layout.expired(g.to))
        .collect())
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
    table: &'a Table,
    /// Names this plan gives (the table's own are looked up in `table`).
    taken: Vec<String>,
}

impl<'a> Names<'a> {
    fn new(policy: &Policy, table: &'a Table, layout: &'a Layout) -> Result<Names<'a>, FitError> {
        let template = policy
            .name_template
            .as_deref()
            .unwrap_or_else(|| name_template::default_template(layout.interval));
        Ok(Names {
            namer: Namer::new(template, &table.name.name)
                .map_err(|e| FitError::Template(e.to_string()))?,
            layout,
            table,
            taken: vec![],
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

    /// Take `n` for `[from, to)`, unless another partition of the plan or table has it.
    fn claim(&mut self, n: String, from: Bound, to: Bound) -> Result<QualifiedName, FitError> {
        if self.taken.contains(&n) || self.table.partitions.iter().any(|p| p.name.name == n) {
            return Err(FitError::RangeNameTaken {
                range: describe(self.layout.kind, from, to),
                name: n,
            });
        }
        self.taken.push(n.clone());
        Ok(QualifiedName::new(self.table.name.schema.clone(), n))
    }

    fn name_for(&mut self, from: Bound, to: Bound) -> Result<QualifiedName, FitError> {
        let n = self
            .namer
            .name(self.bound_for_name(from), Some(&self.bound_for_name(to)))
            .map_err(|e| FitError::Template(e.to_string()))?;
        self.claim(n, from, to)
    }

    /// The name of a drain `[from, to)` (see [`drains`]), which may span many periods: the
    /// template's name when the template shows `to` or the drain is one aligned period, else the
    /// template's name for `from` followed by `_to_` and `to` (`events_p20260801_to_20261031`:
    /// a name never claims a single period for a partition that holds more).
    fn drain_name(&mut self, from: Bound, to: Bound) -> Result<QualifiedName, FitError> {
        let render = |names: &Self, to: Bound| {
            names
                .namer
                .name(names.bound_for_name(from), Some(&names.bound_for_name(to)))
                .map_err(|e| FitError::Template(e.to_string()))
        };
        let n = render(self, to)?;
        let one_period = match from {
            Bound::At(f) => {
                self.layout.period_start(self.layout.axis.index_of(f))? == from
                    && next_boundary(self.layout, f)? == to
            }
            _ => false,
        };
        // A `to` that differs from this one in every field a template may show (year .. second).
        let shift = if self.layout.kind.is_time() {
            (367 * 86_400 + 3_661) * 1_000_000
        } else {
            1
        };
        let other = match to {
            Bound::At(t) => Bound::At(t.saturating_add(shift)),
            _ => Bound::At(0),
        };
        let n = if one_period || render(self, other)? != n {
            n
        } else {
            let kind = self.layout.kind;
            let end = match to {
                Bound::At(t) if kind.is_time() => {
                    let local = self.layout.axis.local(t);
                    let format = if local.format("%H%M%S").to_string() == "000000" {
                        "%Y%m%d"
                    } else if local.format("%S").to_string() == "00" {
                        "%Y%m%d_%H%M"
                    } else {
                        "%Y%m%d_%H%M%S"
                    };
                    local.format(format).to_string()
                }
                Bound::At(t) => t.to_string(),
                Bound::Min => "min".into(),
                Bound::Max => "max".into(),
            };
            format!("{n}_to_{end}")
        };
        if n.len() > crate::policy::MAX_IDENT_BYTES {
            return Err(FitError::NameTooLong { name: n });
        }
        self.claim(n, from, to)
    }
}

/// What `on_expire` does to a partition, for reasons.
fn on_expire_text(policy: &Policy) -> String {
    match &policy.on_expire {
        OnExpire::Detach => "on_expire = detach: kept as a table".to_string(),
        OnExpire::Drop => "on_expire = drop".to_string(),
        OnExpire::Archive { schema } => format!("on_expire = archive: moved to {schema}"),
    }
}

/// The catch-all keys `[from, to)` may hold, for people: `2026-08-01 .. 2026-10-30` when both
/// the oldest and the newest catch-all row lie in it, else with `>=`/`<` where it is cut.
fn catch_all_keys(table: &Table, layout: &Layout, c: Run) -> String {
    let (Some(lo), Some(hi)) = (table.stats.catch_all_min, table.stats.catch_all_max) else {
        return describe(layout.kind, c.from, c.to);
    };
    let kind = layout.kind;
    let bound = |b: Bound| match b {
        Bound::At(x) => kind.format(x),
        Bound::Min => "MINVALUE".to_string(),
        Bound::Max => "MAXVALUE".to_string(),
    };
    let low = if Bound::At(lo) >= c.from {
        kind.format(lo)
    } else {
        format!(">= {}", bound(c.from))
    };
    let high = if Bound::At(hi) < c.to {
        kind.format(hi)
    } else {
        format!("< {}", bound(c.to))
    };
    format!("{low} .. {high}")
}

/// The create of a drain (see [`drains`]): it takes the catch-all's rows older than the cutoff,
/// and the expiry that follows it in the plan removes it.
fn drain_action(
    policy: &Policy,
    table: &Table,
    layout: &Layout,
    c: Run,
    partition: QualifiedName,
) -> Action {
    let reason = format!(
        "rows older than the retention cutoff (keys {} in the catch-all): moved into a partition that expires at once ({})",
        catch_all_keys(table, layout, c),
        on_expire_text(policy)
    );
    action(
        table,
        ActionKind::Create {
            partition,
            from: c.from,
            to: c.to,
            move_rows: true,
        },
        reason,
    )
}

/// The create for one new range `c`, with why it is wanted.
fn create_action(
    policy: &Policy,
    table: &Table,
    layout: &Layout,
    c: Run,
    partition: QualifiedName,
) -> Action {
    // The catch-all may hold rows for `c` only when its key range overlaps `c`: that is all the
    // catalog tells (the smallest and largest key). A catch-all created by this plan is empty.
    let catch_all = table.default_partition().is_some();
    let (move_rows, proven) = match (table.stats.catch_all_min, table.stats.catch_all_max) {
        (Some(lo), Some(hi)) if catch_all => {
            let inside = |k: i64| c.from <= Bound::At(k) && Bound::At(k) < c.to;
            (
                Bound::At(hi) >= c.from && Bound::At(lo) < c.to,
                inside(lo) || inside(hi),
            )
        }
        _ => (false, false),
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
    let reason = if proven {
        format!("{reason}; move its rows out of the catch-all")
    } else if move_rows {
        format!(
            "{reason}; its range lies inside the catch-all's keys ({} .. {}): any rows of it there move in",
            layout.kind.format(table.stats.catch_all_min.unwrap_or_default()),
            layout.kind.format(table.stats.catch_all_max.unwrap_or_default())
        )
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

/// Detach, drop or archive (per `on_expire`) every partition that ends at or before the cutoff,
/// the `drained` ones this plan creates (see [`drains`]) included.
fn expiry(
    policy: &Policy,
    table: &Table,
    layout: &Layout,
    has_default: bool,
    drained: &[(Run, QualifiedName)],
) -> Vec<Action> {
    let mut expiring: Vec<(Run, &QualifiedName, bool)> = table
        .ranges()
        .filter(|(_, to, _)| layout.expired(*to))
        .map(|(from, to, p)| (Run { from, to }, &p.name, false))
        .chain(drained.iter().map(|(r, name)| (*r, name, true)))
        .collect();
    expiring.sort_by_key(|(r, _, _)| (r.from, r.to));
    expiring
        .into_iter()
        .map(|(r, name, drain)| {
            let reason = format!(
                "retain {}: {} ends at or before the cutoff{}",
                policy.retain.map(|s| s.to_string()).unwrap_or_default(),
                describe(layout.kind, r.from, r.to),
                if drain {
                    "; created above to take the catch-all's rows older than the cutoff"
                } else {
                    ""
                }
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
