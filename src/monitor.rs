//! `partctl check`: monitoring with Nagios statuses (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//!
//! The judgement is pure: [`assess`] looks at one table's catalog entry, its policy and `now`
//! (through the same planner and renderer as `plan`), and says what is wrong. [`check`] reads the
//! catalog first, one table at a time when reading them together fails, so that one missing
//! table does not hide the others.
//!
//! - **CRITICAL**: a range table has no partition holding the current period (inserts for now
//!   fail, or land in the catch-all); the policy cannot be planned against the live table
//!   (strategy or column mismatch, a missing table, a plan the server would refuse).
//! - **WARNING**: fewer future partitions than `premake` (creates pending), a gap to fill, a
//!   missing catch-all, expired partitions not yet removed, rows in a range table's catch-all
//!   (with whether they lie beyond the horizon), an interrupted detach, list or hash changes
//!   pending.
//! - **UNKNOWN**: the table (or the database) could not be read.
//!
//! The overall status is the worst of the tables', CRITICAL ranking above UNKNOWN so that a
//! known breakage is never hidden by an unreadable neighbour.

use crate::backend::{self, Backend};
use crate::catalog::{
    self, Catalog, Engine, PartBound, ServerMeta, Table, TableRead, CATALOG_FORMAT_VERSION,
};
use crate::key::{Bound, KeyKind};
use crate::plan::{describe, Action, ActionKind, Layout};
use crate::policy::{Policy, Strategy};
use crate::render::{self, PlanStepsError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub use crate::verify::Format;

/// A Nagios status. The numeric value is the plugin's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Rank for "worst": OK < WARNING < UNKNOWN < CRITICAL.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// One thing found about a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub status: Status,
    pub message: String,
}

/// What the catch-all of a range table holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatchAll {
    /// Smallest and largest key in the catch-all, as SQL literal bodies.
    pub min: String,
    pub max: String,
    /// The first key beyond the premake horizon (rows from there on stay in the catch-all).
    pub horizon: String,
    /// Some of its rows lie at or beyond the horizon.
    pub beyond_horizon: bool,
    /// Pending creates that will move rows out of it.
    pub moves_pending: usize,
}

/// The verdict on one managed table, with the numbers behind it (`None`: not known or not
/// applicable to the table's strategy).
#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub status: Status,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<&'static str>,
    /// Partitions attached to the table (catch-all included, sub-partitions not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions: Option<usize>,
    /// Range: the partition holding now (or max(key) for integer keys), with its bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_partition: Option<String>,
    /// Range: partitions entirely after the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub future_partitions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub premake: Option<u32>,
    /// Steps `partctl plan` would show for this table now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_steps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_partitions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_detaches: Option<usize>,
    /// Range tables: `Some(None)` when the catch-all is empty or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catch_all: Option<Option<CatchAll>>,
}

impl TableCheck {
    fn new(table: String) -> TableCheck {
        TableCheck {
            table,
            status: Status::Ok,
            findings: vec![],
            strategy: None,
            partitions: None,
            current_partition: None,
            future_partitions: None,
            premake: None,
            pending_steps: None,
            expired_partitions: None,
            interrupted_detaches: None,
            catch_all: None,
        }
    }

    fn add(&mut self, status: Status, message: String) {
        self.status = self.status.worst(status);
        self.findings.push(Finding { status, message });
    }

    /// The findings, worst first (stable within a status).
    fn ranked(&self) -> Vec<&Finding> {
        let mut f: Vec<&Finding> = self.findings.iter().collect();
        f.sort_by_key(|f| std::cmp::Reverse(f.status.rank()));
        f
    }

    /// One line for an OK table.
    fn ok_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.partitions {
            parts.push(format!("{n} partition{}", plural(n)));
        }
        if let Some(c) = &self.current_partition {
            parts.push(format!("current: {c}"));
        }
        if let (Some(f), Some(p)) = (self.future_partitions, self.premake) {
            parts.push(format!("{f} ahead (premake {p})"));
        }
        parts.push("nothing pending".into());
        parts.join(", ")
    }
}

/// Every table's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: Status,
    pub exit_code: u8,
    pub summary: String,
    pub now: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<&'static str>,
    /// Why nothing could be checked (cannot connect, invalid policies, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tables: Vec<TableCheck>,
}

impl Report {
    fn new(now: DateTime<Utc>, engine: Option<Engine>, tables: Vec<TableCheck>) -> Report {
        let status = tables.iter().fold(Status::Ok, |s, t| s.worst(t.status));
        let mut r = Report {
            status,
            exit_code: status.code(),
            summary: String::new(),
            now,
            engine: engine.map(Engine::as_str),
            error: None,
            tables,
        };
        r.summary = summarize(&r);
        r
    }

    /// Nothing could be checked: UNKNOWN, with a one-line reason. `tables` are the names of the
    /// tables that went unchecked.
    pub fn unknown(now: DateTime<Utc>, tables: &[String], reason: &str) -> Report {
        let reason = one_line(reason);
        let checks = tables
            .iter()
            .map(|t| {
                let mut c = TableCheck::new(t.clone());
                c.add(Status::Unknown, format!("not checked: {reason}"));
                c
            })
            .collect();
        let mut r = Report::new(now, None, checks);
        r.status = Status::Unknown;
        r.exit_code = Status::Unknown.code();
        r.summary = reason.clone();
        r.error = Some(reason);
        r
    }
}

/// Check every policy's table on a live connection, one table at a time when reading them all
/// at once fails.
pub fn check(backend: &mut dyn Backend, policies: &[&Policy], now: DateTime<Utc>) -> Report {
    let (meta, reads) = backend::read_tables(backend, policies);
    assess_all(policies, &reads, meta, now)
}

/// Judge every table (pure).
pub fn assess_all(
    policies: &[&Policy],
    reads: &[TableRead],
    meta: ServerMeta,
    now: DateTime<Utc>,
) -> Report {
    let checks = policies
        .iter()
        .zip(reads)
        .map(|(p, read)| match (read, &meta) {
            (TableRead::Found(t), Some((engine, version))) => assess(p, t, *engine, version, now),
            (TableRead::Found(t), None) => {
                let mut c = TableCheck::new(t.name.to_string());
                c.add(Status::Unknown, "the server's engine is not known".into());
                c
            }
            (TableRead::Refused(m), _) => {
                let mut c = TableCheck::new(p.table.to_string());
                c.add(Status::Critical, format!("policy error: {m}"));
                c
            }
            (TableRead::Unreadable(m), _) => {
                let mut c = TableCheck::new(p.table.to_string());
                c.add(Status::Unknown, format!("cannot read the table: {m}"));
                c
            }
        })
        .collect();
    Report::new(now, meta.map(|m| m.0), checks)
}

/// Judge every policy against a whole catalog (pure; e.g. a snapshot).
pub fn assess_catalog(policies: &[&Policy], catalog: &Catalog, now: DateTime<Utc>) -> Report {
    let reads: Vec<TableRead> = policies
        .iter()
        .map(|p| catalog::found(p, catalog))
        .collect();
    assess_all(
        policies,
        &reads,
        Some((catalog.engine, catalog.server_version.clone())),
        now,
    )
}

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
        .filter(|a| {
            matches!(
                a.kind,
                ActionKind::Detach { .. } | ActionKind::Drop { .. } | ActionKind::Archive { .. }
            ) && !created(a)
        })
        .count();
    let interrupted = actions
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                ActionKind::Finalize { .. } | ActionKind::Cleanup { .. }
            )
        })
        .count();
    c.expired_partitions = Some(expired);
    c.interrupted_detaches = Some(interrupted);

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
    if interrupted > 0 {
        c.add(
            Status::Warning,
            format!(
                "{interrupted} interrupted detach{} to finish ({})",
                if interrupted == 1 { "" } else { "es" },
                names_of(&actions, |k| matches!(
                    k,
                    ActionKind::Finalize { .. } | ActionKind::Cleanup { .. }
                ))
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
                    |k| matches!(
                        k,
                        ActionKind::Detach { .. }
                            | ActionKind::Drop { .. }
                            | ActionKind::Archive { .. }
                    )
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

/// The text after `STATUS - ` on the first line.
fn summarize(r: &Report) -> String {
    let n = r.tables.len();
    if n == 0 {
        return "no managed tables selected".into();
    }
    if r.status == Status::Ok {
        return format!(
            "{n} table{} checked, partitions in place (now = {})",
            plural(n),
            rfc(r.now)
        );
    }
    let mut counts = Vec::new();
    for s in [Status::Critical, Status::Unknown, Status::Warning] {
        let k = r.tables.iter().filter(|t| t.status == s).count();
        if k > 0 {
            counts.push(format!("{k} {}", s.as_str().to_lowercase()));
        }
    }
    let mut bad: Vec<&TableCheck> = r.tables.iter().filter(|t| t.status != Status::Ok).collect();
    bad.sort_by_key(|t| std::cmp::Reverse(t.status.rank()));
    let details: Vec<String> = bad
        .iter()
        .map(|t| {
            let ranked = t.ranked();
            let more = ranked.len().saturating_sub(1);
            format!(
                "{}: {}{}",
                t.table,
                ranked.first().map(|f| f.message.as_str()).unwrap_or(""),
                if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    format!(
        "{} of {n} table{}: {}",
        counts.join(", "),
        plural(n),
        details.join("; ")
    )
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The report in `format`, ending with a newline. Text: `STATUS - summary`, then a line per
/// table.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(r).expect("the report serializes") + "\n",
        Format::Text => {
            let mut out = format!("{} - {}\n", r.status.as_str(), one_line(&r.summary));
            for t in &r.tables {
                let body = if t.status == Status::Ok {
                    t.ok_text()
                } else {
                    t.ranked()
                        .iter()
                        .map(|f| one_line(&f.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                out.push_str(&format!("{}: {} - {body}\n", t.table, t.status.as_str()));
            }
            out
        }
        Format::Markdown => {
            let mut out = format!(
                "### partctl check: {}\n\n{}\n\n",
                r.status.as_str(),
                md(&r.summary)
            );
            if r.tables.is_empty() {
                return out;
            }
            out.push_str(
                "| table | status | partitions | ahead | pending steps | findings |\n|---|---|---:|---:|---:|---|\n",
            );
            let num = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
            for t in &r.tables {
                let findings = if t.status == Status::Ok {
                    md(&t.ok_text())
                } else {
                    t.ranked()
                        .iter()
                        .map(|f| format!("{}: {}", f.status.as_str(), md(&f.message)))
                        .collect::<Vec<_>>()
                        .join("<br>")
                };
                let status = match t.status {
                    Status::Ok => "OK".to_string(),
                    s => format!("**{}**", s.as_str()),
                };
                out.push_str(&format!(
                    "| `{}` | {status} | {} | {} | {} | {findings} |\n",
                    md(&t.table),
                    num(t.partitions),
                    num(t.future_partitions),
                    num(t.pending_steps),
                ));
            }
            out
        }
    }
}

fn md(s: &str) -> String {
    one_line(s).replace('|', "\\|").replace('`', "'")
}

// ---------------------------------------------------------------------------------------------
// Prometheus textfile-collector metrics.

/// A label value escaped for the Prometheus text format: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The report as Prometheus text-format metrics (for node_exporter's textfile collector).
pub fn prometheus(r: &Report) -> String {
    type Get = fn(&TableCheck) -> Option<u64>;
    let families: [(&str, &str, Get); 8] = [
        (
            "partctl_check_status",
            "partctl check status of the table: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            |t| Some(u64::from(t.status.code())),
        ),
        (
            "partctl_partitions",
            "Partitions attached to the table (catch-all included, sub-partitions not).",
            |t| t.partitions.map(|n| n as u64),
        ),
        (
            "partctl_future_partitions",
            "Range partitions after the one holding now (or max(key) for integer keys).",
            |t| t.future_partitions.map(|n| n as u64),
        ),
        (
            "partctl_premake",
            "Partitions the policy keeps ahead of the current one.",
            |t| t.premake.map(u64::from),
        ),
        (
            "partctl_pending_steps",
            "Steps `partctl plan` would take for the table now.",
            |t| t.pending_steps.map(|n| n as u64),
        ),
        (
            "partctl_catch_all_rows_present",
            "1 when the range table's catch-all partition holds rows.",
            |t| t.catch_all.as_ref().map(|c| u64::from(c.is_some())),
        ),
        (
            "partctl_expired_partitions",
            "Partitions past retention that are not yet removed.",
            |t| t.expired_partitions.map(|n| n as u64),
        ),
        (
            "partctl_interrupted_detaches",
            "Detaches or drops an earlier run left unfinished.",
            |t| t.interrupted_detaches.map(|n| n as u64),
        ),
    ];
    let mut out = String::new();
    for (name, help, get) in families {
        let samples: Vec<(String, u64)> = r
            .tables
            .iter()
            .filter_map(|t| get(t).map(|v| (escape_label(&t.table), v)))
            .collect();
        if samples.is_empty() {
            continue;
        }
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (table, v) in samples {
            out.push_str(&format!("{name}{{table=\"{table}\"}} {v}\n"));
        }
    }
    let beyond: Vec<(String, u64)> = r
        .tables
        .iter()
        .filter_map(|t| {
            t.catch_all.as_ref().map(|c| {
                (
                    escape_label(&t.table),
                    u64::from(c.as_ref().is_some_and(|c| c.beyond_horizon)),
                )
            })
        })
        .collect();
    if !beyond.is_empty() {
        let name = "partctl_catch_all_rows_beyond_horizon";
        out.push_str(&format!(
            "# HELP {name} 1 when rows in the catch-all lie beyond the premake horizon (they stay there).\n# TYPE {name} gauge\n"
        ));
        for (table, v) in beyond {
            out.push_str(&format!("{name}{{table=\"{table}\"}} {v}\n"));
        }
    }
    out.push_str(&format!(
        "# HELP partctl_check_overall_status The worst status of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n# TYPE partctl_check_overall_status gauge\npartctl_check_overall_status {}\n",
        r.status.code()
    ));
    out.push_str(&format!(
        "# HELP partctl_check_timestamp_seconds When the check ran (Unix time; the --now clock when given).\n# TYPE partctl_check_timestamp_seconds gauge\npartctl_check_timestamp_seconds {}\n",
        r.now.timestamp()
    ));
    out
}

/// Write `text` to `path` atomically: `path.tmp` first, synced, then renamed over `path`, so a
/// collector never reads half a file.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{KeyColumn, KeyStats, Partition};
    use crate::names::QualifiedName;
    use crate::policy::parse_sources;
    use std::path::PathBuf;

    fn policy(strategy: &str, extra: &str) -> Policy {
        policy_named("public.events", strategy, extra)
    }

    /// `name` is written into a TOML basic string as is (escapes included).
    fn policy_named(name: &str, strategy: &str, extra: &str) -> Policy {
        let text = format!(
            "[[table]]\nname = \"{name}\"\npartition_by = \"{strategy}\"\ncolumn = \"created_at\"\n{extra}\n"
        );
        parse_sources(&[(PathBuf::from("t.toml"), text)])
            .unwrap()
            .remove(0)
    }

    fn now(s: &str) -> DateTime<Utc> {
        crate::policy::parse_now(s).unwrap()
    }

    fn day(d: &str) -> i64 {
        now(d).timestamp_micros()
    }

    fn part(name: &str, from: &str, to: &str) -> Partition {
        Partition {
            name: QualifiedName::new("public", name),
            bound: PartBound::Range {
                from: Bound::At(day(from)),
                to: Bound::At(day(to)),
            },
            est_rows: 0,
            bytes: 0,
            detach_pending: false,
            subpartitions: vec![],
        }
    }

    fn default_part() -> Partition {
        Partition {
            bound: PartBound::Default,
            ..part("events_default", "2026-01-01", "2026-01-02")
        }
    }

    fn table(partitions: Vec<Partition>) -> Table {
        Table {
            name: QualifiedName::new("public", "events"),
            strategy: Strategy::Range,
            key: KeyColumn {
                name: "created_at".into(),
                kind: Some(KeyKind::Timestamptz),
                sql_type: "timestamp with time zone".into(),
                expr: None,
                granularity: None,
            },
            columns: vec!["id".into(), "created_at".into()],
            partitions,
            stats: KeyStats::default(),
        }
    }

    /// Daily partitions from `first` for `n` days.
    fn days(first: &str, n: i64) -> Vec<Partition> {
        let start = now(first);
        (0..n)
            .map(|i| {
                let f = start + chrono::Duration::days(i);
                let t = f + chrono::Duration::days(1);
                part(
                    &format!("events_p{}", f.format("%Y%m%d")),
                    &f.format("%Y-%m-%d").to_string(),
                    &t.format("%Y-%m-%d").to_string(),
                )
            })
            .collect()
    }

    fn judge(p: &Policy, t: &Table, at: &str) -> TableCheck {
        assess(p, t, Engine::Postgres, "16.0", now(at))
    }

    const DAILY: &str = "interval = \"1 day\"\npremake = 2";

    #[test]
    fn everything_in_place_is_ok() {
        let c = judge(
            &policy("range", DAILY),
            &table(days("2026-11-21", 3)),
            "2026-11-21T12:00:00Z",
        );
        assert_eq!(c.status, Status::Ok, "{c:#?}");
        assert_eq!(c.future_partitions, Some(2));
        assert_eq!(c.pending_steps, Some(0));
        assert_eq!(c.catch_all, Some(None));
        assert!(c
            .current_partition
            .unwrap()
            .starts_with("events_p20261121 "));
    }

    #[test]
    fn short_premake_is_a_warning() {
        let c = judge(
            &policy("range", DAILY),
            &table(days("2026-11-21", 2)),
            "2026-11-21T12:00:00Z",
        );
        assert_eq!(c.status, Status::Warning, "{c:#?}");
        assert_eq!(c.future_partitions, Some(1));
        assert_eq!(c.pending_steps, Some(1));
        assert!(
            c.findings[0]
                .message
                .contains("premake = 2: 1 partition ahead of now, 1 to create"),
            "{c:#?}"
        );
    }

    #[test]
    fn no_partition_for_now_is_critical() {
        let c = judge(
            &policy("range", DAILY),
            &table(days("2026-11-21", 3)),
            "2026-12-25T00:00:00Z",
        );
        assert_eq!(c.status, Status::Critical, "{c:#?}");
        assert!(
            c.findings[0]
                .message
                .contains("no partition holds the current period [2026-12-25 00:00:00+00, 2026-12-26 00:00:00+00) (now): inserts for it fail"),
            "{c:#?}"
        );
        let mut with_default = table(days("2026-11-21", 3));
        with_default.partitions.push(default_part());
        let c = judge(
            &policy("range", DAILY),
            &with_default,
            "2026-12-25T00:00:00Z",
        );
        assert_eq!(c.status, Status::Critical);
        assert!(c.findings[0].message.contains("land in the catch-all"));
    }

    #[test]
    fn catch_all_rows_are_a_warning_that_says_whether_they_stay() {
        let mut t = table(days("2026-11-21", 3));
        t.partitions.push(default_part());
        t.stats.catch_all_min = Some(day("2027-01-01"));
        t.stats.catch_all_max = Some(day("2027-02-01"));
        let c = judge(&policy("range", DAILY), &t, "2026-11-21T12:00:00Z");
        assert_eq!(c.status, Status::Warning, "{c:#?}");
        let ca = c.catch_all.clone().unwrap().unwrap();
        assert!(ca.beyond_horizon);
        assert_eq!(ca.horizon, "2026-11-24 00:00:00+00");
        assert!(c.findings.iter().any(|f| f.message.contains(
            "rows in the catch-all, keys 2027-01-01 00:00:00+00 .. 2027-02-01 00:00:00+00; keys from 2026-11-24 00:00:00+00 on lie beyond the horizon"
        )), "{c:#?}");
    }

    #[test]
    fn expired_partitions_and_interrupted_detaches_are_warnings() {
        let mut parts = days("2026-11-10", 15);
        parts[0].detach_pending = true;
        let c = judge(
            &policy(
                "range",
                "interval = \"1 day\"\npremake = 2\nretain = \"5 days\"",
            ),
            &table(parts),
            "2026-11-21T12:00:00Z",
        );
        assert_eq!(c.status, Status::Warning, "{c:#?}");
        assert_eq!(c.interrupted_detaches, Some(1));
        assert!(c.expired_partitions.unwrap() > 0);
        let text: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("interrupted detach to finish (events_p20261110)")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("expired partitions not yet removed")),
            "{text:?}"
        );
    }

    #[test]
    fn integer_keys_are_judged_by_their_largest_key() {
        let p = parse_sources(&[(
            PathBuf::from("t.toml"),
            "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 100\npremake = 1\ndefault_partition = true\n".into(),
        )])
        .unwrap()
        .remove(0);
        let int_part = |from: i64, to: i64| Partition {
            name: QualifiedName::new("public", format!("events_p{from}")),
            bound: PartBound::Range {
                from: Bound::At(from),
                to: Bound::At(to),
            },
            ..default_part()
        };
        let mut t = table(vec![int_part(0, 100), int_part(100, 200), default_part()]);
        t.key = KeyColumn {
            name: "id".into(),
            kind: Some(KeyKind::BigInt),
            sql_type: "bigint".into(),
            expr: None,
            granularity: None,
        };
        t.stats.max_key = Some(150);
        let at = "2030-01-01T00:00:00Z"; // the clock does not matter for integer keys
        let c = judge(&p, &t, at);
        assert_eq!(c.status, Status::Warning, "{c:#?}");
        assert_eq!(
            c.findings[0].message,
            "premake = 1: 0 partitions ahead of max(key) = 150, 1 to create"
        );
        assert_eq!(
            c.current_partition.as_deref(),
            Some("events_p100 [100, 200)")
        );
        // The largest key sits in the catch-all, past every partition.
        t.stats.max_key = Some(250);
        t.stats.catch_all_min = Some(250);
        t.stats.catch_all_max = Some(250);
        let c = judge(&p, &t, at);
        assert_eq!(c.status, Status::Critical, "{c:#?}");
        assert_eq!(
            c.findings[0].message,
            "no partition holds the current period [200, 300) (max(key) = 250): inserts for it land in the catch-all"
        );
        assert!(
            c.findings.iter().any(|f| f.message
                == "rows in the catch-all, keys 250 .. 250; 1 pending create moves rows out of it"),
            "{c:#?}"
        );
    }

    #[test]
    fn a_policy_that_does_not_fit_is_critical() {
        let c = judge(
            &policy("hash", "modulus = 4"),
            &table(days("2026-11-21", 3)),
            "2026-11-21T12:00:00Z",
        );
        assert_eq!(c.status, Status::Critical);
        assert!(
            c.findings[0]
                .message
                .starts_with("policy error: the policy at t.toml:1:1 says partition_by = \"hash\""),
            "{c:#?}"
        );
    }

    #[test]
    fn the_worst_status_wins_and_critical_outranks_unknown() {
        assert_eq!(Status::Warning.worst(Status::Ok), Status::Warning);
        assert_eq!(Status::Unknown.worst(Status::Critical), Status::Critical);
        assert_eq!(Status::Critical.worst(Status::Unknown), Status::Critical);
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
        let p = policy("range", DAILY);
        let reads = vec![
            TableRead::Found(Box::new(table(days("2026-11-21", 3)))),
            TableRead::Unreadable("boom".into()),
        ];
        let r = assess_all(
            &[&p, &p],
            &reads,
            Some((Engine::Postgres, "16".into())),
            now("2026-11-21T12:00:00Z"),
        );
        assert_eq!(r.status, Status::Unknown);
        assert_eq!(r.exit_code, 3);
        let text = render(&r, Format::Text);
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "UNKNOWN - 1 unknown of 2 tables: public.events: cannot read the table: boom"
        );
    }

    #[test]
    fn prometheus_labels_are_escaped_and_families_declared_once() {
        let mut t = table(days("2026-11-21", 3));
        t.name = QualifiedName::new("public", "ev\"il\\na\nme");
        let p = policy_named("public.ev\\\"il\\\\na\\nme", "range", DAILY);
        let r = assess_all(
            &[&p],
            &[TableRead::Found(Box::new(t))],
            Some((Engine::Postgres, "16".into())),
            now("2026-11-21T12:00:00Z"),
        );
        let text = prometheus(&r);
        assert!(
            text.contains("partctl_check_status{table=\"public.ev\\\"il\\\\na\\nme\"} 0\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE partctl_check_status gauge").count(), 1);
        assert!(text.ends_with(&format!(
            "partctl_check_timestamp_seconds {}\n",
            now("2026-11-21T12:00:00Z").timestamp()
        )));
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
