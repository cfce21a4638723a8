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
    /// What the server said while the step ran, when it matters (see
    /// [`Backend::take_notices`]).
    pub notices: Vec<String>,
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

/// Where a batched move stands, after each batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveProgress {
    /// Rows moved so far by this run (every batch committed).
    pub moved: u64,
    /// Rows to move when the step began (more may arrive); `None` when not counted.
    pub total: Option<u64>,
    pub batches: u64,
    /// Time for one structured log line (at most one per [`LINE_EVERY`], and the last batch).
    pub line: bool,
    pub done: bool,
}

/// How often a batched move prints a progress line when stderr is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(20);

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
    /// A `begin` statement opened a transaction not yet committed.
    in_tx: bool,
    /// Batched moves: rows moved in committed batches, over every attempt (kept on retry).
    committed: u64,
    /// Rows the open transaction has moved (counted as committed at its `commit`).
    uncommitted: u64,
    batches: u64,
    total: Option<u64>,
    /// The rows the next batch may take (0: not started; see [`BatchSizing`]).
    batch_rows: u64,
    sizing: BatchSizing,
    sized: Sized,
    /// Rows the last finished group of copy-and-delete batches moved.
    last_group: Option<u64>,
}

/// How batched moves size their batches: by rows (at most `max_rows`, the policy's
/// `move_batch_rows`) and by time: a batch that takes longer than `target` makes the next one
/// proportionally smaller (at least [`MIN_BATCH_ROWS`]), one that takes under half of it makes
/// the next one twice as large again, up to `max_rows`.
#[derive(Debug, Clone, Copy)]
pub struct BatchSizing {
    pub max_rows: u64,
    pub target: Duration,
}

impl Default for BatchSizing {
    /// The policy defaults: 50,000 rows, a quarter of a 2 s `lock_timeout`.
    fn default() -> Self {
        BatchSizing {
            max_rows: 50_000,
            target: Duration::from_millis(500),
        }
    }
}

/// The smallest batch the time rule shrinks to.
pub const MIN_BATCH_ROWS: u64 = 100;

impl BatchSizing {
    /// From a policy: `move_batch_rows`, and a target of a quarter of `lock_timeout` (a writer
    /// that meets a moving row waits at most about that long), never above half of
    /// `move_max_lock` (the batch's statement timeout).
    pub fn for_policy(policy: &crate::policy::Policy) -> BatchSizing {
        BatchSizing {
            max_rows: u64::from(policy.moves.batch_rows),
            target: (policy.lock_timeout / 4).min(policy.moves.max_lock / 2),
        }
    }

    /// The size of the batch after `this` one (its size, rows moved, time taken). A batch's
    /// time is a fixed part (a scan of a catch-all without an index on the key costs the same
    /// for any batch) plus a part per row; two batches of different sizes tell them apart.
    /// A slow batch: the size whose time fits the target (a first slow batch halves, to learn
    /// the rows' share); when the fixed part alone is over the target, shrinking cannot help,
    /// so batches go back to `max_rows` (fewer scans) and stay there. A fast batch doubles.
    pub fn next(&self, state: &mut Sized, this: Batch) -> u64 {
        let max = self.max_rows.max(1);
        let floor = MIN_BATCH_ROWS.min(max);
        let current = this.size.clamp(1, max);
        let before = state.last.replace(this);
        let target = self.target.as_secs_f64();
        let took = this.took.as_secs_f64();
        if state.fixed_cost_over_target {
            return max;
        }
        if this.rows == 0 || took <= target {
            return if took < target / 2.0 {
                current.saturating_mul(2).min(max)
            } else {
                current
            };
        }
        let fit = before
            .filter(|b| b.rows > 0 && b.rows != this.rows)
            .map(|b| {
                let per_row = (took - b.took.as_secs_f64()) / (this.rows as f64 - b.rows as f64);
                (per_row, took - per_row * this.rows as f64)
            });
        match fit {
            Some((per_row, fixed)) if per_row <= 0.0 || fixed >= 0.8 * target => {
                state.fixed_cost_over_target = true;
                max
            }
            Some((per_row, fixed)) => (((target * 0.8 - fixed) / per_row) as u64).clamp(floor, max),
            None => (current / 2).clamp(floor, max),
        }
    }
}

/// One batch, for [`BatchSizing::next`].
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    pub size: u64,
    pub rows: u64,
    pub took: Duration,
}

/// What the time rule learned over a step's batches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sized {
    pub last: Option<Batch>,
    /// A batch's fixed time alone is over the target: batches stay at `max_rows`.
    pub fixed_cost_over_target: bool,
}

impl Progress {
    /// A fresh start of the step's statements, keeping what committed batches moved.
    fn restart(&self) -> Progress {
        Progress {
            committed: self.committed,
            batches: self.batches,
            batch_rows: self.batch_rows,
            sizing: self.sizing,
            sized: self.sized,
            last_group: self.last_group,
            ..Progress::default()
        }
    }

    /// The rows the next batch may take.
    fn size(&self) -> u64 {
        if self.batch_rows == 0 {
            self.sizing.max_rows
        } else {
            self.batch_rows
        }
    }

    fn rows_moved(&self) -> u64 {
        if let Some(n) = self.last_group {
            // Copy-and-delete batches: the last group is the one that moved rows into the
            // table (a staged move's earlier group only parked them in its holding table).
            n
        } else if self.committed > 0 {
            self.committed
        } else {
            self.moved
        }
    }
}

/// Reports a batched move's progress, a structured line at most once per [`LINE_EVERY`].
struct Reporter<'a> {
    on_progress: &'a mut dyn FnMut(&MoveProgress),
    last_line: Option<std::time::Instant>,
}

impl Reporter<'_> {
    fn batch(&mut self, p: &Progress, done: bool) {
        let now = std::time::Instant::now();
        let line = done
            || self
                .last_line
                .is_none_or(|t| now.duration_since(t) >= LINE_EVERY);
        if line {
            self.last_line = Some(now);
        }
        (self.on_progress)(&MoveProgress {
            moved: p.committed,
            total: p.total,
            batches: p.batches,
            line,
            done,
        });
    }
}

/// Run one step with retries. `retries` is the number of extra attempts after lock waits;
/// `on_retry(attempt, message)` is told of each.
/// `on_progress` hears of every batch of a batched move.
pub fn run_step(
    backend: &mut dyn Backend,
    step: &Step,
    retries: u32,
    sizing: BatchSizing,
    on_retry: impl FnMut(u32, &str),
    on_progress: &mut dyn FnMut(&MoveProgress),
) -> Result<Applied, ApplyError> {
    run_step_after(backend, step, retries, sizing, None, on_retry, on_progress)
}

/// Whether the step is one transaction with nothing to count between its statements: what
/// [`Backend::execute_transaction`] runs whole, and [`Backend::execute_transactions`] sends
/// along with other steps.
pub fn sent_whole(step: &Step, backend: &dyn Backend) -> bool {
    step.transactional
        && backend.capabilities().transactional_ddl
        && step.stmts.iter().all(|s| matches!(s.role, Role::Exec))
}

/// As [`run_step`], when the first attempt has already run (sent with other steps by
/// [`Backend::execute_transactions`]) and `first` is its answer: the step goes on from there,
/// retried as it would have been.
pub fn run_step_after(
    backend: &mut dyn Backend,
    step: &Step,
    retries: u32,
    sizing: BatchSizing,
    mut first: Option<Result<(), (String, StmtError)>>,
    mut on_retry: impl FnMut(u32, &str),
    on_progress: &mut dyn FnMut(&MoveProgress),
) -> Result<Applied, ApplyError> {
    let in_transaction = step.transactional && backend.capabilities().transactional_ddl;
    let mut progress = Progress {
        sizing,
        ..Progress::default()
    };
    let mut reporter = Reporter {
        on_progress,
        last_line: None,
    };
    let mut attempt = 1;
    loop {
        let result = if let Some(answer) = first.take() {
            answer.map_err(|(sql, e)| classify(step, &sql, e))
        } else if in_transaction {
            progress = Progress {
                sizing,
                ..Progress::default()
            };
            attempt_in_transaction(backend, step, &mut progress, &mut reporter)
        } else {
            if backend.capabilities().transactional_ddl {
                // Outside a transaction block on an engine that could roll back: the step's
                // statements are safe to start again from the first (a batched move's are
                // written to resume).
                progress = progress.restart();
            }
            let r = run_statements(backend, step, &mut progress, &mut reporter);
            if r.is_err() {
                if progress.in_tx {
                    backend.rollback();
                    progress.in_tx = false;
                }
                backend.reset_session();
            }
            r
        };
        match result {
            Ok(()) => {
                if progress.batches > 0 {
                    reporter.batch(&progress, true);
                }
                return Ok(Applied {
                    id: step.id.clone(),
                    rows_moved: progress.rows_moved(),
                    attempts: attempt,
                    notices: Vec::new(),
                });
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
    reporter: &mut Reporter,
) -> Result<(), Failure> {
    if sent_whole(step, backend) {
        // Nothing to count between the statements: the backend may send them together.
        let statements: Vec<&str> = step.stmts.iter().map(|s| s.sql.as_str()).collect();
        return backend
            .execute_transaction(&statements)
            .map_err(|(sql, e)| classify(step, &sql, e));
    }
    backend.begin().map_err(|e| {
        Failure::Fatal(ApplyError::Other {
            step: step.id.clone(),
            message: e.message,
        })
    })?;
    let result = run_statements(backend, step, progress, reporter)
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
    reporter: &mut Reporter,
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
                // Where the move reports its rows (PostgreSQL), source and target are counted
                // under the step's locks and must agree exactly. Where it does not (a MySQL
                // REORGANIZE, counted before and after the statement), rows the application
                // writes into the range between the two counts legitimately arrive too: fewer
                // rows than counted is a loss, more is not (the `count_left` that follows
                // proves that nothing in the range stayed behind in the catch-all).
                let lost = if caps.move_reports_rows {
                    got != want
                } else {
                    got < want
                };
                if lost {
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
            Role::Begin => {
                backend.begin().map_err(fail)?;
                progress.in_tx = true;
            }
            Role::Commit => {
                backend.commit().map_err(fail)?;
                progress.in_tx = false;
                progress.committed += std::mem::take(&mut progress.uncommitted);
            }
            Role::NameFree => {
                let taken = backend.count(&s.sql).map_err(fail)?;
                if taken != 0 {
                    return Err(Failure::Fatal(ApplyError::Other {
                        step: step.id.clone(),
                        message: format!(
                            "the new partition's name is taken by a relation that is not a table partctl is filling (no `partctl: moving rows` label); rename or drop it (statement: {})",
                            s.sql
                        ),
                    }));
                }
            }
            Role::CountBase => {
                // Rows a stopped run already moved: the target must end with these plus
                // every batch of this run.
                progress.expected = Some(backend.count(&s.sql).map_err(fail)?);
            }
            Role::CountPending => {
                let pending = backend.count(&s.sql).map_err(fail)?;
                progress.total = Some(progress.committed + pending.max(0) as u64);
            }
            Role::Compare => {
                let row = backend.count_row(&s.sql).map_err(fail)?;
                if row.is_empty() || row.len() % 2 != 0 {
                    return Err(Failure::Fatal(ApplyError::Other {
                        step: step.id.clone(),
                        message: format!(
                            "a comparison returned {} numbers, not (source, target) pairs",
                            row.len()
                        ),
                    }));
                }
                let what = ["row count", "checksum"];
                for (k, pair) in row.chunks(2).enumerate() {
                    if pair[0] != pair[1] {
                        let detail = format!(
                            "{} of the source {} and of the target {}; nothing was dropped",
                            what.get(k).unwrap_or(&"value"),
                            pair[0],
                            pair[1]
                        );
                        return Err(mismatch(backend, detail, true));
                    }
                }
            }
            Role::BatchCopy | Role::BatchDelete => {
                return Err(Failure::Fatal(ApplyError::Other {
                    step: step.id.clone(),
                    message: format!("`{}` outside a batch (a template error)", s.role.as_str()),
                }))
            }
            Role::BatchCut => {
                let (copy, delete) = match (
                    step.stmts.get(progress.next + 1),
                    step.stmts.get(progress.next + 2),
                ) {
                    (Some(c), Some(d))
                        if c.role == Role::BatchCopy && d.role == Role::BatchDelete =>
                    {
                        (c, d)
                    }
                    _ => {
                        return Err(Failure::Fatal(ApplyError::Other {
                            step: step.id.clone(),
                            message: "`batch_cut` must be followed by `batch_copy` and `batch_delete` (a template error)".into(),
                        }))
                    }
                };
                let mut group = 0u64;
                loop {
                    let size = progress.size();
                    backend.set_batch_rows(size).map_err(fail)?;
                    let started = std::time::Instant::now();
                    backend.begin().map_err(fail)?;
                    progress.in_tx = true;
                    let run = |b: &mut dyn Backend, sql: &str| {
                        b.execute(sql).map_err(|e| classify(step, sql, e))
                    };
                    run(backend, &s.sql)?;
                    let copied = run(backend, &copy.sql)?;
                    let deleted = run(backend, &delete.sql)?;
                    if copied != deleted {
                        let detail = format!("a batch copied {copied} rows and deleted {deleted}");
                        return Err(mismatch(backend, detail, false));
                    }
                    backend.commit().map_err(|e| classify(step, "COMMIT", e))?;
                    group += copied;
                    if !batch_committed(step, progress, reporter, size, copied, started)? {
                        break;
                    }
                }
                progress.last_group = Some(group);
                progress.next += 2;
            }
            Role::MoveBatch => loop {
                let own_tx = !progress.in_tx;
                let size = progress.size();
                let started = std::time::Instant::now();
                if own_tx {
                    backend.set_batch_rows(size).map_err(fail)?;
                    backend.begin().map_err(fail)?;
                    progress.in_tx = true;
                }
                let counts = backend.count_row(&s.sql).map_err(fail)?;
                let (deleted, inserted) = match counts.as_slice() {
                    [d, i] => (*d, *i),
                    _ => {
                        return Err(Failure::Fatal(ApplyError::Other {
                            step: step.id.clone(),
                            message: format!(
                                "a batch returned {} numbers, not (deleted, inserted)",
                                counts.len()
                            ),
                        }))
                    }
                };
                if deleted != inserted {
                    let detail = format!("a batch deleted {deleted} rows and inserted {inserted}");
                    return Err(mismatch(backend, detail, false));
                }
                progress.expected = Some(progress.expected.unwrap_or(0) + deleted);
                if own_tx {
                    backend.commit().map_err(|e| classify(step, "COMMIT", e))?;
                    let rows = deleted.max(0) as u64;
                    if !batch_committed(step, progress, reporter, size, rows, started)? {
                        break;
                    }
                } else {
                    progress.uncommitted += deleted.max(0) as u64;
                    break;
                }
            },
        }
        progress.next += 1;
    }
    Ok(())
}

/// After a batch of `rows` (of at most `size`) committed: count it, size the next one, report
/// progress. `Ok(false)` when it moved nothing (the move is done); an interrupt stops here,
/// between batches (committed batches stay where they went; the next run resumes).
fn batch_committed(
    step: &Step,
    progress: &mut Progress,
    reporter: &mut Reporter,
    size: u64,
    rows: u64,
    started: std::time::Instant,
) -> Result<bool, Failure> {
    progress.in_tx = false;
    progress.committed += rows;
    let this = Batch {
        size,
        rows,
        took: started.elapsed(),
    };
    progress.batch_rows = progress.sizing.next(&mut progress.sized, this);
    if rows == 0 {
        return Ok(false);
    }
    progress.batches += 1;
    reporter.batch(progress, false);
    if super::interrupt::requested() {
        return Err(Failure::Fatal(ApplyError::Interrupted {
            step: step.id.clone(),
        }));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(size: u64, ms: u64) -> Batch {
        Batch {
            size,
            rows: size,
            took: Duration::from_millis(ms),
        }
    }

    #[test]
    fn batches_shrink_when_slow_and_grow_back_when_fast() {
        let s = BatchSizing {
            max_rows: 50_000,
            target: Duration::from_millis(500),
        };
        let mut st = Sized::default();
        // Slow with nothing to compare: halve, to learn the rows' share.
        assert_eq!(s.next(&mut st, batch(50_000, 2000)), 25_000);
        // Proportional (40 us a row, no fixed part): the size that takes 80% of the target.
        assert_eq!(s.next(&mut st, batch(25_000, 1000)), 10_000);
        // Fast: doubles, capped by move_batch_rows; within the target: unchanged.
        let mut st = Sized::default();
        assert_eq!(s.next(&mut st, batch(10_000, 100)), 20_000);
        assert_eq!(s.next(&mut st, batch(40_000, 100)), 50_000);
        assert_eq!(s.next(&mut st, batch(10_000, 400)), 10_000);
        // An empty batch never shrinks it; never below the floor.
        let empty = Batch {
            size: 10_000,
            rows: 0,
            took: Duration::from_secs(9),
        };
        assert_eq!(s.next(&mut Sized::default(), empty), 10_000);
        assert_eq!(
            s.next(&mut Sized::default(), batch(150, 60_000)),
            MIN_BATCH_ROWS
        );
    }

    /// A batch whose time is a scan's, not its rows': once two sizes show it, batches go back
    /// to move_batch_rows and stay.
    #[test]
    fn batches_stop_shrinking_when_smaller_is_not_faster() {
        let s = BatchSizing {
            max_rows: 50_000,
            target: Duration::from_millis(250),
        };
        let mut st = Sized::default();
        assert_eq!(s.next(&mut st, batch(50_000, 1500)), 25_000);
        assert_eq!(s.next(&mut st, batch(25_000, 1400)), 50_000);
        assert_eq!(s.next(&mut st, batch(50_000, 1500)), 50_000);
        assert_eq!(s.next(&mut st, batch(50_000, 100)), 50_000, "it stays");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::from_millis(400));
        assert!(backoff(2) >= Duration::from_millis(800));
        assert!(backoff(30) <= Duration::from_millis(12_500));
    }
}
