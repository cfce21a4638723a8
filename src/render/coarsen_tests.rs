//! Rendered SQL of a coarsening step, for PostgreSQL, MariaDB and MySQL 8 (snapshots), with
//! names that need quoting.

use super::{mysql, postgres, Dialect, Templates};
use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition, Table};
use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::plan::{Action, ActionKind, CoarsePart};
use crate::policy::{parse_sources, Policy, Strategy};
use crate::render::test_now;
use std::path::PathBuf;

fn policy(name: &str) -> Policy {
    parse_sources(&[(
        PathBuf::from("t.toml"),
        format!("[[table]]\nname = '{name}'\npartition_by = 'range'\ncolumn = 'Day'\ninterval = '1 day'\nlock_timeout = '1500ms'\ncoarsen = [{{ after = '90 days', interval = '1 month' }}]\n"),
    )])
    .unwrap()
    .remove(0)
}

fn day(s: &str) -> Bound {
    Bound::At(KeyKind::Date.parse(s).unwrap())
}

/// Three days of a table in `schema`, merged into one partition.
fn case(schema: &str, expr: Option<&str>) -> (Table, Action) {
    let name = QualifiedName::new(schema, "Ev\"en`t's");
    let days = [
        ("2026-01-01", "2026-01-02"),
        ("2026-01-02", "2026-01-03"),
        ("2026-01-03", "2026-01-04"),
    ];
    let parts: Vec<CoarsePart> = days
        .iter()
        .map(|(f, t)| CoarsePart {
            partition: QualifiedName::new(schema, format!("ev_p{}", f.replace('-', ""))),
            from: day(f),
            to: day(t),
        })
        .collect();
    let table = Table {
        name: name.clone(),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "Day".into(),
            kind: Some(KeyKind::Date),
            sql_type: "date".into(),
            expr: expr.map(|e| serde_json::from_value(serde_json::json!(e)).unwrap()),
            granularity: None,
        },
        columns: vec!["id".into(), "Day".into(), "no\"te".into()],
        partitions: parts
            .iter()
            .map(|p| Partition {
                name: p.partition.clone(),
                bound: PartBound::Range {
                    from: p.from,
                    to: p.to,
                },
                est_rows: 5,
                bytes: 8192,
                detach_pending: false,
                subpartitions: vec![],
            })
            .collect(),
        stats: KeyStats::default(),
        distributed: false,
    };
    let action = Action {
        table: name,
        kind: ActionKind::Coarsen {
            partition: QualifiedName::new(schema, "ev_p202601"),
            from: day("2026-01-01"),
            to: day("2026-01-04"),
            parts,
        },
        reason: "test".into(),
    };
    (table, action)
}

fn render(d: &'static dyn Dialect, table: &Table, action: &Action) -> String {
    let steps = d
        .render(
            &Templates::new(d),
            action,
            table,
            &policy("app.t"),
            test_now(),
            &[],
        )
        .unwrap();
    assert_eq!(steps.len(), 1);
    let s = &steps[0];
    assert_eq!(s.action, "coarsen");
    format!(
        "id: {}\nlock: {}\ntransaction: {}\n\n{}",
        s.id,
        s.lock,
        s.transactional,
        s.script()
    )
}

#[test]
fn postgres_coarsen_copies_checks_then_swaps_in_one_transaction() {
    let (t, a) = case("Sales", None);
    let sql = render(&postgres::POSTGRES, &t, &a);
    // The swap runs after the comparison, and nothing is dropped before it.
    let compare = sql.find("-- compare").unwrap();
    let first_drop = sql.find("DROP TABLE").unwrap();
    assert!(compare < first_drop);
    insta::assert_snapshot!(sql);
}

#[test]
fn mariadb_coarsen_is_one_reorganize() {
    let (t, a) = case("app", Some("to_days"));
    insta::assert_snapshot!(render(&mysql::MARIADB, &t, &a));
}

#[test]
fn mysql8_coarsen_is_one_reorganize_with_its_online_clause() {
    let (t, a) = case("app", Some("to_days"));
    let sql = render(&mysql::MYSQL, &t, &a);
    assert!(sql.contains("ALGORITHM=INPLACE, LOCK=SHARED"), "{sql}");
    insta::assert_snapshot!(sql);
}
