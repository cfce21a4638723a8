//! Running the planned tables' steps without the server waiting on the client: steps of
//! different tables that are each one transaction with nothing to count go to the server
//! together ([`Backend::execute_transactions`]), so the server starts the next as soon as one
//! commits, while the next tables are planned. The order is the plan's, step for step; a
//! table's step is sent only once its previous step has answered (a failure stops the table,
//! as ever). What changes is only when a retry runs: after the steps sent along with the
//! failed one. So when a foreign key orders the tables, each table runs alone, as before.

use super::{failed_after, interrupt, interrupted, run_one, step, Event, Planned, TableOutcome};
use crate::backend::Backend;

/// At most this many steps go to the server together: a stop request waits for them.
pub const STEPS_TOGETHER: usize = 32;

/// The tables given so far, in order, and the steps waiting to be sent.
pub(super) struct Runner<'p> {
    /// Steps of different tables may go together; else every step runs alone.
    together_ok: bool,
    tables: Vec<Table<'p>>,
    /// (table, step) to send at the next flush; at most one step of a table.
    together: Vec<(usize, usize)>,
}

/// A table given to the runner, and how far it got.
struct Table<'p> {
    /// Its place in the caller's outcomes.
    slot: usize,
    planned: Planned<'p>,
    done: Vec<super::Applied>,
    end: Option<End>,
}

enum End {
    Failed(String),
    /// A stop was requested; this many steps were not started.
    Interrupted(usize),
}

impl<'p> Runner<'p> {
    pub fn new(together_ok: bool) -> Runner<'p> {
        Runner {
            together_ok,
            tables: Vec::new(),
            together: Vec::new(),
        }
    }

    /// Take the next table in the plan's order and run, or gather, its steps.
    pub fn add(
        &mut self,
        slot: usize,
        planned: Planned<'p>,
        backend: &mut dyn Backend,
        log: &mut dyn FnMut(&Event),
    ) {
        let t = self.tables.len();
        self.tables.push(Table {
            slot,
            planned,
            done: Vec::new(),
            end: None,
        });
        for k in 0..self.tables[t].planned.steps.len() {
            let whole =
                self.together_ok && step::sent_whole(&self.tables[t].planned.steps[k], backend);
            if !whole
                || self.together.len() == STEPS_TOGETHER
                || self.together.iter().any(|(other, _)| *other == t)
            {
                self.flush(backend, log);
            }
            let table = &mut self.tables[t];
            if table.end.is_some() {
                break;
            }
            if whole {
                self.together.push((t, k));
                continue;
            }
            if interrupt::requested() {
                table.end = Some(End::Interrupted(table.planned.steps.len() - k));
                break;
            }
            table.run(k, None, backend, log);
        }
    }

    /// Send the steps gathered, then take their answers in order (a retry runs alone, then).
    pub fn flush(&mut self, backend: &mut dyn Backend, log: &mut dyn FnMut(&Event)) {
        let sent = std::mem::take(&mut self.together);
        if sent.is_empty() {
            return;
        }
        if interrupt::requested() {
            for (t, k) in sent {
                let table = &mut self.tables[t];
                table.end = Some(End::Interrupted(table.planned.steps.len() - k));
            }
            return;
        }
        let answers = match sent.len() {
            // Alone, as any step run on its own (the same round trips).
            1 => vec![None],
            _ => {
                let statements: Vec<Vec<&str>> = sent
                    .iter()
                    .map(|(t, k)| {
                        let s = &self.tables[*t].planned.steps[*k];
                        s.stmts.iter().map(|s| s.sql.as_str()).collect()
                    })
                    .collect();
                backend
                    .execute_transactions(&statements)
                    .into_iter()
                    .map(Some)
                    .collect()
            }
        };
        debug_assert_eq!(answers.len(), sent.len(), "an answer for every step sent");
        for ((t, k), answer) in sent.into_iter().zip(answers) {
            self.tables[t].run(k, answer, backend, log);
        }
    }

    /// Run what is still gathered; every table's outcome, with its slot.
    pub fn finish(
        mut self,
        backend: &mut dyn Backend,
        log: &mut dyn FnMut(&Event),
    ) -> Vec<(usize, TableOutcome)> {
        self.flush(backend, log);
        self.tables
            .into_iter()
            .map(|t| {
                let policy = t.planned.policy;
                let outcome = match t.end {
                    None => TableOutcome::Done(t.done),
                    Some(End::Failed(message)) => failed_after(policy, t.done, message),
                    Some(End::Interrupted(n)) => interrupted(t.done, n),
                };
                let outcome = match outcome {
                    // What the plan refused is this table's failure, after the rest was done.
                    TableOutcome::Done(done) if !t.planned.refused.is_empty() => {
                        failed_after(policy, done, t.planned.refused.join("; "))
                    }
                    other => other,
                };
                (t.slot, outcome)
            })
            .collect()
    }
}

impl Table<'_> {
    /// Run step `k`, or go on from its first attempt's answer, and keep how it went.
    fn run(
        &mut self,
        k: usize,
        answer: Option<crate::backend::StepAnswer>,
        backend: &mut dyn Backend,
        log: &mut dyn FnMut(&Event),
    ) {
        let step = &self.planned.steps[k];
        match run_one(backend, self.planned.policy, step, answer, log) {
            Ok(applied) => self.done.push(applied),
            Err(e) => self.end = Some(ended(e, self.planned.steps.len() - k)),
        }
    }
}

/// How a step that did not apply ends its table; `left`: it and the steps after it.
fn ended(e: super::ApplyError, left: usize) -> End {
    match e {
        super::ApplyError::Interrupted { .. } => End::Interrupted(left),
        e => End::Failed(e.to_string()),
    }
}
