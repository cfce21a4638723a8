//! Running one step on a backend, written once for every engine: one transaction per step
//! where the engine's DDL is transactional (a failure rolls it back whole), else statement by
//! statement with a retry resuming at the statement that could not get its lock; lock waits
//! retried with backoff; the row counts of every move checked.

use crate::backend::{Backend, StmtError};
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
    /// A stop was requested while the step waited to try again; nothing of it was applied.
    #[error("step {step}: interrupted before it could get its lock; not applied")]
    Interrupted { step: String },
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub rows_moved: u64,
    pub attempts: u32,
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

/// Why an attempt stopped.
enum Failure {
    /// A lock wait or deadlock: worth another attempt. (statement, message)
    Retry(String, String),
    Fatal(ApplyError),
}

/// Where a step stands between attempts (statements done, counts seen).
#[derive(Default)]
struct Progress {
    /// The next statement to run (only advances on engines without transactional DDL).
    next: usize,
    expected: Option<i64>,
    moved: u64,
}

/// Run one step with retries. `retries` is the number of extra attempts after lock waits;
/// `on_retry(attempt, message)` is told of each.
pub fn run_step(
    backend: &mut dyn Backend,
    step: &Step,
    retries: u32,
    mut on_retry: impl FnMut(u32, &str),
) -> Result<Applied, ApplyError> {
    let in_transaction = step.transactional && backend.capabilities().transactional_ddl;
    let mut progress = Progress::default();
    let mut attempt = 1;
    loop {
        let result = if in_transaction {
            progress = Progress::default();
            attempt_in_transaction(backend, step, &mut progress)
        } else {
            if backend.capabilities().transactional_ddl {
                // Outside a transaction block on an engine that could roll back: the step's
                // statements are safe to start again from the first.
                progress = Progress::default();
            }
            let r = run_statements(backend, step, &mut progress);
            if r.is_err() {
                backend.reset_session();
            }
            r
        };
        match result {
            Ok(()) => {
                return Ok(Applied {
                    id: step.id.clone(),
                    rows_moved: progress.moved,
                    attempts: attempt,
                })
            }
            Err(Failure::Retry(_, message)) if attempt <= retries => {
                on_retry(attempt, &message);
                if !super::interrupt::sleep(backoff(attempt)) {
                    return Err(ApplyError::Interrupted {
                        step: step.id.clone(),
                    });
                }
                attempt += 1;
            }
            Err(Failure::Retry(sql, message)) => {
                let mut message = format!("{message} (gave up after {attempt} attempts)");
                let holders = backend.lock_holders(&step.parent);
                if !holders.is_empty() {
                    message.push_str("\nthe lock is held by:");
                    for h in holders {
                        message.push_str("\n  ");
                        message.push_str(&h);
                    }
                }
                return Err(ApplyError::Statement {
                    step: step.id.clone(),
                    sql,
                    message,
                });
            }
            Err(Failure::Fatal(e)) => return Err(e),
        }
    }
}

fn attempt_in_transaction(
    backend: &mut dyn Backend,
    step: &Step,
    progress: &mut Progress,
) -> Result<(), Failure> {
    backend.begin().map_err(|e| {
        Failure::Fatal(ApplyError::Other {
            step: step.id.clone(),
            message: e.message,
        })
    })?;
    let result = run_statements(backend, step, progress)
        .and_then(|()| backend.commit().map_err(|e| classify(step, "COMMIT", e)));
    if result.is_err() {
        backend.rollback();
    }
    result
}

fn classify(step: &Step, sql: &str, e: StmtError) -> Failure {
    if e.kind.retryable() {
        Failure::Retry(sql.to_string(), e.message)
    } else {
        Failure::Fatal(ApplyError::Statement {
            step: step.id.clone(),
            sql: sql.to_string(),
            message: e.message,
        })
    }
}

/// Run the step's statements from `progress.next`, checking every count.
fn run_statements(
    backend: &mut dyn Backend,
    step: &Step,
    progress: &mut Progress,
) -> Result<(), Failure> {
    let caps = backend.capabilities();
    while let Some(s) = step.stmts.get(progress.next) {
        let fail = |e: StmtError| classify(step, &s.sql, e);
        let mismatch = |b: &dyn Backend, detail: String, at_target: bool| {
            Failure::Fatal(ApplyError::RowCount {
                step: step.id.clone(),
                detail: b.count_mismatch(detail, at_target),
            })
        };
        let want = progress.expected.unwrap_or(0);
        match s.role {
            Role::Exec => {
                backend.execute(&s.sql).map_err(fail)?;
            }
            Role::CountSource => progress.expected = Some(backend.count(&s.sql).map_err(fail)?),
            Role::MoveRows => {
                let moved = backend.execute(&s.sql).map_err(fail)?;
                if caps.move_reports_rows {
                    progress.moved = moved;
                    if moved as i64 != want {
                        let detail = format!("{want} rows to move, {moved} moved");
                        return Err(mismatch(backend, detail, false));
                    }
                }
            }
            Role::CountTarget => {
                let got = backend.count(&s.sql).map_err(fail)?;
                if got != want {
                    let detail = format!("{want} rows to move, {got} arrived");
                    return Err(mismatch(backend, detail, true));
                }
                if !caps.move_reports_rows {
                    progress.moved = got as u64;
                }
            }
            Role::CountLeft => {
                let left = backend.count(&s.sql).map_err(fail)?;
                if left != 0 {
                    let detail = format!("{left} rows left behind in the catch-all");
                    return Err(mismatch(backend, detail, false));
                }
            }
        }
        progress.next += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::from_millis(400));
        assert!(backoff(2) >= Duration::from_millis(800));
        assert!(backoff(30) <= Duration::from_millis(12_500));
    }
}
