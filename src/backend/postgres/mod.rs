//! The PostgreSQL backend: the `postgres` crate, one statement per call over the extended
//! protocol (a second statement in one string is refused by the server), SQLSTATEs mapped onto
//! [`StmtErrorKind`].

mod catalog;
mod explain;

pub use catalog::parse_bound;

use super::history::{parse_time, Record};
use super::tls::{pg_tls_mode, rustls_encrypt_only, rustls_verifying, PgTls};
use super::url::{scrub, DbUrl};
use super::{
    advisory_key, catalog_lock_wait, holder_text, script_statements, Backend, Capabilities,
    DbError, StmtError, StmtErrorKind,
};
use crate::catalog::{Catalog, CatalogError, Engine};
use crate::explain::{ExplainError, Query, Touched};
use crate::names::QualifiedName;
use crate::policy::Policy;
use crate::render::{postgres::POSTGRES, Dialect, Templates};
use chrono::{DateTime, Utc};

const HISTORY_EXISTS: &str = include_str!("../../../templates/postgres/history_exists.sql");
const HISTORY_INIT: &str = include_str!("../../../templates/postgres/history_init.sql");
const HISTORY_LAST_OK: &str = include_str!("../../../templates/postgres/history_last_ok.sql");
const HISTORY_INSERT: &str = include_str!("../../../templates/postgres/history_insert.sql");
const HISTORY_RECENT: &str = include_str!("../../../templates/postgres/history_recent.sql");

/// An open PostgreSQL session.
pub struct PgBackend {
    client: postgres::Client,
    version: String,
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
            postgres::Config::from_str(&driver_url).map_err(|e| fail(e.to_string()))?;
        config.application_name("partctl");
        config.connect_timeout(url.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(super::KEEPALIVE_IDLE);
        config.tcp_user_timeout(super::TCP_USER_TIMEOUT);
        let mut client = match tls {
            PgTls::Disable => config.connect(postgres::NoTls),
            PgTls::Encrypt => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                rustls_encrypt_only().map_err(|e| fail(e.to_string()))?,
            )),
            PgTls::Verify { root } => {
                config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                    rustls_verifying(root.as_deref()).map_err(|e| fail(e.to_string()))?,
                ))
            }
        }
        .map_err(|e| fail(error_text(&e)))?;
        for stmt in script_statements(include_str!("../../../templates/postgres/session.sql")) {
            client
                .execute(stmt.as_str(), &[])
                .map_err(|e| fail(error_text(&e)))?;
        }
        let version: String = client
            .query_one("SHOW server_version", &[])
            .map_err(|e| fail(error_text(&e)))?
            .get(0);
        Ok(PgBackend { client, version })
    }

    fn query_err(context: &'static str) -> impl Fn(postgres::Error) -> DbError {
        move |e| DbError::Query {
            context: context.into(),
            message: error_text(&e),
        }
    }
}

/// A driver error with its cause chain (the postgres crate hides the server's words in it).
pub fn error_text(e: &postgres::Error) -> String {
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

/// SQLSTATE -> neutral kind: lock_not_available, deadlock_detected, serialization_failure.
fn stmt_error(e: &postgres::Error) -> StmtError {
    let kind = match e.code().map(|c| c.code()) {
        Some("55P03") => StmtErrorKind::LockTimeout,
        Some("40P01") => StmtErrorKind::Deadlock,
        Some("40001") => StmtErrorKind::Serialization,
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
            product: "PostgreSQL",
            transactional_ddl: true,
            move_reports_rows: true,
            generic_plans: true,
        }
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &POSTGRES
    }

    fn read_catalog(&mut self, policies: &[&Policy], sizes: bool) -> Result<Catalog, CatalogError> {
        // The catalog query (pg_total_relation_size) and the row facts wait for locks on the
        // table (a LOCK TABLE elsewhere): bound that wait by the policies' lock timeouts.
        let ms = catalog_lock_wait(policies, |d| d.as_millis().max(1));
        self.client
            .execute(
                include_str!("../../../templates/postgres/session_lock_timeout.sql"),
                &[&format!("{ms}ms")],
            )
            .map_err(|e| CatalogError::Query(format!("setting lock_timeout: {e}")))?;
        let catalog = catalog::read(
            &mut self.client,
            &self.version,
            &super::wanted(policies),
            sizes,
        );
        let _ = self.client.execute("RESET lock_timeout", &[]);
        catalog
    }

    fn try_lock(&mut self, table: &str) -> Result<bool, DbError> {
        self.client
            .query_one(
                include_str!("../../../templates/postgres/advisory_lock.sql"),
                &[&advisory_key(table)],
            )
            .map(|r| r.get::<_, bool>(0))
            .map_err(|e| DbError::Query {
                context: format!("{table}: taking the advisory lock"),
                message: error_text(&e),
            })
    }

    fn unlock(&mut self, table: &str) -> Result<(), DbError> {
        self.client
            .query_one(
                include_str!("../../../templates/postgres/advisory_unlock.sql"),
                &[&advisory_key(table)],
            )
            .map(|_| ())
            .map_err(|e| DbError::Query {
                context: format!("{table}: releasing the advisory lock"),
                message: error_text(&e),
            })
    }

    fn begin(&mut self) -> Result<(), StmtError> {
        self.client
            .execute("BEGIN", &[])
            .map(|_| ())
            .map_err(|e| stmt_error(&e))
    }

    fn commit(&mut self) -> Result<(), StmtError> {
        self.client
            .execute("COMMIT", &[])
            .map(|_| ())
            .map_err(|e| stmt_error(&e))
    }

    fn rollback(&mut self) {
        let _ = self.client.execute("ROLLBACK", &[]);
    }

    fn execute(&mut self, sql: &str) -> Result<u64, StmtError> {
        self.client.execute(sql, &[]).map_err(|e| stmt_error(&e))
    }

    fn count(&mut self, sql: &str) -> Result<i64, StmtError> {
        self.client
            .query_one(sql, &[])
            .map(|r| r.get::<_, i64>(0))
            .map_err(|e| stmt_error(&e))
    }

    fn count_row(&mut self, sql: &str) -> Result<Vec<i64>, StmtError> {
        let row = self
            .client
            .query_one(sql, &[])
            .map_err(|e| stmt_error(&e))?;
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
        let _ = self.client.execute("RESET lock_timeout", &[]);
        let _ = self.client.execute("RESET statement_timeout", &[]);
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
        explain::explain(&mut self.client, templates, query)
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
        let mut tx = self.client.transaction().map_err(&err)?;
        for stmt in script_statements(HISTORY_INIT) {
            tx.execute(stmt.as_str(), &[]).map_err(&err)?;
        }
        tx.commit().map_err(&err)
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
