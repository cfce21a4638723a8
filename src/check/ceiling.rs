//! The partition-count ceiling: a table with more partitions than its policy's
//! `max_partitions_warn` (default 1,000, the rule of thumb; PostgreSQL's own guidance is "a few
//! thousand" at most) is a WARNING, whatever else is in place: planning, locking and the
//! catalog all cost more per partition.

use super::{Status, TableCheck};
use crate::policy::Policy;

/// Record the ceiling and warn when the table's partition count is above it.
pub(super) fn partition_ceiling(c: &mut TableCheck, policy: &Policy) {
    let ceiling = policy.max_partitions_warn;
    c.max_partitions_warn = Some(ceiling);
    let Some(n) = c.partitions else {
        return;
    };
    if n > ceiling as usize {
        let hint = if policy.coarsen.is_empty() {
            "set `coarsen` to merge old partitions, a `retain`, or a wider interval"
        } else {
            "`coarsen` has not brought it down yet: apply the pending plan, or coarsen sooner"
        };
        c.add(
            Status::Warning,
            format!("{n} partitions, above max_partitions_warn = {ceiling}; {hint}"),
        );
    }
}
