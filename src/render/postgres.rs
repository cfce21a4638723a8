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
            return Err(format!(
                "`{}` is not a valid identifier",
                ident.escape_debug()
            ));
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
                (
                    "create.sql.tera",
                    format!("SHARE UPDATE EXCLUSIVE on {parent}"),
                )
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
                    format!(
                        "ACCESS EXCLUSIVE on {parent} (DETACH; a catch-all forbids CONCURRENTLY)"
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
        }
    }

    fn render(kind: ActionKind, with_default: bool) -> String {
        let t = table(with_default);
        let action = Action {
            table: t.name.clone(),
            kind,
            reason: "test".into(),
        };
        let templates = Templates::new(&POSTGRES);
        let step = POSTGRES.render(&templates, &action, &t, &policy()).unwrap();
        format!(
            "id: {}\nlock: {}\ntransaction: {}\n\n{};\n",
            step.id,
            step.lock,
            step.transactional,
            step.sql.join(";\n")
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

    #[test]
    fn create_without_catch_all_and_open_lower_bound() {
        insta::assert_snapshot!(render(
            ActionKind::Create {
                partition: part("p_min"),
                from: Bound::Min,
                to: ts("2026-03-11 00:00:00+00"),
                move_rows: false,
            },
            false
        ));
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
}
