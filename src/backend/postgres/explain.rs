//! EXPLAIN on PostgreSQL for `verify`: never executed (never ANALYZE), one statement through
//! the extended protocol (a second statement smuggled after a `;` is refused by the server),
//! inside a READ ONLY transaction that is rolled back; generic plans for `params`.

use super::{error_text, run};
use crate::backend::script_statements;
use crate::explain::{part, text_of, ExplainError, Query, Relation, Touched};
use crate::names::QualifiedName;
use crate::render::Templates;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::types::Type;

const RELATIONS: &str = include_str!("../../../templates/postgres/verify_relations.sql");
const RELATIONS_CITUS: &str =
    include_str!("../../../templates/postgres/verify_relations_citus.sql");
const TOTALS: &str = include_str!("../../../templates/postgres/verify_totals.sql");
const STATEMENT_NAME: &str = "partctl_verify";
/// How many relations the plans of one READ ONLY transaction may name before it is ended (a
/// sixth of the default lock table: 64 locks per transaction x 100 connections).
const LOCK_BUDGET: usize = 1000;

fn millis(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// EXPLAIN one query inside a READ ONLY transaction that is rolled back, and count the leaf
/// partitions its plan names.
///
/// With `citus` (the extension is installed): every task of a distributed plan is shown
/// (`citus.explain_all_tasks`), the shards its remote plans read are mapped to their partitions,
/// and `params` get a custom plan (Citus cannot EXPLAIN a generic plan of a distributed query
/// with parameters, SQLSTATE 0A000, and plans each execution with its values anyway).
pub fn explain(
    client: &mut super::client::Client,
    t: &Templates,
    q: &Query,
    citus: bool,
) -> Result<Touched, ExplainError> {
    let text = q.statement()?;
    let prepared_with_params = !q.params.is_empty();
    let generic = prepared_with_params && !citus;
    let mut begin = part("begin");
    begin.insert("lock_timeout", &millis(q.policy.lock_timeout));
    begin.insert("statement_timeout", &millis(q.policy.statement_timeout));
    begin.insert("generic", &generic);
    begin.insert("custom", &(prepared_with_params && citus));
    begin.insert("citus", &citus);
    let begin = text_of(t, "verify.sql.tera", &begin)?;

    let mut prepared = false;
    let result = (|| -> Result<String, ExplainError> {
        for stmt in script_statements(&begin) {
            run(client, stmt.as_str()).map_err(|e| error_text(&e))?;
        }
        explain_json(client, t, q, text, prepared_with_params, &mut prepared)
    })();

    let mut end = part("end");
    if prepared {
        end.insert("name", STATEMENT_NAME);
    }
    let end = text_of(t, "verify.sql.tera", &end)?;
    let cleanup = script_statements(&end).iter().try_for_each(|stmt| {
        run(client, stmt.as_str())
            .map(|_| ())
            .map_err(|e| error_text(&e))
    });
    let json = result?;
    cleanup?;

    let plan = crate::explain::postgres(&json)?;
    if let Some((tasks, shown)) = plan.distributed.iter().find(|(_, shown)| shown != "All") {
        return Err(ExplainError::from(format!(
            "not verifiable on Citus: the distributed plan does not show the shards each of its {tasks} tasks reads (Tasks Shown: {shown})"
        )));
    }
    let mut touched = pg_count(client, &plan, q.own, citus)?;
    if citus && !plan.distributed.is_empty() {
        let tasks: u64 = plan.distributed.iter().map(|(n, _)| n).sum();
        touched.notes.push(format!(
            "Citus: {tasks} task{} on the workers; shards counted as their partitions",
            if tasks == 1 { "" } else { "s" }
        ));
    }
    Ok(touched)
}

/// Map the relations a plan reads to leaf partitions of their top-most tables, and count.
fn pg_count(
    client: &mut super::client::Client,
    plan: &crate::explain::PgPlan,
    own: Option<&QualifiedName>,
    citus: bool,
) -> Result<Touched, ExplainError> {
    let rels: Vec<&Relation> = plan.relations.iter().collect();
    let schemas: Vec<String> = rels
        .iter()
        .map(|r| r.schema.clone().unwrap_or_default())
        .collect();
    let names: Vec<String> = rels.iter().map(|r| r.name.clone()).collect();
    let mut touched = Touched::default();
    let mut roots: BTreeSet<(String, String)> = BTreeSet::new();
    if !rels.is_empty() && citus {
        let rows = client
            .query(RELATIONS_CITUS, &[&schemas, &names])
            .map_err(|e| error_text(&e))?;
        // A relation the plan reads that maps to nothing (a shard whose table cannot be
        // found) could be a partition: the count would be too low, and pass falsely.
        let mapped: BTreeSet<(String, String)> = rows
            .iter()
            .map(|r| (r.get("schema_name"), r.get("plan_name")))
            .collect();
        if let Some(r) = rels
            .iter()
            .find(|r| !mapped.contains(&(r.schema.clone().unwrap_or_default(), r.name.clone())))
        {
            return Err(ExplainError::from(format!(
                "not verifiable on Citus: the plan reads {}.{}, which is neither a relation on the coordinator nor a shard pg_dist_shard knows",
                r.schema.as_deref().unwrap_or("?"),
                r.name
            )));
        }
        for row in rows.iter().filter(|r| r.get::<_, bool>("leaf")) {
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
    } else if !rels.is_empty() {
        for row in client
            .query_typed(
                RELATIONS,
                &[(&schemas, Type::TEXT_ARRAY), (&names, Type::TEXT_ARRAY)],
            )
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
        .query_typed(TOTALS, &[(&rs, Type::TEXT_ARRAY), (&rn, Type::TEXT_ARRAY)])
        .map_err(|e| error_text(&e))?
    {
        touched.total += row.get::<_, i64>("leaves") as u32;
    }
    plan_notes(plan, &mut touched);
    Ok(touched)
}

/// What the plan says besides the partitions it reads.
fn plan_notes(plan: &crate::explain::PgPlan, touched: &mut Touched) {
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
}

/// A relation or table: (schema, name).
type Rel = (String, String);

/// EXPLAIN every query in ONE READ ONLY transaction (begun again only when the settings change
/// or after a query's error aborted it), then map every plan's relations to their top-most
/// tables in one lookup and count those tables' leaf partitions in one more: 2 round trips
/// per batch instead of 2 per query, and one BEGIN/SET LOCAL/ROLLBACK instead of one per query.
/// Citus plans are counted one query at a time, as [`explain`] does.
pub fn explain_all(
    client: &mut super::client::Client,
    t: &Templates,
    queries: &[Query],
    citus: bool,
) -> Vec<Result<Touched, ExplainError>> {
    if citus {
        return queries
            .iter()
            .map(|q| explain(client, t, q, true))
            .collect();
    }
    let mut open: Option<String> = None;
    // The locks of the open transaction's plans (a generic plan locks every partition it may
    // read, and their indexes): ended once they pass the budget, so that a long run neither
    // fills the server's lock table nor holds back DDL for its whole length.
    let mut held = 0usize;
    let plans: Vec<Result<crate::explain::PgPlan, ExplainError>> = queries
        .iter()
        .map(|q| {
            if open.is_none() {
                held = 0;
            }
            let plan = plan_in(client, t, q, &mut open);
            if let Ok(p) = &plan {
                held += p.relations.len().max(1);
                if held > LOCK_BUDGET && open.take().is_some() {
                    rollback(client, t)?;
                }
            }
            plan
        })
        .collect();
    if !plans.iter().any(Result::is_ok) {
        if open.is_some() {
            let _ = rollback(client, t);
        }
        return plans
            .into_iter()
            .map(|p| p.map(|_| Touched::default()))
            .collect();
    }
    // The lookups lock what they read (pg_partition_tree): inside a transaction with the
    // timeouts, begun again when the last query's error ended the batch's.
    let counted = (|| {
        if open.is_none() {
            begin_in(client, t, &queries[0], &mut open)?;
        }
        let planned: Vec<_> = plans
            .iter()
            .zip(queries)
            .filter_map(|(p, q)| Some((p.as_ref().ok()?, q)))
            .collect();
        count_all(client, &planned)
    })();
    let closed = match open {
        Some(_) => rollback(client, t),
        None => Ok(()),
    };
    match counted.and_then(|c| closed.map(|()| c)) {
        Ok((leaves, totals)) => plans
            .into_iter()
            .zip(queries)
            .map(|(plan, q)| Ok(touched_of(&plan?, q, &leaves, &totals)))
            .collect(),
        // One table's lookup failed (a lock timeout behind another run's DDL): each query's
        // counted on its own, so that the failure stays that query's.
        Err(_) => plans
            .into_iter()
            .zip(queries)
            .map(|(plan, q)| {
                let plan = plan?;
                let mut open = None;
                let counted = begin_in(client, t, q, &mut open)
                    .and_then(|()| count_all(client, &[(&plan, q)]));
                let closed = rollback(client, t);
                let (leaves, totals) = counted.and_then(|c| closed.map(|()| c))?;
                Ok(touched_of(&plan, q, &leaves, &totals))
            })
            .collect(),
    }
}

/// What one plan touched: its relations' top-most tables, their leaf totals, the notes.
fn touched_of(
    plan: &crate::explain::PgPlan,
    q: &Query,
    leaves: &BTreeMap<Rel, Rel>,
    totals: &BTreeMap<Rel, i64>,
) -> Touched {
    let mut touched = Touched::default();
    let mut roots: BTreeSet<Rel> = BTreeSet::new();
    for r in &plan.relations {
        let key = (r.schema.clone().unwrap_or_default(), r.name.clone());
        if let Some(root) = leaves.get(&key) {
            touched
                .by_table
                .entry(format!("{}.{}", root.0, root.1))
                .or_default()
                .insert(r.name.clone());
            roots.insert(root.clone());
        }
    }
    if let Some(o) = q.own {
        roots.insert((o.schema.clone(), o.name.clone()));
    }
    touched.total = roots
        .iter()
        .filter_map(|r| totals.get(r))
        .map(|n| *n as u32)
        .sum();
    plan_notes(plan, &mut touched);
    touched
}

/// The EXPLAIN of `text` as JSON text, in the transaction begun; with `params`, through a
/// prepared statement (`prepared` set once it exists, for the caller to deallocate).
fn explain_json(
    client: &mut super::client::Client,
    t: &Templates,
    q: &Query,
    text: &str,
    with_params: bool,
    prepared: &mut bool,
) -> Result<String, ExplainError> {
    let mut explain = part("explain");
    if with_params {
        let mut prep = part("prepare");
        prep.insert("name", STATEMENT_NAME);
        prep.insert("sql", text);
        // One statement, extended protocol: the server refuses a second one.
        run(client, &text_of(t, "verify.sql.tera", &prep)?).map_err(|e| error_text(&e))?;
        *prepared = true;
        explain.insert("name", STATEMENT_NAME);
        explain.insert("params", q.params);
    } else {
        explain.insert("sql", text);
    }
    let rows = client
        .query_typed(&text_of(t, "verify.sql.tera", &explain)?, &[])
        .map_err(|e| error_text(&e))?;
    let row = rows
        .first()
        .ok_or(ExplainError::from("EXPLAIN returned no rows"))?;
    let v: serde_json::Value = row.try_get(0).map_err(|e| error_text(&e))?;
    Ok(v.to_string())
}

fn rollback(client: &mut super::client::Client, t: &Templates) -> Result<(), ExplainError> {
    run(client, &text_of(t, "verify.sql.tera", &part("end"))?)
        .map(|_| ())
        .map_err(|e| ExplainError(error_text(&e)))
}

/// Make the open transaction the one `q`'s settings want (its timeouts, generic plans for
/// params): begun when there is none, begun again when it was begun with other settings.
fn begin_in(
    client: &mut super::client::Client,
    t: &Templates,
    q: &Query,
    open: &mut Option<String>,
) -> Result<(), ExplainError> {
    let mut begin = part("begin");
    begin.insert("lock_timeout", &millis(q.policy.lock_timeout));
    begin.insert("statement_timeout", &millis(q.policy.statement_timeout));
    begin.insert("generic", &!q.params.is_empty());
    begin.insert("custom", &false);
    begin.insert("citus", &false);
    let begin = text_of(t, "verify.sql.tera", &begin)?;
    if open.as_deref() != Some(begin.as_str()) {
        if open.take().is_some() {
            rollback(client, t)?;
        }
        for stmt in script_statements(&begin) {
            if let Err(e) = run(client, stmt.as_str()) {
                // BEGIN may have succeeded: end what it opened.
                let _ = rollback(client, t);
                return Err(ExplainError(error_text(&e)));
            }
        }
        *open = Some(begin);
    }
    Ok(())
}

/// EXPLAIN one query of a batch in the open transaction (begun first when there is none, or
/// when it was begun with other settings), and parse its plan.
fn plan_in(
    client: &mut super::client::Client,
    t: &Templates,
    q: &Query,
    open: &mut Option<String>,
) -> Result<crate::explain::PgPlan, ExplainError> {
    let text = q.statement()?;
    let with_params = !q.params.is_empty();
    begin_in(client, t, q, open)?;
    let mut prepared = false;
    let result = explain_json(client, t, q, text, with_params, &mut prepared);
    let mut cleanup = Ok(());
    if result.is_err() {
        // The error aborted the transaction: the next query begins another.
        *open = None;
        cleanup = rollback(client, t);
    }
    if prepared {
        let mut d = part("deallocate");
        d.insert("name", STATEMENT_NAME);
        let d = text_of(t, "verify.sql.tera", &d)?;
        if let Err(e) = run(client, &d) {
            *open = None;
            let _ = rollback(client, t);
            cleanup = cleanup.and(Err(ExplainError(error_text(&e))));
        }
    }
    let json = result?;
    cleanup?;
    let plan = crate::explain::postgres(&json)?;
    if let Some((tasks, shown)) = plan.distributed.iter().find(|(_, shown)| shown != "All") {
        return Err(ExplainError::from(format!(
            "not verifiable on Citus: the distributed plan does not show the shards each of its {tasks} tasks reads (Tasks Shown: {shown})"
        )));
    }
    Ok(plan)
}

/// Every plan's relations mapped to their top-most tables (leaf partitions only), and the leaf
/// partitions of every table involved (those, and each query's own table): one lookup each.
#[allow(clippy::type_complexity)]
fn count_all(
    client: &mut super::client::Client,
    planned: &[(&crate::explain::PgPlan, &Query)],
) -> Result<(BTreeMap<Rel, Rel>, BTreeMap<Rel, i64>), ExplainError> {
    let rels: BTreeSet<Rel> = planned
        .iter()
        .flat_map(|(p, _)| &p.relations)
        .map(|r| (r.schema.clone().unwrap_or_default(), r.name.clone()))
        .collect();
    let mut leaves: BTreeMap<Rel, Rel> = BTreeMap::new();
    if !rels.is_empty() {
        let (schemas, names): (Vec<String>, Vec<String>) = rels.into_iter().unzip();
        for row in client
            .query_typed(
                RELATIONS,
                &[(&schemas, Type::TEXT_ARRAY), (&names, Type::TEXT_ARRAY)],
            )
            .map_err(|e| error_text(&e))?
        {
            leaves.insert(
                (row.get("schema_name"), row.get("rel_name")),
                (row.get("root_schema"), row.get("root_name")),
            );
        }
    }
    let mut roots: BTreeSet<Rel> = leaves.values().cloned().collect();
    for (_, q) in planned {
        if let Some(o) = q.own {
            roots.insert((o.schema.clone(), o.name.clone()));
        }
    }
    let mut totals: BTreeMap<Rel, i64> = BTreeMap::new();
    if !roots.is_empty() {
        let (rs, rn): (Vec<String>, Vec<String>) = roots.into_iter().unzip();
        for row in client
            .query_typed(TOTALS, &[(&rs, Type::TEXT_ARRAY), (&rn, Type::TEXT_ARRAY)])
            .map_err(|e| error_text(&e))?
        {
            totals.insert(
                (row.get("schema_name"), row.get("table_name")),
                row.get("leaves"),
            );
        }
    }
    Ok((leaves, totals))
}
