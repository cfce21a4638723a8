//! SQL rendering. All SQL text lives in `templates/<dialect>/`; identifiers reach it only
//! through the dialect's `ident` filter and values only through its `literal` filter.
//!
//! A step template renders a sequence of statements, each introduced by a marker line
//! `--- <role>` that tells the executor what the statement is for (see [`Role`]). A template
//! whose first marker is `--- no_transaction` runs outside a transaction block.

/// `templates!["<dir>": "a.sql.tera", ...]` in `templates/<dir>/`: (name, text) pairs compiled in.
macro_rules! templates {
    ($dir:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $dir, "/", $name)))),*]
    };
}

#[cfg(test)]
mod coarsen_tests;
mod estimate;
pub mod mysql;
mod plan_doc;
pub mod postgres;

pub use estimate::RowEstimate;
pub use plan_doc::{
    located, plan_each, plan_steps, plan_steps_judged, refusals, PlanDoc, PlanStepsError, StepDoc,
    TableError,
};

use crate::catalog::{Catalog, Engine, Table};
use crate::key::KeyKind;
use crate::name_template::flatten;
use crate::names::QualifiedName;
use crate::plan::{Action, PlanError};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use tera::{Context, Tera, Value};

/// What a statement is for; the executor checks row counts through these roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Run it.
    Exec,
    /// `SELECT count(*)` of the rows about to move; remembered.
    CountSource,
    /// Moves rows; the number of rows it reports must equal the remembered count.
    MoveRows,
    /// `SELECT count(*)` at the destination; must equal the remembered count.
    CountTarget,
    /// `SELECT count(*)` of rows left behind; must be 0.
    CountLeft,
    /// Opens a transaction inside a step that runs outside one (a batched move's set-up and
    /// final attach).
    Begin,
    /// Commits the transaction a [`Role::Begin`] opened.
    Commit,
    /// `SELECT count(*)` of relations that stand in the way of the new partition's name (a
    /// table partctl did not label as its own); must be 0.
    NameFree,
    /// `SELECT count(*)` of the rows a batched move already put in the new table (a run that
    /// stopped); the base the final count is checked against.
    CountBase,
    /// `SELECT count(*)` of the rows still to move (for progress; rows written meanwhile may
    /// add to them).
    CountPending,
    /// One batch of a move: returns (rows deleted, rows inserted), which must be equal.
    /// Outside a transaction the executor repeats it, each in its own transaction, until it
    /// moves no row; inside one it runs once.
    MoveBatch,
    /// The first statement of a three-statement batch (engines without `DELETE ... RETURNING`
    /// into an `INSERT`): sets the batch's cut (`SET @partctl_cut = ...`). The executor runs
    /// [`Role::BatchCut`], [`Role::BatchCopy`] and [`Role::BatchDelete`] together in one
    /// transaction, repeated until the copy moves no row.
    BatchCut,
    /// Copies the batch (`INSERT ... SELECT`); its affected rows are the batch's size.
    BatchCopy,
    /// Deletes the batch at its source; must affect exactly the rows the copy inserted.
    BatchDelete,
    /// Returns one row of pairs (source, target, source, target, ...): row counts and
    /// checksums that must be equal (coarsening compares the merged partitions with the new
    /// one before dropping them).
    Compare,
}

impl Role {
    /// The marker word templates use for the role (`--- count_source`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Exec => "exec",
            Role::CountSource => "count_source",
            Role::MoveRows => "move_rows",
            Role::CountTarget => "count_target",
            Role::CountLeft => "count_left",
            Role::Begin => "begin",
            Role::Commit => "commit",
            Role::NameFree => "name_free",
            Role::CountBase => "count_base",
            Role::CountPending => "count_pending",
            Role::MoveBatch => "move_batch",
            Role::BatchCut => "batch_cut",
            Role::BatchCopy => "batch_copy",
            Role::BatchDelete => "batch_delete",
            Role::Compare => "compare",
        }
    }

    fn from_marker(marker: &str) -> Option<Role> {
        [
            Role::Exec,
            Role::CountSource,
            Role::MoveRows,
            Role::CountTarget,
            Role::CountLeft,
            Role::Begin,
            Role::Commit,
            Role::NameFree,
            Role::CountBase,
            Role::CountPending,
            Role::MoveBatch,
            Role::BatchCut,
            Role::BatchCopy,
            Role::BatchDelete,
            Role::Compare,
        ]
        .into_iter()
        .find(|r| r.as_str() == marker)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    pub sql: String,
    pub role: Role,
}

/// One unit of work: what the plan shows and what the executor runs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub table: String,
    pub action: String,
    pub partition: String,
    pub reason: String,
    pub lock: String,
    pub sql: Vec<String>,
    #[serde(skip)]
    pub stmts: Vec<Stmt>,
    #[serde(skip)]
    pub transactional: bool,
    /// Index into the table's policy list (for timeouts and retries).
    #[serde(skip)]
    pub policy: usize,
    /// The partitioned table the step works on.
    #[serde(skip)]
    pub parent: QualifiedName,
    /// Rows the step is expected to move, for the plan (see `estimate.rs`); never relied on.
    #[serde(skip)]
    pub est_rows_moved: Option<RowEstimate>,
    /// Rows deleted with the partition a drop step drops (its catalog estimate), for the plan.
    #[serde(skip)]
    pub est_rows_dropped: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("rendering {what}: {message}")]
pub struct RenderError {
    pub what: String,
    pub message: String,
}

/// A name or value that cannot be quoted (a NUL byte, an identifier too long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuoteError(pub String);

/// An SQL dialect: one quoting function for identifiers, one for literals, its templates, and
/// the engine's rules for what a plan may do.
pub trait Dialect: Sync + Send {
    fn quote_ident(&self, ident: &str) -> Result<String, QuoteError>;
    fn quote_literal(&self, value: &str) -> Result<String, QuoteError>;
    fn templates(&self) -> &'static [(&'static str, &'static str)];
    /// The templates `verify` renders (assertion wrappers, probes).
    fn verify_templates(&self) -> &'static [(&'static str, &'static str)];
    /// The templates `convert` renders (reading the plain table, its state, each phase);
    /// empty where `convert` is not built yet.
    fn convert_templates(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// The key kind of a column of this SQL type (as the server names it), when partctl can
    /// lay out range partitions on it.
    fn key_kind(&self, _sql_type: &str) -> Option<KeyKind> {
        None
    }
    /// Values the dialect's `convert` templates need beyond the shared ones (MySQL: the
    /// flavor and its timeouts in seconds).
    fn convert_context(&self, _policy: &Policy, _ctx: &mut Context) {}
    /// The statements that give `convert`'s new table its partitions: by default each planned
    /// create rendered like any other (PostgreSQL attaches them one by one); MySQL partitions
    /// the empty table in one `ALTER TABLE ... PARTITION BY`.
    fn convert_partitions(
        &self,
        t: &Templates,
        actions: &[Action],
        table: &Table,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Stmt>, RenderError> {
        let mut stmts = Vec::new();
        for a in actions {
            for step in self.render(t, a, table, policy, now, actions)? {
                stmts.extend(step.stmts);
            }
        }
        Ok(stmts)
    }
    /// A key coordinate as the literal value the engine compares the key column with.
    fn key_literal(&self, kind: KeyKind, coord: i64) -> Value;
    /// The engine's rules a plan must obey, checked before anything is rendered.
    fn check_plan(
        &self,
        _policies: &[&Policy],
        _catalog: &Catalog,
        _actions: &[Action],
    ) -> Result<(), PlanError> {
        Ok(())
    }
    /// Render one planned action into its steps (usually one; hash growth on PostgreSQL
    /// replaces one partition per step).
    fn render(
        &self,
        t: &Templates,
        action: &Action,
        table: &Table,
        policy: &Policy,
        now: DateTime<Utc>,
        plan: &[Action],
    ) -> Result<Vec<Step>, RenderError>;
}

/// A dialect's templates, each compiled when first rendered (with the templates it includes),
/// with its quoting filters registered.
pub struct Templates {
    sources: &'static [(&'static str, &'static str)],
    tera: std::sync::Mutex<Tera>,
}

/// A template's text without the comment that opens it (its documentation): tera parses a
/// comment character by character, and the catalog readers' templates, compiled on every run,
/// are mostly comment. The whitespace a `-#}` would trim goes with it.
fn without_leading_comment(text: &str) -> &str {
    let Some(body) = text.strip_prefix("{#") else {
        return text;
    };
    match body.find("#}") {
        Some(end) if body[..end].ends_with('-') => body[end + 2..].trim_start(),
        Some(end) => &body[end + 2..],
        None => text,
    }
}

impl Templates {
    pub fn new(dialect: &'static dyn Dialect) -> Templates {
        Templates::from_list(dialect, dialect.templates())
    }

    /// The dialect's templates, shared by the whole process: what one table's plan compiled,
    /// the next table's reuses.
    pub fn shared(dialect: &'static dyn Dialect) -> &'static Templates {
        type Cache = Vec<((usize, usize), &'static Templates)>;
        static CACHE: std::sync::Mutex<Cache> = std::sync::Mutex::new(Vec::new());
        // A dialect is a static value: its address names it, together with its template list
        // (a zero-sized dialect's address may be another static's).
        let key = (
            dialect as *const dyn Dialect as *const () as usize,
            dialect.templates().as_ptr() as usize,
        );
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = cache.iter().find(|(k, _)| *k == key) {
            return t;
        }
        let t: &'static Templates = Box::leak(Box::new(Templates::new(dialect)));
        cache.push((key, t));
        t
    }

    /// The dialect's `verify` templates, with the same quoting filters.
    pub fn verify(dialect: &'static dyn Dialect) -> Templates {
        Templates::from_list(dialect, dialect.verify_templates())
    }

    /// Other built-in templates with the same quoting filters. Nothing is compiled yet:
    /// compiling every template of a dialect was a tenth of an `apply` that renders one kind
    /// of step.
    pub fn from_list(
        dialect: &'static dyn Dialect,
        templates: &'static [(&'static str, &'static str)],
    ) -> Templates {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        tera.register_filter(
            "ident",
            move |v: &Value, _: &HashMap<String, Value>| -> tera::Result<Value> {
                ident_value(dialect, v)
                    .map(Value::String)
                    .map_err(tera::Error::msg)
            },
        );
        tera.register_filter(
            "literal",
            move |v: &Value, _: &HashMap<String, Value>| -> tera::Result<Value> {
                literal_value(dialect, v)
                    .map(Value::String)
                    .map_err(tera::Error::msg)
            },
        );
        Templates {
            sources: templates,
            tera: std::sync::Mutex::new(tera),
        }
    }

    /// Compile `name` and what it includes, unless done before. An unknown name is left to
    /// `render`'s own error.
    fn compile(&self, tera: &mut Tera, name: &str) -> tera::Result<()> {
        let mut todo = vec![name.to_string()];
        let mut add: Vec<(&'static str, &'static str)> = Vec::new();
        while let Some(n) = todo.pop() {
            if tera.get_template(&n).is_ok() || add.iter().any(|(a, _)| *a == n) {
                continue;
            }
            let Some(&(found, text)) = self.sources.iter().find(|(a, _)| *a == n) else {
                if n == name {
                    continue;
                }
                return Err(tera::Error::msg(format!(
                    "template '{n}', included by '{name}', not found"
                )));
            };
            add.push((found, without_leading_comment(text)));
            // `{% include "x" %}` is the only way the built-in templates use one another.
            for part in text.split("include \"").skip(1) {
                if let Some((inc, _)) = part.split_once('"') {
                    todo.push(inc.to_string());
                }
            }
        }
        match add.is_empty() {
            true => Ok(()),
            false => tera.add_raw_templates(add),
        }
    }

    /// Compile every template of the list (tests: each one compiles).
    pub fn compile_all(&self) -> Result<(), RenderError> {
        let mut tera = self.tera.lock().unwrap_or_else(|e| e.into_inner());
        for (name, _) in self.sources {
            self.compile(&mut tera, name).map_err(|e| RenderError {
                what: name.to_string(),
                message: flatten(&e),
            })?;
        }
        Ok(())
    }

    /// Render a template to text.
    pub fn text(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        let fail = |e: tera::Error| RenderError {
            what: name.to_string(),
            message: flatten(&e),
        };
        let mut tera = self.tera.lock().unwrap_or_else(|e| e.into_inner());
        self.compile(&mut tera, name).map_err(fail)?;
        tera.render(name, ctx).map_err(fail)
    }

    /// Render a step template into statements (split on `--- role` markers).
    pub fn statements(&self, name: &str, ctx: &Context) -> Result<(Vec<Stmt>, bool), RenderError> {
        let text = self.text(name, ctx)?;
        split_statements(&text).map_err(|message| RenderError {
            what: name.to_string(),
            message,
        })
    }
}

/// `ident` accepts a string, a `{schema, name}` object (qualified name) or a list (joined by
/// ", ").
fn ident_value(d: &dyn Dialect, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => d.quote_ident(s).map_err(|e| e.0),
        Value::Object(o) => {
            let part = |k: &str| -> Result<String, String> {
                match o.get(k) {
                    Some(Value::String(s)) => d.quote_ident(s).map_err(|e| e.0),
                    _ => Err(format!("ident: qualified name without `{k}`")),
                }
            };
            Ok(format!("{}.{}", part("schema")?, part("name")?))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| ident_value(d, i))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(", ")),
        other => Err(format!("ident: cannot quote {other}")),
    }
}

fn literal_value(d: &dyn Dialect, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => d.quote_literal(s).map_err(|e| e.0),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.into()),
        Value::Array(items) => items
            .iter()
            .map(|i| literal_value(d, i))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(", ")),
        Value::Null => Ok("NULL".into()),
        Value::Object(_) => Err("literal: cannot quote an object".into()),
    }
}

pub(crate) fn split_statements(text: &str) -> Result<(Vec<Stmt>, bool), String> {
    let mut stmts: Vec<Stmt> = Vec::new();
    let mut transactional = true;
    let mut current: Option<(Role, String)> = None;
    let flush = |cur: &mut Option<(Role, String)>, out: &mut Vec<Stmt>| {
        if let Some((role, sql)) = cur.take() {
            let sql = sql.trim().trim_end_matches(';').trim().to_string();
            if !sql.is_empty() {
                out.push(Stmt { sql, role });
            }
        }
    };
    for line in text.lines() {
        if let Some(marker) = line.trim().strip_prefix("--- ") {
            flush(&mut current, &mut stmts);
            let role = match marker.trim() {
                "no_transaction" => {
                    transactional = false;
                    continue;
                }
                other => Role::from_marker(other)
                    .ok_or_else(|| format!("unknown statement role `{other}`"))?,
            };
            current = Some((role, String::new()));
        } else if let Some((_, sql)) = current.as_mut() {
            sql.push_str(line);
            sql.push('\n');
        } else if !line.trim().is_empty() {
            return Err(format!("text before the first `--- role` marker: `{line}`"));
        }
    }
    flush(&mut current, &mut stmts);
    Ok((stmts, transactional))
}

/// The dialect for an engine and server version: the one place the offline paths (`plan
/// --catalog`) pick a dialect; a live backend picks its own the same way.
pub fn dialect_for(engine: Engine, server_version: &str) -> &'static dyn Dialect {
    match engine {
        Engine::Postgres => &postgres::POSTGRES,
        Engine::Mysql => mysql::Server::from_version(server_version).dialect(),
        Engine::Mariadb => mysql::mariadb(server_version),
    }
}

/// `{schema, name}` for templates.
#[derive(Serialize)]
pub struct NameCtx<'a> {
    pub schema: &'a str,
    pub name: &'a str,
}

impl<'a> From<&'a QualifiedName> for NameCtx<'a> {
    fn from(q: &'a QualifiedName) -> Self {
        NameCtx {
            schema: &q.schema,
            name: &q.name,
        }
    }
}

impl Step {
    /// A step from rendered statements.
    pub fn new(
        id: String,
        action: &Action,
        lock: String,
        (stmts, transactional): (Vec<Stmt>, bool),
    ) -> Step {
        Step {
            id,
            table: action.table.to_string(),
            action: action.kind.verb().to_string(),
            partition: action.kind.partition().to_string(),
            reason: action.reason.clone(),
            lock,
            sql: stmts.iter().map(|s| s.sql.clone()).collect(),
            stmts,
            transactional,
            policy: 0,
            parent: action.table.clone(),
            est_rows_moved: None,
            est_rows_dropped: None,
        }
    }
}

impl Step {
    /// The step's statements as a script, each under a `-- <role>` line that says what it is
    /// for (run it; count the rows to move; move them; count where they arrived; count what is
    /// left), one statement per call.
    pub fn script(&self) -> String {
        let mut out = String::new();
        for s in &self.stmts {
            out.push_str("-- ");
            out.push_str(s.role.as_str());
            out.push('\n');
            out.push_str(&s.sql);
            out.push_str(";\n");
        }
        out
    }
}

/// Step id as in the contract: `public.events/create/events_p20260311`.
pub fn step_id(action: &Action) -> String {
    format!(
        "{}/{}/{}",
        action.table,
        action.kind.verb(),
        action.kind.partition().name
    )
}

/// Render every action; `policy_of` maps an action to the index of its policy and the table.
pub fn render_all<'a>(
    dialect: &'static dyn Dialect,
    actions: &[Action],
    now: DateTime<Utc>,
    lookup: impl Fn(&Action) -> Option<(usize, &'a Policy, &'a Table)>,
) -> Result<Vec<Step>, RenderError> {
    let mut steps = Vec::new();
    if actions.is_empty() {
        // Nothing to render: a no-op plan does not compile the dialect's templates.
        return Ok(steps);
    }
    let t = Templates::shared(dialect);
    for a in actions {
        let (idx, policy, table) = lookup(a).ok_or_else(|| RenderError {
            what: a.table.to_string(),
            message: "no policy for this table".into(),
        })?;
        let rendered = dialect.render(t, a, table, policy, now, actions)?;
        let estimates = estimate::for_steps(a, table, rendered.len());
        let dropped = estimate::dropped(a, table);
        for (mut step, est) in rendered.into_iter().zip(estimates) {
            step.policy = idx;
            step.est_rows_moved = est;
            step.est_rows_dropped = dropped;
            steps.push(step);
        }
    }
    Ok(steps)
}

/// The label a table carries while a batched move fills it (PostgreSQL: the new partition,
/// standalone; MySQL/MariaDB: the holding table of a staged move).
pub fn moving_marker(table: &QualifiedName) -> String {
    format!("partctl: moving rows for {table}")
}

/// The clock render tests plan at.
#[cfg(test)]
pub(crate) fn test_now() -> DateTime<Utc> {
    "2026-03-10T12:00:00Z".parse().expect("a valid time")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Templates compile when first rendered: each one of every dialect's lists compiles, with
    /// what it includes, and rendering one compiles only it and its includes.
    #[test]
    fn every_template_compiles() {
        let dialects: [&'static dyn Dialect; 4] = [
            &postgres::POSTGRES,
            &mysql::MARIADB,
            &mysql::MYSQL,
            &mysql::VITESS,
        ];
        for d in dialects {
            for list in [d.templates(), d.verify_templates(), d.convert_templates()] {
                Templates::from_list(d, list).compile_all().unwrap();
            }
        }
        let t = Templates::new(&postgres::POSTGRES);
        let mut ctx = Context::new();
        ctx.insert("tables", &Vec::<serde_json::Value>::new());
        t.text("key_stats.sql.tera", &ctx).unwrap();
        let compiled = t.tera.lock().unwrap().get_template_names().count();
        assert!(
            compiled < postgres::POSTGRES.templates().len() / 2,
            "{compiled}"
        );
        assert!(t.text("no_such.sql.tera", &ctx).is_err());
    }

    #[test]
    fn shared_templates_are_one_per_dialect() {
        use std::ptr::eq;
        let pg = Templates::shared(&postgres::POSTGRES);
        let maria = Templates::shared(&mysql::MARIADB);
        let my = Templates::shared(&mysql::MYSQL);
        assert!(eq(pg, Templates::shared(&postgres::POSTGRES)));
        assert!(eq(maria, Templates::shared(&mysql::MARIADB)));
        assert!(!eq(pg, maria) && !eq(pg, my) && !eq(maria, my));
        // Both hold their own dialect's templates and render them.
        let mut ctx = Context::new();
        ctx.insert("table", &serde_json::json!({"schema": "s", "name": "t"}));
        ctx.insert("tables", &Vec::<serde_json::Value>::new());
        assert_eq!(pg.text("key_stats.sql.tera", &ctx).unwrap().trim(), "");
        assert_eq!(maria.text("key_stats.sql.tera", &ctx).unwrap().trim(), "");
    }

    #[test]
    fn splits_on_role_markers() {
        let (s, tx) = split_statements(
            "--- no_transaction\n--- exec\nSET x = 1;\n\n--- count_source\nSELECT count(*)\nFROM t;\n",
        )
        .unwrap();
        assert!(!tx);
        assert_eq!(
            s,
            vec![
                Stmt {
                    sql: "SET x = 1".into(),
                    role: Role::Exec
                },
                Stmt {
                    sql: "SELECT count(*)\nFROM t".into(),
                    role: Role::CountSource
                }
            ]
        );
        assert!(split_statements("SELECT 1").is_err());
        assert!(split_statements("--- bogus\nSELECT 1").is_err());
    }

    mod verify_templates {
        use super::super::*;
        use crate::explain::text_of;
        use crate::names::QualifiedName;
        use tera::{Context, Value};

        fn ctx(pairs: &[(&str, Value)]) -> Context {
            let mut c = Context::new();
            for (k, v) in pairs {
                c.insert(*k, v);
            }
            c
        }

        #[test]
        fn postgres_parts() {
            let t = Templates::verify(&postgres::POSTGRES);
            let begin = text_of(
                &t,
                "verify.sql.tera",
                &ctx(&[
                    ("part", "begin".into()),
                    ("lock_timeout", "2000ms".into()),
                    ("statement_timeout", "900000ms".into()),
                    ("generic", true.into()),
                ]),
            )
            .unwrap();
            assert_eq!(
                begin,
                "BEGIN READ ONLY;\nSET LOCAL lock_timeout = '2000ms';\nSET LOCAL statement_timeout = '900000ms';\nSET LOCAL plan_cache_mode = force_generic_plan;"
            );
            let explain = text_of(
                &t,
                "verify.sql.tera",
                &ctx(&[
                    ("part", "explain".into()),
                    ("name", "partctl_verify".into()),
                    ("params", serde_json::json!(["2026-01-01", 5, "it's"])),
                ]),
            )
            .unwrap();
            assert_eq!(
                explain,
                "EXPLAIN (FORMAT JSON, VERBOSE)\nEXECUTE \"partctl_verify\"('2026-01-01', 5, 'it''s')"
            );
            let end = text_of(
                &t,
                "verify.sql.tera",
                &ctx(&[("part", "end".into()), ("name", "partctl_verify".into())]),
            )
            .unwrap();
            assert_eq!(end, "ROLLBACK;\nDEALLOCATE \"partctl_verify\";");
        }

        #[test]
        fn probes_quote_hostile_names() {
            let name = QualifiedName::new("Sales", "Ev\"il`s");
            for (dialect, want) in [
                (
                    &postgres::POSTGRES as &'static dyn Dialect,
                    "SELECT * FROM \"Sales\".\"Ev\"\"il`s\" WHERE \"day\" >= '2026-11-21' AND \"day\" < '2026-11-22'",
                ),
                (
                    &mysql::MARIADB,
                    "SELECT * FROM `Sales`.`Ev\"il``s` WHERE `day` >= '2026-11-21' AND `day` < '2026-11-22'",
                ),
            ] {
                let t = Templates::verify(dialect);
                let mut c = Context::new();
                c.insert("table", &NameCtx::from(&name));
                c.insert("key", "day");
                c.insert("strategy", "range");
                c.insert("from", "2026-11-21");
                c.insert("to", "2026-11-22");
                assert_eq!(text_of(&t, "probe.sql.tera", &c).unwrap(), want);
            }
            let t = Templates::verify(&postgres::POSTGRES);
            let mut c = Context::new();
            c.insert("table", &NameCtx::from(&name));
            c.insert("key", "id");
            c.insert("strategy", "range");
            c.insert("to", &100);
            assert_eq!(
                text_of(&t, "probe.sql.tera", &c).unwrap(),
                "SELECT * FROM \"Sales\".\"Ev\"\"il`s\" WHERE \"id\" < 100"
            );
            c.insert("strategy", "list");
            c.insert("value", "US");
            assert_eq!(
                text_of(&t, "probe.sql.tera", &c).unwrap(),
                "SELECT * FROM \"Sales\".\"Ev\"\"il`s\" WHERE \"id\" = 'US'"
            );
        }

        #[test]
        fn mysql_parts() {
            let t = Templates::verify(&mysql::MARIADB);
            let begin = text_of(
                &t,
                "verify.sql.tera",
                &ctx(&[
                    ("part", "begin".into()),
                    ("flavor", "mariadb".into()),
                    ("lock_wait_seconds", 2.into()),
                    ("statement_seconds", 900.into()),
                    ("statement_ms", 900000.into()),
                ]),
            )
            .unwrap();
            assert_eq!(
                begin,
                "SET SESSION lock_wait_timeout = 2;\nSET SESSION max_statement_time = 900;\nSTART TRANSACTION READ ONLY"
            );
            let totals =
                text_of(&t, "verify_totals.sql.tera", &ctx(&[("count", 2.into())])).unwrap();
            assert!(
                totals.contains("IN ((COALESCE(?, DATABASE()), ?), (COALESCE(?, DATABASE()), ?))")
            );
        }
    }
}

#[cfg(test)]
mod comment_tests {
    use super::without_leading_comment;

    #[test]
    fn the_opening_comment_is_left_out_with_the_whitespace_it_trims() {
        assert_eq!(
            without_leading_comment("{#- doc\n -#}\nSELECT 1"),
            "SELECT 1"
        );
        assert_eq!(without_leading_comment("{# doc #}\nSELECT 1"), "\nSELECT 1");
        assert_eq!(
            without_leading_comment("SELECT 1 {# x #}"),
            "SELECT 1 {# x #}"
        );
        assert_eq!(without_leading_comment("{# unclosed"), "{# unclosed");
    }
}
