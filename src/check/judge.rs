//! The pure judgement of one table: the plan at `now` and where the table stands against its
//! policy (premake, gaps, catch-all, expiry, interrupted detaches), as findings with a status.

use super::{CatchAll, Phase, State, Status, TableCheck};
use crate::catalog::{Catalog, Engine, PartBound, Table, CATALOG_FORMAT_VERSION};
use crate::key::{Bound, KeyKind};
use crate::output::plural;
use crate::plan::{describe, Action, ActionKind, Layout};
use crate::policy::{Policy, Strategy};
use crate::render::{self, PlanStepsError};
use chrono::{DateTime, Utc};

/// Judge one table (pure): the plan at `now`, and where the table stands against its policy.
pub fn assess(
    policy: &Policy,
    table: &Table,
    engine: Engine,
    server_version: &str,
    now: DateTime<Utc>,
) -> TableCheck {
    let mut c = TableCheck::new(table.name.to_string());
    c.strategy = Some(table.strategy.as_str());
    c.partitions = Some(
        table
            .partitions
            .iter()
            .filter(|p| p.bound != PartBound::Orphan)
            .count(),
    );
    super::ceiling::partition_ceiling(&mut c, policy);
    let catalog = Catalog {
        format_version: CATALOG_FORMAT_VERSION,
        engine,
        server_version: server_version.to_string(),
        tables: vec![table.clone()],
    };
    let (actions, steps) = match render::plan_steps(&[policy], &catalog, now) {
        Ok(x) => x,
        Err(e) => {
            let message = match e {
                PlanStepsError::Plan(p) => p.message,
                other => other.to_string(),
            };
            c.add(Status::Critical, format!("policy error: {message}"));
            return c;
        }
    };
    c.pending_steps = Some(steps.len());

    // A partition the plan creates to drain old catch-all rows is not an expired one yet.
    let created = |a: &Action| {
        actions.iter().any(|c| {
            matches!(c.kind, ActionKind::Create { .. }) && c.kind.partition() == a.kind.partition()
        })
    };
    let expired = actions
        .iter()
        .filter(|a| a.kind.is_expiry() && !created(a))
        .count();
    let interrupted = actions
        .iter()
        .filter(|a| a.kind.is_interrupted_detach())
        .count();
    c.expired_partitions = Some(expired);
    c.interrupted_detaches = Some(interrupted);

    super::auto_lists::assess_auto(&mut c, policy, table);
    match table.strategy {
        Strategy::Range => assess_range(&mut c, policy, table, &actions, now),
        Strategy::List | Strategy::Hash => {
            if !actions.is_empty() {
                c.add(
                    Status::Warning,
                    format!(
                        "{} change{} pending: {}",
                        actions.len(),
                        plural(actions.len()),
                        summarize_actions(&actions)
                    ),
                );
            }
        }
    }
    for name in table.stats.in_transit.iter().chain(&table.stats.holding) {
        c.add(
            Status::Warning,
            format!(
                "a stopped move left its holding table {} behind (its rows belong to this table); `partctl apply` finishes or returns them",
                crate::names::QualifiedName::new(table.name.schema.clone(), name.clone())
            ),
        );
    }
    if interrupted > 0 {
        c.add(
            Status::Warning,
            format!(
                "{interrupted} interrupted detach{} to finish ({})",
                if interrupted == 1 { "" } else { "es" },
                names_of(&actions, ActionKind::is_interrupted_detach)
            ),
        );
    }
    if expired > 0 {
        c.add(
            Status::Warning,
            format!(
                "{expired} expired partition{} not yet removed ({})",
                plural(expired),
                names_of(
                    &actions
                        .iter()
                        .filter(|a| !created(a))
                        .cloned()
                        .collect::<Vec<_>>(),
                    ActionKind::is_expiry
                )
            ),
        );
    }
    c
}

fn assess_range(
    c: &mut TableCheck,
    policy: &Policy,
    table: &Table,
    actions: &[Action],
    now: DateTime<Utc>,
) {
    // The planner accepted the table, so it lays out (the same layout the planner used).
    let Ok(layout) = Layout::new(policy, table, now) else {
        return;
    };
    let (kind, cur_start, cur_end, horizon) = (layout.kind, layout.from, layout.to, layout.horizon);
    let what = layout.reference_text();
    let holding = table
        .ranges()
        .find(|(from, to, _)| layout.holds_reference(*from, *to));
    let end = match holding {
        Some((from, to, p)) => {
            c.current_partition = Some(format!("{} {}", p.name.name, describe(kind, from, to)));
            to
        }
        None => {
            c.add(
                Status::Critical,
                format!(
                    "no partition holds the current period {} ({what}): {}",
                    describe(kind, cur_start, cur_end),
                    if table.default_partition().is_some() {
                        "inserts for it land in the catch-all"
                    } else {
                        "inserts for it fail"
                    }
                ),
            );
            cur_end
        }
    };
    let future = table.ranges().filter(|(from, _, _)| *from >= end).count();
    c.future_partitions = Some(future);
    c.premake = Some(policy.premake);

    let creates: Vec<(Bound, Bound, bool)> = actions
        .iter()
        .filter_map(|a| match a.kind {
            ActionKind::Create {
                from,
                to,
                move_rows,
                ..
            } => Some((from, to, move_rows)),
            _ => None,
        })
        .collect();
    let ahead = creates.iter().filter(|(f, _, _)| *f > cur_start).count();
    // Creates that expire at once take the catch-all's rows older than the cutoff: not gaps.
    let drains = creates
        .iter()
        .filter(|(_, t, _)| layout.expired(*t))
        .count();
    let gaps = creates
        .iter()
        .filter(|(_, t, _)| *t <= cur_start && !layout.expired(*t))
        .count();
    if ahead > 0 {
        c.add(
            Status::Warning,
            format!(
                "premake = {}: {future} partition{} ahead of {what}, {ahead} to create",
                policy.premake,
                plural(future)
            ),
        );
    }
    if gaps > 0 {
        c.add(
            Status::Warning,
            format!("{gaps} gap{} in the partition run to fill", plural(gaps)),
        );
    }
    if actions
        .iter()
        .any(|a| matches!(a.kind, ActionKind::CreateDefault { .. }))
    {
        c.add(
            Status::Warning,
            "default_partition = true, but the table has no catch-all partition yet".into(),
        );
    }

    c.catch_all = Some(None);
    if let (Some(lo), Some(hi)) = (table.stats.catch_all_min, table.stats.catch_all_max) {
        let beyond = Bound::At(hi) >= horizon;
        let moves = creates.iter().filter(|(_, _, m)| *m).count();
        let horizon_text = bound_text(kind, horizon);
        let mut msg = format!(
            "rows in the catch-all, keys {} .. {}",
            kind.format(lo),
            kind.format(hi)
        );
        if beyond {
            msg.push_str(&format!(
                "; keys from {horizon_text} on lie beyond the horizon (premake = {}) and stay there",
                policy.premake
            ));
        }
        if moves > 0 {
            msg.push_str(&format!(
                "; {moves} pending create{} move{} rows out of it",
                plural(moves),
                if moves == 1 { "s" } else { "" }
            ));
        }
        if drains > 0 {
            msg.push_str(&format!(
                " ({drains} of them for rows older than the retention cutoff, into a partition that expires at once)"
            ));
        }
        c.add(Status::Warning, msg);
        c.catch_all = Some(Some(CatchAll {
            min: kind.format(lo),
            max: kind.format(hi),
            horizon: horizon_text,
            beyond_horizon: beyond,
            moves_pending: moves,
        }));
    }
}

fn bound_text(kind: KeyKind, b: Bound) -> String {
    match b {
        Bound::Min => "MINVALUE".into(),
        Bound::Max => "MAXVALUE".into(),
        Bound::At(c) => kind.format(c),
    }
}

fn names_of(actions: &[Action], pick: impl Fn(&ActionKind) -> bool) -> String {
    actions
        .iter()
        .filter(|a| pick(&a.kind))
        .map(|a| a.kind.partition().name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `create 2, grow 1`.
fn summarize_actions(actions: &[Action]) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for a in actions {
        let v = a.kind.verb();
        match counts.iter_mut().find(|(w, _)| *w == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    counts
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A conversion recorded for the table and not finished: WARNING with its phase and age. Before
/// cutover the table is still plain, which without a conversion is a policy error; with one it
/// is this warning instead.
pub fn conversion(c: &mut TableCheck, state: &State, now: DateTime<Utc>) {
    if state.phase == Phase::Finished {
        return;
    }
    let age = DateTime::parse_from_rfc3339(&state.updated_at)
        .map(|t| age_text((now - t.with_timezone(&Utc)).num_seconds()))
        .unwrap_or_else(|_| "an unknown time".into());
    let run = format!("`partctl --table {} convert", state.table);
    let message = if state.phase < Phase::CutOver {
        // The plain table's "not partitioned" is what the conversion is about.
        c.findings
            .retain(|f| !(f.status == Status::Critical && f.message.starts_with("policy error:")));
        c.status = c.findings.iter().fold(Status::Ok, |s, f| s.worst(f.status));
        format!(
            "conversion left half-way: phase {}, last progress {age} ago (started {}; {} rows copied); {run}` resumes it, {run} --rollback` abandons it",
            state.phase.as_str(),
            state.started_at,
            state.rows_copied
        )
    } else {
        format!(
            "conversion not finished: cut over {age} ago; {}.{} is still kept in sync by a trigger (every write is made twice) until {run} --finish`",
            state.original_schema, state.unpartitioned_name
        )
    };
    c.add(Status::Warning, message);
}

/// An age for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}
