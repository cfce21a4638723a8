//! The MySQL/MariaDB dialect: one static per flavour, since the servers accept different SQL
//! for the same step (MariaDB rejects ALGORITHM/LOCK on partition operations and, from 10.7,
//! detaches with CONVERT PARTITION; MySQL 8 wants ALGORITHM/LOCK and detaches by EXCHANGE).

use super::{step_id, Dialect, NameCtx, QuoteError, RenderError, Step, Templates};
use crate::catalog::{Catalog, Engine, KeyExpr, Table};
use crate::key::{Bound, KeyKind};
use crate::names::QualifiedName;
use crate::plan::{self, Action, ActionKind, PlanError, Then};
use crate::policy::{MoveMode, Policy, Strategy};
use chrono::{DateTime, Utc};
use tera::{Context, Value};

/// Which server speaks the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Mysql,
    Mariadb,
}

impl Flavor {
    /// The word templates test (`flavor == "mariadb"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        }
    }

    pub fn product(self) -> &'static str {
        match self {
            Flavor::Mysql => "MySQL",
            Flavor::Mariadb => "MariaDB",
        }
    }
}

pub struct MySql {
    flavor: Flavor,
    /// MariaDB >= 10.7: `CONVERT PARTITION ... TO TABLE`.
    convert_partition: bool,
    /// Through Vitess's vtgate: the steps Vitess would get wrong are refused (see
    /// [`vitess_refusal`]).
    vitess: bool,
}

pub static MARIADB: MySql = MySql {
    flavor: Flavor::Mariadb,
    convert_partition: true,
    vitess: false,
};
/// MariaDB before 10.7: no CONVERT PARTITION; detach by EXCHANGE as on MySQL.
pub static MARIADB_OLD: MySql = MySql {
    flavor: Flavor::Mariadb,
    convert_partition: false,
    vitess: false,
};
pub static MYSQL: MySql = MySql {
    flavor: Flavor::Mysql,
    convert_partition: false,
    vitess: false,
};
/// MySQL behind Vitess's vtgate: MySQL's SQL, as direct DDL, less what Vitess gets wrong.
pub static VITESS: MySql = MySql {
    flavor: Flavor::Mysql,
    convert_partition: false,
    vitess: true,
};

/// Whether a server is Vitess's vtgate: its version (`8.0.30-Vitess` by default; partctl
/// appends ` (Vitess)` when the other signs found it) or `@@version_comment` names Vitess, or
/// `SHOW VITESS_TARGET` (a statement only vtgate knows) succeeded.
pub fn is_vitess(version: &str, version_comment: Option<&str>, show_vitess_ok: bool) -> bool {
    let says = |s: &str| s.to_ascii_lowercase().contains("vitess");
    says(version) || version_comment.is_some_and(says) || show_vitess_ok
}

/// A step Vitess would get wrong through vtgate, refused with the reason (`None`: the step is
/// plain MySQL DDL that vtgate sends as is to every shard of the keyspace, partctl having set
/// `@@ddl_strategy = 'direct'`: range rotation must never go through Online DDL, whose `DROP
/// PARTITION` keeps the dropped partition's rows in the next one, vitess #15674).
pub fn vitess_refusal(kind: &ActionKind, template: &str) -> Option<String> {
    if let ActionKind::Archive { schema, .. } = kind {
        return Some(format!(
            "on_expire = \"archive\" moves the partition into the database `{schema}`, which through vtgate is another keyspace: Vitess cannot move a table between keyspaces; use on_expire = \"detach\" or \"drop\" on Vitess"
        ));
    }
    match template {
        "create_staged.sql.tera" | "return_rows.sql.tera" => Some(
            "the staged drain of a large MAXVALUE partition (move_mode = \"batched\") creates its holding table with CREATE TABLE ... SELECT and cuts its batches with session variables, which vtgate evaluates itself across shards instead of on each shard's MySQL: Vitess would move the rows wrongly; set move_mode = \"locked\" (one REORGANIZE PARTITION per create, run directly on every shard)".into(),
        ),
        _ => None,
    }
}

/// MySQL and MariaDB allow at most this many partitions (sub-partitions included) per table.
pub const PARTITION_LIMIT: usize = 8192;

/// Server flavour and version, from `VERSION()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub engine: Engine,
    pub version: String,
    pub major: u32,
    pub minor: u32,
}

impl Server {
    /// Through Vitess's vtgate (the version says so, see [`is_vitess`]).
    pub fn vitess(&self) -> bool {
        is_vitess(&self.version, None, false)
    }

    pub fn from_version(v: &str) -> Server {
        let engine = if v.to_ascii_lowercase().contains("mariadb") {
            Engine::Mariadb
        } else {
            Engine::Mysql
        };
        let mut nums = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let major = nums.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let minor = nums.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Server {
            engine,
            version: v.to_string(),
            major,
            minor,
        }
    }

    pub fn flavor(&self) -> Flavor {
        if self.engine == Engine::Mariadb {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        }
    }

    /// The dialect of this server.
    pub fn dialect(&self) -> &'static MySql {
        match self.flavor() {
            Flavor::Mysql if self.vitess() => &VITESS,
            Flavor::Mysql => &MYSQL,
            Flavor::Mariadb => mariadb(&self.version),
        }
    }
}

/// The MariaDB dialect for a server version: CONVERT PARTITION from 10.7.
pub fn mariadb(version: &str) -> &'static MySql {
    let s = Server::from_version(version);
    if (s.major, s.minor) >= (10, 7) {
        &MARIADB
    } else {
        &MARIADB_OLD
    }
}

const TEMPLATES: &[(&str, &str)] = templates![
    "mysql":
    "catalog.sql.tera",
    "key_types.sql.tera",
    "key_stats.sql.tera",
    "key_expr.sql.tera",
    "timeouts.sql.tera",
    "less_than.sql.tera",
    "online.sql.tera",
    "range_predicate.sql.tera",
    "create.sql.tera",
    "create_staged.sql.tera",
    "return_rows.sql.tera",
    "create_default.sql.tera",
    "expire.sql.tera",
    "create_list.sql.tera",
    "resize_hash.sql.tera",
    "show_create.sql.tera",
    "waiting_values.sql.tera",
    "coarsen.sql.tera",
    "convert_partition_by.sql.tera",
];

const CONVERT_TEMPLATES: &[(&str, &str)] = templates![
    "mysql":
    "timeouts.sql.tera",
    "key_expr.sql.tera",
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
];

/// The key kind of a MySQL column type (`bigint(20) unsigned`, `datetime(6)`), when `convert`
/// can lay out range partitions on it.
pub fn key_kind(sql_type: &str) -> Option<KeyKind> {
    let t = sql_type.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match base {
        "tinyint" | "smallint" => Some(KeyKind::SmallInt),
        "mediumint" | "int" | "integer" => Some(KeyKind::Int),
        "bigint" => Some(KeyKind::BigInt),
        "date" => Some(KeyKind::Date),
        "datetime" => Some(KeyKind::Timestamp),
        "timestamp" => Some(KeyKind::Timestamptz),
        _ => None,
    }
}

/// How `convert` partitions a key of this kind: integers `RANGE (col)`, dates and datetimes
/// `RANGE COLUMNS (col)`, timestamps `RANGE (UNIX_TIMESTAMP(col))` (as the catalog reads them).
fn convert_key_expr(kind: Option<KeyKind>) -> KeyExpr {
    match kind {
        Some(KeyKind::Timestamptz) => KeyExpr::UnixTimestamp,
        Some(k) if k.is_time() => KeyExpr::Columns,
        _ => KeyExpr::Column,
    }
}

const VERIFY_TEMPLATES: &[(&str, &str)] = templates![
    "mysql":
    "verify.sql.tera",
    "verify_totals.sql.tera",
    "probe.sql.tera",
];

/// A create's share of a staged move (see `create_staged.sql.tera`): the table's creates in
/// the plan empty a large MAXVALUE catch-all into a holding table, split it once, and take
/// their rows back.
struct Staged {
    /// The labelled table rows wait in.
    holding: QualifiedName,
    /// The table's first create of the plan: it stages the catch-all's rows below this key
    /// (the current period's start) and creates every partition of `parts` in one REORGANIZE.
    stage_to: Option<i64>,
    /// (name, upper bound) of every create of the table in the plan, for the leader.
    parts: Vec<(String, i64)>,
    /// The table's last create of the plan: it takes back every row left and drops the table.
    finish: bool,
    /// The id of the step that creates the partitions (for a follower's lock text).
    leader: String,
    /// The catch-all's row estimate.
    estimate: i64,
}

impl Staged {
    fn lock(&self, parent: &QualifiedName, policy: &Policy) -> String {
        let back = format!(
            "this range's rows return from {} in batches of at most {} rows (row locks only){}",
            self.holding,
            policy.moves.batch_rows,
            if self.finish {
                ", then the holding table is dropped"
            } else {
                ""
            }
        );
        if self.stage_to.is_none() {
            return format!(
                "batched: no DDL (step {} created the partition); {back}",
                self.leader
            );
        }
        format!(
            "batched: the catch-all's rows below the current period (about {} rows, the catch-all's estimate) first leave it in batches of at most {} rows (row locks only: readers and writers go on) for {}, where they are not visible through {parent} until their range's step returns them (about 1 s per 50,000 rows); then one REORGANIZE PARTITION creates the plan's {} partitions of {parent}, copying only what is left in the catch-all (the current period's rows) under a metadata lock: writes wait, reads go on; then {back}",
            self.estimate,
            policy.moves.batch_rows,
            self.holding,
            self.parts.len()
        )
    }
}

/// The holding table of a staged move: `<table>_partctl_moving`, cut to 64 bytes.
pub fn holding_table(table: &QualifiedName) -> QualifiedName {
    let mut name = table.name.clone();
    while name.len() > MAX_IDENT - 15 {
        name.pop();
    }
    QualifiedName::new(table.schema.clone(), format!("{name}_partctl_moving"))
}

/// Whether a range create on MySQL/MariaDB is part of a staged move, and its share. The rule:
/// `move_mode` is `batched`, the table has a MAXVALUE catch-all, and either a holding table is
/// left from a run that stopped, or a create of the plan may take rows from a catch-all
/// estimated above `move_batch_rows`. Then every create of the table in the plan is staged.
fn staged_create(
    table: &Table,
    policy: &Policy,
    now: DateTime<Utc>,
    action: &Action,
    plan: &[Action],
) -> Option<Staged> {
    let settings = policy.moves;
    let default = table.default_partition()?;
    if settings.mode != MoveMode::Batched || table.strategy != Strategy::Range {
        return None;
    }
    let creates: Vec<&Action> = plan
        .iter()
        .filter(|a| a.table == table.name && matches!(a.kind, ActionKind::Create { .. }))
        .collect();
    let holding = holding_table(&table.name);
    let resuming = table.stats.holding.as_ref() == Some(&holding.name);
    let estimate = default.est_rows;
    let large =
        creates.iter().any(|a| a.kind.stages()) && estimate > i64::from(settings.batch_rows);
    if !(resuming || large) {
        return None;
    }
    let mut parts = Vec::new();
    for a in &creates {
        match a.kind {
            ActionKind::Create {
                ref partition,
                to: Bound::At(to),
                ..
            } => parts.push((partition.name.clone(), to)),
            _ => return None,
        }
    }
    let index = creates.iter().position(|a| *a == action)?;
    let layout = plan::Layout::new(policy, table, now).ok()?;
    let Bound::At(current) = layout.from else {
        return None;
    };
    Some(Staged {
        holding,
        stage_to: (index == 0).then_some(current),
        parts: if index == 0 { parts } else { vec![] },
        finish: index + 1 == creates.len(),
        leader: step_id(creates[0]),
        estimate,
    })
}

/// The longest identifier MySQL accepts.
const MAX_IDENT: usize = 64;

/// The table a detached partition becomes: the partition's own name when it already starts with
/// the table's (partctl's names do), else `<table>_<partition>`.
pub fn detached_name(table: &QualifiedName, partition: &str) -> QualifiedName {
    let mut name = if partition.starts_with(&table.name) {
        partition.to_string()
    } else {
        format!("{}_{partition}", table.name)
    };
    while name.len() > MAX_IDENT {
        name.pop();
    }
    QualifiedName::new(table.schema.clone(), name)
}

impl Dialect for MySql {
    fn quote_ident(&self, ident: &str) -> Result<String, QuoteError> {
        if ident.is_empty() || ident.contains('\0') || ident.len() > MAX_IDENT {
            return Err(QuoteError(format!(
                "`{}` is not a valid MySQL identifier (1 to {MAX_IDENT} bytes, no NUL)",
                ident.escape_debug()
            )));
        }
        Ok(format!("`{}`", ident.replace('`', "``")))
    }

    fn quote_literal(&self, value: &str) -> Result<String, QuoteError> {
        if value.contains('\0') {
            return Err(QuoteError("a literal cannot contain a NUL byte".into()));
        }
        // Every partctl session clears NO_BACKSLASH_ESCAPES (session.sql), so backslashes escape.
        Ok(format!(
            "'{}'",
            value.replace('\\', "\\\\").replace('\'', "''")
        ))
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn verify_templates(&self) -> &'static [(&'static str, &'static str)] {
        VERIFY_TEMPLATES
    }

    fn convert_templates(&self) -> &'static [(&'static str, &'static str)] {
        CONVERT_TEMPLATES
    }

    fn key_kind(&self, sql_type: &str) -> Option<KeyKind> {
        key_kind(sql_type)
    }

    fn convert_context(&self, policy: &Policy, ctx: &mut Context) {
        let secs = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
        ctx.insert("flavor", self.flavor.as_str());
        ctx.insert("convert", &true);
        ctx.insert("lock_wait_seconds", &secs(policy.lock_timeout));
        ctx.insert("statement_seconds", &secs(policy.statement_timeout));
        ctx.insert(
            "statement_ms",
            &(policy.statement_timeout.as_millis().max(1) as u64),
        );
    }

    /// The empty new table is partitioned in one `ALTER TABLE ... PARTITION BY` holding every
    /// planned partition (MySQL cannot add partitions to a table that has none).
    fn convert_partitions(
        &self,
        t: &Templates,
        actions: &[Action],
        table: &Table,
        policy: &Policy,
        _now: DateTime<Utc>,
    ) -> Result<Vec<super::Stmt>, RenderError> {
        let fail = |message: String| RenderError {
            what: format!("{}/convert/partitions", table.name),
            message,
        };
        if policy.subpartition.is_some() {
            return Err(fail(
                "convert does not build sub-partitioned tables on MySQL/MariaDB yet".into(),
            ));
        }
        let kind = table.key.kind;
        let expr = convert_key_expr(kind);
        let mut parts = Vec::new();
        let mut default = None;
        let mut modulus = 0;
        for a in actions {
            match &a.kind {
                ActionKind::Create { partition, to, .. } => {
                    let Bound::At(c) = to else {
                        default = Some(partition.name.clone());
                        continue;
                    };
                    let kind = kind.ok_or_else(|| fail("unknown key type".into()))?;
                    let (v, numeric) = expr.encode(kind, *c).map_err(|e| fail(e.0))?;
                    let to = if numeric {
                        Value::from(
                            v.parse::<i64>()
                                .map_err(|_| fail(format!("bad bound {v}")))?,
                        )
                    } else {
                        Value::String(v)
                    };
                    parts.push((*c, serde_json::json!({"name": partition.name, "to": to})));
                }
                ActionKind::CreateList {
                    partition, values, ..
                } => parts.push((
                    0,
                    serde_json::json!({"name": partition.name, "values": values}),
                )),
                ActionKind::CreateDefault { partition } => {
                    if table.strategy == Strategy::List && self.flavor == Flavor::Mysql {
                        return Err(fail(
                            "MySQL 8 has no DEFAULT partition for LIST tables; set default_partition = false".into(),
                        ));
                    }
                    default = Some(partition.name.clone());
                }
                ActionKind::CreateHash { modulus: m, .. } => modulus = *m,
                _ => {}
            }
        }
        if table.strategy == Strategy::Range {
            parts.sort_by_key(|p| p.0);
        }
        let mut ctx = Context::new();
        ctx.insert("table", &NameCtx::from(&table.name));
        ctx.insert("strategy", table.strategy.as_str());
        ctx.insert("key", &table.key.name);
        ctx.insert("expr", expr.sql_name());
        ctx.insert("columns_syntax", &(expr == KeyExpr::Columns));
        ctx.insert("parts", &parts.into_iter().map(|p| p.1).collect::<Vec<_>>());
        ctx.insert("default", &default);
        ctx.insert("modulus", &modulus);
        Ok(t.statements("convert_partition_by.sql.tera", &ctx)?.0)
    }

    /// Integers as numbers; dates and timestamps as text without a zone (MySQL sessions run in
    /// UTC, and its DATETIME and TIMESTAMP literals take no zone).
    fn key_literal(&self, kind: KeyKind, coord: i64) -> Value {
        match kind {
            k if !k.is_time() => Value::from(coord),
            KeyKind::Date => Value::String(KeyKind::Date.format(coord)),
            _ => Value::String(KeyKind::Timestamp.format(coord)),
        }
    }

    /// MySQL and MariaDB sub-partition only by HASH or KEY, and allow at most
    /// [`PARTITION_LIMIT`] partitions per table.
    fn check_plan(
        &self,
        policies: &[&Policy],
        catalog: &Catalog,
        actions: &[Action],
    ) -> Result<(), PlanError> {
        for p in policies {
            if let Some(sub) = p
                .subpartition
                .as_ref()
                .filter(|s| s.strategy != Strategy::Hash)
            {
                return Err(PlanError {
                    table: p.table.to_string(),
                    message: format!(
                        "{}: MySQL and MariaDB only sub-partition by HASH or KEY, so `subpartition = {{ partition_by = \"{}\" }}` cannot be applied here",
                        p.key_origins.subpartition,
                        sub.strategy.as_str()
                    ),
                });
            }
        }
        if self.flavor == Flavor::Mysql {
            if let Some((p, auto)) = policies
                .iter()
                .find_map(|p| p.auto_lists.as_ref().map(|a| (p, a)))
            {
                return Err(PlanError {
                    table: p.table.to_string(),
                    message: format!(
                        "{}: auto_lists needs a DEFAULT list partition for new values to wait in, and MySQL 8 has none (MariaDB 10.2+ has); remove auto_lists, or list the values in `lists`",
                        auto.origin
                    ),
                });
            }
        }
        for t in &catalog.tables {
            let mine: Vec<Action> = actions
                .iter()
                .filter(|a| a.table == t.name)
                .cloned()
                .collect();
            // Simulated only when something changes: `plan` checks each policy against the
            // whole catalog, and copying every table for every policy made a no-op plan of 50
            // tables x 93 partitions spend 40 % of its CPU here.
            let after = if mine.is_empty() {
                t.partitions.len()
            } else {
                plan::simulate(t, &mine).partitions.len()
            };
            if after > PARTITION_LIMIT {
                return Err(PlanError {
                    table: t.name.to_string(),
                    message: format!(
                        "the plan would leave {after} partitions, over the server's limit of {PARTITION_LIMIT}; lower premake, widen the interval or set retain"
                    ),
                });
            }
        }
        Ok(())
    }

    fn render(
        &self,
        t: &Templates,
        action: &Action,
        table: &Table,
        policy: &Policy,
        now: DateTime<Utc>,
        plan: &[Action],
    ) -> Result<Vec<Step>, RenderError> {
        let fail = |message: String| RenderError {
            what: step_id(action),
            message,
        };
        let expr = table.key.expr.unwrap_or(KeyExpr::Column);
        let mut ctx = Context::new();
        ctx.insert("flavor", self.flavor.as_str());
        ctx.insert("convert_partition", &self.convert_partition);
        ctx.insert("table", &NameCtx::from(&table.name));
        ctx.insert("key", &table.key.name);
        ctx.insert("expr", expr.sql_name());
        ctx.insert("columns_syntax", &(expr == KeyExpr::Columns));
        let secs = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
        ctx.insert("lock_wait_seconds", &secs(policy.lock_timeout));
        ctx.insert("statement_seconds", &secs(policy.statement_timeout));
        ctx.insert(
            "statement_ms",
            &(policy.statement_timeout.as_millis().max(1) as u64),
        );
        let default = table.default_partition().map(|p| p.name.name.clone());
        ctx.insert("default", &default);
        let parent = &table.name;

        let (template, lock) = match &action.kind {
            ActionKind::Create { partition, to, .. } => {
                ctx.insert("partition", &partition.name);
                let encode = |c: i64| -> Result<Value, RenderError> {
                    let kind = table
                        .key
                        .kind
                        .ok_or_else(|| fail("unknown key type".into()))?;
                    let (v, numeric) = expr.encode(kind, c).map_err(|e| fail(e.0))?;
                    if numeric {
                        let n: i64 = v.parse().map_err(|_| fail(format!("bad bound {v}")))?;
                        Ok(Value::from(n))
                    } else {
                        Ok(Value::String(v))
                    }
                };
                if let Bound::At(c) = to {
                    ctx.insert("to", &encode(*c)?);
                }
                if let Some(staged) = staged_create(table, policy, now, action, plan) {
                    ctx.insert("holding", &NameCtx::from(&staged.holding));
                    ctx.insert("marker", &crate::render::moving_marker(parent));
                    ctx.insert("batch_rows", &policy.moves.batch_rows);
                    ctx.insert("finish", &staged.finish);
                    let mut parts = Vec::new();
                    for (name, to) in &staged.parts {
                        parts.push(serde_json::json!({"name": name, "to": encode(*to)?}));
                    }
                    if let Some((_, last)) = staged.parts.last() {
                        ctx.insert("last_to", &encode(*last)?);
                    }
                    ctx.insert("parts", &parts);
                    if let Some(c) = staged.stage_to {
                        ctx.insert("stage_to", &encode(c)?);
                    }
                    ("create_staged.sql.tera", staged.lock(parent, policy))
                } else {
                    let lock = match &default {
                    Some(d) => format!(
                        "metadata lock on {parent}; writes wait while REORGANIZE PARTITION copies the catch-all {d}"
                    ),
                    None => format!("brief exclusive metadata lock on {parent} (ADD PARTITION copies no data)"),
                };
                    ("create.sql.tera", lock)
                }
            }
            ActionKind::ReturnRows { partition } => {
                ctx.insert("partition", &NameCtx::from(partition));
                ctx.insert("batch_rows", &policy.moves.batch_rows);
                (
                    "return_rows.sql.tera",
                    format!("batched: rows go back from {partition} into {parent} in batches of at most {} rows (row locks only: readers and writers go on); {partition} is dropped", policy.moves.batch_rows),
                )
            }
            ActionKind::CreateList {
                partition, values, ..
            } => {
                ctx.insert("partition", &partition.name);
                ctx.insert("values", values);
                let lock = match &default {
                    Some(d) => format!(
                        "metadata lock on {parent}; writes wait while REORGANIZE PARTITION copies the catch-all {d}"
                    ),
                    None => format!("brief exclusive metadata lock on {parent} (ADD PARTITION copies no data)"),
                };
                ("create_list.sql.tera", lock)
            }
            ActionKind::CreateHash { .. } => return Err(fail(
                "a MySQL/MariaDB hash table always has partitions; nothing to create one by one"
                    .into(),
            )),
            ActionKind::GrowHash { from, to, .. } | ActionKind::ShrinkHash { from, to, .. } => {
                ctx.insert("from", from);
                ctx.insert("to", to);
                ctx.insert("grow", &(to > from));
                ctx.insert("count", &(from.max(to) - from.min(to)));
                (
                    "resize_hash.sql.tera",
                    format!(
                        "metadata lock on {parent}; writes wait while rows are rehashed from {from} into {to} partitions"
                    ),
                )
            }
            ActionKind::CreateDefault { partition } => {
                if table.strategy == Strategy::List && self.flavor == Flavor::Mysql {
                    return Err(fail(
                        "MySQL 8 has no DEFAULT partition for LIST tables; set default_partition = false".into(),
                    ));
                }
                ctx.insert("list", &(table.strategy == Strategy::List));
                ctx.insert("partition", &partition.name);
                (
                    "create_default.sql.tera",
                    format!(
                        "brief exclusive metadata lock on {parent} (ADD PARTITION copies no data)"
                    ),
                )
            }
            ActionKind::Detach { partition, .. }
            | ActionKind::Drop { partition, .. }
            | ActionKind::Archive { partition, .. } => {
                let then = match &action.kind {
                    ActionKind::Drop { .. } => Some(Then::Drop),
                    ActionKind::Archive { schema, .. } => Some(Then::Archive {
                        schema: schema.clone(),
                    }),
                    _ => None,
                };
                ctx.insert("partition", &partition.name);
                let mut detached = detached_name(parent, &partition.name);
                match &then {
                    Some(Then::Drop) => ctx.insert("then", "drop"),
                    Some(Then::Archive { schema }) => {
                        ctx.insert("then", "archive");
                        ctx.insert("archive_schema", schema);
                        // Detached straight into the archive database.
                        detached.schema = schema.clone();
                    }
                    None => ctx.insert("then", &Option::<String>::None),
                }
                ctx.insert("detached", &NameCtx::from(&detached));
                let how = match (&then, self.convert_partition) {
                    (Some(Then::Drop), _) => "DROP PARTITION",
                    (_, true) => "CONVERT PARTITION",
                    (_, false) => "EXCHANGE PARTITION, then DROP PARTITION",
                };
                (
                    "expire.sql.tera",
                    format!("brief exclusive metadata lock on {parent} ({how})"),
                )
            }
            ActionKind::Coarsen {
                partition,
                to,
                parts,
                ..
            } => {
                let kind = table
                    .key
                    .kind
                    .ok_or_else(|| fail("unknown key type".into()))?;
                let Bound::At(c) = to else {
                    return Err(fail("coarsening needs a bounded partition".into()));
                };
                let (v, numeric) = expr.encode(kind, *c).map_err(|e| fail(e.0))?;
                if numeric {
                    let n: i64 = v.parse().map_err(|_| fail(format!("bad bound {v}")))?;
                    ctx.insert("to", &Value::from(n));
                } else {
                    ctx.insert("to", &Value::String(v));
                }
                ctx.insert("partition", &partition.name);
                let names: Vec<&str> = parts.iter().map(|p| p.partition.name.as_str()).collect();
                ctx.insert("parts", &names);
                (
                    "coarsen.sql.tera",
                    format!(
                        "metadata lock on {parent} while REORGANIZE PARTITION copies the {} partitions merged (writes to the table wait; see the README's measurement)",
                        parts.len()
                    ),
                )
            }
            ActionKind::Finalize { .. } | ActionKind::Cleanup { .. } => {
                return Err(fail(
                    "interrupted PostgreSQL detaches do not occur on MySQL/MariaDB".into(),
                ))
            }
        };
        if self.vitess {
            if let Some(why) = vitess_refusal(&action.kind, template) {
                return Err(fail(format!("refused on Vitess: {why}")));
            }
        }
        Ok(vec![Step::new(
            step_id(action),
            action,
            lock,
            t.statements(template, &ctx)?,
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{KeyColumn, KeyStats, PartBound, Partition};
    use crate::key::KeyKind;
    use crate::policy::{parse_sources, Strategy};
    use crate::render::test_now;
    use std::path::PathBuf;

    fn policy() -> Policy {
        parse_sources(&[(
            PathBuf::from("t.toml"),
            "[[table]]\nname = \"app.we`ird'; t\"\npartition_by = 'range'\ncolumn = 'd'\ninterval = '1 day'\nlock_timeout = '1500ms'\n".into(),
        )])
        .unwrap()
        .remove(0)
    }

    fn table(expr: &str, kind: KeyKind, with_tail: bool) -> Table {
        let name = QualifiedName::new("app", "we`ird'; t");
        let mut partitions = vec![Partition {
            name: QualifiedName::new("app", "p0"),
            bound: PartBound::Range {
                from: Bound::Min,
                to: Bound::At(
                    kind.parse("2026-03-10")
                        .or_else(|| kind.parse("100"))
                        .unwrap(),
                ),
            },
            est_rows: 1,
            bytes: 1,
            detach_pending: false,
            subpartitions: vec![],
        }];
        if with_tail {
            partitions.push(Partition {
                name: QualifiedName::new("app", "pmax"),
                bound: PartBound::Default,
                est_rows: 1,
                bytes: 1,
                detach_pending: false,
                subpartitions: vec![],
            });
        }
        Table {
            name,
            strategy: Strategy::Range,
            key: KeyColumn {
                name: "d".into(),
                kind: Some(kind),
                sql_type: "date".into(),
                expr: Some(serde_json::from_value(serde_json::json!(expr)).unwrap()),
                granularity: None,
            },
            columns: vec!["id".into(), "d".into()],
            partitions,
            stats: KeyStats::default(),
            distributed: false,
        }
    }

    fn render(d: &'static MySql, kind: ActionKind, t: &Table) -> String {
        let action = Action {
            table: t.name.clone(),
            kind,
            reason: "test".into(),
        };
        let templates = Templates::new(d);
        let step = d
            .render(&templates, &action, t, &policy(), test_now(), &[])
            .unwrap()
            .remove(0);
        format!("id: {}\nlock: {}\n\n{}", step.id, step.lock, step.script())
    }

    fn create(t: &Table) -> ActionKind {
        let k = t.key.kind.unwrap();
        ActionKind::Create {
            partition: QualifiedName::new("app", "we`ird'; t_p20260310"),
            from: Bound::At(k.parse("2026-03-10").unwrap()),
            to: Bound::At(k.parse("2026-03-11").unwrap()),
            move_rows: true,
        }
    }

    fn expire(then: &str) -> ActionKind {
        let partition = QualifiedName::new("app", "p0");
        match then {
            "drop" => ActionKind::Drop {
                partition,
                has_default: true,
            },
            "archive" => ActionKind::Archive {
                partition,
                schema: "arch`ive".into(),
                has_default: true,
            },
            _ => ActionKind::Detach {
                partition,
                has_default: true,
            },
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(MARIADB.quote_ident("a`b").unwrap(), "`a``b`");
        assert_eq!(
            MARIADB.quote_literal("it's \\ ok").unwrap(),
            "'it''s \\\\ ok'"
        );
        assert!(MARIADB.quote_ident(&"x".repeat(65)).is_err());
    }

    #[test]
    fn mariadb_reorganizes_the_maxvalue_tail_with_counts() {
        let t = table("columns", KeyKind::Date, true);
        insta::assert_snapshot!(render(&MARIADB, create(&t), &t));
    }

    #[test]
    fn mysql8_reorganize_names_algorithm_and_lock_first() {
        let t = table("columns", KeyKind::Date, true);
        insta::assert_snapshot!(render(&MYSQL, create(&t), &t));
    }

    #[test]
    fn mysql8_add_partition_to_days() {
        let t = table("to_days", KeyKind::Timestamp, false);
        insta::assert_snapshot!(render(&MYSQL, create(&t), &t));
    }

    #[test]
    fn mariadb_add_partition_to_days_has_no_algorithm_clause() {
        let t = table("to_days", KeyKind::Timestamp, false);
        insta::assert_snapshot!(render(&MARIADB, create(&t), &t));
    }

    #[test]
    fn mariadb_detach_converts_the_partition() {
        let t = table("columns", KeyKind::Date, true);
        insta::assert_snapshot!(render(&MARIADB, expire("detach"), &t));
    }

    #[test]
    fn mysql8_detach_exchanges_the_partition() {
        let t = table("columns", KeyKind::Date, true);
        insta::assert_snapshot!(render(&MYSQL, expire("detach"), &t));
    }

    #[test]
    fn mysql8_archive() {
        let t = table("columns", KeyKind::Date, true);
        insta::assert_snapshot!(render(&MYSQL, expire("archive"), &t));
    }

    #[test]
    fn mysql8_drop() {
        let t = table("columns", KeyKind::Date, true);
        insta::assert_snapshot!(render(&MYSQL, expire("drop"), &t));
    }

    #[test]
    fn mariadb_list_partition_reorganizes_default_first() {
        let mut t = table("columns", KeyKind::Date, false);
        t.strategy = crate::policy::Strategy::List;
        t.partitions = vec![Partition {
            name: QualifiedName::new("app", "pdef"),
            bound: PartBound::Default,
            est_rows: 1,
            bytes: 1,
            detach_pending: false,
            subpartitions: vec![],
        }];
        insta::assert_snapshot!(render(
            &MARIADB,
            ActionKind::CreateList {
                partition: QualifiedName::new("app", "t_americas"),
                suffix: "americas".into(),
                values: vec![crate::policy::ListValue::Str("US".into())],
                move_rows: true,
            },
            &t
        ));
    }

    #[test]
    fn mysql8_hash_growth_and_shrink() {
        let t = table("column", KeyKind::Int, false);
        let grow = render(
            &MYSQL,
            ActionKind::GrowHash {
                partition: QualifiedName::new("app", "t"),
                from: 2,
                to: 4,
                splits: vec![],
            },
            &t,
        );
        let shrink = render(
            &MYSQL,
            ActionKind::ShrinkHash {
                partition: QualifiedName::new("app", "t"),
                from: 4,
                to: 2,
            },
            &t,
        );
        insta::assert_snapshot!(format!("{grow}\n{shrink}"));
    }

    #[test]
    fn mysql8_has_no_default_list_partition() {
        let mut t = table("columns", KeyKind::Date, false);
        t.strategy = crate::policy::Strategy::List;
        let action = Action {
            table: t.name.clone(),
            kind: ActionKind::CreateDefault {
                partition: QualifiedName::new("app", "d"),
            },
            reason: "test".into(),
        };
        let e = MYSQL
            .render(
                &Templates::new(&MYSQL),
                &action,
                &t,
                &policy(),
                test_now(),
                &[],
            )
            .unwrap_err();
        assert!(e.message.contains("no DEFAULT partition"), "{e}");
    }

    #[test]
    fn mysql8_create_maxvalue_tail_on_plain_range() {
        let t = table("column", KeyKind::Int, false);
        insta::assert_snapshot!(render(
            &MYSQL,
            ActionKind::CreateDefault {
                partition: QualifiedName::new("app", "pmax")
            },
            &t
        ));
    }

    /// Render every action of a plan, as the renderer sees a whole plan.
    fn render_plan(d: &'static MySql, kinds: Vec<ActionKind>, t: &Table) -> Vec<String> {
        let plan: Vec<Action> = kinds
            .into_iter()
            .map(|kind| Action {
                table: t.name.clone(),
                kind,
                reason: "test".into(),
            })
            .collect();
        let templates = Templates::new(d);
        plan.iter()
            .map(|a| {
                let step = d
                    .render(&templates, a, t, &policy(), test_now(), &plan)
                    .unwrap()
                    .remove(0);
                format!("id: {}\nlock: {}\n\n{}", step.id, step.lock, step.script())
            })
            .collect()
    }

    /// A large MAXVALUE tail (move_mode = "batched", the default): the table's first create
    /// stages the rows below the current period out of the tail, creates every partition of
    /// the plan in one REORGANIZE and takes its rows back; the others take theirs back; the
    /// last drops the holding table. A small tail keeps one REORGANIZE per create.
    #[test]
    fn large_tail_is_staged_before_one_reorganize() {
        let mut t = table("columns", KeyKind::Date, true);
        t.partitions[1].est_rows = 100_000;
        let k = KeyKind::Date;
        let day = |from: &str, to: &str| ActionKind::Create {
            partition: QualifiedName::new("app", format!("t_{}", from.replace('-', ""))),
            from: Bound::At(k.parse(from).unwrap()),
            to: Bound::At(k.parse(to).unwrap()),
            move_rows: true,
        };
        let days = || {
            vec![
                day("2026-03-08", "2026-03-09"),
                day("2026-03-09", "2026-03-10"),
                day("2026-03-10", "2026-03-11"),
            ]
        };
        let steps = render_plan(&MARIADB, days(), &t);
        let reorganizes = |s: &str| s.matches("REORGANIZE PARTITION `").count();
        assert_eq!(reorganizes(&steps[0]), 1);
        assert!(steps[0].contains("FOR UPDATE") && steps[0].contains("< '2026-03-10'"));
        assert!(steps[1..]
            .iter()
            .all(|s| reorganizes(s) == 0 && !s.contains("FOR UPDATE")));
        assert!(steps[2].contains("DROP TABLE IF EXISTS") && !steps[1].contains("DROP TABLE"));
        t.partitions[1].est_rows = 10;
        let small = render_plan(&MARIADB, days(), &t);
        assert!(small
            .iter()
            .all(|s| reorganizes(s) == 1 && !s.contains("partctl_moving")));
        insta::assert_snapshot!(steps.join("\n"));
    }

    #[test]
    fn server_flavour() {
        let s = Server::from_version("10.11.19-MariaDB-0+deb12u1");
        assert_eq!((s.engine, s.major, s.minor), (Engine::Mariadb, 10, 11));
        let s = Server::from_version("8.0.36");
        assert_eq!((s.engine, s.major, s.minor), (Engine::Mysql, 8, 0));
    }

    /// vtgate is recognised by its version, its version comment, or `SHOW VITESS_TARGET`
    /// answering (it may advertise a plain MySQL version); the dialect follows, offline too.
    #[test]
    fn vitess_is_detected_and_picks_its_dialect() {
        assert!(is_vitess("8.0.30-Vitess", None, false));
        assert!(is_vitess(
            "8.0.36",
            Some("Vitess (Git revision abc)"),
            false
        ));
        assert!(is_vitess(
            "8.0.36",
            Some("MySQL Community Server - GPL"),
            true
        ));
        assert!(!is_vitess(
            "8.0.36",
            Some("MySQL Community Server - GPL"),
            false
        ));
        assert!(!is_vitess("10.11.6-MariaDB-0+deb12u1", None, false));
        let d = |v: &str| crate::render::dialect_for(Engine::Mysql, v) as *const dyn Dialect;
        let is = |a: *const dyn Dialect, b: &'static MySql| std::ptr::addr_eq(a, b as *const MySql);
        assert!(is(d("8.0.30-Vitess"), &VITESS));
        assert!(is(d("8.0.36 (Vitess)"), &VITESS));
        assert!(is(d("8.0.36"), &MYSQL));
        assert!(Server::from_version("8.0.30-Vitess").vitess());
    }

    /// Through vtgate: range rotation (ADD/DROP/REORGANIZE PARTITION) renders as MySQL's direct
    /// DDL; archive (another database, so another keyspace) and the staged drain (CREATE TABLE
    /// ... SELECT, session-variable cuts) are refused with the reason.
    #[test]
    fn vitess_refuses_what_it_would_get_wrong() {
        let t = table("columns", KeyKind::Date, true);
        let drop = render(&VITESS, expire("drop"), &t);
        assert_eq!(drop, render(&MYSQL, expire("drop"), &t));
        assert!(drop.contains("DROP PARTITION"), "{drop}");
        assert_eq!(
            render(&VITESS, create(&t), &t),
            render(&MYSQL, create(&t), &t)
        );
        let refused = |kind: ActionKind, t: &Table| {
            let action = Action {
                table: t.name.clone(),
                kind,
                reason: "test".into(),
            };
            VITESS
                .render(
                    &Templates::new(&VITESS),
                    &action,
                    t,
                    &policy(),
                    test_now(),
                    std::slice::from_ref(&action),
                )
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let e = refused(expire("archive"), &t);
        assert!(
            e.contains("refused on Vitess") && e.contains("keyspace"),
            "{e}"
        );
        let mut large = t.clone();
        large.partitions[1].est_rows = 100_000;
        let staged = ActionKind::Create {
            partition: QualifiedName::new("app", "t_20260308"),
            from: Bound::At(KeyKind::Date.parse("2026-03-08").unwrap()),
            to: Bound::At(KeyKind::Date.parse("2026-03-09").unwrap()),
            move_rows: true,
        };
        assert!(render_plan(&MYSQL, vec![staged.clone()], &large)[0].contains("partctl_moving"));
        let e = refused(staged, &large);
        assert!(e.contains("move_mode = \"locked\""), "{e}");
    }
}
