//! Reading EXPLAIN output: which relations (PostgreSQL) or which partitions (MySQL/MariaDB) a
//! plan touches. Pure functions from the JSON text the server returns; fixtures of real output
//! live in `tests/fixtures/explain/`.
//!
//! PostgreSQL (`EXPLAIN (FORMAT JSON, VERBOSE)`): every plan node that reads a relation names it
//! in "Relation Name" (and "Schema" with VERBOSE). Partitions pruned at plan time are simply
//! absent; partitions pruned when the executor starts (a generic plan's `$n`) are counted in the
//! Append's "Subplans Removed" and absent too; a lone surviving partition is scanned with no
//! Append above it; a plan pruned to nothing is a `Result` with `One-Time Filter: false`. So the
//! partitions the plan may touch are exactly the leaf partitions named anywhere in the tree.
//! Which names are leaf partitions, and of which table, the database says (pg_partition_root).
//!
//! MySQL/MariaDB (`EXPLAIN FORMAT=JSON`): every table access is an object with "table_name" (the
//! alias when the query gives one) and, for partitioned tables, "partitions": the partitions (or
//! `p_sp` sub-partitions) left after pruning. They nest in "nested_loop", "block-nl-join",
//! "materialized", "subqueries", "union_result", "attached_subqueries" and more, so the whole
//! document is walked. "Impossible WHERE" and "No matching rows after partition pruning" carry
//! no table: nothing is touched.

use crate::names::QualifiedName;
use crate::policy::{ListValue, Policy};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Why a query could not be EXPLAINed: it is not one query with matching parameters, the
/// server refused it, or its EXPLAIN output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExplainError(pub String);

impl From<String> for ExplainError {
    fn from(s: String) -> Self {
        ExplainError(s)
    }
}

impl From<&str> for ExplainError {
    fn from(s: &str) -> Self {
        ExplainError(s.to_string())
    }
}

impl From<crate::sql::StatementError> for ExplainError {
    fn from(e: crate::sql::StatementError) -> Self {
        ExplainError(e.0)
    }
}

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
    /// The SQL, templates already rendered: one statement (see [`Query::statement`]).
    pub sql: &'a str,
    pub params: &'a [ListValue],
    /// The table the assertion or probe belongs to (counted in the total even when pruned away).
    pub own: Option<&'a QualifiedName>,
    /// For the lock and statement timeouts.
    pub policy: &'a Policy,
}

/// A verify template's context for one of its parts (`begin`, `explain`, `end`, ...).
pub fn part(name: &str) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("part", name);
    c
}

/// A verify template rendered and trimmed.
pub fn text_of(
    t: &crate::render::Templates,
    name: &str,
    ctx: &tera::Context,
) -> Result<String, ExplainError> {
    t.text(name, ctx)
        .map(|s| s.trim().to_string())
        .map_err(|e| ExplainError(e.to_string()))
}

impl Query<'_> {
    /// The query's one statement, once its placeholders match its `params`. `Err`: it cannot
    /// be EXPLAINed as written.
    pub fn statement(&self) -> Result<&str, ExplainError> {
        let text = crate::sql::single_statement(self.sql)?;
        if crate::sql::has_param_zero(text) {
            return Err(ExplainError(
                "the SQL uses a placeholder that names no parameter (`$0`, or a number too large); placeholders are numbered from $1".into(),
            ));
        }
        let wanted = crate::sql::max_param(text);
        if wanted != self.params.len() {
            return Err(ExplainError(if self.params.is_empty() {
                format!("the SQL uses placeholders up to ${wanted}; give their values in `params = [...]`")
            } else {
                format!(
                    "`params` has {} value{} but the SQL uses placeholders up to ${wanted}",
                    self.params.len(),
                    if self.params.len() == 1 { "" } else { "s" }
                )
            }));
        }
        Ok(text)
    }
}

/// A relation a PostgreSQL plan reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Relation {
    /// Present with `EXPLAIN (VERBOSE)`.
    pub schema: Option<String>,
    pub name: String,
}

/// What a PostgreSQL plan reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgPlan {
    /// Every relation named in the plan, once each, in order of appearance.
    pub relations: Vec<Relation>,
    /// Sum of "Subplans Removed" over all Append/MergeAppend nodes (run-time pruning).
    pub subplans_removed: u64,
    /// A `Result` node with `One-Time Filter: false`: the planner proved nothing matches.
    pub nothing: bool,
    /// Citus: distributed scans (`Distributed Query`) as (tasks, what `Tasks Shown` says);
    /// the shards a task reads are named only in the remote plans of the tasks shown.
    pub distributed: Vec<(u64, String)>,
}

/// Parse `EXPLAIN (FORMAT JSON)` output of PostgreSQL.
pub fn postgres(json: &str) -> Result<PgPlan, ExplainError> {
    let v: Value =
        serde_json::from_str(json).map_err(|e| format!("EXPLAIN output is not JSON: {e}"))?;
    let plans = v
        .as_array()
        .filter(|a| a.iter().all(|p| p.get("Plan").is_some()) && !a.is_empty())
        .ok_or("EXPLAIN output is not a PostgreSQL JSON plan (a list of {\"Plan\": ...})")?;
    let mut out = PgPlan::default();
    for p in plans {
        walk_pg(&p["Plan"], &mut out);
    }
    Ok(out)
}

fn walk_pg(v: &Value, out: &mut PgPlan) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(name)) = o.get("Relation Name") {
                let r = Relation {
                    schema: o.get("Schema").and_then(Value::as_str).map(str::to_string),
                    name: name.clone(),
                };
                if !out.relations.contains(&r) {
                    out.relations.push(r);
                }
            }
            if let Some(job) = o.get("Distributed Query").and_then(|d| d.get("Job")) {
                out.distributed.push((
                    job.get("Task Count").and_then(Value::as_u64).unwrap_or(0),
                    job.get("Tasks Shown")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ));
            }
            if let Some(n) = o.get("Subplans Removed").and_then(Value::as_u64) {
                out.subplans_removed += n;
            }
            if o.get("Node Type").and_then(Value::as_str) == Some("Result")
                && o.get("One-Time Filter").and_then(Value::as_str) == Some("false")
            {
                out.nothing = true;
            }
            for child in o.values() {
                walk_pg(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| walk_pg(c, out)),
        _ => {}
    }
}

/// One table access in a MySQL/MariaDB plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyAccess {
    /// As EXPLAIN shows it: the alias when the query gives one.
    pub table: String,
    /// The partitions (or `partition_subpartition` names) left after pruning.
    pub partitions: Vec<String>,
}

/// What a MySQL/MariaDB plan reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MyPlan {
    /// Accesses to partitioned tables, in order of appearance.
    pub accesses: Vec<MyAccess>,
    /// Messages such as "Impossible WHERE" or "No matching rows after partition pruning".
    pub messages: Vec<String>,
}

/// Parse `EXPLAIN FORMAT=JSON` output of MySQL or MariaDB. MySQL's `end_markers_in_json`
/// comments (`} /* table */`) are tolerated.
pub fn mysql(json: &str) -> Result<MyPlan, ExplainError> {
    let cleaned = strip_block_comments(json);
    let v: Value =
        serde_json::from_str(&cleaned).map_err(|e| format!("EXPLAIN output is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("EXPLAIN output is not a MySQL/MariaDB JSON plan (an object)".into());
    }
    let mut out = MyPlan::default();
    walk_my(&v, &mut out);
    Ok(out)
}

fn walk_my(v: &Value, out: &mut MyPlan) {
    match v {
        Value::Object(o) => {
            if let (Some(Value::String(t)), Some(Value::Array(parts))) =
                (o.get("table_name"), o.get("partitions"))
            {
                out.accesses.push(MyAccess {
                    table: t.clone(),
                    partitions: parts
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                });
            }
            if let Some(Value::String(m)) = o.get("message") {
                out.messages.push(m.clone());
            }
            for child in o.values() {
                walk_my(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| walk_my(c, out)),
        _ => {}
    }
}

/// Remove `/* ... */` outside JSON strings.
fn strip_block_comments(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    let mut in_str = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && b.get(i + 1) == Some(&b'*') => {
                out.push_str(&s[last..i]);
                let end = s[i + 2..]
                    .find("*/")
                    .map(|k| i + 2 + k + 2)
                    .unwrap_or(b.len());
                i = end;
                last = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/explain/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn names(p: &PgPlan) -> Vec<&str> {
        p.relations.iter().map(|r| r.name.as_str()).collect()
    }

    fn parts(p: &MyPlan) -> Vec<(&str, Vec<&str>)> {
        p.accesses
            .iter()
            .map(|a| {
                (
                    a.table.as_str(),
                    a.partitions.iter().map(String::as_str).collect(),
                )
            })
            .collect()
    }

    /// Citus (13.2, `citus.explain_all_tasks = on`): the distributed scan names no relation;
    /// its tasks' remote plans name the shards (`<partition>_<shardid>`) of the one partition.
    #[test]
    fn citus_remote_plans_name_shards() {
        let p = postgres(&fixture("citus_all_tasks.json")).unwrap();
        assert_eq!(p.distributed, vec![(4, "All".to_string())]);
        assert_eq!(
            names(&p),
            vec![
                "ev_p20260313_102028",
                "ev_p20260313_102029",
                "ev_p20260313_102030",
                "ev_p20260313_102031"
            ]
        );
        // Without explain_all_tasks one task is shown: its shards alone would undercount.
        let p = postgres(&fixture("citus_one_task_shown.json")).unwrap();
        assert_eq!(p.distributed, vec![(4, "One of 4".to_string())]);
        assert_eq!(p.relations.len(), 1);
    }

    #[test]
    fn pg_single_partition_has_no_append() {
        let p = postgres(&fixture("pg_one_partition.json")).unwrap();
        assert_eq!(names(&p), vec!["events_p20261121"]);
        assert_eq!(p.relations[0].schema.as_deref(), Some("public"));
        assert_eq!(p.subplans_removed, 0);
        assert!(!p.nothing);
    }

    #[test]
    fn pg_open_range_reaches_the_default_partition() {
        let p = postgres(&fixture("pg_open_range.json")).unwrap();
        assert_eq!(
            names(&p),
            vec!["events_p20261121", "events_p20261122", "events_default"]
        );
    }

    #[test]
    fn pg_or_with_a_non_key_condition_scans_everything() {
        let p = postgres(&fixture("pg_or_non_key.json")).unwrap();
        assert_eq!(p.relations.len(), 4);
    }

    #[test]
    fn pg_cast_on_the_key_scans_everything() {
        let p = postgres(&fixture("pg_cast_key.json")).unwrap();
        assert_eq!(p.relations.len(), 4);
    }

    #[test]
    fn pg_join_names_partitions_of_both_tables_and_the_plain_table() {
        let p = postgres(&fixture("pg_join.json")).unwrap();
        assert_eq!(names(&p), vec!["orders_p1_h1", "events_p20261121", "users"]);
    }

    #[test]
    fn pg_pruned_to_nothing_is_a_false_result() {
        let p = postgres(&fixture("pg_nothing.json")).unwrap();
        assert!(p.relations.is_empty());
        assert!(p.nothing);
    }

    #[test]
    fn pg_generic_plan_prunes_at_executor_start() {
        let p = postgres(&fixture("pg_generic_plan.json")).unwrap();
        assert_eq!(names(&p), vec!["events_p20261121"]);
        assert_eq!(p.subplans_removed, 3);
    }

    #[test]
    fn pg_subqueries_and_semi_joins_are_walked() {
        let p = postgres(&fixture("pg_subquery.json")).unwrap();
        assert_eq!(
            names(&p),
            vec![
                "events_p20261122",
                "events_default",
                "orders_p1_h0",
                "orders_p1_h1",
                "orders_p2"
            ]
        );
    }

    #[test]
    fn pg_update_targets_are_counted_once() {
        let p = postgres(&fixture("pg_update.json")).unwrap();
        // The parent appears as the ModifyTable's relation; the leaves once each.
        assert_eq!(
            names(&p),
            vec!["events", "events_p20261122", "events_default"]
        );
    }

    #[test]
    fn pg_rejects_other_json() {
        assert!(postgres("{\"query_block\": {}}").is_err());
        assert!(postgres("not json").is_err());
        assert!(postgres("[]").is_err());
    }

    #[test]
    fn maria_single_partition() {
        let p = mysql(&fixture("maria_one_partition.json")).unwrap();
        assert_eq!(parts(&p), vec![("events", vec!["p20261121"])]);
    }

    #[test]
    fn maria_open_range_reaches_maxvalue() {
        let p = mysql(&fixture("maria_open_range.json")).unwrap();
        assert_eq!(
            parts(&p),
            vec![("events", vec!["p20261121", "p20261122", "pmax"])]
        );
    }

    #[test]
    fn maria_year_on_range_columns_scans_everything() {
        let p = mysql(&fixture("maria_year_on_range_columns.json")).unwrap();
        assert_eq!(parts(&p)[0].1.len(), 4);
    }

    #[test]
    fn maria_join_uses_aliases_and_skips_plain_tables() {
        let p = mysql(&fixture("maria_join.json")).unwrap();
        assert_eq!(
            parts(&p),
            vec![("e", vec!["p20261121"]), ("l", vec!["p20261121"])]
        );
    }

    #[test]
    fn maria_impossible_where_touches_nothing() {
        let p = mysql(&fixture("maria_impossible_where.json")).unwrap();
        assert!(p.accesses.is_empty());
        assert_eq!(p.messages, vec!["Impossible WHERE"]);
        // A range beyond the last partition: MariaDB words it as an impossible WHERE too.
        let p = mysql(&fixture("maria_no_matching_partition.json")).unwrap();
        assert!(p.accesses.is_empty());
        assert_eq!(
            p.messages,
            vec!["Impossible WHERE noticed after reading const tables"]
        );
    }

    #[test]
    fn maria_subpartitions_are_leaves() {
        let p = mysql(&fixture("maria_subpartitions.json")).unwrap();
        assert_eq!(
            parts(&p),
            vec![("sub", vec!["p2023_p2023sp0", "p2023_p2023sp1"])]
        );
    }

    #[test]
    fn maria_derived_tables_subqueries_and_unions_are_walked() {
        let p = mysql(&fixture("maria_derived_subquery.json")).unwrap();
        assert_eq!(
            parts(&p),
            vec![
                ("logs", vec!["p20261120", "p20261121", "p20261122"]),
                ("events", vec!["p20261122", "pmax"]),
            ]
        );
        let p = mysql(&fixture("maria_union_scalar_subquery.json")).unwrap();
        assert_eq!(
            parts(&p),
            vec![
                ("e", vec!["p20261120"]),
                // RANGE(TO_DAYS(datetime)): an open range always keeps the first partition,
                // where rows whose TO_DAYS() is NULL live.
                ("logs", vec!["p20261120", "p20261122"]),
                ("s", vec!["p2024_p2024sp0", "p2024_p2024sp1"]),
            ]
        );
    }

    #[test]
    fn mysql_end_markers_are_tolerated() {
        // Shape of MySQL's output with end_markers_in_json=ON (hand-written, not captured).
        let text = "{\n  \"query_block\": {\n    \"select_id\": 1,\n    \"table\": {\n      \"table_name\": \"t\",\n      \"partitions\": [\n        \"p1\"\n      ] /* partitions */,\n      \"attached_condition\": \"(`db`.`t`.`c` = '/* not a comment */')\"\n    } /* table */\n  } /* query_block */\n}";
        let p = mysql(text).unwrap();
        assert_eq!(parts(&p), vec![("t", vec!["p1"])]);
        assert!(mysql("[1]").is_err());
    }
}
