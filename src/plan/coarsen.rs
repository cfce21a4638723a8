//! Coarsening (`coarsen = [{ after = "90 days", interval = "1 month" }, ...]`): once a whole
//! period of a level's `interval` ended at least `after` before now, the partitions inside it
//! are merged into one partition. Pure, like the rest of the planner.
//!
//! The rule, on the table as the rest of the plan leaves it (creates made, expired partitions
//! gone; see [`super::simulate`]):
//! - levels are taken coarsest first, so a period old enough for a coarser level is merged
//!   straight into it, and a partition merged at one level is not taken again by a finer one;
//! - a period `[P, Q)` is merged when `Q <= now - after`, at least two range partitions lie
//!   inside it, they are contiguous, and no partition straddles `P` or `Q`. Otherwise it is
//!   left as it is (a partial period whose first partitions expired is merged from the first
//!   one left; a period with a hole or a hand-made partition across its edge is not touched);
//! - the merged partition spans exactly its partitions, `[first.from, last.to)`, and is named
//!   by the policy's `name_template` for those bounds (without one, by the coarse interval's
//!   default: `<table>_p<YYYY>` for years, `_p<YYYYMM>` for months, `_w<YYYYMMDD>` for weeks,
//!   `_p<YYYYMMDD>` for days, `_p<YYYYMMDD_HH>` for hours). A name that another partition has
//!   gets `_to_<end>` appended, as drains do.
//! - composite tables (a `subpartition`) are not coarsened.
//!
//! Retention then treats a merged partition like any other: it expires when its upper bound
//! reaches the cutoff.

use super::layout::Layout;
use super::{action, describe, Action, ActionKind, CoarsePart, FitError, LayoutError};
use crate::catalog::Table;
use crate::key::{Axis, Bound, Span, TimeUnit};
use crate::name_template::{From, Namer};
use crate::names::QualifiedName;
use crate::policy::Policy;
use chrono::{DateTime, Utc};

/// The default name template of a coarse interval (see the module docs).
pub fn coarse_template(interval: Span) -> &'static str {
    match interval {
        Span::Time {
            unit: TimeUnit::Year,
            ..
        } => "{{ table }}_p{{ from | date(format='%Y') }}",
        Span::Time {
            unit: TimeUnit::Month,
            ..
        } => "{{ table }}_p{{ from | date(format='%Y%m') }}",
        Span::Time {
            unit: TimeUnit::Week,
            ..
        } => "{{ table }}_w{{ from | date(format='%Y%m%d') }}",
        Span::Time {
            unit: TimeUnit::Day,
            ..
        } => "{{ table }}_p{{ from | date(format='%Y%m%d') }}",
        _ => "{{ table }}_p{{ from | date(format='%Y%m%d_%H') }}",
    }
}

/// The merges `policy.coarsen` asks for, after `earlier` (the rest of the table's plan).
pub(super) fn plan_coarsen(
    policy: &Policy,
    table: &Table,
    now: DateTime<Utc>,
    earlier: &[Action],
) -> Result<Vec<Action>, FitError> {
    if policy.coarsen.is_empty() || policy.subpartition.is_some() {
        return Ok(vec![]);
    }
    let layout = Layout::new(policy, table, now)?;
    if !layout.kind.is_time() {
        return Ok(vec![]);
    }
    let after = super::simulate(table, earlier);
    let mut parts: Vec<(i64, i64, QualifiedName)> = Vec::new();
    // Every range, Min/Max bounds included, so that a period one of them reaches is skipped.
    let mut edges: Vec<(Bound, Bound)> = Vec::new();
    for (from, to, p) in after.ranges() {
        edges.push((from, to));
        if let (Bound::At(f), Bound::At(t)) = (from, to) {
            parts.push((f, t, p.name.clone()));
        }
    }
    parts.sort_by_key(|p| (p.0, p.1));
    let mut taken_names: Vec<String> = table
        .partitions
        .iter()
        .map(|p| p.name.name.clone())
        .chain(earlier.iter().map(|a| a.kind.partition().name.clone()))
        .collect();
    let mut used = vec![false; parts.len()];
    let mut out: Vec<Action> = Vec::new();
    for level in policy.coarsen.iter().rev() {
        let axis = Axis::new(layout.kind, level.interval, policy.timezone)
            .map_err(|e| FitError::Layout(LayoutError::Axis(e)))?;
        let cutoff = layout
            .axis
            .minus(layout.reference, level.after)
            .map_err(|e| FitError::Layout(LayoutError::Axis(e)))?;
        let template = policy
            .name_template
            .as_deref()
            .unwrap_or_else(|| coarse_template(level.interval));
        let namer = Namer::new(template, &table.name.name)
            .map_err(|e| FitError::Template(e.to_string()))?;
        let mut i = 0;
        while i < parts.len() {
            let idx = axis.index_of(parts[i].0);
            let out_of_range = || FitError::Layout(LayoutError::OutOfRange);
            let p_from = axis.start_of(idx).ok_or_else(out_of_range)?;
            let p_to = axis
                .start_of(idx.checked_add(1).ok_or_else(out_of_range)?)
                .ok_or_else(out_of_range)?;
            // The partitions that start in this period.
            let mut j = i;
            while j < parts.len() && parts[j].0 < p_to {
                j += 1;
            }
            let group = i..j;
            i = j;
            if p_to > cutoff || group.len() < 2 || group.clone().any(|k| used[k]) {
                continue;
            }
            let inside = |f: Bound, t: Bound| Bound::At(p_from) <= f && t <= Bound::At(p_to);
            let overlaps = |f: Bound, t: Bound| f < Bound::At(p_to) && Bound::At(p_from) < t;
            let straddles = edges.iter().any(|&(f, t)| overlaps(f, t) && !inside(f, t));
            let contiguous = group.clone().skip(1).all(|k| parts[k].0 == parts[k - 1].1);
            if straddles || !contiguous {
                continue;
            }
            let (from, to) = (parts[group.start].0, parts[group.end - 1].1);
            let local = |c: i64| From::Local(layout.axis.local(c));
            let mut name = namer
                .name(local(from), Some(&local(to)))
                .map_err(|e| FitError::Template(e.to_string()))?;
            if taken_names.contains(&name) {
                name = format!("{name}_to_{}", end_text(&layout, to));
            }
            if name.len() > crate::policy::MAX_IDENT_BYTES {
                return Err(FitError::NameTooLong { name });
            }
            if taken_names.contains(&name) {
                return Err(FitError::RangeNameTaken {
                    range: describe(layout.kind, Bound::At(from), Bound::At(to)),
                    name,
                });
            }
            taken_names.push(name.clone());
            for k in group.clone() {
                used[k] = true;
            }
            let fine: Vec<CoarsePart> = group
                .clone()
                .map(|k| CoarsePart {
                    partition: parts[k].2.clone(),
                    from: Bound::At(parts[k].0),
                    to: Bound::At(parts[k].1),
                })
                .collect();
            let reason = format!(
                "coarsen after {}: the {} partitions of {} (a period of {}) ended at or before now - {}; merged into one",
                level.after,
                fine.len(),
                describe(layout.kind, Bound::At(from), Bound::At(to)),
                level.interval,
                level.after,
            );
            out.push(action(
                table,
                ActionKind::Coarsen {
                    partition: QualifiedName::new(table.name.schema.clone(), name),
                    from: Bound::At(from),
                    to: Bound::At(to),
                    parts: fine,
                },
                reason,
            ));
        }
    }
    out.sort_by_key(|a| match &a.kind {
        ActionKind::Coarsen { from, .. } => *from,
        _ => Bound::Min,
    });
    Ok(out)
}

/// A bound for a name: `20260401`, or with the time when it is not midnight.
fn end_text(layout: &Layout, c: i64) -> String {
    let local = layout.axis.local(c);
    if local.format("%H%M%S").to_string() == "000000" {
        local.format("%Y%m%d").to_string()
    } else {
        local.format("%Y%m%d_%H%M%S").to_string()
    }
}
