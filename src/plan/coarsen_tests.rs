//! Coarsening: examples (months, two levels, a partial period, names) and the property that a
//! plan applied leaves nothing to coarsen or create.

use super::*;
use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition};
use crate::key::KeyKind;
use crate::policy::parse_sources;
use proptest::prelude::{prop_assert, proptest};
use std::path::PathBuf;

fn policy(extra: &str) -> Policy {
    let text = format!(
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"day\"\ninterval = \"1 day\"\n{extra}\n"
    );
    parse_sources(&[(PathBuf::from("t.toml"), text)])
        .unwrap()
        .remove(0)
}

fn day(s: &str) -> i64 {
    KeyKind::Date.parse(s).unwrap()
}

const DAY: i64 = 86_400_000_000;

/// Daily partitions named `events_pYYYYMMDD` from `first` for `n` days, skipping `holes`.
fn daily(first: &str, n: i64, holes: &[i64]) -> Table {
    let start = day(first);
    let partitions = (0..n)
        .filter(|k| !holes.contains(k))
        .map(|k| {
            let from = start + k * DAY;
            Partition {
                name: QualifiedName::new(
                    "public",
                    format!("events_p{}", KeyKind::Date.format(from).replace('-', "")),
                ),
                bound: PartBound::Range {
                    from: Bound::At(from),
                    to: Bound::At(from + DAY),
                },
                est_rows: 10,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            }
        })
        .collect();
    Table {
        name: QualifiedName::new("public", "events"),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "day".into(),
            kind: Some(KeyKind::Date),
            sql_type: "date".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["id".into(), "day".into()],
        partitions,
        stats: KeyStats::default(),
        distributed: false,
    }
}

fn merges(actions: &[Action]) -> Vec<(String, String, String, usize)> {
    actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::Coarsen {
                partition,
                from: Bound::At(f),
                to: Bound::At(t),
                parts,
            } => Some((
                partition.name.clone(),
                KeyKind::Date.format(*f),
                KeyKind::Date.format(*t),
                parts.len(),
            )),
            _ => None,
        })
        .collect()
}

fn now(s: &str) -> DateTime<Utc> {
    crate::policy::parse_now(s).unwrap()
}

fn m(name: &str, from: &str, to: &str, n: usize) -> (String, String, String, usize) {
    (name.into(), from.into(), to.into(), n)
}

#[test]
fn hundred_days_become_months_once_each_month_is_old_enough() {
    let p = policy("coarsen = [{ after = \"90 days\", interval = \"1 month\" }]");
    let t = daily("2026-01-01", 100, &[]);
    // now - 90 days = 2026-04-16: January to March have ended; April has not.
    let actions = plan_table(&p, &t, now("2026-07-15")).unwrap();
    assert_eq!(
        merges(&actions),
        vec![
            m("events_p202601", "2026-01-01", "2026-02-01", 31),
            m("events_p202602", "2026-02-01", "2026-03-01", 28),
            m("events_p202603", "2026-03-01", "2026-04-01", 31),
        ]
    );
    let a = actions.iter().find(|a| a.kind.verb() == "coarsen").unwrap();
    assert!(a.reason.contains("coarsen after 90 days"), "{}", a.reason);
    // Applied, the plan is empty.
    let after = simulate(&t, &actions);
    assert_eq!(plan_table(&p, &after, now("2026-07-15")).unwrap(), vec![]);
    // A day earlier than March's end + 90 days, March waits.
    let early = plan_table(&p, &t, now("2026-06-29")).unwrap();
    assert_eq!(merges(&early).len(), 2);
}

#[test]
fn an_old_enough_year_is_merged_straight_into_the_coarser_level() {
    let p = policy(
        "coarsen = [{ after = \"90 days\", interval = \"1 month\" }, { after = \"1 year\", interval = \"1 year\" }]",
    );
    let t = daily("2025-11-01", 120, &[]);
    let actions = plan_table(&p, &t, now("2027-01-15")).unwrap();
    // The range plan fills March 2026 to now with days first; those months merge too.
    assert_eq!(
        merges(&actions)[..3],
        [
            m("events_p2025", "2025-11-01", "2026-01-01", 61),
            m("events_p202601", "2026-01-01", "2026-02-01", 31),
            m("events_p202602", "2026-02-01", "2026-03-01", 28),
        ]
    );
    let after = simulate(&t, &actions);
    assert_eq!(plan_table(&p, &after, now("2027-01-15")).unwrap(), vec![]);
    // A year later, 2026 (nine months and the 92 days of its last quarter) merges into one.
    let later = plan_table(&p, &after, now("2028-01-15")).unwrap();
    assert!(
        merges(&later).contains(&m("events_p2026", "2026-01-01", "2027-01-01", 101)),
        "{:?}",
        merges(&later)
    );
}

#[test]
fn partial_periods_merge_what_is_left_and_holes_are_left_alone() {
    // retain 200 days at 2026-08-10: the cutoff is 2026-01-22; January's first 21 days expire
    // in this plan and the rest of January is merged. February has a hole: not merged.
    let p = policy(
        "retain = \"200 days\"\non_expire = \"drop\"\ncoarsen = [{ after = \"90 days\", interval = \"1 month\" }]",
    );
    let t = daily("2026-01-01", 90, &[40]);
    let actions = plan_table(&p, &t, now("2026-08-10")).unwrap();
    let got = merges(&actions);
    assert_eq!(got[0], m("events_p202601", "2026-01-22", "2026-02-01", 10));
    // The range plan fills February's hole first, so February is whole again.
    assert_eq!(got[1], m("events_p202602", "2026-02-01", "2026-03-01", 28));
    let drops = actions.iter().filter(|a| a.kind.verb() == "drop").count();
    assert_eq!(drops, 21);
    let after = simulate(&t, &actions);
    assert_eq!(plan_table(&p, &after, now("2026-08-10")).unwrap(), vec![]);
    // A hole no plan fills (no coverage there: a hand-made table below `start`) is skipped.
    let mut t = daily("2026-01-01", 31, &[10]);
    t.partitions.push(Partition {
        name: QualifiedName::new("public", "odd"),
        bound: PartBound::Range {
            from: Bound::At(day("2026-01-31")),
            to: Bound::At(day("2026-02-02")),
        },
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    });
    t.partitions.retain(|p| p.name.name != "events_p20260131");
    let actions = plan_table(&p, &t, now("2026-08-10")).unwrap();
    assert!(
        merges(&actions).iter().all(|x| x.1 != "2026-01-22"),
        "January has a partition across its end: {:?}",
        merges(&actions)
    );
}

#[test]
fn a_template_name_taken_by_a_fine_partition_gets_its_end() {
    let p = policy(
        "name_template = \"{{ table }}_p{{ from | date(format='%Y%m%d') }}\"\ncoarsen = [{ after = \"90 days\", interval = \"1 month\" }]",
    );
    let t = daily("2026-01-01", 31, &[]);
    let actions = plan_table(&p, &t, now("2026-07-15")).unwrap();
    assert_eq!(
        merges(&actions)[0],
        m(
            "events_p20260101_to_20260201",
            "2026-01-01",
            "2026-02-01",
            31
        )
    );
}

proptest! {
    /// Any set of daily partitions, any now: plan, apply (simulate), plan again: nothing left
    /// to coarsen, create or expire.
    #[test]
    fn prop_coarsening_then_planning_again_is_empty(
        first in 0i64..400,
        n in 0i64..200,
        holes in proptest::collection::vec(0i64..200, 0..6),
        later in 0i64..900,
        two_levels in proptest::bool::ANY,
        retain in proptest::option::of(400u32..800),
    ) {
        let mut extra = String::from("coarsen = [{ after = \"90 days\", interval = \"1 month\" }");
        if two_levels {
            extra.push_str(", { after = \"1 year\", interval = \"1 year\" }");
        }
        extra.push_str("]\n");
        if let Some(r) = retain {
            extra.push_str(&format!("retain = \"{r} days\"\non_expire = \"drop\"\n"));
        }
        let p = policy(&extra);
        let start = day("2025-01-01") + first * DAY;
        let t = daily(&KeyKind::Date.format(start), n, &holes);
        let at = DateTime::<Utc>::from_timestamp_micros(start + later * DAY).unwrap();
        let actions = plan_table(&p, &t, at).unwrap();
        let after = simulate(&t, &actions);
        let again = plan_table(&p, &after, at).unwrap();
        prop_assert!(again.is_empty(), "second plan: {:?}", again);
        // Never two partitions over one key.
        let mut r: Vec<(Bound, Bound)> = after.ranges().map(|(f, t, _)| (f, t)).collect();
        r.sort();
        for w in r.windows(2) {
            prop_assert!(w[0].1 <= w[1].0, "overlap: {:?}", w);
        }
    }
}
