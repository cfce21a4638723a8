//! Whether the disk can take the copy: the decision, pure. The new table takes about as much
//! room as the original (its rows and indexes, from the catalog: `pg_total_relation_size`),
//! and the copy writes WAL (or binlog) on the way; [`MARGIN_PERCENT`] more covers that and the
//! new table's fill.

use crate::backend::FreeSpace;
use crate::output::human;

/// Room asked beyond the original's size, in percent of it.
pub const MARGIN_PERCENT: u64 = 20;

/// What the free-space check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Enough room: the figures, for the dry run.
    Enough(String),
    /// Too little room: the refusal's reason, with both figures.
    TooLittle(String),
    /// This machine cannot tell; the conversion proceeds.
    Unknown(String),
}

/// Bytes the copy needs for an original of `bytes` (table, indexes and TOAST).
pub fn needed(bytes: u64) -> u64 {
    bytes.saturating_add(bytes.saturating_mul(MARGIN_PERCENT) / 100)
}

/// The decision for an original of `bytes` against what the backend could tell.
pub fn verdict(bytes: u64, free: &FreeSpace) -> Verdict {
    let need = needed(bytes);
    let what = format!(
        "the copy needs about {} (the table and its indexes, {}, + {MARGIN_PERCENT}%)",
        human(need as i64),
        human(bytes as i64)
    );
    match free {
        FreeSpace::Unknown(why) => Verdict::Unknown(format!("{what}; free space unknown: {why}")),
        FreeSpace::Known { bytes: avail, path } if *avail < need => Verdict::TooLittle(format!(
            "too little free disk: {what}, but only {} is free at {path}",
            human(*avail as i64)
        )),
        FreeSpace::Known { bytes: avail, path } => Verdict::Enough(format!(
            "{what}; {} is free at {path}",
            human(*avail as i64)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(bytes: u64) -> FreeSpace {
        FreeSpace::Known {
            bytes,
            path: "/var/lib/postgresql/15/main".into(),
        }
    }

    #[test]
    fn the_copy_needs_the_table_and_a_margin() {
        assert_eq!(needed(0), 0);
        assert_eq!(needed(1000), 1200);
        assert_eq!(needed(u64::MAX), u64::MAX);
    }

    #[test]
    fn too_little_room_is_refused_with_both_figures() {
        let gib = 1 << 30;
        match verdict(10 * gib, &known(11 * gib)) {
            Verdict::TooLittle(m) => {
                assert!(m.contains("needs about 12.0 GB"), "{m}");
                assert!(m.contains("only 11.0 GB is free"), "{m}");
                assert!(m.contains("/var/lib/postgresql/15/main"), "{m}");
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            verdict(10 * gib, &known(12 * gib)),
            Verdict::Enough(_)
        ));
        assert!(matches!(verdict(0, &known(0)), Verdict::Enough(_)));
    }

    #[test]
    fn unknown_space_proceeds_and_says_so() {
        match verdict(
            1 << 20,
            &FreeSpace::Unknown("the server is not on this machine".into()),
        ) {
            Verdict::Unknown(m) => assert!(
                m.contains("free space unknown: the server is not on this machine"),
                "{m}"
            ),
            v => panic!("{v:?}"),
        }
    }
}
