//! The PostgreSQL backend: tokio-postgres driven synchronously (`client.rs`), one statement per
//! call over the extended protocol (a second statement in one string is refused by the
//! server), a step's plain statements pipelined, SQLSTATEs mapped onto [`StmtErrorKind`].

mod bound_cache;
mod catalog;
mod client;
mod explain;
mod foreign_keys;
mod waiting;

pub use catalog::parse_bound;

use super::history::{parse_time, Record};
use super::tls::{pg_tls_mode, rustls_encrypt_only, rustls_verifying, PgTls};
use super::url::{scrub, DbUrl};
use super::{
    advisory_key, catalog_lock_wait, holder_text, script_statements, Backend, Capabilities,
    DbError, StepAnswer, StmtError, StmtErrorKind,
};
use crate::catalog::{Catalog, CatalogError, Engine, StatsNeeded};
use crate::explain::{ExplainError, Query, Touched};
use crate::names::QualifiedName;
use crate::names::TableRef;
use crate::policy::Policy;
use crate::render::{postgres::POSTGRES, Dialect, Templates};
use bound_cache::BoundCache;
use chrono::{DateTime, Utc};
use client::Client;
use tokio_postgres::types::Type;

const HISTORY_EXISTS: &str = include_str!("../../../templates/postgres/history_exists.sql");
const HISTORY_INIT: &str = include_str!("../../../templates/postgres/history_init.sql");
const HISTORY_LAST_OK: &str = include_str!("../../../templates/postgres/history_last_ok.sql");
const HISTORY_INSERT: &str = include_str!("../../../templates/postgres/history_insert.sql");
const HISTORY_RECENT: &str = include_str!("../../../templates/postgres/history_recent.sql");

/// An open PostgreSQL session.
pub struct PgBackend {
    client: client::Client,
    version: String,
    /// `current_schema()` when the session started: the schema of a policy's unqualified table.
    schema: Option<String>,
    /// The Citus extension is installed: distributed tables are read, rendered and run the
    /// Citus way (see `catalog.rs`, `render/postgres.rs`).
    citus: bool,
    /// NOTICEs and WARNINGs the server sent, until [`Backend::take_notices`].
    notices: std::sync::Arc<std::sync::Mutex<Vec<Notice>>>,
    /// A step removed the local copy Citus keeps after distributing a table, since the last
    /// [`Backend::take_notices`]: Citus's notices about that copy no longer apply.
    truncated_local: bool,
    /// `host:port/database` as the URL names it (no user, no password): part of the bound
    /// cache's key.
    target: String,
    /// The bound cache's directory, when the command enabled it.
    cache_dir: Option<std::path::PathBuf>,
    /// The cache files that any catalog read of this session took bounds from (a read of
    /// one table after a failed read of all uses its own file): see
    /// [`Backend::confirm_bounds`].
    cache_files: Vec<std::path::PathBuf>,
    /// Some catalog read of this session took bounds from the cache: every removal is
    /// confirmed from then on (never cleared, even once the files are removed).
    confirm_needed: bool,
    /// The server and database the cache is keyed by, once read; `Some(None)`: unreadable.
    cache_key: Option<Option<Vec<String>>>,
    /// A cache file being written (see [`BoundCache::save`]).
    cache_write: Option<std::thread::JoinHandle<()>>,
    /// Catalog reads may take partition names from the cache unchecked (see
    /// [`Backend::names_from_cache`]).
    names_from_cache: bool,
    /// The last catalog read took partition names from the cache unchecked.
    names_unchecked: bool,
}

impl PgBackend {
    /// Wait for the cache file being written, if any: before a cache file is read or removed,
    /// and before the session ends.
    fn finish_cache_write(&mut self) {
        if let Some(w) = self.cache_write.take() {
            let _ = w.join();
        }
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        self.finish_cache_write();
    }
}

/// A message the server sent (NOTICE, WARNING, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub severity: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// The server's messages worth showing with a step, one line each: WARNINGs always; NOTICEs
/// unless they only say a statement had nothing to do (`... already exists, skipping`); Citus's
/// notices about the rows an ATTACH copied into the shards and left on the coordinator's disk,
/// unless the step removed that copy (`truncated_local`).
pub fn notices_that_matter(notices: Vec<Notice>, truncated_local: bool) -> Vec<String> {
    notices
        .into_iter()
        .filter(|n| n.severity == "WARNING" || !n.message.ends_with(", skipping"))
        .filter(|n| {
            let citus_copy = n.message.starts_with("Copying data from local table")
                || n.hint
                    .as_deref()
                    .is_some_and(|h| h.contains("truncate_local_data_after_distributing_table"));
            !(truncated_local && citus_copy)
        })
        .map(|n| {
            let mut line = format!("{}: {}", n.severity, n.message);
            if let Some(d) = n.detail {
                line.push_str(&format!(" ({d})"));
            }
            if let Some(h) = n.hint {
                line.push_str(&format!(" hint: {h}"));
            }
            line
        })
        .collect()
}

/// The statement truncates the local copy of a table Citus distributed (see
/// [`notices_that_matter`]).
fn truncates_local(sql: &str) -> bool {
    sql.starts_with("SELECT truncate_local_data_after_distributing_table(")
}

/// Each step's statements inside BEGIN and COMMIT, one after another, and where each step's
/// are among them.
fn transactions<'a>(steps: &[&[&'a str]]) -> (Vec<&'a str>, Vec<std::ops::Range<usize>>) {
    let mut all = Vec::new();
    let mut ranges = Vec::with_capacity(steps.len());
    for s in steps {
        let begin = all.len();
        all.push("BEGIN");
        all.extend_from_slice(s);
        all.push("COMMIT");
        ranges.push(begin..all.len());
    }
    (all, ranges)
}

/// One step's answer from a pipeline: its first failed statement and why, or the connection's
/// failure when its answers did not all come back.
fn transaction_answer(
    all: &[&str],
    range: std::ops::Range<usize>,
    marked: &client::Marked,
) -> Result<(), (String, StmtError)> {
    let Some(results) = marked.results.get(range.clone()) else {
        return Err((
            format!(
                "BEGIN; ...; COMMIT ({} statements sent together; the connection failed before every answer came back)",
                range.len() - 2
            ),
            match &marked.failed {
                Some(e) => stmt_error(e),
                None => StmtError::other("no answer came back"),
            },
        ));
    };
    match results
        .iter()
        .zip(&all[range])
        .find_map(|(r, sql)| r.as_ref().err().map(|e| (*sql, e)))
    {
        None => Ok(()),
        Some((sql, e)) => Err((sql.to_string(), stmt_error(e))),
    }
}

/// No parameters, for [`run`].
const NO_PARAMS: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 0] = [];

/// Run one statement in one round trip (Parse, Bind, Execute and Sync sent together, an
/// unnamed statement: still one statement per call, the server refuses a second one); the
/// number of rows it changed. `Client::execute` would prepare it first, a second round trip.
fn run(client: &mut Client, sql: &str) -> Result<u64, tokio_postgres::Error> {
    let mut rows = client.query_typed_raw(sql, NO_PARAMS)?;
    while rows.next()?.is_some() {}
    Ok(rows.rows_affected().unwrap_or(0))
}

/// Exactly one row, as `Client::query_one`.
fn query_one(
    client: &mut client::Client,
    sql: &str,
    params: &[(&(dyn tokio_postgres::types::ToSql + Sync), Type)],
) -> Result<tokio_postgres::Row, StmtError> {
    let mut rows = client
        .query_typed(sql, params)
        .map_err(|e| stmt_error(&e))?;
    match rows.len() {
        1 => Ok(rows.remove(0)),
        n => Err(StmtError::other(format!(
            "the statement returned {n} rows, not one"
        ))),
    }
}

impl PgBackend {
    /// Connect. TLS (rustls, webpki roots) follows the URL's `sslmode`; the session then
    /// speaks UTC and ISO dates so that bounds read back in one fixed format.
    pub fn connect(url: &DbUrl) -> Result<PgBackend, DbError> {
        use std::str::FromStr;
        let fail = |message: String| DbError::Connect {
            target: url.to_string(),
            message: scrub(&message, url),
        };
        let (driver_url, tls) = pg_tls_mode(url.expose());
        let mut config =
            tokio_postgres::Config::from_str(&driver_url).map_err(|e| fail(e.to_string()))?;
        config.application_name("partctl");
        config.connect_timeout(url.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(super::KEEPALIVE_IDLE);
        config.tcp_user_timeout(super::TCP_USER_TIMEOUT);
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = notices.clone();
        let on_notice: client::NoticeSink = std::sync::Arc::new(move |n| {
            if let Ok(mut v) = sink.lock() {
                v.push(Notice {
                    severity: n.severity().to_string(),
                    message: n.message().to_string(),
                    detail: n.detail().map(str::to_string),
                    hint: n.hint().map(str::to_string),
                });
            }
        });
        let mut client = match tls {
            PgTls::Disable => Client::connect(&config, tokio_postgres::NoTls, on_notice),
            PgTls::Encrypt => Client::connect(
                &config,
                tokio_postgres_rustls::MakeRustlsConnect::new(
                    rustls_encrypt_only().map_err(|e| fail(e.to_string()))?,
                ),
                on_notice,
            ),
            PgTls::Verify { root } => Client::connect(
                &config,
                tokio_postgres_rustls::MakeRustlsConnect::new(
                    rustls_verifying(root.as_deref()).map_err(|e| fail(e.to_string()))?,
                ),
                on_notice,
            ),
        }
        .map_err(fail)?;
        // The session's settings and facts in one statement (one round trip).
        let row = query_one(
            &mut client,
            include_str!("../../../templates/postgres/session.sql"),
            &[],
        )
        .map_err(|e| fail(e.message))?;
        let citus: bool = row.get(7);
        if let Ok(mut v) = notices.lock() {
            v.clear();
        }
        Ok(PgBackend {
            client,
            version: row.get(5),
            schema: row.get(6),
            citus,
            notices,
            truncated_local: false,
            target: url.target_name(),
            cache_dir: None,
            cache_files: Vec::new(),
            confirm_needed: false,
            names_from_cache: false,
            names_unchecked: false,
            cache_key: None,
            cache_write: None,
        })
    }

    /// Citus: the row facts of a distributed table are read on the workers, where a session
    /// `lock_timeout` does not reach; so the read runs in a transaction whose `SET LOCAL`
    /// timeouts Citus propagates (`citus.propagate_set_commands = 'local'`), rolled back after.
    fn read_catalog_citus(
        &mut self,
        policies: &[&Policy],
        sizes: bool,
        lock_ms: u128,
    ) -> Result<Catalog, CatalogError> {
        let statement = policies
            .iter()
            .map(|p| p.statement_timeout)
            .max()
            .unwrap_or(std::time::Duration::from_secs(900));
        let mut ctx = tera::Context::new();
        ctx.insert("citus", &true);
        ctx.insert("local", &true);
        ctx.insert("lock_timeout", &format!("{lock_ms}ms"));
        ctx.insert(
            "statement_timeout",
            &format!("{}ms", statement.as_millis().max(1)),
        );
        let (stmts, _) = Templates::new(&POSTGRES)
            .statements("timeouts.sql.tera", &ctx)
            .map_err(|e| CatalogError::Query(e.to_string()))?;
        let q = |what: &str, e: tokio_postgres::Error| {
            CatalogError::Query(format!("{what}: {}", error_text(&e)))
        };
        self.client
            .execute("BEGIN", &[])
            .map_err(|e| q("BEGIN", e))?;
        let result = stmts
            .iter()
            .try_for_each(|s| {
                self.client
                    .execute(s.sql.as_str(), &[])
                    .map(|_| ())
                    .map_err(|e| q("setting the timeouts", e))
            })
            .and_then(|()| {
                catalog::read(
                    &mut self.client,
                    &self.version,
                    &super::wanted(policies),
                    (sizes, false),
                    true,
                    None,
                )
            });
        let _ = self.client.execute("ROLLBACK", &[]);
        result
    }

    /// Before a catalog read: set the session's `lock_timeout` to `ms`, and the first time
    /// (when a command enabled the bound cache) read the cache's key in the same round trip;
    /// then the cache of this read: `None` unless enabled, or when the server's identity
    /// cannot be read (see `bound_cache.rs`; the timeout is then set on its own).
    fn prepare_read(
        &mut self,
        ms: u128,
        wanted: &[(TableRef, StatsNeeded)],
    ) -> Result<Option<BoundCache>, CatalogError> {
        self.finish_cache_write();
        let timeout = format!("{ms}ms");
        let set_alone = |client: &mut client::Client| {
            client
                .query_typed(
                    include_str!("../../../templates/postgres/session_lock_timeout.sql"),
                    &[(&timeout, Type::TEXT)],
                )
                .map(|_| ())
                .map_err(|e| CatalogError::Query(format!("setting lock_timeout: {e}")))
        };
        let Some(dir) = self.cache_dir.clone() else {
            set_alone(&mut self.client)?;
            return Ok(None);
        };
        if self.cache_key.is_none() {
            let key = query_one(
                &mut self.client,
                include_str!("../../../templates/postgres/cache_key.sql"),
                &[(&timeout, Type::TEXT)],
            )
            .map(|row| {
                (1..6)
                    .map(|i| row.get::<_, Option<String>>(i).unwrap_or_default())
                    .collect::<Vec<String>>()
            });
            self.cache_key = Some(match key {
                Ok(key) => Some(key),
                Err(e) => {
                    bound_cache::debug(&format!("bound cache off: {}", e.message));
                    set_alone(&mut self.client)?;
                    None
                }
            });
        } else {
            set_alone(&mut self.client)?;
        }
        let Some(Some(key)) = self.cache_key.as_ref() else {
            return Ok(None);
        };
        let mut server: Vec<&str> = key.iter().map(String::as_str).collect();
        server.push(&self.target);
        let tables: Vec<String> = wanted
            .iter()
            .map(|(t, _)| {
                let schema = t.schema.as_deref().or(self.schema.as_deref());
                format!("{}.{}", schema.unwrap_or_default(), t.name)
            })
            .collect();
        Ok(Some(BoundCache::open(
            &dir,
            &bound_cache::file_name(&server, &tables),
        )))
    }

    /// A statement that succeeded removed the local copy Citus keeps after distributing a
    /// table (see `truncated_local`).
    /// After a pipeline whose connection failed before every answer came back: the server
    /// rolls back what it had not committed when the session ends; say so now if it still can.
    fn after_pipeline(&mut self, marked: &client::Marked) {
        if marked.failed.is_some() {
            let _ = run(&mut self.client, "ROLLBACK");
        }
    }

    fn note_truncation(&mut self, sql: &str) {
        if truncates_local(sql) {
            self.truncated_local = true;
        }
    }

    fn query_err(context: &'static str) -> impl Fn(tokio_postgres::Error) -> DbError {
        move |e| DbError::Query {
            context: context.into(),
            message: error_text(&e),
        }
    }
}

/// A driver error with its cause chain (the postgres crate hides the server's words in it).
pub fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(&format!("; {d}"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

/// SQLSTATE -> neutral kind: lock_not_available, deadlock_detected, serialization_failure,
/// query_canceled (a statement timeout).
fn stmt_error(e: &tokio_postgres::Error) -> StmtError {
    let kind = match e.code().map(|c| c.code()) {
        Some("55P03") => StmtErrorKind::LockTimeout,
        Some("40P01") => StmtErrorKind::Deadlock,
        Some("40001") => StmtErrorKind::Serialization,
        Some("57014") => StmtErrorKind::StatementTimeout,
        _ => StmtErrorKind::Other,
    };
    StmtError {
        kind,
        message: error_text(e),
    }
}

impl Backend for PgBackend {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn server_version(&self) -> &str {
        &self.version
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            product: if self.citus {
                "PostgreSQL with Citus"
            } else {
                "PostgreSQL"
            },
            transactional_ddl: true,
            move_reports_rows: true,
            // Citus cannot plan a distributed query with unknown parameters (0A000).
            generic_plans: !self.citus,
            swap_in_second_session: false,
        }
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &POSTGRES
    }

    /// Every fact, whatever `plan_at`: the catch-all's keys come in the catalog query itself.
    fn read_catalog(
        &mut self,
        policies: &[&Policy],
        sizes: bool,
        _plan_at: Option<DateTime<Utc>>,
    ) -> Result<Catalog, CatalogError> {
        // The catalog query (pg_total_relation_size) and the row facts wait for locks on the
        // table (a LOCK TABLE elsewhere): bound that wait by the policies' lock timeouts.
        let ms = catalog_lock_wait(policies, |d| d.as_millis().max(1));
        if self.citus {
            return self.read_catalog_citus(policies, sizes, ms);
        }
        let wanted = super::wanted(policies);
        let mut cache = self.prepare_read(ms, &wanted)?;
        let catalog = catalog::read(
            &mut self.client,
            &self.version,
            &wanted,
            (sizes, self.names_from_cache),
            false,
            cache.as_mut(),
        );
        // Every hit of a light read is by link (a stale read starts over without the cache,
        // and no hits).
        self.names_unchecked =
            self.names_from_cache && !sizes && cache.as_ref().is_some_and(|c| c.hits > 0);
        if let (Some(cache), true) = (cache, catalog.is_ok()) {
            self.confirm_needed |= cache.hits > 0;
            if let (true, Some(path)) = (cache.hits > 0, cache.path()) {
                if !self.cache_files.iter().any(|f| f == path) {
                    self.cache_files.push(path.to_path_buf());
                }
            }
            self.finish_cache_write();
            self.cache_write = cache.save();
        }
        let _ = run(&mut self.client, "RESET lock_timeout");
        catalog
    }

    fn use_bound_cache(&mut self, dir: std::path::PathBuf) {
        self.cache_dir = Some(dir);
    }

    fn names_from_cache(&mut self, on: bool) {
        self.names_from_cache = on;
    }

    fn names_unchecked(&self) -> bool {
        self.names_unchecked
    }

    fn confirm_bounds(
        &mut self,
        table: &crate::catalog::Table,
        partitions: &[&QualifiedName],
    ) -> Result<(), String> {
        if !self.confirm_needed || partitions.is_empty() {
            return Ok(());
        }
        let (schemas, names): (Vec<&str>, Vec<&str>) = partitions
            .iter()
            .map(|p| (p.schema.as_str(), p.name.as_str()))
            .unzip();
        let rows = self
            .client
            .query_typed(
                include_str!("../../../templates/postgres/bounds_by_name.sql"),
                &[
                    (&schemas, Type::TEXT_ARRAY),
                    (&names, Type::TEXT_ARRAY),
                    (&table.name.schema, Type::TEXT),
                    (&table.name.name, Type::TEXT),
                ],
            )
            .map_err(|e| {
                format!(
                    "reading the bounds of the partitions to remove: {}",
                    error_text(&e)
                )
            })?;
        if rows.len() != partitions.len() {
            return Err(format!(
                "reading the bounds of the partitions to remove: {} rows for {} partitions",
                rows.len(),
                partitions.len()
            ));
        }
        for (p, row) in partitions.iter().zip(&rows) {
            let server: Option<String> = row.get(1);
            // A name the read gave two partitions (a stale one) confirms neither.
            let mut named = table.partitions.iter().filter(|q| q.name == **p);
            let planned = match (named.next(), named.next()) {
                (Some(q), None) => Some(&q.bound),
                _ => None,
            };
            let parsed = server
                .as_deref()
                .and_then(|text| catalog::parse_bound(text, table.key.kind));
            if parsed.as_ref() != planned {
                self.finish_cache_write();
                let files = std::mem::take(&mut self.cache_files);
                for file in &files {
                    BoundCache::discard(file);
                }
                let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                return Err(format!(
                    "the bound of partition {p} is not the one planned with (server: `{}`): it changed since it was read, or the bound cache was wrong; nothing was done on this table; the cache ({}) was removed: run again",
                    server.as_deref().unwrap_or("no such partition"),
                    files.join(", ")
                ));
            }
        }
        Ok(())
    }

    fn default_schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    fn free_space(&mut self) -> super::FreeSpace {
        // data_directory needs superuser or pg_read_all_settings; the address the server was
        // reached on (NULL through a Unix socket) tells whether it runs here.
        let sql = "SELECT current_setting('data_directory'), coalesce(host(inet_server_addr()), ''),
                          current_setting('port'), extract(epoch FROM pg_postmaster_start_time())::int8";
        match query_one(&mut self.client, sql, &[]) {
            Ok(row) => super::disk::local_free_space(
                &row.get::<_, String>(0),
                &row.get::<_, String>(1),
                super::disk::Owner::Postgres {
                    port: row.get(2),
                    started: row.get(3),
                },
            ),
            Err(e) => super::FreeSpace::Unknown(format!(
                "the server does not tell its data directory ({})",
                e.message
            )),
        }
    }

    fn replica_lag(&mut self) -> Result<Option<std::time::Duration>, StmtError> {
        // Replayed all that was received: 0 (an idle primary sends nothing, and the last
        // transaction's age is not lag); else the age of the last transaction replayed.
        let sql = "SELECT pg_is_in_recovery(),
                          CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                               ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
                          END::float8";
        let row = query_one(&mut self.client, sql, &[])?;
        if !row.get::<_, bool>(0) {
            return Ok(None);
        }
        Ok(Some(std::time::Duration::from_secs_f64(
            row.get::<_, f64>(1).max(0.0),
        )))
    }

    fn partitioned_tables(&mut self) -> Result<Vec<TableRef>, DbError> {
        let rows = self
            .client
            .query(
                include_str!("../../../templates/postgres/partitioned_tables.sql"),
                &[],
            )
            .map_err(|e| DbError::Query {
                context: "listing the partitioned tables".into(),
                message: error_text(&e),
            })?;
        Ok(rows
            .iter()
            .map(|r| TableRef {
                schema: Some(r.get(0)),
                name: r.get(1),
            })
            .collect())
    }

    fn read_named(&mut self, tables: &[TableRef]) -> Result<Catalog, CatalogError> {
        let wanted: Vec<_> = tables
            .iter()
            .map(|t| (t.clone(), super::INIT_STATS))
            .collect();
        catalog::read(
            &mut self.client,
            &self.version,
            &wanted,
            (false, false),
            self.citus,
            None,
        )
    }

    fn partman_config(&mut self) -> Result<Vec<super::PartmanConfig>, DbError> {
        let q = |e: tokio_postgres::Error| DbError::Query {
            context: "reading pg_partman's part_config".into(),
            message: error_text(&e),
        };
        let Some(row) = self
            .client
            .query_opt(
                include_str!("../../../templates/postgres/partman_schema.sql"),
                &[],
            )
            .map_err(q)?
        else {
            return Ok(vec![]);
        };
        let schema: String = row.get(0);
        let templates = crate::render::Templates::from_list(
            &crate::render::postgres::POSTGRES,
            &[(
                "partman_config.sql.tera",
                include_str!("../../../templates/postgres/partman_config.sql.tera"),
            )],
        );
        let mut ctx = tera::Context::new();
        ctx.insert("schema", &schema);
        let sql = templates
            .text("partman_config.sql.tera", &ctx)
            .map_err(|e| DbError::Query {
                context: "reading pg_partman's part_config".into(),
                message: e.to_string(),
            })?;
        let rows = self.client.query(&sql, &[]).map_err(q)?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.get::<_, String>(0)).map_err(|e| DbError::Query {
                    context: "reading pg_partman's part_config".into(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    fn try_lock(&mut self, table: &str) -> Result<bool, DbError> {
        query_one(
            &mut self.client,
            include_str!("../../../templates/postgres/advisory_lock.sql"),
            &[(&advisory_key(table), Type::INT8)],
        )
        .map(|r| r.get::<_, bool>(0))
        .map_err(|e| DbError::Query {
            context: format!("{table}: taking the advisory lock"),
            message: e.message,
        })
    }

    fn try_lock_all(&mut self, tables: &[String]) -> Result<Vec<bool>, DbError> {
        let keys: Vec<i64> = tables.iter().map(|t| advisory_key(t)).collect();
        let rows = self
            .client
            .query_typed(
                include_str!("../../../templates/postgres/advisory_lock_all.sql"),
                &[(&keys, Type::INT8_ARRAY)],
            )
            .map_err(|e| DbError::Query {
                context: "taking the advisory locks".into(),
                message: error_text(&e),
            })?;
        let mut held = vec![false; tables.len()];
        for r in rows {
            if let Some(h) = usize::try_from(r.get::<_, i64>(0) - 1)
                .ok()
                .and_then(|i| held.get_mut(i))
            {
                *h = r.get::<_, bool>(1);
            }
        }
        Ok(held)
    }

    fn unlock_all(&mut self, tables: &[String]) -> Result<(), DbError> {
        let keys: Vec<i64> = tables.iter().map(|t| advisory_key(t)).collect();
        self.client
            .query_typed(
                include_str!("../../../templates/postgres/advisory_unlock_all.sql"),
                &[(&keys, Type::INT8_ARRAY)],
            )
            .map(|_| ())
            .map_err(|e| DbError::Query {
                context: "releasing the advisory locks".into(),
                message: error_text(&e),
            })
    }

    fn unlock(&mut self, table: &str) -> Result<(), DbError> {
        query_one(
            &mut self.client,
            include_str!("../../../templates/postgres/advisory_unlock.sql"),
            &[(&advisory_key(table), Type::INT8)],
        )
        .map(|_| ())
        .map_err(|e| DbError::Query {
            context: format!("{table}: releasing the advisory lock"),
            message: e.message,
        })
    }

    fn begin(&mut self) -> Result<(), StmtError> {
        run(&mut self.client, "BEGIN")
            .map(|_| ())
            .map_err(|e| stmt_error(&e))
    }

    fn commit(&mut self) -> Result<(), StmtError> {
        run(&mut self.client, "COMMIT")
            .map(|_| ())
            .map_err(|e| stmt_error(&e))
    }

    fn rollback(&mut self) {
        let _ = run(&mut self.client, "ROLLBACK");
    }

    fn execute(&mut self, sql: &str) -> Result<u64, StmtError> {
        let n = run(&mut self.client, sql).map_err(|e| stmt_error(&e))?;
        self.note_truncation(sql);
        Ok(n)
    }

    fn execute_transaction(&mut self, statements: &[&str]) -> Result<(), (String, StmtError)> {
        // Pipelined: BEGIN, the statements and COMMIT sent before any answer is read. After a
        // failure the server runs the rest inside the failed transaction block (each refused,
        // 25P02), and the COMMIT there rolls back: nothing of the step stays. The first error
        // is the step's. Notices stay for take_notices.
        let (all, ranges) = transactions(&[statements]);
        let marked = self.client.pipeline_marked(&all);
        let result = transaction_answer(&all, ranges[0].clone(), &marked);
        self.after_pipeline(&marked);
        if result.is_ok() {
            statements.iter().for_each(|s| self.note_truncation(s));
        }
        result
    }

    fn execute_transactions(&mut self, steps: &[Vec<&str>]) -> Vec<StepAnswer> {
        // As execute_transaction, every step's BEGIN ... COMMIT sent before any answer is
        // read: the server runs the next step as soon as one commits.
        let _ = self.take_notices();
        let steps: Vec<&[&str]> = steps.iter().map(Vec::as_slice).collect();
        let (all, ranges) = transactions(&steps);
        let marked = self.client.pipeline_marked(&all);
        let mut heard = self
            .notices
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
            .into_iter()
            .zip(&marked.notice_of)
            .peekable();
        let answers = ranges
            .into_iter()
            .map(|range| {
                let result = transaction_answer(&all, range.clone(), &marked);
                let mut notices = Vec::new();
                while let Some((n, _)) = heard.next_if(|(_, i)| range.contains(i)) {
                    notices.push(n);
                }
                let truncated = result.is_ok() && all[range].iter().any(|s| truncates_local(s));
                (result, notices_that_matter(notices, truncated))
            })
            .collect();
        self.after_pipeline(&marked);
        answers
    }

    fn take_notices(&mut self) -> Vec<String> {
        let notices = self
            .notices
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        notices_that_matter(notices, std::mem::take(&mut self.truncated_local))
    }

    fn count(&mut self, sql: &str) -> Result<i64, StmtError> {
        query_one(&mut self.client, sql, &[]).and_then(|r| {
            r.try_get::<_, i64>(0)
                .map_err(|e| StmtError::other(error_text(&e)))
        })
    }

    fn count_row(&mut self, sql: &str) -> Result<Vec<i64>, StmtError> {
        let row = query_one(&mut self.client, sql, &[])?;
        (0..row.len())
            .map(|i| {
                row.try_get::<_, i64>(i)
                    .map_err(|e| StmtError::other(error_text(&e)))
            })
            .collect()
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, StmtError> {
        let rows = self.client.query(sql, &[]).map_err(|e| stmt_error(&e))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<_, Option<String>>(i)
                            .map_err(|e| StmtError::other(error_text(&e)))
                    })
                    .collect()
            })
            .collect()
    }

    fn set_batch_rows(&mut self, rows: u64) -> Result<(), StmtError> {
        self.execute(&format!(
            "SELECT set_config('partctl.batch_rows', '{rows}', false)"
        ))
        .map(|_| ())
    }

    fn reset_session(&mut self) {
        // Session-level timeouts must not leak into the next step.
        let _ = run(&mut self.client, "RESET lock_timeout");
        let _ = run(&mut self.client, "RESET statement_timeout");
    }

    fn count_mismatch(&self, detail: String, _at_target: bool) -> String {
        format!("{detail}; the transaction was rolled back, nothing changed")
    }

    fn lock_holders(&mut self, table: &QualifiedName) -> Vec<String> {
        let rows = self.client.query(
            include_str!("../../../templates/postgres/lock_holders.sql"),
            &[&table.schema, &table.name],
        );
        rows.map(|rows| {
            rows.iter()
                .map(|r| {
                    holder_text(
                        &format!("pid {}", r.get::<_, i32>(0)),
                        &r.get::<_, String>(1),
                        Some(&r.get::<_, String>(2)),
                        r.get::<_, i64>(3),
                        &r.get::<_, String>(4),
                        Some(&r.get::<_, String>(5)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
    }

    fn explain(&mut self, templates: &Templates, query: &Query) -> Result<Touched, ExplainError> {
        explain::explain(&mut self.client, templates, query, self.citus)
    }

    fn explain_all(
        &mut self,
        templates: &Templates,
        queries: &[Query],
    ) -> Vec<Result<Touched, ExplainError>> {
        explain::explain_all(&mut self.client, templates, queries, self.citus)
    }

    fn history_exists(&mut self) -> Result<bool, DbError> {
        Ok(self
            .client
            .query_one(HISTORY_EXISTS, &[])
            .map_err(Self::query_err("looking for partctl.run_history"))?
            .get::<_, bool>(0))
    }

    fn history_init(&mut self) -> Result<(), DbError> {
        let err = Self::query_err("creating partctl.run_history");
        run(&mut self.client, "BEGIN").map_err(&err)?;
        let created = script_statements(HISTORY_INIT)
            .iter()
            .try_for_each(|stmt| run(&mut self.client, stmt).map(|_| ()))
            .and_then(|()| run(&mut self.client, "COMMIT").map(|_| ()));
        if created.is_err() {
            let _ = run(&mut self.client, "ROLLBACK");
        }
        created.map_err(&err)
    }

    fn history_last_ok(&mut self, table: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        let text: Option<String> = self
            .client
            .query_one(HISTORY_LAST_OK, &[&table])
            .map_err(Self::query_err("reading partctl.run_history"))?
            .get(0);
        text.as_deref().map(parse_time).transpose()
    }

    fn history_record(&mut self, r: &Record) -> Result<i64, DbError> {
        let t = |d: DateTime<Utc>| d.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
        let steps = i32::try_from(r.steps_applied).unwrap_or(i32::MAX);
        Ok(self
            .client
            .query_one(
                HISTORY_INSERT,
                &[
                    &r.table,
                    &t(r.started_at),
                    &t(r.finished_at),
                    &r.status,
                    &steps,
                    &r.rows_moved,
                    &r.message,
                ],
            )
            .map_err(Self::query_err("writing partctl.run_history"))?
            .get::<_, i64>(0))
    }

    fn history_prune(&mut self, table: &str, before: DateTime<Utc>) -> Result<u64, DbError> {
        let t = before.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
        self.client
            .execute(
                include_str!("../../../templates/postgres/history_prune.sql"),
                &[&table, &t],
            )
            .map_err(Self::query_err("pruning partctl.run_history"))
    }

    fn history_recent(&mut self, table: &str, limit: u32) -> Result<Vec<Record>, DbError> {
        self.client
            .query(HISTORY_RECENT, &[&table, &i64::from(limit)])
            .map_err(Self::query_err("reading partctl.run_history"))?
            .iter()
            .map(|r| {
                Ok(Record {
                    id: Some(r.get(0)),
                    table: r.get(1),
                    started_at: parse_time(&r.get::<_, String>(2))?,
                    finished_at: parse_time(&r.get::<_, String>(3))?,
                    status: r.get(4),
                    steps_applied: r.get(5),
                    rows_moved: r.get(6),
                    message: r.get(7),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(severity: &str, message: &str, hint: Option<&str>) -> Notice {
        Notice {
            severity: severity.into(),
            message: message.into(),
            detail: None,
            hint: hint.map(str::to_string),
        }
    }

    /// Citus's notices after an ATTACH that distributed local rows, as Citus 13.2 sends them.
    fn citus_copy() -> Vec<Notice> {
        vec![
            notice("NOTICE", "Copying data from local table...", None),
            Notice {
                detail: Some(
                    "The local data in the table is no longer visible, but is still on disk."
                        .into(),
                ),
                ..notice(
                    "NOTICE",
                    "copying the data has completed",
                    Some("To remove the local data, run: SELECT truncate_local_data_after_distributing_table($$public.ev_p20260312$$)"),
                )
            },
        ]
    }

    #[test]
    fn notices_that_matter_are_kept() {
        let mut all = citus_copy();
        all.push(notice(
            "NOTICE",
            "relation \"x\" already exists, skipping",
            None,
        ));
        all.push(notice("WARNING", "something is off", None));
        let kept = notices_that_matter(all.clone(), false);
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept[1].contains("still on disk") && kept[1].contains("hint: To remove"));
        assert_eq!(kept[2], "WARNING: something is off");
        // The step truncated the local copy: Citus's advice no longer applies.
        assert_eq!(
            notices_that_matter(all, true),
            vec!["WARNING: something is off".to_string()]
        );
    }
}
