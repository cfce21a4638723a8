//! The MySQL 8 and MariaDB `convert` statements, rendered without a server (MySQL 8 is not run
//! in the test suite: these snapshots are what it would be sent). The context is the one
//! `Conv::ctx` builds, for `app.events` keyed by `id`, partitioned by `created_at`.

use super::{Names, FORWARD_TRIGGER, REVERSE_TRIGGER};
use crate::policy::{parse_sources, Policy};
use crate::render::mysql::{MARIADB, MYSQL};
use crate::render::{Dialect, NameCtx, Templates};
use std::path::PathBuf;
use tera::Context;

fn policy() -> Policy {
    parse_sources(&[(
        PathBuf::from("t.toml"),
        "[[table]]\nname = \"app.events\"\npartition_by = 'range'\ncolumn = 'created_at'\ninterval = '1 day'\nlock_timeout = '1500ms'\n".into(),
    )])
    .unwrap()
    .remove(0)
}

fn ctx(n: &Names, policy: &Policy, dialect: &dyn Dialect) -> Context {
    let mut c = Context::new();
    c.insert("table", &NameCtx::from(&n.table));
    c.insert("staging", &NameCtx::from(&n.staging));
    c.insert("unpartitioned", &NameCtx::from(&n.unpartitioned));
    c.insert("table_name", &n.label);
    c.insert("marker", &n.marker());
    c.insert("key", &policy.column);
    c.insert("forward_trigger", FORWARD_TRIGGER);
    c.insert("reverse_trigger", REVERSE_TRIGGER);
    c.insert("forward_function", &NameCtx::from(&n.forward));
    c.insert("reverse_function", &NameCtx::from(&n.reverse));
    c.insert("row_key", &["id"]);
    c.insert("columns", &["id", "created_at", "payload"]);
    dialect.convert_context(policy, &mut c);
    c
}

/// Every phase's statements, in order, under a heading per part.
fn render_all(dialect: &'static dyn Dialect) -> String {
    let policy = policy();
    let n = Names::new("app", "events");
    let t = Templates::from_list(dialect, dialect.convert_templates());
    let mut out = String::new();
    let mut section = |title: &str, template: &str, c: &Context| {
        out.push_str(&format!("-- {title}\n"));
        let text = t.text(template, c).unwrap();
        let stmts = crate::render::split_statements(&text)
            .map(|s| s.0.into_iter().map(|s| s.sql).collect::<Vec<_>>())
            .unwrap_or_else(|_| vec![text.trim().to_string()]);
        for s in stmts {
            out.push_str(&s);
            out.push_str(";\n");
        }
    };
    let base = ctx(&n, &policy, dialect);
    let mut c = base.clone();
    c.insert("part", "begin");
    c.insert("original", &NameCtx::from(&n.table));
    c.insert("rows_estimated", &Some(1000));
    section("prepare: state", "convert_state.sql.tera", &c);
    let mut c = base.clone();
    c.insert("primary", &true);
    c.insert("row_key", &["id", "created_at"]);
    c.insert("row_key_index", "PRIMARY");
    c.insert("extended", &true);
    c.insert(
        "indexes",
        &[
            serde_json::json!({"name": "events_ref", "unique": true, "method": "BTREE",
            "keys": ["ref", "`created_at`"], "include": [], "columns": ["ref"], "predicate": null}),
        ],
    );
    section("prepare: the new table", "convert_prepare.sql.tera", &c);
    let mut c = base.clone();
    c.insert("function", &NameCtx::from(&n.forward));
    c.insert("trigger", FORWARD_TRIGGER);
    c.insert("source", &NameCtx::from(&n.table));
    c.insert("target", &NameCtx::from(&n.staging));
    c.insert("conflict", &["id", "created_at"]);
    section("prepare: forward triggers", "convert_trigger.sql.tera", &c);
    let last = serde_json::json!([{"value": "1000", "type": "bigint(20) unsigned"}]);
    let cut = serde_json::json!([{"value": "2000", "type": "bigint(20) unsigned"}]);
    let mut c = base.clone();
    c.insert("offset", &999);
    c.insert("last", &last);
    c.insert("part", "cut");
    section("copy: the batch's last key", "convert_copy.sql.tera", &c);
    c.insert("cut", &cut);
    c.insert("part", "copy");
    section("copy: the batch", "convert_copy.sql.tera", &c);
    c.insert("part", "save");
    c.insert("rows", &1000);
    c.insert("cut_json", "[\"2000\"]");
    section("copy: where it stands", "convert_copy.sql.tera", &c);
    c.insert("part", "compare");
    section("verify: one batch", "convert_verify.sql.tera", &c);
    let mut c = base.clone();
    c.insert("first", &NameCtx::from(&n.table));
    c.insert("second", &NameCtx::from(&n.staging));
    c.insert("first_to", &NameCtx::from(&n.unpartitioned));
    c.insert("second_to", &NameCtx::from(&n.table));
    c.insert("triggers_off", &NameCtx::from(&n.forward));
    c.insert("swap_id", &42);
    for part in ["lock", "off", "swap", "waiting", "unlock"] {
        c.insert("part", part);
        section(&format!("cutover: {part}"), "convert_cutover.sql.tera", &c);
    }
    let mut c = base.clone();
    c.insert("drop_original", &true);
    section("finish --drop-original", "convert_finish.sql.tera", &c);
    let mut c = base;
    c.insert("cut_over", &false);
    section("rollback before cutover", "convert_rollback.sql.tera", &c);
    out
}

#[test]
fn mysql8_convert_statements() {
    insta::assert_snapshot!(render_all(&MYSQL));
}

#[test]
fn mariadb_convert_statements() {
    insta::assert_snapshot!(render_all(&MARIADB));
}
