//! Policy files: TOML parsing with positions, then semantic validation. Pure: no I/O but reading
//! the files named on the command line.

use crate::key::Span;
use crate::names::TableRef;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Where something was written: file, line and column (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A problem in a policy file, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    pub origin: Origin,
    pub message: String,
}

/// Every problem found in the policy files; validation reports them all at once.
#[derive(Debug, Clone, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Range,
    List,
    Hash,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::List => "list",
            Strategy::Hash => "hash",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnExpire {
    Detach,
    Drop,
    Archive { schema: String },
}

/// A list-partition value: policy files may write strings or integers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ListValue {
    Int(i64),
    Str(String),
}

impl fmt::Display for ListValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListValue::Int(i) => write!(f, "{i}"),
            ListValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubPartition {
    pub strategy: Strategy,
    pub column: String,
    pub modulus: Option<u32>,
    pub lists: BTreeMap<String, Vec<ListValue>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyAssertion {
    pub sql: String,
    pub max_partitions: u32,
    pub params: Vec<ListValue>,
    pub origin: Origin,
}

/// The lower end of the coverage run, as written in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Int(i64),
    /// A wall-clock value in the policy's time zone.
    Local(NaiveDateTime),
}

/// One validated `[[table]]`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub table: TableRef,
    pub strategy: Strategy,
    pub column: String,
    pub interval: Option<Span>,
    pub premake: u32,
    pub retain: Option<Span>,
    pub on_expire: OnExpire,
    pub start: Option<Start>,
    pub timezone: Tz,
    pub default_partition: bool,
    pub name_template: Option<String>,
    pub lists: BTreeMap<String, Vec<ListValue>>,
    pub modulus: Option<u32>,
    pub subpartition: Option<SubPartition>,
    pub schedule: Option<Schedule>,
    pub verify: Vec<VerifyAssertion>,
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    pub retries: u32,
    pub origin: Origin,
}

/// A cron schedule, kept both as written and in the `cron` crate's form.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub text: String,
    pub cron: cron::Schedule,
}

impl Schedule {
    /// Is a run due at `now`, given the last run? (Due when a fire time lies in (last, now].)
    pub fn due(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>, tz: Tz) -> bool {
        let from = last.unwrap_or(now - chrono::Duration::days(366));
        self.cron
            .after(&from.with_timezone(&tz))
            .next()
            .is_some_and(|t| t.with_timezone(&Utc) <= now)
    }
}

pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_RETRIES: u32 = 5;
pub const DEFAULT_PREMAKE: u32 = 4;
/// PostgreSQL's identifier limit (NAMEDATALEN - 1); MySQL allows 64, so this bound serves both.
pub const MAX_IDENT_BYTES: usize = 63;

// ---------------------------------------------------------------------------------------------
// Raw TOML shapes.

fn at<T>(s: &Spanned<T>) -> usize {
    s.span().start
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawDefaults>,
    #[serde(default)]
    table: Vec<Spanned<RawTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    lock_timeout: Option<Spanned<String>>,
    statement_timeout: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Str(String),
    Date(toml::value::Datetime),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    name: Spanned<String>,
    partition_by: Spanned<String>,
    column: Spanned<String>,
    interval: Option<Spanned<Scalar>>,
    premake: Option<Spanned<i64>>,
    retain: Option<Spanned<Scalar>>,
    on_expire: Option<Spanned<String>>,
    archive_schema: Option<Spanned<String>>,
    start: Option<Spanned<Scalar>>,
    timezone: Option<Spanned<String>>,
    default_partition: Option<Spanned<bool>>,
    name_template: Option<Spanned<String>>,
    lists: Option<Spanned<BTreeMap<String, Vec<ListValue>>>>,
    modulus: Option<Spanned<i64>>,
    subpartition: Option<Spanned<RawSub>>,
    schedule: Option<Spanned<String>>,
    lock_timeout: Option<Spanned<String>>,
    statement_timeout: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
    #[serde(default)]
    verify: Vec<Spanned<RawVerify>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSub {
    partition_by: String,
    column: String,
    modulus: Option<i64>,
    lists: Option<BTreeMap<String, Vec<ListValue>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    sql: Spanned<String>,
    max_partitions: Spanned<i64>,
    #[serde(default)]
    params: Vec<ListValue>,
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// The files a `--policies` argument names: a file, or every `*.toml` in a directory by name.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut here: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: cannot read directory: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                .collect();
            here.sort();
            files.extend(here);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such policy file or directory", p.display()));
        }
    }
    Ok(files)
}

/// Load and validate every policy named by `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Policy>, PolicyErrors> {
    let files = policy_files(paths).map_err(|m| {
        PolicyErrors(vec![PolicyError {
            origin: Origin {
                file: paths.first().cloned().unwrap_or_default(),
                line: 1,
                col: 1,
            },
            message: m,
        }])
    })?;
    let mut sources = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => sources.push((f, text)),
            Err(e) => {
                return Err(PolicyErrors(vec![PolicyError {
                    origin: Origin {
                        file: f,
                        line: 1,
                        col: 1,
                    },
                    message: format!("cannot read: {e}"),
                }]))
            }
        }
    }
    parse_sources(&sources)
}

/// Parse and validate policy texts (file name, contents). Reports every error found.
pub fn parse_sources(sources: &[(PathBuf, String)]) -> Result<Vec<Policy>, PolicyErrors> {
    let mut errors = Vec::new();
    let mut policies: Vec<Policy> = Vec::new();
    for (file, text) in sources {
        let mut ctx = Ctx {
            file,
            text,
            errors: &mut errors,
        };
        match toml::from_str::<RawFile>(text) {
            Ok(raw) => {
                for t in raw.table {
                    let span = t.span();
                    if let Some(p) = ctx.table(t.into_inner(), span, raw.defaults.as_ref()) {
                        policies.push(p);
                    }
                }
            }
            Err(e) => {
                let at = e.span().map(|s| s.start).unwrap_or(0);
                let msg = e.message().to_string();
                ctx.err(at, msg);
            }
        }
    }
    // A table defined twice, across all files.
    for (i, p) in policies.iter().enumerate() {
        if let Some(first) = policies[..i].iter().find(|q| q.table == p.table) {
            errors.push(PolicyError {
                origin: p.origin.clone(),
                message: format!("table `{}` is already defined at {}", p.table, first.origin),
            });
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(PolicyErrors(errors))
    }
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    errors: &'a mut Vec<PolicyError>,
}

impl Ctx<'_> {
    fn origin(&self, offset: usize) -> Origin {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Origin {
            file: self.file.to_path_buf(),
            line,
            col,
        }
    }

    fn err(&mut self, offset: usize, message: impl Into<String>) {
        let origin = self.origin(offset);
        self.errors.push(PolicyError {
            origin,
            message: message.into(),
        });
    }

    fn duration(&mut self, v: &Option<Spanned<String>>, key: &str) -> Option<Duration> {
        let v = v.as_ref()?;
        match parse_duration(v.get_ref()) {
            Ok(d) => Some(d),
            Err(m) => {
                self.err(v.span().start, format!("{key}: {m}"));
                None
            }
        }
    }

    fn table(
        &mut self,
        t: RawTable,
        span: std::ops::Range<usize>,
        defaults: Option<&RawDefaults>,
    ) -> Option<Policy> {
        let before = self.errors.len();
        let origin = self.origin(span.start);

        let table = match TableRef::parse(t.name.get_ref()) {
            Ok(r) => {
                for part in r.schema.iter().chain(std::iter::once(&r.name)) {
                    if part.len() > MAX_IDENT_BYTES {
                        self.err(
                            at(&t.name),
                            format!(
                                "name: `{part}` is {} bytes; identifiers are limited to {MAX_IDENT_BYTES}",
                                part.len()
                            ),
                        );
                    }
                }
                Some(r)
            }
            Err(m) => {
                self.err(at(&t.name), format!("name: {m}"));
                None
            }
        };

        let strategy = match t.partition_by.get_ref().as_str() {
            "range" => Some(Strategy::Range),
            "list" => Some(Strategy::List),
            "hash" => Some(Strategy::Hash),
            other => {
                self.err(
                    at(&t.partition_by),
                    format!("partition_by: `{other}` is not one of range, list, hash"),
                );
                None
            }
        };

        if t.column.get_ref().is_empty() || t.column.get_ref().len() > MAX_IDENT_BYTES {
            self.err(
                at(&t.column),
                format!("column: must be 1 to {MAX_IDENT_BYTES} bytes"),
            );
        }

        // Keys that belong to another strategy are mistakes, not silently ignored.
        let range_only: [(&str, Option<usize>); 8] = [
            ("interval", t.interval.as_ref().map(at::<Scalar>)),
            ("premake", t.premake.as_ref().map(at)),
            ("retain", t.retain.as_ref().map(at)),
            ("on_expire", t.on_expire.as_ref().map(at)),
            ("archive_schema", t.archive_schema.as_ref().map(at)),
            ("start", t.start.as_ref().map(at)),
            ("name_template", None),
            ("subpartition", t.subpartition.as_ref().map(at)),
        ];
        if let Some(s) = strategy {
            if s != Strategy::Range {
                for (key, pos) in range_only {
                    if let Some(pos) = pos {
                        self.err(
                            pos,
                            format!(
                                "{key}: only range tables take `{key}`; this table is {}",
                                s.as_str()
                            ),
                        );
                    }
                }
            }
            if s != Strategy::List {
                if let Some(l) = &t.lists {
                    self.err(
                        at(l),
                        format!(
                            "lists: only list tables take `lists`; this table is {}",
                            s.as_str()
                        ),
                    );
                }
            }
            if s != Strategy::Hash {
                if let Some(m) = &t.modulus {
                    self.err(
                        at(m),
                        format!(
                            "modulus: only hash tables take `modulus`; this table is {}",
                            s.as_str()
                        ),
                    );
                }
            }
        }

        // Time zone: the table's own, else the file's defaults, else UTC.
        let tz_src = t
            .timezone
            .as_ref()
            .or(defaults.and_then(|d| d.timezone.as_ref()));
        let timezone = match tz_src {
            None => Tz::UTC,
            Some(s) => match s.get_ref().parse::<Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    self.err(
                        at(s),
                        format!(
                            "timezone: `{}` is not an IANA time zone name (e.g. \"Europe/Paris\")",
                            s.get_ref()
                        ),
                    );
                    Tz::UTC
                }
            },
        };

        let interval = match &t.interval {
            None => {
                if strategy == Some(Strategy::Range) {
                    self.err(span.start, "interval: range tables need an `interval`");
                }
                None
            }
            Some(s) => match s.get_ref() {
                Scalar::Int(n) if *n > 0 => Some(Span::Int(*n)),
                Scalar::Int(_) => {
                    self.err(at(s), "interval: must be positive");
                    None
                }
                Scalar::Str(text) => match Span::parse_time(text) {
                    Ok(sp) => Some(sp),
                    Err(m) => {
                        self.err(at(s), format!("interval: {m}"));
                        None
                    }
                },
                Scalar::Date(_) => {
                    self.err(at(s), "interval: expected \"N unit\" or an integer");
                    None
                }
            },
        };

        let premake = match &t.premake {
            None => DEFAULT_PREMAKE,
            Some(p) => match u32::try_from(*p.get_ref()) {
                Ok(n) if n <= 10_000 => n,
                _ => {
                    self.err(at(p), "premake: must be a whole number from 0 to 10000");
                    DEFAULT_PREMAKE
                }
            },
        };

        let retain = match &t.retain {
            None => None,
            Some(s) => {
                let parsed = match s.get_ref() {
                    Scalar::Int(n) if *n > 0 => Ok(Span::Int(*n)),
                    Scalar::Int(_) => Err("must be positive".to_string()),
                    Scalar::Str(text) => Span::parse_time(text),
                    Scalar::Date(_) => Err("expected \"N unit\" or an integer".to_string()),
                };
                match (parsed, interval) {
                    (Ok(r), Some(i)) if matches!(r, Span::Int(_)) != matches!(i, Span::Int(_)) => {
                        self.err(
                            at(s),
                            format!("retain: `{r}` and interval `{i}` must both be integers or both be time spans"),
                        );
                        None
                    }
                    (Ok(r), _) => Some(r),
                    (Err(m), _) => {
                        self.err(at(s), format!("retain: {m}"));
                        None
                    }
                }
            }
        };

        let on_expire = match t.on_expire.as_ref().map(|s| (s.get_ref().as_str(), at(s))) {
            None | Some(("detach", _)) => {
                if let Some(a) = &t.archive_schema {
                    self.err(
                        at(a),
                        "archive_schema: only used with on_expire = \"archive\"",
                    );
                }
                OnExpire::Detach
            }
            Some(("drop", _)) => {
                if let Some(a) = &t.archive_schema {
                    self.err(
                        at(a),
                        "archive_schema: only used with on_expire = \"archive\"",
                    );
                }
                OnExpire::Drop
            }
            Some(("archive", pos)) => match &t.archive_schema {
                Some(a) if !a.get_ref().is_empty() && a.get_ref().len() <= MAX_IDENT_BYTES => {
                    OnExpire::Archive {
                        schema: a.get_ref().clone(),
                    }
                }
                Some(a) => {
                    self.err(
                        at(a),
                        format!("archive_schema: must be 1 to {MAX_IDENT_BYTES} bytes"),
                    );
                    OnExpire::Detach
                }
                None => {
                    self.err(pos, "on_expire: \"archive\" needs `archive_schema`");
                    OnExpire::Detach
                }
            },
            Some((other, pos)) => {
                self.err(
                    pos,
                    format!("on_expire: `{other}` is not one of detach, drop, archive"),
                );
                OnExpire::Detach
            }
        };
        if retain.is_none() && t.on_expire.is_some() && strategy == Some(Strategy::Range) {
            // Not an error, but nothing will ever expire.
        }

        let start = match &t.start {
            None => None,
            Some(s) => {
                let parsed = match s.get_ref() {
                    Scalar::Int(n) => Ok(Start::Int(*n)),
                    Scalar::Str(text) => parse_local(text).map(Start::Local),
                    Scalar::Date(d) => parse_local(&d.to_string()).map(Start::Local),
                };
                match (parsed, interval) {
                    (Ok(Start::Int(_)), Some(Span::Time { .. }))
                    | (Ok(Start::Local(_)), Some(Span::Int(_))) => {
                        self.err(at(s), "start: must be of the same kind as `interval` (a date for time intervals, an integer for integer ones)");
                        None
                    }
                    (Ok(v), _) => Some(v),
                    (Err(m), _) => {
                        self.err(at(s), format!("start: {m}"));
                        None
                    }
                }
            }
        };

        let default_partition = t.default_partition.as_ref().is_some_and(|b| *b.get_ref());

        let name_template = t.name_template.as_ref().map(|s| s.get_ref().clone());
        if let (Some(tpl), Some(tref), Some(iv)) = (&t.name_template, &table, interval) {
            if let Err(m) = crate::naming::check_template(tpl.get_ref(), &tref.name, iv) {
                self.err(at(tpl), format!("name_template: {m}"));
            }
        } else if let (None, Some(tref), Some(iv)) = (&t.name_template, &table, interval) {
            if let Err(m) =
                crate::naming::check_template(crate::naming::default_template(iv), &tref.name, iv)
            {
                self.err(
                    at(&t.name),
                    format!(
                        "name: partition names would be too long: {m}; set a shorter name_template"
                    ),
                );
            }
        }

        let lists = match &t.lists {
            None => {
                if strategy == Some(Strategy::List) {
                    self.err(span.start, "lists: list tables need `lists`");
                }
                BTreeMap::new()
            }
            Some(l) => {
                let m = l.get_ref().clone();
                if let Some(msg) = check_lists(&m) {
                    self.err(at(l), format!("lists: {msg}"));
                }
                m
            }
        };

        let modulus = match &t.modulus {
            None => {
                if strategy == Some(Strategy::Hash) {
                    self.err(span.start, "modulus: hash tables need `modulus`");
                }
                None
            }
            Some(m) => match u32::try_from(*m.get_ref()) {
                Ok(n) if (1..=8192).contains(&n) => Some(n),
                _ => {
                    self.err(at(m), "modulus: must be from 1 to 8192");
                    None
                }
            },
        };

        let subpartition = match &t.subpartition {
            None => None,
            Some(s) => {
                let r = s.get_ref();
                let strat = match r.partition_by.as_str() {
                    "hash" => Some(Strategy::Hash),
                    "list" => Some(Strategy::List),
                    other => {
                        self.err(
                            at(s),
                            format!(
                                "subpartition: partition_by `{other}` is not one of hash, list"
                            ),
                        );
                        None
                    }
                };
                let modulus = r
                    .modulus
                    .and_then(|m| u32::try_from(m).ok())
                    .filter(|m| (1..=1024).contains(m));
                let lists = r.lists.clone().unwrap_or_default();
                match strat {
                    Some(Strategy::Hash) if modulus.is_none() => {
                        self.err(at(s), "subpartition: hash needs `modulus` from 1 to 1024");
                    }
                    Some(Strategy::List) if lists.is_empty() => {
                        self.err(at(s), "subpartition: list needs `lists`");
                    }
                    Some(Strategy::List) => {
                        if let Some(msg) = check_lists(&lists) {
                            self.err(at(s), format!("subpartition: lists: {msg}"));
                        }
                    }
                    _ => {}
                }
                strat.map(|strategy| SubPartition {
                    strategy,
                    column: r.column.clone(),
                    modulus,
                    lists,
                })
            }
        };

        let schedule = match &t.schedule {
            None => None,
            Some(s) => match parse_cron(s.get_ref()) {
                Ok(c) => Some(Schedule {
                    text: s.get_ref().clone(),
                    cron: c,
                }),
                Err(m) => {
                    self.err(at(s), format!("schedule: {m}"));
                    None
                }
            },
        };

        let mut verify = Vec::new();
        for v in &t.verify {
            let r = v.get_ref();
            let max = match u32::try_from(*r.max_partitions.get_ref()) {
                Ok(n) => n,
                Err(_) => {
                    self.err(at(&r.max_partitions), "max_partitions: must be 0 or more");
                    0
                }
            };
            if let Err(e) = tera::Tera::one_off(r.sql.get_ref(), &tera::Context::new(), false)
                .map(|_| ())
                .or_else(|e| match e.kind {
                    // Unknown variables are fine here: `now`, `today`... are supplied at run time.
                    tera::ErrorKind::Msg(_) => Ok(()),
                    _ => Err(e),
                })
            {
                self.err(at(&r.sql), format!("sql: not a valid template: {e}"));
            }
            verify.push(VerifyAssertion {
                sql: r.sql.get_ref().clone(),
                max_partitions: max,
                params: r.params.clone(),
                origin: self.origin(v.span().start),
            });
        }

        let lock_timeout = self
            .duration(&t.lock_timeout, "lock_timeout")
            .or_else(|| defaults.and_then(|d| self.duration(&d.lock_timeout, "lock_timeout")))
            .unwrap_or(DEFAULT_LOCK_TIMEOUT);
        let statement_timeout = self
            .duration(&t.statement_timeout, "statement_timeout")
            .or_else(|| {
                defaults.and_then(|d| self.duration(&d.statement_timeout, "statement_timeout"))
            })
            .unwrap_or(DEFAULT_STATEMENT_TIMEOUT);
        let retries_src = t
            .retries
            .as_ref()
            .or(defaults.and_then(|d| d.retries.as_ref()));
        let retries = match retries_src {
            None => DEFAULT_RETRIES,
            Some(r) => match u32::try_from(*r.get_ref()) {
                Ok(n) if n <= 100 => n,
                _ => {
                    self.err(at(r), "retries: must be from 0 to 100");
                    DEFAULT_RETRIES
                }
            },
        };

        if self.errors.len() > before {
            return None;
        }
        Some(Policy {
            table: table?,
            strategy: strategy?,
            column: t.column.into_inner(),
            interval,
            premake,
            retain,
            on_expire,
            start,
            timezone,
            default_partition,
            name_template,
            lists,
            modulus,
            subpartition,
            schedule,
            verify,
            lock_timeout,
            statement_timeout,
            retries,
            origin,
        })
    }
}

fn check_lists(lists: &BTreeMap<String, Vec<ListValue>>) -> Option<String> {
    if lists.is_empty() {
        return Some("must name at least one partition".into());
    }
    let mut seen: BTreeMap<&ListValue, &str> = BTreeMap::new();
    for (suffix, values) in lists {
        if values.is_empty() {
            return Some(format!("`{suffix}` has no values"));
        }
        for v in values {
            if let Some(other) = seen.insert(v, suffix) {
                return Some(format!(
                    "value {v} appears in both `{other}` and `{suffix}`"
                ));
            }
        }
    }
    None
}

/// `"2s"`, `"500ms"`, `"1min"`, `"5 minutes"`, `"1h"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as \"2s\" or \"500ms\""))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 0.001,
        "" | "s" | "sec" | "second" | "seconds" => 1.0,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        _ => return Err(format!("`{text}`: unknown unit; use ms, s, min or h")),
    };
    let d = Duration::from_secs_f64(n * scale);
    if d < Duration::from_millis(1) {
        return Err(format!("`{text}` must be at least 1ms"));
    }
    Ok(d)
}

/// A date (`2026-01-01`), a local date-time (`2026-01-01 06:00` or with `T`), for `start`.
fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(v);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight"));
    }
    Err(format!(
        "`{text}` is not a date (YYYY-MM-DD) or local date-time (YYYY-MM-DD HH:MM)"
    ))
}

/// Accept standard 5-field cron (minute hour day-of-month month day-of-week, Sunday = 0 or 7) or
/// 6 fields with seconds first, and translate to the `cron` crate's form (seconds first,
/// Sunday = 1).
pub fn parse_cron(text: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (sec, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => {
            return Err(format!(
                "`{text}` has {n} fields; expected 5 (minute hour day month weekday) or 6 (seconds first)"
            ))
        }
    };
    let dow = translate_dow(rest[4]).map_err(|m| format!("`{text}`: weekday field: {m}"))?;
    let expr = format!(
        "{sec} {} {} {} {} {dow}",
        rest[0], rest[1], rest[2], rest[3]
    );
    expr.parse::<cron::Schedule>()
        .map_err(|e| format!("`{text}` is not a valid cron expression: {e}"))
}

/// Standard cron weekdays (0-7, Sunday = 0 = 7) to the cron crate's (1-7, Sunday = 1).
fn translate_dow(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let mut out: Vec<String> = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("bad step in `{item}`"))?
                    .max(1),
            ),
            None => (item, 1),
        };
        let bounds = if range == "*" {
            Some((0, 6))
        } else if let Some((a, b)) = range.split_once('-') {
            match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) => Some((a, b)),
                (Err(_), Err(_)) => None, // names such as MON-FRI
                _ => return Err(format!("bad range `{range}`")),
            }
        } else {
            range.parse::<u32>().ok().map(|a| (a, a))
        };
        match bounds {
            None => out.push(item.to_string()),
            Some((a, b)) => {
                if a > 7 || b > 7 || a > b {
                    return Err(format!("`{item}` is outside 0-7"));
                }
                let mut v = a;
                while v <= b {
                    out.push(((v % 7) + 1).to_string());
                    v += step;
                }
            }
        }
    }
    out.dedup();
    Ok(out.join(","))
}

/// Parse `--now`: RFC 3339, or `YYYY-MM-DD` meaning midnight UTC.
pub fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(format!(
        "`{text}` is not RFC 3339 (2026-03-10T12:00:00Z) or a date (2026-03-10)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Policy>, PolicyErrors> {
        parse_sources(&[(PathBuf::from("p.toml"), text.to_string())])
    }

    fn errors(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const OK: &str = r#"
[defaults]
lock_timeout = "3s"
retries = 2

[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 4
retain = "90 days"
on_expire = "archive"
archive_schema = "archive"
start = 2026-01-01
timezone = "Europe/Paris"
default_partition = true
schedule = "0 3 * * 1-5"

[[table.verify]]
sql = "SELECT * FROM public.events WHERE created_at >= '{{ today }}'"
max_partitions = 2
"#;

    #[test]
    fn parses_the_contract_example() {
        let p = &parse(OK).unwrap()[0];
        assert_eq!(p.table.to_string(), "public.events");
        assert_eq!(p.premake, 4);
        assert_eq!(p.lock_timeout, Duration::from_secs(3));
        assert_eq!(p.retries, 2);
        assert_eq!(
            p.on_expire,
            OnExpire::Archive {
                schema: "archive".into()
            }
        );
        assert_eq!(p.timezone, chrono_tz::Europe::Paris);
        assert!(matches!(p.start, Some(Start::Local(_))));
        assert_eq!(p.verify.len(), 1);
        assert_eq!(p.verify[0].origin.line, 20); // the [[table.verify]] header
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let e = errors("[[table]]\nname = \"t\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 day\"\nretian = \"1 day\"\n");
        assert!(e.starts_with("p.toml:6:1: unknown field `retian`"), "{e}");
    }

    #[test]
    fn semantic_errors_are_positioned() {
        let e = errors(
            "[[table]]\nname = \"t\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 fortnight\"\ntimezone = \"Mars/Olympus\"\non_expire = \"archive\"\nschedule = \"* * *\"\n",
        );
        assert!(
            e.contains("p.toml:5:12: interval: unknown unit `fortnight`"),
            "{e}"
        );
        assert!(e.contains("p.toml:6:12: timezone: `Mars/Olympus`"), "{e}");
        assert!(
            e.contains("p.toml:7:13: on_expire: \"archive\" needs `archive_schema`"),
            "{e}"
        );
        assert!(
            e.contains("p.toml:8:12: schedule: `* * *` has 3 fields"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_tables_and_lists() {
        let e = errors("[[table]]\nname = \"a.t\"\npartition_by = \"list\"\ncolumn = \"c\"\nlists = { x = [\"US\"], y = [\"US\"] }\n[[table]]\nname = \"a.t\"\npartition_by = \"hash\"\ncolumn = \"c\"\nmodulus = 4\n");
        assert!(
            e.contains("value \"US\" appears in both `x` and `y`"),
            "{e}"
        );
    }

    #[test]
    fn a_table_defined_twice_is_an_error() {
        let t = "[[table]]\nname = \"a.t\"\npartition_by = \"hash\"\ncolumn = \"c\"\nmodulus = 4\n";
        let e = errors(&format!("{t}{t}"));
        assert!(
            e.contains("p.toml:6:1: table `a.t` is already defined at p.toml:1:1"),
            "{e}"
        );
    }

    #[test]
    fn long_partition_names_are_refused() {
        let long = "x".repeat(60);
        let e = errors(&format!("[[table]]\nname = \"public.{long}\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 day\"\n"));
        assert!(e.contains("partition names would be too long"), "{e}");
    }

    #[test]
    fn keys_of_other_strategies_are_errors() {
        let e = errors("[[table]]\nname = \"t\"\npartition_by = \"hash\"\ncolumn = \"c\"\nmodulus = 4\ninterval = \"1 day\"\n");
        assert!(
            e.contains("interval: only range tables take `interval`"),
            "{e}"
        );
    }

    #[test]
    fn cron_weekdays_follow_standard_cron() {
        // Sunday is 0 in cron, 1 in the cron crate.
        assert_eq!(translate_dow("0").unwrap(), "1");
        assert_eq!(translate_dow("7").unwrap(), "1");
        assert_eq!(translate_dow("1-5").unwrap(), "2,3,4,5,6");
        assert_eq!(translate_dow("MON-FRI").unwrap(), "MON-FRI");
        let s = Schedule {
            text: "0 3 * * 0".into(),
            cron: parse_cron("0 3 * * 0").unwrap(),
        };
        // 2026-11-22 is a Sunday.
        let sunday = parse_now("2026-11-22T03:00:00Z").unwrap();
        let last = parse_now("2026-11-21T00:00:00Z").unwrap();
        assert!(s.due(Some(last), sunday, Tz::UTC));
        assert!(!s.due(
            Some(last),
            parse_now("2026-11-21T23:00:00Z").unwrap(),
            Tz::UTC
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(
            parse_duration("5 minutes").unwrap(),
            Duration::from_secs(300)
        );
        assert!(parse_duration("soon").is_err());
    }
}
