//! `apply`: lock each table, re-read its catalog under the lock, plan, and run the steps on
//! the backend. Engine-neutral: every engine difference is behind [`Backend`].

mod saved;
mod step;

pub use saved::{compare, Divergence};
pub use step::{backoff, run_step, Applied, ApplyError};

use crate::backend::{Backend, DbError};
use crate::catalog::CatalogError;
use crate::plan;
use crate::policy::Policy;
use crate::render::{plan_steps, PlanDoc, PlanStepsError};
use chrono::{DateTime, Utc};

/// Why `apply` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyRunError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Plan(#[from] PlanStepsError),
    #[error(transparent)]
    Step(#[from] ApplyError),
    #[error("{0}")]
    SavedPlan(Divergence),
}

/// Progress of `apply`, as it happens. `Display` gives the line the CLI prints.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step could not get its lock in time and will be tried again.
    Retry {
        step: &'a str,
        attempt: u32,
        retries: u32,
        message: &'a str,
    },
    Applied(&'a Applied),
    /// Another run holds the table's advisory lock.
    Skipped(&'a str),
}

impl std::fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Retry {
                step,
                attempt,
                retries,
                message,
            } => write!(
                f,
                "{step}: lock not available ({message}); retry {attempt} of {retries}"
            ),
            Event::Applied(a) if a.rows_moved > 0 => write!(
                f,
                "applied {} ({} row{} {})",
                a.id,
                a.rows_moved,
                if a.rows_moved == 1 { "" } else { "s" },
                // The id is table/verb/partition: hash growth and shrinking rehash.
                match a.id.rsplit('/').nth(1) {
                    Some("grow" | "shrink") => "rehashed",
                    _ => "moved",
                }
            ),
            Event::Applied(a) => write!(f, "applied {}", a.id),
            Event::Skipped(table) => write!(
                f,
                "{table}: another partctl run holds this table's lock; skipped"
            ),
        }
    }
}

/// Outcome of `apply` for one table.
#[derive(Debug)]
pub enum TableOutcome {
    Done(Vec<Applied>),
    /// Another run holds the table's advisory lock.
    Skipped,
}

/// Apply: lock each table, re-read the catalog under the lock, plan, and run the steps.
/// With `expected`, the fresh plan must equal it, or nothing runs.
pub fn apply(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    expected: Option<&PlanDoc>,
    log: &mut dyn FnMut(&Event),
) -> Result<Vec<(String, TableOutcome)>, ApplyRunError> {
    // Resolve names (a policy may leave the schema to the connection's default).
    let first = backend.read_catalog(policies, false)?;
    let mut locked: Vec<(usize, String)> = Vec::new();
    let mut outcomes = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let name = plan::resolve(p, &first)
            .map(|t| t.name.to_string())
            .unwrap_or_else(|| p.table.to_string());
        if backend.try_lock(&name)? {
            locked.push((i, name));
        } else {
            log(&Event::Skipped(&name));
            outcomes.push((name, TableOutcome::Skipped));
        }
    }
    let result = apply_locked(backend, policies, &locked, now, expected, log);
    for (_, name) in &locked {
        let _ = backend.unlock(name);
    }
    outcomes.extend(result?);
    Ok(outcomes)
}

fn apply_locked(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    locked: &[(usize, String)],
    now: DateTime<Utc>,
    expected: Option<&PlanDoc>,
    log: &mut dyn FnMut(&Event),
) -> Result<Vec<(String, TableOutcome)>, ApplyRunError> {
    let mine: Vec<&Policy> = locked.iter().map(|(i, _)| policies[*i]).collect();
    if mine.is_empty() {
        return Ok(vec![]);
    }
    // Fresh under the locks: a run that finished a moment ago is seen.
    let catalog = backend.read_catalog(&mine, false)?;
    let (_, steps) = plan_steps(&mine, &catalog, now)?;
    if let Some(doc) = expected {
        let fresh = PlanDoc::new(now, &steps);
        let tables: Vec<&str> = locked.iter().map(|(_, n)| n.as_str()).collect();
        compare(doc, &fresh, Some(&tables)).map_err(ApplyRunError::SavedPlan)?;
    }
    let mut outcomes = Vec::new();
    for (i, name) in locked {
        let mut done = Vec::new();
        for step in steps.iter().filter(|s| &s.table == name) {
            let policy = policies[*i];
            let applied = run_step(backend, step, policy.retries, |n, msg| {
                log(&Event::Retry {
                    step: &step.id,
                    attempt: n,
                    retries: policy.retries,
                    message: msg,
                })
            })?;
            log(&Event::Applied(&applied));
            done.push(applied);
        }
        outcomes.push((name.clone(), TableOutcome::Done(done)));
    }
    Ok(outcomes)
}
