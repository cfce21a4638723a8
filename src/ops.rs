//! The commands' work, between the CLI and the layers: policies + catalog + now -> plan ->
//! steps, and applying them. Engine-specific calls are confined to the `Conn` enum.

use crate::apply::{self, ApplyError};
use crate::catalog::{self, Catalog, Engine, StatsNeeded};
use crate::db::{self, DbError, DbUrl};
use crate::plan::{self, Action, PlanError};
use crate::policy::{Policy, Strategy};
use crate::render::{self, postgres::POSTGRES, Dialect, RenderError, Step};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Catalog(#[from] catalog::postgres::CatalogError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("{0}")]
    Other(String),
}

/// A saved or printed plan (contract: "Plan as JSON").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanDoc {
    pub format_version: u32,
    pub now: DateTime<Utc>,
    pub steps: Vec<StepDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDoc {
    pub id: String,
    pub table: String,
    pub action: String,
    pub partition: String,
    pub reason: String,
    pub lock: String,
    pub sql: Vec<String>,
    /// Whether the statements run in one transaction (an extension of the contract).
    #[serde(default = "yes")]
    pub transaction: bool,
}

fn yes() -> bool {
    true
}

impl PlanDoc {
    pub fn new(now: DateTime<Utc>, steps: &[Step]) -> PlanDoc {
        PlanDoc {
            format_version: 1,
            now,
            steps: steps
                .iter()
                .map(|s| StepDoc {
                    id: s.id.clone(),
                    table: s.table.clone(),
                    action: s.action.clone(),
                    partition: s.partition.clone(),
                    reason: s.reason.clone(),
                    lock: s.lock.clone(),
                    sql: s.sql.clone(),
                    transaction: s.transactional,
                })
                .collect(),
        }
    }
}

/// An open connection to one of the engines.
pub enum Conn {
    Postgres(Box<postgres::Client>),
    MySql(Box<mysql::Conn>, catalog::mysql::Server),
}

impl Conn {
    pub fn open(url: &DbUrl) -> Result<Conn, OpError> {
        match url.engine {
            Engine::Postgres => Ok(Conn::Postgres(Box::new(db::pg_connect(url)?))),
            Engine::Mysql | Engine::Mariadb => {
                let (conn, version) = db::my_connect(url)?;
                Ok(Conn::MySql(
                    Box::new(conn),
                    catalog::mysql::Server::from_version(&version),
                ))
            }
        }
    }

    pub fn read_catalog(&mut self, policies: &[&Policy]) -> Result<Catalog, OpError> {
        self.read_catalog_with(policies, false)
    }

    /// The catalog with partition sizes too (`show`, `snapshot`). On PostgreSQL reading sizes
    /// locks every partition for the duration of the query, so plan and apply do not.
    pub fn read_catalog_with(
        &mut self,
        policies: &[&Policy],
        sizes: bool,
    ) -> Result<Catalog, OpError> {
        let wanted: Vec<_> = policies
            .iter()
            .map(|p| (p.table.clone(), stats_needed(p)))
            .collect();
        match self {
            Conn::Postgres(c) => {
                // The catalog query (pg_total_relation_size) and the row facts wait for locks on
                // the table (a LOCK TABLE elsewhere): bound that wait as for MySQL below.
                let ms = policies
                    .iter()
                    .map(|p| p.lock_timeout.as_millis().max(1) * (u128::from(p.retries) + 1))
                    .max()
                    .unwrap_or(1);
                c.execute(
                    include_str!("../templates/postgres/session_lock_timeout.sql"),
                    &[&format!("{ms}ms")],
                )
                .map_err(|e| OpError::Other(format!("setting lock_timeout: {e}")))?;
                let catalog = catalog::postgres::read(c, &wanted, sizes);
                let _ = c.batch_execute("RESET lock_timeout");
                Ok(catalog?)
            }
            Conn::MySql(c, server) => {
                // The row facts are read with SELECTs that wait for metadata locks (a LOCK
                // TABLES elsewhere): bound that wait by the policies' lock_timeout and retries,
                // instead of the server's default of a year.
                use mysql::prelude::Queryable;
                let secs = policies
                    .iter()
                    .map(|p| {
                        p.lock_timeout.as_secs_f64().ceil().max(1.0) as u64
                            * (u64::from(p.retries) + 1)
                    })
                    .max()
                    .unwrap_or(1);
                c.exec_drop(
                    include_str!("../templates/mysql/session_lock_timeout.sql"),
                    (secs,),
                )
                .map_err(|e| OpError::Other(format!("setting lock_wait_timeout: {e}")))?;
                Ok(catalog::mysql::read(c, server, &wanted)?)
            }
        }
    }

    fn try_lock(&mut self, table: &str) -> Result<bool, OpError> {
        match self {
            Conn::Postgres(c) => apply::pg_try_lock(c, table),
            Conn::MySql(c, _) => apply::my_try_lock(c, table),
        }
        .map_err(|m| OpError::Other(format!("{table}: taking the advisory lock: {m}")))
    }

    fn unlock(&mut self, table: &str) {
        match self {
            Conn::Postgres(c) => {
                let _ = apply::pg_unlock(c, table);
            }
            Conn::MySql(c, _) => {
                let _ = apply::my_unlock(c, table);
            }
        }
    }

    fn run_step(
        &mut self,
        step: &Step,
        retries: u32,
        on_retry: impl FnMut(u32, &str),
    ) -> Result<apply::Applied, OpError> {
        match self {
            Conn::Postgres(c) => Ok(apply::pg_run_step(c, step, retries, on_retry)?),
            Conn::MySql(c, _) => Ok(apply::my_run_step(c, step, retries, on_retry)?),
        }
    }
}

/// What the planner needs to know about a table's rows, beyond its partitions.
pub fn stats_needed(p: &Policy) -> StatsNeeded {
    let integer = matches!(p.interval, Some(crate::key::Span::Int(_)));
    StatsNeeded {
        max_key: p.strategy == Strategy::Range && integer,
        catch_all_range: p.strategy == Strategy::Range,
    }
}

/// The dialect for a catalog's server (MariaDB detaches with CONVERT PARTITION from 10.7).
pub fn dialect_for(catalog: &Catalog) -> &'static dyn Dialect {
    match catalog.engine {
        Engine::Postgres => &POSTGRES,
        Engine::Mysql => &render::mysql::MYSQL,
        Engine::Mariadb => {
            let s = catalog::mysql::Server::from_version(&catalog.server_version);
            if (s.major, s.minor) >= (10, 7) {
                &render::mysql::MARIADB
            } else {
                &render::mysql::MARIADB_OLD
            }
        }
    }
}

/// MySQL and MariaDB allow at most this many partitions (sub-partitions included) per table.
pub const MYSQL_PARTITION_LIMIT: usize = 8192;

/// Plan and render against a catalog.
pub fn plan_steps(
    policies: &[&Policy],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<(Vec<Action>, Vec<Step>), OpError> {
    let actions = plan::plan(policies, catalog, now)?;
    if catalog.engine != Engine::Postgres {
        for p in policies {
            if let Some(sub) = p
                .subpartition
                .as_ref()
                .filter(|s| s.strategy != Strategy::Hash)
            {
                return Err(OpError::Plan(PlanError {
                    table: p.table.to_string(),
                    message: format!(
                        "{}: MySQL and MariaDB only sub-partition by HASH or KEY, so `subpartition = {{ partition_by = \"{}\" }}` cannot be applied here",
                        p.origin,
                        sub.strategy.as_str()
                    ),
                }));
            }
        }
        for t in &catalog.tables {
            let mine: Vec<Action> = actions
                .iter()
                .filter(|a| a.table == t.name)
                .cloned()
                .collect();
            let after = plan::simulate(t, &mine).partitions.len();
            if after > MYSQL_PARTITION_LIMIT {
                return Err(OpError::Plan(PlanError {
                    table: t.name.to_string(),
                    message: format!(
                        "the plan would leave {after} partitions, over the server's limit of {MYSQL_PARTITION_LIMIT}; lower premake, widen the interval or set retain"
                    ),
                }));
            }
        }
    }
    let steps = render::render_all(dialect_for(catalog), &actions, |a| {
        let idx = policies.iter().position(|p| p.table.matches(&a.table))?;
        Some((idx, policies[idx], catalog.table(&a.table)?))
    })?;
    Ok((actions, steps))
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
    Applied(&'a apply::Applied),
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
                "applied {} ({} row{} moved from the catch-all)",
                a.id,
                a.rows_moved,
                if a.rows_moved == 1 { "" } else { "s" }
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
    Done(Vec<apply::Applied>),
    /// Another run holds the table's advisory lock.
    Skipped,
}

/// Apply: lock each table, re-read the catalog under the lock, plan, and run the steps.
/// With `expected`, the fresh plan must equal it, or nothing runs.
pub fn apply(
    conn: &mut Conn,
    policies: &[&Policy],
    now: DateTime<Utc>,
    expected: Option<&PlanDoc>,
    log: &mut dyn FnMut(&Event),
) -> Result<Vec<(String, TableOutcome)>, OpError> {
    // Resolve names (a policy may leave the schema to the connection's default).
    let first = conn.read_catalog(policies)?;
    let mut locked: Vec<(usize, String)> = Vec::new();
    let mut outcomes = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let name = plan::resolve(p, &first)
            .map(|t| t.name.to_string())
            .unwrap_or_else(|| p.table.to_string());
        if conn.try_lock(&name)? {
            locked.push((i, name));
        } else {
            log(&Event::Skipped(&name));
            outcomes.push((name, TableOutcome::Skipped));
        }
    }
    let result = apply_locked(conn, policies, &locked, now, expected, log);
    for (_, name) in &locked {
        conn.unlock(name);
    }
    outcomes.extend(result?);
    Ok(outcomes)
}

fn apply_locked(
    conn: &mut Conn,
    policies: &[&Policy],
    locked: &[(usize, String)],
    now: DateTime<Utc>,
    expected: Option<&PlanDoc>,
    log: &mut dyn FnMut(&Event),
) -> Result<Vec<(String, TableOutcome)>, OpError> {
    let mine: Vec<&Policy> = locked.iter().map(|(i, _)| policies[*i]).collect();
    if mine.is_empty() {
        return Ok(vec![]);
    }
    // Fresh under the locks: a run that finished a moment ago is seen.
    let catalog = conn.read_catalog(&mine)?;
    let (_, steps) = plan_steps(&mine, &catalog, now)?;
    if let Some(doc) = expected {
        let fresh = PlanDoc::new(now, &steps);
        let wanted: Vec<&StepDoc> = doc
            .steps
            .iter()
            .filter(|s| locked.iter().any(|(_, n)| *n == s.table))
            .collect();
        let got: Vec<&StepDoc> = fresh.steps.iter().collect();
        if wanted != got {
            return Err(OpError::Other(
                "the database no longer matches the saved plan (it changed since the plan was made); run `partctl plan` again".into(),
            ));
        }
    }
    let mut outcomes = Vec::new();
    for (i, name) in locked {
        let mut done = Vec::new();
        for step in steps.iter().filter(|s| &s.table == name) {
            let policy = policies[*i];
            let applied = conn.run_step(step, policy.retries, |n, msg| {
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
