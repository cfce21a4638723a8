//! The executor: carries steps out on a live server, one transaction per step where the engine
//! allows, under lock and statement timeouts, retrying lock waits with backoff, checking the
//! row counts of every move, and holding a per-table advisory lock so that two runs never work
//! on one table at once.

use crate::db::error_text;
use crate::render::{Role, Step};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("step {step} failed at statement:\n{sql}\n{message}")]
    Statement {
        step: String,
        sql: String,
        message: String,
    },
    #[error("step {step}: row counts disagree: {detail}")]
    RowCount { step: String, detail: String },
    #[error("step {step}: {message}")]
    Other { step: String, message: String },
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub rows_moved: u64,
    pub attempts: u32,
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

/// Try to take the table's advisory lock (session level). `false`: another run holds it.
pub fn pg_try_lock(client: &mut postgres::Client, table: &str) -> Result<bool, String> {
    client
        .query_one(
            include_str!("../templates/postgres/advisory_lock.sql"),
            &[&advisory_key(table)],
        )
        .map(|r| r.get::<_, bool>(0))
        .map_err(|e| error_text(&e))
}

pub fn pg_unlock(client: &mut postgres::Client, table: &str) -> Result<(), String> {
    client
        .query_one(
            include_str!("../templates/postgres/advisory_unlock.sql"),
            &[&advisory_key(table)],
        )
        .map(|_| ())
        .map_err(|e| error_text(&e))
}

/// SQLSTATEs worth another attempt: lock_not_available, deadlock_detected, serialization_failure.
fn retryable(e: &postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| matches!(c.code(), "55P03" | "40P01" | "40001"))
}

/// Backoff before attempt `n` (1-based): 200 ms doubling, capped at 10 s, with jitter.
pub fn backoff(n: u32) -> Duration {
    let base = 200u64.saturating_mul(1u64 << n.min(6)).min(10_000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 % (base / 4 + 1))
        .unwrap_or(0);
    Duration::from_millis(base + jitter)
}

enum Failure {
    Retry(String, String),
    Fatal(ApplyError),
}

/// Run one step with retries. `retries` is the number of extra attempts after lock waits.
pub fn pg_run_step(
    client: &mut postgres::Client,
    step: &Step,
    retries: u32,
    mut on_retry: impl FnMut(u32, &str),
) -> Result<Applied, ApplyError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = if step.transactional {
            run_in_transaction(client, step)
        } else {
            let r = run_on(client, step);
            if r.is_err() {
                // Session-level timeouts must not leak into the next step.
                let _ = client.batch_execute("RESET lock_timeout; RESET statement_timeout");
            }
            r
        };
        match result {
            Ok(rows_moved) => {
                return Ok(Applied {
                    id: step.id.clone(),
                    rows_moved,
                    attempts: attempt,
                })
            }
            Err(Failure::Retry(_, message)) if attempt <= retries => {
                on_retry(attempt, &message);
                std::thread::sleep(backoff(attempt));
            }
            Err(Failure::Retry(sql, message)) => {
                return Err(ApplyError::Statement {
                    step: step.id.clone(),
                    sql,
                    message: format!("{message} (gave up after {attempt} attempts)"),
                })
            }
            Err(Failure::Fatal(e)) => return Err(e),
        }
    }
}

fn run_in_transaction(client: &mut postgres::Client, step: &Step) -> Result<u64, Failure> {
    let mut tx = client.transaction().map_err(|e| {
        Failure::Fatal(ApplyError::Other {
            step: step.id.clone(),
            message: error_text(&e),
        })
    })?;
    let moved = run_on(&mut tx, step)?;
    tx.commit().map_err(|e| classify(step, "COMMIT", &e))?;
    Ok(moved)
}

fn classify(step: &Step, sql: &str, e: &postgres::Error) -> Failure {
    if retryable(e) {
        Failure::Retry(sql.to_string(), error_text(e))
    } else {
        Failure::Fatal(ApplyError::Statement {
            step: step.id.clone(),
            sql: sql.to_string(),
            message: error_text(e),
        })
    }
}

fn run_on<C: postgres::GenericClient>(c: &mut C, step: &Step) -> Result<u64, Failure> {
    let mut expected: Option<i64> = None;
    let mut moved: u64 = 0;
    let mismatch = |detail: String| {
        Failure::Fatal(ApplyError::RowCount {
            step: step.id.clone(),
            detail: format!("{detail}; the transaction was rolled back, nothing changed"),
        })
    };
    for s in &step.stmts {
        let count = |c: &mut C| -> Result<i64, Failure> {
            c.query_one(s.sql.as_str(), &[])
                .map(|r| r.get::<_, i64>(0))
                .map_err(|e| classify(step, &s.sql, &e))
        };
        match s.role {
            Role::Exec => {
                c.batch_execute(&s.sql)
                    .map_err(|e| classify(step, &s.sql, &e))?;
            }
            Role::CountSource => expected = Some(count(c)?),
            Role::MoveRows => {
                moved = c
                    .execute(s.sql.as_str(), &[])
                    .map_err(|e| classify(step, &s.sql, &e))?;
                let want = expected.unwrap_or(0);
                if moved as i64 != want {
                    return Err(mismatch(format!("{want} rows to move, {moved} moved")));
                }
            }
            Role::CountTarget => {
                let got = count(c)?;
                let want = expected.unwrap_or(0);
                if got != want {
                    return Err(mismatch(format!("{want} rows to move, {got} arrived")));
                }
            }
            Role::CountLeft => {
                let left = count(c)?;
                if left != 0 {
                    return Err(mismatch(format!(
                        "{left} rows left behind in the catch-all"
                    )));
                }
            }
        }
    }
    Ok(moved)
}

/// GET_LOCK name for a table (MySQL limits lock names to 64 characters).
pub fn my_lock_name(table: &str) -> String {
    format!("partctl:{:016x}", advisory_key(table) as u64)
}

pub fn my_try_lock(conn: &mut mysql::Conn, table: &str) -> Result<bool, String> {
    use mysql::prelude::Queryable;
    conn.exec_first::<Option<i64>, _, _>(
        include_str!("../templates/mysql/advisory_lock.sql"),
        (my_lock_name(table),),
    )
    .map(|r| r.flatten() == Some(1))
    .map_err(|e| e.to_string())
}

pub fn my_unlock(conn: &mut mysql::Conn, table: &str) -> Result<(), String> {
    use mysql::prelude::Queryable;
    conn.exec_drop(
        include_str!("../templates/mysql/advisory_unlock.sql"),
        (my_lock_name(table),),
    )
    .map_err(|e| e.to_string())
}

/// MySQL errors worth another attempt: 1205 lock wait timeout (metadata locks included),
/// 1213 deadlock.
fn my_retryable(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(m) if m.code == 1205 || m.code == 1213)
}

/// Run one MySQL/MariaDB step with retries. DDL commits implicitly, so a step is a sequence of
/// atomic statements; a retry resumes at the statement that could not get its lock.
pub fn my_run_step(
    conn: &mut mysql::Conn,
    step: &Step,
    retries: u32,
    mut on_retry: impl FnMut(u32, &str),
) -> Result<Applied, ApplyError> {
    use mysql::prelude::Queryable;
    let mut expected: Option<i64> = None;
    let mut moved: u64 = 0;
    let mut attempt = 1;
    let mut i = 0;
    while i < step.stmts.len() {
        let s = &step.stmts[i];
        let result: Result<Option<i64>, mysql::Error> = match s.role {
            Role::Exec | Role::MoveRows => conn.query_drop(s.sql.as_str()).map(|_| None),
            _ => conn
                .query_first::<Option<i64>, _>(s.sql.as_str())
                .map(|r| Some(r.flatten().unwrap_or(0))),
        };
        let value = match result {
            Ok(v) => v,
            Err(e) if my_retryable(&e) && attempt <= retries => {
                on_retry(attempt, &e.to_string());
                std::thread::sleep(backoff(attempt));
                attempt += 1;
                continue;
            }
            Err(e) => {
                return Err(ApplyError::Statement {
                    step: step.id.clone(),
                    sql: s.sql.clone(),
                    message: match &e {
                        _ if my_retryable(&e) => {
                            format!("{e} (gave up after {attempt} attempts)")
                        }
                        mysql::Error::MySqlError(m) if m.code == 1503 => format!(
                            "every PRIMARY KEY and UNIQUE key of a partitioned table must include the partition column; add it to the key (server said: {e})"
                        ),
                        _ => e.to_string(),
                    },
                })
            }
        };
        let mismatch = |detail: String| ApplyError::RowCount {
            step: step.id.clone(),
            detail,
        };
        match (s.role, value) {
            (Role::CountSource, Some(n)) => expected = Some(n),
            (Role::CountTarget, Some(n)) => {
                let want = expected.unwrap_or(0);
                if n != want {
                    return Err(mismatch(format!(
                        "{want} rows to move, {n} arrived. The statement has committed (MySQL DDL cannot be rolled back); no row was deleted, but run CHECK TABLE on the table before anything else"
                    )));
                }
                moved = n as u64;
            }
            (Role::CountLeft, Some(n)) if n != 0 => {
                return Err(mismatch(format!("{n} rows left behind in the catch-all")))
            }
            _ => {}
        }
        i += 1;
    }
    Ok(Applied {
        id: step.id.clone(),
        rows_moved: moved,
        attempts: attempt,
    })
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
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::from_millis(400));
        assert!(backoff(2) >= Duration::from_millis(800));
        assert!(backoff(30) <= Duration::from_millis(12_500));
    }
}
