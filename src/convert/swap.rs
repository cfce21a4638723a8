//! The swap of two tables where it cannot run inside the transaction that holds their locks
//! (MySQL/MariaDB: no RENAME TABLE under LOCK TABLES; see `convert_cutover.sql.tera`), the way
//! gh-ost cuts over: this session locks both tables (writers queue) and swaps the dual-write
//! triggers; a second session's atomic RENAME queues behind the lock; once the server shows it
//! waiting, the lock goes and the RENAME runs before any queued write. While the lock is held
//! nothing is written, so no write ever reaches one table only.

use super::{phase_step, Conv, ConvertError, Design, Event, Phase};
use crate::apply::{backoff, interrupt};
use crate::backend::{Backend, StmtError};
use crate::render::{NameCtx, Stmt};
use std::time::{Duration, Instant};

/// How often the lock holder looks for the queued RENAME.
const POLL: Duration = Duration::from_millis(2);

/// One swap: what runs under the lock, the RENAME, and how to put the triggers back.
struct Swap {
    /// `LOCK TABLES`.
    lock: Vec<Stmt>,
    /// The triggers that go, under the lock.
    off: Vec<Stmt>,
    /// The triggers made under the lock (they fire once the names are swapped).
    on: Vec<Stmt>,
    /// The RENAME, for the second session.
    rename: String,
    /// The triggers as they were, should the RENAME never queue.
    undo: Vec<Stmt>,
    /// `UNLOCK TABLES`.
    unlock: Vec<Stmt>,
}

enum Failure {
    /// Nothing changed (the lock or the RENAME's queueing timed out): try again.
    Retry(String),
    Fatal(ConvertError),
}

impl Conv<'_> {
    fn swap_part(
        &self,
        part: &str,
        names: [&crate::names::QualifiedName; 4],
        off: &crate::names::QualifiedName,
    ) -> Result<Vec<Stmt>, ConvertError> {
        let mut c = self.ctx();
        c.insert("part", part);
        c.insert("first", &NameCtx::from(names[0]));
        c.insert("second", &NameCtx::from(names[1]));
        c.insert("first_to", &NameCtx::from(names[2]));
        c.insert("second_to", &NameCtx::from(names[3]));
        c.insert("triggers_off", &NameCtx::from(off));
        self.stmts("convert_cutover.sql.tera", &c)
    }

    fn swap_text(&self, part: &str, swap_id: Option<u64>) -> Result<String, ConvertError> {
        let n = &self.n;
        let mut c = self.ctx();
        c.insert("part", part);
        c.insert("first", &NameCtx::from(&n.table));
        c.insert("second", &NameCtx::from(&n.staging));
        c.insert("first_to", &NameCtx::from(&n.unpartitioned));
        c.insert("second_to", &NameCtx::from(&n.table));
        c.insert("triggers_off", &NameCtx::from(&n.forward));
        if let Some(id) = swap_id {
            c.insert("swap_id", &id);
        }
        Ok(self.t.text("convert_cutover.sql.tera", &c)?)
    }

    /// The reverse triggers, on the new table (under its staging name until the swap).
    fn reverse_on_staging(&self, design: &Design) -> Result<Vec<Stmt>, ConvertError> {
        let mut c = self.ctx();
        c.insert("row_key", &design.row_key);
        c.insert("columns", &design.columns);
        c.insert("function", &NameCtx::from(&self.n.reverse));
        c.insert("trigger", super::REVERSE_TRIGGER);
        c.insert("source", &NameCtx::from(&self.n.staging));
        c.insert("target", &NameCtx::from(&self.n.unpartitioned));
        c.insert("conflict", &design.row_key);
        self.stmts("convert_trigger.sql.tera", &c)
    }

    fn cutover_swap(&self, design: &Design) -> Result<Swap, ConvertError> {
        let n = &self.n;
        let names = [&n.table, &n.staging, &n.unpartitioned, &n.table];
        let mut undo = self.swap_part("undo", names, &n.reverse)?;
        undo.extend(self.swap_part("undo", names, &n.forward)?);
        undo.extend(self.trigger_stmts(design, true)?);
        Ok(Swap {
            lock: self.swap_part("lock", names, &n.forward)?,
            off: self.swap_part("off", names, &n.forward)?,
            on: self.reverse_on_staging(design)?,
            rename: self.swap_text("swap", None)?,
            undo,
            unlock: self.swap_part("unlock", names, &n.forward)?,
        })
    }

    fn back_swap(&self, design: &Design) -> Result<Swap, ConvertError> {
        let n = &self.n;
        let names = [&n.table, &n.unpartitioned, &n.staging, &n.table];
        let mut undo = self.swap_part("undo", names, &n.reverse)?;
        undo.extend(self.trigger_stmts(design, false)?);
        let mut c = self.ctx();
        c.insert("part", "swap");
        c.insert("first", &NameCtx::from(&n.table));
        c.insert("second", &NameCtx::from(&n.unpartitioned));
        c.insert("first_to", &NameCtx::from(&n.staging));
        c.insert("second_to", &NameCtx::from(&n.table));
        Ok(Swap {
            lock: self.swap_part("lock", names, &n.reverse)?,
            off: self.swap_part("off", names, &n.reverse)?,
            on: vec![],
            rename: self.t.text("convert_cutover.sql.tera", &c)?,
            undo,
            unlock: self.swap_part("unlock", names, &n.reverse)?,
        })
    }

    fn exec_all(&mut self, stmts: &[Stmt]) -> Result<(), StmtError> {
        for s in stmts {
            self.backend.execute(&s.sql)?;
        }
        Ok(())
    }

    /// The triggers as they were, and the lock released (best effort: the first error wins).
    fn undo_swap(&mut self, swap: &Swap) -> Result<(), StmtError> {
        let r = self.exec_all(&swap.undo);
        let u = self.exec_all(&swap.unlock);
        r.and(u)
    }

    /// One attempt: the held lock's duration when the RENAME ran.
    fn swap_once(
        &mut self,
        swap: &Swap,
        second: &mut Option<Box<dyn Backend + Send>>,
    ) -> Result<Duration, Failure> {
        let fatal = |c: &Conv, what: &str, e: StmtError| {
            Failure::Fatal(c.query_err(&format!("cutover: {what}"), e.message))
        };
        // The second session, set up with the same timeouts.
        let mut other = match second.take() {
            Some(s) => s,
            None => {
                self.backend
                    .another_session()
                    .ok_or_else(|| {
                        Failure::Fatal(self.query_err(
                            "cutover",
                            "the backend cannot open a second session".into(),
                        ))
                    })?
                    .map_err(|e| Failure::Fatal(self.query_err("cutover", e.to_string())))?
            }
        };
        let mut tc = self.ctx();
        tc.insert("local", &false);
        let timeouts = self
            .t
            .statements("timeouts.sql.tera", &tc)
            .map_err(|e| Failure::Fatal(e.into()))?
            .0;
        for s in &timeouts {
            other
                .execute(&s.sql)
                .map_err(|e| fatal(self, "setting up the second session", e))?;
        }
        let id_sql = self.swap_text("session", None).map_err(Failure::Fatal)?;
        let swap_id: u64 = other
            .query_text(&id_sql)
            .map_err(|e| fatal(self, "reading the second session's id", e))?
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        // Lock both tables (writers queue behind). Without the lock nothing was changed.
        if let Err(e) = self.exec_all(&swap.lock) {
            let _ = self.exec_all(&swap.unlock);
            *second = Some(other);
            return Err(if e.kind.retryable() {
                Failure::Retry(e.message)
            } else {
                fatal(self, "locking both tables", e)
            });
        }
        let locked = Instant::now();
        // Under the lock: the triggers swap (undone under the lock if anything fails).
        if let Err(e) = self
            .exec_all(&swap.off)
            .and_then(|()| self.exec_all(&swap.on))
        {
            let _ = self.undo_swap(swap);
            *second = Some(other);
            return Err(fatal(self, "creating the triggers", e));
        }
        let rename = swap.rename.clone();
        let handle = std::thread::spawn(move || {
            let r = other.execute(&rename);
            (other, r)
        });
        let waiting_sql = self
            .swap_text("waiting", Some(swap_id))
            .map_err(Failure::Fatal)?;
        let deadline = locked + self.policy.lock_timeout.max(Duration::from_millis(200));
        let mut queued = false;
        while Instant::now() < deadline && !handle.is_finished() {
            let n = self
                .backend
                .query_text(&waiting_sql)
                .ok()
                .and_then(|r| r.first().and_then(|r| r.first().cloned().flatten()))
                .unwrap_or_default();
            if n == "1" {
                queued = true;
                break;
            }
            std::thread::sleep(POLL);
        }
        if !queued {
            // The RENAME never queued: it must not run later, on tables whose triggers are
            // put back. Killing its session ends it for good.
            if let Ok(kill) = self.swap_text("kill", Some(swap_id)) {
                let _ = self.backend.execute(&kill);
            }
            let r = match handle.join() {
                Ok((_, r)) => r,
                Err(_) => Err(StmtError::other("the swap thread panicked")),
            };
            self.undo_swap(swap)
                .map_err(|e| fatal(self, "putting the triggers back", e))?;
            return Err(Failure::Retry(match r {
                Err(e) => e.message,
                Ok(_) => "the RENAME did not queue behind the lock in time".into(),
            }));
        }
        let unlocked = self.exec_all(&swap.unlock);
        let (other, r) = handle.join().map_err(|_| {
            Failure::Fatal(self.query_err("cutover", "the swap thread panicked".into()))
        })?;
        let held = locked.elapsed();
        *second = Some(other);
        match (unlocked, r) {
            (Ok(()), Ok(_)) => Ok(held),
            (u, r) => {
                let message = [u.err(), r.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(Failure::Fatal(ConvertError::Phase {
                    table: self.n.label.clone(),
                    message: format!(
                        "the swap failed after the lock was released ({message}); writes made meanwhile may have missed the other table. Check both tables, then `convert --rollback`"
                    ),
                }))
            }
        }
    }

    /// The swap with the policy's retries.
    fn run_swap(
        &mut self,
        swap: &Swap,
        log: &mut dyn FnMut(&Event),
    ) -> Result<Duration, ConvertError> {
        let retries = self.policy.retries;
        let what = format!("{}/convert/swap", self.n.label);
        let mut second = None;
        let mut attempt = 1;
        loop {
            match self.swap_once(swap, &mut second) {
                Ok(held) => return Ok(held),
                Err(Failure::Retry(message)) if attempt <= retries => {
                    log(&Event::Retry {
                        what: &what,
                        attempt,
                        retries,
                        message: &message,
                    });
                    if !interrupt::sleep(backoff(attempt)) {
                        return Err(ConvertError::Interrupted {
                            table: self.n.label.clone(),
                            phase: "cutover",
                        });
                    }
                    attempt += 1;
                }
                Err(Failure::Retry(message)) => {
                    return Err(self.query_err(
                        "cutover",
                        format!("{message} (gave up after {attempt} attempts)"),
                    ))
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }
}

/// Cutover: the new table takes the name, the original becomes `<name>_unpartitioned`, kept
/// current by the reverse triggers; then the phase is recorded. The duration the lock was held.
pub(super) fn cutover(
    conv: &mut Conv,
    design: &Design,
    log: &mut dyn FnMut(&Event),
) -> Result<Duration, ConvertError> {
    let swap = conv.cutover_swap(design)?;
    let held = conv.run_swap(&swap, log)?;
    let step = phase_step(
        &conv.n,
        "cutover",
        "none".into(),
        conv.state_stmts("phase", Some(Phase::CutOver))?,
    );
    conv.run_phase(&step, log)?;
    Ok(held)
}

/// Rollback after cutover: the original takes its name back (the partitioned table goes back
/// to the staging name, dropped by the rollback template). Nothing to do when a stopped
/// rollback swapped them back already.
pub(super) fn swap_back(conv: &mut Conv, log: &mut dyn FnMut(&Event)) -> Result<(), ConvertError> {
    let (schema, name) = (
        conv.n.unpartitioned.schema.clone(),
        conv.n.unpartitioned.name.clone(),
    );
    let Some(original) = conv.read_source(Some(&schema), &name)? else {
        return Ok(());
    };
    let design =
        super::design(conv.policy, &original, conv.backend.dialect()).map_err(|reasons| {
            ConvertError::Refused {
                table: conv.n.label.clone(),
                reasons,
            }
        })?;
    let swap = conv.back_swap(&design)?;
    conv.run_swap(&swap, log)?;
    Ok(())
}

/// The cutover's statements for `--dry-run`.
pub(super) fn listing(conv: &Conv, design: &Design) -> Result<Vec<String>, ConvertError> {
    let swap = conv.cutover_swap(design)?;
    let mut out: Vec<String> = swap.lock.into_iter().map(|s| s.sql).collect();
    out.extend(swap.off.into_iter().map(|s| s.sql));
    out.extend(swap.on.into_iter().map(|s| s.sql));
    out.push(format!(
        "-- on a second session, queued behind the lock:\n{}",
        swap.rename
    ));
    out.extend(swap.unlock.into_iter().map(|s| s.sql));
    out.extend(
        conv.state_stmts("phase", Some(Phase::CutOver))?
            .into_iter()
            .map(|s| s.sql),
    );
    Ok(out)
}
