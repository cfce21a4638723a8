//! How many rows a step is expected to move, for people reading the plan. The executor never
//! relies on it: it counts the rows it moves. The rules (README, "Plan as JSON"):
//!
//! - a create that takes rows out of the catch-all (range, list): the catch-all's estimate
//!   (`pg_class.reltuples`; `information_schema.PARTITIONS.TABLE_ROWS` on MySQL/MariaDB) times
//!   the share of the catch-all's key range `[catch_all_min, catch_all_max]` that the new
//!   partition covers, rounded up, as if its rows were spread evenly over that range; when the
//!   share cannot be worked out (a list partition, no key range read), the catch-all's whole
//!   estimate, an upper bound; for a list partition `auto_lists` plans, the rows of its value
//!   counted in the catch-all by the catalog read;
//! - hash growth (PostgreSQL, one step per old partition): the old partition's estimate, since
//!   every one of its rows is re-inserted; MySQL/MariaDB (one step that rehashes the table,
//!   growing or shrinking): the sum of every partition's estimate;
//! - a coarsen merge: the sum of the merged partitions' estimates (every row is copied);
//! - nothing when the estimate it rests on is missing (a table never analyzed), and nothing for
//!   steps that move no rows.

use crate::catalog::{Partition, Table};
use crate::key::Bound;
use crate::plan::{Action, ActionKind};

/// An estimate of the rows a step moves, and what it rests on (for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowEstimate {
    pub rows: u64,
    pub basis: String,
}

/// The estimate of each of the `steps` steps `action` was rendered into.
pub fn for_steps(action: &Action, table: &Table, steps: usize) -> Vec<Option<RowEstimate>> {
    let one = |e: Option<RowEstimate>| {
        let mut v = vec![e];
        v.resize(steps, None);
        v
    };
    match &action.kind {
        ActionKind::Create {
            from,
            to,
            move_rows: true,
            ..
        } => one(range_create(table, *from, *to)),
        ActionKind::CreateList {
            move_rows: true,
            values,
            ..
        } => {
            one(counted(table, values)
                .or_else(|| table.default_partition().and_then(whole_catch_all)))
        }
        ActionKind::GrowHash { splits, .. } if splits.len() == steps => splits
            .iter()
            .map(|sp| {
                let p = table.partitions.iter().find(|p| p.name == sp.old)?;
                let rows = known(p)?;
                Some(RowEstimate {
                    rows,
                    basis: format!("{}'s estimate: all its rows are redistributed", p.name),
                })
            })
            .collect(),
        ActionKind::GrowHash { .. } | ActionKind::ShrinkHash { .. } => one(whole_table(table)),
        ActionKind::Coarsen { parts, .. } => one(parts
            .iter()
            .map(|c| table.partitions.iter().find(|p| p.name == c.partition))
            .map(|p| p.and_then(known))
            .sum::<Option<u64>>()
            .map(|rows| RowEstimate {
                rows,
                basis: format!(
                    "the {} merged partitions' estimates: every row is copied",
                    parts.len()
                ),
            })),
        _ => vec![None; steps],
    }
}

/// The rows a drop deletes: the dropped partition's estimate (its sub-partitions' sum for a
/// composite one), when the catalog has it; nothing for other actions.
pub fn dropped(action: &Action, table: &Table) -> Option<u64> {
    if action.kind.verb() != "drop" {
        return None;
    }
    let p = table
        .partitions
        .iter()
        .find(|p| p.name == *action.kind.partition())?;
    if p.subpartitions.is_empty() {
        known(p)
    } else {
        p.subpartitions.iter().map(known).sum()
    }
}

/// A list partition for one value that `auto_lists` found waiting: the rows counted in the
/// catch-all when the catalog was read (exact then; rows may have come or gone since).
fn counted(table: &Table, values: &[crate::policy::ListValue]) -> Option<RowEstimate> {
    let [value] = values else { return None };
    let text = crate::plan::list_text(value);
    let w = table.stats.waiting.iter().find(|w| w.value == text)?;
    Some(RowEstimate {
        rows: w.rows,
        basis: format!(
            "rows with {} counted in the catch-all when the catalog was read (auto_lists)",
            value
        ),
    })
}

/// A partition's estimate, when the server has one.
fn known(p: &Partition) -> Option<u64> {
    u64::try_from(p.est_rows).ok()
}

fn whole_catch_all(d: &Partition) -> Option<RowEstimate> {
    Some(RowEstimate {
        rows: known(d)?,
        basis: format!("at most the catch-all {}'s estimate", d.name),
    })
}

fn whole_table(table: &Table) -> Option<RowEstimate> {
    let rows = table.partitions.iter().map(known).sum::<Option<u64>>()?;
    Some(RowEstimate {
        rows,
        basis: "every partition's estimate: all rows are rehashed".into(),
    })
}

/// A range create: the catch-all's estimate times the share of its key range in `[from, to)`.
fn range_create(table: &Table, from: Bound, to: Bound) -> Option<RowEstimate> {
    let d = table.default_partition()?;
    let total = known(d)?;
    let (Some(lo), Some(hi)) = (table.stats.catch_all_min, table.stats.catch_all_max) else {
        return whole_catch_all(d);
    };
    let Some(share) = share(lo, hi, from, to) else {
        return whole_catch_all(d);
    };
    let rows = ((total as f64) * share).ceil().clamp(0.0, total as f64) as u64;
    Some(RowEstimate {
        rows,
        basis: format!(
            "{}% of the catch-all {}'s {total} estimated rows, the share of its key range this partition covers",
            percent(share),
            d.name
        ),
    })
}

/// The share (0..=1) of the keys `[lo, hi]` that lie in `[from, to)`; `None` when `hi < lo`.
pub fn share(lo: i64, hi: i64, from: Bound, to: Bound) -> Option<f64> {
    if hi < lo {
        return None;
    }
    let (lo, end) = (i128::from(lo), i128::from(hi) + 1);
    let a = match from {
        Bound::Min => lo,
        Bound::At(c) => i128::from(c).max(lo),
        Bound::Max => return Some(0.0),
    };
    let b = match to {
        Bound::Max => end,
        Bound::At(c) => i128::from(c).min(end),
        Bound::Min => return Some(0.0),
    };
    Some(((b - a).max(0) as f64 / (end - lo) as f64).clamp(0.0, 1.0))
}

/// A share as a percentage for people: whole numbers, `<1` for a sliver.
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1".into()
    } else {
        format!("{}", p.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{KeyColumn, KeyStats, PartBound};
    use crate::key::KeyKind;
    use crate::names::QualifiedName;
    use crate::plan::HashSplit;
    use crate::policy::Strategy;

    fn part(name: &str, bound: PartBound, est_rows: i64) -> Partition {
        Partition {
            name: QualifiedName::new("public", name),
            bound,
            est_rows,
            bytes: 0,
            detach_pending: false,
            subpartitions: vec![],
        }
    }

    fn table(
        strategy: Strategy,
        partitions: Vec<Partition>,
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Table {
        Table {
            name: QualifiedName::new("public", "t"),
            strategy,
            key: KeyColumn {
                name: "id".into(),
                kind: Some(KeyKind::BigInt),
                sql_type: "bigint".into(),
                expr: None,
                granularity: None,
            },
            columns: vec!["id".into()],
            partitions,
            stats: KeyStats {
                max_key: hi,
                catch_all_min: lo,
                catch_all_max: hi,
                in_transit: vec![],
                holding: None,
                ..KeyStats::default()
            },
            distributed: false,
        }
    }

    fn action(kind: ActionKind) -> Action {
        Action {
            table: QualifiedName::new("public", "t"),
            kind,
            reason: "test".into(),
        }
    }

    fn create(from: i64, to: i64, move_rows: bool) -> Action {
        action(ActionKind::Create {
            partition: QualifiedName::new("public", "t_p"),
            from: Bound::At(from),
            to: Bound::At(to),
            move_rows,
        })
    }

    #[test]
    fn a_coarsen_merge_copies_every_row_of_its_partitions() {
        let range = |a, b| PartBound::Range {
            from: Bound::At(a),
            to: Bound::At(b),
        };
        let fine = |name: &str, a, b| crate::plan::CoarsePart {
            partition: QualifiedName::new("public", name),
            from: Bound::At(a),
            to: Bound::At(b),
        };
        let merge = action(ActionKind::Coarsen {
            partition: QualifiedName::new("public", "t_m"),
            from: Bound::At(0),
            to: Bound::At(20),
            parts: vec![fine("t_a", 0, 10), fine("t_b", 10, 20)],
        });
        let t = table(
            Strategy::Range,
            vec![
                part("t_a", range(0, 10), 700),
                part("t_b", range(10, 20), 50),
                part("t_c", range(20, 30), 9_000),
            ],
            None,
            None,
        );
        let e = for_steps(&merge, &t, 1)[0].clone().unwrap();
        assert_eq!(e.rows, 750);
        assert_eq!(
            e.basis,
            "the 2 merged partitions' estimates: every row is copied"
        );
        // One never analyzed (-1): no estimate.
        let t = table(
            Strategy::Range,
            vec![
                part("t_a", range(0, 10), 700),
                part("t_b", range(10, 20), -1),
            ],
            None,
            None,
        );
        assert_eq!(for_steps(&merge, &t, 1), vec![None]);
    }

    #[test]
    fn share_of_the_key_range() {
        assert_eq!(share(0, 99, Bound::At(0), Bound::At(100)), Some(1.0));
        assert_eq!(share(0, 99, Bound::At(25), Bound::At(50)), Some(0.25));
        assert_eq!(share(0, 99, Bound::At(-50), Bound::At(10)), Some(0.1));
        assert_eq!(share(0, 99, Bound::At(200), Bound::At(300)), Some(0.0));
        assert_eq!(share(5, 5, Bound::At(0), Bound::At(10)), Some(1.0));
        assert_eq!(share(0, 99, Bound::Min, Bound::Max), Some(1.0));
        assert_eq!(share(9, 0, Bound::At(0), Bound::At(10)), None);
        // No overflow at the ends of the key type.
        assert_eq!(share(i64::MIN, i64::MAX, Bound::Min, Bound::Max), Some(1.0));
    }

    #[test]
    fn a_range_create_takes_its_share_of_the_catch_all() {
        let t = table(
            Strategy::Range,
            vec![part("t_default", PartBound::Default, 30_000)],
            Some(0),
            Some(299),
        );
        let e = for_steps(&create(100, 200, true), &t, 1);
        let e = e[0].as_ref().unwrap();
        assert_eq!(e.rows, 10_000);
        assert!(
            e.basis
                .starts_with("33% of the catch-all public.t_default's 30000"),
            "{}",
            e.basis
        );
        // Rounded up: a sliver of the range still estimates a row.
        assert_eq!(
            for_steps(&create(0, 1, true), &t, 1)[0]
                .as_ref()
                .unwrap()
                .rows,
            100
        );
        let thin = table(
            Strategy::Range,
            vec![part("t_default", PartBound::Default, 3)],
            Some(0),
            Some(999_999),
        );
        assert_eq!(
            for_steps(&create(0, 1, true), &thin, 1)[0]
                .as_ref()
                .unwrap()
                .rows,
            1
        );
        // No rows move: no estimate.
        assert_eq!(for_steps(&create(100, 200, false), &t, 1), vec![None]);
    }

    #[test]
    fn without_a_key_range_the_whole_catch_all_is_the_bound() {
        let t = table(
            Strategy::Range,
            vec![part("t_default", PartBound::Default, 500)],
            None,
            None,
        );
        let e = for_steps(&create(0, 10, true), &t, 1)[0].clone().unwrap();
        assert_eq!(e.rows, 500);
        assert!(e.basis.starts_with("at most"), "{}", e.basis);
        let list = action(ActionKind::CreateList {
            partition: QualifiedName::new("public", "t_eu"),
            suffix: "eu".into(),
            values: vec![],
            move_rows: true,
        });
        assert_eq!(for_steps(&list, &t, 1)[0].as_ref().unwrap().rows, 500);
    }

    #[test]
    fn a_catch_all_never_analyzed_gives_no_estimate() {
        let t = table(
            Strategy::Range,
            vec![part("t_default", PartBound::Default, -1)],
            Some(0),
            Some(10),
        );
        assert_eq!(for_steps(&create(0, 10, true), &t, 1), vec![None]);
    }

    #[test]
    fn hash_growth_moves_the_old_partitions_rows() {
        let h = |r: u32, est: i64| {
            part(
                &format!("t_h{r}"),
                PartBound::Hash {
                    modulus: 2,
                    remainder: r,
                },
                est,
            )
        };
        let t = table(Strategy::Hash, vec![h(0, 700), h(1, 300)], None, None);
        let split = |r: u32| HashSplit {
            old: QualifiedName::new("public", format!("t_h{r}")),
            old_modulus: 2,
            old_remainder: r,
            modulus: 4,
            new: vec![],
        };
        let grow = action(ActionKind::GrowHash {
            partition: QualifiedName::new("public", "t"),
            from: 2,
            to: 4,
            splits: vec![split(0), split(1)],
        });
        // PostgreSQL: one step per old partition.
        let each: Vec<u64> = for_steps(&grow, &t, 2)
            .into_iter()
            .map(|e| e.unwrap().rows)
            .collect();
        assert_eq!(each, vec![700, 300]);
        // MySQL/MariaDB: one step rehashes the whole table.
        assert_eq!(for_steps(&grow, &t, 1)[0].as_ref().unwrap().rows, 1000);
        // Steps that move no rows.
        let drop = action(ActionKind::Drop {
            partition: QualifiedName::new("public", "t_h0"),
            has_default: false,
        });
        assert_eq!(for_steps(&drop, &t, 1), vec![None]);
    }
}
