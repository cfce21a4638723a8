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
//!   pending; more partitions than `max_partitions_warn` (default 1,000; `ceiling.rs`); a
//!   conversion left half-way (`convert` stopped before `--finish`: its phase and age; a
//!   plain table a conversion stands in is this WARNING, not a policy error), a holding
//!   table a stopped move left behind.
//! - **UNKNOWN**: the table (or the database) could not be read.
//!
//! The overall status is the worst of the tables', CRITICAL ranking above UNKNOWN so that a
//! known breakage is never hidden by an unreadable neighbour.
//!
//! Files: this one holds the verdicts ([`Status`], [`TableCheck`], [`Report`]) and the entry
//! points; `judge.rs` the pure judgement of one table ([`assess`]); `report.rs` the text,
//! Markdown and JSON report ([`render`]); `prometheus.rs` the textfile-collector metrics
//! ([`prometheus`]).

mod auto_lists;
mod ceiling;
mod judge;
mod prometheus;
mod report;
#[cfg(test)]
mod tests;

use crate::backend::{self, Backend};
use crate::catalog::{self, Catalog, Engine, ServerMeta, TableRead};
use crate::convert::{Phase, State};
use crate::output;
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use judge::assess;
pub use prometheus::{escape_label, prometheus, prometheus_fleet};
pub use report::render;

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
    /// The policy's `max_partitions_warn`: more partitions than this is a WARNING.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_partitions_warn: Option<u32>,
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
            max_partitions_warn: None,
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
        r.summary = report::summarize(&r);
        r
    }

    /// Nothing could be checked: UNKNOWN, with a one-line reason. `tables` are the names of the
    /// tables that went unchecked.
    pub fn unknown(now: DateTime<Utc>, tables: &[String], reason: &str) -> Report {
        let reason = output::one_line(reason);
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
    let (meta, reads) = backend::read_tables(backend, policies, None);
    // Conversions' states that cannot be read (the table exists, the read fails): a WARNING on
    // every table, since a conversion left half-way could be any of them.
    let (states, state_error) = match crate::convert::recorded(backend, policies) {
        Ok(states) => (states, None),
        Err(e) => (vec![None; policies.len()], Some(e.to_string())),
    };
    assess_all_with(policies, &reads, &states, state_error.as_deref(), meta, now)
}

/// Judge every table (pure).
pub fn assess_all(
    policies: &[&Policy],
    reads: &[TableRead],
    meta: ServerMeta,
    now: DateTime<Utc>,
) -> Report {
    assess_with_conversions(policies, reads, &[], meta, now)
}

/// Judge every table (pure), with the conversion recorded for each policy's table, if any
/// (`states` follows `policies`; missing entries mean none).
pub fn assess_with_conversions(
    policies: &[&Policy],
    reads: &[TableRead],
    states: &[Option<State>],
    meta: ServerMeta,
    now: DateTime<Utc>,
) -> Report {
    assess_all_with(policies, reads, states, None, meta, now)
}

/// [`assess_with_conversions`], with why the conversions' states could not be read, if so.
pub fn assess_all_with(
    policies: &[&Policy],
    reads: &[TableRead],
    states: &[Option<State>],
    state_error: Option<&str>,
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
        .zip(states.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(mut c, state)| {
            if let Some(Some(s)) = state {
                judge::conversion(&mut c, s, now);
            }
            c
        })
        .collect();
    let mut checks: Vec<TableCheck> = checks;
    if let Some(e) = state_error {
        for c in &mut checks {
            c.add(
                Status::Warning,
                format!("a conversion's state cannot be read: {e}"),
            );
        }
    }
    foreign_key_refusals(policies, reads, &meta, now, &mut checks);
    Report::new(now, meta.map(|m| m.0), checks)
}

/// Expiries that foreign keys refuse (see `plan::foreign_keys`), judged over every table
/// checked together: a WARNING on the referenced table, naming the constraint.
fn foreign_key_refusals(
    policies: &[&Policy],
    reads: &[TableRead],
    meta: &ServerMeta,
    now: DateTime<Utc>,
    checks: &mut [TableCheck],
) {
    let Some((engine, version)) = meta else {
        return;
    };
    let tables: Vec<crate::catalog::Table> = reads
        .iter()
        .filter_map(|r| match r {
            TableRead::Found(t) => Some((**t).clone()),
            _ => None,
        })
        .collect();
    if tables.iter().all(|t| t.stats.referenced_by.is_empty()) {
        return;
    }
    let catalog = crate::catalog::Catalog {
        format_version: crate::catalog::CATALOG_FORMAT_VERSION,
        engine: *engine,
        server_version: version.clone(),
        tables,
    };
    let fk = crate::plan::foreign_keys::judge(policies, &catalog, now);
    for (table, _, message) in &fk.refused {
        if let Some(c) = checks.iter_mut().find(|c| c.table == table.to_string()) {
            c.add(Status::Warning, message.clone());
        }
    }
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
