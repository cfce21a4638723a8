//! `apply`: lock each table, re-read its catalog under the lock, plan, and run the steps on
//! the backend. Engine-neutral: every engine difference is behind [`Backend`].

pub mod interrupt;
mod pipelined;
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

/// Read every table once (under the locks held), then plan each locked table (on a thread of
/// its own) and run its steps as it comes, in order (see `pipelined.rs`). A table that cannot
/// be read fails whether it is locked or not; one another run holds is skipped; with `stop`,
/// nothing runs.
fn apply_locked(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    held: &[bool],
    stop: bool,
    now: DateTime<Utc>,
    opts: &Options,
    log: &mut dyn FnMut(&Event),
) -> Vec<(String, TableOutcome)> {
    // The read may take partitions' names from the bound cache unchecked (PostgreSQL; see
    // `Backend::names_from_cache`): a table is read again with its names before anything
    // acts on them, below.
    backend.names_from_cache(true);
    let (mut meta, mut reads) = backend::read_tables(backend, policies, Some(now));
    backend.names_from_cache(false);
    let referenced = |reads: &[TableRead]| {
        reads
            .iter()
            .any(|r| matches!(r, TableRead::Found(t) if !t.stats.referenced_by.is_empty()))
    };
    // Foreign keys are judged by partition names: every table read again with them.
    if backend.names_unchecked() && referenced(&reads) {
        (meta, reads) = backend::read_tables(backend, policies, Some(now));
    }
    let unchecked = backend.names_unchecked();
    let (engine, version) = meta.unwrap_or((backend.engine(), String::new()));
    // Foreign keys across the tables: referencing tables first, refused expiries left out.
    // Without a foreign key referencing a managed table there is nothing to judge (and no
    // need to copy every table read).
    let referenced = referenced(&reads);
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
    // A table that could not be read is not read again for its names.
    let found: Vec<bool> = reads
        .iter()
        .map(|r| matches!(r, TableRead::Found(_)))
        .collect();
    let mut reads: Vec<Option<TableRead>> = reads.into_iter().map(Some).collect();
    let jobs: Vec<(usize, TableRead)> = fk
        .order
        .iter()
        .filter_map(|&i| reads[i].take().map(|r| (i, r)))
        .collect();
    // Tables are planned on a thread of their own while the server runs the steps of the
    // tables planned before them; every step runs here, in the plan's order.
    let mut outcomes: Vec<(String, TableOutcome)> = Vec::with_capacity(jobs.len());
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (fk, version) = (&fk, version.as_str());
        let job = move |i: usize| Job {
            policy: policies[i],
            held: held[i],
            stop,
            now,
            opts,
            engine,
            version,
            fk,
        };
        scope.spawn(move || {
            for (i, read) in jobs {
                if tx.send((i, job(i).prepare(read))).is_err() {
                    break;
                }
            }
        });
        let mut runner = pipelined::Runner::new(!referenced);
        loop {
            let (i, prepared) = match rx.try_recv() {
                Ok(p) => p,
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    // Nothing more planned yet: the server gets what is ready meanwhile.
                    runner.flush(backend, log);
                    match rx.recv() {
                        Ok(p) => p,
                        Err(_) => break,
                    }
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
            };
            // Names taken from the cache unchecked: a table whose plan removes partitions, or
            // that failed (a stale name can make a plan fail, or differ from a saved one), is
            // read again with its names from pg_class and planned again, under the same
            // locks. Its steps then name what is there, and a rename never fails a run.
            let again = unchecked
                && found[i]
                && match &prepared {
                    Prepared::Run(_, planned) => planned.confirm.is_some(),
                    Prepared::Done(_, outcome) => matches!(outcome, TableOutcome::Failed { .. }),
                };
            let prepared = match again {
                false => prepared,
                true => {
                    // (Steps gathered for other tables wait unsent, as for `confirm_bounds`.)
                    let (_, mut read) = backend::read_tables(backend, &[policies[i]], Some(now));
                    match read.pop() {
                        Some(read) => job(i).prepare(read),
                        None => prepared,
                    }
                }
            };
            match prepared {
                Prepared::Done(name, outcome) => outcomes.push((name, outcome)),
                Prepared::Run(name, planned) => {
                    // A bound taken from the cache never chooses what is removed.
                    if let Some((table, removed)) = &planned.confirm {
                        let removed: Vec<&QualifiedName> = removed.iter().collect();
                        if let Err(m) = backend.confirm_bounds(table, &removed) {
                            outcomes.push((name, failed(planned.policy, m)));
                            continue;
                        }
                    }
                    runner.add(outcomes.len(), planned, backend, log);
                    outcomes.push((name, TableOutcome::Skipped));
                }
            }
        }
        for (slot, outcome) in runner.finish(backend, log) {
            outcomes[slot].1 = outcome;
        }
    });
    outcomes
}

/// What planning one table needs.
struct Job<'a> {
    policy: &'a Policy,
    held: bool,
    stop: bool,
    now: DateTime<Utc>,
    opts: &'a Options<'a>,
    engine: crate::catalog::Engine,
    version: &'a str,
    fk: &'a crate::plan::foreign_keys::FkJudgement,
}

/// A table planned: its steps to run, or its outcome already.
enum Prepared<'p> {
    Done(String, TableOutcome),
    Run(String, Planned<'p>),
}

impl<'a> Job<'a> {
    /// Plan one table read under the locks (nothing here talks to the server).
    fn prepare(&self, read: TableRead) -> Prepared<'a> {
        let (policy, now, opts) = (self.policy, self.now, self.opts);
        let table = match read {
            TableRead::Found(t) => t,
            TableRead::Refused(m) | TableRead::Unreadable(m) => {
                return Prepared::Done(policy.table.to_string(), failed(policy, m));
            }
        };
        let name = table.name.to_string();
        if self.stop {
            return Prepared::Done(name, interrupted(vec![], 0));
        }
        if !self.held {
            // Said once, by the outcome.
            return Prepared::Done(name, TableOutcome::Skipped);
        }
        let expiring_now = opts
            .real_now
            .filter(|real| *real != now)
            .map(|real| crate::plan::expiring(policy, &table, real));
        let mut catalog = Catalog {
            format_version: CATALOG_FORMAT_VERSION,
            engine: self.engine,
            server_version: self.version.to_string(),
            tables: vec![*table],
        };
        let refused = crate::render::refusals(policy, &catalog, self.fk);
        let (actions, steps) = match plan_steps_judged(&[policy], &catalog, now, self.fk) {
            Ok(planned) => planned,
            Err(e) => return Prepared::Done(name, failed(policy, e.to_string())),
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
                return Prepared::Done(name, failed(policy, message));
            }
        }
        if let Some(doc) = opts.expected {
            let fresh = PlanDoc::new(now, &steps);
            if let Err(d) = compare(doc, &fresh, Some(&[name.as_str()])) {
                return Prepared::Done(name, failed(policy, d.to_string()));
            }
        }
        let removed: Vec<QualifiedName> = actions
            .iter()
            .flat_map(|a| a.kind.removes())
            .cloned()
            .collect();
        let confirm = match removed.is_empty() {
            true => None,
            false => Some((Box::new(catalog.tables.remove(0)), removed)),
        };
        Prepared::Run(
            name,
            Planned {
                policy,
                steps,
                refused,
                confirm,
            },
        )
    }
}

/// A table planned under the locks, its steps not yet run.
struct Planned<'p> {
    policy: &'p Policy,
    steps: Vec<Step>,
    /// What the plan refused to do (a foreign key): the table's failure once the rest is done.
    refused: Vec<String>,
    /// The table as read and the partitions the plan removes, when it removes any: their
    /// bounds are confirmed from the server before the steps run.
    confirm: Option<(Box<crate::catalog::Table>, Vec<QualifiedName>)>,
}

/// Run one step, or go on from its first attempt's answer when that was sent along with other
/// steps (retried as it would have been), telling `log` what happens. The notices the step
/// caused are the applied step's.
fn run_one(
    backend: &mut dyn Backend,
    policy: &Policy,
    step: &Step,
    first: Option<backend::StepAnswer>,
    log: &mut dyn FnMut(&Event),
) -> Result<Applied, ApplyError> {
    let (first, mut notices) = match first {
        Some((answer, notices)) => (Some(answer), notices),
        None => {
            // What the server said before this step (catalog reads) is not the step's.
            let _ = backend.take_notices();
            (None, Vec::new())
        }
    };
    let result = {
        let log_cell = std::cell::RefCell::new(&mut *log);
        step::run_step_after(
            backend,
            step,
            policy.retries,
            step::BatchSizing::for_policy(policy),
            first,
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
    notices.extend(backend.take_notices());
    for message in &notices {
        log(&Event::Notice {
            step: &step.id,
            message,
        });
    }
    result.map(|mut applied| {
        applied.notices = notices;
        log(&Event::Applied(&applied));
        applied
    })
}
