//! The PostgreSQL dialect.

use super::{moving_marker, step_id, Dialect, NameCtx, QuoteError, RenderError, Step, Templates};
use crate::catalog::Table;
use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::plan::{Action, ActionKind, Then};
use crate::policy::{MoveMode, Policy};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tera::{Context, Value};

pub struct Postgres;

pub static POSTGRES: Postgres = Postgres;

const TEMPLATES: &[(&str, &str)] = templates![
    "postgres":
    "timeouts.sql.tera",
    "range_predicate.sql.tera",
    "bound_predicate.sql.tera",
    "create.sql.tera",
    "create_batched.sql.tera",
    "return_rows.sql.tera",
    "expire.sql.tera",
    "key_stats.sql.tera",
    "grow_hash.sql.tera",
    "waiting_values.sql.tera",
    "referencing_rows.sql.tera",
    "coarsen.sql.tera",
];

/// The key kind of a PostgreSQL type as `format_type` names it.
pub fn key_kind(sql_type: &str) -> Option<KeyKind> {
    match sql_type {
        "smallint" => Some(KeyKind::SmallInt),
        "integer" => Some(KeyKind::Int),
        "bigint" => Some(KeyKind::BigInt),
        "date" => Some(KeyKind::Date),
        "timestamp without time zone" => Some(KeyKind::Timestamp),
        "timestamp with time zone" => Some(KeyKind::Timestamptz),
        t if t.starts_with("timestamp(") && t.ends_with("without time zone") => {
            Some(KeyKind::Timestamp)
        }
        t if t.starts_with("timestamp(") => Some(KeyKind::Timestamptz),
        _ => None,
    }
}

/// The label a coarse partition carries while it is filled, before it replaces the partitions
/// it merges (not the `moving rows` label: its rows are copies, never to be returned).
pub fn coarsen_marker(table: &QualifiedName) -> String {
    format!("partctl: coarsening for {table}")
}

/// The label a partition carries while it is detached for dropping or archiving.
pub fn detach_marker(table: &QualifiedName) -> String {
    format!("partctl: detaching from {table}")
}

fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

impl Dialect for Postgres {
    fn quote_ident(&self, ident: &str) -> Result<String, QuoteError> {
        if ident.is_empty() || ident.contains('\0') {
            return Err(QuoteError(format!(
                "`{}` is not a valid identifier",
                ident.escape_debug()
            )));
        }
        Ok(format!("\"{}\"", ident.replace('"', "\"\"")))
    }

    fn quote_literal(&self, value: &str) -> Result<String, QuoteError> {
        if value.contains('\0') {
            return Err(QuoteError("a literal cannot contain a NUL byte".into()));
        }
        // standard_conforming_strings is on for every partctl session (session.sql).
        Ok(format!("'{}'", value.replace('\'', "''")))
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn verify_templates(&self) -> &'static [(&'static str, &'static str)] {
        templates!["postgres": "verify.sql.tera", "probe.sql.tera"]
    }

    fn convert_templates(&self) -> &'static [(&'static str, &'static str)] {
        templates![
            "postgres":
            "timeouts.sql.tera",
            "convert_source.sql.tera",
            "convert_key_range.sql.tera",
            "convert_state.sql.tera",
            "convert_prepare.sql.tera",
            "convert_trigger.sql.tera",
            "convert_copy.sql.tera",
            "convert_verify.sql.tera",
            "convert_cutover.sql.tera",
            "convert_rollback.sql.tera",
            "convert_finish.sql.tera",
        ]
    }

    fn key_kind(&self, sql_type: &str) -> Option<KeyKind> {
        key_kind(sql_type)
    }

    /// Integers as numbers; dates and timestamps as PostgreSQL prints them (with the zone for
    /// timestamptz).
    fn key_literal(&self, kind: KeyKind, coord: i64) -> Value {
        if kind.is_time() {
            Value::String(kind.format(coord))
        } else {
            Value::from(coord)
        }
    }

    fn render(
        &self,
        t: &Templates,
        action: &Action,
        table: &Table,
        policy: &Policy,
        _now: DateTime<Utc>,
        _plan: &[Action],
    ) -> Result<Vec<Step>, RenderError> {
        let mut ctx = Context::new();
        ctx.insert("table", &NameCtx::from(&table.name));
        ctx.insert("key", &table.key.name);
        ctx.insert("columns", &table.columns);
        ctx.insert("lock_timeout", &millis(policy.lock_timeout));
        ctx.insert("statement_timeout", &millis(policy.statement_timeout));
        // A Citus distributed table: timeouts propagated to the workers, the rows a create
        // moved into the new partition removed from the coordinator once it is distributed.
        ctx.insert("citus", &table.distributed);
        ctx.insert("truncate_local", &false);
        let default = table.default_partition().map(|p| &p.name);
        ctx.insert("default", &default.map(NameCtx::from));
        let parent = &table.name;
        let kind = table.key.kind;
        // Integers render as numbers, times as quoted literals. MINVALUE/MAXVALUE leave the
        // variable undefined: templates test `is defined`, never truthiness (0 is falsy).
        let literal = |b: Bound| -> Option<tera::Value> {
            match (b, kind) {
                (Bound::At(c), Some(k)) if !k.is_time() => Some(tera::Value::from(c)),
                (Bound::At(c), Some(k)) => Some(tera::Value::String(k.format(c))),
                _ => None,
            }
        };

        let (template, lock) = match &action.kind {
            ActionKind::Create {
                partition,
                from,
                to,
                move_rows,
            } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("is_default", &false);
                ctx.insert("bound", "range");
                sub_ctx(&mut ctx, partition, policy);
                if let Some(v) = literal(*from) {
                    ctx.insert("from", &v);
                }
                if let Some(v) = literal(*to) {
                    ctx.insert("to", &v);
                }
                ctx.insert("move_rows", &(*move_rows && default.is_some()));
                ctx.insert("check_name", &check_name(&partition.name));
                create_template(&mut ctx, table, policy, partition, *move_rows)
            }
            ActionKind::CreateDefault { partition } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("is_default", &true);
                ctx.insert("bound", "default");
                ctx.insert("move_rows", &false);
                (
                    "create.sql.tera",
                    format!("SHARE UPDATE EXCLUSIVE on {parent}"),
                )
            }
            ActionKind::CreateList {
                partition,
                values,
                move_rows,
                ..
            } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("is_default", &false);
                ctx.insert("bound", "list");
                ctx.insert("values", values);
                ctx.insert("move_rows", &(*move_rows && default.is_some()));
                ctx.insert("check_name", &check_name(&partition.name));
                create_template(&mut ctx, table, policy, partition, *move_rows)
            }
            ActionKind::CreateHash {
                partition,
                modulus,
                remainder,
            } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("is_default", &false);
                ctx.insert("bound", "hash");
                ctx.insert("modulus", modulus);
                ctx.insert("remainder", remainder);
                ctx.insert("move_rows", &false);
                ("create.sql.tera", format!("SHARE UPDATE EXCLUSIVE on {parent}"))
            }
            ActionKind::GrowHash { splits, .. } => {
                return grow_hash_steps(t, &ctx, action, parent, splits);
            }
            ActionKind::ShrinkHash { from, to, .. } => {
                return Err(RenderError {
                    what: step_id(action),
                    message: format!(
                        "PostgreSQL cannot shrink hash partitioning from modulus {from} to {to} in place (rows would have to move into merged partitions under a long exclusive lock); partctl refuses. Keep modulus = {from}, or rebuild the table"
                    ),
                })
            }
            ActionKind::Detach {
                partition,
                has_default,
            }
            | ActionKind::Drop {
                partition,
                has_default,
            }
            | ActionKind::Archive {
                partition,
                has_default,
                ..
            } => {
                let then = match &action.kind {
                    ActionKind::Drop { .. } => Some(Then::Drop),
                    ActionKind::Archive { schema, .. } => Some(Then::Archive {
                        schema: schema.clone(),
                    }),
                    _ => None,
                };
                expire_ctx(&mut ctx, parent, partition, then.as_ref());
                ctx.insert("finalize", &false);
                ctx.insert("orphan", &false);
                // Citus does not support DETACH ... CONCURRENTLY on distributed tables: the
                // transactional DETACH, as with a catch-all (so no "detaching" label is set).
                let transactional = *has_default || table.distributed;
                ctx.insert("transactional", &transactional);
                let lock = if *has_default {
                    format!(
                        "ACCESS EXCLUSIVE on {parent} (DETACH; a catch-all forbids CONCURRENTLY)"
                    )
                } else if table.distributed {
                    format!(
                        "ACCESS EXCLUSIVE on {parent} (DETACH in one transaction; Citus does not support CONCURRENTLY on distributed tables)"
                    )
                } else {
                    format!("SHARE UPDATE EXCLUSIVE on {parent} (DETACH CONCURRENTLY)")
                };
                (
                    "expire.sql.tera",
                    with_partition_lock(lock, partition, then.as_ref()),
                )
            }
            ActionKind::Finalize { partition, then } => {
                expire_ctx(&mut ctx, parent, partition, then.as_ref());
                ctx.insert("finalize", &true);
                ctx.insert("orphan", &false);
                ctx.insert("transactional", &false);
                let lock = format!("SHARE UPDATE EXCLUSIVE on {parent} (DETACH FINALIZE)");
                (
                    "expire.sql.tera",
                    with_partition_lock(lock, partition, then.as_ref()),
                )
            }
            ActionKind::ReturnRows { partition } => {
                ctx.insert("partition", &NameCtx::from(partition));
                (
                    "return_rows.sql.tera",
                    format!("ROW EXCLUSIVE on {parent} (rows inserted through it) and ACCESS EXCLUSIVE on {partition} (dropped)"),
                )
            }
            ActionKind::Coarsen {
                partition,
                from,
                to,
                parts,
            } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("check_name", &check_name(&partition.name));
                ctx.insert("marker", &coarsen_marker(parent));
                ctx.insert("max_lock", &millis(policy.moves.max_lock));
                let (Some(f), Some(t)) = (literal(*from), literal(*to)) else {
                    return Err(RenderError {
                        what: step_id(action),
                        message: "coarsening needs bounded partitions".into(),
                    });
                };
                ctx.insert("from", &f);
                ctx.insert("to", &t);
                let mut fine = Vec::new();
                for p in parts {
                    let (Some(f), Some(t)) = (literal(p.from), literal(p.to)) else {
                        return Err(RenderError {
                            what: step_id(action),
                            message: format!("partition {} is not bounded", p.partition),
                        });
                    };
                    fine.push(serde_json::json!({
                        "partition": NameCtx::from(&p.partition), "from": f, "to": t
                    }));
                }
                ctx.insert("parts", &fine);
                let names: Vec<String> = parts.iter().map(|p| p.partition.to_string()).collect();
                let lock = format!(
                    "copy: ACCESS SHARE on the {n} partitions merged (reads and writes go on), one partition per transaction into the standalone {partition}; then one transaction (statement timeout {max}): SHARE on {names} (writes to them wait), counts and checksums compared, then ACCESS EXCLUSIVE on {parent} for the DETACH, DROP and ATTACH (everything on the table waits, briefly)",
                    n = parts.len(),
                    max = millis(policy.moves.max_lock),
                    names = names.join(", "),
                );
                ("coarsen.sql.tera", lock)
            }
            ActionKind::Cleanup { partition, then } => {
                expire_ctx(&mut ctx, parent, partition, Some(then));
                ctx.insert("finalize", &false);
                ctx.insert("orphan", &true);
                ctx.insert("transactional", &true);
                let lock = format!("ACCESS EXCLUSIVE on {partition} (already detached)");
                ("expire.sql.tera", lock)
            }
        };
        Ok(vec![Step::new(
            step_id(action),
            action,
            lock,
            t.statements(template, &ctx)?,
        )])
    }
}

/// Whether a create moves its rows in batches (`move_mode = "batched"`), and its template and
/// lock text. The rule: batched when the table has a catch-all, is not composite, and either
/// a previous run left the new table half filled (it resumes), or rows may move and the
/// catch-all's estimate (`reltuples`, which ANALYZE and autovacuum keep) is above
/// `move_batch_rows`. Otherwise (a small catch-all, or one never analyzed) the
/// single-transaction, always-visible move of `create.sql.tera`.
fn create_template(
    ctx: &mut Context,
    table: &Table,
    policy: &Policy,
    partition: &QualifiedName,
    move_rows: bool,
) -> (&'static str, String) {
    let parent = &table.name;
    let default = table.default_partition();
    let settings = policy.moves;
    let resuming = table.stats.in_transit.contains(&partition.name);
    let estimate = default.map_or(-1, |d| d.est_rows);
    let large = estimate > i64::from(settings.batch_rows);
    // Citus: the batched move is not used on distributed tables (its ctid batches are not
    // meaningful across shards); the single transaction moves the rows, and once the ATTACH has
    // distributed the new partition, the copy Citus leaves on the coordinator's disk is removed.
    let batched = match default {
        Some(_)
            if settings.mode == MoveMode::Batched
                && policy.subpartition.is_none()
                && !table.distributed =>
        {
            resuming || (move_rows && large)
        }
        _ => false,
    };
    let Some(d) = default.filter(|_| batched) else {
        let truncate_local = table.distributed && move_rows && default.is_some();
        ctx.insert("truncate_local", &truncate_local);
        let mut lock = create_lock(parent, default.map(|d| &d.name));
        if truncate_local {
            lock.push_str("; Citus: the moved rows are distributed by the ATTACH, then their local copy on the coordinator is truncated");
        }
        return ("create.sql.tera", lock);
    };
    ctx.insert("marker", &moving_marker(parent));
    ctx.insert("batch_rows", &settings.batch_rows);
    ctx.insert("max_lock", &millis(settings.max_lock));
    let at_most = if estimate < 0 {
        "all of this range's rows in the catch-all".to_string()
    } else {
        format!("at most {estimate} rows, the catch-all's estimate")
    };
    let lock = format!(
        "batched: ROW EXCLUSIVE on {d} (the catch-all) per batch of {} rows, readers and writers go on; then, for the final sweep and ATTACH, SHARE ROW EXCLUSIVE on {parent} (writes through it wait, reads go on) and ACCESS EXCLUSIVE on {d} (statement timeout {}); rows in transit ({at_most}) are not visible through {parent} until the ATTACH, about 1 s per 50,000 rows",
        settings.batch_rows,
        millis(settings.max_lock),
        d = d.name,
    );
    ("create_batched.sql.tera", lock)
}

/// Hash growth: one step per old partition, each replacing it by the partitions of the new
/// modulus that cover its remainder class.
fn grow_hash_steps(
    t: &Templates,
    ctx: &Context,
    action: &Action,
    parent: &QualifiedName,
    splits: &[crate::plan::HashSplit],
) -> Result<Vec<Step>, RenderError> {
    let mut steps = Vec::new();
    for sp in splits {
        let mut c = ctx.clone();
        c.insert("old", &NameCtx::from(&sp.old));
        c.insert("modulus", &sp.modulus);
        let new: Vec<serde_json::Value> = sp
            .new
            .iter()
            .map(|(n, r)| serde_json::json!({"name": NameCtx::from(n), "remainder": r}))
            .collect();
        c.insert("new", &new);
        // A new partition named like the old one (`<table>_h0`, remainder 0 at
        // both moduli): the old one steps aside first, inside the transaction.
        let source = if sp.new.iter().any(|(n, _)| *n == sp.old) {
            let mut retired = sp.old.name.clone();
            while retired.len() > crate::policy::MAX_IDENT_BYTES - 12 {
                retired.pop();
            }
            let retired =
                QualifiedName::new(sp.old.schema.clone(), format!("{retired}_partctl_old"));
            c.insert("retired", &NameCtx::from(&retired));
            retired
        } else {
            sp.old.clone()
        };
        c.insert("source", &NameCtx::from(&source));
        let lock = format!(
            "ACCESS EXCLUSIVE on {parent} while partition {} (modulus {}, remainder {}) is replaced; inserts wait, none fails",
            sp.old, sp.old_modulus, sp.old_remainder
        );
        steps.push(Step::new(
            format!("{}/grow/{}", action.table, sp.old.name),
            action,
            lock,
            t.statements("grow_hash.sql.tera", &c)?,
        ));
    }
    Ok(steps)
}

/// The locks a create takes: the parent's, and the catch-all's when rows may move out of it.
fn create_lock(parent: &QualifiedName, default: Option<&QualifiedName>) -> String {
    match default {
        Some(d) => {
            format!("SHARE ROW EXCLUSIVE on {parent} (writes through it wait, reads go on); ACCESS EXCLUSIVE on {d} (the catch-all)")
        }
        None => format!("SHARE UPDATE EXCLUSIVE on {parent}"),
    }
}

/// Composite tables: a new range partition is itself partitioned, with its sub-partitions.
fn sub_ctx(ctx: &mut Context, partition: &QualifiedName, policy: &Policy) {
    let Some(sub) = &policy.subpartition else {
        ctx.insert("sub", &false);
        return;
    };
    ctx.insert("sub", &true);
    ctx.insert("sub_strategy", sub.strategy.as_str());
    ctx.insert("sub_key", &sub.column);
    let child = |suffix: String| {
        QualifiedName::new(
            partition.schema.clone(),
            format!("{}_{suffix}", partition.name),
        )
    };
    let subs: Vec<serde_json::Value> = match sub.strategy {
        crate::policy::Strategy::Hash => (0..sub.modulus.unwrap_or(1))
            .map(|r| {
                serde_json::json!({"name": NameCtx::from(&child(format!("sp{r}"))), "modulus": sub.modulus, "remainder": r})
            })
            .collect(),
        _ => sub
            .lists
            .iter()
            .map(|(suffix, values)| {
                serde_json::json!({"name": NameCtx::from(&child(suffix.clone())), "values": values})
            })
            .collect(),
    };
    ctx.insert("subs", &subs);
}

fn expire_ctx(
    ctx: &mut Context,
    parent: &QualifiedName,
    partition: &QualifiedName,
    then: Option<&Then>,
) {
    ctx.insert("partition", &NameCtx::from(partition));
    ctx.insert("marker", &detach_marker(parent));
    match then {
        Some(Then::Drop) => ctx.insert("then", "drop"),
        Some(Then::Archive { schema }) => {
            ctx.insert("then", "archive");
            ctx.insert("archive_schema", schema);
            ctx.insert(
                "archived",
                &NameCtx {
                    schema,
                    name: &partition.name,
                },
            );
        }
        None => ctx.insert("then", &Option::<String>::None),
    }
}

fn with_partition_lock(lock: String, partition: &QualifiedName, then: Option<&Then>) -> String {
    match then {
        Some(_) => format!("{lock}; ACCESS EXCLUSIVE on {partition}"),
        None => lock,
    }
}

/// Name of the helper CHECK constraint that proves a new partition's bounds.
fn check_name(partition: &str) -> String {
    const SUFFIX: &str = "_partctl_bounds";
    let mut base = partition.to_string();
    while base.len() + SUFFIX.len() > crate::policy::MAX_IDENT_BYTES {
        base.pop();
    }
    format!("{base}{SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition};
    use crate::key::KeyKind;
    use crate::plan::Action;
    use crate::policy::{parse_sources, Strategy};
    use crate::render::test_now;
    use std::path::PathBuf;

    fn policy() -> Policy {
        parse_sources(&[(
            PathBuf::from("t.toml"),
            "[[table]]\nname = 'Sales.Ev\"il; DROP TABLE x; --'\npartition_by = 'range'\ncolumn = 'Created At'\ninterval = '1 day'\nlock_timeout = '1500ms'\n".into(),
        )])
        .unwrap()
        .remove(0)
    }

    fn table(with_default: bool) -> Table {
        let name = QualifiedName::new("Sales", "Ev\"il; DROP TABLE x; --");
        let mut partitions = vec![];
        if with_default {
            partitions.push(Partition {
                name: QualifiedName::new("Sales", "Ev'il_default"),
                bound: PartBound::Default,
                est_rows: 10,
                bytes: 8192,
                detach_pending: false,
                subpartitions: vec![],
            });
        }
        Table {
            name,
            strategy: Strategy::Range,
            key: KeyColumn {
                name: "Created At".into(),
                kind: Some(KeyKind::Timestamptz),
                sql_type: "timestamp with time zone".into(),
                expr: None,
                granularity: None,
            },
            columns: vec!["id".into(), "Created At".into(), "a\"b".into()],
            partitions,
            stats: KeyStats::default(),
            distributed: false,
        }
    }

    fn render(kind: ActionKind, with_default: bool) -> String {
        render_table(kind, table(with_default))
    }

    /// The table as Citus distributes it (`pg_dist_partition` has it).
    fn distributed(with_default: bool) -> Table {
        Table {
            distributed: true,
            ..table(with_default)
        }
    }

    /// Render one action alone (no other action in the plan) at the tests' clock.
    fn rendered(action: &Action, t: &Table) -> Result<Vec<Step>, RenderError> {
        POSTGRES.render(
            &Templates::new(&POSTGRES),
            action,
            t,
            &policy(),
            test_now(),
            &[],
        )
    }

    fn render_table(kind: ActionKind, t: Table) -> String {
        let action = Action {
            table: t.name.clone(),
            kind,
            reason: "test".into(),
        };
        let templates = Templates::new(&POSTGRES);
        let step = POSTGRES
            .render(&templates, &action, &t, &policy(), test_now(), &[])
            .unwrap()
            .remove(0);
        format!(
            "id: {}\nlock: {}\ntransaction: {}\n\n{}",
            step.id,
            step.lock,
            step.transactional,
            step.script()
        )
    }

    fn part(n: &str) -> QualifiedName {
        QualifiedName::new("Sales", n)
    }

    fn ts(s: &str) -> Bound {
        Bound::At(KeyKind::Timestamptz.parse(s).unwrap())
    }

    #[test]
    fn quoting_doubles_quotes_and_refuses_nul() {
        assert_eq!(POSTGRES.quote_ident("a\"b").unwrap(), "\"a\"\"b\"");
        assert_eq!(POSTGRES.quote_literal("it's").unwrap(), "'it''s'");
        assert!(POSTGRES.quote_ident("a\0b").is_err());
        assert!(POSTGRES.quote_literal("a\0b").is_err());
    }

    #[test]
    fn create_with_rows_moved_from_the_catch_all() {
        insta::assert_snapshot!(render(
            ActionKind::Create {
                partition: part("p'1\"x"),
                from: ts("2026-03-10 00:00:00+00"),
                to: ts("2026-03-11 00:00:00+00"),
                move_rows: true,
            },
            true
        ));
    }

    /// An empty new partition is attached without the helper CHECK (ATTACH's scan of it reads
    /// no page); one that rows move into first gets it, with the open lower bound's predicate.
    #[test]
    fn create_without_catch_all_and_open_lower_bound() {
        let create = |move_rows| ActionKind::Create {
            partition: part("p_min"),
            from: Bound::Min,
            to: ts("2026-03-11 00:00:00+00"),
            move_rows,
        };
        let empty = render(create(false), false);
        assert!(!empty.contains("CHECK"), "{empty}");
        insta::assert_snapshot!(empty);
        insta::assert_snapshot!(
            "create_with_open_lower_bound_moving_rows",
            render(create(true), true)
        );
    }

    #[test]
    fn create_default() {
        insta::assert_snapshot!(render(
            ActionKind::CreateDefault {
                partition: part("Ev_default")
            },
            false
        ));
    }

    #[test]
    fn detach_concurrently_without_catch_all() {
        insta::assert_snapshot!(render(
            ActionKind::Detach {
                partition: part("old"),
                has_default: false
            },
            false
        ));
    }

    #[test]
    fn drop_with_catch_all_is_one_transaction() {
        insta::assert_snapshot!(render(
            ActionKind::Drop {
                partition: part("old"),
                has_default: true
            },
            true
        ));
    }

    #[test]
    fn archive_concurrently_labels_the_partition_first() {
        insta::assert_snapshot!(render(
            ActionKind::Archive {
                partition: part("old"),
                schema: "Arch\"ive".into(),
                has_default: false
            },
            false
        ));
    }

    #[test]
    fn finalize_then_drop() {
        insta::assert_snapshot!(render(
            ActionKind::Finalize {
                partition: part("old"),
                then: Some(Then::Drop)
            },
            false
        ));
    }

    fn render_all(kind: ActionKind, policy_text: &str) -> String {
        let t = table(true);
        let action = Action {
            table: t.name.clone(),
            kind,
            reason: "test".into(),
        };
        let p = parse_sources(&[(PathBuf::from("t.toml"), policy_text.into())])
            .unwrap()
            .remove(0);
        let templates = Templates::new(&POSTGRES);
        POSTGRES
            .render(&templates, &action, &t, &p, test_now(), &[])
            .unwrap()
            .iter()
            .map(|s| format!("id: {}\nlock: {}\n\n{}", s.id, s.lock, s.script()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    const LIST_POLICY: &str = "[[table]]\nname = 'Sales.t'\npartition_by = 'list'\ncolumn = 'Created At'\nlists = { a = ['x'] }\n";

    #[test]
    fn create_list_partition_moves_rows_from_the_catch_all() {
        insta::assert_snapshot!(render_all(
            ActionKind::CreateList {
                partition: part("t_americas"),
                suffix: "americas".into(),
                values: vec![
                    crate::policy::ListValue::Str("US".into()),
                    crate::policy::ListValue::Str("O'Hare".into())
                ],
                move_rows: true,
            },
            LIST_POLICY
        ));
    }

    #[test]
    fn hash_growth_replaces_one_partition_per_transaction() {
        let split = |old: &str, r: u32| crate::plan::HashSplit {
            old: part(old),
            old_modulus: 2,
            old_remainder: r,
            modulus: 4,
            new: vec![
                (part(&format!("t_m4_r{r}")), r),
                (part(&format!("t_m4_r{}", r + 2)), r + 2),
            ],
        };
        insta::assert_snapshot!(render_all(
            ActionKind::GrowHash {
                partition: part("t"),
                from: 2,
                to: 4,
                splits: vec![split("t_0", 0), split("t_1", 1)],
            },
            "[[table]]\nname = 'Sales.t'\npartition_by = 'hash'\ncolumn = 'tenant'\nmodulus = 4\n"
        ));
    }

    #[test]
    fn shrinking_hash_is_refused() {
        let t = table(false);
        let action = Action {
            table: t.name.clone(),
            kind: ActionKind::ShrinkHash {
                partition: part("t"),
                from: 4,
                to: 2,
            },
            reason: "test".into(),
        };
        let e = rendered(&action, &t).unwrap_err();
        assert!(e.message.contains("cannot shrink hash partitioning"), "{e}");
    }

    #[test]
    fn composite_range_partition_is_created_with_its_subpartitions() {
        insta::assert_snapshot!(render_all(
            ActionKind::Create {
                partition: part("p1"),
                from: ts("2026-03-10 00:00:00+00"),
                to: ts("2026-03-11 00:00:00+00"),
                move_rows: true,
            },
            "[[table]]\nname = 'Sales.t'\npartition_by = 'range'\ncolumn = 'Created At'\ninterval = '1 day'\nsubpartition = { partition_by = 'hash', column = 'tenant', modulus = 2 }\n"
        ));
    }

    #[test]
    fn cleanup_of_an_orphan() {
        insta::assert_snapshot!(render(
            ActionKind::Cleanup {
                partition: part("old"),
                then: Then::Archive {
                    schema: "archive".into()
                }
            },
            false
        ));
    }

    /// Citus: the create of a distributed table propagates its timeouts to the workers, moves
    /// the rows in one transaction even from a large catch-all (no ctid batches across shards),
    /// and removes the local copy the ATTACH leaves on the coordinator.
    #[test]
    fn citus_create_moves_rows_then_truncates_the_local_copy() {
        let mut t = distributed(true);
        t.partitions[0].est_rows = 1_000_000;
        insta::assert_snapshot!(render_table(
            ActionKind::Create {
                partition: part("p'1"),
                from: ts("2026-03-10 00:00:00+00"),
                to: ts("2026-03-11 00:00:00+00"),
                move_rows: true,
            },
            t
        ));
    }

    /// Nothing can have moved: nothing to truncate; the timeouts still reach the workers.
    #[test]
    fn citus_create_without_catch_all() {
        let out = render_table(
            ActionKind::Create {
                partition: part("p2"),
                from: ts("2026-03-11 00:00:00+00"),
                to: ts("2026-03-12 00:00:00+00"),
                move_rows: false,
            },
            distributed(false),
        );
        assert!(out.contains("SET LOCAL citus.propagate_set_commands = 'local'"));
        assert!(!out.contains("truncate_local_data"), "{out}");
    }

    /// Citus refuses DETACH ... CONCURRENTLY on distributed tables: the transactional detach,
    /// even without a catch-all, with no "detaching" label to leave behind.
    #[test]
    fn citus_drop_without_catch_all_detaches_in_one_transaction() {
        insta::assert_snapshot!(render_table(
            ActionKind::Drop {
                partition: part("old"),
                has_default: false
            },
            distributed(false)
        ));
    }

    #[test]
    fn citus_archive_without_catch_all_is_one_transaction() {
        let out = render_table(
            ActionKind::Archive {
                partition: part("old"),
                has_default: false,
                schema: "archive".into(),
            },
            distributed(false),
        );
        assert!(out.contains("transaction: true"), "{out}");
        assert!(!out.contains("\" CONCURRENTLY"), "{out}");
        assert!(!out.contains("partctl: detaching"), "{out}");
    }

    #[test]
    fn create_moving_a_large_catch_all_in_batches() {
        let mut t = table(true);
        t.partitions[0].est_rows = 1_000_000;
        let action = Action {
            table: t.name.clone(),
            kind: ActionKind::Create {
                partition: part("p1"),
                from: ts("2026-03-10 00:00:00+00"),
                to: ts("2026-03-11 00:00:00+00"),
                move_rows: true,
            },
            reason: "test".into(),
        };
        let step = rendered(&action, &t).unwrap().remove(0);
        assert!(!step.transactional);
        insta::assert_snapshot!(format!("lock: {}\n\n{}", step.lock, step.script()));
        // A catch-all within one batch, or move_mode = "locked": one transaction.
        t.partitions[0].est_rows = 50_000;
        let small = rendered(&action, &t).unwrap().remove(0);
        assert!(small.transactional);
        // A half-filled table from a stopped run resumes batched even with nothing to move.
        t.stats.in_transit = vec!["p1".into()];
        let resumed = rendered(&action, &t).unwrap().remove(0);
        assert!(!resumed.transactional);
    }
}
