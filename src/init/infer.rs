//! What a table's catalog says about its policy: strategy, column, interval, time zone,
//! premake, catch-all, names; pg_partman's `part_config` for what the catalog cannot say.

use crate::backend::PartmanConfig;
use crate::catalog::{Engine, PartBound, Partition, Table};
use crate::key::{Axis, Bound, KeyKind, Span, TimeUnit};
use crate::name_template::default_template;
use crate::policy::Strategy;
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// One line of a `[[table]]` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `key = value  # note`
    Key {
        key: &'static str,
        value: String,
        note: Option<String>,
    },
    /// `# key = value  # reason`: not inferred, or not safe to assume.
    Commented {
        key: &'static str,
        value: String,
        reason: String,
    },
    /// `# text`: something to know that no key says.
    Note(String),
}

/// The policy drafted for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The qualified name, as the policy's `name`.
    pub table: String,
    pub lines: Vec<Line>,
    /// Why a key the policy needs could not be inferred: the block is then written commented
    /// out, so that the file still loads.
    pub unusable: Option<String>,
}

impl Draft {
    fn key(&mut self, key: &'static str, value: String, note: Option<String>) {
        self.lines.push(Line::Key { key, value, note });
    }
    fn commented(&mut self, key: &'static str, value: String, reason: impl Into<String>) {
        self.lines.push(Line::Commented {
            key,
            value,
            reason: reason.into(),
        });
    }
}

/// A TOML string.
fn s(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

/// Draft the policy of `table` as the catalog (and pg_partman's row, when given) describe it,
/// with `now` deciding which partitions lie ahead.
pub fn draft(
    table: &Table,
    engine: Engine,
    partman: Option<&PartmanConfig>,
    now: DateTime<Utc>,
) -> Draft {
    let mut d = Draft {
        table: table.name.to_string(),
        lines: vec![],
        unusable: None,
    };
    d.key("name", s(&table.name.to_string()), None);
    d.key("partition_by", s(table.strategy.as_str()), None);
    d.key("column", s(&table.key.name), None);
    match table.strategy {
        Strategy::Range => range(&mut d, table, engine, partman, now),
        Strategy::List => list(&mut d, table),
        Strategy::Hash => hash(&mut d, table),
    }
    if table.strategy != Strategy::Hash {
        let catch_all = table.default_partition().is_some();
        let what = match (engine, table.strategy) {
            (Engine::Postgres, _) => "a DEFAULT partition",
            (_, Strategy::Range) => "a MAXVALUE partition",
            _ => "a DEFAULT partition",
        };
        d.key(
            "default_partition",
            catch_all.to_string(),
            Some(if catch_all {
                format!("the table has {what}")
            } else {
                format!("the table has no {}", what.trim_start_matches("a "))
            }),
        );
    }
    d
}

/// Partitions with both bounds, as (from, to, partition), by `from`.
fn bounded(table: &Table) -> Vec<(i64, i64, &Partition)> {
    let mut v: Vec<(i64, i64, &Partition)> = table
        .ranges()
        .filter_map(|(f, t, p)| match (f, t) {
            (Bound::At(f), Bound::At(t)) => Some((f, t, p)),
            _ => None,
        })
        .collect();
    v.sort_by_key(|r| r.0);
    v
}

fn range(
    d: &mut Draft,
    table: &Table,
    engine: Engine,
    partman: Option<&PartmanConfig>,
    now: DateTime<Utc>,
) {
    let Some(kind) = table.key.kind else {
        d.unusable = Some(format!(
            "the key `{}` is of type {}, which partctl does not lay out (integers, date, timestamp, timestamptz)",
            table.key.name, table.key.sql_type
        ));
        return;
    };
    let ranges = bounded(table);
    let pm_span = partman.and_then(|p| {
        p.partition_interval
            .as_deref()
            .map(|t| (t, partman_span(t, kind)))
    });
    let found = if kind.is_time() {
        time_layout(&ranges, kind)
    } else {
        int_layout(&ranges)
    };
    let (span, tz, tz_note) = match found {
        Ok(l) => l,
        Err(why) => match pm_span {
            Some((text, Some(span))) => (
                span,
                Tz::UTC,
                Some(format!("{why}; interval from pg_partman ({text})")),
            ),
            _ => {
                d.unusable = Some(why);
                return;
            }
        },
    };
    let mut note = layout_note(&ranges, span);
    if let Some((text, pm)) = pm_span {
        if pm != Some(span) {
            note = format!("{note}; pg_partman says {text}, the bounds say {span}");
        }
    }
    d.key(
        "interval",
        match span {
            Span::Int(n) => n.to_string(),
            Span::Time { .. } => s(&span.to_string()),
        },
        Some(note),
    );
    let axis = match Axis::new(kind, span, tz) {
        Ok(a) => a,
        Err(e) => {
            d.unusable = Some(e.to_string());
            return;
        }
    };
    if kind.is_time() {
        match (kind, tz_note) {
            (KeyKind::Timestamptz, note) => d.key("timezone", s(tz.name()), note),
            _ => d.commented(
                "timezone",
                s("UTC"),
                format!(
                    "not inferred: a {} key has no zone in its bounds; the zone only decides which period holds now (UTC unless set)",
                    kind.name()
                ),
            ),
        }
    }
    premake(d, table, &ranges, &axis, kind, tz, partman, now);
    subpartition(d, table);
    retention(d, kind, partman);
    names(d, table, &ranges, &axis, span, engine);
}

/// "12 partitions of one day each" (and how many are not).
fn layout_note(ranges: &[(i64, i64, &Partition)], span: Span) -> String {
    format!(
        "{} partition{} {}",
        ranges.len(),
        if ranges.len() == 1 { "" } else { "s" },
        match span {
            Span::Int(n) => format!("on multiples of {n}"),
            _ => "aligned on it".to_string(),
        }
    )
}

/// The interval of integer keys: the largest step every bound is a multiple of.
fn int_layout(ranges: &[(i64, i64, &Partition)]) -> Result<(Span, Tz, Option<String>), String> {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 {
            a.abs()
        } else {
            gcd(b, a % b)
        }
    }
    let g = ranges.iter().flat_map(|(f, t, _)| [*f, *t]).fold(0, gcd);
    if ranges.is_empty() || g == 0 {
        return Err("no partition with both bounds to infer the interval from".into());
    }
    let widths: Vec<i64> = ranges.iter().map(|(f, t, _)| t - f).collect();
    let min = *widths.iter().min().expect("not empty");
    // Bounds on multiples of 100 with every partition 1,000 wide: the step is the width when
    // every bound is a multiple of it.
    let step = if ranges.iter().all(|(f, t, _)| f % min == 0 && t % min == 0) {
        min
    } else {
        g
    };
    Span::int(step)
        .map(|s| (s, Tz::UTC, None))
        .map_err(|e| format!("interval: {e}"))
}

/// Spans tried for time keys, largest first.
const TIME_SPANS: &[(u32, TimeUnit)] = &[
    (1, TimeUnit::Year),
    (6, TimeUnit::Month),
    (4, TimeUnit::Month),
    (3, TimeUnit::Month),
    (2, TimeUnit::Month),
    (1, TimeUnit::Month),
    (2, TimeUnit::Week),
    (1, TimeUnit::Week),
    (7, TimeUnit::Day),
    (2, TimeUnit::Day),
    (1, TimeUnit::Day),
    (12, TimeUnit::Hour),
    (6, TimeUnit::Hour),
    (4, TimeUnit::Hour),
    (3, TimeUnit::Hour),
    (2, TimeUnit::Hour),
    (1, TimeUnit::Hour),
    (30, TimeUnit::Minute),
    (15, TimeUnit::Minute),
    (10, TimeUnit::Minute),
    (5, TimeUnit::Minute),
    (1, TimeUnit::Minute),
];

/// The largest span (index into [`TIME_SPANS`]) on whose period starts every bound falls, in
/// `tz`.
fn aligned_span(ranges: &[(i64, i64, &Partition)], kind: KeyKind, tz: Tz) -> Option<usize> {
    TIME_SPANS.iter().position(|&(n, unit)| {
        let Ok(axis) = Axis::new(kind, Span::Time { n, unit }, tz) else {
            return false;
        };
        ranges.iter().all(|(f, t, _)| {
            [*f, *t]
                .iter()
                .all(|b| axis.start_of(axis.index_of(*b)) == Some(*b))
        })
    })
}

/// The interval and zone of time keys: the largest span every bound falls on, in UTC, or in a
/// zone where it is larger (timestamptz only: naive keys carry no zone).
fn time_layout(
    ranges: &[(i64, i64, &Partition)],
    kind: KeyKind,
) -> Result<(Span, Tz, Option<String>), String> {
    if ranges.is_empty() {
        return Err("no partition with both bounds to infer the interval from".into());
    }
    let utc = aligned_span(ranges, kind, Tz::UTC);
    let mut best = utc.map(|i| (i, vec![Tz::UTC]));
    if kind == KeyKind::Timestamptz {
        for tz in chrono_tz::TZ_VARIANTS {
            if tz == Tz::UTC {
                continue;
            }
            let Some(i) = aligned_span(ranges, kind, tz) else {
                continue;
            };
            match &mut best {
                Some((b, zones)) if i == *b => zones.push(tz),
                Some((b, _)) if i > *b => {}
                _ => best = Some((i, vec![tz])),
            }
        }
    }
    let Some((i, zones)) = best else {
        return Err(
            "the bounds fall on no period start partctl knows (minutes to years, in any time zone)"
                .into(),
        );
    };
    let (n, unit) = TIME_SPANS[i];
    let span = Span::Time { n, unit };
    let check = one_period_each(ranges, kind, span, zones[0]);
    if let Some(why) = check {
        return Err(why);
    }
    if zones.contains(&Tz::UTC) {
        return Ok((span, Tz::UTC, None));
    }
    // Several zones put the bounds on local period starts: prefer a Region/City name, and say
    // which others fit (they plan the same partitions until their rules differ).
    let mut named: Vec<Tz> = zones
        .iter()
        .copied()
        .filter(|z| {
            let n = z.name();
            n.contains('/')
                && !n.starts_with("Etc/")
                && !n.starts_with("US/")
                && !n.starts_with("SystemV/")
        })
        .collect();
    if named.is_empty() {
        named = zones.clone();
    }
    // The zones most databases use first, then by name.
    named.sort_by_key(|z| {
        (
            COMMON_ZONES
                .iter()
                .position(|c| *c == z.name())
                .unwrap_or(usize::MAX),
            z.name(),
        )
    });
    let chosen = named[0];
    let others: Vec<&str> = named.iter().skip(1).take(4).map(|z| z.name()).collect();
    let note = if others.is_empty() {
        format!(
            "the bounds fall on local period starts in {}",
            chosen.name()
        )
    } else {
        format!(
            "the bounds fall on local period starts in {} and also in {}{}: check",
            chosen.name(),
            others.join(", "),
            if named.len() > 5 { ", ..." } else { "" }
        )
    };
    Ok((span, chosen, Some(note)))
}

/// Zones preferred when several fit the bounds (they are the ones people mean).
const COMMON_ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "America/Toronto",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Moscow",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Johannesburg",
];

/// `None` when most partitions hold one period of `span`; else why the layout is not one
/// partctl can keep (weekly partitions starting on a Sunday: partctl's weeks start on Monday).
fn one_period_each(
    ranges: &[(i64, i64, &Partition)],
    kind: KeyKind,
    span: Span,
    tz: Tz,
) -> Option<String> {
    let axis = Axis::new(kind, span, tz).ok()?;
    let counts: Vec<i64> = ranges
        .iter()
        .map(|(f, t, _)| axis.index_of(*t) - axis.index_of(*f))
        .collect();
    let ones = counts.iter().filter(|c| **c == 1).count();
    if ones * 2 >= counts.len() {
        return None;
    }
    let mut sorted = counts.clone();
    sorted.sort();
    let typical = sorted[sorted.len() / 2];
    let first = axis.local(ranges[0].0);
    let weekly = matches!(
        span,
        Span::Time {
            n: 1,
            unit: TimeUnit::Day
        }
    ) && typical == 7;
    Some(if weekly {
        format!(
            "the partitions are weekly, starting on {:?}; partctl's weeks start on Monday (\"1 week\"), and \"7 days\" counts from a Thursday (1970-01-01)",
            first.weekday()
        )
    } else {
        format!(
            "the partitions are mostly {typical} periods of {span} wide, starting {first}: no interval partctl knows lays them out"
        )
    })
}

/// `premake`: pg_partman's, else the partitions after the one holding now (or the largest key).
#[allow(clippy::too_many_arguments)]
fn premake(
    d: &mut Draft,
    table: &Table,
    ranges: &[(i64, i64, &Partition)],
    axis: &Axis,
    kind: KeyKind,
    tz: Tz,
    partman: Option<&PartmanConfig>,
    now: DateTime<Utc>,
) {
    let reference = if kind.is_time() {
        kind.now_coord(now, tz)
    } else {
        table.stats.max_key.unwrap_or(0)
    };
    let current = axis.index_of(reference);
    let ahead = ranges
        .iter()
        .filter(|(f, _, _)| axis.index_of(*f) > current)
        .count();
    // MySQL/MariaDB's first partition takes every smaller key (MINVALUE).
    let holds_now = table.ranges().any(|(f, t, _)| {
        let above = match f {
            Bound::Min => true,
            Bound::At(f) => f <= reference,
            Bound::Max => false,
        };
        let below = match t {
            Bound::Max => true,
            Bound::At(t) => reference < t,
            Bound::Min => false,
        };
        above && below
    });
    let what = if kind.is_time() {
        format!("now ({})", crate::output::rfc(now))
    } else {
        format!("the largest key ({reference})")
    };
    if let Some(p) = partman.and_then(|p| p.premake) {
        let note = if p as usize == ahead {
            "pg_partman's premake".to_string()
        } else {
            format!("pg_partman's premake; {ahead} partitions lie ahead of {what} today")
        };
        d.key("premake", p.to_string(), Some(note));
        if partman.and_then(|p| p.infinite_time_partitions) == Some(false) && kind.is_time() {
            d.lines.push(Line::Note(
                "pg_partman's infinite_time_partitions = false made time partitions only as data arrived; partctl keeps premake partitions ahead of now whether rows come or not".into(),
            ));
        }
        return;
    }
    if holds_now {
        d.key(
            "premake",
            ahead.to_string(),
            Some(format!("partitions ahead of the one holding {what}")),
        );
    } else {
        d.key(
            "premake",
            ahead.max(1).to_string(),
            Some(format!(
                "no partition holds {what}: the plan creates it (and {ahead} lie ahead)"
            )),
        );
    }
}

/// `retain` and `on_expire`: pg_partman's retention, else a commented line.
fn retention(d: &mut Draft, kind: KeyKind, partman: Option<&PartmanConfig>) {
    let Some(p) = partman else {
        d.commented(
            "retain",
            if kind.is_time() { s("90 days") } else { "1000000".into() },
            "not inferred: nothing in the catalog says how long partitions are kept; without retain none expires",
        );
        return;
    };
    let Some(text) = p.retention.as_deref().filter(|t| !t.trim().is_empty()) else {
        d.commented(
            "retain",
            if kind.is_time() {
                s("90 days")
            } else {
                "1000000".into()
            },
            "pg_partman keeps every partition (no retention); without retain none expires",
        );
        return;
    };
    match partman_span(text, kind) {
        Some(span) => d.key(
            "retain",
            match span {
                Span::Int(n) => n.to_string(),
                _ => s(&span.to_string()),
            },
            Some(format!("pg_partman's retention ({text})")),
        ),
        None => {
            d.commented(
                "retain",
                s(text),
                format!("pg_partman's retention `{text}` is not a span partctl reads"),
            );
            return;
        }
    }
    match (
        p.retention_schema.as_deref().filter(|s| !s.is_empty()),
        p.retention_keep_table,
    ) {
        (Some(schema), _) => {
            d.key(
                "on_expire",
                s("archive"),
                Some("pg_partman's retention_schema".into()),
            );
            d.key("archive_schema", s(schema), None);
        }
        (None, Some(false)) => d.key(
            "on_expire",
            s("drop"),
            Some("pg_partman's retention_keep_table = false".into()),
        ),
        (None, _) => d.key(
            "on_expire",
            s("detach"),
            Some(
                "pg_partman's retention_keep_table = true: expired partitions stay as tables"
                    .into(),
            ),
        ),
    }
}

/// A pg_partman interval (`1 day`, `1 mon`, `3 mons`, `7 days`, `1 year`, `01:00:00`, `00:15:00`,
/// or an integer for integer keys) as a partctl span.
pub fn partman_span(text: &str, kind: KeyKind) -> Option<Span> {
    let t = text.trim();
    if !kind.is_time() {
        return t.parse::<i64>().ok().and_then(|n| Span::int(n).ok());
    }
    if let Some((h, rest)) = t.split_once(':') {
        let (m, sec) = rest.split_once(':')?;
        let (h, m, sec): (u32, u32, u32) = (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
        return match (h, m, sec) {
            (0, m, 0) if m > 0 => Some(Span::Time {
                n: m,
                unit: TimeUnit::Minute,
            }),
            (h, 0, 0) if h > 0 && h % 24 != 0 => Some(Span::Time {
                n: h,
                unit: TimeUnit::Hour,
            }),
            (h, 0, 0) if h > 0 => Some(Span::Time {
                n: h / 24,
                unit: TimeUnit::Day,
            }),
            (h, m, 0) => Some(Span::Time {
                n: h * 60 + m,
                unit: TimeUnit::Minute,
            }),
            _ => None,
        };
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    let [n, unit] = words.as_slice() else {
        return None;
    };
    let n: u32 = n.parse().ok()?;
    let unit = match unit.trim_end_matches('s') {
        "min" | "minute" => TimeUnit::Minute,
        "hour" => TimeUnit::Hour,
        // PostgreSQL prints '1 week' as '7 days'; pg_partman's weeks start on Monday, as ours.
        "day" if n % 7 == 0 && n > 0 => {
            return Some(Span::Time {
                n: n / 7,
                unit: TimeUnit::Week,
            })
        }
        "day" => TimeUnit::Day,
        "week" => TimeUnit::Week,
        "mon" | "month" => TimeUnit::Month,
        "year" => TimeUnit::Year,
        _ => return None,
    };
    Some(Span::Time { n, unit })
}

/// Range partition names: the template that names the existing one-period partitions, when
/// it is not the default one; a commented line when no template partctl knows does.
fn names(
    d: &mut Draft,
    table: &Table,
    ranges: &[(i64, i64, &Partition)],
    axis: &Axis,
    span: Span,
    engine: Engine,
) {
    let singles: Vec<(i64, &str)> = ranges
        .iter()
        .filter(|(f, t, _)| axis.index_of(*t) - axis.index_of(*f) == 1)
        .map(|(f, _, p)| (*f, p.name.name.as_str()))
        .collect();
    if singles.is_empty() {
        return;
    }
    let t = &table.name.name;
    let default = default_template(span);
    let local = |c: i64| -> NaiveDateTime { axis.local(c) };
    let found = match span {
        Span::Int(_) => literal_for(t, &singles, |f, _| f.to_string())
            .map(|lit| format!("{{{{ table }}}}{lit}{{{{ from }}}}")),
        Span::Time { .. } => NAME_FORMATS.iter().find_map(|fmt| {
            literal_for(t, &singles, |f, _| local(f).format(fmt).to_string())
                .map(|lit| format!("{{{{ table }}}}{lit}{{{{ from | date(format='{fmt}') }}}}"))
        }),
    };
    match found {
        Some(template) if template == default => {}
        Some(template) => d.key(
            "name_template",
            s(&template),
            Some(format!(
                "reproduces {} of the existing names",
                singles.len()
            )),
        ),
        None => {
            let example = singles[0].1;
            d.commented(
                "name_template",
                s(default),
                format!(
                    "not inferred: existing names such as `{example}` follow no pattern partctl knows; new partitions get the default names{}",
                    match engine {
                        Engine::Postgres => "",
                        _ => " (MySQL/MariaDB partition names are local to the table)",
                    }
                ),
            );
        }
    }
}

/// strftime formats tried for time partition names (pg_partman's among them).
const NAME_FORMATS: &[&str] = &[
    "%Y%m%d",
    "%Y%m%d_%H%M",
    "%Y_%m_%d",
    "%Y_%m_%d_%H%M",
    "%Y_%m_%d_%H%M%S",
    "%Y%m",
    "%Y_%m",
    "%Y",
    "%Gw%V",
    "%Y%m%d%H%M",
    "%Y%m%d%H",
    "%Y-%m-%d",
];

/// The text between the table's name and the formatted bound, the same in every name.
fn literal_for(
    table: &str,
    singles: &[(i64, &str)],
    format: impl Fn(i64, &str) -> String,
) -> Option<String> {
    let mut lit: Option<String> = None;
    for (from, name) in singles {
        let rest = name.strip_prefix(table)?;
        let f = format(*from, name);
        let l = rest.strip_suffix(f.as_str())?;
        if l.contains(['{', '}', '\'', '"']) || l.ends_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        match &lit {
            Some(x) if x != l => return None,
            Some(_) => {}
            None => lit = Some(l.to_string()),
        }
    }
    lit
}

fn list(d: &mut Draft, table: &Table) {
    let parts: Vec<(&str, &Vec<String>)> = table
        .partitions
        .iter()
        .filter_map(|p| match &p.bound {
            PartBound::List { values } => Some((p.name.name.as_str(), values)),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        d.unusable = Some("the table has no list partition to infer `lists` from".into());
        return;
    }
    let prefix = format!("{}_", table.name.name);
    let all_prefixed = parts
        .iter()
        .all(|(n, _)| n.starts_with(&prefix) && n.len() > prefix.len());
    let integer = matches!(
        table.key.kind,
        Some(KeyKind::SmallInt | KeyKind::Int | KeyKind::BigInt)
    ) || [
        "smallint",
        "integer",
        "bigint",
        "int",
        "tinyint",
        "mediumint",
    ]
    .iter()
    .any(|t| table.key.sql_type.to_ascii_lowercase().starts_with(t));
    let mut entries = Vec::new();
    for (name, values) in &parts {
        let suffix = if all_prefixed {
            &name[prefix.len()..]
        } else {
            name
        };
        let vals: Vec<String> = values
            .iter()
            .map(|v| match v.parse::<i64>() {
                Ok(i) if integer => i.to_string(),
                _ => s(v),
            })
            .collect();
        entries.push(format!("{} = [{}]", toml_key(suffix), vals.join(", ")));
    }
    d.key("lists", format!("{{ {} }}", entries.join(", ")), None);
    if !all_prefixed {
        d.key(
            "name_template",
            s("{{ suffix }}"),
            Some("the suffixes are the existing partitions' whole names".into()),
        );
    }
}

/// A TOML key: bare when it can be.
fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        s(k)
    }
}

fn hash(d: &mut Draft, table: &Table) {
    let moduli: Vec<u32> = table
        .partitions
        .iter()
        .filter_map(|p| match p.bound {
            PartBound::Hash { modulus, .. } => Some(modulus),
            _ => None,
        })
        .collect();
    let Some(max) = moduli.iter().max().copied() else {
        d.unusable = Some("the table has no hash partition to infer `modulus` from".into());
        return;
    };
    let note = if moduli.iter().all(|m| *m == max) {
        format!("{} hash partitions", moduli.len())
    } else {
        format!("mixed moduli (a growth in progress): the largest, {max}")
    };
    d.key("modulus", max.to_string(), Some(note));
}

/// Composite tables: the sub-partitioning of the newest range partition, as a commented line
/// (the catalog does not read the sub-partition key's column).
fn subpartition(d: &mut Draft, table: &Table) {
    let Some(p) = table
        .ranges()
        .filter(|(_, _, p)| !p.subpartitions.is_empty())
        .map(|(_, _, p)| p)
        .last()
    else {
        return;
    };
    let value = match &p.subpartitions[0].bound {
        PartBound::Hash { modulus, .. } => {
            format!("{{ partition_by = \"hash\", column = \"?\", modulus = {modulus} }}")
        }
        PartBound::List { .. } => {
            let entries: Vec<String> = p
                .subpartitions
                .iter()
                .filter_map(|sp| match &sp.bound {
                    PartBound::List { values } => Some(format!(
                        "{} = [{}]",
                        toml_key(&sp.name.name),
                        values.iter().map(|v| s(v)).collect::<Vec<_>>().join(", ")
                    )),
                    _ => None,
                })
                .collect();
            format!(
                "{{ partition_by = \"list\", column = \"?\", lists = {{ {} }} }}",
                entries.join(", ")
            )
        }
        _ => return,
    };
    d.commented(
        "subpartition",
        value,
        format!(
            "{} is sub-partitioned, but partctl's catalog does not read the sub-partition key: name its column, or new partitions are not sub-partitioned",
            p.name.name
        ),
    );
}
