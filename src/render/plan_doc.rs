//! A plan as users see and save it (contract: "Plan as JSON"), and the one function that goes
//! from policies + catalog + now to rendered steps.

use super::{dialect_for, render_all, RenderError, Step};
use crate::catalog::Catalog;
use crate::plan::foreign_keys::FkJudgement;
use crate::plan::{self, Action, PlanError};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a plan could not be made: the policy does not fit the table, or rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanStepsError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// A saved or printed plan (contract: "Plan as JSON").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanDoc {
    pub format_version: u32,
    pub now: DateTime<Utc>,
    pub steps: Vec<StepDoc>,
    /// Tables that could not be planned (an extension of the contract; absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<TableError>,
}

/// A table that could not be read or planned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableError {
    pub table: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepDoc {
    pub id: String,
    pub table: String,
    pub action: String,
    pub partition: String,
    pub reason: String,
    pub lock: String,
    pub sql: Vec<String>,
    /// Whether the statements run in one transaction (an extension of the contract).
    #[serde(default = "yes")]
    pub transaction: bool,
    /// Rows the step is expected to move (an extension of the contract; absent when the step
    /// moves no rows or no estimate exists). See `estimate.rs` for the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_rows_moved: Option<u64>,
    /// What `est_rows_moved` rests on, for people (present with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_rows_basis: Option<String>,
    /// Rows a drop step deletes with its partition, the catalog's estimate (an extension of
    /// the contract; absent for other steps or without an estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_rows_dropped: Option<u64>,
}

/// Two steps are the same step when they do the same thing: the estimates are left out, so
/// that a saved plan still matches after ANALYZE changed them.
impl PartialEq for StepDoc {
    fn eq(&self, o: &StepDoc) -> bool {
        self.id == o.id
            && self.table == o.table
            && self.action == o.action
            && self.partition == o.partition
            && self.reason == o.reason
            && self.lock == o.lock
            && self.sql == o.sql
            && self.transaction == o.transaction
    }
}

impl Eq for StepDoc {}

fn yes() -> bool {
    true
}

impl PlanDoc {
    pub fn new(now: DateTime<Utc>, steps: &[Step]) -> PlanDoc {
        PlanDoc {
            format_version: 1,
            now,
            steps: steps
                .iter()
                .map(|s| StepDoc {
                    id: s.id.clone(),
                    table: s.table.clone(),
                    action: s.action.clone(),
                    partition: s.partition.clone(),
                    reason: s.reason.clone(),
                    lock: s.lock.clone(),
                    sql: s.sql.clone(),
                    transaction: s.transactional,
                    est_rows_moved: s.est_rows_moved.as_ref().map(|e| e.rows),
                    est_rows_basis: s.est_rows_moved.as_ref().map(|e| e.basis.clone()),
                    est_rows_dropped: s.est_rows_dropped,
                })
                .collect(),
            errors: vec![],
        }
    }
}

/// Plan against a catalog, check the engine's rules, and render in the catalog's dialect.
pub fn plan_steps(
    policies: &[&Policy],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<(Vec<Action>, Vec<Step>), PlanStepsError> {
    plan_steps_judged(policies, catalog, now, &FkJudgement::default())
}

/// [`plan_steps`], with the expiries that foreign keys refuse left out and the order they
/// impose said in the reasons (see [`plan::foreign_keys`]).
pub fn plan_steps_judged(
    policies: &[&Policy],
    catalog: &Catalog,
    now: DateTime<Utc>,
    fk: &FkJudgement,
) -> Result<(Vec<Action>, Vec<Step>), PlanStepsError> {
    let mut actions = plan::plan(policies, catalog, now)?;
    fk.adjust(&mut actions);
    let dialect = dialect_for(catalog.engine, &catalog.server_version);
    dialect.check_plan(policies, catalog, &actions)?;
    let steps = render_all(dialect, &actions, now, |a| {
        let idx = policies.iter().position(|p| p.table.matches(&a.table))?;
        Some((idx, policies[idx], catalog.table(&a.table)?))
    })?;
    Ok((actions, steps))
}

/// Plan each policy on its own: the steps of every table that could be planned, and the
/// tables that could not (missing from the catalog, not fitting the policy, an engine rule),
/// each with its policy's location. One table never stops the others.
pub fn plan_each(
    policies: &[&Policy],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> (Vec<Step>, Vec<TableError>) {
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    // Referencing tables first, so that their partitions expire before those they reference.
    let fk = plan::foreign_keys::judge(policies, catalog, now);
    for p in fk.order.iter().map(|&i| policies[i]) {
        match plan_steps_judged(&[p], catalog, now, &fk) {
            Ok((_, mine)) => steps.extend(mine),
            Err(e) => {
                errors.push(TableError {
                    table: p.table.to_string(),
                    error: located(p, e.to_string()),
                });
                continue;
            }
        }
        // Refusals that leave the table's other steps standing.
        for message in refusals(p, catalog, &fk) {
            errors.push(TableError {
                table: p.table.to_string(),
                error: located(p, message),
            });
        }
    }
    (steps, errors)
}

/// What the plan of `policy`'s table refuses while its other steps go ahead: auto-list values
/// that cannot be named, expiries that foreign keys forbid.
pub fn refusals(policy: &Policy, catalog: &Catalog, fk: &FkJudgement) -> Vec<String> {
    let Some(table) = plan::resolve(policy, catalog) else {
        return vec![];
    };
    let mut out: Vec<String> = plan::auto_lists_of(policy, table)
        .map(|a| a.refused)
        .unwrap_or_default();
    out.extend(
        fk.refusals_of(&table.name)
            .map(|m| format!("{}: {m}", table.name)),
    );
    out
}

/// A message about a policy's table that names where the policy is written.
pub fn located(policy: &Policy, message: String) -> String {
    if message.contains(&policy.origin.to_string()) {
        message
    } else {
        format!("{message} (policy at {})", policy.origin)
    }
}
