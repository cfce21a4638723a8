//! Talking to a server: one [`Backend`] per engine, and the only place that names a driver
//! crate (`postgres`, `mysql`).
//!
//! A backend owns the connection and everything that differs between engines when the work is
//! done for real: reading the catalog and the key statistics, the per-table advisory lock,
//! running one statement of a step (mapping the driver's errors onto [`StmtErrorKind`] so that
//! `apply` retries the same way on every engine), EXPLAIN for `verify`, and the run history.
//! What differs in the SQL text lives in the engine's [`Dialect`]; what the engine-neutral layers
//! must know about an engine is [`Capabilities`] data. [`connect`] is the one place that picks
//! a backend from a URL; nothing outside this module matches on [`Engine`].
//!
//! A Citus-aware PostgreSQL or a Vitess-aware MySQL is meant to be a small variation of one of
//! these: another `Backend` wrapping the plain one, overriding what the distributed engine does
//! differently.

pub mod disk;
pub mod history;
pub mod mysql;
pub mod postgres;
pub mod tls;
pub mod url;
pub mod waiting;

use crate::catalog::{self, Catalog, CatalogError, Engine, ServerMeta, StatsNeeded, TableRead};
use crate::explain::{ExplainError, Query, Touched};
use crate::key::Span;
use crate::names::{QualifiedName, TableRef};
use crate::policy::{Policy, Strategy};
use crate::render::{Dialect, Templates};
use chrono::{DateTime, Utc};
use std::time::Duration;

pub use disk::FreeSpace;
pub use history::Record;
pub use url::{DbUrl, UrlError};

/// A connection that could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{context}: {message}")]
    Query { context: String, message: String },
}

/// What kind of failure a statement met: the neutral words `apply` decides retries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StmtErrorKind {
    /// A lock could not be had within the lock timeout.
    LockTimeout,
    Deadlock,
    /// A serialization failure: the same statement may succeed when tried again.
    Serialization,
    /// The statement ran past its statement timeout and was cancelled (not retried as such:
    /// the same statement would take as long again; `convert`'s copy halves its batch).
    StatementTimeout,
    Other,
}

impl StmtErrorKind {
    /// Worth another attempt after a pause.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            StmtErrorKind::LockTimeout | StmtErrorKind::Deadlock | StmtErrorKind::Serialization
        )
    }
}

/// A statement that failed, with the server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StmtError {
    pub kind: StmtErrorKind,
    pub message: String,
}

/// One step's answer from [`Backend::execute_transactions`]: as
/// [`Backend::execute_transaction`]'s, and the notices the step caused.
pub type StepAnswer = (Result<(), (String, StmtError)>, Vec<String>);

impl StmtError {
    pub fn other(message: impl Into<String>) -> StmtError {
        StmtError {
            kind: StmtErrorKind::Other,
            message: message.into(),
        }
    }
}

/// What the engine-neutral layers must know about an engine: data, not branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The product's name for messages ("PostgreSQL", "MariaDB", "MySQL").
    pub product: &'static str,
    /// DDL runs inside a transaction that a failure rolls back whole. Without it, a step is a
    /// sequence of statements that each commit, and a retry resumes at the statement that
    /// failed.
    pub transactional_ddl: bool,
    /// The statement that moves rows reports how many it moved (PostgreSQL's `INSERT ...
    /// SELECT`/`DELETE`), so the count is checked on the spot. Otherwise (a MySQL `REORGANIZE`)
    /// the rows are counted where they arrive.
    pub move_reports_rows: bool,
    /// EXPLAIN can plan a query with unknown parameters (PostgreSQL's generic plans).
    pub generic_plans: bool,
    /// `convert`'s swap of two tables cannot run in the transaction that holds their locks
    /// (MySQL: no RENAME TABLE under LOCK TABLES), so a second session's RENAME queues behind
    /// this one's locks (see [`Backend::another_session`]).
    pub swap_in_second_session: bool,
}

/// One row of pg_partman's `part_config` (4.x and 5.x columns; those a version lacks are
/// `None`), as `init` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct PartmanConfig {
    pub parent_table: String,
    pub control: Option<String>,
    pub partition_type: Option<String>,
    pub partition_interval: Option<String>,
    pub premake: Option<i64>,
    pub retention: Option<String>,
    pub retention_keep_table: Option<bool>,
    pub retention_schema: Option<String>,
    pub infinite_time_partitions: Option<bool>,
    /// pg_partman 5: whether a default partition is kept (4.x always makes one).
    pub default_table: Option<bool>,
    pub datetime_string: Option<String>,
}

/// One open connection to a server.
pub trait Backend {
    fn engine(&self) -> Engine;
    fn server_version(&self) -> &str;
    fn capabilities(&self) -> Capabilities;
    /// The SQL dialect of this server (and version).
    fn dialect(&self) -> &'static dyn Dialect;

    /// Read the policies' tables (with partition sizes when `sizes`: `show`, `snapshot`), waiting
    /// for table locks at most as long as the policies' lock timeouts and retries allow.
    /// `plan_at`: the read is for plans at this time, so a fact no such plan can depend on may
    /// be left out (MySQL/MariaDB: the keys in a catch-all, when the table has nothing to
    /// create; see [`crate::plan::catch_all_keys_matter`]); `None` reads every fact (`check`,
    /// `show`, `snapshot`).
    fn read_catalog(
        &mut self,
        policies: &[&Policy],
        sizes: bool,
        plan_at: Option<DateTime<Utc>>,
    ) -> Result<Catalog, CatalogError>;

    /// Keep the partition bounds already read in a cache file under `dir`, so that the next
    /// read deparses only what changed (PostgreSQL; elsewhere nothing). Called for `plan`,
    /// `check`, `show`, `apply` and `run` unless `--no-cache`.
    fn use_bound_cache(&mut self, _dir: std::path::PathBuf) {}

    /// `on`: the catalog reads that follow are apply's under its locks, and may take the
    /// names of partitions from the bound cache without reading `pg_class` (the `pg_inherits`
    /// row of each tells whether its bound is still the cached one; a rename since the cache
    /// saw it goes unseen), all but the DEFAULT's. PostgreSQL with the bound cache; elsewhere
    /// nothing. See [`Backend::names_unchecked`].
    fn names_from_cache(&mut self, _on: bool) {}

    /// The last catalog read took partition names from the cache unchecked (see
    /// [`Backend::names_from_cache`]): apply reads a table again with its names before it
    /// removes partitions of it, judges foreign keys, or reports it failed.
    fn names_unchecked(&self) -> bool {
        false
    }

    /// Before a step that detaches, drops, archives, merges, replaces or finishes detaching
    /// `partitions` of `table` (as the last catalog read gave it): when some read of the
    /// session took bounds from the cache, ask the server for the bounds of the partitions
    /// of `table` so named once more and check that they are the ones planned with (a name
    /// the read gave two partitions confirms neither), so that a cache can never choose what
    /// is removed. `Err` (the cache removed): the step must not run.
    fn confirm_bounds(
        &mut self,
        _table: &crate::catalog::Table,
        _partitions: &[&QualifiedName],
    ) -> Result<(), String> {
        Ok(())
    }

    /// The schema (PostgreSQL) or database (MySQL) a policy's unqualified table name means on
    /// this connection, when it has one.
    fn default_schema(&self) -> Option<&str>;

    /// `convert`: free disk space where the server keeps its data, when this machine can tell
    /// (see [`disk`]); by default it cannot.
    fn free_space(&mut self) -> FreeSpace {
        FreeSpace::Unknown(format!(
            "{} does not tell its free disk space",
            self.capabilities().product
        ))
    }

    /// `convert --replica`: on a replica, how far its replay is behind its primary; `None`
    /// when it is not a replica. Idle is not lag: a replica that has replayed everything it
    /// received is 0 behind, however old the last transaction.
    fn replica_lag(&mut self) -> Result<Option<Duration>, StmtError> {
        Err(StmtError::other(format!(
            "reading replication lag is not available on {} yet",
            self.capabilities().product
        )))
    }

    /// `init`: every partitioned table of the database (PostgreSQL: outside the system
    /// schemas; MySQL/MariaDB: the connection's database).
    fn partitioned_tables(&mut self) -> Result<Vec<TableRef>, DbError>;

    /// Read tables by name, no policy needed (`init`), with the largest key of integer keys.
    fn read_named(&mut self, tables: &[TableRef]) -> Result<Catalog, CatalogError>;

    /// pg_partman's `part_config` rows, when pg_partman is installed (never elsewhere).
    fn partman_config(&mut self) -> Result<Vec<PartmanConfig>, DbError> {
        Ok(vec![])
    }

    /// Take the table's session-level advisory lock without waiting. `false`: another run
    /// holds it.
    /// Another session on the same server, set up like this one, for work that must queue
    /// behind this session's locks (`convert`'s swap on MySQL/MariaDB). `None`: not needed.
    fn another_session(&self) -> Option<Result<Box<dyn Backend + Send>, DbError>> {
        None
    }
    fn try_lock(&mut self, table: &str) -> Result<bool, DbError>;
    fn unlock(&mut self, table: &str) -> Result<(), DbError>;
    /// Take the advisory locks of several tables without waiting, in order: for each, whether
    /// it is now held. An engine that can takes them all in one round trip.
    fn try_lock_all(&mut self, tables: &[String]) -> Result<Vec<bool>, DbError> {
        tables.iter().map(|t| self.try_lock(t)).collect()
    }
    /// Release locks [`Backend::try_lock_all`] took.
    fn unlock_all(&mut self, tables: &[String]) -> Result<(), DbError> {
        tables.iter().try_for_each(|t| self.unlock(t))
    }

    /// Open a transaction (engines with transactional DDL).
    fn begin(&mut self) -> Result<(), StmtError>;
    fn commit(&mut self) -> Result<(), StmtError>;
    fn rollback(&mut self);
    /// Run one statement; the number of rows it changed.
    fn execute(&mut self, sql: &str) -> Result<u64, StmtError>;
    /// Run `statements` (no counts to check between them) as one transaction: BEGIN, each,
    /// COMMIT; any failure rolls all of it back. `Err`: the statement that failed, and why.
    /// PostgreSQL sends them together (pipelined: one round trip, each still its own
    /// statement); the default runs them one by one.
    fn execute_transaction(&mut self, statements: &[&str]) -> Result<(), (String, StmtError)> {
        self.begin().map_err(|e| ("BEGIN".to_string(), e))?;
        let done = statements
            .iter()
            .try_for_each(|s| self.execute(s).map(|_| ()).map_err(|e| (s.to_string(), e)))
            .and_then(|()| self.commit().map_err(|e| ("COMMIT".to_string(), e)));
        if done.is_err() {
            self.rollback();
        }
        done
    }
    /// Run several steps' transactions in order, each as [`Backend::execute_transaction`]
    /// would: a failed one rolls back alone and the next still runs. For each, its result and
    /// the notices it caused (as [`Backend::take_notices`] gives them). PostgreSQL sends them
    /// all before reading any answer, so the server goes from one to the next without waiting
    /// on the client; the default runs them one by one.
    fn execute_transactions(&mut self, steps: &[Vec<&str>]) -> Vec<StepAnswer> {
        let _ = self.take_notices();
        steps
            .iter()
            .map(|s| {
                let result = self.execute_transaction(s);
                (result, self.take_notices())
            })
            .collect()
    }
    /// Run one `SELECT count(*)`-like statement; its single number.
    fn count(&mut self, sql: &str) -> Result<i64, StmtError>;
    /// Run a statement that returns one row of numbers (a batch's rows deleted and inserted).
    fn count_row(&mut self, sql: &str) -> Result<Vec<i64>, StmtError> {
        self.count(sql).map(|n| vec![n])
    }
    /// Run a query; every value of every row as text (`None` for NULL). The statement casts
    /// what it returns to text where the engine would not.
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, StmtError>;
    /// After a failed step outside a transaction: put session settings (timeouts) back.
    fn reset_session(&mut self);
    /// The messages the server sent since the last call (PostgreSQL NOTICEs and WARNINGs),
    /// those worth showing with the step that caused them, one line each ("WARNING: ...").
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// The rows the next batch of a batched move may take (the templates read it from the
    /// session: `partctl.batch_rows` on PostgreSQL, `@partctl_batch` on MySQL), at most the
    /// rendered `move_batch_rows`.
    fn set_batch_rows(&mut self, rows: u64) -> Result<(), StmtError>;
    /// The message for a row-count mismatch in a step: what was (or was not) undone.
    fn count_mismatch(&self, detail: String, at_target: bool) -> String;

    /// The other sessions that hold (or may hold) a lock on the table or its partitions, each
    /// described in one line (pid, user, application, how long its transaction has been open,
    /// the start of its query), most likely culprit first; for an error after a lock wait gave
    /// up. Best effort: empty when it cannot tell.
    fn lock_holders(&mut self, table: &QualifiedName) -> Vec<String>;

    /// EXPLAIN one query (never executed) and count the partitions its plan touches.
    fn explain(&mut self, templates: &Templates, query: &Query) -> Result<Touched, ExplainError>;

    /// EXPLAIN every query, one result each in order: as [`Backend::explain`], but in as few
    /// round trips as the engine allows (one READ ONLY transaction for them all, one catalog
    /// lookup for every plan's relations). One query's error is its own.
    fn explain_all(
        &mut self,
        templates: &Templates,
        queries: &[Query],
    ) -> Vec<Result<Touched, ExplainError>> {
        queries.iter().map(|q| self.explain(templates, q)).collect()
    }

    /// Whether the run history table exists.
    fn history_exists(&mut self) -> Result<bool, DbError>;
    /// Create the run history (and its schema or database) when it is missing.
    fn history_init(&mut self) -> Result<(), DbError>;
    /// When the table's last successful run started.
    fn history_last_ok(
        &mut self,
        table: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, DbError>;
    /// Write one run; its id.
    fn history_record(&mut self, record: &Record) -> Result<i64, DbError>;
    /// The table's latest runs, newest first.
    fn history_recent(&mut self, table: &str, limit: u32) -> Result<Vec<Record>, DbError>;
    /// Delete the table's runs that started before `before`, except its latest successful
    /// one; how many were deleted.
    fn history_prune(
        &mut self,
        table: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, DbError>;
}

/// Connect to the server a URL names: the one place that picks a backend by engine. The
/// whole exchange (TCP, TLS, login, session set-up) takes at most the URL's `connect_timeout`.
pub fn connect(url: &DbUrl) -> Result<Box<dyn Backend>, DbError> {
    start_connect(url).finish()
}

type Attempt = Result<Box<dyn Backend + Send>, DbError>;

/// A connection attempt running on its own thread (see [`start_connect`]).
pub struct Connecting {
    url: DbUrl,
    started: std::time::Instant,
    answer: Result<std::sync::mpsc::Receiver<Attempt>, DbError>,
}

/// Start connecting on a thread of its own, for a caller with other work to do meanwhile (the
/// CLI reads the policies while the server answers); [`Connecting::finish`] waits for it.
pub fn start_connect(url: &DbUrl) -> Connecting {
    let owned = url.clone();
    let attempt =
        move || -> Attempt {
            match owned.engine {
                Engine::Postgres => postgres::PgBackend::connect(&owned)
                    .map(|b| Box::new(b) as Box<dyn Backend + Send>),
                Engine::Mysql | Engine::Mariadb => mysql::MyBackend::connect(&owned)
                    .map(|b| Box::new(b) as Box<dyn Backend + Send>),
            }
        };
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("partctl-connect".into())
        .spawn(move || {
            let _ = tx.send(attempt());
        });
    Connecting {
        url: url.clone(),
        started: std::time::Instant::now(),
        answer: spawned.map(|_| rx).map_err(|e| DbError::Connect {
            target: url.to_string(),
            message: format!("cannot start the connection: {e}"),
        }),
    }
}

impl Connecting {
    /// Where it connects.
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// The session, or the error; giving up `connect_timeout` after the attempt started: a
    /// server that accepts the connection and never answers cannot hold partctl. (The
    /// abandoned thread ends with the process, or when the server finally answers or closes;
    /// a session it opens for nobody is closed.)
    pub fn finish(self) -> Result<Box<dyn Backend>, DbError> {
        let url = &self.url;
        let wait = url.connect_timeout.saturating_sub(self.started.elapsed());
        match self.answer?.recv_timeout(wait) {
            Ok(result) => result.map(|b| b as Box<dyn Backend>),
            Err(_) => Err(DbError::Connect {
                target: url.to_string(),
                message: format!(
                    "no answer within {} s (connect_timeout); the server accepted the connection but did not complete the login",
                    url.connect_timeout.as_secs()
                ),
            }),
        }
    }
}

/// TCP keepalive settings for both engines: a server that vanishes mid-session (a network
/// partition, a dead host) is noticed within about a minute instead of never.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Unacknowledged data for this long drops the connection (Linux `TCP_USER_TIMEOUT`).
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// What the planner needs to know about a table's rows, beyond its partitions.
pub fn stats_needed(p: &Policy) -> StatsNeeded {
    let integer = matches!(p.interval, Some(Span::Int(_)));
    StatsNeeded {
        max_key: p.strategy == Strategy::Range && integer,
        catch_all_range: p.strategy == Strategy::Range,
        auto_lists: p
            .auto_lists
            .as_ref()
            .map(|a| (a.min_rows, a.max_partitions)),
    }
}

/// The facts `init` reads about tables it has no policy for: the largest key (integer keys).
pub const INIT_STATS: StatsNeeded = StatsNeeded {
    max_key: true,
    catch_all_range: false,
    auto_lists: None,
};

/// The tables to read for the policies, with the facts each needs.
pub fn wanted(policies: &[&Policy]) -> Vec<(TableRef, StatsNeeded)> {
    policies
        .iter()
        .map(|p| (p.table.clone(), stats_needed(p)))
        .collect()
}

/// The bound cache's default directory (see `postgres/bound_cache.rs`): `$PARTCTL_CACHE_DIR`,
/// `$XDG_CACHE_HOME/partctl`, `~/.cache/partctl`.
pub fn default_cache_dir() -> Option<std::path::PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("PARTCTL_CACHE_DIR") {
        return Some(std::path::PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(std::path::PathBuf::from(dir).join("partctl"));
    }
    var("HOME").map(|h| std::path::PathBuf::from(h).join(".cache").join("partctl"))
}

/// How long a catalog read may wait for a table lock: the longest a policy's apply would
/// wait, over all its attempts.
pub fn catalog_lock_wait(policies: &[&Policy], round: impl Fn(Duration) -> u128) -> u128 {
    policies
        .iter()
        .map(|p| round(p.lock_timeout) * (u128::from(p.retries) + 1))
        .max()
        .unwrap_or(1)
}

/// Read the policies' tables: all at once, or one at a time when that fails, so that one
/// missing or locked table does not hide the others. `plan_at`: see [`Backend::read_catalog`].
pub fn read_tables(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    plan_at: Option<DateTime<Utc>>,
) -> (ServerMeta, Vec<TableRead>) {
    let per_table = |e: CatalogError| match e {
        CatalogError::DoesNotFit { message, .. } => TableRead::Refused(message),
        e => TableRead::Unreadable(e.to_string()),
    };
    let reads = match backend.read_catalog(policies, false, plan_at) {
        Ok(cat) => catalog::found_all(policies, cat),
        Err(e) if policies.len() == 1 => vec![per_table(e)],
        Err(_) => policies
            .iter()
            .map(|p| match backend.read_catalog(&[*p], false, plan_at) {
                Ok(cat) => catalog::found(p, &cat),
                Err(e) => per_table(e),
            })
            .collect(),
    };
    let meta = Some((backend.engine(), backend.server_version().to_string()));
    (meta, reads)
}

/// The policies' tables as one catalog (with partition sizes when `sizes`), and the policies
/// whose table could not be read or does not fit, each as (table, reason). `plan_at`: see
/// [`Backend::read_catalog`].
pub fn read_each(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    sizes: bool,
    plan_at: Option<DateTime<Utc>>,
) -> (Catalog, Vec<(String, String)>) {
    let mut catalog = Catalog {
        format_version: catalog::CATALOG_FORMAT_VERSION,
        engine: backend.engine(),
        server_version: backend.server_version().to_string(),
        tables: vec![],
    };
    let mut failures = Vec::new();
    match backend.read_catalog(policies, sizes, plan_at) {
        Ok(cat) => catalog.tables = cat.tables,
        Err(_) => {
            for p in policies {
                match backend.read_catalog(&[*p], sizes, plan_at) {
                    Ok(cat) => catalog.tables.extend(cat.tables),
                    Err(e) => failures.push((p.table.to_string(), e.to_string())),
                }
            }
        }
    }
    (catalog, failures)
}

/// The qualified name a policy's table goes by on this connection (the connection's default
/// schema or database for an unqualified name), as the catalog names it; without reading it.
pub fn qualified_name(backend: &dyn Backend, table: &TableRef) -> String {
    match (&table.schema, backend.default_schema()) {
        (Some(schema), _) => QualifiedName::new(schema.clone(), table.name.clone()).to_string(),
        (None, Some(schema)) => {
            QualifiedName::new(schema.to_string(), table.name.clone()).to_string()
        }
        (None, None) => table.to_string(),
    }
}

/// The qualified name a policy's table goes by: the catalog's when it could be read, else the
/// policy's own.
pub fn table_names(backend: &mut dyn Backend, policies: &[&Policy]) -> Vec<String> {
    let (_, reads) = read_tables(backend, policies, None);
    policies
        .iter()
        .zip(reads)
        .map(|(p, r)| match r {
            TableRead::Found(t) => t.name.to_string(),
            _ => p.table.to_string(),
        })
        .collect()
}

/// One line about a session that holds a lock: who, for how long, doing what.
pub fn holder_text(
    session: &str,
    user: &str,
    application: Option<&str>,
    open_secs: i64,
    query: &str,
    modes: Option<&str>,
) -> String {
    let mut s = format!("{session} (user {user}");
    if let Some(a) = application.filter(|a| !a.is_empty()) {
        s.push_str(&format!(", application {a}"));
    }
    if open_secs >= 0 {
        s.push_str(&format!(", transaction open {open_secs} s"));
    }
    if let Some(m) = modes.filter(|m| !m.is_empty()) {
        s.push_str(&format!(", holding {m}"));
    }
    s.push(')');
    if !query.trim().is_empty() {
        s.push_str(&format!(": {}", query.trim()));
    }
    s
}

/// 64-bit advisory lock key for a table: FNV-1a over "partctl:" and the qualified name.
pub fn advisory_key(table: &str) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in "partctl:".bytes().chain(table.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h as i64
}

/// The statements of a fixed SQL script: separated by `;` at the end of a line, `--` comment
/// lines dropped. Each is then sent on its own.
pub fn script_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in script.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        let trimmed = line.trim_end();
        match trimmed.strip_suffix(';') {
            Some(body) => {
                cur.push_str(body);
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            None => {
                cur.push_str(trimmed);
                cur.push('\n');
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(advisory_key("public.events"), advisory_key("public.events"));
        assert_ne!(advisory_key("public.events"), advisory_key("public.Events"));
    }

    #[test]
    fn scripts_split_on_line_end_semicolons() {
        assert_eq!(
            script_statements("-- c\nCREATE DATABASE x;\nCREATE TABLE y (\n  a INT\n);\n"),
            vec![
                "CREATE DATABASE x".to_string(),
                "CREATE TABLE y (\n  a INT\n)".into()
            ]
        );
        assert_eq!(
            script_statements(include_str!("../../templates/mysql/history_init.sql")).len(),
            2
        );
        assert_eq!(
            script_statements(include_str!("../../templates/postgres/history_init.sql")).len(),
            4
        );
    }
}
