//! What the catalog would look like after a plan ran (for tests, the MySQL partition limit and
//! `--dry-run` checks).

use super::{list_text, Action, ActionKind};
use crate::catalog::{PartBound, Partition, Table};
use crate::names::QualifiedName;

fn new_partition(name: &QualifiedName, bound: PartBound) -> Partition {
    Partition {
        name: name.clone(),
        bound,
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    }
}

/// What the catalog would look like after the actions ran (for tests and `--dry-run` checks).
pub fn simulate(table: &Table, actions: &[Action]) -> Table {
    let mut t = table.clone();
    for a in actions {
        match &a.kind {
            ActionKind::ReturnRows { .. } => {}
            ActionKind::Coarsen {
                partition,
                from,
                to,
                parts,
            } => {
                t.partitions
                    .retain(|p| !parts.iter().any(|f| f.partition == p.name));
                t.partitions.push(new_partition(
                    partition,
                    PartBound::Range {
                        from: *from,
                        to: *to,
                    },
                ));
            }
            ActionKind::Create {
                partition,
                from,
                to,
                ..
            } => t.partitions.push(Partition {
                name: partition.clone(),
                bound: PartBound::Range {
                    from: *from,
                    to: *to,
                },
                est_rows: 0,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            }),
            ActionKind::CreateList {
                partition, values, ..
            } => t.partitions.push(new_partition(
                partition,
                PartBound::List {
                    values: values.iter().map(list_text).collect(),
                },
            )),
            ActionKind::CreateHash {
                partition,
                modulus,
                remainder,
            } => t.partitions.push(new_partition(
                partition,
                PartBound::Hash {
                    modulus: *modulus,
                    remainder: *remainder,
                },
            )),
            ActionKind::GrowHash { splits, .. } => {
                for sp in splits {
                    t.partitions.retain(|p| p.name != sp.old);
                    for (name, r) in &sp.new {
                        t.partitions.push(new_partition(
                            name,
                            PartBound::Hash {
                                modulus: sp.modulus,
                                remainder: *r,
                            },
                        ));
                    }
                }
            }
            ActionKind::ShrinkHash { to, .. } => {
                t.partitions.retain(
                    |p| !matches!(p.bound, PartBound::Hash { remainder, .. } if remainder >= *to),
                );
                for p in &mut t.partitions {
                    if let PartBound::Hash { modulus, .. } = &mut p.bound {
                        *modulus = *to;
                    }
                }
            }
            ActionKind::CreateDefault { partition } => t.partitions.push(Partition {
                name: partition.clone(),
                bound: PartBound::Default,
                est_rows: 0,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            }),
            ActionKind::Detach { partition, .. }
            | ActionKind::Drop { partition, .. }
            | ActionKind::Archive { partition, .. }
            | ActionKind::Finalize { partition, .. }
            | ActionKind::Cleanup { partition, .. } => {
                t.partitions.retain(|p| &p.name != partition)
            }
        }
    }
    t
}
