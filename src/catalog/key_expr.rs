//! How a MySQL range partition's stored bound relates to its key column (`RANGE(TO_DAYS(col))`,
//! `RANGE COLUMNS(col)`, ...): part of the catalog model, read by the MySQL catalog reader
//! (decode) and the MySQL dialect (encode).

use crate::key::{micros_of, naive_of, KeyKind, TimeUnit};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A coordinate that the partition expression cannot store as a bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BoundError(pub String);

/// How a range partition's bound relates to the key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyExpr {
    /// `RANGE(col)`: the column's own (integer) values.
    Column,
    /// `RANGE COLUMNS(col)`: the column's own values (`MAXVALUE` is written in parentheses).
    Columns,
    /// `RANGE(TO_DAYS(col))`: day numbers (TO_DAYS('0001-01-01') = 366).
    ToDays,
    /// `RANGE(UNIX_TIMESTAMP(col))`: seconds since the epoch, UTC.
    UnixTimestamp,
    /// `RANGE(YEAR(col))`: years.
    Year,
}

/// TO_DAYS of 0001-01-01 minus chrono's day number of it.
const TO_DAYS_OFFSET: i64 = 365;

impl KeyExpr {
    pub fn parse(expression: &str) -> Option<(KeyExpr, String)> {
        let e = expression.trim();
        let lower = e.to_ascii_lowercase();
        let inner = |prefix: &str| -> Option<String> {
            if lower.starts_with(prefix) && lower.ends_with(')') {
                Some(e[prefix.len()..e.len() - 1].trim().to_string())
            } else {
                None
            }
        };
        let (expr, col) = if let Some(c) = inner("to_days(") {
            (KeyExpr::ToDays, c)
        } else if let Some(c) = inner("unix_timestamp(") {
            (KeyExpr::UnixTimestamp, c)
        } else if let Some(c) = inner("year(") {
            (KeyExpr::Year, c)
        } else {
            (KeyExpr::Column, e.to_string())
        };
        let col = unquote_ident(&col)?;
        Some((expr, col))
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            KeyExpr::Column => "column",
            KeyExpr::Columns => "columns",
            KeyExpr::ToDays => "to_days",
            KeyExpr::UnixTimestamp => "unix_timestamp",
            KeyExpr::Year => "year",
        }
    }

    /// The coarsest unit bounds must be multiples of.
    pub fn granularity(self) -> Option<TimeUnit> {
        match self {
            KeyExpr::ToDays => Some(TimeUnit::Day),
            KeyExpr::Year => Some(TimeUnit::Year),
            _ => None,
        }
    }

    /// A stored value (a bound, or the expression applied to a row) as a coordinate.
    pub fn decode(self, kind: KeyKind, text: &str) -> Option<i64> {
        let t = text.trim();
        match self {
            KeyExpr::Column | KeyExpr::Columns => kind.parse(t).or_else(|| {
                // MySQL prints DATETIME bounds as '2026-03-10 00:00:00'; timestamps never occur
                // in RANGE COLUMNS.
                KeyKind::Timestamp.parse(t).filter(|_| kind.is_time())
            }),
            KeyExpr::ToDays => {
                let n: i64 = t.parse().ok()?;
                let d =
                    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n - TO_DAYS_OFFSET).ok()?)?;
                Some(micros_of(d.and_hms_opt(0, 0, 0)?))
            }
            KeyExpr::UnixTimestamp => t.parse::<i64>().ok()?.checked_mul(1_000_000),
            KeyExpr::Year => {
                let y: i32 = t.parse().ok()?;
                Some(micros_of(
                    NaiveDate::from_ymd_opt(y, 1, 1)?.and_hms_opt(0, 0, 0)?,
                ))
            }
        }
    }

    /// A coordinate as the value the server stores for a bound, and whether it is a number.
    pub fn encode(self, kind: KeyKind, coord: i64) -> Result<(String, bool), BoundError> {
        match self {
            KeyExpr::Column | KeyExpr::Columns if !kind.is_time() => Ok((coord.to_string(), true)),
            KeyExpr::Column | KeyExpr::Columns if kind == KeyKind::Date => {
                Ok((kind.format(coord), false))
            }
            KeyExpr::Column | KeyExpr::Columns => Ok((KeyKind::Timestamp.format(coord), false)),
            KeyExpr::ToDays => {
                let n = naive_of(coord);
                if n.time() != chrono::NaiveTime::MIN {
                    return Err(BoundError(format!(
                        "bound {n} is not a whole day, as TO_DAYS() needs"
                    )));
                }
                Ok((
                    (n.date().num_days_from_ce() as i64 + TO_DAYS_OFFSET).to_string(),
                    true,
                ))
            }
            KeyExpr::UnixTimestamp => {
                if coord % 1_000_000 != 0 {
                    return Err(BoundError(
                        "UNIX_TIMESTAMP() bounds must be whole seconds".into(),
                    ));
                }
                Ok(((coord / 1_000_000).to_string(), true))
            }
            KeyExpr::Year => {
                let n = naive_of(coord);
                if n.ordinal0() != 0 || n.time() != chrono::NaiveTime::MIN {
                    return Err(BoundError(format!(
                        "bound {n} is not the start of a year, as YEAR() needs"
                    )));
                }
                Ok((n.year().to_string(), true))
            }
        }
    }
}

fn unquote_ident(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some(body) = s.strip_prefix('`').and_then(|b| b.strip_suffix('`')) {
        // A lone backtick inside means several identifiers (`a`,`b`), not one.
        if body.replace("``", "").contains('`') {
            return None;
        }
        Some(body.replace("``", "`"))
    } else if s.contains([',', '(', ')', ' ']) || s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partition_expressions() {
        assert_eq!(
            KeyExpr::parse("to_days(`created`)"),
            Some((KeyExpr::ToDays, "created".into()))
        );
        assert_eq!(
            KeyExpr::parse("UNIX_TIMESTAMP(`ts`)"),
            Some((KeyExpr::UnixTimestamp, "ts".into()))
        );
        assert_eq!(
            KeyExpr::parse("year(`d`)"),
            Some((KeyExpr::Year, "d".into()))
        );
        assert_eq!(
            KeyExpr::parse("`we``ird`"),
            Some((KeyExpr::Column, "we`ird".into()))
        );
        assert_eq!(KeyExpr::parse("id"), Some((KeyExpr::Column, "id".into())));
        assert_eq!(KeyExpr::parse("`a`,`b`"), None);
        assert_eq!(KeyExpr::parse("to_days(`a`) + 1"), None);
    }

    #[test]
    fn to_days_matches_mysql() {
        // SELECT TO_DAYS('1970-01-01') = 719528, TO_DAYS('2026-03-10') = 740050.
        let d = KeyExpr::ToDays.decode(KeyKind::Date, "719528").unwrap();
        assert_eq!(KeyKind::Date.format(d), "1970-01-01");
        let c = KeyKind::Date.parse("2026-03-10").unwrap();
        assert_eq!(
            KeyExpr::ToDays.encode(KeyKind::Date, c).unwrap().0,
            "740050"
        );
        assert!(KeyExpr::ToDays
            .encode(KeyKind::Timestamp, c + 3_600_000_000)
            .is_err());
    }

    #[test]
    fn unix_timestamps_and_years() {
        let c = KeyExpr::UnixTimestamp
            .decode(KeyKind::Timestamptz, "1773100800")
            .unwrap();
        assert_eq!(KeyKind::Timestamptz.format(c), "2026-03-10 00:00:00+00");
        assert_eq!(
            KeyExpr::UnixTimestamp
                .encode(KeyKind::Timestamptz, c)
                .unwrap()
                .0,
            "1773100800"
        );
        let y = KeyExpr::Year.decode(KeyKind::Date, "2027").unwrap();
        assert_eq!(KeyKind::Date.format(y), "2027-01-01");
        assert_eq!(KeyExpr::Year.encode(KeyKind::Date, y).unwrap().0, "2027");
    }
}
