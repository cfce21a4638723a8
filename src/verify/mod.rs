//! `partctl verify`: prove with EXPLAIN that queries still prune.
//!
//! Two kinds of checks, reported apart:
//! - **assertions**, from `[[table.verify]]`: the `sql` template is rendered with `now`,
//!   `today`, `tomorrow` and `max_partitions`, EXPLAINed (PostgreSQL: with `params`, the generic
//!   plan of a prepared statement), and holds when the plan touches at most `max_partitions`
//!   leaf partitions, counted across every partitioned table in the query;
//! - **probes**, automatic: for every managed table, a query on the partition key that must
//!   touch exactly one partition (see [`probe`]).
//!
//! Nothing is executed but EXPLAIN, in READ ONLY transactions that are rolled back: verify
//! never changes the catalog. A check that cannot run (a missing table, a syntax error) is an
//! error, never a pass.

pub mod lint;
pub mod probe;
pub mod report;

use crate::backend::{self, Backend};
use crate::catalog::{Table, TableRead as Read};
use crate::explain::Query;
use crate::names::QualifiedName;
use crate::policy::{ListValue, Policy, VerifyAssertion};
use crate::render::Templates;
use crate::sql;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

pub use report::{render, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Assertion,
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The plan touches no more partitions than allowed.
    Ok,
    /// It touches more.
    Fail,
    /// The check could not run.
    Error,
    /// No probe for this table (said why in `notes`).
    Skipped,
}

/// One checked query.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub kind: Kind,
    pub table: String,
    /// The SQL as EXPLAINed (templates rendered).
    pub sql: String,
    /// Leaf partitions the plan may touch.
    pub touched: Option<u32>,
    /// Leaf partitions of the tables involved.
    pub total: Option<u32>,
    pub max_partitions: u32,
    pub ok: bool,
    pub status: Status,
    pub engine: &'static str,
    /// The touched leaf partitions per partitioned table.
    pub partitions: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ListValue>,
    /// Where the assertion is written (file:line:col).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Every check of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub now: DateTime<Utc>,
    pub engine: &'static str,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count()
    }

    pub fn errors(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Error)
            .count()
    }

    /// 0 all hold, 2 some fail, 1 some could not run.
    pub fn exit_code(&self) -> u8 {
        if self.errors() > 0 {
            1
        } else if self.failures() > 0 {
            2
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Run the automatic probes too.
    pub probes: bool,
}

/// The variables an assertion's `sql` template sees.
pub fn template_context(
    policy: &Policy,
    assertion: &VerifyAssertion,
    now: DateTime<Utc>,
) -> tera::Context {
    let today = now.with_timezone(&policy.timezone).date_naive();
    let mut ctx = tera::Context::new();
    ctx.insert("now", &now.to_rfc3339_opts(SecondsFormat::Secs, true));
    ctx.insert("today", &today.format("%Y-%m-%d").to_string());
    ctx.insert(
        "tomorrow",
        &(today + Duration::days(1)).format("%Y-%m-%d").to_string(),
    );
    ctx.insert("max_partitions", &assertion.max_partitions);
    ctx
}

/// An assertion whose `sql` or `params` templates do not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Render an assertion's `sql` template.
pub fn render_assertion(
    policy: &Policy,
    assertion: &VerifyAssertion,
    now: DateTime<Utc>,
) -> Result<String, TemplateError> {
    tera::Tera::one_off(
        &assertion.sql,
        &template_context(policy, assertion, now),
        false,
    )
    .map_err(|e| {
        let mut msg = format!("the sql template does not render: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        TemplateError(msg)
    })
}

/// Render the string `params` of an assertion as templates too (`params = ["{{ today }}"]`).
pub fn render_params(
    policy: &Policy,
    assertion: &VerifyAssertion,
    now: DateTime<Utc>,
) -> Result<Vec<ListValue>, TemplateError> {
    let ctx = template_context(policy, assertion, now);
    assertion
        .params
        .iter()
        .map(|p| match p {
            ListValue::Str(s) if s.contains("{{") || s.contains("{%") => {
                tera::Tera::one_off(s, &ctx, false)
                    .map(ListValue::Str)
                    .map_err(|e| TemplateError(format!("params: `{s}` does not render: {e}")))
            }
            other => Ok(other.clone()),
        })
        .collect()
}

/// What verify knows of a policy's table: the catalog's view, or why it could not be read.
type TableRead = Result<Option<Table>, String>;

/// Read the catalog of the policies' tables, one table at a time when reading them all at once
/// fails, so that one missing table does not hide the others. Verify reads no row facts
/// beyond what a plan at `now` needs.
fn read_tables(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
) -> Vec<TableRead> {
    let (_, reads) = backend::read_tables(backend, policies, Some(now));
    reads
        .into_iter()
        .zip(policies)
        .map(|(r, p)| match r {
            // A table the policy does not fit is not verified against it.
            Read::Found(t) => match crate::plan::check_fit(p, &t) {
                Ok(()) => Ok(Some(*t)),
                Err(e) => Err(e.message),
            },
            Read::Refused(m) | Read::Unreadable(m) => Err(m),
        })
        .collect()
}

fn check(kind: Kind, table: &str, sql: String, max: u32, engine: &'static str) -> Check {
    Check {
        kind,
        table: table.to_string(),
        sql,
        touched: None,
        total: None,
        max_partitions: max,
        ok: false,
        status: Status::Error,
        engine,
        partitions: BTreeMap::new(),
        params: vec![],
        origin: None,
        error: None,
        notes: vec![],
    }
}

/// Judge one EXPLAINed query: at most `max` partitions (assertions), or exactly `max`
/// (probes).
fn judge(
    mut c: Check,
    explained: Result<crate::explain::Touched, crate::explain::ExplainError>,
    exact: bool,
) -> Check {
    match explained {
        Ok(touched) => {
            let n = touched.count();
            c.touched = Some(n);
            c.total = Some(touched.total.max(n));
            c.ok = if exact {
                // A unique-key lookup made while planning (MySQL/MariaDB "const" tables) found
                // no row: the key was pruned to one partition, then read.
                n == c.max_partitions || (n < c.max_partitions && touched.const_lookup)
            } else {
                n <= c.max_partitions
            };
            c.status = if c.ok { Status::Ok } else { Status::Fail };
            c.partitions = touched
                .by_table
                .into_iter()
                .map(|(t, s)| (t, s.into_iter().collect()))
                .collect();
            c.notes.extend(touched.notes);
        }
        Err(e) => {
            c.error = Some(e.to_string());
        }
    }
    c
}

/// A check waiting for its EXPLAIN: where it goes in the report, and what to EXPLAIN.
struct Pending<'p> {
    at: usize,
    sql: String,
    params: Vec<ListValue>,
    own: Option<QualifiedName>,
    policy: &'p Policy,
    /// A probe (exactly `max_partitions`), not an assertion (at most).
    exact: bool,
}

/// Run every assertion of the policies, then (with `opts.probes`) one probe per table. Every
/// query is EXPLAINed in one batch ([`Backend::explain_all`]): one transaction, and the
/// catalog lookups of all plans together.
pub fn run(
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    opts: Options,
) -> Report {
    let tables = read_tables(backend, policies, now);
    let engine = backend.engine().as_str();
    let caps = backend.capabilities();
    let dialect = backend.dialect();
    let t = Templates::verify(dialect);
    let name_of = |p: &Policy, table: &TableRead| -> (String, Option<QualifiedName>) {
        match table {
            Ok(Some(t)) => (t.name.to_string(), Some(t.name.clone())),
            _ => (p.table.to_string(), None),
        }
    };
    let mut checks = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    for (p, table) in policies.iter().zip(&tables) {
        let (display, own) = name_of(p, table);
        for a in &p.verify {
            let base = |sql: String| {
                let mut c = check(Kind::Assertion, &display, sql, a.max_partitions, engine);
                c.origin = Some(a.origin.to_string());
                c.params = a.params.clone();
                c
            };
            let rendered = render_assertion(p, a, now)
                .and_then(|s| render_params(p, a, now).map(|params| (s, params)));
            let (sql, params) = match rendered {
                Ok(s) => s,
                Err(e) => {
                    let mut c = base(a.sql.clone());
                    c.error = Some(e.to_string());
                    checks.push(c);
                    continue;
                }
            };
            let mut c = base(sql.clone());
            c.params = params.clone();
            if !a.params.is_empty() && !caps.generic_plans {
                c.notes.push(format!(
                    "{} has no generic plans: the params are bound to the prepared statement",
                    caps.product
                ));
            }
            pending.push(Pending {
                at: checks.len(),
                sql,
                params,
                own: own.clone(),
                policy: p,
                exact: false,
            });
            checks.push(c);
        }
    }
    if opts.probes {
        for (p, table) in policies.iter().zip(&tables) {
            let (display, _) = name_of(p, table);
            let table = match table {
                Ok(Some(t)) => t,
                Ok(None) => {
                    let mut c = check(Kind::Probe, &display, String::new(), 1, engine);
                    c.error = Some("the table is not in the catalog".into());
                    checks.push(c);
                    continue;
                }
                Err(e) => {
                    let mut c = check(Kind::Probe, &display, String::new(), 1, engine);
                    c.error = Some(e.clone());
                    checks.push(c);
                    continue;
                }
            };
            match probe::probe(&t, dialect, p, table, now) {
                Ok(probe::ProbePlan::Skip(why)) => {
                    let mut c = check(Kind::Probe, &display, String::new(), 1, engine);
                    c.status = Status::Skipped;
                    c.ok = true;
                    c.notes.push(why);
                    checks.push(c);
                }
                Ok(probe::ProbePlan::Run(pr)) => {
                    let mut c = check(Kind::Probe, &display, pr.sql.clone(), pr.expect, engine);
                    c.notes.push(format!("probe: {}", pr.what));
                    pending.push(Pending {
                        at: checks.len(),
                        sql: pr.sql,
                        params: vec![],
                        own: Some(table.name.clone()),
                        policy: p,
                        exact: true,
                    });
                    checks.push(c);
                }
                Err(e) => {
                    let mut c = check(Kind::Probe, &display, String::new(), 1, engine);
                    c.error = Some(e.to_string());
                    checks.push(c);
                }
            }
        }
    }
    let queries: Vec<Query> = pending
        .iter()
        .map(|w| Query {
            sql: &w.sql,
            params: &w.params,
            own: w.own.as_ref(),
            policy: w.policy,
        })
        .collect();
    let explained = if queries.is_empty() {
        vec![]
    } else {
        backend.explain_all(&t, &queries)
    };
    for (w, result) in pending.iter().zip(explained) {
        let p = w.policy;
        let blank = check(Kind::Probe, "", String::new(), 0, engine);
        let c = std::mem::replace(&mut checks[w.at], blank);
        let mut c = judge(c, result, w.exact);
        if !w.exact && c.status == Status::Fail {
            let mut columns = vec![p.column.as_str()];
            if let Some(s) = &p.subpartition {
                columns.push(s.column.as_str());
            }
            for f in lint::check(&w.sql, &columns) {
                c.notes.push(format!(
                    "`{}` wraps the partition key `{}`: the planner cannot prune through it",
                    sql::one_line(&f.construct),
                    f.column
                ));
            }
        }
        checks[w.at] = c;
    }
    Report {
        now,
        engine,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_sources;
    use std::path::PathBuf;

    #[test]
    fn assertion_templates_see_now_today_tomorrow_in_the_policy_zone() {
        let p = parse_sources(&[(
            PathBuf::from("p.toml"),
            "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\ntimezone = \"Pacific/Auckland\"\n\n[[table.verify]]\nsql = \"SELECT * FROM events WHERE created_at >= '{{ today }}' AND created_at < '{{ tomorrow }}' -- {{ now }} {{ max_partitions }}\"\nmax_partitions = 1\n".to_string(),
        )])
        .unwrap()
        .remove(0);
        let now = crate::policy::parse_now("2026-11-21T12:00:00Z").unwrap();
        let sql = render_assertion(&p, &p.verify[0], now).unwrap();
        assert_eq!(
            sql,
            "SELECT * FROM events WHERE created_at >= '2026-11-22' AND created_at < '2026-11-23' -- 2026-11-21T12:00:00Z 1"
        );
        let mut with_params = p.verify[0].clone();
        with_params.params = vec![
            ListValue::Str("{{ tomorrow }}".into()),
            ListValue::Int(7),
            ListValue::Str("plain".into()),
        ];
        assert_eq!(
            render_params(&p, &with_params, now).unwrap(),
            vec![
                ListValue::Str("2026-11-23".into()),
                ListValue::Int(7),
                ListValue::Str("plain".into())
            ]
        );
        let mut bad = p.verify[0].clone();
        bad.sql = "SELECT {{ yesterday }}".into();
        assert!(render_assertion(&p, &bad, now).is_err());
    }
}
