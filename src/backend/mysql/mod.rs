//! The MySQL/MariaDB backend: the `mysql` crate, one statement per call, server error numbers
//! mapped onto [`StmtErrorKind`]. DDL commits on its own here, so a step is a sequence of
//! atomic statements and a retry resumes at the one that could not get its lock.

mod catalog;
mod explain;
mod waiting;

use super::history::{parse_time, Record};
use super::tls::my_tls_params;
use super::url::{scrub, DbUrl};
use super::{
    advisory_key, catalog_lock_wait, holder_text, script_statements, Backend, Capabilities,
    DbError, StmtError, StmtErrorKind,
};
use crate::catalog::{Catalog, CatalogError, Engine};
use crate::explain::{ExplainError, Query, Touched};
use crate::names::QualifiedName;
use crate::names::TableRef;
use crate::policy::Policy;
use crate::render::mysql::{Flavor, Server};
use crate::render::{Dialect, Templates};
use chrono::{DateTime, Utc};
use mysql::prelude::Queryable;

const HISTORY_EXISTS: &str = include_str!("../../../templates/mysql/history_exists.sql");
const HISTORY_INIT: &str = include_str!("../../../templates/mysql/history_init.sql");
const HISTORY_LAST_OK: &str = include_str!("../../../templates/mysql/history_last_ok.sql");
const HISTORY_INSERT: &str = include_str!("../../../templates/mysql/history_insert.sql");
const HISTORY_RECENT: &str = include_str!("../../../templates/mysql/history_recent.sql");

/// The largest packet the protocol allows (1 GiB, `max_allowed_packet`'s maximum).
const MAX_PACKET: usize = 1 << 30;

/// An open MySQL or MariaDB session.
pub struct MyBackend {
    conn: mysql::Conn,
    server: Server,
    /// `DATABASE()` when the session started: where a policy's unqualified table lives.
    database: Option<String>,
    /// Where it connected, for [`Backend::another_session`].
    url: DbUrl,
}

impl MyBackend {
    /// Connect (`mysql://` or `mariadb://`). TLS (rustls) follows the URL's `ssl-mode`.
    pub fn connect(url: &DbUrl) -> Result<MyBackend, DbError> {
        let fail = |message: String| DbError::Connect {
            target: url.to_string(),
            message: scrub(&message, url),
        };
        let raw = url.expose();
        let normalized = match raw.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => raw.to_string(),
        };
        let normalized = my_tls_params(&normalized).map_err(|e| fail(e.to_string()))?;
        let opts = mysql::Opts::from_url(&normalized).map_err(|e| fail(e.to_string()))?;
        // Said, so that the driver does not ask the server (`SELECT @@max_allowed_packet`, one
        // more round trip): the protocol's largest packet, as the mysql client allows; the
        // server still refuses what exceeds its own limit.
        let packet = opts.get_max_allowed_packet().unwrap_or(MAX_PACKET);
        let ms = |d: std::time::Duration| Some(u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        let opts = mysql::OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(url.connect_timeout))
            .tcp_keepalive_time_ms(ms(super::KEEPALIVE_IDLE))
            .tcp_user_timeout_ms(ms(super::TCP_USER_TIMEOUT))
            .prefer_socket(false)
            .max_allowed_packet(Some(packet));
        let mut conn = mysql::Conn::new(opts).map_err(|e| fail(error_text(&e)))?;
        for stmt in script_statements(include_str!("../../../templates/mysql/session.sql")) {
            conn.query_drop(stmt).map_err(|e| fail(error_text(&e)))?;
        }
        let (mut version, database): (String, Option<String>) = conn
            .query_first("SELECT VERSION(), DATABASE()")
            .map_err(|e| fail(error_text(&e)))?
            .unwrap_or_default();
        if vitess_probe(&mut conn, &version) {
            vitess_session(&mut conn).map_err(fail)?;
            if !crate::render::mysql::is_vitess(&version, None, false) {
                // So that snapshots and saved plans remember it (dialect_for reads it).
                version.push_str(" (Vitess)");
            }
        }
        Ok(MyBackend {
            conn,
            server: Server::from_version(&version),
            database,
            url: url.clone(),
        })
    }

    fn query_err(context: &'static str) -> impl Fn(mysql::Error) -> DbError {
        move |e| DbError::Query {
            context: context.into(),
            message: error_text(&e),
        }
    }
}

/// Whether the server is Vitess's vtgate: the version or `@@version_comment` says so, or
/// `SHOW VITESS_TARGET` (a statement only vtgate knows; MySQL refuses it as a syntax error)
/// succeeds. vtgate may advertise a plain MySQL version (`--mysql_server_version`), hence the
/// probe; MariaDB is never behind vtgate, so it is not probed.
fn vitess_probe(conn: &mut mysql::Conn, version: &str) -> bool {
    if version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    let comment: Option<String> = conn.query_first("SELECT @@version_comment").ok().flatten();
    if crate::render::mysql::is_vitess(version, comment.as_deref(), false) {
        return true;
    }
    let show_ok = conn
        .query_drop(include_str!("../../../templates/mysql/vitess_probe.sql").trim())
        .is_ok();
    crate::render::mysql::is_vitess(version, comment.as_deref(), show_ok)
}

/// Through vtgate: partition DDL runs directly on the shards (`@@ddl_strategy = 'direct'`), or
/// partctl refuses to go on.
fn vitess_session(conn: &mut mysql::Conn) -> Result<(), String> {
    for stmt in script_statements(include_str!("../../../templates/mysql/vitess_session.sql")) {
        conn.query_drop(stmt).map_err(|e| {
            format!(
                "Vitess: cannot set @@ddl_strategy = 'direct': {}",
                error_text(&e)
            )
        })?;
    }
    let strategy: Option<String> = conn
        .query_first("SELECT @@ddl_strategy")
        .map_err(|e| format!("Vitess: cannot read @@ddl_strategy: {}", error_text(&e)))?;
    vitess_strategy_ok(strategy.as_deref())
}

/// partctl's range rotation must run as direct DDL through vtgate: any other strategy (Online
/// DDL: `vitess`, `online`, `gh-ost`, `pt-osc`, ...) runs `DROP PARTITION` wrongly.
pub fn vitess_strategy_ok(strategy: Option<&str>) -> Result<(), String> {
    match strategy.map(str::trim) {
        Some(s) if s == "direct" || s.starts_with("direct ") => Ok(()),
        other => Err(format!(
            "Vitess: @@ddl_strategy is {}, not 'direct' after partctl set it; partition DDL through Online DDL is wrong (DROP PARTITION keeps the rows, vitess #15674), so partctl refuses to run",
            other.map_or("unknown".to_string(), |s| format!("'{s}'"))
        )),
    }
}

/// A driver error in the server's own words (`ERROR 1045 (28000): Access denied ...`), without
/// the driver's Rust wrappers (`MySqlError { ... }`).
pub fn error_text(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(m) => m.to_string(),
        mysql::Error::DriverError(d) => d.to_string(),
        mysql::Error::IoError(io) => io.to_string(),
        mysql::Error::CodecError(c) => c.to_string(),
        mysql::Error::UrlError(u) => u.to_string(),
        mysql::Error::TlsError(t) => t.to_string(),
        other => other.to_string(),
    }
}

/// Server error number -> neutral kind: 1205 lock wait timeout (metadata locks included),
/// 1213 deadlock. 1503 gets the advice the server does not give.
fn stmt_error(e: &mysql::Error) -> StmtError {
    let code = match e {
        mysql::Error::MySqlError(m) => Some(m.code),
        _ => None,
    };
    let kind = match code {
        Some(1205) => StmtErrorKind::LockTimeout,
        Some(1213) => StmtErrorKind::Deadlock,
        _ => StmtErrorKind::Other,
    };
    let message = match code {
        Some(1503) => format!(
            "every PRIMARY KEY and UNIQUE key of a partitioned table must include the partition column; add it to the key (server said: {})",
            error_text(e)
        ),
        _ => error_text(e),
    };
    StmtError { kind, message }
}

impl Backend for MyBackend {
    fn engine(&self) -> Engine {
        self.server.engine
    }

    fn server_version(&self) -> &str {
        &self.server.version
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            product: self.server.flavor().product(),
            transactional_ddl: false,
            move_reports_rows: false,
            generic_plans: false,
            swap_in_second_session: true,
        }
    }

    fn another_session(&self) -> Option<Result<Box<dyn Backend + Send>, DbError>> {
        Some(MyBackend::connect(&self.url).map(|b| Box::new(b) as Box<dyn Backend + Send>))
    }

    fn dialect(&self) -> &'static dyn Dialect {
        self.server.dialect()
    }

    fn read_catalog(
        &mut self,
        policies: &[&Policy],
        sizes: bool,
        plan_at: Option<DateTime<Utc>>,
    ) -> Result<Catalog, CatalogError> {
        // The row facts are read with SELECTs that wait for metadata locks (a LOCK TABLES
        // elsewhere): bound that wait by the policies' lock_timeout and retries, instead of the
        // server's default of a year.
        let secs = catalog_lock_wait(policies, |d| d.as_secs_f64().ceil().max(1.0) as u128);
        // A number of seconds partctl computed, not user text: sent as text, one round trip
        // (a bound parameter would prepare first, a second one).
        self.conn
            .query_drop(
                include_str!("../../../templates/mysql/session_lock_timeout.sql")
                    .replace("{seconds}", &(secs as u64).to_string()),
            )
            .map_err(|e| CatalogError::Query(format!("setting lock_wait_timeout: {e}")))?;
        // A table whose plan at `plan_at` does not depend on its catch-all's keys (see
        // [`crate::plan::catch_all_keys_matter`]) is read without them: reading them opens
        // every such table (a third of a no-op plan's time at 50 tables).
        let catch_all_matters = |i: usize, table: &mut crate::catalog::Table, floor: i64| {
            plan_at.is_none_or(|now| {
                crate::plan::catch_all_keys_matter(policies[i], table, now, floor)
            })
        };
        catalog::read(
            &mut self.conn,
            &self.server,
            self.database.as_deref(),
            &super::wanted(policies),
            sizes,
            &catch_all_matters,
        )
    }

    fn default_schema(&self) -> Option<&str> {
        self.database.as_deref()
    }

    fn partitioned_tables(&mut self) -> Result<Vec<TableRef>, DbError> {
        let rows: Vec<(String, String)> = self
            .conn
            .query(include_str!(
                "../../../templates/mysql/partitioned_tables.sql"
            ))
            .map_err(|e| DbError::Query {
                context: "listing the partitioned tables".into(),
                message: error_text(&e),
            })?;
        Ok(rows
            .into_iter()
            .map(|(schema, name)| TableRef {
                schema: Some(schema),
                name,
            })
            .collect())
    }

    fn read_named(&mut self, tables: &[TableRef]) -> Result<Catalog, CatalogError> {
        let wanted: Vec<_> = tables
            .iter()
            .map(|t| (t.clone(), super::INIT_STATS))
            .collect();
        catalog::read(
            &mut self.conn,
            &self.server,
            self.database.as_deref(),
            &wanted,
            false,
            &|_, _, _| true,
        )
    }

    fn try_lock(&mut self, table: &str) -> Result<bool, DbError> {
        self.conn
            .exec_first::<Option<i64>, _, _>(
                include_str!("../../../templates/mysql/advisory_lock.sql"),
                (lock_name(table),),
            )
            .map(|r| r.flatten() == Some(1))
            .map_err(|e| DbError::Query {
                context: format!("{table}: taking the advisory lock"),
                message: error_text(&e),
            })
    }

    fn unlock(&mut self, table: &str) -> Result<(), DbError> {
        self.conn
            .exec_drop(
                include_str!("../../../templates/mysql/advisory_unlock.sql"),
                (lock_name(table),),
            )
            .map_err(|e| DbError::Query {
                context: format!("{table}: releasing the advisory lock"),
                message: error_text(&e),
            })
    }

    /// A transaction for the rows of one batch (DML only: MySQL DDL commits on its own, so
    /// steps never run whole in a transaction here; `transactional_ddl` is false).
    fn begin(&mut self) -> Result<(), StmtError> {
        self.conn
            .query_drop("START TRANSACTION")
            .map_err(|e| stmt_error(&e))
    }

    fn commit(&mut self) -> Result<(), StmtError> {
        self.conn.query_drop("COMMIT").map_err(|e| stmt_error(&e))
    }

    fn rollback(&mut self) {
        let _ = self.conn.query_drop("ROLLBACK");
    }

    fn execute(&mut self, sql: &str) -> Result<u64, StmtError> {
        self.conn.query_drop(sql).map_err(|e| stmt_error(&e))?;
        Ok(self.conn.affected_rows())
    }

    fn count(&mut self, sql: &str) -> Result<i64, StmtError> {
        self.conn
            .query_first::<Option<i64>, _>(sql)
            .map(|r| r.flatten().unwrap_or(0))
            .map_err(|e| stmt_error(&e))
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, StmtError> {
        let rows: Vec<mysql::Row> = self.conn.query(sql).map_err(|e| stmt_error(&e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                row.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        mysql::Value::NULL => None,
                        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
                    })
                    .collect()
            })
            .collect())
    }

    fn free_space(&mut self) -> super::FreeSpace {
        // The server runs here when this connection reaches it from the loopback address or a
        // Unix socket (`localhost`), as the server sees it (the processlist's HOST, without
        // the client's port).
        let sql = "SELECT @@datadir, @@pid_file, @@hostname,
                          (SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID())";
        match self
            .conn
            .query_first::<(String, String, String, Option<String>), _>(sql)
        {
            Ok(Some((dir, pid_file, hostname, host))) => {
                let host = host.unwrap_or_default();
                let addr = match host.rsplit_once(':') {
                    Some((a, port)) if port.bytes().all(|b| b.is_ascii_digit()) => a,
                    _ => host.as_str(),
                };
                let addr = addr.trim_start_matches('[').trim_end_matches(']');
                let dir = dir.trim_end_matches('/');
                super::disk::local_free_space(
                    if dir.is_empty() { "/" } else { dir },
                    addr,
                    super::disk::Owner::PidFile {
                        file: pid_file,
                        hostname,
                    },
                )
            }
            Ok(None) => {
                super::FreeSpace::Unknown("the server does not tell its data directory".into())
            }
            Err(e) => super::FreeSpace::Unknown(format!(
                "the server does not tell its data directory ({})",
                error_text(&e)
            )),
        }
    }

    fn replica_lag(&mut self) -> Result<Option<std::time::Duration>, StmtError> {
        // Every replication connection (MariaDB's named connections, MySQL's channels): the
        // largest lag. MariaDB: SHOW ALL SLAVES STATUS. MySQL before 8.0.22 knows only SLAVE;
        // 8.4 only REPLICA. No row: not a replica. A NULL lag: that connection's threads are
        // not running, so the lag is unknown: an error, not a wait without end (the copy
        // stops, and `convert` resumes it once replication runs). The lag is the applier's
        // (`Seconds_Behind_Master`): what the receiving thread has not fetched yet is not in it.
        let rows: Vec<mysql::Row> = match self.server.flavor() {
            Flavor::Mariadb => self.conn.query("SHOW ALL SLAVES STATUS"),
            Flavor::Mysql => match self.conn.query("SHOW REPLICA STATUS") {
                Err(mysql::Error::MySqlError(m)) if m.code == 1064 => {
                    self.conn.query("SHOW SLAVE STATUS")
                }
                other => other,
            },
        }
        .map_err(|e| stmt_error(&e))?;
        let mut lag: Option<u64> = None;
        for row in &rows {
            let name = ["Connection_name", "Channel_Name", "Channel_name"]
                .into_iter()
                .find_map(|c| row.get_opt::<String, _>(c).and_then(Result::ok))
                .filter(|n| !n.is_empty())
                .map_or_else(
                    || "the default connection".to_string(),
                    |n| format!("connection {n}"),
                );
            let column = ["Seconds_Behind_Master", "Seconds_Behind_Source"]
                .into_iter()
                .find_map(|c| row.get_opt::<Option<u64>, _>(c).and_then(Result::ok));
            match column {
                Some(Some(secs)) => lag = Some(lag.map_or(secs, |l| l.max(secs))),
                Some(None) => {
                    return Err(StmtError::other(format!(
                        "replication is not running on the replica ({name}: its lag is NULL; \
                         START SLAVE, or see SHOW ALL SLAVES STATUS for the error)"
                    )))
                }
                None => {
                    return Err(StmtError::other(
                        "the replica's status has no Seconds_Behind_Master column",
                    ))
                }
            }
        }
        Ok(lag.map(std::time::Duration::from_secs))
    }

    fn set_batch_rows(&mut self, rows: u64) -> Result<(), StmtError> {
        self.execute(&format!("SET @partctl_batch = {rows}"))
            .map(|_| ())
    }

    /// A staged move reads in READ COMMITTED; a failed one must not leave the session there.
    fn reset_session(&mut self) {
        let _ = self
            .conn
            .query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    }

    fn count_mismatch(&self, detail: String, at_target: bool) -> String {
        if at_target {
            format!("{detail}. The statement has committed (MySQL DDL cannot be rolled back); no row was deleted, but run CHECK TABLE on the table before anything else")
        } else {
            detail
        }
    }

    fn lock_holders(&mut self, table: &QualifiedName) -> Vec<String> {
        type Row = (u64, String, String, Option<i64>, String);
        self.conn
            .exec::<Row, _, _>(
                include_str!("../../../templates/mysql/lock_holders.sql"),
                (&table.schema,),
            )
            .map(|rows| {
                rows.iter()
                    .map(|(id, user, host, secs, query)| {
                        holder_text(
                            &format!("connection {id}"),
                            &format!("{user}@{host}"),
                            None,
                            secs.unwrap_or(-1),
                            query,
                            None,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn explain(&mut self, templates: &Templates, query: &Query) -> Result<Touched, ExplainError> {
        explain::explain(&mut self.conn, self.server.flavor(), templates, query)
    }

    fn explain_all(
        &mut self,
        templates: &Templates,
        queries: &[Query],
    ) -> Vec<Result<Touched, ExplainError>> {
        explain::explain_all(&mut self.conn, self.server.flavor(), templates, queries)
    }

    fn history_exists(&mut self) -> Result<bool, DbError> {
        Ok(self
            .conn
            .query_first::<i64, _>(HISTORY_EXISTS)
            .map_err(Self::query_err("looking for partctl.run_history"))?
            .unwrap_or(0)
            > 0)
    }

    fn history_init(&mut self) -> Result<(), DbError> {
        for s in script_statements(HISTORY_INIT) {
            self.conn
                .query_drop(&s)
                .map_err(Self::query_err("creating partctl.run_history"))?;
        }
        Ok(())
    }

    fn history_last_ok(&mut self, table: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        let text: Option<String> = self
            .conn
            .exec_first::<Option<String>, _, _>(HISTORY_LAST_OK, (table,))
            .map_err(Self::query_err("reading partctl.run_history"))?
            .flatten();
        text.as_deref().map(parse_time).transpose()
    }

    fn history_record(&mut self, r: &Record) -> Result<i64, DbError> {
        let t = |d: DateTime<Utc>| d.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        self.conn
            .exec_drop(
                HISTORY_INSERT,
                (
                    &r.table,
                    t(r.started_at),
                    t(r.finished_at),
                    &r.status,
                    r.steps_applied,
                    r.rows_moved,
                    &r.message,
                ),
            )
            .map_err(Self::query_err("writing partctl.run_history"))?;
        Ok(self.conn.last_insert_id() as i64)
    }

    fn history_prune(&mut self, table: &str, before: DateTime<Utc>) -> Result<u64, DbError> {
        let t = before.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        self.conn
            .exec_drop(
                include_str!("../../../templates/mysql/history_prune.sql"),
                (table, t, table),
            )
            .map_err(Self::query_err("pruning partctl.run_history"))?;
        Ok(self.conn.affected_rows())
    }

    fn history_recent(&mut self, table: &str, limit: u32) -> Result<Vec<Record>, DbError> {
        let rows = self
            .conn
            .exec::<mysql::Row, _, _>(HISTORY_RECENT, (table, u64::from(limit)))
            .map_err(Self::query_err("reading partctl.run_history"))?;
        rows.into_iter()
            .map(|mut r| {
                let mut text = |i: usize| -> String {
                    r.take::<Option<String>, _>(i).flatten().unwrap_or_default()
                };
                let (table, started, finished, status, message) =
                    (text(1), text(2), text(3), text(4), text(7));
                let mut num =
                    |i: usize| -> i64 { r.take::<Option<i64>, _>(i).flatten().unwrap_or_default() };
                Ok(Record {
                    id: Some(num(0)),
                    table,
                    started_at: parse_time(&started)?,
                    finished_at: parse_time(&finished)?,
                    status,
                    steps_applied: num(5),
                    rows_moved: num(6),
                    message,
                })
            })
            .collect()
    }
}

/// GET_LOCK name for a table (MySQL limits lock names to 64 characters).
pub fn lock_name(table: &str) -> String {
    format!("partctl:{:016x}", advisory_key(table) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through vtgate partctl insists on direct DDL; Online DDL strategies are refused.
    #[test]
    fn only_the_direct_ddl_strategy_is_accepted_on_vitess() {
        assert!(vitess_strategy_ok(Some("direct")).is_ok());
        assert!(vitess_strategy_ok(Some("direct --allow-zero-in-date")).is_ok());
        for s in [Some("vitess"), Some("online"), Some("gh-ost"), None] {
            let e = vitess_strategy_ok(s).unwrap_err();
            assert!(e.contains("#15674") && e.contains("refuses"), "{e}");
        }
    }
}
