//! `init`'s inference without a server: layouts it must recognise or refuse, and pg_partman's
//! `part_config` mapped onto policy keys.

use super::infer::Line;
use super::*;
use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition, Table};
use crate::key::{micros_of, Bound, KeyKind, Span, TimeUnit};
use crate::names::QualifiedName;
use crate::policy::Strategy;
use chrono::{NaiveDate, TimeZone};

fn day(y: i32, m: u32, d: u32) -> i64 {
    micros_of(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    )
}

fn table(kind: KeyKind, parts: &[(&str, i64, i64)]) -> Table {
    Table {
        name: QualifiedName::new("public", "t"),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "d".into(),
            kind: Some(kind),
            sql_type: kind.name().into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["d".into()],
        partitions: parts
            .iter()
            .map(|(n, f, t)| Partition {
                name: QualifiedName::new("public", *n),
                bound: PartBound::Range {
                    from: Bound::At(*f),
                    to: Bound::At(*t),
                },
                est_rows: 0,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            })
            .collect(),
        stats: KeyStats::default(),
        distributed: false,
    }
}

fn key<'a>(d: &'a Draft, k: &str) -> Option<&'a str> {
    d.lines.iter().find_map(|l| match l {
        Line::Key { key, value, .. } if *key == k => Some(value.as_str()),
        _ => None,
    })
}

fn commented<'a>(d: &'a Draft, k: &str) -> Option<&'a str> {
    d.lines.iter().find_map(|l| match l {
        Line::Commented { key, reason, .. } if *key == k => Some(reason.as_str()),
        _ => None,
    })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

#[test]
fn weekly_partitions_name_their_day_and_sunday_weeks_are_refused() {
    // Mondays: 2026-11-16, 23, 30.
    let monday = table(
        KeyKind::Date,
        &[
            ("t_p20261116", day(2026, 11, 16), day(2026, 11, 23)),
            ("t_p20261123", day(2026, 11, 23), day(2026, 11, 30)),
        ],
    );
    let d = draft(&monday, Engine::Postgres, None, now());
    assert_eq!(d.unusable, None);
    assert_eq!(key(&d, "interval"), Some("\"1 week\""));
    assert_eq!(key(&d, "premake"), Some("1"));
    // Sundays: no interval partctl has lays them out; the table is written commented out.
    let sunday = table(
        KeyKind::Date,
        &[
            ("a", day(2026, 11, 15), day(2026, 11, 22)),
            ("b", day(2026, 11, 22), day(2026, 11, 29)),
            ("c", day(2026, 11, 29), day(2026, 12, 6)),
        ],
    );
    let d = draft(&sunday, Engine::Postgres, None, now());
    let why = d.unusable.expect("refused");
    assert!(why.contains("weekly, starting on Sun"), "{why}");
    let text = toml_out::block(&draft(&sunday, Engine::Postgres, None, now()));
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
}

#[test]
fn names_nobody_follows_are_a_commented_template() {
    let t = table(
        KeyKind::Date,
        &[
            ("first", day(2026, 11, 21), day(2026, 11, 22)),
            ("second", day(2026, 11, 22), day(2026, 11, 23)),
        ],
    );
    let d = draft(&t, Engine::Postgres, None, now());
    assert_eq!(key(&d, "interval"), Some("\"1 day\""));
    assert_eq!(key(&d, "name_template"), None);
    let why = commented(&d, "name_template").expect("a commented template");
    assert!(why.contains("`first`"), "{why}");
    assert!(commented(&d, "retain").is_some());
}

#[test]
fn integer_steps_are_the_width_when_bounds_allow() {
    let t = table(
        KeyKind::BigInt,
        &[("t_p1000", 1000, 2000), ("t_p2000", 2000, 3000)],
    );
    let mut t = t;
    t.stats.max_key = Some(1500);
    let d = draft(&t, Engine::Postgres, None, now());
    assert_eq!(key(&d, "interval"), Some("1000"));
    assert_eq!(key(&d, "premake"), Some("1"));
}

#[test]
fn pg_partman_intervals_map_onto_spans() {
    let tz = KeyKind::Timestamptz;
    let t = |n, unit| Some(Span::Time { n, unit });
    assert_eq!(partman_span("1 day", tz), t(1, TimeUnit::Day));
    assert_eq!(partman_span("7 days", tz), t(1, TimeUnit::Week));
    assert_eq!(partman_span("1 mon", tz), t(1, TimeUnit::Month));
    assert_eq!(partman_span("3 mons", tz), t(3, TimeUnit::Month));
    assert_eq!(partman_span("1 year", tz), t(1, TimeUnit::Year));
    assert_eq!(partman_span("01:00:00", tz), t(1, TimeUnit::Hour));
    assert_eq!(partman_span("00:15:00", tz), t(15, TimeUnit::Minute));
    assert_eq!(partman_span("24:00:00", tz), t(1, TimeUnit::Day));
    assert_eq!(partman_span("1 fortnight", tz), None);
    assert_eq!(partman_span("1000", KeyKind::BigInt), Some(Span::Int(1000)));
    assert_eq!(partman_span("-5", KeyKind::BigInt), None);
}

#[test]
fn pg_partman_settings_become_policy_keys() {
    let t = table(
        KeyKind::Timestamptz,
        &[
            ("t_p2026_11_21", day(2026, 11, 21), day(2026, 11, 22)),
            ("t_p2026_11_22", day(2026, 11, 22), day(2026, 11, 23)),
        ],
    );
    let cfg = |retention: Option<&str>, keep: Option<bool>, schema: Option<&str>| PartmanConfig {
        parent_table: "public.t".into(),
        partition_interval: Some("1 day".into()),
        premake: Some(4),
        retention: retention.map(Into::into),
        retention_keep_table: keep,
        retention_schema: schema.map(Into::into),
        infinite_time_partitions: Some(true),
        ..Default::default()
    };
    let d = draft(
        &t,
        Engine::Postgres,
        Some(&cfg(Some("30 days"), Some(true), None)),
        now(),
    );
    assert_eq!(key(&d, "premake"), Some("4"));
    assert_eq!(key(&d, "retain"), Some("\"30 days\""));
    assert_eq!(key(&d, "on_expire"), Some("\"detach\""));
    assert_eq!(
        key(&d, "name_template"),
        Some("\"{{ table }}_p{{ from | date(format='%Y_%m_%d') }}\"")
    );
    let d = draft(
        &t,
        Engine::Postgres,
        Some(&cfg(Some("30 days"), Some(false), None)),
        now(),
    );
    assert_eq!(key(&d, "on_expire"), Some("\"drop\""));
    let d = draft(
        &t,
        Engine::Postgres,
        Some(&cfg(Some("30 days"), Some(true), Some("old"))),
        now(),
    );
    assert_eq!(key(&d, "on_expire"), Some("\"archive\""));
    assert_eq!(key(&d, "archive_schema"), Some("\"old\""));
    let d = draft(&t, Engine::Postgres, Some(&cfg(None, None, None)), now());
    assert!(commented(&d, "retain")
        .unwrap()
        .contains("keeps every partition"));
    // pg_partman's interval disagreeing with the bounds is said, the bounds win.
    let mut c = cfg(None, None, None);
    c.partition_interval = Some("1 mon".into());
    let d = draft(&t, Engine::Postgres, Some(&c), now());
    assert_eq!(key(&d, "interval"), Some("\"1 day\""));
    let note = d.lines.iter().find_map(|l| match l {
        Line::Key {
            key: "interval",
            note,
            ..
        } => note.clone(),
        _ => None,
    });
    assert!(note.unwrap().contains("pg_partman says 1 mon"));
}
