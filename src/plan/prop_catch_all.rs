//! Property test for [`catch_all_keys_matter`]: on tables laid out the way MySQL/MariaDB lay
//! out range partitions (a run of partitions from MINVALUE and a MAXVALUE catch-all, which holds
//! no key below the run's upper bound), whenever it says the catch-all's keys do not matter,
//! planning with them and without them gives the same plan, whatever those keys are.

use super::*;
use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition};
use crate::policy::parse_sources;
use proptest::prelude::{prop_assert_eq, prop_oneof, proptest, Just};
use proptest::strategy::Strategy as Gen;
use std::path::PathBuf;

const DAY: i64 = 86_400_000_000;
/// 2026-01-01T00:00:00Z in microseconds.
const Y2026: i64 = 1_767_225_600_000_000;

#[derive(Debug, Clone)]
struct Case {
    time: bool,
    premake: u32,
    retain: Option<u32>,
    on_expire: &'static str,
    /// Partitions after the first (which starts at MINVALUE), each `step` keys wide.
    parts: u32,
    /// Where the run starts, in days (time) or steps (integer) from the origin.
    first: i64,
    /// `now` (time) or the largest key (integer), in days/steps from the run's start.
    at: i64,
    /// The catch-all's keys: this far above the run's end, and this wide (in keys).
    lo_above: i64,
    width: i64,
    empty_catch_all: bool,
}

fn case() -> impl Gen<Value = Case> {
    (
        (
            proptest::bool::ANY,
            0u32..6,
            prop_oneof![Just(None), (1u32..40).prop_map(Some)],
            prop_oneof![Just("detach"), Just("drop")],
        ),
        (
            0u32..30,
            -3i64..3,
            -10i64..45,
            prop_oneof![Just(0i64), 0i64..3, 0i64..(100 * DAY)],
            prop_oneof![Just(0i64), 0i64..(DAY / 2), 0i64..(100 * DAY)],
            proptest::bool::weighted(0.3),
        ),
    )
        .prop_map(
            |((time, premake, retain, on_expire), (parts, first, at, lo_above, width, empty))| {
                Case {
                    time,
                    premake,
                    retain,
                    on_expire,
                    parts,
                    first,
                    at,
                    lo_above,
                    width,
                    empty_catch_all: empty,
                }
            },
        )
}

/// The policy, the table without its catch-all's keys, the floor, the keys and `now`.
fn build(c: &Case) -> (Policy, Table, i64, Option<(i64, i64)>, DateTime<Utc>) {
    let (interval, retain, step, origin) = match c.time {
        true => (
            "\"1 day\"".to_string(),
            c.retain.map(|r| format!("\"{r} days\"")),
            DAY,
            Y2026,
        ),
        false => (
            "1000".to_string(),
            c.retain.map(|r| (r * 1000).to_string()),
            1000,
            0,
        ),
    };
    let retain = retain.map_or(String::new(), |r| format!("retain = {r}\n"));
    let text = format!(
        "[[table]]\nname = \"app.t\"\npartition_by = \"range\"\ncolumn = \"k\"\ninterval = {interval}\npremake = {}\n{retain}on_expire = \"{}\"\ndefault_partition = true\n",
        c.premake, c.on_expire
    );
    let policy = parse_sources(&[(PathBuf::from("p.toml"), text)])
        .unwrap()
        .remove(0);
    let start = origin + c.first * step;
    let part = |name: String, bound| Partition {
        name: QualifiedName::new("app", name),
        bound,
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    };
    let mut partitions = vec![part(
        "p0".into(),
        PartBound::Range {
            from: Bound::Min,
            to: Bound::At(start),
        },
    )];
    for i in 0..i64::from(c.parts) {
        partitions.push(part(
            format!("p{}", i + 1),
            PartBound::Range {
                from: Bound::At(start + i * step),
                to: Bound::At(start + (i + 1) * step),
            },
        ));
    }
    partitions.push(part("pmax".into(), PartBound::Default));
    let floor = start + i64::from(c.parts) * step;
    let keys = (!c.empty_catch_all).then(|| {
        let lo = floor + c.lo_above;
        (lo, lo + c.width)
    });
    let (now, max_key) = match c.time {
        true => (
            DateTime::from_timestamp_micros(start + c.at * DAY).unwrap(),
            None,
        ),
        // Integer keys: the largest key in the table is read, and is at least the catch-all's.
        false => {
            let largest = start + c.at * step;
            let max_key = match keys {
                Some((_, hi)) => Some(largest.max(hi)),
                None => Some(largest.min(floor - 1)),
            };
            (DateTime::from_timestamp(1_800_000_000, 0).unwrap(), max_key)
        }
    };
    let table = Table {
        name: QualifiedName::new("app", "t"),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "k".into(),
            kind: Some(if c.time {
                KeyKind::Timestamp
            } else {
                KeyKind::BigInt
            }),
            sql_type: if c.time { "datetime" } else { "bigint" }.into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["k".into()],
        partitions,
        stats: KeyStats {
            max_key,
            ..Default::default()
        },
        distributed: false,
    };
    (policy, table, floor, keys, now)
}

proptest! {
    #[test]
    fn prop_catch_all_keys_skipped_only_when_they_change_nothing(c in case()) {
        let (policy, mut table, floor, keys, now) = build(&c);
        let matters = catch_all_keys_matter(&policy, &mut table, now, floor);
        prop_assert_eq!(table.stats.catch_all_min, None, "the keys were left as they were");
        if !matters {
            let without = format!("{:?}", plan_table(&policy, &table, now));
            let mut with = table.clone();
            if let Some((lo, hi)) = keys {
                with.stats.catch_all_min = Some(lo);
                with.stats.catch_all_max = Some(hi);
            }
            prop_assert_eq!(format!("{:?}", plan_table(&policy, &with, now)), without);
        }
    }
}

/// The case the benchmark measures: nothing to create, a catch-all with rows above the run.
#[test]
fn a_table_with_nothing_to_create_does_not_need_its_catch_all_keys() {
    let c = Case {
        time: true,
        premake: 4,
        retain: None,
        on_expire: "detach",
        parts: 10,
        first: 0,
        at: 5,
        lo_above: DAY,
        width: DAY,
        empty_catch_all: false,
    };
    let (policy, mut table, floor, _, now) = build(&c);
    assert!(!catch_all_keys_matter(&policy, &mut table, now, floor));
    // A day later the run is one partition short: the create may move rows.
    let later = now + chrono::Duration::days(2);
    assert!(catch_all_keys_matter(&policy, &mut table, later, floor));
    // Everything expired but the catch-all: its rows may need a partition that expires at once.
    let mut expiring = c.clone();
    expiring.retain = Some(3);
    expiring.at = 40;
    expiring.premake = 0;
    let (policy, mut table, floor, _, now) = build(&expiring);
    assert!(catch_all_keys_matter(&policy, &mut table, now, floor));
}
