//! Tests of `auto_lists` (planning, naming, the cap, the MySQL 8 refusal) and of retention
//! across foreign keys, without a server.

use super::*;
use crate::catalog::{
    Engine, ForeignKeyRef, KeyColumn, KeyStats, PartBound, Partition, ReferencingRows, WaitingValue,
};
use crate::policy::parse_sources;
use std::path::PathBuf;

fn policies(text: &str) -> Vec<Policy> {
    parse_sources(&[(PathBuf::from("t.toml"), text.to_string())])
        .unwrap_or_else(|e| panic!("bad test policy:\n{text}\n{e}"))
}

fn policy_error(text: &str) -> String {
    parse_sources(&[(PathBuf::from("t.toml"), text.to_string())])
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

const AUTO: &str = r#"
[[table]]
name = "public.ev"
partition_by = "list"
column = "region"
default_partition = true
lists = { ca = ["CA"] }
auto_lists = { min_rows = 100, max_partitions = 4 }
"#;

fn part(name: &str, bound: PartBound) -> Partition {
    Partition {
        name: QualifiedName::new("public", name),
        bound,
        est_rows: 0,
        bytes: 0,
        detach_pending: false,
        subpartitions: vec![],
    }
}

fn list_table(waiting: &[(&str, u64)]) -> Table {
    Table {
        name: QualifiedName::new("public", "ev"),
        strategy: Strategy::List,
        key: KeyColumn {
            name: "region".into(),
            kind: None,
            sql_type: "text".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["id".into(), "region".into()],
        partitions: vec![
            part(
                "ev_ca",
                PartBound::List {
                    values: vec!["CA".into()],
                },
            ),
            part("ev_default", PartBound::Default),
        ],
        stats: KeyStats {
            waiting: waiting
                .iter()
                .map(|(v, n)| WaitingValue {
                    value: v.to_string(),
                    rows: *n,
                })
                .collect(),
            ..KeyStats::default()
        },
        distributed: false,
    }
}

fn created(actions: &[Action]) -> Vec<(String, Vec<ListValue>)> {
    actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::CreateList {
                partition, values, ..
            } => Some((partition.name.clone(), values.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn auto_lists_creates_a_partition_per_value_over_min_rows_up_to_the_cap() {
    let p = &policies(&AUTO.replace("max_partitions = 4", "max_partitions = 5"))[0];
    let long = "x".repeat(70);
    let t = list_table(&[
        ("São Paulo", 900),
        ("US", 500),
        ("!!!", 400),
        (&long, 300),
        ("CA", 250),
        ("DE", 200),
        ("us", 150),
        ("BR", 120),
        ("PL", 110),
        ("FR", 99),
    ]);
    let actions = plan_table(p, &t, chrono::Utc::now()).unwrap();
    assert_eq!(
        created(&actions),
        vec![
            (
                "ev_s_o_paulo".into(),
                vec![ListValue::Str("São Paulo".into())]
            ),
            ("ev_us".into(), vec![ListValue::Str("US".into())]),
            ("ev_de".into(), vec![ListValue::Str("DE".into())]),
            ("ev_br".into(), vec![ListValue::Str("BR".into())]),
        ]
    );
    assert!(actions[0]
        .reason
        .contains(r#"value "São Paulo" has 900 rows waiting in the catch-all (min_rows = 100); list partition 2 of max_partitions = 5"#));
    let auto = auto_lists_of(p, &t).unwrap();
    let refused = auto.refused.join("\n");
    assert!(
        refused.contains(r#"value "!!!" (400 rows"#) && refused.contains("slug is empty"),
        "{refused}"
    );
    assert!(
        refused.contains("is 73 bytes; names are limited to 63"),
        "{refused}"
    );
    assert!(
        refused.contains(r#"value "us" (150 rows"#)
            && refused.contains("`ev_us`, which is already taken"),
        "{refused}"
    );
    // CA has its partition from `lists`; FR is below min_rows; PL finds the cap reached.
    assert_eq!(auto.refused.len(), 3);
    assert_eq!(
        auto.beyond_cap,
        vec![WaitingValue {
            value: "PL".into(),
            rows: 110
        }]
    );
}

#[test]
fn auto_lists_keeps_integer_values_integers_and_uses_the_name_template() {
    let text = AUTO.replace("lists = { ca = [\"CA\"] }\n", "").replace(
        "max_partitions = 4",
        "max_partitions = 4, name = \"{{ table }}_v{{ value }}\"",
    );
    let p = &policies(&text)[0];
    let mut t = list_table(&[("42", 1000)]);
    t.key.kind = Some(crate::key::KeyKind::Int);
    t.partitions.remove(0);
    let actions = plan_table(p, &t, chrono::Utc::now()).unwrap();
    assert_eq!(
        created(&actions),
        vec![("ev_v42".into(), vec![ListValue::Int(42)])]
    );
}

#[test]
fn auto_lists_is_validated() {
    let range = r#"
[[table]]
name = "public.ev"
partition_by = "range"
column = "t"
interval = "1 day"
default_partition = true
auto_lists = { min_rows = 1, max_partitions = 4 }
"#;
    assert!(policy_error(range).contains("only list tables take `auto_lists`; this table is range"));
    let no_default = AUTO.replace("default_partition = true\n", "");
    assert!(policy_error(&no_default).contains("auto_lists: needs `default_partition = true`"));
    let zero = AUTO.replace("min_rows = 100", "min_rows = 0");
    assert!(policy_error(&zero).contains("min_rows must be at least 1"));
    let bad_name = AUTO.replace(
        "max_partitions = 4",
        "max_partitions = 4, name = \"{{ nope }}\"",
    );
    assert!(policy_error(&bad_name).contains("auto_lists: name:"));
    // `lists` may be left out when `auto_lists` is given.
    assert_eq!(
        policies(&AUTO.replace("lists = { ca = [\"CA\"] }\n", "")).len(),
        1
    );
}

#[test]
fn slugs() {
    use crate::name_template::slug;
    assert_eq!(slug("São Paulo"), "s_o_paulo");
    assert_eq!(slug("--US--"), "us");
    assert_eq!(slug("a.b  c"), "a_b_c");
    assert_eq!(slug("!!!"), "");
    assert_eq!(slug("日本"), "");
}

/// MySQL 8 has no DEFAULT list partition for new values to wait in: refused with the reason.
#[test]
fn mysql8_refuses_auto_lists() {
    let p = &policies(AUTO)[0];
    let mut t = list_table(&[]);
    t.name = QualifiedName::new("app", "ev");
    t.partitions.pop();
    let catalog = Catalog {
        format_version: 1,
        engine: Engine::Mysql,
        server_version: "8.0.36".into(),
        tables: vec![t],
    };
    let p = Policy {
        table: crate::names::TableRef {
            schema: Some("app".into()),
            name: "ev".into(),
        },
        ..p.clone()
    };
    let e = crate::render::plan_steps(&[&p], &catalog, chrono::Utc::now()).unwrap_err();
    insta::assert_snapshot!(e.to_string(), @"app.ev: t.toml:8:14: auto_lists needs a DEFAULT list partition for new values to wait in, and MySQL 8 has none (MariaDB 10.2+ has); remove auto_lists, or list the values in `lists`");
}

// ---------------------------------------------------------------------------------------------
// Foreign keys.

const DAY: i64 = 86_400_000_000;

fn monthly(name: &str, on_expire: &str) -> String {
    format!(
        "[[table]]\nname = \"{name}\"\npartition_by = \"range\"\ncolumn = \"created\"\ninterval = \"1 day\"\npremake = 0\nretain = \"1 day\"\non_expire = \"{on_expire}\"\n"
    )
}

/// A table with daily partitions for days 0 and 1 (coordinates in days since the epoch).
fn daily(name: &str) -> Table {
    let at = |d: i64| crate::key::Bound::At(d * DAY);
    Table {
        name: QualifiedName::new("public", name),
        strategy: Strategy::Range,
        key: KeyColumn {
            name: "created".into(),
            kind: Some(crate::key::KeyKind::Timestamp),
            sql_type: "timestamp without time zone".into(),
            expr: None,
            granularity: None,
        },
        columns: vec!["created".into()],
        partitions: vec![
            part(
                &format!("{name}_d0"),
                PartBound::Range {
                    from: at(0),
                    to: at(1),
                },
            ),
            part(
                &format!("{name}_d1"),
                PartBound::Range {
                    from: at(1),
                    to: at(2),
                },
            ),
        ],
        stats: KeyStats::default(),
        distributed: false,
    }
}

fn fk(leaf: &str, rows: &[(i64, u64)], truncated: bool) -> ForeignKeyRef {
    ForeignKeyRef {
        constraint: "child_fk".into(),
        table: QualifiedName::new("public", "child"),
        column: "parent_created".into(),
        oldest: rows
            .iter()
            .map(|(k, n)| ReferencingRows {
                key: *k,
                leaf: QualifiedName::new("public", leaf),
                rows: *n,
            })
            .collect(),
        truncated,
    }
}

fn judge_on(text: &str, referencing: ForeignKeyRef) -> foreign_keys::FkJudgement {
    let ps = policies(text);
    let refs: Vec<&Policy> = ps.iter().collect();
    let mut parent = daily("parent");
    parent.stats.referenced_by.push(referencing);
    let catalog = Catalog {
        format_version: 1,
        engine: Engine::Postgres,
        server_version: "15".into(),
        tables: vec![parent, daily("child")],
    };
    let now = chrono::DateTime::from_timestamp_micros(2 * DAY + DAY / 2).unwrap();
    foreign_keys::judge(&refs, &catalog, now)
}

#[test]
fn fk_referencing_partitions_dropped_first_order_the_plan() {
    let text = monthly("public.parent", "drop") + &monthly("public.child", "drop");
    let j = judge_on(&text, fk("child_d0", &[(DAY / 2, 3)], false));
    assert_eq!(j.order, vec![1, 0], "the child first");
    assert!(j.refused.is_empty(), "{j:?}");
    assert_eq!(j.notes.len(), 2);
    assert!(j.notes[0]
        .2
        .starts_with("after public.child_d0 (foreign key child_fk"));
}

#[test]
fn fk_rows_left_behind_refuse_the_expiry() {
    // Only the parent is managed.
    let j = judge_on(
        &monthly("public.parent", "drop"),
        fk("child_d0", &[(DAY / 2, 3)], false),
    );
    assert_eq!(j.refused.len(), 1);
    assert!(j.refused[0].2.contains("3 rows of public.child still reference it through foreign key child_fk (public.child.parent_created)"), "{}", j.refused[0].2);
    // The child detaches: its detached partition keeps the constraint.
    let text = monthly("public.parent", "drop") + &monthly("public.child", "detach");
    let j = judge_on(&text, fk("child_d0", &[(DAY / 2, 1)], false));
    assert!(j.refused[0]
        .2
        .contains("a detached partition keeps its own copy of the constraint"));
    // A sample that ends inside the partition: more rows may follow.
    let text = monthly("public.parent", "drop") + &monthly("public.child", "drop");
    let j = judge_on(&text, fk("child_d0", &[(DAY / 2, 10_000)], true));
    assert!(
        j.refused[0].2.contains("more than 0 rows"),
        "{:?}",
        j.refused
    );
    // Rows referencing only the partition that stays: nothing to say.
    let j = judge_on(
        &monthly("public.parent", "drop"),
        fk("child_d1", &[(DAY + 1, 3)], false),
    );
    assert!(j.refused.is_empty() && j.notes.is_empty());
}

/// Coarsening a referenced table would detach partitions whose rows are referenced: refused
/// at plan time, naming the constraint; without referencing rows in the period it is planned.
#[test]
fn fk_refuses_coarsening_referenced_partitions() {
    let text = "[[table]]\nname = \"public.parent\"\npartition_by = \"range\"\ncolumn = \"created\"\ninterval = \"1 day\"\npremake = 0\ncoarsen = [{ after = \"7 days\", interval = \"1 month\" }]\n";
    let ps = policies(text);
    let refs: Vec<&Policy> = ps.iter().collect();
    let catalog = |referencing: ForeignKeyRef| {
        let mut parent = daily("parent");
        parent.stats.referenced_by.push(referencing);
        Catalog {
            format_version: 1,
            engine: Engine::Postgres,
            server_version: "15".into(),
            tables: vec![parent],
        }
    };
    // Day 45: January 1970 (days 0 and 1 here) ended more than 7 days ago.
    let now = chrono::DateTime::from_timestamp_micros(45 * DAY).unwrap();
    let coarsens = |c: &Catalog| -> usize {
        let mut actions = crate::plan::plan_table(refs[0], &c.tables[0], now).unwrap();
        foreign_keys::judge(&refs, c, now).adjust(&mut actions);
        actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Coarsen { .. }))
            .count()
    };
    let referenced = catalog(fk("child_d0", &[(DAY + DAY / 2, 2)], false));
    let j = foreign_keys::judge(&refs, &referenced, now);
    assert_eq!(j.refused.len(), 1, "{j:?}");
    insta::assert_snapshot!(j.refused[0].2, @"coarsening the 31 partitions [1970-01-01 00:00:00, 1970-02-01 00:00:00) into public.parent_p197001 is refused: 2 rows of public.child still reference them through foreign key child_fk (public.child.parent_created), and PostgreSQL refuses to detach a referenced partition (the merge detaches the fine partitions before it attaches public.parent_p197001); remove `coarsen` from this policy, or drop the constraint");
    assert_eq!(coarsens(&referenced), 0);
    // Referencing rows outside January: the merge goes ahead.
    let elsewhere = catalog(fk("child_d0", &[(40 * DAY, 2)], false));
    assert!(foreign_keys::judge(&refs, &elsewhere, now)
        .refused
        .is_empty());
    assert_eq!(coarsens(&elsewhere), 1);
}
