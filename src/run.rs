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

use crate::apply::{self, TableOutcome};
use crate::backend::{self, url::scrub, Backend, DbError, DbUrl, Record};
use crate::policy::Policy;
use crate::verify;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub use crate::verify::Format;

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

/// Is the policy due at `now`, given its last successful run? `Err(next)`: not due, and when it
/// next is (`None` when the schedule never fires again).
pub fn due(
    policy: &Policy,
    last_ok: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Option<DateTime<Utc>>> {
    let (Some(schedule), Some(last)) = (&policy.schedule, last_ok) else {
        return Ok(());
    };
    if schedule.due(Some(last), now, policy.timezone) {
        return Ok(());
    }
    let from = last.max(now).with_timezone(&policy.timezone);
    Err(schedule
        .cron
        .after(&from)
        .next()
        .map(|t| t.with_timezone(&Utc)))
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
            t.message = match next {
                Some(n) => format!("not due (next at {})", rfc(n)),
                None => "not due (the schedule does not fire again)".into(),
            };
            out.push(t);
            continue;
        }

        let mut counting = |e: &apply::Event| log(&e.to_string());
        let outcome = apply::apply(backend, &[*p], now, None, &mut counting);
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

// ---------------------------------------------------------------------------------------------
// Output.

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn md(s: &str) -> String {
    one_line(s).replace('|', "\\|").replace('`', "'")
}

fn counts(r: &RunReport) -> String {
    let mut parts = Vec::new();
    for (s, word) in [
        (RunStatus::Ok, "run"),
        (RunStatus::NotDue, "not due"),
        (RunStatus::Skipped, "skipped"),
        (RunStatus::Failed, "failed"),
    ] {
        let n = r.tables.iter().filter(|t| t.status == s).count();
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        "no tables selected".into()
    } else {
        parts.join(", ")
    }
}

/// The run report in `format`, ending with a newline.
pub fn render(r: &RunReport, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(r).expect("the report serializes") + "\n",
        Format::Text => {
            let mut out = String::new();
            for t in &r.tables {
                let line = match t.status {
                    RunStatus::NotDue => format!("{}: {}", t.table, t.message),
                    RunStatus::Ok => format!("{}: ok: {}", t.table, t.message),
                    RunStatus::Skipped => format!("{}: skipped: {}", t.table, t.message),
                    RunStatus::Failed => format!("{}: FAILED: {}", t.table, t.message),
                };
                out.push_str(&line);
                out.push('\n');
                if let Some(e) = &t.history_error {
                    out.push_str(&format!("  history: {}\n", one_line(e)));
                }
                if let Some(v) = t.verify.as_ref().filter(|v| v.exit_code() != 0) {
                    for l in verify::render(v, verify::Format::Text).lines() {
                        if l.is_empty() {
                            out.push('\n');
                        } else {
                            out.push_str(&format!("  {l}\n"));
                        }
                    }
                }
            }
            out.push_str(&format!("Run at {}: {}.\n", rfc(r.now), counts(r)));
            out
        }
        Format::Markdown => {
            let mut out = format!("### partctl run: {}\n\nAt `{}`.\n\n", counts(r), rfc(r.now));
            if r.tables.is_empty() {
                return out;
            }
            out.push_str(
                "| table | status | steps | rows moved | message |\n|---|---|---:|---:|---|\n",
            );
            for t in &r.tables {
                let status = match t.status {
                    RunStatus::Failed => "**failed**".to_string(),
                    RunStatus::NotDue => "not due".to_string(),
                    s => s.as_str().to_string(),
                };
                out.push_str(&format!(
                    "| `{}` | {status} | {} | {} | {} |\n",
                    md(&t.table),
                    t.steps_applied,
                    t.rows_moved,
                    md(&t.message)
                ));
            }
            out
        }
    }
}

/// `run --history-only` in `format`, ending with a newline.
pub fn render_history(h: &[TableHistory], now: DateTime<Utc>, format: Format) -> String {
    let due_text = |t: &TableHistory| -> String {
        if t.due {
            "due now".into()
        } else {
            match t.next_due {
                Some(n) => format!("not due (next at {})", rfc(n)),
                None => "not due (the schedule does not fire again)".into(),
            }
        }
    };
    match format {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "now": now,
                "tables": h,
            }))
            .expect("the history serializes")
                + "\n"
        }
        Format::Text => {
            let mut out = String::new();
            for t in h {
                out.push_str(&format!(
                    "{}: {}; schedule {}; last successful run {}\n",
                    t.table,
                    due_text(t),
                    t.schedule.as_deref().unwrap_or("none (always due)"),
                    t.last_ok.map(rfc).unwrap_or_else(|| "never".into())
                ));
                if t.runs.is_empty() {
                    out.push_str("  no runs recorded\n");
                }
                for r in &t.runs {
                    out.push_str(&format!(
                        "  #{} {} .. {}  {:<7}  {} step{}, {} row{} moved  {}\n",
                        r.id.unwrap_or_default(),
                        rfc(r.started_at),
                        rfc(r.finished_at),
                        r.status,
                        r.steps_applied,
                        plural(r.steps_applied as usize),
                        r.rows_moved,
                        plural(r.rows_moved as usize),
                        one_line(&r.message)
                    ));
                }
            }
            out
        }
        Format::Markdown => {
            let mut out = format!("### partctl run history\n\nAt `{}`.\n\n", rfc(now));
            out.push_str("| table | due | started | status | steps | rows moved | message |\n|---|---|---|---|---:|---:|---|\n");
            for t in h {
                if t.runs.is_empty() {
                    out.push_str(&format!(
                        "| `{}` | {} | | never run | | | |\n",
                        md(&t.table),
                        md(&due_text(t))
                    ));
                }
                for (i, r) in t.runs.iter().enumerate() {
                    out.push_str(&format!(
                        "| `{}` | {} | `{}` | {} | {} | {} | {} |\n",
                        md(&t.table),
                        if i == 0 {
                            md(&due_text(t))
                        } else {
                            String::new()
                        },
                        rfc(r.started_at),
                        r.status,
                        r.steps_applied,
                        r.rows_moved,
                        md(&r.message)
                    ));
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{parse_now, parse_sources};
    use std::path::PathBuf;

    fn policy(extra: &str) -> Policy {
        let text = format!(
            "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n{extra}\n"
        );
        parse_sources(&[(PathBuf::from("t.toml"), text)])
            .unwrap()
            .remove(0)
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_now(s).unwrap()
    }

    #[test]
    fn without_a_schedule_or_a_past_run_a_table_is_due() {
        let p = policy("");
        assert_eq!(
            due(
                &p,
                Some(t("2026-11-21T12:00:00Z")),
                t("2026-11-21T12:00:01Z")
            ),
            Ok(())
        );
        let p = policy("schedule = \"0 3 29 2 *\"");
        assert_eq!(due(&p, None, t("2026-11-21T12:00:00Z")), Ok(()));
    }

    #[test]
    fn due_when_a_fire_time_lies_after_the_last_run() {
        let p = policy("schedule = \"0 3 * * *\"");
        let last = t("2026-11-21T12:00:00Z");
        assert_eq!(
            due(&p, Some(last), t("2026-11-21T23:59:59Z")),
            Err(Some(t("2026-11-22T03:00:00Z")))
        );
        assert_eq!(due(&p, Some(last), t("2026-11-22T03:00:00Z")), Ok(()));
        assert_eq!(due(&p, Some(last), t("2026-11-25T00:00:00Z")), Ok(()));
        // A run exactly at the fire time covers it.
        assert!(due(
            &p,
            Some(t("2026-11-22T03:00:00Z")),
            t("2026-11-22T04:00:00Z")
        )
        .is_err());
    }

    #[test]
    fn schedules_fire_in_the_policy_time_zone() {
        let p = policy("schedule = \"0 3 * * *\"\ntimezone = \"Europe/Paris\"");
        // 03:00 in Paris is 02:00 UTC in winter.
        assert_eq!(
            due(
                &p,
                Some(t("2026-11-21T12:00:00Z")),
                t("2026-11-22T01:00:00Z")
            ),
            Err(Some(t("2026-11-22T02:00:00Z")))
        );
    }

    #[test]
    fn exit_codes_rank_errors_above_verify_failures() {
        let mut failed = TableRun::new("a".into(), RunStatus::Failed, None);
        failed.message = "boom".into();
        let ok = TableRun::new("b".into(), RunStatus::Ok, None);
        let now = t("2026-11-21T12:00:00Z");
        assert_eq!(RunReport::new(now, vec![ok.clone()]).exit_code, 0);
        assert_eq!(RunReport::new(now, vec![ok, failed]).exit_code, 1);
        let skipped = TableRun::new("c".into(), RunStatus::Skipped, None);
        assert_eq!(RunReport::new(now, vec![skipped]).exit_code, 0);
    }
}
