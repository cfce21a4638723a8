//! Running EXPLAIN on a live server and counting the leaf partitions the plan touches.
//!
//! Nothing here executes the query being verified: it is only ever EXPLAINed (never ANALYZE),
//! sent as one statement through the extended/prepared protocol (so a second statement smuggled
//! after a `;` is refused by the server), inside a READ ONLY transaction that is rolled back.

use super::explain::{self, Relation};
use super::sql;
use super::templates::{VerifyTemplates, PG_RELATIONS, PG_TOTALS};
use crate::catalog::Engine;
use crate::db::error_text;
use crate::names::QualifiedName;
use crate::ops::Conn;
use crate::policy::{ListValue, Policy};
use std::collections::{BTreeMap, BTreeSet};
use tera::Context;

/// The partitions a plan touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Leaf partitions per partitioned table (`schema.table`).
    pub by_table: BTreeMap<String, BTreeSet<String>>,
    /// Leaf partitions of the tables involved (those touched, and the assertion's own table).
    pub total: u32,
    pub notes: Vec<String>,
    /// MySQL/MariaDB looked a unique key up while planning ("... const table ..."): a plan
    /// that touches nothing then still reads at most one partition.
    pub const_lookup: bool,
}

impl Touched {
    pub fn count(&self) -> u32 {
        self.by_table.values().map(|s| s.len() as u32).sum()
    }
}

/// What to EXPLAIN.
pub struct Query<'a> {
    /// The SQL, templates already rendered.
    pub sql: &'a str,
    pub params: &'a [ListValue],
    /// The table the assertion or probe belongs to (counted in the total even when pruned away).
    pub own: Option<&'a QualifiedName>,
    /// For the lock and statement timeouts.
    pub policy: &'a Policy,
}

/// A connection, seen by verify.
pub enum Session<'c> {
    Pg(&'c mut postgres::Client),
    My(&'c mut mysql::Conn, Engine),
}

impl<'c> Session<'c> {
    pub fn new(conn: &'c mut Conn) -> Session<'c> {
        match conn {
            Conn::Postgres(c) => Session::Pg(c),
            Conn::MySql(c, server) => Session::My(c, server.engine),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Session::Pg(_) => Engine::Postgres,
            Session::My(_, e) => *e,
        }
    }

    /// EXPLAIN the query and count what it touches. `Err` means it could not be EXPLAINed.
    pub fn explain(&mut self, t: &VerifyTemplates, q: &Query) -> Result<Touched, String> {
        let text = sql::single_statement(q.sql)?;
        let wanted = sql::max_param(text);
        if wanted != q.params.len() {
            return Err(if q.params.is_empty() {
                format!("the SQL uses placeholders up to ${wanted}; give their values in `params = [...]`")
            } else {
                format!(
                    "`params` has {} value{} but the SQL uses placeholders up to ${wanted}",
                    q.params.len(),
                    if q.params.len() == 1 { "" } else { "s" }
                )
            });
        }
        match self {
            Session::Pg(c) => pg_explain(c, t, text, q),
            Session::My(c, engine) => my_explain(c, *engine, t, text, q),
        }
    }
}

const STATEMENT_NAME: &str = "partctl_verify";

fn millis(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

fn part(name: &str) -> Context {
    let mut c = Context::new();
    c.insert("part", name);
    c
}

fn pg_explain(
    client: &mut postgres::Client,
    t: &VerifyTemplates,
    text: &str,
    q: &Query,
) -> Result<Touched, String> {
    let generic = !q.params.is_empty();
    let mut begin = part("begin");
    begin.insert("lock_timeout", &millis(q.policy.lock_timeout));
    begin.insert("statement_timeout", &millis(q.policy.statement_timeout));
    begin.insert("generic", &generic);
    let begin = t.text("verify.sql.tera", &begin)?;

    let mut prepared = false;
    let result = (|| -> Result<String, String> {
        client.batch_execute(&begin).map_err(|e| error_text(&e))?;
        let mut explain = part("explain");
        if generic {
            let mut prep = part("prepare");
            prep.insert("name", STATEMENT_NAME);
            prep.insert("sql", text);
            // One statement, extended protocol: the server refuses a second one.
            client
                .execute(&t.text("verify.sql.tera", &prep)?, &[])
                .map_err(|e| error_text(&e))?;
            prepared = true;
            explain.insert("name", STATEMENT_NAME);
            explain.insert("params", q.params);
        } else {
            explain.insert("sql", text);
        }
        let rows = client
            .query(&t.text("verify.sql.tera", &explain)?, &[])
            .map_err(|e| error_text(&e))?;
        let row = rows.first().ok_or("EXPLAIN returned no rows")?;
        let v: serde_json::Value = row.try_get(0).map_err(|e| error_text(&e))?;
        Ok(v.to_string())
    })();

    let mut end = part("end");
    if prepared {
        end.insert("name", STATEMENT_NAME);
    }
    let end = t.text("verify.sql.tera", &end)?;
    let cleanup = client.batch_execute(&end).map_err(|e| error_text(&e));
    let json = result?;
    cleanup?;

    let plan = explain::postgres(&json)?;
    pg_count(client, &plan, q.own)
}

/// Map the relations a plan reads to leaf partitions of their top-most tables, and count.
fn pg_count(
    client: &mut postgres::Client,
    plan: &explain::PgPlan,
    own: Option<&QualifiedName>,
) -> Result<Touched, String> {
    let rels: Vec<&Relation> = plan.relations.iter().collect();
    let schemas: Vec<String> = rels
        .iter()
        .map(|r| r.schema.clone().unwrap_or_default())
        .collect();
    let names: Vec<String> = rels.iter().map(|r| r.name.clone()).collect();
    let mut touched = Touched::default();
    let mut roots: BTreeSet<(String, String)> = BTreeSet::new();
    if !rels.is_empty() {
        for row in client
            .query(PG_RELATIONS, &[&schemas, &names])
            .map_err(|e| error_text(&e))?
        {
            let leaf: String = row.get("rel_name");
            let root = (
                row.get::<_, String>("root_schema"),
                row.get::<_, String>("root_name"),
            );
            touched
                .by_table
                .entry(format!("{}.{}", root.0, root.1))
                .or_default()
                .insert(leaf);
            roots.insert(root);
        }
    }
    if let Some(o) = own {
        roots.insert((o.schema.clone(), o.name.clone()));
    }
    let (rs, rn): (Vec<String>, Vec<String>) = roots.into_iter().unzip();
    for row in client
        .query(PG_TOTALS, &[&rs, &rn])
        .map_err(|e| error_text(&e))?
    {
        touched.total += row.get::<_, i64>("leaves") as u32;
    }
    if plan.subplans_removed > 0 {
        touched.notes.push(format!(
            "{} partition{} pruned when the executor starts (Subplans Removed)",
            plan.subplans_removed,
            if plan.subplans_removed == 1 { "" } else { "s" }
        ));
    }
    if plan.nothing && touched.by_table.is_empty() {
        touched
            .notes
            .push("the planner proved that no partition can match".into());
    }
    Ok(touched)
}

fn my_explain(
    conn: &mut mysql::Conn,
    engine: Engine,
    t: &VerifyTemplates,
    text: &str,
    q: &Query,
) -> Result<Touched, String> {
    use mysql::prelude::Queryable;
    let secs = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
    let mut begin = part("begin");
    begin.insert(
        "flavor",
        if engine == Engine::Mariadb {
            "mariadb"
        } else {
            "mysql"
        },
    );
    begin.insert("lock_wait_seconds", &secs(q.policy.lock_timeout));
    begin.insert("statement_seconds", &secs(q.policy.statement_timeout));
    begin.insert(
        "statement_ms",
        &(q.policy.statement_timeout.as_millis().max(1) as u64),
    );
    let begin = t.text("verify.sql.tera", &begin)?;

    // MySQL has no generic plans: `$n` become `?`, bound to the values when EXPLAINed.
    let (text_q, order) = sql::dollar_to_question(text);
    let values: Vec<mysql::Value> = order
        .iter()
        .map(|n| match &q.params[n - 1] {
            ListValue::Int(i) => mysql::Value::Int(*i),
            ListValue::Str(s) => mysql::Value::Bytes(s.clone().into_bytes()),
        })
        .collect();
    let mut explain = part("explain");
    explain.insert("sql", &text_q);
    let result = t.text("verify.sql.tera", &explain).and_then(|stmt| {
        conn.query_drop(&begin).map_err(|e| e.to_string())?;
        // A prepared statement: one statement only.
        conn.exec_first::<String, _, _>(stmt, values)
            .map_err(|e| match &e {
                mysql::Error::MySqlError(me) if me.code == 1792 => format!(
                    "{e}; {} refuses to EXPLAIN a data-changing statement in a READ ONLY transaction: write the assertion as a SELECT with the same WHERE",
                    if engine == Engine::Mariadb { "MariaDB" } else { "MySQL" }
                ),
                _ => e.to_string(),
            })
    });
    let cleanup = conn
        .query_drop(t.text("verify.sql.tera", &part("end"))?)
        .map_err(|e| e.to_string());
    let json = result?.ok_or("EXPLAIN returned no rows")?;
    cleanup?;

    let plan = explain::mysql(&json)?;
    my_count(conn, t, text, &plan, q.own)
}

fn my_count(
    conn: &mut mysql::Conn,
    t: &VerifyTemplates,
    text: &str,
    plan: &explain::MyPlan,
    own: Option<&QualifiedName>,
) -> Result<Touched, String> {
    use mysql::prelude::Queryable;
    let current: Option<String> = conn
        .query_first("SELECT DATABASE()")
        .map_err(|e| e.to_string())?
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
        let stmt = t.text("verify_totals.sql.tera", &ctx)?;
        let mut params: Vec<mysql::Value> = Vec::new();
        for (s, n) in &list {
            params.push(s.clone().into());
            params.push(n.clone().into());
        }
        let rows: Vec<(String, String, i64)> =
            conn.exec(stmt, params).map_err(|e| e.to_string())?;
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
