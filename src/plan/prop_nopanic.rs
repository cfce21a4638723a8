//! Property tests: the planner never panics, whatever the catalog (partitions with bounds at the
//! ends of `i64`, inverted or overlapping ranges, hash bounds with modulus 0, odd list values,
//! random stats) and whatever the policy's numbers (spans of any size, any premake, `start` and
//! `now` anywhere in the calendar). An answer is a plan or an error, and a plan never creates an
//! empty or backwards range.

use super::*;
use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition};
use crate::key::{Span, TimeUnit};
use crate::policy::{parse_sources, OnExpire, Start};
use chrono::NaiveDateTime;
use proptest::prelude::{any, prop_assert, prop_oneof, proptest, Just};
use proptest::strategy::Strategy as Gen;
use std::path::PathBuf;

fn base(strategy: &str) -> Policy {
    let extra = match strategy {
        "range" => "interval = \"1 day\"",
        "list" => "lists = { a = [\"x\"] }",
        _ => "modulus = 4",
    };
    let text = format!(
        "[[table]]\nname = \"public.t\"\npartition_by = \"{strategy}\"\ncolumn = \"k\"\n{extra}\n"
    );
    parse_sources(&[(PathBuf::from("p.toml"), text)])
        .unwrap()
        .remove(0)
}

fn coord() -> impl Gen<Value = i64> {
    let y2026 = 1_772_000_000_000_000i64;
    prop_oneof![
        3 => (-1_000_000_000_000i64..1_000_000_000_000).prop_map(move |d| y2026 + d),
        2 => -100_000i64..100_000,
        1 => any::<i64>(),
        1 => prop_oneof![
            Just(i64::MIN),
            Just(i64::MIN + 1),
            Just(i64::MAX),
            Just(i64::MAX - 1),
            Just(i32::MAX as i64),
            Just(i32::MIN as i64),
            Just(-62_135_596_800_000_000i64), // 0001-01-01
            Just(253_402_300_799_000_000i64), // 9999-12-31 23:59:59
        ],
    ]
}

fn bound() -> impl Gen<Value = Bound> {
    prop_oneof![
        1 => Just(Bound::Min),
        1 => Just(Bound::Max),
        8 => coord().prop_map(Bound::At),
    ]
}

fn unit() -> impl Gen<Value = TimeUnit> {
    prop_oneof![
        Just(TimeUnit::Minute),
        Just(TimeUnit::Hour),
        Just(TimeUnit::Day),
        Just(TimeUnit::Week),
        Just(TimeUnit::Month),
        Just(TimeUnit::Year),
    ]
}

fn span() -> impl Gen<Value = Span> {
    prop_oneof![
        3 => (1u32..=6, unit()).prop_map(|(n, unit)| Span::Time { n, unit }),
        1 => (any::<u32>(), unit()).prop_map(|(n, unit)| Span::Time { n, unit }),
        3 => (1i64..=1000).prop_map(Span::Int),
        1 => any::<i64>().prop_map(Span::Int),
    ]
}

fn kind() -> impl Gen<Value = Option<KeyKind>> {
    prop_oneof![
        Just(Some(KeyKind::SmallInt)),
        Just(Some(KeyKind::Int)),
        Just(Some(KeyKind::BigInt)),
        Just(Some(KeyKind::Date)),
        Just(Some(KeyKind::Timestamp)),
        Just(Some(KeyKind::Timestamptz)),
        Just(None),
    ]
}

fn part_bound() -> impl Gen<Value = PartBound> {
    prop_oneof![
        6 => (bound(), bound()).prop_map(|(from, to)| PartBound::Range { from, to }),
        // Mostly well-ordered ranges near each other.
        6 => (coord(), 1i64..10_000_000_000).prop_map(|(a, w)| PartBound::Range {
            from: Bound::At(a),
            to: Bound::At(a.saturating_add(w)),
        }),
        2 => proptest::collection::vec("[a-z,' ]{0,4}|-?[0-9]{1,3}", 0..4)
            .prop_map(|values| PartBound::List { values }),
        2 => (0u32..10, 0u32..10).prop_map(|(modulus, remainder)| PartBound::Hash { modulus, remainder }),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(modulus, remainder)| PartBound::Hash { modulus, remainder }),
        1 => Just(PartBound::Default),
        1 => Just(PartBound::Orphan),
    ]
}

fn partition() -> impl Gen<Value = Partition> {
    (
        prop_oneof![
            Just("t_default".to_string()),
            "t_[a-z0-9]{0,3}",
            "[a-z]{1,70}"
        ],
        part_bound(),
        any::<i64>(),
        any::<i64>(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(name, bound, est_rows, bytes, detach_pending)| Partition {
            name: QualifiedName::new("public", name),
            bound,
            est_rows,
            bytes,
            detach_pending,
            subpartitions: vec![],
        })
}

fn now() -> impl Gen<Value = DateTime<Utc>> {
    prop_oneof![
        4 => (1_700_000_000i64..1_900_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        1 => (-62_135_596_800i64..253_402_300_799).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        1 => prop_oneof![Just(DateTime::<Utc>::MIN_UTC), Just(DateTime::<Utc>::MAX_UTC)],
    ]
}

fn start() -> impl Gen<Value = Option<Start>> {
    prop_oneof![
        3 => Just(None),
        1 => coord().prop_map(|c| Some(Start::Int(c))),
        1 => coord().prop_map(|c| Some(Start::Local(crate::key::naive_of(c)))),
        1 => prop_oneof![Just(Some(Start::Local(NaiveDateTime::MIN))), Just(Some(Start::Local(NaiveDateTime::MAX)))],
    ]
}

#[derive(Debug, Clone)]
struct Input {
    strategy: Strategy,
    kind: Option<KeyKind>,
    granularity: Option<TimeUnit>,
    partitions: Vec<Partition>,
    stats: (Option<i64>, Option<i64>, Option<i64>),
    interval: Span,
    premake: u32,
    retain: Option<Span>,
    start: Option<Start>,
    tz: &'static str,
    default_partition: bool,
    on_expire: u8,
    modulus: Option<u32>,
    now: DateTime<Utc>,
}

fn input() -> impl Gen<Value = Input> {
    (
        (
            prop_oneof![
                3 => Just(Strategy::Range),
                1 => Just(Strategy::List),
                1 => Just(Strategy::Hash)
            ],
            kind(),
            proptest::option::weighted(0.1, unit()),
            proptest::collection::vec(partition(), 0..8),
            (
                proptest::option::of(coord()),
                proptest::option::of(coord()),
                proptest::option::of(coord()),
            ),
            span(),
        ),
        (
            prop_oneof![8 => 0u32..8, 1 => 0u32..=10_000, 1 => any::<u32>()],
            proptest::option::of(span()),
            start(),
            proptest::sample::select(
                &[
                    "UTC",
                    "Europe/Paris",
                    "America/New_York",
                    "Australia/Lord_Howe",
                    "Pacific/Kiritimati",
                ][..],
            ),
            any::<bool>(),
            0u8..3,
            prop_oneof![
                Just(None),
                (0u32..20).prop_map(Some),
                any::<u32>().prop_map(Some)
            ],
            now(),
        ),
    )
        .prop_map(
            |(
                (strategy, kind, granularity, partitions, stats, interval),
                (premake, retain, start, tz, default_partition, on_expire, modulus, now),
            )| Input {
                strategy,
                kind,
                granularity,
                partitions,
                stats,
                interval,
                premake,
                retain,
                start,
                tz,
                default_partition,
                on_expire,
                modulus,
                now,
            },
        )
}

fn build(i: &Input) -> (Policy, Table) {
    let mut p = base(i.strategy.as_str());
    p.interval = Some(i.interval);
    p.premake = i.premake;
    p.retain = i.retain;
    p.start = i.start;
    p.timezone = i.tz.parse().unwrap();
    p.default_partition = i.default_partition;
    p.on_expire = match i.on_expire {
        0 => OnExpire::Detach,
        1 => OnExpire::Drop,
        _ => OnExpire::Archive {
            schema: "archive".into(),
        },
    };
    if i.strategy == Strategy::Hash {
        p.modulus = i.modulus;
    }
    let table = Table {
        name: QualifiedName::new("public", "t"),
        strategy: i.strategy,
        key: KeyColumn {
            name: "k".into(),
            kind: i.kind,
            sql_type: "x".into(),
            expr: None,
            granularity: i.granularity,
        },
        columns: vec!["k".into()],
        partitions: i.partitions.clone(),
        stats: KeyStats {
            max_key: i.stats.0,
            catch_all_min: i.stats.1,
            catch_all_max: i.stats.2,
            ..Default::default()
        },
        distributed: false,
    };
    (p, table)
}

proptest! {
    #[test]
    fn prop_planning_never_panics_on_arbitrary_catalogs(i in input()) {
        let (policy, table) = build(&i);
        let _ = Layout::new(&policy, &table, i.now);
        if let Ok(actions) = plan_table(&policy, &table, i.now) {
            for a in &actions {
                if let ActionKind::Create { from, to, .. } = a.kind {
                    prop_assert!(from < to, "an empty or backwards range: {a:?}");
                }
            }
            let after = simulate(&table, &actions);
            let _ = plan_table(&policy, &after, i.now);
        }
    }
}

/// `retain = "4000000000 hours"` (past validation's bound, e.g. from code) wrapped the cutoff:
/// a table with no partitions got an empty plan (a debug build panicked). Now it is an error.
#[test]
fn retention_overflow_is_an_error_not_an_empty_plan() {
    let mut p = base("range");
    p.retain = Some(Span::Time {
        n: 4_000_000_000,
        unit: TimeUnit::Hour,
    });
    let table = Table {
        name: QualifiedName::new("public", "t"),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "k".into(),
            kind: Some(KeyKind::Timestamptz),
            sql_type: "timestamptz".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["k".into()],
        partitions: vec![],
        stats: KeyStats::default(),
        distributed: false,
    };
    let now = DateTime::from_timestamp(1_772_000_000, 0).unwrap();
    let e = plan_table(&p, &table, now).unwrap_err();
    assert!(e.message.contains("retention"), "{e}");
    // Within the bound it plans the current period and the premake ones.
    p.retain = Some(Span::Time {
        n: 87_658_200,
        unit: TimeUnit::Hour,
    });
    assert_eq!(plan_table(&p, &table, now).unwrap().len(), 5);
}

/// A hash bound with modulus 0 in a catalog (a hand-edited snapshot) divided by zero.
#[test]
fn hash_bound_with_modulus_zero_is_an_error() {
    let p = base("hash");
    let table = Table {
        name: QualifiedName::new("public", "t"),
        strategy: Strategy::Hash,
        key: KeyColumn {
            name: "k".into(),
            kind: Some(KeyKind::Int),
            sql_type: "int".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["k".into()],
        partitions: vec![Partition {
            name: QualifiedName::new("public", "t_0"),
            bound: PartBound::Hash {
                modulus: 0,
                remainder: 0,
            },
            est_rows: 0,
            bytes: 0,
            detach_pending: false,
            subpartitions: vec![],
        }],
        stats: KeyStats::default(),
        distributed: false,
    };
    let now = DateTime::from_timestamp(1_772_000_000, 0).unwrap();
    let e = plan_table(&p, &table, now).unwrap_err();
    assert!(e.message.contains("not a hash bound"), "{e}");
}

/// `start` far back with a one-minute interval asked for billions of partitions and never
/// returned; now it is refused at once.
#[test]
fn a_plan_of_too_many_partitions_is_refused_quickly() {
    let mut p = base("range");
    p.interval = Some(Span::Time {
        n: 1,
        unit: TimeUnit::Minute,
    });
    p.start = Some(Start::Local(
        chrono::NaiveDate::from_ymd_opt(1, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    ));
    let (_, table) = build(&Input {
        strategy: Strategy::Range,
        kind: Some(KeyKind::Timestamptz),
        granularity: None,
        partitions: vec![],
        stats: (None, None, None),
        interval: Span::Int(1),
        premake: 0,
        retain: None,
        start: None,
        tz: "UTC",
        default_partition: false,
        on_expire: 0,
        modulus: None,
        now: DateTime::from_timestamp(0, 0).unwrap(),
    });
    let now = DateTime::from_timestamp(1_772_000_000, 0).unwrap();
    let t = std::time::Instant::now();
    let e = plan_table(&p, &table, now).unwrap_err();
    assert!(e.message.contains("more than 100000 partitions"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
}
