//! `auto_lists`: a list partition for each value waiting in the catch-all with at least
//! `min_rows` rows (read by the catalog reader, most rows first), never more than
//! `max_partitions` list partitions in all. A value whose partition cannot be named (an empty
//! slug, a name too long or already taken) is refused with the reason; the others proceed.

use super::{action, Action, ActionKind};
use crate::catalog::{PartBound, Table, WaitingValue};
use crate::key::KeyKind;
use crate::name_template::{slug, Namer};
use crate::names::QualifiedName;
use crate::policy::{ListValue, Policy};

/// What `auto_lists` plans for one table.
#[derive(Debug, Default)]
pub struct AutoPlan {
    pub actions: Vec<Action>,
    /// Values refused, with the reason (for people).
    pub refused: Vec<String>,
    /// Values that qualify but find the cap reached.
    pub beyond_cap: Vec<WaitingValue>,
    /// The list partitions the table has once the plan ran, and the cap.
    pub total: usize,
    pub cap: u32,
}

/// Plan `auto_lists` for `table`, after the `planned` actions of its `lists`.
pub fn plan_auto(policy: &Policy, table: &Table, planned: &[Action]) -> AutoPlan {
    let Some(auto) = &policy.auto_lists else {
        return AutoPlan::default();
    };
    let mut out = AutoPlan {
        cap: auto.max_partitions,
        ..AutoPlan::default()
    };
    let existing = table
        .partitions
        .iter()
        .filter(|p| matches!(p.bound, PartBound::List { .. }))
        .count();
    let static_creates = planned
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::CreateList { .. }))
        .count();
    out.total = existing + static_creates;
    if table.default_partition().is_none() {
        return out;
    }
    // Values the policy's `lists` place (their partition exists or is planned).
    let listed: Vec<String> = policy
        .lists
        .values()
        .flatten()
        .map(super::list_text)
        .collect();
    let mut taken: Vec<QualifiedName> = table
        .partitions
        .iter()
        .map(|p| p.name.clone())
        .chain(planned.iter().map(|a| a.kind.partition().clone()))
        .collect();
    let namer = Namer::new(&auto.name, &table.name.name);
    let integer = matches!(
        table.key.kind,
        Some(KeyKind::SmallInt | KeyKind::Int | KeyKind::BigInt)
    );
    for w in &table.stats.waiting {
        if listed.contains(&w.value) || w.rows < auto.min_rows {
            continue;
        }
        if out.total >= auto.max_partitions as usize {
            out.beyond_cap.push(w.clone());
            continue;
        }
        let refuse = |why: String| {
            format!(
                "auto_lists (at {}): value {:?} ({} rows waiting in the catch-all) is refused: {why}; it stays in the catch-all (list it in `lists` with a suffix of your choice)",
                auto.origin, w.value, w.rows
            )
        };
        let suffix = slug(&w.value);
        if suffix.is_empty() {
            out.refused.push(refuse(
                "its slug is empty (no ASCII letter or digit), so it cannot name a partition"
                    .into(),
            ));
            continue;
        }
        let name = match namer
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|n| n.value_name(&w.value).map_err(|e| e.to_string()))
        {
            Ok(name) => QualifiedName::new(table.name.schema.clone(), name),
            Err(e) => {
                out.refused
                    .push(refuse(format!("cannot name its partition: {e}")));
                continue;
            }
        };
        if taken.contains(&name) {
            out.refused.push(refuse(format!(
                "its partition would be named `{}`, which is already taken",
                name.name
            )));
            continue;
        }
        taken.push(name.clone());
        out.total += 1;
        let value = match w.value.parse::<i64>() {
            Ok(i) if integer => ListValue::Int(i),
            _ => ListValue::Str(w.value.clone()),
        };
        let reason = format!(
            "auto_lists: value {:?} has {} rows waiting in the catch-all (min_rows = {}); list partition {} of max_partitions = {}; its rows move out of the catch-all",
            w.value, w.rows, auto.min_rows, out.total, auto.max_partitions
        );
        out.actions.push(action(
            table,
            ActionKind::CreateList {
                partition: name,
                suffix,
                values: vec![value],
                move_rows: true,
            },
            reason,
        ));
    }
    out
}
