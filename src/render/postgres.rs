//! The PostgreSQL dialect.

use super::{step_id, Dialect, NameCtx, RenderError, Step, Templates};
use crate::catalog::Table;
use crate::key::Bound;
use crate::names::QualifiedName;
use crate::plan::{Action, ActionKind, Then};
use crate::policy::Policy;
use std::time::Duration;
use tera::Context;

pub struct Postgres;

pub static POSTGRES: Postgres = Postgres;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "timeouts.sql.tera",
        include_str!("../../templates/postgres/timeouts.sql.tera"),
    ),
    (
        "range_predicate.sql.tera",
        include_str!("../../templates/postgres/range_predicate.sql.tera"),
    ),
    (
        "create.sql.tera",
        include_str!("../../templates/postgres/create.sql.tera"),
    ),
    (
        "expire.sql.tera",
        include_str!("../../templates/postgres/expire.sql.tera"),
    ),
    (
        "key_stats.sql.tera",
        include_str!("../../templates/postgres/key_stats.sql.tera"),
    ),
];

/// The label a partition carries while it is detached for dropping or archiving.
pub fn detach_marker(table: &QualifiedName) -> String {
    format!("partctl: detaching from {table}")
}

fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

impl Dialect for Postgres {
    fn quote_ident(&self, ident: &str) -> Result<String, String> {
        if ident.is_empty() || ident.contains('\0') {
            return Err(format!("`{}` is not a valid identifier", ident.escape_debug()));
        }
        Ok(format!("\"{}\"", ident.replace('"', "\"\"")))
    }

    fn quote_literal(&self, value: &str) -> Result<String, String> {
        if value.contains('\0') {
            return Err("a literal cannot contain a NUL byte".into());
        }
        // standard_conforming_strings is on for every partctl session (session.sql).
        Ok(format!("'{}'", value.replace('\'', "''")))
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn render(
        &self,
        t: &Templates,
        action: &Action,
        table: &Table,
        policy: &Policy,
    ) -> Result<Step, RenderError> {
        let mut ctx = Context::new();
        ctx.insert("table", &NameCtx::from(&table.name));
        ctx.insert("key", &table.key.name);
        ctx.insert("columns", &table.columns);
        ctx.insert("lock_timeout", &millis(policy.lock_timeout));
        ctx.insert("statement_timeout", &millis(policy.statement_timeout));
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
                if let Some(v) = literal(*from) {
                    ctx.insert("from", &v);
                }
                if let Some(v) = literal(*to) {
                    ctx.insert("to", &v);
                }
                ctx.insert("move_rows", &(*move_rows && default.is_some()));
                ctx.insert("check_name", &check_name(&partition.name));
                let lock = match default {
                    Some(d) => format!(
                        "SHARE UPDATE EXCLUSIVE on {parent}; ACCESS EXCLUSIVE on {d} (the catch-all)"
                    ),
                    None => format!("SHARE UPDATE EXCLUSIVE on {parent}"),
                };
                ("create.sql.tera", lock)
            }
            ActionKind::CreateDefault { partition } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("is_default", &true);
                ctx.insert("move_rows", &false);
                ("create.sql.tera", format!("SHARE UPDATE EXCLUSIVE on {parent}"))
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
                ctx.insert("transactional", has_default);
                let lock = if *has_default {
                    format!("ACCESS EXCLUSIVE on {parent} (DETACH; a catch-all forbids CONCURRENTLY)")
                } else {
                    format!("SHARE UPDATE EXCLUSIVE on {parent} (DETACH CONCURRENTLY)")
                };
                ("expire.sql.tera", with_partition_lock(lock, partition, then.as_ref()))
            }
            ActionKind::Finalize { partition, then } => {
                expire_ctx(&mut ctx, parent, partition, then.as_ref());
                ctx.insert("finalize", &true);
                ctx.insert("orphan", &false);
                ctx.insert("transactional", &false);
                let lock = format!("SHARE UPDATE EXCLUSIVE on {parent} (DETACH FINALIZE)");
                ("expire.sql.tera", with_partition_lock(lock, partition, then.as_ref()))
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
        let (stmts, transactional) = t.statements(template, &ctx)?;
        Ok(Step {
            id: step_id(action),
            table: action.table.to_string(),
            action: action.kind.verb().to_string(),
            partition: action.kind.partition().to_string(),
            reason: action.reason.clone(),
            lock,
            sql: stmts.iter().map(|s| s.sql.clone()).collect(),
            stmts,
            transactional,
            policy: 0,
        })
    }
}

fn expire_ctx(ctx: &mut Context, parent: &QualifiedName, partition: &QualifiedName, then: Option<&Then>) {
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
