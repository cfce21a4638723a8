//! `convert`: turn a plain table into the partitioned table its policy describes, online, in
//! resumable phases whose state lives in the database (see [`state`]):
//!
//! 1. **prepare** (one transaction): the partitioned table beside the original, its partitions
//!    (planned by [`crate::plan::convert_partitions`] and rendered by the dialect like any
//!    create), the forward dual-write trigger, the state row;
//! 2. **copy**: key-ordered batches, each a short transaction that locks the rows it copies FOR
//!    SHARE and inserts those the trigger has not written, then saves the last key copied;
//! 3. **verify**: row counts and checksums of both tables, batch by batch, each batch in one
//!    statement (one snapshot);
//! 4. **cutover** (one short transaction under `lock_timeout`, retried): the names swap,
//!    sequences move, the reverse trigger keeps the original current;
//! 5. **finish** (`--finish`): the reverse trigger goes (and the original, when asked).
//!
//! `--rollback` returns to the original at any phase before finish. Engine-neutral: SQL comes
//! from the dialect's `convert_*` templates, and runs through [`Backend`].

pub mod disk;
#[cfg(test)]
mod render_tests;
mod source;
mod state;
mod swap;

pub use source::{design, Design, Source};
pub use state::{Phase, State};

use crate::apply::{self, backoff, interrupt, run_step, Batch, BatchSizing, MoveProgress, Sized};
use crate::backend::{Backend, StmtError, StmtErrorKind};
use crate::catalog::{KeyColumn, KeyStats, Table};
use crate::key::Bound;
use crate::names::QualifiedName;
use crate::plan::{self, ActionKind};
use crate::policy::{Policy, Strategy};
use crate::render::{NameCtx, RenderError, Step, Stmt, Templates};
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};
use tera::Context;

/// Rows per second a copy is assumed to reach when estimating its time (`--dry-run`), without
/// `--max-rate`. Measured in BENCHMARKS.md.
pub const ASSUMED_ROWS_PER_SEC: u64 = 50_000;

const FORWARD_TRIGGER: &str = "partctl_convert_forward";
const REVERSE_TRIGGER: &str = "partctl_convert_reverse";

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{table}: convert is not available on {product} yet")]
    Unsupported { table: String, product: String },
    #[error("{table}: no such table")]
    NoTable { table: String },
    #[error("{table}: cannot convert; nothing was changed:\n  - {}", .reasons.join("\n  - "))]
    Refused { table: String, reasons: Vec<String> },
    /// The operation does not fit where the conversion stands.
    #[error("{table}: {message}")]
    Phase { table: String, message: String },
    #[error("{table}: another partctl run holds the table's advisory lock; try again later")]
    Locked { table: String },
    #[error("{table}: {context}: {message}")]
    Query {
        table: String,
        context: String,
        message: String,
    },
    #[error("{table}: verify found a difference; the conversion stops before cutover (`convert --rollback` returns to the original): {message}")]
    Mismatch { table: String, message: String },
    #[error("{table}: interrupted during {phase}; what was done is kept, `convert` resumes")]
    Interrupted { table: String, phase: &'static str },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Step(#[from] apply::ApplyError),
}

/// What `convert` is asked for beyond the policy.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// At most this many rows copied per second (on average over the copy).
    pub max_rate: Option<u64>,
    /// A replica whose replay the copy waits for (`--replica`), and the lag it may reach.
    pub replica: Option<ReplicaThrottle>,
}

/// `--replica URL --max-lag D`: before a copy batch (at most once a second), the replica's
/// lag is read; while it is over `max_lag` the copy waits.
#[derive(Debug, Clone)]
pub struct ReplicaThrottle {
    pub url: crate::backend::DbUrl,
    pub max_lag: Duration,
}

/// A replica connection the copy reads the lag of.
struct Replica {
    conn: Box<dyn Backend>,
    max_lag: Duration,
    /// When the lag was last read.
    read_at: Option<Instant>,
}

/// The default `--max-lag`.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(5);

/// How often the copy reads the replica's lag, and how long it sleeps between reads while
/// waiting.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// Progress, as it happens. The CLI prints notes, retries and progress lines (or a bar).
#[derive(Debug)]
pub enum Event<'a> {
    Note(String),
    Retry {
        what: &'a str,
        attempt: u32,
        retries: u32,
        message: &'a str,
    },
    /// A copy or verify batch: `step` names the phase (`public.events/convert/copy`).
    Progress {
        step: &'a str,
        progress: &'a MoveProgress,
    },
}

/// What a conversion command did, in lines for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub table: String,
    pub phase: Option<Phase>,
    pub lines: Vec<String>,
}

/// `convert --status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub table: String,
    /// Whether the table by the policy's name is partitioned now.
    pub partitioned: bool,
    pub state: Option<State>,
    pub next: Option<&'static str>,
}

/// `convert --dry-run`: the statements of every phase still to run, and the estimate.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub table: String,
    pub sections: Vec<(String, Vec<String>)>,
    pub notes: Vec<String>,
    pub estimate: String,
}

/// The names one conversion uses.
#[derive(Clone)]
struct Names {
    /// The table's name: the original's until cutover, the partitioned table's after.
    table: QualifiedName,
    staging: QualifiedName,
    unpartitioned: QualifiedName,
    forward: QualifiedName,
    reverse: QualifiedName,
    label: String,
}

impl Names {
    fn new(schema: &str, name: &str) -> Names {
        let q = |suffix: &str| QualifiedName::new(schema.to_string(), format!("{name}{suffix}"));
        let table = QualifiedName::new(schema.to_string(), name.to_string());
        Names {
            label: table.to_string(),
            staging: q(source::STAGING_SUFFIX),
            unpartitioned: q(source::UNPARTITIONED_SUFFIX),
            forward: q(source::FORWARD_SUFFIX),
            reverse: q(source::REVERSE_SUFFIX),
            table,
        }
    }

    fn marker(&self) -> String {
        format!("partctl: converting {}", self.label)
    }

    fn original_marker(&self) -> String {
        format!("partctl: the original of {}, before convert", self.label)
    }
}

/// One conversion at work on a backend.
struct Conv<'a> {
    backend: &'a mut dyn Backend,
    policy: &'a Policy,
    t: Templates,
    n: Names,
}

/// Read the policy's table and open the conversion (no lock yet).
fn open<'a>(backend: &'a mut dyn Backend, policy: &'a Policy) -> Result<Conv<'a>, ConvertError> {
    let dialect = backend.dialect();
    let label = policy.table.to_string();
    if dialect.convert_templates().is_empty() {
        return Err(ConvertError::Unsupported {
            table: label,
            product: backend.capabilities().product.to_string(),
        });
    }
    let t = Templates::from_list(dialect, dialect.convert_templates());
    let mut conv = Conv {
        backend,
        policy,
        t,
        n: Names::new("", &policy.table.name),
    };
    let source = conv
        .read_source(policy.table.schema.as_deref(), &policy.table.name)?
        .ok_or(ConvertError::NoTable { table: label })?;
    conv.n = Names::new(&source.schema, &source.name);
    Ok(conv)
}

/// Run `f` holding the table's advisory lock (the one `apply` takes).
fn locked<T>(
    conv: &mut Conv,
    f: impl FnOnce(&mut Conv) -> Result<T, ConvertError>,
) -> Result<T, ConvertError> {
    let label = conv.n.label.clone();
    let got = conv
        .backend
        .try_lock(&label)
        .map_err(|e| conv.query_err("taking the advisory lock", e.to_string()))?;
    if !got {
        return Err(ConvertError::Locked { table: label });
    }
    let result = f(conv);
    let _ = conv.backend.unlock(&label);
    result
}

/// Convert the policy's table: every phase from where it stands up to and including cutover.
pub fn convert(
    backend: &mut dyn Backend,
    policy: &Policy,
    now: DateTime<Utc>,
    opts: Options,
    log: &mut dyn FnMut(&Event),
) -> Result<Summary, ConvertError> {
    let mut conv = open(backend, policy)?;
    locked(&mut conv, |c| c.run(now, opts, log))
}

/// Where the conversion of the policy's table stands.
pub fn status(backend: &mut dyn Backend, policy: &Policy) -> Result<Status, ConvertError> {
    let mut conv = open(backend, policy)?;
    let state = conv.read_state()?;
    let source = conv.read_source(
        Some(&conv.n.table.schema.clone()),
        &conv.n.table.name.clone(),
    )?;
    Ok(Status {
        table: conv.n.label.clone(),
        partitioned: source.is_some_and(|s| s.is_partitioned()),
        next: state.as_ref().map(|s| s.phase.next()),
        state,
    })
}

/// Return to the original table, at any phase before finish.
pub fn rollback(
    backend: &mut dyn Backend,
    policy: &Policy,
    log: &mut dyn FnMut(&Event),
) -> Result<Summary, ConvertError> {
    let mut conv = open(backend, policy)?;
    locked(&mut conv, |c| c.rollback(log))
}

/// Drop the reverse trigger (and the original with `drop_original`) after cutover.
pub fn finish(
    backend: &mut dyn Backend,
    policy: &Policy,
    drop_original: bool,
    log: &mut dyn FnMut(&Event),
) -> Result<Summary, ConvertError> {
    let mut conv = open(backend, policy)?;
    locked(&mut conv, |c| c.finish(drop_original, log))
}

/// Every statement the phases still to run would execute, and the estimated copy time;
/// nothing is changed.
pub fn dry_run(
    backend: &mut dyn Backend,
    policy: &Policy,
    now: DateTime<Utc>,
    opts: Options,
) -> Result<DryRun, ConvertError> {
    let mut conv = open(backend, policy)?;
    conv.dry_run(now, &opts)
}

/// `plan`: the conversion the policy's table waits for (the table is plain) or stands in (a
/// recorded conversion before cutover), as one step of the plan; `None` when neither (the
/// table is partitioned, or this engine has no `convert`). The step has no SQL: `convert`
/// carries it out (`convert --dry-run` prints its statements), `apply` does not.
pub fn pending(backend: &mut dyn Backend, policy: &Policy) -> Result<Option<Step>, ConvertError> {
    let mut conv = match open(backend, policy) {
        Ok(c) => c,
        Err(ConvertError::Unsupported { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let state = conv.read_state()?;
    let (schema, name) = (conv.n.table.schema.clone(), conv.n.table.name.clone());
    let Some(source) = conv.read_source(Some(&schema), &name)? else {
        return Ok(None);
    };
    let label = conv.n.label.clone();
    let run = format!("`partctl --table {label} convert`");
    let (reason, lock) = match &state {
        Some(s) if s.phase < Phase::CutOver => (
            format!(
                "a conversion stands at phase {} (started {}, last progress {}; {} rows copied{}): {run} resumes it with {}, `convert --rollback` abandons it",
                s.phase.as_str(),
                s.started_at,
                s.updated_at,
                s.rows_copied,
                s.rows_estimated
                    .map_or(String::new(), |e| format!(" of about {e}")),
                s.phase.next()
            ),
            format!(
                "none until {run}; its cutover takes ACCESS EXCLUSIVE on {} and {} for the swap, under lock_timeout",
                conv.n.table, conv.n.staging
            ),
        ),
        _ if source.is_partitioned() => return Ok(None),
        _ => {
            // A table convert would refuse is no pending conversion: the refusal is the error.
            conv.plain_source()?;
            (
            format!(
                "the table is plain: {run} turns it into the partitioned table this policy describes, online (prepare, copy, verify, cutover); `convert --dry-run` prints its statements and estimated time"
            ),
            format!(
                "none until {run}; prepare takes SHARE ROW EXCLUSIVE on {0} for the trigger, cutover ACCESS EXCLUSIVE on {0} and {1} for the swap, each under lock_timeout",
                conv.n.table, conv.n.staging
            ),
        )
        }
    };
    let mut step = phase_step(&conv.n, "convert", lock, vec![]);
    step.id = format!("{label}/convert");
    step.partition = conv.n.staging.to_string();
    step.reason = reason;
    step.transactional = false;
    Ok(Some(step))
}

/// `check`: the recorded conversion of each policy's table (`None`: none recorded, or this
/// engine has no `convert`), without reading the tables themselves.
pub fn recorded(
    backend: &mut dyn Backend,
    policies: &[&Policy],
) -> Result<Vec<Option<State>>, ConvertError> {
    let dialect = backend.dialect();
    if dialect.convert_templates().is_empty() {
        return Ok(vec![None; policies.len()]);
    }
    let names: Vec<Names> = policies
        .iter()
        .map(|p| {
            let name = crate::backend::qualified_name(backend, &p.table);
            match name.split_once('.') {
                Some((s, t)) => Names::new(s, t),
                None => Names::new("", &name),
            }
        })
        .collect();
    let Some(first) = policies.first() else {
        return Ok(vec![]);
    };
    let mut conv = Conv {
        t: Templates::from_list(dialect, dialect.convert_templates()),
        backend: &mut *backend,
        policy: first,
        n: names[0].clone(),
    };
    // Whether the state table exists at all is asked once, then every table's row is read in
    // one statement.
    if !conv.state_table_exists()? {
        return Ok(vec![None; policies.len()]);
    }
    let labels: Vec<&str> = names.iter().map(|n| n.label.as_str()).collect();
    let mut c = Context::new();
    c.insert("part", "read_all");
    c.insert("table_names", &labels);
    let sql = conv.t.text("convert_state.sql.tera", &c)?;
    let rows = conv.query("reading partctl.convert_state", &sql)?;
    let mut by_label: std::collections::BTreeMap<String, Vec<Option<String>>> = rows
        .into_iter()
        .filter_map(|mut r| {
            let label = r.first().cloned().flatten()?;
            r.remove(0);
            Some((label, r))
        })
        .collect();
    names
        .iter()
        .map(|n| match by_label.remove(&n.label) {
            None => Ok(None),
            Some(row) => {
                State::from_row(&n.label, &row)
                    .map(Some)
                    .map_err(|m| ConvertError::Query {
                        table: n.label.clone(),
                        context: "reading partctl.convert_state".to_string(),
                        message: m,
                    })
            }
        })
        .collect()
}

/// A duration for people: `45 s`, `12 min`, `3.5 h`.
fn duration_text(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{:.1} h", s as f64 / 3600.0),
    }
}

/// A key's values with their SQL types, for the templates' casts.
fn key_values(values: &[String], types: &[String]) -> Vec<serde_json::Value> {
    values
        .iter()
        .zip(types)
        .map(|(v, t)| serde_json::json!({"value": v, "type": t}))
        .collect()
}

fn phase_step(n: &Names, what: &str, lock: String, stmts: Vec<Stmt>) -> Step {
    Step {
        id: format!("{}/convert/{what}", n.label),
        table: n.label.clone(),
        action: "convert".into(),
        partition: what.to_string(),
        reason: format!("convert: {what}"),
        lock,
        sql: stmts.iter().map(|s| s.sql.clone()).collect(),
        stmts,
        transactional: true,
        policy: 0,
        parent: n.table.clone(),
        est_rows_moved: None,
        est_rows_dropped: None,
    }
}

/// Where a batch loop stands.
/// The rows of a copy's first batch, at most.
const FIRST_BATCH_ROWS: u64 = 1_000;

struct Batches {
    sizing: BatchSizing,
    sized: Sized,
    size: u64,
    last_line: Option<Instant>,
}

impl Batches {
    fn new(policy: &Policy, max_rate: Option<u64>) -> Batches {
        let mut sizing = BatchSizing::for_policy(policy);
        if let Some(rate) = max_rate {
            // A batch is at most about a second of the allowed rate.
            sizing.max_rows = sizing.max_rows.min(rate.max(1));
        }
        Batches {
            // Slow start: the first batch is small (its locks are held before anything is
            // known of the table's speed); the time rule doubles fast batches up to max_rows.
            size: sizing.max_rows.min(FIRST_BATCH_ROWS),
            sizing,
            sized: Sized::default(),
            last_line: None,
        }
    }

    fn done(&mut self, rows: u64, took: Duration) {
        let this = Batch {
            size: self.size,
            rows,
            took,
        };
        self.size = self.sizing.next(&mut self.sized, this);
    }

    /// The batch ran past its statement timeout: the next try is half as large, and no later
    /// batch grows past that again (the time rule would otherwise double back into the
    /// timeout: measured at 2,000,000 rows under load, 50,000-row batches timing out every
    /// other second).
    fn timed_out(&mut self) {
        self.size = (self.size / 2).max(1);
        self.sizing.max_rows = self.sizing.max_rows.min(self.size);
    }

    fn line(&mut self, done: bool) -> bool {
        let now = Instant::now();
        let due = done
            || self
                .last_line
                .is_none_or(|t| now.duration_since(t) >= apply::LINE_EVERY);
        if due {
            self.last_line = Some(now);
        }
        due
    }
}

impl Conv<'_> {
    fn query_err(&self, context: &str, message: String) -> ConvertError {
        ConvertError::Query {
            table: self.n.label.clone(),
            context: context.to_string(),
            message,
        }
    }

    fn ctx(&self) -> Context {
        let mut c = Context::new();
        c.insert("table", &NameCtx::from(&self.n.table));
        c.insert("staging", &NameCtx::from(&self.n.staging));
        c.insert("unpartitioned", &NameCtx::from(&self.n.unpartitioned));
        c.insert("table_name", &self.n.label);
        c.insert("marker", &self.n.marker());
        c.insert("key", &self.policy.column);
        c.insert(
            "lock_timeout",
            &format!("{}ms", self.policy.lock_timeout.as_millis().max(1)),
        );
        c.insert(
            "statement_timeout",
            &format!("{}ms", self.policy.statement_timeout.as_millis().max(1)),
        );
        c.insert("forward_trigger", FORWARD_TRIGGER);
        c.insert("reverse_trigger", REVERSE_TRIGGER);
        c.insert("forward_function", &NameCtx::from(&self.n.forward));
        c.insert("reverse_function", &NameCtx::from(&self.n.reverse));
        self.backend.dialect().convert_context(self.policy, &mut c);
        c
    }

    fn stmts(&self, template: &str, ctx: &Context) -> Result<Vec<Stmt>, ConvertError> {
        Ok(self.t.statements(template, ctx)?.0)
    }

    fn query(
        &mut self,
        context: &str,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, ConvertError> {
        self.backend
            .query_text(sql)
            .map_err(|e| self.query_err(context, e.message))
    }

    fn read_source(
        &mut self,
        schema: Option<&str>,
        name: &str,
    ) -> Result<Option<Source>, ConvertError> {
        let mut c = Context::new();
        self.backend.dialect().convert_context(self.policy, &mut c);
        if let Some(s) = schema {
            c.insert("schema", s);
        }
        c.insert("name", name);
        let sql = self.t.text("convert_source.sql.tera", &c)?;
        let rows = self.query(&format!("reading table {name}"), &sql)?;
        let Some(text) = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
        else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| self.query_err("reading the table's definition", e.to_string()))
    }

    fn state_table_exists(&mut self) -> Result<bool, ConvertError> {
        let mut c = self.ctx();
        c.insert("part", "exists");
        let sql = self.t.text("convert_state.sql.tera", &c)?;
        let exists = self.query("looking for partctl.convert_state", &sql)?;
        Ok(exists
            .first()
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .as_deref()
            == Some("true"))
    }

    fn read_state(&mut self) -> Result<Option<State>, ConvertError> {
        if !self.state_table_exists()? {
            return Ok(None);
        }
        self.read_state_row()
    }

    /// The state row, the state table being known to exist.
    fn read_state_row(&mut self) -> Result<Option<State>, ConvertError> {
        let mut c = self.ctx();
        c.insert("part", "read");
        let sql = self.t.text("convert_state.sql.tera", &c)?;
        let rows = self.query("reading partctl.convert_state", &sql)?;
        match rows.first() {
            None => Ok(None),
            Some(row) => State::from_row(&self.n.label, row)
                .map(Some)
                .map_err(|m| self.query_err("reading partctl.convert_state", m)),
        }
    }

    fn state_stmts(&self, part: &str, phase: Option<Phase>) -> Result<Vec<Stmt>, ConvertError> {
        let mut c = self.ctx();
        c.insert("part", part);
        if let Some(p) = phase {
            c.insert("phase", p.as_str());
        }
        self.stmts("convert_state.sql.tera", &c)
    }

    /// The plain table, and how it converts; every refusal at once.
    fn plain_source(&mut self) -> Result<(Source, Design), ConvertError> {
        let (schema, name) = (self.n.table.schema.clone(), self.n.table.name.clone());
        let source =
            self.read_source(Some(&schema), &name)?
                .ok_or_else(|| ConvertError::NoTable {
                    table: self.n.label.clone(),
                })?;
        let design = design(self.policy, &source, self.backend.dialect()).map_err(|reasons| {
            ConvertError::Refused {
                table: self.n.label.clone(),
                reasons,
            }
        })?;
        Ok((source, design))
    }

    /// Run a transactional step with the policy's retries.
    fn run_phase(&mut self, step: &Step, log: &mut dyn FnMut(&Event)) -> Result<(), ConvertError> {
        let retries = self.policy.retries;
        let sizing = BatchSizing::for_policy(self.policy);
        let what = step.id.clone();
        run_step(
            self.backend,
            step,
            retries,
            sizing,
            |attempt, message| {
                log(&Event::Retry {
                    what: &what,
                    attempt,
                    retries,
                    message,
                })
            },
            &mut |_| {},
        )?;
        Ok(())
    }

    fn run(
        &mut self,
        now: DateTime<Utc>,
        opts: Options,
        log: &mut dyn FnMut(&Event),
    ) -> Result<Summary, ConvertError> {
        let mut lines = Vec::new();
        let mut state = self.read_state()?;
        match state.as_ref().map(|s| s.phase) {
            Some(Phase::Finished) => {
                return Ok(self.summary(
                    Phase::Finished,
                    vec!["converted and finished already; nothing to do".into()],
                ))
            }
            Some(Phase::CutOver) => {
                return Ok(self.summary(
                    Phase::CutOver,
                    vec![format!(
                        "cut over already; {} is kept in sync until `convert --finish`",
                        self.n.unpartitioned
                    )],
                ))
            }
            Some(Phase::Preparing) => {
                lines.push(
                    "a prepare stopped half-way: what it made is dropped and prepare starts again"
                        .into(),
                );
                self.drop_prepared(log)?;
                state = None;
            }
            Some(p) => lines.push(format!("resuming after phase {}", p.as_str())),
            None => {}
        }
        let (source, design) = self.plain_source()?;
        // Connected and read before anything is changed.
        let mut replica = match state.as_ref().map(|s| s.phase) {
            None | Some(Phase::Prepared) => self.connect_replica(&opts)?,
            _ => None,
        };
        if state.is_none() {
            // Nothing is changed before the free-space check refuses.
            match disk::verdict(source.bytes.max(0) as u64, &self.backend.free_space()) {
                disk::Verdict::TooLittle(m) => {
                    return Err(ConvertError::Refused {
                        table: self.n.label.clone(),
                        reasons: vec![m],
                    })
                }
                disk::Verdict::Enough(m) | disk::Verdict::Unknown(m) => {
                    log(&Event::Note(format!("disk: {m}")))
                }
            }
            log(&Event::Note("prepare: starting".into()));
            let (notes, partitions) = self.prepare(&source, &design, now, log)?;
            lines.push(format!(
                "prepare: created {} with {partitions} partition{} and the dual-write trigger",
                self.n.staging,
                if partitions == 1 { "" } else { "s" }
            ));
            lines.extend(notes);
            state = self.read_state()?;
        }
        let mut state = state.ok_or_else(|| ConvertError::Phase {
            table: self.n.label.clone(),
            message: "the conversion's state row is missing after prepare".into(),
        })?;
        if state.phase == Phase::Prepared {
            log(&Event::Note("copy: starting".into()));
            let copied = self.copy(&design, &state, &opts, replica.as_mut(), log)?;
            lines.push(format!("copy: {copied} rows copied in this run"));
            state.phase = Phase::Copied;
        }
        if state.phase == Phase::Copied {
            log(&Event::Note("verify: starting".into()));
            let (rows, batches) = self.verify(&design, log)?;
            lines.push(format!(
                "verify: {rows} rows, counts and checksums equal in {batches} batch{}",
                if batches == 1 { "" } else { "es" }
            ));
            state.phase = Phase::Verified;
        }
        if state.phase == Phase::Verified {
            log(&Event::Note("cutover: starting".into()));
            let took = self.cutover(&design, log)?;
            lines.push(format!(
                "cutover: {} is partitioned, the original is {} and kept in sync until `convert --finish` (the swap held its locks for {} ms)",
                self.n.table,
                self.n.unpartitioned,
                took.as_millis()
            ));
        }
        Ok(self.summary(Phase::CutOver, lines))
    }

    fn summary(&self, phase: Phase, lines: Vec<String>) -> Summary {
        Summary {
            table: self.n.label.clone(),
            phase: Some(phase),
            lines,
        }
    }

    /// Statements that create the partitioned table's partitions, the notes about them, and
    /// how many there are.
    fn partitions(
        &mut self,
        design: &Design,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Stmt>, Vec<String>, usize), ConvertError> {
        let policy = self.policy;
        let key_range = match (policy.strategy, design.key_kind) {
            (Strategy::Range, Some(kind)) => {
                let mut c = self.ctx();
                c.insert("table", &NameCtx::from(&self.n.table));
                let sql = self.t.text("convert_key_range.sql.tera", &c)?;
                let rows = self.query("reading the key range", &sql)?;
                let row = rows.into_iter().next().unwrap_or_default();
                let parse = |i: usize| -> Result<Option<i64>, ConvertError> {
                    match row.get(i).cloned().flatten() {
                        None => Ok(None),
                        Some(t) => kind.parse(&t).map(Some).ok_or_else(|| {
                            self.query_err(
                                "reading the key range",
                                format!("cannot read key `{t}`"),
                            )
                        }),
                    }
                };
                match (parse(0)?, parse(1)?) {
                    (Some(lo), Some(hi)) => Some((lo, hi)),
                    _ => None,
                }
            }
            _ => None,
        };
        let model = Table {
            name: self.n.table.clone(),
            strategy: policy.strategy,
            key: KeyColumn {
                name: policy.column.clone(),
                kind: design.key_kind,
                sql_type: design.key_type.clone(),
                expr: None,
                granularity: None,
            },
            columns: design.columns.clone(),
            partitions: vec![],
            stats: KeyStats::default(),
            distributed: false,
        };
        let actions = plan::convert_partitions(policy, &model, key_range, now)?;
        let mut notes = Vec::new();
        if let (Some((lo, hi)), Some(kind)) = (key_range, design.key_kind) {
            let ranges: Vec<(Bound, Bound)> = actions
                .iter()
                .filter_map(|a| match a.kind {
                    ActionKind::Create { from, to, .. } => Some((from, to)),
                    _ => None,
                })
                .collect();
            let has_default = actions
                .iter()
                .any(|a| matches!(a.kind, ActionKind::CreateDefault { .. }));
            let low = ranges.iter().map(|r| r.0).min();
            let high = ranges.iter().map(|r| r.1).max();
            let covered = matches!((low, high), (Some(l), Some(h)) if l <= Bound::At(lo) && Bound::At(hi) < h);
            if !covered && !has_default {
                return Err(ConvertError::Refused {
                    table: self.n.label.clone(),
                    reasons: vec![format!(
                        "the rows' keys span {} but the policy's partitions cover {} and it has no default_partition; set default_partition = true, or widen premake or start",
                        plan::describe(kind, Bound::At(lo), Bound::At(hi)),
                        match (low, high) {
                            (Some(l), Some(h)) => plan::describe(kind, l, h),
                            _ => "nothing".into(),
                        }
                    )],
                });
            }
            let below_cutoff = policy.retain.is_some()
                && actions
                    .iter()
                    .any(|a| a.reason.starts_with("rows older than the retention cutoff"));
            if below_cutoff {
                notes.push(
                    "rows older than the retention cutoff are copied into one partition below the coverage, which the next `apply` expires by on_expire".into(),
                );
            }
        }
        let dialect = self.backend.dialect();
        let pt = Templates::new(dialect);
        let staging_model = Table {
            name: self.n.staging.clone(),
            ..model
        };
        let staged: Vec<_> = actions
            .iter()
            .map(|a| {
                let mut a = a.clone();
                a.table = self.n.staging.clone();
                a
            })
            .collect();
        let stmts = dialect.convert_partitions(&pt, &staged, &staging_model, policy, now)?;
        Ok((stmts, notes, actions.len()))
    }

    fn trigger_stmts(&self, design: &Design, forward: bool) -> Result<Vec<Stmt>, ConvertError> {
        let mut c = self.ctx();
        c.insert("row_key", &design.row_key);
        c.insert("columns", &design.columns);
        if forward {
            c.insert("function", &NameCtx::from(&self.n.forward));
            c.insert("trigger", FORWARD_TRIGGER);
            c.insert("source", &NameCtx::from(&self.n.table));
            c.insert("target", &NameCtx::from(&self.n.staging));
            c.insert("conflict", &design.new_key);
        } else {
            c.insert("function", &NameCtx::from(&self.n.reverse));
            c.insert("trigger", REVERSE_TRIGGER);
            c.insert("source", &NameCtx::from(&self.n.table));
            c.insert("target", &NameCtx::from(&self.n.unpartitioned));
            c.insert("conflict", &design.row_key);
        }
        self.stmts("convert_trigger.sql.tera", &c)
    }

    /// The prepare phase's statements (one transaction), the notes, the partitions' count.
    fn prepare_stmts(
        &mut self,
        source: &Source,
        design: &Design,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Stmt>, Vec<String>, usize), ConvertError> {
        let mut refusals = Vec::new();
        for q in [self.n.staging.clone(), self.n.unpartitioned.clone()] {
            if self.read_source(Some(&q.schema), &q.name)?.is_some() {
                refusals.push(format!(
                    "a table named {q} exists already (no conversion of {} is recorded); rename or drop it",
                    self.n.label
                ));
            }
        }
        if !refusals.is_empty() {
            return Err(ConvertError::Refused {
                table: self.n.label.clone(),
                reasons: refusals,
            });
        }
        let (parts, mut notes, count) = self.partitions(design, now)?;
        let mut c = self.ctx();
        c.insert("strategy", self.policy.strategy.as_str());
        c.insert("primary", &design.primary);
        c.insert("row_key", &design.new_key);
        c.insert("row_key_index", &design.row_key_index);
        c.insert("extended", &(design.new_key != design.row_key));
        c.insert("indexes", &design.indexes);
        c.insert("grants", &source.grants);
        let mut sc = self.ctx();
        sc.insert("original", &NameCtx::from(&self.n.table));
        sc.insert(
            "rows_estimated",
            &(source.est_rows >= 0).then_some(source.est_rows),
        );
        // Where DDL commits on its own, the state row comes first (phase `preparing`).
        sc.insert("part", "begin");
        let mut stmts = self.stmts("convert_state.sql.tera", &sc)?;
        stmts.extend(self.stmts("convert_prepare.sql.tera", &c)?);
        stmts.extend(parts);
        stmts.extend(self.trigger_stmts(design, true)?);
        sc.insert("part", "init");
        stmts.extend(self.stmts("convert_state.sql.tera", &sc)?);
        notes.splice(0..0, design.notes.iter().cloned());
        Ok((stmts, notes, count))
    }

    fn prepare(
        &mut self,
        source: &Source,
        design: &Design,
        now: DateTime<Utc>,
        log: &mut dyn FnMut(&Event),
    ) -> Result<(Vec<String>, usize), ConvertError> {
        let (stmts, notes, count) = self.prepare_stmts(source, design, now)?;
        let lock = format!(
            "SHARE ROW EXCLUSIVE on {} for the trigger (writes wait, reads go on); one transaction",
            self.n.table
        );
        let step = phase_step(&self.n, "prepare", lock, stmts);
        self.run_phase(&step, log)?;
        Ok((notes, count))
    }

    /// One batch in its own transaction: (rows read, rows inserted, the batch's last key or
    /// `None` when it was the last batch).
    fn copy_batch(
        &mut self,
        design: &Design,
        last: Option<&[String]>,
        size: u64,
    ) -> Result<(u64, u64, Option<Vec<String>>), StmtError> {
        let mut c = self.ctx();
        c.insert("row_key", &design.row_key);
        c.insert("columns", &design.columns);
        c.insert("offset", &size.saturating_sub(1));
        c.insert("last", &last.map(|l| key_values(l, &design.row_key_types)));
        c.insert(
            "lock_timeout",
            &format!("{}ms", self.policy.lock_timeout.as_millis().max(1)),
        );
        let text = |t: &Templates, c: &Context| {
            t.text("convert_copy.sql.tera", c)
                .map_err(|e| StmtError::other(e.to_string()))
        };
        let [cut_timeouts, copy_timeouts] = self
            .copy_timeouts(&c)
            .map_err(|e| StmtError::other(e.to_string()))?;
        self.backend.begin()?;
        let result = (|| {
            for s in &cut_timeouts {
                self.backend.execute(&s.sql)?;
            }
            c.insert("part", "cut");
            let cut = self
                .backend
                .query_text(&text(&self.t, &c)?)?
                .into_iter()
                .next()
                .map(|row| {
                    row.into_iter()
                        .map(Option::unwrap_or_default)
                        .collect::<Vec<_>>()
                });
            c.insert(
                "cut",
                &cut.as_ref().map(|k| key_values(k, &design.row_key_types)),
            );
            // From here the batch's rows are locked and writers to them wait for the commit:
            // the copy statement may run for lock_timeout, no longer.
            for s in &copy_timeouts {
                self.backend.execute(&s.sql)?;
            }
            c.insert("part", "copy");
            // The last statement returns (rows read, rows inserted).
            let copy = self
                .t
                .statements("convert_copy.sql.tera", &c)
                .map_err(|e| StmtError::other(e.to_string()))?
                .0;
            let mut counts = Vec::new();
            for (i, s) in copy.iter().enumerate() {
                if i + 1 == copy.len() {
                    counts = self.backend.query_text(&s.sql)?;
                } else {
                    self.backend.execute(&s.sql)?;
                }
            }
            let num = |i: usize| -> u64 {
                counts
                    .first()
                    .and_then(|r| r.get(i).cloned().flatten())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0)
            };
            let (read, inserted) = (num(0), num(1));
            c.insert("part", "save");
            c.insert("rows", &inserted);
            c.insert(
                "cut_json",
                &serde_json::to_string(&cut).unwrap_or_else(|_| "null".into()),
            );
            self.backend.execute(&text(&self.t, &c)?)?;
            self.backend.commit()?;
            Ok((read, inserted, cut))
        })();
        if result.is_err() {
            self.backend.rollback();
        }
        result
    }

    /// The copy batch's timeouts, SET LOCAL: before the cut query (which locks nothing), the
    /// policy's `move_max_lock`; before the copy statement, whose FOR SHARE row locks make
    /// writers to those rows wait until the batch commits, `lock_timeout`, so that no writer
    /// waits on a batch longer than it would on any other partctl lock.
    fn copy_timeouts(&self, c: &Context) -> Result<[Vec<Stmt>; 2], ConvertError> {
        let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
        let mut tc = c.clone();
        tc.insert("local", &true);
        tc.insert("statement_timeout", &ms(self.policy.moves.max_lock));
        let cut = self.stmts("timeouts.sql.tera", &tc)?;
        tc.insert(
            "statement_timeout",
            &ms(self.policy.lock_timeout.min(self.policy.moves.max_lock)),
        );
        let copy = self.stmts("timeouts.sql.tera", &tc)?;
        Ok([cut, copy])
    }

    /// A batch with the policy's retries on lock waits and deadlocks.
    fn with_retries<T>(
        &mut self,
        what: &str,
        log: &mut dyn FnMut(&Event),
        mut f: impl FnMut(&mut Self) -> Result<T, StmtError>,
    ) -> Result<T, ConvertError> {
        let retries = self.policy.retries;
        let mut attempt = 1;
        loop {
            match f(self) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind.retryable() && attempt <= retries => {
                    log(&Event::Retry {
                        what,
                        attempt,
                        retries,
                        message: &e.message,
                    });
                    if !interrupt::sleep(backoff(attempt)) {
                        return Err(ConvertError::Interrupted {
                            table: self.n.label.clone(),
                            phase: "copy",
                        });
                    }
                    attempt += 1;
                }
                Err(e) => return Err(self.query_err(what, e.message)),
            }
        }
    }

    fn copy(
        &mut self,
        design: &Design,
        state: &State,
        opts: &Options,
        mut replica: Option<&mut Replica>,
        log: &mut dyn FnMut(&Event),
    ) -> Result<u64, ConvertError> {
        let step = format!("{}/convert/copy", self.n.label);
        let mut b = Batches::new(self.policy, opts.max_rate);
        let mut last = state.last_key.clone();
        let total = state
            .rows_estimated
            .map(|n| n.max(state.rows_copied) as u64);
        let mut progress = MoveProgress {
            moved: state.rows_copied.max(0) as u64,
            total,
            batches: 0,
            line: false,
            done: false,
        };
        let started = Instant::now();
        let mut this_run = 0u64;
        loop {
            if let Some(r) = replica.as_deref_mut() {
                self.wait_for_replica(r, log)?;
            }
            let mut timeouts = 0;
            let ((read, inserted, cut), took) = loop {
                let size = b.size;
                let t0 = Instant::now();
                // A batch cancelled by its statement timeout comes back as `Err` here: it is
                // tried again at half the size, up to `retries` times.
                let attempt = self.with_retries("copy batch", log, |c| {
                    match c.copy_batch(design, last.as_deref(), size) {
                        Err(e) if e.kind == StmtErrorKind::StatementTimeout => Ok(Err(e)),
                        other => other.map(Ok),
                    }
                })?;
                match attempt {
                    Ok(done) => break (done, t0.elapsed()),
                    Err(e) if timeouts < self.policy.retries && size > 1 => {
                        timeouts += 1;
                        b.timed_out();
                        log(&Event::Retry {
                            what: "copy batch",
                            attempt: timeouts,
                            retries: self.policy.retries,
                            message: &format!(
                                "{} ({size} rows in {} ms; next try {} rows)",
                                e.message,
                                t0.elapsed().as_millis(),
                                b.size
                            ),
                        });
                    }
                    Err(e) => return Err(self.query_err("copy batch", e.message)),
                }
            };
            b.done(read, took);
            this_run += inserted;
            progress.moved += inserted;
            progress.batches += 1;
            progress.done = cut.is_none();
            progress.line = b.line(progress.done);
            log(&Event::Progress {
                step: &step,
                progress: &progress,
            });
            match cut {
                None => return Ok(this_run),
                Some(k) => last = Some(k),
            }
            if let Some(rate) = opts.max_rate {
                let want = Duration::from_secs_f64(this_run as f64 / rate.max(1) as f64);
                let elapsed = started.elapsed();
                if want > elapsed && !interrupt::sleep(want - elapsed) {
                    return Err(ConvertError::Interrupted {
                        table: self.n.label.clone(),
                        phase: "copy",
                    });
                }
            }
            if interrupt::requested() {
                return Err(ConvertError::Interrupted {
                    table: self.n.label.clone(),
                    phase: "copy",
                });
            }
        }
    }

    /// `--replica`: read the replica's lag (at most once per [`LAG_EVERY`]) and wait while it
    /// is over `max_lag`, saying so each time it is read.
    fn wait_for_replica(
        &mut self,
        r: &mut Replica,
        log: &mut dyn FnMut(&Event),
    ) -> Result<(), ConvertError> {
        if r.read_at.is_some_and(|t| t.elapsed() < LAG_EVERY) {
            return Ok(());
        }
        let max_lag = r.max_lag;
        loop {
            r.read_at = Some(Instant::now());
            let lag = self.replica_lag(r.conn.as_mut())?;
            if lag <= max_lag {
                return Ok(());
            }
            log(&Event::Note(format!(
                "copy: waiting for the replica: lag {:.1} s > --max-lag {:.1} s",
                lag.as_secs_f64(),
                max_lag.as_secs_f64()
            )));
            if !interrupt::sleep(LAG_EVERY) {
                return Err(ConvertError::Interrupted {
                    table: self.n.label.clone(),
                    phase: "copy",
                });
            }
        }
    }

    /// The replica's lag; an error when it cannot be read or the server is not a replica.
    fn replica_lag(&self, conn: &mut dyn Backend) -> Result<Duration, ConvertError> {
        conn.replica_lag()
            .map_err(|e| self.query_err("reading the replica's lag (--replica)", e.message))?
            .ok_or_else(|| ConvertError::Phase {
                table: self.n.label.clone(),
                message: "the --replica server is not a replica (it is not replaying a primary)"
                    .into(),
            })
    }

    /// `--replica`: connect and read its lag once, before anything is changed.
    fn connect_replica(&self, opts: &Options) -> Result<Option<Replica>, ConvertError> {
        let Some(r) = &opts.replica else {
            return Ok(None);
        };
        let mut conn = crate::backend::connect(&r.url)
            .map_err(|e| self.query_err("connecting to the replica (--replica)", e.to_string()))?;
        self.replica_lag(conn.as_mut())?;
        Ok(Some(Replica {
            conn,
            max_lag: r.max_lag,
            read_at: None,
        }))
    }

    /// Compare both tables batch by batch: (rows, batches). Then record the phase.
    fn verify(
        &mut self,
        design: &Design,
        log: &mut dyn FnMut(&Event),
    ) -> Result<(u64, u64), ConvertError> {
        let step = format!("{}/convert/verify", self.n.label);
        let mut b = Batches::new(self.policy, None);
        let mut last: Option<Vec<String>> = None;
        let mut progress = MoveProgress {
            moved: 0,
            total: None,
            batches: 0,
            line: false,
            done: false,
        };
        loop {
            let mut c = self.ctx();
            c.insert("row_key", &design.row_key);
            c.insert("columns", &design.columns);
            c.insert("offset", &b.size.saturating_sub(1));
            c.insert(
                "last",
                &last.as_ref().map(|l| key_values(l, &design.row_key_types)),
            );
            c.insert("part", "cut");
            let t0 = Instant::now();
            let sql = self.t.text("convert_copy.sql.tera", &c)?;
            let cut = self.query("verify", &sql)?.into_iter().next().map(|row| {
                row.into_iter()
                    .map(Option::unwrap_or_default)
                    .collect::<Vec<_>>()
            });
            c.insert(
                "cut",
                &cut.as_ref().map(|k| key_values(k, &design.row_key_types)),
            );
            c.insert("part", "compare");
            let sql = self.t.text("convert_verify.sql.tera", &c)?;
            let row = self
                .query("verify", &sql)?
                .into_iter()
                .next()
                .unwrap_or_default();
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let (on, os, nn, ns) = (cell(0), cell(1), cell(2), cell(3));
            if on != nn || os != ns {
                c.insert("part", "diff");
                let sql = self.t.text("convert_verify.sql.tera", &c)?;
                let d = self
                    .query("verify", &sql)?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let dc = |i: usize| d.get(i).cloned().flatten().unwrap_or_default();
                let range = format!(
                    "row key ({}) {} .. {}",
                    design.row_key.join(", "),
                    last.as_ref()
                        .map_or("start".to_string(), |l| format!("> ({})", l.join(", "))),
                    cut.as_ref()
                        .map_or("end".to_string(), |k| format!("<= ({})", k.join(", ")))
                );
                return Err(ConvertError::Mismatch {
                    table: self.n.label.clone(),
                    message: format!(
                        "{range}: the original has {on} rows (checksum {os}), {} has {nn} (checksum {ns}); {} rows differ, with partition key `{}` from {} to {}",
                        self.n.staging,
                        dc(0),
                        self.policy.column,
                        dc(1),
                        dc(2)
                    ),
                });
            }
            let rows: u64 = on.parse().unwrap_or(0);
            b.done(rows, t0.elapsed());
            progress.moved += rows;
            progress.batches += 1;
            progress.done = cut.is_none();
            progress.line = b.line(progress.done);
            log(&Event::Progress {
                step: &step,
                progress: &progress,
            });
            match cut {
                None => break,
                Some(k) => last = Some(k),
            }
            if interrupt::requested() {
                return Err(ConvertError::Interrupted {
                    table: self.n.label.clone(),
                    phase: "verify",
                });
            }
        }
        let step = phase_step(
            &self.n,
            "verify",
            "none".into(),
            self.state_stmts("phase", Some(Phase::Verified))?,
        );
        self.run_phase(&step, log)?;
        Ok((progress.moved, progress.batches))
    }

    fn cutover_stmts(&self, source: &Source, design: &Design) -> Result<Vec<Stmt>, ConvertError> {
        let mut c = self.ctx();
        c.insert("marker", &self.n.original_marker());
        c.insert("sequences", &source.sequences);
        let mut stmts = self.stmts("convert_cutover.sql.tera", &c)?;
        stmts.extend(self.trigger_stmts(design, false)?);
        stmts.extend(self.state_stmts("phase", Some(Phase::CutOver))?);
        Ok(stmts)
    }

    fn cutover(
        &mut self,
        design: &Design,
        log: &mut dyn FnMut(&Event),
    ) -> Result<Duration, ConvertError> {
        // Read again: a view or foreign key added since prepare refuses the swap.
        let (source, _) = self.plain_source()?;
        if self.backend.capabilities().swap_in_second_session {
            return swap::cutover(self, design, log);
        }
        let stmts = self.cutover_stmts(&source, design)?;
        let lock = format!(
            "ACCESS EXCLUSIVE on {} and {} for the swap (reads and writes wait; lock_timeout {} ms, retried)",
            self.n.table,
            self.n.staging,
            self.policy.lock_timeout.as_millis()
        );
        let step = phase_step(&self.n, "cutover", lock, stmts);
        let t0 = Instant::now();
        self.run_phase(&step, log)?;
        Ok(t0.elapsed())
    }

    fn rollback(&mut self, log: &mut dyn FnMut(&Event)) -> Result<Summary, ConvertError> {
        let state = self.read_state()?.ok_or_else(|| ConvertError::Phase {
            table: self.n.label.clone(),
            message: "no conversion of this table is recorded; nothing to roll back".into(),
        })?;
        let mut c = self.ctx();
        let cut_over = match state.phase {
            Phase::Finished => return Err(ConvertError::Phase {
                table: self.n.label.clone(),
                message:
                    "the conversion is finished (the triggers are gone); it cannot be rolled back"
                        .into(),
            }),
            Phase::CutOver => true,
            _ => false,
        };
        c.insert("cut_over", &cut_over);
        if cut_over {
            // The sequences belong to the partitioned table now; they go back.
            let (schema, name) = (self.n.table.schema.clone(), self.n.table.name.clone());
            let current = self.read_source(Some(&schema), &name)?;
            let sequences = current.map(|s| s.sequences).unwrap_or_default();
            c.insert("sequences", &sequences);
        }
        if cut_over && self.backend.capabilities().swap_in_second_session {
            swap::swap_back(self, log)?;
        }
        let mut stmts = self.stmts("convert_rollback.sql.tera", &c)?;
        stmts.extend(self.state_stmts("delete", None)?);
        let lock = format!("ACCESS EXCLUSIVE on {} for the swap back", self.n.table);
        let step = phase_step(&self.n, "rollback", lock, stmts);
        self.run_phase(&step, log)?;
        let line = if cut_over {
            format!(
                "rolled back after cutover: {} is the original table again (kept current by the reverse trigger); the partitioned table is dropped",
                self.n.table
            )
        } else {
            format!(
                "rolled back at phase {}: the trigger and {} are dropped; {} was never changed",
                state.phase.as_str(),
                self.n.staging,
                self.n.table
            )
        };
        Ok(Summary {
            table: self.n.label.clone(),
            phase: None,
            lines: vec![line],
        })
    }

    /// Drop what a stopped prepare made (every statement may run again) and its state row.
    fn drop_prepared(&mut self, log: &mut dyn FnMut(&Event)) -> Result<(), ConvertError> {
        let mut c = self.ctx();
        c.insert("cut_over", &false);
        let mut stmts = self.stmts("convert_rollback.sql.tera", &c)?;
        stmts.extend(self.state_stmts("delete", None)?);
        let step = phase_step(&self.n, "clean-up", "none".into(), stmts);
        self.run_phase(&step, log)
    }

    fn finish_stmts(&self, drop_original: bool) -> Result<Vec<Stmt>, ConvertError> {
        let mut c = self.ctx();
        c.insert("drop_original", &drop_original);
        c.insert("marker", &self.n.original_marker());
        let mut stmts = self.stmts("convert_finish.sql.tera", &c)?;
        stmts.extend(self.state_stmts("phase", Some(Phase::Finished))?);
        Ok(stmts)
    }

    fn finish(
        &mut self,
        drop_original: bool,
        log: &mut dyn FnMut(&Event),
    ) -> Result<Summary, ConvertError> {
        let state = self.read_state()?;
        match state.as_ref().map(|s| s.phase) {
            Some(Phase::CutOver) => {}
            Some(Phase::Finished) => {
                return Ok(self.summary(Phase::Finished, vec!["finished already".into()]))
            }
            other => {
                return Err(ConvertError::Phase {
                    table: self.n.label.clone(),
                    message: match other {
                        None => "no conversion of this table is recorded; nothing to finish".into(),
                        Some(p) => format!(
                            "the conversion stands at phase {}; run `convert` to reach cutover before `--finish`",
                            p.as_str()
                        ),
                    },
                })
            }
        }
        let stmts = self.finish_stmts(drop_original)?;
        let step = phase_step(
            &self.n,
            "finish",
            "ACCESS EXCLUSIVE on the table to drop its trigger".into(),
            stmts,
        );
        self.run_phase(&step, log)?;
        let line = if drop_original {
            format!(
                "finished: the reverse trigger and {} are dropped",
                self.n.unpartitioned
            )
        } else {
            format!(
                "finished: the reverse trigger is dropped; {} stays as it was at this moment (drop it when you no longer need it)",
                self.n.unpartitioned
            )
        };
        Ok(self.summary(Phase::Finished, vec![line]))
    }

    fn dry_run(&mut self, now: DateTime<Utc>, opts: &Options) -> Result<DryRun, ConvertError> {
        let state = self.read_state()?;
        let phase = state.as_ref().map(|s| s.phase);
        let mut sections = Vec::new();
        let mut notes = Vec::new();
        if matches!(phase, Some(Phase::CutOver) | Some(Phase::Finished)) {
            if phase == Some(Phase::CutOver) {
                let stmts = self.finish_stmts(false)?;
                sections.push((
                    "finish (`convert --finish`; one transaction)".to_string(),
                    stmts.into_iter().map(|s| s.sql).collect(),
                ));
            }
            return Ok(DryRun {
                table: self.n.label.clone(),
                sections,
                notes: vec![format!(
                    "the conversion stands at phase {}",
                    phase.map_or("", |p| p.as_str())
                )],
                estimate: String::new(),
            });
        }
        let (source, design) = self.plain_source()?;
        let sql = |v: Vec<Stmt>| v.into_iter().map(|s| s.sql).collect::<Vec<_>>();
        if phase.is_none() {
            let (stmts, n, _) = self.prepare_stmts(&source, &design, now)?;
            notes.push(
                match disk::verdict(source.bytes.max(0) as u64, &self.backend.free_space()) {
                    disk::Verdict::TooLittle(m) => format!("disk: convert would refuse: {m}"),
                    disk::Verdict::Enough(m) | disk::Verdict::Unknown(m) => format!("disk: {m}"),
                },
            );
            notes.extend(n);
            let how = if self.backend.capabilities().transactional_ddl {
                "one transaction"
            } else {
                "statement by statement, each committing; phase `preparing` until the last"
            };
            sections.push((format!("prepare ({how})"), sql(stmts)));
        } else {
            notes.push(format!(
                "the conversion stands at phase {}; convert resumes there",
                phase.map_or("", |p| p.as_str())
            ));
        }
        let batch = Batches::new(self.policy, opts.max_rate).size;
        let mut c = self.ctx();
        c.insert("row_key", &design.row_key);
        c.insert("columns", &design.columns);
        c.insert("offset", &batch.saturating_sub(1));
        c.insert("last", &None::<Vec<String>>);
        let example: Vec<String> = design
            .row_key
            .iter()
            .map(|k| format!("<{k} of the batch's last row>"))
            .collect();
        let mut copy = Vec::new();
        let [cut_timeouts, copy_timeouts] = self.copy_timeouts(&c)?;
        copy.extend(sql(cut_timeouts));
        c.insert("part", "cut");
        let cut_sql = self.t.text("convert_copy.sql.tera", &c)?;
        copy.push(cut_sql.clone());
        copy.extend(sql(copy_timeouts));
        c.insert("cut", &Some(key_values(&example, &design.row_key_types)));
        c.insert("part", "copy");
        copy.extend(sql(self.stmts("convert_copy.sql.tera", &c)?));
        c.insert("part", "save");
        c.insert("rows", &batch);
        c.insert(
            "cut_json",
            &serde_json::to_string(&example).unwrap_or_default(),
        );
        copy.push(self.t.text("convert_copy.sql.tera", &c)?);
        if phase.is_none() || phase == Some(Phase::Prepared) {
            sections.push((
                format!("copy (per batch of up to {batch} rows, each its own transaction, repeated until a batch reaches the end)"),
                copy,
            ));
        }
        c.insert("part", "compare");
        let compare = self.t.text("convert_verify.sql.tera", &c)?;
        sections.push((
            "verify (per batch, each one statement)".to_string(),
            vec![cut_sql, compare],
        ));
        if self.backend.capabilities().swap_in_second_session {
            sections.push((
                "cutover (both tables locked under lock_wait_timeout, retried; the RENAME runs on a second session queued behind the lock)".to_string(),
                swap::listing(self, &design)?,
            ));
        } else {
            sections.push((
                "cutover (one transaction under lock_timeout, retried)".to_string(),
                sql(self.cutover_stmts(&source, &design)?),
            ));
        }
        sections.push((
            "finish (`convert --finish`; one transaction)".to_string(),
            sql(self.finish_stmts(false)?),
        ));
        let rate = opts.max_rate.unwrap_or(ASSUMED_ROWS_PER_SEC).max(1);
        let estimate = if source.est_rows < 0 {
            format!(
                "{} has never been analyzed, so its rows are not estimated ({}); run ANALYZE for an estimate",
                self.n.table,
                crate::output::human(source.bytes)
            )
        } else {
            let secs = source.est_rows as u64 / rate;
            format!(
                "about {} rows ({}): copy about {} at {} rows/s{}",
                source.est_rows,
                crate::output::human(source.bytes),
                duration_text(secs),
                rate,
                if opts.max_rate.is_some() {
                    " (--max-rate)"
                } else {
                    " (assumed)"
                }
            )
        };
        Ok(DryRun {
            table: self.n.label.clone(),
            sections,
            notes,
            estimate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_batch_halves_and_caps_the_batches_after_it() {
        let policy = crate::policy::parse_sources(&[(
            std::path::PathBuf::from("t.toml"),
            "[[table]]\nname = \"public.ev\"\npartition_by = \"hash\"\ncolumn = \"id\"\nmodulus = 4\nmove_batch_rows = 50000\n".into(),
        )])
        .unwrap()
        .remove(0);
        let mut b = Batches::new(&policy, None);
        b.size = 50_000;
        b.timed_out();
        assert_eq!(b.size, 25_000);
        // Fast batches double, but never past the size that timed out, halved.
        for _ in 0..5 {
            b.done(b.size, Duration::from_millis(1));
        }
        assert_eq!(b.size, 25_000);
        b.size = 1;
        b.timed_out();
        assert_eq!(b.size, 1);
    }
}
