//! `partctl run`: the cron entry point. For every selected policy that is due, plan + apply +
//! verify, and record the outcome in the database's run history, so that every host running
//! cron against the database sees the same history.
//!
//! **Due**: a policy without `schedule` is always due; otherwise it is due when a fire time of
//! its cron schedule (in the policy's `timezone`) lies in (last successful run, now]. A table
//! with no successful run yet is due. Tables that are not due are reported with their next fire
//! time and not touched (and not recorded: the history holds runs, not cron ticks).
//!
//! **History**: PostgreSQL `partctl.run_history` (schema created when missing), MySQL/MariaDB
//! `partctl`.`run_history` (database created when missing); one row per table run: `ok`,
//! `failed` (with the error) or `skipped` (another run held the table's advisory lock). Times
//! are on the run's clock: `--now` when given, else the wall clock. All SQL is in
//! `templates/<dialect>/history*.sql`, with bound parameters.
//!
//! Files: this one holds the run ([`run`], [`history_only`]) and what it reports ([`TableRun`],
//! [`RunReport`], [`RunStatus`]); `schedule.rs` when a policy is due ([`due`]); `report.rs` the
//! text, Markdown and JSON output ([`render`], [`render_history`]).

mod report;
mod schedule;

use crate::apply::{self, TableOutcome};
use crate::backend::{self, url::scrub, Backend, DbError, DbUrl, Record};
use crate::output::plural;
use crate::policy::Policy;
use crate::verify;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use report::{render, render_history};
pub use schedule::due;
use schedule::not_due_text;

/// What happened to one table in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Failed,
    Skipped,
    NotDue,
}

impl RunStatus {
    /// The history's word for it (`not_due` is never recorded).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
            RunStatus::NotDue => "not_due",
        }
    }
}

/// One table's part of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TableRun {
    pub table: String,
    pub status: RunStatus,
    pub steps_applied: u32,
    pub rows_moved: u64,
    pub message: String,
    /// When the last successful run started, before this one.
    pub last_ok: Option<DateTime<Utc>>,
    /// Not due: the next fire time of the schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<DateTime<Utc>>,
    /// The history row written for this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_id: Option<i64>,
    /// Writing the history row failed (the run counts as an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_error: Option<String>,
    /// The verify report for the table, after a successful apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<verify::Report>,
    /// Verify could not run at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_error: Option<String>,
}

impl TableRun {
    fn new(table: String, status: RunStatus, last_ok: Option<DateTime<Utc>>) -> TableRun {
        TableRun {
            table,
            status,
            steps_applied: 0,
            rows_moved: 0,
            message: String::new(),
            last_ok,
            next_due: None,
            history_id: None,
            history_error: None,
            verify: None,
            verify_error: None,
        }
    }

    /// 0 fine, 2 some verify check fails, 1 error (apply failed, verify or history could not
    /// run).
    pub fn exit_code(&self) -> u8 {
        if self.status == RunStatus::Failed
            || self.history_error.is_some()
            || self.verify_error.is_some()
        {
            return 1;
        }
        self.verify.as_ref().map_or(0, |v| v.exit_code())
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub now: DateTime<Utc>,
    pub exit_code: u8,
    pub tables: Vec<TableRun>,
}

impl RunReport {
    fn new(now: DateTime<Utc>, tables: Vec<TableRun>) -> RunReport {
        let codes: Vec<u8> = tables.iter().map(TableRun::exit_code).collect();
        let exit_code = if codes.contains(&1) {
            1
        } else if codes.contains(&2) {
            2
        } else {
            0
        };
        RunReport {
            now,
            exit_code,
            tables,
        }
    }
}

/// The longest message kept in the history.
const MAX_MESSAGE_CHARS: usize = 8000;

/// Run every due policy: plan + apply + verify, recorded in the history. `url` scrubs its
/// password from any message. An error means the run could not start (no history table).
pub fn run(
    backend: &mut dyn Backend,
    url: Option<&DbUrl>,
    policies: &[&Policy],
    now: DateTime<Utc>,
    log: &mut dyn FnMut(&str),
) -> Result<RunReport, DbError> {
    // Every table's run starts at `now`, the instant its being due was decided for (a table
    // reached late in a long run must not skip a fire time that fell while others ran); it
    // finishes on the same clock, advanced by the wall time since the run began.
    let clock = std::time::Instant::now();
    if !backend.history_exists()? {
        backend.history_init()?;
    }
    let names = backend::table_names(backend, policies);
    let clean = |m: &str| -> String {
        let m = match url {
            Some(u) => scrub(m, u),
            None => m.to_string(),
        };
        if m.chars().count() > MAX_MESSAGE_CHARS {
            m.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + " ..."
        } else {
            m
        }
    };
    let mut out = Vec::new();
    for (p, name) in policies.iter().zip(names) {
        if apply::interrupt::requested() {
            let mut t = TableRun::new(name, RunStatus::NotDue, None);
            t.message = "not run: interrupted".into();
            out.push(t);
            continue;
        }
        let last_ok = match backend.history_last_ok(&name) {
            Ok(t) => t,
            Err(e) => {
                let mut t = TableRun::new(name, RunStatus::Failed, None);
                t.message = clean(&format!("reading the run history: {e}"));
                t.history_error = Some(t.message.clone());
                out.push(t);
                continue;
            }
        };
        if let Err(next) = due(p, last_ok, now) {
            let mut t = TableRun::new(name, RunStatus::NotDue, last_ok);
            t.next_due = next;
            t.message = not_due_text(next);
            out.push(t);
            continue;
        }

        let mut counting = |e: &apply::Event| {
            if e.is_log_line() {
                log(&e.to_string())
            }
        };
        let outcome = apply::apply(
            backend,
            &[*p],
            now,
            &apply::Options::default(),
            &mut counting,
        );
        let mut t = TableRun::new(name.clone(), RunStatus::Ok, last_ok);
        match outcome {
            Ok(outcomes) => match outcomes.into_iter().next() {
                Some((resolved, outcome)) => {
                    t.table = resolved;
                    t.steps_applied = outcome.applied().len() as u32;
                    t.rows_moved = outcome.applied().iter().map(|s| s.rows_moved).sum();
                    let earlier = |t: &TableRun| {
                        if t.steps_applied > 0 {
                            format!(
                                "; {} earlier step{} of this run had been applied",
                                t.steps_applied,
                                plural(t.steps_applied as usize)
                            )
                        } else {
                            String::new()
                        }
                    };
                    match outcome {
                        TableOutcome::Skipped => {
                            t.status = RunStatus::Skipped;
                            t.message = "another partctl run holds this table's lock".into();
                        }
                        TableOutcome::Done(steps) if steps.is_empty() => {
                            t.message = "nothing to do".into()
                        }
                        TableOutcome::Done(_) => {
                            t.message = format!(
                                "{} step{} applied, {} row{} moved",
                                t.steps_applied,
                                plural(t.steps_applied as usize),
                                t.rows_moved,
                                plural(t.rows_moved as usize)
                            )
                        }
                        TableOutcome::Failed { error, .. } => {
                            t.status = RunStatus::Failed;
                            t.message = format!("{}{}", clean(&error), earlier(&t));
                        }
                        TableOutcome::Interrupted { not_started, .. } => {
                            t.status = RunStatus::Failed;
                            t.message = format!(
                                "interrupted: {} step{} applied, {not_started} not started",
                                t.steps_applied,
                                plural(t.steps_applied as usize)
                            );
                        }
                    }
                }
                None => t.message = "nothing to do".into(),
            },
            Err(e) => {
                t.status = RunStatus::Failed;
                t.message = clean(&e.to_string());
            }
        }
        if t.status == RunStatus::Ok {
            let report = verify::run(backend, &[*p], now, verify::Options { probes: true });
            t.message = format!("{}; verify: {}", t.message, verify_summary(&report));
            t.verify = Some(report);
        }
        let elapsed = chrono::Duration::from_std(clock.elapsed()).unwrap_or_default();
        let record = Record {
            id: None,
            table: t.table.clone(),
            started_at: now,
            finished_at: now + elapsed,
            status: t.status.as_str().to_string(),
            steps_applied: i64::from(t.steps_applied),
            rows_moved: t.rows_moved as i64,
            message: clean(&t.message),
        };
        match backend.history_record(&record) {
            Ok(id) => t.history_id = Some(id),
            Err(e) => t.history_error = Some(clean(&format!("recording the run: {e}"))),
        }
        // Older runs go (their latest success stays: the schedule counts from it). A user
        // allowed only to read and insert keeps the whole history: said, not an error.
        if let Some(before) = p
            .history_retain
            .and_then(|r| chrono::Duration::from_std(r).ok())
        {
            if let Err(e) = backend.history_prune(&t.table, now - before) {
                log(&clean(&format!("warning: {}: {e}", t.table)));
            }
        }
        out.push(t);
    }
    Ok(RunReport::new(now, out))
}

fn verify_summary(r: &verify::Report) -> String {
    let skipped = r
        .checks
        .iter()
        .filter(|c| c.status == verify::Status::Skipped)
        .count();
    let n = r.checks.len() - skipped;
    let (fail, err) = (r.failures(), r.errors());
    if fail == 0 && err == 0 {
        return match n {
            1 => "1 check holds".to_string(),
            n => format!("all {n} checks hold"),
        };
    }
    let mut parts = Vec::new();
    if fail > 0 {
        parts.push(format!("{fail} of {n} fail"));
    }
    if err > 0 {
        parts.push(format!("{err} could not run"));
    }
    parts.join(", ")
}

/// What `run --history-only` shows for a table.
#[derive(Debug, Clone, Serialize)]
pub struct TableHistory {
    pub table: String,
    pub due: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<DateTime<Utc>>,
    pub schedule: Option<String>,
    pub last_ok: Option<DateTime<Utc>>,
    /// The latest runs first.
    pub runs: Vec<Record>,
}

/// `run --history-only`: the recorded runs of every selected table and whether it is due,
/// without running anything or creating the history table.
pub fn history_only(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<TableHistory>, DbError> {
    let exists = backend.history_exists()?;
    let names = backend::table_names(backend, policies);
    let mut out = Vec::new();
    for (p, name) in policies.iter().zip(names) {
        let (last_ok, runs) = if exists {
            (
                backend.history_last_ok(&name)?,
                backend.history_recent(&name, limit)?,
            )
        } else {
            (None, vec![])
        };
        let d = due(p, last_ok, now);
        out.push(TableHistory {
            table: name,
            due: d.is_ok(),
            next_due: d.err().flatten(),
            schedule: p.schedule.as_ref().map(|s| s.text.clone()),
            last_ok,
            runs,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_rank_errors_above_verify_failures() {
        let mut failed = TableRun::new("a".into(), RunStatus::Failed, None);
        failed.message = "boom".into();
        let ok = TableRun::new("b".into(), RunStatus::Ok, None);
        let now = crate::policy::parse_now("2026-11-21T12:00:00Z").unwrap();
        assert_eq!(RunReport::new(now, vec![ok.clone()]).exit_code, 0);
        assert_eq!(RunReport::new(now, vec![ok, failed]).exit_code, 1);
        let skipped = TableRun::new("c".into(), RunStatus::Skipped, None);
        assert_eq!(RunReport::new(now, vec![skipped]).exit_code, 0);
    }
}
