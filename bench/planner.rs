//! Planner benchmark: how long planning takes on large catalogs, with no database.
//!
//! `cargo bench --bench planner` measures; under `cargo test` (no `--bench` argument) it runs
//! once on small inputs as a smoke test. Results and the machine go in BENCHMARKS.md.

use chrono::{DateTime, Utc};
use partctl::catalog::{Catalog, Engine, KeyColumn, KeyStats, PartBound, Partition, Table};
use partctl::key::{Bound, KeyKind};
use partctl::names::QualifiedName;
use partctl::plan;
use partctl::policy::{parse_sources, Policy, Strategy};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DAY: i64 = 86_400_000_000;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A daily timestamptz table with `n` partitions ending at today + 4, and a catch-all.
fn table(name: &str, n: i64) -> Table {
    let today = KeyKind::Timestamptz
        .parse("2026-11-21 00:00:00+00")
        .unwrap();
    let first = today + 5 * DAY - n * DAY;
    let mut partitions: Vec<Partition> = (0..n)
        .map(|i| Partition {
            name: QualifiedName::new("public", format!("{name}_{i}")),
            bound: PartBound::Range {
                from: Bound::At(first + i * DAY),
                to: Bound::At(first + (i + 1) * DAY),
            },
            est_rows: 1000,
            bytes: 8192,
            detach_pending: false,
            subpartitions: vec![],
        })
        .collect();
    partitions.push(Partition {
        name: QualifiedName::new("public", format!("{name}_default")),
        bound: PartBound::Default,
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    });
    Table {
        name: QualifiedName::new("public", name),
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

fn policies(names: &[String], retain_days: i64) -> Vec<Policy> {
    let text: String = names
        .iter()
        .map(|n| {
            format!(
                "[[table]]\nname = \"public.{n}\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 30\nretain = \"{retain_days} days\"\ntimezone = \"America/New_York\"\ndefault_partition = true\n\n"
            )
        })
        .collect();
    parse_sources(&[(PathBuf::from("bench.toml"), text)]).unwrap()
}

fn time<F: FnMut() -> usize>(label: &str, iterations: u32, mut f: F) {
    let mut best = Duration::MAX;
    let mut actions = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        actions = f();
        best = best.min(t.elapsed());
    }
    println!(
        "{label:<58} {:>10.3} ms  ({actions} actions)",
        best.as_secs_f64() * 1e3
    );
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (big, tables, per_table, iterations) = if measuring {
        (10_000, 1_000, 100, 20)
    } else {
        (200, 10, 20, 1)
    };

    // One table with many partitions; retention expires most of them.
    let names = vec!["events".to_string()];
    let t = table("events", big);
    let forever = policies(&names, 100_000);
    let keep = policies(&names, 365);
    let expire = policies(&names, 30);
    time(
        &format!("plan_table: {big} daily partitions, nothing expires"),
        iterations,
        || plan::plan_table(&forever[0], &t, now()).unwrap().len(),
    );
    time(
        &format!("plan_table: {big} daily partitions, keep 365 days"),
        iterations,
        || plan::plan_table(&keep[0], &t, now()).unwrap().len(),
    );
    let n = plan::plan_table(&expire[0], &t, now()).unwrap().len();
    assert!(n as i64 >= big - 40, "most partitions expire: {n}");
    time(
        &format!("plan_table: {big} daily partitions, keep 30 days"),
        iterations,
        || plan::plan_table(&expire[0], &t, now()).unwrap().len(),
    );

    // Many tables in one catalog.
    let names: Vec<String> = (0..tables).map(|i| format!("t{i}")).collect();
    let catalog = Catalog {
        format_version: 1,
        engine: Engine::Postgres,
        server_version: "15".into(),
        tables: names.iter().map(|n| table(n, per_table)).collect(),
    };
    let ps = policies(&names, 60);
    let refs: Vec<&Policy> = ps.iter().collect();
    time(
        &format!("plan: {tables} tables x {per_table} partitions, retain 60 days"),
        iterations.min(5),
        || plan::plan(&refs, &catalog, now()).unwrap().len(),
    );
}
