//! EXPLAIN on PostgreSQL for `verify`: never executed (never ANALYZE), one statement through
//! the extended protocol (a second statement smuggled after a `;` is refused by the server),
//! inside a READ ONLY transaction that is rolled back; generic plans for `params`.

use super::{error_text, run};
use crate::backend::script_statements;
use crate::explain::{part, text_of, ExplainError, Query, Relation, Touched};
use crate::names::QualifiedName;
use crate::render::Templates;
use postgres::types::Type;
use std::collections::BTreeSet;

const RELATIONS: &str = include_str!("../../../templates/postgres/verify_relations.sql");
const RELATIONS_CITUS: &str =
    include_str!("../../../templates/postgres/verify_relations_citus.sql");
const TOTALS: &str = include_str!("../../../templates/postgres/verify_totals.sql");
const STATEMENT_NAME: &str = "partctl_verify";

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
    client: &mut postgres::Client,
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
        let mut explain = part("explain");
        if prepared_with_params {
            let mut prep = part("prepare");
            prep.insert("name", STATEMENT_NAME);
            prep.insert("sql", text);
            // One statement, extended protocol: the server refuses a second one.
            run(client, &text_of(t, "verify.sql.tera", &prep)?).map_err(|e| error_text(&e))?;
            prepared = true;
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
    client: &mut postgres::Client,
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
