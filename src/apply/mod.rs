//! `apply`: lock each table, re-read its catalog under the lock, plan, and run the steps on
//! the backend. Engine-neutral: every engine difference is behind [`Backend`].

pub mod interrupt;
mod saved;
mod step;

pub use saved::{compare, Divergence};
pub use step::{
    backoff, run_step, Applied, ApplyError, Batch, BatchSizing, MoveProgress, Sized, LINE_EVERY,
};

use crate::backend::{self, Backend, DbError};
use crate::catalog::{Catalog, CatalogError, TableRead, CATALOG_FORMAT_VERSION};
use crate::names::QualifiedName;
use crate::policy::Policy;
use crate::render::{plan_steps_judged, PlanDoc, PlanStepsError, Step};
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
    /// The server said something worth showing while the step ran (a NOTICE or WARNING).
    Notice {
        step: &'a str,
        message: &'a str,
    },
    /// A batched move committed a batch. `progress.line`: time for a log line (a few per
    /// minute at most); the other events are for a progress bar.
    Moving {
        step: &'a str,
        progress: &'a MoveProgress,
    },
}

impl Event<'_> {
    /// Whether a log that is not a terminal should print this event.
    pub fn is_log_line(&self) -> bool {
        match self {
            Event::Moving { progress, .. } => progress.line,
            _ => true,
        }
    }
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
            Event::Notice { step, message } => write!(f, "{step}: server says: {message}"),
            Event::Moving { step, progress: p } => {
                write!(
                    f,
                    "moving step={step} rows_moved={} batches={}",
                    p.moved, p.batches
                )?;
                if let Some(t) = p.total {
                    write!(f, " rows_total={t}")?;
                }
                write!(f, " done={}", p.done)
            }
        }
    }
}

/// Outcome of `apply` for one table.
#[derive(Debug)]
pub enum TableOutcome {
    Done(Vec<Applied>),
    /// Another run holds the table's advisory lock.
    Skipped,
    /// The table could not be read, planned or applied; the steps in `done` were applied
    /// before the failure. Other tables went ahead.
    Failed {
        done: Vec<Applied>,
        error: String,
    },
    /// A stop was requested (Ctrl-C, SIGTERM): the steps in `done` were applied (the one in
    /// flight finished and was checked); `not_started` steps were not begun.
    Interrupted {
        done: Vec<Applied>,
        not_started: usize,
    },
}

impl TableOutcome {
    pub fn applied(&self) -> &[Applied] {
        match self {
            TableOutcome::Done(done)
            | TableOutcome::Failed { done, .. }
            | TableOutcome::Interrupted { done, .. } => done,
            TableOutcome::Skipped => &[],
        }
    }
}

/// How `apply` checks what it is about to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// A saved plan: a table's fresh plan must equal the saved steps for it, or nothing runs on
    /// that table.
    pub expected: Option<&'a PlanDoc>,
    /// The real clock, when the plan is made for another time (a saved plan's): a partition is
    /// detached, dropped or archived only if it has expired by this time too.
    pub real_now: Option<DateTime<Utc>>,
}

/// Apply: take the advisory locks of every table in one go, read the catalog once under them
/// (so a run that finished a moment ago is seen), then plan and run each table on its own, so
/// that one table that cannot be read, planned or applied never stops the others. A table
/// another run holds is skipped. With `expected`, a table's fresh plan must equal the saved
/// one's steps for it, or nothing runs on that table. `Err`: the connection failed.
pub fn apply(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    opts: &Options,
    log: &mut dyn FnMut(&Event),
) -> Result<Vec<(String, TableOutcome)>, ApplyRunError> {
    // The lock names, as the catalog will name the tables (a policy may leave the schema to
    // the connection's default).
    let names: Vec<String> = policies
        .iter()
        .map(|p| backend::qualified_name(backend, &p.table))
        .collect();
    let stop = interrupt::requested();
    let held = if stop || names.is_empty() {
        vec![false; names.len()]
    } else {
        backend.try_lock_all(&names)?
    };
    let locked: Vec<String> = names
        .iter()
        .zip(&held)
        .filter(|(_, h)| **h)
        .map(|(n, _)| n.clone())
        .collect();
    let result = apply_locked(backend, policies, &held, stop, now, opts, log);
    if !locked.is_empty() {
        let _ = backend.unlock_all(&locked);
    }
    Ok(result)
}

/// A failure of one table, naming its policy.
fn failed(policy: &Policy, message: String) -> TableOutcome {
    failed_after(policy, vec![], message)
}

fn failed_after(policy: &Policy, done: Vec<Applied>, message: String) -> TableOutcome {
    TableOutcome::Failed {
        done,
        error: crate::render::located(policy, message),
    }
}

fn interrupted(done: Vec<Applied>, not_started: usize) -> TableOutcome {
    TableOutcome::Interrupted { done, not_started }
}

/// Read every table once (under the locks held), then plan and run each locked table, one at
/// a time. A table that cannot be read fails whether it is locked or not; one another run
/// holds is skipped; with `stop`, nothing runs.
fn apply_locked(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    held: &[bool],
    stop: bool,
    now: DateTime<Utc>,
    opts: &Options,
    log: &mut dyn FnMut(&Event),
) -> Vec<(String, TableOutcome)> {
    let (meta, reads) = backend::read_tables(backend, policies, Some(now));
    let (engine, version) = meta.unwrap_or((backend.engine(), String::new()));
    // Foreign keys across the tables: referencing tables first, refused expiries left out.
    // Without a foreign key referencing a managed table there is nothing to judge (and no
    // need to copy every table read).
    let referenced = reads
        .iter()
        .any(|r| matches!(r, TableRead::Found(t) if !t.stats.referenced_by.is_empty()));
    let fk = match referenced {
        false => crate::plan::foreign_keys::FkJudgement {
            order: (0..policies.len()).collect(),
            ..Default::default()
        },
        true => crate::plan::foreign_keys::judge(
            policies,
            &Catalog {
                format_version: CATALOG_FORMAT_VERSION,
                engine,
                server_version: version.clone(),
                tables: reads
                    .iter()
                    .filter_map(|r| match r {
                        TableRead::Found(t) => Some((**t).clone()),
                        _ => None,
                    })
                    .collect(),
            },
            now,
        ),
    };
    let mut reads: Vec<Option<TableRead>> = reads.into_iter().map(Some).collect();
    let mut outcomes = Vec::new();
    for i in fk.order.clone() {
        let (policy, held) = (&policies[i], &held[i]);
        let Some(read) = reads[i].take() else {
            continue;
        };
        let table = match read {
            TableRead::Found(t) => t,
            TableRead::Refused(m) | TableRead::Unreadable(m) => {
                outcomes.push((policy.table.to_string(), failed(policy, m)));
                continue;
            }
        };
        let name = table.name.to_string();
        if stop {
            outcomes.push((name, interrupted(vec![], 0)));
            continue;
        }
        if !held {
            // Said once, by the outcome.
            outcomes.push((name, TableOutcome::Skipped));
            continue;
        }
        let name = &name;
        let expiring_now = opts
            .real_now
            .filter(|real| *real != now)
            .map(|real| crate::plan::expiring(policy, &table, real));
        let catalog = Catalog {
            format_version: CATALOG_FORMAT_VERSION,
            engine,
            server_version: version.clone(),
            tables: vec![*table],
        };
        let refused = crate::render::refusals(policy, &catalog, &fk);
        let (actions, steps) = match plan_steps_judged(&[*policy], &catalog, now, &fk) {
            Ok(planned) => planned,
            Err(e) => {
                outcomes.push((name.clone(), failed(policy, e.to_string())));
                continue;
            }
        };
        if let (Some(real), Some(expiring)) = (opts.real_now, &expiring_now) {
            let early: Vec<String> = actions
                .iter()
                .filter(|a| a.kind.is_expiry() && !expiring.contains(a.kind.partition()))
                .map(|a| a.kind.partition().to_string())
                .collect();
            if !early.is_empty() {
                let message = format!(
                    "the plan, made for {}, would {} {} before {} expired by the real clock ({}); nothing was done on this table",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    if early.len() == 1 { "remove" } else { "remove partitions" },
                    early.join(", "),
                    if early.len() == 1 { "it has" } else { "they have" },
                    real.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                outcomes.push((name.clone(), failed(policy, message)));
                continue;
            }
        }
        // A bound taken from the cache never chooses what is removed.
        let removed: Vec<&QualifiedName> = actions.iter().flat_map(|a| a.kind.removes()).collect();
        if let Err(m) = backend.confirm_bounds(&catalog.tables[0], &removed) {
            outcomes.push((name.clone(), failed(policy, m)));
            continue;
        }
        if let Some(doc) = opts.expected {
            let fresh = PlanDoc::new(now, &steps);
            if let Err(d) = compare(doc, &fresh, Some(&[name.as_str()])) {
                outcomes.push((name.clone(), failed(policy, d.to_string())));
                continue;
            }
        }
        let outcome = match run_table(backend, policy, &steps, log) {
            // What the plan refused is this table's failure, after the rest was done.
            TableOutcome::Done(done) if !refused.is_empty() => {
                failed_after(policy, done, refused.join("; "))
            }
            other => other,
        };
        outcomes.push((name.clone(), outcome));
    }
    outcomes
}

/// Run one table's steps in order; stop at the first failure or when a stop is requested.
fn run_table(
    backend: &mut dyn Backend,
    policy: &Policy,
    steps: &[Step],
    log: &mut dyn FnMut(&Event),
) -> TableOutcome {
    let mut done = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        if interrupt::requested() {
            return interrupted(done, steps.len() - k);
        }
        // What the server said before this step (catalog reads) is not the step's.
        let _ = backend.take_notices();
        let result = {
            let log_cell = std::cell::RefCell::new(&mut *log);
            run_step(
                backend,
                step,
                policy.retries,
                step::BatchSizing::for_policy(policy),
                |n, msg| {
                    (log_cell.borrow_mut())(&Event::Retry {
                        step: &step.id,
                        attempt: n,
                        retries: policy.retries,
                        message: msg,
                    })
                },
                &mut |p: &MoveProgress| {
                    (log_cell.borrow_mut())(&Event::Moving {
                        step: &step.id,
                        progress: p,
                    })
                },
            )
        };
        let notices = backend.take_notices();
        for message in &notices {
            log(&Event::Notice {
                step: &step.id,
                message,
            });
        }
        match result {
            Ok(mut applied) => {
                applied.notices = notices;
                log(&Event::Applied(&applied));
                done.push(applied);
            }
            Err(ApplyError::Interrupted { .. }) => {
                return interrupted(done, steps.len() - k);
            }
            Err(e) => return failed_after(policy, done, e.to_string()),
        }
    }
    TableOutcome::Done(done)
}
