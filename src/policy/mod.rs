//! Policy files: TOML parsing with positions, then semantic validation. Pure: no I/O but reading
//! the files named on the command line.
//!
//! This file holds the public types and the entry points ([`load`], [`policy_files`],
//! [`parse_sources`]). `parse.rs` has the raw TOML shapes, `validate.rs` turns one `[[table]]`
//! into a [`Policy`] (with `range.rs` and `list_hash.rs` for strategy-specific keys), and
//! `values.rs` parses durations, dates, cron schedules and `--now`.

mod auto_lists;
mod coarsen;
mod list_hash;
mod parse;
mod range;
mod schema;
mod validate;
mod values;

#[cfg(test)]
mod tests;

pub use crate::name_template::MAX_IDENT_BYTES;
pub use schema::policy_schema;
pub use values::{parse_cron, parse_duration, parse_now, ValueError, WeekdayError};

use crate::key::Span;
use crate::names::TableRef;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use parse::RawFile;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use validate::Ctx;

/// Where something was written: file, line and column (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl Origin {
    /// The position of byte `offset` of `text`, read from `file` (for files other than
    /// policies that report errors the same way, such as a targets file).
    pub fn at(file: &std::path::Path, text: &str, offset: usize) -> Origin {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        Origin {
            file: file.to_path_buf(),
            line: text[..offset].matches('\n').count() + 1,
            col: text[line_start..offset].chars().count() + 1,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A problem in a policy file, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    pub origin: Origin,
    pub message: String,
}

/// Every problem found in the policy files; validation reports them all at once.
#[derive(Debug, Clone, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Range,
    List,
    Hash,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::List => "list",
            Strategy::Hash => "hash",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnExpire {
    Detach,
    Drop,
    Archive { schema: String },
}

/// A list-partition value: policy files may write strings or integers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ListValue {
    Int(i64),
    Str(String),
}

impl fmt::Display for ListValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListValue::Int(i) => write!(f, "{i}"),
            ListValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubPartition {
    pub strategy: Strategy,
    pub column: String,
    pub modulus: Option<u32>,
    pub lists: BTreeMap<String, Vec<ListValue>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyAssertion {
    pub sql: String,
    pub max_partitions: u32,
    pub params: Vec<ListValue>,
    pub origin: Origin,
}

/// The lower end of the coverage run, as written in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Int(i64),
    /// A wall-clock value in the policy's time zone.
    Local(NaiveDateTime),
}

/// One validated `[[table]]`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub table: TableRef,
    pub strategy: Strategy,
    pub column: String,
    pub interval: Option<Span>,
    pub premake: u32,
    pub retain: Option<Span>,
    pub on_expire: OnExpire,
    pub start: Option<Start>,
    pub timezone: Tz,
    pub default_partition: bool,
    pub name_template: Option<String>,
    pub lists: BTreeMap<String, Vec<ListValue>>,
    pub modulus: Option<u32>,
    pub subpartition: Option<SubPartition>,
    pub schedule: Option<Schedule>,
    pub verify: Vec<VerifyAssertion>,
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    pub retries: u32,
    /// How long `run` keeps the table's run history (`history_retain`); `None`: forever.
    pub history_retain: Option<Duration>,
    /// How rows move out of a catch-all (`move_batch_rows`, `move_max_lock`, `move_mode`).
    pub moves: MoveSettings,
    /// List tables: a partition per value seen often enough in the catch-all (`auto_lists`).
    pub auto_lists: Option<AutoLists>,
    /// `coarsen`: levels by increasing `after`, each interval coarser than the one before
    /// (range tables with time keys only; empty when not given).
    pub coarsen: Vec<CoarsenLevel>,
    /// `max_partitions_warn`: `check` warns when the table has more partitions (default 1,000).
    pub max_partitions_warn: u32,
    /// Where the `[[table]]` starts.
    pub origin: Origin,
    /// Where its keys are written, for errors found later (at plan time) about one of them.
    pub key_origins: KeyOrigins,
}

/// Where a policy's keys are written (the table's own origin when a key is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigins {
    pub name: Origin,
    pub partition_by: Origin,
    pub column: Origin,
    pub interval: Origin,
    pub subpartition: Origin,
    pub name_template: Origin,
}

/// `auto_lists`: a list partition for each value with at least `min_rows` rows waiting in the
/// catch-all, while the table has fewer than `max_partitions` list partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoLists {
    pub min_rows: u64,
    pub max_partitions: u32,
    /// The partition name template (variables `table`, `value`; filter `slug`).
    pub name: String,
    /// Where `auto_lists` is written.
    pub origin: Origin,
}

/// The name an auto-list partition gets when `auto_lists` names none.
pub const DEFAULT_AUTO_LIST_NAME: &str = "{{ table }}_{{ value | slug }}";

/// A cron schedule, kept both as written and in the `cron` crate's form.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub text: String,
    pub cron: cron::Schedule,
}

impl Schedule {
    /// Is a run due at `now`, given the last run? (Due when a fire time lies in (last, now].)
    pub fn due(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: Tz) -> bool {
        let from = last.unwrap_or(now - chrono::Duration::days(366));
        self.cron
            .after(&from.with_timezone(&tz))
            .next()
            .is_some_and(|t| t.with_timezone(&Utc) <= now)
    }
}

/// One level of `coarsen`: partitions of a period of `interval` whose period ended at least
/// `after` before now are merged into one partition covering the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoarsenLevel {
    pub after: Span,
    pub interval: Span,
}

/// `max_partitions_warn` when none is given: the rule of thumb of fewer than 1,000 partitions.
pub const DEFAULT_MAX_PARTITIONS_WARN: u32 = 1000;
/// `coarsen`: at most 8 levels.
pub const MAX_COARSEN_LEVELS: usize = 8;

/// How rows leave a catch-all partition when a new partition takes them over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveMode {
    /// PostgreSQL: a large move runs in batches of short transactions into a standalone table
    /// that is attached at the end; rows in transit are not visible through the parent.
    Batched,
    /// One transaction holding ACCESS EXCLUSIVE on the catch-all: rows always visible, readers
    /// of the catch-all wait for the whole move.
    Locked,
}

/// The row-move settings of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveSettings {
    /// Rows per batch (`move_batch_rows`); a catch-all estimated at no more than this moves in
    /// one transaction.
    pub batch_rows: u32,
    /// The longest one batch transaction, and the final attach, may run (`move_max_lock`):
    /// their statement timeout.
    pub max_lock: Duration,
    pub mode: MoveMode,
}

impl Default for MoveSettings {
    fn default() -> Self {
        MoveSettings {
            batch_rows: DEFAULT_MOVE_BATCH_ROWS,
            max_lock: DEFAULT_MOVE_MAX_LOCK,
            mode: MoveMode::Batched,
        }
    }
}

pub const DEFAULT_MOVE_BATCH_ROWS: u32 = 50_000;
pub const DEFAULT_MOVE_MAX_LOCK: Duration = Duration::from_secs(5);
/// `move_batch_rows`: 100 to 10,000,000; `move_max_lock`: 10 ms to 1 h.
pub const MIN_MOVE_BATCH_ROWS: u32 = 100;
pub const MAX_MOVE_BATCH_ROWS: u32 = 10_000_000;
pub const MIN_MOVE_MAX_LOCK: Duration = Duration::from_millis(10);
pub const MAX_MOVE_MAX_LOCK: Duration = Duration::from_secs(3600);
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_RETRIES: u32 = 5;
pub const DEFAULT_PREMAKE: u32 = 4;
/// How long `run` keeps its history when no `history_retain` is given.
pub const DEFAULT_HISTORY_RETAIN: Duration = Duration::from_secs(90 * 86_400);

// Bounds on what a policy may hold (documented in the README's policy reference). Past them a
// policy is a validation error, so the planner never meets a number it cannot compute with.
/// `premake`: 0 to 10,000.
pub const MAX_PREMAKE: u32 = 10_000;
/// `retries`: 0 to 100.
pub const MAX_RETRIES: u32 = 100;
/// `modulus`: 1 to 8,192 (MySQL's partition limit); `subpartition.modulus`: 1 to 1,024.
pub const MAX_MODULUS: u32 = 8192;
pub const MAX_SUB_MODULUS: u32 = 1024;
/// `max_partitions` of a verify assertion: 0 to 100,000.
pub const MAX_VERIFY_PARTITIONS: u32 = 100_000;
/// `lists`: at most 8,192 entries, 10,000 values in all, each string value at most 1,024 bytes.
pub const MAX_LIST_ENTRIES: usize = 8192;
pub const MAX_LIST_VALUES: usize = 10_000;
pub const MAX_LIST_VALUE_BYTES: usize = 1024;
/// `name_template`: at most 1,024 bytes.
pub const MAX_TEMPLATE_BYTES: usize = 1024;
/// A verify `sql`: at most 64 KiB; `params`: at most 100 values (each like a list value).
pub const MAX_VERIFY_SQL_BYTES: usize = 65_536;
pub const MAX_VERIFY_PARAMS: usize = 100;

// ---------------------------------------------------------------------------------------------
// Loading.

/// A `--policies` argument that names no readable policy file or directory.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFilesError {
    #[error("{}: cannot read directory: {reason}", dir.display())]
    UnreadableDir {
        dir: PathBuf,
        reason: std::io::Error,
    },
    #[error("{}: no such policy file or directory (give --policies PATH)", .0.display())]
    Missing(PathBuf),
}

/// The files a `--policies` argument names: a file, or every `*.toml` in a directory by name.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PolicyFilesError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut here: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|reason| PolicyFilesError::UnreadableDir {
                    dir: p.clone(),
                    reason,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                .collect();
            here.sort();
            files.extend(here);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(PolicyFilesError::Missing(p.clone()));
        }
    }
    Ok(files)
}

/// The range policies whose own `name_template` would give two partitions kept at once the
/// same name, or a name over the limit, between the retention cutoff and the horizon at `now`
/// (see [`crate::name_template::check_names_over_time`]). Rendering every period's name costs
/// time, so `validate` runs this, not every command; the planner still refuses a name that is
/// already taken.
pub fn name_collisions(policies: &[Policy], now: DateTime<Utc>) -> Vec<PolicyError> {
    policies
        .iter()
        .filter_map(|p| {
            let (Some(template), Some(interval), Strategy::Range) =
                (&p.name_template, p.interval, p.strategy)
            else {
                return None;
            };
            crate::name_template::check_names_over_time(
                template,
                &p.table.name,
                interval,
                p.retain,
                p.premake,
                p.timezone,
                now,
            )
            .err()
            .map(|m| PolicyError {
                origin: p.key_origins.name_template.clone(),
                message: format!("name_template: {m}"),
            })
        })
        .collect()
}

/// Why policies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path that is not there, or a directory that cannot be read.
    #[error("{0}")]
    Files(#[from] PolicyFilesError),
    #[error("invalid policies:\n{0}")]
    Invalid(#[from] PolicyErrors),
    /// The paths hold no table at all: nothing would ever be managed.
    #[error("no policies in {paths}: no *.toml file there defines a [[table]]")]
    Empty { paths: String },
}

/// Load and validate every policy named by `paths`; at least one table must be defined.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Policy>, LoadError> {
    let policies = load_files(paths)?;
    if policies.is_empty() {
        return Err(LoadError::Empty {
            paths: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(policies)
}

fn load_files(paths: &[PathBuf]) -> Result<Vec<Policy>, LoadError> {
    let files = policy_files(paths)?;
    let mut sources = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => sources.push((f, text)),
            Err(e) => {
                return Err(LoadError::Invalid(PolicyErrors(vec![PolicyError {
                    origin: Origin {
                        file: f,
                        line: 1,
                        col: 1,
                    },
                    message: format!("cannot read: {e}"),
                }])))
            }
        }
    }
    Ok(parse_sources(&sources)?)
}

/// Parse and validate policy texts (file name, contents). Reports every error found.
pub fn parse_sources(sources: &[(PathBuf, String)]) -> Result<Vec<Policy>, PolicyErrors> {
    let mut errors = Vec::new();
    let mut policies: Vec<Policy> = Vec::new();
    for (file, text) in sources {
        let mut ctx = Ctx {
            file,
            text,
            errors: &mut errors,
            line_starts: validate::line_starts(text),
        };
        match toml::from_str::<RawFile>(text) {
            Ok(raw) => {
                for t in raw.table {
                    let span = t.span();
                    if let Some(p) = ctx.table(t.into_inner(), span, raw.defaults.as_ref()) {
                        policies.push(p);
                    }
                }
            }
            Err(e) => {
                let at = e.span().map(|s| s.start).unwrap_or(0);
                let msg = e.message().to_string();
                ctx.err(at, msg);
            }
        }
    }
    // A table defined twice, across all files.
    for (i, p) in policies.iter().enumerate() {
        if let Some(first) = policies[..i].iter().find(|q| q.table == p.table) {
            errors.push(PolicyError {
                origin: p.origin.clone(),
                message: format!("table `{}` is already defined at {}", p.table, first.origin),
            });
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(PolicyErrors(errors))
    }
}
