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
use std::collections::{BTreeMap, BTreeSet};
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
    let begin = begin_script(flavor, t, q)?;
    let result = explain_in(conn, flavor, t, q, text, &begin);
    let cleanup = conn
        .query_drop(text_of(t, "verify.sql.tera", &part("end"))?)
        .map_err(|e| ExplainError(error_text(&e)));
    let json = result?.ok_or(ExplainError::from("EXPLAIN returned no rows"))?;
    cleanup?;

    let plan = crate::explain::mysql(&json)?;
    my_count(conn, t, text, &plan, q.own)
}

/// The session settings and the START TRANSACTION READ ONLY a query is EXPLAINed under.
fn begin_script(flavor: Flavor, t: &Templates, q: &Query) -> Result<String, ExplainError> {
    let secs = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
    let mut begin = part("begin");
    begin.insert("flavor", flavor.as_str());
    begin.insert("lock_wait_seconds", &secs(q.policy.lock_timeout));
    begin.insert("statement_seconds", &secs(q.policy.statement_timeout));
    begin.insert(
        "statement_ms",
        &(q.policy.statement_timeout.as_millis().max(1) as u64),
    );
    text_of(t, "verify.sql.tera", &begin)
}

/// Run `begin` (when not empty), then EXPLAIN the query: its JSON plan.
fn explain_in(
    conn: &mut mysql::Conn,
    flavor: Flavor,
    t: &Templates,
    q: &Query,
    text: &str,
    begin: &str,
) -> Result<Option<String>, ExplainError> {
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
    text_of(t, "verify.sql.tera", &explain).and_then(|stmt| {
        for s in script_statements(begin) {
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
    })
}

/// How many EXPLAINs one READ ONLY transaction holds before it is ended (and its metadata
/// locks released).
const BATCH_QUERIES: usize = 32;

/// A table a plan reads, as the SQL names it: (schema if written, name).
type Named = (Option<String>, String);

/// EXPLAIN every query in ONE READ ONLY transaction (begun again only when the session
/// settings change or after a query's error), then read the current database once and the
/// partition counts of every table involved in one lookup: 2 round trips per batch instead of
/// 2 per query, and one SET/START/ROLLBACK instead of one per query.
pub fn explain_all(
    conn: &mut mysql::Conn,
    flavor: Flavor,
    t: &Templates,
    queries: &[Query],
) -> Vec<Result<Touched, ExplainError>> {
    let mut open: Option<String> = None;
    let end = text_of(t, "verify.sql.tera", &part("end"));
    let rollback = |conn: &mut mysql::Conn| -> Result<(), ExplainError> {
        conn.query_drop(end.clone()?)
            .map_err(|e| ExplainError(error_text(&e)))
    };
    let mut plans: Vec<Result<crate::explain::MyPlan, ExplainError>> = Vec::new();
    // Queries EXPLAINed in the open transaction: ended every BATCH_QUERIES, so that the
    // metadata locks it holds do not hold back DDL for the whole run.
    let mut in_open = 0usize;
    for q in queries {
        if open.is_none() {
            in_open = 0;
        }
        if in_open >= BATCH_QUERIES && open.take().is_some() {
            in_open = 0;
            if let Err(e) = rollback(conn) {
                plans.push(Err(e));
                continue;
            }
        }
        in_open += 1;
        let plan = (|| {
            let text = q.statement()?;
            let begin = begin_script(flavor, t, q)?;
            let begin = if open.as_deref() == Some(begin.as_str()) {
                String::new()
            } else {
                if open.take().is_some() {
                    rollback(conn)?;
                }
                begin
            };
            let fresh = !begin.is_empty();
            let result = explain_in(conn, flavor, t, q, text, &begin);
            match &result {
                // After an error the transaction is begun again, in case it ended.
                Err(_) => {
                    if fresh || open.is_some() {
                        open = None;
                        let _ = rollback(conn);
                    }
                }
                Ok(_) if fresh => open = Some(begin_script(flavor, t, q)?),
                Ok(_) => {}
            }
            let json = result?.ok_or(ExplainError::from("EXPLAIN returned no rows"))?;
            crate::explain::mysql(&json)
        })();
        plans.push(plan);
    }
    let counted = count_all(conn, t, &plans, queries);
    let closed = match open {
        Some(_) => rollback(conn),
        None => Ok(()),
    };
    let (current, totals) = match counted.and_then(|c| closed.map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            return plans
                .into_iter()
                .map(|p| p.and_then(|_| Err(e.clone())))
                .collect()
        }
    };
    plans
        .into_iter()
        .zip(queries)
        .map(|(plan, q)| {
            let plan = plan?;
            let text = q.statement().unwrap_or(q.sql);
            let (mut touched, list) = accesses(&plan, text, q.own, &current);
            touched.total = list
                .iter()
                .filter_map(|(s, n)| {
                    let s = s.clone().or_else(|| current.clone())?;
                    totals.get(&(s.clone(), n.clone())).or_else(|| {
                        totals.iter().find_map(|((ts, tn), c)| {
                            (ts.eq_ignore_ascii_case(&s) && tn.eq_ignore_ascii_case(n)).then_some(c)
                        })
                    })
                })
                .map(|c| (*c).max(0) as u32)
                .sum();
            messages(&plan, &mut touched);
            Ok(touched)
        })
        .collect()
}

/// The current database, and the partition count of every table the plans involve, keyed by
/// (database, table): one lookup each.
#[allow(clippy::type_complexity)]
fn count_all(
    conn: &mut mysql::Conn,
    t: &Templates,
    plans: &[Result<crate::explain::MyPlan, ExplainError>],
    queries: &[Query],
) -> Result<(Option<String>, BTreeMap<(String, String), i64>), ExplainError> {
    let mut totals = BTreeMap::new();
    if plans.iter().all(|p| p.is_err()) {
        return Ok((None, totals));
    }
    let current: Option<String> = conn
        .query_first("SELECT DATABASE()")
        .map_err(|e| error_text(&e))?
        .flatten();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut list: Vec<Named> = Vec::new();
    for (p, q) in plans.iter().zip(queries) {
        let Ok(p) = p else { continue };
        for (s, n) in accesses(p, q.statement().unwrap_or(q.sql), q.own, &current).1 {
            let key = (
                s.clone().or_else(|| current.clone()).unwrap_or_default(),
                n.clone(),
            );
            if seen.insert(key) {
                list.push((s, n));
            }
        }
    }
    if !list.is_empty() {
        for (s, n, c) in totals_of(conn, t, &list)? {
            totals.insert((s, n), c);
        }
    }
    Ok((current, totals))
}

/// How many partitions each listed table has.
fn totals_of(
    conn: &mut mysql::Conn,
    t: &Templates,
    list: &[Named],
) -> Result<Vec<(String, String, i64)>, ExplainError> {
    let mut ctx = Context::new();
    ctx.insert("count", &list.len());
    let stmt = text_of(t, "verify_totals.sql.tera", &ctx)?;
    let mut params: Vec<mysql::Value> = Vec::new();
    for (s, n) in list {
        params.push(s.clone().into());
        params.push(n.clone().into());
    }
    Ok(conn.exec(stmt, params).map_err(|e| error_text(&e))?)
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
    let (mut touched, list) = accesses(plan, text, own, &current);
    if !list.is_empty() {
        let rows = totals_of(conn, t, &list)?;
        touched.total = rows.iter().map(|r| r.2.max(0) as u32).sum();
    }
    messages(plan, &mut touched);
    Ok(touched)
}

/// The partitions a plan reads per table, and the tables to count the partitions of (each
/// once, the query's own table included).
fn accesses(
    plan: &crate::explain::MyPlan,
    text: &str,
    own: Option<&QualifiedName>,
    current: &Option<String>,
) -> (Touched, Vec<Named>) {
    let named = sql::table_names(text);
    let mut touched = Touched::default();
    // EXPLAIN shows aliases; the SQL tells which table each stands for.
    let mut tables: BTreeSet<Named> = BTreeSet::new();
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
    let mut list: Vec<Named> = Vec::new();
    for (s, n) in tables {
        let key = (
            s.clone().or_else(|| current.clone()).unwrap_or_default(),
            n.clone(),
        );
        if seen.insert(key) {
            list.push((s, n));
        }
    }
    (touched, list)
}

/// What EXPLAIN said besides the partitions.
fn messages(plan: &crate::explain::MyPlan, touched: &mut Touched) {
    for m in &plan.messages {
        touched.notes.push(format!("EXPLAIN says: {m}"));
        if m.contains("const table") {
            touched.const_lookup = true;
        }
    }
}
