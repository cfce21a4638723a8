//! The small value syntaxes of policy files and the command line: durations, local dates for
//! `start`, cron schedules (with standard weekday numbering) and `--now` instants.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::time::Duration;

/// A value that does not follow its syntax. The text is the value as written.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("`{0}` is not a duration such as \"2s\" or \"500ms\"")]
    NotADuration(String),
    #[error("`{0}`: unknown unit; use ms, s, min or h")]
    UnknownDurationUnit(String),
    #[error("`{0}` must be at least 1ms")]
    DurationTooShort(String),
    #[error("`{0}` is too long; at most {MAX_DURATION_TEXT}")]
    DurationTooLong(String),
    #[error("`{0}` is not a date (YYYY-MM-DD) or local date-time (YYYY-MM-DD HH:MM)")]
    NotALocalDate(String),
    #[error("`{text}` has {fields} fields; expected 5 (minute hour day month weekday) or 6 (seconds first)")]
    CronFieldCount { text: String, fields: usize },
    #[error("`{text}`: weekday field: {problem}")]
    CronWeekday { text: String, problem: WeekdayError },
    #[error("`{text}`: {problem}")]
    CronField { text: String, problem: String },
    #[error("`{text}` is not a valid cron expression: {reason}")]
    NotCron {
        text: String,
        reason: cron::error::Error,
    },
    #[error("`{0}` is not RFC 3339 (2026-03-10T12:00:00Z) or a date (2026-03-10)")]
    NotAnInstant(String),
}

/// A cron weekday field that cannot be translated to the `cron` crate's numbering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeekdayError {
    #[error("bad step in `{0}`")]
    BadStep(String),
    #[error("bad range `{0}`")]
    BadRange(String),
    #[error("`{0}` is outside 0-7")]
    OutOfRange(String),
}

/// The longest duration a policy may give (`lock_timeout`, `statement_timeout`): 24 days.
/// PostgreSQL keeps its timeouts as a 32-bit count of milliseconds (at most about 24.8 days) and
/// MySQL's `max_execution_time` as a 32-bit one too, so anything longer could not be set.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 86_400);
const MAX_DURATION_TEXT: &str = "24 days (576h)";

/// `"2s"`, `"500ms"`, `"1min"`, `"5 minutes"`, `"1h"`; from 1ms to [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| ValueError::NotADuration(text.to_string()))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 0.001,
        "" | "s" | "sec" | "second" | "seconds" => 1.0,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        _ => return Err(ValueError::UnknownDurationUnit(text.to_string())),
    };
    let secs = n * scale;
    if !secs.is_finite() || secs > MAX_DURATION.as_secs_f64() {
        return Err(ValueError::DurationTooLong(text.to_string()));
    }
    let d = Duration::try_from_secs_f64(secs)
        .map_err(|_| ValueError::NotADuration(text.to_string()))?;
    if d < Duration::from_millis(1) {
        return Err(ValueError::DurationTooShort(text.to_string()));
    }
    Ok(d)
}

/// A date (`2026-01-01`), a local date-time (`2026-01-01 06:00` or with `T`), for `start`.
pub(super) fn parse_local(text: &str) -> Result<NaiveDateTime, ValueError> {
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
    Err(ValueError::NotALocalDate(text.to_string()))
}

/// Accept standard 5-field cron (minute hour day-of-month month day-of-week, Sunday = 0 or 7) or
/// 6 fields with seconds first, and translate to the `cron` crate's form (seconds first,
/// Sunday = 1).
pub fn parse_cron(text: &str) -> Result<cron::Schedule, ValueError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (sec, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => {
            return Err(ValueError::CronFieldCount {
                text: text.to_string(),
                fields: n,
            })
        }
    };
    let names = ["minute", "hour", "day-of-month", "month"];
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12)];
    for ((field, name), (lo, hi)) in rest.iter().zip(names).zip(ranges) {
        check_cron_field(field, name, lo, hi).map_err(|problem| ValueError::CronField {
            text: text.to_string(),
            problem,
        })?;
    }
    if fields.len() == 6 {
        check_cron_field(sec, "seconds", 0, 59).map_err(|problem| ValueError::CronField {
            text: text.to_string(),
            problem,
        })?;
    }
    let dow = translate_dow(rest[4]).map_err(|problem| ValueError::CronWeekday {
        text: text.to_string(),
        problem,
    })?;
    let expr = format!(
        "{sec} {} {} {} {} {dow}",
        rest[0], rest[1], rest[2], rest[3]
    );
    expr.parse::<cron::Schedule>()
        .map_err(|reason| ValueError::NotCron {
            text: text.to_string(),
            reason,
        })
}

/// One cron field in the user's own terms: each comma-separated item is `*`, `N` or `N-M`,
/// with an optional `/step`; numbers within `lo..=hi`. Names (`jan`, `mon`) are left to the
/// cron crate.
fn check_cron_field(field: &str, name: &str, lo: u32, hi: u32) -> Result<(), String> {
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(s) = step {
            if !matches!(s.parse::<u32>(), Ok(n) if n >= 1) {
                return Err(format!(
                    "the {name} field's step `/{s}` must be a whole number from 1"
                ));
            }
        }
        if range == "*" || range == "?" || range.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        for n in range.split('-') {
            match n.parse::<u32>() {
                Ok(v) if (lo..=hi).contains(&v) => {}
                Ok(v) => {
                    return Err(format!(
                        "the {name} field says {v}, but {name}s run from {lo} to {hi}"
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "the {name} field has `{item}`, which is not a number, a range or *"
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Standard cron weekdays (0-7, Sunday = 0 = 7) to the cron crate's (1-7, Sunday = 1).
pub(super) fn translate_dow(field: &str) -> Result<String, WeekdayError> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let mut out: Vec<String> = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| WeekdayError::BadStep(item.to_string()))?
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
                _ => return Err(WeekdayError::BadRange(range.to_string())),
            }
        } else {
            range.parse::<u32>().ok().map(|a| (a, a))
        };
        match bounds {
            None => out.push(item.to_string()),
            Some((a, b)) => {
                if a > 7 || b > 7 || a > b {
                    return Err(WeekdayError::OutOfRange(item.to_string()));
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
pub fn parse_now(text: &str) -> Result<DateTime<Utc>, ValueError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(ValueError::NotAnInstant(text.to_string()))
}

/// The longest `history_retain` accepted: 100 years.
const MAX_RETENTION_DAYS: u64 = 36_525;

/// A retention period such as `"90 days"` or `"1 year"` (months count 30 days, years 365).
pub(super) fn parse_retention(text: &str) -> Result<Duration, String> {
    use crate::key::{Span, TimeUnit};
    let span = Span::parse_time(text).map_err(|e| e.0)?;
    let Span::Time { n, unit } = span else {
        return Err(format!("expected \"N unit\", got `{text}`"));
    };
    let secs_per = match unit {
        TimeUnit::Minute => 60,
        TimeUnit::Hour => 3_600,
        TimeUnit::Day => 86_400,
        TimeUnit::Week => 7 * 86_400,
        TimeUnit::Month => 30 * 86_400,
        TimeUnit::Year => 365 * 86_400,
    };
    let secs = u64::from(n).saturating_mul(secs_per);
    if secs > MAX_RETENTION_DAYS * 86_400 {
        return Err(format!("`{text}` is longer than 100 years"));
    }
    Ok(Duration::from_secs(secs))
}
