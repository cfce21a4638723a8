//! The automatic probes: for every managed table, a query on the partition key that must prune
//! to exactly one partition. Range: the current period (`key >= start AND key < end`), taken
//! from the catalog's partition holding the planner's reference (now, or the largest key in a
//! partition or the catch-all, for integer keys), else the current period of the planner's
//! [`Layout`]; list: one listed value; hash: one value. Pure.

use crate::catalog::{PartBound, Partition, Table};
use crate::key::Bound;
use crate::plan::{Layout, LayoutError};
use crate::policy::{Policy, Strategy};
use crate::render::{Dialect, NameCtx, Templates};
use chrono::{DateTime, Utc};
use tera::{Context, Value};

/// A probe to EXPLAIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub sql: String,
    /// How many leaf partitions the plan must touch: 1, or a composite partition's
    /// sub-partitions.
    pub expect: u32,
    /// What the probe asks, for people.
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbePlan {
    Run(Probe),
    /// No probe for this table, and why.
    Skip(String),
}

/// Why a probe could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A key value the dialect cannot write as a literal.
    #[error("unreadable {0}")]
    Unreadable(&'static str),
    #[error(transparent)]
    Template(#[from] crate::explain::ExplainError),
}

/// The probe for one table.
pub fn probe(
    templates: &Templates,
    dialect: &dyn Dialect,
    policy: &Policy,
    table: &Table,
    now: DateTime<Utc>,
) -> Result<ProbePlan, ProbeError> {
    let mut ctx = Context::new();
    ctx.insert("table", &NameCtx::from(&table.name));
    ctx.insert("key", &table.key.name);
    ctx.insert("strategy", table.strategy.as_str());
    let literal =
        |coord: i64| -> Option<Value> { Some(dialect.key_literal(table.key.kind?, coord)) };
    let live = |p: &&Partition| !p.detach_pending && p.bound != PartBound::Orphan;
    let (what, expect) = match table.strategy {
        Strategy::Range => {
            let layout = match Layout::new(policy, table, now) {
                Ok(l) => l,
                Err(LayoutError::UnknownKeyType { sql_type, .. }) => {
                    return Ok(ProbePlan::Skip(format!(
                        "no range probe: partctl cannot lay out a key of type {sql_type}"
                    )));
                }
                Err(LayoutError::NoInterval) => {
                    return Ok(ProbePlan::Skip(
                        "no range probe: the policy has no interval".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let kind = layout.kind;
            let holding = table
                .partitions
                .iter()
                .filter(live)
                .find_map(|p| match p.bound {
                    PartBound::Range { from, to } if layout.holds_reference(from, to) => {
                        Some((from, to, p))
                    }
                    _ => None,
                });
            let (from, to, expect) = match holding {
                Some((from, to, p)) => (from, to, p.subpartitions.len().max(1) as u32),
                None => (layout.from, layout.to, 1),
            };
            if let Bound::At(c) = from {
                ctx.insert("from", &literal(c).ok_or(ProbeError::Unreadable("bound"))?);
            }
            if let Bound::At(c) = to {
                ctx.insert("to", &literal(c).ok_or(ProbeError::Unreadable("bound"))?);
            }
            if from == Bound::Min && to == Bound::Max {
                return Ok(ProbePlan::Skip(
                    "no range probe: one partition holds every key".into(),
                ));
            }
            let show = |b: Bound| match b {
                Bound::At(c) => kind.format(c),
                Bound::Min => "MINVALUE".into(),
                Bound::Max => "MAXVALUE".into(),
            };
            let period = if kind.is_time() {
                "current period"
            } else {
                "range holding the largest key"
            };
            let mut what = format!("{period} [{}, {})", show(from), show(to));
            if holding.is_none() {
                what.push_str(", which no partition holds yet");
            }
            if expect > 1 {
                what.push_str(&format!(": one partition of {expect} sub-partitions"));
            }
            (what, expect)
        }
        Strategy::List => {
            let first = table
                .partitions
                .iter()
                .filter(live)
                .find_map(|p| match &p.bound {
                    PartBound::List { values } => values.first().cloned(),
                    _ => None,
                });
            let Some(v) = first else {
                return Ok(ProbePlan::Skip(
                    "no list probe: the catalog shows no list partition with values".into(),
                ));
            };
            let value = match table.key.kind {
                Some(k) if !k.is_time() => v
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(v.clone())),
                _ => Value::String(v.clone()),
            };
            ctx.insert("value", &value);
            (format!("one listed value ({v})"), 1)
        }
        Strategy::Hash => {
            let value = match table.key.kind {
                Some(k) if !k.is_time() => Value::from(1),
                Some(k) => literal(k.now_coord(now, policy.timezone))
                    .ok_or(ProbeError::Unreadable("key"))?,
                None => {
                    let t = table.key.sql_type.to_ascii_lowercase();
                    if t.contains("char") || t.contains("text") {
                        Value::String("partctl".into())
                    } else {
                        return Ok(ProbePlan::Skip(format!(
                            "no hash probe: partctl does not know a value of type {} to probe with",
                            table.key.sql_type
                        )));
                    }
                }
            };
            let shown = match &value {
                Value::String(s) => format!("'{s}'"),
                v => v.to_string(),
            };
            ctx.insert("value", &value);
            (format!("one key value ({shown})"), 1)
        }
    };
    let sql = crate::explain::text_of(templates, "probe.sql.tera", &ctx)?;
    Ok(ProbePlan::Run(Probe { sql, expect, what }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{KeyColumn, KeyStats};
    use crate::key::KeyKind;
    use crate::names::QualifiedName;
    use crate::policy::parse_sources;
    use crate::render::{mysql::MARIADB, postgres::POSTGRES};
    use std::path::PathBuf;

    fn policy(extra: &str) -> Policy {
        parse_sources(&[(
            PathBuf::from("p.toml"),
            format!("[[table]]\nname = \"public.events\"\ncolumn = \"created_at\"\n{extra}"),
        )])
        .unwrap()
        .remove(0)
    }

    fn part(name: &str, bound: PartBound) -> Partition {
        Partition {
            name: QualifiedName::new("public", name),
            bound,
            est_rows: 0,
            bytes: 0,
            detach_pending: false,
            subpartitions: vec![],
        }
    }

    fn table(strategy: Strategy, kind: Option<KeyKind>, partitions: Vec<Partition>) -> Table {
        Table {
            name: QualifiedName::new("public", "events"),
            strategy,
            key: KeyColumn {
                name: "created_at".into(),
                kind,
                sql_type: "text".into(),
                expr: None,
                granularity: None,
            },
            columns: vec![],
            partitions,
            stats: KeyStats::default(),
            distributed: false,
        }
    }

    fn now() -> DateTime<Utc> {
        crate::policy::parse_now("2026-11-21T12:00:00Z").unwrap()
    }

    fn day(s: &str) -> Bound {
        Bound::At(KeyKind::Date.parse(s).unwrap())
    }

    #[test]
    fn range_probe_uses_the_partition_holding_now() {
        let p = policy("partition_by = \"range\"\ninterval = \"1 day\"\n");
        let t = table(
            Strategy::Range,
            Some(KeyKind::Date),
            vec![
                part(
                    "events_a",
                    PartBound::Range {
                        from: day("2026-11-20"),
                        to: day("2026-11-21"),
                    },
                ),
                // A hand-made two-day partition holds now.
                part(
                    "events_b",
                    PartBound::Range {
                        from: day("2026-11-21"),
                        to: day("2026-11-23"),
                    },
                ),
                part("events_default", PartBound::Default),
            ],
        );
        let tpl = Templates::verify(&POSTGRES);
        let ProbePlan::Run(pr) = probe(&tpl, &POSTGRES, &p, &t, now()).unwrap() else {
            panic!()
        };
        assert_eq!(
            pr.sql,
            "SELECT * FROM \"public\".\"events\" WHERE \"created_at\" >= '2026-11-21' AND \"created_at\" < '2026-11-23'"
        );
        assert_eq!(pr.expect, 1);
        assert_eq!(pr.what, "current period [2026-11-21, 2026-11-23)");
    }

    #[test]
    fn range_probe_falls_back_to_the_axis_in_the_policy_zone() {
        let p = policy(
            "partition_by = \"range\"\ninterval = \"1 day\"\ntimezone = \"Pacific/Auckland\"\n",
        );
        let t = table(Strategy::Range, Some(KeyKind::Timestamptz), vec![]);
        let tpl = Templates::verify(&MARIADB);
        let ProbePlan::Run(pr) = probe(&tpl, &MARIADB, &p, &t, now()).unwrap() else {
            panic!()
        };
        // 12:00 UTC is 01:00 on the 22nd in Auckland (UTC+13): the day starts 11:00 UTC.
        assert_eq!(
            pr.sql,
            "SELECT * FROM `public`.`events` WHERE `created_at` >= '2026-11-21 11:00:00' AND `created_at` < '2026-11-22 11:00:00'"
        );
        assert!(
            pr.what.ends_with("which no partition holds yet"),
            "{}",
            pr.what
        );
    }

    #[test]
    fn integer_range_probe_follows_the_largest_key_and_open_bounds() {
        let p = policy("partition_by = \"range\"\ninterval = 100\n");
        let mut t = table(
            Strategy::Range,
            Some(KeyKind::BigInt),
            vec![part(
                "events_low",
                PartBound::Range {
                    from: Bound::Min,
                    to: Bound::At(100),
                },
            )],
        );
        t.stats.max_key = Some(42);
        let tpl = Templates::verify(&POSTGRES);
        let ProbePlan::Run(pr) = probe(&tpl, &POSTGRES, &p, &t, now()).unwrap() else {
            panic!()
        };
        assert_eq!(
            pr.sql,
            "SELECT * FROM \"public\".\"events\" WHERE \"created_at\" < 100"
        );
    }

    #[test]
    fn composite_partitions_expect_their_sub_partitions() {
        let p = policy("partition_by = \"range\"\ninterval = \"1 day\"\nsubpartition = { partition_by = \"hash\", column = \"tenant\", modulus = 4 }\n");
        let mut holding = part(
            "events_b",
            PartBound::Range {
                from: day("2026-11-21"),
                to: day("2026-11-22"),
            },
        );
        holding.subpartitions = (0..4)
            .map(|i| {
                part(
                    &format!("events_b_{i}"),
                    PartBound::Other {
                        text: String::new(),
                    },
                )
            })
            .collect();
        let t = table(Strategy::Range, Some(KeyKind::Date), vec![holding]);
        let tpl = Templates::verify(&POSTGRES);
        let ProbePlan::Run(pr) = probe(&tpl, &POSTGRES, &p, &t, now()).unwrap() else {
            panic!()
        };
        assert_eq!(pr.expect, 4);
    }

    #[test]
    fn list_and_hash_probes() {
        let p = policy("partition_by = \"list\"\nlists = { americas = [\"US\"] }\n");
        let t = table(
            Strategy::List,
            None,
            vec![
                part("events_default", PartBound::Default),
                part(
                    "events_americas",
                    PartBound::List {
                        values: vec!["US".into(), "CA".into()],
                    },
                ),
            ],
        );
        let tpl = Templates::verify(&POSTGRES);
        let ProbePlan::Run(pr) = probe(&tpl, &POSTGRES, &p, &t, now()).unwrap() else {
            panic!()
        };
        assert!(pr.sql.ends_with("\"created_at\" = 'US'"), "{}", pr.sql);
        let p = policy("partition_by = \"hash\"\nmodulus = 4\n");
        let t = table(Strategy::Hash, Some(KeyKind::Int), vec![]);
        let ProbePlan::Run(pr) = probe(&tpl, &POSTGRES, &p, &t, now()).unwrap() else {
            panic!()
        };
        assert!(pr.sql.ends_with("\"created_at\" = 1"), "{}", pr.sql);
        let mut t = table(Strategy::Hash, None, vec![]);
        t.key.sql_type = "uuid".into();
        assert!(matches!(
            probe(&tpl, &POSTGRES, &p, &t, now()).unwrap(),
            ProbePlan::Skip(_)
        ));
    }
}
