//! Retention across foreign keys (PostgreSQL): a partition whose rows are still referenced
//! cannot be detached (the server refuses: "removing partition ... violates foreign key
//! constraint"). Over every policy planned together, this pass
//!
//! - orders the tables so that a managed referencing table's partitions expire before those of
//!   the table it references, and says so in both steps' reasons;
//! - refuses, at plan time, the expiry of a partition that rows will still reference after
//!   the plan ran: rows of a table that is not managed, or whose partitions holding them do
//!   not expire in the same plan, or expire by `detach`/`archive` (a detached partition keeps
//!   its own copy of the constraint, which still references the table). The refusal names the
//!   constraint, the referencing table and the referencing rows counted (up to the reader's
//!   sample of the oldest [`FK_SAMPLE_ROWS`] rows). Nothing is ever dropped with CASCADE;
//! - refuses a `coarsen` merge of partitions that rows reference (the merge detaches them).
//!
//! Pure: it reads what the catalog reader found (`KeyStats::referenced_by`).

use super::{describe, plan_table, resolve, ActionKind};
use crate::catalog::{Catalog, PartBound, FK_SAMPLE_ROWS};
use crate::key::Bound;
use crate::names::QualifiedName;
use crate::policy::Policy;
use chrono::{DateTime, Utc};

/// The verdict on the expiries of every policy planned together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FkJudgement {
    /// The policies' indices in the order to plan and apply them: a managed referencing table
    /// before the table it references; otherwise as given.
    pub order: Vec<usize>,
    /// Expiries refused: (table, partition, why).
    pub refused: Vec<(QualifiedName, QualifiedName, String)>,
    /// Text added to an expiry's reason: (table, partition, note).
    pub notes: Vec<(QualifiedName, QualifiedName, String)>,
}

impl FkJudgement {
    /// Remove the refused expiries from `actions` and add the notes to the reasons.
    pub fn adjust(&self, actions: &mut Vec<super::Action>) {
        actions.retain(|a| {
            !((a.kind.is_expiry() || matches!(a.kind, ActionKind::Coarsen { .. }))
                && self
                    .refused
                    .iter()
                    .any(|(t, p, _)| *t == a.table && p == a.kind.partition()))
        });
        for a in actions.iter_mut().filter(|a| a.kind.is_expiry()) {
            for (t, p, note) in &self.notes {
                if *t == a.table && p == a.kind.partition() {
                    a.reason.push_str("; ");
                    a.reason.push_str(note);
                }
            }
        }
    }

    /// The refusals about `table`.
    pub fn refusals_of<'a>(&'a self, table: &'a QualifiedName) -> impl Iterator<Item = &'a str> {
        self.refused
            .iter()
            .filter(move |(t, _, _)| t == table)
            .map(|(_, _, m)| m.as_str())
    }
}

/// Judge the expiries of `policies` against the foreign keys the catalog holds.
pub fn judge(policies: &[&Policy], catalog: &Catalog, now: DateTime<Utc>) -> FkJudgement {
    let tables: Vec<_> = policies.iter().map(|p| resolve(p, catalog)).collect();
    let mut out = FkJudgement {
        order: (0..policies.len()).collect(),
        ..FkJudgement::default()
    };
    if !tables
        .iter()
        .flatten()
        .any(|t| !t.stats.referenced_by.is_empty())
    {
        return out;
    }
    // Every policy's plan, and its expiries: (partition, dropped?).
    let planned: Vec<Vec<super::Action>> = policies
        .iter()
        .zip(&tables)
        .map(|(p, t)| {
            t.and_then(|t| plan_table(p, t, now).ok())
                .unwrap_or_default()
        })
        .collect();
    let expiring: Vec<Vec<(QualifiedName, bool)>> = planned
        .iter()
        .map(|actions| {
            actions
                .iter()
                .filter(|a| a.kind.is_expiry())
                .map(|a| {
                    let dropped = matches!(a.kind, ActionKind::Drop { .. });
                    (a.kind.partition().clone(), dropped)
                })
                .collect()
        })
        .collect();
    let managed = |name: &QualifiedName| {
        tables
            .iter()
            .position(|t| t.is_some_and(|t| t.name == *name))
    };
    // Edges: referencing policy -> referenced policy.
    let mut before: Vec<(usize, usize)> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let Some(t) = t else { continue };
        let kind = t.key.kind;
        for fk in &t.stats.referenced_by {
            let r = managed(&fk.table);
            if let Some(r) = r.filter(|r| *r != i) {
                if !before.contains(&(r, i)) {
                    before.push((r, i));
                }
            }
            for (part, _) in &expiring[i] {
                let Some((from, to)) =
                    t.partitions
                        .iter()
                        .find(|p| p.name == *part)
                        .and_then(|p| match p.bound {
                            PartBound::Range { from, to } => Some((from, to)),
                            _ => None,
                        })
                else {
                    continue;
                };
                let inside = |k: i64| {
                    (match from {
                        Bound::At(f) => k >= f,
                        Bound::Min => true,
                        Bound::Max => false,
                    }) && (match to {
                        Bound::At(e) => k < e,
                        Bound::Max => true,
                        Bound::Min => false,
                    })
                };
                let mut blocking: u64 = 0;
                let mut detached: Vec<&QualifiedName> = Vec::new();
                let mut others: Vec<&QualifiedName> = Vec::new();
                let mut dropped: Vec<&QualifiedName> = Vec::new();
                for rows in fk.oldest.iter().filter(|x| inside(x.key)) {
                    let fate = r.and_then(|r| expiring[r].iter().find(|(p, _)| *p == rows.leaf));
                    match fate {
                        Some((_, true)) => {
                            if !dropped.contains(&&rows.leaf) {
                                dropped.push(&rows.leaf);
                            }
                        }
                        Some((_, false)) => {
                            blocking += rows.rows;
                            if !detached.contains(&&rows.leaf) {
                                detached.push(&rows.leaf);
                            }
                        }
                        None => {
                            blocking += rows.rows;
                            if !others.contains(&&rows.leaf) {
                                others.push(&rows.leaf);
                            }
                        }
                    }
                }
                // Rows past the sample may still fall inside the partition.
                let unseen = fk.truncated
                    && fk
                        .oldest
                        .last()
                        .is_none_or(|last| !matches!(to, Bound::At(e) if last.key >= e));
                let range =
                    kind.map_or_else(String::new, |k| format!(" {}", describe(k, from, to)));
                if blocking > 0 || unseen {
                    let count = if unseen {
                        format!("more than {blocking} rows (counted up to the oldest {FK_SAMPLE_ROWS} referencing rows)")
                    } else {
                        format!("{blocking} row{}", if blocking == 1 { "" } else { "s" })
                    };
                    let mut why = format!(
                        "the expiry of {part}{range} is refused: {count} of {} still {} it through foreign key {} ({}.{}), and PostgreSQL refuses to detach a referenced partition (partctl never uses CASCADE)",
                        fk.table,
                        if blocking == 1 && !unseen { "references" } else { "reference" },
                        fk.constraint,
                        fk.table,
                        fk.column
                    );
                    if !detached.is_empty() {
                        why.push_str(&format!(
                            "; {} expire{} in this plan by detach or archive, but a detached partition keeps its own copy of the constraint: set on_expire = \"drop\" for {}, or drop the constraint from the detached table",
                            join(&detached),
                            if detached.len() == 1 { "s" } else { "" },
                            fk.table
                        ));
                    }
                    if !others.is_empty() {
                        why.push_str(&format!(
                            "; the rows are in {}, which {} not expire in this plan{}",
                            join(&others),
                            if others.len() == 1 { "does" } else { "do" },
                            if r.is_none() {
                                format!(" ({} has no policy here)", fk.table)
                            } else {
                                String::new()
                            }
                        ));
                    }
                    out.refused.push((t.name.clone(), part.clone(), why));
                } else if !dropped.is_empty() {
                    out.notes.push((
                        t.name.clone(),
                        part.clone(),
                        format!(
                            "after {} (foreign key {}: its rows reference this partition) {} dropped earlier in this plan",
                            join(&dropped),
                            fk.constraint,
                            if dropped.len() == 1 { "is" } else { "are" }
                        ),
                    ));
                    for leaf in dropped {
                        let note = format!(
                            "before {part} of {}, which its rows reference (foreign key {})",
                            t.name, fk.constraint
                        );
                        let entry = (fk.table.clone(), leaf.clone(), note);
                        if !out.notes.contains(&entry) {
                            out.notes.push(entry);
                        }
                    }
                }
            }
        }
    }
    // Coarsening detaches the fine partitions before the merged one is attached: PostgreSQL
    // refuses that while rows reference theirs, so the merge is refused at plan time too.
    for (i, t) in tables.iter().enumerate() {
        let Some(t) = t else { continue };
        for a in &planned[i] {
            let ActionKind::Coarsen {
                partition,
                from: Bound::At(from),
                to: Bound::At(to),
                parts,
            } = &a.kind
            else {
                continue;
            };
            for fk in &t.stats.referenced_by {
                let r = managed(&fk.table);
                let blocking: u64 = fk
                    .oldest
                    .iter()
                    .filter(|x| *from <= x.key && x.key < *to)
                    .filter(|x| {
                        // Rows whose partition this plan drops first are gone by then.
                        !r.is_some_and(|r| {
                            expiring[r]
                                .iter()
                                .any(|(p, dropped)| *dropped && *p == x.leaf)
                        })
                    })
                    .map(|x| x.rows)
                    .sum();
                let unseen = fk.truncated && fk.oldest.last().is_none_or(|last| last.key < *to);
                if blocking == 0 && !unseen {
                    continue;
                }
                let count = if unseen {
                    format!("more than {blocking} rows (counted up to the oldest {FK_SAMPLE_ROWS} referencing rows)")
                } else {
                    format!("{blocking} row{}", if blocking == 1 { "" } else { "s" })
                };
                let range = t.key.kind.map_or_else(String::new, |k| {
                    format!(" {}", describe(k, Bound::At(*from), Bound::At(*to)))
                });
                out.refused.push((
                    t.name.clone(),
                    partition.clone(),
                    format!(
                        "coarsening the {} partitions{range} into {partition} is refused: {count} of {} still {} them through foreign key {} ({}.{}), and PostgreSQL refuses to detach a referenced partition (the merge detaches the fine partitions before it attaches {partition}); remove `coarsen` from this policy, or drop the constraint",
                        parts.len(),
                        fk.table,
                        if blocking == 1 && !unseen { "references" } else { "reference" },
                        fk.constraint,
                        fk.table,
                        fk.column
                    ),
                ));
                break;
            }
        }
    }
    out.order = ordered(policies.len(), &before);
    out
}

/// `0..n` with every `(a, b)` edge putting a before b, otherwise in order (a cycle keeps the
/// given order for its members).
fn ordered(n: usize, before: &[(usize, usize)]) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while out.len() < n {
        let next = (0..n)
            .find(|&i| !done[i] && !before.iter().any(|&(a, b)| b == i && !done[a]))
            .or_else(|| (0..n).find(|&i| !done[i]))
            .expect("some left");
        done[next] = true;
        out.push(next);
    }
    out
}

fn join(names: &[&QualifiedName]) -> String {
    names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
