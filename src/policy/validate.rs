//! Semantic validation: one raw `[[table]]` becomes a [`Policy`], every problem recorded with its
//! position. Keys every table takes are checked here; `range.rs` and `list_hash.rs` hold the rest.

use super::parse::{at, RawDefaults, RawTable, Scalar};
use super::values::{parse_cron, parse_duration};
use super::{
    KeyOrigins, MoveMode, MoveSettings, Origin, Policy, PolicyError, Schedule, Strategy,
    VerifyAssertion, DEFAULT_LOCK_TIMEOUT, DEFAULT_RETRIES, DEFAULT_STATEMENT_TIMEOUT,
    MAX_IDENT_BYTES, MAX_LIST_VALUE_BYTES, MAX_MOVE_BATCH_ROWS, MAX_MOVE_MAX_LOCK, MAX_RETRIES,
    MAX_VERIFY_PARAMS, MAX_VERIFY_PARTITIONS, MAX_VERIFY_SQL_BYTES, MIN_MOVE_BATCH_ROWS,
    MIN_MOVE_MAX_LOCK,
};
use crate::names::TableRef;
use chrono_tz::Tz;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// One policy file being validated, and the errors found so far (across all files).
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) errors: &'a mut Vec<PolicyError>,
    /// Byte offset of the start of every line, so a position costs a binary search, not a
    /// scan of the file (every table records where its keys are).
    pub(super) line_starts: Vec<usize>,
}

/// Byte offsets where each line of `text` starts.
pub(super) fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

impl Ctx<'_> {
    pub(super) fn origin(&self, offset: usize) -> Origin {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let col = self.text[start..offset].chars().count() + 1;
        Origin {
            file: self.file.to_path_buf(),
            line,
            col,
        }
    }

    pub(super) fn err(&mut self, offset: usize, message: impl Into<String>) {
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

    /// Validate one `[[table]]` written at `span`. Returns the policy only if no error was found;
    /// the checks run in a fixed order, so errors are reported in that order.
    pub(super) fn table(
        &mut self,
        t: RawTable,
        span: Range<usize>,
        defaults: Option<&RawDefaults>,
    ) -> Option<Policy> {
        let before = self.errors.len();
        let origin = self.origin(span.start);

        let table = self.table_name(&t);
        let strategy = self.strategy(&t);
        self.column(&t);
        if let Some(s) = strategy {
            self.keys_of_other_strategies(&t, s);
        }
        let timezone = self.timezone(&t, defaults);

        // Range tables (range.rs).
        let interval = self.interval(&t, strategy, span.start);
        let premake = self.premake(&t);
        let retain = self.retain(&t, interval);
        let on_expire = self.on_expire(&t);
        if retain.is_none() && t.on_expire.is_some() && strategy == Some(Strategy::Range) {
            // Not an error, but nothing will ever expire.
        }
        let start = self.start(&t, interval);
        let default_partition = t.default_partition.as_ref().is_some_and(|b| *b.get_ref());
        let name_template = self.name_template(&t, table.as_ref(), interval, strategy);

        // List and hash tables, subpartitions (list_hash.rs).
        let lists = self.lists(&t, strategy, span.start);
        let modulus = self.modulus(&t, strategy, span.start);
        let subpartition = self.subpartition(&t);
        let auto_lists = self.auto_lists(&t, strategy, default_partition);

        // How and when to run.
        let schedule = self.schedule(&t);
        let verify = self.verify(&t);
        let (lock_timeout, statement_timeout) = self.timeouts(&t, defaults);
        let retries = self.retries(&t, defaults);
        let history_retain = self.history_retain(&t, defaults);
        let moves = self.moves(&t, defaults);
        let coarsen = self.coarsen(&t, strategy, interval);
        let max_partitions_warn = self.max_partitions_warn(&t, defaults);

        if self.errors.len() > before {
            return None;
        }
        let key_origins = KeyOrigins {
            name: self.origin(at(&t.name)),
            partition_by: self.origin(at(&t.partition_by)),
            column: self.origin(at(&t.column)),
            interval: t
                .interval
                .as_ref()
                .map_or_else(|| origin.clone(), |i| self.origin(at(i))),
            subpartition: t
                .subpartition
                .as_ref()
                .map_or_else(|| origin.clone(), |i| self.origin(at(i))),
            name_template: self.origin(t.name_template.as_ref().map_or(at(&t.name), at)),
        };
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
            history_retain,
            moves,
            auto_lists,
            coarsen,
            max_partitions_warn,
            key_origins,
            origin,
        })
    }

    /// `history_retain`: the table's, else the file's defaults, else 90 days; `"forever"`
    /// keeps every run.
    fn history_retain(&mut self, t: &RawTable, defaults: Option<&RawDefaults>) -> Option<Duration> {
        let Some(raw) = t
            .history_retain
            .as_ref()
            .or(defaults.and_then(|d| d.history_retain.as_ref()))
        else {
            return Some(super::DEFAULT_HISTORY_RETAIN);
        };
        if raw.get_ref().trim() == "forever" {
            return None;
        }
        match super::values::parse_retention(raw.get_ref()) {
            Ok(d) => Some(d),
            Err(m) => {
                self.err(super::parse::at(raw), format!("history_retain: {m}"));
                None
            }
        }
    }

    /// `name`: `schema.table` or `table`, each part a legal identifier.
    fn table_name(&mut self, t: &RawTable) -> Option<TableRef> {
        match TableRef::parse(t.name.get_ref()) {
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
        }
    }

    /// `partition_by`.
    fn strategy(&mut self, t: &RawTable) -> Option<Strategy> {
        match t.partition_by.get_ref().as_str() {
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
        }
    }

    /// `column`: a legal identifier.
    fn column(&mut self, t: &RawTable) {
        if t.column.get_ref().is_empty() || t.column.get_ref().len() > MAX_IDENT_BYTES {
            self.err(
                at(&t.column),
                format!("column: must be 1 to {MAX_IDENT_BYTES} bytes"),
            );
        }
    }

    /// Keys that belong to another strategy are mistakes, not silently ignored.
    fn keys_of_other_strategies(&mut self, t: &RawTable, s: Strategy) {
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

    /// Time zone: the table's own, else the file's defaults, else UTC.
    fn timezone(&mut self, t: &RawTable, defaults: Option<&RawDefaults>) -> Tz {
        let tz_src = t
            .timezone
            .as_ref()
            .or(defaults.and_then(|d| d.timezone.as_ref()));
        match tz_src {
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
        }
    }

    /// `schedule`: a cron expression.
    fn schedule(&mut self, t: &RawTable) -> Option<Schedule> {
        match &t.schedule {
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
        }
    }

    /// `[[table.verify]]` assertions: the SQL must be a valid template.
    fn verify(&mut self, t: &RawTable) -> Vec<VerifyAssertion> {
        let mut verify = Vec::new();
        for v in &t.verify {
            let r = v.get_ref();
            let max = match u32::try_from(*r.max_partitions.get_ref()) {
                Ok(n) if n <= MAX_VERIFY_PARTITIONS => n,
                _ => {
                    self.err(
                        at(&r.max_partitions),
                        format!("max_partitions: must be from 0 to {MAX_VERIFY_PARTITIONS}"),
                    );
                    0
                }
            };
            if r.sql.get_ref().len() > MAX_VERIFY_SQL_BYTES {
                self.err(
                    at(&r.sql),
                    format!(
                        "sql: {} bytes; at most {MAX_VERIFY_SQL_BYTES}",
                        r.sql.get_ref().len()
                    ),
                );
                continue;
            }
            if r.params.len() > MAX_VERIFY_PARAMS {
                self.err(
                    v.span().start,
                    format!(
                        "params: {} values; at most {MAX_VERIFY_PARAMS}",
                        r.params.len()
                    ),
                );
            }
            if let Some(long) = r.params.iter().find_map(|p| match p {
                super::ListValue::Str(s) if s.len() > MAX_LIST_VALUE_BYTES => Some(s.len()),
                _ => None,
            }) {
                self.err(
                    v.span().start,
                    format!("params: a value of {long} bytes; at most {MAX_LIST_VALUE_BYTES}"),
                );
            }
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
        verify
    }

    /// `lock_timeout` and `statement_timeout`: the table's, else the file's defaults.
    fn timeouts(&mut self, t: &RawTable, defaults: Option<&RawDefaults>) -> (Duration, Duration) {
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
        (lock_timeout, statement_timeout)
    }

    /// `retries`: the table's, else the file's defaults.
    fn retries(&mut self, t: &RawTable, defaults: Option<&RawDefaults>) -> u32 {
        let retries_src = t
            .retries
            .as_ref()
            .or(defaults.and_then(|d| d.retries.as_ref()));
        match retries_src {
            None => DEFAULT_RETRIES,
            Some(r) => match u32::try_from(*r.get_ref()) {
                Ok(n) if n <= MAX_RETRIES => n,
                _ => {
                    self.err(at(r), format!("retries: must be from 0 to {MAX_RETRIES}"));
                    DEFAULT_RETRIES
                }
            },
        }
    }

    /// `move_batch_rows`, `move_max_lock`, `move_mode`: the table's, else the file's defaults.
    fn moves(&mut self, t: &RawTable, defaults: Option<&RawDefaults>) -> MoveSettings {
        let mut m = MoveSettings::default();
        if let Some(r) = t
            .move_batch_rows
            .as_ref()
            .or(defaults.and_then(|d| d.move_batch_rows.as_ref()))
        {
            match u32::try_from(*r.get_ref()) {
                Ok(n) if (MIN_MOVE_BATCH_ROWS..=MAX_MOVE_BATCH_ROWS).contains(&n) => {
                    m.batch_rows = n
                }
                _ => self.err(
                    at(r),
                    format!(
                        "move_batch_rows: must be from {MIN_MOVE_BATCH_ROWS} to {MAX_MOVE_BATCH_ROWS}"
                    ),
                ),
            }
        }
        let raw = t
            .move_max_lock
            .as_ref()
            .or(defaults.and_then(|d| d.move_max_lock.as_ref()));
        if let Some(raw) = raw {
            match parse_duration(raw.get_ref()) {
                Ok(d) if (MIN_MOVE_MAX_LOCK..=MAX_MOVE_MAX_LOCK).contains(&d) => m.max_lock = d,
                Ok(_) => self.err(
                    at(raw),
                    "move_max_lock: must be from 10ms to 1h".to_string(),
                ),
                Err(e) => self.err(at(raw), format!("move_max_lock: {e}")),
            }
        }
        let raw = t
            .move_mode
            .as_ref()
            .or(defaults.and_then(|d| d.move_mode.as_ref()));
        if let Some(raw) = raw {
            match raw.get_ref().as_str() {
                "batched" => m.mode = MoveMode::Batched,
                "locked" => m.mode = MoveMode::Locked,
                other => self.err(
                    at(raw),
                    format!("move_mode: `{other}` is not one of batched, locked"),
                ),
            }
        }
        m
    }
}
