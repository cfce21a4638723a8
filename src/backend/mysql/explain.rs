//! EXPLAIN on MySQL/MariaDB for `verify`: `EXPLAIN FORMAT=JSON` of a prepared statement (one
//! statement only; MySQL has no generic plans, so `$n` become `?` bound to the values), never
//! executed, inside a READ ONLY transaction that is rolled back.

use super::{error_text, Flavor};
use crate::backend::script_statements;
use crate::explain::{part, text_of, ExplainError, Query, Touched};
use crate::names::QualifiedName;
use crate::policy::ListValue;
use crate::render::Templates;
use crate::sql;
use mysql::prelude::Queryable;
use std::collections::BTreeSet;
use tera::Context;

/// EXPLAIN one query as a prepared statement inside a READ ONLY transaction that is rolled
/// back, and count the partitions its plan reads.
pub fn explain(
    conn: &mut mysql::Conn,
    flavor: Flavor,
    t: &Templates,
    q: &Query,
) -> Result<Touched, ExplainError> {
    let text = q.statement()?;
    let secs = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
    let mut begin = part("begin");
    begin.insert("flavor", flavor.as_str());
    begin.insert("lock_wait_seconds", &secs(q.policy.lock_timeout));
    begin.insert("statement_seconds", &secs(q.policy.statement_timeout));
    begin.insert(
        "statement_ms",
        &(q.policy.statement_timeout.as_millis().max(1) as u64),
    );
    let begin = text_of(t, "verify.sql.tera", &begin)?;

    // MySQL has no generic plans: `$n` become `?`, bound to the values when EXPLAINed.
    let (text_q, order) = sql::dollar_to_question(text);
    let values: Vec<mysql::Value> = order
        .iter()
        .map(|n| match n.checked_sub(1).and_then(|i| q.params.get(i)) {
            Some(ListValue::Int(i)) => Ok(mysql::Value::Int(*i)),
            Some(ListValue::Str(s)) => Ok(mysql::Value::Bytes(s.clone().into_bytes())),
            None => Err(ExplainError(format!(
                "placeholder ${n} has no value in `params`"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let mut explain = part("explain");
    explain.insert("sql", &text_q);
    let result = text_of(t, "verify.sql.tera", &explain).and_then(|stmt| {
        for s in script_statements(&begin) {
            conn.query_drop(s).map_err(|e| ExplainError(error_text(&e)))?;
        }
        // A prepared statement: one statement only.
        conn.exec_first::<String, _, _>(stmt, values)
            .map_err(|e| ExplainError(match &e {
                mysql::Error::MySqlError(me) if me.code == 1792 => format!(
                    "{}; {} refuses to EXPLAIN a data-changing statement in a READ ONLY transaction: write the assertion as a SELECT with the same WHERE",
                    error_text(&e),
                    flavor.product()
                ),
                _ => error_text(&e),
            }))
    });
    let cleanup = conn
        .query_drop(text_of(t, "verify.sql.tera", &part("end"))?)
        .map_err(|e| ExplainError(error_text(&e)));
    let json = result?.ok_or(ExplainError::from("EXPLAIN returned no rows"))?;
    cleanup?;

    let plan = crate::explain::mysql(&json)?;
    my_count(conn, t, text, &plan, q.own)
}

fn my_count(
    conn: &mut mysql::Conn,
    t: &Templates,
    text: &str,
    plan: &crate::explain::MyPlan,
    own: Option<&QualifiedName>,
) -> Result<Touched, ExplainError> {
    let current: Option<String> = conn
        .query_first("SELECT DATABASE()")
        .map_err(|e| error_text(&e))?
        .flatten();
    let named = sql::table_names(text);
    let mut touched = Touched::default();
    // EXPLAIN shows aliases; the SQL tells which table each stands for.
    let mut tables: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for a in &plan.accesses {
        let found = named.iter().find(|n| n.shown_as() == a.table);
        let key = match found {
            Some(n) => {
                let schema = n.schema.clone().or_else(|| current.clone());
                tables.insert((n.schema.clone(), n.name.clone()));
                match schema {
                    Some(s) => format!("{s}.{}", n.name),
                    None => n.name.clone(),
                }
            }
            None => {
                touched.notes.push(format!(
                    "cannot tell which table `{}` in the plan is; its partitions are not in the total",
                    a.table
                ));
                a.table.clone()
            }
        };
        touched
            .by_table
            .entry(key)
            .or_default()
            .extend(a.partitions.iter().cloned());
    }
    if let Some(o) = own {
        tables.insert((Some(o.schema.clone()), o.name.clone()));
    }
    // A table named twice (once qualified) is counted once.
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut list: Vec<(Option<String>, String)> = Vec::new();
    for (s, n) in tables {
        let key = (
            s.clone().or_else(|| current.clone()).unwrap_or_default(),
            n.clone(),
        );
        if seen.insert(key) {
            list.push((s, n));
        }
    }
    if !list.is_empty() {
        let mut ctx = Context::new();
        ctx.insert("count", &list.len());
        let stmt = text_of(t, "verify_totals.sql.tera", &ctx)?;
        let mut params: Vec<mysql::Value> = Vec::new();
        for (s, n) in &list {
            params.push(s.clone().into());
            params.push(n.clone().into());
        }
        let rows: Vec<(String, String, i64)> =
            conn.exec(stmt, params).map_err(|e| error_text(&e))?;
        touched.total = rows.iter().map(|r| r.2.max(0) as u32).sum();
    }
    for m in &plan.messages {
        touched.notes.push(format!("EXPLAIN says: {m}"));
        if m.contains("const table") {
            touched.const_lookup = true;
        }
    }
    Ok(touched)
}
