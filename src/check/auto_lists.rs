//! `check` on `auto_lists`: a WARNING when the cap is reached and values still wait in the
//! catch-all, or when a waiting value is refused (its partition cannot be named).

use super::{Status, TableCheck};
use crate::catalog::Table;
use crate::policy::Policy;

pub(super) fn assess_auto(c: &mut TableCheck, policy: &Policy, table: &Table) {
    let Some(auto) = crate::plan::auto_lists_of(policy, table) else {
        return;
    };
    if !auto.beyond_cap.is_empty() {
        let values = auto
            .beyond_cap
            .iter()
            .map(|w| format!("{:?} ({} rows)", w.value, w.rows))
            .collect::<Vec<_>>()
            .join(", ");
        c.add(
            Status::Warning,
            format!(
                "auto_lists: the cap is reached ({} list partitions, max_partitions = {}) and values still wait in the catch-all: {values}; raise max_partitions or list them in `lists`",
                auto.total, auto.cap
            ),
        );
    }
    for r in &auto.refused {
        c.add(Status::Warning, r.clone());
    }
}
