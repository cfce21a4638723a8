//! The run history's rows, as every backend reads and writes them (`partctl.run_history`).

use super::DbError;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub id: Option<i64>,
    pub table: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: String,
    pub steps_applied: i64,
    pub rows_moved: i64,
    pub message: String,
}

/// A time the history stores as RFC 3339 text.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Query {
            context: "run history".into(),
            message: format!("bad time `{s}`: {e}"),
        })
}
