//! Tests of `check`: the judgement of one table, the worst status, the text summary and the
//! Prometheus labels.

use super::*;
use crate::catalog::{Engine, PartBound, Table};
use crate::catalog::{KeyColumn, KeyStats, Partition};
use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::output::Format;
use crate::policy::parse_sources;
use crate::policy::Strategy;
use std::path::PathBuf;

fn policy(strategy: &str, extra: &str) -> Policy {
    policy_named("public.events", strategy, extra)
}

/// `name` is written into a TOML basic string as is (escapes included).
fn policy_named(name: &str, strategy: &str, extra: &str) -> Policy {
    let text = format!(
        "[[table]]\nname = \"{name}\"\npartition_by = \"{strategy}\"\ncolumn = \"created_at\"\n{extra}\n"
    );
    parse_sources(&[(PathBuf::from("t.toml"), text)])
        .unwrap()
        .remove(0)
}

fn now(s: &str) -> DateTime<Utc> {
    crate::policy::parse_now(s).unwrap()
}

fn day(d: &str) -> i64 {
    now(d).timestamp_micros()
}

fn part(name: &str, from: &str, to: &str) -> Partition {
    Partition {
        name: QualifiedName::new("public", name),
        bound: PartBound::Range {
            from: Bound::At(day(from)),
            to: Bound::At(day(to)),
        },
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    }
}

fn default_part() -> Partition {
    Partition {
        bound: PartBound::Default,
        ..part("events_default", "2026-01-01", "2026-01-02")
    }
}

fn table(partitions: Vec<Partition>) -> Table {
    Table {
        name: QualifiedName::new("public", "events"),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "created_at".into(),
            kind: Some(KeyKind::Timestamptz),
            sql_type: "timestamp with time zone".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["id".into(), "created_at".into()],
        partitions,
        stats: KeyStats::default(),
        distributed: false,
    }
}

/// Daily partitions from `first` for `n` days.
fn days(first: &str, n: i64) -> Vec<Partition> {
    let start = now(first);
    (0..n)
        .map(|i| {
            let f = start + chrono::Duration::days(i);
            let t = f + chrono::Duration::days(1);
            part(
                &format!("events_p{}", f.format("%Y%m%d")),
                &f.format("%Y-%m-%d").to_string(),
                &t.format("%Y-%m-%d").to_string(),
            )
        })
        .collect()
}

fn judge(p: &Policy, t: &Table, at: &str) -> TableCheck {
    assess(p, t, Engine::Postgres, "16.0", now(at))
}

const DAILY: &str = "interval = \"1 day\"\npremake = 2";

#[test]
fn everything_in_place_is_ok() {
    let c = judge(
        &policy("range", DAILY),
        &table(days("2026-11-21", 3)),
        "2026-11-21T12:00:00Z",
    );
    assert_eq!(c.status, Status::Ok, "{c:#?}");
    assert_eq!(c.future_partitions, Some(2));
    assert_eq!(c.pending_steps, Some(0));
    assert_eq!(c.catch_all, Some(None));
    assert!(c
        .current_partition
        .unwrap()
        .starts_with("events_p20261121 "));
}

#[test]
fn short_premake_is_a_warning() {
    let c = judge(
        &policy("range", DAILY),
        &table(days("2026-11-21", 2)),
        "2026-11-21T12:00:00Z",
    );
    assert_eq!(c.status, Status::Warning, "{c:#?}");
    assert_eq!(c.future_partitions, Some(1));
    assert_eq!(c.pending_steps, Some(1));
    assert!(
        c.findings[0]
            .message
            .contains("premake = 2: 1 partition ahead of now, 1 to create"),
        "{c:#?}"
    );
}

#[test]
fn no_partition_for_now_is_critical() {
    let c = judge(
        &policy("range", DAILY),
        &table(days("2026-11-21", 3)),
        "2026-12-25T00:00:00Z",
    );
    assert_eq!(c.status, Status::Critical, "{c:#?}");
    assert!(
        c.findings[0]
            .message
            .contains("no partition holds the current period [2026-12-25 00:00:00+00, 2026-12-26 00:00:00+00) (now): inserts for it fail"),
        "{c:#?}"
    );
    let mut with_default = table(days("2026-11-21", 3));
    with_default.partitions.push(default_part());
    let c = judge(
        &policy("range", DAILY),
        &with_default,
        "2026-12-25T00:00:00Z",
    );
    assert_eq!(c.status, Status::Critical);
    assert!(c.findings[0].message.contains("land in the catch-all"));
}

#[test]
fn catch_all_rows_are_a_warning_that_says_whether_they_stay() {
    let mut t = table(days("2026-11-21", 3));
    t.partitions.push(default_part());
    t.stats.catch_all_min = Some(day("2027-01-01"));
    t.stats.catch_all_max = Some(day("2027-02-01"));
    let c = judge(&policy("range", DAILY), &t, "2026-11-21T12:00:00Z");
    assert_eq!(c.status, Status::Warning, "{c:#?}");
    let ca = c.catch_all.clone().unwrap().unwrap();
    assert!(ca.beyond_horizon);
    assert_eq!(ca.horizon, "2026-11-24 00:00:00+00");
    assert!(c.findings.iter().any(|f| f.message.contains(
        "rows in the catch-all, keys 2027-01-01 00:00:00+00 .. 2027-02-01 00:00:00+00; keys from 2026-11-24 00:00:00+00 on lie beyond the horizon"
    )), "{c:#?}");
}

#[test]
fn expired_partitions_and_interrupted_detaches_are_warnings() {
    let mut parts = days("2026-11-10", 15);
    parts[0].detach_pending = true;
    let c = judge(
        &policy(
            "range",
            "interval = \"1 day\"\npremake = 2\nretain = \"5 days\"",
        ),
        &table(parts),
        "2026-11-21T12:00:00Z",
    );
    assert_eq!(c.status, Status::Warning, "{c:#?}");
    assert_eq!(c.interrupted_detaches, Some(1));
    assert!(c.expired_partitions.unwrap() > 0);
    let text: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(
        text.iter()
            .any(|m| m.contains("interrupted detach to finish (events_p20261110)")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("expired partitions not yet removed")),
        "{text:?}"
    );
}

#[test]
fn integer_keys_are_judged_by_their_largest_key() {
    let p = parse_sources(&[(
        PathBuf::from("t.toml"),
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 100\npremake = 1\ndefault_partition = true\n".into(),
    )])
    .unwrap()
    .remove(0);
    let int_part = |from: i64, to: i64| Partition {
        name: QualifiedName::new("public", format!("events_p{from}")),
        bound: PartBound::Range {
            from: Bound::At(from),
            to: Bound::At(to),
        },
        ..default_part()
    };
    let mut t = table(vec![int_part(0, 100), int_part(100, 200), default_part()]);
    t.key = KeyColumn {
        name: "id".into(),
        kind: Some(KeyKind::BigInt),
        sql_type: "bigint".into(),
        expr: None,
        granularity: None,
    };
    t.stats.max_key = Some(150);
    let at = "2030-01-01T00:00:00Z"; // the clock does not matter for integer keys
    let c = judge(&p, &t, at);
    assert_eq!(c.status, Status::Warning, "{c:#?}");
    assert_eq!(
        c.findings[0].message,
        "premake = 1: 0 partitions ahead of max(key) = 150, 1 to create"
    );
    assert_eq!(
        c.current_partition.as_deref(),
        Some("events_p100 [100, 200)")
    );
    // The largest key sits in the catch-all, past every partition.
    t.stats.max_key = Some(250);
    t.stats.catch_all_min = Some(250);
    t.stats.catch_all_max = Some(250);
    let c = judge(&p, &t, at);
    assert_eq!(c.status, Status::Critical, "{c:#?}");
    assert_eq!(
        c.findings[0].message,
        "no partition holds the current period [200, 300) (max(key) = 250): inserts for it land in the catch-all"
    );
    assert!(
        c.findings.iter().any(|f| f.message
            == "rows in the catch-all, keys 250 .. 250; 1 pending create moves rows out of it"),
        "{c:#?}"
    );
}

#[test]
fn a_policy_that_does_not_fit_is_critical() {
    let c = judge(
        &policy("hash", "modulus = 4"),
        &table(days("2026-11-21", 3)),
        "2026-11-21T12:00:00Z",
    );
    assert_eq!(c.status, Status::Critical);
    assert!(
        c.findings[0]
            .message
            .starts_with("policy error: the policy at t.toml:3:16 says partition_by = \"hash\""),
        "{c:#?}"
    );
}

#[test]
fn the_worst_status_wins_and_critical_outranks_unknown() {
    assert_eq!(Status::Warning.worst(Status::Ok), Status::Warning);
    assert_eq!(Status::Unknown.worst(Status::Critical), Status::Critical);
    assert_eq!(Status::Critical.worst(Status::Unknown), Status::Critical);
    assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
    let p = policy("range", DAILY);
    let reads = vec![
        TableRead::Found(Box::new(table(days("2026-11-21", 3)))),
        TableRead::Unreadable("boom".into()),
    ];
    let r = assess_all(
        &[&p, &p],
        &reads,
        Some((Engine::Postgres, "16".into())),
        now("2026-11-21T12:00:00Z"),
    );
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.exit_code, 3);
    let text = render(&r, Format::Text);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "UNKNOWN - 1 unknown of 2 tables: public.events: cannot read the table: boom"
    );
}

#[test]
fn prometheus_labels_are_escaped_and_families_declared_once() {
    let mut t = table(days("2026-11-21", 3));
    t.name = QualifiedName::new("public", "ev\"il\\na\nme");
    let p = policy_named("public.ev\\\"il\\\\na\\nme", "range", DAILY);
    let r = assess_all(
        &[&p],
        &[TableRead::Found(Box::new(t))],
        Some((Engine::Postgres, "16".into())),
        now("2026-11-21T12:00:00Z"),
    );
    let text = prometheus(&r);
    assert!(
        text.contains("partctl_check_status{table=\"public.ev\\\"il\\\\na\\nme\"} 0\n"),
        "{text}"
    );
    assert_eq!(text.matches("# TYPE partctl_check_status gauge").count(), 1);
    assert!(text.ends_with(&format!(
        "partctl_check_timestamp_seconds {}\n",
        now("2026-11-21T12:00:00Z").timestamp()
    )));
    assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

#[test]
fn more_partitions_than_the_ceiling_is_a_warning() {
    // 40 days with everything else in place: OK under the default ceiling, WARNING above 30.
    let t = table(days("2026-10-15", 40));
    let c = judge(&policy("range", DAILY), &t, "2026-11-21T12:00:00Z");
    assert_eq!(c.status, Status::Ok, "{c:#?}");
    assert_eq!(c.max_partitions_warn, Some(1000));
    let p = policy("range", &format!("{DAILY}\nmax_partitions_warn = 30"));
    let c = judge(&p, &t, "2026-11-21T12:00:00Z");
    assert_eq!(c.status, Status::Warning, "{c:#?}");
    assert_eq!(
        c.findings[0].message,
        "40 partitions, above max_partitions_warn = 30; set `coarsen` to merge old partitions, a `retain`, or a wider interval"
    );
    // Exactly at the ceiling is fine.
    let p = policy("range", &format!("{DAILY}\nmax_partitions_warn = 40"));
    assert_eq!(judge(&p, &t, "2026-11-21T12:00:00Z").status, Status::Ok);
}

fn conversion_state(phase: crate::convert::Phase) -> crate::convert::State {
    crate::convert::State {
        table: "public.events".into(),
        phase,
        original_schema: "public".into(),
        original_name: "events".into(),
        staging_name: "events_partctl_new".into(),
        unpartitioned_name: "events_unpartitioned".into(),
        last_key: None,
        rows_copied: 1200,
        rows_estimated: Some(5000),
        started_at: "2026-03-10T09:00:00Z".into(),
        updated_at: "2026-03-10T09:30:00Z".into(),
    }
}

/// A conversion stopped before cutover turns the plain table's policy error into a WARNING
/// with its phase and age; a cut-over one not finished is a WARNING too; a finished one nothing.
#[test]
fn a_conversion_left_half_way_is_a_warning_with_its_phase_and_age() {
    use crate::convert::Phase;
    let now = now("2026-03-10T12:00:00Z");
    let refused = TableRead::Refused(
        "the table is not partitioned (create it with PARTITION BY, or convert it online)".into(),
    );
    let policy = policy("range", "interval = \"1 day\"\npremake = 2");
    let meta = Some((Engine::Postgres, "15.4".to_string()));
    let plain = assess_all(
        &[&policy],
        std::slice::from_ref(&refused),
        meta.clone(),
        now,
    );
    assert_eq!(plain.status, Status::Critical);
    let r = assess_with_conversions(
        &[&policy],
        std::slice::from_ref(&refused),
        &[Some(conversion_state(Phase::Copied))],
        meta.clone(),
        now,
    );
    assert_eq!(r.status, Status::Warning, "{r:?}");
    assert_eq!(r.tables[0].findings.len(), 1);
    assert_eq!(
        r.tables[0].findings[0].message,
        "conversion left half-way: phase copied, last progress 2 h 30 min ago (started 2026-03-10T09:00:00Z; 1200 rows copied); `partctl --table public.events convert` resumes it, `partctl --table public.events convert --rollback` abandons it"
    );
    // A state table that cannot be read: a WARNING, not silence.
    let r = assess_all_with(
        &[&policy],
        std::slice::from_ref(&refused),
        &[None],
        Some("permission denied for table convert_state"),
        meta.clone(),
        now,
    );
    assert_eq!(
        r.status,
        Status::Critical,
        "the plain table's own verdict stays"
    );
    assert!(
        r.tables[0].findings.iter().any(|f| {
            f.status == Status::Warning
            && f.message
                == "a conversion's state cannot be read: permission denied for table convert_state"
        }),
        "{:?}",
        r.tables[0].findings
    );
    let mut c = TableCheck::new("public.events".into());
    judge::conversion(&mut c, &conversion_state(Phase::CutOver), now);
    assert_eq!(c.status, Status::Warning);
    assert!(
        c.findings[0]
            .message
            .starts_with("conversion not finished: cut over 2 h 30 min ago; public.events_unpartitioned is still kept in sync"),
        "{:?}",
        c.findings
    );
    let mut c = TableCheck::new("public.events".into());
    judge::conversion(&mut c, &conversion_state(Phase::Finished), now);
    assert_eq!(c.status, Status::Ok);
    assert!(c.findings.is_empty());
}
