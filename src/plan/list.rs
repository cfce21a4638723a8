//! List tables: one partition per `lists` entry, matched by its exact value set.

use super::{action, default_action, list_text, partition_name, Action, ActionKind, FitError};
use crate::catalog::{PartBound, Partition, Table};
use crate::policy::Policy;

/// List tables: one partition per `lists` entry, matched by its exact value set. A partition
/// holding some of an entry's values but not exactly them is refused: changing a list partition
/// in place is not row-safe.
pub(super) fn plan_list(policy: &Policy, table: &Table) -> Result<Vec<Action>, FitError> {
    let mut actions = plan_lists(policy, table)?;
    let auto = super::auto_lists::plan_auto(policy, table, &actions);
    actions.extend(auto.actions);
    Ok(actions)
}

/// The catch-all and the partitions of `lists`.
pub(super) fn plan_lists(policy: &Policy, table: &Table) -> Result<Vec<Action>, FitError> {
    let mut actions: Vec<Action> = default_action(policy, table)?.into_iter().collect();
    // Rows can only wait in a catch-all the table has now: one this plan creates is empty. The
    // catalog has no facts on which values the catch-all holds, so any may.
    let has_default = table.default_partition().is_some();
    let existing: Vec<(&Partition, Vec<&String>)> = table
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
                return Err(FitError::ListChanged {
                    partition: p.name.clone(),
                    have,
                    suffix: suffix.clone(),
                    want,
                });
            }
        }
        if exact {
            continue;
        }
        // `name_template` (variables `table`, `suffix`, `values`), else `<table>_<suffix>`.
        let partition = match &policy.name_template {
            Some(t) => {
                let texts: Vec<String> = values.iter().map(list_text).collect();
                let name = crate::name_template::Namer::new(t, &table.name.name)
                    .and_then(|n| n.list_name(suffix, &texts))
                    .map_err(|e| FitError::Template(e.to_string()))?;
                crate::names::QualifiedName::new(table.name.schema.clone(), name)
            }
            None => partition_name(&table.name, suffix)?,
        };
        if table.partitions.iter().any(|p| p.name == partition) {
            return Err(FitError::ListNameTaken {
                suffix: suffix.clone(),
                name: partition.name,
            });
        }
        actions.push(action(
            table,
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
                    "; any of its rows waiting in the catch-all move into it"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(actions)
}
