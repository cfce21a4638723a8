//! Planner tests: one example per rule of the contract's range semantics, then properties over
//! random tables (coverage, no overlaps, idempotence, retention).

use super::*;
use crate::catalog::{KeyColumn, KeyStats, Partition};
use crate::key::{Span, TimeUnit};
use crate::policy::parse_sources;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A policy for `public.events` (column `created_at`) with `extra` TOML keys.
fn policy(extra: &str) -> Policy {
    policy_for("public.events", "created_at", extra)
}

fn policy_for(table: &str, column: &str, extra: &str) -> Policy {
    let text = format!(
        "[[table]]\nname = \"{table}\"\npartition_by = \"range\"\ncolumn = \"{column}\"\n{extra}\n"
    );
    match parse_sources(&[(PathBuf::from("t.toml"), text.clone())]) {
        Ok(mut p) => p.remove(0),
        Err(e) => panic!("bad test policy:\n{text}\n{e}"),
    }
}

fn table(kind: KeyKind, partitions: Vec<Partition>) -> Table {
    Table {
        name: QualifiedName::new("public", "events"),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "created_at".into(),
            kind: Some(kind),
            sql_type: kind.name().into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["id".into(), "created_at".into()],
        partitions,
        stats: KeyStats::default(),
        distributed: false,
    }
}

fn part(name: &str, from: Bound, to: Bound) -> Partition {
    Partition {
        name: QualifiedName::new("public", name),
        bound: PartBound::Range { from, to },
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    }
}

fn default_part() -> Partition {
    Partition {
        bound: PartBound::Default,
        ..part("events_default", Bound::Min, Bound::Max)
    }
}

fn now(s: &str) -> DateTime<Utc> {
    crate::policy::parse_now(s).unwrap()
}

/// Microseconds of an instant (timestamptz coordinate), `2026-03-10T05:00:00Z`.
fn utc(s: &str) -> i64 {
    now(s).timestamp_micros()
}

/// Coordinate of a naive value (date/timestamp coordinate), `2026-03-10` or `2026-03-10 06:00:00`.
fn naive(s: &str) -> i64 {
    KeyKind::Timestamp.parse(s).unwrap()
}

fn at(c: i64) -> Bound {
    Bound::At(c)
}

/// Daily timestamptz partition `[day, day + 1)` in UTC, named like the default template.
fn day_utc(day: &str) -> Partition {
    let from = utc(&format!("{day}T00:00:00Z"));
    let to = from + 86_400_000_000;
    part(
        &format!("events_p{}", day.replace('-', "")),
        at(from),
        at(to),
    )
}

/// (name, `[from, to)`, move_rows) of every Create, in plan order.
fn creates(kind: KeyKind, actions: &[Action]) -> Vec<(String, String, bool)> {
    actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::Create {
                partition,
                from,
                to,
                move_rows,
            } => Some((
                partition.name.clone(),
                describe(kind, *from, *to),
                *move_rows,
            )),
            _ => None,
        })
        .collect()
}

fn ranges_of(kind: KeyKind, actions: &[Action]) -> Vec<String> {
    creates(kind, actions).into_iter().map(|c| c.1).collect()
}

fn names_of(kind: KeyKind, actions: &[Action]) -> Vec<String> {
    creates(kind, actions).into_iter().map(|c| c.0).collect()
}

/// Every non-create action as (verb, partition name).
fn others(actions: &[Action]) -> Vec<(&'static str, String)> {
    actions
        .iter()
        .filter(|a| !matches!(a.kind, ActionKind::Create { .. }))
        .map(|a| (a.kind.verb(), a.kind.partition().name.clone()))
        .collect()
}

fn tstz(s: &str) -> String {
    format!("{s}+00")
}

/// `[a, b)` for timestamptz literals written without the `+00`.
fn r_tz(a: &str, b: &str) -> String {
    format!("[{}, {})", tstz(a), tstz(b))
}

fn r(a: impl fmt::Display, b: impl fmt::Display) -> String {
    format!("[{a}, {b})")
}

// ---------------------------------------------------------------------------------------------
// 1. Current period and horizon.

#[test]
fn daily_utc_from_an_empty_table_creates_the_current_day_and_premake() {
    let p = policy("interval = \"1 day\"\npremake = 4");
    let t = table(KeyKind::Timestamptz, vec![]);
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        names_of(KeyKind::Timestamptz, &plan),
        [
            "events_p20260310",
            "events_p20260311",
            "events_p20260312",
            "events_p20260313",
            "events_p20260314"
        ]
    );
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [
            r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
            r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00"),
            r_tz("2026-03-12 00:00:00", "2026-03-13 00:00:00"),
            r_tz("2026-03-13 00:00:00", "2026-03-14 00:00:00"),
            r_tz("2026-03-14 00:00:00", "2026-03-15 00:00:00"),
        ]
    );
    assert!(plan.iter().all(|a| a.table == t.name));
    assert!(creates(KeyKind::Timestamptz, &plan).iter().all(|c| !c.2));
    assert!(
        plan[0].reason.contains("current period"),
        "{}",
        plan[0].reason
    );
    assert!(plan[1].reason.contains("premake"), "{}", plan[1].reason);
    assert!(others(&plan).is_empty());
}

#[test]
fn premake_zero_creates_only_the_current_period() {
    let p = policy("interval = \"1 day\"\npremake = 0");
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-10T23:59:59Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00")]
    );
}

#[test]
fn monthly_in_new_york_bounds_fall_on_local_midnight_across_dst() {
    let p = policy("interval = \"1 month\"\npremake = 2\ntimezone = \"America/New_York\"");
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-10T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [
            r_tz("2026-03-01 05:00:00", "2026-04-01 04:00:00"), // EST -> EDT
            r_tz("2026-04-01 04:00:00", "2026-05-01 04:00:00"),
            r_tz("2026-05-01 04:00:00", "2026-06-01 04:00:00"),
        ]
    );
    // Names use the local wall clock, not UTC.
    assert_eq!(
        names_of(KeyKind::Timestamptz, &plan),
        ["events_p20260301", "events_p20260401", "events_p20260501"]
    );
}

#[test]
fn daily_in_new_york_the_spring_forward_day_is_23_hours() {
    let p = policy("interval = \"1 day\"\npremake = 1\ntimezone = \"America/New_York\"");
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-08T12:00:00Z"), // 08:00 EDT on the day of the change
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [
            r_tz("2026-03-08 05:00:00", "2026-03-09 04:00:00"),
            r_tz("2026-03-09 04:00:00", "2026-03-10 04:00:00"),
        ]
    );
}

#[test]
fn the_current_period_in_a_zone_is_the_local_one() {
    // 2026-03-10 23:30 UTC is already March 11th in Paris.
    let p = policy("interval = \"1 day\"\npremake = 0\ntimezone = \"Europe/Paris\"");
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-10T23:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [r_tz("2026-03-10 23:00:00", "2026-03-11 23:00:00")]
    );
    assert_eq!(names_of(KeyKind::Timestamptz, &plan), ["events_p20260311"]);

    // A naive timestamp key takes the Paris wall clock as its coordinates.
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamp, vec![]),
        now("2026-03-10T23:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamp, &plan),
        [r("2026-03-11 00:00:00", "2026-03-12 00:00:00")]
    );
}

#[test]
fn weekly_on_a_date_key_starts_on_monday() {
    let p = policy("interval = \"1 week\"\npremake = 2");
    // 2026-11-21 is a Saturday.
    let plan = plan_table(
        &p,
        &table(KeyKind::Date, vec![]),
        now("2026-11-21T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Date, &plan),
        [
            r("2026-11-16", "2026-11-23"),
            r("2026-11-23", "2026-11-30"),
            r("2026-11-30", "2026-12-07"),
        ]
    );
    assert_eq!(
        names_of(KeyKind::Date, &plan),
        ["events_p20261116", "events_p20261123", "events_p20261130"]
    );
}

#[test]
fn three_months_are_quarters() {
    let p = policy("interval = \"3 months\"\npremake = 2");
    let plan = plan_table(
        &p,
        &table(KeyKind::Date, vec![]),
        now("2026-05-17T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Date, &plan),
        [
            r("2026-04-01", "2026-07-01"),
            r("2026-07-01", "2026-10-01"),
            r("2026-10-01", "2027-01-01"),
        ]
    );
}

#[test]
fn yearly_on_a_timestamp_key() {
    let p = policy("interval = \"1 year\"\npremake = 1");
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamp, vec![]),
        now("2026-05-17T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamp, &plan),
        [
            r("2026-01-01 00:00:00", "2027-01-01 00:00:00"),
            r("2027-01-01 00:00:00", "2028-01-01 00:00:00"),
        ]
    );
}

#[test]
fn hourly_names_carry_the_hour() {
    let p = policy("interval = \"1 hour\"\npremake = 2");
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-10T12:34:56Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [
            r_tz("2026-03-10 12:00:00", "2026-03-10 13:00:00"),
            r_tz("2026-03-10 13:00:00", "2026-03-10 14:00:00"),
            r_tz("2026-03-10 14:00:00", "2026-03-10 15:00:00"),
        ]
    );
    assert_eq!(
        names_of(KeyKind::Timestamptz, &plan),
        [
            "events_p20260310_1200",
            "events_p20260310_1300",
            "events_p20260310_1400"
        ]
    );
}

#[test]
fn hourly_in_kolkata_aligns_on_local_hours() {
    let p = policy("interval = \"1 hour\"\npremake = 0\ntimezone = \"Asia/Kolkata\"");
    // 12:34 UTC is 18:04 IST; the local hour 18:00 IST starts at 12:30 UTC.
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-10T12:34:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [r_tz("2026-03-10 12:30:00", "2026-03-10 13:30:00")]
    );
    assert_eq!(
        names_of(KeyKind::Timestamptz, &plan),
        ["events_p20260310_1800"]
    );
}

#[test]
fn short_intervals_hold_now_in_the_repeated_hour_of_a_dst_change() {
    // 2026-11-01 06:30 UTC is 01:30 EST, the second time New York's clocks read 01:30.
    for interval in ["1 minute", "3 minutes", "20 minutes", "1 hour"] {
        let p = policy(&format!(
            "interval = \"{interval}\"\npremake = 1\ntimezone = \"America/New_York\""
        ));
        let t = table(KeyKind::Timestamptz, vec![]);
        let n = now("2026-11-01T06:30:00Z");
        let plan = plan_table(&p, &t, n).unwrap();
        let after = simulate(&t, &plan);
        let c = n.timestamp_micros();
        assert!(
            after
                .ranges()
                .any(|(from, to, _)| from <= at(c) && at(c) < to),
            "{interval}: no partition holds now: {:?}",
            ranges_of(KeyKind::Timestamptz, &plan)
        );
        assert!(plan_table(&p, &after, n).unwrap().is_empty(), "{interval}");
    }
}

// ---------------------------------------------------------------------------------------------
// Integer keys.

#[test]
fn integers_start_at_zero_when_the_table_is_empty() {
    let p = policy("interval = 100\npremake = 2");
    let plan = plan_table(
        &p,
        &table(KeyKind::BigInt, vec![]),
        now("2026-03-10T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::BigInt, &plan),
        [r(0, 100), r(100, 200), r(200, 300)]
    );
    assert_eq!(
        names_of(KeyKind::BigInt, &plan),
        ["events_p0", "events_p100", "events_p200"]
    );
}

#[test]
fn integers_follow_the_largest_key() {
    let p = policy("interval = 100\npremake = 2");
    let mut t = table(KeyKind::Int, vec![part("a", at(1100), at(1200))]);
    t.stats.max_key = Some(1234);
    // `now` is irrelevant for integer keys.
    for n in ["2020-01-01T00:00:00Z", "2029-06-01T00:00:00Z"] {
        let plan = plan_table(&p, &t, now(n)).unwrap();
        assert_eq!(
            ranges_of(KeyKind::Int, &plan),
            [r(1200, 1300), r(1300, 1400), r(1400, 1500)]
        );
        assert!(plan[0].reason.contains("max(key)"), "{}", plan[0].reason);
    }
    // Negative keys align downwards.
    t.partitions.clear();
    t.stats.max_key = Some(-150);
    let plan = plan_table(&p, &t, now("2026-01-01")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Int, &plan),
        [r(-200, -100), r(-100, 0), r(0, 100)]
    );
}

#[test]
fn integers_count_the_catch_all_when_looking_for_the_largest_key() {
    let p = policy("interval = 100\npremake = 1");
    let mut t = table(
        KeyKind::BigInt,
        vec![part("a", at(0), at(100)), default_part()],
    );
    t.stats = KeyStats {
        max_key: None,
        catch_all_min: Some(150),
        catch_all_max: Some(250),
        ..Default::default()
    };
    let plan = plan_table(&p, &t, now("2026-01-01")).unwrap();
    assert_eq!(
        creates(KeyKind::BigInt, &plan),
        [
            ("events_p100".to_string(), r(100, 200), true),
            ("events_p200".to_string(), r(200, 300), true),
            ("events_p300".to_string(), r(300, 400), false),
        ]
    );
}

#[test]
fn integer_retention_counts_back_from_the_largest_key() {
    let p = policy("interval = 100\npremake = 1\nretain = 300\non_expire = \"drop\"");
    let parts: Vec<Partition> = (0..10)
        .map(|i| {
            part(
                &format!("events_p{}", i * 100),
                at(i * 100),
                at(i * 100 + 100),
            )
        })
        .collect();
    let mut t = table(KeyKind::BigInt, parts);
    t.stats.max_key = Some(950);
    // cutoff = 650: partitions ending at or before 650 expire.
    let plan = plan_table(&p, &t, now("2026-01-01")).unwrap();
    assert_eq!(ranges_of(KeyKind::BigInt, &plan), [r(1000, 1100)]);
    assert_eq!(
        others(&plan),
        (0..6)
            .map(|i| ("drop", format!("events_p{}", i * 100)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn smallint_near_its_maximum_ends_at_maxvalue() {
    let p = policy("interval = 100\npremake = 3");
    let mut t = table(KeyKind::SmallInt, vec![]);
    t.stats.max_key = Some(32_650);
    let plan = plan_table(&p, &t, now("2026-01-01")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::SmallInt, &plan),
        [r(32_600, 32_700), r(32_700, "MAXVALUE")]
    );
    // Idempotent: the MAXVALUE partition covers the rest of the horizon.
    let after = simulate(&t, &plan);
    assert_eq!(plan_table(&p, &after, now("2026-01-01")).unwrap(), []);

    // The current period itself reaches past the type's range.
    let p = policy("interval = 1000\npremake = 2");
    t.stats.max_key = Some(32_000);
    let plan = plan_table(&p, &t, now("2026-01-01")).unwrap();
    assert_eq!(ranges_of(KeyKind::SmallInt, &plan), [r(32_000, "MAXVALUE")]);
}

#[test]
fn integer_start_lowers_the_coverage_start() {
    let p = policy("interval = 100\npremake = 0\nstart = -200");
    let mut t = table(KeyKind::BigInt, vec![]);
    t.stats.max_key = Some(50);
    let plan = plan_table(&p, &t, now("2026-01-01")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::BigInt, &plan),
        [r(-200, -100), r(-100, 0), r(0, 100)]
    );
}

// ---------------------------------------------------------------------------------------------
// Gaps.

#[test]
fn aligned_gaps_are_filled_with_aligned_partitions() {
    let p = policy("interval = \"1 day\"\npremake = 2");
    let t = table(
        KeyKind::Timestamptz,
        vec![day_utc("2026-03-11"), day_utc("2026-03-07")],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [
            r_tz("2026-03-08 00:00:00", "2026-03-09 00:00:00"),
            r_tz("2026-03-09 00:00:00", "2026-03-10 00:00:00"),
            r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
            r_tz("2026-03-12 00:00:00", "2026-03-13 00:00:00"),
        ]
    );
    assert!(plan[0].reason.contains("gap"), "{}", plan[0].reason);
    assert!(
        others(&plan).is_empty(),
        "existing partitions are not touched"
    );
}

#[test]
fn an_unaligned_gap_gets_one_partition_covering_exactly_the_gap() {
    let p = policy("interval = \"1 day\"\npremake = 1");
    let t = table(
        KeyKind::Timestamp,
        vec![
            part(
                "hand_a",
                at(naive("2026-03-08 00:00:00")),
                at(naive("2026-03-09 06:00:00")),
            ),
            part(
                "hand_b",
                at(naive("2026-03-09 18:00:00")),
                at(naive("2026-03-11 00:00:00")),
            ),
        ],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamp, &plan),
        [
            r("2026-03-09 06:00:00", "2026-03-09 18:00:00"),
            r("2026-03-11 00:00:00", "2026-03-12 00:00:00"),
        ]
    );
    assert!(others(&plan).is_empty());
    let after = simulate(&t, &plan);
    assert_eq!(
        plan_table(&p, &after, now("2026-03-10T12:00:00Z")).unwrap(),
        []
    );
}

#[test]
fn a_short_gap_across_a_period_boundary_is_still_one_partition() {
    // The gap [03-09 12:00, 03-10 06:00) is less than a day and holds no whole day.
    let p = policy("interval = \"1 day\"\npremake = 0");
    let t = table(
        KeyKind::Timestamp,
        vec![
            part(
                "hand_a",
                at(naive("2026-03-08 00:00:00")),
                at(naive("2026-03-09 12:00:00")),
            ),
            part(
                "hand_b",
                at(naive("2026-03-10 06:00:00")),
                at(naive("2026-03-11 00:00:00")),
            ),
        ],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamp, &plan),
        [r("2026-03-09 12:00:00", "2026-03-10 06:00:00")]
    );
}

#[test]
fn a_long_unaligned_gap_is_aligned_inside_with_exact_pieces_at_the_ends() {
    let p = policy("interval = \"1 day\"\npremake = 0");
    let t = table(
        KeyKind::Timestamp,
        vec![
            part(
                "hand_a",
                at(naive("2026-03-05 00:00:00")),
                at(naive("2026-03-06 12:00:00")),
            ),
            part(
                "hand_b",
                at(naive("2026-03-08 06:00:00")),
                at(naive("2026-03-11 00:00:00")),
            ),
        ],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamp, &plan),
        [
            r("2026-03-06 12:00:00", "2026-03-07 00:00:00"),
            r("2026-03-07 00:00:00", "2026-03-08 00:00:00"),
            r("2026-03-08 00:00:00", "2026-03-08 06:00:00"),
        ]
    );
}

#[test]
fn existing_partitions_are_never_split_merged_or_touched() {
    // A hand-made two-day partition over the current period, and one far in the future.
    let p = policy("interval = \"1 day\"\npremake = 3");
    let t = table(
        KeyKind::Date,
        vec![
            part("two_days", at(naive("2026-03-09")), at(naive("2026-03-11"))),
            part("future", at(naive("2026-04-01")), at(naive("2026-05-01"))),
        ],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Date, &plan),
        [
            r("2026-03-11", "2026-03-12"),
            r("2026-03-12", "2026-03-13"),
            r("2026-03-13", "2026-03-14"),
        ]
    );
    assert!(others(&plan).is_empty());
}

#[test]
fn a_partition_straddling_the_horizon_ends_the_run() {
    let p = policy("interval = \"1 day\"\npremake = 2");
    let t = table(
        KeyKind::Date,
        vec![part(
            "wide",
            at(naive("2026-03-11")),
            at(naive("2026-03-20")),
        )],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Date, &plan),
        [r("2026-03-10", "2026-03-11")]
    );
}

// ---------------------------------------------------------------------------------------------
// Retention.

fn march_days() -> Vec<Partition> {
    (1..=10)
        .map(|d| day_utc(&format!("2026-03-{d:02}")))
        .collect()
}

#[test]
fn expired_partitions_follow_on_expire() {
    // now - 3 days = 03-07 12:00: partitions ending on or before it expire (03-01 .. 03-06).
    let expired: Vec<String> = (1..=6).map(|d| format!("events_p202603{d:02}")).collect();
    for (on_expire, verb) in [
        ("", "detach"),
        ("on_expire = \"detach\"", "detach"),
        ("on_expire = \"drop\"", "drop"),
        (
            "on_expire = \"archive\"\narchive_schema = \"archive\"",
            "archive",
        ),
    ] {
        let p = policy(&format!(
            "interval = \"1 day\"\npremake = 1\nretain = \"3 days\"\n{on_expire}"
        ));
        let t = table(KeyKind::Timestamptz, march_days());
        let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
        assert_eq!(
            ranges_of(KeyKind::Timestamptz, &plan),
            [r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00")]
        );
        assert_eq!(
            others(&plan),
            expired
                .iter()
                .map(|n| (verb, n.clone()))
                .collect::<Vec<_>>(),
            "{on_expire}"
        );
        for a in &plan {
            match &a.kind {
                ActionKind::Detach { has_default, .. } | ActionKind::Drop { has_default, .. } => {
                    assert!(!has_default)
                }
                ActionKind::Archive {
                    schema,
                    has_default,
                    ..
                } => {
                    assert_eq!(schema, "archive");
                    assert!(!has_default);
                }
                ActionKind::Create { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(plan
            .iter()
            .filter(|a| a.kind.verb() == verb)
            .all(|a| a.reason.contains("retain 3 days")));
    }
}

#[test]
fn expiry_is_reported_with_the_catch_all() {
    let p =
        policy("interval = \"1 day\"\npremake = 0\nretain = \"1 day\"\ndefault_partition = true");
    let t = table(
        KeyKind::Timestamptz,
        vec![
            day_utc("2026-03-08"),
            day_utc("2026-03-09"),
            day_utc("2026-03-10"),
        ],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    // The catch-all is created before the detach, which therefore runs with it.
    assert_eq!(
        others(&plan),
        [
            ("create", "events_default".to_string()),
            ("detach", "events_p20260308".to_string())
        ]
    );
    assert!(matches!(
        plan[1].kind,
        ActionKind::Detach {
            has_default: true,
            ..
        }
    ));
}

#[test]
fn the_current_period_never_expires() {
    // Monthly partitions, retain 2 days: a hand-made piece of the current month that ended
    // before the cutoff stays.
    let p =
        policy("interval = \"1 month\"\npremake = 0\nretain = \"2 days\"\non_expire = \"drop\"");
    let t = table(
        KeyKind::Date,
        vec![
            part("feb", at(naive("2026-02-01")), at(naive("2026-03-01"))),
            part("mar_a", at(naive("2026-03-01")), at(naive("2026-03-05"))),
            part("mar_b", at(naive("2026-03-05")), at(naive("2026-04-01"))),
        ],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(others(&plan), [("drop", "feb".to_string())]);
    assert!(ranges_of(KeyKind::Date, &plan).is_empty());
}

#[test]
fn coverage_starts_at_the_cutoffs_period_and_expired_ranges_are_not_recreated() {
    // start is long before the cutoff (03-07 12:00): coverage begins on 03-07.
    let p = policy(
        "interval = \"1 day\"\npremake = 1\nretain = \"3 days\"\nstart = 2026-01-01\ndefault_partition = true",
    );
    let mut t = table(
        KeyKind::Timestamptz,
        vec![day_utc("2026-03-09"), default_part()],
    );
    // Old rows in the catch-all do not pull the coverage below the cutoff either: they go into
    // one partition below it that expires at once (see the drain tests below).
    t.stats.catch_all_min = Some(utc("2026-02-01T00:00:00Z"));
    t.stats.catch_all_max = Some(utc("2026-02-02T00:00:00Z"));
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        creates(KeyKind::Timestamptz, &plan),
        [
            (
                "events_p20260201_to_20260307".to_string(),
                r_tz("2026-02-01 00:00:00", "2026-03-07 00:00:00"),
                true
            ),
            (
                "events_p20260307".to_string(),
                r_tz("2026-03-07 00:00:00", "2026-03-08 00:00:00"),
                false
            ),
            (
                "events_p20260308".to_string(),
                r_tz("2026-03-08 00:00:00", "2026-03-09 00:00:00"),
                false
            ),
            (
                "events_p20260310".to_string(),
                r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
                false
            ),
            (
                "events_p20260311".to_string(),
                r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00"),
                false
            ),
        ]
    );
    assert_eq!(
        others(&plan),
        [("detach", "events_p20260201_to_20260307".to_string())]
    );
}

#[test]
fn hand_made_partitions_around_the_cutoff_are_neither_overlapped_nor_recreated() {
    // cutoff = 03-07 12:00. `early` ends before the cutoff and expires; `late` starts before it
    // but ends after it and stays. Nothing may overlap `early` (it is detached after the
    // creates run) and nothing that would expire at once may be created.
    let p = policy("interval = \"1 day\"\npremake = 0\nretain = \"3 days\"\nstart = 2026-03-01");
    let t = table(
        KeyKind::Timestamp,
        vec![
            part(
                "early",
                at(naive("2026-03-07 00:00:00")),
                at(naive("2026-03-07 03:00:00")),
            ),
            part(
                "late",
                at(naive("2026-03-07 09:00:00")),
                at(naive("2026-03-08 00:00:00")),
            ),
        ],
    );
    let n = now("2026-03-10T12:00:00Z");
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamp, &plan),
        [
            r("2026-03-08 00:00:00", "2026-03-09 00:00:00"),
            r("2026-03-09 00:00:00", "2026-03-10 00:00:00"),
            r("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
        ]
    );
    assert_eq!(others(&plan), [("detach", "early".to_string())]);
    let after = simulate(&t, &plan);
    assert_eq!(plan_table(&p, &after, n).unwrap(), []);
}

#[test]
fn without_retain_nothing_expires() {
    let p = policy("interval = \"1 day\"\npremake = 0\non_expire = \"drop\"");
    let t = table(KeyKind::Timestamptz, march_days());
    let plan = plan_table(&p, &t, now("2027-01-01T00:00:00Z")).unwrap();
    assert!(others(&plan).is_empty());
    // The run from 03-01 continues to the current day.
    assert_eq!(plan.len(), 297);
}

// ---------------------------------------------------------------------------------------------
// start and the catch-all.

#[test]
fn start_lowers_the_coverage_start_in_the_policy_zone() {
    let p = policy(
        "interval = \"1 day\"\npremake = 0\nstart = 2026-03-07\ntimezone = \"Europe/Paris\"",
    );
    let plan = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-09T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [
            r_tz("2026-03-06 23:00:00", "2026-03-07 23:00:00"),
            r_tz("2026-03-07 23:00:00", "2026-03-08 23:00:00"),
            r_tz("2026-03-08 23:00:00", "2026-03-09 23:00:00"),
        ]
    );
    assert_eq!(
        names_of(KeyKind::Timestamptz, &plan),
        ["events_p20260307", "events_p20260308", "events_p20260309"]
    );
    // A start after the current period changes nothing.
    let p = policy("interval = \"1 day\"\npremake = 0\nstart = 2027-01-01");
    let plan = plan_table(
        &p,
        &table(KeyKind::Date, vec![]),
        now("2026-03-09T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        ranges_of(KeyKind::Date, &plan),
        [r("2026-03-09", "2026-03-10")]
    );
}

#[test]
fn catch_all_rows_extend_coverage_and_are_moved() {
    let p = policy("interval = \"1 day\"\npremake = 2\ndefault_partition = true");
    let mut t = table(KeyKind::Timestamptz, vec![default_part()]);
    t.stats.catch_all_min = Some(utc("2026-03-07T15:00:00Z"));
    t.stats.catch_all_max = Some(utc("2026-03-08T01:00:00Z"));
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    let c = creates(KeyKind::Timestamptz, &plan);
    assert_eq!(
        c.iter().map(|c| (c.1.clone(), c.2)).collect::<Vec<_>>(),
        [
            (r_tz("2026-03-07 00:00:00", "2026-03-08 00:00:00"), true),
            (r_tz("2026-03-08 00:00:00", "2026-03-09 00:00:00"), true),
            (r_tz("2026-03-09 00:00:00", "2026-03-10 00:00:00"), false),
            (r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"), false),
            (r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00"), false),
            (r_tz("2026-03-12 00:00:00", "2026-03-13 00:00:00"), false),
        ]
    );
    assert!(plan[0].reason.contains("catch-all"), "{}", plan[0].reason);
    assert!(others(&plan).is_empty(), "the catch-all exists already");
}

#[test]
fn catch_all_rows_beyond_the_horizon_create_nothing() {
    let p = policy("interval = \"1 day\"\npremake = 1");
    let mut t = table(KeyKind::Timestamptz, vec![default_part()]);
    t.stats.catch_all_min = Some(utc("2026-03-20T00:00:00Z"));
    t.stats.catch_all_max = Some(utc("2026-03-25T00:00:00Z"));
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        creates(KeyKind::Timestamptz, &plan),
        [
            (
                "events_p20260310".to_string(),
                r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
                false
            ),
            (
                "events_p20260311".to_string(),
                r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00"),
                false
            ),
        ]
    );
    // Rows on both sides of the run: the partitions between them all may hold rows.
    t.stats.catch_all_min = Some(utc("2026-03-09T23:00:00Z"));
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        creates(KeyKind::Timestamptz, &plan)
            .iter()
            .map(|c| c.2)
            .collect::<Vec<_>>(),
        [true, true, true]
    );
}

// ---------------------------------------------------------------------------------------------
// Catch-all rows older than the cutoff: drained into a partition that expires at once.

/// Daily, premake 2, retain 3 days, at 2026-03-10 12:00 (cutoff 03-07 12:00): the catch-all
/// holds rows from 02-01 10:00 (old), 03-09 (retained) and 03-20 (beyond the horizon 03-13).
fn old_rows_case(on_expire: &str) -> (Policy, Table) {
    let p = policy(&format!(
        "interval = \"1 day\"\npremake = 2\nretain = \"3 days\"\ndefault_partition = true\n{on_expire}"
    ));
    let mut t = table(KeyKind::Timestamptz, vec![default_part()]);
    t.stats.catch_all_min = Some(utc("2026-02-01T10:00:00Z"));
    t.stats.catch_all_max = Some(utc("2026-03-20T00:00:00Z"));
    (p, t)
}

#[test]
fn catch_all_rows_older_than_the_cutoff_move_into_one_partition_that_expires_at_once() {
    for (on_expire, verb, what) in [
        ("", "detach", "on_expire = detach: kept as a table"),
        ("on_expire = \"drop\"", "drop", "on_expire = drop"),
        (
            "on_expire = \"archive\"\narchive_schema = \"old\"",
            "archive",
            "on_expire = archive: moved to old",
        ),
    ] {
        let (p, t) = old_rows_case(on_expire);
        let n = now("2026-03-10T12:00:00Z");
        let plan = plan_table(&p, &t, n).unwrap();
        // One partition from the oldest row's day up to the cutoff's day, then the aligned run.
        let mut want = vec![(
            "events_p20260201_to_20260307".to_string(),
            r_tz("2026-02-01 00:00:00", "2026-03-07 00:00:00"),
            true,
        )];
        for d in 7..=12 {
            want.push((
                format!("events_p202603{d:02}"),
                r_tz(
                    &format!("2026-03-{d:02} 00:00:00"),
                    &format!("2026-03-{:02} 00:00:00", d + 1),
                ),
                true,
            ));
        }
        assert_eq!(creates(KeyKind::Timestamptz, &plan), want, "{on_expire}");
        assert_eq!(
            plan[0].reason,
            format!(
                "rows older than the retention cutoff (keys 2026-02-01 10:00:00+00 .. < 2026-03-07 00:00:00+00 in the catch-all): moved into a partition that expires at once ({what})"
            )
        );
        // ... and it is removed by on_expire, after every create.
        assert_eq!(
            others(&plan),
            [(verb, "events_p20260201_to_20260307".to_string())],
            "{on_expire}"
        );
        let last = plan.last().unwrap();
        assert!(
            last.reason.ends_with(
                "ends at or before the cutoff; created above to take the catch-all's rows older than the cutoff"
            ),
            "{}",
            last.reason
        );
        match &last.kind {
            ActionKind::Detach { has_default, .. }
            | ActionKind::Drop { has_default, .. }
            | ActionKind::Archive { has_default, .. } => assert!(has_default),
            other => panic!("unexpected {other:?}"),
        }
        // Afterwards only the rows beyond the horizon are left in the catch-all: nothing to do.
        let mut after = simulate(&t, &plan);
        after.stats.catch_all_min = Some(utc("2026-03-20T00:00:00Z"));
        assert_eq!(plan_table(&p, &after, n).unwrap(), []);
    }
}

#[test]
fn a_drain_is_named_for_what_it_holds() {
    let n = now("2026-03-10T12:00:00Z");
    // A template that shows `to` names it as it is.
    let (mut p, t) = old_rows_case("");
    p.name_template = Some(
        "{{ table }}_{{ from | date(format='%Y%m%d') }}_{{ to | date(format='%Y%m%d') }}".into(),
    );
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(plan[0].kind.partition().name, "events_20260201_20260307");
    // Rows of one day only: the drain is that day, under the template's own name.
    let (p, mut t) = old_rows_case("");
    t.stats.catch_all_min = Some(utc("2026-03-06T10:00:00Z"));
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(
        creates(KeyKind::Timestamptz, &plan)[0],
        (
            "events_p20260306".to_string(),
            r_tz("2026-03-06 00:00:00", "2026-03-07 00:00:00"),
            true
        )
    );
    // Hourly names carry the hour of `to` too.
    let p = policy(
        "interval = \"1 hour\"\npremake = 0\nretain = \"2 hours\"\ndefault_partition = true",
    );
    let mut t = table(KeyKind::Timestamptz, vec![default_part()]);
    t.stats.catch_all_min = Some(utc("2026-03-10T05:30:00Z"));
    t.stats.catch_all_max = Some(utc("2026-03-10T09:10:00Z"));
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(
        creates(KeyKind::Timestamptz, &plan)[0],
        (
            "events_p20260310_0500_to_20260310_1000".to_string(),
            r_tz("2026-03-10 05:00:00", "2026-03-10 10:00:00"),
            true
        )
    );
}

#[test]
fn drains_go_around_existing_partitions_and_skip_stretches_without_catch_all_keys() {
    // Integer keys, interval 100, retain 300: max(key) = 999, cutoff 699, coverage from 600.
    // Hand-made [300, 350) sits among the old rows; [0, 100) lies below them.
    let p = policy(
        "interval = 100\npremake = 1\nretain = 300\non_expire = \"drop\"\ndefault_partition = true",
    );
    let mut t = table(
        KeyKind::BigInt,
        vec![
            part("first", at(0), at(100)),
            part("hand", at(300), at(350)),
            default_part(),
        ],
    );
    t.stats = KeyStats {
        max_key: Some(999),
        catch_all_min: Some(250),
        catch_all_max: Some(999),
        ..Default::default()
    };
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    let c = creates(KeyKind::BigInt, &plan);
    assert_eq!(
        c[..2],
        [
            // One whole period: the template's own name.
            ("events_p200".to_string(), r(200, 300), true),
            ("events_p350_to_600".to_string(), r(350, 600), true),
        ]
    );
    assert_eq!(c[2].1, r(600, 700));
    assert_eq!(
        others(&plan),
        [
            ("drop", "first".to_string()),
            ("drop", "events_p200".to_string()),
            ("drop", "hand".to_string()),
            ("drop", "events_p350_to_600".to_string()),
        ]
    );
}

#[test]
fn without_retain_old_catch_all_rows_just_get_partitions() {
    let (p, t) = old_rows_case("");
    let p = Policy { retain: None, ..p };
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    let c = creates(KeyKind::Timestamptz, &plan);
    // Every day from the oldest row's to the horizon, none expiring, none removed.
    assert_eq!(c.len(), 40);
    assert_eq!(c[0].0, "events_p20260201");
    assert!(others(&plan).is_empty());
}

#[test]
fn only_creates_that_may_receive_catch_all_rows_say_they_move_rows() {
    // Rows on 03-09 02:00 and 03-11 05:00 in the catch-all, daily, premake 3.
    let p = policy("interval = \"1 day\"\npremake = 3\ndefault_partition = true");
    let mut t = table(
        KeyKind::Timestamptz,
        vec![day_utc("2026-03-08"), default_part()],
    );
    t.stats.catch_all_min = Some(utc("2026-03-09T02:00:00Z"));
    t.stats.catch_all_max = Some(utc("2026-03-11T05:00:00Z"));
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    let c = creates(KeyKind::Timestamptz, &plan);
    assert_eq!(
        c.iter().map(|c| (c.0.as_str(), c.2)).collect::<Vec<_>>(),
        [
            ("events_p20260309", true),
            ("events_p20260310", true),
            ("events_p20260311", true),
            ("events_p20260312", false),
            ("events_p20260313", false),
        ]
    );
    let reasons: Vec<&str> = plan.iter().map(|a| a.reason.as_str()).collect();
    assert_eq!(
        reasons[0],
        "fill a gap in the partition run; move its rows out of the catch-all"
    );
    assert_eq!(
        reasons[1],
        "the current period (holding now); its range lies inside the catch-all's keys (2026-03-09 02:00:00+00 .. 2026-03-11 05:00:00+00): any rows of it there move in"
    );
    assert_eq!(
        reasons[2],
        "premake: keep 3 partitions ahead of now; move its rows out of the catch-all"
    );
    assert_eq!(reasons[3], "premake: keep 3 partitions ahead of now");
    assert!(reasons.iter().filter(|r| r.contains("catch-all")).count() == 3);

    // A catch-all this plan creates holds nothing: no create moves rows, nor says so.
    let t = table(KeyKind::Timestamptz, vec![]);
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert!(creates(KeyKind::Timestamptz, &plan).iter().all(|c| !c.2));
    assert!(plan
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::Create { .. }))
        .all(|a| !a.reason.contains("catch-all")));
}

#[test]
fn list_creates_move_rows_only_from_a_catch_all_that_exists() {
    let text = "[[table]]\nname = \"public.c\"\npartition_by = \"list\"\ncolumn = \"k\"\nlists = { eu = [\"DE\", \"FR\"] }\ndefault_partition = true\n";
    let p = parse_sources(&[(PathBuf::from("t.toml"), text.into())])
        .unwrap()
        .remove(0);
    let mut t = Table {
        name: QualifiedName::new("public", "c"),
        strategy: Strategy::List,
        key: KeyColumn {
            name: "k".into(),
            kind: None,
            sql_type: "text".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["k".into()],
        partitions: vec![],
        stats: KeyStats::default(),
        distributed: false,
    };
    // The catch-all is created in the same plan: it is empty, nothing moves.
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    let list: Vec<&Action> = plan
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::CreateList { .. }))
        .collect();
    assert_eq!(list.len(), 1);
    assert!(matches!(
        list[0].kind,
        ActionKind::CreateList {
            move_rows: false,
            ..
        }
    ));
    assert_eq!(list[0].reason, "lists.eu: (DE, FR)");
    // With a catch-all in place, its rows for the list move in.
    t.partitions.push(Partition {
        name: QualifiedName::new("public", "c_default"),
        ..default_part()
    });
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert!(matches!(
        plan[0].kind,
        ActionKind::CreateList {
            move_rows: true,
            ..
        }
    ));
    assert_eq!(
        plan[0].reason,
        "lists.eu: (DE, FR); any of its rows waiting in the catch-all move into it"
    );
}

#[test]
fn default_partition_is_created_once() {
    let p = policy("interval = \"1 day\"\npremake = 0\ndefault_partition = true");
    let t = table(
        KeyKind::Date,
        vec![day_like("events_p20260310", "2026-03-10")],
    );
    let plan = plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        plan.iter().map(|a| &a.kind).collect::<Vec<_>>(),
        [&ActionKind::CreateDefault {
            partition: QualifiedName::new("public", "events_default")
        }]
    );
    let after = simulate(&t, &plan);
    assert!(after.default_partition().is_some());
    assert_eq!(
        plan_table(&p, &after, now("2026-03-10T12:00:00Z")).unwrap(),
        []
    );
    // Without default_partition nothing is created (and an existing one is kept).
    let p = policy("interval = \"1 day\"\npremake = 0");
    assert_eq!(plan_table(&p, &t, now("2026-03-10T12:00:00Z")).unwrap(), []);
    assert_eq!(
        plan_table(&p, &after, now("2026-03-10T12:00:00Z")).unwrap(),
        []
    );
}

fn day_like(name: &str, day: &str) -> Partition {
    let from = naive(day);
    part(name, at(from), at(from + 86_400_000_000))
}

// ---------------------------------------------------------------------------------------------
// Interrupted runs.

#[test]
fn pending_detaches_are_finalized_first() {
    let mut old = day_utc("2026-03-01");
    old.detach_pending = true;
    let mut recent = day_utc("2026-03-11");
    recent.detach_pending = true;
    let t = table(
        KeyKind::Timestamptz,
        vec![old, day_utc("2026-03-09"), recent, day_utc("2026-03-08")],
    );
    let n = now("2026-03-10T12:00:00Z");

    let p = policy("interval = \"1 day\"\npremake = 0\nretain = \"5 days\"\non_expire = \"drop\"");
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(
        plan[0].kind,
        ActionKind::Finalize {
            partition: QualifiedName::new("public", "events_p20260301"),
            then: Some(Then::Drop),
        }
    );
    assert_eq!(
        plan[1].kind,
        ActionKind::Finalize {
            partition: QualifiedName::new("public", "events_p20260311"),
            then: None,
        }
    );
    // Nothing else touches them; the rest of the run is planned as usual.
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &plan),
        [r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00")]
    );
    assert_eq!(plan.len(), 3);

    // Under detach an expired pending partition is only finalized; archive moves it too.
    let p = policy("interval = \"1 day\"\npremake = 0\nretain = \"5 days\"");
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(
        plan[0].kind,
        ActionKind::Finalize {
            partition: QualifiedName::new("public", "events_p20260301"),
            then: None,
        }
    );
    let p = policy(
        "interval = \"1 day\"\npremake = 0\nretain = \"5 days\"\non_expire = \"archive\"\narchive_schema = \"old\"",
    );
    let plan = plan_table(&p, &t, n).unwrap();
    assert_eq!(
        plan[0].kind,
        ActionKind::Finalize {
            partition: QualifiedName::new("public", "events_p20260301"),
            then: Some(Then::Archive {
                schema: "old".into()
            }),
        }
    );
}

#[test]
fn orphans_of_a_crashed_drop_are_cleaned_up() {
    let orphan = Partition {
        bound: PartBound::Orphan,
        ..part("events_p20260101", Bound::Min, Bound::Max)
    };
    let t = table(
        KeyKind::Date,
        vec![orphan, day_like("events_p20260310", "2026-03-10")],
    );
    let n = now("2026-03-10T12:00:00Z");
    let p = policy("interval = \"1 day\"\npremake = 0\nretain = \"5 days\"\non_expire = \"drop\"");
    assert_eq!(
        plan_table(&p, &t, n).unwrap()[0].kind,
        ActionKind::Cleanup {
            partition: QualifiedName::new("public", "events_p20260101"),
            then: Then::Drop
        }
    );
    let p = policy("interval = \"1 day\"\npremake = 0\nretain = \"5 days\"");
    assert_eq!(plan_table(&p, &t, n).unwrap(), []);
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn strategy_or_column_mismatch_names_both_sides() {
    let p = policy("interval = \"1 day\"");
    let mut t = table(KeyKind::Timestamptz, vec![]);
    t.strategy = Strategy::List;
    let e = plan_table(&p, &t, now("2026-03-10")).unwrap_err();
    assert_eq!(e.table, "public.events");
    assert!(e.message.contains("partition_by = \"range\""), "{e}");
    assert!(e.message.contains("partitioned by list"), "{e}");
    assert!(e.message.contains("t.toml:"), "{e}");

    let mut t = table(KeyKind::Timestamptz, vec![]);
    t.key.name = "inserted_at".into();
    let e = plan_table(&p, &t, now("2026-03-10")).unwrap_err();
    assert!(e.message.contains("`created_at`"), "{e}");
    assert!(e.message.contains("`inserted_at`"), "{e}");
}

#[test]
fn key_and_interval_kinds_must_fit() {
    let p = policy("interval = 100");
    let e = plan_table(&p, &table(KeyKind::Timestamptz, vec![]), now("2026-03-10")).unwrap_err();
    assert!(e.message.contains("integer"), "{e}");
    let p = policy("interval = \"1 hour\"");
    let e = plan_table(&p, &table(KeyKind::Date, vec![]), now("2026-03-10")).unwrap_err();
    assert!(e.message.contains("shorter than a day"), "{e}");
    let mut t = table(KeyKind::Date, vec![]);
    t.key.kind = None;
    t.key.sql_type = "text".into();
    let e = plan_table(&p, &t, now("2026-03-10")).unwrap_err();
    assert!(e.message.contains("text"), "{e}");
}

#[test]
fn a_template_that_ignores_from_is_a_name_collision() {
    // Validation refuses such a template (see the policy tests); the planner still guards.
    let fixed = |premake: u32| {
        let mut p = policy(&format!("interval = \"1 day\"\npremake = {premake}"));
        p.name_template = Some("{{ table }}_fixed".into());
        p
    };
    let p = fixed(2);
    let e = plan_table(
        &p,
        &table(KeyKind::Timestamptz, vec![]),
        now("2026-03-10T12:00:00Z"),
    )
    .unwrap_err();
    assert!(e.message.contains("events_fixed"), "{e}");
    assert!(e.message.contains("already taken"), "{e}");
    // Also against an existing partition of that name.
    let p = fixed(0);
    let t = table(
        KeyKind::Timestamptz,
        vec![part(
            "events_fixed",
            at(utc("2026-01-01T00:00:00Z")),
            at(utc("2026-01-02T00:00:00Z")),
        )],
    );
    let e = plan_table(&p, &t, now("2026-01-05T12:00:00Z")).unwrap_err();
    assert!(e.message.contains("already taken"), "{e}");
}

#[test]
fn plan_reports_tables_missing_from_the_catalog() {
    let p = policy("interval = \"1 day\"");
    let catalog = Catalog {
        format_version: crate::catalog::CATALOG_FORMAT_VERSION,
        engine: crate::catalog::Engine::Postgres,
        server_version: "17".into(),
        tables: vec![],
    };
    let e = plan(&[&p], &catalog, now("2026-03-10")).unwrap_err();
    assert!(e.message.contains("not in the database"), "{e}");
    let catalog = Catalog {
        tables: vec![table(KeyKind::Date, vec![])],
        ..catalog
    };
    assert_eq!(plan(&[&p], &catalog, now("2026-03-10")).unwrap().len(), 5);
}

// ---------------------------------------------------------------------------------------------
// One layout for every reader.

/// `check`, the verify probe and the planner read one [`layout::Layout`]: for an integer table
/// whose largest key sits in the catch-all, all three take the current period from it.
#[test]
fn check_probe_and_planner_agree_on_the_current_period_of_an_integer_table() {
    use crate::catalog::Engine;
    use crate::check::{self, Status};
    use crate::render::{postgres::POSTGRES, Templates};
    use crate::verify::probe::{self, ProbePlan};

    let p = policy("interval = 1000\npremake = 1\ndefault_partition = true");
    let mut t = table(
        KeyKind::BigInt,
        vec![
            part("events_p0", at(0), at(1000)),
            part("events_p1000", at(1000), at(2000)),
            default_part(),
        ],
    );
    t.stats = KeyStats {
        max_key: Some(1_500),
        catch_all_min: Some(2_500),
        catch_all_max: Some(2_500),
        ..Default::default()
    };
    let at_ = now("2030-01-01T00:00:00Z"); // the clock does not matter for integer keys

    // The planner: the current period holds the catch-all's key.
    let plan = plan_table(&p, &t, at_).unwrap();
    assert_eq!(
        creates(KeyKind::BigInt, &plan),
        [
            ("events_p2000".to_string(), r(2000, 3000), true),
            ("events_p3000".to_string(), r(3000, 4000), false),
        ]
    );
    assert_eq!(
        plan[0].reason,
        "the current period (holding max(key)); move its rows out of the catch-all"
    );

    // check: no partition holds that period yet.
    let c = check::assess(&p, &t, Engine::Postgres, "16.0", at_);
    assert_eq!(c.status, Status::Critical, "{c:#?}");
    assert_eq!(
        c.findings[0].message,
        "no partition holds the current period [2000, 3000) (max(key) = 2500): inserts for it land in the catch-all"
    );
    assert_eq!(c.current_partition, None);

    // The probe: the same period.
    let tpl = Templates::verify(&POSTGRES);
    let ProbePlan::Run(pr) = probe::probe(&tpl, &POSTGRES, &p, &t, at_).unwrap() else {
        panic!("no probe")
    };
    assert_eq!(
        pr.what,
        "range holding the largest key [2000, 3000), which no partition holds yet"
    );
    assert_eq!(
        pr.sql,
        "SELECT * FROM \"public\".\"events\" WHERE \"created_at\" >= 2000 AND \"created_at\" < 3000"
    );

    // Without a largest key outside the catch-all, all three still read the catch-all's.
    t.stats.max_key = None;
    assert_eq!(plan_table(&p, &t, at_).unwrap(), plan);
    let c = check::assess(&p, &t, Engine::Postgres, "16.0", at_);
    assert_eq!(c.findings[0].message, "no partition holds the current period [2000, 3000) (max(key) = 2500): inserts for it land in the catch-all");
    let ProbePlan::Run(pr2) = probe::probe(&tpl, &POSTGRES, &p, &t, at_).unwrap() else {
        panic!("no probe")
    };
    assert_eq!(pr2, pr);

    // The one layout they read.
    let l = layout::Layout::new(&p, &t, at_).unwrap();
    assert_eq!(
        (l.reference, l.from, l.to, l.horizon, l.cutoff),
        (2_500, at(2000), at(3000), at(4000), None)
    );
    assert_eq!(l.reference_text(), "max(key) = 2500");
    assert!(l.holds_reference(at(2000), at(3000)));
    assert!(!l.holds_reference(at(1000), at(2000)));
}

// ---------------------------------------------------------------------------------------------
// Properties.

mod props {
    use super::*;
    use crate::key::{instant_of_local, micros_of};
    use proptest::prelude::{
        any, prop_assert, prop_assert_eq, prop_oneof, proptest, BoxedStrategy, Just,
        ProptestConfig, TestCaseError,
    };
    use proptest::strategy::Strategy as Gen;

    const ZONES: [&str; 5] = [
        "UTC",
        "America/New_York",
        "Europe/Paris",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ];

    /// Instants near DST changes in the zones above (UTC), to put `now` next to one often.
    const CHANGES: [&str; 6] = [
        "2026-03-08T07:00:00Z", // New York, spring forward
        "2026-11-01T06:00:00Z", // New York, fall back
        "2026-03-29T01:00:00Z", // Paris
        "2026-10-25T01:00:00Z", // Paris
        "2026-04-04T15:00:00Z", // Lord Howe, back 30 minutes
        "2026-10-03T15:30:00Z", // Lord Howe, forward 30 minutes
    ];

    #[derive(Debug, Clone)]
    struct Case {
        interval: Span,
        kind: KeyKind,
        tz: &'static str,
        premake: u32,
        retain: Option<Span>,
        on_expire: u8,
        /// Per-mille of the lookback span before now (or max(key)) where `start` lies.
        start: Option<u32>,
        default: bool,
        now: i64,
        /// Periods before the current one where the existing partitions begin.
        back: u32,
        /// (what, periods, per-mille) for each segment walked from there.
        segments: Vec<(u8, u8, u16)>,
        min_first: bool,
        max_last: bool,
        /// Largest key outside the catch-all (integer keys).
        int_max: Option<i64>,
        /// Catch-all rows, as per-mille positions over the lookback .. beyond-horizon span.
        rows: Vec<u16>,
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

    fn interval() -> impl Gen<Value = Span> {
        prop_oneof![
            (1i64..=500).prop_map(Span::Int),
            (1u32..=3, unit()).prop_map(|(n, unit)| Span::Time { n, unit }),
        ]
    }

    fn kind_for(iv: Span) -> BoxedStrategy<KeyKind> {
        match iv {
            Span::Int(_) => prop_oneof![Just(KeyKind::Int), Just(KeyKind::BigInt)].boxed(),
            Span::Time {
                unit: TimeUnit::Minute | TimeUnit::Hour,
                ..
            } => prop_oneof![Just(KeyKind::Timestamptz), Just(KeyKind::Timestamp)].boxed(),
            Span::Time { .. } => prop_oneof![
                Just(KeyKind::Timestamptz),
                Just(KeyKind::Timestamp),
                Just(KeyKind::Date)
            ]
            .boxed(),
        }
    }

    fn retain_for(iv: Span) -> BoxedStrategy<Option<Span>> {
        match iv {
            Span::Int(_) => proptest::option::of((1i64..=3000).prop_map(Span::Int)).boxed(),
            Span::Time { .. } => proptest::option::of(
                (1u32..=40, unit()).prop_map(|(n, unit)| Span::Time { n, unit }),
            )
            .boxed(),
        }
    }

    fn now_micros() -> impl Gen<Value = i64> {
        let lo = utc("2020-01-01T00:00:00Z") / 1_000_000;
        let hi = utc("2030-01-01T00:00:00Z") / 1_000_000;
        prop_oneof![
            (lo..hi).prop_map(|s| s * 1_000_000),
            (0..CHANGES.len(), -4 * 3600i64..4 * 3600)
                .prop_map(|(i, off)| utc(CHANGES[i]) + off * 1_000_000),
        ]
    }

    fn case() -> impl Gen<Value = Case> {
        interval().prop_flat_map(|iv| {
            (
                (
                    Just(iv),
                    kind_for(iv),
                    proptest::sample::select(&ZONES[..]),
                    0u32..=6,
                    retain_for(iv),
                    0u8..3,
                    proptest::option::of(0u32..1000),
                    any::<bool>(),
                ),
                (
                    now_micros(),
                    0u32..20,
                    proptest::collection::vec((0u8..4, 0u8..3, 0u16..2500), 0..10),
                    proptest::bool::weighted(0.1),
                    proptest::bool::weighted(0.1),
                    proptest::option::of(-3000i64..100_000),
                    proptest::collection::vec(0u16..1000, 0..8),
                ),
            )
                .prop_map(
                    |(
                        (interval, kind, tz, premake, retain, on_expire, start, default),
                        (now, back, segments, min_first, max_last, int_max, rows),
                    )| Case {
                        interval,
                        kind,
                        tz,
                        premake,
                        retain,
                        on_expire,
                        start,
                        default,
                        now,
                        back,
                        segments,
                        min_first,
                        max_last,
                        int_max,
                        rows,
                    },
                )
        })
    }

    /// The smallest period boundary strictly after `c`, `len` boundaries on.
    fn boundary_after(axis: &Axis, c: i64, len: u32) -> i64 {
        let mut c = c;
        for _ in 0..len {
            let mut k = axis.index_of(c) + 1;
            let mut b = axis.start_of(k).unwrap();
            while b <= c {
                k += 1;
                b = axis.start_of(k).unwrap();
            }
            c = b;
        }
        c
    }

    /// The granularity of key values: 1 for integers, a day for dates, a second otherwise.
    fn grain(kind: KeyKind) -> i64 {
        match kind {
            KeyKind::Date => 86_400_000_000,
            k if k.is_time() => 1_000_000,
            _ => 1,
        }
    }

    fn floor_to(c: i64, g: i64) -> i64 {
        c.div_euclid(g) * g
    }

    struct World {
        policy: Policy,
        table: Table,
        rows: Vec<i64>,
        now: DateTime<Utc>,
    }

    fn build(case: &Case) -> World {
        let tz: chrono_tz::Tz = case.tz.parse().unwrap();
        let kind = case.kind;
        let axis = Axis::new(kind, case.interval, tz).unwrap();
        let now = DateTime::from_timestamp_micros(case.now).unwrap();
        let g = grain(kind);
        let reference = if kind.is_time() {
            kind.now_coord(now, tz)
        } else {
            case.int_max.unwrap_or(0)
        };
        let cur = axis.index_of(reference);
        let lookback = axis.start_of(cur - case.back as i64 - 3).unwrap();
        let beyond = axis.start_of(cur + case.premake as i64 + 4).unwrap();

        // Existing partitions: walk forward from `back` periods before the current one.
        let mut parts: Vec<(Bound, Bound)> = Vec::new();
        let mut pos = axis.start_of(cur - case.back as i64).unwrap();
        if case.min_first {
            parts.push((Bound::Min, Bound::At(pos)));
        }
        let unaligned = |pos: i64, permille: u16| -> i64 {
            let len = boundary_after(&axis, pos, 1) - pos;
            let step = floor_to((len as i128 * permille as i128 / 1000) as i64, g).max(g);
            pos + step
        };
        for &(what, len, permille) in &case.segments {
            let len = 1 + len as u32;
            match what {
                0 => pos = boundary_after(&axis, pos, len),
                1 => pos = unaligned(pos, permille),
                2 => {
                    let to = boundary_after(&axis, pos, len);
                    parts.push((Bound::At(pos), Bound::At(to)));
                    pos = to;
                }
                _ => {
                    let to = unaligned(pos, permille);
                    parts.push((Bound::At(pos), Bound::At(to)));
                    pos = to;
                }
            }
        }
        if case.max_last {
            parts.push((Bound::At(pos), Bound::Max));
        }

        // Catch-all rows, never inside an existing partition.
        let rows: Vec<i64> = if case.default {
            let span = (beyond - lookback) as i128;
            case.rows
                .iter()
                .map(|&pm| floor_to(lookback + (span * pm as i128 / 1000) as i64, g))
                .filter(|&r| {
                    !parts
                        .iter()
                        .any(|&(f, t)| f <= Bound::At(r) && Bound::At(r) < t)
                })
                .collect()
        } else {
            vec![]
        };

        let mut partitions: Vec<Partition> = parts
            .iter()
            .enumerate()
            .map(|(i, &(f, t))| part(&format!("old{i}"), f, t))
            .collect();
        if case.default {
            partitions.push(Partition {
                bound: PartBound::Default,
                ..part("t_default", Bound::Min, Bound::Max)
            });
        }
        let max_key = if kind.is_time() {
            None
        } else {
            case.int_max.into_iter().chain(rows.iter().copied()).max()
        };
        let table = Table {
            name: QualifiedName::new("public", "t"),
            strategy: Strategy::Range,
            key: KeyColumn {
                name: "k".into(),
                kind: Some(kind),
                sql_type: kind.name().into(),
                expr: None,
                granularity: None,
            },
            columns: vec!["k".into()],
            partitions,
            stats: KeyStats {
                max_key,
                catch_all_min: rows.iter().copied().min(),
                catch_all_max: rows.iter().copied().max(),
                ..Default::default()
            },
            distributed: false,
        };

        // The policy, as TOML.
        let q = |s: String| format!("\"{s}\"");
        let mut toml = String::new();
        toml.push_str(&match case.interval {
            Span::Int(n) => format!("interval = {n}\n"),
            s => format!("interval = {}\n", q(s.to_string())),
        });
        toml.push_str(&format!("premake = {}\n", case.premake));
        toml.push_str(&format!("timezone = \"{}\"\n", case.tz));
        if let Some(r) = case.retain {
            toml.push_str(&match r {
                Span::Int(n) => format!("retain = {n}\n"),
                s => format!("retain = {}\n", q(s.to_string())),
            });
        }
        toml.push_str(match case.on_expire {
            0 => "on_expire = \"detach\"\n",
            1 => "on_expire = \"drop\"\n",
            _ => "on_expire = \"archive\"\narchive_schema = \"arch\"\n",
        });
        if let Some(pm) = case.start {
            let span = (reference - lookback) as i128;
            let s = floor_to(lookback + (span * pm as i128 / 1000) as i64, g);
            toml.push_str(&match kind {
                KeyKind::Date => format!("start = \"{}\"\n", kind.format(s)),
                KeyKind::Timestamptz | KeyKind::Timestamp => format!(
                    "start = \"{}\"\n",
                    axis.local(s).format("%Y-%m-%d %H:%M:%S")
                ),
                _ => format!("start = {s}\n"),
            });
        }
        if case.default {
            toml.push_str("default_partition = true\n");
        }
        toml.push_str(if kind.is_time() {
            "name_template = \"{{ table }}_{{ from | date(format='%Y%m%d%H%M%S') }}_{{ to | date(format='%Y%m%d%H%M%S') }}\"\n"
        } else {
            "name_template = \"{{ table }}_{{ from }}_{{ to }}\"\n"
        });
        let policy = policy_for("public.t", "k", &toml);
        World {
            policy,
            table,
            rows,
            now,
        }
    }

    fn overlaps(a: (Bound, Bound), b: (Bound, Bound)) -> bool {
        a.0 < b.1 && b.0 < a.1
    }

    fn check(case: &Case) -> Result<(), TestCaseError> {
        let World {
            policy,
            table,
            rows,
            now,
        } = build(case);
        let kind = case.kind;
        let tz = policy.timezone;
        let axis = Axis::new(kind, case.interval, tz).unwrap();
        let show = |b: (Bound, Bound)| describe(kind, b.0, b.1);

        let plan = plan_table(&policy, &table, now)
            .map_err(|e| TestCaseError::fail(format!("plan failed: {e}")))?;

        // Independent expectations.
        let reference = if kind.is_time() {
            kind.now_coord(now, tz)
        } else {
            table
                .stats
                .max_key
                .into_iter()
                .chain(table.stats.catch_all_max)
                .max()
                .unwrap_or(0)
        };
        let cur = axis.index_of(reference);
        let cur_start = axis.start_of(cur).unwrap();
        let horizon = Bound::At(axis.start_of(cur + policy.premake as i64 + 1).unwrap());
        let cutoff = policy.retain.map(|r| axis.minus(reference, r).unwrap());
        let expires = |to: Bound| match (cutoff, to) {
            (Some(c), Bound::At(t)) => t <= c && t <= cur_start,
            _ => false,
        };
        let existing: Vec<(Bound, Bound, String)> = table
            .ranges()
            .map(|(f, t, p)| (f, t, p.name.name.clone()))
            .collect();
        let mut start = Bound::At(cur_start);
        for (f, _, _) in &existing {
            start = start.min(*f);
        }
        if let Some(s) = policy.start {
            let c = match s {
                Start::Int(v) => v,
                Start::Local(l) if kind == KeyKind::Timestamptz => {
                    instant_of_local(tz, l).unwrap().timestamp_micros()
                }
                Start::Local(l) => micros_of(l),
            };
            start = start.min(Bound::At(c));
        }
        if let Some(m) = table.stats.catch_all_min {
            start = start.min(Bound::At(axis.start_of(axis.index_of(m)).unwrap()));
        }
        if let Some(c) = cutoff {
            start = start.max(Bound::At(axis.start_of(axis.index_of(c)).unwrap()));
        }

        // Creates: non-empty, inside [start, horizon), overlapping nothing; or drains: below
        // the start, taking catch-all rows older than the cutoff, and expiring in the same plan.
        let created: Vec<(Bound, Bound, bool)> = plan
            .iter()
            .filter_map(|a| match a.kind {
                ActionKind::Create {
                    from,
                    to,
                    move_rows,
                    ..
                } => Some((from, to, move_rows)),
                _ => None,
            })
            .collect();
        let create_names: Vec<String> = plan
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Create { .. }))
            .map(|a| a.kind.partition().name.clone())
            .collect();
        let mut drained: Vec<String> = Vec::new();
        for (i, &(f, t, move_rows)) in created.iter().enumerate() {
            prop_assert!(f < t, "empty create {}", show((f, t)));
            let drain = expires(t);
            if drain {
                let (Some(lo), Some(hi)) = (table.stats.catch_all_min, table.stats.catch_all_max)
                else {
                    return Err(TestCaseError::fail(format!(
                        "create {} would expire at once, with nothing in the catch-all",
                        show((f, t))
                    )));
                };
                prop_assert!(move_rows, "drain {} moves no rows", show((f, t)));
                prop_assert!(t <= start, "drain {} reaches the coverage", show((f, t)));
                prop_assert!(
                    Bound::At(lo) < t && f <= Bound::At(hi),
                    "drain {} holds none of the catch-all's keys",
                    show((f, t))
                );
                prop_assert!(
                    f >= Bound::At(axis.start_of(axis.index_of(lo)).unwrap()),
                    "drain {} reaches below the oldest catch-all row's period",
                    show((f, t))
                );
                // Its removal follows its create.
                let name = &create_names[i];
                let created_at = plan.iter().position(|a| {
                    matches!(a.kind, ActionKind::Create { .. }) && a.kind.partition().name == *name
                });
                let removed_at = plan.iter().position(|a| {
                    matches!(
                        a.kind,
                        ActionKind::Detach { .. }
                            | ActionKind::Drop { .. }
                            | ActionKind::Archive { .. }
                    ) && a.kind.partition().name == *name
                });
                prop_assert!(
                    matches!((created_at, removed_at), (Some(c), Some(r)) if c < r),
                    "drain {} is not removed after it is created",
                    show((f, t))
                );
                drained.push(name.clone());
            } else {
                prop_assert!(
                    f >= start,
                    "create {} below the coverage start",
                    show((f, t))
                );
            }
            prop_assert!(t <= horizon, "create {} beyond the horizon", show((f, t)));
            for (ef, et, name) in &existing {
                prop_assert!(
                    !overlaps((f, t), (*ef, *et)),
                    "create {} overlaps {name} {}",
                    show((f, t)),
                    show((*ef, *et))
                );
            }
            for &(g, h, _) in &created[..i] {
                prop_assert!(
                    !overlaps((f, t), (g, h)),
                    "creates {} and {} overlap",
                    show((f, t)),
                    show((g, h))
                );
            }
            // Each create (drains aside) is one aligned period, or holds no whole period.
            if let (false, Bound::At(fc), Bound::At(tc)) = (drain, f, t) {
                let b1 = boundary_after(&axis, fc - 1, 1);
                let aligned_period = b1 == fc && boundary_after(&axis, fc, 1) == tc;
                let b2 = boundary_after(&axis, b1, 1);
                prop_assert!(
                    aligned_period || b2 > tc,
                    "create {} holds a whole period and more",
                    show((f, t))
                );
            }
        }

        // Removals: exactly the expired partitions.
        let removed: Vec<String> = plan
            .iter()
            .filter(|a| {
                matches!(
                    a.kind,
                    ActionKind::Detach { .. }
                        | ActionKind::Drop { .. }
                        | ActionKind::Archive { .. }
                )
            })
            .map(|a| a.kind.partition().name.clone())
            .collect();
        for name in &drained {
            prop_assert!(removed.contains(name), "drain {} is not removed", name);
        }
        prop_assert_eq!(
            removed.len(),
            drained.len() + existing.iter().filter(|(_, t, _)| expires(*t)).count()
        );
        for (f, t, name) in &existing {
            prop_assert_eq!(
                removed.contains(name),
                expires(*t),
                "{} {} (cutoff {:?}, current period from {})",
                name,
                show((*f, *t)),
                cutoff.map(|c| kind.format(c)),
                kind.format(cur_start)
            );
        }
        for a in &plan {
            match &a.kind {
                ActionKind::Create { .. } | ActionKind::CreateDefault { .. } => {}
                ActionKind::Detach { .. } => prop_assert_eq!(case.on_expire, 0),
                ActionKind::Drop { .. } => prop_assert_eq!(case.on_expire, 1),
                ActionKind::Archive { .. } => prop_assert_eq!(case.on_expire, 2),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        // Simulate, moving the catch-all rows that new partitions take.
        let mut after = simulate(&table, &plan);
        let mut left = rows.clone();
        for &(f, t, move_rows) in &created {
            let inside = |r: &i64| f <= Bound::At(*r) && Bound::At(*r) < t;
            if left.iter().any(inside) {
                prop_assert!(
                    move_rows,
                    "create {} takes rows but does not move them",
                    show((f, t))
                );
            }
            left.retain(|r| !inside(r));
        }
        after.stats.catch_all_min = left.iter().copied().min();
        after.stats.catch_all_max = left.iter().copied().max();
        // Every catch-all row has a destination: only rows at or above the coverage start stay
        // (those beyond the horizon wait for it).
        if let Some(r) = left.iter().find(|&&r| Bound::At(r) < start) {
            prop_assert!(
                false,
                "catch-all row {} below the coverage start {} is left behind",
                kind.format(*r),
                show((start, start))
            );
        }

        // Coverage: one run from the start to the horizon; only ranges that would expire may be
        // missing below it.
        let mut after_ranges: Vec<(Bound, Bound)> =
            after.ranges().map(|(f, t, _)| (f, t)).collect();
        after_ranges.sort();
        for w in after_ranges.windows(2) {
            prop_assert!(
                w[0].1 <= w[1].0,
                "overlap after the plan: {} {}",
                show(w[0]),
                show(w[1])
            );
        }
        let mut pos = start;
        for &(f, t) in &after_ranges {
            if t <= pos {
                continue;
            }
            if f >= horizon {
                break;
            }
            if f > pos {
                prop_assert!(
                    expires(f),
                    "hole {} in the run from {:?} to {:?}",
                    show((pos, f)),
                    show((start, start)),
                    show((horizon, horizon))
                );
            }
            pos = pos.max(t);
        }
        prop_assert!(
            pos >= horizon,
            "the run stops at {:?} before the horizon {:?}",
            pos,
            horizon
        );
        prop_assert!(
            after_ranges
                .iter()
                .any(|&(f, t)| f <= Bound::At(reference) && Bound::At(reference) < t),
            "no partition holds the current period's reference {}",
            kind.format(reference)
        );
        if policy.default_partition {
            prop_assert!(after.default_partition().is_some());
        }

        // Idempotence.
        let again = plan_table(&policy, &after, now)
            .map_err(|e| TestCaseError::fail(format!("re-plan failed: {e}")))?;
        prop_assert!(
            again.is_empty(),
            "re-planning is not empty: {:?}",
            again
                .iter()
                .map(|a| match a.kind {
                    ActionKind::Create { from, to, .. } => format!("create {}", show((from, to))),
                    ref k => format!("{} {}", k.verb(), k.partition()),
                })
                .collect::<Vec<_>>()
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn plans_cover_without_overlap_and_are_idempotent(case in case()) {
            check(&case)?;
        }
    }
}

/// `convert`: partitions from the oldest row's period to the horizon, nothing moved, nothing
/// expired; the catch-all last; rows below the retention cutoff get one partition of their own.
#[test]
fn convert_covers_the_rows_from_the_oldest_to_the_horizon() {
    let p = policy("interval = \"1 day\"\npremake = 2");
    let t = table(KeyKind::Timestamptz, vec![]);
    let span = (utc("2026-03-07T05:00:00Z"), utc("2026-03-10T01:00:00Z"));
    let a = convert_partitions(&p, &t, Some(span), now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &a),
        vec![
            r_tz("2026-03-07 00:00:00", "2026-03-08 00:00:00"),
            r_tz("2026-03-08 00:00:00", "2026-03-09 00:00:00"),
            r_tz("2026-03-09 00:00:00", "2026-03-10 00:00:00"),
            r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
            r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00"),
            r_tz("2026-03-12 00:00:00", "2026-03-13 00:00:00"),
        ]
    );
    assert!(
        creates(KeyKind::Timestamptz, &a).iter().all(|c| !c.2),
        "nothing moves"
    );

    let p =
        policy("interval = \"1 day\"\npremake = 1\nretain = \"2 days\"\ndefault_partition = true");
    let a = convert_partitions(&p, &t, Some(span), now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(
        ranges_of(KeyKind::Timestamptz, &a),
        vec![
            r_tz("2026-03-07 00:00:00", "2026-03-08 00:00:00"),
            r_tz("2026-03-08 00:00:00", "2026-03-09 00:00:00"),
            r_tz("2026-03-09 00:00:00", "2026-03-10 00:00:00"),
            r_tz("2026-03-10 00:00:00", "2026-03-11 00:00:00"),
            r_tz("2026-03-11 00:00:00", "2026-03-12 00:00:00"),
        ]
    );
    assert!(
        a.iter().all(|x| !x.kind.is_expiry()),
        "nothing expires during convert"
    );
    assert!(matches!(
        a.last().unwrap().kind,
        ActionKind::CreateDefault { .. }
    ));
    assert_eq!(
        a.iter()
            .filter(|x| matches!(x.kind, ActionKind::CreateDefault { .. }))
            .count(),
        1
    );
    // An empty table: the current period and premake, as for a new table.
    let a = convert_partitions(&p, &t, None, now("2026-03-10T12:00:00Z")).unwrap();
    assert_eq!(ranges_of(KeyKind::Timestamptz, &a).len(), 2);
}
