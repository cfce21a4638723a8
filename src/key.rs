//! Partition-key values and the time/integer axes the planner walks.
//!
//! Every key value is a *coordinate*: an `i64` whose meaning depends on the key's [`KeyKind`]:
//! integers are themselves; `date` and `timestamp` (without time zone) are microseconds of the
//! naive wall-clock value since 1970-01-01 00:00; `timestamptz` is microseconds since the Unix
//! epoch in UTC. The planner only compares and aligns coordinates, so it never needs to know
//! which engine it serves.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One end of a range partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Min,
    At(i64),
    Max,
}

/// The SQL type of a range key, as far as the planner cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    SmallInt,
    Int,
    BigInt,
    Date,
    Timestamp,
    Timestamptz,
}

const MICROS_PER_MINUTE: i64 = 60_000_000;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

impl KeyKind {
    pub fn is_time(self) -> bool {
        matches!(
            self,
            KeyKind::Date | KeyKind::Timestamp | KeyKind::Timestamptz
        )
    }

    /// The inclusive range of values the column can hold (integers only).
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            KeyKind::SmallInt => Some((i16::MIN as i64, i16::MAX as i64)),
            KeyKind::Int => Some((i32::MIN as i64, i32::MAX as i64)),
            KeyKind::BigInt => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyKind::SmallInt => "smallint",
            KeyKind::Int => "integer",
            KeyKind::BigInt => "bigint",
            KeyKind::Date => "date",
            KeyKind::Timestamp => "timestamp without time zone",
            KeyKind::Timestamptz => "timestamp with time zone",
        }
    }

    /// Text form of a coordinate, as an SQL literal body (no quotes).
    pub fn format(self, coord: i64) -> String {
        match self {
            KeyKind::SmallInt | KeyKind::Int | KeyKind::BigInt => coord.to_string(),
            KeyKind::Date => naive_of(coord).format("%Y-%m-%d").to_string(),
            KeyKind::Timestamp => format_naive(naive_of(coord)),
            KeyKind::Timestamptz => format!("{}+00", format_naive(naive_of(coord))),
        }
    }

    /// Parse a value as PostgreSQL prints it with `TimeZone = UTC` (surrounding quotes allowed).
    pub fn parse(self, text: &str) -> Option<i64> {
        let t = text.trim();
        let t = t
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .unwrap_or(t);
        match self {
            KeyKind::SmallInt | KeyKind::Int | KeyKind::BigInt => t.parse().ok(),
            KeyKind::Date => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .map(|d| micros_of(d.and_hms_opt(0, 0, 0).expect("midnight"))),
            KeyKind::Timestamp => parse_naive(t).map(micros_of),
            KeyKind::Timestamptz => {
                let body = t
                    .strip_suffix("+00:00")
                    .or_else(|| t.strip_suffix("+00"))
                    .or_else(|| t.strip_suffix('Z'))?;
                parse_naive(body).map(micros_of)
            }
        }
    }

    /// The coordinate of the instant `now` for this key: UTC for timestamptz, the wall clock of
    /// `tz` for naive types.
    pub fn now_coord(self, now: DateTime<Utc>, tz: Tz) -> i64 {
        match self {
            KeyKind::Timestamptz => now.timestamp_micros(),
            _ => micros_of(wall_clock(tz, now.naive_utc())),
        }
    }
}

fn format_naive(n: NaiveDateTime) -> String {
    if n.and_utc().timestamp_subsec_micros() == 0 {
        n.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        n.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

fn parse_naive(t: &str) -> Option<NaiveDateTime> {
    // The shape PostgreSQL prints bounds in (`YYYY-MM-DD HH:MM:SS`, ISO DateStyle), read
    // without chrono's format interpreter: a catalog holds one or two per partition.
    if let Some(n) = parse_plain(t) {
        return Some(n);
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// `YYYY-MM-DD HH:MM:SS` exactly (ASCII digits, a second below 60), or `YYYY-MM-DD` (midnight:
/// MariaDB keeps a `RANGE COLUMNS` bound as it was written), else `None` (and the general
/// parser decides).
fn parse_plain(t: &str) -> Option<NaiveDateTime> {
    let b = t.as_bytes();
    let time = match b.len() {
        10 => false,
        19 => b[10] == b' ' && b[13] == b':' && b[16] == b':',
        _ => return None,
    };
    if b[4] != b'-' || b[7] != b'-' || (b.len() == 19 && !time) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let (hour, min, sec) = match time {
        true => (num(11, 13)?, num(14, 16)?, num(17, 19)?),
        false => (0, 0, 0),
    };
    if sec >= 60 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?.and_hms_opt(hour, min, sec)
}

/// Microseconds of a naive value since 1970-01-01 00:00.
pub fn micros_of(n: NaiveDateTime) -> i64 {
    n.and_utc().timestamp_micros()
}

/// The naive value of a coordinate (for timestamptz: the UTC wall clock).
pub fn naive_of(coord: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(coord)
        .map(|d| d.naive_utc())
        .unwrap_or(NaiveDateTime::MIN)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimeUnit {
    /// The most of this unit a span may hold: 10,000 years (minutes: as many as a `u32` holds,
    /// about 8,166 years). Within these, no period or cutoff arithmetic on a date of years
    /// 1..9999 can overflow.
    pub fn max_count(self) -> u32 {
        match self {
            TimeUnit::Minute => u32::MAX,
            TimeUnit::Hour => 87_658_200,
            TimeUnit::Day => 3_652_425,
            TimeUnit::Week => 521_775,
            TimeUnit::Month => 120_000,
            TimeUnit::Year => 10_000,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }
}

/// A partition width or a retention span: `N unit` for time keys, an integer for integer keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Span {
    Time { n: u32, unit: TimeUnit },
    Int(i64),
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span::Int(n) => write!(f, "{n}"),
            Span::Time { n, unit } => {
                write!(f, "{n} {}{}", unit.name(), if *n == 1 { "" } else { "s" })
            }
        }
    }
}

/// A time span that cannot be read (`"1 fortnight"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpanError(pub String);

impl Span {
    /// The largest integer interval or retention: 10^18 (about a ninth of the `i64` range).
    pub const MAX_INT: i64 = 1_000_000_000_000_000_000;

    /// An integer span (from a TOML integer): from 1 to [`Span::MAX_INT`].
    pub fn int(n: i64) -> Result<Span, SpanError> {
        if n <= 0 {
            return Err(SpanError("must be positive".into()));
        }
        if n > Span::MAX_INT {
            return Err(SpanError(format!(
                "{n} is too large; at most {} (10^18)",
                Span::MAX_INT
            )));
        }
        Ok(Span::Int(n))
    }

    /// Parse `"N unit(s)"` (a bare unit means 1), at most 10,000 years ([`TimeUnit::max_count`]).
    /// Integer spans come from TOML integers ([`Span::int`]).
    pub fn parse_time(text: &str) -> Result<Span, SpanError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (n, unit) = match words.as_slice() {
            [unit] => (1u64, *unit),
            [n, unit] if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (
                // All digits: only its size can fail, and any such count is too large.
                n.parse::<u64>().unwrap_or(u64::MAX),
                *unit,
            ),
            [n, _] => {
                return Err(SpanError(format!(
                    "`{n}` is not a whole number in `{text}`"
                )))
            }
            _ => {
                return Err(SpanError(format!(
                    "expected \"N unit\", e.g. \"1 day\", got `{text}`"
                )))
            }
        };
        if n == 0 {
            return Err(SpanError(format!("`{text}` must be at least 1")));
        }
        let unit = match unit.to_ascii_lowercase().trim_end_matches('s') {
            "minute" | "min" => TimeUnit::Minute,
            "hour" => TimeUnit::Hour,
            "day" => TimeUnit::Day,
            "week" => TimeUnit::Week,
            "month" => TimeUnit::Month,
            "year" => TimeUnit::Year,
            _ => {
                return Err(SpanError(format!(
                    "unknown unit `{unit}` in `{text}`; use minute(s), hour(s), day(s), week(s), month(s) or year(s)"
                )))
            }
        };
        let max = unit.max_count();
        match u32::try_from(n) {
            Ok(n) if n <= max => Ok(Span::Time { n, unit }),
            _ => Err(SpanError(format!(
                "`{text}` is too long; at most {max} {}s",
                unit.name()
            ))),
        }
    }
}

/// Why an interval or a retention span does not fit a key ([`Axis::new`], [`Axis::minus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AxisError {
    #[error("an integer interval must be positive")]
    NonPositiveInterval,
    #[error("interval \"{interval}\" is a time span, but the key is {}; give an integer interval", .kind.name())]
    TimeIntervalOnIntegerKey { interval: Span, kind: KeyKind },
    #[error("interval {interval} is an integer, but the key is {}; give a time interval such as \"1 day\"", .kind.name())]
    IntegerIntervalOnTimeKey { interval: Span, kind: KeyKind },
    #[error("interval \"{interval}\" is shorter than a day, but the key is a date")]
    SubDayIntervalOnDate { interval: Span },
    #[error("retention reaches before the representable calendar")]
    RetentionBeforeCalendar,
    #[error("retention cutoff is not representable")]
    CutoffNotRepresentable,
    #[error("retain {span} does not fit the key type (use an integer for integer keys, \"N days\" for time keys)")]
    RetainDoesNotFit { span: Span },
}

/// How periods are laid out along a key: aligned integer ranges, or calendar periods in a zone.
#[derive(Debug, Clone, Copy)]
pub enum Axis {
    Int {
        step: i64,
    },
    Time {
        n: u32,
        unit: TimeUnit,
        tz: Tz,
        /// true for timestamptz (coordinates are UTC instants), false for date/timestamp.
        instant: bool,
    },
}

impl Axis {
    /// The axis for a key kind and a partition interval; an error when they do not fit together.
    pub fn new(kind: KeyKind, interval: Span, tz: Tz) -> Result<Axis, AxisError> {
        match (kind.is_time(), interval) {
            (false, Span::Int(step)) if step > 0 => Ok(Axis::Int { step }),
            (false, Span::Int(_)) => Err(AxisError::NonPositiveInterval),
            (false, Span::Time { .. }) => {
                Err(AxisError::TimeIntervalOnIntegerKey { interval, kind })
            }
            (true, Span::Int(_)) => Err(AxisError::IntegerIntervalOnTimeKey { interval, kind }),
            (true, Span::Time { n, unit }) => {
                if kind == KeyKind::Date && matches!(unit, TimeUnit::Minute | TimeUnit::Hour) {
                    return Err(AxisError::SubDayIntervalOnDate { interval });
                }
                Ok(Axis::Time {
                    n,
                    unit,
                    tz,
                    instant: kind == KeyKind::Timestamptz,
                })
            }
        }
    }

    /// Index of the period holding `coord`: `start_of(i) <= coord < start_of(i + 1)`.
    pub fn index_of(&self, coord: i64) -> i64 {
        let k = self.local_index(coord);
        if let Axis::Time { instant: true, .. } = self {
            // When clocks fall back, the wall clock repeats: an instant in the second pass reads
            // the same local time as one in the first, but the periods (which begin at the first
            // instant of their local start) are laid out once. Settle on the period whose
            // instants hold `coord`.
            let mut k = k;
            while let Some(next) = k.checked_add(1) {
                if self.start_of(next).is_none_or(|s| s > coord) {
                    break;
                }
                k = next;
            }
            while self.start_of(k).is_some_and(|s| s > coord) {
                match k.checked_sub(1) {
                    Some(prev) => k = prev,
                    None => break,
                }
            }
            return k;
        }
        k
    }

    /// Index of the period whose local (wall-clock) span holds the local time of `coord`.
    fn local_index(&self, coord: i64) -> i64 {
        match *self {
            Axis::Int { step } => coord.div_euclid(step),
            Axis::Time {
                n,
                unit,
                tz,
                instant,
            } => {
                let local = if instant {
                    wall_clock(tz, naive_of(coord))
                } else {
                    naive_of(coord)
                };
                // In i128: a span of any `u32` count times its unit, and any coordinate, fit.
                let n = i128::from(n);
                let m = i128::from(micros_of(local));
                let micros = |per: i64| i128::from(per) * n;
                let idx = match unit {
                    TimeUnit::Minute => m.div_euclid(micros(MICROS_PER_MINUTE)),
                    TimeUnit::Hour => m.div_euclid(micros(MICROS_PER_HOUR)),
                    TimeUnit::Day => m.div_euclid(micros(MICROS_PER_DAY)),
                    // 1969-12-29, three days before the epoch, is a Monday.
                    TimeUnit::Week => {
                        (m + i128::from(3 * MICROS_PER_DAY)).div_euclid(micros(7 * MICROS_PER_DAY))
                    }
                    TimeUnit::Month => {
                        let months =
                            (i128::from(local.year()) - 1970) * 12 + i128::from(local.month0());
                        months.div_euclid(n)
                    }
                    TimeUnit::Year => (i128::from(local.year()) - 1970).div_euclid(n),
                };
                // |idx| <= |m| < 2^63, since every divisor is at least 1.
                i64::try_from(idx).unwrap_or(if idx < 0 { i64::MIN } else { i64::MAX })
            }
        }
    }

    /// The coordinate at which period `idx` starts; `None` when it is out of range.
    pub fn start_of(&self, idx: i64) -> Option<i64> {
        match *self {
            Axis::Int { step } => idx.checked_mul(step),
            Axis::Time {
                n,
                unit,
                tz,
                instant,
            } => {
                let n = n as i64;
                let width = |per: i64| idx.checked_mul(n.checked_mul(per)?);
                let local = match unit {
                    TimeUnit::Minute => naive_at(width(MICROS_PER_MINUTE)?)?,
                    TimeUnit::Hour => naive_at(width(MICROS_PER_HOUR)?)?,
                    TimeUnit::Day => naive_at(width(MICROS_PER_DAY)?)?,
                    TimeUnit::Week => {
                        naive_at(width(7 * MICROS_PER_DAY)?.checked_sub(3 * MICROS_PER_DAY)?)?
                    }
                    TimeUnit::Month => {
                        let m = idx.checked_mul(n)?;
                        let year = i32::try_from(m.div_euclid(12).checked_add(1970)?).ok()?;
                        NaiveDate::from_ymd_opt(year, m.rem_euclid(12) as u32 + 1, 1)?
                            .and_hms_opt(0, 0, 0)?
                    }
                    TimeUnit::Year => {
                        let year = i32::try_from(idx.checked_mul(n)?.checked_add(1970)?).ok()?;
                        NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0)?
                    }
                };
                if instant {
                    Some(instant_of_local(tz, local)?.timestamp_micros())
                } else {
                    Some(micros_of(local))
                }
            }
        }
    }

    /// The coordinate `span` before `coord` (retention cutoffs). Calendar units are counted on
    /// the wall clock of the zone; minutes and hours are absolute.
    pub fn minus(&self, coord: i64, span: Span) -> Result<i64, AxisError> {
        match (*self, span) {
            (Axis::Int { .. }, Span::Int(r)) => coord
                .checked_sub(r)
                .ok_or(AxisError::CutoffNotRepresentable),
            (Axis::Time { tz, instant, .. }, Span::Time { n, unit }) => {
                let n64 = n as i64;
                let back = |per: i64| {
                    n64.checked_mul(per)
                        .and_then(|d| coord.checked_sub(d))
                        .ok_or(AxisError::RetentionBeforeCalendar)
                };
                match unit {
                    TimeUnit::Minute => back(MICROS_PER_MINUTE),
                    TimeUnit::Hour => back(MICROS_PER_HOUR),
                    _ => {
                        let local = if instant {
                            wall_clock(tz, naive_of(coord))
                        } else {
                            naive_of(coord)
                        };
                        let back =
                            match unit {
                                TimeUnit::Day => Duration::try_days(n64)
                                    .and_then(|d| local.checked_sub_signed(d)),
                                TimeUnit::Week => Duration::try_weeks(n64)
                                    .and_then(|d| local.checked_sub_signed(d)),
                                TimeUnit::Month => local.checked_sub_months(chrono::Months::new(n)),
                                TimeUnit::Year => n
                                    .checked_mul(12)
                                    .and_then(|m| local.checked_sub_months(chrono::Months::new(m))),
                                _ => unreachable!(),
                            }
                            .ok_or(AxisError::RetentionBeforeCalendar)?;
                        if instant {
                            instant_of_local(tz, back)
                                .map(|t| t.timestamp_micros())
                                .ok_or(AxisError::CutoffNotRepresentable)
                        } else {
                            Ok(micros_of(back))
                        }
                    }
                }
            }
            (_, span) => Err(AxisError::RetainDoesNotFit { span }),
        }
    }

    /// The local wall-clock value of a coordinate (used to name partitions).
    pub fn local(&self, coord: i64) -> NaiveDateTime {
        match *self {
            Axis::Time {
                tz, instant: true, ..
            } => wall_clock(tz, naive_of(coord)),
            _ => naive_of(coord),
        }
    }

    pub fn is_sub_day(&self) -> bool {
        matches!(
            self,
            Axis::Time {
                unit: TimeUnit::Minute | TimeUnit::Hour,
                ..
            }
        )
    }
}

/// The wall clock of `tz` at the UTC time `utc`; at the ends of the calendar, where the offset
/// would carry it out of range, the end itself (chrono's `naive_local` panics there).
fn wall_clock(tz: Tz, utc: NaiveDateTime) -> NaiveDateTime {
    let offset = tz.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_offset(offset)
        .unwrap_or(if offset.local_minus_utc() < 0 {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        })
}

fn naive_at(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

/// The instant at which the wall clock of `tz` first reads `local`. In a DST gap (the wall clock
/// skips `local`), the first instant after the gap.
pub fn instant_of_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Tz>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(a, b) => Some(a.min(b)),
        LocalResult::None => {
            // Walk forward minute by minute to the end of the gap (gaps are at most a few hours).
            let mut probe = local;
            for _ in 0..(48 * 60) {
                probe = probe.checked_add_signed(Duration::minutes(1))?;
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return Some(t);
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_timestamp_reader_agrees_with_chrono() {
        for t in [
            "2026-03-10 00:00:00",
            "1999-12-31 23:59:59",
            "2024-02-29 12:30:45",
            "2023-02-29 12:30:45",
            "2026-13-01 00:00:00",
            "2026-03-10 24:00:00",
            "2026-03-10 00:00:60",
            "2026-03-10T00:00:00",
            "2026-03-10 00:00:0x",
            "+026-03-10 00:00:00",
        ] {
            assert!(
                parse_plain(t).is_some()
                    == (t.len() == 19
                        && t.as_bytes()[10] == b' '
                        && !t.starts_with('+')
                        && !t.ends_with('x')
                        && !t.ends_with(":60")
                        && !t.contains("-13-")
                        && !t.contains("24:00")
                        && !t.contains("2023-02-29")),
                "{t}"
            );
            let chrono = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok();
            // Where it answers, it answers as chrono does; elsewhere chrono decides.
            if let Some(n) = parse_plain(t) {
                assert_eq!(Some(n), chrono, "{t}");
            }
        }
    }

    #[test]
    fn the_plain_date_reader_agrees_with_chrono() {
        for t in [
            "2026-09-01",
            "2024-02-29",
            "2023-02-29",
            "2026-13-01",
            "+026-09-01",
        ] {
            let chrono = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0));
            if let Some(n) = parse_plain(t) {
                assert_eq!(Some(n), chrono, "{t}");
            }
            assert_eq!(parse_naive(t), chrono, "{t}");
        }
        assert!(parse_plain("2026-09-01").is_some());
        assert!(parse_plain("2023-02-29").is_none());
    }

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn parses_spans() {
        assert_eq!(
            Span::parse_time("1 day").unwrap(),
            Span::Time {
                n: 1,
                unit: TimeUnit::Day
            }
        );
        assert_eq!(
            Span::parse_time("3 Months").unwrap(),
            Span::Time {
                n: 3,
                unit: TimeUnit::Month
            }
        );
        assert!(Span::parse_time("0 days").is_err());
        assert!(Span::parse_time("1 fortnight").is_err());
        assert!(Span::parse_time("one day").is_err());
    }

    #[test]
    fn months_align_on_local_midnight_across_dst() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let axis = Axis::new(
            KeyKind::Timestamptz,
            Span::parse_time("1 month").unwrap(),
            tz,
        )
        .unwrap();
        let i = axis.index_of(utc("2026-03-10T12:00:00Z"));
        assert_eq!(axis.start_of(i), Some(utc("2026-03-01T05:00:00Z"))); // EST
        assert_eq!(axis.start_of(i + 1), Some(utc("2026-04-01T04:00:00Z"))); // EDT
                                                                             // Just before local midnight on April 1st still belongs to March.
        assert_eq!(axis.index_of(utc("2026-04-01T03:59:59Z")), i);
    }

    #[test]
    fn quarters_and_weeks() {
        let tz = Tz::UTC;
        let q = Axis::new(KeyKind::Date, Span::parse_time("3 months").unwrap(), tz).unwrap();
        let i = q.index_of(micros_of(
            NaiveDate::from_ymd_opt(2026, 5, 17).unwrap().into(),
        ));
        assert_eq!(KeyKind::Date.format(q.start_of(i).unwrap()), "2026-04-01");
        let w = Axis::new(KeyKind::Date, Span::parse_time("1 week").unwrap(), tz).unwrap();
        let i = w.index_of(micros_of(
            NaiveDate::from_ymd_opt(2026, 11, 21).unwrap().into(),
        ));
        // 2026-11-21 is a Saturday; its week starts Monday 2026-11-16.
        assert_eq!(KeyKind::Date.format(w.start_of(i).unwrap()), "2026-11-16");
    }

    #[test]
    fn negative_integers_align_down() {
        let a = Axis::Int { step: 100 };
        assert_eq!(a.index_of(-1), -1);
        assert_eq!(a.start_of(-1), Some(-100));
        assert_eq!(a.index_of(199), 1);
    }

    #[test]
    fn dst_gap_hours_do_not_produce_empty_or_backwards_periods() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let axis = Axis::new(
            KeyKind::Timestamptz,
            Span::parse_time("1 hour").unwrap(),
            tz,
        )
        .unwrap();
        let i = axis.index_of(utc("2026-03-08T06:30:00Z")); // 01:30 EST, before the gap
        let starts: Vec<i64> = (i..i + 3).map(|k| axis.start_of(k).unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn cutoffs_past_the_calendar_or_i64_are_errors() {
        // `retain = "4000000000 hours"` (a policy built without validation) overflowed here:
        // a panic in debug builds, a wrapped cutoff in release.
        let now = utc("2026-03-10T00:00:00Z");
        for kind in [KeyKind::Timestamptz, KeyKind::Timestamp, KeyKind::Date] {
            let axis = Axis::new(kind, Span::parse_time("1 day").unwrap(), Tz::UTC).unwrap();
            // (u32::MAX minutes, about 8,166 years, still fits: a cutoff before year 1 is
            // correct, nothing expires.)
            assert!(axis
                .minus(
                    now,
                    Span::Time {
                        n: u32::MAX,
                        unit: TimeUnit::Minute
                    }
                )
                .is_ok_and(|c| c < now));
            for unit in [
                TimeUnit::Hour,
                TimeUnit::Day,
                TimeUnit::Week,
                TimeUnit::Month,
                TimeUnit::Year,
            ] {
                let huge = Span::Time { n: u32::MAX, unit };
                assert!(axis.minus(now, huge).is_err(), "{kind:?} {unit:?}");
                let _ = axis.minus(i64::MIN, Span::Time { n: 1, unit });
            }
        }
        let ints = Axis::new(KeyKind::BigInt, Span::Int(10), Tz::UTC).unwrap();
        assert_eq!(ints.minus(5, Span::Int(10)), Ok(-5));
        assert_eq!(
            ints.minus(i64::MIN + 5, Span::Int(10)),
            Err(AxisError::CutoffNotRepresentable)
        );
    }

    #[test]
    fn periods_at_the_ends_of_i64_do_not_overflow() {
        for (n, unit) in [
            (u32::MAX, TimeUnit::Minute),
            (u32::MAX, TimeUnit::Hour),
            (u32::MAX, TimeUnit::Week),
            (u32::MAX, TimeUnit::Year),
            (1, TimeUnit::Week),
        ] {
            let axis = Axis::Time {
                n,
                unit,
                tz: "Europe/Paris".parse().unwrap(),
                instant: true,
            };
            for c in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
                let k = axis.index_of(c);
                let _ = axis.start_of(k);
                let _ = axis.start_of(i64::MAX);
                let _ = axis.start_of(i64::MIN);
            }
        }
        let ints = Axis::Int { step: 1 };
        assert_eq!(ints.index_of(i64::MAX), i64::MAX);
        assert_eq!(ints.start_of(i64::MAX), Some(i64::MAX));
    }

    #[test]
    fn span_counts_are_bounded() {
        assert!(Span::parse_time("10000 years").is_ok());
        assert!(Span::parse_time("10001 years").is_err());
        assert!(Span::parse_time("4294967295 minutes").is_ok());
        assert!(Span::parse_time("4294967296 minutes").is_err());
        assert!(Span::parse_time("99999999999999999999999999 hours").is_err());
        assert!(Span::int(Span::MAX_INT).is_ok());
        assert!(Span::int(Span::MAX_INT + 1).is_err());
        assert!(Span::int(0).is_err());
    }

    #[test]
    fn literals_round_trip() {
        for kind in [
            KeyKind::Date,
            KeyKind::Timestamp,
            KeyKind::Timestamptz,
            KeyKind::Int,
        ] {
            let c = utc("2026-03-10T00:00:00Z");
            assert_eq!(kind.parse(&kind.format(c)), Some(c), "{kind:?}");
        }
        assert_eq!(
            KeyKind::Timestamptz.parse("'2026-03-10 05:00:00+00'"),
            Some(utc("2026-03-10T05:00:00Z"))
        );
    }
}
